//! Which baseline entries an approval or suppression names, on a file or on the running
//! learner.

use std::net::IpAddr;

use super::{Baseline, EdgeEntry, State};

/// Which baseline entries an approval or suppression names: `all`, `asset=IP` (the asset,
/// its edges and conversations) or `edge=SRC,DST[/PROTOCOL]` (also `SRC>DST`, as in alert
/// keys; `*` for any address; also the conversations from SRC to DST, PROTOCOL their
/// application label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Everything.
    All,
    /// One asset and what it is an end of.
    Asset(IpAddr),
    /// Edges (and conversations).
    Edge {
        /// Client, or any.
        src: Option<IpAddr>,
        /// Server, or any.
        dst: Option<IpAddr>,
        /// Protocol (or application label), or any.
        protocol: Option<String>,
    },
}

impl Selector {
    /// Reads a selector.
    pub fn parse(selector: &str) -> Result<Selector, String> {
        if selector == "all" {
            return Ok(Selector::All);
        }
        if let Some(ip) = selector.strip_prefix("asset=") {
            return ip
                .parse()
                .map(Selector::Asset)
                .map_err(|_| format!("invalid asset address in {selector:?}"));
        }
        if let Some(spec) = selector.strip_prefix("edge=") {
            let (pair, proto) = spec
                .split_once('/')
                .map_or((spec, None), |(a, b)| (a, Some(b)));
            // `SRC,DST` needs no quoting in a shell (a `>` anywhere in a word is a
            // redirection); `SRC>DST` is the alert key's form.
            let (s, d) = pair
                .split_once(',')
                .or_else(|| pair.split_once('>'))
                .ok_or_else(|| format!("expected SRC,DST or SRC>DST in {selector:?}"))?;
            let parse = |x: &str| -> Result<Option<IpAddr>, String> {
                if x == "*" {
                    Ok(None)
                } else {
                    x.parse()
                        .map(Some)
                        .map_err(|_| format!("invalid address {x:?} in {selector:?}"))
                }
            };
            return Ok(Selector::Edge {
                src: parse(s)?,
                dst: parse(d)?,
                protocol: proto.map(str::to_string),
            });
        }
        Err(format!(
            "invalid selector {selector:?}: expected all, asset=IP or edge=SRC>DST[/PROTOCOL]"
        ))
    }

    /// Whether it names the asset `ip` itself.
    pub fn asset(&self, ip: &IpAddr) -> bool {
        match self {
            Selector::All => true,
            Selector::Asset(a) => a == ip,
            Selector::Edge { .. } => false,
        }
    }

    /// Whether it names an edge or conversation from `src` to `dst` of `protocol`.
    pub fn edge(&self, src: IpAddr, dst: IpAddr, protocol: &str) -> bool {
        match self {
            Selector::All => true,
            Selector::Asset(a) => *a == src || *a == dst,
            Selector::Edge {
                src: s,
                dst: d,
                protocol: p,
            } => {
                s.is_none_or(|s| s == src)
                    && d.is_none_or(|d| d == dst)
                    && p.as_deref().is_none_or(|p| p == protocol)
            }
        }
    }
}

pub(super) fn set_edge(e: &mut EdgeEntry, state: State) {
    e.state = state;
    for f in e.functions.values_mut() {
        f.state = state;
    }
}

impl Baseline {
    /// Sets the state of entries matching `selector` (see [`Selector`]): edges and the
    /// conversations from SRC to DST (of that application label). Returns how many entries
    /// changed.
    pub fn set_state(&mut self, selector: &str, state: State) -> Result<usize, String> {
        let sel = Selector::parse(selector)?;
        let mut n = 0;
        for (_, a) in self.assets.iter_mut().filter(|(ip, _)| sel.asset(ip)) {
            a.state = state;
            n += 1;
        }
        for e in self
            .edges
            .iter_mut()
            .filter(|e| sel.edge(e.src, e.dst, &e.protocol))
        {
            set_edge(e, state);
            n += 1;
        }
        for c in self
            .conversations
            .iter_mut()
            .filter(|c| sel.edge(c.client, c.server, &c.label))
        {
            c.state = state;
            n += 1;
        }
        Ok(n)
    }
}
