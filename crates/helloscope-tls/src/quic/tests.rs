//! RFC 9001 Appendix A and RFC 9369 Appendix A: the published keys, header protection and
//! packets, checked byte for byte.

use super::protection::{initial_secrets, key_material};
use super::*;
use crate::Structure;

fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    s.chunks(2)
        .map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

const DCID: &str = "8394c8f03e515708";

fn vector(name: &str) -> Vec<u8> {
    let text = match name {
        "v1-client" => include_str!("../../testdata/quic/rfc9001-a2-client-initial.hex"),
        "v1-server" => include_str!("../../testdata/quic/rfc9001-a3-server-initial.hex"),
        "v1-crypto" => include_str!("../../testdata/quic/rfc9001-a2-crypto-frame.hex"),
        "v1-server-payload" => include_str!("../../testdata/quic/rfc9001-a3-server-payload.hex"),
        "v1-retry" => include_str!("../../testdata/quic/rfc9001-a4-retry.hex"),
        "v2-client" => include_str!("../../testdata/quic/rfc9369-a2-client-initial.hex"),
        "v2-server" => include_str!("../../testdata/quic/rfc9369-a3-server-initial.hex"),
        _ => unreachable!(),
    };
    hex(text)
}

/// RFC 9001 §A.1 and RFC 9369 §A.1.
#[test]
fn initial_secrets_and_keys() {
    let dcid = hex(DCID);
    let cases = [
        (
            QuicVersion::V1,
            "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
            [
                "1f369613dd76d5467730efcbe3b1a22d",
                "fa044b2f42a3fd3b46fb255c",
                "9f50449e04a0e810283a1e9933adedd2",
            ],
            "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
            [
                "cf3a5331653c364c88f0f379b6067e37",
                "0ac1493ca1905853b0bba03e",
                "c206b8d9b9f0f37644430b490eeaa314",
            ],
        ),
        (
            QuicVersion::V2,
            "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
            [
                "8b1a0bc121284290a29e0971b5cd045d",
                "91f73e2351d8fa91660e909f",
                "45b95e15235d6f45a6b19cbcb0294ba9",
            ],
            "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1",
            [
                "82db637861d55e1d011f19ea71d5d2a7",
                "dd13c276499c0249d3310652",
                "edf6d05c83121201b436e16877593c3a",
            ],
        ),
    ];
    for (v, cs, ck, ss, sk) in cases {
        let (c, s) = initial_secrets(v, &dcid).unwrap();
        assert_eq!(c.to_vec(), hex(cs), "{v}");
        assert_eq!(s.to_vec(), hex(ss), "{v}");
        for (secret, want) in [(c, ck), (s, sk)] {
            let m = key_material(v, &secret).unwrap();
            assert_eq!(m.key.to_vec(), hex(want[0]), "{v} key");
            assert_eq!(m.iv.to_vec(), hex(want[1]), "{v} iv");
            assert_eq!(m.hp.to_vec(), hex(want[2]), "{v} hp");
        }
    }
}

fn open(name: &str, sender: Sender) -> (LongHeader<'static>, u64, Vec<u8>) {
    let datagram: &'static [u8] = Vec::leak(vector(name));
    let (Packet::Long(h), rest) = parse_packet(datagram).unwrap() else {
        panic!("{name}: not a long header")
    };
    assert!(rest.is_empty());
    let keys = InitialKeys::new(h.version, &hex(DCID), sender).unwrap();
    let mut out = Vec::new();
    let pn = keys.open(&h, &mut out).unwrap();
    (h, pn, out)
}

/// RFC 9001 §A.2 and RFC 9369 §A.2: the client Initial. Header protection removed gives
/// packet number 2 (the sample and mask are those of the RFC, or the packet number and the
/// AEAD's authentication would both be wrong); the payload is the CRYPTO frame then PADDING.
#[test]
fn client_initial_v1_and_v2() {
    for (name, version) in [
        ("v1-client", QuicVersion::V1),
        ("v2-client", QuicVersion::V2),
    ] {
        let (h, pn, payload) = open(name, Sender::Client);
        assert_eq!(h.version, version);
        assert_eq!(h.packet_type, LongPacketType::Initial);
        assert_eq!(
            (h.dcid, h.scid, h.token),
            (&hex(DCID)[..], &[][..], &[][..])
        );
        assert_eq!(h.pn_offset, 18);
        assert_eq!(h.packet.len(), 1200);
        assert_eq!(pn, 2);
        let crypto = vector("v1-crypto");
        assert_eq!(payload.len(), 1162);
        assert_eq!(&payload[..crypto.len()], &crypto[..]);
        assert!(payload[crypto.len()..].iter().all(|&b| b == 0));
        let frames: Vec<Frame<'_>> = Frames::new(&payload).map(Result::unwrap).collect();
        assert_eq!(
            frames,
            [
                Frame::Crypto {
                    offset: 0,
                    data: &crypto[4..]
                },
                Frame::Padding(917)
            ]
        );
    }
}

