//! The cut-over readiness report: flows grouped by client (address + JA4) and host, clients
//! grouped by TLS stack with what to change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::Duration;

use helloscope_capture::FlowRecord;
use helloscope_tls::TlsVersion;

use crate::output::{escape_text, rfc3339_micros};
use crate::policy::{Evaluation, Verdict};
use crate::stack::StackMatch;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    profile: String,
    /// The sensor that saw the client: addresses repeat from one site to the next.
    sensor: String,
    client_ip: String,
    ja4: String,
    host: String,
}

struct Group {
    flows: u64,
    offered_max: BTreeSet<TlsVersion>,
    negotiated: BTreeSet<TlsVersion>,
    verdict: Option<Verdict>,
    findings: BTreeSet<String>,
    first: Duration,
    last: Duration,
    min_version: Option<TlsVersion>,
    /// The client's stack: its label, and what to change when it offers less than TLS 1.2.
    stack: String,
    remediation: Option<std::sync::Arc<str>>,
}

/// Most groups the report keeps. Their keys hold what clients chose (the SNI, the JA4), so
/// a client sending a new name per connection could otherwise grow the report without end:
/// flows of groups past this many are counted in one `other` row instead.
pub const MAX_GROUPS: usize = 10_000;

/// The host of a group without a server name: its address, then this.
const NO_SNI: &str = " (no SNI)";

/// Accumulates flows; prints the report at the end.
pub struct Report {
    /// The groups in the order they came; sorted by key only when the report is written, so
    /// a flow of a known group costs a hash of its parts, not a tree walk comparing strings.
    groups: Vec<(Key, Group)>,
    /// Hash of a group's key parts -> the first group with that hash (the others follow
    /// through `next`). Keyed per run at random: the parts are what clients chose.
    index: HashMap<u64, u32>,
    /// Per group, the next group with the same hash.
    next: Vec<u32>,
    hasher: RandomState,
    /// Flows of groups past `max_groups`, all in one.
    other: Option<Group>,
    max_groups: usize,
    /// Each policy's minimum; `None` for a profile read from records whose policy is unknown.
    mins: BTreeMap<String, Option<TlsVersion>>,
}

impl Default for Report {
    fn default() -> Self {
        Report::with_max_groups(MAX_GROUPS)
    }
}

impl Group {
    fn new(f: &Flow<'_>, stack: String) -> Self {
        Group {
            flows: 0,
            offered_max: BTreeSet::new(),
            negotiated: BTreeSet::new(),
            verdict: None,
            findings: BTreeSet::new(),
            first: f.first,
            last: f.last,
            min_version: f.policy.as_ref().and_then(|p| p.min),
            stack,
            remediation: None,
        }
    }
}

/// One flow as the report sees it: from a record in memory, or a jsonl line read back by
/// `helloscope report`.
pub struct Flow<'a> {
    pub sensor: &'a str,
    pub client_ip: &'a str,
    /// Read only when `sni` is `None`: the host is then named by it.
    pub server_ip: &'a str,
    pub sni: Option<&'a str>,
    pub ja4: Option<&'a str>,
    pub offered_max: Option<TlsVersion>,
    pub negotiated: Option<TlsVersion>,
    pub first: Duration,
    pub last: Duration,
    pub policy: Option<FlowPolicy<'a>>,
    /// The stack's label (`OpenSSL (curl)`).
    pub stack: Option<&'a str>,
    /// What to change in that stack.
    pub remediation: Option<&'a str>,
}

/// The policy's judgement of a flow.
pub struct FlowPolicy<'a> {
    pub profile: &'a str,
    pub verdict: Verdict,
    /// The version the policy asks for, when known.
    pub min: Option<TlsVersion>,
    pub findings: Vec<&'a str>,
}

/// Room for an address's text (IPv6 with an IPv4 tail: 45 bytes).
const IP_TEXT: usize = 48;

/// An address as its `Display` writes it, into `buf`: IPv4 (most flows) by hand, without
/// the formatting machinery; IPv6 through `Display`.
fn ip_text(ip: IpAddr, buf: &mut [u8; IP_TEXT]) -> &str {
    let n = match ip {
        IpAddr::V4(a) => {
            let mut n = 0;
            for (i, o) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[n] = b'.';
                    n += 1;
                }
                if o >= 100 {
                    buf[n] = b'0' + o / 100;
                    n += 1;
                }
                if o >= 10 {
                    buf[n] = b'0' + o / 10 % 10;
                    n += 1;
                }
                buf[n] = b'0' + o % 10;
                n += 1;
            }
            n
        }
        IpAddr::V6(a) => {
            let mut rest = &mut buf[..];
            let _ = write!(rest, "{a}");
            IP_TEXT - rest.len()
        }
    };
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}

