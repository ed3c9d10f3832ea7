//! `gen-sv OUT.pcap [SECONDS] [STREAMS] [--faults]` — Sampled Values from STREAMS merging
//! units (default 1) at 4,000 frames a second each for SECONDS (default 60): the SV replay
//! benchmark's input; with `--faults`, lost samples and a second publisher (see
//! `otsensor_benches::goose::sv_capture`).

fn main() -> anyhow::Result<()> {
    let usage = "usage: gen-sv OUT.pcap [SECONDS] [STREAMS] [--faults]";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let faults = args.iter().any(|a| a == "--faults");
    let mut args = args.into_iter().filter(|a| a != "--faults");
    let out = std::path::PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let secs: u32 = args.next().map_or(Ok(60), |s| s.parse())?;
    let streams: u8 = args.next().map_or(Ok(1), |s| s.parse())?;
    let frames = otsensor_benches::goose::sv_capture(secs, streams, faults);
    otsensor_benches::write_pcap(&out, &frames)?;
    println!("{} frames", frames.len());
    Ok(())
}