/// RFC 9001 §A.3 and RFC 9369 §A.3: the server Initial, packet number 1, an ACK then a
/// CRYPTO frame with the ServerHello.
#[test]
fn server_initial_v1_and_v2() {
    for name in ["v1-server", "v2-server"] {
        let (h, pn, payload) = open(name, Sender::Server);
        assert_eq!(h.scid, &hex("f067a5502a4262b5")[..]);
        assert_eq!(pn, 1);
        assert_eq!(payload, vector("v1-server-payload"));
        let frames: Vec<Frame<'_>> = Frames::new(&payload).map(Result::unwrap).collect();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0], Frame::Ack);
        let Frame::Crypto { offset: 0, data } = frames[1] else {
            panic!()
        };
        assert_eq!(data.len(), 0x5a);
    }
}

#[test]
fn reader_gets_both_hellos() {
    for (c, s) in [("v1-client", "v1-server"), ("v2-client", "v2-server")] {
        let mut r = InitialReader::new(1 << 16);
        assert_eq!(
            r.client_hello().unwrap_err(),
            Error::Incomplete { needed: 4 }
        );
        r.on_datagram(&vector(c), Sender::Client).unwrap();
        let ch = r.client_hello().unwrap();
        assert_eq!(ch.server_name_str(), Some("example.com"));
        assert_eq!(
            ch.cipher_suites().map(|c| c.0).collect::<Vec<_>>(),
            [0x1301, 0x1302]
        );
        r.on_datagram(&vector(s), Sender::Server).unwrap();
        let sh = r.server_hello().unwrap();
        assert_eq!(sh.cipher_suite.0, 0x1301);
        assert_eq!(sh.selected_version(), crate::TlsVersion::Tls13);
        assert_eq!(r.initials(Sender::Client), (1, 0));
        assert_eq!(r.initials(Sender::Server), (1, 0));
        assert!(!r.retry());
    }
}

/// A ClientHello spread over several Initial packets, out of order and coalesced: the
/// RFC's CRYPTO data cut into pieces, each in its own client Initial built with the RFC's
/// keys (the packets are protected here with the same functions' inverse: AES-GCM seal and
/// the header-protection mask, via the `aes-gcm` and `aes` crates).
#[test]
fn crypto_frames_over_several_packets_out_of_order() {
    let crypto = vector("v1-crypto");
    let hello = &crypto[4..];
    let cuts = [0usize, 60, 61, 150, hello.len()];
    let mut packets = Vec::new();
    for (pn, w) in cuts.windows(2).enumerate() {
        let mut frames = vec![0x06];
        frames.extend(varint(w[0] as u64));
        frames.extend(varint((w[1] - w[0]) as u64));
        frames.extend(&hello[w[0]..w[1]]);
        packets.push(seal_client_initial(pn as u32, &frames));
    }
    let mut r = InitialReader::new(1 << 16);
    // The last two coalesced in one datagram, sent first; then the others in reverse.
    let mut first = packets[3].clone();
    first.extend(&packets[2]);
    r.on_datagram(&first, Sender::Client).unwrap();
    r.on_datagram(&packets[1], Sender::Client).unwrap();
    assert!(matches!(r.client_hello(), Err(Error::Incomplete { .. })));
    r.on_datagram(&packets[0], Sender::Client).unwrap();
    assert_eq!(
        r.client_hello().unwrap().server_name_str(),
        Some("example.com")
    );
    assert_eq!(r.initials(Sender::Client), (4, 0));
}

fn varint(v: u64) -> Vec<u8> {
    assert!(v < 1 << 14);
    vec![0x40 | (v >> 8) as u8, v as u8]
}

