//! The probe's outputs: one jsonl line or csv row per host, or a table block per host.

use std::io::{self, Write};

use helloscope_tls::DowngradeSentinel;
use serde::Serialize;

use super::{Fallback, HostReport, Outcome, Sentinel};
use crate::output::Format;

#[derive(Serialize)]
struct AlertJson {
    level: String,
    description: String,
}

#[derive(Serialize)]
struct ResultJson {
    /// The version offered.
    offered: String,
    outcome: &'static str,
    /// The version the ServerHello chose.
    version: Option<String>,
    cipher: Option<String>,
    alert: Option<AlertJson>,
    /// The downgrade sentinel in the ServerHello random.
    downgrade_sentinel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'static str>,
}

#[derive(Serialize)]
struct FallbackJson {
    /// honoured, ignored, inconclusive, not_tested.
    result: &'static str,
    offered: Option<String>,
    outcome: Option<&'static str>,
    alert: Option<AlertJson>,
}

#[derive(Serialize)]
struct FindingJson {
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct PolicyJson {
    profile: String,
    verdict: &'static str,
    findings: Vec<FindingJson>,
}

#[derive(Serialize)]
struct HostJson {
    host: String,
    port: u16,
    address: Option<String>,
    sni: Option<String>,
    accepted: Vec<String>,
    results: Vec<ResultJson>,
    fallback_scsv: FallbackJson,
    downgrade_sentinel: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    policies: Vec<PolicyJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn alert_json(o: &Outcome) -> Option<AlertJson> {
    match o {
        Outcome::Alert(a) => Some(AlertJson {
            level: a.level.to_string(),
            description: a.description.to_string(),
        }),
        _ => None,
    }
}

fn sentinel_name(s: DowngradeSentinel) -> &'static str {
    match s {
        DowngradeSentinel::Tls12 => "DOWNGRD\\x01",
        DowngradeSentinel::Tls11OrBelow => "DOWNGRD\\x00",
    }
}

impl Fallback {
    fn name(&self) -> &'static str {
        match self {
            Fallback::Honoured { .. } => "honoured",
            Fallback::Ignored { .. } => "ignored",
            Fallback::Inconclusive { .. } => "inconclusive",
            Fallback::NotTested => "not_tested",
        }
    }
}

impl Sentinel {
    fn name(self) -> &'static str {
        match self {
            Sentinel::Present => "present",
            Sentinel::Missing => "missing",
            Sentinel::NotApplicable => "not_applicable",
        }
    }
}

fn host_json(r: &HostReport) -> HostJson {
    let results = r
        .results
        .iter()
        .map(|v| {
            let sh = v.outcome.server_hello();
            ResultJson {
                offered: v.offered.to_string(),
                outcome: v.outcome.name(),
                version: sh.map(|s| s.version.to_string()),
                cipher: sh.map(|s| s.cipher_suite.to_string()),
                alert: alert_json(&v.outcome),
                downgrade_sentinel: sh.and_then(|s| s.downgrade_sentinel).map(sentinel_name),
                detail: match v.outcome {
                    Outcome::Malformed(why) => Some(why),
                    _ => None,
                },
            }
        })
        .collect();
    let fallback_scsv = match &r.fallback {
        Fallback::Honoured { offered } | Fallback::Ignored { offered } => FallbackJson {
            result: r.fallback.name(),
            offered: Some(offered.to_string()),
            outcome: None,
            alert: None,
        },
        Fallback::Inconclusive { offered, outcome } => FallbackJson {
            result: r.fallback.name(),
            offered: Some(offered.to_string()),
            outcome: Some(outcome.name()),
            alert: alert_json(outcome),
        },
        Fallback::NotTested => FallbackJson {
            result: r.fallback.name(),
            offered: None,
            outcome: None,
            alert: None,
        },
    };
    HostJson {
        host: r.host.clone(),
        port: r.port,
        address: r.address.map(|a| a.ip().to_string()),
        sni: r.sni.clone(),
        accepted: r.accepted().iter().map(|v| v.to_string()).collect(),
        results,
        fallback_scsv,
        downgrade_sentinel: r.sentinel.name(),
        policies: r
            .evaluations
            .iter()
            .map(|e| PolicyJson {
                profile: e.profile.clone(),
                verdict: e.verdict,
                findings: e
                    .findings
                    .iter()
                    .map(|m| FindingJson {
                        code: "accepts_legacy_version",
                        message: m.clone(),
                    })
                    .collect(),
            })
            .collect(),
        error: r.error.clone(),
    }
}

