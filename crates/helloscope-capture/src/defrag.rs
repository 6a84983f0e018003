//! IP reassembly: IPv4 fragments and IPv6 Fragment headers put back into datagrams before
//! their transport header (or the tunnel inside them) is read.
//!
//! The rules are a careful stack's: the first copy of a byte wins (Suricata's default
//! policy; later copies that disagree are counted as conflicts), a datagram is at most 65535
//! bytes, the bytes and datagrams held at once are bounded, and a datagram not complete
//! within the timeout (in packet time) is dropped. Every fragment that a bound turns away,
//! and every datagram dropped incomplete, is counted.

use std::net::IpAddr;
use std::time::Duration;

use std::collections::HashMap;

use crate::decode::{IpFragment, TunnelStack};

/// Largest reassembled payload: an IPv4 datagram's total length field bounds it to 65535
/// with its header; an IPv6 payload length to 65535.
pub const MAX_DATAGRAM: u32 = 65535;

/// Bounds of the reassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DefragConfig {
    /// Most fragment bytes held at once, all datagrams together.
    pub max_bytes: usize,
    /// Most datagrams being reassembled at once.
    pub max_datagrams: usize,
    /// A datagram still incomplete this long after its first fragment (packet time) is
    /// dropped.
    pub timeout: Duration,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            max_bytes: 16 << 20,
            max_datagrams: 4096,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What reassembly counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DefragStats {
    /// Fragments taken.
    pub fragments: u64,
    /// Datagrams put back together.
    pub reassembled: u64,
    /// Fragments whose bytes disagreed with bytes already held for the same place (the
    /// first copy was kept).
    pub overlap_conflicts: u64,
    /// Fragments turned away: past 65535 bytes, over the byte or datagram bound, a
    /// non-final fragment whose length is not a multiple of 8, or a second, different end.
    pub dropped: u64,
    /// Of those, the fragments turned away because the bytes held reached `max_bytes`.
    pub over_bytes: u64,
    /// Datagrams dropped incomplete: timed out, or still open at the end of the capture.
    pub incomplete: u64,
}

/// Identifies the fragments of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FragKey {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    id: u32,
    tunnel: u64,
}

/// A datagram being put back together.
#[derive(Debug)]
struct Datagram {
    data: Vec<u8>,
    /// Byte ranges held, sorted and disjoint.
    have: Vec<(u32, u32)>,
    /// The end given by the last fragment (M clear).
    end: Option<u32>,
    first_seen: Duration,
    tunnel: TunnelStack,
}

/// A whole datagram's payload, with what is needed to decode it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Reassembled {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The payload's protocol.
    pub protocol: u8,
    /// The payload (what followed the IP header, or IPv6's Fragment header).
    pub data: Vec<u8>,
    /// The encapsulations its fragments came through.
    pub tunnel: TunnelStack,
}

/// The datagrams being reassembled.
#[derive(Debug, Default)]
pub struct Defragmenter {
    cfg: DefragConfig,
    open: HashMap<FragKey, Datagram, ahash::RandomState>,
    held: usize,
    next_sweep: Duration,
    stats: DefragStats,
}

