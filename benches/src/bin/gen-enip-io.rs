//! `gen-enip-io io|fragmented OUT.pcap [ROUNDS]` — EtherNet/IP cyclic I/O connections opened
//! with Forward Open, one opened before the capture, and a rogue producer; or Logix fragmented
//! tag services (see `otsensor_benches::enip_io`).

fn main() -> anyhow::Result<()> {
    let usage = "usage: gen-enip-io io|fragmented OUT.pcap [ROUNDS]";
    let mut args = std::env::args().skip(1);
    let kind = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let out = std::path::PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let frames = match kind.as_str() {
        "io" => {
            let rounds: u32 = args.next().map_or(Ok(50), |s| s.parse())?;
            otsensor_benches::enip_io::io_sessions(rounds)
        }
        "fragmented" => otsensor_benches::enip_io::fragmented(),
        _ => anyhow::bail!(usage),
    };
    otsensor_benches::write_pcap(&out, &frames)?;
    println!("{}: {} packets", out.display(), frames.len());
    Ok(())
}
