//! # helloscope-capture
//!
//! Packets to TLS flows: capture files (pcap and pcapng with any number of interfaces, plain
//! or gzip/zstd/lz4 compressed, read by this crate) and live interfaces (libpcap), L2–L4
//! decoding with etherparse through tunnels (IP in IP, GRE, ERSPAN, VXLAN, GENEVE, GTP-U,
//! MPLS), IP reassembly, reassembly of the handshake bytes of each TCP direction, a bounded
//! flow table with idle timeouts in packet time, and one [`FlowRecord`] per TLS flow saying what the
//! client offered, what the server chose, and how the handshake ended.
//!
//! TLS is recognised by content (a ClientHello as the client's first bytes), on any port;
//! so are QUIC (a client Initial that decrypts) and DTLS (a ClientHello record) over UDP,
//! followed in a table of their own ([`udp`]) with the same bounds.
//!
//! ```no_run
//! use helloscope_capture::{Analyzer, FlowConfig, PacketSource};
//! let mut source = PacketSource::open_file("capture.pcap")?;
//! let mut analyzer = Analyzer::new(FlowConfig::default());
//! let mut print = |r: helloscope_capture::FlowRecord| {
//!     let ch = r.client_hello.as_ref();
//!     println!("{} -> {} offers {:?}: {}", r.client, r.server,
//!              ch.map(|c| c.version_offered_max), r.outcome.name());
//! };
//! analyzer.run(&mut source, &mut print)?;
//! analyzer.finish(&mut print);
//! # Ok::<(), helloscope_capture::SourceError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod decode;
pub mod defrag;
mod fingerprint_cache;
mod finished;
mod flow;
pub mod memory;
mod pcapfile;
mod pcapng;
pub mod reassembly;
pub mod record;
pub mod sharded;
pub mod source;
pub mod stats;
mod stream;
mod tls_stream;
pub mod udp;
mod udp_flow;

use std::time::Duration;

pub use decode::{
    decode_packet, decode_tcp, DecodeError, DecodeSkip, Decoded, Layer, LenError, LinkType,
    TcpSegment, Tunnel, TunnelStack, UdpDatagram,
};
pub use flow::FlowConfig;
pub use pcapfile::{FileStructure, ReadError};
pub use record::{
    ClientHelloSummary, EndReason, FlowFlags, FlowRecord, Outcome, ServerHelloSummary, Side,
};
pub use source::{CaptureStats, LiveConfig, Packet, PacketSource, SourceError};
pub use stats::Stats;

/// The last packet time accepted: 9999-12-31T23:59:59.999999Z, the last instant RFC 3339 (and
/// so every output format) can write. A frame stamped later is skipped and counted as
/// `timestamp_out_of_range`.
pub const MAX_TIMESTAMP: Duration = Duration::new(253_402_300_799, 999_999_999);

/// Turns frames into flow records.
pub struct Analyzer {
    table: flow::FlowTable,
    udp: udp::UdpTable,
    stats: Stats,
    defrag: defrag::Defragmenter,
    /// This analyzer's shard and the number of shards, when it follows only its share of the
    /// flows (`--threads`): fragments go to every shard, and each keeps only the reassembled
    /// datagrams of its own flows.
    shard: Option<(usize, usize)>,
    /// The IP fragments' byte bound is the memory bound's share.
    fragments_by_memory: bool,
}

/// Reassembled datagrams inside reassembled datagrams (a fragmented tunnel carrying
/// fragments) followed at most this deep.
const MAX_NESTED_REASSEMBLY: usize = 4;

impl Analyzer {
    /// An analyzer with the given table bounds.
    pub fn new(mut cfg: FlowConfig) -> Self {
        let fragments = memory::Bounds::of(&cfg).fragments;
        cfg.defrag.max_bytes = fragments.max;
        Analyzer {
            fragments_by_memory: fragments.by_memory,
            defrag: defrag::Defragmenter::new(cfg.defrag),
            udp: udp::UdpTable::new(cfg.clone()),
            table: flow::FlowTable::new(cfg),
            stats: Stats::default(),
            shard: None,
        }
    }

    /// Makes this analyzer shard `index` of `count` (see [`sharded`]): it must then be given
    /// every IP fragment as well as its own packets, and it follows only the reassembled
    /// datagrams whose flow is its own. Fragments are counted by shard 0 alone, so that the
    /// merged counters are those of one analyzer.
    pub fn set_shard(&mut self, index: usize, count: usize) {
        self.shard = (count > 1).then_some((index, count));
    }

