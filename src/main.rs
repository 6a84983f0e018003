//! helloscope: which TLS versions clients offer and negotiate, to whom, and who breaks when a
//! vendor switches old versions off.

mod decode;
mod jsonl;
mod output;
mod parallel;
mod policy;
mod report;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use helloscope_capture::{Analyzer, FlowConfig, FlowRecord, LiveConfig, PacketSource, Stats};

use output::{csv_row, FlowJson, Format, Table, CSV_HEADER};
use policy::{HostPattern, IpNet, Policy, Verdict};
use report::Report;

const EXAMPLES_ANALYZE: &str = "Examples:
  helloscope analyze captures/procore.pcap
  helloscope analyze --policy procore --report capture.pcapng
  tcpdump -i eth0 -w - 'tcp' | helloscope analyze -
  helloscope analyze --min-version 1.2 --host '*.example.com' --format csv -o flows.csv a.pcap b.pcap";

const EXAMPLES_SNIFF: &str = "Examples:
  sudo helloscope sniff -i eth0
  sudo helloscope sniff -i any -f 'tcp port 443' --policy onepagecrm --report";

/// Passive TLS handshake observer: which TLS versions clients offer and negotiate, to whom,
/// and who will break at a cut-over.
#[derive(Parser)]
#[command(name = "helloscope", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse capture files (pcap, pcapng; `-` for standard input).
    #[command(after_help = EXAMPLES_ANALYZE)]
    Analyze {
        /// Capture files; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<String>,
        /// BPF filter applied while reading.
        #[arg(short = 'f', long)]
        filter: Option<String>,
        #[command(flatten)]
        common: Common,
        /// No progress bar.
        #[arg(long)]
        no_progress: bool,
    },
    /// Watch a live interface; records stream out as flows are decided, Ctrl-C stops.
    #[command(after_help = EXAMPLES_SNIFF)]
    Sniff {
        /// Interface to capture on.
        #[arg(short = 'i', long)]
        interface: String,
        /// BPF filter.
        #[arg(short = 'f', long)]
        filter: Option<String>,
        /// Bytes kept per packet.
        #[arg(long, default_value_t = 65535)]
        snaplen: i32,
        /// Do not put the interface in promiscuous mode.
        #[arg(long)]
        no_promisc: bool,
        /// Kernel capture buffer, in MiB.
        #[arg(long, default_value_t = 16)]
        buffer_mib: i32,
        /// Drop privileges to this user once the interface is open (start as root, or give
        /// the binary cap_net_raw,cap_net_admin instead).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Print every field and fingerprint of one raw record or hello (hex on the command line,
    /// or a file holding hex or raw bytes).
    Decode {
        /// Hex bytes, or a path to a file.
        input: String,
    },
}

#[derive(Args)]
struct Common {
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write records to FILE instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// A built-in policy: procore, onepagecrm (repeatable).
    #[arg(long = "policy", value_name = "NAME")]
    policies: Vec<String>,
    /// A TOML policy file (see README).
    #[arg(long, value_name = "FILE")]
    policy_file: Option<PathBuf>,
    /// Minimum version for an ad-hoc policy over --host / --host-ip (e.g. 1.2).
    #[arg(long, value_name = "VERSION")]
    min_version: Option<String>,
    /// Host pattern for --min-version (`api.example.com`, `*.example.com`; repeatable).
    #[arg(long = "host", value_name = "PATTERN")]
    hosts: Vec<String>,
    /// Server address or block for flows without SNI (repeatable).
    #[arg(long = "host-ip", value_name = "ADDR[/LEN]")]
    host_ips: Vec<String>,
    /// Print the readiness report (to standard error when records go to standard output
    /// in jsonl/csv; after the table otherwise).
    #[arg(long)]
    report: bool,
    /// Most flows tracked at once.
    #[arg(long, default_value_t = 1 << 20)]
    max_flows: usize,
    /// Seconds without a packet after which a flow is reported and forgotten.
    #[arg(long, default_value_t = 120)]
    idle_timeout: u64,
    /// Most MiB held in reassembly buffers by all flows together.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    max_buffer_mib: usize,
    /// Analyzer threads: flows are sharded by a symmetric hash of their endpoints (records
    /// then come out in a different order).
    #[arg(long, default_value_t = 1, value_name = "N")]
    threads: usize,
}

struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// The first policy that covers the flow: its evaluation, and the version it asks for.
fn evaluate(
    policies: &[Policy],
    r: &FlowRecord,
) -> Option<(policy::Evaluation, helloscope_tls::TlsVersion)> {
    policies
        .iter()
        .find_map(|p| p.evaluate(r).map(|e| (e, p.min_version)))
}

/// A verdict that makes the run exit with status 1.
fn is_problem(e: &policy::Evaluation) -> bool {
    matches!(e.verdict, Verdict::Breaks | Verdict::Failing)
}

/// The part of the output work that needs no shared state: policy verdict and the formatted
/// line. Cloned into each `--threads` worker.
#[derive(Clone)]
struct Formatter {
    format: Format,
    policies: Vec<Policy>,
    report: bool,
    source: String,
}

/// Records after the worker-side work, a batch at a time.
#[derive(Default)]
struct Prepared {
    /// jsonl or csv lines.
    lines: Vec<u8>,
    /// Some verdict among them is a problem (breaks, failing).
    problem: bool,
    /// What the report needs, when one is asked for.
    report: Vec<(
        FlowRecord,
        Option<(policy::Evaluation, helloscope_tls::TlsVersion)>,
    )>,
    /// Tables are laid out at the end, on the main thread.
    records: Vec<FlowRecord>,
    /// What the batch's lines were written with (it keeps what repeats between lines).
    writer: jsonl::LineWriter,
}

impl Formatter {
    fn prepare(&self, r: FlowRecord, out: &mut Prepared) {
        if self.format == Format::Table {
            out.records.push(r);
            return;
        }
        if out.lines.capacity() == 0 {
            // Room for the batch's lines at once: growing by doubling copied each batch's
            // lines twice over. Under the allocator's threshold for mapping fresh pages.
            out.lines
                .reserve(helloscope_capture::sharded::RECORD_BATCH * LINE_ROOM);
        }
        let eval = evaluate(&self.policies, &r);
        out.problem |= eval.as_ref().is_some_and(|(e, _)| is_problem(e));
        match self.format {
            Format::Csv => {
                let j = FlowJson::new(&r, &self.source, eval.as_ref().map(|e| &e.0));
                out.lines.extend_from_slice(csv_row(&j).as_bytes());
            }
            _ => out.writer.write_line(
                &mut out.lines,
                &r,
                &self.source,
                eval.as_ref().map(|e| &e.0),
            ),
        }
        out.lines.push(b'\n');
        if self.report {
            out.report.push((r, eval));
        }
    }
}

/// Bytes reserved per jsonl line in a batch (lines are ~1.2 KB; a longer one grows the batch).
const LINE_ROOM: usize = 1536;

/// Size of the output buffer wrapped around files and standard output.
const OUT_BUFFER: usize = 1 << 16;

/// Bytes of jsonl lines gathered before they go out (at least `OUT_BUFFER`).
const LINES_BUFFER: usize = OUT_BUFFER;

/// Where records go, in the chosen format.
struct Sink {
    format: Format,
    out: Box<dyn Write>,
    table: Table,
    policies: Vec<Policy>,
    report: Option<Report>,
    problems: bool,
    streaming_table: bool,
    wrote_header: bool,
    /// jsonl lines not yet handed to `out`: written here directly, and handed over in blocks
    /// larger than `out`'s own buffer, which then passes them through without a copy.
    lines: Vec<u8>,
    writer: jsonl::LineWriter,
}

