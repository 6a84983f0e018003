//! Where records go: the policy verdict, the formatted line, the report, the summary line.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use helloscope_capture::{FlowRecord, Stats};

use crate::common::{build_policies, sensor_name, Common, Failure};
use crate::inputs::Sources;
use crate::jsonl;
use crate::output::{csv_row, Format, Table, CSV_HEADER};
use crate::policy::{self, Policy, Verdict};
use crate::report::Report;
use crate::schema::Flow;
use crate::stack::{NameCache, StackDb, StackMatch};

/// The first policy that covers the flow: its evaluation, and the version it asks for.
pub fn evaluate(
    policies: &[Policy],
    r: &FlowRecord,
) -> Option<(policy::Evaluation, helloscope_tls::TlsVersion)> {
    policies
        .iter()
        .find_map(|p| p.evaluate(r).map(|e| (e, p.min_version)))
}

/// The stack of the flow's client (once per distinct hello, `names` keeping those given), and
/// the policy's evaluation with the stack's remediation on its `below_minimum` finding.
#[inline]
pub fn judge(
    stacks: &StackDb,
    names: &mut NameCache,
    policies: &[Policy],
    r: &FlowRecord,
) -> (
    Option<Arc<StackMatch>>,
    Option<(policy::Evaluation, helloscope_tls::TlsVersion)>,
) {
    let stack = r.client_hello.as_ref().map(|c| stacks.name_in(names, c));
    let mut eval = evaluate(policies, r);
    if let (Some((e, _)), Some(s)) = (&mut eval, &stack) {
        crate::stack::remediate(e, s);
    }
    (stack, eval)
}

/// A verdict that makes the run exit with status 1.
pub fn is_problem(e: &policy::Evaluation) -> bool {
    matches!(e.verdict, Verdict::Breaks | Verdict::Failing)
}

/// The part of the output work that needs no shared state: policy verdict and the formatted
/// line. Cloned into each `--threads` worker.
#[derive(Clone)]
pub struct Formatter {
    format: Format,
    policies: Vec<Policy>,
    stacks: Arc<StackDb>,
    report: bool,
    sources: Sources,
    sensor: String,
}

/// A record for the report: its evaluation and the version the policy asks for, its stack.
type ReportItem = (
    FlowRecord,
    Option<(policy::Evaluation, helloscope_tls::TlsVersion)>,
    Option<Arc<StackMatch>>,
);

/// Records after the worker-side work, a batch at a time.
#[derive(Default)]
pub struct Prepared {
    /// jsonl or csv lines.
    lines: Vec<u8>,
    /// Some verdict among them is a problem (breaks, failing).
    problem: bool,
    /// What the report needs, when one is asked for.
    report: Vec<ReportItem>,
    /// Tables are laid out at the end, on the main thread.
    records: Vec<FlowRecord>,
    /// What the batch's lines were written with (it keeps what repeats between lines).
    writer: jsonl::LineWriter,
}

impl Formatter {
    pub fn prepare(&self, r: FlowRecord, out: &mut Prepared) {
        if self.format == Format::Table {
            out.records.push(r);
            return;
        }
        if out.lines.capacity() == 0 {
            // Room for the batch's lines at once: growing by doubling copied each batch's
            // lines twice over. Under the allocator's threshold for mapping fresh pages.
            out.lines.reserve(crate::parallel::RECORD_BATCH * LINE_ROOM);
        }
        if out.writer.sensor() != self.sensor {
            out.writer = jsonl::LineWriter::new(&self.sensor);
        }
        // Workers format batch after batch: the names their thread gave before are in its
        // thread-local cache.
        let (stack, eval) =
            crate::stack::with_thread_cache(|names| judge(&self.stacks, names, &self.policies, &r));
        out.problem |= eval.as_ref().is_some_and(|(e, _)| is_problem(e));
        match self.format {
            Format::Csv => {
                let source = self.sources.of(r.first_seen);
                let x = Flow::new(&r, source, eval.as_ref().map(|e| &e.0), stack.as_deref());
                out.lines.extend_from_slice(csv_row(&x).as_bytes());
            }
            Format::Ecs => out.writer.write_ecs_line(
                &mut out.lines,
                &r,
                self.sources.of(r.first_seen),
                eval.as_ref().map(|e| &e.0),
                stack.as_deref(),
            ),
            _ => out.writer.write_line(
                &mut out.lines,
                &r,
                self.sources.of(r.first_seen),
                eval.as_ref().map(|e| &e.0),
                stack.as_deref(),
            ),
        }
        out.lines.push(b'\n');
        if self.report {
            out.report.push((r, eval, stack));
        }
    }
}

