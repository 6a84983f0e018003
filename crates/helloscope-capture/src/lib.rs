//! # helloscope-capture
//!
//! Packets to TLS flows: libpcap sources (files and live interfaces), L2–L4 decoding with
//! etherparse, reassembly of the handshake bytes of each TCP direction, a bounded flow table
//! with idle timeouts in packet time, and one [`FlowRecord`] per TLS flow saying what the
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
pub mod reassembly;
pub mod record;
pub mod sharded;
pub mod source;
pub mod stats;
mod tls_stream;

use std::time::Duration;

pub use decode::{decode_tcp, DecodeSkip, LinkType, TcpSegment};
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
        // Seconds alone decide it: MAX_TIMESTAMP ends its second.
        if ts.as_secs() > MAX_TIMESTAMP.as_secs() {
            self.stats.skip("timestamp_out_of_range");
            return;
        }
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