    /// Makes this analyzer a worker whose TCP table's clock the reader of the capture keeps
    /// ([`sharded::ReaderClock`]), so that workers handle every segment at the time one
    /// analyzer would: each packet at its own time unless [`Self::process_at`] says
    /// otherwise, idle flows swept only by [`Self::sweep_at`].
    pub fn drive_clock(&mut self) {
        self.table.drive_clock();
    }

    /// [`Self::process`] for an analyzer whose clock is driven ([`Self::drive_clock`]): a
    /// segment the reader's clock handles at `at` rather than its own time `ts` (an outlier,
    /// counted here).
    pub fn process_at(
        &mut self,
        ts: Duration,
        at: Duration,
        link: LinkType,
        frame: &[u8],
        emit: &mut impl FnMut(FlowRecord),
    ) {
        self.table.force_at(at);
        self.process(ts, link, frame, emit);
        self.table.unforce();
    }

    /// For an analyzer whose clock is driven ([`Self::drive_clock`]): the idle sweep the
    /// reader's clock made at `now`, before the packets after it.
    pub fn sweep_at(&mut self, now: Duration, emit: &mut impl FnMut(FlowRecord)) {
        self.table.sweep_at(now, &mut self.stats, emit);
    }

    /// Takes one frame of link type `link` captured at `ts`; `emit` receives each flow record
    /// as soon as the flow is decided.
    // Always: the CLI calls it from three loops, and out of line it cost 4 % of a whole run.
    #[inline(always)]
    pub fn process(
        &mut self,
        ts: Duration,
        link: LinkType,
        frame: &[u8],
        emit: &mut impl FnMut(FlowRecord),
    ) {
        self.stats.packets += 1;
        self.stats.bytes += frame.len() as u64;
        // Seconds alone decide it: MAX_TIMESTAMP ends its second.
        if ts.as_secs() > MAX_TIMESTAMP.as_secs() {
            self.stats.skip(DecodeSkip::TimestampOutOfRange);
            return;
        }
        // Plain Ethernet/IP/TCP first, straight to the flow table: no tunnel to count, no
        // `Decoded` to build and match. Everything else (tunnels, fragments, UDP, other link
        // types, malformed frames) takes the general decoder, out of line.
        match decode::fast(link, frame) {
            Some(seg) => {
                self.stats.tcp_segments += 1;
                self.table_segment(&seg, ts, emit);
            }
            None => self.process_general(ts, link, frame, emit),
        }
    }

    /// [`Self::process`] for a frame the fast path does not read.
    #[inline(never)]
    fn process_general(
        &mut self,
        ts: Duration,
        link: LinkType,
        frame: &[u8],
        emit: &mut impl FnMut(FlowRecord),
    ) {
        match decode::decode_general(link, frame) {
            Ok(Decoded::Tcp(seg)) => self.on_segment(&seg, ts, emit),
            Ok(Decoded::Udp(d)) => self.on_udp(&d, ts, emit),
            Ok(Decoded::Fragment(f)) => self.on_fragment(&f, frame.len(), ts, emit),
            Err(e) => self.stats.skip_error(e),
        }
    }

    /// Hands a segment to the flow table, and copies the table's counters.
    #[inline(always)]
    fn table_segment(
        &mut self,
        seg: &TcpSegment<'_>,
        ts: Duration,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        self.table.on_segment(seg, ts, &mut self.stats, emit);
        // Kept by the table, which looks hellos up where no counters are at hand.
        (
            self.stats.fingerprints_reused,
            self.stats.fingerprints_reused_but_ja3,
        ) = self.table.fingerprints_reused();
    }

    #[inline]
    fn on_segment(
        &mut self,
        seg: &TcpSegment<'_>,
        ts: Duration,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        self.stats.tcp_segments += 1;
        self.stats.tunnelled_segments += u64::from(!seg.tunnel.is_empty());
        self.table_segment(seg, ts, emit);
    }

    /// Shard 0 (or an unsharded analyzer) counts what every shard sees alike.
    fn counts_shared(&self) -> bool {
        self.shard.is_none_or(|(i, _)| i == 0)
    }

