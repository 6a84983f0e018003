//! UDP: the datagrams of a frame, and the bounded table of UDP exchanges that carry a QUIC or
//! DTLS handshake.
//!
//! Only frames the TCP decoder turned down as not TCP come here, so the TCP path does not
//! change. A datagram that starts neither a QUIC Initial nor a DTLS ClientHello, and belongs
//! to no exchange in the table, costs a few byte comparisons (and a lookup while the table
//! holds exchanges) and no allocation.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use helloscope_tls::quic::looks_like_initial;
use helloscope_tls::Transport;

use crate::decode::{LinkType, TunnelStack};
use crate::flow::FlowConfig;
use crate::memory::{Bound, Bounds, Shed};
use crate::record::{emit_in_order, EndReason, FlowRecord};
use crate::stats::Stats;
use crate::udp_flow::UdpFlow;

pub use crate::decode::UdpDatagram;

/// The UDP datagram in a frame of link type `link`, through any tunnel the decoder reads;
/// `None` for anything else (and for IP fragments, which the [`crate::Analyzer`] reassembles).
///
/// ```
/// use helloscope_capture::{udp::decode_udp, LinkType};
/// let b = etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(5000, 443);
/// let mut frame = Vec::new();
/// b.write(&mut frame, b"hello").unwrap();
/// let d = decode_udp(LinkType::Raw, &frame).unwrap();
/// assert_eq!((d.src_port, d.dst_port, d.payload), (5000, 443, &b"hello"[..]));
/// ```
pub fn decode_udp(link: LinkType, frame: &[u8]) -> Option<UdpDatagram<'_>> {
    match crate::decode::decode_packet(link, frame) {
        Ok(crate::decode::Decoded::Udp(d)) => Some(d),
        _ => None,
    }
}

/// An exchange's identity, the same both ways: the two endpoints in a fixed order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct UdpKey(SocketAddr, SocketAddr, u64);

impl UdpKey {
    /// `tunnel`: the identity of the encapsulations it came through, so one exchange seen on
    /// two mirrored paths is two.
    fn of(a: SocketAddr, b: SocketAddr, tunnel: u64) -> Self {
        if a <= b {
            UdpKey(a, b, tunnel)
        } else {
            UdpKey(b, a, tunnel)
        }
    }
}

/// The UDP exchanges being followed: QUIC connections and DTLS associations, bounded in
/// number by [`FlowConfig::max_flows`] and in bytes by its buffer limits, evicted after
/// [`FlowConfig::idle_timeout`] of packet time.
pub(crate) struct UdpTable {
    cfg: FlowConfig,
    flows: HashMap<UdpKey, UdpFlow>,
    /// Exchanges already reported, with when they were last seen: their later datagrams (a
    /// QUIC client's retransmitted Initial, a DTLS retransmission) must not start them again.
    /// As bounded as `flows`, and emptied of idle entries with it.
    done: HashMap<UdpKey, Duration>,
    buffered: usize,
    /// Most exchanges followed (and as many remembered), and most bytes buffered: the options
    /// or the memory bound's shares.
    max_flows: Bound,
    max_done: Bound,
    max_buffered: Bound,
    now: Duration,
    next_sweep: Duration,
}

/// The slot of a followed exchange (with its control byte), what it holds beyond its buffers
/// (counted apart: its reader's box), and the slot of a remembered one.
pub(crate) fn entry_cost() -> (usize, usize, usize) {
    (
        std::mem::size_of::<(UdpKey, UdpFlow)>() + 1,
        256,
        std::mem::size_of::<(UdpKey, Duration)>() + 1,
    )
}

