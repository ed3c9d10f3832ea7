//! `gen-pn-dcp OUT_DIR` — writes OUT_DIR/engineering.pcap (commissioning by the engineering
//! station: discovery and a name set) and OUT_DIR/rogue.pcap (the next day: the engineering
//! station's discovery again, then a rogue host's discovery, address change and factory
//! reset); see `otsensor_benches::profinet`.

fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: gen-pn-dcp OUT_DIR"))?,
    );
    otsensor_benches::write_pcap(
        &dir.join("engineering.pcap"),
        &otsensor_benches::profinet::engineering(),
    )?;
    otsensor_benches::write_pcap(
        &dir.join("rogue.pcap"),
        &otsensor_benches::profinet::rogue(),
    )?;
    Ok(())
}
