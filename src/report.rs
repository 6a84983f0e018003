//! The cut-over readiness report: flows grouped by client (address + JA4) and host, clients
//! grouped by TLS stack with what to change.

use std::borrow::Cow;
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

impl Key {
    /// The client: the sensor that saw it, its address and JA4.
    fn client(&self) -> (&str, &str, &str) {
        (&self.sensor, &self.client_ip, &self.ja4)
    }
}

struct Group {
    flows: u64,
    offered_max: BTreeSet<TlsVersion>,
    negotiated: BTreeSet<TlsVersion>,
    verdict: Option<Verdict>,
    findings: BTreeSet<String>,
    first: Duration,
    last: Duration,
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
                if self.groups.len() == self.groups.capacity() {
                    // Doubling, but never past the cap: the memory bound counts groups.
                    let more = self
                        .groups
                        .len()
                        .max(16)
                        .min(self.max_groups - self.groups.len());
                    self.groups.reserve_exact(more);
                    self.next.reserve_exact(more);
                }
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
        // Built in memory and written at once: standard error is not buffered.
        let mut buf = Vec::with_capacity(256 * (self.groups.len() + 16));
        self.write_to(&mut buf)?;
        out.write_all(&buf)
    }

    fn write_to(&self, out: &mut Vec<u8>) -> io::Result<()> {
        // In key order the groups of one profile are together, and within them the groups
        // of one client (sensor, address, JA4): the sets of clients below are made of runs
        // already in order.
        let sorted = self.sorted_groups();
        // Headline: distinct clients (address + JA4) that break or already fail.
        if self.mins.is_empty() {
            let mut weak: Vec<(&str, &str, &str)> = sorted
                .iter()
                .filter(|(_, g)| below_tls12(g))
                .map(|(k, _)| k.client())
                .collect();
            let weak = distinct(&mut weak);
            writeln!(
                out,
                "{} client{} will break when TLS 1.0/1.1 is disabled (no policy given: judged on every host)",
                weak,
                if weak == 1 { "" } else { "s" }
            )?;
        }
        for (profile, min) in &self.mins {
            let mut breaks = Vec::new();
            let mut failing = Vec::new();
            for (k, g) in sorted.iter().filter(|(k, _)| &k.profile == profile) {
                match g.verdict {
                    Some(Verdict::Breaks) => breaks.push(k.client()),
                    Some(Verdict::Failing) => failing.push(k.client()),
                    _ => {}
                }
            }
            let failing_n = distinct(&mut failing);
            breaks.append(&mut failing);
            let n = distinct(&mut breaks);
            writeln!(
                out,
                "{profile}: {n} client{} will break when {} ({} already failing)",
                if n == 1 { "" } else { "s" },
                disabled_text(*min),
                failing_n
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
        let by_sensor = sorted
            .first()
            .is_some_and(|(first, _)| sorted.iter().any(|(k, _)| k.sensor != first.sensor));
        let mut rows: Vec<Vec<Cow<'_, str>>> =
            vec![header.iter().map(|s| Cow::Borrowed(*s)).collect()];
        if by_sensor {
            rows[0].insert(1, "SENSOR".into());
        }
        // The stacks in their order, each group's by its rank: compared as numbers below.
        let stacks: BTreeMap<&str, usize> = sorted
            .iter()
            .map(|(_, g)| (g.stack.as_str(), 0))
            .collect::<BTreeMap<_, _>>()
            .into_keys()
            .enumerate()
            .map(|(i, s)| (s, i))
            .collect();
        let ranks: Vec<usize> = sorted
            .iter()
            .map(|(_, g)| stacks[g.stack.as_str()])
            .collect();
        // Clients of one stack together, the worst verdict first within each, then in key
        // order (their place in `sorted`).
        let mut order: Vec<(usize, std::cmp::Reverse<Option<Verdict>>, usize)> = sorted
            .iter()
            .enumerate()
            .map(|(i, (_, g))| (ranks[i], std::cmp::Reverse(g.verdict), i))
            .collect();
        order.sort_unstable();
        let other_key = Key {
            profile: "-".into(),
            sensor: "-".into(),
            client_ip: "other".into(),
            ja4: "-".into(),
            host: format!("(groups past the first {})", self.max_groups),
        };
        let other = self.other.as_ref().map(|g| (&other_key, g));
        let mut seconds = SecondsText::default();
        let list = |s: &BTreeSet<TlsVersion>| -> Cow<'_, str> {
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
            text.into()
        };
        for (k, g) in order.iter().map(|o| sorted[o.2]).chain(other) {
            let verdict: Cow<'_, str> = match g.verdict {
                Some(v) if std::ptr::eq(k, &other_key) => format!("{} (worst)", v.as_str()).into(),
                Some(v) => format!("{} ({})", v.as_str(), k.profile).into(),
                None => "-".into(),
            };
            let findings: Cow<'_, str> = match g.findings.len() {
                0 => "".into(),
                1 => g.findings.iter().next().map_or("", String::as_str).into(),
                _ => g
                    .findings
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
                    .into(),
            };
            let mut row = vec![
                verdict,
                escape_text(&k.client_ip),
                escape_text(&k.ja4),
                escape_text(&g.stack),
                escape_text(&k.host),
                g.flows.to_string().into(),
                list(&g.offered_max),
                list(&g.negotiated),
                seconds.text(g.first).into(),
                seconds.text(g.last).into(),
                findings,
            ];
            if by_sensor {
                row.insert(1, k.sensor.as_str().into());
            }
            rows.push(row);
        }
        let mut widths = vec![0; rows[0].len()];
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(text_width(c));
            }
        }
        let mut line = String::new();
        for r in &rows {
            line.clear();
            for (c, w) in r.iter().zip(&widths) {
                line.push_str(c);
                let pad = w.saturating_sub(text_width(c)) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
            out.extend_from_slice(line.trim_end().as_bytes());
            out.push(b'\n');
        }
        self.write_stacks(out, &sorted, &stacks, &ranks)
    }

    /// Per stack: its clients, how many break or fail, and what to change.
    fn write_stacks(
        &self,
        out: &mut Vec<u8>,
        sorted: &[(&Key, &Group)],
        stacks: &BTreeMap<&str, usize>,
        ranks: &[usize],
    ) -> io::Result<()> {
        #[derive(Default)]
        struct PerStack<'a> {
            clients: Vec<(&'a str, &'a str, &'a str)>,
            problems: Vec<(&'a str, &'a str, &'a str)>,
            remediations: BTreeSet<&'a str>,
        }
        let mut by: Vec<PerStack> = stacks.iter().map(|_| PerStack::default()).collect();
        for ((k, g), rank) in sorted.iter().zip(ranks) {
            let s = &mut by[*rank];
            let client = k.client();
            s.clients.push(client);
            // Below TLS 1.2 with no policy, or a policy's breaks/failing.
            if matches!(g.verdict, Some(Verdict::Breaks | Verdict::Failing))
                || (g.verdict.is_none() && below_tls12(g))
            {
                s.problems.push(client);
                if let Some(r) = &g.remediation {
                    s.remediations.insert(r);
                }
            }
        }
        writeln!(out)?;
        writeln!(out, "By TLS stack:")?;
        for (stack, s) in stacks.keys().zip(&mut by) {
            let clients = distinct(&mut s.clients);
            writeln!(
                out,
                "  {stack}: {} client{}, {} below the minimum",
                clients,
                if clients == 1 { "" } else { "s" },
                distinct(&mut s.problems)
            )?;
            for r in &s.remediations {
                writeln!(out, "    what to change: {r}")?;
            }
        }
        Ok(())
    }
}

