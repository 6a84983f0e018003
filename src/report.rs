//! The cut-over readiness report: flows grouped by client (address + JA4) and host, clients
//! grouped by TLS stack with what to change.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::time::Duration;

use helloscope_capture::FlowRecord;
use helloscope_tls::TlsVersion;

use crate::output::rfc3339_micros;
use crate::policy::{Evaluation, Verdict};
use crate::stack::StackMatch;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    profile: String,
    client_ip: String,
    ja4: String,
    host: String,
}

struct Group {
    flows: u64,
    offered_max: BTreeSet<TlsVersion>,
    negotiated: BTreeSet<TlsVersion>,
    verdict: Option<Verdict>,
    findings: BTreeSet<&'static str>,
    first: Duration,
    last: Duration,
    min_version: Option<TlsVersion>,
    /// The client's stack: its label, and what to change when it offers less than TLS 1.2.
    stack: String,
    remediation: Option<std::sync::Arc<str>>,
}

/// Accumulates flows; prints the report at the end.
#[derive(Default)]
pub struct Report {
    groups: BTreeMap<Key, Group>,
    mins: BTreeMap<String, TlsVersion>,
}

fn disabled_text(min: TlsVersion) -> String {
    match min {
        TlsVersion::Tls12 => "TLS 1.0/1.1 is disabled".into(),
        TlsVersion::Tls11 => "TLS 1.0 is disabled".into(),
        TlsVersion::Tls13 => "TLS 1.2 and below are disabled".into(),
        v => format!("versions below {v} are disabled"),
    }
}

