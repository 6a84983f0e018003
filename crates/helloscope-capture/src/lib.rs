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
    decode_packet, decode_tcp, DecodeSkip, Decoded, LinkType, TcpSegment, Tunnel, TunnelStack,
    UdpDatagram,
};
pub use flow::FlowConfig;
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
}

/// Reassembled datagrams inside reassembled datagrams (a fragmented tunnel carrying
/// fragments) followed at most this deep.
const MAX_NESTED_REASSEMBLY: usize = 4;

impl Analyzer {
    /// An analyzer with the given table bounds.
    pub fn new(cfg: FlowConfig) -> Self {
        Analyzer {
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
            self.stats.skip("timestamp_out_of_range");
            return;
        }
        match decode_packet(link, frame) {
            Ok(Decoded::Tcp(seg)) => self.on_segment(&seg, ts, emit),
            Ok(Decoded::Udp(d)) => self.on_udp(&d, ts, emit),
            Ok(Decoded::Fragment(f)) => self.on_fragment(&f, frame.len(), ts, emit),
            Err(skip) => self.stats.skip(skip.name()),
        }
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
        self.table.on_segment(seg, ts, &mut self.stats, emit);
        // Kept by the table, which looks hellos up where no counters are at hand.
        (
            self.stats.fingerprints_reused,
            self.stats.fingerprints_reused_but_ja3,
        ) = self.table.fingerprints_reused();
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
                Ok(Decoded::Fragment(_)) if shared => self.stats.skip(DecodeSkip::TooDeep.name()),
                Ok(Decoded::Udp(u)) if shared => self.on_udp(&u, ts, emit),
                Err(skip) if shared => self.stats.skip(skip.name()),
                _ => {}
            }
        }
        if shared {
            self.stats.set_defrag(self.defrag.stats());
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

    /// Reports every flow still open (with [`EndReason::EndOfCapture`]) and empties the table.
    pub fn finish(&mut self, emit: &mut impl FnMut(FlowRecord)) {
        self.defrag.flush();
        if self.counts_shared() {
            self.stats.set_defrag(self.defrag.stats());
        }
        self.table.flush(&mut self.stats, emit);
        self.udp.flush(&mut self.stats, emit);
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
