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

#[cfg(test)]
mod tests {
    use super::*;

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
}
