//! Writes a synthetic Modbus/TCP polling capture for scale runs:
//! `gen-capture OUT.pcap [FLOWS] [POLLS]` (defaults: 1000 flows, 1000 polls ≈ 3 M packets).

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: gen-capture OUT.pcap [FLOWS] [POLLS]"))?,
    );
    let flows: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let polls: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let frames = otsensor_benches::modbus_polling(flows, polls);
    otsensor_benches::write_pcap(&out, &frames)?;
    let bytes: usize = frames.iter().map(|f| f.data.len()).sum();
    println!(
        "{}: {} packets, {} bytes of frames, {flows} flows",
        out.display(),
        frames.len(),
        bytes
    );
    Ok(())
}
