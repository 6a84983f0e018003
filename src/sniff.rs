//! `helloscope sniff`: a live interface, records out as flows are decided.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use helloscope_capture::{Analyzer, CaptureStats, FlowRecord, LiveConfig, PacketSource, Stats};

use crate::common::{flow_config, Common, Failure};
use crate::sink::{make_live_sink, Rotation, Sink};

pub const EXAMPLES_SNIFF: &str = "Examples:
  sudo helloscope sniff -i eth0
  sudo helloscope sniff -i any -f 'tcp port 443' --policy onepagecrm --report";

/// `sniff`'s own options.
#[derive(Args)]
pub struct SniffArgs {
    /// Interface to capture on.
    #[arg(short = 'i', long)]
    pub interface: String,
    /// BPF filter.
    #[arg(short = 'f', long)]
    pub filter: Option<String>,
    /// Bytes kept per packet (a whole segment is needed: hellos span segments of any size).
    #[arg(long, default_value_t = 65535)]
    pub snaplen: i32,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// Kernel capture buffer, in MiB (resident once filled: the default keeps the process
    /// near 40 MiB and holds about 0.1 s of full-size packets at 300 k packets/s).
    #[arg(long, default_value_t = 32)]
    pub buffer_mib: i32,
    /// Drop privileges to this user once the interface is open (start as root, or give
    /// the binary cap_net_raw,cap_net_admin instead).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Rotate the -o file when it reaches MIB mebibytes: it is renamed FILE.<UTC time> and
    /// a new FILE started, between whole records.
    #[arg(long, value_name = "MIB", requires = "output")]
    pub rotate_mib: Option<u64>,
    /// Rotate the -o file when it is SECS seconds old (and not empty).
    #[arg(long, value_name = "SECS", requires = "output")]
    pub rotate_secs: Option<u64>,
    /// Write the readiness report to --report-file every SECS seconds (and at the end).
    #[arg(long, value_name = "SECS", requires = "report_file")]
    pub report_every: Option<u64>,
    /// Where the readiness report is written, replaced whole each time (at the end, and
    /// every --report-every seconds).
    #[arg(long, value_name = "FILE")]
    pub report_file: Option<PathBuf>,
    /// Print the counters (packets, drops, flows by outcome, memory) every SECS seconds on
    /// standard error; SIGUSR1 prints them at any time.
    #[arg(long, value_name = "SECS")]
    pub stats_every: Option<u64>,
    /// Print the counters as one JSON object per line.
    #[arg(long)]
    pub stats_json: bool,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `sniff`.
pub fn run(a: &SniffArgs) -> Result<ExitCode, Failure> {
    let secs = |s: Option<u64>| s.filter(|&s| s > 0).map(Duration::from_secs);
    let o = SniffOptions {
        interface: &a.interface,
        filter: a.filter.as_deref(),
        snaplen: a.snaplen,
        promisc: !a.no_promisc,
        buffer_mib: a.buffer_mib,
        user: a.user.as_deref(),
        rotation: Rotation {
            max_bytes: a.rotate_mib.unwrap_or(0).saturating_mul(1 << 20),
            max_age: secs(a.rotate_secs).unwrap_or(Duration::ZERO),
        },
        report_every: secs(a.report_every),
        report_file: a.report_file.as_deref(),
        stats_every: secs(a.stats_every),
        stats_json: a.stats_json,
    };
    sniff(o, &a.common)
}

/// Becomes `name` (its uid, primary gid and only that group), for good.
fn drop_privileges(name: &str) -> Result<(), Failure> {
    use nix::unistd::{getuid, setgid, setgroups, setuid, User};
    let user = User::from_name(name)
        .map_err(|e| Failure(format!("--user {name}: {e}")))?
        .ok_or_else(|| Failure(format!("--user {name}: no such user")))?;
    setgroups(&[user.gid]).map_err(|e| Failure(format!("--user {name}: setgroups: {e}")))?;
    setgid(user.gid).map_err(|e| Failure(format!("--user {name}: setgid: {e}")))?;
    setuid(user.uid).map_err(|e| Failure(format!("--user {name}: setuid: {e}")))?;
    if getuid() != user.uid
        || (user.uid.as_raw() != 0 && setuid(nix::unistd::Uid::from_raw(0)).is_ok())
    {
        return Err(Failure(format!(
            "--user {name}: privileges were not dropped"
        )));
    }
    Ok(())
}

struct SniffOptions<'a> {
    interface: &'a str,
    filter: Option<&'a str>,
    snaplen: i32,
    promisc: bool,
    buffer_mib: i32,
    user: Option<&'a str>,
    rotation: Rotation,
    report_every: Option<Duration>,
    report_file: Option<&'a Path>,
    stats_every: Option<Duration>,
    stats_json: bool,
}