    #[cold]
    #[inline(never)]
    fn on_fragment(
        &mut self,
        f: &decode::IpFragment<'_>,
        frame_len: usize,
        ts: Duration,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        let shared = self.counts_shared();
        if !shared {
            self.stats.packets -= 1;
            self.stats.bytes -= frame_len as u64;
        }
        let mut whole = self.defrag.push(f, ts);
        let mut depth = 0;
        while let Some(d) = whole.take() {
            depth += 1;
            match decode::decode_reassembled(d.src, d.dst, d.protocol, &d.data, d.tunnel) {
                Ok(Decoded::Tcp(seg)) => {
                    let mine = self
                        .shard
                        .is_none_or(|(i, n)| sharded::shard_of_segment(&seg, n) == i);
                    if mine {
                        self.on_segment(&seg, ts, emit);
                    }
                }
                Ok(Decoded::Fragment(inner)) if depth < MAX_NESTED_REASSEMBLY => {
                    whole = self.defrag.push(&inner, ts);
                }
                Ok(Decoded::Fragment(_)) if shared => self.stats.skip(DecodeSkip::TooDeep),
                Ok(Decoded::Udp(u)) if shared => self.on_udp(&u, ts, emit),
                Err(e) if shared => self.stats.skip_error(e),
                _ => {}
            }
        }
        if shared {
            self.set_defrag();
        }
    }

    /// Takes the defragmenter's counters (they are totals so far).
    fn set_defrag(&mut self) {
        let d = self.defrag.stats();
        self.stats.set_defrag(d);
        if self.fragments_by_memory && d.over_bytes > 0 {
            let n = self
                .stats
                .memory_shed
                .entry(memory::Shed::IpFragments.name());
            let before = std::mem::replace(n.or_insert(0), d.over_bytes);
            if before == 0 {
                self.table.cfg.notice.shed(memory::Shed::IpFragments);
            }
        }
    }

    /// Takes the fingerprint cache's count of times it was emptied for memory.
    fn sync_fingerprints_shed(&mut self) {
        let n = self.table.fingerprints_shed();
        if n > 0 {
            self.stats
                .memory_shed
                .insert(memory::Shed::Fingerprints.name(), n);
        }
    }

    /// A UDP datagram, found by the general decoder (through any tunnel): QUIC and DTLS are
    /// looked for by content. With `--threads`, shard 0 takes every datagram (the shard
    /// router sends it there).
    #[cold]
    #[inline(never)]
    fn on_udp(&mut self, d: &UdpDatagram<'_>, ts: Duration, emit: &mut impl FnMut(FlowRecord)) {
        self.udp.on_datagram(
            d.src,
            d.dst,
            d.src_port,
            d.dst_port,
            d.payload,
            d.tunnel,
            ts,
            &mut self.stats,
            emit,
        );
    }

    /// Takes one UDP datagram from `src:sport` to `dst:dport` captured at `ts`: QUIC and DTLS
    /// handshakes are found by content, on any port.
    ///
    /// ```
    /// use helloscope_capture::{Analyzer, FlowConfig};
    /// # let initial = helloscope_tls::doc_sample::quic_client_initial();
    /// let mut a = Analyzer::new(FlowConfig::default());
    /// let mut records = Vec::new();
    /// let (c, s) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
    /// // `initial`: a QUIC client Initial (RFC 9001 Appendix A.2).
    /// a.on_datagram(c, s, 50000, 443, &initial, std::time::Duration::ZERO, &mut |r| records.push(r));
    /// a.finish(&mut |r| records.push(r));
    /// assert_eq!(records[0].transport.name(), "quic");
    /// assert_eq!(records[0].outcome.name(), "no_response");
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn on_datagram(
        &mut self,
        src: std::net::IpAddr,
        dst: std::net::IpAddr,
        sport: u16,
        dport: u16,
        payload: &[u8],
        ts: Duration,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        let plain = decode::TunnelStack::new();
        self.udp.on_datagram(
            src,
            dst,
            sport,
            dport,
            payload,
            plain,
            ts,
            &mut self.stats,
            emit,
        );
    }

