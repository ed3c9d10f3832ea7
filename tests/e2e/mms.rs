//! IEC 61850 MMS on port 102 against Wireshark: per-PDU counts of confirmed services on every
//! capture of the corpus's two IEC 61850 folders, and MMS and S7comm never taken for each
//! other, both ways, with the roles that follow.

use std::collections::BTreeMap;
use std::path::Path;

use crate::util::*;

/// (request or response, service) → PDUs, as tshark reads them.
fn tshark_services(cap: &Path) -> Option<BTreeMap<(String, u64), u64>> {
    let fields = [
        "mms.confirmedServiceRequest",
        "mms.confirmedServiceResponse",
    ];
    let mut m = BTreeMap::new();
    for row in tshark_rows(cap, "mms", &fields)? {
        for (dir, field) in ["request", "response"].iter().zip(&row) {
            for v in field.split(',').filter(|v| !v.is_empty()) {
                let n: u64 = v.parse().unwrap_or_else(|_| panic!("{v}"));
                *m.entry((dir.to_string(), n)).or_default() += 1;
            }
        }
    }
    Some(m)
}

#[test]
fn mms_services_per_pdu_equal_wireshark_and_mms_is_never_s7comm() {
    let Some(shared) = shared_pcaps() else { return };
    let mut caps = captures_under(&shared.join("iec61850-mms"));
    caps.extend(captures_under(&shared.join("iec61850-goose-sv")));
    let mut compared = 0;
    let mut failures = Vec::new();
    for cap in &caps {
        let Some(want) = tshark_services(cap) else {
            return;
        };
        let (events, _) = replay_events(cap);
        let mut got: BTreeMap<(String, u64), u64> = BTreeMap::new();
        for e in &events {
            assert!(
                e["protocol"] != "s7comm" && e["protocol"] != "s7comm_plus",
                "{}: MMS taken for S7: {e}",
                cap.display()
            );
            let confirmed = matches!(
                e["pdu_type"].as_str(),
                Some("confirmed-RequestPDU" | "confirmed-ResponsePDU")
            );
            if let (true, Some(code)) = (confirmed, e["function_code"].as_u64()) {
                let dir = e["direction"].as_str().unwrap().to_string();
                *got.entry((dir, code)).or_default() += 1;
            }
        }
        compared += want.values().sum::<u64>();
        if got != want {
            failures.push(format!("{}: ours {got:?} tshark {want:?}", cap.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 150, "{compared}");

    // The IED is an MMS server, its client an MMS client: no S7 role.
    let cap = shared.join("iec61850-mms/iti-ics__8d7c7db0-9804-012b-b2a6-0016cb8cea27.pcap");
    let dir = Scratch::new("mms-roles");
    let out = dir.path("assets.json");
    let (code, _, err) = replay(&[cap.as_os_str(), "--assets".as_ref(), out.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let assets = json(&out);
    let roles: Vec<String> = assets["assets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["roles"].as_array().unwrap().iter())
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    assert!(roles.iter().any(|r| r == "mms_server"), "{roles:?}");
    assert!(roles.iter().any(|r| r == "mms_client"), "{roles:?}");
    assert!(!roles.iter().any(|r| r.starts_with("s7_")), "{roles:?}");
    let ied = assets["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "mms_server")
        })
        .unwrap();
    assert_eq!(ied["device_type"], "ied", "{ied}");
    // Identify answers name the device as Wireshark reads them.
    let fields = ["ip.src", "mms.vendorName", "mms.modelName", "mms.revision"];
    let rows = tshark_rows(&cap, "mms.vendorName", &fields).expect("tshark");
    assert!(!rows.is_empty());
    for row in &rows {
        let [ip, vendor, model, revision] = row.as_slice() else {
            panic!("{row:?}")
        };
        let a = assets["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["ip"] == ip.as_str())
            .unwrap();
        let id = &a["identity"];
        assert_eq!(
            (
                id["vendor"].as_str(),
                id["model"].as_str(),
                id["firmware"].as_str()
            ),
            (
                Some(vendor.as_str()),
                Some(model.as_str()),
                Some(revision.as_str())
            ),
            "{a}"
        );
    }
}

/// S7comm and S7comm-plus captures carry no MMS event: the other direction of the negative
/// test.
#[test]
fn s7comm_is_never_mms() {
    let Some(shared) = shared_pcaps() else { return };
    let mut n = 0;
    for folder in ["s7comm", "s7comm-plus"] {
        for cap in captures_under(&shared.join(folder)) {
            let (events, _) = replay_events(&cap);
            assert!(
                events.iter().all(|e| e["protocol"] != "mms"),
                "{}: S7 taken for MMS",
                cap.display()
            );
            n += events.len();
        }
    }
    assert!(n > 1000, "{n}");
}

/// The corpus's MMS program invocation and download captures raise the operational rules
/// of what they do, as S7's do.
#[test]
fn mms_program_invocations_raise_operational_alerts() {
    let Some(shared) = shared_pcaps() else { return };
    let dir = Scratch::new("mms-ops");
    for (file, want) in [
        ("mms-killRequest", &["operational.plc_stop"][..]),
        ("mms-resumeRequest", &["operational.plc_start"]),
        ("mms-deleteProgramInvocation", &["operational.mms_delete"]),
        (
            "mms-initiateDownloadSequence",
            &["operational.program_download"],
        ),
        (
            "mms-initiateUploadSequence",
            &["operational.program_upload"],
        ),
        ("mms-resetRequest", &["operational.device_restart"]),
        ("mms-readRequest", &[]),
        ("iec61850_write", &[]),
    ] {
        let cap = shared.join(format!("iec61850-mms/iti-ics__{file}.pcap"));
        let out = dir.path(&format!("{file}.alerts"));
        let (code, _, err) = replay(&[cap.as_os_str(), "--alerts".as_ref(), out.as_os_str()]);
        assert_eq!(code, 0, "{err}");
        let got: std::collections::BTreeSet<String> = jsonl(&out)
            .iter()
            .map(|a| a["rule"].as_str().unwrap().to_string())
            .collect();
        let want: std::collections::BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "{file}");
    }
}
