//! BACnet service choices (ASHRAE 135 §21), object types and the properties the sensor names.

use crate::Operation;

/// A confirmed service's name.
pub fn confirmed_name(s: u8) -> Option<&'static str> {
    Some(match s {
        0 => "acknowledgeAlarm",
        1 => "confirmedCOVNotification",
        2 => "confirmedEventNotification",
        3 => "getAlarmSummary",
        4 => "getEnrollmentSummary",
        5 => "subscribeCOV",
        6 => "atomicReadFile",
        7 => "atomicWriteFile",
        8 => "addListElement",
        9 => "removeListElement",
        10 => "createObject",
        11 => "deleteObject",
        12 => "readProperty",
        13 => "readPropertyConditional",
        14 => "readPropertyMultiple",
        15 => "writeProperty",
        16 => "writePropertyMultiple",
        17 => "deviceCommunicationControl",
        18 => "confirmedPrivateTransfer",
        19 => "confirmedTextMessage",
        20 => "reinitializeDevice",
        21 => "vtOpen",
        22 => "vtClose",
        23 => "vtData",
        24 => "authenticate",
        25 => "requestKey",
        26 => "readRange",
        27 => "lifeSafetyOperation",
        28 => "subscribeCOVProperty",
        29 => "getEventInformation",
        30 => "subscribeCOVPropertyMultiple",
        31 => "confirmedCOVNotificationMultiple",
        32 => "confirmedAuditNotification",
        33 => "auditLogQuery",
        _ => return None,
    })
}

/// An unconfirmed service's name.
pub fn unconfirmed_name(s: u8) -> Option<&'static str> {
    Some(match s {
        0 => "i-Am",
        1 => "i-Have",
        2 => "unconfirmedCOVNotification",
        3 => "unconfirmedEventNotification",
        4 => "unconfirmedPrivateTransfer",
        5 => "unconfirmedTextMessage",
        6 => "timeSynchronization",
        7 => "who-Has",
        8 => "who-Is",
        9 => "utcTimeSynchronization",
        10 => "writeGroup",
        11 => "unconfirmedCOVNotificationMultiple",
        12 => "unconfirmedAuditNotification",
        13 => "who-Am-I",
        14 => "you-Are",
        _ => return None,
    })
}

/// What a confirmed service does.
pub fn confirmed_operation(s: u8) -> Operation {
    match s {
        3 | 4 | 5 | 6 | 12 | 13 | 14 | 26 | 28 | 29 | 30 | 33 => Operation::Read,
        8 | 9 | 15 | 16 => Operation::Write,
        10 | 11 => Operation::Configuration,
        7 => Operation::FileTransfer,
        17 | 27 | 0 => Operation::Control,
        20 => Operation::Restart,
        24 | 25 => Operation::Authentication,
        _ => Operation::Other,
    }
}

/// What an unconfirmed service does.
pub fn unconfirmed_operation(s: u8) -> Operation {
    match s {
        0 | 1 | 7 | 8 | 13 | 14 => Operation::Identify,
        6 | 9 => Operation::TimeSync,
        10 => Operation::Write,
        _ => Operation::Other,
    }
}

/// An object type's name (the standard ones; others by number).
pub fn object_type(t: u16) -> Option<&'static str> {
    Some(match t {
        0 => "analog_input",
        1 => "analog_output",
        2 => "analog_value",
        3 => "binary_input",
        4 => "binary_output",
        5 => "binary_value",
        6 => "calendar",
        7 => "command",
        8 => "device",
        9 => "event_enrollment",
        10 => "file",
        11 => "group",
        12 => "loop",
        13 => "multi_state_input",
        14 => "multi_state_output",
        15 => "notification_class",
        16 => "program",
        17 => "schedule",
        18 => "averaging",
        19 => "multi_state_value",
        20 => "trend_log",
        21 => "life_safety_point",
        22 => "life_safety_zone",
        23 => "accumulator",
        24 => "pulse_converter",
        25 => "event_log",
        27 => "trend_log_multiple",
        28 => "load_control",
        29 => "structured_view",
        30 => "access_door",
        _ => return None,
    })
}

/// The device object type.
pub const DEVICE: u16 = 8;

/// Properties read into the asset from a device object.
pub mod property {
    /// application-software-version.
    pub const APPLICATION_SOFTWARE_VERSION: u32 = 12;
    /// firmware-revision.
    pub const FIRMWARE_REVISION: u32 = 44;
    /// model-name.
    pub const MODEL_NAME: u32 = 70;
    /// object-name.
    pub const OBJECT_NAME: u32 = 77;
    /// out-of-service.
    pub const OUT_OF_SERVICE: u32 = 81;
    /// vendor-name.
    pub const VENDOR_NAME: u32 = 121;
}
