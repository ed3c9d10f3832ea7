//! The detection rule catalog: every rule the sensor can raise, with its engine, default
//! severity, ATT&CK for ICS techniques and rationale.

use crate::alert::{Engine, Rule, Technique};

macro_rules! t {
    ($id:literal, $name:literal) => {
        Technique {
            id: $id,
            name: $name,
        }
    };
}

const REMOTE_SERVICES: Technique = t!("T0886", "Remote Services");
const STD_APP_PROTOCOL: Technique = t!("T0869", "Standard Application Layer Protocol");
const UNAUTH_COMMAND: Technique = t!("T0855", "Unauthorized Command Message");
const MODIFY_PARAMETER: Technique = t!("T0836", "Modify Parameter");
const ROGUE_MASTER: Technique = t!("T0848", "Rogue Master");
const POINT_TAG_ID: Technique = t!("T0861", "Point & Tag Identification");
const DENIAL_OF_VIEW: Technique = t!("T0815", "Denial of View");
const DENIAL_OF_SERVICE: Technique = t!("T0814", "Denial of Service");
const BRUTE_FORCE_IO: Technique = t!("T0806", "Brute Force I/O");

/// Flow between zones with no conduit.
pub static NO_CONDUIT: Rule = Rule {
    id: "policy.no_conduit",
    title: "Traffic between zones without a conduit",
    engine: Engine::Policy,
    severity: 8,
    techniques: &[REMOTE_SERVICES],
    rationale: "IEC 62443 zones may only talk through conduits; this flow crosses a boundary no conduit opens.",
};

/// Protocol the conduit does not list.
pub static PROTOCOL_NOT_ALLOWED: Rule = Rule {
    id: "policy.protocol_not_allowed",
    title: "Protocol not allowed on the conduit",
    engine: Engine::Policy,
    severity: 7,
    techniques: &[STD_APP_PROTOCOL, REMOTE_SERVICES],
    rationale: "A conduit exists between the zones, but not for this protocol.",
};

/// Operation the conduit does not list (e.g. a write through a read-only conduit).
pub static OPERATION_NOT_ALLOWED: Rule = Rule {
    id: "policy.operation_not_allowed",
    title: "Operation not allowed on the conduit",
    engine: Engine::Policy,
    severity: 8,
    techniques: &[UNAUTH_COMMAND, MODIFY_PARAMETER],
    rationale: "The conduit allows the protocol but not this operation (e.g. a write through a read-only conduit).",
};

/// A host the baseline does not know.
pub static NEW_ASSET: Rule = Rule {
    id: "baseline.new_asset",
    title: "New asset on the network",
    engine: Engine::Policy,
    severity: 6,
    techniques: &[ROGUE_MASTER],
    rationale: "A device absent from the learned baseline is talking an industrial protocol.",
};

/// A communication path the baseline does not know.
pub static NEW_EDGE: Rule = Rule {
    id: "baseline.new_edge",
    title: "New communication path",
    engine: Engine::Policy,
    severity: 6,
    techniques: &[REMOTE_SERVICES],
    rationale: "Two known assets talk a protocol they never used with each other while the baseline was learned.",
};

/// An operation never seen on the edge.
pub static NEW_OPERATION: Rule = Rule {
    id: "baseline.new_operation",
    title: "New operation on a known path",
    engine: Engine::Policy,
    severity: 7,
    techniques: &[UNAUTH_COMMAND],
    rationale: "A known client does something to a known server it never did before (e.g. writes where it only read).",
};

/// A function code never seen on the edge.
pub static NEW_FUNCTION: Rule = Rule {
    id: "baseline.new_function",
    title: "New function code on a known path",
    engine: Engine::Policy,
    severity: 5,
    techniques: &[UNAUTH_COMMAND],
    rationale:
        "A function code outside what this pair of devices used while the baseline was learned.",
};

/// A unit id never seen on the edge.
pub static NEW_UNIT: Rule = Rule {
    id: "baseline.new_unit",
    title: "New unit id on a known path",
    engine: Engine::Policy,
    severity: 4,
    techniques: &[POINT_TAG_ID],
    rationale: "A slave, outstation or rack/slot not addressed while the baseline was learned.",
};

/// Addresses outside the learned ranges.
pub static ADDRESS_OUT_OF_RANGE: Rule = Rule {
    id: "baseline.address_out_of_range",
    title: "Address outside the learned ranges",
    engine: Engine::Policy,
    severity: 6,
    techniques: &[POINT_TAG_ID, MODIFY_PARAMETER],
    rationale: "Registers, points or memory outside the ranges this path used: probing, or a changed process.",
};

/// A poll interval far from the learned period.
pub static TIMING_DEVIATION: Rule = Rule {
    id: "baseline.timing_deviation",
    title: "Poll timing outside the learned period",
    engine: Engine::Policy,
    severity: 4,
    techniques: &[UNAUTH_COMMAND],
    rationale: "Industrial polling is periodic; an interval far outside the learned period and jitter suggests another master or a manual command.",
};

/// A periodic poll that stopped.
pub static POLL_STOPPED: Rule = Rule {
    id: "baseline.poll_stopped",
    title: "Periodic poll stopped",
    engine: Engine::Policy,
    severity: 5,
    techniques: &[DENIAL_OF_VIEW, DENIAL_OF_SERVICE],
    rationale: "A poll seen periodically while learning stopped for many periods: loss of view of the process.",
};

/// Request rate far above the learned peak.
pub static RATE_SPIKE: Rule = Rule {
    id: "baseline.rate_spike",
    title: "Request rate far above the learned peak",
    engine: Engine::Policy,
    severity: 5,
    techniques: &[DENIAL_OF_SERVICE, BRUTE_FORCE_IO],
    rationale: "Many more requests per minute on a connection than ever learned: flooding, or brute-forcing I/O.",
};

/// Every rule, for `otsensor rules` and config validation.
pub fn all() -> &'static [&'static Rule] {
    static ALL: [&Rule; 12] = [
        &NO_CONDUIT,
        &PROTOCOL_NOT_ALLOWED,
        &OPERATION_NOT_ALLOWED,
        &NEW_ASSET,
        &NEW_EDGE,
        &NEW_OPERATION,
        &NEW_FUNCTION,
        &NEW_UNIT,
        &ADDRESS_OUT_OF_RANGE,
        &TIMING_DEVIATION,
        &POLL_STOPPED,
        &RATE_SPIKE,
    ];
    &ALL
}

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    all().iter().copied().find(|r| r.id == id)
}
