//! `gen-forged-goose IN.pcap OUT.pcap [NTH] [AHEAD]` — IN with a forged copy of its NTH GOOSE
//! frame (default 10) right after it: sent from 02:de:ad:be:ef:01 with stNum AHEAD (default
//! 1000) past the original's (see `otsensor_benches::goose`); prints the forged frame's
//! number (1-based, as Wireshark numbers frames).

fn main() -> anyhow::Result<()> {
    let usage = "usage: gen-forged-goose IN.pcap OUT.pcap [NTH] [AHEAD]";
    let mut args = std::env::args().skip(1);
    let input = std::path::PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let out = std::path::PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let nth: usize = args.next().map_or(Ok(10), |s| s.parse())?;
    let ahead: u32 = args.next().map_or(Ok(1000), |s| s.parse())?;
    let (dlt, frames) = otsensor_benches::load_pcap(&input)?;
    anyhow::ensure!(dlt == 1, "{}: not an Ethernet capture", input.display());
    let rogue = [0x02, 0xde, 0xad, 0xbe, 0xef, 0x01];
    let (frames, at) =
        otsensor_benches::goose::forge(&frames, nth, rogue, ahead).ok_or_else(|| {
            anyhow::anyhow!("{}: fewer than {} GOOSE frames", input.display(), nth + 1)
        })?;
    otsensor_benches::write_pcap(&out, &frames)?;
    println!("{}", at + 1);
    Ok(())
}
