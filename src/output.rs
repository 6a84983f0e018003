//! Output formats: jsonl (the documented, stable interface), csv and an aligned table.

use std::io::{self, Write};
use std::time::{Duration, UNIX_EPOCH};

use helloscope_capture::{FlowFlags, FlowRecord, Outcome};
use serde::Serialize;

use crate::policy::Evaluation;
use crate::stack::StackMatch;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Jsonl,
    Csv,
    /// jsonl with Elastic Common Schema field names.
    Ecs,
}

#[derive(Serialize)]
pub struct AlertJson {
    pub level: String,
    pub description: String,
    pub from: &'static str,
}

#[derive(Serialize)]
pub struct FindingJson {
    pub code: &'static str,
    pub message: String,
    pub remediation: Option<String>,
}

/// The TLS stack named for the client's hello (see stack.rs).
#[derive(Serialize)]
pub struct StackJson {
    pub family: Option<String>,
    pub application: Option<String>,
    pub confidence: &'static str,
    pub tls12: &'static str,
}

impl StackJson {
    /// `OpenSSL (curl)`, `Java JSSE`, `unknown`.
    pub fn label(&self) -> String {
        match (&self.family, &self.application) {
            (Some(f), Some(a)) => format!("{f} ({a})"),
            (Some(f), None) => f.clone(),
            (None, _) => "unknown".into(),
        }
    }

    pub fn new(s: &StackMatch) -> Self {
        StackJson {
            family: s.family.as_deref().map(str::to_owned),
            application: s.application.as_deref().map(str::to_owned),
            confidence: s.confidence.as_str(),
            tls12: s.tls12.as_str(),
        }
    }
}

#[derive(Serialize)]
pub struct PolicyJson {
    pub profile: String,
    pub verdict: &'static str,
    pub findings: Vec<FindingJson>,
}

/// One line of jsonl: the documented schema (README, "Output").
#[derive(Serialize)]
pub struct FlowJson {
    pub ts: String,
    pub source: String,
    /// The sensor that wrote the record (`--sensor`, the host name by default).
    pub sensor: String,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub sni: Option<String>,
    pub alpn_offered: Vec<String>,
    pub alpn: Option<String>,
    pub versions_offered: Vec<String>,
    pub version_offered_max: Option<String>,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub hello_retry: bool,
    pub fallback_scsv: bool,
    pub ja3: Option<String>,
    pub ja3s: Option<String>,
    pub ja4: Option<String>,
    pub ja4s: Option<String>,
    pub stack: Option<StackJson>,
    pub outcome: &'static str,
    pub alert: Option<AlertJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyJson>,
    pub ja3_string: Option<String>,
    pub ja4_r: Option<String>,
    pub sslv2_hello: bool,
    pub reset_by: Option<&'static str>,
    pub end: &'static str,
    pub flags: Vec<&'static str>,
    pub packets: u64,
}

pub fn rfc3339_micros(d: Duration) -> String {
    humantime::format_rfc3339_micros(UNIX_EPOCH + d).to_string()
}

