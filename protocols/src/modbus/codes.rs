//! Modbus code tables: function codes, exception codes, diagnostic sub-functions, MEI
//! types, device identification objects and Schneider UMAS sub-functions.
//!
//! Every table keeps the raw value; unknown values are reported, never dropped.
//! References: MODBUS Application Protocol Specification V1.1b3 (modbus.org, 2012),
//! sections 5 (function code categories), 6 (function descriptions) and 7 (exceptions).

use crate::Operation;

/// Where a function code sits in the code space (spec section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    /// A public function defined by the specification.
    Public,
    /// 65–72 and 100–110: left to vendors, no public meaning.
    UserDefined,
    /// Reserved by the specification for legacy products (9, 10, 13, 14, 41, 42, 90, 91,
    /// 125, 126, 127); 90 is Schneider's UMAS.
    Reserved,
    /// Anything else (0 and unassigned codes).
    Unassigned,
}

/// A Modbus function code (without the exception bit), with its known meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionCode {
    /// The code as on the wire, without bit 0x80.
    pub raw: u8,
}

impl FunctionCode {
    /// Read Coils.
    pub const READ_COILS: u8 = 1;
    /// Read Discrete Inputs.
    pub const READ_DISCRETE_INPUTS: u8 = 2;
    /// Read Holding Registers.
    pub const READ_HOLDING_REGISTERS: u8 = 3;
    /// Read Input Registers.
    pub const READ_INPUT_REGISTERS: u8 = 4;
    /// Write Single Coil.
    pub const WRITE_SINGLE_COIL: u8 = 5;
    /// Write Single Register.
    pub const WRITE_SINGLE_REGISTER: u8 = 6;
    /// Read Exception Status (serial line only).
    pub const READ_EXCEPTION_STATUS: u8 = 7;
    /// Diagnostics (serial line only).
    pub const DIAGNOSTICS: u8 = 8;
    /// Get Comm Event Counter (serial line only).
    pub const GET_COMM_EVENT_COUNTER: u8 = 11;
    /// Get Comm Event Log (serial line only).
    pub const GET_COMM_EVENT_LOG: u8 = 12;
    /// Write Multiple Coils.
    pub const WRITE_MULTIPLE_COILS: u8 = 15;
    /// Write Multiple Registers.
    pub const WRITE_MULTIPLE_REGISTERS: u8 = 16;
    /// Report Server ID (serial line only).
    pub const REPORT_SERVER_ID: u8 = 17;
    /// Read File Record.
    pub const READ_FILE_RECORD: u8 = 20;
    /// Write File Record.
    pub const WRITE_FILE_RECORD: u8 = 21;
    /// Mask Write Register.
    pub const MASK_WRITE_REGISTER: u8 = 22;
    /// Read/Write Multiple Registers.
    pub const READ_WRITE_MULTIPLE_REGISTERS: u8 = 23;
    /// Read FIFO Queue.
    pub const READ_FIFO_QUEUE: u8 = 24;
    /// Encapsulated Interface Transport (MEI): 13 CANopen, 14 Read Device Identification.
    pub const ENCAPSULATED_INTERFACE: u8 = 43;
    /// Schneider Electric UMAS (Unity Application Services), in the reserved code 90.
    pub const UMAS: u8 = 90;

    /// The code's class in the code space.
    pub fn class(self) -> CodeClass {
        match self.raw {
            1..=8 | 11 | 12 | 15..=17 | 20..=24 | 43 => CodeClass::Public,
            65..=72 | 100..=110 => CodeClass::UserDefined,
            9 | 10 | 13 | 14 | 41 | 42 | 90 | 91 | 125..=127 => CodeClass::Reserved,
            _ => CodeClass::Unassigned,
        }
    }

