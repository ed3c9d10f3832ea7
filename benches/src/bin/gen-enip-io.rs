//! `gen-enip-io OUT.pcap [ROUNDS]` — EtherNet/IP cyclic I/O connections opened with Forward
//! Open, one opened before the capture, and a rogue producer (see `otsensor_benches::enip_io`).

fn main() -> anyhow::Result<()> {
    let usage = "usage: gen-enip-io OUT.pcap [ROUNDS]";
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let rounds: u32 = args.next().map_or(Ok(50), |s| s.parse())?;
    let frames = otsensor_benches::enip_io::io_sessions(rounds);
    otsensor_benches::write_pcap(&out, &frames)?;
    println!("{}: {} packets", out.display(), frames.len());
    Ok(())
}
