//! helloscope: which TLS versions clients offer and negotiate, to whom, and who breaks when a
//! vendor switches old versions off.

mod analyze;
mod common;
mod decode;
mod inputs;
mod jsonl;
mod output;
mod parallel;
mod policy;
mod probe;
mod report;
mod report_cmd;
mod report_html;
mod schema;
mod sink;
mod sniff;
mod stack;
mod word;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use common::Failure;

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
    #[command(after_help = analyze::EXAMPLES_ANALYZE)]
    Analyze(analyze::AnalyzeArgs),
    /// Watch a live interface; records stream out as flows are decided, Ctrl-C stops.
    #[command(after_help = sniff::EXAMPLES_SNIFF)]
    Sniff(sniff::SniffArgs),
    /// The readiness report from jsonl records of any number of sensors (`-` for standard
    /// input): exit status 1 when some client breaks or fails, 2 on unreadable input.
    #[command(after_help = report_cmd::EXAMPLES_REPORT)]
    Report(report_cmd::ReportArgs),
    /// Print every field and fingerprint of one raw record or hello (hex on the command line,
    /// or a file holding hex or raw bytes).
    Decode {
        /// Hex bytes, or a path to a file.
        input: String,
    },
    /// Ask servers which TLS versions they accept: one ClientHello per version (SSL 3.0 to
    /// TLS 1.3), plus TLS_FALLBACK_SCSV and downgrade-sentinel checks.
    #[command(after_help = probe::EXAMPLES_PROBE)]
    Probe(probe::ProbeArgs),
    /// The keys of a flow's record (jsonl), with their csv columns and ECS fields, as a
    /// markdown table.
    Schema {
        /// Write the table into this file (README.md) between its markers instead.
        #[arg(long, value_name = "FILE")]
        write_readme: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match &cli.command {
        Command::Analyze(a) => analyze::run(a),
        Command::Sniff(s) => sniff::run(s),
        Command::Report(a) => report_cmd::run(a),
        Command::Decode { input } => decode::run(input),
        Command::Probe(p) => probe::run(p),
        Command::Schema { write_readme } => schema::run(write_readme.as_deref()),
    };
    match r {
        Ok(code) => code,
        Err(Failure(msg)) => {
            eprintln!("helloscope: {msg}");
            ExitCode::from(2)
        }
    }
}
