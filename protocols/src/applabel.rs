//! Application labels for the flows no industrial parser claims: light, bounded probes of a
//! flow's first bytes (content first), then the well-known server port.
//!
//! These are not parsers: each probe reads at most the first payload it is given, checks a
//! signature that the protocol's specification fixes (a magic number, a header whose fields
//! must agree with each other, a banner), and says which protocol it is. The one value taken
//! from the bytes is a TLS ClientHello's server name (SNI, RFC 6066 §3), when it lies in the
//! payload probed. Everything a probe reads is checked against the slice first: no probe
//! panics, allocates or loops without consuming.
//!
//! What is recognised, and by what:
//!
//! | label | content | ports |
//! |---|---|---|
//! | `http` | request line (`GET / HTTP/1.1`, WebDAV methods) or status line | tcp 80, 8080, 8000, 8008, 8888 |
//! | `tls` | a handshake record (RFC 8446 §5.1) with a ClientHello or ServerHello | tcp 443, 8443, 636, 990, 993, 995, 465, 3269 |
//! | `quic` | a long-header packet of QUIC v1, v2 or a draft (RFC 9000 §17.2) | udp 443 |
//! | `ssh` | the `SSH-` identification string (RFC 4253 §4.2) | tcp 22 |
//! | `rdp` | X.224 connection request or confirm with an RDP cookie or negotiation (MS-RDPBCGR 2.2.1.1) | tcp 3389 |
//! | `vnc` | the `RFB 003.00x` protocol version (RFC 6143 §7.1.1) | tcp 5900-5903 |
//! | `telnet` | an option negotiation (IAC WILL/WONT/DO/DONT, RFC 854) | tcp 23 |
//! | `teamviewer` | its frame magic (0x17 0x24 / 0x11 0x30) on its port or on 80/443 | tcp 5938 |
//! | `smb` | NetBIOS session header + `\xffSMB`/`\xfeSMB`/`\xfdSMB`, or an NBSS session request (RFC 1002 §4.3) | tcp 445, 139 |
//! | `netbios` | NBNS / datagram service | udp 137, 138 |
//! | `dcerpc` | a connection-oriented (v5) or connectionless (v4) PDU header (C706 §12) | tcp 135, udp 135 |
//! | `dns`, `mdns`, `llmnr` | a DNS header and a well-formed first question (RFC 1035 §4.1) | 53, 5353, 5355 |
//! | `ntp` | a 48-byte packet of version 1–4 (RFC 5905 §7.3), or a mode 6 control packet | udp 123 |
//! | `snmp` | BER message, version 0/1/3, community string (RFC 3416) | udp 161, 162 |
//! | `dhcp` | BOOTP header with the DHCP magic cookie (RFC 2131 §3) | udp 67, 68 |
//! | `syslog` | `<PRI>` with PRI ≤ 191 (RFC 5424 §6.2.1) | udp 514, tcp 601 |
//! | `mqtt` | a CONNECT packet naming `MQTT` or `MQIsdp` (MQTT 3.1.1 §3.1) | tcp 1883, 8883 |
//! | `ftp` | a `220` banner naming FTP, or client commands | tcp 21 |
//! | `smtp` | a `220` banner naming SMTP, or `EHLO`/`HELO` | tcp 25, 587 |
//! | `sip` | a SIP request or status line | udp/tcp 5060 |
//! | `ssdp` | `M-SEARCH` / `NOTIFY *` over UDP | udp 1900 |
//! | `kerberos` | AS/TGS request or reply, KRB-ERROR (RFC 4120 §5) | 88 |
//! | `ldap` | an LDAPMessage with a protocol operation (RFC 4511 §4.1.1) | tcp 389, 3268, udp 389 |
//!
//! ```
//! use otsensor_protocols::applabel::{by_port, probe, App};
//! use otsensor_protocols::flow::Transport;
//! assert_eq!(probe(Transport::Tcp, b"SSH-2.0-OpenSSH_9.6\r\n").map(|f| f.app), Some(App::Ssh));
//! assert_eq!(by_port(Transport::Udp, 53), Some(App::Dns));
//! ```

use crate::flow::Transport;

/// An application protocol the sensor labels but does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum App {
    /// HTTP/1.x.
    Http,
    /// TLS (any application inside).
    Tls,
    /// QUIC.
    Quic,
    /// SSH.
    Ssh,
    /// Remote Desktop Protocol.
    Rdp,
    /// VNC (RFB).
    Vnc,
    /// Telnet.
    Telnet,
    /// TeamViewer.
    Teamviewer,
    /// SMB over NetBIOS session service or direct TCP.
    Smb,
    /// NetBIOS name and datagram services.
    Netbios,
    /// DCE/RPC (MS-RPC).
    Dcerpc,
    /// DNS.
    Dns,
    /// Multicast DNS.
    Mdns,
    /// Link-local multicast name resolution.
    Llmnr,
    /// NTP.
    Ntp,
    /// SNMP.
    Snmp,
    /// DHCP / BOOTP.
    Dhcp,
    /// Syslog.
    Syslog,
    /// MQTT.
    Mqtt,
    /// FTP (control channel).
    Ftp,
    /// SMTP.
    Smtp,
    /// SIP.
    Sip,
    /// SSDP (UPnP discovery).
    Ssdp,
    /// Kerberos.
    Kerberos,
    /// LDAP / CLDAP.
    Ldap,
}

