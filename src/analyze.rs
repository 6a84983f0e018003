//! `helloscope analyze`: capture files, one after the other, through one sink.

use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use helloscope_capture::{Analyzer, FlowRecord, PacketSource, Stats};

use crate::common::{flow_config, Common, Failure};
use crate::parallel;
use crate::sink::{make_sink, Prepared};

pub const EXAMPLES_ANALYZE: &str = "Examples:
  helloscope analyze captures/procore.pcap
  helloscope analyze --policy procore --report capture.pcapng
  tcpdump -i eth0 -w - 'tcp' | helloscope analyze -
  helloscope analyze --min-version 1.2 --host '*.example.com' --format csv -o flows.csv a.pcap b.pcap";

/// `analyze`'s own options.
#[derive(Args)]
pub struct AnalyzeArgs {
    /// Capture files; `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// BPF filter applied while reading.
    #[arg(short = 'f', long)]
    pub filter: Option<String>,
    #[command(flatten)]
    pub common: Common,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// Runs `analyze`.
pub fn run(a: &AnalyzeArgs) -> Result<ExitCode, Failure> {
    analyze(&a.files, a.filter.as_deref(), &a.common, !a.no_progress)
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
    sink.sources = files.to_vec();
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
