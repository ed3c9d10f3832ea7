//! PCCC (the command set of PLC-5, SLC 500 and MicroLogix controllers, from DF1: Rockwell
//! publication 1770-6.5.16) carried by CIP's Execute PCCC service (0x4B on the PCCC object,
//! class 0x67): the requestor id, then the command (CMD), status (STS), transaction number
//! (TNS), for commands 0x06, 0x07 and 0x0F the function (FNC), and the function's data —
//! for the typed logical reads and writes the data-table address (file number, file type,
//! element, sub-element), for Change CPU Mode the mode.

use nom::number::complete::{le_u16, le_u32, u8 as byte};
use nom::IResult;

use crate::Operation;

/// The status octet that says an extended status octet follows.
const EXT_STS: u8 = 0xF0;

/// A data-table address of a typed logical read or write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    /// Bytes to read or write.
    pub bytes: u8,
    /// File number.
    pub file: u16,
    /// File type (0x89 integer, 0x8A float, 0x22 ladder logic, ...).
    pub file_type: u8,
    /// Element number.
    pub element: u16,
    /// Sub-element number (three-field addresses).
    pub sub_element: Option<u16>,
}

/// One PCCC command or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pccc {
    /// The requestor's CIP vendor id.
    pub vendor: u16,
    /// The requestor's serial number.
    pub serial: u32,
    /// Command code (with 0x40 set in a reply).
    pub command: u8,
    /// Status (0: success).
    pub status: u8,
    /// Extended status, when the status is 0xF0.
    pub ext_status: Option<u8>,
    /// Transaction number.
    pub tns: u16,
    /// Function code (requests of commands 0x06, 0x07 and 0x0F).
    pub function: Option<u8>,
    /// The data-table address of a typed logical read or write.
    pub address: Option<Address>,
    /// The mode asked by Change CPU Mode (0x0F/0x80).
    pub cpu_mode: Option<u8>,
}

/// A DF1 address field: one octet, or 0xFF and two more (little-endian).
fn field(i: &[u8]) -> IResult<&[u8], u16> {
    let (i, b) = byte(i)?;
    if b == 0xFF {
        le_u16(i)
    } else {
        Ok((i, u16::from(b)))
    }
}

/// The requestor id: its length (counting itself), vendor id and serial number, then
/// product-specific octets.
fn requestor(i: &[u8]) -> IResult<&[u8], (u16, u32)> {
    let (i, len) = byte(i)?;
    let (i, vendor) = le_u16(i)?;
    let (i, serial) = le_u32(i)?;
    let rest = usize::from(len).saturating_sub(7);
    let (i, _) = nom::bytes::complete::take(rest)(i)?;
    Ok((i, (vendor, serial)))
}

fn typed_address(i: &[u8], three: bool) -> IResult<&[u8], Address> {
    let (i, bytes) = byte(i)?;
    let (i, file) = field(i)?;
    let (i, file_type) = byte(i)?;
    let (i, element) = field(i)?;
    let (i, sub_element) = if three {
        let (i, s) = field(i)?;
        (i, Some(s))
    } else {
        (i, None)
    };
    Ok((
        i,
        Address {
            bytes,
            file,
            file_type,
            element,
            sub_element,
        },
    ))
}

/// The requestor id and the command header every command and reply starts with.
fn header(i: &[u8]) -> IResult<&[u8], Pccc> {
    let (i, (vendor, serial)) = requestor(i)?;
    let (i, command) = byte(i)?;
    let (i, status) = byte(i)?;
    let (i, tns) = le_u16(i)?;
    Ok((
        i,
        Pccc {
            vendor,
            serial,
            command,
            status,
            ext_status: None,
            tns,
            function: None,
            address: None,
            cpu_mode: None,
        },
    ))
}

