//! The record walker and handshake reassembly over arbitrary stream bytes, cut into records
//! at arbitrary points; and `helloscope probe`'s reply reader over the same bytes as a
//! server's reply, received whole or in pieces.
#![no_main]
use helloscope_tls::{HandshakeReassembler, Records};
use libfuzzer_sys::fuzz_target;

#[path = "../../src/probe/reply.rs"]
mod reply;

fuzz_target!(|data: &[u8]| {
    let mut r = HandshakeReassembler::new(1 << 16);
    let mut records = Records::new(data);
    for rec in records.by_ref() {
        assert!(rec.fragment.len() <= helloscope_tls::MAX_FRAGMENT_LEN);
        let _ = r.push(rec.fragment, |m| {
            assert!(m.body.len() <= 1 << 16);
        });
        assert!(r.pending() <= (1 << 16) + 4);
    }
    let _ = records.stopped_by();
    // The same bytes fed as handshake fragments of every size.
    if let Some((&cut, rest)) = data.split_first() {
        let mut r = HandshakeReassembler::new(1 << 12);
        for chunk in rest.chunks(cut as usize + 1) {
            let _ = r.push(chunk, |_| {});
        }
    }
    // The probe's reply reader: the answer read from pieces (as a server's bytes arrive) is
    // the answer read from the whole (the probe gives it at most MAX_REPLY_BYTES).
    let received = &data[..data.len().min(reply::MAX_REPLY_BYTES)];
    let whole = reply::ReplyReader::new().feed(received);
    if let Some((&cut, _)) = data.split_first() {
        let mut r = reply::ReplyReader::new();
        let mut answer = None;
        let mut end = 0;
        while answer.is_none() && end < received.len() {
            end = (end + cut as usize + 1).min(received.len());
            answer = r.feed(&received[..end]);
        }
        if answer.is_some() {
            assert_eq!(answer, whole);
        }
    }
});
