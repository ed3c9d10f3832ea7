//! `gen-opcua OUT_DIR` — writes OUT_DIR/learn.pcap (the MES on an encrypted channel, the
//! SCADA server reading anonymously) and OUT_DIR/attack.pcap (the same the next day, and a
//! laptop that writes, calls a method and changes the address space over an unsecured,
//! anonymous session); see `otsensor_benches::opcua`.

fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: gen-opcua OUT_DIR"))?,
    );
    otsensor_benches::write_pcap(&dir.join("learn.pcap"), &otsensor_benches::opcua::learn())?;
    otsensor_benches::write_pcap(&dir.join("attack.pcap"), &otsensor_benches::opcua::attack())?;
    Ok(())
}
