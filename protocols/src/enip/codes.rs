//! EtherNet/IP and CIP code tables: encapsulation commands, common packet format items, CIP
//! services (common, Connection Manager, Logix tag services, Non-Volatile Storage, PCCC),
//! general status codes, object classes, device types and the vendors most seen in plants,
//! and the [`Operation`] of each service on each object.

use crate::Operation;

/// Encapsulation commands (ODVA Vol. 2, 2-3).
pub mod command {
    /// NOP.
    pub const NOP: u16 = 0x0000;
    /// ListServices.
    pub const LIST_SERVICES: u16 = 0x0004;
    /// ListIdentity.
    pub const LIST_IDENTITY: u16 = 0x0063;
    /// ListInterfaces.
    pub const LIST_INTERFACES: u16 = 0x0064;
    /// RegisterSession.
    pub const REGISTER_SESSION: u16 = 0x0065;
    /// UnRegisterSession.
    pub const UNREGISTER_SESSION: u16 = 0x0066;
    /// SendRRData (unconnected explicit messaging).
    pub const SEND_RR_DATA: u16 = 0x006F;
    /// SendUnitData (connected explicit messaging).
    pub const SEND_UNIT_DATA: u16 = 0x0070;
    /// IndicateStatus.
    pub const INDICATE_STATUS: u16 = 0x0072;
    /// Cancel.
    pub const CANCEL: u16 = 0x0073;
}

/// The command's name, for the commands the specification defines.
pub fn command_name(c: u16) -> Option<&'static str> {
    Some(match c {
        command::NOP => "nop",
        command::LIST_SERVICES => "list_services",
        command::LIST_IDENTITY => "list_identity",
        command::LIST_INTERFACES => "list_interfaces",
        command::REGISTER_SESSION => "register_session",
        command::UNREGISTER_SESSION => "unregister_session",
        command::SEND_RR_DATA => "send_rr_data",
        command::SEND_UNIT_DATA => "send_unit_data",
        command::INDICATE_STATUS => "indicate_status",
        command::CANCEL => "cancel",
        _ => return None,
    })
}

/// What an encapsulation command does by itself (the CIP it carries is judged on its own).
pub fn command_operation(c: u16) -> Operation {
    match c {
        command::LIST_IDENTITY | command::LIST_SERVICES | command::LIST_INTERFACES => {
            Operation::Identify
        }
        _ => Operation::Session,
    }
}

/// Encapsulation status codes.
pub fn status_name(s: u32) -> Option<&'static str> {
    Some(match s {
        0x0000 => "success",
        0x0001 => "invalid_command",
        0x0002 => "insufficient_memory",
        0x0003 => "incorrect_data",
        0x0064 => "invalid_session_handle",
        0x0065 => "invalid_length",
        0x0069 => "unsupported_protocol_revision",
        _ => return None,
    })
}

/// Common packet format item types.
pub mod item {
    /// Null address (unconnected messages).
    pub const NULL_ADDRESS: u16 = 0x0000;
    /// CIP identity (ListIdentity response).
    pub const IDENTITY: u16 = 0x000C;
    /// Connected address: a connection id.
    pub const CONNECTED_ADDRESS: u16 = 0x00A1;
    /// Connected data: sequence count and a CIP message (or I/O data).
    pub const CONNECTED_DATA: u16 = 0x00B1;
    /// Unconnected data: a CIP message.
    pub const UNCONNECTED_DATA: u16 = 0x00B2;
    /// ListServices response.
    pub const LIST_SERVICES: u16 = 0x0100;
    /// Socket address, originator to target.
    pub const SOCKADDR_O_T: u16 = 0x8000;
    /// Socket address, target to originator.
    pub const SOCKADDR_T_O: u16 = 0x8001;
    /// Sequenced address: connection id and sequence number (implicit I/O).
    pub const SEQUENCED_ADDRESS: u16 = 0x8002;
}

