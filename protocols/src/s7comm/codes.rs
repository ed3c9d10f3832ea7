//! S7comm and S7comm-plus code tables. Unknown values keep their raw code.
//! References: Wireshark's S7comm dissector documentation and the public S7 protocol
//! descriptions (Siemens does not publish S7comm); ISO 8073 (COTP); RFC 1006 (TPKT).

use crate::Operation;

/// ROSCTR names.
pub fn rosctr_name(r: u8) -> Option<&'static str> {
    Some(match r {
        1 => "job",
        2 => "ack",
        3 => "ack_data",
        7 => "userdata",
        _ => return None,
    })
}

/// Job / ack_data parameter function names.
pub fn function_name(f: u8) -> Option<&'static str> {
    Some(match f {
        0x00 => "cpu_services",
        0xf0 => "setup_communication",
        0x04 => "read_var",
        0x05 => "write_var",
        0x1a => "request_download",
        0x1b => "download_block",
        0x1c => "download_ended",
        0x1d => "start_upload",
        0x1e => "upload",
        0x1f => "end_upload",
        0x28 => "pi_service",
        0x29 => "plc_stop",
        _ => return None,
    })
}

/// The operation of a job function (PI services refined by name, see [`pi_operation`]).
pub fn function_operation(f: u8) -> Operation {
    match f {
        0xf0 => Operation::Session,
        0x04 => Operation::Read,
        0x05 => Operation::Write,
        0x1a..=0x1c => Operation::ProgramDownload,
        0x1d..=0x1f => Operation::ProgramUpload,
        0x28 | 0x29 => Operation::Control,
        _ => Operation::Other,
    }
}

/// The operation of a PI service by its name: block insertion and deletion change the
/// program; starting, compressing and copying RAM to ROM are control of the CPU.
pub fn pi_operation(service: &[u8]) -> Operation {
    match service {
        b"_INSE" | b"_DELE" => Operation::ProgramDownload,
        b"P_PROGRAM" | b"_MODU" | b"_GARB" => Operation::Control,
        _ => Operation::Control,
    }
}

/// Memory area names.
pub fn area_name(a: u8) -> Option<&'static str> {
    Some(match a {
        0x03 => "system_info_200",
        0x05 => "system_flags_200",
        0x06 => "analog_inputs_200",
        0x07 => "analog_outputs_200",
        0x1c => "counters",
        0x1d => "timers",
        0x1e => "iec_counters_200",
        0x1f => "iec_timers_200",
        0x80 => "peripheral",
        0x81 => "inputs",
        0x82 => "outputs",
        0x83 => "flags",
        0x84 => "data_blocks",
        0x85 => "instance_data_blocks",
        0x86 => "local_data",
        0x87 => "previous_local_data",
        _ => return None,
    })
}

/// Short area names for address ranges: I, Q, M, DBn, DIn, L, V, C, T, P.
pub fn area_short(area: u8, db: u16) -> String {
    match area {
        0x81 => "I".into(),
        0x82 => "Q".into(),
        0x83 => "M".into(),
        0x84 => format!("DB{db}"),
        0x85 => format!("DI{db}"),
        0x86 => "L".into(),
        0x87 => "V".into(),
        0x1c => "C".into(),
        0x1d => "T".into(),
        0x80 => "P".into(),
        other => format!("area_{other:#04x}"),
    }
}

/// Parameter transport size names (read/write items).
pub fn transport_size_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0x01 => "bit",
        0x02 => "byte",
        0x03 => "char",
        0x04 => "word",
        0x05 => "int",
        0x06 => "dword",
        0x07 => "dint",
        0x08 => "real",
        0x09 => "date",
        0x0a => "tod",
        0x0b => "time",
        0x0c => "s5time",
        0x0f => "date_and_time",
        0x1c => "counter",
        0x1d => "timer",
        0x1e => "iec_timer",
        0x1f => "iec_counter",
        0x20 => "hs_counter",
        _ => return None,
    })
}

/// Bytes per element of a parameter transport size.
pub fn transport_size_bytes(t: u8) -> u32 {
    match t {
        0x04 | 0x05 | 0x1c | 0x1d => 2,
        0x06..=0x08 | 0x0a | 0x0b => 4,
        0x0f => 8,
        _ => 1,
    }
}

