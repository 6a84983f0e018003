//! Any truncation or byte flip of a real hello gives `Ok` or an error: never a panic, and
//! every borrowed slice lies inside the input.

use helloscope_tls::{
    ja3, ja4, ja4_r, parse_client_hello_record, HandshakeReassembler, Records, Sslv2ClientHello,
    Transport,
};
use proptest::prelude::*;

fn vectors() -> Vec<Vec<u8>> {
    [
        "curl-7.88.1-clienthello.bin",
        "chromium-156-clienthello.bin",
        "gnutls-3.7.9-clienthello.bin",
    ]
    .iter()
    .map(|n| std::fs::read(format!("{}/testdata/{n}", env!("CARGO_MANIFEST_DIR"))).unwrap())
    .collect()
}

fn inside(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr_range();
    let i = inner.as_ptr_range();
    inner.is_empty() || (o.start <= i.start && i.end <= o.end)
}

/// Parses everything that can be parsed from `bytes`, checking where borrowed slices point.
fn exercise(bytes: &[u8]) {
    if let Ok(h) = parse_client_hello_record(bytes) {
        assert!(inside(bytes, h.random) && inside(bytes, h.session_id));
        for e in h.extensions() {
            assert!(inside(bytes, e.data));
        }
        if let Some(n) = h.server_name() {
            assert!(inside(bytes, n));
        }
        let _ = (ja3(&h), ja4(&h, Transport::Tcp), ja4_r(&h, Transport::Tcp));
        let _ = (
            h.offered_versions(),
            h.highest_version(),
            h.alpn().map(|a| a.count()),
        );
        let _ = h.key_share_groups().map(|g| g.count());
    }
    let mut records = Records::new(bytes);
    let mut r = HandshakeReassembler::new(1 << 16);
    for rec in records.by_ref() {
        assert!(inside(bytes, rec.fragment));
        let _ = r.push(rec.fragment, |m| {
            let _ = helloscope_tls::ClientHello::parse(m.body);
            let _ = helloscope_tls::ServerHello::parse(m.body);
        });
    }
    let _ = Sslv2ClientHello::parse(bytes);
}

#[test]
fn every_truncation() {
    for v in vectors() {
        for n in 0..=v.len() {
            exercise(&v[..n]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn byte_flips(which in 0usize..3, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut v = vectors().swap_remove(which);
        for (pos, x) in flips {
            let n = v.len();
            v[pos % n] ^= x | 1;
        }
        exercise(&v);
    }

    #[test]
    fn random_bytes_after_a_record_header(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut v = vec![0x16, 0x03, 0x01, (body.len() >> 8) as u8, body.len() as u8];
        v.extend_from_slice(&body);
        exercise(&v);
        // The same bytes as a ClientHello body, with consistent outer lengths.
        let n = body.len();
        let mut w = vec![0x16, 0x03, 0x01, ((n + 4) >> 8) as u8, (n + 4) as u8, 1, 0, (n >> 8) as u8, n as u8];
        w.extend_from_slice(&body);
        exercise(&w);
    }

    /// Splitting a hello's handshake bytes over records at random points yields the same
    /// message as the whole.
    #[test]
    fn reassembly_over_random_record_boundaries(which in 0usize..3, cuts in proptest::collection::vec(1usize..300, 0..12)) {
        let v = vectors().swap_remove(which);
        let frag = &v[5..];
        let mut whole = Vec::new();
        HandshakeReassembler::new(1 << 16).push(frag, |m| whole.push(m.body.to_vec())).unwrap();
        prop_assert_eq!(whole.len(), 1);
        let mut r = HandshakeReassembler::new(1 << 16);
        let mut got = Vec::new();
        let mut rest = frag;
        for c in cuts {
            let c = c.min(rest.len());
            r.push(&rest[..c], |m| got.push(m.body.to_vec())).unwrap();
            rest = &rest[c..];
        }
        r.push(rest, |m| got.push(m.body.to_vec())).unwrap();
        prop_assert_eq!(got, whole);
    }
}