    /// snake_case name, `user_defined_N`, `reserved_N` or `unassigned_N` otherwise.
    pub fn name(self) -> &'static str {
        match self.raw {
            1 => "read_coils",
            2 => "read_discrete_inputs",
            3 => "read_holding_registers",
            4 => "read_input_registers",
            5 => "write_single_coil",
            6 => "write_single_register",
            7 => "read_exception_status",
            8 => "diagnostics",
            11 => "get_comm_event_counter",
            12 => "get_comm_event_log",
            15 => "write_multiple_coils",
            16 => "write_multiple_registers",
            17 => "report_server_id",
            20 => "read_file_record",
            21 => "write_file_record",
            22 => "mask_write_register",
            23 => "read_write_multiple_registers",
            24 => "read_fifo_queue",
            43 => "encapsulated_interface_transport",
            90 => "umas",
            _ => match self.class() {
                CodeClass::UserDefined => "user_defined",
                CodeClass::Reserved => "reserved",
                _ => "unassigned",
            },
        }
    }

    /// What the function does, for baselines and policy. Sub-function-dependent codes (8, 43,
    /// 90) are refined by the parser; this is their default.
    pub fn operation(self) -> Operation {
        match self.raw {
            1..=4 | 20 | 24 => Operation::Read,
            5 | 6 | 15 | 16 | 21..=23 => Operation::Write,
            7 | 8 | 11 | 12 => Operation::Diagnostics,
            17 | 43 => Operation::Identify,
            _ => Operation::Other,
        }
    }

    /// The data table a function reads or writes, if it has one.
    pub fn table(self) -> Option<Table> {
        match self.raw {
            1 | 5 | 15 => Some(Table::Coils),
            2 => Some(Table::DiscreteInputs),
            4 => Some(Table::InputRegisters),
            3 | 6 | 16 | 22..=24 => Some(Table::HoldingRegisters),
            _ => None,
        }
    }
}

/// The four primary data tables of the Modbus data model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Single bits, read-write (0xxxx).
    Coils,
    /// Single bits, read-only (1xxxx).
    DiscreteInputs,
    /// 16-bit words, read-only (3xxxx).
    InputRegisters,
    /// 16-bit words, read-write (4xxxx).
    HoldingRegisters,
}

impl Table {
    /// snake_case name used in events and baselines.
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Coils => "coils",
            Table::DiscreteInputs => "discrete_inputs",
            Table::InputRegisters => "input_registers",
            Table::HoldingRegisters => "holding_registers",
        }
    }

    /// True for the bit tables.
    pub fn is_bits(self) -> bool {
        matches!(self, Table::Coils | Table::DiscreteInputs)
    }
}

/// Exception code names (spec section 7). `None` for codes the spec does not define.
pub fn exception_name(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "illegal_function",
        2 => "illegal_data_address",
        3 => "illegal_data_value",
        4 => "server_device_failure",
        5 => "acknowledge",
        6 => "server_device_busy",
        7 => "negative_acknowledge",
        8 => "memory_parity_error",
        10 => "gateway_path_unavailable",
        11 => "gateway_target_device_failed_to_respond",
        _ => return None,
    })
}

/// Diagnostics (function 8) sub-function names (spec 6.8.1).
pub fn diagnostic_name(sub: u16) -> Option<&'static str> {
    Some(match sub {
        0x00 => "return_query_data",
        0x01 => "restart_communications_option",
        0x02 => "return_diagnostic_register",
        0x03 => "change_ascii_input_delimiter",
        0x04 => "force_listen_only_mode",
        0x0A => "clear_counters_and_diagnostic_register",
        0x0B => "return_bus_message_count",
        0x0C => "return_bus_communication_error_count",
        0x0D => "return_bus_exception_error_count",
        0x0E => "return_server_message_count",
        0x0F => "return_server_no_response_count",
        0x10 => "return_server_nak_count",
        0x11 => "return_server_busy_count",
        0x12 => "return_bus_character_overrun_count",
        0x14 => "clear_overrun_counter_and_flag",
        _ => return None,
    })
}

/// The operation of a diagnostics sub-function: restarting communications and forcing
/// listen-only mode change the device's state; the rest are diagnostics.
pub fn diagnostic_operation(sub: u16) -> Operation {
    match sub {
        0x01 => Operation::Restart,
        0x04 => Operation::Control,
        _ => Operation::Diagnostics,
    }
}

/// MEI type 13: CANopen General Reference.
pub const MEI_CANOPEN: u8 = 13;
/// MEI type 14: Read Device Identification.
pub const MEI_READ_DEVICE_ID: u8 = 14;

/// Read Device Identification object names (spec 6.21, objects 0x00–0x06).
pub fn device_object_name(id: u8) -> Option<&'static str> {
    Some(match id {
        0x00 => "vendor_name",
        0x01 => "product_code",
        0x02 => "major_minor_revision",
        0x03 => "vendor_url",
        0x04 => "product_name",
        0x05 => "model_name",
        0x06 => "user_application_name",
        _ => return None,
    })
}