impl Defragmenter {
    /// An empty reassembler with the given bounds.
    pub fn new(cfg: DefragConfig) -> Self {
        Defragmenter {
            cfg,
            ..Default::default()
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Bytes held now.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// Datagrams open now.
    pub fn open_datagrams(&self) -> usize {
        self.open.len()
    }

    /// Takes a fragment seen at `ts`; returns its datagram when this fragment completes it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use helloscope_capture::decode::{decode_packet, Decoded, LinkType};
    /// use helloscope_capture::defrag::{DefragConfig, Defragmenter};
    /// // A raw IPv4 packet 10.0.0.1 -> 10.0.0.2, protocol 6, id 1, fragment `offset` (bytes).
    /// let packet = |offset: u16, more: bool, data: &[u8]| {
    ///     let len = (20 + data.len()) as u16;
    ///     let frag = (offset / 8) | if more { 0x2000 } else { 0 };
    ///     let mut p = vec![0x45, 0, (len >> 8) as u8, len as u8, 0, 1];
    ///     p.extend_from_slice(&frag.to_be_bytes());
    ///     p.extend_from_slice(&[64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    ///     p.extend_from_slice(data);
    ///     p
    /// };
    /// let mut d = Defragmenter::new(DefragConfig::default());
    /// let t = Duration::ZERO;
    /// let (last, first) = (packet(8, false, b"world"), packet(0, true, b"hello, w"));
    /// let Ok(Decoded::Fragment(f)) = decode_packet(LinkType::Raw, &last) else { panic!() };
    /// assert!(d.push(&f, t).is_none());
    /// let Ok(Decoded::Fragment(f)) = decode_packet(LinkType::Raw, &first) else { panic!() };
    /// let whole = d.push(&f, t).unwrap();
    /// assert_eq!(whole.data, b"hello, wworld");
    /// ```
    pub fn push(&mut self, f: &IpFragment<'_>, ts: Duration) -> Option<Reassembled> {
        self.stats.fragments += 1;
        if ts >= self.next_sweep {
            self.expire(ts);
            self.next_sweep = ts + Duration::from_secs(1);
        }
        let len = f.data.len() as u32;
        let end = f.offset.saturating_add(len);
        let key = FragKey {
            src: f.src,
            dst: f.dst,
            protocol: f.protocol,
            id: f.id,
            tunnel: f.tunnel.identity(),
        };
        // A fragment cut by the snap length cannot say where its datagram ends, nor give all
        // its bytes; a non-final fragment must carry a multiple of 8 bytes.
        if end > MAX_DATAGRAM || (f.more && !len.is_multiple_of(8)) || f.truncated {
            self.stats.dropped += 1;
            return None;
        }
        // What the datagram's buffer grows by (it is as long as the furthest byte received).
        let grows = match self.open.get(&key) {
            Some(d) => (end as usize).saturating_sub(d.data.len()),
            None if self.open.len() >= self.cfg.max_datagrams => {
                self.stats.dropped += 1;
                return None;
            }
            None => end as usize,
        };
        if self.held + grows > self.cfg.max_bytes {
            self.stats.dropped += 1;
            self.stats.over_bytes += 1;
            return None;
        }
        let d = self.open.entry(key).or_insert_with(|| Datagram {
            data: Vec::new(),
            have: Vec::new(),
            end: None,
            first_seen: ts,
            tunnel: f.tunnel,
        });
        if !f.more {
            match d.end {
                Some(e) if e != end => {
                    self.stats.dropped += 1;
                    return None;
                }
                _ => d.end = Some(end),
            }
        }
        if d.end.is_some_and(|e| end > e) {
            self.stats.dropped += 1;
            return None;
        }
        let before = d.data.len();
        if (end as usize) > d.data.len() {
            d.data.resize(end as usize, 0);
        }
        self.held += d.data.len() - before;
        if add(d, f.offset, f.data) {
            self.stats.overlap_conflicts += 1;
        }
        let complete = matches!((d.end, d.have.as_slice()), (Some(e), [(0, h)]) if *h == e);
        if !complete {
            return None;
        }
        let d = self.open.remove(&key)?;
        self.held -= d.data.len();
        self.stats.reassembled += 1;
        Some(Reassembled {
            src: f.src,
            dst: f.dst,
            protocol: f.protocol,
            data: d.data,
            tunnel: d.tunnel,
        })
    }

    /// Drops the datagrams whose first fragment came more than the timeout before `now`.
    fn expire(&mut self, now: Duration) {
        let timeout = self.cfg.timeout;
        let (mut gone, mut freed) = (0, 0);
        self.open.retain(|_, d| {
            let keep = d.first_seen + timeout >= now;
            if !keep {
                gone += 1;
                freed += d.data.len();
            }
            keep
        });
        self.stats.incomplete += gone;
        self.held -= freed;
    }

    /// Drops every open datagram (the capture ended), counting them as incomplete.
    pub fn flush(&mut self) {
        self.stats.incomplete += self.open.len() as u64;
        self.open.clear();
        self.held = 0;
    }
}

/// Copies the bytes of `data` at `offset` that are not held yet (the first copy wins), and
/// says whether any byte already held disagreed.
fn add(d: &mut Datagram, offset: u32, data: &[u8]) -> bool {
    let end = offset + data.len() as u32;
    let mut conflict = false;
    let mut at = offset;
    for &(s, e) in &d.have {
        if e <= at {
            continue;
        }
        if s >= end {
            break;
        }
        if s > at {
            let (a, b) = (at as usize, s as usize);
            d.data[a..b].copy_from_slice(&data[a - offset as usize..b - offset as usize]);
        }
        let (a, b) = (s.max(at) as usize, e.min(end) as usize);
        if d.data[a..b] != data[a - offset as usize..b - offset as usize] {
            conflict = true;
        }
        at = e.min(end);
    }
    if at < end {
        let (a, b) = (at as usize, end as usize);
        d.data[a..b].copy_from_slice(&data[a - offset as usize..]);
    }
    if offset < end {
        insert_range(&mut d.have, offset, end);
    }
    conflict
}

/// Adds `[s, e)` to sorted disjoint ranges, merging what touches it.
fn insert_range(have: &mut Vec<(u32, u32)>, mut s: u32, mut e: u32) {
    let first = have.partition_point(|r| r.1 < s);
    let mut last = first;
    while last < have.len() && have[last].0 <= e {
        s = s.min(have[last].0);
        e = e.max(have[last].1);
        last += 1;
    }
    have.splice(first..last, [(s, e)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u32, offset: u32, more: bool, data: &[u8]) -> IpFragment<'_> {
        IpFragment {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            protocol: 6,
            id,
            offset,
            more,
            data,
            truncated: false,
            tunnel: TunnelStack::new(),
        }
    }

    const T: Duration = Duration::from_secs(100);

    #[test]
    fn in_order_out_of_order_and_duplicates() {
        let whole: Vec<u8> = (0..40).collect();
        let parts = [(0, true), (8, true), (16, true), (24, true), (32, false)];
        for order in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3]] {
            let mut d = Defragmenter::new(DefragConfig::default());
            let mut got = None;
            for (n, &i) in order.iter().enumerate() {
                let (off, more) = parts[i];
                let piece = &whole[off as usize..][..8];
                if n < 4 {
                    // A duplicate changes nothing.
                    assert!(d.push(&frag(1, off, more, piece), T).is_none());
                }
                let r = d.push(&frag(1, off, more, piece), T);
                assert_eq!(r.is_some(), n == 4);
                got = got.or(r);
            }
            let got = got.expect("complete");
            assert_eq!(got.data, whole);
            assert_eq!(d.held_bytes(), 0);
            assert_eq!(d.stats().overlap_conflicts, 0);
        }
    }