/// Data item return code names.
pub fn return_code_name(c: u8) -> Option<&'static str> {
    Some(match c {
        0x00 => "reserved",
        0x01 => "hardware_fault",
        0x03 => "access_not_allowed",
        0x05 => "address_out_of_range",
        0x06 => "data_type_not_supported",
        0x07 => "data_type_inconsistent",
        0x0a => "object_does_not_exist",
        0xff => "success",
        _ => return None,
    })
}

/// Header error class names (ack, ack_data).
pub fn error_class_name(c: u8) -> Option<&'static str> {
    Some(match c {
        0x00 => "no_error",
        0x81 => "application_relationship",
        0x82 => "object_definition",
        0x83 => "no_resources",
        0x84 => "service_processing",
        0x85 => "supplies",
        0x87 => "access",
        _ => return None,
    })
}

/// Userdata function group names.
pub fn userdata_group_name(g: u8) -> Option<&'static str> {
    Some(match g {
        0x0 => "mode_transition",
        0x1 => "programmer_commands",
        0x2 => "cyclic_data",
        0x3 => "block_functions",
        0x4 => "cpu_functions",
        0x5 => "security",
        0x6 => "pbc",
        0x7 => "time_functions",
        0xf => "nc_programming",
        _ => return None,
    })
}

/// Userdata subfunction names for a group.
pub fn userdata_subfunction_name(group: u8, sub: u8) -> Option<&'static str> {
    Some(match (group, sub) {
        (0x1, 0x01) => "request_diag_data",
        (0x1, 0x02) => "vartab",
        (0x1, 0x0c) => "read_diag_data",
        (0x1, 0x0e) => "remove_diag_data",
        (0x1, 0x0f) => "erase",
        (0x1, 0x10) => "forces",
        (0x1, 0x13) => "request_diag_data_2",
        (0x2, 0x01) => "memory",
        (0x2, 0x04) => "unsubscribe",
        (0x2, 0x05) => "memory_2",
        (0x3, 0x01) => "list_blocks",
        (0x3, 0x02) => "list_blocks_of_type",
        (0x3, 0x03) => "get_block_info",
        (0x4, 0x01) => "read_szl",
        (0x4, 0x02) => "message_service",
        (0x4, 0x03) => "diagnostic_message",
        (0x4, 0x05) => "alarm_8_indication",
        (0x4, 0x06) => "notify_indication",
        (0x4, 0x07) => "alarm_8_lock",
        (0x4, 0x08) => "alarm_8_unlock",
        (0x4, 0x09) => "scan_indication",
        (0x4, 0x0b) => "alarm_ack",
        (0x4, 0x0c) => "alarm_ack_indication",
        (0x4, 0x0d) => "alarm_8_lock_indication",
        (0x4, 0x0e) => "alarm_8_unlock_indication",
        (0x4, 0x11) => "alarm_sq_indication",
        (0x4, 0x12) => "alarm_s_indication",
        (0x4, 0x13) => "alarm_query",
        (0x4, 0x16) => "notify_8_indication",
        (0x5, 0x01) => "plc_password",
        (0x5, 0x02) => "clean_session",
        (0x7, 0x01) => "read_clock",
        (0x7, 0x02) => "set_clock",
        (0x7, 0x03) => "read_clock_following",
        (0x7, 0x04) => "set_clock_2",
        _ => return None,
    })
}

/// The operation of a userdata function.
pub fn userdata_operation(group: u8, sub: u8) -> Operation {
    match (group, sub) {
        (0x0, _) => Operation::Control,
        (0x1, _) => Operation::Diagnostics,
        (0x2, _) => Operation::Read,
        (0x3, _) => Operation::Identify,
        (0x4, 0x01) => Operation::Identify,
        (0x4, _) => Operation::Read,
        (0x5, _) => Operation::Authentication,
        (0x7, 0x02 | 0x04) => Operation::TimeSync,
        (0x7, _) => Operation::Read,
        _ => Operation::Other,
    }
}

