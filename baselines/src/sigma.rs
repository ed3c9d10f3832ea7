//! The plant's own detections: Sigma rules (`[rules] sigma`, files or directories of `.yml`)
//! over the records the sensor writes — one protocol's events, or flow records. Rules are
//! parsed and evaluated by the `sigma-rust` crate; this module loads them, refuses what the
//! sensor cannot honour (another product's log source, an unknown service, a correlation
//! rule), groups them by service so that a record is only tried against its own service's
//! rules, and gives each one a detection rule of its own (`sigma.<id>`, engine `sigma`) so
//! that its alerts go the way of every other alert.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use otsensor_protocols::record::{Fields, Picked};
use otsensor_protocols::rule::{Engine, Rule, Technique};

/// A record as Sigma sees it (field names with dots reach into nested objects).
pub use sigma_rust::Event as Record;

/// The services a rule may name besides the protocols: flow records.
pub const FLOW: &str = "flow";

/// Most rules loaded at once.
pub const MAX_RULES: usize = 10_000;

/// The layer-2 records: GOOSE PDUs, Sampled Values seconds, PROFINET DCP and alarms.
pub const LAYER2: &[&str] = &["goose", "sv", "pn_dcp", "pn_rt"];

/// Every service a rule may name: each protocol's events, the layer-2 records, and flow
/// records.
pub fn services() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = otsensor_protocols::PROTOCOLS
        .iter()
        .map(|d| d.name)
        .collect();
    v.extend(LAYER2);
    v.push(FLOW);
    v
}

/// One loaded rule.
#[derive(Debug)]
pub struct SigmaRule {
    /// The detection rule its alerts carry.
    pub rule: &'static Rule,
    /// The service it watches.
    pub service: &'static str,
    /// The file it came from.
    pub file: PathBuf,
    /// The fields its detection names, as paths (`None`: keywords, any field).
    fields: Option<Vec<String>>,
    compiled: sigma_rust::Rule,
}

impl SigmaRule {
    /// Whether the record matches the rule's detection.
    pub fn matches(&self, r: &Record) -> bool {
        self.compiled.is_match(r)
    }
}

/// The rules in force, by service.
#[derive(Debug, Default)]
pub struct SigmaSet {
    by_service: HashMap<&'static str, Service, ahash::RandomState>,
    count: usize,
    /// Whether a rule watches a protocol's events (asked per event).
    on_events: bool,
}

/// The rules of one service.
#[derive(Debug)]
pub struct Service {
    /// Its number among the set's services (which keeps its shapes apart from another
    /// service's in one cache).
    pub id: u16,
    /// In load order.
    pub rules: Vec<SigmaRule>,
    /// The top-level fields they name (`None`: a rule searches keywords in every field):
    /// only those are read from a record.
    pub fields: Option<Fields>,
}

impl PartialEq for SigmaSet {
    /// Same rules (by id and content), in the same order.
    fn eq(&self, other: &Self) -> bool {
        let ids = |s: &SigmaSet| {
            let mut v: Vec<(&str, &Rule)> = s
                .by_service
                .values()
                .flat_map(|s| &s.rules)
                .map(|r| (r.service, r.rule))
                .collect();
            v.sort_by_key(|(_, r)| r.id);
            v
        };
        ids(self) == ids(other)
    }
}

impl SigmaSet {
    /// The rules watching `service`'s records and the fields they name (`None`: no rule
    /// watches them, nothing to do).
    pub fn service(&self, service: &str) -> Option<&Service> {
        self.by_service.get(service)
    }

    /// The rules watching `service`'s records (none: nothing to do for them).
    pub fn rules_for(&self, service: &str) -> &[SigmaRule] {
        self.by_service
            .get(service)
            .map_or(&[], |s| s.rules.as_slice())
    }

    /// Whether any rule watches the events of a protocol over IP (not flow records, not
    /// layer-2 records).
    pub fn on_events(&self) -> bool {
        self.on_events
    }

