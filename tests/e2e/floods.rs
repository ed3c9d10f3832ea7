//! Floods must not blind the sensor: a SYN flood from 20,000 distinct sources interleaved
//! with a real plant capture (`pcaps/synthetic/syn-flood-in-plant`), replayed with small caps
//! so that every bound is reached (half-open connections, anomaly tables): the plant's events
//! and assets are those of the plant capture alone, detection against the plant's own baseline
//! raises nothing about the plant, and the flood is detected and its shed state counted.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::util::*;

/// Event lines without what depends on the packet's place in the input.
fn events(p: &Path) -> Vec<Value> {
    fn strip(v: &mut Value) {
        if let Value::Object(m) = v {
            m.remove("flow_id");
            m.remove("packet");
            m.values_mut().for_each(strip);
        }
    }
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            strip(&mut v);
            v
        })
        .collect()
}

#[test]
fn a_syn_flood_inside_the_plant_changes_nothing_of_the_plant() {
    let plant = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    let mixed = own_pcaps().join("synthetic/syn-flood-in-plant/syn-flood-in-plant.pcap");
    let s = Scratch::new("floods");
    let cfg = s.path("caps.toml");
    std::fs::write(
        &cfg,
        "[flows]\nmax_half_open = 2000\n[detection]\nmax_tracked = 1000\n",
    )
    .unwrap();
    let run = |cap: &Path, tag: &str, extra: &[&std::ffi::OsStr]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![cap.as_os_str(), "-c".as_ref(), cfg.as_os_str()];
        let (ev, assets, alerts, stats) = (
            s.path(&format!("{tag}-events.jsonl")),
            s.path(&format!("{tag}-assets.json")),
            s.path(&format!("{tag}-alerts.jsonl")),
            s.path(&format!("{tag}-stats.json")),
        );
        args.extend([
            "--events".as_ref(),
            ev.as_os_str(),
            "--assets".as_ref(),
            assets.as_os_str(),
            "--alerts".as_ref(),
            alerts.as_os_str(),
            "--stats".as_ref(),
            stats.as_os_str(),
            "--workers".as_ref(),
            "2".as_ref(),
        ]);
        args.extend_from_slice(extra);
        let (code, _, err) = replay(&args);
        assert_eq!(code, 0, "{tag}: {err}");
        (events(&ev), json(&assets), jsonl(&alerts), json(&stats))
    };
    let baseline = s.path("plant-baseline.json");
    let (plant_events, plant_assets, _, _) = run(
        &plant,
        "plant",
        &[
            "--learn".as_ref(),
            "--baseline".as_ref(),
            baseline.as_os_str(),
        ],
    );
    let (mixed_events, mixed_assets, alerts, stats) = run(&mixed, "mixed", &[]);

    // The plant's PDUs, one for one (the flood's half-open connections carry none).
    assert!(!plant_events.is_empty());
    assert_eq!(mixed_events, plant_events);
    // The plant's assets, field for field.
    let plant_ips: BTreeSet<String> = plant_assets["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ip"].as_str().unwrap().to_string())
        .collect();
    let mixed_plant: Vec<&Value> = mixed_assets["assets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| plant_ips.contains(a["ip"].as_str().unwrap()))
        .collect();
    let plant_list: Vec<&Value> = plant_assets["assets"].as_array().unwrap().iter().collect();
    assert_eq!(mixed_plant, plant_list);

    // The flood is detected: a SYN flood and a distributed connection flood on 10.1.0.1:502.
    for rule in ["anomaly.syn_flood", "anomaly.connection_flood"] {
        let a = alerts
            .iter()
            .find(|a| a["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule}: {alerts:?}"));
        assert_eq!(a["dst"]["ip"], "10.1.0.1");
        assert_eq!(a["attack"]["techniques"][0]["id"], "T0814");
    }
    // Every bound was reached, and what it shed is counted.
    assert!(
        stats["flows"]["emergencies"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert!(
        stats["flows"]["ended"]["evicted"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert!(
        stats["alerts"]["anomaly_evicted"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert_eq!(stats["pdus"], json(&s.path("plant-stats.json"))["pdus"]);

    // Detection against the plant's own baseline: nothing about the plant.
    let detect = s.path("detect.jsonl");
    let (code, _, err) = replay(&[
        mixed.as_os_str(),
        "-c".as_ref(),
        cfg.as_os_str(),
        "--baseline".as_ref(),
        baseline.as_os_str(),
        "--alerts".as_ref(),
        detect.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    for a in jsonl(&detect) {
        let ends = [&a["src"]["ip"], &a["dst"]["ip"]];
        assert!(
            !ends
                .iter()
                .any(|ip| ip.as_str().is_some_and(|ip| plant_ips.contains(ip))),
            "an alert about the plant inside the flood: {a}"
        );
    }
}
