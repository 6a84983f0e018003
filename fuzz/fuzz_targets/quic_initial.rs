//! The QUIC Initial path: datagrams of either side through `InitialReader` (long headers,
//! Retry, Version Negotiation, coalesced packets, key derivation and packet opening), and the
//! same bytes as decrypted payloads through the frame walker and the CRYPTO reassembly, up to
//! the ClientHello parser. Input: datagrams, each a two-byte length then its bytes; the top
//! bit of the length says which side sent it.
#![no_main]
use helloscope_tls::quic::{CryptoStream, Frame, Frames, InitialReader, Sender};
use helloscope_tls::{ClientHello, HandshakeType};
use libfuzzer_sys::fuzz_target;

fn datagrams(mut data: &[u8]) -> impl Iterator<Item = (Sender, &[u8])> {
    std::iter::from_fn(move || {
        let (h, rest) = data.split_at_checked(2)?;
        let n = u16::from_be_bytes([h[0], h[1]]);
        let take = usize::from(n & 0x7fff).min(rest.len());
        let (d, rest) = rest.split_at(take);
        data = rest;
        let from = if n & 0x8000 == 0 { Sender::Client } else { Sender::Server };
        Some((from, d))
    })
}

fuzz_target!(|data: &[u8]| {
    let mut reader = InitialReader::new(1 << 14);
    let mut stream = CryptoStream::new(1 << 14);
    for (from, d) in datagrams(data) {
        let _ = reader.on_datagram(d, from);
        for f in Frames::new(d) {
            match f {
                Ok(Frame::Crypto { offset, data }) => {
                    let _ = stream.insert(offset, data);
                }
                Ok(f) => {
                    let _ = f.tls_alert();
                }
                Err(_) => break,
            }
        }
    }
    let _ = (reader.client_hello(), reader.server_hello(), reader.connection_close());
    let _ = (reader.retry(), reader.version_negotiation(), reader.buffered());
    assert!(stream.buffered() <= 2 << 14);
    if let Ok(m) = stream.first_message() {
        if m.msg_type == HandshakeType::CLIENT_HELLO {
            let _ = ClientHello::parse(m.body).map(|h| h.offered_versions());
        }
    }
});