/// The group's client offers at most versions below TLS 1.2.
fn below_tls12(g: &Group) -> bool {
    g.offered_max.iter().all(|v| *v < TlsVersion::Tls12) && !g.offered_max.is_empty()
}

/// How many distinct items `v` holds (it is sorted and deduplicated in place; runs in
/// order cost a pass).
fn distinct<T: Ord>(v: &mut Vec<T>) -> usize {
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// A cell's width in characters, as `{:<w$}` counts them.
fn text_width(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
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
    /// The addresses in the report read as the standard library writes them (the groups'
    /// keys were its `to_string()`).
    #[test]
    fn addresses_are_written_as_display_writes_them() {
        let addrs = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.100.9",
            "1.20.3.40",
            "192.168.0.10",
            "::1",
            "::",
            "::ffff:1.2.3.4",
            "2001:db8::8a2e:370:7334",
            "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
            "fe80:1:2:3:4:5:6:7",
        ];
        for a in addrs {
            let ip: IpAddr = a.parse().unwrap();
            let mut buf = [0; IP_TEXT];
            assert_eq!(ip_text(ip, &mut buf), ip.to_string(), "{a}");
        }
    }

    fn flow<'a>(client_ip: &'a str, server_ip: &'a str, sni: Option<&'a str>) -> Flow<'a> {
        Flow {
            sensor: "",
            client_ip,
            server_ip,
            sni,
            ja4: Some("t13d1516h2_8daaf6152771_02713d6af862"),
            offered_max: Some(TlsVersion::Tls13),
            negotiated: Some(TlsVersion::Tls13),
            first: Duration::from_secs(1),
            last: Duration::from_secs(2),
            policy: None,
            stack: None,
            remediation: None,
        }
    }

    /// A group is found again by its parts: one client and host is one row whatever the
    /// server's address when a name was sent; without one, the host is the address, and a
    /// name spelled as that host is the same row (the host's text is the key).
    #[test]
    fn flows_of_one_group_are_counted_in_one_row() {
        let mut rep = Report::default();
        rep.add_flow(&flow("10.0.0.1", "192.0.2.1", Some("a.example")));
        rep.add_flow(&flow("10.0.0.1", "192.0.2.2", Some("a.example")));
        rep.add_flow(&flow("10.0.0.2", "192.0.2.1", Some("a.example")));
        rep.add_flow(&flow("10.0.0.1", "192.0.2.1", None));
        rep.add_flow(&flow("10.0.0.1", "192.0.2.1", Some("192.0.2.1 (no SNI)")));
        rep.add_flow(&flow("10.0.0.1", "192.0.2.9", None));
        let rows: Vec<(&str, &str, u64)> = rep
            .groups()
            .map(|g| (g.client_ip, g.host, g.flows))
            .collect();
        assert_eq!(
            rows,
            [
                ("10.0.0.1", "192.0.2.1 (no SNI)", 2),
                ("10.0.0.1", "192.0.2.9 (no SNI)", 1),
                ("10.0.0.1", "a.example", 2),
                ("10.0.0.2", "a.example", 1),
            ]
        );
    }
}
