//! helloscope: which TLS versions clients offer and negotiate, to whom, and who breaks when a
//! vendor switches old versions off.

mod analyze;
mod common;
mod decode;
mod jsonl;
mod output;
mod parallel;
mod policy;
mod report;
mod report_html;
mod sink;
mod sniff;
mod stack;

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
    /// Print every field and fingerprint of one raw record or hello (hex on the command line,
    /// or a file holding hex or raw bytes).
    Decode {
        /// Hex bytes, or a path to a file.
        input: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match &cli.command {
        Command::Analyze(a) => analyze::run(a),
        Command::Sniff(s) => sniff::run(s),
        Command::Decode { input } => decode::run(input),
    };
    match r {
        Ok(code) => code,
        Err(Failure(msg)) => {
            eprintln!("helloscope: {msg}");
            ExitCode::from(2)
        }
    }
}
