//! Software named in text protocols: an HTTP client's User-Agent and a server's Server
//! header, an SSH endpoint's identification string (RFC 4253 §4.2).

use super::{Kind, Sighting, Who};

/// Most header bytes looked at.
const MAX_HEAD: usize = 4096;

/// The `User-Agent` of a request (`from_client`) or the `Server` of a response, as software
/// of the sender.
pub fn http_headers(from_client: bool, d: &[u8], out: &mut Vec<Sighting>) {
    let head = d.get(..d.len().min(MAX_HEAD)).unwrap_or_default();
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let is_response = first.starts_with("HTTP/1.");
    if is_response == from_client || !first.contains("HTTP/1.") {
        return;
    }
    let (want, source) = if from_client {
        ("user-agent", "http.user_agent")
    } else {
        ("server", "http.server")
    };
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case(want) {
            out.extend(Sighting::new(Who::Sender, Kind::Software, v, source));
            return;
        }
    }
}

/// The software and version of an SSH identification string (`SSH-2.0-OpenSSH_9.6 ...`).
pub fn ssh_banner(d: &[u8], out: &mut Vec<Sighting>) {
    let Some(rest) = d.strip_prefix(b"SSH-") else {
        return;
    };
    let end = rest
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(rest.len())
        .min(255);
    let line = String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned();
    // protoversion-softwareversion SP comments
    if let Some((_, software)) = line.split_once('-') {
        out.extend(Sighting::new(
            Who::Sender,
            Kind::Software,
            software,
            "ssh.banner",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_and_server() {
        let mut out = Vec::new();
        http_headers(
            true,
            b"GET / HTTP/1.1\r\nHost: hmi\r\nuser-agent: Mozilla/5.0 (Windows NT 10.0)\r\n\r\n",
            &mut out,
        );
        assert_eq!(out[0].value, "Mozilla/5.0 (Windows NT 10.0)");
        assert_eq!(out[0].source, "http.user_agent");
        http_headers(
            false,
            b"HTTP/1.1 200 OK\r\nServer: GoAhead-Webs\r\n\r\n",
            &mut out,
        );
        assert_eq!(out[1].value, "GoAhead-Webs");
        // A response is no request: its headers are the server's.
        http_headers(true, b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn ssh_identification() {
        let mut out = Vec::new();
        ssh_banner(b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\r\n", &mut out);
        assert_eq!(out[0].value, "OpenSSH_8.9p1 Ubuntu-3ubuntu0.1");
        ssh_banner(b"GET / HTTP/1.1\r\n", &mut out);
        assert_eq!(out.len(), 1);
    }
}