/// Common services (ODVA Vol. 1, Appendix A).
pub mod service {
    /// Get_Attributes_All.
    pub const GET_ATTRIBUTES_ALL: u8 = 0x01;
    /// Set_Attributes_All.
    pub const SET_ATTRIBUTES_ALL: u8 = 0x02;
    /// Get_Attribute_List.
    pub const GET_ATTRIBUTE_LIST: u8 = 0x03;
    /// Set_Attribute_List.
    pub const SET_ATTRIBUTE_LIST: u8 = 0x04;
    /// Reset.
    pub const RESET: u8 = 0x05;
    /// Start.
    pub const START: u8 = 0x06;
    /// Stop.
    pub const STOP: u8 = 0x07;
    /// Create.
    pub const CREATE: u8 = 0x08;
    /// Delete.
    pub const DELETE: u8 = 0x09;
    /// Multiple_Service_Packet.
    pub const MULTIPLE_SERVICE_PACKET: u8 = 0x0A;
    /// Apply_Attributes.
    pub const APPLY_ATTRIBUTES: u8 = 0x0D;
    /// Get_Attribute_Single.
    pub const GET_ATTRIBUTE_SINGLE: u8 = 0x0E;
    /// Set_Attribute_Single.
    pub const SET_ATTRIBUTE_SINGLE: u8 = 0x10;
    /// Connection Manager Forward_Close (class 6).
    pub const FORWARD_CLOSE: u8 = 0x4E;
    /// Connection Manager Unconnected_Send (class 6).
    pub const UNCONNECTED_SEND: u8 = 0x52;
    /// Connection Manager Forward_Open (class 6).
    pub const FORWARD_OPEN: u8 = 0x54;
    /// Connection Manager Large_Forward_Open (class 6).
    pub const LARGE_FORWARD_OPEN: u8 = 0x5B;
    /// Logix Read_Tag.
    pub const READ_TAG: u8 = 0x4C;
    /// Logix Write_Tag.
    pub const WRITE_TAG: u8 = 0x4D;
    /// Logix Read_Modify_Write_Tag.
    pub const READ_MODIFY_WRITE_TAG: u8 = 0x4E;
    /// Logix Read_Tag_Fragmented.
    pub const READ_TAG_FRAGMENTED: u8 = 0x52;
    /// Logix Write_Tag_Fragmented.
    pub const WRITE_TAG_FRAGMENTED: u8 = 0x53;
    /// Logix Get_Instance_Attribute_List.
    pub const GET_INSTANCE_ATTRIBUTE_LIST: u8 = 0x55;
    /// PCCC Execute_PCCC (class 0x67).
    pub const EXECUTE_PCCC: u8 = 0x4B;
}

/// Object classes with services of their own or a meaning for the rules.
pub mod class {
    /// Identity.
    pub const IDENTITY: u32 = 0x01;
    /// Message Router.
    pub const MESSAGE_ROUTER: u32 = 0x02;
    /// Assembly.
    pub const ASSEMBLY: u32 = 0x04;
    /// Connection Manager.
    pub const CONNECTION_MANAGER: u32 = 0x06;
    /// File.
    pub const FILE: u32 = 0x37;
    /// PCCC (legacy PLC-5/SLC commands).
    pub const PCCC: u32 = 0x67;
    /// Logix program.
    pub const LOGIX_PROGRAM: u32 = 0x68;
    /// Logix routine (its code).
    pub const LOGIX_ROUTINE: u32 = 0x6A;
    /// Logix symbol (tags).
    pub const LOGIX_SYMBOL: u32 = 0x6B;
    /// Logix template (user-defined types).
    pub const LOGIX_TEMPLATE: u32 = 0x6C;
    /// The Logix controller's change lock: RSLogix takes it (service 0x4B) before it changes a
    /// controller and releases it (0x4C) after. Not published by Rockwell: read from the
    /// public captures (`EIP-LockPLCAttempt`, `cip_unlock_cpu`, `EIP-RemoteModeChangeAttempt`).
    pub const LOGIX_LOCK: u32 = 0x74;
    /// Time Sync (wall clock).
    pub const WALL_CLOCK_TIME: u32 = 0x8B;
    /// Logix controller (run/program mode, keyswitch, lock).
    pub const LOGIX_CONTROLLER: u32 = 0x8E;
    /// Non-Volatile Storage (firmware update, as ControlFLASH does it).
    pub const NON_VOLATILE_STORAGE: u32 = 0xA1;
    /// Port.
    pub const PORT: u32 = 0xF4;
    /// TCP/IP Interface.
    pub const TCP_IP_INTERFACE: u32 = 0xF5;
    /// Ethernet Link.
    pub const ETHERNET_LINK: u32 = 0xF6;
}