/// What a label says about the risk of a conversation that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// Interactive remote access: a person at another host controls this one.
    RemoteAccess,
    /// File sharing and remote administration of Windows hosts (lateral movement).
    FileSharing,
    /// Web, TLS and messaging: the usual carriers of command and control.
    Web,
    /// Directory and authentication.
    Directory,
    /// Network infrastructure: names, time, addresses, management, logs.
    Infrastructure,
}

impl App {
    /// Every label, in a fixed order.
    pub const ALL: [App; 25] = [
        App::Http,
        App::Tls,
        App::Quic,
        App::Ssh,
        App::Rdp,
        App::Vnc,
        App::Telnet,
        App::Teamviewer,
        App::Smb,
        App::Netbios,
        App::Dcerpc,
        App::Dns,
        App::Mdns,
        App::Llmnr,
        App::Ntp,
        App::Snmp,
        App::Dhcp,
        App::Syslog,
        App::Mqtt,
        App::Ftp,
        App::Smtp,
        App::Sip,
        App::Ssdp,
        App::Kerberos,
        App::Ldap,
    ];

    /// The label's name in flow records, alerts, baselines and conduits.
    pub fn as_str(self) -> &'static str {
        match self {
            App::Http => "http",
            App::Tls => "tls",
            App::Quic => "quic",
            App::Ssh => "ssh",
            App::Rdp => "rdp",
            App::Vnc => "vnc",
            App::Telnet => "telnet",
            App::Teamviewer => "teamviewer",
            App::Smb => "smb",
            App::Netbios => "netbios",
            App::Dcerpc => "dcerpc",
            App::Dns => "dns",
            App::Mdns => "mdns",
            App::Llmnr => "llmnr",
            App::Ntp => "ntp",
            App::Snmp => "snmp",
            App::Dhcp => "dhcp",
            App::Syslog => "syslog",
            App::Mqtt => "mqtt",
            App::Ftp => "ftp",
            App::Smtp => "smtp",
            App::Sip => "sip",
            App::Ssdp => "ssdp",
            App::Kerberos => "kerberos",
            App::Ldap => "ldap",
        }
    }

    /// The label named `name`.
    pub fn from_name(name: &str) -> Option<App> {
        App::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The well-known ports: (TCP, UDP).
    pub fn ports(self) -> (&'static [u16], &'static [u16]) {
        match self {
            App::Http => (&[80, 8080, 8000, 8008, 8888], &[]),
            App::Tls => (&[443, 8443, 636, 990, 993, 995, 465, 3269], &[]),
            App::Quic => (&[], &[443]),
            App::Ssh => (&[22], &[]),
            App::Rdp => (&[3389], &[]),
            App::Vnc => (&[5900, 5901, 5902, 5903], &[]),
            App::Telnet => (&[23], &[]),
            App::Teamviewer => (&[5938], &[]),
            App::Smb => (&[445, 139], &[]),
            App::Netbios => (&[], &[137, 138]),
            App::Dcerpc => (&[135], &[135]),
            App::Dns => (&[53], &[53]),
            App::Mdns => (&[], &[5353]),
            App::Llmnr => (&[5355], &[5355]),
            App::Ntp => (&[], &[123]),
            App::Snmp => (&[], &[161, 162]),
            App::Dhcp => (&[], &[67, 68]),
            App::Syslog => (&[601], &[514]),
            App::Mqtt => (&[1883, 8883], &[]),
            App::Ftp => (&[21], &[]),
            App::Smtp => (&[25, 587], &[]),
            App::Sip => (&[5060], &[5060]),
            App::Ssdp => (&[], &[1900]),
            App::Kerberos => (&[88], &[88]),
            App::Ldap => (&[389, 3268], &[389]),
        }
    }

    /// Whether `port` on `t` is one of the label's well-known ports.
    pub fn owns_port(self, t: Transport, port: u16) -> bool {
        let (tcp, udp) = self.ports();
        match t {
            Transport::Tcp => tcp.contains(&port),
            Transport::Udp => udp.contains(&port),
            Transport::Other(_) => false,
        }
    }

    /// The label's risk category.
    pub fn category(self) -> Category {
        match self {
            App::Ssh | App::Rdp | App::Vnc | App::Telnet | App::Teamviewer => {
                Category::RemoteAccess
            }
            App::Smb | App::Netbios | App::Dcerpc | App::Ftp => Category::FileSharing,
            App::Http | App::Tls | App::Quic | App::Mqtt | App::Smtp | App::Sip => Category::Web,
            App::Kerberos | App::Ldap => Category::Directory,
            App::Dns
            | App::Mdns
            | App::Llmnr
            | App::Ntp
            | App::Snmp
            | App::Dhcp
            | App::Syslog
            | App::Ssdp => Category::Infrastructure,
        }
    }

    /// Whether the label is interactive remote access (RDP, VNC, SSH, Telnet, remote support).
    pub fn is_remote_access(self) -> bool {
        self.category() == Category::RemoteAccess
    }
}

