//! GOOSE PDUs read as Wireshark reads them, field by field, on every GOOSE frame of the
//! corpus: the parser the layer-2 flows will feed (the frames are read here with libpcap).

use std::path::Path;

use otsensor_protocols::goose;

use crate::util::*;

const FIELDS: [&str; 9] = [
    "goose.gocbRef",
    "goose.timeAllowedtoLive",
    "goose.datSet",
    "goose.goID",
    "goose.stNum",
    "goose.sqNum",
    "goose.confRev",
    "goose.numDatSetEntries",
    "eth.src",
];

/// Ours, in the same form.
fn ours(cap: &Path) -> Vec<Vec<String>> {
    let mut c = pcap::Capture::from_file(cap).unwrap();
    let mut rows = Vec::new();
    while let Ok(p) = c.next_packet() {
        let Some((h, pdu)) = goose::header(p.data) else {
            continue;
        };
        if h.ethertype != goose::GOOSE {
            continue;
        }
        let g = goose::goose(pdu).unwrap_or_else(|| panic!("{}: unread GOOSE", cap.display()));
        let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        let mac = h.src.map(|b| format!("{b:02x}")).join(":");
        rows.push(vec![
            g.gocb_ref,
            n(g.time_allowed_to_live),
            g.dat_set,
            g.go_id.unwrap_or_default(),
            n(g.st_num),
            n(g.sq_num),
            n(g.conf_rev),
            n(g.num_dat_set_entries),
            mac,
        ]);
        assert_eq!(
            Some(g.all_data.len() as u32),
            g.num_dat_set_entries,
            "{}: dataset values",
            cap.display()
        );
    }
    rows
}

#[test]
fn goose_pdus_equal_wireshark_field_by_field() {
    let Some(shared) = shared_pcaps() else { return };
    let mut caps = captures_under(&shared.join("iec61850-goose-sv"));
    caps.extend(captures_under(&shared.join("iec61850-mms")));
    let mut frames = 0;
    for cap in caps {
        let Some(want) = tshark_rows(&cap, "goose", &FIELDS) else {
            return;
        };
        let got = ours(&cap);
        assert_eq!(got, want, "{}", cap.display());
        frames += got.len();
    }
    assert!(frames >= 600, "{frames}");
}
