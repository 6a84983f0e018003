//! `--max-memory-mib` (#16): one bound over everything that grows with traffic. Floods mixed
//! with the real handshakes of `captures/openssl.pcap` are run under a small bound: the peak
//! resident memory stays under the bound plus the fixed overhead of the program (measured on
//! the real capture alone: code, the stack database, I/O buffers, which no traffic grows), what
//! is shed for it is counted and said once, and the real flows are reported as without it
//! when the bound is not reached.

use std::path::{Path, PathBuf};

mod common;
#[path = "../benches/gen/mod.rs"]
mod gen;

use common::Run;
use gen::Flood;

fn write(name: &str, flood: Flood, n: u32) -> PathBuf {
    gen::flood_file("memory", name, &gen::openssl_frames(), flood, n)
}

/// One run, its records in one order whatever the threads.
fn run(path: &Path, args: &[&str]) -> Run {
    let mut r = common::analyze(path, args);
    r.records.sort_by_key(|r| r.to_string());
    r
}

const BOUND: &str = "16";
const BOUND_MIB: u64 = 16;

/// The real capture alone under the small bound: nothing is shed, the records are those of
/// the default bound, and its peak is the program's fixed overhead.
fn baseline(threads: &str) -> Run {
    let path = write(&format!("baseline-{threads}.pcap"), Flood::Syn, 0);
    let default = run(&path, &["--threads", threads]);
    let small = run(&path, &["--max-memory-mib", BOUND, "--threads", threads]);
    assert_eq!(default.records.len(), 12, "the twelve handshakes");
    assert!(
        small.records == default.records,
        "under the bound, the same records"
    );
    assert_eq!(small.notices(), 0, "{}", small.stderr);
    assert!(!small.stderr.contains("shed for"), "{}", small.stderr);
    small
}

/// 60 000 connections holding half a ClientHello each, never answered: unbounded they take
/// far more than 16 MiB (about 1.4 KB each); bounded, the oldest flows are evicted and
/// reported, that is counted, said once, and the peak stays under the bound and the overhead.
fn half_hellos(threads: &str) {
    let base = baseline(threads);
    let path = write(
        &format!("halfhellos-{threads}.pcap"),
        Flood::HalfHello,
        60_000,
    );
    let unbounded = run(&path, &["--max-memory-mib", "0", "--threads", threads]);
    assert!(
        unbounded.peak_mib > BOUND_MIB + base.peak_mib,
        "the flood needs more than the bound: {}",
        unbounded.stderr
    );
    assert_eq!(unbounded.notices(), 0);
    assert_eq!(unbounded.shed("flows"), None);

    let r = run(&path, &["--max-memory-mib", BOUND, "--threads", threads]);
    assert!(
        r.peak_mib <= BOUND_MIB + base.peak_mib,
        "peak {} MiB over {BOUND_MIB} MiB and the {} MiB of the program: {}",
        r.peak_mib,
        base.peak_mib,
        r.stderr
    );
    assert_eq!(r.notices(), 1, "said once: {}", r.stderr);
    assert!(
        r.stderr
            .contains("memory bound 16 MiB reached: evicting the oldest flows"),
        "{}",
        r.stderr
    );
    let shed = r.shed("flows").expect("flows shed for memory");
    assert!(shed > 60_000 / 2, "most flood flows evicted: {shed}");
    assert!(
        r.counter(" flows evicted from a full table") >= shed,
        "{}",
        r.stderr
    );
    // Evicted TLS flows are reported, not lost: every flood connection and every real one
    // has its record.
    let clients = r.clients();
    assert!(
        base.clients().is_subset(&clients),
        "the real flows are reported"
    );
    assert!(clients.len() >= 60_000 + 12, "{}", clients.len());
}

#[test]
fn half_hellos_under_a_small_bound() {
    half_hellos("1");
}

#[test]
fn half_hellos_under_a_small_bound_with_threads() {
    half_hellos("2");
}

/// 300 000 SYNs never answered: the connections without data reach their share, the oldest
/// go; the real handshakes among them are reported exactly as without the flood.
#[test]
fn syn_flood_under_a_small_bound() {
    let base = baseline("1");
    let path = write("syns.pcap", Flood::Syn, 300_000);
    let r = run(&path, &["--max-memory-mib", BOUND]);
    assert!(
        r.records == base.records,
        "the same records as without the flood"
    );
    assert!(r.peak_mib <= BOUND_MIB + base.peak_mib, "{}", r.stderr);
    assert_eq!(r.notices(), 1, "said once: {}", r.stderr);
    assert!(
        r.stderr
            .contains("forgetting the oldest connections without data"),
        "{}",
        r.stderr
    );
    let shed = r.shed("half_open").expect("connections shed for memory");
    assert!(shed > 200_000, "{shed}");
    assert_eq!(
        r.counter(" connections without data"),
        300_000,
        "each counted once"
    );
    // The default bound holds them: nothing shed for memory.
    let d = run(&path, &[]);
    assert_eq!(d.notices(), 0, "{}", d.stderr);
    assert!(d.shed("half_open").is_none());
}