/// Signals, each seen by the loop as a flag: stop (SIGINT, SIGTERM), reopen the output
/// (SIGHUP), print the counters (SIGUSR1).
struct Signals {
    stop: Arc<AtomicBool>,
    reopen: Arc<AtomicBool>,
    counters: Arc<AtomicBool>,
}

impl Signals {
    fn install() -> Result<Self, Failure> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
        use signal_hook::flag;
        let s = Signals {
            stop: Arc::default(),
            reopen: Arc::default(),
            counters: Arc::default(),
        };
        let err = |e: io::Error| Failure(format!("cannot install the signal handlers: {e}"));
        for sig in [SIGINT, SIGTERM] {
            // A second Ctrl-C while the flows are flushed ends the process at once.
            flag::register_conditional_shutdown(sig, 130, s.stop.clone()).map_err(err)?;
            flag::register(sig, s.stop.clone()).map_err(err)?;
        }
        flag::register(SIGHUP, s.reopen.clone()).map_err(err)?;
        flag::register(SIGUSR1, s.counters.clone()).map_err(err)?;
        Ok(s)
    }
}

/// Records to the sink, counted by outcome; the first write error is kept.
struct Out<'a> {
    sink: Sink,
    source: &'a str,
    by_outcome: BTreeMap<&'static str, u64>,
    error: Option<io::Error>,
}

impl Out<'_> {
    fn record(&mut self, r: FlowRecord) {
        *self.by_outcome.entry(r.outcome.name()).or_insert(0) += 1;
        if self.error.is_none() {
            if let Err(e) = self.sink.record(&r, self.source) {
                self.error = Some(e);
            }
        }
    }

    fn check(&mut self, what: &str, r: io::Result<()>) {
        if let Err(e) = r {
            eprintln!("helloscope: {what}: {e}");
            self.error.get_or_insert(e);
        }
    }
}

/// The wall-clock time as packet times are kept: since the Unix epoch.
fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// Resident and peak resident memory of this process, in KiB (Linux).
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// What --max-memory-mib shed, by reason: the analyzer's and the stack names'.
fn memory_shed(s: &Stats) -> BTreeMap<&'static str, u64> {
    let mut m = s.memory_shed.clone();
    let names = crate::stack::cache_shed();
    if names > 0 {
        m.insert(helloscope_capture::memory::Shed::StackNames.name(), names);
    }
    m
}

/// The counters of a running sensor, as one JSON object.
fn counters(
    s: &Stats,
    capture: Option<CaptureStats>,
    out: &Out<'_>,
    flows_in_table: usize,
    started: Instant,
) -> serde_json::Value {
    let (rss, peak) = memory_kib();
    let capture = capture.unwrap_or_default();
    serde_json::json!({
        "ts": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        "uptime_secs": started.elapsed().as_secs(),
        "packets": s.packets,
        "bytes": s.bytes,
        "kernel": {
            "received": capture.received,
            "dropped": capture.dropped_by_kernel,
            "dropped_by_interface": capture.dropped_by_interface,
        },
        "skipped": s.skipped.iter().map(|(k, v)| (k.name(), v)).collect::<std::collections::BTreeMap<_, _>>(),
        "flows": {
            "tls": s.flows_tls,
            "not_tls": s.flows_not_tls,
            "without_payload": s.flows_without_payload,
            "in_table": flows_in_table,
            "peak": s.flows_peak,
        },
        "records": s.records,
        "outcomes": out.by_outcome,
        "shed": {
            "evicted_idle": s.evicted_idle,
            "evicted_table_full": s.evicted_table_full,
            "evicted_finished": s.evicted_finished,
            "buffers_shed": s.buffers_shed,
            "flows_buffer_limit": s.flows_buffer_limit,
            "memory": memory_shed(s),
        },
        "memory_mib": { "rss": rss.div_ceil(1024), "peak": peak.div_ceil(1024) },
        "rotations": out.sink.rotations,
    })
}

/// `a.b=1 a.c=2 …` from a JSON object, for a person reading standard error.
fn flatten(prefix: &str, v: &serde_json::Value, parts: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, parts);
            }
        }
        serde_json::Value::String(s) => parts.push(format!("{prefix}={s}")),
        v => parts.push(format!("{prefix}={v}")),
    }
}

fn print_counters(v: &serde_json::Value, json: bool) {
    if json {
        eprintln!("{v}");
    } else {
        let mut parts = Vec::new();
        flatten("", v, &mut parts);
        eprintln!("helloscope: counters: {}", parts.join(" "));
    }
}

