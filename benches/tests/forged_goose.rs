//! A forged GOOSE frame (another MAC, stNum far ahead) interleaved in a corpus capture is
//! found by the substation judge, naming that MAC; the untouched capture gives nothing.
//! Frames are read and written with this crate's generator (`gen-forged-goose`).

use std::path::PathBuf;

use otsensor_baselines::substation::{Finding, GooseWatch};
use otsensor_benches::{goose::forge, Frame};
use otsensor_protocols::goose;

/// The shared corpus: `OTSENSOR_SHARED_PCAPS`, else `../shared/pcaps` next to the workspace.
fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("OTSENSOR_SHARED_PCAPS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps"));
    if p.join("TSHARK_COUNTS.tsv").is_file() {
        return Some(p);
    }
    assert!(
        std::env::var("OTSENSOR_REQUIRE_TEST_INPUTS").as_deref() != Ok("1"),
        "the shared corpus is not at {}",
        p.display()
    );
    eprintln!("skipped: the shared corpus is not at {}", p.display());
    // Counted by the test script (cargo hides a passing test's output).
    if let Some(log) = std::env::var_os("OTSENSOR_SKIP_LOG").filter(|v| !v.is_empty()) {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(
                f,
                "forged_goose: the shared corpus is not at {}",
                p.display()
            );
        }
    }
    None
}

fn judge(frames: &[Frame]) -> Vec<(usize, Finding)> {
    let mut w = GooseWatch::default();
    let mut out = Vec::new();
    let mut found = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let Some((h, pdu)) = goose::header(&f.data) else {
            continue;
        };
        let Some(g) = goose::goose(pdu) else { continue };
        w.frame(f.ts_us as i64 * 1000, &h, &g, &mut out);
        found.extend(out.drain(..).map(|x| (i, x)));
    }
    found
}

#[test]
fn a_forged_goose_frame_is_found_and_the_real_capture_is_quiet() {
    let Some(dir) = corpus() else { return };
    let cap = dir.join("iec61850-goose-sv/iti-ics__Sample_File_GOOSE.pcap");
    let (_, frames) = otsensor_benches::load_pcap(&cap).unwrap();
    assert_eq!(judge(&frames), [], "the untouched capture");
    let rogue = [0x02, 0xde, 0xad, 0xbe, 0xef, 0x01];
    let (forged, at) = forge(&frames, 10, rogue, 1000).unwrap();
    let found = judge(&forged);
    let (_, original) = goose::header(&forged[at - 1].data).unwrap();
    let (h, pdu) = goose::header(&forged[at].data).unwrap();
    let g = goose::goose(pdu).unwrap();
    let st = g.st_num.unwrap();
    // The forged frame reads as GOOSE with every other field of the original.
    assert_eq!(h.src, rogue);
    assert_eq!(g.sq_num, Some(0));
    assert_eq!(
        goose::goose(original).map(|o| (o.gocb_ref, o.st_num.unwrap() + 1000)),
        Some((g.gocb_ref.clone(), st))
    );
    let known = goose::header(&forged[at - 1].data).unwrap().0.src;
    assert_eq!(
        found,
        [
            (
                at,
                Finding::SecondPublisher {
                    known,
                    other: rogue
                }
            ),
            (
                at,
                Finding::StNumJump {
                    from: st - 1000,
                    to: st
                }
            ),
        ]
    );
}

/// The project's substation captures (`pcaps/synthetic/substation`, made by its `make.sh`)
/// are what the generators make: the forged GOOSE capture from the project's copy of the
/// real one, and the Sampled Values with faults.
#[test]
fn the_committed_substation_captures_are_the_generators_output() {
    let pcaps = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pcaps");
    let (_, real) =
        otsensor_benches::load_pcap(&pcaps.join("iec61850/iti-goose/Sample_File_GOOSE.pcap"))
            .unwrap();
    let rogue = [0x02, 0xde, 0xad, 0xbe, 0xef, 0x01];
    let (want, _) = forge(&real, 10, rogue, 1000).unwrap();
    let (_, got) =
        otsensor_benches::load_pcap(&pcaps.join("synthetic/substation/goose-forged.pcap")).unwrap();
    assert!(
        got == want,
        "goose-forged.pcap is not gen-forged-goose's output"
    );
    let want = otsensor_benches::goose::sv_capture(2, 2, true);
    let (_, got) =
        otsensor_benches::load_pcap(&pcaps.join("synthetic/substation/sv-faults.pcap")).unwrap();
    assert!(got == want, "sv-faults.pcap is not gen-sv's output");
}