fn disabled_text(min: Option<TlsVersion>) -> String {
    let Some(min) = min else {
        return "versions below the policy's minimum are disabled".into();
    };
    match min {
        TlsVersion::Tls12 => "TLS 1.0/1.1 is disabled".into(),
        TlsVersion::Tls11 => "TLS 1.0 is disabled".into(),
        TlsVersion::Tls13 => "TLS 1.2 and below are disabled".into(),
        v => format!("versions below {v} are disabled"),
    }
}

impl Report {
    /// A report keeping at most `max_groups` groups besides the `other` row.
    pub fn with_max_groups(max_groups: usize) -> Self {
        Report {
            groups: Vec::new(),
            index: HashMap::new(),
            next: Vec::new(),
            hasher: RandomState::new(),
            other: None,
            max_groups,
            mins: BTreeMap::new(),
        }
    }

    pub fn add(
        &mut self,
        r: &FlowRecord,
        eval: Option<&Evaluation>,
        min: Option<TlsVersion>,
        stack: Option<&StackMatch>,
    ) {
        let ch = r.client_hello.as_ref();
        let sni = ch.and_then(|c| c.sni.as_deref());
        let (mut client_buf, mut server_buf) = ([0; IP_TEXT], [0; IP_TEXT]);
        let client_ip = ip_text(r.client.ip(), &mut client_buf);
        // The server's address names the host only when the client sent no name.
        let server_ip = match sni {
            None => ip_text(r.server.ip(), &mut server_buf),
            Some(_) => "",
        };
        let flow = Flow {
            sensor: "",
            client_ip,
            server_ip,
            sni,
            ja4: ch.and_then(|c| c.ja4.as_deref()),
            offered_max: ch.map(|c| c.version_offered_max),
            negotiated: r.server_hello.as_ref().map(|s| s.version),
            first: r.first_seen,
            last: r.last_seen,
            policy: eval.map(|e| FlowPolicy {
                profile: &e.profile,
                verdict: e.verdict,
                min,
                findings: e.findings.iter().map(|f| f.code).collect(),
            }),
            stack: None,
            remediation: stack.and_then(|s| s.remediation.as_deref()),
        };
        // The stack's label is formatted only for a new group: the group keeps its first.
        self.add_with(&flow, || {
            stack.map_or_else(|| "-".to_owned(), StackMatch::label)
        });
    }

    /// Adds one flow; memory grows with distinct groups (client, host, policy), not flows.
    pub fn add_flow(&mut self, f: &Flow<'_>) {
        self.add_with(f, || f.stack.unwrap_or("-").to_owned());
    }

    /// The group of the flow's key parts, if it is kept.
    fn find(&self, hash: u64, f: &Flow<'_>, profile: &str) -> Option<usize> {
        let mut i = *self.index.get(&hash)?;
        let ja4 = f.ja4.unwrap_or("-");
        loop {
            let k = &self.groups[i as usize].0;
            let host = match f.sni {
                Some(sni) => k.host == sni,
                None => k.host.strip_suffix(NO_SNI) == Some(f.server_ip),
            };
            if host
                && k.client_ip == f.client_ip
                && k.ja4 == ja4
                && k.profile == profile
                && k.sensor == f.sensor
            {
                return Some(i as usize);
            }
            i = self.next[i as usize];
            if i == u32::MAX {
                return None;
            }
        }
    }

    /// Hash of a key's parts, the host as its text less one `(no SNI)` suffix: a server
    /// name spelled like an address-named host is that group, as the key's string is.
    fn hash_parts(
        &self,
        profile: &str,
        sensor: &str,
        client_ip: &str,
        ja4: &str,
        host: &str,
    ) -> u64 {
        let mut h = self.hasher.build_hasher();
        for part in [profile, sensor, client_ip, ja4, host] {
            h.write(part.as_bytes());
            h.write_u8(0xff);
        }
        h.finish()
    }

