//! OPC UA binary (OPC 10000-6 §7) on TCP 4840 and any port by content: the UA Connection
//! Protocol (Hello, Acknowledge, Error, ReverseHello), secure channels (OpenSecureChannel
//! with its security policy, certificates' presence, sequence and request ids; the channel
//! and token ids of every message; CloseSecureChannel), message chunks (final,
//! intermediate, abort) framed per direction, and in each readable message the service by
//! the numeric node id of its encoding (as Wireshark's `opcua.servicenodeid.numeric`), the
//! request handle that pairs a response with its request, the service result, an
//! OpenSecureChannel's security mode, an ActivateSession's user identity token kind
//! (anonymous, user name, certificate, issued), and the application a GetEndpoints answer
//! or a CreateSession request describes (URI, product URI, name).
//!
//! Signed-and-encrypted channels: what the headers show (channel, token, chunk, size) and a
//! count; their services are not readable. Intermediate chunks are events of their own
//! without a service (the first chunk names it).

pub mod adapter;
pub mod codes;
pub mod descriptor;

use serde::Serialize;

pub use descriptor::DESCRIPTOR;

/// OPC UA's registered port.
pub const PORT: u16 = 4840;
/// Most requests awaiting an answer per connection.
const MAX_PENDING: usize = 64;
/// Longest string kept.
const MAX_TEXT: usize = 256;

/// A message chunk's header: type, chunk type, size.
pub fn header(d: &[u8]) -> Option<(&'static str, u8, usize)> {
    let kind = match d.get(..3)? {
        b"HEL" => "HEL",
        b"ACK" => "ACK",
        b"ERR" => "ERR",
        b"RHE" => "RHE",
        b"OPN" => "OPN",
        b"MSG" => "MSG",
        b"CLO" => "CLO",
        _ => return None,
    };
    let chunk = *d.get(3)?;
    if !matches!(chunk, b'F' | b'C' | b'A') {
        return None;
    }
    let size = usize::try_from(u32_le(d, 4)?).ok()?;
    (size >= 8).then_some((kind, chunk, size))
}