/// Bytes reserved per jsonl line in a batch (lines are ~1.2 KB; a longer one grows the batch).
const LINE_ROOM: usize = 1536;

/// Size of the output buffer wrapped around files and standard output.
const OUT_BUFFER: usize = 1 << 16;

/// Bytes of jsonl lines gathered before they go out (at least `OUT_BUFFER`).
const LINES_BUFFER: usize = OUT_BUFFER;

/// The output file of a long run: reopened on request (after logrotate moved it), or
/// rotated in place by size or age.
struct OutFile {
    path: PathBuf,
    w: BufWriter<File>,
    /// Bytes in the file now.
    written: u64,
    opened: Instant,
}

impl OutFile {
    /// Opens `path` for appending (a restarted sensor keeps what it wrote before), or
    /// truncating.
    fn open(path: &Path, append: bool) -> io::Result<Self> {
        let f = if append {
            OpenOptions::new().create(true).append(true).open(path)?
        } else {
            File::create(path)?
        };
        Ok(OutFile {
            path: path.to_owned(),
            written: f.metadata()?.len(),
            w: BufWriter::with_capacity(OUT_BUFFER, f),
            opened: Instant::now(),
        })
    }
}

/// Standard output or a file, counting what goes to the file.
enum Output {
    Stdout(BufWriter<io::StdoutLock<'static>>),
    File(OutFile),
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::File(f) => {
                let n = f.w.write(buf)?;
                f.written += n as u64;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File(f) => f.w.flush(),
        }
    }
}

/// When a long run's output file is rotated in place (0: never).
#[derive(Clone, Copy, Debug, Default)]
pub struct Rotation {
    pub max_bytes: u64,
    pub max_age: Duration,
}

/// The name a rotated file takes: `FILE.20261130T223000Z` (UTC, the time of the rotation),
/// with `.1`, `.2` … after it if that name is taken.
fn rotated_name(path: &Path, at: SystemTime) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_seconds(at)
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let base = format!("{}.{stamp}", path.display());
    let mut name = PathBuf::from(&base);
    let mut n = 0;
    while name.exists() {
        n += 1;
        name = PathBuf::from(format!("{base}.{n}"));
    }
    name
}

/// Where records go, in the chosen format.
pub struct Sink {
    format: Format,
    out: Output,
    table: Table,
    policies: Vec<Policy>,
    stacks: Arc<StackDb>,
    report: Option<Report>,
    /// `--report-html`: where the page goes, and the sources it names.
    report_html: Option<std::path::PathBuf>,
    pub analysed_sources: Vec<String>,
    pub problems: bool,
    streaming_table: bool,
    wrote_header: bool,
    /// jsonl lines not yet handed to `out`: written here directly, where the line is made,
    /// and handed over in blocks larger than `out`'s own buffer, which then passes them
    /// through without a copy.
    lines: jsonl::LineBuf,
    writer: jsonl::LineWriter,
    /// The stacks named so far (this thread's records).
    names: NameCache,
    rotation: Rotation,
    /// `--report`: print the report at the end (it may be kept only for `--report-file`).
    print_report: bool,
    /// Files rotated so far.
    pub rotations: u64,
    sensor: String,
}

impl Sink {
    pub fn formatter(&self, sources: &Sources) -> Formatter {
        Formatter {
            format: self.format,
            policies: self.policies.clone(),
            stacks: self.stacks.clone(),
            report: self.report.is_some(),
            sources: sources.clone(),
            sensor: self.sensor.clone(),
        }
    }