/// A client Initial of version 1 for the RFC's DCID with packet number `pn` (4 bytes) and
/// `frames`, padded, protected.
fn seal_client_initial(pn: u32, frames: &[u8]) -> Vec<u8> {
    use aes::cipher::{BlockEncrypt, KeyInit};
    use aes_gcm::aead::AeadInPlace;
    let m = key_material(
        QuicVersion::V1,
        &initial_secrets(QuicVersion::V1, &hex(DCID)).unwrap().0,
    )
    .unwrap();
    let mut payload = frames.to_vec();
    payload.resize(payload.len().max(64), 0);
    let length = 4 + payload.len() + 16;
    let mut header = vec![0xc3, 0, 0, 0, 1, 8];
    header.extend(hex(DCID));
    header.extend([0, 0]);
    header.extend(varint(length as u64));
    let pn_offset = header.len();
    header.extend(pn.to_be_bytes());
    let mut nonce = m.iv;
    for (n, p) in nonce[8..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let aead = aes_gcm::Aes128Gcm::new(&m.key.into());
    let tag = aead
        .encrypt_in_place_detached(aes_gcm::Nonce::from_slice(&nonce), &header, &mut payload)
        .unwrap();
    let mut packet = header;
    packet.extend(payload);
    packet.extend(tag);
    let mut sample = aes::Block::clone_from_slice(&packet[pn_offset + 4..pn_offset + 20]);
    aes::Aes128::new(&m.hp.into()).encrypt_block(&mut sample);
    packet[0] ^= sample[0] & 0x0f;
    for i in 0..4 {
        packet[pn_offset + i] ^= sample[1 + i];
    }
    packet
}

/// RFC 9001 §A.4: a Retry is recognised, and the client's next Initial, with a new DCID, is
/// read under keys from that DCID.
#[test]
fn retry_then_new_dcid() {
    let retry = vector("v1-retry");
    let (Packet::Long(h), _) = parse_packet(&retry).unwrap() else {
        panic!()
    };
    assert_eq!(h.packet_type, LongPacketType::Retry);
    assert_eq!(h.token, b"token");
    let mut r = InitialReader::new(1 << 16);
    // Client Initial under the RFC's DCID, but only half the hello.
    let crypto = vector("v1-crypto");
    let mut frames = vec![0x06, 0x00];
    frames.extend(varint(100));
    frames.extend(&crypto[4..104]);
    r.on_datagram(&seal_client_initial(0, &frames), Sender::Client)
        .unwrap();
    r.on_datagram(&retry, Sender::Server).unwrap();
    assert!(r.retry());
    // After the Retry, the client's Initial for the RFC's DCID is read from scratch; a whole
    // hello is found.
    r.on_datagram(&vector("v1-client"), Sender::Client).unwrap();
    assert_eq!(
        r.client_hello().unwrap().server_name_str(),
        Some("example.com")
    );
}

#[test]
fn version_negotiation_and_close() {
    let mut vn = vec![0x80, 0, 0, 0, 0, 0, 8];
    vn.extend(hex(DCID));
    vn.extend([0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf]);
    let mut r = InitialReader::new(1 << 16);
    r.on_datagram(&vn, Sender::Server).unwrap();
    assert!(r.version_negotiation());
    // CONNECTION_CLOSE with CRYPTO_ERROR 0x128 (handshake_failure, 40).
    let close = [0x1c, 0x41, 0x28, 0x06, 0x00];
    r.on_datagram(&seal_client_initial(0, &close), Sender::Client)
        .unwrap();
    let c = r.connection_close().unwrap();
    assert_eq!(
        (c.from, c.error_code, c.tls_alert),
        (Sender::Client, 0x128, Some(40))
    );
}

#[test]
fn damaged_packets_are_errors_not_panics() {
    let good = vector("v1-client");
    let mut r = InitialReader::new(1 << 16);
    for cut in [0, 1, 5, 6, 17, 18, 30, 100, 1199] {
        let _ = r.on_datagram(&good[..cut], Sender::Client);
    }
    let mut bad = good.clone();
    bad[600] ^= 1;
    assert_eq!(
        r.on_datagram(&bad, Sender::Client).unwrap_err(),
        Error::Malformed {
            structure: Structure::QuicInitialPacket,
            field: "authentication failed"
        }
    );
    assert!(r.client_hello().is_err());
    assert!(!looks_like_initial(&good[..5]));
    assert!(looks_like_initial(&good));
}