/// Schneider UMAS sub-functions (function 90), as documented by public research on the
/// Modicon M340/M580 protocol. `None` for codes not publicly described.
pub fn umas_name(sub: u8) -> Option<&'static str> {
    Some(match sub {
        0x01 => "init_comm",
        0x02 => "read_id",
        0x03 => "read_project_info",
        0x04 => "read_plc_info",
        0x06 => "read_card_info",
        0x0A => "repeat",
        0x10 => "take_plc_reservation",
        0x11 => "release_plc_reservation",
        0x12 => "keep_alive",
        0x20 => "read_memory_block",
        0x22 => "read_variables",
        0x23 => "write_variables",
        0x24 => "read_coils_registers",
        0x25 => "write_coils_registers",
        0x30 => "initialize_download",
        0x31 => "download_block",
        0x32 => "end_download",
        0x33 => "initialize_upload",
        0x34 => "upload_block",
        0x35 => "end_upload",
        0x36 => "backup",
        0x37 => "restore",
        0x39 => "read_ethernet_master_data",
        0x40 => "start_plc",
        0x41 => "stop_plc",
        0x50 => "monitor_plc",
        0x58 => "check_plc",
        0x70 => "read_io_object",
        0x71 => "write_io_object",
        0x73 => "get_status_module",
        _ => return None,
    })
}

/// The operation of a UMAS sub-function. UMAS 0x30–0x32 move a program from the engineering
/// station into the PLC (a download, in the sense of this sensor), 0x33–0x35 the reverse.
pub fn umas_operation(sub: u8) -> Operation {
    match sub {
        0x01 | 0x10..=0x12 => Operation::Session,
        0x02..=0x06 => Operation::Identify,
        0x20 | 0x22 | 0x24 | 0x39 | 0x50 | 0x70 => Operation::Read,
        0x23 | 0x25 | 0x71 => Operation::Write,
        0x30..=0x32 | 0x37 => Operation::ProgramDownload,
        0x33..=0x36 => Operation::ProgramUpload,
        0x40 | 0x41 => Operation::Control,
        0x58 | 0x73 => Operation::Diagnostics,
        _ => Operation::Other,
    }
}

/// Spec limits on quantities (spec 6.1–6.17).
pub mod limits {
    /// Most coils or discrete inputs one read may ask for (0x7D0).
    pub const MAX_READ_BITS: u16 = 2000;
    /// Most registers one read may ask for (0x7D).
    pub const MAX_READ_REGISTERS: u16 = 125;
    /// Most coils one write may set (0x7B0).
    pub const MAX_WRITE_BITS: u16 = 1968;
    /// Most registers one write may set (0x7B).
    pub const MAX_WRITE_REGISTERS: u16 = 123;
    /// Most registers the write part of function 23 may set (0x79).
    pub const MAX_RW_WRITE_REGISTERS: u16 = 121;
    /// Most registers a FIFO queue may return.
    pub const MAX_FIFO_COUNT: u16 = 31;
    /// Smallest MBAP length field: unit id and function code.
    pub const MIN_MBAP_LENGTH: u16 = 2;
    /// Largest MBAP length field the specification allows: unit id and a 253-byte PDU.
    pub const MAX_MBAP_LENGTH: u16 = 254;
    /// Largest MBAP length field framed at all. Real devices exceed the specification
    /// (Schneider Modicon PLCs send UMAS ADUs with length 255); such ADUs are parsed and
    /// flagged `length_over_spec` rather than lost. Anything longer is not Modbus framing.
    pub const MAX_FRAMED_LENGTH: u16 = 260;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_space_classes() {
        let f = |raw| FunctionCode { raw };
        assert_eq!(f(3).class(), CodeClass::Public);
        assert_eq!(f(66).class(), CodeClass::UserDefined);
        assert_eq!(f(90).class(), CodeClass::Reserved);
        assert_eq!(f(0).class(), CodeClass::Unassigned);
        assert_eq!(f(99).name(), "unassigned");
        assert_eq!(f(101).name(), "user_defined");
        assert_eq!(f(16).operation(), Operation::Write);
        assert_eq!(f(16).table(), Some(Table::HoldingRegisters));
        assert_eq!(umas_operation(0x41), Operation::Control);
        assert_eq!(umas_operation(0x31), Operation::ProgramDownload);
        assert_eq!(diagnostic_operation(4), Operation::Control);
        assert_eq!(exception_name(9), None);
    }
}