    /// Whether any rule watches `service`.
    pub fn wants(&self, service: &str) -> bool {
        self.by_service.contains_key(service)
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every rule, by id.
    pub fn iter(&self) -> impl Iterator<Item = &SigmaRule> {
        let mut v: Vec<&SigmaRule> = self.by_service.values().flat_map(|s| &s.rules).collect();
        v.sort_by_key(|r| r.rule.id);
        v.into_iter()
    }

    /// Loads every rule of these files and directories (a directory's `.yml` and `.yaml`
    /// files, in name order; not recursive). The first bad rule refuses the set, with one
    /// line naming its file and rule.
    pub fn load(paths: &[PathBuf]) -> Result<SigmaSet, String> {
        let mut set = SigmaSet::default();
        let mut seen: HashMap<String, PathBuf> = HashMap::new();
        for file in rule_files(paths)? {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
            for (n, doc) in documents(&text, &file)?.into_iter().enumerate() {
                let r = compile(doc, &file, n + 1)?;
                let id = r.rule.id.to_string();
                if let Some(first) = seen.insert(id.clone(), file.clone()) {
                    return Err(format!(
                        "{}: rule {id:?}: the id is used twice (also in {})",
                        file.display(),
                        first.display()
                    ));
                }
                let id = set.by_service.len() as u16;
                let svc = set.by_service.entry(r.service).or_insert_with(|| Service {
                    id,
                    rules: Vec::new(),
                    fields: Some(Fields::default()),
                });
                match (svc.fields.as_mut(), &r.fields) {
                    (Some(all), Some(mine)) => {
                        let mut names = all.paths().to_vec();
                        for f in mine {
                            if !names.contains(f) {
                                names.push(f.clone());
                            }
                        }
                        *all = Fields::new(names);
                    }
                    _ => svc.fields = None,
                }
                set.count += 1;
                if set.count > MAX_RULES {
                    return Err(format!(
                        "{}: more than {MAX_RULES} Sigma rules",
                        file.display()
                    ));
                }
                svc.rules.push(r);
            }
        }
        set.on_events = set
            .by_service
            .keys()
            .any(|s| *s != FLOW && !LAYER2.contains(s));
        Ok(set)
    }
}

/// The `.yml`/`.yaml` files the paths name.
fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "yml" || x == "yaml"))
                .collect();
            files.sort();
            out.extend(files);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    Ok(out)
}

/// The YAML documents of a file.
fn documents(text: &str, file: &Path) -> Result<Vec<serde_norway::Value>, String> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for (n, de) in serde_norway::Deserializer::from_str(text).enumerate() {
        let v = serde_norway::Value::deserialize(de)
            .map_err(|e| format!("{}: document {}: {}", file.display(), n + 1, one_line(&e)))?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().replace('\n', " ")
}

/// The string at `key` of a YAML mapping.
fn text_at<'a>(v: &'a serde_norway::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(serde_norway::Value::as_str)
}

/// One rule from its document: checked, parsed and given its detection rule.
fn compile(doc: serde_norway::Value, file: &Path, n: usize) -> Result<SigmaRule, String> {
    let name = text_at(&doc, "title")
        .or_else(|| text_at(&doc, "id"))
        .map_or_else(|| format!("document {n}"), |t| format!("{t:?}"));
    let bad = |why: String| format!("{}: rule {name}: {why}", file.display());
    if doc.get("correlation").is_some() {
        return Err(bad("correlation rules are not supported".into()));
    }
    let id = text_at(&doc, "id")
        .ok_or_else(|| bad("no id".into()))?
        .to_string();
    if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(format!("id {id:?} is empty or has spaces")));
    }
    let product = doc.get("logsource").and_then(|l| l.get("product"));
    if product.and_then(serde_norway::Value::as_str) != Some("otsensor") {
        return Err(bad("logsource.product must be otsensor".into()));
    }
    let known = services();
    let service = doc
        .get("logsource")
        .and_then(|l| l.get("service"))
        .and_then(serde_norway::Value::as_str)
        .ok_or_else(|| bad("no logsource.service".into()))?;
    let service = known
        .iter()
        .copied()
        .find(|s| *s == service)
        .ok_or_else(|| {
            bad(format!(
                "unknown service {service:?} (expected one of {})",
                known.join(", ")
            ))
        })?;
    let level = doc.get("level").map(|l| l.as_str().unwrap_or("?"));
    let severity = severity(level)
        .ok_or_else(|| bad("level must be informational, low, medium, high or critical".into()))?;
    let fields = doc.get("detection").and_then(named_fields);
    let compiled: sigma_rust::Rule =
        serde_norway::from_value(doc).map_err(|e| bad(one_line(&e)))?;
    let rule = intern(Rule {
        id: leak(format!("sigma.{id}")),
        title: leak(compiled.title.clone()),
        engine: Engine::Sigma,
        severity,
        techniques: techniques(compiled.tags.as_deref().unwrap_or_default()),
        rationale: leak(
            compiled
                .description
                .clone()
                .unwrap_or_else(|| format!("Sigma rule from {}", file.display()))
                .replace('\n', " "),
        ),
    });
    Ok(SigmaRule {
        rule,
        service,
        file: file.to_path_buf(),
        fields,
        compiled,
    })
}