fn u32_le(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// A cursor over a message body.
struct Reader<'a> {
    d: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.d.get(self.at)?;
        self.at += 1;
        Some(v)
    }
    fn u16(&mut self) -> Option<u16> {
        let v = u16::from_le_bytes(self.d.get(self.at..self.at + 2)?.try_into().ok()?);
        self.at += 2;
        Some(v)
    }
    fn u32(&mut self) -> Option<u32> {
        let v = u32_le(self.d, self.at)?;
        self.at += 4;
        Some(v)
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.d.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(())
    }
    /// A String or ByteString: i32 length (-1 null) and bytes.
    fn bytes(&mut self) -> Option<Option<&'a [u8]>> {
        let n = self.u32()? as i32;
        if n < 0 {
            return Some(None);
        }
        let n = usize::try_from(n).ok()?;
        let v = self.d.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(Some(v))
    }
    fn string(&mut self) -> Option<Option<String>> {
        Some(self.bytes()?.map(|v| {
            String::from_utf8_lossy(v.get(..v.len().min(MAX_TEXT)).unwrap_or_default()).into_owned()
        }))
    }
    /// A NodeId (or ExpandedNodeId): its namespace and identifier.
    fn node(&mut self) -> Option<Node<'a>> {
        let mask = self.u8()?;
        let node = match mask & 0x3f {
            0 => Node::Numeric(0, u32::from(self.u8()?)),
            1 => Node::Numeric(u16::from(self.u8()?), u32::from(self.u16()?)),
            2 => Node::Numeric(self.u16()?, self.u32()?),
            3 => Node::String(self.u16()?, self.bytes()?.unwrap_or_default()),
            4 => {
                let ns = self.u16()?;
                let g = self.d.get(self.at..self.at + 16)?;
                self.at += 16;
                Node::Guid(ns, g)
            }
            5 => Node::Opaque(self.u16()?, self.bytes()?.unwrap_or_default()),
            _ => return None,
        };
        if mask & 0x80 != 0 {
            self.bytes()?;
        }
        if mask & 0x40 != 0 {
            self.u32()?;
        }
        Some(node)
    }
    /// A NodeId (or ExpandedNodeId): its numeric identifier when it has one.
    fn node_id(&mut self) -> Option<Option<u32>> {
        Some(match self.node()? {
            Node::Numeric(_, id) => Some(id),
            _ => None,
        })
    }
    /// A Variant (OPC 10000-6 §5.2.2.16), skipped; `depth` bounds nesting.
    fn skip_variant(&mut self, depth: u8) -> Option<()> {
        let mask = self.u8()?;
        let n = if mask & 0x80 != 0 {
            usize::try_from(self.u32()? as i32).unwrap_or(0)
        } else {
            1
        };
        for _ in 0..n {
            self.skip_value(mask & 0x3f, depth)?;
        }
        if mask & 0x40 != 0 {
            let dims = usize::try_from(self.u32()? as i32).unwrap_or(0);
            self.skip(dims.checked_mul(4)?)?;
        }
        Some(())
    }
    /// One value of built-in type `t`, skipped.
    fn skip_value(&mut self, t: u8, depth: u8) -> Option<()> {
        match t {
            0 => {}
            1..=3 => self.skip(1)?,
            4 | 5 => self.skip(2)?,
            6 | 7 | 10 | 19 => self.skip(4)?,
            8 | 9 | 11 | 13 => self.skip(8)?,
            14 => self.skip(16)?,
            12 | 15 | 16 => {
                self.bytes()?;
            }
            17 | 18 => {
                self.node()?;
            }
            20 => {
                self.u16()?;
                self.bytes()?;
            }
            21 => {
                self.localized_text()?;
            }
            22 => {
                self.extension_object()?;
            }
            23 if depth < 4 => self.skip_data_value(depth + 1)?,
            24 if depth < 4 => self.skip_variant(depth + 1)?,
            25 => skip_diagnostics(self)?,
            _ => return None,
        }
        Some(())
    }
    /// A DataValue, skipped.
    fn skip_data_value(&mut self, depth: u8) -> Option<()> {
        let mask = self.u8()?;
        if mask & 0x01 != 0 {
            self.skip_variant(depth)?;
        }
        for (bit, n) in [(0x02, 4), (0x04, 8), (0x08, 8), (0x10, 2), (0x20, 2)] {
            if mask & bit != 0 {
                self.skip(n)?;
            }
        }
        Some(())
    }
    /// A DataValue: its value when it is a scalar String or a server's build structure.
    fn read_data_value(&mut self) -> Option<Option<ReadValue>> {
        let mask = self.u8()?;
        let mut v = None;
        if mask & 0x01 != 0 {
            match self.d.get(self.at).copied()? {
                12 => {
                    self.u8()?;
                    v = self.string()?.map(ReadValue::Text);
                }
                22 => {
                    self.u8()?;
                    let id = self.node_id()?;
                    let body = match self.u8()? {
                        0 => None,
                        1 | 2 => self.bytes()?,
                        _ => return None,
                    };
                    let mut r = Reader {
                        d: body.unwrap_or_default(),
                        at: 0,
                    };
                    v = match id {
                        // BuildInfo_Encoding_DefaultBinary.
                        Some(340) => BuildInfo::read(&mut r),
                        // ServerStatusDataType_Encoding_DefaultBinary: startTime,
                        // currentTime, state, then buildInfo.
                        Some(864) => r.skip(20).and_then(|()| BuildInfo::read(&mut r)),
                        _ => None,
                    }
                    .map(ReadValue::Build);
                }
                _ => self.skip_variant(0)?,
            }
        }
        for (bit, n) in [(0x02, 4), (0x04, 8), (0x08, 8), (0x10, 2), (0x20, 2)] {
            if mask & bit != 0 {
                self.skip(n)?;
            }
        }
        Some(v)
    }
    /// An array's length (null and empty are 0), bounded by what the sensor keeps.
    fn count(&mut self) -> Option<usize> {
        Some(usize::try_from(self.u32()? as i32).unwrap_or(0))
    }
    /// An ExtensionObject: its type's numeric id; the body skipped.
    fn extension_object(&mut self) -> Option<Option<u32>> {
        let id = self.node_id()?;
        match self.u8()? {
            0 => {}
            1 | 2 => {
                self.bytes()?;
            }
            _ => return None,
        }
        Some(id)
    }
    /// A LocalizedText's text.
    fn localized_text(&mut self) -> Option<Option<String>> {
        let mask = self.u8()?;
        if mask & 1 != 0 {
            self.string()?;
        }
        if mask & 2 != 0 {
            return self.string();
        }
        Some(None)
    }
}

