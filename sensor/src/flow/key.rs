//! Flow keys: the canonical (direction-independent) 5-tuple plus VLAN, and the symmetric
//! hash that sends both directions of a flow to the same worker.

use std::hash::{Hash, Hasher};

use rustc_hash::FxHasher;

use crate::decode::{Ip, Summary};

/// A flow's identity, the same for both directions: the endpoint that sorts lower is `lo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Lower endpoint address.
    pub lo_ip: Ip,
    /// Higher endpoint address.
    pub hi_ip: Ip,
    /// Port of the lower endpoint.
    pub lo_port: u16,
    /// Port of the higher endpoint.
    pub hi_port: u16,
    /// IP protocol.
    pub proto: u8,
    /// Outer VLAN id (0 when untagged).
    pub vlan: u16,
}

impl FlowKey {
    /// The key of a packet, and whether the packet's source is the `lo` endpoint.
    pub fn of(s: &Summary) -> (FlowKey, bool) {
        let src_is_lo = (s.src, s.sport) <= (s.dst, s.dport);
        let (lo_ip, lo_port, hi_ip, hi_port) = if src_is_lo {
            (s.src, s.sport, s.dst, s.dport)
        } else {
            (s.dst, s.dport, s.src, s.sport)
        };
        (
            FlowKey {
                lo_ip,
                hi_ip,
                lo_port,
                hi_port,
                proto: s.proto,
                vlan: s.vlan.unwrap_or(0),
            },
            src_is_lo,
        )
    }

    /// A hash that is the same for both directions of the flow.
    pub fn symmetric_hash(&self) -> u64 {
        let mut h = FxHasher::default();
        self.hash(&mut h);
        // FxHash's low bits are weak; fold the high half in.
        let v = h.finish();
        v ^ (v >> 29) ^ (v >> 47)
    }

    /// The worker (of `n`) that owns this flow.
    pub fn worker(&self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        ((u128::from(self.symmetric_hash()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{ip_from_v4, L3};

    fn summary(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Summary {
        Summary {
            l3: L3::Ipv4,
            src: ip_from_v4(src),
            dst: ip_from_v4(dst),
            sport,
            dport,
            proto: 6,
            vlan: None,
            src_mac: None,
            dst_mac: None,
            seq: 0,
            ack: 0,
            flags: 0,
            payload_off: 0,
            payload_len: 0,
        }
    }

    #[test]
    fn both_directions_share_key_and_worker() {
        let a = summary([10, 0, 0, 1], 40000, [10, 0, 0, 2], 502);
        let b = summary([10, 0, 0, 2], 502, [10, 0, 0, 1], 40000);
        let (ka, fa) = FlowKey::of(&a);
        let (kb, fb) = FlowKey::of(&b);
        assert_eq!(ka, kb);
        assert_ne!(fa, fb);
        for n in 1..9 {
            assert_eq!(ka.worker(n), kb.worker(n));
            assert!(ka.worker(n) < n);
        }
    }

    #[test]
    fn hash_spreads_flows_over_workers() {
        let mut counts = [0usize; 4];
        for port in 0..4000u16 {
            let (k, _) = FlowKey::of(&summary([10, 0, 0, 1], 1024 + port, [10, 0, 0, 2], 502));
            counts[k.worker(4)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 700), "{counts:?}");
    }
}
