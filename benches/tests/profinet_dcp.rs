//! The committed DCP captures (`pcaps/synthetic/profinet-dcp`) are `gen-pn-dcp`'s output.

use std::path::PathBuf;

#[test]
fn the_committed_dcp_captures_are_the_generators_output() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pcaps/synthetic/profinet-dcp");
    for (name, want) in [
        (
            "engineering.pcap",
            otsensor_benches::profinet::engineering(),
        ),
        ("rogue.pcap", otsensor_benches::profinet::rogue()),
    ] {
        let (_, got) = otsensor_benches::load_pcap(&dir.join(name)).unwrap();
        assert!(got == want, "{name} is not gen-pn-dcp's output");
    }
}
