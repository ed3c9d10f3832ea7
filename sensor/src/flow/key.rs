//! Flow keys: the canonical (direction-independent) 5-tuple plus VLAN, and their hash, which
//! sends both directions of a flow to the same worker and indexes the worker's flow table.

use std::hash::Hash;

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
}

/// A flow key with its hash, computed once per packet (by the dispatcher, which picks the
/// flow's worker from it) and carried with the packet to the worker's flow table, which
/// indexes flows by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hashed {
    /// The key.
    pub key: FlowKey,
    /// Its hash by the run's [`FlowHasher`].
    pub hash: u64,
}

/// The hash of flow keys. Keyed (aHash): flow keys come from the network, and a keyed hash
/// resists chosen collisions. Live capture draws its keys at random, so nobody can compute
/// colliding flows for the sensor's tables; replay uses fixed keys, so a file gives the same
/// output every run (which worker owns a flow decides what a flood evicts at that worker's
/// cap). Keys are canonical, so the hash is the same for both directions of a flow.
#[derive(Debug, Clone)]
pub struct FlowHasher(ahash::RandomState);

impl FlowHasher {
    /// Random keys (live capture).
    pub fn random() -> FlowHasher {
        FlowHasher(ahash::RandomState::new())
    }

    /// Fixed keys (replay): the same hashes in every run of this build.
    pub fn fixed() -> FlowHasher {
        FlowHasher(ahash::RandomState::with_seeds(
            0x6f74_7365_6e73_6f72,
            0x243f_6a88_85a3_08d3,
            0x1319_8a2e_0370_7344,
            0xa409_3822_299f_31d0,
        ))
    }

    /// The key with its hash.
    pub fn hashed(&self, key: FlowKey) -> Hashed {
        Hashed {
            key,
            hash: self.0.hash_one(key),
        }
    }

    /// The hash of a packet's flow key.
    pub fn packet(&self, s: &Summary) -> u64 {
        self.hashed(FlowKey::of(s).0).hash
    }

    /// The hash of any other value by the same keys (e.g. a substation stream's id).
    pub fn hash_one(&self, x: impl Hash) -> u64 {
        self.0.hash_one(x)
    }
}

/// The worker (of `n`) that owns the flow of hash `hash`: from bits 24-55, which the flow
/// table's bucket index (the low bits) and control tags (the top 7) leave alone, so the flows
/// of one worker still spread over its whole table.
pub fn worker_of(hash: u64, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    ((((hash >> 24) & 0xffff_ffff) * n as u64) >> 32) as usize
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
        for h in [FlowHasher::fixed(), FlowHasher::random()] {
            let (ha, hb) = (h.hashed(ka), h.hashed(kb));
            assert_eq!(ha, hb);
            for n in 1..9 {
                assert!(worker_of(ha.hash, n) < n);
            }
        }
        // Replay's keys are the same in every run; live capture's differ.
        assert_eq!(
            FlowHasher::fixed().hashed(ka),
            FlowHasher::fixed().hashed(ka)
        );
        assert_ne!(
            FlowHasher::random().hashed(ka),
            FlowHasher::random().hashed(ka)
        );
    }

    #[test]
    fn hash_spreads_flows_over_workers_and_buckets() {
        for h in [FlowHasher::fixed(), FlowHasher::random()] {
            let mut counts = [0usize; 4];
            // The flows of one worker still use every bucket of a 1,024-bucket table.
            let mut buckets = vec![0usize; 1024];
            for port in 0..8000u16 {
                let (k, _) = FlowKey::of(&summary([10, 0, 0, 1], 1024 + port, [10, 0, 0, 2], 502));
                let x = h.hashed(k).hash;
                let w = worker_of(x, 4);
                counts[w] += 1;
                if w == 0 {
                    buckets[(x & 1023) as usize] += 1;
                }
            }
            assert!(counts.iter().all(|&c| c > 1700), "{counts:?}");
            let used = buckets.iter().filter(|&&b| b > 0).count();
            assert!(used > 800, "{used} of 1024 buckets");
        }
    }
}