impl UdpTable {
    pub(crate) fn new(cfg: FlowConfig) -> Self {
        let bounds = Bounds::of(&cfg);
        UdpTable {
            max_flows: bounds.udp,
            max_done: bounds.udp_done,
            max_buffered: bounds.udp_buffers,
            cfg,
            flows: HashMap::new(),
            done: HashMap::new(),
            buffered: 0,
            now: Duration::ZERO,
            next_sweep: Duration::ZERO,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.flows.len()
    }

    /// Takes one UDP datagram from `src:sport` to `dst:dport`, captured at `ts`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_datagram(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        sport: u16,
        dport: u16,
        payload: &[u8],
        tunnel: TunnelStack,
        ts: Duration,
        stats: &mut Stats,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        stats.udp_datagrams += 1;
        self.now = self.now.max(ts);
        if self.now >= self.next_sweep {
            self.sweep(stats, emit);
        }
        let (from, to) = (SocketAddr::new(src, sport), SocketAddr::new(dst, dport));
        let key = UdpKey::of(from, to, tunnel.identity());
        if !self.flows.is_empty() || !self.done.is_empty() {
            if let Some(flow) = self.flows.get_mut(&key) {
                let before = flow.buffered();
                let decided = flow.on_datagram(from, payload, ts, stats);
                let after = flow.buffered();
                self.buffered = self.buffered - before + after;
                if decided || self.buffered > self.max_buffered.max {
                    let mut flow = self.flows.remove(&key).unwrap_or_else(|| unreachable!());
                    self.buffered -= after;
                    if !decided {
                        stats.buffers_shed += 1;
                        flow.buffer_limit = true;
                        if self.max_buffered.by_memory {
                            stats.shed_memory(Shed::Buffers, 1, &self.cfg.notice);
                        }
                    }
                    stats.note_flow_end(flow.record(EndReason::Decided), emit);
                    self.remember_done(key, stats);
                }
                return;
            }
            if let Some(seen) = self.done.get_mut(&key) {
                *seen = self.now;
                stats.packets_fast_path += 1;
                return;
            }
        }
        let transport = if looks_like_initial(payload) {
            Transport::Quic
        } else if helloscope_tls::dtls::looks_like_client_hello(payload) {
            Transport::Dtls
        } else {
            return;
        };
        let limit = self.cfg.max_buffer_per_direction;
        let Some(mut flow) = UdpFlow::start(transport, from, to, payload, ts, limit, stats) else {
            stats.udp_not_handshake += 1;
            return;
        };
        flow.tunnel = tunnel;
        match transport {
            Transport::Quic => stats.flows_quic += 1,
            _ => stats.flows_dtls += 1,
        }
        if flow.decided() {
            stats.note_flow_end(flow.record(EndReason::Decided), emit);
            self.remember_done(key, stats);
            return;
        }
        if self.flows.len() >= self.max_flows.max {
            self.evict_oldest(stats, emit);
        }
        self.buffered += flow.buffered();
        self.flows.insert(key, flow);
        stats.udp_flows_peak = stats.udp_flows_peak.max(self.flows.len() as u64);
    }

    fn remember_done(&mut self, key: UdpKey, stats: &mut Stats) {
        if self.done.len() >= self.max_done.max {
            // Forgetting them all costs at worst a duplicate record for a late retransmission.
            if self.max_done.by_memory {
                let n = self.done.len() as u64;
                stats.shed_memory(Shed::UdpExchanges, n, &self.cfg.notice);
            }
            self.done.clear();
        }
        self.done.insert(key, self.now);
    }

    /// Makes room for one exchange: the one idle longest goes (and is reported).
    fn evict_oldest(&mut self, stats: &mut Stats, emit: &mut impl FnMut(FlowRecord)) {
        let Some(key) = self
            .flows
            .iter()
            // Ties broken by the key: not by the map's (random) order.
            .min_by_key(|(k, f)| (f.last_seen, **k))
            .map(|(k, _)| *k)
        else {
            return;
        };
        if let Some(mut f) = self.flows.remove(&key) {
            self.buffered -= f.buffered();
            stats.evicted_table_full += 1;
            if self.max_flows.by_memory {
                stats.shed_memory(Shed::UdpExchanges, 1, &self.cfg.notice);
            }
            stats.note_flow_end(f.record(EndReason::TableFull), emit);
        }
    }

    /// Reports and forgets the exchanges idle for longer than the timeout.
    fn sweep(&mut self, stats: &mut Stats, emit: &mut impl FnMut(FlowRecord)) {
        let timeout = self.cfg.idle_timeout;
        self.next_sweep = self.now + (timeout / 4).max(Duration::from_secs(1));
        let Some(limit) = self.now.checked_sub(timeout) else {
            return;
        };
        self.done.retain(|_, seen| *seen >= limit);
        let buffered = &mut self.buffered;
        let mut records = Vec::new();
        self.flows.retain(|_, f| {
            if f.last_seen >= limit {
                return true;
            }
            *buffered -= f.buffered();
            stats.evicted_idle += 1;
            stats.note_flow_end(f.record(EndReason::IdleTimeout), &mut |r| records.push(r));
            false
        });
        emit_in_order(&mut records, emit);
    }

