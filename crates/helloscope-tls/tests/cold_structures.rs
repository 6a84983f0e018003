//! The errors of the structures read off the hot path (alerts, the SSLv2 CLIENT-HELLO, the
//! DTLS HelloVerifyRequest, QUIC frames), and of the QUIC long header, pinned field by field:
//! each input is built from the structure's layout in its RFC and cut or corrupted at one
//! field.

use helloscope_tls::dtls::{parse_dtls_record, parse_handshake_fragment, HelloVerifyRequest};
use helloscope_tls::quic::{Frame, Frames};
use helloscope_tls::{Alert, AlertLevel, Error, Sslv2ClientHello, Structure};

fn malformed(structure: Structure, field: &'static str) -> Error {
    Error::Malformed { structure, field }
}

#[test]
fn alert_is_exactly_two_bytes() {
    let a = Alert::parse(&[1, 0]).unwrap();
    assert_eq!((a.level, a.description.0), (AlertLevel::Warning, 0));
    assert_eq!(
        Alert::parse(&[7, 40]).unwrap().level,
        AlertLevel::Unknown(7)
    );
    for bad in [&[][..], &[2], &[2, 40, 0]] {
        assert_eq!(
            Alert::parse(bad),
            Err(malformed(Structure::Alert, "length (encrypted?)"))
        );
    }
}

/// RFC 6101 Appendix E.1: a two-byte header (high bit set, length), msg_type 1, version,
/// cipher_spec_length, session_id_length, challenge_length, then the three fields.
fn sslv2(msg_type: u8, cs: &[u8], sid: &[u8], challenge: &[u8]) -> Vec<u8> {
    let mut m = vec![msg_type, 3, 1];
    for n in [cs.len(), sid.len(), challenge.len()] {
        m.extend((n as u16).to_be_bytes());
    }
    m.extend(cs);
    m.extend(sid);
    m.extend(challenge);
    let mut b = (0x8000 | m.len() as u16).to_be_bytes().to_vec();
    b.extend(m);
    b
}

#[test]
fn sslv2_client_hello_errors_name_their_field() {
    let cs = [0, 0, 0x2f, 0, 0, 0x35];
    let good = sslv2(1, &cs, &[], &[0x42; 16]);
    let (h, rest) = Sslv2ClientHello::parse(&good).unwrap();
    assert_eq!(h.cipher_specs().collect::<Vec<_>>(), [0x2f, 0x35]);
    assert_eq!((h.session_id.len(), h.challenge.len()), (0, 16));
    assert!(rest.is_empty());
    let mut two = good.clone();
    two.extend(&good);
    assert_eq!(Sslv2ClientHello::parse(&two).unwrap().1, &good[..]);

    let sv = Structure::Sslv2ClientHello;
    assert_eq!(
        Sslv2ClientHello::parse(&good[..1]),
        Err(Error::Incomplete { needed: 1 })
    );
    assert_eq!(
        Sslv2ClientHello::parse(&good[..10]),
        Err(Error::Incomplete {
            needed: good.len() - 10
        })
    );
    let mut three_byte_header = good.clone();
    three_byte_header[0] &= 0x7f;
    assert_eq!(
        Sslv2ClientHello::parse(&three_byte_header),
        Err(malformed(sv, "record header"))
    );
    assert_eq!(
        Sslv2ClientHello::parse(&[0x80, 3, 1, 3, 1]),
        Err(malformed(sv, "length"))
    );
    let cases = [
        (sslv2(2, &cs, &[], &[0x42; 16]), "msg_type"),
        (sslv2(1, &cs[..4], &[], &[0x42; 16]), "cipher_spec_length"),
        (sslv2(1, &[], &[], &[0x42; 16]), "cipher_spec_length"),
        (sslv2(1, &cs, &[1; 8], &[0x42; 16]), "session_id_length"),
        (sslv2(1, &cs, &[], &[0x42; 15]), "challenge_length"),
        (sslv2(1, &cs, &[], &[0x42; 33]), "challenge_length"),
    ];
    for (bytes, field) in cases {
        assert_eq!(Sslv2ClientHello::parse(&bytes), Err(malformed(sv, field)));
    }
    // A record longer or shorter than its three lengths announce.
    for delta in [-1i32, 1] {
        let mut b = good.clone();
        let len = (u16::from_be_bytes([b[0], b[1]]) & 0x7fff) as i32 + delta;
        b[..2].copy_from_slice(&(0x8000 | len as u16).to_be_bytes());
        b.push(0);
        let r = Sslv2ClientHello::parse(&b);
        assert_eq!(r, Err(malformed(sv, "length")));
    }
}

#[test]
fn hello_verify_request_needs_its_cookie() {
    let hvr = HelloVerifyRequest::parse(&[0xfe, 0xfd, 1, 0xaa, 0xff]).unwrap();
    assert_eq!(hvr.cookie, [0xaa]);
    for cut in [&[][..], &[0xfe], &[0xfe, 0xfd], &[0xfe, 0xfd, 2, 0xaa]] {
        assert_eq!(
            HelloVerifyRequest::parse(cut),
            Err(malformed(Structure::HelloVerifyRequest, "truncated"))
        );
    }
}