/// Parses the data of an Execute PCCC request; `None` when it is too short for its command.
pub fn request(data: &[u8]) -> Option<Pccc> {
    let (i, mut p) = header(data).ok()?;
    if matches!(p.command, 0x06 | 0x07 | 0x0F) {
        let (&fnc, i) = i.split_first()?;
        p.function = Some(fnc);
        if p.command == 0x0F {
            match fnc {
                0xA1 | 0xA9 => p.address = typed_address(i, false).ok().map(|(_, a)| a),
                0xA2 | 0xAA | 0xAB => p.address = typed_address(i, true).ok().map(|(_, a)| a),
                0x80 => p.cpu_mode = i.first().copied(),
                _ => {}
            }
        }
    }
    Some(p)
}

/// Parses the data of an Execute PCCC reply.
pub fn reply(data: &[u8]) -> Option<Pccc> {
    let (i, mut p) = header(data).ok()?;
    p.ext_status = (p.status == EXT_STS).then(|| i.first().copied()).flatten();
    Some(p)
}

/// File types of the data table whose contents are the controller's program.
const LADDER_LOGIC_FILE: u8 = 0x22;

impl Pccc {
    /// The function's name (DF1), for the commands that have functions.
    pub fn function_name(&self) -> Option<&'static str> {
        Some(match (self.command, self.function?) {
            (0x06, 0x00) => "echo",
            (0x06, 0x01) => "read_diagnostic_counters",
            (0x06, 0x02) => "set_variables",
            (0x06, 0x03) => "diagnostic_status",
            (0x06, 0x04) => "set_timeout",
            (0x06, 0x05) => "set_naks",
            (0x06, 0x06) => "set_enqs",
            (0x06, 0x07) => "reset_diagnostic_counters",
            (0x06, 0x08) => "set_data_table_size",
            (0x06, 0x09) => "read_link_parameters",
            (0x06, 0x0A) => "set_link_parameters",
            (0x07, 0x00) => "disable_outputs",
            (0x07, 0x01) => "enable_outputs",
            (0x07, 0x03) => "enable_plc_scanning",
            (0x07, 0x04) => "enter_download_mode",
            (0x07, 0x05) => "exit_download_upload_mode",
            (0x07, 0x06) => "enter_upload_mode",
            (0x0F, 0x00) => "word_range_write",
            (0x0F, 0x01) => "word_range_read",
            (0x0F, 0x02) => "bit_write",
            (0x0F, 0x03) => "file_write",
            (0x0F, 0x04) => "file_read",
            (0x0F, 0x05) => "download_request",
            (0x0F, 0x06) => "upload",
            (0x0F, 0x07) => "shutdown",
            (0x0F, 0x08) => "physical_write",
            (0x0F, 0x09) => "physical_read",
            (0x0F, 0x0A) => "restart_request",
            (0x0F, 0x11) => "get_edit_resource",
            (0x0F, 0x12) => "return_edit_resource",
            (0x0F, 0x17) => "read_bytes_physical",
            (0x0F, 0x18) => "write_bytes_physical",
            (0x0F, 0x26) => "read_modify_write",
            (0x0F, 0x29) => "read_section_size",
            (0x0F, 0x3A) => "set_cpu_mode",
            (0x0F, 0x41) => "disable_forces",
            (0x0F, 0x50) => "download_all_request",
            (0x0F, 0x52) => "download_completed",
            (0x0F, 0x53) => "upload_all_request",
            (0x0F, 0x55) => "upload_completed",
            (0x0F, 0x57) => "initialize_memory",
            (0x0F, 0x5E) => "modify_plc2_compatibility_file",
            (0x0F, 0x67) => "typed_write",
            (0x0F, 0x68) => "typed_read",
            (0x0F, 0x79) => "read_modify_write_n",
            (0x0F, 0x80) => "change_cpu_mode",
            (0x0F, 0x81) => "open_file",
            (0x0F, 0x82) => "close_file",
            (0x0F, 0x88) => "execute_multiple_commands",
            (0x0F, 0x8F) => "apply_port_configuration",
            (0x0F, 0xA1) => "protected_typed_logical_read_2",
            (0x0F, 0xA2) => "protected_typed_logical_read_3",
            (0x0F, 0xA7) => "protected_typed_file_read",
            (0x0F, 0xA9) => "protected_typed_logical_write_2",
            (0x0F, 0xAA) => "protected_typed_logical_write_3",
            (0x0F, 0xAB) => "protected_typed_logical_masked_write_3",
            (0x0F, 0xAF) => "protected_typed_file_write",
            _ => return None,
        })
    }

    /// What the command does. Reads and writes of a ladder-logic file are program upload
    /// and download (as RSLogix 500 does them).
    pub fn operation(&self) -> Operation {
        let program = self
            .address
            .is_some_and(|a| a.file_type == LADDER_LOGIC_FILE);
        let Some(fnc) = self.function else {
            return Operation::Other;
        };
        match (self.command, fnc) {
            (0x06, 0x00 | 0x01 | 0x03 | 0x07 | 0x09) => Operation::Diagnostics,
            (0x06, _) => Operation::Configuration,
            (0x07, 0x04) | (0x0F, 0x05 | 0x50 | 0x52 | 0x57) => Operation::ProgramDownload,
            (0x07, 0x06) | (0x0F, 0x06 | 0x53 | 0x55) => Operation::ProgramUpload,
            (0x07, _) => Operation::Control,
            (0x0F, 0x01 | 0x04 | 0x09 | 0x17 | 0x29 | 0x68 | 0xA1 | 0xA2) if program => {
                Operation::ProgramUpload
            }
            (0x0F, 0x00 | 0x02 | 0x03 | 0x08 | 0x18 | 0x26 | 0x67 | 0x79 | 0xA9 | 0xAA | 0xAB)
                if program =>
            {
                Operation::ProgramDownload
            }
            (0x0F, 0x01 | 0x04 | 0x09 | 0x17 | 0x29 | 0x68 | 0xA1 | 0xA2) => Operation::Read,
            (0x0F, 0x00 | 0x02 | 0x03 | 0x08 | 0x18 | 0x26 | 0x67 | 0x79 | 0xA9 | 0xAA | 0xAB) => {
                Operation::Write
            }
            (0x0F, 0xA7 | 0xAF | 0x81 | 0x82) => Operation::FileTransfer,
            (0x0F, 0x07 | 0x3A | 0x80) => Operation::Control,
            (0x0F, 0x0A) => Operation::Restart,
            (0x0F, 0x11 | 0x12 | 0x41 | 0x5E | 0x8F) => Operation::Configuration,
            _ => Operation::Other,
        }
    }

    /// The name of the message: the function's, with the mode Change CPU Mode asks for
    /// (`pccc_change_cpu_mode_program`, `_run`, `_test`), or the command's number.
    pub fn message_name(&self) -> String {
        match (self.function_name(), self.cpu_mode) {
            (Some("change_cpu_mode"), Some(mode)) => format!(
                "pccc_change_cpu_mode_{}",
                cpu_mode_name(mode).unwrap_or("unknown")
            ),
            (Some(n), _) => format!("pccc_{n}"),
            (None, _) => match self.function {
                Some(f) => format!("pccc_{:#04x}_{f:#04x}", self.command),
                None => format!("pccc_{:#04x}", self.command),
            },
        }
    }
}