    /// Reports every exchange still open and empties the table.
    pub(crate) fn flush(&mut self, stats: &mut Stats, emit: &mut impl FnMut(FlowRecord)) {
        self.buffered = 0;
        self.done.clear();
        let mut records = Vec::new();
        for (_, mut f) in self.flows.drain() {
            stats.note_flow_end(f.record(EndReason::EndOfCapture), &mut |r| records.push(r));
        }
        emit_in_order(&mut records, emit);
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use super::*;

    fn initial() -> Vec<u8> {
        helloscope_tls::doc_sample::quic_client_initial()
    }

    fn feed(
        t: &mut UdpTable,
        sport: u16,
        payload: &[u8],
        secs: u64,
        stats: &mut Stats,
        out: &mut Vec<FlowRecord>,
    ) {
        let (c, s): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        t.on_datagram(
            c,
            s,
            sport,
            443,
            payload,
            TunnelStack::new(),
            Duration::from_secs(secs),
            stats,
            &mut |r| out.push(r),
        );
    }

    #[test]
    fn other_datagrams_make_no_flow() {
        let mut t = UdpTable::new(FlowConfig::default());
        let (mut stats, mut out) = (Stats::default(), Vec::new());
        // DNS-like, empty, and something that starts like a QUIC Initial but does not open.
        let mut fake = initial();
        fake[100] ^= 0xff;
        for p in [&b"\x12\x34\x01\x00\x00\x01"[..], b"", &fake] {
            feed(&mut t, 5000, p, 1, &mut stats, &mut out);
        }
        assert_eq!(t.len(), 0);
        assert_eq!(stats.udp_datagrams, 3);
        assert_eq!(stats.udp_not_handshake, 1);
        assert!(out.is_empty());
    }

    #[test]
    fn table_is_bounded_and_times_out() {
        let cfg = FlowConfig {
            max_flows: 2,
            idle_timeout: Duration::from_secs(60),
            ..FlowConfig::default()
        };
        let mut t = UdpTable::new(cfg);
        let (mut stats, mut out) = (Stats::default(), Vec::new());
        for port in 0..5 {
            feed(
                &mut t,
                6000 + port,
                &initial(),
                10 + u64::from(port),
                &mut stats,
                &mut out,
            );
            assert!(t.len() <= 2);
        }
        assert_eq!(stats.evicted_table_full, 3);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|r| r.end == EndReason::TableFull));
        // Far later, any datagram sweeps the idle ones out.
        feed(&mut t, 7000, b"x", 1000, &mut stats, &mut out);
        assert_eq!(t.len(), 0);
        assert_eq!(stats.evicted_idle, 2);
        assert_eq!(out.len(), 5);
        for r in &out {
            assert_eq!(r.transport, Transport::Quic);
            assert_eq!(r.quic_version, Some(1));
            assert_eq!(r.outcome.name(), "no_response");
            let ch = r.client_hello.as_ref().unwrap();
            assert_eq!(ch.sni.as_deref(), Some("example.com"));
            assert!(ch.ja4.as_deref().unwrap().starts_with("q13d"));
        }
    }

    /// A DTLS ClientHello record: one suite, null compression, no extensions.
    fn dtls_client_hello() -> Vec<u8> {
        let mut body = vec![0xfe, 0xfd];
        body.extend([0u8; 32]);
        body.extend([0, 0, 0, 2, 0xc0, 0x2b, 1, 0]);
        let n = body.len() as u8;
        let mut d = vec![22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, n + 12];
        d.extend([1, 0, 0, n, 0, 0, 0, 0, 0, 0, 0, n]);
        d.extend(&body);
        d
    }

    /// An exchange decided by the server's alert is reported once: the client's
    /// retransmitted ClientHello does not start it again until it has been idle past the
    /// timeout.
    #[test]
    fn decided_exchanges_are_reported_once() {
        let mut t = UdpTable::new(FlowConfig::default());
        let (mut stats, mut out) = (Stats::default(), Vec::new());
        let (c, s): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let mut at = |t: &mut UdpTable, from_client: bool, p: &[u8], secs: u64| {
            let (a, b, pa, pb) = if from_client {
                (c, s, 6000, 443)
            } else {
                (s, c, 443, 6000)
            };
            t.on_datagram(
                a,
                b,
                pa,
                pb,
                p,
                TunnelStack::new(),
                Duration::from_secs(secs),
                &mut stats,
                &mut |r| out.push(r),
            );
        };
        let hello = dtls_client_hello();
        let alert = [21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 70];
        at(&mut t, true, &hello, 1);
        at(&mut t, false, &alert, 1);
        at(&mut t, true, &hello, 2);
        assert_eq!(t.len(), 0);
        at(&mut t, true, &hello, 1000);
        assert_eq!(t.len(), 1);
        assert_eq!(stats.flows_dtls, 2);
        assert_eq!(stats.packets_fast_path, 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].transport, Transport::Dtls);
        assert_eq!(out[0].outcome.name(), "alert");
        assert_eq!(out[0].end, EndReason::Decided);
    }

    #[test]
    fn decode_udp_over_link_types() {
        let b = etherparse::PacketBuilder::ipv6([1; 16], [2; 16], 64).udp(1, 2);
        let mut ip = Vec::new();
        b.write(&mut ip, b"payload").unwrap();
        // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address.
        let mut sll2 = vec![
            0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        sll2.extend(&ip);
        // BSD loopback: AF_INET6 = 24 in host (little-endian) order.
        let mut null = 24u32.to_le_bytes().to_vec();
        null.extend(&ip);
        for (link, frame) in [
            (LinkType::Raw, &ip),
            (LinkType::LinuxSll2, &sll2),
            (LinkType::Null, &null),
        ] {
            let d = decode_udp(link, frame).unwrap();
            assert_eq!((d.src_port, d.dst_port, d.payload), (1, 2, &b"payload"[..]));
        }
        assert!(decode_udp(LinkType::Raw, &ip[..30]).is_none());
    }
}