fn frames(b: &[u8]) -> Vec<Result<Frame<'_>, Error>> {
    Frames::new(b).collect()
}

/// RFC 9000 §19: frame types and bodies of variable-length integers (§16).
#[test]
fn quic_frame_errors_name_frame_or_varint() {
    let varint = malformed(Structure::QuicVarint, "truncated");
    let frame = |f| malformed(Structure::QuicFrame, f);
    // CONNECTION_CLOSE 0x1c: error code 0x0128 (CRYPTO_ERROR, alert 40), frame type 6, "ab".
    let close = [0x1c, 0x41, 0x28, 0x06, 0x02, b'a', b'b'];
    let [Ok(f)] = &frames(&close)[..] else {
        panic!()
    };
    assert_eq!(f.tls_alert(), Some(40));
    assert_eq!(
        *f,
        Frame::ConnectionClose {
            application: false,
            error_code: 0x128,
            frame_type: Some(6),
            reason: b"ab",
        }
    );
    assert_eq!(frames(&close[..6]), [Err(frame("truncated"))]);
    assert_eq!(frames(&close[..2]), [Err(varint)]);
    // 0x1d has no frame type.
    assert!(matches!(
        frames(&[0x1d, 0x00, 0x00])[..],
        [Ok(Frame::ConnectionClose {
            application: true,
            frame_type: None,
            ..
        })]
    ));
    // CRYPTO: offset 0, length 5, two bytes.
    assert_eq!(frames(&[0x06, 0x00, 0x05, 1, 2]), [Err(frame("truncated"))]);
    assert_eq!(frames(&[0x06, 0x00]), [Err(varint)]);
    // An 8-byte length past usize on no platform, but past the payload: truncated.
    assert_eq!(
        frames(&[0x06, 0x00, 0xc0, 0, 0, 0, 0, 0, 0, 9, 1]),
        [Err(frame("truncated"))]
    );
    // ACK claiming 3 ranges with 2 bytes left; ACK_ECN missing its ECN counts.
    assert_eq!(
        frames(&[0x02, 0, 0, 3, 0, 0, 0]),
        [Err(frame("ACK Range Count"))]
    );
    assert_eq!(frames(&[0x03, 0, 0, 1, 0, 0, 0, 0, 0]), [Err(varint)]);
    assert_eq!(
        frames(&[0x03, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x01]),
        [Ok(Frame::Ack), Ok(Frame::Ping)]
    );
    // An error stops the walk; an unknown type ends it.
    assert_eq!(frames(&[0x06, 0x00, 0x05, 1, 2, 0x01]).len(), 1);
    assert_eq!(
        frames(&[0x00, 0x00, 0x01, 0x08, 0x01]),
        [Ok(Frame::Padding(2)), Ok(Frame::Ping), Ok(Frame::Other(8))]
    );
}

/// RFC 6347 §4.1: type, version, epoch, 48-bit sequence_number, length, fragment.
#[test]
fn dtls_record_errors_name_their_field() {
    let record = |ty: u8, version: [u8; 2], len: u16, body: &[u8]| {
        let mut b = vec![ty];
        b.extend(version);
        b.extend([0, 1, 0, 0, 0, 1, 0, 2]);
        b.extend(len.to_be_bytes());
        b.extend(body);
        b
    };
    let good = record(22, [0xfe, 0xfd], 2, &[0xaa, 0xbb, 0xcc]);
    let (r, rest) = parse_dtls_record(&good).unwrap();
    assert_eq!((r.content_type, r.epoch), (22, 1));
    assert_eq!(r.sequence_number, 0x0001_0002);
    assert_eq!((r.fragment, rest), (&[0xaa, 0xbb][..], &[0xcc][..]));
    let dp = |f| Err(malformed(Structure::DtlsPlaintext, f));
    // A cut header is truncated even when its first byte is wrong.
    let mut cut = good[..12].to_vec();
    assert_eq!(parse_dtls_record(&cut), dp("truncated"));
    cut[0] = 0;
    assert_eq!(parse_dtls_record(&cut), dp("truncated"));
    for ty in [19, 32, 64] {
        assert_eq!(
            parse_dtls_record(&record(ty, [0xfe, 0xfd], 0, &[])),
            dp("content_type")
        );
    }
    for v in [[0x03, 0x03], [0xfe, 0xfe]] {
        assert_eq!(parse_dtls_record(&record(22, v, 0, &[])), dp("version"));
    }
    assert!(parse_dtls_record(&record(22, [0x01, 0x00], 0, &[])).is_ok());
    assert_eq!(
        parse_dtls_record(&record(22, [0xfe, 0xff], 3, &[1, 2])),
        dp("length")
    );
    let over = (16384 + 2048 + 1) as u16;
    assert_eq!(
        parse_dtls_record(&record(22, [0xfe, 0xff], over, &[])),
        dp("length")
    );
}

