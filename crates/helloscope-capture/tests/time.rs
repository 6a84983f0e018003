//! Packet time against an adversary (or a damaged capture): a packet stamped years ahead
//! or behind must not time out every flow, nor stop idle flows being swept afterwards; a
//! capture that really jumps is followed; times no output can print are skipped.

use std::time::Duration;

use etherparse::PacketBuilder;
use helloscope_capture::{Analyzer, EndReason, FlowConfig, FlowRecord, LinkType, MAX_TIMESTAMP};

const HELLO: &[u8] = include_bytes!("../../helloscope-tls/testdata/curl-7.88.1-clienthello.bin");
const SERVER: [u8; 4] = [192, 0, 2, 1];

/// A client segment (IPv4, raw link) of connection `n`: a SYN, or data after it.
fn client(n: u16, syn: bool, data: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4([10, 0, 0, 1], SERVER, 64);
    let b = if syn {
        b.tcp(1024 + n, 443, 1000, 65535).syn()
    } else {
        b.tcp(1024 + n, 443, 1001, 65535).ack(1)
    };
    let mut out = Vec::with_capacity(b.size(data.len()));
    b.write(&mut out, data).unwrap();
    out
}

struct Run {
    a: Analyzer,
    records: Vec<FlowRecord>,
}

impl Run {
    fn new() -> Self {
        Run {
            a: Analyzer::new(FlowConfig::default()),
            records: Vec::new(),
        }
    }

    fn at(&mut self, secs: u64, frame: &[u8]) {
        let out = &mut self.records;
        self.a
            .process(Duration::from_secs(secs), LinkType::Raw, frame, &mut |r| {
                out.push(r)
            });
    }

    /// Connection `n` opens and sends its ClientHello at `secs`; the server never answers.
    fn hello(&mut self, n: u16, secs: u64) {
        self.at(secs, &client(n, true, &[]));
        self.at(secs, &client(n, false, HELLO));
    }
}

const T0: u64 = 1_700_000_000;
const YEAR: u64 = 365 * 86_400;

/// Found by a review: one packet stamped 30 years ahead made every flow in progress report
/// `timeout` at once, and afterwards flows idle for hours were never swept.
#[test]
fn a_packet_from_the_future_moves_nothing() {
    let mut r = Run::new();
    for n in 0..20 {
        r.hello(n, T0);
    }
    r.at(T0 + 30 * YEAR, &client(999, true, &[]));
    r.at(T0 + 1, &client(500, true, &[]));
    assert!(
        r.records.is_empty(),
        "nothing timed out: {}",
        r.records.len()
    );
    assert_eq!(r.a.stats().packets_clock_outlier, 1);
    // Three hours of packet time later, the twenty flows have been idle for three hours.
    r.at(T0 + 3 * 3600, &client(501, true, &[]));
    assert_eq!(r.records.len(), 20);
    assert!(r.records.iter().all(|f| f.end == EndReason::IdleTimeout));
    assert!(r
        .records
        .iter()
        .all(|f| f.last_seen == Duration::from_secs(T0)));
}

/// A packet stamped ten years back is handled at the capture's time: its flow is not taken
/// for one idle for ten years, and nothing else moves; its record keeps its own time.
#[test]
fn a_packet_from_the_past_moves_nothing() {
    let mut r = Run::new();
    r.hello(1, T0);
    r.hello(2, T0 - 10 * YEAR);
    assert_eq!(r.a.stats().packets_clock_outlier, 2);
    r.at(T0 + 60, &client(500, true, &[]));
    assert!(r.records.is_empty());
    r.at(T0 + 3600, &client(501, true, &[]));
    assert_eq!(r.records.len(), 2, "both idle for an hour, then swept");
    assert!(r.records.iter().all(|f| f.end == EndReason::IdleTimeout));
    let old = r.records.iter().find(|f| f.client.port() == 1026).unwrap();
    assert_eq!(
        old.first_seen,
        Duration::from_secs(T0 - 10 * YEAR),
        "its own time"
    );
}

/// A capture that really jumps (a pause of three days, or files joined) is followed once 32
/// packets in a row agree: the flows before the jump are then idle, and swept.
#[test]
fn a_capture_that_really_jumps_is_followed() {
    let mut r = Run::new();
    r.hello(1, T0);
    let later = T0 + 3 * 86_400;
    for n in 0..31 {
        r.at(later + n, &client(100 + n as u16, true, &[]));
    }
    assert!(r.records.is_empty(), "31 packets are not enough");
    assert_eq!(r.a.stats().packets_clock_outlier, 31);
    r.at(later + 31, &client(200, true, &[]));
    // The jump is taken; the next sweep finds the first flow idle for three days.
    r.at(later + 3600, &client(201, true, &[]));
    assert_eq!(r.records.len(), 1);
    assert_eq!(r.records[0].end, EndReason::IdleTimeout);
    assert_eq!(r.a.stats().packets_clock_outlier, 31);
}

/// Found by a review: a pcapng time past the year 9999 made the table, csv and report
/// outputs panic. Such frames are skipped and counted; the last microsecond of 9999 is kept.
#[test]
fn times_past_the_year_9999_are_skipped_and_counted() {
    let mut a = Analyzer::new(FlowConfig::default());
    let mut records = Vec::new();
    for ts in [MAX_TIMESTAMP + Duration::from_micros(1), Duration::MAX] {
        a.process(ts, LinkType::Raw, &client(1, true, &[]), &mut |r| {
            records.push(r)
        });
    }
    assert_eq!(
        a.stats()
            .skipped
            .get(&helloscope_capture::DecodeSkip::TimestampOutOfRange),
        Some(&2)
    );
    assert_eq!(a.flows_in_table(), 0);
    a.process(
        MAX_TIMESTAMP,
        LinkType::Raw,
        &client(2, true, &[]),
        &mut |r| records.push(r),
    );
    a.process(
        MAX_TIMESTAMP,
        LinkType::Raw,
        &client(2, false, HELLO),
        &mut |r| records.push(r),
    );
    a.finish(&mut |r| records.push(r));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].first_seen, MAX_TIMESTAMP);
}
