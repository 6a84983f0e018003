//! `helloscope report`: the readiness report from jsonl records, of any number of sensors and
//! files, in any order.
//!
//! Each line is read on its own and added to the report: memory grows with distinct clients
//! (sensor, address, JA4, host, policy), not with records. The verdicts are the ones the
//! sensors wrote; a policy named on the command line only supplies the minimum version of its
//! profile for the headline (the built-in policies are known without it).

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use clap::Args;
use helloscope_tls::TlsVersion;
use serde::Deserialize;

use crate::common::Failure;
use crate::policy::{self, Policy, Verdict};
use crate::report::{Flow, FlowPolicy, Report};

pub const EXAMPLES_REPORT: &str = "Examples:
  helloscope report gw1.jsonl gw2.jsonl
  zcat /var/log/helloscope/*.jsonl.gz | helloscope report -
  helloscope report --policy-file vendors.toml flows.jsonl";

/// `report`'s options.
#[derive(Args)]
pub struct ReportArgs {
    /// jsonl files written by `analyze` or `sniff`; `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// A built-in policy (repeatable): its minimum version for the headline.
    #[arg(long = "policy", value_name = "NAME")]
    pub policies: Vec<String>,
    /// A TOML policy file: the minimum versions of its profiles for the headline.
    #[arg(long, value_name = "FILE")]
    pub policy_file: Option<PathBuf>,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page (replaced atomically).
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
}

/// What the report needs of one jsonl line; the other keys are skipped.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    ts: Cow<'a, str>,
    #[serde(borrow, default)]
    sensor: Cow<'a, str>,
    #[serde(borrow)]
    client_ip: Cow<'a, str>,
    #[serde(borrow)]
    server_ip: Cow<'a, str>,
    #[serde(borrow)]
    sni: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ja4: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version_offered_max: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    stack: Option<StackLine<'a>>,
    #[serde(borrow, default)]
    policy: Option<PolicyLine<'a>>,
}

#[derive(Deserialize)]
struct StackLine<'a> {
    #[serde(borrow)]
    family: Option<Cow<'a, str>>,
    #[serde(borrow)]
    application: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct PolicyLine<'a> {
    #[serde(borrow)]
    profile: Cow<'a, str>,
    #[serde(borrow)]
    verdict: Cow<'a, str>,
    #[serde(borrow)]
    findings: Vec<FindingLine<'a>>,
}

#[derive(Deserialize)]
struct FindingLine<'a> {
    #[serde(borrow)]
    code: Cow<'a, str>,
    #[serde(borrow)]
    remediation: Option<Cow<'a, str>>,
}

/// A version as the records name it: `TLS 1.2`, `TLS 1.3 draft 23`, `GREASE 0x0a0a`, `0x0305`.
fn parse_version(s: &str) -> Option<TlsVersion> {
    const NAMED: [TlsVersion; 9] = [
        TlsVersion::Ssl2,
        TlsVersion::Ssl3,
        TlsVersion::Tls10,
        TlsVersion::Tls11,
        TlsVersion::Tls12,
        TlsVersion::Tls13,
        TlsVersion::Dtls10,
        TlsVersion::Dtls12,
        TlsVersion::Dtls13,
    ];
    if let Some(v) = NAMED.iter().find(|v| v.name() == Some(s)) {
        return Some(*v);
    }
    if let Some(n) = s.strip_prefix("TLS 1.3 draft ") {
        return n.parse::<u8>().ok().map(TlsVersion::Tls13Draft);
    }
    let hex = s.strip_prefix("GREASE ").unwrap_or(s).strip_prefix("0x")?;
    u16::from_str_radix(hex, 16).ok().map(TlsVersion::from_wire)
}

fn parse_verdict(s: &str) -> Option<Verdict> {
    [Verdict::Ready, Verdict::Breaks, Verdict::Failing]
        .into_iter()
        .find(|v| v.as_str() == s)
}

/// What went wrong with one line.
fn bad(what: &str) -> String {
    format!("not a helloscope record: {what}")
}

/// Reads and reports the records.
pub struct Reader {
    pub report: Report,
    policies: Vec<Policy>,
    /// Lines that are not records, counted.
    pub malformed: u64,
    pub records: u64,
    first_error: Option<String>,
}

impl Reader {
    pub fn new(policies: Vec<Policy>) -> Self {
        Reader {
            report: Report::default(),
            policies,
            malformed: 0,
            records: 0,
            first_error: None,
        }
    }

    fn min_of(&self, profile: &str) -> Option<TlsVersion> {
        match self.policies.iter().find(|p| p.profile == profile) {
            Some(p) => Some(p.min_version),
            None => Policy::builtin(profile).map(|p| p.min_version),
        }
    }

    /// Adds one jsonl line; a line that is not a record is counted, with its reason kept
    /// for the first.
    pub fn line(&mut self, text: &str, place: impl FnOnce() -> String) {
        if text.trim().is_empty() {
            return;
        }
        match self.parse(text) {
            Ok(()) => self.records += 1,
            Err(e) => {
                self.malformed += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("{}: {e}", place()));
                }
            }
        }
    }

    fn parse(&mut self, text: &str) -> Result<(), String> {
        let l: Line<'_> = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let first = humantime::parse_rfc3339(&l.ts)
            .map_err(|e| bad(&format!("ts: {e}")))?
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let version = |v: &Option<Cow<'_, str>>, key: &str| match v {
            None => Ok(None),
            Some(s) => parse_version(s)
                .map(Some)
                .ok_or_else(|| bad(&format!("{key}: unknown version {s:?}"))),
        };
        let offered_max = version(&l.version_offered_max, "version_offered_max")?;
        let negotiated = version(&l.version, "version")?;
        let policy = match &l.policy {
            None => None,
            Some(p) => Some(FlowPolicy {
                profile: &p.profile,
                verdict: parse_verdict(&p.verdict)
                    .ok_or_else(|| bad(&format!("unknown verdict {:?}", p.verdict)))?,
                min: self.min_of(&p.profile),
                findings: p.findings.iter().map(|f| &*f.code).collect(),
            }),
        };
        // The stack's remediation travels on the `below_minimum` finding.
        let remediation = l.policy.as_ref().and_then(|p| {
            p.findings
                .iter()
                .find(|f| f.code == "below_minimum")
                .and_then(|f| f.remediation.as_deref())
        });
        let label = l.stack.as_ref().map(|s| match (&s.family, &s.application) {
            (Some(f), Some(a)) => Cow::Owned(format!("{f} ({a})")),
            (Some(f), None) => Cow::Borrowed(&**f),
            (None, _) => Cow::Borrowed("unknown"),
        });
        self.report.add_flow(&Flow {
            sensor: &l.sensor,
            client_ip: &l.client_ip,
            server_ip: &l.server_ip,
            sni: l.sni.as_deref(),
            ja4: l.ja4.as_deref(),
            offered_max,
            negotiated,
            // Records carry when a flow began; the last one seen is the latest start.
            first,
            last: first,
            policy,
            stack: label.as_deref(),
            remediation,
        });
        Ok(())
    }

    /// Every line of `input`, named `name` in errors. A line longer than [`MAX_LINE`] is
    /// counted as not a record and skipped without being held.
    pub fn read(&mut self, input: impl BufRead, name: &str) -> io::Result<()> {
        let mut input = input;
        let mut buf = Vec::new();
        let mut n = 0u64;
        loop {
            buf.clear();
            let got = io::Read::take(&mut input, MAX_LINE + 1).read_until(b'\n', &mut buf)?;
            if got == 0 {
                return Ok(());
            }
            n += 1;
            if buf.len() as u64 > MAX_LINE && buf.last() != Some(&b'\n') {
                // The rest of the line, a block at a time.
                loop {
                    buf.clear();
                    let got = io::Read::take(&mut input, 1 << 16).read_until(b'\n', &mut buf)?;
                    if got == 0 || buf.last() == Some(&b'\n') {
                        break;
                    }
                }
                self.line("\u{0}", || {
                    format!("{name}:{n} (longer than {MAX_LINE} bytes)")
                });
                continue;
            }
            match std::str::from_utf8(&buf) {
                Ok(text) => self.line(text, || format!("{name}:{n}")),
                Err(_) => self.line("\u{0}", || format!("{name}:{n} (not UTF-8)")),
            }
        }
    }
}

/// The longest line taken for a record: records are about 1.3 KB, and a policy's findings
/// with long host names stay far below this.
pub const MAX_LINE: u64 = 1 << 20;

/// Runs `report`.
pub fn run(a: &ReportArgs) -> Result<ExitCode, Failure> {
    let mut policies = Vec::new();
    for name in &a.policies {
        policies.push(Policy::builtin(name).ok_or_else(|| {
            Failure(format!(
                "unknown policy {name:?} (built in: {})",
                Policy::BUILTIN.join(", ")
            ))
        })?);
    }
    if let Some(path) = &a.policy_file {
        policies.extend(policy::load_file(path).map_err(Failure)?);
    }
    let mut reader = Reader::new(policies);
    let mut damaged = false;
    for path in &a.files {
        let r = if path == "-" {
            reader.read(io::stdin().lock(), "-")
        } else {
            match File::open(path) {
                Ok(f) => reader.read(BufReader::with_capacity(1 << 16, f), path),
                Err(e) => Err(e),
            }
        };
        if let Err(e) = r {
            eprintln!("helloscope: {path}: {e}");
            damaged = true;
        }
    }
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).map_err(|e| Failure(format!("{}: {e}", p.display())))?,
        )),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    reader.report.write(&mut out)?;
    out.flush()?;
    if let Some(path) = &a.report_html {
        let mut stats = helloscope_capture::Stats::default();
        stats.records = reader.records;
        let analysed = crate::report_html::Analysed {
            sources: &a.files,
            stats: &stats,
            from_records: true,
        };
        crate::report_html::write_file(path, &reader.report, &analysed)
            .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    }
    let mut summary = format!("helloscope: {} records read", reader.records);
    if reader.malformed > 0 {
        summary.push_str(&format!(
            ", {} lines that are not records skipped (first: {})",
            reader.malformed,
            reader.first_error.as_deref().unwrap_or("-")
        ));
        damaged = true;
    }
    eprintln!("{summary}");
    Ok(if damaged {
        ExitCode::from(2)
    } else if reader.report.has_problems() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_back_as_written() {
        for wire in [
            0x0002u16, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x7f17, 0x0a0a, 0xfefd, 0x1234,
        ] {
            let v = TlsVersion::from_wire(wire);
            assert_eq!(parse_version(&v.to_string()), Some(v), "{v}");
        }
        assert_eq!(parse_version("TLS 9"), None);
    }

    #[test]
    fn lines_that_are_not_records_are_counted_and_the_rest_kept() {
        let mut r = Reader::new(vec![]);
        let good = r#"{"ts":"2024-01-01T00:00:00.000001Z","sensor":"gw1","client_ip":"10.0.0.1","server_ip":"10.0.0.2","sni":"a.example","ja4":"t12d","version_offered_max":"TLS 1.1","version":"TLS 1.1","stack":null,"policy":{"profile":"procore","verdict":"breaks","findings":[{"code":"below_minimum","message":"m","remediation":"upgrade"}]}}"#;
        let input = format!(
            "{good}\n{{\"ts\":1}}\nnot json\n\n{}\n",
            good.replace("gw1", "gw2")
        );
        r.read(input.as_bytes(), "t").unwrap();
        assert_eq!((r.records, r.malformed), (2, 2));
        assert!(r.report.has_problems());
        let mut out = Vec::new();
        r.report.write(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Same address at two sensors: two clients, told apart by the SENSOR column.
        assert!(
            text.starts_with(
                "procore: 2 clients will break when TLS 1.0/1.1 is disabled (0 already failing)"
            ),
            "{text}"
        );
        assert!(text.contains("SENSOR"), "{text}");
        assert!(text.contains("what to change: upgrade"), "{text}");
    }

    #[test]
    fn an_overlong_line_is_skipped_without_losing_the_next() {
        let mut r = Reader::new(vec![]);
        let good = r#"{"ts":"2024-01-01T00:00:00Z","client_ip":"10.0.0.1","server_ip":"10.0.0.2","sni":null,"ja4":null,"version_offered_max":"TLS 1.2","version":null,"stack":null}"#;
        let long = "x".repeat(3 * MAX_LINE as usize);
        let input = format!("{long}\n{good}\n{long}");
        r.read(input.as_bytes(), "t").unwrap();
        assert_eq!((r.records, r.malformed), (1, 2));
        assert!(r.first_error.unwrap().contains("t:1 (longer than"));
    }
}