/// The class's name, for the classes the rules and events name.
pub fn class_name(c: u32) -> Option<&'static str> {
    Some(match c {
        class::IDENTITY => "identity",
        class::MESSAGE_ROUTER => "message_router",
        class::ASSEMBLY => "assembly",
        0x05 => "connection",
        class::CONNECTION_MANAGER => "connection_manager",
        0x0F => "parameter",
        class::FILE => "file",
        0x48 => "qos",
        class::PCCC => "pccc",
        class::LOGIX_PROGRAM => "logix_program",
        class::LOGIX_ROUTINE => "logix_routine",
        class::LOGIX_SYMBOL => "logix_symbol",
        class::LOGIX_TEMPLATE => "logix_template",
        class::LOGIX_LOCK => "logix_lock",
        class::WALL_CLOCK_TIME => "wall_clock_time",
        class::LOGIX_CONTROLLER => "logix_controller",
        class::NON_VOLATILE_STORAGE => "non_volatile_storage",
        class::PORT => "port",
        class::TCP_IP_INTERFACE => "tcp_ip_interface",
        class::ETHERNET_LINK => "ethernet_link",
        _ => return None,
    })
}

/// The service's name on an object of `class` (`None` when the path names no class, e.g. a
/// symbolic tag: Logix tag services then).
pub fn service_name(sc: u8, class: Option<u32>) -> Option<&'static str> {
    use service::*;
    Some(match (sc, class) {
        (GET_ATTRIBUTES_ALL, _) => "get_attributes_all",
        (SET_ATTRIBUTES_ALL, _) => "set_attributes_all",
        (GET_ATTRIBUTE_LIST, _) => "get_attribute_list",
        (SET_ATTRIBUTE_LIST, _) => "set_attribute_list",
        (RESET, _) => "reset",
        (START, _) => "start",
        (STOP, _) => "stop",
        (CREATE, _) => "create",
        (DELETE, _) => "delete",
        (MULTIPLE_SERVICE_PACKET, _) => "multiple_service_packet",
        (APPLY_ATTRIBUTES, _) => "apply_attributes",
        (GET_ATTRIBUTE_SINGLE, _) => "get_attribute_single",
        (SET_ATTRIBUTE_SINGLE, _) => "set_attribute_single",
        (0x11, _) => "find_next_object_instance",
        (0x14, _) => "error_response",
        (0x15, _) => "restore",
        (0x16, _) => "save",
        (0x17, _) => "nop",
        (0x18, _) => "get_member",
        (0x19, _) => "set_member",
        (0x1A, _) => "insert_member",
        (0x1B, _) => "remove_member",
        (0x1C, _) => "group_sync",
        (FORWARD_CLOSE, Some(class::CONNECTION_MANAGER)) => "forward_close",
        (UNCONNECTED_SEND, Some(class::CONNECTION_MANAGER)) => "unconnected_send",
        (FORWARD_OPEN, Some(class::CONNECTION_MANAGER)) => "forward_open",
        (LARGE_FORWARD_OPEN, Some(class::CONNECTION_MANAGER)) => "large_forward_open",
        (0x56, Some(class::CONNECTION_MANAGER)) => "get_connection_data",
        (0x57, Some(class::CONNECTION_MANAGER)) => "search_connection_data",
        (0x5A, Some(class::CONNECTION_MANAGER)) => "get_connection_owner",
        (EXECUTE_PCCC, Some(class::PCCC)) => "execute_pccc",
        (0x4B, Some(class::NON_VOLATILE_STORAGE)) => "nvs_update",
        (0x4D, Some(class::NON_VOLATILE_STORAGE)) => "nvs_transfer",
        (0x51, Some(class::NON_VOLATILE_STORAGE)) => "nvs_finish",
        (0x4B, Some(class::FILE)) => "initiate_upload",
        (0x4C, Some(class::FILE)) => "initiate_download",
        (0x4D, Some(class::FILE)) => "initiate_partial_read",
        (0x4E, Some(class::FILE)) => "initiate_partial_write",
        (0x4F, Some(class::FILE)) => "upload_transfer",
        (0x50, Some(class::FILE)) => "download_transfer",
        (0x51, Some(class::FILE)) => "clear_file",
        (0x4F, Some(class::LOGIX_ROUTINE | class::LOGIX_PROGRAM)) => "logix_read_code",
        (0x50, Some(class::LOGIX_ROUTINE | class::LOGIX_PROGRAM)) => "logix_write_code",
        (0x4B, Some(class::LOGIX_LOCK)) => "lock_acquire",
        (0x4C, Some(class::LOGIX_LOCK)) => "lock_release",
        (READ_TAG, _) => "read_tag",
        (WRITE_TAG, _) => "write_tag",
        (READ_MODIFY_WRITE_TAG, _) => "read_modify_write_tag",
        (READ_TAG_FRAGMENTED, _) => "read_tag_fragmented",
        (WRITE_TAG_FRAGMENTED, _) => "write_tag_fragmented",
        (GET_INSTANCE_ATTRIBUTE_LIST, _) => "get_instance_attribute_list",
        _ => return None,
    })
}