const CSV_HEADER: &str = "host,port,address,sni,accepted,ssl3,tls1_0,tls1_1,tls1_2,tls1_3,fallback_scsv,downgrade_sentinel,policy_profile,policy_verdict,policy_findings,error";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// One probe's cell: the outcome, and what it chose or which alert.
fn cell(r: &ResultJson) -> String {
    match (&r.cipher, &r.alert) {
        (Some(c), _) => format!("{} {c}", r.outcome),
        (_, Some(a)) => format!("alert {}", a.description),
        _ => r.outcome.to_string(),
    }
}

pub fn header(out: &mut impl Write, format: Format) -> io::Result<()> {
    match format {
        Format::Csv => writeln!(out, "{CSV_HEADER}"),
        _ => Ok(()),
    }
}

pub fn write(out: &mut impl Write, format: Format, r: &HostReport) -> io::Result<()> {
    let j = host_json(r);
    match format {
        // ECS describes flows, not servers: a probe writes its own jsonl lines for either.
        Format::Jsonl | Format::Ecs => {
            serde_json::to_writer(&mut *out, &j)?;
            writeln!(out)
        }
        Format::Csv => {
            let mut f = vec![
                j.host.clone(),
                j.port.to_string(),
                j.address.clone().unwrap_or_default(),
                j.sni.clone().unwrap_or_default(),
                j.accepted.join(" "),
            ];
            f.extend(j.results.iter().map(cell));
            f.resize(10, String::new());
            f.push(j.fallback_scsv.result.to_string());
            f.push(j.downgrade_sentinel.to_string());
            let join = |g: &dyn Fn(&PolicyJson) -> String| {
                j.policies.iter().map(g).collect::<Vec<_>>().join(";")
            };
            f.push(join(&|p| p.profile.clone()));
            f.push(join(&|p| p.verdict.to_string()));
            f.push(join(&|p| {
                p.findings
                    .iter()
                    .map(|x| x.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            }));
            f.push(j.error.clone().unwrap_or_default());
            let row: Vec<String> = f.iter().map(|s| csv_field(s)).collect();
            writeln!(out, "{}", row.join(","))
        }
        Format::Table => {
            let addr = j.address.as_deref().unwrap_or("-");
            let sni = j.sni.as_deref().unwrap_or("-");
            writeln!(out, "{}:{} ({addr}, SNI {sni})", j.host, j.port)?;
            if let Some(e) = &j.error {
                writeln!(out, "  error: {e}")?;
            }
            for x in &j.results {
                let detail = match (&x.version, &x.cipher, &x.alert) {
                    (Some(v), Some(c), _) => format!("{v}  {c}"),
                    (_, _, Some(a)) => format!("{} {}", a.level, a.description),
                    _ => x.detail.unwrap_or("").to_string(),
                };
                let sentinel = x
                    .downgrade_sentinel
                    .map(|s| format!("  sentinel {s}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {:<8} {:<20} {detail}{sentinel}",
                    x.offered, x.outcome
                )?;
            }
            let accepted = if j.accepted.is_empty() {
                "none".to_string()
            } else {
                j.accepted.join(", ")
            };
            writeln!(out, "  accepted: {accepted}")?;
            let fb = &j.fallback_scsv;
            match (&fb.offered, fb.outcome) {
                (Some(v), Some(o)) => {
                    writeln!(out, "  TLS_FALLBACK_SCSV: {} (at {v}: {o})", fb.result)?
                }
                (Some(v), None) => writeln!(out, "  TLS_FALLBACK_SCSV: {} (at {v})", fb.result)?,
                _ => writeln!(out, "  TLS_FALLBACK_SCSV: {}", fb.result)?,
            }
            writeln!(out, "  downgrade sentinel: {}", j.downgrade_sentinel)?;
            for p in &j.policies {
                writeln!(out, "  policy {}: {}", p.profile, p.verdict)?;
                for x in &p.findings {
                    writeln!(out, "    {}", x.message)?;
                }
            }
            writeln!(out)
        }
    }
}