    fn add_with(&mut self, f: &Flow<'_>, stack: impl FnOnce() -> String) {
        let profile = f.policy.as_ref().map_or("-", |p| p.profile);
        if let Some(p) = &f.policy {
            match self.mins.get_mut(p.profile) {
                Some(m) => {
                    if p.min.is_some() {
                        *m = p.min;
                    }
                }
                None => {
                    self.mins.insert(p.profile.to_owned(), p.min);
                }
            }
        }
        let ja4 = f.ja4.unwrap_or("-");
        let hash = self.hash_parts(
            profile,
            f.sensor,
            f.client_ip,
            ja4,
            f.sni
                .map_or(f.server_ip, |s| s.strip_suffix(NO_SNI).unwrap_or(s)),
        );
        let g = match self.find(hash, f, profile) {
            Some(i) => &mut self.groups[i].1,
            None if self.groups.len() < self.max_groups => {
                let key = Key {
                    profile: profile.to_owned(),
                    sensor: f.sensor.to_owned(),
                    client_ip: f.client_ip.to_owned(),
                    ja4: ja4.to_owned(),
                    host: f
                        .sni
                        .map_or_else(|| format!("{}{NO_SNI}", f.server_ip), str::to_owned),
                };
                let i = self.groups.len() as u32;
                self.next
                    .push(self.index.insert(hash, i).unwrap_or(u32::MAX));
                self.groups.push((key, Group::new(f, stack())));
                &mut self.groups[i as usize].1
            }
            None => self.other.get_or_insert_with(|| Group::new(f, stack())),
        };
        if let Some(r) = f.remediation {
            if g.remediation.as_deref() != Some(r) {
                g.remediation = Some(r.into());
            }
        }
        g.flows += 1;
        g.offered_max.extend(f.offered_max);
        g.negotiated.extend(f.negotiated);
        if let Some(p) = &f.policy {
            g.verdict = Some(g.verdict.map_or(p.verdict, |v| v.max(p.verdict)));
            for code in &p.findings {
                if !g.findings.contains(*code) {
                    g.findings.insert((*code).to_owned());
                }
            }
        }
        g.first = g.first.min(f.first);
        g.last = g.last.max(f.last);
    }