/// The modes of Change CPU Mode (0x0F/0x80, SLC 500 and MicroLogix).
pub fn cpu_mode_name(mode: u8) -> Option<&'static str> {
    Some(match mode {
        0x01 => "program",
        0x06 => "run",
        0x07 => "test_continuous",
        0x08 => "test_single",
        0x09 => "test_debug",
        _ => return None,
    })
}

/// The status octet's meaning (DF1; its high nibble for remote errors).
pub fn status_name(sts: u8) -> Option<&'static str> {
    Some(match sts & 0xF0 {
        0x00 if sts == 0 => "success",
        0x10 => "illegal_command_or_format",
        0x20 => "host_will_not_communicate",
        0x30 => "remote_node_missing",
        0x40 => "hardware_fault",
        0x50 => "addressing_problem_or_memory_protect",
        0x60 => "function_not_allowed",
        0x70 => "processor_in_program_mode",
        0x80 => "compatibility_file_missing",
        0x90 => "remote_node_cannot_buffer",
        0xA0 | 0xC0 => "wait_ack",
        0xB0 => "remote_node_problem_due_to_download",
        0xF0 => "extended_status",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The requestor id of the RSLinx requests in iti-ics__cip_only.pcap (vendor 0x4D,
    /// serial 0x3d2b31e0).
    const REQUESTOR: [u8; 7] = [7, 0x4d, 0, 0xe0, 0x31, 0x2b, 0x3d];

    fn with_requestor(pccc: &[u8]) -> Vec<u8> {
        let mut v = REQUESTOR.to_vec();
        v.extend_from_slice(pccc);
        v
    }

    /// iti-ics__cip_only.pcap: a typed logical read with three address fields (TNS 0xe55b,
    /// 44 bytes of file 0, element 0), and Change CPU Mode to Remote Program (TNS 0xc64e).
    #[test]
    fn requests_of_the_capture() {
        let read = request(&with_requestor(&[
            0x0f, 0, 0x5b, 0xe5, 0xa2, 0x2c, 0, 0, 0, 0,
        ]))
        .expect("a read");
        assert_eq!(
            (read.vendor, read.serial, read.tns),
            (0x4d, 0x3d2b_31e0, 0xe55b)
        );
        assert_eq!(read.function_name(), Some("protected_typed_logical_read_3"));
        assert_eq!(
            read.address,
            Some(Address {
                bytes: 0x2c,
                file: 0,
                file_type: 0,
                element: 0,
                sub_element: Some(0)
            })
        );
        assert_eq!(read.operation(), Operation::Read);
        let mode = request(&with_requestor(&[0x0f, 0, 0x4e, 0xc6, 0x80, 0x01])).expect("a mode");
        assert_eq!(mode.message_name(), "pccc_change_cpu_mode_program");
        assert_eq!(mode.operation(), Operation::Control);
    }

    /// Address fields of 0xFF take two more octets; writes to a ladder file are downloads.
    #[test]
    fn long_address_fields_and_program_files() {
        let w = request(&with_requestor(&[
            0x0f, 0, 1, 0, 0xaa, 2, 0xff, 0x2c, 0x01, 0x22, 0xff, 0x00, 0x02, 0, 0xab, 0xcd,
        ]))
        .expect("a write");
        let a = w.address.expect("an address");
        assert_eq!(
            (a.file, a.file_type, a.element, a.sub_element),
            (300, 0x22, 512, Some(0))
        );
        assert_eq!(w.operation(), Operation::ProgramDownload);
    }

    /// Replies: status and extended status; too short is `None`.
    #[test]
    fn replies_and_short_data() {
        let ok = reply(&with_requestor(&[0x4f, 0, 0x62, 0xc5, 0, 0])).expect("a reply");
        assert_eq!(
            (ok.command, ok.status, ok.tns, ok.ext_status),
            (0x4f, 0, 0xc562, None)
        );
        let err = reply(&with_requestor(&[0x4f, 0xf0, 1, 0, 0x0b])).expect("a reply");
        assert_eq!(
            (err.ext_status, status_name(err.status)),
            (Some(0x0b), Some("extended_status"))
        );
        assert!(request(&REQUESTOR).is_none());
        assert!(request(&[7, 0x4d]).is_none());
    }

    proptest! {
        /// Any octets: no panic.
        #[test]
        fn any_octets(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some(p) = request(&data) {
                let _ = (p.message_name(), p.operation());
            }
            let _ = reply(&data);
        }
    }
}
