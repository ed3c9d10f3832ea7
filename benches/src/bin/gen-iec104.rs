//! `gen-iec104 OUT.pcap [STATIONS] [ROUNDS]` — realistic IEC 60870-5-104 sessions (see
//! `otsensor_benches::iec104`); prints the ASDUs written per type id as JSON.

fn main() -> anyhow::Result<()> {
    let usage = "usage: gen-iec104 OUT.pcap [STATIONS] [ROUNDS]";
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let stations: u8 = args.next().map_or(Ok(3), |s| s.parse())?;
    let rounds: u32 = args.next().map_or(Ok(20), |s| s.parse())?;
    let (frames, asdus) = otsensor_benches::iec104::sessions(stations, rounds);
    otsensor_benches::write_pcap(&out, &frames)?;
    let counts: std::collections::BTreeMap<String, u64> =
        asdus.into_iter().map(|(t, n)| (t.to_string(), n)).collect();
    println!("{}", serde_json::to_string(&counts)?);
    Ok(())
}
