//! DTLS: datagrams of either side through `DtlsReader` (records, handshake fragments and
//! their reassembly, HelloVerifyRequest, alerts), and every handshake fragment of the input
//! through one `FragmentReassembler`, whose held bytes must stay bounded. Input: datagrams,
//! each a two-byte length then its bytes; the top bit of the length says which side sent it.
#![no_main]
use helloscope_tls::dtls::{parse_handshake_fragment, DtlsReader, DtlsRecords, FragmentReassembler, Sender};
use helloscope_tls::ClientHello;
use libfuzzer_sys::fuzz_target;

const MAX: usize = 1 << 12;

fuzz_target!(|data: &[u8]| {
    let mut reader = DtlsReader::new(MAX);
    let mut reasm = FragmentReassembler::new(MAX);
    let mut rest = data;
    while let Some((h, r)) = rest.split_at_checked(2) {
        let n = u16::from_be_bytes([h[0], h[1]]);
        let (d, r) = r.split_at(usize::from(n & 0x7fff).min(r.len()));
        rest = r;
        let from = if n & 0x8000 == 0 { Sender::Client } else { Sender::Server };
        let _ = reader.on_datagram(d, from);
        for rec in DtlsRecords::new(d) {
            let mut frag = rec.fragment;
            while let Ok((f, next)) = parse_handshake_fragment(frag) {
                frag = next;
                let _ = reasm.push(f, |m| {
                    assert!(m.body.len() <= MAX);
                    let _ = ClientHello::parse_dtls(m.body);
                });
            }
        }
        // A few messages in progress, each at most MAX bytes.
        assert!(reasm.pending() <= 4 * MAX);
    }
    let _ = (reader.client_hello(), reader.server_hello(), reader.alert(), reader.buffered());
});