impl Report {
    pub fn add(
        &mut self,
        r: &FlowRecord,
        eval: Option<&Evaluation>,
        min: Option<TlsVersion>,
        stack: Option<&StackMatch>,
    ) {
        let ch = r.client_hello.as_ref();
        let key = Key {
            profile: eval
                .map(|e| e.profile.clone())
                .unwrap_or_else(|| "-".into()),
            client_ip: r.client.ip().to_string(),
            ja4: ch.and_then(|c| c.ja4.as_deref()).unwrap_or("-").to_owned(),
            host: ch
                .and_then(|c| c.sni.clone())
                .unwrap_or_else(|| format!("{} (no SNI)", r.server.ip())),
        };
        if let (Some(e), Some(m)) = (eval, min) {
            self.mins.insert(e.profile.clone(), m);
        }
        let g = self.groups.entry(key).or_insert_with(|| Group {
            flows: 0,
            offered_max: BTreeSet::new(),
            negotiated: BTreeSet::new(),
            verdict: None,
            findings: BTreeSet::new(),
            first: r.first_seen,
            last: r.last_seen,
            min_version: min,
            stack: stack.map_or_else(|| "-".into(), StackMatch::label),
            remediation: None,
        });
        if let Some(s) = stack.filter(|s| s.remediation.is_some()) {
            g.remediation = s.remediation.clone();
        }
        g.flows += 1;
        if let Some(c) = ch {
            g.offered_max.insert(c.version_offered_max);
        }
        if let Some(s) = &r.server_hello {
            g.negotiated.insert(s.version);
        }
        if let Some(e) = eval {
            g.verdict = Some(g.verdict.map_or(e.verdict, |v| v.max(e.verdict)));
            g.findings.extend(e.findings.iter().map(|f| f.code));
        }
        g.first = g.first.min(r.first_seen);
        g.last = g.last.max(r.last_seen);
    }

    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        // Headline: distinct clients (address + JA4) that break or already fail.
        if self.mins.is_empty() {
            let weak: BTreeSet<(&str, &str)> = self
                .groups
                .iter()
                .filter(|(_, g)| {
                    g.offered_max.iter().all(|v| *v < TlsVersion::Tls12)
                        && !g.offered_max.is_empty()
                })
                .map(|(k, _)| (k.client_ip.as_str(), k.ja4.as_str()))
                .collect();
            writeln!(
                out,
                "{} client{} will break when TLS 1.0/1.1 is disabled (no policy given: judged on every host)",
                weak.len(),
                if weak.len() == 1 { "" } else { "s" }
            )?;
        }
        for (profile, min) in &self.mins {
            let mut breaks = BTreeSet::new();
            let mut failing = BTreeSet::new();
            for (k, g) in self.groups.iter().filter(|(k, _)| &k.profile == profile) {
                match g.verdict {
                    Some(Verdict::Breaks) => {
                        breaks.insert((k.client_ip.as_str(), k.ja4.as_str()));
                    }
                    Some(Verdict::Failing) => {
                        failing.insert((k.client_ip.as_str(), k.ja4.as_str()));
                    }
                    _ => {}
                }
            }
            let n = breaks.union(&failing).count();
            writeln!(
                out,
                "{profile}: {n} client{} will break when {} ({} already failing)",
                if n == 1 { "" } else { "s" },
                disabled_text(*min),
                failing.len()
            )?;
        }
        writeln!(out)?;
        let header = [
            "VERDICT",
            "CLIENT",
            "JA4",
            "STACK",
            "HOST",
            "FLOWS",
            "OFFERS MAX",
            "NEGOTIATED",
            "FIRST SEEN",
            "LAST SEEN",
            "FINDINGS",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
        let mut sorted: Vec<(&Key, &Group)> = self.groups.iter().collect();
        // Clients of one stack together, the worst verdict first within each.
        sorted.sort_by(|a, b| (&a.1.stack, b.1.verdict, a.0).cmp(&(&b.1.stack, a.1.verdict, b.0)));
        for (k, g) in sorted {
            let verdict = match (g.verdict, g.min_version) {
                (Some(v), _) => format!("{} ({})", v.as_str(), k.profile),
                (None, _) => "-".into(),
            };
            let list = |s: &BTreeSet<TlsVersion>| {
                if s.is_empty() {
                    "-".into()
                } else {
                    s.iter()
                        .rev()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            rows.push(vec![
                verdict,
                k.client_ip.clone(),
                k.ja4.clone(),
                g.stack.clone(),
                k.host.clone(),
                g.flows.to_string(),
                list(&g.offered_max),
                list(&g.negotiated),
                rfc3339_micros(g.first).chars().take(19).collect(),
                rfc3339_micros(g.last).chars().take(19).collect(),
                g.findings.iter().copied().collect::<Vec<_>>().join(","),
            ]);
        }
        let mut widths = vec![0; header.len()];
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        for r in &rows {
            let mut s = String::new();
            for (c, w) in r.iter().zip(&widths) {
                s.push_str(&format!("{c:<w$}  "));
            }
            writeln!(out, "{}", s.trim_end())?;
        }
        self.write_stacks(out)
    }

    /// Per stack: its clients, how many break or fail, and what to change.
    fn write_stacks(&self, out: &mut dyn Write) -> io::Result<()> {
        #[derive(Default)]
        struct PerStack<'a> {
            clients: BTreeSet<(&'a str, &'a str)>,
            problems: BTreeSet<(&'a str, &'a str)>,
            remediations: BTreeSet<&'a str>,
        }
        let mut by: BTreeMap<&str, PerStack> = BTreeMap::new();
        for (k, g) in &self.groups {
            let s = by.entry(g.stack.as_str()).or_default();
            let client = (k.client_ip.as_str(), k.ja4.as_str());
            s.clients.insert(client);
            // Below TLS 1.2 with no policy, or a policy's breaks/failing.
            let below =
                g.offered_max.iter().all(|v| *v < TlsVersion::Tls12) && !g.offered_max.is_empty();
            if matches!(g.verdict, Some(Verdict::Breaks | Verdict::Failing))
                || (g.verdict.is_none() && below)
            {
                s.problems.insert(client);
                if let Some(r) = &g.remediation {
                    s.remediations.insert(r);
                }
            }
        }
        writeln!(out)?;
        writeln!(out, "By TLS stack:")?;
        for (stack, s) in &by {
            writeln!(
                out,
                "  {stack}: {} client{}, {} below the minimum",
                s.clients.len(),
                if s.clients.len() == 1 { "" } else { "s" },
                s.problems.len()
            )?;
            for r in &s.remediations {
                writeln!(out, "    what to change: {r}")?;
            }
        }
        Ok(())
    }
}

/// One group of the report (a client, the host it reached, under one policy), read by other
/// views of the report (the HTML page, `report_html.rs`).
pub struct GroupView<'a> {
    pub profile: &'a str,
    pub client_ip: &'a str,
    pub ja4: &'a str,
    pub host: &'a str,
    pub flows: u64,
    pub offered_max: &'a BTreeSet<TlsVersion>,
    pub negotiated: &'a BTreeSet<TlsVersion>,
    pub verdict: Option<Verdict>,
    pub findings: &'a BTreeSet<&'static str>,
    pub first: Duration,
    pub last: Duration,
    pub stack: &'a str,
    pub remediation: Option<&'a str>,
}

impl Report {
    /// The groups, in the report's key order.
    pub fn groups(&self) -> impl Iterator<Item = GroupView<'_>> {
        self.groups.iter().map(|(k, g)| GroupView {
            profile: &k.profile,
            client_ip: &k.client_ip,
            ja4: &k.ja4,
            host: &k.host,
            flows: g.flows,
            offered_max: &g.offered_max,
            negotiated: &g.negotiated,
            verdict: g.verdict,
            findings: &g.findings,
            first: g.first,
            last: g.last,
            stack: &g.stack,
            remediation: g.remediation.as_deref(),
        })
    }

    /// The policies seen, with the version each asks for.
    pub fn policies(&self) -> impl Iterator<Item = (&str, TlsVersion)> {
        self.mins.iter().map(|(p, m)| (p.as_str(), *m))
    }

    /// The headline lines, word for word as the text report says them.
    pub fn headlines(&self) -> Vec<String> {
        let mut buf = Vec::new();
        // Writing to memory does not fail.
        let _ = self.write(&mut buf);
        String::from_utf8_lossy(&buf)
            .lines()
            .take_while(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}
