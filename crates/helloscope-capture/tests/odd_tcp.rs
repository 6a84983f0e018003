//! TCP as real captures hold it: a ServerHello after the client's FIN, a FIN reordered before
//! the data it follows, SYNs retransmitted with a new ISN, several SYN-ACKs that disagree, and
//! a new connection on the same ports after one was decided. The hello is a real one (curl
//! 7.88.1); the ServerHello is written here field by field.

use std::time::Duration;

use etherparse::PacketBuilder;
use helloscope_capture::{Analyzer, FlowConfig, FlowFlags, FlowRecord, LinkType, Outcome, Side};
use helloscope_tls::{CipherSuite, TlsVersion};

const HELLO: &[u8] = include_bytes!("../../helloscope-tls/testdata/curl-7.88.1-clienthello.bin");
const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
const SERVER: ([u8; 4], u16) = ([192, 0, 2, 1], 443);

/// A TLS 1.2 ServerHello record: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, no extensions.
fn server_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend([0x42; 32]);
    body.extend([0x00, 0xc0, 0x2f, 0x00]);
    let mut msg = vec![0x02, 0x00];
    msg.extend((body.len() as u16).to_be_bytes());
    msg.extend(body);
    let mut rec = vec![0x16, 0x03, 0x03];
    rec.extend((msg.len() as u16).to_be_bytes());
    rec.extend(msg);
    rec
}

#[derive(Clone, Copy)]
struct Seg {
    from_client: bool,
    seq: u32,
    syn: bool,
    ack: bool,
    fin: bool,
}

fn seg(from_client: bool, seq: u32) -> Seg {
    Seg {
        from_client,
        seq,
        syn: false,
        ack: true,
        fin: false,
    }
}

fn frame(s: Seg, data: &[u8]) -> Vec<u8> {
    let ((src, sp), (dst, dp)) = if s.from_client {
        (CLIENT, SERVER)
    } else {
        (SERVER, CLIENT)
    };
    let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, s.seq, 65535);
    if s.syn {
        b = b.syn();
    }
    if s.ack {
        b = b.ack(1);
    }
    if s.fin {
        b = b.fin();
    }
    let mut out = Vec::new();
    b.write(&mut out, data).unwrap();
    out
}

fn run(packets: &[(Seg, &[u8])]) -> Vec<FlowRecord> {
    let mut a = Analyzer::new(FlowConfig::default());
    let mut out = Vec::new();
    for (k, (s, data)) in packets.iter().enumerate() {
        let ts = Duration::from_millis(1_700_000_000_000 + k as u64);
        a.process(ts, LinkType::Raw, &frame(*s, data), &mut |r| out.push(r));
    }
    a.finish(&mut |r| out.push(r));
    out
}

fn syn(from_client: bool, seq: u32) -> Seg {
    Seg {
        syn: true,
        ack: !from_client,
        ..seg(from_client, seq)
    }
}

fn fin(from_client: bool, seq: u32) -> Seg {
    Seg {
        fin: true,
        ..seg(from_client, seq)
    }
}

fn assert_both_sides(r: &FlowRecord) {
    let ch = r.client_hello.as_ref().expect("client side");
    assert_eq!(ch.sni.as_deref(), Some("api.procore.com"));
    let sh = r.server_hello.as_ref().expect("server side");
    assert_eq!(sh.version, TlsVersion::Tls12);
    assert_eq!(sh.cipher, CipherSuite(0xc02f));
}

/// A client that sends its hello and closes its side at once (`shutdown(SHUT_WR)`) still
/// receives the ServerHello, and the record holds it.
#[test]
fn server_hello_after_the_clients_fin() {
    let sh = server_hello();
    let n = HELLO.len() as u32;
    let r = run(&[
        (syn(true, 1000), &[]),
        (syn(false, 5000), &[]),
        (seg(true, 1001), HELLO),
        (fin(true, 1001 + n), &[]),
        (seg(false, 5001), &sh),
        (fin(false, 5001 + sh.len() as u32), &[]),
    ]);
    assert_eq!(r.len(), 1);
    assert_both_sides(&r[0]);
    assert_eq!(r[0].outcome, Outcome::Closed { from: Side::Client });
}

