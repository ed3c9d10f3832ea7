//! Writes a flood capture for the flood benchmarks (benches/flood-bench.sh):
//! `gen-flood OUT.pcap syn|short|scan|open N [PLANT.pcap]` — N half-open SYNs from distinct
//! sources, N short Modbus connections (5 packets each), N distinct scanning hosts or N
//! Modbus connections left open (4 packets each: concurrent flows), one
//! every microsecond; with PLANT.pcap (Ethernet), the flood is spread over the plant
//! capture's time span and interleaved with it by timestamp.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let usage = "usage: gen-flood OUT.pcap syn|short|scan|open N [PLANT.pcap]";
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let kind: otsensor_benches::Flood = args
        .next()
        .ok_or_else(|| anyhow::anyhow!(usage))?
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let n: u32 = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let frames = match args.next() {
        Some(plant) => {
            let (link, plant) = otsensor_benches::load_pcap(std::path::Path::new(&plant))?;
            anyhow::ensure!(
                link == 1,
                "the plant capture must be Ethernet (link type 1)"
            );
            let first = plant.first().map_or(0, |f| f.ts_us);
            let last = plant.last().map_or(0, |f| f.ts_us);
            let gap = ((last - first) / u64::from(n.max(1))).max(1);
            let flood = otsensor_benches::flood(kind, n, first, gap);
            otsensor_benches::interleave(plant, flood)
        }
        None => otsensor_benches::flood(kind, n, 1_700_000_000_000_000, 1),
    };
    otsensor_benches::write_pcap(&out, &frames)?;
    println!("{}: {} packets", out.display(), frames.len());
    Ok(())
}