    /// Writes what a worker prepared.
    pub fn accept(&mut self, p: Prepared, sources: &Sources) -> io::Result<()> {
        for r in &p.records {
            self.record(r, sources.of(r.first_seen))?;
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
            for (r, eval, stack) in &p.report {
                rep.add(
                    r,
                    eval.as_ref().map(|e| &e.0),
                    eval.as_ref().map(|e| e.1),
                    stack.as_deref(),
                );
            }
        }
        Ok(())
    }

    pub fn record(&mut self, r: &FlowRecord, source: &str) -> io::Result<()> {
        let (stack, eval) = judge(&self.stacks, &mut self.names, &self.policies, r);
        self.problems |= eval.as_ref().is_some_and(|(e, _)| is_problem(e));
        if let Some(rep) = &mut self.report {
            rep.add(
                r,
                eval.as_ref().map(|e| &e.0),
                eval.as_ref().map(|e| e.1),
                stack.as_deref(),
            );
        }
        let eval = eval.as_ref().map(|e| &e.0);
        let stack = stack.as_deref();
        match self.format {
            Format::Jsonl | Format::Ecs => {
                if self.format == Format::Ecs {
                    self.writer
                        .write_ecs_line(&mut self.lines, r, source, eval, stack);
                } else {
                    self.writer
                        .write_line(&mut self.lines, r, source, eval, stack);
                }
                self.lines.push(b'\n');
                if self.streaming_table || self.lines.len() >= LINES_BUFFER {
                    self.write_lines()?;
                }
            }
            Format::Csv => {
                let row = csv_row(&Flow::new(r, source, eval, stack));
                if !self.wrote_header {
                    writeln!(self.out, "{}", CSV_HEADER.join(","))?;
                    self.wrote_header = true;
                }
                writeln!(self.out, "{row}")?;
            }
            Format::Table if self.streaming_table => {
                let mut t = Table::default();
                t.push(&Flow::new(r, source, eval, stack));
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
            Format::Table => self.table.push(&Flow::new(r, source, eval, stack)),
        }
        // Live: each record goes out as the flow is decided. Files: buffered.
        if self.streaming_table {
            self.out.flush()?;
            // Between whole lines: a line is never split across files.
            if let Output::File(f) = &self.out {
                if self.rotation.max_bytes > 0 && f.written >= self.rotation.max_bytes {
                    self.rotate()?;
                }
            }
        }
        Ok(())
    }

    /// Writes out every line held, so that the output file holds every record so far.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_lines()?;
        self.out.flush()
    }

    /// Rotates the output file in place when it is older than `--rotate-secs` (and not
    /// empty).
    pub fn rotate_if_old(&mut self) -> io::Result<()> {
        match &mut self.out {
            Output::File(f) if self.rotation.max_age > Duration::ZERO => {
                if f.opened.elapsed() < self.rotation.max_age {
                    return Ok(());
                }
                if f.written == 0 {
                    f.opened = Instant::now();
                    return Ok(());
                }
                self.rotate()
            }
            _ => Ok(()),
        }
    }

    /// Moves the output file aside under a timestamped name and starts a new one: every line
    /// written so far is in the old file, whole.
    pub fn rotate(&mut self) -> io::Result<()> {
        self.flush()?;
        let Output::File(f) = &mut self.out else {
            return Ok(());
        };
        std::fs::rename(&f.path, rotated_name(&f.path, SystemTime::now()))?;
        *f = OutFile::open(&f.path.clone(), true)?;
        self.wrote_header = false;
        self.rotations += 1;
        Ok(())
    }

    /// Closes the output file and opens its path again (SIGHUP: logrotate moved the file
    /// away, or will truncate it). What was written is flushed to the old file first.
    pub fn reopen(&mut self) -> io::Result<()> {
        self.flush()?;
        if let Output::File(f) = &mut self.out {
            *f = OutFile::open(&f.path.clone(), true)?;
            // A csv header again only in a new, empty file.
            self.wrote_header = f.written > 0;
        }
        Ok(())
    }