/// The label of a well-known server port, if one owns it.
pub fn by_port(t: Transport, port: u16) -> Option<App> {
    App::ALL.into_iter().find(|a| a.owns_port(t, port))
}

/// What a content probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    /// The protocol.
    pub app: App,
    /// A TLS ClientHello's server name, when the probed bytes hold it.
    pub server_name: Option<&'a [u8]>,
}

impl Found<'_> {
    fn of(app: App) -> Found<'static> {
        Found {
            app,
            server_name: None,
        }
    }
}

/// The protocol of a flow's first payload (in either direction), by content alone. `None`
/// when no signature matches (the caller falls back to [`by_port`]).
///
/// DNS, mDNS and LLMNR share a format: the content says DNS, the port says which.
pub fn probe(t: Transport, data: &[u8]) -> Option<Found<'_>> {
    match t {
        Transport::Tcp => probe_tcp(data),
        Transport::Udp => probe_udp(data).map(Found::of),
        Transport::Other(_) => None,
    }
}

/// As [`probe`], with the server port: a label that is only told apart by its port
/// (TeamViewer's short magic, the DNS family, FTP/SMTP banners without a name) is settled.
pub fn probe_on_port(t: Transport, server_port: u16, data: &[u8]) -> Option<Found<'_>> {
    let found = match (t, probe(t, data)) {
        (Transport::Tcp, None) if [5938, 443, 80].contains(&server_port) && is_teamviewer(data) => {
            Some(Found::of(App::Teamviewer))
        }
        (_, f) => f,
    }?;
    let app = match found.app {
        App::Dns => match by_port(t, server_port) {
            Some(a @ (App::Mdns | App::Llmnr)) => a,
            _ => App::Dns,
        },
        a => a,
    };
    Some(Found { app, ..found })
}

fn probe_tcp(data: &[u8]) -> Option<Found<'_>> {
    if let Some(sni) = tls_hello(data) {
        return Some(Found {
            app: App::Tls,
            server_name: sni,
        });
    }
    if data.starts_with(b"SSH-") {
        return Some(Found::of(App::Ssh));
    }
    if is_rfb(data) {
        return Some(Found::of(App::Vnc));
    }
    if let Some(a) = text_protocol(data, true) {
        return Some(Found::of(a));
    }
    let app = if is_smb(data) {
        App::Smb
    } else if is_rdp(data) {
        App::Rdp
    } else if is_dcerpc_co(data) {
        App::Dcerpc
    } else if is_mqtt_connect(data) {
        App::Mqtt
    } else if is_telnet(data) {
        App::Telnet
    } else if is_dns_tcp(data) {
        App::Dns
    } else if data.len() > 4 && is_kerberos(data.get(4..).unwrap_or_default()) {
        App::Kerberos
    } else if is_ldap(data) {
        App::Ldap
    } else {
        return None;
    };
    Some(Found::of(app))
}