/// A NodeId as the wire has it.
#[derive(Debug, Clone, Copy)]
enum Node<'a> {
    Numeric(u16, u32),
    String(u16, &'a [u8]),
    Guid(u16, &'a [u8]),
    Opaque(u16, &'a [u8]),
}

impl std::fmt::Display for Node<'_> {
    /// The standard's text form (OPC 10000-6 §5.3.1.10): `ns=2;s=Pump1.Speed`, `i=2258`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ns = match *self {
            Node::Numeric(ns, _)
            | Node::String(ns, _)
            | Node::Guid(ns, _)
            | Node::Opaque(ns, _) => ns,
        };
        if ns != 0 {
            write!(f, "ns={ns};")?;
        }
        match *self {
            Node::Numeric(_, id) => write!(f, "i={id}"),
            Node::String(_, s) => {
                let s = s.get(..s.len().min(MAX_TEXT)).unwrap_or_default();
                write!(f, "s={}", String::from_utf8_lossy(s))
            }
            Node::Guid(_, g) => {
                let le = |r: std::ops::Range<usize>| {
                    g.get(r).map(|b| {
                        b.iter()
                            .rev()
                            .map(|x| format!("{x:02x}"))
                            .collect::<String>()
                    })
                };
                let be = |r: std::ops::Range<usize>| {
                    g.get(r)
                        .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>())
                };
                write!(
                    f,
                    "g={}-{}-{}-{}-{}",
                    le(0..4).unwrap_or_default(),
                    le(4..6).unwrap_or_default(),
                    le(6..8).unwrap_or_default(),
                    be(8..10).unwrap_or_default(),
                    be(10..16).unwrap_or_default()
                )
            }
            Node::Opaque(_, b) => write!(
                f,
                "b={}",
                base64(b.get(..b.len().min(MAX_TEXT)).unwrap_or_default())
            ),
        }
    }
}