impl Sink {
    fn formatter(&self, source: &str) -> Formatter {
        Formatter {
            format: self.format,
            policies: self.policies.clone(),
            report: self.report.is_some(),
            source: source.to_owned(),
        }
    }

    /// Writes what a worker prepared.
    fn accept(&mut self, p: Prepared, source: &str) -> io::Result<()> {
        for r in &p.records {
            self.record(r, source)?;
        }
        if p.lines.is_empty() {
            return Ok(());
        }
        if self.format == Format::Csv && !self.wrote_header {
            writeln!(self.out, "{}", CSV_HEADER.join(","))?;
            self.wrote_header = true;
        }
        self.out.write_all(&p.lines)?;
        self.problems |= p.problem;
        if let Some(rep) = &mut self.report {
            for (r, eval) in &p.report {
                rep.add(r, eval.as_ref().map(|e| &e.0), eval.as_ref().map(|e| e.1));
            }
        }
        Ok(())
    }

    fn record(&mut self, r: &FlowRecord, source: &str) -> io::Result<()> {
        let eval = evaluate(&self.policies, r);
        self.problems |= eval.as_ref().is_some_and(|(e, _)| is_problem(e));
        if let Some(rep) = &mut self.report {
            rep.add(r, eval.as_ref().map(|e| &e.0), eval.as_ref().map(|e| e.1));
        }
        let eval = eval.as_ref().map(|e| &e.0);
        match self.format {
            Format::Jsonl => {
                self.writer.write_line(&mut self.lines, r, source, eval);
                self.lines.push(b'\n');
                if self.streaming_table || self.lines.len() >= LINES_BUFFER {
                    self.write_lines()?;
                }
            }
            Format::Csv => {
                let j = FlowJson::new(r, source, eval);
                if !self.wrote_header {
                    writeln!(self.out, "{}", CSV_HEADER.join(","))?;
                    self.wrote_header = true;
                }
                writeln!(self.out, "{}", csv_row(&j))?;
            }
            Format::Table if self.streaming_table => {
                let mut t = Table::default();
                t.push(&FlowJson::new(r, source, eval));
                let mut buf = Vec::new();
                t.write(&mut buf)?;
                let text = String::from_utf8_lossy(&buf);
                let mut lines = text.lines();
                let header = lines.next().unwrap_or_default();
                if !self.wrote_header {
                    writeln!(self.out, "{header}")?;
                    self.wrote_header = true;
                }
                for l in lines {
                    writeln!(self.out, "{l}")?;
                }
            }
            Format::Table => self.table.push(&FlowJson::new(r, source, eval)),
        }
        // Live: each record goes out as the flow is decided. Files: buffered.
        if self.streaming_table {
            self.out.flush()?;
        }
        Ok(())
    }

    fn write_lines(&mut self) -> io::Result<()> {
        self.out.write_all(&self.lines)?;
        self.lines.clear();
        Ok(())
    }

    fn finish(&mut self, stats: &Stats) -> io::Result<()> {
        self.write_lines()?;
        if self.format == Format::Table && !self.streaming_table {
            self.table.write(&mut self.out)?;
        }
        if let Some(rep) = &self.report {
            if self.format == Format::Table {
                writeln!(self.out)?;
                rep.write(&mut self.out)?;
            } else {
                rep.write(&mut io::stderr())?;
            }
        }
        self.out.flush()?;
        print_stats(stats);
        Ok(())
    }
}