    /// The groups in key order.
    fn sorted_groups(&self) -> Vec<(&Key, &Group)> {
        let mut v: Vec<(&Key, &Group)> = self.groups.iter().map(|(k, g)| (k, g)).collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Some client breaks or already fails under a policy: the exit status is 1.
    pub fn has_problems(&self) -> bool {
        self.groups
            .iter()
            .any(|(_, g)| matches!(g.verdict, Some(Verdict::Breaks | Verdict::Failing)))
    }

    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        // Headline: distinct clients (address + JA4) that break or already fail.
        if self.mins.is_empty() {
            let weak: BTreeSet<(&str, &str, &str)> = self
                .groups
                .iter()
                .filter(|(_, g)| {
                    g.offered_max.iter().all(|v| *v < TlsVersion::Tls12)
                        && !g.offered_max.is_empty()
                })
                .map(|(k, _)| (k.sensor.as_str(), k.client_ip.as_str(), k.ja4.as_str()))
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
                        breaks.insert((k.sensor.as_str(), k.client_ip.as_str(), k.ja4.as_str()));
                    }
                    Some(Verdict::Failing) => {
                        failing.insert((k.sensor.as_str(), k.client_ip.as_str(), k.ja4.as_str()));
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
        if let Some(o) = &self.other {
            writeln!(
                out,
                "{} flow{} past the first {} groups are counted in the `other` row, not above",
                o.flows,
                if o.flows == 1 { "" } else { "s" },
                self.max_groups
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
        // Records of several sensors (`helloscope report`): which one saw the client.
        let sensors: BTreeSet<&str> = self.groups.iter().map(|(k, _)| k.sensor.as_str()).collect();
        let by_sensor = sensors.len() > 1;
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
        if by_sensor {
            rows[0].insert(1, "SENSOR".into());
        }
        let mut sorted: Vec<(&Key, &Group)> = self.groups.iter().map(|(k, g)| (k, g)).collect();
        // Clients of one stack together, the worst verdict first within each.
        sorted.sort_by(|a, b| (&a.1.stack, b.1.verdict, a.0).cmp(&(&b.1.stack, a.1.verdict, b.0)));
        let other_key = Key {
            profile: "-".into(),
            sensor: "-".into(),
            client_ip: "other".into(),
            ja4: "-".into(),
            host: format!("(groups past the first {})", self.max_groups),
        };
        let other = self.other.as_ref().map(|g| (&other_key, g));
        let mut seconds = SecondsText::default();
        for (k, g) in sorted.into_iter().chain(other) {
            let verdict = match (g.verdict, g.min_version) {
                (Some(v), _) if std::ptr::eq(k, &other_key) => format!("{} (worst)", v.as_str()),
                (Some(v), _) => format!("{} ({})", v.as_str(), k.profile),
                (None, _) => "-".into(),
            };
            let list = |s: &BTreeSet<TlsVersion>| {
                if s.is_empty() {
                    return "-".into();
                }
                let mut text = String::with_capacity(s.len() * 9);
                for (i, v) in s.iter().rev().enumerate() {
                    if i > 0 {
                        text.push_str(", ");
                    }
                    match v.name() {
                        Some(n) => text.push_str(n),
                        None => {
                            let _ = write!(text, "{v}");
                        }
                    }
                }
                text
            };
            let mut row = vec![
                verdict,
                escape_text(&k.client_ip).into_owned(),
                escape_text(&k.ja4).into_owned(),
                escape_text(&g.stack).into_owned(),
                escape_text(&k.host).into_owned(),
                g.flows.to_string(),
                list(&g.offered_max),
                list(&g.negotiated),
                seconds.text(g.first),
                seconds.text(g.last),
                g.findings
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ];
            if by_sensor {
                row.insert(1, k.sensor.clone());
            }
            rows.push(row);
        }
        let mut widths = vec![0; rows[0].len()];
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        // One write for the table's lines, not one per line: standard error is not buffered.
        let mut text = String::new();
        let mut line = String::new();
        for r in &rows {
            line.clear();
            for (c, w) in r.iter().zip(&widths) {
                line.push_str(c);
                let pad = w.saturating_sub(c.chars().count()) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        out.write_all(text.as_bytes())?;
        self.write_stacks(out)
    }

    /// Per stack: its clients, how many break or fail, and what to change.
    fn write_stacks(&self, out: &mut dyn Write) -> io::Result<()> {
        #[derive(Default)]
        struct PerStack<'a> {
            clients: BTreeSet<(&'a str, &'a str, &'a str)>,
            problems: BTreeSet<(&'a str, &'a str, &'a str)>,
            remediations: BTreeSet<&'a str>,
        }
        let mut by: BTreeMap<&str, PerStack> = BTreeMap::new();
        for (k, g) in &self.groups {
            let s = by.entry(g.stack.as_str()).or_default();
            let client = (k.sensor.as_str(), k.client_ip.as_str(), k.ja4.as_str());
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

/// The `YYYY-MM-DDTHH:MM:SS` of times, the last one kept: a table's rows are mostly of
/// few seconds.
#[derive(Default)]
struct SecondsText {
    last: Option<(u64, String)>,
}

impl SecondsText {
    fn text(&mut self, t: Duration) -> String {
        let secs = t.as_secs();
        match &self.last {
            Some((s, text)) if *s == secs => text.clone(),
            _ => {
                let text: String = rfc3339_micros(Duration::from_secs(secs))
                    .chars()
                    .take(19)
                    .collect();
                self.last = Some((secs, text.clone()));
                text
            }
        }
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
    pub findings: &'a BTreeSet<String>,
    pub first: Duration,
    pub last: Duration,
    pub stack: &'a str,
    pub remediation: Option<&'a str>,
}

impl Report {
    /// The groups, in the report's key order.
    pub fn groups(&self) -> impl Iterator<Item = GroupView<'_>> {
        self.sorted_groups().into_iter().map(|(k, g)| GroupView {
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

    /// The policies seen, with the version each asks for (policies read back from records
    /// without a known minimum are left out).
    pub fn policies(&self) -> impl Iterator<Item = (&str, TlsVersion)> {
        self.mins
            .iter()
            .filter_map(|(p, m)| m.map(|m| (p.as_str(), m)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::record_with_sni;

    fn written(rep: &Report) -> String {
        let mut out = Vec::new();
        rep.write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// A client sending a new SNI per connection: the groups stop at the cap, the rest of
    /// the flows are counted in the `other` row, and none is lost from the count.
    #[test]
    fn groups_are_capped_with_an_other_row() {
        let mut rep = Report::with_max_groups(100);
        for i in 0..1000 {
            rep.add(&record_with_sni(&format!("h{i}.example")), None, None, None);
        }
        // A group already kept still takes its flows.
        rep.add(&record_with_sni("h0.example"), None, None, None);
        assert_eq!(rep.groups.len(), 100);
        assert_eq!(rep.other.as_ref().unwrap().flows, 900);
        let text = written(&rep);
        assert!(
            text.contains("900 flows past the first 100 groups"),
            "{text}"
        );
        let other = text.lines().find(|l| l.contains(" other ")).unwrap();
        assert!(other.contains("(groups past the first 100)"), "{other}");
        assert!(other.split_whitespace().any(|w| w == "900"), "{other}");
        let h0 = text.lines().find(|l| l.contains(" h0.example ")).unwrap();
        assert!(h0.split_whitespace().any(|w| w == "2"), "{h0}");
        let rows = text.lines().filter(|l| l.contains(".example")).count();
        assert_eq!(rows, 100);
    }

    #[test]
    fn server_names_are_printed_escaped() {
        let mut rep = Report::default();
        rep.add(&record_with_sni("\x1b[2J\x1b[31mx\r\ny"), None, None, None);
        let text = written(&rep);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains("\\x1b[2J\\x1b[31mx\\r\\ny"), "{text}");
    }
}