/// The client's FIN captured before its hello (reordered): the hello is still read.
#[test]
fn fin_reordered_before_the_hello() {
    let sh = server_hello();
    let n = HELLO.len() as u32;
    let r = run(&[
        (syn(true, 1000), &[]),
        (syn(false, 5000), &[]),
        (fin(true, 1001 + n), &[]),
        (seg(true, 1001), HELLO),
        (seg(false, 5001), &sh),
    ]);
    assert_eq!(r.len(), 1);
    assert_both_sides(&r[0]);
    assert_eq!(r[0].outcome, Outcome::Closed { from: Side::Client });
}

/// A SYN retransmitted with a new ISN, the SYN-ACK answering the second; and the other way
/// round, data following the first. Both hellos are read.
#[test]
fn syn_retransmitted_with_a_new_isn() {
    let sh = server_hello();
    for data_isn in [7000u32, 1000] {
        let r = run(&[
            (syn(true, 1000), &[]),
            (syn(true, 7000), &[]),
            (syn(false, 5000), &[]),
            (seg(true, data_isn + 1), HELLO),
            (seg(false, 5001), &sh),
        ]);
        assert_eq!(r.len(), 1, "data after ISN {data_isn}");
        assert_both_sides(&r[0]);
    }
}

/// Several SYN-ACKs with different ISNs (a refused TCP Fast Open cookie, a load balancer
/// retrying): the ServerHello is read whichever one its data follows.
#[test]
fn several_syn_acks_with_different_isns() {
    let sh = server_hello();
    for data_isn in [5000u32, 9000] {
        let r = run(&[
            (syn(true, 1000), &[]),
            (syn(false, 5000), &[]),
            (syn(false, 9000), &[]),
            (seg(true, 1001), HELLO),
            (seg(false, data_isn + 1), &sh),
        ]);
        assert_eq!(r.len(), 1, "data after ISN {data_isn}");
        assert_both_sides(&r[0]);
    }
}

/// A new connection on the same addresses and ports after one was decided (a new SYN, a new
/// ISN) starts from nothing, whatever the table reuses for it: the first one's FINs, its
/// hellos, its packet count and the flag of its retransmitted hello are not carried over.
#[test]
fn a_new_connection_after_a_decided_one_starts_afresh() {
    let sh = server_hello();
    let n = HELLO.len() as u32;
    let first: [(Seg, &[u8]); 6] = [
        (syn(true, 1000), &[]),
        (syn(false, 5000), &[]),
        (seg(true, 1001), HELLO),
        // Another copy of the hello's first bytes, not a handshake record: `overlap_conflict`.
        (seg(true, 1001), &[0x15, 0x03, 0x01]),
        (seg(false, 5001), &sh),
        (fin(true, 1001 + n), &[]),
    ];
    let second: [(Seg, &[u8]); 6] = [
        (syn(true, 7000), &[]),
        (syn(false, 9000), &[]),
        (seg(true, 7001), HELLO),
        (seg(false, 9001), &sh),
        (fin(true, 7001 + n), &[]),
        (fin(false, 9001 + sh.len() as u32), &[]),
    ];
    let r = run(&[first.as_slice(), second.as_slice()].concat());
    assert_eq!(r.len(), 2, "{r:?}");
    let (a, b) = (&r[0], &r[1]);
    assert_both_sides(a);
    assert_eq!(a.outcome, Outcome::Closed { from: Side::Client });
    assert!(a.flags.overlap_conflict);
    assert_eq!(a.packets, 6);
    // The second, from its own six packets only (run() stamps packet k at k ms).
    assert_both_sides(b);
    assert_eq!(b.outcome, Outcome::Closed { from: Side::Client });
    assert_eq!(
        b.packets, 5,
        "decided by the client's FIN, its fifth packet"
    );
    assert_eq!(b.flags, FlowFlags::default());
    assert_eq!(b.first_seen, Duration::from_millis(1_700_000_000_000 + 6));
}
