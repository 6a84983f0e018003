//! # helloscope-capture
//!
//! Packets to TLS flows: capture files (pcap and pcapng with any number of interfaces, plain
//! or gzip/zstd/lz4 compressed, read by this crate) and live interfaces (libpcap), L2–L4
//! decoding with etherparse, reassembly of the handshake bytes of each TCP direction, a
//! bounded flow table with idle timeouts in packet time, and one [`FlowRecord`] per TLS flow saying what the
//! client offered, what the server chose, and how the handshake ended.
//!
//! TLS is recognised by content (a ClientHello as the client's first bytes), on any port.
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
mod pcapng;
pub mod reassembly;
pub mod record;
pub mod sharded;
pub mod source;
pub mod stats;
mod stream;
mod tls_stream;

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
    stats: Stats,
}

impl Analyzer {
    /// An analyzer with the given table bounds.
    pub fn new(cfg: FlowConfig) -> Self {
        Analyzer {
            table: flow::FlowTable::new(cfg),
            stats: Stats::default(),
        }
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
            Err(skip) => self.stats.skip(skip.name()),
        }
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
        self.table.flush(&mut self.stats, emit);
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Entries in the flow table now.
    pub fn flows_in_table(&self) -> usize {
        self.table.len()
    }

    /// The table bounds in force.
    pub fn config(&self) -> &FlowConfig {
        &self.table.cfg
    }
}