fn probe_udp(data: &[u8]) -> Option<App> {
    if is_dhcp(data) {
        return Some(App::Dhcp);
    }
    if is_quic(data) {
        return Some(App::Quic);
    }
    if is_snmp(data) {
        return Some(App::Snmp);
    }
    if let Some(a) = text_protocol(data, false) {
        return Some(a);
    }
    if is_syslog(data) {
        return Some(App::Syslog);
    }
    if is_dcerpc_cl(data) {
        return Some(App::Dcerpc);
    }
    if is_kerberos(data) {
        return Some(App::Kerberos);
    }
    if is_ldap(data) {
        return Some(App::Ldap);
    }
    // Before DNS: the name service's header is DNS's, its names are NetBIOS-encoded.
    if is_netbios_ns(data) {
        return Some(App::Netbios);
    }
    if is_dns(data, false) {
        return Some(App::Dns);
    }
    if is_ntp(data) {
        return Some(App::Ntp);
    }
    None
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// HTTP, SIP, SSDP, FTP and SMTP first lines.
/// Which side of a TCP connection sent `data`, when its content says so: `Some(true)` for a
/// client's opening (an HTTP request line, a TLS ClientHello, an RDP connection request, an
/// SMB request, a DNS query, SMTP/FTP commands), `Some(false)` for a server's (an HTTP status
/// line, a ServerHello, an RDP connection confirm, an SMB response, a DNS answer, a numbered
/// SMTP/FTP reply). Used for connections picked up midstream, where ports only guess.
pub fn sent_by_client(data: &[u8]) -> Option<bool> {
    if let [22, 3, _, _, _, hs, ..] = data {
        if tls_hello(data).is_some() {
            return Some(*hs == 1);
        }
    }
    if is_rdp(data) {
        return Some(data.get(5).is_some_and(|c| c & 0xf0 == 0xe0));
    }
    if let [0x00, _, _, _, 0xfe, b'S', b'M', b'B', ..] = data {
        // SMB2 header flags (LE) at 16: SMB2_FLAGS_SERVER_TO_REDIR.
        return data.get(4 + 16).map(|f| f & 1 == 0);
    }
    if let [0x00, _, _, _, 0xff, b'S', b'M', b'B', ..] = data {
        // SMB1 flags at 9: SMB_FLAGS_REPLY.
        return data.get(4 + 9).map(|f| f & 0x80 == 0);
    }
    if is_dns_tcp(data) {
        // QR, the top bit of the flags after the length and the id.
        return data.get(4).map(|f| f & 0x80 == 0);
    }
    let head = data.get(..data.len().min(256))?;
    let end = head
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(head.len());
    let line = head.get(..end)?;
    if line.starts_with(b"HTTP/1.0 ") || line.starts_with(b"HTTP/1.1 ") {
        return Some(false);
    }
    match text_protocol(data, true) {
        Some(App::Http) => return Some(true),
        Some(App::Ftp | App::Smtp) => {
            // A numbered reply is the server's; a command the client's.
            return Some(!line.first().is_some_and(u8::is_ascii_digit));
        }
        _ => {}
    }
    None
}

fn text_protocol(data: &[u8], tcp: bool) -> Option<App> {
    // The first line, up to 256 bytes.
    let head = data.get(..data.len().min(256))?;
    let line_end = head
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(head.len());
    let line = head.get(..line_end)?;
    if line.is_empty() || !line.iter().all(|b| (0x20..0x7f).contains(b) || *b == b'\t') {
        return None;
    }
    if line.starts_with(b"SIP/2.0 ") || line.ends_with(b" SIP/2.0") {
        return Some(App::Sip);
    }
    if !tcp && (line.starts_with(b"M-SEARCH * HTTP/1.") || line.starts_with(b"NOTIFY * HTTP/1.")) {
        return Some(App::Ssdp);
    }
    if line.starts_with(b"HTTP/1.0 ") || line.starts_with(b"HTTP/1.1 ") {
        return tcp.then_some(App::Http);
    }
    const METHODS: &[&[u8]] = &[
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"CONNECT ",
        b"PATCH ",
        b"TRACE ",
        b"PROPFIND ",
        b"PROPPATCH ",
        b"MKCOL ",
        b"COPY ",
        b"MOVE ",
        b"LOCK ",
        b"UNLOCK ",
        b"SEARCH ",
        b"SUBSCRIBE ",
        b"NOTIFY ",
    ];
    let is_http_line = (line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0"))
        && METHODS.iter().any(|m| line.starts_with(m));
    if is_http_line {
        return tcp.then_some(App::Http);
    }
    if !tcp {
        return None;
    }
    let lower = |s: &[u8]| s.to_ascii_lowercase();
    if line.starts_with(b"220 ") || line.starts_with(b"220-") {
        let l = lower(line);
        let has = |w: &[u8]| l.windows(w.len()).any(|x| x == w);
        if has(b"ftp") {
            return Some(App::Ftp);
        }
        if has(b"smtp") || has(b"mail") {
            return Some(App::Smtp);
        }
        return None;
    }
    let cmd = |c: &[u8]| {
        line.len() >= c.len()
            && line
                .get(..c.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(c))
            && (line.len() == c.len() || line.get(c.len()) == Some(&b' '))
    };
    if cmd(b"EHLO") || cmd(b"HELO") {
        return Some(App::Smtp);
    }
    if cmd(b"AUTH TLS") || cmd(b"FEAT") || cmd(b"SYST") || cmd(b"PASV") {
        return Some(App::Ftp);
    }
    None
}

/// A TLS handshake record with a ClientHello (its SNI, when present in `data`) or a
/// ServerHello. `Some(None)`: TLS without a server name here.
fn tls_hello(data: &[u8]) -> Option<Option<&[u8]>> {
    // Record: type (1) = 22, version (2) = 3.x, length (2); handshake: type (1), length (3).
    let [22, 3, minor, _, _, hs_type, ..] = data else {
        return None;
    };
    if *minor > 4 {
        return None;
    }
    let rec_len = usize::from(be16(data, 3)?);
    if rec_len == 0 || rec_len > (1 << 14) + 2048 {
        return None;
    }
    match hs_type {
        1 => Some(client_hello_sni(data.get(5..)?)),
        2 => Some(None),
        _ => None,
    }
}

/// The server_name of a ClientHello handshake message, as far as `hs` holds it.
fn client_hello_sni(hs: &[u8]) -> Option<&[u8]> {
    // type (1), length (3), client_version (2), random (32), session_id <0..32>,
    // cipher_suites <2..2^16-2>, compression_methods <1..2^8-1>, extensions <0..2^16-1>.
    let mut at = 4 + 2 + 32;
    let sid = usize::from(*hs.get(at)?);
    at += 1 + sid;
    let cs = usize::from(be16(hs, at)?);
    at += 2 + cs;
    let cm = usize::from(*hs.get(at)?);
    at += 1 + cm;
    let ext_len = usize::from(be16(hs, at)?);
    at += 2;
    let end = (at + ext_len).min(hs.len());
    while at + 4 <= end {
        let ty = be16(hs, at)?;
        let len = usize::from(be16(hs, at + 2)?);
        let body = hs.get(at + 4..at + 4 + len)?;
        if ty == 0 {
            // server_name_list <1..2^16-1>: name_type (1) = host_name (0), HostName <1..2^16-1>.
            let [_, _, 0, ..] = body else {
                return None;
            };
            let n = usize::from(be16(body, 3)?);
            let name = body.get(5..5 + n)?;
            return (!name.is_empty() && name.len() <= 255).then_some(name);
        }
        at += 4 + len;
    }
    None
}

/// SMB over the NetBIOS session service (or direct TCP, which keeps the 4-byte header), or
/// an NBSS session request / positive response.
fn is_smb(d: &[u8]) -> bool {
    match d {
        [0x00, _, _, _, 0xfd..=0xff, b'S', b'M', b'B', ..] => true,
        // Session request: type 0x81, flags 0, length, then two encoded names of 34 bytes.
        [0x81, 0, l0, l1, 0x20, ..] => u16::from_be_bytes([*l0, *l1]) == 68,
        // Positive session response: no payload.
        [0x82, 0, 0, 0] => true,
        _ => false,
    }
}

/// TPKT + X.224 connection request with an RDP cookie or negotiation request, or a
/// connection confirm with a negotiation response.
fn is_rdp(d: &[u8]) -> bool {
    let [3, 0, _, _, li, code, ..] = d else {
        return false;
    };
    let Some(tpkt_len) = be16(d, 2) else {
        return false;
    };
    if usize::from(tpkt_len) != d.len() || usize::from(*li) + 5 != d.len() {
        return false;
    }
    // CR: code 0xE0, dst-ref (2), src-ref (2), class (1), then cookie / token / negotiation.
    let rest = d.get(11..).unwrap_or_default();
    match code & 0xf0 {
        0xe0 => {
            rest.starts_with(b"Cookie: ")
                || rest.starts_with(b"Cookie: mstshash=")
                || matches!(rest, [0x01, _, 0x08, 0x00, ..])
                || rest.is_empty()
        }
        // CC with an RDP_NEG_RSP (2) or RDP_NEG_FAILURE (3) of length 8.
        0xd0 => matches!(rest, [0x02 | 0x03, _, 0x08, 0x00, ..]),
        _ => false,
    }
}

/// A connection-oriented DCE/RPC PDU: version 5, minor 0 or 1, a defined type, data
/// representation of ASCII with an integer order, a fragment length within 16 bits.
fn is_dcerpc_co(d: &[u8]) -> bool {
    let [5, minor, ptype, _flags, drep0, _, _, _, f0, f1, ..] = d else {
        return false;
    };
    let frag = if drep0 & 0x10 != 0 {
        u16::from_le_bytes([*f0, *f1])
    } else {
        u16::from_be_bytes([*f0, *f1])
    };
    *minor <= 1 && *ptype <= 20 && (*drep0 & 0xef) == 0 && frag >= 16
}

/// A connectionless DCE/RPC PDU: version 4, a defined type, an 80-byte header.
fn is_dcerpc_cl(d: &[u8]) -> bool {
    matches!(d, [4, ptype, _, _, drep0, ..] if *ptype <= 10 && (*drep0 & 0xef) == 0)
        && d.len() >= 80
}

/// MQTT CONNECT: type 1, remaining length, protocol name `MQTT` (3.1.1, 5) or `MQIsdp` (3.1).
fn is_mqtt_connect(d: &[u8]) -> bool {
    let [0x10, rest @ ..] = d else { return false };
    // Remaining length: 1-4 bytes, 7 bits each.
    let n = rest.iter().take(4).position(|b| b & 0x80 == 0);
    let Some(n) = n else { return false };
    let body = rest.get(n + 1..).unwrap_or_default();
    body.starts_with(b"\x00\x04MQTT") || body.starts_with(b"\x00\x06MQIsdp")
}

/// Telnet option negotiation: IAC, then WILL/WONT/DO/DONT or SB.
fn is_telnet(d: &[u8]) -> bool {
    matches!(d, [0xff, 0xfa..=0xfe, opt, ..] if *opt < 50 || *opt == 255)
}

/// TeamViewer's frame magic (its port, or 80/443 where it falls back).
fn is_teamviewer(d: &[u8]) -> bool {
    matches!(d, [0x17, 0x24, ..] | [0x11, 0x30, ..]) && d.len() >= 4
}

/// The RFB protocol version message: exactly `RFB xxx.yyy\n`.
fn is_rfb(d: &[u8]) -> bool {
    d.len() == 12
        && d.starts_with(b"RFB ")
        && d.get(7) == Some(&b'.')
        && d.get(11) == Some(&b'\n')
        && d.get(4..7)
            .is_some_and(|v| v.iter().all(u8::is_ascii_digit))
}

/// A DHCP message: BOOTP op 1/2, Ethernet hardware, and the magic cookie at offset 236.
fn is_dhcp(d: &[u8]) -> bool {
    matches!(d, [1 | 2, 1, 6, ..]) && d.get(236..240) == Some(&[0x63, 0x82, 0x53, 0x63])
}

/// A QUIC long-header packet of a known version.
fn is_quic(d: &[u8]) -> bool {
    let [first, v0, v1, v2, v3, ..] = d else {
        return false;
    };
    let v = u32::from_be_bytes([*v0, *v1, *v2, *v3]);
    first & 0xc0 == 0xc0 && (v == 1 || v == 0x6b33_43cf || v >> 8 == 0x00ff_0000) && d.len() >= 1200
}

/// BER length at `d[at]`: (length, octets used).
fn ber_len(d: &[u8], at: usize) -> Option<(usize, usize)> {
    let b = *d.get(at)?;
    if b & 0x80 == 0 {
        return Some((usize::from(b), 1));
    }
    let n = usize::from(b & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*d.get(at + 1 + i)?);
    }
    Some((len, 1 + n))
}

/// SNMP: SEQUENCE { INTEGER version (0, 1 or 3), OCTET STRING community | SEQUENCE header }.
fn is_snmp(d: &[u8]) -> bool {
    let Some((len, n)) = ber_len(d, 1) else {
        return false;
    };
    if d.first() != Some(&0x30) || 1 + n + len != d.len() {
        return false;
    }
    let v = 1 + n;
    matches!(
        d.get(v..v + 4),
        Some([0x02, 0x01, 0 | 1, 0x04] | [0x02, 0x01, 3, 0x30])
    )
}

/// LDAP: SEQUENCE { INTEGER messageID, [APPLICATION n] protocolOp } with a defined op.
fn is_ldap(d: &[u8]) -> bool {
    let Some((len, n)) = ber_len(d, 1) else {
        return false;
    };
    if d.first() != Some(&0x30) || 1 + n + len < d.len() || len < 5 {
        return false;
    }
    let at = 1 + n;
    let [0x02, id_len @ 1..=4, ..] = d.get(at..).unwrap_or_default() else {
        return false;
    };
    let op = d.get(at + 2 + usize::from(*id_len)).copied().unwrap_or(0);
    // bindRequest [0] .. extendedResp [24], constructed or primitive (unbind, delRequest).
    matches!(op, 0x60..=0x78 | 0x42 | 0x4a)
}

/// Kerberos (UDP, or TCP after its length): AS-REQ/REP, TGS-REQ/REP or KRB-ERROR, an
/// APPLICATION tag whose length covers the rest, holding a SEQUENCE.
fn is_kerberos(d: &[u8]) -> bool {
    let Some(&tag) = d.first() else { return false };
    if !matches!(tag, 0x6a | 0x6b | 0x6c | 0x6d | 0x7e) {
        return false;
    }
    let Some((len, n)) = ber_len(d, 1) else {
        return false;
    };
    1 + n + len == d.len() && d.get(1 + n) == Some(&0x30)
}

/// Syslog: `<PRI>` with PRI in 0..=191, then a version digit, a timestamp or a letter.
fn is_syslog(d: &[u8]) -> bool {
    let [b'<', rest @ ..] = d else { return false };
    let Some(close) = rest.iter().take(4).position(|&b| b == b'>') else {
        return false;
    };
    let digits = rest.get(..close).unwrap_or_default();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let pri: u32 = digits.iter().fold(0, |a, d| a * 10 + u32::from(d - b'0'));
    pri <= 191 && rest.get(close + 1).is_some_and(|b| b.is_ascii_graphic())
}

/// A DNS message: header, then a well-formed first question (names of labels ≤ 63, ≤ 255
/// in all, no compression in a question's first name).
fn is_dns(d: &[u8], tcp: bool) -> bool {
    let (Some(flags), Some(qd), Some(an)) = (be16(d, 2), be16(d, 4), be16(d, 6)) else {
        return false;
    };
    let opcode = (flags >> 11) & 0xf;
    let qr = flags & 0x8000 != 0;
    // Opcodes query, inverse query, status, notify, update; a Z bit of zero.
    if !matches!(opcode, 0 | 1 | 2 | 4 | 5) || flags & 0x0040 != 0 {
        return false;
    }
    if qd == 0 {
        // Only answers without questions (mDNS announcements).
        return qr && an > 0 && !tcp && an < 64 && d.len() > 12;
    }
    if qd > 8 {
        return false;
    }
    let mut at = 12;
    let mut total = 0;
    loop {
        let Some(&l) = d.get(at) else { return false };
        if l == 0 {
            at += 1;
            break;
        }
        if l > 63 {
            return false;
        }
        total += usize::from(l) + 1;
        if total > 255 {
            return false;
        }
        let Some(label) = d.get(at + 1..at + 1 + usize::from(l)) else {
            return false;
        };
        if !label.iter().all(|b| b.is_ascii_graphic() || *b >= 0x80) {
            return false;
        }
        at += 1 + usize::from(l);
    }
    let (Some(qtype), Some(qclass)) = (be16(d, at), be16(d, at + 2)) else {
        return false;
    };
    qtype != 0 && matches!(qclass & 0x7fff, 1 | 3 | 4 | 254 | 255)
}

/// DNS over TCP: a two-byte length that the message fills, then the message.
fn is_dns_tcp(d: &[u8]) -> bool {
    let Some(len) = be16(d, 0) else { return false };
    usize::from(len) + 2 >= d.len() && len >= 12 && is_dns(d.get(2..).unwrap_or_default(), true)
}

/// NetBIOS name service: a DNS-like header and an encoded 32-byte name (RFC 1002 §4.2).
fn is_netbios_ns(d: &[u8]) -> bool {
    matches!(d.get(12..14), Some([0x20, b'A'..=b'P'])) && d.len() >= 50
}

/// NTP: 48 bytes (or more with extensions/MAC) of version 1–4 in modes 1–5, or a mode 6
/// control message.
fn is_ntp(d: &[u8]) -> bool {
    let Some(&b) = d.first() else { return false };
    let (vn, mode) = ((b >> 3) & 7, b & 7);
    if !(1..=4).contains(&vn) {
        return false;
    }
    match mode {
        1..=5 => matches!(d.len(), 48 | 52 | 60 | 68 | 72),
        // Control: op code 1-7, a count within the packet.
        6 => d.len() >= 12 && be16(d, 10).is_some_and(|c| usize::from(c) + 12 <= d.len()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(d: &[u8]) -> Option<App> {
        probe(Transport::Tcp, d).map(|f| f.app)
    }
    fn udp(d: &[u8]) -> Option<App> {
        probe(Transport::Udp, d).map(|f| f.app)
    }

    #[test]
    fn empty_and_short_inputs_match_nothing() {
        for n in 0..4 {
            let z = vec![0u8; n];
            assert_eq!(tcp(&z), None);
            assert_eq!(udp(&z), None);
        }
        assert_eq!(probe(Transport::Other(1), b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn the_side_that_sent_an_opening() {
        assert_eq!(
            sent_by_client(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(true)
        );
        assert_eq!(sent_by_client(b"HTTP/1.1 200 OK\r\n"), Some(false));
        assert_eq!(
            sent_by_client(b"220 ProFTPD Server ready.\r\n"),
            Some(false)
        );
        assert_eq!(sent_by_client(b"EHLO client\r\n"), Some(true));
        let cr = [3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0];
        let cc = [
            3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 1, 0, 0, 0,
        ];
        assert_eq!(sent_by_client(&cr), Some(true));
        assert_eq!(sent_by_client(&cc), Some(false));
        let mut smb2 = vec![0, 0, 0, 64, 0xfe, b'S', b'M', b'B', 64, 0];
        smb2.resize(4 + 64, 0);
        assert_eq!(sent_by_client(&smb2), Some(true));
        smb2[4 + 16] = 1;
        assert_eq!(sent_by_client(&smb2), Some(false));
        let mut query = vec![0, 29, 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        query.extend(b"\x07example\x03com\x00\x00\x01\x00\x01");
        assert_eq!(sent_by_client(&query), Some(true));
        query[4] = 0x81;
        query[5] = 0x80;
        assert_eq!(sent_by_client(&query), Some(false));
        assert_eq!(sent_by_client(b"SSH-2.0-OpenSSH_9.6\r\n"), None);
        assert_eq!(sent_by_client(&[0xde, 0xad, 0xbe, 0xef]), None);
    }

    #[test]
    fn text_protocols() {
        assert_eq!(
            tcp(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(App::Http)
        );
        assert_eq!(tcp(b"PROPFIND /dav HTTP/1.1\r\n"), Some(App::Http));
        assert_eq!(tcp(b"HTTP/1.1 200 OK\r\n"), Some(App::Http));
        assert_eq!(tcp(b"GET is not http\r\n"), None);
        assert_eq!(
            udp(b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"),
            Some(App::Ssdp)
        );
        assert_eq!(udp(b"INVITE sip:bob@x SIP/2.0\r\n"), Some(App::Sip));
        assert_eq!(tcp(b"220 ProFTPD Server ready.\r\n"), Some(App::Ftp));
        assert_eq!(tcp(b"220 mx.example ESMTP Postfix\r\n"), Some(App::Smtp));
        assert_eq!(tcp(b"220 welcome\r\n"), None);
        assert_eq!(tcp(b"EHLO client\r\n"), Some(App::Smtp));
        assert_eq!(tcp(b"SSH-2.0-PuTTY_Release_0.72\r\n"), Some(App::Ssh));
        assert_eq!(tcp(b"RFB 003.008\n"), Some(App::Vnc));
        assert_eq!(tcp(b"RFB 003.008\nxx"), None);
    }

    #[test]
    fn tls_client_hello_gives_its_server_name() {
        // A minimal ClientHello: record header, handshake header, version, random, empty
        // session id, one cipher suite, null compression, one SNI extension.
        let name = b"plc.example";
        let mut ext = vec![0x00, 0x00];
        let list_len = 3 + name.len();
        ext.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(list_len as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
        ext.extend_from_slice(name);
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0u8; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0, 0, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        let f = probe(Transport::Tcp, &rec).expect("tls");
        assert_eq!(f.app, App::Tls);
        assert_eq!(f.server_name, Some(&name[..]));
        // Truncated anywhere: still TLS, never a panic; the name only when whole.
        for cut in 6..rec.len() {
            let f = probe(Transport::Tcp, &rec[..cut]).expect("tls prefix");
            assert_eq!(f.app, App::Tls);
            assert!(f.server_name.is_none() || cut == rec.len());
        }
        // An application data record is not a hello.
        assert_eq!(tcp(&[23, 3, 3, 0, 5, 1, 2, 3, 4, 5]), None);
    }

    #[test]
    fn smb_rdp_dcerpc_mqtt_telnet() {
        let smb2 = [0, 0, 0, 0x44, 0xfe, b'S', b'M', b'B', 64, 0];
        assert_eq!(tcp(&smb2), Some(App::Smb));
        let smb1 = [0, 0, 0, 0x2f, 0xff, b'S', b'M', b'B', 0x72, 0];
        assert_eq!(tcp(&smb1), Some(App::Smb));
        // RDP X.224 CR with a cookie.
        let cookie = b"Cookie: mstshash=JOHN\r\n";
        let mut cr = vec![3, 0, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0];
        cr.extend_from_slice(cookie);
        let n = cr.len();
        cr[2..4].copy_from_slice(&(n as u16).to_be_bytes());
        cr[4] = (n - 5) as u8;
        assert_eq!(tcp(&cr), Some(App::Rdp));
        // An S7 connection request (TSAP parameters) is not RDP.
        let s7 = [
            3, 0, 0, 22, 17, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 10, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2,
        ];
        assert_eq!(tcp(&s7), None);
        let bind = [5, 0, 11, 3, 0x10, 0, 0, 0, 0x48, 0, 0, 0];
        assert_eq!(tcp(&bind), Some(App::Dcerpc));
        let mut mqtt = vec![0x10, 12, 0, 4];
        mqtt.extend_from_slice(b"MQTT\x04\x02\x00\x3c\x00\x00");
        assert_eq!(tcp(&mqtt), Some(App::Mqtt));
        assert_eq!(
            tcp(&[0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20]),
            Some(App::Telnet)
        );
    }

    #[test]
    fn udp_protocols() {
        let mut dhcp = vec![0u8; 240];
        dhcp[..3].copy_from_slice(&[1, 1, 6]);
        dhcp[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
        assert_eq!(udp(&dhcp), Some(App::Dhcp));
        let snmp = [
            0x30, 0x0b, 0x02, 0x01, 0x00, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c',
        ];
        assert_eq!(udp(&snmp), Some(App::Snmp));
        let dns = [
            0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 7, b'e', b'x',
            b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
        ];
        assert_eq!(udp(&dns), Some(App::Dns));
        assert_eq!(
            probe_on_port(Transport::Udp, 5353, &dns).map(|f| f.app),
            Some(App::Mdns)
        );
        let mut ntp = vec![0u8; 48];
        ntp[0] = 0x23; // version 4, mode 3
        assert_eq!(udp(&ntp), Some(App::Ntp));
        assert_eq!(
            udp(b"<34>Oct 11 22:14:15 mymachine su: failed"),
            Some(App::Syslog)
        );
        assert_eq!(udp(b"<999>x"), None);
    }

    #[test]
    fn ports_have_one_owner_and_names_round_trip() {
        for a in App::ALL {
            assert_eq!(App::from_name(a.as_str()), Some(a));
            for (t, ports) in [(Transport::Tcp, a.ports().0), (Transport::Udp, a.ports().1)] {
                for p in ports {
                    assert_eq!(by_port(t, *p), Some(a), "{} {p}", a.as_str());
                }
            }
        }
        assert_eq!(by_port(Transport::Tcp, 502), None);
        // No label shares a name with an industrial protocol.
        for d in crate::PROTOCOLS {
            assert_eq!(App::from_name(d.name), None);
        }
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), port in 0u16..) {
            let _ = probe_on_port(Transport::Tcp, port, &d);
            let _ = probe_on_port(Transport::Udp, port, &d);
            let _ = sent_by_client(&d);
        }
    }
}
