//! OPC UA as the rest of the sensor knows it: TCP 4840, clients and servers, and what the
//! PIPEDREAM tool set and careless integrations leave behind: channels without security,
//! anonymous sessions, and changes to a server's address space (node management).

use crate::descriptor::{Dangerous, Descriptor, FlagKind, Parser, Request, Roles};
use crate::flow::Driver;
use crate::rule::attack::*;
use crate::rule::{Engine, Rule};

/// OPC UA.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "opcua",
    summary: "OPC UA binary (OPC 10000-6): hello/ack, secure channels and security policy, session services, read/write/call/browse with node ids",
    tcp_ports: &[super::PORT],
    udp_ports: &[],
    parser: Some(Parser {
        probe: super::adapter::probe,
        new_handler: Driver::<super::adapter::Opcua>::boxed,
    }),
    roles: Roles {
        client: "opcua_client",
        server: "opcua_server",
    },
    rules: &[
        &OPCUA_SECURITY_NONE,
        &OPCUA_ANONYMOUS,
        &OPCUA_NODE_MANAGEMENT,
    ],
    dangerous,
    flags: FLAGS,
};

/// OPC UA's flags: security settings the operational rules judge.
pub static FLAGS: &[(&str, FlagKind)] = &[
    ("security_none", FlagKind::Informational),
    ("encrypted", FlagKind::Informational),
];

/// A secure channel opened with security mode None.
pub static OPCUA_SECURITY_NONE: Rule = Rule {
    id: "operational.opcua_security_none",
    title: "OPC UA channel without security",
    engine: Engine::Operational,
    severity: 5,
    techniques: &[ADVERSARY_IN_THE_MIDDLE, STD_APP_PROTOCOL],
    rationale: "Security mode None leaves the session's requests, answers and credentials readable and changeable on the wire. Learned per client and server: one that always ran so stays quiet, a server that normally requires more raises it.",
};

/// A session activated with an anonymous identity token.
pub static OPCUA_ANONYMOUS: Rule = Rule {
    id: "operational.opcua_anonymous_session",
    title: "Anonymous OPC UA session",
    engine: Engine::Operational,
    severity: 5,
    techniques: &[VALID_ACCOUNTS, REMOTE_SERVICES],
    rationale: "A server that accepts anonymous sessions lets any host read and, depending on its access rights, write and call methods. Learned per client and server.",
};

/// Node management: nodes or references added or deleted.
pub static OPCUA_NODE_MANAGEMENT: Rule = Rule {
    id: "operational.opcua_node_management",
    title: "OPC UA address space changed (node management)",
    engine: Engine::Operational,
    severity: 7,
    techniques: &[MODIFY_PARAMETER, MODIFY_PROGRAM],
    rationale: "AddNodes, DeleteNodes, AddReferences and DeleteReferences change what a server exposes and how clients find it: engineering work, or tampering with the model operators rely on.",
};

fn dangerous(r: &Request<'_>) -> Option<Dangerous> {
    match (r.function_code, r.sub_function_name) {
        (446, Some("None")) => Some(Dangerous::new(
            &OPCUA_SECURITY_NONE,
            "OPC UA OpenSecureChannel with security mode None",
        )),
        (467, Some("anonymous")) => Some(Dangerous::new(
            &OPCUA_ANONYMOUS,
            "OPC UA ActivateSession with an anonymous identity token",
        )),
        (488, _) => Some(Dangerous::new(&OPCUA_NODE_MANAGEMENT, "OPC UA AddNodes")),
        (494, _) => Some(Dangerous::new(
            &OPCUA_NODE_MANAGEMENT,
            "OPC UA AddReferences",
        )),
        (500, _) => Some(Dangerous::new(&OPCUA_NODE_MANAGEMENT, "OPC UA DeleteNodes")),
        (506, _) => Some(Dangerous::new(
            &OPCUA_NODE_MANAGEMENT,
            "OPC UA DeleteReferences",
        )),
        _ => None,
    }
}
