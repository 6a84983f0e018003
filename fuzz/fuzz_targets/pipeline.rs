//! The whole packet-to-flow pipeline: the input is a sequence of frames (2-byte length
//! prefixes), fed to one analyzer with small tables so that eviction is exercised too.
#![no_main]
use std::time::Duration;

use helloscope_capture::{Analyzer, FlowConfig, LinkType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut cfg = FlowConfig::default();
    cfg.max_flows = 8;
    cfg.idle_timeout = Duration::from_secs(2);
    cfg.max_buffer_per_direction = 4096;
    cfg.max_buffer_total = 1 << 14;
    // Small, so that emptying a full table of fingerprints is fuzzed too.
    cfg.fingerprint_cache = 2;
    let mut a = Analyzer::new(cfg);
    let mut rest = data;
    let mut t = 0u64;
    let mut records = 0usize;
    while rest.len() >= 3 {
        let link = if rest[0] & 1 == 0 { LinkType::Ethernet } else { LinkType::Raw };
        t += (rest[0] >> 4) as u64;
        let len = (u16::from_le_bytes([rest[1], rest[2]]) as usize).min(rest.len() - 3);
        let frame = &rest[3..3 + len];
        rest = &rest[3 + len..];
        a.process(Duration::from_secs(t), link, frame, &mut |_| records += 1);
        assert!(a.flows_in_table() <= 8);
    }
    a.finish(&mut |_| records += 1);
    assert_eq!(a.flows_in_table(), 0);
});