/// What service `sc` does on an object of `class`.
pub fn operation(sc: u8, class: Option<u32>) -> Operation {
    use service::*;
    let config_object = matches!(
        class,
        Some(class::PORT | class::TCP_IP_INTERFACE | class::ETHERNET_LINK)
    );
    match (sc, class) {
        // Reset restarts the object it addresses: the device (identity object), the
        // controller or a module's function.
        (RESET, _) => Operation::Restart,
        (START | STOP, _) => Operation::Control,
        (0x4B | 0x4D | 0x51, Some(class::NON_VOLATILE_STORAGE)) => Operation::FileTransfer,
        (0x4B | 0x4D | 0x4F, Some(class::FILE)) => Operation::FileTransfer,
        (0x4C | 0x4E | 0x50 | 0x51, Some(class::FILE)) => Operation::FileTransfer,
        // Logix program upload and download: routine code read and written, program
        // objects (tags, routines, types) created and deleted.
        (0x4B | 0x4C, Some(class::LOGIX_LOCK)) => Operation::Configuration,
        (0x4F, Some(class::LOGIX_ROUTINE | class::LOGIX_PROGRAM)) => Operation::ProgramUpload,
        (0x50, Some(class::LOGIX_ROUTINE | class::LOGIX_PROGRAM)) => Operation::ProgramDownload,
        (
            CREATE | DELETE,
            Some(
                class::LOGIX_ROUTINE
                | class::LOGIX_PROGRAM
                | class::LOGIX_SYMBOL
                | class::LOGIX_TEMPLATE,
            ),
        ) => Operation::ProgramDownload,
        (
            SET_ATTRIBUTES_ALL | SET_ATTRIBUTE_LIST | SET_ATTRIBUTE_SINGLE,
            Some(class::WALL_CLOCK_TIME),
        ) => Operation::TimeSync,
        (SET_ATTRIBUTES_ALL | SET_ATTRIBUTE_LIST | SET_ATTRIBUTE_SINGLE | APPLY_ATTRIBUTES, _)
            if config_object =>
        {
            Operation::Configuration
        }
        (SET_ATTRIBUTES_ALL | SET_ATTRIBUTE_LIST | SET_ATTRIBUTE_SINGLE | APPLY_ATTRIBUTES, _) => {
            Operation::Write
        }
        (GET_ATTRIBUTES_ALL, Some(class::IDENTITY)) => Operation::Identify,
        (GET_ATTRIBUTES_ALL | GET_ATTRIBUTE_LIST | GET_ATTRIBUTE_SINGLE, _) => Operation::Read,
        (0x11 | 0x18, _) => Operation::Read,
        (0x19..=0x1B, _) => Operation::Write,
        (CREATE | DELETE | 0x15 | 0x16, _) => Operation::Configuration,
        (0x17, _) => Operation::Session,
        (
            FORWARD_CLOSE | UNCONNECTED_SEND | FORWARD_OPEN | LARGE_FORWARD_OPEN | 0x56 | 0x57
            | 0x5A,
            Some(class::CONNECTION_MANAGER),
        ) => Operation::Session,
        (MULTIPLE_SERVICE_PACKET, _) => Operation::Other,
        (EXECUTE_PCCC, Some(class::PCCC)) => Operation::Other,
        (READ_TAG | READ_TAG_FRAGMENTED | GET_INSTANCE_ATTRIBUTE_LIST, _) => Operation::Read,
        (WRITE_TAG | READ_MODIFY_WRITE_TAG | WRITE_TAG_FRAGMENTED, _) => Operation::Write,
        _ => Operation::Other,
    }
}