    /// Reads `source` to its end (or, for a live source, until `source` has nothing more),
    /// processing every packet with its own link type; packets of link types not decoded are
    /// counted (`unsupported_link_type`). A damaged file stops the read with an error;
    /// everything read before it has been processed and the flows are still in the table.
    pub fn run(
        &mut self,
        source: &mut PacketSource,
        emit: &mut impl FnMut(FlowRecord),
    ) -> Result<(), SourceError> {
        let r = loop {
            match source.next_packet() {
                Ok(Some(p)) => self.process(p.ts, p.link, p.data, emit),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.stats.merge(&source.take_skipped());
        r
    }

    /// Tells the analyzer the time `now` (since the Unix epoch, as packet times) when no
    /// packet came: flows idle for longer than the timeout are reported (with
    /// [`EndReason::IdleTimeout`]) without waiting for a packet to move the clock. A live
    /// capture calls it with the wall-clock time at least once a second; a time behind the
    /// table's clock changes nothing.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    /// use helloscope_capture::{Analyzer, FlowConfig};
    /// let mut analyzer = Analyzer::new(FlowConfig::default());
    /// let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    /// analyzer.tick(now, &mut |r| println!("{} timed out", r.client));
    /// ```
    pub fn tick(&mut self, now: Duration, emit: &mut impl FnMut(FlowRecord)) {
        self.table.tick(now, &mut self.stats, emit);
        self.sync_fingerprints_shed();
    }

    /// Reports every flow still open (with [`EndReason::EndOfCapture`]) and empties the table.
    pub fn finish(&mut self, emit: &mut impl FnMut(FlowRecord)) {
        self.defrag.flush();
        if self.counts_shared() {
            self.set_defrag();
        }
        self.table.flush(&mut self.stats, emit);
        self.udp.flush(&mut self.stats, emit);
        self.sync_fingerprints_shed();
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Entries in the flow table now.
    pub fn flows_in_table(&self) -> usize {
        self.table.len() + self.udp.len()
    }

    /// The table bounds in force.
    pub fn config(&self) -> &FlowConfig {
        &self.table.cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    /// The client's side of the first connection of a real capture, up to and including its
    /// ClientHello: a TLS flow left waiting for the server. Returns the frames and the time
    /// of the last.
    fn client_side_until_hello() -> (Vec<(Duration, Vec<u8>)>, LinkType) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../captures/openssl.pcap");
        let mut src = PacketSource::open_file(path).unwrap();
        let link = src.link_type();
        let mut frames = Vec::new();
        let mut conn = None;
        while let Some(p) = src.next_packet().unwrap() {
            let Ok(seg) = decode_tcp(link, p.data) else {
                continue;
            };
            let ends = ((seg.src, seg.src_port), (seg.dst, seg.dst_port));
            if conn.is_none() && seg.syn && !seg.ack {
                conn = Some(ends);
            }
            if conn == Some(ends) {
                frames.push((p.ts, p.data.to_vec()));
                if !seg.payload.is_empty() {
                    return (frames, link);
                }
            }
        }
        panic!("openssl.pcap starts a connection with a ClientHello");
    }

    /// On a quiet link no packet moves the clock: a tick does, and the flow idle past the
    /// timeout is reported with no packet; a tick before the timeout or behind the clock
    /// reports nothing.
    #[test]
    fn tick_reports_idle_flows_without_a_packet() {
        let (frames, link) = client_side_until_hello();
        let cfg = FlowConfig::default();
        let timeout = cfg.idle_timeout;
        let mut a = Analyzer::new(cfg);
        let mut out = Vec::new();
        for (ts, f) in &frames {
            a.process(*ts, link, f, &mut |r| out.push(r));
        }
        let last = frames.last().unwrap().0;
        assert!(out.is_empty(), "the flow waits for its ServerHello");
        assert_eq!(a.flows_in_table(), 1);

        a.tick(last - Duration::from_secs(5), &mut |r| out.push(r));
        a.tick(last + timeout - Duration::from_secs(1), &mut |r| {
            out.push(r)
        });
        assert!(out.is_empty(), "not idle for the timeout yet");
        assert_eq!(a.flows_in_table(), 1);

        // Ticks once a second, as `sniff` does: the sweep runs every quarter timeout, so the
        // flow is reported within that much after its timeout.
        let mut t = last + timeout - Duration::from_secs(1);
        while out.is_empty() && t < last + timeout * 2 {
            t += Duration::from_secs(1);
            a.tick(t, &mut |r| out.push(r));
        }
        assert_eq!(out.len(), 1, "reported by a tick");
        assert!(t > last + timeout && t <= last + timeout + timeout / 4 + Duration::from_secs(1));
        let r = &out[0];
        assert_eq!(r.end, EndReason::IdleTimeout);
        assert_eq!(r.last_seen, last);
        assert!(r.client_hello.is_some() && r.server_hello.is_none());
        assert_eq!(a.flows_in_table(), 0);
        assert_eq!(a.stats().evicted_idle, 1);
        assert_eq!(a.stats().records, 1);
    }

    /// An IPv4 TCP segment from `src`:`sport` to 192.0.2.1:443 (or back, `to_client`).
    fn segment(src: [u8; 4], sport: u16, to_client: bool, syn: bool, payload: &[u8]) -> Vec<u8> {
        let server = [192, 0, 2, 1];
        // A SYN takes one sequence number: the data after it starts one on.
        let seq = |isn: u32| if syn { isn } else { isn + 1 };
        let b = if to_client {
            etherparse::PacketBuilder::ipv4(server, src, 64).tcp(443, sport, seq(5000), 65535)
        } else {
            etherparse::PacketBuilder::ipv4(src, server, 64).tcp(sport, 443, seq(1000), 65535)
        };
        let b = if syn && to_client {
            b.syn().ack(1001)
        } else if syn {
            b.syn()
        } else if to_client {
            b.ack(1001)
        } else {
            b.ack(5001)
        };
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    /// Found on corpus captures: the records of the flows still open at the end, and of one
    /// idle sweep, came out in the order of the table's hash, whose key is random per run. A
    /// capture of flows that each send a ClientHello and wait: the first lot goes idle and
    /// is swept when a later flow arrives, the second lot is open at the end. Each lot comes
    /// out in the order its flows began (two that began in the same microsecond by client
    /// address), the same under every table's key.
    #[test]
    fn records_emitted_at_once_come_in_first_seen_order() {
        let hello = include_bytes!("../../helloscope-tls/testdata/curl-7.88.1-clienthello.bin");
        // (client address, port, start second): neither address nor port in start order;
        // two flows start in the same second.
        let first: [([u8; 4], u16, u64); 6] = [
            ([10, 0, 0, 9], 40001, 0),
            ([10, 0, 0, 3], 40007, 1),
            ([10, 0, 0, 7], 40002, 2),
            ([10, 0, 0, 5], 40009, 3),
            ([10, 0, 0, 1], 40003, 3),
            ([10, 0, 0, 8], 40004, 4),
        ];
        let second: [([u8; 4], u16, u64); 5] = [
            ([10, 0, 1, 4], 40011, 1000),
            ([10, 0, 1, 2], 40019, 1001),
            ([10, 0, 1, 6], 40012, 1002),
            ([10, 0, 1, 1], 40018, 1003),
            ([10, 0, 1, 3], 40013, 1004),
        ];
        let base = Duration::from_secs(1_700_000_000);
        let mut frames = Vec::new();
        for lot in [&first[..], &second[..]] {
            for &(client, port, start) in lot {
                let t = base + Duration::from_secs(start);
                let ms = Duration::from_millis(1);
                frames.push((t, segment(client, port, false, true, &[])));
                frames.push((t + ms, segment(client, port, true, true, &[])));
                frames.push((t + ms * 2, segment(client, port, false, false, &[])));
                frames.push((t + ms * 3, segment(client, port, false, false, hello)));
            }
        }
        frames.sort_by_key(|f| f.0);
        // Expected: the lots' flows by start, then by client address (10.0.0.1 before .5).
        let want = |lot: &[([u8; 4], u16, u64)]| {
            let mut v: Vec<(u64, [u8; 4], u16)> = lot.iter().map(|&(c, p, s)| (s, c, p)).collect();
            v.sort();
            v.into_iter()
                .map(|(_, c, p)| SocketAddr::from((c, p)))
                .collect::<Vec<_>>()
        };
        let mut runs = Vec::new();
        for _ in 0..8 {
            // A new analyzer: a new random key for its tables.
            let mut a = Analyzer::new(FlowConfig::default());
            let mut out = Vec::new();
            for (ts, f) in &frames {
                a.process(*ts, LinkType::Raw, f, &mut |r| out.push(r));
            }
            let swept: Vec<SocketAddr> = out.iter().map(|r| r.client).collect();
            assert!(out.iter().all(|r| r.end == EndReason::IdleTimeout));
            assert_eq!(swept, want(&first), "one sweep, in first-seen order");
            let n = out.len();
            a.finish(&mut |r| out.push(r));
            let flushed: Vec<SocketAddr> = out[n..].iter().map(|r| r.client).collect();
            assert!(out[n..].iter().all(|r| r.end == EndReason::EndOfCapture));
            assert_eq!(flushed, want(&second), "the end, in first-seen order");
            assert!(out.iter().all(|r| r.client_hello.is_some()));
            runs.push(out);
        }
        assert!(runs.windows(2).all(|w| w[0] == w[1]));
    }
}
