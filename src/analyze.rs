//! `helloscope analyze`: capture files and directories of them, read in time order through
//! one flow table and one sink.

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use clap::Args;
use helloscope_capture::{Analyzer, FlowRecord, Packet};

use crate::common::{flow_config, Common, Failure};
use crate::inputs::Merged;
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
    /// Capture files (pcap or pcapng, plain or gzip/zstd/lz4) or directories of them, read
    /// in the order of their first packets; `-` reads standard input.
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

fn progress_bar(len: u64, enabled: bool) -> Option<indicatif::ProgressBar> {
    if !enabled || !io::stderr().is_terminal() || len < 32 << 20 {
        return None;
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "[{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .ok()?
        .progress_chars("=> "),
    );
    Some(pb)
}

fn analyze(
    files: &[String],
    filter: Option<&str>,
    c: &Common,
    progress: bool,
) -> Result<ExitCode, Failure> {
    let mut sink = make_sink(c, false)?;
    let mut inputs = Merged::open(files, filter)?;
    let sources = inputs.sources();
    sink.analysed_sources = files.to_vec();
    // Compressed or piped inputs have no size to measure progress against.
    let pb = progress_bar(if inputs.plain { inputs.total_size() } else { 0 }, progress);
    let mut io_err: Option<io::Error> = None;
    let mut n: u64 = 0;
    let mut stats = None;
    if c.threads > 1 {
        let formatter = sink.formatter(&sources);
        let prepare = |r: FlowRecord, out: &mut Prepared| formatter.prepare(r, out);
        let mut accept = |p: Prepared| {
            if io_err.is_none() {
                if let Err(e) = sink.accept(p, &sources) {
                    io_err = Some(e);
                }
            }
        };
        // One classic pcap file: its workers read it themselves.
        if let Some(source) = inputs.single() {
            let progress = |bytes: u64| {
                if let Some(pb) = &pb {
                    pb.set_position(bytes);
                }
            };
            if let Some((s, error)) =
                source.analyze_sharded(c.threads, &flow_config(c), &prepare, &mut accept, &progress)
            {
                if let Some(e) = error {
                    eprintln!("helloscope: {e} (flows read before it are reported)");
                    inputs.damaged = true;
                }
                stats = Some(s);
            }
        }
        if stats.is_none() {
            let mut failure = None;
            let mut read = |visit: &mut dyn FnMut(Packet<'_>)| -> bool {
                let more = inputs.next(&mut |p| {
                    n += 16 + p.data.len() as u64;
                    if let Some(pb) = &pb {
                        if n & 0xffff < 1600 {
                            pb.set_position(n);
                        }
                    }
                    visit(p);
                });
                more.unwrap_or_else(|f| {
                    failure = Some(f);
                    false
                })
            };
            let s = parallel::run(c.threads, &flow_config(c), &mut read, &prepare, &mut accept);
            if let Some(f) = failure {
                return Err(f);
            }
            stats = Some(s);
        }
    } else {
        let mut emit = |r: FlowRecord| {
            if io_err.is_none() {
                if let Err(e) = sink.record(&r, sources.of(r.first_seen)) {
                    io_err = Some(e);
                }
            }
        };
        let mut analyzer = Analyzer::new(flow_config(c));
        if let Some(source) = inputs.single() {
            // One input: read it directly, without the merge's bookkeeping per packet.
            let error = loop {
                match source.next_packet() {
                    Ok(Some(p)) => {
                        n += 16 + p.data.len() as u64;
                        analyzer.process(p.ts, p.link, p.data, &mut emit);
                        if let Some(pb) = &pb {
                            if n & 0xffff < 1600 {
                                pb.set_position(n);
                            }
                        }
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            let skipped = source.take_skipped();
            inputs.skipped.merge(&skipped);
            if let Some(e) = error {
                eprintln!("helloscope: {e} (flows read before it are reported)");
                inputs.damaged = true;
            }
        } else {
            let mut take = |p: Packet<'_>| {
                n += 16 + p.data.len() as u64;
                analyzer.process(p.ts, p.link, p.data, &mut emit);
                if let Some(pb) = &pb {
                    if n & 0xffff < 1600 {
                        pb.set_position(n);
                    }
                }
            };
            while inputs.next(&mut take)? {}
        }
        analyzer.finish(&mut emit);
        stats = Some(analyzer.stats().clone());
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    if let Some(e) = io_err {
        return Err(Failure(format!("writing output: {e}")));
    }
    let mut total = stats.unwrap_or_default();
    total.merge(&inputs.skipped);
    let names_shed = crate::stack::cache_shed();
    if names_shed > 0 {
        total.memory_shed.insert(
            helloscope_capture::memory::Shed::StackNames.name(),
            names_shed,
        );
    }
    sink.finish(&total)?;
    Ok(if inputs.damaged {
        ExitCode::from(2)
    } else if sink.problems {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
