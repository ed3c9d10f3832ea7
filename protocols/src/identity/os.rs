//! The operating system a device's software names: a User-Agent's platform, an SSH banner's
//! distribution, an SNMP or LLDP system description, a DHCP vendor class. Only what the
//! string itself says; nothing is guessed from a TTL or a window size.

use super::{Kind, Sighting};

/// Windows NT kernel versions as their products are known.
const WINDOWS_NT: &[(&str, &str)] = &[
    ("10.0", "Windows 10/11"),
    ("6.3", "Windows 8.1"),
    ("6.2", "Windows 8"),
    ("6.1", "Windows 7"),
    ("6.0", "Windows Vista"),
    ("5.2", "Windows XP x64/Server 2003"),
    ("5.1", "Windows XP"),
    ("5.0", "Windows 2000"),
];

/// Distributions an OpenSSH banner's comment names (lower case, as it writes them).
const SSH_DISTROS: &[(&str, &str)] = &[
    ("ubuntu", "Ubuntu"),
    ("debian", "Debian"),
    ("raspbian", "Raspbian"),
    ("freebsd", "FreeBSD"),
    ("for_windows", "Windows"),
];

/// Words of system descriptions and other strings, and the system they name.
const KEYWORDS: &[(&str, &str)] = &[
    ("vxworks", "VxWorks"),
    ("nx-os", "Cisco NX-OS"),
    ("ios-xe", "Cisco IOS XE"),
    ("cisco ios", "Cisco IOS"),
    ("junos", "Junos"),
    ("routeros", "RouterOS"),
    ("qnx", "QNX"),
    ("freebsd", "FreeBSD"),
    ("android", "Android"),
    ("windows", "Windows"),
    ("linux", "Linux"),
];

/// The version following `word` in `s` (digits and dots, `_` read as `.`), if any.
fn version_after(s: &str, word: &str) -> Option<String> {
    let at = s.to_ascii_lowercase().find(&word.to_ascii_lowercase())? + word.len();
    let v: String = s
        .get(at..)?
        .trim_start_matches([' ', '-', '/', ':'])
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '_')
        .map(|c| if c == '_' { '.' } else { c })
        .collect();
    let v = v.trim_end_matches('.');
    (!v.is_empty()).then(|| v.to_string())
}

fn with_version(name: &str, v: Option<String>) -> String {
    match v {
        Some(v) => format!("{name} {v}"),
        None => name.to_string(),
    }
}

/// The operating system software string `value` (from `source`) names, if any.
pub fn os_of_software(value: &str, source: &str) -> Option<String> {
    let low = value.to_ascii_lowercase();
    match source {
        "http.user_agent" => {
            let platform = value.split_once('(')?.1.split(')').next()?;
            if let Some(v) = version_after(platform, "Windows NT") {
                let name = WINDOWS_NT.iter().find(|(k, _)| *k == v).map(|(_, n)| *n);
                return Some(name.map_or_else(|| format!("Windows NT {v}"), str::to_string));
            }
            for (word, name) in [
                ("Android", "Android"),
                ("iPhone OS", "iOS"),
                ("CPU OS", "iPadOS"),
                ("Mac OS X", "macOS"),
                ("CrOS", "ChromeOS"),
            ] {
                if platform.contains(word) {
                    return Some(with_version(name, version_after(platform, word)));
                }
            }
            platform.contains("Linux").then(|| "Linux".to_string())
        }
        "ssh.banner" => SSH_DISTROS
            .iter()
            .find(|(k, _)| low.contains(k))
            .map(|(_, n)| n.to_string()),
        "dhcp.vendor_class" => {
            if low.starts_with("msft ") {
                Some("Windows".into())
            } else if let Some(v) = low.strip_prefix("android-dhcp-") {
                Some(with_version("Android", Some(v.to_string())))
            } else if low.starts_with("dhcpcd") && low.contains("linux") {
                Some(with_version("Linux", version_after(value, "Linux")))
            } else {
                None
            }
        }
        _ => {
            if let Some(v) = version_after(value, "Windows Version") {
                let build = version_after(value, "Build");
                return Some(match build {
                    Some(b) => format!("Windows {v} build {b}"),
                    None => format!("Windows {v}"),
                });
            }
            if low.starts_with("linux ") {
                // "Linux <hostname> <kernel release> ..." (uname -a).
                let release = value
                    .split_whitespace()
                    .nth(2)
                    .filter(|r| r.chars().next().is_some_and(|c| c.is_ascii_digit()));
                return Some(with_version("Linux", release.map(str::to_string)));
            }
            let (word, name) = KEYWORDS.iter().find(|(k, _)| low.contains(k))?;
            Some(match *name {
                "Cisco IOS" | "Cisco IOS XE" | "Cisco NX-OS" | "Junos" => with_version(
                    name,
                    version_after(value, "Version").or_else(|| version_after(value, word)),
                ),
                _ => name.to_string(),
            })
        }
    }
}

/// Adds, for each software sighting of `out[from..]`, the operating system it names.
pub(super) fn add_os_hints(out: &mut Vec<Sighting>, from: usize) {
    let n = out.len();
    for i in from..n {
        let Some(s) = out.get(i) else { break };
        if s.kind != Kind::Software {
            continue;
        }
        if let Some(os) = os_of_software(&s.value, s.source) {
            let (who, source) = (s.who, s.source);
            out.extend(Sighting::new(who, Kind::Os, &os, source));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::os_of_software as os;

    #[test]
    fn software_strings_name_their_system() {
        let ua = "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko";
        assert_eq!(os(ua, "http.user_agent").as_deref(), Some("Windows 7"));
        let ua = "Mozilla/5.0 (Linux; Android 12; SM-G991B) AppleWebKit/537.36";
        assert_eq!(os(ua, "http.user_agent").as_deref(), Some("Android 12"));
        let ua = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15";
        assert_eq!(os(ua, "http.user_agent").as_deref(), Some("macOS 10.15.7"));
        assert_eq!(os("curl/7.88.1", "http.user_agent"), None);
        assert_eq!(
            os("OpenSSH_8.4p1 Debian-5+deb11u1", "ssh.banner").as_deref(),
            Some("Debian")
        );
        assert_eq!(os("dropbear_2020.81", "ssh.banner"), None);
        assert_eq!(
            os("MSFT 5.0", "dhcp.vendor_class").as_deref(),
            Some("Windows")
        );
        assert_eq!(
            os("android-dhcp-11", "dhcp.vendor_class").as_deref(),
            Some("Android 11")
        );
        let d = "Hardware: Intel64 Family 6 Model 85 - Software: Windows Version 6.3 (Build 17763 Multiprocessor Free)";
        assert_eq!(
            os(d, "snmp.sysdescr").as_deref(),
            Some("Windows 6.3 build 17763")
        );
        let d = "Linux plc-gw 4.19.0-18-amd64 #1 SMP Debian 4.19.208-1 x86_64";
        assert_eq!(
            os(d, "snmp.sysdescr").as_deref(),
            Some("Linux 4.19.0-18-amd64")
        );
        let d = "Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 12.2(50)SE1";
        assert_eq!(os(d, "cdp.software").as_deref(), Some("Cisco IOS 12.2"));
        assert_eq!(
            os(
                "Siemens, SIMATIC NET, SCALANCE XC208, firmware V4.1",
                "lldp.sysdescr"
            ),
            None
        );
        assert_eq!(
            os("VxWorks 6.9 PLC", "snmp.sysdescr").as_deref(),
            Some("VxWorks")
        );
    }
}