/// Peak resident memory of this process in KiB (Linux), for the summary line.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One line on standard error: what was read, reported, and shed, and the peak memory.
fn print_stats(s: &Stats) {
    let mut parts = vec![format!(
        "{} packets, {} TLS flows reported, {} non-TLS flows ignored",
        s.packets, s.records, s.flows_not_tls
    )];
    if !s.skipped.is_empty() {
        let skipped: Vec<String> = s.skipped.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(format!("skipped: {}", skipped.join(" ")));
    }
    let shed = [
        (s.evicted_table_full, "flows evicted from a full table"),
        (s.evicted_idle, "idle flows timed out"),
        (s.flows_without_payload, "connections without data"),
        (s.flows_buffer_limit, "flows over the buffer limit"),
        (
            s.flows_overlap_conflict,
            "flows with conflicting overlapping segments",
        ),
        (s.flows_malformed, "flows that stopped parsing as TLS"),
        (
            s.buffers_shed,
            "flow buffers dropped to stay under --max-buffer-mib",
        ),
        (s.ip_reassembled, "IP datagrams reassembled"),
        (s.ip_fragments_dropped, "IP fragments dropped"),
        (s.ip_datagrams_incomplete, "IP datagrams left incomplete"),
        (
            s.ip_fragment_overlap_conflicts,
            "IP fragments overlapping with other bytes",
        ),
        (s.tunnelled_segments, "TCP segments from tunnels"),
    ];
    for (n, what) in shed {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if let Some(k) = peak_rss_kib() {
        parts.push(format!("peak memory {} MiB", k.div_ceil(1024)));
    }
    eprintln!("helloscope: {}", parts.join(", "));
}

fn build_policies(c: &Common) -> Result<Vec<Policy>, Failure> {
    let mut out = Vec::new();
    for name in &c.policies {
        out.push(Policy::builtin(name).ok_or_else(|| {
            Failure(format!(
                "unknown policy {name:?} (built in: {})",
                Policy::BUILTIN.join(", ")
            ))
        })?);
    }
    if let Some(path) = &c.policy_file {
        out.extend(policy::load_file(path).map_err(Failure)?);
    }
    match &c.min_version {
        Some(v) => {
            if c.hosts.is_empty() && c.host_ips.is_empty() {
                return Err(Failure("--min-version needs --host or --host-ip".into()));
            }
            out.push(Policy {
                profile: "custom".into(),
                hosts: c.hosts.iter().map(|h| HostPattern::new(h)).collect(),
                host_ips: c
                    .host_ips
                    .iter()
                    .map(|s| IpNet::parse(s))
                    .collect::<Result<_, _>>()
                    .map_err(Failure)?,
                min_version: policy::parse_version(v).map_err(Failure)?,
                legacy_hosts: vec![],
            });
        }
        None if !c.hosts.is_empty() || !c.host_ips.is_empty() => {
            return Err(Failure("--host and --host-ip need --min-version".into()));
        }
        None => {}
    }
    // --host-ip also applies to the built-in profiles: servers reached without SNI.
    if c.min_version.is_none() {
        let nets: Vec<IpNet> = c
            .host_ips
            .iter()
            .filter_map(|s| IpNet::parse(s).ok())
            .collect();
        for p in &mut out {
            p.host_ips.extend(nets.iter().copied());
        }
    }
    Ok(out)
}

fn make_sink(c: &Common, streaming: bool) -> Result<Sink, Failure> {
    let to_terminal = c.output.is_none() && io::stdout().is_terminal();
    let format = c.format.unwrap_or(if to_terminal {
        Format::Table
    } else {
        Format::Jsonl
    });
    let out: Box<dyn Write> = match &c.output {
        Some(p) => Box::new(BufWriter::with_capacity(
            OUT_BUFFER,
            File::create(p).map_err(|e| Failure(format!("{}: {e}", p.display())))?,
        )),
        None => Box::new(BufWriter::with_capacity(OUT_BUFFER, io::stdout().lock())),
    };
    Ok(Sink {
        format,
        out,
        table: Table::default(),
        policies: build_policies(c)?,
        report: c.report.then(Report::default),
        problems: false,
        streaming_table: streaming,
        wrote_header: false,
        lines: Vec::with_capacity(LINES_BUFFER + 4096),
        writer: jsonl::LineWriter::default(),
    })
}

fn flow_config(c: &Common) -> FlowConfig {
    FlowConfig {
        max_flows: c.max_flows.max(1),
        idle_timeout: Duration::from_secs(c.idle_timeout.max(1)),
        max_buffer_total: c.max_buffer_mib.max(1) << 20,
        ..FlowConfig::default()
    }
}

fn progress_bar(path: &str, enabled: bool) -> Option<indicatif::ProgressBar> {
    if !enabled || path == "-" || !io::stderr().is_terminal() {
        return None;
    }
    let len = std::fs::metadata(path).ok()?.len();
    if len < 32 << 20 {
        return None;
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .ok()?
        .progress_chars("=> "),
    );
    pb.set_message(path.to_owned());
    Some(pb)
}

fn analyze(
    files: &[String],
    filter: Option<&str>,
    c: &Common,
    progress: bool,
) -> Result<ExitCode, Failure> {
    let mut sink = make_sink(c, false)?;
    let mut total = Stats::default();
    let mut damaged = false;
    for path in files {
        let mut source = match PacketSource::open_file(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("helloscope: {e}");
                damaged = true;
                continue;
            }
        };
        if let Some(f) = filter {
            source.set_filter(f)?;
        }
        let link = source.link_type();
        let pb = progress_bar(path, progress);
        let mut io_err: Option<io::Error> = None;
        let mut n: u64 = 0;
        let mut read_error = None;
        let stats = if c.threads > 1 {
            let formatter = sink.formatter(path);
            let prepare = |r: FlowRecord, out: &mut Prepared| formatter.prepare(r, out);
            let mut accept = |p: Prepared| {
                if io_err.is_none() {
                    if let Err(e) = sink.accept(p, path) {
                        io_err = Some(e);
                    }
                }
            };
            let progress = |bytes: u64| {
                if let Some(pb) = &pb {
                    pb.set_position(bytes);
                }
            };
            match source.analyze_sharded(
                c.threads,
                &flow_config(c),
                &prepare,
                &mut accept,
                &progress,
            ) {
                Some((stats, error)) => {
                    read_error = error;
                    stats
                }
                None => {
                    let mut reading = Reading {
                        source: &mut source,
                        bytes: &mut n,
                        progress: &pb,
                        error: &mut read_error,
                    };
                    parallel_file(&mut reading, c, link, &prepare, &mut accept)
                }
            }
        } else {
            let mut emit = |r: FlowRecord| {
                if io_err.is_none() {
                    if let Err(e) = sink.record(&r, path) {
                        io_err = Some(e);
                    }
                }
            };
            let mut analyzer = Analyzer::new(flow_config(c));
            loop {
                match source.next_packet() {
                    Ok(Some(p)) => {
                        n += 16 + p.data.len() as u64;
                        analyzer.process(p.ts, link, p.data, &mut emit);
                        if let Some(pb) = &pb {
                            if n & 0xffff < 1600 {
                                pb.set_position(n);
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        read_error = Some(e);
                        break;
                    }
                }
            }
            analyzer.finish(&mut emit);
            analyzer.stats().clone()
        };
        if let Some(e) = read_error {
            eprintln!("helloscope: {e} (flows read before it are reported)");
            damaged = true;
        }
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
        if let Some(e) = io_err {
            return Err(Failure(format!("writing output: {e}")));
        }
        total.merge(&stats);
    }
    sink.finish(&total)?;
    Ok(if damaged {
        ExitCode::from(2)
    } else if sink.problems {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A file being read, with its progress and the error that stopped it, if any.
struct Reading<'a> {
    source: &'a mut PacketSource,
    bytes: &'a mut u64,
    progress: &'a Option<indicatif::ProgressBar>,
    error: &'a mut Option<helloscope_capture::SourceError>,
}

/// One file through `--threads` analyzers.
fn parallel_file(
    r: &mut Reading<'_>,
    c: &Common,
    link: helloscope_capture::LinkType,
    prepare: &(dyn Fn(FlowRecord, &mut Prepared) + Sync),
    emit: &mut dyn FnMut(Prepared),
) -> Stats {
    let mut read = |visit: &mut dyn FnMut(Duration, &[u8])| -> bool {
        match r.source.next_packet() {
            Ok(Some(p)) => {
                *r.bytes += 16 + p.data.len() as u64;
                if let Some(pb) = r.progress {
                    if *r.bytes & 0xffff < 1600 {
                        pb.set_position(*r.bytes);
                    }
                }
                visit(p.ts, p.data);
                true
            }
            Ok(None) => false,
            Err(e) => {
                *r.error = Some(e);
                false
            }
        }
    };
    parallel::run(c.threads, &flow_config(c), link, &mut read, prepare, emit)
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
}

fn sniff(o: SniffOptions<'_>, c: &Common) -> Result<ExitCode, Failure> {
    let SniffOptions {
        interface,
        filter,
        snaplen,
        promisc,
        buffer_mib,
        user,
    } = o;
    let cfg = LiveConfig {
        interface: interface.to_owned(),
        snaplen,
        promiscuous: promisc,
        buffer_size: buffer_mib.max(1).saturating_mul(1 << 20),
        ..LiveConfig::default()
    };
    let mut source = PacketSource::open_live(&cfg)?;
    if let Some(f) = filter {
        source.set_filter(f)?;
    }
    if let Some(name) = user {
        drop_privileges(name)?;
    }
    eprintln!(
        "helloscope: listening on {interface}{}",
        filter.map(|f| format!(" ({f})")).unwrap_or_default()
    );
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| Failure(format!("cannot install the Ctrl-C handler: {e}")))?;
    }
    let mut sink = make_sink(c, true)?;
    let mut analyzer = Analyzer::new(flow_config(c));
    let link = source.link_type();
    let mut io_err: Option<io::Error> = None;
    let mut emit = |r: FlowRecord| {
        if io_err.is_none() {
            if let Err(e) = sink.record(&r, interface) {
                io_err = Some(e);
            }
        }
    };
    while !stop.load(Ordering::SeqCst) {
        match source.next_packet() {
            Ok(Some(p)) => analyzer.process(p.ts, link, p.data, &mut emit),
            Ok(None) => {}
            Err(e) => {
                eprintln!("helloscope: {e}");
                break;
            }
        }
    }
    analyzer.finish(&mut emit);
    if let Some(e) = io_err {
        return Err(Failure(format!("writing output: {e}")));
    }
    sink.finish(analyzer.stats())?;
    if let Some(s) = source.capture_stats() {
        eprintln!(
            "helloscope: capture: {} received, {} dropped by kernel, {} dropped by interface",
            s.received, s.dropped_by_kernel, s.dropped_by_interface
        );
    }
    Ok(if sink.problems {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn decode_cmd(input: &str) -> Result<ExitCode, Failure> {
    let bytes = match decode::parse_hex(input) {
        Some(b) => b,
        None => {
            let raw = std::fs::read(input)
                .map_err(|e| Failure(format!("{input}: not hex, and not a readable file: {e}")))?;
            std::str::from_utf8(&raw)
                .ok()
                .and_then(decode::parse_hex)
                .unwrap_or(raw)
        }
    };
    let text = decode::describe(&bytes).map_err(Failure)?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match &cli.command {
        Command::Analyze {
            files,
            filter,
            common,
            no_progress,
        } => analyze(files, filter.as_deref(), common, !no_progress),
        Command::Sniff {
            interface,
            filter,
            snaplen,
            no_promisc,
            buffer_mib,
            user,
            common,
        } => {
            let o = SniffOptions {
                interface,
                filter: filter.as_deref(),
                snaplen: *snaplen,
                promisc: !no_promisc,
                buffer_mib: *buffer_mib,
                user: user.as_deref(),
            };
            sniff(o, common)
        }
        Command::Decode { input } => decode_cmd(input),
    };
    match r {
        Ok(code) => code,
        Err(Failure(msg)) => {
            eprintln!("helloscope: {msg}");
            ExitCode::from(2)
        }
    }
}