/// A deadline that comes back every `every`.
struct Every {
    every: Option<Duration>,
    next: Instant,
}

impl Every {
    fn new(every: Option<Duration>, now: Instant) -> Self {
        Every {
            every,
            next: now + every.unwrap_or(Duration::ZERO),
        }
    }

    fn due(&mut self, now: Instant) -> bool {
        match self.every {
            Some(e) if now >= self.next => {
                self.next = now + e;
                true
            }
            _ => false,
        }
    }
}

/// Packets read between looks at the clock and the signals while packets keep coming.
const HOUSEKEEPING_EVERY: u32 = 256;

/// How often the analyzer is told the time: idle flows are reported within this much of
/// their timeout's sweep, on a quiet link too.
const TICK: Duration = Duration::from_secs(1);

fn sniff(o: SniffOptions<'_>, c: &Common) -> Result<ExitCode, Failure> {
    let SniffOptions {
        interface,
        filter,
        snaplen,
        promisc,
        buffer_mib,
        user,
        rotation,
        report_every,
        report_file,
        stats_every,
        stats_json,
    } = o;
    let mut cfg = LiveConfig::new(interface);
    cfg.snaplen = snaplen;
    cfg.promiscuous = promisc;
    cfg.buffer_size = buffer_mib.max(1).saturating_mul(1 << 20);
    let mut source = PacketSource::open_live(&cfg)?;
    if let Some(f) = filter {
        source.set_filter(f)?;
    }
    if let Some(name) = user {
        drop_privileges(name)?;
    }
    let signals = Signals::install()?;
    let mut out = Out {
        sink: make_live_sink(c, rotation, report_file.is_some())?,
        source: interface,
        by_outcome: BTreeMap::new(),
        error: None,
    };
    eprintln!(
        "helloscope: listening on {interface}{}",
        filter.map(|f| format!(" ({f})")).unwrap_or_default()
    );
    out.sink.analysed_sources = vec![format!("interface {interface}")];
    let mut analyzer = Analyzer::new(flow_config(c));
    let link = source.link_type();
    let started = Instant::now();
    let mut next_tick = started + TICK;
    let mut report_due = Every::new(report_every, started);
    let mut stats_due = Every::new(stats_every, started);
    let mut read_error = None;
    let mut since_housekeeping = 0u32;
    while !signals.stop.load(Ordering::Relaxed) {
        match source.next_packet() {
            Ok(Some(p)) => {
                analyzer.process(p.ts, link, p.data, &mut |r| out.record(r));
                since_housekeeping += 1;
                if since_housekeeping < HOUSEKEEPING_EVERY {
                    continue;
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("helloscope: {e}");
                read_error = Some(e);
                break;
            }
        }
        since_housekeeping = 0;
        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + TICK;
            analyzer.tick(wall_clock(), &mut |r| out.record(r));
            let r = out.sink.rotate_if_old();
            out.check("rotating the output", r);
        }
        if signals.reopen.swap(false, Ordering::Relaxed) {
            let r = out.sink.reopen();
            out.check("reopening the output", r);
        }
        if report_due.due(now) {
            if let Some(path) = report_file {
                let r = out.sink.write_report_file(path);
                out.check(&format!("writing {}", path.display()), r);
            }
        }
        if stats_due.due(now) | signals.counters.swap(false, Ordering::Relaxed) {
            let v = counters(
                analyzer.stats(),
                source.capture_stats(),
                &out,
                analyzer.flows_in_table(),
                started,
            );
            print_counters(&v, stats_json);
        }
        if out.error.is_some() {
            break;
        }
    }
    // Stopped: every flow still open is reported, then the report.
    analyzer.finish(&mut |r| out.record(r));
    if let Some(e) = out.error {
        return Err(Failure(format!("writing output: {e}")));
    }
    let mut total = analyzer.stats().clone();
    total.memory_shed = memory_shed(&total);
    out.sink.finish(&total)?;
    if let Some(path) = report_file {
        out.sink
            .write_report_file(path)
            .map_err(|e| Failure(format!("writing {}: {e}", path.display())))?;
    }
    if let Some(s) = source.capture_stats() {
        eprintln!(
            "helloscope: capture: {} received, {} dropped by kernel, {} dropped by interface",
            s.received, s.dropped_by_kernel, s.dropped_by_interface
        );
    }
    // A stop request is the normal end of a sensor (verdicts are in the records and the
    // report); a capture that failed is not, and a service manager should restart it.
    Ok(if read_error.is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
