//! Writes a larger plant capture for the full-fidelity benchmark (benches/fidelity-bench.sh):
//! `gen-replicate IN.pcap OUT.pcap N` — the Ethernet capture IN replicated N times, copy k
//! with every IPv4 address's third octet XORed with k (new hosts, so new flows; IPv4 header
//! checksums recomputed) and its timestamps shifted by k µs, all copies interleaved in time.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let usage = "usage: gen-replicate IN.pcap OUT.pcap N";
    let mut args = std::env::args().skip(1);
    let input = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let out = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let n: u8 = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let (link, frames) = otsensor_benches::load_pcap(&input)?;
    anyhow::ensure!(link == 1, "the capture must be Ethernet (link type 1)");
    let mut all = Vec::with_capacity(frames.len() * usize::from(n));
    for k in 0..n {
        for f in &frames {
            let mut data = f.data.clone();
            otsensor_benches::renumber_ipv4(&mut data, k);
            all.push(otsensor_benches::Frame {
                ts_us: f.ts_us + u64::from(k),
                data,
            });
        }
    }
    all.sort_by_key(|f| f.ts_us);
    otsensor_benches::write_pcap(&out, &all)?;
    println!("{}: {} packets", out.display(), all.len());
    Ok(())
}
