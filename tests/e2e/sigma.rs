//! The plant's own Sigma rules (`[rules] sigma`): the example rules shipped in
//! `config/rules/` on corpus captures, a filter that excludes the real source, bad rules
//! refused by `config check` naming file and rule, and a Sigma alert's ATT&CK techniques in
//! CEF, LEEF and OCSF. (A rule added by SIGHUP to a running capture: `service.rs`.)

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::util::*;

fn rules_dir() -> PathBuf {
    root().join("config/rules")
}

/// Writes a config at `cfg`: `before` (other sections), then `[rules]` with `sigma` naming
/// `rules` and the `extra` lines.
fn write_config(cfg: &Path, before: &str, rules: &[&Path], extra: &str) {
    let list: Vec<String> = rules
        .iter()
        .map(|r| format!("{:?}", r.display().to_string()))
        .collect();
    std::fs::write(
        cfg,
        format!("{before}\n[rules]\nsigma = [{}]\n{extra}", list.join(", ")),
    )
    .unwrap();
}

/// Switches the example DNP3 rule off.
const DNP3_OFF: &str = "disabled = [\"sigma.otsensor-example-dnp3-cold-restart\"]\n";

/// The Sigma alerts (rule, key) of a replay of `cap` with `cfg`, and the records.
fn sigma_alerts(
    cfg: &Path,
    cap: &Path,
    out: &Path,
) -> (BTreeSet<(String, String)>, Vec<serde_json::Value>) {
    let _ = std::fs::remove_file(out);
    let (code, _, err) = replay(&[
        "-c".as_ref(),
        cfg.as_os_str(),
        cap.as_os_str(),
        "--alerts".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, 0, "{}: {err}", cap.display());
    let all: Vec<serde_json::Value> = jsonl(out)
        .into_iter()
        .filter(|a| a["engine"] == "sigma")
        .collect();
    let set = all
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (set, all)
}

fn techniques(a: &serde_json::Value) -> Vec<String> {
    a["attack"]["techniques"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_example_rule_raises_on_its_capture_and_nothing_else_does() {
    let Some(shared) = shared_pcaps() else { return };
    let dir = Scratch::new("sigma-examples");
    let cfg = dir.path("rules.toml");
    write_config(&cfg, "", &[&rules_dir()], "");
    let zoned = dir.path("zoned.toml");
    let zones =
        std::fs::read_to_string(own_pcaps().join("synthetic/scenarios/zones.toml")).unwrap();
    write_config(&zoned, &zones, &[&rules_dir()], "");
    let id = |s: &str| format!("sigma.otsensor-example-{s}");
    // Config, capture, rule, alert key, level, techniques.
    type Case<'a> = (&'a Path, PathBuf, &'a str, &'a str, &'a str, &'a [&'a str]);
    let cases: &[Case<'_>] = &[
        (
            &cfg,
            shared.join("s7comm/iti-ics__step7_s300_stop.pcapng"),
            "plc-stop-outside-ews",
            "134.249.62.199>134.249.61.163/s7comm",
            "critical",
            &["T0881", "T0858"],
        ),
        (
            &cfg,
            own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap"),
            "modbus-write-40001-40010",
            "141.81.0.10>141.81.0.46/modbus",
            "high",
            &["T0836", "T0855"],
        ),
        (
            &cfg,
            shared.join("dnp3/iti-ics__cold_restart_and_response.pcap"),
            "dnp3-cold-restart",
            "192.168.60.1>192.168.60.130/dnp3",
            "high",
            &["T0816"],
        ),
        (
            &cfg,
            own_pcaps().join("profinet/iti-dcp/SetNameOfStation.pcap"),
            "pn-dcp-set-outside-ews",
            "00:80:c8:38:a4:8b>00:02:e3:17:c7:50/pn_dcp",
            "high",
            &["T0836", "T0816"],
        ),
        (
            &zoned,
            own_pcaps().join("synthetic/scenarios/test.pcap"),
            "tls-sni-from-control",
            "141.81.0.12>45.137.21.9:8443",
            "high",
            &["T0869", "T0885"],
        ),
    ];
    for (cfg, cap, rule, key, level, ts) in cases {
        let (got, all) = sigma_alerts(cfg, cap, &dir.path("a.jsonl"));
        let want = BTreeSet::from([(id(rule), key.to_string())]);
        assert_eq!(got, want, "{}", cap.display());
        let a = &all[0];
        assert_eq!(a["severity"]["level"], *level, "{a}");
        assert_eq!(techniques(a), *ts, "{a}");
        assert!(
            a["evidence"]["observed"].is_object(),
            "the matched record: {a}"
        );
    }
    // The flow rule's evidence is the flow record, with the server name it named.
    let (_, all) = sigma_alerts(
        &zoned,
        &own_pcaps().join("synthetic/scenarios/test.pcap"),
        &dir.path("a.jsonl"),
    );
    assert_eq!(all[0]["evidence"]["observed"]["type"], "flow");
    assert_eq!(
        all[0]["evidence"]["observed"]["server_name"],
        "cdn-update.example.com"
    );
}

#[test]
fn a_filter_that_excludes_the_real_source_silences_the_rule() {
    let Some(shared) = shared_pcaps() else { return };
    let dir = Scratch::new("sigma-filter");
    let text =
        std::fs::read_to_string(rules_dir().join("plc-stop-outside-engineering-station.yml"))
            .unwrap();
    let cap = shared.join("s7comm/iti-ics__step7_s300_stop.pcapng");
    let run = |ews: &str| {
        let rule = dir.path("stop.yml");
        std::fs::write(&rule, text.replace("10.1.2.10/32", ews)).unwrap();
        let cfg = dir.path("cfg.toml");
        write_config(&cfg, "", &[&rule], "");
        sigma_alerts(&cfg, &cap, &dir.path("a.jsonl")).0.len()
    };
    assert_eq!(run("10.9.9.9/32"), 1, "another station: the stop is raised");
    assert_eq!(
        run("134.249.62.199/32"),
        0,
        "the real source is the station"
    );
    assert_eq!(run("134.249.62.0/24"), 0, "its network too");
}

#[test]
fn config_check_refuses_each_bad_rule_naming_file_and_rule() {
    let dir = Scratch::new("sigma-bad");
    let good = std::fs::read_to_string(rules_dir().join("dnp3-cold-restart.yml")).unwrap();
    let cases: &[(&str, String, &str)] = &[
        ("yaml", "title: [unclosed\n".into(), "document 1"),
        (
            "modifier",
            good.replace("function_code: 13", "function_code|near: 13"),
            "Unknown field modifier 'near'",
        ),
        (
            "selection",
            good.replace("condition: restart", "condition: restart and not window"),
            "undefined identifiers",
        ),
        (
            "service",
            good.replace("service: dnp3", "service: ftp"),
            "unknown service \"ftp\"",
        ),
        (
            "product",
            good.replace("product: otsensor", "product: windows"),
            "logsource.product must be otsensor",
        ),
    ];
    for (what, text, why) in cases {
        let rule = dir.path(&format!("{what}.yml"));
        std::fs::write(&rule, text).unwrap();
        let cfg = dir.path(&format!("{what}.toml"));
        write_config(&cfg, "", &[&rule], "");
        let out = config_check(&cfg);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{what}: one line: {err}");
        assert!(err.contains("rules.sigma"), "{what}: names the key: {err}");
        assert!(
            err.contains(&rule.display().to_string()),
            "{what}: names the file: {err}"
        );
        assert!(err.contains(why), "{what}: says why: {err}");
        if *what != "yaml" {
            assert!(
                err.contains("\"DNP3 cold restart\""),
                "{what}: names the rule: {err}"
            );
        }
        // The run refuses it the same way.
        let (code, _, err) = replay(&[
            "-c".as_ref(),
            cfg.as_os_str(),
            own_pcaps()
                .join("modbus/iti-modbustcp/ModbusTCP.pcap")
                .as_os_str(),
        ]);
        assert_eq!(code, 2, "{what}: {err}");
    }
    // The shipped examples pass, and a rule id can be switched off like any other.
    let cfg = dir.path("ok.toml");
    write_config(&cfg, "", &[&rules_dir()], DNP3_OFF);
    let out = config_check(&cfg);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `otsensor rules -c` lists them after the built-in rules, by id, engine sigma.
    let out = run_with_timeout(
        std::process::Command::new(bin())
            .args(["rules", "-c"])
            .arg(&cfg),
        std::time::Duration::from_secs(30),
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let sigma: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("sigma."))
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        sigma,
        [
            "sigma.otsensor-example-dnp3-cold-restart sigma",
            "sigma.otsensor-example-modbus-write-40001-40010 sigma",
            "sigma.otsensor-example-plc-stop-outside-ews sigma",
            "sigma.otsensor-example-pn-dcp-set-outside-ews sigma",
            "sigma.otsensor-example-tls-sni-from-control sigma",
        ],
        "{text}"
    );
}

#[test]
fn a_switched_off_sigma_rule_raises_nothing() {
    let Some(shared) = shared_pcaps() else { return };
    let dir = Scratch::new("sigma-off");
    let cfg = dir.path("cfg.toml");
    write_config(&cfg, "", &[&rules_dir()], DNP3_OFF);
    let cap = shared.join("dnp3/iti-ics__cold_restart_and_response.pcap");
    assert!(sigma_alerts(&cfg, &cap, &dir.path("a.jsonl")).0.is_empty());
}

#[test]
fn a_sigma_alert_carries_its_techniques_into_cef_leef_and_ocsf() {
    let Some(shared) = shared_pcaps() else { return };
    let dir = Scratch::new("sigma-formats");
    let cfg = dir.path("cfg.toml");
    write_config(&cfg, "", &[&rules_dir()], "");
    let cap = shared.join("s7comm/iti-ics__step7_s300_stop.pcapng");
    let rule = "sigma.otsensor-example-plc-stop-outside-ews";
    for format in ["cef", "leef", "ocsf"] {
        let out = dir.path(&format!("a.{format}"));
        let args: Vec<&OsStr> = vec![
            "-c".as_ref(),
            cfg.as_os_str(),
            cap.as_os_str(),
            "--alerts".as_ref(),
            out.as_os_str(),
            "--alert-format".as_ref(),
            format.as_ref(),
        ];
        let (code, _, err) = replay(&args);
        assert_eq!(code, 0, "{err}");
        let text = std::fs::read_to_string(&out).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains(rule))
            .unwrap_or_else(|| panic!("{format}: no {rule} in {text}"));
        for t in ["T0881", "T0858"] {
            assert!(line.contains(t), "{format}: {t} missing from {line}");
        }
        match format {
            "cef" => assert!(
                line.contains("cs5Label=attackTechniques cs5=T0881,T0858"),
                "{line}"
            ),
            "leef" => assert!(line.contains("attack=T0881,T0858"), "{line}"),
            _ => {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let s = v.to_string();
                assert!(s.contains("\"uid\":\"T0881\""), "{s}");
            }
        }
    }
}

/// Rules on protocols that share another's connection (CIP in EtherNet/IP, S7comm-plus and
/// MMS on port 102) and on layer-2 records (GOOSE, SV, PROFINET DCP) raise the same with
/// `--events` off as on: their records are built for the rules alone.
#[test]
fn rules_see_the_same_records_with_events_off() {
    let Some(shared) = shared_pcaps() else { return };
    let dir = Scratch::new("sigma-carried");
    let mut files = Vec::new();
    for svc in ["enip", "cip", "s7comm_plus", "mms", "goose", "sv", "pn_dcp"] {
        let f = dir.path(&format!("{svc}.yml"));
        std::fs::write(
            &f,
            format!(
                "title: any {svc}\nid: any-{svc}\nlevel: low\nlogsource: {{product: otsensor, service: {svc}}}\ndetection:\n  sel:\n    protocol: {svc}\n  condition: sel\n"
            ),
        )
        .unwrap();
        files.push(f);
    }
    let cfg = dir.path("cfg.toml");
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    write_config(&cfg, "", &refs, "");
    let cases: [(PathBuf, &[&str]); 6] = [
        (
            own_pcaps().join("enip/iti-cip-stop-plc/cip_stop_plc.pcap"),
            &["sigma.any-cip", "sigma.any-enip"],
        ),
        (
            own_pcaps().join("iec61850/iti-goose/Sample_File_GOOSE.pcap"),
            &["sigma.any-goose"],
        ),
        (
            own_pcaps().join("synthetic/substation/sv-faults.pcap"),
            &["sigma.any-sv"],
        ),
        (
            own_pcaps().join("profinet/iti-dcp/SetNameOfStation.pcap"),
            &["sigma.any-pn_dcp"],
        ),
        (
            own_pcaps().join("s7comm-plus/icsnpp-s7comm-plus/s7comm_plus.pcap"),
            &["sigma.any-s7comm_plus"],
        ),
        (
            shared.join("iec61850-mms/iti-ics__8d7c7db0-9804-012b-b2a6-0016cb8cea27.pcap"),
            &["sigma.any-mms"],
        ),
    ];
    for (cap, want) in cases {
        for events in [false, true] {
            let out = dir.path("a.jsonl");
            let ev = dir.path("events.jsonl");
            let _ = std::fs::remove_file(&out);
            let mut args: Vec<&OsStr> = vec![
                "-c".as_ref(),
                cfg.as_os_str(),
                cap.as_os_str(),
                "--alerts".as_ref(),
                out.as_os_str(),
            ];
            if events {
                args.extend(["--events".as_ref(), ev.as_os_str()]);
            }
            let (code, _, err) = replay(&args);
            assert_eq!(code, 0, "{err}");
            let alerts = jsonl(&out);
            let sigma: Vec<&serde_json::Value> =
                alerts.iter().filter(|a| a["engine"] == "sigma").collect();
            // Layer-2 alerts name their ends by MAC, keyed `src>dst/service`.
            for a in &sigma {
                let svc = a["rule"].as_str().unwrap().trim_start_matches("sigma.any-");
                if ["goose", "sv", "pn_dcp"].contains(&svc) {
                    let key = format!(
                        "{}>{}/{svc}",
                        a["src"]["mac"].as_str().unwrap(),
                        a["dst"]["mac"].as_str().unwrap()
                    );
                    assert_eq!(a["key"], key.as_str(), "{a}");
                }
            }
            let got: BTreeSet<String> = sigma
                .iter()
                .map(|a| a["rule"].as_str().unwrap().to_string())
                .collect();
            let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
            assert_eq!(got, want, "{} with events {events}", cap.display());
        }
    }
}
