//! MMS service names (ISO 9506-2 ConfirmedServiceRequest choices, as Wireshark names them)
//! and the operation class of each.

use crate::Operation;

/// Confirmed services by choice number.
const SERVICES: [&str; 78] = [
    "status",
    "getNameList",
    "identify",
    "rename",
    "read",
    "write",
    "getVariableAccessAttributes",
    "defineNamedVariable",
    "defineScatteredAccess",
    "getScatteredAccessAttributes",
    "deleteVariableAccess",
    "defineNamedVariableList",
    "getNamedVariableListAttributes",
    "deleteNamedVariableList",
    "defineNamedType",
    "getNamedTypeAttributes",
    "deleteNamedType",
    "input",
    "output",
    "takeControl",
    "relinquishControl",
    "defineSemaphore",
    "deleteSemaphore",
    "reportSemaphoreStatus",
    "reportPoolSemaphoreStatus",
    "reportSemaphoreEntryStatus",
    "initiateDownloadSequence",
    "downloadSegment",
    "terminateDownloadSequence",
    "initiateUploadSequence",
    "uploadSegment",
    "terminateUploadSequence",
    "requestDomainDownload",
    "requestDomainUpload",
    "loadDomainContent",
    "storeDomainContent",
    "deleteDomain",
    "getDomainAttributes",
    "createProgramInvocation",
    "deleteProgramInvocation",
    "start",
    "stop",
    "resume",
    "reset",
    "kill",
    "getProgramInvocationAttributes",
    "obtainFile",
    "defineEventCondition",
    "deleteEventCondition",
    "getEventConditionAttributes",
    "reportEventConditionStatus",
    "alterEventConditionMonitoring",
    "triggerEvent",
    "defineEventAction",
    "deleteEventAction",
    "getEventActionAttributes",
    "reportEventActionStatus",
    "defineEventEnrollment",
    "deleteEventEnrollment",
    "alterEventEnrollment",
    "reportEventEnrollmentStatus",
    "getEventEnrollmentAttributes",
    "acknowledgeEventNotification",
    "getAlarmSummary",
    "getAlarmEnrollmentSummary",
    "readJournal",
    "writeJournal",
    "initializeJournal",
    "reportJournalStatus",
    "createJournal",
    "deleteJournal",
    "getCapabilityList",
    "fileOpen",
    "fileRead",
    "fileClose",
    "fileRename",
    "fileDelete",
    "fileDirectory",
];

/// The confirmed service `n`'s name.
pub fn service_name(n: u32) -> Option<&'static str> {
    SERVICES.get(n as usize).copied()
}

/// Unconfirmed services.
pub fn unconfirmed_name(n: u32) -> Option<&'static str> {
    match n {
        0 => Some("informationReport"),
        1 => Some("unsolicitedStatus"),
        2 => Some("eventNotification"),
        _ => None,
    }
}

/// What confirmed service `n` does; a write to a control object (`$CO$`, IEC 61850
/// select/operate/cancel) is control.
pub fn operation(n: u32, control_object: bool) -> Operation {
    match n {
        0 | 1 | 4 | 6 | 9 | 12 | 15 | 37 | 45 | 49 | 55 | 61 | 63 | 64 | 65 | 71 => Operation::Read,
        2 => Operation::Identify,
        5 if control_object => Operation::Control,
        3 | 5 | 7 | 8 | 10 | 11 | 13 | 14 | 16 | 66 | 67 | 69 | 70 => Operation::Write,
        17..=25 => Operation::Control,
        26 | 27 | 28 | 32 | 34 | 36 | 38 | 39 => Operation::ProgramDownload,
        29 | 30 | 31 | 33 | 35 => Operation::ProgramUpload,
        40 | 41 | 42 | 44 => Operation::Control,
        43 => Operation::Restart,
        46 | 72..=77 => Operation::FileTransfer,
        47 | 48 | 51 | 53 | 54 | 57 | 58 | 59 | 62 => Operation::Configuration,
        _ => Operation::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_classes() {
        assert_eq!(service_name(4), Some("read"));
        assert_eq!(service_name(41), Some("stop"));
        assert_eq!(service_name(77), Some("fileDirectory"));
        assert_eq!(service_name(78), None);
        assert_eq!(operation(5, false), Operation::Write);
        assert_eq!(operation(5, true), Operation::Control);
        assert_eq!(operation(26, false), Operation::ProgramDownload);
        assert_eq!(operation(72, false), Operation::FileTransfer);
        assert_eq!(operation(43, false), Operation::Restart);
    }
}