/// RFC 6347 §4.2.2: msg_type, length (24), message_seq (16), fragment_offset (24),
/// fragment_length (24), then the fragment.
#[test]
fn dtls_handshake_fragment_lies_within_its_message() {
    let frag = |length: u32, offset: u32, flen: u32, body: &[u8]| {
        let mut b = vec![1];
        b.extend(&length.to_be_bytes()[1..]);
        b.extend([0, 7]);
        b.extend(&offset.to_be_bytes()[1..]);
        b.extend(&flen.to_be_bytes()[1..]);
        b.extend(body);
        b
    };
    let good = frag(10, 4, 3, &[1, 2, 3, 9]);
    let (f, rest) = parse_handshake_fragment(&good).unwrap();
    assert_eq!((f.length, f.message_seq, f.fragment_offset), (10, 7, 4));
    assert_eq!((f.fragment, rest), (&[1, 2, 3][..], &[9][..]));
    assert!(!f.is_whole());
    let dh = |field| Err(malformed(Structure::DtlsHandshake, field));
    assert_eq!(parse_handshake_fragment(&good[..11]), dh("truncated"));
    assert_eq!(parse_handshake_fragment(&good[..14]), dh("truncated"));
    assert_eq!(
        parse_handshake_fragment(&frag(10, 8, 3, &[0; 3])),
        dh("fragment_length")
    );
    // Past the message is judged before the bytes are counted.
    assert_eq!(
        parse_handshake_fragment(&frag(2, 0, 3, &[])),
        dh("fragment_length")
    );
}

/// RFC 9000 §17.2: Header Form and Fixed Bit, Version (32), Destination and Source Connection
/// ID Length (8) and Connection ID (0..160 bits in version 1), then for an Initial a Token
/// Length (varint) and Token, a Length (varint) and what it counts. §17.2.1: a Version
/// Negotiation packet lists 32-bit versions; RFC 9001 §5.8: a Retry ends with a 16-byte tag.
#[test]
fn quic_long_header_errors_name_their_field() {
    use helloscope_tls::quic::{parse_packet, LongPacketType, Packet};
    let header = |f| malformed(Structure::QuicLongHeader, f);
    let varint = malformed(Structure::QuicVarint, "truncated");
    // Initial, version 1, an 8-byte DCID, no SCID, no token, Length 3 (2 bytes of packet
    // number and payload would follow; here 3), then one byte of a coalesced packet.
    let mut initial = vec![0xc0, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0];
    initial.extend_from_slice(&[0x00, 0x03, 0xaa, 0xbb, 0xcc, 0x40]);
    let (p, rest) = parse_packet(&initial).unwrap();
    let Packet::Long(h) = p else { panic!("{p:?}") };
    assert_eq!(
        (h.packet_type, h.dcid, h.scid, h.token, h.pn_offset),
        (
            LongPacketType::Initial,
            &[1, 2, 3, 4, 5, 6, 7, 8][..],
            &[][..],
            &[][..],
            17
        )
    );
    assert_eq!((h.packet.len(), rest), (20, &[0x40][..]));
    let err = |b: &[u8]| parse_packet(b).err();
    for cut in [0, 1, 4, 5, 9, 14] {
        assert_eq!(
            err(&initial[..cut]),
            Some(header("truncated")),
            "cut at {cut}"
        );
    }
    // Token Length and Length missing, or a 2-byte varint (0x40 prefix) cut after one.
    assert_eq!(err(&initial[..15]), Some(varint));
    assert_eq!(err(&initial[..16]), Some(varint));
    let mut two_byte = initial[..15].to_vec();
    two_byte.push(0x40);
    assert_eq!(err(&two_byte), Some(varint));
    // A token of 5 bytes with 4 after it; a Length of 4 with 3.
    let mut token = initial.clone();
    token[15] = 0x05;
    assert_eq!(err(&token[..20]), Some(header("token length")));
    let mut length = initial.clone();
    length[16] = 0x04;
    assert_eq!(err(&length[..20]), Some(header("length")));
    // A 21-byte DCID in version 1.
    let mut long_cid = initial.clone();
    long_cid[5] = 21;
    assert_eq!(err(&long_cid), Some(header("connection ID length")));
    // A reserved version: its layout past the connection IDs is unknown.
    let mut reserved = initial.clone();
    reserved[1..5].copy_from_slice(&[0x1a, 0x2a, 0x3a, 0x4a]);
    assert_eq!(err(&reserved), Some(header("version")));
    // Version Negotiation: versions four bytes each.
    let mut vn = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    assert!(matches!(
        parse_packet(&vn),
        Ok((Packet::VersionNegotiation { .. }, []))
    ));
    vn.pop();
    assert_eq!(err(&vn), Some(header("supported versions")));
    // Retry (type bits 11): the integrity tag needs 16 bytes after the connection IDs.
    let retry = [&[0xf0, 0, 0, 0, 1, 0, 0][..], &[9; 15]].concat();
    assert_eq!(err(&retry), Some(header("retry integrity tag")));
    let retry = [&retry[..], &[9]].concat();
    let Ok((Packet::Long(h), [])) = parse_packet(&retry) else {
        panic!()
    };
    assert_eq!((h.packet_type, h.token), (LongPacketType::Retry, &[][..]));
}