    /// Writes the readiness report to `path` as it stands, replacing the file at once (a
    /// reader sees the old report or the new one, never a part): written beside it, then
    /// renamed over it.
    pub fn write_report_file(&self, path: &Path) -> io::Result<()> {
        let Some(rep) = &self.report else {
            return Ok(());
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp"));
        let mut w = BufWriter::new(File::create(&tmp)?);
        rep.write(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    }

    fn write_lines(&mut self) -> io::Result<()> {
        self.out.write_all(self.lines.as_bytes())?;
        self.lines.clear();
        Ok(())
    }

    pub fn finish(&mut self, stats: &Stats) -> io::Result<()> {
        self.write_lines()?;
        if self.format == Format::Table && !self.streaming_table {
            self.table.write(&mut self.out)?;
        }
        if let (Some(rep), Some(path)) = (&self.report, &self.report_html) {
            let analysed = crate::report_html::Analysed {
                sources: &self.analysed_sources,
                stats,
                from_records: false,
            };
            crate::report_html::write_file(path, rep, &analysed)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        }
        if let Some(rep) = self.report.as_ref().filter(|_| self.print_report) {
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
pub fn print_stats(s: &Stats) {
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
        (
            s.packets_clock_outlier,
            "packets stamped far from the capture's clock",
        ),
        (
            crate::jsonl::LINES_REGROWN.load(std::sync::atomic::Ordering::Relaxed),
            "output lines longer than their bound, written again (a bug: please report it)",
        ),
    ];
    for (n, what) in shed {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if !s.memory_shed.is_empty() {
        let shed: Vec<String> = s
            .memory_shed
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.push(format!("shed for --max-memory-mib: {}", shed.join(" ")));
    }
    if let Some(k) = peak_rss_kib() {
        parts.push(format!("peak memory {} MiB", k.div_ceil(1024)));
    }
    eprintln!("helloscope: {}", parts.join(", "));
}

pub fn make_sink(c: &Common, streaming: bool) -> Result<Sink, Failure> {
    build_sink(c, streaming, false, Rotation::default(), false)
}

/// The sink of a long run: records go out as flows are decided, `-o FILE` is appended to
/// and rotated as `rotation` says, and the report is kept when `report` is set even without
/// `--report`.
pub fn make_live_sink(c: &Common, rotation: Rotation, report: bool) -> Result<Sink, Failure> {
    build_sink(c, true, true, rotation, report)
}

fn build_sink(
    c: &Common,
    streaming: bool,
    append: bool,
    rotation: Rotation,
    report: bool,
) -> Result<Sink, Failure> {
    let to_terminal = c.output.is_none() && io::stdout().is_terminal();
    let format = c.format.unwrap_or(if to_terminal {
        Format::Table
    } else {
        Format::Jsonl
    });
    let out = match &c.output {
        Some(p) => Output::File(
            OutFile::open(p, append).map_err(|e| Failure(format!("{}: {e}", p.display())))?,
        ),
        None => Output::Stdout(BufWriter::with_capacity(OUT_BUFFER, io::stdout().lock())),
    };
    // Appending to a file that has lines already: its csv header is there.
    let wrote_header = matches!(&out, Output::File(f) if f.written > 0);
    let sensor = sensor_name(c);
    Ok(Sink {
        format,
        out,
        table: Table::default(),
        policies: build_policies(c)?,
        stacks: Arc::new({
            let mut db = StackDb::load(c.stack_file.as_deref()).map_err(Failure)?;
            if let Some(bytes) = crate::common::stack_cache_bytes(c) {
                db.bound_cache(bytes, crate::common::memory_notice(c));
            }
            db
        }),
        report: (c.report || report || c.report_html.is_some())
            .then(|| Report::with_max_groups(crate::common::report_groups(c))),
        report_html: c.report_html.clone(),
        analysed_sources: Vec::new(),
        problems: false,
        streaming_table: streaming,
        wrote_header,
        lines: jsonl::LineBuf::with_room(LINES_BUFFER + 4096),
        writer: jsonl::LineWriter::new(&sensor),
        names: NameCache::default(),
        rotation,
        print_report: c.report,
        rotations: 0,
        sensor,
    })
}
