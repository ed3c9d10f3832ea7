//! Writes the labelled detection test set (see `otsensor_benches::scenarios`):
//! `gen-scenarios OUT_DIR PLANT.pcap...` — the plant captures (Ethernet, merged by time) with
//! everyday IT traffic and the scenarios; writes OUT_DIR/train.pcap, test.pcap, labels.json.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let usage = "usage: gen-scenarios OUT_DIR PLANT.pcap...";
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let mut plant = Vec::new();
    for p in args {
        let (link, frames) = otsensor_benches::load_pcap(p.as_ref())?;
        anyhow::ensure!(link == 1, "{p}: the capture must be Ethernet (link type 1)");
        plant = otsensor_benches::interleave(plant, frames);
    }
    anyhow::ensure!(!plant.is_empty(), "{usage}: no plant packets");
    let set = otsensor_benches::scenarios::build(plant);
    std::fs::create_dir_all(&dir)?;
    otsensor_benches::write_pcap(&dir.join("train.pcap"), &set.train)?;
    otsensor_benches::write_pcap(&dir.join("test.pcap"), &set.test)?;
    let mut labels = serde_json::to_string_pretty(&set.labels)?;
    labels.push('\n');
    std::fs::write(dir.join("labels.json"), labels)?;
    println!(
        "{}: train.pcap {} packets, test.pcap {} packets, {} scenarios",
        dir.display(),
        set.train.len(),
        set.test.len(),
        set.labels["scenarios"].as_array().map_or(0, Vec::len)
    );
    Ok(())
}
