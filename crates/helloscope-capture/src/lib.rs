//! # helloscope-capture
//!
//! Packets to TLS flows: libpcap sources (files and live interfaces), L2–L4 decoding with
//! etherparse, reassembly of the handshake bytes of each TCP direction, a bounded flow table
//! with idle timeouts in packet time, and one [`FlowRecord`] per TLS flow saying what the
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
mod fingerprint_cache;
mod finished;
mod flow;
mod pcapfile;
pub mod reassembly;
pub mod record;
pub mod sharded;
pub mod source;
pub mod stats;
mod tls_stream;
pub mod udp;
mod udp_flow;

use std::time::Duration;

pub use decode::{decode_tcp, DecodeSkip, LinkType, TcpSegment};
pub use flow::FlowConfig;
pub use record::{
    ClientHelloSummary, EndReason, FlowFlags, FlowRecord, Outcome, ServerHelloSummary, Side,
};
pub use source::{CaptureStats, LiveConfig, Packet, PacketSource, SourceError};
pub use stats::Stats;

/// Turns frames into flow records.
pub struct Analyzer {
    table: flow::FlowTable,
    udp: udp::UdpTable,
    stats: Stats,
}

impl Analyzer {
    /// An analyzer with the given table bounds.
    pub fn new(cfg: FlowConfig) -> Self {
        Analyzer {
            udp: udp::UdpTable::new(cfg.clone()),
            table: flow::FlowTable::new(cfg),
            stats: Stats::default(),
        }
    }

    /// Takes one frame of link type `link` captured at `ts`; `emit` receives each flow record
    /// as soon as the flow is decided.
    #[inline]
    pub fn process(
        &mut self,
        ts: Duration,
        link: LinkType,
        frame: &[u8],
        emit: &mut impl FnMut(FlowRecord),
    ) {
        self.stats.packets += 1;
        self.stats.bytes += frame.len() as u64;
        match decode_tcp(link, frame) {
            Ok(seg) => {
                self.stats.tcp_segments += 1;
                self.table.on_segment(&seg, ts, &mut self.stats, emit);
                // Kept by the table, which looks hellos up where no counters are at hand.
                (
                    self.stats.fingerprints_reused,
                    self.stats.fingerprints_reused_but_ja3,
                ) = self.table.fingerprints_reused();
            }
            Err(DecodeSkip::NotTcp) => self.not_tcp(ts, link, frame, emit),
            Err(skip) => self.stats.skip(skip.name()),
        }
    }

    /// A frame that is IP but not TCP: a UDP datagram goes to [`Analyzer::on_datagram`].
    #[cold]
    #[inline(never)]
    fn not_tcp(
        &mut self,
        ts: Duration,
        link: LinkType,
        frame: &[u8],
        emit: &mut impl FnMut(FlowRecord),
    ) {
        match udp::decode_udp(link, frame) {
            Some(d) => self.on_datagram(d.src, d.dst, d.src_port, d.dst_port, d.payload, ts, emit),
            None => self.stats.skip(DecodeSkip::NotTcp.name()),
        }
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
        self.udp
            .on_datagram(src, dst, sport, dport, payload, ts, &mut self.stats, emit);
    }

    /// Reads `source` to its end (or, for a live source, until `source` has nothing more),
    /// processing every packet. A damaged file stops the read with an error; everything read
    /// before it has been processed and the flows are still in the table.
    pub fn run(
        &mut self,
        source: &mut PacketSource,
        emit: &mut impl FnMut(FlowRecord),
    ) -> Result<(), SourceError> {
        let link = source.link_type();
        while let Some(p) = source.next_packet()? {
            self.process(p.ts, link, p.data, emit);
        }
        Ok(())
    }

    /// Reports every flow still open (with [`EndReason::EndOfCapture`]) and empties the table.
    pub fn finish(&mut self, emit: &mut impl FnMut(FlowRecord)) {
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
