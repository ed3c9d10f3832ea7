//! The committed BACnet captures (`pcaps/synthetic/bacnet`) are `gen-bacnet`'s output.

use std::path::PathBuf;

#[test]
fn the_committed_bacnet_captures_are_the_generators_output() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pcaps/synthetic/bacnet");
    for (name, want) in [
        ("learn.pcap", otsensor_benches::bacnet::learn()),
        ("attack.pcap", otsensor_benches::bacnet::attack()),
    ] {
        let (_, got) = otsensor_benches::load_pcap(&dir.join(name)).unwrap();
        assert!(got == want, "{name} is not gen-bacnet's output");
    }
}
