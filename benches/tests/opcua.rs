//! The committed OPC UA captures (`pcaps/synthetic/opcua`) are `gen-opcua`'s output.

use std::path::PathBuf;

#[test]
fn the_committed_opcua_captures_are_the_generators_output() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pcaps/synthetic/opcua");
    for (name, want) in [
        ("learn.pcap", otsensor_benches::opcua::learn()),
        ("attack.pcap", otsensor_benches::opcua::attack()),
    ] {
        let (_, got) = otsensor_benches::load_pcap(&dir.join(name)).unwrap();
        assert!(got == want, "{name} is not gen-opcua's output");
    }
}
