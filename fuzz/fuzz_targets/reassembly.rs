//! The TCP reassembler on its own, checked against a model: the bytes it delivers must be
//! those of the simplest reassembler there is (one slot per byte; in-order bytes delivered as
//! they come, bytes ahead filling empty slots only), and what it holds must stay within the
//! bound. Input: a 4-byte initial sequence number, then segments of 3 bytes of header
//! (offset from the ISN as a signed 16-bit value, length) and their bytes.
#![no_main]
use std::collections::HashMap;

use helloscope_capture::reassembly::{Seen, StreamReassembler};
use libfuzzer_sys::fuzz_target;

fn seq_diff(a: u32, b: u32) -> i64 {
    a.wrapping_sub(b) as i32 as i64
}

/// The model's output for `segs`, the stream starting at `start`.
fn reference(start: u32, segs: &[(u32, &[u8])]) -> Vec<u8> {
    let mut slots: HashMap<u64, u8> = HashMap::new();
    let mut at = 0u64;
    let mut out = Vec::new();
    for (seq, p) in segs {
        let d = seq_diff(*seq, start.wrapping_add(at as u32));
        for (k, &b) in p.iter().enumerate() {
            let o = at as i64 + d + k as i64;
            if o < at as i64 {
                continue;
            }
            if d <= 0 {
                out.push(b);
                at += 1;
            } else {
                slots.entry(o as u64).or_insert(b);
            }
        }
        while let Some(b) = slots.remove(&at) {
            out.push(b);
            at += 1;
        }
        slots.retain(|&o, _| o >= at);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let isn = u32::from_le_bytes(data[..4].try_into().unwrap());
    let mut rest = &data[4..];
    let mut segs = Vec::new();
    while rest.len() >= 3 {
        let off = i16::from_le_bytes([rest[0], rest[1]]) as i32;
        let len = (rest[2] as usize).min(rest.len() - 3);
        segs.push((isn.wrapping_add(off as u32), &rest[3..3 + len]));
        rest = &rest[3 + len..];
    }
    // A bound no input reaches (offsets stay within 32 KiB), so that nothing is dropped
    // and the model applies; and a small one, which must hold whatever comes.
    let mut r = StreamReassembler::default();
    r.on_syn(isn.wrapping_sub(1));
    let mut out = Vec::new();
    for (s, p) in &segs {
        r.on_segment_seen(*s, p, 1 << 20, &mut |seen| match seen {
            Seen::Fresh(b) => out.extend_from_slice(b),
            // Bytes shown again lie within what was delivered.
            Seen::Again { offset, bytes } => {
                assert!(!bytes.is_empty());
                assert!(offset + bytes.len() as u64 <= out.len() as u64);
            }
        });
    }
    if !r.overflowed {
        assert_eq!(out, reference(isn, &segs));
    }
    let mut small = StreamReassembler::default();
    small.on_syn(isn.wrapping_sub(1));
    for (s, p) in &segs {
        small.on_segment(*s, p, 2048, &mut |_| {});
        assert!(small.pending_bytes() <= 2048);
    }
});
