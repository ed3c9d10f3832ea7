//! Vocabulary shared by every protocol parser.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Whether a PDU travels from the connection's initiator (client, master, HMI) or back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the initiator of the flow to the responder.
    Request,
    /// From the responder back to the initiator.
    Response,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::Request => Direction::Response,
            Direction::Response => Direction::Request,
        }
    }

    /// 0 for requests, 1 for responses: the index of per-direction state.
    pub fn index(self) -> usize {
        match self {
            Direction::Request => 0,
            Direction::Response => 1,
        }
    }

    /// Lower-case name as used in events and alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

/// What a PDU does, independent of the protocol that carries it.
///
/// Baselines and policy work on this ("who may write to whom"); the protocol-specific
/// function code stays on the message for rules that need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Reads process values, registers, points or variables.
    Read,
    /// Writes process values, registers, points or variables.
    Write,
    /// Sends program logic or blocks to a controller.
    ProgramDownload,
    /// Reads program logic or blocks from a controller.
    ProgramUpload,
    /// Changes the controller's run state or operates outputs (run/stop/mode, select/operate).
    Control,
    /// Restarts a device or its communications.
    Restart,
    /// Diagnostic functions (counters, loopback, listen-only).
    Diagnostics,
    /// Reads device identity (vendor, model, firmware).
    Identify,
    /// Sets or measures device time.
    TimeSync,
    /// Transfers files to or from a device.
    FileTransfer,
    /// Changes device configuration.
    Configuration,
    /// Authenticates a peer (passwords, challenge/response).
    Authentication,
    /// Connection housekeeping (setup, keep-alives, link status, confirms).
    Session,
    /// Anything the protocol defines that fits none of the above.
    Other,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const ALL: [Operation; 14] = [
        Operation::Read,
        Operation::Write,
        Operation::ProgramDownload,
        Operation::ProgramUpload,
        Operation::Control,
        Operation::Restart,
        Operation::Diagnostics,
        Operation::Identify,
        Operation::TimeSync,
        Operation::FileTransfer,
        Operation::Configuration,
        Operation::Authentication,
        Operation::Session,
        Operation::Other,
    ];

    /// The snake_case name used in config, events, baselines and alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::ProgramDownload => "program_download",
            Operation::ProgramUpload => "program_upload",
            Operation::Control => "control",
            Operation::Restart => "restart",
            Operation::Diagnostics => "diagnostics",
            Operation::Identify => "identify",
            Operation::TimeSync => "time_sync",
            Operation::FileTransfer => "file_transfer",
            Operation::Configuration => "configuration",
            Operation::Authentication => "authentication",
            Operation::Session => "session",
            Operation::Other => "other",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name given is not one of [`Operation::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operation {0:?} (expected one of read, write, program_download, program_upload, control, restart, diagnostics, identify, time_sync, file_transfer, configuration, authentication, session, other)")]
pub struct UnknownOperation(pub String);

impl FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|op| op.as_str() == s)
            .ok_or_else(|| UnknownOperation(s.to_string()))
    }
}

/// Pushes onto a per-connection list that mostly holds one element (one request awaiting
/// its response): the first allocation holds one, not `Vec`'s four, which is most of a
/// connection's parser state when 100,000s of them are open; past one it grows as `Vec` does.
pub fn push_first_one<T>(v: &mut Vec<T>, x: T) {
    if v.capacity() == 0 {
        v.reserve_exact(1);
    }
    v.push(x);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_push_allocates_room_for_one() {
        let mut v: Vec<u64> = Vec::new();
        push_first_one(&mut v, 1);
        assert_eq!(v.capacity(), 1);
        push_first_one(&mut v, 2);
        push_first_one(&mut v, 3);
        assert_eq!(v, vec![1, 2, 3]);
        assert!(v.capacity() >= 3);
    }

    #[test]
    fn operation_names_round_trip() {
        for op in Operation::ALL {
            assert_eq!(op.as_str().parse::<Operation>(), Ok(op));
            let json = serde_json::to_string(&op).unwrap();
            assert_eq!(json, format!("\"{op}\""));
        }
        assert!("reboot".parse::<Operation>().is_err());
    }

    #[test]
    fn direction_reverse() {
        assert_eq!(Direction::Request.reverse(), Direction::Response);
        assert_eq!(Direction::Response.reverse().as_str(), "request");
    }
}