    #[test]
    fn first_arrival_wins_and_conflicts_are_counted() {
        let mut d = Defragmenter::new(DefragConfig::default());
        assert!(d.push(&frag(1, 0, true, b"AAAAAAAA"), T).is_none());
        // Overlaps the first 8 bytes with other bytes, and adds 8 more.
        assert!(d.push(&frag(1, 0, true, b"BBBBBBBBCCCCCCCC"), T).is_none());
        let r = d.push(&frag(1, 16, false, b"DD"), T).unwrap();
        assert_eq!(r.data, b"AAAAAAAACCCCCCCCDD");
        assert_eq!(d.stats().overlap_conflicts, 1);
    }

    #[test]
    fn bounds_and_timeouts_are_counted() {
        let cfg = DefragConfig {
            max_bytes: 32,
            max_datagrams: 2,
            timeout: Duration::from_secs(30),
        };
        let mut d = Defragmenter::new(cfg);
        let eight = [0u8; 8];
        assert!(d.push(&frag(1, 0, true, &eight), T).is_none());
        assert!(d.push(&frag(2, 0, true, &eight), T).is_none());
        // A third datagram: over the datagram bound.
        assert!(d.push(&frag(3, 0, true, &eight), T).is_none());
        assert_eq!(d.stats().dropped, 1);
        // Past the byte bound: 24 more bytes, or a few bytes far into the datagram.
        assert!(d.push(&frag(1, 8, true, &[0; 24]), T).is_none());
        assert!(d.push(&frag(2, 4000, false, &[0; 1]), T).is_none());
        assert_eq!(d.stats().dropped, 3);
        assert_eq!(d.held_bytes(), 16);
        // Past 65535, misaligned.
        assert!(d.push(&frag(1, 65528, false, &[0; 16]), T).is_none());
        assert!(d.push(&frag(1, 8, true, &[0; 5]), T).is_none());
        assert_eq!(d.stats().dropped, 5);
        // 31 s later both open datagrams are dropped, and their bytes freed.
        assert!(d
            .push(&frag(9, 0, true, &eight), T + Duration::from_secs(31))
            .is_none());
        assert_eq!(d.stats().incomplete, 2);
        assert_eq!((d.open_datagrams(), d.held_bytes()), (1, 8));
        d.flush();
        assert_eq!(d.stats().incomplete, 3);
        assert_eq!(d.held_bytes(), 0);
    }

    #[test]
    fn the_tunnel_is_part_of_the_key() {
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut a = frag(1, 0, true, b"AAAAAAAA");
        a.tunnel.push(crate::decode::Tunnel::Vxlan(1));
        assert!(d.push(&a, T).is_none());
        // The same addresses and id without the tunnel: another datagram.
        assert!(d.push(&frag(1, 8, false, b"B"), T).is_none());
        let mut b = frag(1, 8, false, b"B");
        b.tunnel = a.tunnel;
        let r = d.push(&b, T).unwrap();
        assert_eq!((r.data.as_slice(), r.tunnel), (&b"AAAAAAAAB"[..], a.tunnel));
    }
}