/// Standard base64 (RFC 4648, padded).
fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &x)| n | u32::from(x) << (16 - 8 * i));
        for i in 0..4 {
            if i <= c.len() {
                let k = usize::try_from(n >> (18 - 6 * i) & 63).unwrap_or(0);
                out.push(char::from(*A.get(k).unwrap_or(&b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Most node ids an event lists.
const MAX_NODES: usize = 16;
/// The Value attribute's id.
const VALUE_ATTRIBUTE: u32 = 13;

/// An application as a GetEndpoints answer or a CreateSession request describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Application {
    /// applicationUri.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// productUri.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_uri: Option<String>,
    /// applicationName.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn application(r: &mut Reader<'_>) -> Option<Application> {
    Some(Application {
        uri: r.string()?,
        product_uri: r.string()?,
        name: r.localized_text()?,
    })
}

/// A server's build as its address space states it (OPC 10000-5 §12.4 BuildInfo: the
/// `Server_ServerStatus_BuildInfo` variables, i=2260 and its children i=2261–2265).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BuildInfo {
    /// ProductUri.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_uri: Option<String>,
    /// ManufacturerName.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// ProductName.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// SoftwareVersion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// BuildNumber.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_number: Option<String>,
}

impl BuildInfo {
    /// The BuildInfo structure's fields in order (its BuildDate after them is not read).
    fn read(r: &mut Reader<'_>) -> Option<BuildInfo> {
        Some(BuildInfo {
            product_uri: r.string()?,
            manufacturer: r.string()?,
            product_name: r.string()?,
            software_version: r.string()?,
            build_number: r.string()?,
        })
    }

    /// Folds in the value a Read returned for node `node` (ns=0): ServerStatus (i=2256, a
    /// ServerStatusDataType), BuildInfo (i=2260) or one of its fields (i=2261–2265).
    pub fn add(&mut self, node: u32, v: &ReadValue) {
        let field = match (node, v) {
            (SERVER_STATUS | BUILD_INFO, ReadValue::Build(b)) => {
                *self = b.clone();
                return;
            }
            (2261, ReadValue::Text(_)) => &mut self.product_name,
            (2262, ReadValue::Text(_)) => &mut self.product_uri,
            (2263, ReadValue::Text(_)) => &mut self.manufacturer,
            (2264, ReadValue::Text(_)) => &mut self.software_version,
            (2265, ReadValue::Text(_)) => &mut self.build_number,
            _ => return,
        };
        if let ReadValue::Text(t) = v {
            *field = Some(t.clone());
        }
    }
}

/// Server_ServerStatus.
const SERVER_STATUS: u32 = 2256;
/// Server_ServerStatus_BuildInfo.
const BUILD_INFO: u32 = 2260;

/// Whether a Read of node `id` (ns=0) is a Read of the server's build.
pub fn names_the_build(id: u32) -> bool {
    matches!(id, SERVER_STATUS | 2260..=2265)
}

/// A value a ReadResponse returned that the sensor keeps: a string, or a server's build
/// (a BuildInfo or ServerStatusDataType structure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadValue {
    /// A String.
    Text(String),
    /// A BuildInfo, alone or in a ServerStatusDataType.
    Build(BuildInfo),
}

/// One message chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Chunk {
    /// HEL, ACK, ERR, RHE, OPN, MSG, CLO.
    pub message_type: &'static str,
    /// F (final), C (intermediate), A (abort).
    pub chunk_type: char,
    /// Its size, octets.
    pub size: u32,
    /// Secure channel id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<u32>,
    /// Security token id (symmetric messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<u32>,
    /// Security policy (OpenSecureChannel), e.g. `...#None`, `...#Basic256Sha256`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_policy: Option<String>,
    /// Whether a sender certificate came with an OpenSecureChannel.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub certificate: bool,
    /// Sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u32>,
    /// Request id (pairs a response's chunks with the request's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<u32>,
    /// Hello: the endpoint URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Error: the status code and reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<u32>,
    /// Error: its reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The body is encrypted (a signed-and-encrypted channel): no service can be read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// The service's encoding node id.
    #[serde(skip)]
    pub service: Option<u32>,
    /// Request handle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_handle: Option<u32>,
    /// A response's service result (StatusCode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_result: Option<u32>,
    /// OpenSecureChannel request: the security mode asked for (1 None, 2 Sign, 3
    /// SignAndEncrypt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_mode: Option<u32>,
    /// ActivateSession request: the user identity token's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_token: Option<&'static str>,
    /// The application described (GetEndpoints answer's first endpoint, CreateSession
    /// request's client).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<Application>,
    /// Read and Write requests: the nodes read or written; AddNodes: the parents added
    /// under; DeleteNodes: the nodes deleted (the first 16), in the standard's text form.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Read and Write requests: how many nodes the request names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_count: Option<u32>,
    /// Call requests: the methods called, as `object/method` node ids (the first 16).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// A message in more than one chunk: how many (the final chunk's event carries the
    /// reassembled message's service).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u32>,
    /// Read requests: which of the first 16 nodes read (index, numeric id) name the
    /// server's build ([`names_the_build`]), Value attribute.
    #[serde(skip)]
    pub build_reads: Vec<(u8, u32)>,
    /// ReadResponses: the strings and build structures among the first 16 results, by
    /// index.
    #[serde(skip)]
    pub read_values: Vec<(u8, ReadValue)>,
    /// A ReadResponse to a Read of the server's build (paired by request handle): what it
    /// said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_info: Option<BuildInfo>,
}

impl Chunk {
    /// Whether the chunk is a request (from the client), by its service or type.
    pub fn is_request(&self) -> Option<bool> {
        match (self.message_type, self.service) {
            ("HEL", _) => Some(true),
            ("ACK" | "ERR" | "RHE", _) => Some(false),
            (_, Some(s)) => codes::service_name(s).map(|n| n.ends_with("Request")),
            _ => None,
        }
    }
}

/// What a chunk's headers show (type, size, channel, token, sequence, request id), its body
/// not read: an intermediate chunk of a message.
pub fn header_only(d: &[u8]) -> Chunk {
    let (kind, chunk_type, size) = header(d).unwrap_or(("MSG", b'C', d.len()));
    let at = |i| if kind == "MSG" { u32_le(d, i) } else { None };
    Chunk {
        message_type: kind,
        chunk_type: char::from(chunk_type),
        size: u32::try_from(size).unwrap_or(u32::MAX),
        channel_id: u32_le(d, 8),
        token_id: at(12),
        sequence: at(16),
        request_id: at(20),
        ..Chunk::default()
    }
}

/// Reads one whole chunk (`d` holds `size` octets).
pub fn chunk(d: &[u8]) -> Option<Chunk> {
    let (kind, chunk_type, size) = header(d)?;
    let mut c = Chunk {
        message_type: kind,
        chunk_type: char::from(chunk_type),
        size: u32::try_from(size).ok()?,
        ..Chunk::default()
    };
    let mut r = Reader {
        d: d.get(..size)?,
        at: 8,
    };
    match kind {
        "HEL" => {
            r.skip(20)?;
            c.endpoint_url = r.string()?;
        }
        "ACK" | "RHE" => {}
        "ERR" => {
            c.error = r.u32();
            c.reason = r.string().flatten();
        }
        "OPN" => {
            c.channel_id = Some(r.u32()?);
            c.security_policy = r.string()?;
            c.certificate = r.bytes()?.is_some_and(|v| !v.is_empty());
            r.bytes()?;
            let none = c
                .security_policy
                .as_deref()
                .is_none_or(|p| p.ends_with("#None"));
            if !none {
                // Asymmetrically encrypted from here on.
                c.encrypted = true;
                return Some(c);
            }
            c.sequence = r.u32();
            c.request_id = r.u32();
            body(&mut r, &mut c);
        }
        _ => {
            c.channel_id = Some(r.u32()?);
            c.token_id = Some(r.u32()?);
            c.sequence = r.u32();
            c.request_id = r.u32();
            if c.chunk_type == 'F' || c.chunk_type == 'C' {
                let start = r.at;
                body(&mut r, &mut c);
                // A body that does not start with a known service's id is encrypted (or the
                // middle of a multi-chunk message: only a first chunk names the service).
                if c.service.is_none_or(|s| codes::service_name(s).is_none()) {
                    c.service = None;
                    c.encrypted = c.chunk_type == 'F' && r.d.len() > start;
                    c.request_handle = None;
                    c.service_result = None;
                }
            }
        }
    }
    Some(c)
}

/// The service message at the reader: its type id, then the request or response header,
/// then what the sensor reads of a few services.
fn body(r: &mut Reader<'_>, c: &mut Chunk) -> Option<()> {
    let service = r.node_id()??;
    c.service = Some(service);
    codes::service_name(service)?;
    let request = codes::service_name(service)?.ends_with("Request");
    if request {
        // RequestHeader: authenticationToken, timestamp, requestHandle, returnDiagnostics,
        // auditEntryId, timeoutHint, additionalHeader.
        r.node_id()?;
        r.skip(8)?;
        c.request_handle = r.u32();
        r.u32()?;
        r.string()?;
        r.u32()?;
        r.extension_object()?;
    } else {
        // ResponseHeader: timestamp, requestHandle, serviceResult, then diagnostics.
        r.skip(8)?;
        c.request_handle = r.u32();
        c.service_result = r.u32();
        if matches!(service, 431 | 634) {
            // The rest of the header: serviceDiagnostics, stringTable, additionalHeader.
            skip_diagnostics(r)?;
            let n = r.u32()? as i32;
            for _ in 0..n.clamp(0, 64) {
                r.bytes()?;
            }
            r.extension_object()?;
        }
    }
    match service {
        446 => {
            // clientProtocolVersion, requestType, securityMode.
            r.u32()?;
            r.u32()?;
            c.security_mode = r.u32();
        }
        461 => c.application = application(r),
        // endpoints[0]: endpointUrl, server (ApplicationDescription).
        431 if r.u32()? as i32 > 0 => {
            r.string()?;
            c.application = application(r);
        }
        467 => {
            // clientSignature, clientSoftwareCertificates, localeIds, userIdentityToken.
            r.string()?;
            r.bytes()?;
            let n = r.u32()? as i32;
            for _ in 0..n.clamp(0, 16) {
                r.bytes()?;
                r.bytes()?;
            }
            let n = r.u32()? as i32;
            for _ in 0..n.clamp(0, 16) {
                r.string()?;
            }
            c.user_token = r.extension_object()?.and_then(codes::token_kind);
        }
        631 => {
            // maxAge, timestampsToReturn, nodesToRead: nodeId, attributeId, indexRange,
            // dataEncoding.
            r.skip(12)?;
            let n = r.count()?;
            c.node_count = u32::try_from(n).ok();
            for i in 0..n.min(MAX_NODES) {
                let node = r.node()?;
                c.nodes.push(node.to_string());
                let attribute = r.u32()?;
                r.string()?;
                r.u16()?;
                r.bytes()?;
                if let (Node::Numeric(0, id), VALUE_ATTRIBUTE) = (node, attribute) {
                    if names_the_build(id) {
                        c.build_reads.push((u8::try_from(i).ok()?, id));
                    }
                }
            }
        }
        634 => {
            // results: DataValues (diagnosticInfos after them not read).
            let n = r.count()?;
            for i in 0..n.min(MAX_NODES) {
                if let Some(v) = r.read_data_value()? {
                    c.read_values.push((u8::try_from(i).ok()?, v));
                }
            }
        }
        673 => {
            // nodesToWrite: nodeId, attributeId, indexRange, value.
            nodes(r, c, |r| {
                r.u32()?;
                r.string()?;
                r.skip_data_value(0)
            })?;
        }
        488 => {
            // nodesToAdd: parentNodeId (the node kept), referenceTypeId, requestedNewNodeId,
            // browseName, nodeClass, nodeAttributes, typeDefinition.
            nodes(r, c, |r| {
                r.node()?;
                r.node()?;
                r.u16()?;
                r.string()?;
                r.u32()?;
                r.extension_object()?;
                r.node().map(|_| ())
            })?;
        }
        500 => {
            // nodesToDelete: nodeId, deleteTargetReferences.
            nodes(r, c, |r| r.u8().map(|_| ()))?;
        }
        712 => {
            // methodsToCall: objectId, methodId, inputArguments.
            let n = r.count()?;
            c.node_count = u32::try_from(n).ok();
            for _ in 0..n.min(MAX_NODES) {
                let object = r.node()?;
                let method = r.node()?;
                c.methods.push(format!("{object}/{method}"));
                let args = r.count()?;
                for _ in 0..args.min(256) {
                    r.skip_variant(0)?;
                }
            }
        }
        _ => {}
    }
    Some(())
}

/// An array of node-addressed items: each item's node id kept (the first [`MAX_NODES`]),
/// `rest` reads what follows it in the item.
fn nodes(
    r: &mut Reader<'_>,
    c: &mut Chunk,
    rest: impl Fn(&mut Reader<'_>) -> Option<()>,
) -> Option<()> {
    let n = r.count()?;
    c.node_count = u32::try_from(n).ok();
    for _ in 0..n.min(MAX_NODES) {
        let node = r.node()?;
        c.nodes.push(node.to_string());
        rest(r)?;
    }
    Some(())
}

/// A DiagnosticInfo (nested at most 4 deep).
fn skip_diagnostics(r: &mut Reader<'_>) -> Option<()> {
    fn inner(r: &mut Reader<'_>, depth: u8) -> Option<()> {
        let mask = r.u8()?;
        for bit in [0x01, 0x02, 0x04, 0x08] {
            if mask & bit != 0 {
                r.u32()?;
            }
        }
        if mask & 0x10 != 0 {
            r.string()?;
        }
        if mask & 0x20 != 0 {
            r.u32()?;
        }
        if mask & 0x40 != 0 && depth < 4 {
            inner(r, depth + 1)?;
        }
        Some(())
    }
    inner(r, 0)
}

/// A request awaiting its answer.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Its handle.
    pub handle: u32,
    /// When it was sent, ns.
    pub ts_ns: i64,
    /// A Read's nodes that name the server's build (index, id).
    pub build_reads: Vec<(u8, u32)>,
}

/// Requests awaiting answers on one connection (bounded; the oldest dropped).
#[derive(Debug, Default)]
pub struct Pairing {
    pending: Vec<Pending>,
    /// Most requests kept (0: [`MAX_PENDING`]).
    cap: usize,
    /// Requests never answered (dropped at the bound or at the end).
    pub unanswered: u64,
}

impl Pairing {
    /// Keeps at most `n` requests awaiting their answer (`[protocols.opcua]
    /// max_outstanding`).
    pub fn set_cap(&mut self, n: usize) {
        self.cap = n;
    }

    /// A request with `handle` at `ts_ns`.
    pub fn request(&mut self, handle: u32, ts_ns: i64, build_reads: Vec<(u8, u32)>) {
        let cap = if self.cap == 0 { MAX_PENDING } else { self.cap };
        if self.pending.len() >= cap {
            self.pending.remove(0);
            self.unanswered += 1;
        }
        self.pending.push(Pending {
            handle,
            ts_ns,
            build_reads,
        });
    }

    /// The request a response with `handle` answers.
    pub fn response(&mut self, handle: u32) -> Option<Pending> {
        let i = self.pending.iter().position(|p| p.handle == handle)?;
        Some(self.pending.remove(i))
    }

    /// The connection ended.
    pub fn finish(&mut self) {
        self.unanswered += self.pending.len() as u64;
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: &[u8]) -> Vec<u8> {
        let mut f = b"MSGF".to_vec();
        f.extend(((body.len() + 24) as u32).to_le_bytes());
        f.extend(1u32.to_le_bytes()); // channel
        f.extend(2u32.to_le_bytes()); // token
        f.extend(51u32.to_le_bytes()); // sequence
        f.extend(3u32.to_le_bytes()); // request id
        f.extend(body);
        f
    }

    #[test]
    fn a_read_of_the_build_and_its_answer() {
        let string = |b: &mut Vec<u8>, v: &str| {
            b.extend((v.len() as u32).to_le_bytes());
            b.extend(v.as_bytes());
        };
        // ReadRequest (631) of i=2263, i=2264 and ns=2;s=T, Value attribute.
        let mut b = vec![0x01, 0x00, 0x77, 0x02, 0x00, 0x00];
        b.extend([0; 8]);
        b.extend(9u32.to_le_bytes());
        b.extend([0; 4]);
        b.extend((-1i32).to_le_bytes());
        b.extend([0; 4]);
        b.extend([0, 0, 0]);
        b.extend([0; 12]); // maxAge, timestampsToReturn
        b.extend(3u32.to_le_bytes());
        for node in [
            &[0x01, 0x00, 0xd7, 0x08][..],
            &[0x01, 0x00, 0xd8, 0x08],
            &[0x03, 0x02, 0x00, 0x01, 0, 0, 0, b'T'],
        ] {
            b.extend(node);
            b.extend(13u32.to_le_bytes());
            b.extend((-1i32).to_le_bytes());
            b.extend([0, 0]);
            b.extend((-1i32).to_le_bytes());
        }
        let c = chunk(&msg(&b)).unwrap();
        assert_eq!(c.nodes, ["i=2263", "i=2264", "ns=2;s=T"]);
        assert_eq!(c.build_reads, [(0, 2263), (1, 2264)]);
        // ReadResponse (634): two strings and a double.
        let mut a = vec![0x01, 0x00, 0x7a, 0x02];
        a.extend([0; 8]);
        a.extend(9u32.to_le_bytes());
        a.extend(0u32.to_le_bytes());
        a.push(0); // diagnostics
        a.extend(0u32.to_le_bytes()); // string table
        a.extend([0, 0, 0]);
        a.extend(3u32.to_le_bytes());
        a.extend([0x01, 12]);
        string(&mut a, "ACME");
        a.extend([0x01, 12]);
        string(&mut a, "1.2.3");
        a.extend([0x05, 11]);
        a.extend(20.5f64.to_le_bytes());
        a.extend([0; 8]);
        a.extend((-1i32).to_le_bytes());
        let r = chunk(&msg(&a)).unwrap();
        let mut info = BuildInfo::default();
        for (i, node) in &c.build_reads {
            let (_, v) = r.read_values.iter().find(|(j, _)| j == i).unwrap();
            info.add(*node, v);
        }
        assert_eq!(
            (
                info.manufacturer.as_deref(),
                info.software_version.as_deref()
            ),
            (Some("ACME"), Some("1.2.3"))
        );
        assert_eq!(r.read_values.len(), 2);
    }

    #[test]
    fn a_read_request_and_an_anonymous_activation() {
        // ReadRequest: type id (four-byte node id 631), RequestHeader, then the rest.
        let mut b = vec![0x01, 0x00, 0x77, 0x02];
        b.extend([0x00, 0x00]); // authenticationToken: two-byte node id 0
        b.extend([0; 8]); // timestamp
        b.extend(7u32.to_le_bytes()); // requestHandle
        b.extend(0u32.to_le_bytes()); // returnDiagnostics
        b.extend((-1i32).to_le_bytes()); // auditEntryId
        b.extend(10_000u32.to_le_bytes()); // timeoutHint
        b.extend([0x00, 0x00, 0x00]); // additionalHeader: null
        let c = chunk(&msg(&b)).unwrap();
        assert_eq!(
            (c.service, c.request_handle, c.channel_id),
            (Some(631), Some(7), Some(1))
        );
        assert_eq!(c.is_request(), Some(true));
        // ActivateSessionRequest with an AnonymousIdentityToken (321).
        let mut a = vec![0x01, 0x00, 0xd3, 0x01];
        a.extend(&b[4..]);
        a.extend((-1i32).to_le_bytes()); // signature algorithm
        a.extend((-1i32).to_le_bytes()); // signature
        a.extend(0u32.to_le_bytes()); // certificates
        a.extend(0u32.to_le_bytes()); // locales
        a.extend([0x01, 0x00, 0x41, 0x01, 0x01]); // token type 321, binary body
        a.extend(4u32.to_le_bytes());
        a.extend((-1i32).to_le_bytes()); // policyId
        let c = chunk(&msg(&a)).unwrap();
        assert_eq!((c.service, c.user_token), (Some(467), Some("anonymous")));
        // An encrypted body: no service.
        let c = chunk(&msg(&[0x9e, 0x33, 0x10, 0x77, 0x01, 0x02])).unwrap();
        assert!(c.encrypted && c.service.is_none());
        // Hello.
        let mut h = b"HELF".to_vec();
        h.extend(44u32.to_le_bytes());
        h.extend([0; 20]);
        h.extend(12u32.to_le_bytes());
        h.extend(b"opc.tcp://pl");
        let c = chunk(&h).unwrap();
        assert_eq!(c.endpoint_url.as_deref(), Some("opc.tcp://pl"));
        assert!(chunk(b"MSGX\x10\0\0\0").is_none());
    }

    #[test]
    fn node_ids_in_the_standards_text_form() {
        let node = |b: &[u8]| Reader { d: b, at: 0 }.node().map(|n| n.to_string());
        assert_eq!(node(&[0x00, 0x55]).as_deref(), Some("i=85"));
        assert_eq!(
            node(&[0x01, 0x02, 0x34, 0x12]).as_deref(),
            Some("ns=2;i=4660")
        );
        let mut s = vec![0x03, 0x02, 0x00, 0x05, 0, 0, 0];
        s.extend(b"Pump1");
        assert_eq!(node(&s).as_deref(), Some("ns=2;s=Pump1"));
        // GUID: Data1-3 little-endian, Data4 as sent (OPC 10000-6 §5.1.3).
        let mut g = vec![0x04, 0x01, 0x00];
        g.extend([0x91, 0x2b, 0x96, 0x72, 0x75, 0xfa, 0xe6, 0x4a]);
        g.extend([0x8d, 0x28, 0xb4, 0x04, 0xdc, 0x7d, 0xaf, 0x63]);
        assert_eq!(
            node(&g).as_deref(),
            Some("ns=1;g=72962b91-fa75-4ae6-8d28-b404dc7daf63")
        );
        let mut o = vec![0x05, 0x00, 0x00, 0x06, 0, 0, 0];
        o.extend(b"foobar");
        assert_eq!(node(&o).as_deref(), Some("b=Zm9vYmFy"));
        // Expanded: a namespace URI and a server index follow the id.
        let mut e = vec![0xc0, 0x07, 0x01, 0, 0, 0, b'u'];
        e.extend(3u32.to_le_bytes());
        assert_eq!(node(&e).as_deref(), Some("i=7"));
        assert_eq!(node(&[0x06, 0x00]), None);
        assert_eq!(node(&[0x03, 0x02]), None);
        for (raw, b64) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64(raw.as_bytes()), b64);
        }
    }
}