/// CPU modes reported in mode-transition userdata (group 0 subfunction).
pub fn cpu_mode_name(m: u8) -> Option<&'static str> {
    Some(match m {
        0x00 => "stop",
        0x01 => "warm_restart",
        0x02 => "run",
        0x03 => "hot_restart",
        0x04 => "hold",
        0x06 => "cold_restart",
        0x09 => "run_r",
        0x0b => "link_up",
        0x0c => "update",
        _ => return None,
    })
}

/// Block type names from the two characters in upload/download file names.
pub fn block_type_name(t: &[u8]) -> Option<&'static str> {
    Some(match t {
        b"08" => "OB",
        b"0A" => "DB",
        b"0B" => "SDB",
        b"0C" => "FC",
        b"0D" => "SFC",
        b"0E" => "FB",
        b"0F" => "SFB",
        _ => return None,
    })
}

/// SZL-ID names (the ones that matter for identification and state).
pub fn szl_name(id: u16) -> Option<&'static str> {
    Some(match id & 0x0fff {
        0x0000 => "list_of_szl_ids",
        0x0011 => "module_identification",
        0x0012 => "cpu_characteristics",
        0x0013 => "user_memory_areas",
        0x0014 => "system_areas",
        0x0015 => "block_types",
        0x0019 => "status_of_module_leds",
        0x001c => "component_identification",
        0x0022 => "interrupt_status",
        0x0025 => "process_image_partitions",
        0x0032 => "communication_status_data",
        0x0074 => "status_of_module_leds_2",
        0x0091 => "module_status",
        0x0092 => "rack_station_status",
        0x0094 => "rack_station_status_2",
        0x0096 => "module_status_pn",
        0x00a0 => "diagnostic_buffer",
        0x00b1 => "module_diagnostic_data",
        0x0111 => "module_identification_record",
        0x0131 => "communication_capability_parameters",
        0x0132 => "communication_status",
        0x0424 => "cpu_mode",
        _ => return None,
    })
}

/// S7comm-plus opcode names.
pub fn plus_opcode_name(op: u8) -> Option<&'static str> {
    Some(match op {
        0x31 => "request",
        0x32 => "response",
        0x33 => "notification",
        0x02 => "response_2",
        _ => return None,
    })
}

/// S7comm-plus function names.
pub fn plus_function_name(f: u16) -> Option<&'static str> {
    Some(match f {
        0x04bb => "explore",
        0x04ca => "create_object",
        0x04d4 => "delete_object",
        0x04f2 => "set_variable",
        0x04fc => "get_variable",
        0x0524 => "add_link",
        0x0542 => "set_multi_variables",
        0x054c => "get_multi_variables",
        0x0556 => "begin_sequence",
        0x0560 => "end_sequence",
        0x056b => "invoke",
        0x0586 => "get_var_substreamed",
        _ => return None,
    })
}

/// The operation of an S7comm-plus function.
pub fn plus_operation(f: u16) -> Operation {
    match f {
        0x04fc | 0x054c | 0x0586 => Operation::Read,
        0x04f2 | 0x0542 => Operation::Write,
        0x04ca | 0x04d4 => Operation::Session,
        0x04bb => Operation::Identify,
        0x056b => Operation::Control,
        _ => Operation::Other,
    }
}

/// COTP PDU type names (high nibble of the type octet).
pub fn cotp_type_name(t: u8) -> &'static str {
    match t & 0xf0 {
        0xe0 => "connection_request",
        0xd0 => "connection_confirm",
        0xf0 => "data",
        0x80 => "disconnect_request",
        0xc0 => "disconnect_confirm",
        0x50 => "reject",
        0x70 => "error",
        0x10 => "expedited_data",
        0x20 => "expedited_data_ack",
        0x60 => "data_ack",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        assert_eq!(function_name(0x29), Some("plc_stop"));
        assert_eq!(function_operation(0x1b), Operation::ProgramDownload);
        assert_eq!(pi_operation(b"_INSE"), Operation::ProgramDownload);
        assert_eq!(area_short(0x84, 12), "DB12");
        assert_eq!(userdata_operation(0x5, 0x01), Operation::Authentication);
        assert_eq!(userdata_operation(0x4, 0x01), Operation::Identify);
        assert_eq!(szl_name(0x0011), Some("module_identification"));
        assert_eq!(block_type_name(b"0B"), Some("SDB"));
        assert_eq!(plus_operation(0x054c), Operation::Read);
    }
}