/// CIP general status names (ODVA Vol. 1, Appendix B).
pub fn general_status_name(s: u8) -> Option<&'static str> {
    Some(match s {
        0x00 => "success",
        0x01 => "connection_failure",
        0x02 => "resource_unavailable",
        0x03 => "invalid_parameter_value",
        0x04 => "path_segment_error",
        0x05 => "path_destination_unknown",
        0x06 => "partial_transfer",
        0x07 => "connection_lost",
        0x08 => "service_not_supported",
        0x09 => "invalid_attribute_value",
        0x0A => "attribute_list_error",
        0x0B => "already_in_requested_mode",
        0x0C => "object_state_conflict",
        0x0D => "object_already_exists",
        0x0E => "attribute_not_settable",
        0x0F => "privilege_violation",
        0x10 => "device_state_conflict",
        0x11 => "reply_data_too_large",
        0x12 => "fragmentation_of_a_primitive_value",
        0x13 => "not_enough_data",
        0x14 => "attribute_not_supported",
        0x15 => "too_much_data",
        0x16 => "object_does_not_exist",
        0x17 => "service_fragmentation_sequence_not_in_progress",
        0x18 => "no_stored_attribute_data",
        0x19 => "store_operation_failure",
        0x1A => "routing_failure_request_too_large",
        0x1B => "routing_failure_response_too_large",
        0x1C => "missing_attribute_list_entry_data",
        0x1D => "invalid_attribute_value_list",
        0x1E => "embedded_service_error",
        0x1F => "vendor_specific_error",
        0x20 => "invalid_parameter",
        0x21 => "write_once_value_already_written",
        0x22 => "invalid_reply_received",
        0x23 => "buffer_overflow",
        0x24 => "message_format_error",
        0x25 => "key_failure_in_path",
        0x26 => "path_size_invalid",
        0x27 => "unexpected_attribute_in_list",
        0x28 => "invalid_member_id",
        0x29 => "member_not_settable",
        0x2A => "group_2_only_server_general_failure",
        0x2B => "unknown_modbus_error",
        0x2C => "attribute_not_gettable",
        _ => return None,
    })
}

