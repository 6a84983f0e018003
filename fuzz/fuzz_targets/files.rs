//! Capture file readers: the input is a whole file (classic pcap, pcapng, or either of them
//! compressed), read through `PacketSource` and analysed. Whatever the bytes, reading ends
//! with the end of the file or one error, never a panic, and no packet lies outside the
//! file's bounds.
#![no_main]
use std::time::Duration;

use helloscope_capture::{Analyzer, FlowConfig, PacketSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut src) = PacketSource::from_reader("fuzz", Box::new(std::io::Cursor::new(data.to_vec())))
    else {
        return;
    };
    let mut cfg = FlowConfig::default();
    cfg.max_flows = 8;
    cfg.idle_timeout = Duration::from_secs(2);
    cfg.max_buffer_per_direction = 4096;
    cfg.max_buffer_total = 1 << 14;
    cfg.fingerprint_cache = 2;
    let mut a = Analyzer::new(cfg);
    let mut records = 0usize;
    // A small compressed input can expand a lot: bound the work per input.
    for _ in 0..100_000 {
        match src.next_packet() {
            Ok(Some(p)) => {
                // 256 KiB is the most either reader hands out.
                assert!(p.data.len() <= 262_144);
                a.process(p.ts, p.link, p.data, &mut |_| records += 1);
            }
            Ok(None) | Err(_) => break,
        }
    }
    a.finish(&mut |_| records += 1);
    assert_eq!(a.flows_in_table(), 0);
});
