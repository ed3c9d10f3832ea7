//! DNP3 code tables: link-layer functions, application function codes, internal indications,
//! object group names. Unknown values keep their raw code.
//! Reference: IEEE 1815-2012 (DNP3), clauses 9 (link layer), 8 (transport), 4–5 and A (application
//! layer and object library).

use crate::Operation;

/// Link-layer function name, from the PRM bit and the 4-bit function code.
pub fn link_function_name(prm: bool, func: u8) -> &'static str {
    match (prm, func) {
        (true, 0) => "reset_link_states",
        (true, 1) => "reset_user_process",
        (true, 2) => "test_link_states",
        (true, 3) => "confirmed_user_data",
        (true, 4) => "unconfirmed_user_data",
        (true, 9) => "request_link_status",
        (false, 0) => "ack",
        (false, 1) => "nack",
        (false, 11) => "link_status",
        (false, 14) => "link_service_not_functioning",
        (false, 15) => "link_service_not_used",
        _ => "unknown",
    }
}

/// True for the link functions that carry transport segments.
pub fn link_has_user_data(prm: bool, func: u8) -> bool {
    prm && (func == 3 || func == 4)
}

/// Application function name (snake_case). `None` for codes IEEE 1815 does not define.
pub fn function_name(fc: u8) -> Option<&'static str> {
    Some(match fc {
        0 => "confirm",
        1 => "read",
        2 => "write",
        3 => "select",
        4 => "operate",
        5 => "direct_operate",
        6 => "direct_operate_nr",
        7 => "immediate_freeze",
        8 => "immediate_freeze_nr",
        9 => "freeze_clear",
        10 => "freeze_clear_nr",
        11 => "freeze_at_time",
        12 => "freeze_at_time_nr",
        13 => "cold_restart",
        14 => "warm_restart",
        15 => "initialize_data",
        16 => "initialize_application",
        17 => "start_application",
        18 => "stop_application",
        19 => "save_configuration",
        20 => "enable_unsolicited",
        21 => "disable_unsolicited",
        22 => "assign_class",
        23 => "delay_measure",
        24 => "record_current_time",
        25 => "open_file",
        26 => "close_file",
        27 => "delete_file",
        28 => "get_file_info",
        29 => "authenticate_file",
        30 => "abort_file",
        31 => "activate_config",
        32 => "authenticate_request",
        33 => "authenticate_request_no_ack",
        129 => "response",
        130 => "unsolicited_response",
        131 => "authenticate_response",
        _ => return None,
    })
}

/// True for function codes sent by an outstation (responses).
pub fn is_response(fc: u8) -> bool {
    fc >= 129
}

/// What an application function does. Responses inherit their request's operation through
/// pairing; this is their default.
pub fn function_operation(fc: u8) -> Operation {
    match fc {
        0 => Operation::Session,
        1 => Operation::Read,
        2 | 9 | 10 => Operation::Write,
        3..=6 => Operation::Control,
        7 | 8 | 11 | 12 => Operation::Other,
        13 | 14 => Operation::Restart,
        15..=18 => Operation::Control,
        19..=22 | 31 => Operation::Configuration,
        23 | 24 => Operation::TimeSync,
        25..=30 => Operation::FileTransfer,
        32 | 33 | 131 => Operation::Authentication,
        129 | 130 => Operation::Read,
        _ => Operation::Other,
    }
}

/// Names of the internal indication bits set in `iin` (IIN1 in the high byte as on the wire:
/// first octet IIN1, second IIN2).
pub fn iin_names(iin: u16) -> impl Iterator<Item = &'static str> {
    const NAMES: [&str; 16] = [
        // IIN1, bit 0..7
        "broadcast",
        "class_1_events",
        "class_2_events",
        "class_3_events",
        "need_time",
        "local_control",
        "device_trouble",
        "device_restart",
        // IIN2, bit 0..7
        "no_func_code_support",
        "object_unknown",
        "parameter_error",
        "event_buffer_overflow",
        "already_executing",
        "config_corrupt",
        "reserved_2",
        "reserved_1",
    ];
    let iin1 = (iin >> 8) as u8;
    let iin2 = iin as u8;
    (0..16).filter_map(move |i| {
        let set = if i < 8 {
            iin1 >> i & 1
        } else {
            iin2 >> (i - 8) & 1
        };
        (set == 1).then(|| NAMES.get(i).copied()).flatten()
    })
}

/// Object group names (IEEE 1815-2012 Annex A), for events.
pub fn group_name(group: u8) -> Option<&'static str> {
    Some(match group {
        0 => "device_attributes",
        1 => "binary_input",
        2 => "binary_input_event",
        3 => "double_bit_binary_input",
        4 => "double_bit_binary_input_event",
        10 => "binary_output",
        11 => "binary_output_event",
        12 => "binary_output_command",
        13 => "binary_output_command_event",
        20 => "counter",
        21 => "frozen_counter",
        22 => "counter_event",
        23 => "frozen_counter_event",
        30 => "analog_input",
        31 => "frozen_analog_input",
        32 => "analog_input_event",
        33 => "frozen_analog_input_event",
        34 => "analog_input_deadband",
        40 => "analog_output_status",
        41 => "analog_output",
        42 => "analog_output_event",
        43 => "analog_output_command_event",
        50 => "time_and_date",
        51 => "time_and_date_cto",
        52 => "time_delay",
        60 => "class_data",
        70 => "file_control",
        80 => "internal_indications",
        81 => "device_storage",
        82 => "device_profile",
        83 => "data_set_registration",
        85 => "data_set_prototype",
        86 => "data_set_descriptor",
        87 => "data_set",
        88 => "data_set_event",
        90 => "application_identifier",
        91 => "status_of_requested_operation",
        100 => "floating_point",
        101 => "bcd",
        102 => "unsigned_integer",
        110 => "octet_string",
        111 => "octet_string_event",
        112 => "virtual_terminal_output",
        113 => "virtual_terminal_event",
        120 => "authentication",
        121 => "security_statistic",
        122 => "security_statistic_event",
        _ => return None,
    })
}

/// CROB (g12v1) control code operation type names (low nibble).
pub fn crob_op_name(code: u8) -> &'static str {
    match code & 0x0f {
        0 => "nul",
        1 => "pulse_on",
        2 => "pulse_off",
        3 => "latch_on",
        4 => "latch_off",
        _ => "undefined",
    }
}

/// CROB trip-close code (bits 6–7).
pub fn crob_tcc_name(code: u8) -> &'static str {
    match code >> 6 {
        0 => "nul",
        1 => "close",
        2 => "trip",
        _ => "reserved",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        assert_eq!(function_name(13), Some("cold_restart"));
        assert_eq!(function_name(200), None);
        assert_eq!(function_operation(18), Operation::Control);
        assert_eq!(function_operation(21), Operation::Configuration);
        assert_eq!(link_function_name(false, 11), "link_status");
        assert!(link_has_user_data(true, 4) && !link_has_user_data(false, 4));
        assert_eq!(
            iin_names(0x9002).collect::<Vec<_>>(),
            vec!["need_time", "device_restart", "object_unknown"]
        );
        assert_eq!(crob_op_name(0x41), "pulse_on");
        assert_eq!(crob_tcc_name(0x81), "trip");
    }
}