/// Device types (CIP device profiles).
pub fn device_type_name(t: u16) -> Option<&'static str> {
    Some(match t {
        0x00 => "Generic Device",
        0x02 => "AC Drive",
        0x03 => "Motor Overload",
        0x04 => "Limit Switch",
        0x05 => "Inductive Proximity Switch",
        0x06 => "Photoelectric Sensor",
        0x07 => "General Purpose Discrete I/O",
        0x09 => "Resolver",
        0x0C => "Communications Adapter",
        0x0E => "Programmable Logic Controller",
        0x10 => "Position Controller",
        0x13 => "DC Drive",
        0x15 => "Contactor",
        0x16 => "Motor Starter",
        0x17 => "Soft Start",
        0x18 => "Human-Machine Interface",
        0x1A => "Mass Flow Controller",
        0x1B => "Pneumatic Valve",
        0x1C => "Vacuum Pressure Gauge",
        0x2B => "Generic Device (keyable)",
        _ => return None,
    })
}

/// Vendor names the user supplied (`[enip] vendors`), set once at start.
static USER_VENDORS: std::sync::OnceLock<std::collections::HashMap<u16, String>> =
    std::sync::OnceLock::new();

/// Reads a vendor table: one `id,name` per line (decimal or `0x` hex id; a first line
/// `id,name`, blank lines and `#` comments skipped; a name may be double-quoted).
pub fn parse_vendors(text: &str) -> Result<std::collections::HashMap<u16, String>, String> {
    let mut out = std::collections::HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || (n == 0 && line.eq_ignore_ascii_case("id,name"))
        {
            continue;
        }
        let Some((id, name)) = line.split_once(',') else {
            return Err(format!("line {}: expected id,name", n + 1));
        };
        let id = id.trim();
        let id = match id.strip_prefix("0x").or_else(|| id.strip_prefix("0X")) {
            Some(h) => u16::from_str_radix(h, 16),
            None => id.parse(),
        }
        .map_err(|_| format!("line {}: {id:?} is not a vendor id (0 to 65535)", n + 1))?;
        let name = name.trim().trim_matches('"').trim();
        if name.is_empty() {
            return Err(format!("line {}: vendor {id} has no name", n + 1));
        }
        out.insert(id, name.to_string());
    }
    Ok(out)
}

/// Installs the user's vendor table (once per process; false if one was installed).
pub fn set_vendors(table: std::collections::HashMap<u16, String>) -> bool {
    USER_VENDORS.set(table).is_ok()
}

/// A vendor's name: from the user's table (`[enip] vendors`), else for the vendor ids
/// most seen on plant networks (a subset of ODVA's registry); other ids are numbers.
pub fn vendor_name(id: u16) -> Option<&'static str> {
    if let Some(n) = USER_VENDORS.get().and_then(|t| t.get(&id)) {
        return Some(n.as_str());
    }
    Some(match id {
        1 => "Rockwell Automation/Allen-Bradley",
        47 => "Omron Corporation",
        90 => "HMS Industrial Networks AB",
        _ => return None,
    })
}

#[cfg(test)]
mod vendor_tests {
    #[test]
    fn a_vendor_table_reads_and_refuses_clearly() {
        let t = super::parse_vendors("id,name\n# ODVA\n1,Rockwell\n0x2F, \"Omron\"\n\n").unwrap();
        assert_eq!((t[&1].as_str(), t[&47].as_str()), ("Rockwell", "Omron"));
        assert_eq!(
            super::parse_vendors("1 Rockwell"),
            Err("line 1: expected id,name".into())
        );
        assert!(super::parse_vendors("70000,x")
            .unwrap_err()
            .contains("not a vendor id"));
        assert!(super::parse_vendors("5,").unwrap_err().contains("no name"));
    }
}