/// The record fields a detection names, as paths (`src.ip` for `src.ip|cidr`), or `None`
/// when a selection searches keywords (values with no field: any field may hold them).
fn named_fields(detection: &serde_norway::Value) -> Option<Vec<String>> {
    use serde_norway::Value;
    fn keys(m: &serde_norway::Mapping, out: &mut Vec<String>) -> Option<()> {
        for k in m.keys() {
            let k = k.as_str()?;
            if k.split('|').any(|m| m == "fieldref") {
                // Its values name fields too.
                return None;
            }
            let field = k.split('|').next().unwrap_or(k);
            let path = field.to_string();
            if !out.contains(&path) {
                out.push(path);
            }
        }
        Some(())
    }
    let mut out = Vec::new();
    let Value::Mapping(d) = detection else {
        return Some(out);
    };
    for (name, sel) in d {
        if name.as_str() == Some("condition") {
            continue;
        }
        match sel {
            Value::Mapping(m) => keys(m, &mut out)?,
            Value::Sequence(items) => {
                for i in items {
                    match i {
                        Value::Mapping(m) => keys(m, &mut out)?,
                        _ => return None,
                    }
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A Sigma level as a severity score (1–10); `None` for a level Sigma does not define.
fn severity(level: Option<&str>) -> Option<u8> {
    Some(match level {
        Some("informational") => 1,
        Some("low") => 3,
        None | Some("medium") => 5,
        Some("high") => 7,
        Some("critical") => 9,
        Some(_) => return None,
    })
}

/// The ATT&CK techniques of `attack.tNNNN` tags: named as the built-in rules name them, by
/// id otherwise.
fn techniques(tags: &[String]) -> &'static [Technique] {
    let known: HashMap<&str, Technique> = crate::rules::all()
        .iter()
        .flat_map(|r| r.techniques.iter())
        .map(|t| (t.id, *t))
        .collect();
    let mut out: Vec<Technique> = Vec::new();
    for tag in tags {
        let Some(t) = tag
            .to_ascii_lowercase()
            .strip_prefix("attack.t")
            .map(str::to_string)
        else {
            continue;
        };
        let id = format!("T{}", t.to_ascii_uppercase());
        let well_formed =
            id.len() >= 5 && id.bytes().skip(1).all(|b| b.is_ascii_digit() || b == b'.');
        if !well_formed || out.iter().any(|x| x.id == id) {
            continue;
        }
        out.push(match known.get(id.as_str()) {
            Some(t) => *t,
            None => {
                let id = leak(id);
                Technique {
                    id,
                    name: id,
                    v19: None,
                }
            }
        });
    }
    if out.is_empty() {
        return &[];
    }
    Box::leak(out.into_boxed_slice())
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Rules made from Sigma files live for the process (alerts hold `&'static Rule`s). A reload
/// that loads an unchanged rule gets the same one back, so only edited rules take memory
/// again (a few hundred bytes each).
static LOADED: RwLock<Vec<&'static Rule>> = RwLock::new(Vec::new());

fn intern(r: Rule) -> &'static Rule {
    let mut loaded = LOADED
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(same) = loaded.iter().rev().find(|x| ***x == r) {
        return same;
    }
    let r: &'static Rule = Box::leak(Box::new(r));
    loaded.push(r);
    r
}

/// The Sigma rule with this id (`sigma.<id>`), the latest loaded.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    let loaded = LOADED
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loaded.iter().rev().find(|r| r.id == id).copied()
}

/// Most elements of a record's lists tried one by one.
pub const MAX_LIST_VIEWS: usize = 64;

/// The records a rule is tried on for one JSON record. Sigma matches a field against a value, not a list: a record
/// whose fields hold lists (a Modbus request's `addresses`, a DNP3 response's `objects`,
/// `flags`) is tried as one record per position, the i-th taking each list's i-th element
/// (a shorter list its last, an empty list dropped), up to [`MAX_LIST_VIEWS`] positions. So
/// `addresses.start|lt: 10` matches a request one of whose address ranges starts below 10.
pub fn records(line: &[u8]) -> Vec<Record> {
    match serde_json::from_slice(line) {
        Ok(obj) => views(obj),
        Err(_) => Vec::new(),
    }
}

/// The fields a record's [`Picked`] holds, as a JSON object of `fields`' names.
pub fn picked_object(
    picked: &Picked,
    fields: &Fields,
) -> serde_json::Map<String, serde_json::Value> {
    picked
        .fields()
        .filter_map(|(i, json)| {
            let v = serde_json::from_str(json).ok()?;
            Some((fields.names().get(i)?.clone(), v))
        })
        .collect()
}

/// The records a rule is tried on for one record's fields: one per list position (see
/// [`records`]).
pub fn views(obj: serde_json::Map<String, serde_json::Value>) -> Vec<Record> {
    let longest = obj
        .values()
        .filter_map(|v| v.as_array().map(Vec::len))
        .max()
        .unwrap_or(0);
    if longest == 0 {
        return Record::try_from(serde_json::Value::Object(obj))
            .into_iter()
            .collect();
    }
    (0..longest.min(MAX_LIST_VIEWS))
        .filter_map(|i| {
            let view: serde_json::Map<String, serde_json::Value> = obj
                .iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::Array(a) => {
                        a.get(i).or(a.last()).map(|e| (k.clone(), e.clone()))
                    }
                    _ => Some((k.clone(), v.clone())),
                })
                .collect();
            Record::try_from(serde_json::Value::Object(view)).ok()
        })
        .collect()
}

/// The rules in force, shared by the workers (replaced whole by a reload).
pub type Shared = Arc<SigmaSet>;

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("otsensor-sigma-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const STOP: &str = r#"
title: PLC stop outside the engineering station
id: plc-stop-not-ews
level: critical
tags: [attack.t0881, attack.t0858, attack.t9999]
logsource: {product: otsensor, service: s7comm}
detection:
  stop:
    operation: plc_stop
  ews:
    src.ip|cidr: 10.1.2.0/28
  condition: stop and not ews
"#;

    #[test]
    fn a_rule_loads_with_its_severity_techniques_and_service_and_matches_nested_fields() {
        let d = tmp("ok");
        let f = write(&d, "stop.yml", STOP);
        let set = SigmaSet::load(std::slice::from_ref(&d)).unwrap();
        assert_eq!(set.len(), 1);
        let r = &set.rules_for("s7comm")[0];
        assert_eq!(r.file, f);
        assert_eq!(r.rule.id, "sigma.plc-stop-not-ews");
        assert_eq!(r.rule.engine, Engine::Sigma);
        assert_eq!(r.rule.severity, 9);
        let ids: Vec<&str> = r.rule.techniques.iter().map(|t| t.id).collect();
        assert_eq!(ids, ["T0881", "T0858", "T9999"]);
        assert_eq!(r.rule.techniques[0].name, "Service Stop");
        assert!(set.rules_for("modbus").is_empty() && !set.wants("modbus"));
        let rec = |ip: &str| -> Record {
            serde_json::from_str(&format!(
                r#"{{"protocol":"s7comm","operation":"plc_stop","src":{{"ip":"{ip}"}}}}"#
            ))
            .unwrap()
        };
        assert!(r.matches(&rec("10.1.9.7")));
        assert!(
            !r.matches(&rec("10.1.2.3")),
            "the engineering station is excluded"
        );
        // Loading the same rule again gives the same detection rule.
        let again = SigmaSet::load(&[f]).unwrap();
        assert!(std::ptr::eq(again.rules_for("s7comm")[0].rule, r.rule));
        assert_eq!(by_id("sigma.plc-stop-not-ews"), Some(r.rule));
        assert!(again == set);
    }

    #[test]
    fn the_fields_a_rule_names_are_known_and_keywords_name_all() {
        let d = tmp("fields");
        let f = write(&d, "stop.yml", STOP);
        let set = SigmaSet::load(&[f]).unwrap();
        let mut named = set
            .service("s7comm")
            .unwrap()
            .fields
            .clone()
            .unwrap()
            .names()
            .to_vec();
        named.sort();
        assert_eq!(named, ["operation", "src"]);
        let kw = STOP.replace(
            "  condition: stop and not ews",
            "  words:\n    - plc_stop\n  condition: words and not ews",
        );
        let f = write(&d, "kw.yml", &kw);
        let set = SigmaSet::load(&[f]).unwrap();
        assert_eq!(set.service("s7comm").unwrap().fields, None);
    }

    #[test]
    fn a_record_with_lists_is_tried_element_by_element() {
        let line = br#"{"protocol":"modbus","addresses":[{"area":"holding_registers","start":40,"count":2},{"area":"holding_registers","start":3,"count":1}],"flags":[],"values":[1,2,3]}"#;
        let rs = records(line);
        assert_eq!(rs.len(), 3);
        let start = |r: &Record| r.get("addresses.start").map(|v| v.value_to_string());
        assert_eq!(start(&rs[0]).as_deref(), Some("40"));
        assert_eq!(start(&rs[1]).as_deref(), Some("3"));
        assert_eq!(
            start(&rs[2]).as_deref(),
            Some("3"),
            "a shorter list keeps its last"
        );
        assert!(rs[0].get("flags").is_none(), "an empty list is dropped");
        assert_eq!(records(br#"{"a":1}"#).len(), 1);
        assert!(records(b"not json").is_empty());
        // Only the fields named: the values list is not read, so one record.
        let named = Fields::new(vec!["addresses".to_string(), "protocol".to_string()]);
        let value: serde_json::Value = serde_json::from_slice(line).unwrap();
        let mut picked = Picked::default();
        otsensor_protocols::record::pick_fields(&value, &named, &mut picked).unwrap();
        let rs = views(picked_object(&picked, &named));
        assert_eq!(rs.len(), 2);
        assert!(rs[0].get("values").is_none() && rs[0].get("protocol").is_some());
    }

    #[test]
    fn each_kind_of_bad_rule_is_refused_naming_its_file_and_rule() {
        let d = tmp("bad");
        let cases: &[(&str, &str)] = &[
            ("title: [unclosed", "document 1"),
            (
                &STOP.replace("src.ip|cidr", "src.ip|frobnicate"),
                "Unknown field modifier 'frobnicate'",
            ),
            (
                &STOP.replace("stop and not ews", "stop and not missing"),
                "undefined identifiers",
            ),
            (
                &STOP.replace("service: s7comm", "service: smtp"),
                "unknown service \"smtp\"",
            ),
            (
                &STOP.replace("product: otsensor", "product: windows"),
                "logsource.product must be otsensor",
            ),
            (&STOP.replace("id: plc-stop-not-ews\n", ""), "no id"),
            (
                "title: many writes\nid: x\ncorrelation: {type: event_count}\n",
                "correlation rules are not supported",
            ),
        ];
        for (i, (text, why)) in cases.iter().enumerate() {
            let f = write(&d, &format!("bad{i}.yml"), text);
            let e = SigmaSet::load(std::slice::from_ref(&f)).unwrap_err();
            assert!(e.starts_with(&format!("{}: ", f.display())), "{e}");
            assert!(e.contains(why), "case {i}: {e}");
            assert!(!e.contains('\n'), "{e}");
            if i > 0 && i < 6 {
                assert!(
                    e.contains("PLC stop outside the engineering station"),
                    "names the rule: {e}"
                );
            }
        }
        let twice = write(&d, "twice.yml", &format!("{STOP}\n---\n{STOP}"));
        let e = SigmaSet::load(&[twice]).unwrap_err();
        assert!(e.contains("the id is used twice"), "{e}");
        let e = SigmaSet::load(&[d.join("absent.yml")]).unwrap_err();
        assert!(e.contains("no such file"), "{e}");
    }
}
