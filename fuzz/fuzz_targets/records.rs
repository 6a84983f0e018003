//! The record walker and handshake reassembly over arbitrary stream bytes, cut into records
//! at arbitrary points.
#![no_main]
use helloscope_tls::{HandshakeReassembler, Records};
use libfuzzer_sys::fuzz_target;

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
});
