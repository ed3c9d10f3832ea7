//! The baseline's tests: learning, files, caps, selectors, merging.

use std::borrow::Cow;

use super::*;
use crate::message::AddressRange;
use proptest::prelude::*;

fn key(s: u8, d: u8) -> EdgeKey {
    EdgeKey {
        src: IpAddr::from([10, 0, 0, s]),
        dst: IpAddr::from([10, 0, 0, d]),
        protocol: "modbus".into(),
    }
}

fn lesson(k: EdgeKey, t: i64, op: Operation, code: u16, start: u32, count: u32) -> Lesson<'static> {
    Lesson {
        packet: t.unsigned_abs(),
        key: Cow::Owned(k),
        src_zone: "a",
        dst_zone: "b",
        ts: Timestamp::from_nanos(t),
        operation: op,
        function: Some((code, "f")),
        unit: Some(1),
        ranges: Cow::Owned(vec![AddressRange {
            area: "holding_registers".into(),
            start,
            count,
        }]),
        timing: None,
    }
}

#[test]
fn learns_and_round_trips_through_a_file() {
    let l = Learner::default();
    for i in 0..20 {
        l.learn(&lesson(
            key(1, 2),
            i * 1_000_000_000,
            Operation::Read,
            3,
            100,
            10,
        ));
        l.learn_timing(&key(1, 2), 3, Some(1000 + (i as u64 % 3) * 10), Some(60));
    }
    l.learn(&lesson(key(1, 2), 0, Operation::Write, 6, 105, 1));
    l.learn_asset("10.0.0.1".parse().unwrap(), "a", Timestamp::from_nanos(0));
    let b = l.to_baseline();
    let e = &b.edges[0];
    assert_eq!(e.seen.count, 21);
    assert_eq!(e.operations[&Operation::Read], 20);
    assert_eq!(e.ranges["holding_registers"].as_slice(), &[[100, 109]]);
    let t = e.functions[&3].timing.as_ref().unwrap();
    assert_eq!(t.samples, 20);
    assert!((1000..=1020).contains(&t.period_ms), "{t:?}");
    assert!(!t.deviates(1010, 4.0) && t.deviates(5000, 4.0) && t.deviates(100, 4.0));
    let dir = std::env::temp_dir().join(format!("otsensor-baseline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("b.json");
    b.save(&p).unwrap();
    let back = Baseline::load(&p).unwrap();
    assert_eq!(back, b);
    // Continue learning from the file: the histogram is restored.
    let l2 = Learner::from_baseline(back, Caps::default());
    l2.learn_timing(&key(1, 2), 3, Some(1000), None);
    assert_eq!(
        l2.to_baseline().edges[0].functions[&3]
            .timing
            .as_ref()
            .unwrap()
            .samples,
        21
    );
    // A newer schema, or garbage, is refused.
    std::fs::write(&p, r#"{"schema_version": 99}"#).unwrap();
    assert!(matches!(
        Baseline::load(&p),
        Err(BaselineError::TooNew { found: 99, .. })
    ));
    std::fs::write(&p, "{not json").unwrap();
    assert!(matches!(
        Baseline::load(&p),
        Err(BaselineError::Corrupt { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn caps_bound_every_collection() {
    let caps = Caps {
        max_edges: 3,
        max_assets: 2,
        max_functions: 2,
        max_units: 2,
        max_areas: 1,
        max_ranges: 4,
        max_timings: 2,
    };
    let l = Learner::from_baseline(Baseline::default(), caps);
    for d in 2..12u8 {
        l.learn_asset(IpAddr::from([10, 0, 0, d]), "a", Timestamp::from_nanos(0));
        for code in 1..6u16 {
            for i in 0..20u32 {
                let mut x = lesson(key(1, d), i64::from(i), Operation::Read, code, i * 10, 2);
                x.unit = Some(i % 5);
                x.timing = Some((Some(10), Some(1)));
                x.ranges.to_mut().push(AddressRange {
                    area: "coils".into(),
                    start: i,
                    count: 1,
                });
                l.learn(&x);
            }
        }
    }
    assert!(l.capped.load(std::sync::atomic::Ordering::Relaxed) > 0);
    let b = l.to_baseline();
    assert_eq!(b.assets.len(), 2);
    assert_eq!(b.edges.len(), 3);
    let timed = b
        .edges
        .iter()
        .flat_map(|e| e.functions.values())
        .filter(|f| f.timing.is_some())
        .count();
    assert_eq!(timed, 2, "max_timings");
    for e in &b.edges {
        assert_eq!(e.functions.len(), 2);
        assert_eq!(e.units.len(), 2);
        assert_eq!(e.ranges.len(), 1);
        // Beyond the cap, nearest intervals are joined: every address learned stays covered.
        let iv = e.ranges["holding_registers"].as_slice();
        assert!(iv.len() <= 4, "{iv:?}");
        for i in 0..20u32 {
            assert!(iv.iter().any(|r| r[0] <= i * 10 && i * 10 < r[1]), "{iv:?}");
        }
    }
    // Merging two capped baselines stays within the caps.
    let mut m = b.clone();
    let other = Learner::from_baseline(Baseline::default(), caps);
    for d in 20..30u8 {
        other.learn(&lesson(key(2, d), 0, Operation::Write, 9, 5000, 3));
    }
    assert_eq!(m.merge(&other.to_baseline(), &caps), 3);
    assert_eq!(m.edges.len(), 3);
}

#[test]
fn selectors_set_states() {
    let l = Learner::default();
    l.learn(&lesson(key(1, 2), 0, Operation::Read, 3, 0, 1));
    l.learn(&lesson(key(1, 3), 0, Operation::Read, 3, 0, 1));
    let mut b = l.to_baseline();
    assert_eq!(
        b.set_state("edge=10.0.0.1>10.0.0.3/modbus", State::Suppressed),
        Ok(1)
    );
    assert_eq!(b.set_state("edge=*>10.0.0.2", State::Approved), Ok(1));
    assert_eq!(b.edges[0].state, State::Approved);
    assert_eq!(b.edges[1].functions[&3].state, State::Suppressed);
    assert!(b.set_state("bogus", State::Approved).is_err());
    // The comma form needs no quoting in a shell and names the same edge.
    assert_eq!(
        Selector::parse("edge=10.0.0.1,10.0.0.3/modbus"),
        Selector::parse("edge=10.0.0.1>10.0.0.3/modbus")
    );
    assert_eq!(
        Selector::parse("edge=*,10.0.0.2").unwrap(),
        Selector::Edge {
            src: None,
            dst: "10.0.0.2".parse().ok(),
            protocol: None
        }
    );
    // The running learner takes the same selectors, and marks itself to be saved.
    assert!(!l.has_changes_to_save());
    let sel = Selector::parse("edge=10.0.0.1>10.0.0.3/modbus").unwrap();
    assert_eq!(l.set_state(&sel, State::Suppressed), 1);
    assert!(l.has_changes_to_save());
    let running = l.to_baseline();
    assert_eq!(running, {
        let mut want = l.to_baseline();
        want.set_state("edge=10.0.0.1>10.0.0.3/modbus", State::Suppressed)
            .unwrap();
        want
    });
    assert_eq!(running.edges[1].functions[&3].state, State::Suppressed);
    assert_eq!(running.edges[0].state, State::Learning);
    let none = Selector::parse("asset=10.9.9.9").unwrap();
    assert_eq!(l.set_state(&none, State::Approved), 0);
}

proptest! {
    /// Learning the same messages in any order, or split over two learners and merged,
    /// gives the same baseline as a naive model (per-edge sets and sums).
    #[test]
    fn updates_agree_with_a_naive_model(
        msgs in proptest::collection::vec((1u8..4, 1u8..4, 0u8..3, 0u16..5, 0u32..100, 1u32..5, 0i64..1000), 1..60),
        split in 0usize..60,
    ) {
        let ops = [Operation::Read, Operation::Write, Operation::Diagnostics];
        let lessons: Vec<Lesson<'static>> = msgs.iter().map(|&(s, d, op, code, start, count, t)| {
            lesson(key(s, d), t, ops[usize::from(op)], code, start, count)
        }).collect();
        let one = Learner::default();
        for l in &lessons { one.learn(l); }
        let (a, b) = (Learner::default(), Learner::default());
        let split = split.min(lessons.len());
        for l in lessons[split..].iter().rev() { a.learn(l); }
        for l in &lessons[..split] { b.learn(l); }
        let mut merged = a.to_baseline();
        assert_eq!(merged.merge(&b.to_baseline(), &Caps::default()), 0);
        // The naive model.
        // Per edge: messages, function codes, addresses, first and last timestamp.
        type Model = BTreeMap<EdgeKey, (u64, BTreeSet<u16>, BTreeSet<u32>, i64, i64)>;
        let mut model = Model::new();
        for l in &lessons {
            let m = model.entry(l.key.clone().into_owned()).or_insert((0, BTreeSet::new(), BTreeSet::new(), i64::MAX, i64::MIN));
            m.0 += 1;
            m.1.insert(l.function.unwrap().0);
            let (s, c) = (l.ranges[0].start, l.ranges[0].count);
            m.2.extend(s..s + c);
            m.3 = m.3.min(l.ts.as_nanos());
            m.4 = m.4.max(l.ts.as_nanos());
        }
        for base in [one.to_baseline(), merged] {
            prop_assert_eq!(base.edges.len(), model.len());
            for e in &base.edges {
                let k = EdgeKey { src: e.src, dst: e.dst, protocol: e.protocol.clone().into() };
                let m = &model[&k];
                prop_assert_eq!(e.seen.count, m.0);
                prop_assert_eq!(&e.functions.keys().copied().collect::<BTreeSet<_>>(), &m.1);
                let covered: BTreeSet<u32> = e.ranges["holding_registers"].as_slice().iter().flat_map(|r| r[0]..=r[1]).collect();
                prop_assert_eq!(&covered, &m.2);
                prop_assert_eq!((e.seen.first_seen.as_nanos(), e.seen.last_seen.as_nanos()), (m.3, m.4));
            }
        }
    }
}