/// The names of the flags set, in the documented order.
pub fn flag_names(f: &FlowFlags) -> Vec<&'static str> {
    [
        (f.midstream, "midstream"),
        (f.gap, "gap"),
        (f.buffer_limit, "buffer_limit"),
        (f.overlap_conflict, "overlap_conflict"),
        (f.malformed, "malformed"),
        (f.snaplen_cut, "snaplen_cut"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

impl FlowJson {
    pub fn new(
        r: &FlowRecord,
        source: &str,
        eval: Option<&Evaluation>,
        stack: Option<&StackMatch>,
    ) -> Self {
        let ch = r.client_hello.as_ref();
        let sh = r.server_hello.as_ref();
        FlowJson {
            ts: rfc3339_micros(r.first_seen),
            source: source.to_owned(),
            sensor: String::new(),
            client_ip: r.client.ip().to_string(),
            client_port: r.client.port(),
            server_ip: r.server.ip().to_string(),
            server_port: r.server.port(),
            sni: ch.and_then(|c| c.sni.clone()),
            alpn_offered: ch.map(|c| c.alpn.to_vec()).unwrap_or_default(),
            alpn: sh.and_then(|s| s.alpn.clone()),
            versions_offered: ch
                .map(|c| c.versions_offered.iter().map(|v| v.to_string()).collect())
                .unwrap_or_default(),
            version_offered_max: ch.map(|c| c.version_offered_max.to_string()),
            version: sh.map(|s| s.version.to_string()),
            cipher: sh.map(|s| s.cipher.to_string()),
            hello_retry: sh.is_some_and(|s| s.hello_retry),
            fallback_scsv: ch.is_some_and(|c| c.fallback_scsv),
            ja3: ch.and_then(|c| c.ja3.as_deref().map(str::to_owned)),
            ja3s: sh.map(|s| s.ja3s.to_string()),
            ja4: ch.and_then(|c| c.ja4.as_deref().map(str::to_owned)),
            ja4s: sh.and_then(|s| s.ja4s.as_deref().map(str::to_owned)),
            stack: stack.map(StackJson::new),
            outcome: r.outcome.name(),
            alert: match r.outcome {
                Outcome::Alert {
                    level,
                    description,
                    from,
                } => Some(AlertJson {
                    level: level.to_string(),
                    description: description.to_string(),
                    from: from.as_str(),
                }),
                _ => None,
            },
            policy: eval.map(|e| PolicyJson {
                profile: e.profile.clone(),
                verdict: e.verdict.as_str(),
                findings: e
                    .findings
                    .iter()
                    .map(|f| FindingJson {
                        code: f.code,
                        message: f.message.clone(),
                        remediation: f.remediation.as_deref().map(str::to_owned),
                    })
                    .collect(),
            }),
            ja3_string: ch.and_then(|c| c.ja3_string.as_deref().map(str::to_owned)),
            ja4_r: ch.and_then(|c| c.ja4_r.as_deref().map(str::to_owned)),
            sslv2_hello: ch.is_some_and(|c| c.sslv2_format),
            reset_by: match r.outcome {
                Outcome::Reset { from } => Some(from.as_str()),
                _ => None,
            },
            end: r.end.name(),
            flags: flag_names(&r.flags),
            packets: r.packets,
        }
    }
}

pub const CSV_HEADER: &[&str] = &[
    "ts",
    "source",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "sni",
    "alpn_offered",
    "alpn",
    "versions_offered",
    "version_offered_max",
    "version",
    "cipher",
    "hello_retry",
    "fallback_scsv",
    "ja3",
    "ja3s",
    "ja4",
    "ja4s",
    "stack_family",
    "stack_application",
    "stack_confidence",
    "stack_tls12",
    "outcome",
    "alert_level",
    "alert_description",
    "alert_from",
    "policy_profile",
    "policy_verdict",
    "policy_findings",
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub fn csv_row(j: &FlowJson) -> String {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let fields: Vec<String> = vec![
        j.ts.clone(),
        j.source.clone(),
        j.client_ip.clone(),
        j.client_port.to_string(),
        j.server_ip.clone(),
        j.server_port.to_string(),
        o(&j.sni),
        j.alpn_offered.join(" "),
        o(&j.alpn),
        j.versions_offered.join(" "),
        o(&j.version_offered_max),
        o(&j.version),
        o(&j.cipher),
        j.hello_retry.to_string(),
        j.fallback_scsv.to_string(),
        o(&j.ja3),
        o(&j.ja3s),
        o(&j.ja4),
        o(&j.ja4s),
        j.stack
            .as_ref()
            .and_then(|s| s.family.clone())
            .unwrap_or_default(),
        j.stack
            .as_ref()
            .and_then(|s| s.application.clone())
            .unwrap_or_default(),
        j.stack
            .as_ref()
            .map(|s| s.confidence.to_string())
            .unwrap_or_default(),
        j.stack
            .as_ref()
            .map(|s| s.tls12.to_string())
            .unwrap_or_default(),
        j.outcome.to_string(),
        j.alert
            .as_ref()
            .map(|a| a.level.clone())
            .unwrap_or_default(),
        j.alert
            .as_ref()
            .map(|a| a.description.clone())
            .unwrap_or_default(),
        j.alert
            .as_ref()
            .map(|a| a.from.to_string())
            .unwrap_or_default(),
        j.policy
            .as_ref()
            .map(|p| p.profile.clone())
            .unwrap_or_default(),
        j.policy
            .as_ref()
            .map(|p| p.verdict.to_string())
            .unwrap_or_default(),
        j.policy
            .as_ref()
            .map(|p| {
                p.findings
                    .iter()
                    .map(|f| f.code)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

/// Aligned table: rows are collected, then printed with column widths.
#[derive(Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

pub const TABLE_HEADER: &[&str] = &[
    "CLIENT",
    "SERVER",
    "SNI",
    "OFFERS",
    "MAX",
    "NEGOTIATED",
    "CIPHER",
    "STACK",
    "OUTCOME",
    "POLICY",
];

impl Table {
    pub fn push(&mut self, j: &FlowJson) {
        let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let outcome = match (&j.alert, j.reset_by) {
            (Some(a), _) => format!("alert {} ({})", a.description, a.from),
            (None, Some(by)) => format!("reset ({by})"),
            _ => j.outcome.to_string(),
        };
        let policy = j
            .policy
            .as_ref()
            .map(|p| {
                let codes: Vec<&str> = p
                    .findings
                    .iter()
                    .map(|f| f.code)
                    .filter(|c| *c != "below_minimum" && *c != "handshake_refused")
                    .collect();
                if codes.is_empty() {
                    p.verdict.to_string()
                } else {
                    format!("{} [{}]", p.verdict, codes.join(","))
                }
            })
            .unwrap_or_else(|| "-".into());
        self.rows.push(vec![
            format!("{}:{}", bracket(&j.client_ip), j.client_port),
            format!("{}:{}", bracket(&j.server_ip), j.server_port),
            o(&j.sni),
            if j.versions_offered.is_empty() {
                "-".into()
            } else {
                j.versions_offered.join(",").replace("TLS ", "")
            },
            o(&j.version_offered_max),
            o(&j.version),
            o(&j.cipher),
            j.stack
                .as_ref()
                .map_or_else(|| "-".into(), StackJson::label),
            outcome,
            policy,
        ]);
    }

    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut widths: Vec<usize> = TABLE_HEADER.iter().map(|h| h.len()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
            let mut s = String::new();
            for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<w$}  "));
                }
            }
            writeln!(out, "{}", s.trim_end())
        };
        line(
            out,
            &TABLE_HEADER
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )?;
        for r in &self.rows {
            line(out, r)?;
        }
        Ok(())
    }
}

fn bracket(ip: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_owned()
    }
}
