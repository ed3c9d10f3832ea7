//! MMS records as messages and `--events` lines (MMS rides in the S7comm parser's
//! connections: see [`crate::s7comm::adapter`]).

use serde::Serialize;

use crate::flow::{message, Reporter};
use crate::message::{Identity, Message, RequestRef};
use crate::s7comm::state::MmsRecord;
use crate::time::Timestamp;
use crate::Direction;

use super::{codes, Kind};

/// The normalized message of one MMS connection's SPDU.
pub fn message_of(ctx: &dyn Reporter, flow_dir: Direction, rec: &MmsRecord) -> Message {
    let mut m = message("mms", ctx, flow_dir, rec.operation);
    m.direction = rec.direction;
    let Some(p) = &rec.pdu else {
        m.function = rec.acse.map(Into::into);
        if rec.malformed {
            m.flags.push("malformed");
        }
        return m;
    };
    match (p.kind, p.service) {
        (Kind::ConfirmedRequest | Kind::ConfirmedResponse, Some(n)) => {
            m.function_code = u16::try_from(n).ok();
            m.function = Some(
                codes::service_name(n)
                    .map(Into::into)
                    .unwrap_or_else(|| format!("unknown_{n}").into()),
            );
        }
        (Kind::Unconfirmed, Some(n)) => {
            m.function = Some(
                codes::unconfirmed_name(n)
                    .map(Into::into)
                    .unwrap_or_else(|| format!("unconfirmed_{n}").into()),
            );
        }
        (k, _) => m.function = Some(k.name().into()),
    }
    // A write to a control object: the control service (`Oper`, `SBOw`, `Cancel`) of the
    // first such object.
    if let (Kind::ConfirmedRequest, Some(5)) = (p.kind, p.service) {
        m.sub_function_name = p.control_service().map(|s| s.to_string().into());
    }
    if let (Kind::ConfirmedError | Kind::ConfirmedResponse, Some(r)) = (p.kind, &rec.request) {
        if p.kind == Kind::ConfirmedError {
            m.function_code = u16::try_from(r.service).ok();
            m.function = codes::service_name(r.service).map(Into::into);
        }
        m.request = Some(RequestRef {
            ts: Timestamp::from_nanos(r.ts_ns),
            latency_us: ctx.ts().as_nanos().saturating_sub(r.ts_ns) / 1000,
        });
    }
    match p.kind {
        Kind::ConfirmedError => m.exception = Some("service_error"),
        Kind::Reject => m.exception = Some("reject"),
        Kind::InitiateError | Kind::ConcludeError | Kind::CancelError => {
            m.exception = Some("error");
        }
        _ => {}
    }
    if let Some(i) = &p.identify {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        m.identity = Some(Identity {
            vendor: some(&i.vendor),
            model: some(&i.model),
            firmware: some(&i.revision),
            ..Identity::default()
        });
    }
    m
}

/// One `--events` line for an MMS connection's SPDU.
#[derive(Serialize)]
pub struct MmsEvent<'a> {
    #[serde(skip)]
    msg: &'a Message,
    /// The session SPDU.
    session: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    acse: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    mms_context: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pdu_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoke_id: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    objects: &'a [String],
    #[serde(skip_serializing_if = "<[super::data::Value]>::is_empty")]
    values: &'a [super::data::Value],
}

impl<'a> MmsEvent<'a> {
    /// The event of `rec`, whose message is `msg`.
    pub fn new(msg: &'a Message, rec: &'a MmsRecord) -> MmsEvent<'a> {
        let p = rec.pdu.as_ref();
        MmsEvent {
            msg,
            session: rec.spdu,
            acse: rec.acse,
            mms_context: rec.mms_context,
            pdu_type: p.map(|p| p.kind.name()),
            invoke_id: p.and_then(|p| p.invoke_id),
            objects: p.map_or(&[], |p| p.objects.as_slice()),
            values: p.map_or(&[], |p| p.values.as_slice()),
        }
    }
}

impl crate::flow::Event for MmsEvent<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}
