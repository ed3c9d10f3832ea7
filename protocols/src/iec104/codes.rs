//! IEC 60870-5-104 code tables: ASDU type ids (IEC 60870-5-101/104), their element sizes
//! and operations, causes of transmission, U-frame functions.

use crate::Operation;

/// Type ids of control commands (single, double, regulating step, set points, bitstring),
/// with and without time tag.
pub fn is_command(t: u8) -> bool {
    matches!(t, 45..=51 | 58..=64)
}

/// The type's name, for the types IEC 60870-5-104 defines.
pub fn type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "M_SP_NA_1",
        2 => "M_SP_TA_1",
        3 => "M_DP_NA_1",
        4 => "M_DP_TA_1",
        5 => "M_ST_NA_1",
        6 => "M_ST_TA_1",
        7 => "M_BO_NA_1",
        8 => "M_BO_TA_1",
        9 => "M_ME_NA_1",
        10 => "M_ME_TA_1",
        11 => "M_ME_NB_1",
        12 => "M_ME_TB_1",
        13 => "M_ME_NC_1",
        14 => "M_ME_TC_1",
        15 => "M_IT_NA_1",
        16 => "M_IT_TA_1",
        17 => "M_EP_TA_1",
        18 => "M_EP_TB_1",
        19 => "M_EP_TC_1",
        20 => "M_PS_NA_1",
        21 => "M_ME_ND_1",
        30 => "M_SP_TB_1",
        31 => "M_DP_TB_1",
        32 => "M_ST_TB_1",
        33 => "M_BO_TB_1",
        34 => "M_ME_TD_1",
        35 => "M_ME_TE_1",
        36 => "M_ME_TF_1",
        37 => "M_IT_TB_1",
        38 => "M_EP_TD_1",
        39 => "M_EP_TE_1",
        40 => "M_EP_TF_1",
        45 => "C_SC_NA_1",
        46 => "C_DC_NA_1",
        47 => "C_RC_NA_1",
        48 => "C_SE_NA_1",
        49 => "C_SE_NB_1",
        50 => "C_SE_NC_1",
        51 => "C_BO_NA_1",
        58 => "C_SC_TA_1",
        59 => "C_DC_TA_1",
        60 => "C_RC_TA_1",
        61 => "C_SE_TA_1",
        62 => "C_SE_TB_1",
        63 => "C_SE_TC_1",
        64 => "C_BO_TA_1",
        70 => "M_EI_NA_1",
        100 => "C_IC_NA_1",
        101 => "C_CI_NA_1",
        102 => "C_RD_NA_1",
        103 => "C_CS_NA_1",
        104 => "C_TS_NA_1",
        105 => "C_RP_NA_1",
        106 => "C_CD_NA_1",
        107 => "C_TS_TA_1",
        110 => "P_ME_NA_1",
        111 => "P_ME_NB_1",
        112 => "P_ME_NC_1",
        113 => "P_AC_NA_1",
        120 => "F_FR_NA_1",
        121 => "F_SR_NA_1",
        122 => "F_SC_NA_1",
        123 => "F_LS_NA_1",
        124 => "F_AF_NA_1",
        125 => "F_SG_NA_1",
        126 => "F_DR_TA_1",
        127 => "F_SC_NB_1",
        _ => return None,
    })
}

/// Size of one information element (without its address) of type `t`; `None` for types of
/// variable size (file segments) and types the standard does not define.
pub fn element_size(t: u8) -> Option<usize> {
    Some(match t {
        102 => 0,
        1 | 3 | 45 | 46 | 47 | 70 | 100 | 101 | 105 | 113 => 1,
        5 | 21 | 104 | 106 => 2,
        9 | 11 | 48 | 49 | 110 | 111 => 3,
        2 | 4 | 51 | 122 | 124 => 4,
        6 | 7 | 13 | 15 | 20 | 50 | 112 | 123 => 5,
        10 | 12 | 17 | 120 => 6,
        18 | 19 | 103 | 121 => 7,
        8 | 14 | 16 | 30 | 31 | 58 | 59 | 60 => 8,
        32 | 107 => 9,
        34 | 35 | 38 | 61 | 62 => 10,
        39 | 40 | 64 => 11,
        33 | 36 | 37 | 63 => 12,
        126 => 13,
        127 => 16,
        _ => return None,
    })
}

/// What an ASDU of type `t` does.
pub fn operation(t: u8) -> Operation {
    match t {
        1..=40 => Operation::Read,
        45..=47 | 58..=60 => Operation::Control,
        48..=51 | 61..=64 => Operation::Write,
        70 => Operation::Session,
        100..=102 => Operation::Read,
        103 | 106 => Operation::TimeSync,
        104 | 107 => Operation::Diagnostics,
        105 => Operation::Restart,
        110..=113 => Operation::Configuration,
        120..=127 => Operation::FileTransfer,
        _ => Operation::Other,
    }
}

/// Cause of transmission names.
pub fn cause_name(c: u8) -> Option<&'static str> {
    Some(match c {
        1 => "periodic",
        2 => "background_scan",
        3 => "spontaneous",
        4 => "initialized",
        5 => "request",
        6 => "activation",
        7 => "activation_confirmation",
        8 => "deactivation",
        9 => "deactivation_confirmation",
        10 => "activation_termination",
        11 => "return_remote",
        12 => "return_local",
        13 => "file_transfer",
        20 => "interrogated_by_station",
        21..=36 => "interrogated_by_group",
        37 => "counter_interrogated",
        38..=41 => "counter_interrogated_by_group",
        44 => "unknown_type_id",
        45 => "unknown_cause",
        46 => "unknown_common_address",
        47 => "unknown_ioa",
        _ => return None,
    })
}

/// U-frame functions (control octet 1).
pub fn u_function_name(c: u8) -> Option<&'static str> {
    Some(match c {
        0x07 => "startdt_act",
        0x0B => "startdt_con",
        0x13 => "stopdt_act",
        0x23 => "stopdt_con",
        0x43 => "testfr_act",
        0x83 => "testfr_con",
        _ => return None,
    })
}
