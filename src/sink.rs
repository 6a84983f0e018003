//! Where records go: the policy verdict, the formatted line, the report, the summary line.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::sync::Arc;

use helloscope_capture::{FlowRecord, Stats};

use crate::common::{build_policies, Common, Failure};
use crate::jsonl;
use crate::output::{csv_row, FlowJson, Format, Table, CSV_HEADER};
use crate::policy::{self, Policy, Verdict};
use crate::report::Report;
use crate::stack::{StackDb, StackMatch};

/// The first policy that covers the flow: its evaluation, and the version it asks for.
pub fn evaluate(
    policies: &[Policy],
    r: &FlowRecord,
) -> Option<(policy::Evaluation, helloscope_tls::TlsVersion)> {
    policies
        .iter()
        .find_map(|p| p.evaluate(r).map(|e| (e, p.min_version)))
}

/// The stack of the flow's client (once per distinct hello), and the policy's evaluation with
/// the stack's remediation on its `below_minimum` finding.
pub fn judge(
    stacks: &StackDb,
    policies: &[Policy],
    r: &FlowRecord,
) -> (
    Option<Arc<StackMatch>>,
    Option<(policy::Evaluation, helloscope_tls::TlsVersion)>,
) {
    let stack = r.client_hello.as_ref().map(|c| stacks.name(c));
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
    source: String,
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
            out.lines
                .reserve(helloscope_capture::sharded::RECORD_BATCH * LINE_ROOM);
        }
        let (stack, eval) = judge(&self.stacks, &self.policies, &r);
        out.problem |= eval.as_ref().is_some_and(|(e, _)| is_problem(e));
        match self.format {
            Format::Csv => {
                let j = FlowJson::new(
                    &r,
                    &self.source,
                    eval.as_ref().map(|e| &e.0),
                    stack.as_deref(),
                );
                out.lines.extend_from_slice(csv_row(&j).as_bytes());
            }
            _ => out.writer.write_line(
                &mut out.lines,
                &r,
                &self.source,
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

/// Where records go, in the chosen format.
pub struct Sink {
    format: Format,
    out: Box<dyn Write>,
    table: Table,
    policies: Vec<Policy>,
    stacks: Arc<StackDb>,
    report: Option<Report>,
    /// The text report is asked for (`--report`); the report may be kept for the page alone.
    text_report: bool,
    /// `--report-html`: where the page goes, and the sources it names.
    report_html: Option<std::path::PathBuf>,
    pub sources: Vec<String>,
    pub problems: bool,
    streaming_table: bool,
    wrote_header: bool,
    /// jsonl lines not yet handed to `out`: written here directly, and handed over in blocks
    /// larger than `out`'s own buffer, which then passes them through without a copy.
    lines: Vec<u8>,
    writer: jsonl::LineWriter,
}

impl Sink {
    pub fn formatter(&self, source: &str) -> Formatter {
        Formatter {
            format: self.format,
            policies: self.policies.clone(),
            stacks: self.stacks.clone(),
            report: self.report.is_some(),
            source: source.to_owned(),
        }
    }

    /// Writes what a worker prepared.
    pub fn accept(&mut self, p: Prepared, source: &str) -> io::Result<()> {
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
        let (stack, eval) = judge(&self.stacks, &self.policies, r);
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
            Format::Jsonl => {
                self.writer
                    .write_line(&mut self.lines, r, source, eval, stack);
                self.lines.push(b'\n');
                if self.streaming_table || self.lines.len() >= LINES_BUFFER {
                    self.write_lines()?;
                }
            }
            Format::Csv => {
                let j = FlowJson::new(r, source, eval, stack);
                if !self.wrote_header {
                    writeln!(self.out, "{}", CSV_HEADER.join(","))?;
                    self.wrote_header = true;
                }
                writeln!(self.out, "{}", csv_row(&j))?;
            }
            Format::Table if self.streaming_table => {
                let mut t = Table::default();
                t.push(&FlowJson::new(r, source, eval, stack));
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
            Format::Table => self.table.push(&FlowJson::new(r, source, eval, stack)),
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

    pub fn finish(&mut self, stats: &Stats) -> io::Result<()> {
        self.write_lines()?;
        if self.format == Format::Table && !self.streaming_table {
            self.table.write(&mut self.out)?;
        }
        if let (Some(rep), Some(path)) = (&self.report, &self.report_html) {
            let analysed = crate::report_html::Analysed {
                sources: &self.sources,
                stats,
            };
            crate::report_html::write_file(path, rep, &analysed)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        }
        if let Some(rep) = self.report.as_ref().filter(|_| self.text_report) {
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

pub fn make_sink(c: &Common, streaming: bool) -> Result<Sink, Failure> {
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
        stacks: Arc::new(StackDb::load(c.stack_file.as_deref()).map_err(Failure)?),
        report: (c.report || c.report_html.is_some()).then(Report::default),
        text_report: c.report,
        report_html: c.report_html.clone(),
        sources: Vec::new(),
        problems: false,
        streaming_table: streaming,
        wrote_header: false,
        lines: Vec::with_capacity(LINES_BUFFER + 4096),
        writer: jsonl::LineWriter::default(),
    })
}
