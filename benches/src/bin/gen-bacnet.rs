//! `gen-bacnet OUT_DIR` — writes OUT_DIR/learn.pcap (the BMS workstation's sweep, reads
//! and a setpoint write) and OUT_DIR/attack.pcap (the same the next day, and a laptop that
//! sweeps, silences, restarts, overrides and writes a file); see `otsensor_benches::bacnet`.

fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: gen-bacnet OUT_DIR"))?,
    );
    otsensor_benches::write_pcap(&dir.join("learn.pcap"), &otsensor_benches::bacnet::learn())?;
    otsensor_benches::write_pcap(
        &dir.join("attack.pcap"),
        &otsensor_benches::bacnet::attack(),
    )?;
    Ok(())
}
