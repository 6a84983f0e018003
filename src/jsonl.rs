//! The jsonl line of a flow, written straight from the record into a byte buffer.
//!
//! By hand because it is the hot end of the CLI: through serde, building the owned
//! [`FlowJson`](crate::output::FlowJson) and serializing it cost a third of the run on
//! handshake-heavy traffic. The bytes are the same as `serde_json::to_vec(&FlowJson)`; a test
//! holds the two together.
//!
//! The line is written into a slice sized beforehand for the longest line this record could
//! give, through a cursor: appending to a `Vec` byte by byte reloads and checks its length
//! and capacity at every byte, which cost more than everything else the line needs.

use std::fmt::{Display, Write as _};
use std::net::IpAddr;
use std::time::Duration;

use helloscope_capture::{FlowRecord, Outcome};
use helloscope_tls::{CipherSuite, TlsVersion};

use crate::policy::Evaluation;
use crate::stack::StackMatch;

/// True when no byte of `b` needs escaping: eight bytes at a time, as a word (almost every
/// string is clean, and a byte loop cost more than copying the line).
#[inline]
fn is_clean(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Some byte of `x` is below `n` (n <= 0x80): the classic test, exact with `!x & HIGH`.
    let has_below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        if (has_below(x, 0x20) | has_below(quote, 1) | has_below(backslash, 1)) != 0 {
            return false;
        }
    }
    !chunks
        .remainder()
        .iter()
        .any(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

/// Longest escape of one byte (`\u00XX`).
const MAX_ESCAPE: usize = 6;

/// Room for everything of a line that is not a string from the record: keys, punctuation,
/// numbers, addresses (45 bytes for IPv6), the timestamp, names of versions, the cipher
/// (registry names are under 64 bytes), the alert, the flags. About 700 bytes are used; the
/// rest is margin.
const FIXED_ROOM: usize = 2048;

/// `,"key":` (`"key":` for the first key of an object, with `first`) as one constant: one
/// bounds check and a fixed-size copy instead of four writes.
macro_rules! key {
    ($c:expr, first $k:literal) => {
        $c.put_slice(concat!("\"", $k, "\":").as_bytes())
    };
    ($c:expr, $k:literal) => {
        $c.put_slice(concat!(",\"", $k, "\":").as_bytes())
    };
}

mod ecs;

/// A write position in a slice sized beforehand.
struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Cursor<'_> {
    #[inline(always)]
    fn put(&mut self, b: u8) {
        self.buf[self.pos] = b;
        self.pos += 1;
    }

    #[inline(always)]
    fn put_slice(&mut self, s: &[u8]) {
        self.buf[self.pos..self.pos + s.len()].copy_from_slice(s);
        self.pos += s.len();
    }

    /// The first `n` bytes of `word`. All eight are copied (a copy of fixed size is a
    /// register store; one of variable size is a call to `memmove`) and the rest written over
    /// later: the line's room has a margin for them.
    #[inline(always)]
    fn put_word<const N: usize>(&mut self, (word, n): ([u8; N], u8)) {
        self.buf[self.pos..self.pos + N].copy_from_slice(&word);
        self.pos += n as usize;
    }

    /// A string this crate builds from ASCII letters, digits, spaces and `,-_.` only
    /// (fingerprints, names): nothing to escape.
    #[inline(always)]
    fn clean(&mut self, s: &str) {
        debug_assert!(is_clean(s.as_bytes()));
        self.put(b'"');
        self.put_slice(s.as_bytes());
        self.put(b'"');
    }

    /// A string from the capture, escaped as serde_json escapes it: `"`, `\`, and control
    /// characters (`\b \t \n \f \r` by name, the rest as `\u00XX`).
    fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.put(b'"');
        let b = s.as_bytes();
        if is_clean(b) {
            self.put_slice(b);
        } else {
            for &c in b {
                match c {
                    b'"' => self.put_slice(b"\\\""),
                    b'\\' => self.put_slice(b"\\\\"),
                    0x08 => self.put_slice(b"\\b"),
                    0x09 => self.put_slice(b"\\t"),
                    0x0a => self.put_slice(b"\\n"),
                    0x0c => self.put_slice(b"\\f"),
                    0x0d => self.put_slice(b"\\r"),
                    0x00..=0x1f => self.put_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[(c >> 4) as usize],
                        HEX[(c & 0xf) as usize],
                    ]),
                    _ => self.put(c),
                }
            }
        }
        self.put(b'"');
    }

    fn opt_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.string(s),
            None => self.put_slice(b"null"),
        }
    }

    fn opt_clean(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.clean(s),
            None => self.put_slice(b"null"),
        }
    }

    /// The text of a value without a static name (IPv6 addresses, unnamed versions and
    /// ciphers, alerts): bounded in length, rare, and escaped all the same.
    fn display(&mut self, v: impl Display) {
        let mut s = String::new();
        let _ = write!(s, "{v}");
        self.string(&s);
    }

    fn bool(&mut self, v: bool) {
        self.put_slice(if v { b"true" } else { b"false" });
    }

    fn decimal(&mut self, v: u64) {
        // Ports and packet counts: at most five digits, without a branch on the value (digit
        // counts of neighbouring fields differ; mispredicted branches cost more than the
        // arithmetic).
        if v < 100_000 {
            let (word, n) = helloscope_tls::fingerprint::decimal_word(v as u32);
            self.put_word((word.to_le_bytes(), n as u8));
            return;
        }
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let mut v = v;
        while v > 0 {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.put_slice(&buf[i..]);
    }

    /// `digits` decimal digits of `v`, zero-padded.
    fn padded(&mut self, v: u64, digits: usize) {
        let mut buf = [b'0'; 20];
        let mut v = v;
        for d in buf[..digits].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.put_slice(&buf[..digits]);
    }

    fn ip(&mut self, a: IpAddr) {
        match a {
            IpAddr::V4(v4) => {
                self.put(b'"');
                // Four table entries, each a number and a dot; the last dot taken back.
                for o in v4.octets() {
                    self.put_word(OCTETS[o as usize]);
                }
                self.buf[self.pos - 1] = b'"';
            }
            IpAddr::V6(v6) => self.display(v6),
        }
    }

    fn version(&mut self, v: TlsVersion) {
        match v.name() {
            Some(n) => self.clean(n),
            None => self.display(v),
        }
    }

    fn opt_version(&mut self, v: Option<TlsVersion>) {
        match v {
            Some(v) => self.version(v),
            None => self.put_slice(b"null"),
        }
    }
}

/// Each byte value in decimal followed by a dot, and the length of that (2 to 4).
const OCTETS: [([u8; 4], u8); 256] = {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut v = 0;
    while v < 256 {
        let (h, d, u) = ((v / 100) as u8, (v / 10 % 10) as u8, (v % 10) as u8);
        t[v] = if v >= 100 {
            ([b'0' + h, b'0' + d, b'0' + u, b'.'], 4)
        } else if v >= 10 {
            ([b'0' + d, b'0' + u, b'.', 0], 3)
        } else {
            ([b'0' + u, b'.', 0, 0], 2)
        };
        v += 1;
    }
    t
};

/// RFC 3339 UTC date of day `days` since the epoch, `2023-11-14`: Howard Hinnant's
/// "chrono-Compatible Low-Level Date Algorithms".
fn civil_date(days: u64) -> [u8; 10] {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = [0u8; 10];
    let mut c = Cursor {
        buf: &mut out,
        pos: 0,
    };
    c.padded(year as u64, 4);
    c.put(b'-');
    c.padded(month as u64, 2);
    c.put(b'-');
    c.padded(day as u64, 2);
    out
}

/// Writes jsonl lines, keeping what repeats from one line to the next: the source's escaped
/// name, the text of the last timestamp's second, the names of recent cipher suites.
pub struct LineWriter {
    source: String,
    source_json: Vec<u8>,
    /// The sensor's name (`--sensor`, the host name by default), and escaped.
    sensor: String,
    sensor_json: Vec<u8>,
    /// The last timestamp's whole second and its text up to the fraction.
    second: Option<(u64, [u8; SECOND_LEN])>,
    /// Names of recent cipher suites, by a few bits of their value.
    ciphers: [Option<(CipherSuite, Option<&'static str>)>; 16],
    /// Where lines are written before they are appended whole: sized once, so that no line
    /// costs zeroing its room first.
    scratch: Vec<u8>,
}

impl Default for LineWriter {
    fn default() -> Self {
        LineWriter {
            source: String::new(),
            source_json: b"\"\"".to_vec(),
            sensor: String::new(),
            sensor_json: b"\"\"".to_vec(),
            second: None,
            ciphers: [None; 16],
            scratch: Vec::new(),
        }
    }
}

/// The longest line `r` could give: the fixed room, plus every string from the record or the
/// policy at its longest escape.
fn line_bound(
    r: &FlowRecord,
    source_json: &[u8],
    sensor_json: &[u8],
    eval: Option<&Evaluation>,
    stack: Option<&StackMatch>,
) -> usize {
    let opt = |s: Option<&str>| s.map_or(4, |s| s.len() + 2);
    let mut n = FIXED_ROOM + source_json.len() + sensor_json.len();
    // `,"transport":"quic","quic_version":"0x0000000a"`: keys, longest names.
    n += r#","transport":"quic","quic_version":"0x0000000a""#.len();
    if r.first_seen > helloscope_capture::MAX_TIMESTAMP {
        // An expanded year: a sign and up to 16 digits instead of 4.
        n += 16;
    }
    if let Some(c) = &r.client_hello {
        n += c.sni.as_deref().map_or(4, esc_len);
        n += c.alpn.iter().map(|a| esc_len(a) + 1).sum::<usize>();
        n += opt(c.ja3.as_deref())
            + opt(c.ja3_string.as_deref())
            + opt(c.ja4.as_deref())
            + opt(c.ja4_r.as_deref());
        n += c.versions_offered.len() * 24;
    }
    if let Some(s) = &r.server_hello {
        n += s.alpn.as_deref().map_or(4, esc_len) + s.ja3s.len() + opt(s.ja4s.as_deref());
    }
    if let Some(e) = eval {
        n += esc_len(&e.profile) + 64;
        n += e
            .findings
            .iter()
            .map(|f| {
                esc_len(f.code)
                    + esc_len(&f.message)
                    + f.remediation.as_deref().map_or(0, esc_len)
                    + 48
            })
            .sum::<usize>();
    }
    if let Some(s) = stack {
        n += s.json.len();
    }
    if !r.tunnel.is_empty() {
        // `,"tunnel":[…]`: every layer's text is under 24 bytes.
        n += 16 + (helloscope_capture::decode::MAX_TUNNELS + 1) * 32;
    }
    n
}

/// `s` as a JSON string.
fn escaped(s: &str) -> Vec<u8> {
    let mut buf = vec![0; esc_len(s)];
    let mut c = Cursor {
        buf: &mut buf,
        pos: 0,
    };
    c.string(s);
    let n = c.pos;
    buf.truncate(n);
    buf
}

impl LineWriter {
    /// A writer whose lines name `sensor`.
    pub fn new(sensor: &str) -> Self {
        LineWriter {
            sensor: sensor.to_owned(),
            sensor_json: escaped(sensor),
            ..LineWriter::default()
        }
    }

    /// The sensor's name.
    pub fn sensor(&self) -> &str {
        &self.sensor
    }

    /// Appends the jsonl line of `r` (without the newline): the documented schema (README,
    /// "Output"), keys in the documented order.
    pub fn write_line(
        &mut self,
        out: &mut Vec<u8>,
        r: &FlowRecord,
        source: &str,
        eval: Option<&Evaluation>,
        stack: Option<&StackMatch>,
    ) {
        if self.source != source {
            self.source = source.to_owned();
            self.source_json = escaped(source);
        }
        let ch = r.client_hello.as_ref();
        let sh = r.server_hello.as_ref();
        let bound = line_bound(r, &self.source_json, &self.sensor_json, eval, stack);
        // Taken out while written into, so that the other kept things stay usable.
        let mut scratch = std::mem::take(&mut self.scratch);
        if scratch.len() < bound {
            scratch.resize(bound, 0);
        }
        let mut c = Cursor {
            buf: &mut scratch,
            pos: 0,
        };
        c.put(b'{');
        key!(c, first "ts");
        self.timestamp(&mut c, r.first_seen);
        key!(c, "source");
        c.put_slice(&self.source_json);
        key!(c, "sensor");
        c.put_slice(&self.sensor_json);
        key!(c, "client_ip");
        c.ip(r.client.ip());
        key!(c, "client_port");
        c.decimal(r.client.port().into());
        key!(c, "server_ip");
        c.ip(r.server.ip());
        key!(c, "server_port");
        c.decimal(r.server.port().into());
        key!(c, "sni");
        c.opt_string(ch.and_then(|c| c.sni.as_deref()));
        key!(c, "alpn_offered");
        c.put(b'[');
        for (i, p) in ch.map_or(&[][..], |c| &c.alpn[..]).iter().enumerate() {
            if i > 0 {
                c.put(b',');
            }
            c.string(p);
        }
        c.put(b']');
        key!(c, "alpn");
        c.opt_string(sh.and_then(|s| s.alpn.as_deref()));
        key!(c, "versions_offered");
        c.put(b'[');
        for (i, v) in ch
            .map_or(&[][..], |c| &c.versions_offered[..])
            .iter()
            .enumerate()
        {
            if i > 0 {
                c.put(b',');
            }
            c.version(*v);
        }
        c.put(b']');
        key!(c, "version_offered_max");
        c.opt_version(ch.map(|c| c.version_offered_max));
        key!(c, "version");
        c.opt_version(sh.map(|s| s.version));
        key!(c, "cipher");
        match sh.map(|s| s.cipher) {
            None => c.put_slice(b"null"),
            Some(suite) => {
                // A few suites make most connections; the name lookup is a search.
                let slot = &mut self.ciphers[usize::from((suite.0 ^ suite.0 >> 8) & 15)];
                let name = match *slot {
                    Some((known, name)) if known == suite => name,
                    _ => {
                        let name = suite.name();
                        *slot = Some((suite, name));
                        name
                    }
                };
                match name {
                    // Registry names are ASCII identifiers.
                    Some(n) => c.clean(n),
                    None => c.display(suite),
                }
            }
        }
        key!(c, "hello_retry");
        c.bool(sh.is_some_and(|s| s.hello_retry));
        key!(c, "fallback_scsv");
        c.bool(ch.is_some_and(|c| c.fallback_scsv));
        key!(c, "ja3");
        c.opt_clean(ch.and_then(|c| c.ja3.as_deref()));
        key!(c, "ja3s");
        c.opt_clean(sh.map(|s| &*s.ja3s));
        key!(c, "ja4");
        c.opt_clean(ch.and_then(|c| c.ja4.as_deref()));
        key!(c, "ja4s");
        c.opt_clean(sh.and_then(|s| s.ja4s.as_deref()));
        key!(c, "stack");
        match stack {
            None => c.put_slice(b"null"),
            // Written once per distinct hello, with the name.
            Some(s) => c.put_slice(s.json.as_bytes()),
        }
        key!(c, "outcome");
        c.clean(r.outcome.name());
        key!(c, "alert");
        match r.outcome {
            Outcome::Alert {
                level,
                description,
                from,
            } => {
                c.put(b'{');
                key!(c, first "level");
                c.display(level);
                key!(c, "description");
                c.display(description);
                key!(c, "from");
                c.clean(from.as_str());
                c.put(b'}');
            }
            _ => c.put_slice(b"null"),
        }
        if let Some(e) = eval {
            key!(c, "policy");
            c.put(b'{');
            key!(c, first "profile");
            c.string(&e.profile);
            key!(c, "verdict");
            c.clean(e.verdict.as_str());
            key!(c, "findings");
            c.put(b'[');
            for (i, f) in e.findings.iter().enumerate() {
                if i > 0 {
                    c.put(b',');
                }
                c.put(b'{');
                key!(c, first "code");
                c.string(f.code);
                key!(c, "message");
                c.string(&f.message);
                key!(c, "remediation");
                c.opt_string(f.remediation.as_deref());
                c.put(b'}');
            }
            c.put_slice(b"]}");
        }
        key!(c, "ja3_string");
        c.opt_clean(ch.and_then(|c| c.ja3_string.as_deref()));
        key!(c, "ja4_r");
        c.opt_clean(ch.and_then(|c| c.ja4_r.as_deref()));
        key!(c, "sslv2_hello");
        c.bool(ch.is_some_and(|c| c.sslv2_format));
        key!(c, "reset_by");
        c.opt_clean(match r.outcome {
            Outcome::Reset { from } => Some(from.as_str()),
            _ => None,
        });
        key!(c, "end");
        c.clean(r.end.name());
        key!(c, "flags");
        c.put(b'[');
        for (i, f) in crate::output::flag_names(&r.flags).iter().enumerate() {
            if i > 0 {
                c.put(b',');
            }
            c.clean(f);
        }
        c.put(b']');
        key!(c, "packets");
        c.decimal(r.packets);
        if !r.tunnel.is_empty() {
            key!(c, "tunnel");
            c.put(b'[');
            for (i, t) in r.tunnel.names().iter().enumerate() {
                if i > 0 {
                    c.put(b',');
                }
                c.clean(t);
            }
            c.put(b']');
        }
        key!(c, "transport");
        c.clean(r.transport.name());
        key!(c, "quic_version");
        match r.quic_version {
            Some(v) => c.clean(&crate::output::quic_version_name(v)),
            None => c.put_slice(b"null"),
        }
        c.put(b'}');
        let written = c.pos;
        out.extend_from_slice(&scratch[..written]);
        self.scratch = scratch;
    }
}

impl LineWriter {
    /// `"2023-11-14T22:13:20.000007Z"`: RFC 3339 UTC with microseconds, as humantime writes
    /// it. Consecutive records mostly share their second, whose text is kept.
    fn timestamp(&mut self, c: &mut Cursor<'_>, ts: Duration) {
        if ts > helloscope_capture::MAX_TIMESTAMP {
            // Past what four digits of year hold (the analyzer skips such packets): the
            // general writer's expanded year, never a wrong one. Room: `line_bound`.
            c.put(b'"');
            c.put_slice(crate::output::rfc3339_micros(ts).as_bytes());
            c.put(b'"');
            return;
        }
        let secs = ts.as_secs();
        let head = match self.second {
            Some((s, head)) if s == secs => head,
            _ => {
                let (days, rem) = (secs / 86_400, secs % 86_400);
                let mut head = [0u8; SECOND_LEN];
                let mut h = Cursor {
                    buf: &mut head,
                    pos: 0,
                };
                h.put(b'"');
                h.put_slice(&civil_date(days));
                h.put(b'T');
                h.padded(rem / 3600, 2);
                h.put(b':');
                h.padded(rem / 60 % 60, 2);
                h.put(b':');
                h.padded(rem % 60, 2);
                h.put(b'.');
                self.second = Some((secs, head));
                head
            }
        };
        c.put_slice(&head);
        c.padded(u64::from(ts.subsec_micros()), 6);
        c.put_slice(b"Z\"");
    }
}

/// Length of `"YYYY-MM-DDTHH:MM:SS.`.
const SECOND_LEN: usize = 21;

/// Room for `s` as an escaped JSON string.
fn esc_len(s: &str) -> usize {
    s.len() * MAX_ESCAPE + 2
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use helloscope_capture::{Analyzer, FlowConfig, PacketSource, Side, Tunnel};
    use helloscope_tls::{AlertDescription, AlertLevel};

    use super::*;

    /// What `f` writes through a cursor.
    fn written(f: impl FnOnce(&mut Cursor<'_>)) -> Vec<u8> {
        let mut buf = vec![0; 4096];
        let mut c = Cursor {
            buf: &mut buf,
            pos: 0,
        };
        f(&mut c);
        let n = c.pos;
        buf.truncate(n);
        buf
    }
    use crate::output::FlowJson;
    use crate::policy::Policy;

    fn records_of_bundled_captures() -> Vec<(FlowRecord, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
        let mut out = Vec::new();
        for f in ["openssl.pcap", "curl.pcapng", "libraries.pcap", "ipv6.pcap"] {
            let path = format!("{dir}/{f}");
            let mut src = PacketSource::open_file(&path).unwrap();
            let mut a = Analyzer::new(FlowConfig::default());
            let mut emit = |r: FlowRecord| out.push((r, path.clone()));
            a.run(&mut src, &mut emit).unwrap();
            a.finish(&mut emit);
        }
        assert!(out.len() >= 29, "every bundled flow");
        out
    }

    fn same_as_serde(r: &FlowRecord, source: &str, eval: Option<&Evaluation>) {
        let db = crate::stack::StackDb::builtin();
        let stack = r.client_hello.as_ref().map(|c| db.name(c));
        same_as_serde_with(r, source, eval, stack.as_deref());
        same_as_serde_with(r, source, eval, None);
    }

    fn same_as_serde_with(
        r: &FlowRecord,
        source: &str,
        eval: Option<&Evaluation>,
        stack: Option<&StackMatch>,
    ) {
        same_as_serde_named(r, "gw \"1\"", source, eval, stack);
    }

    fn same_as_serde_named(
        r: &FlowRecord,
        sensor: &str,
        source: &str,
        eval: Option<&Evaluation>,
        stack: Option<&StackMatch>,
    ) {
        let mut ours = Vec::new();
        LineWriter::new(sensor).write_line(&mut ours, r, source, eval, stack);
        let serde = serde_json::to_vec(&FlowJson {
            sensor: sensor.into(),
            ..FlowJson::new(r, source, eval, stack)
        })
        .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&serde)
        );
    }

    #[test]
    fn lines_are_what_serde_writes_for_every_bundled_flow() {
        let procore = Policy::builtin("procore").unwrap();
        let mut with_policy = 0;
        for (r, source) in records_of_bundled_captures() {
            let eval = procore.evaluate(&r);
            with_policy += eval.is_some() as usize;
            same_as_serde(&r, &source, eval.as_ref());
            same_as_serde(&r, &source, None);
        }
        assert!(with_policy > 0, "some flows go to a procore host");
    }

    #[test]
    fn hostile_strings_are_escaped_as_serde_escapes_them() {
        let (mut r, _) = records_of_bundled_captures().remove(0);
        let ch = r.client_hello.as_mut().unwrap();
        let nasty = "a\"b\\c\u{0}\u{1f}\u{8}\t\n\u{c}\r\u{7f}é\u{2028}😀";
        ch.sni = Some(nasty.into());
        ch.alpn = vec![nasty.into(), String::new()].into();
        r.outcome = Outcome::Alert {
            level: AlertLevel::Unknown(9),
            description: AlertDescription(250),
            from: Side::Server,
        };
        r.flags.gap = true;
        r.flags.snaplen_cut = true;
        same_as_serde(&r, "dir/\"odd\"\n.pcap", None);
        r.outcome = Outcome::Reset { from: Side::Client };
        r.client_hello = None;
        r.server_hello = None;
        same_as_serde(&r, "-", None);
        // The tunnel key: absent above, a list of texts when set.
        r.tunnel.push(Tunnel::Vxlan(5001));
        r.tunnel.push(Tunnel::Ipv6);
        same_as_serde(&r, "-", None);
        let mut line = Vec::new();
        LineWriter::default().write_line(&mut line, &r, "-", None, None);
        let line = String::from_utf8(line).unwrap();
        assert!(
            line.ends_with(
                r#","tunnel":["vxlan:vni=5001","ipv6"],"transport":"tcp","quic_version":null}"#
            ),
            "{line}"
        );
    }

    /// The room sized for a line holds the worst each field can be: every string made of
    /// bytes that escape to six, many ALPN names, IPv6 addresses, unnamed versions, ciphers and
    /// alerts, every flag, a policy with long findings. Written past the room, the cursor
    /// would panic.
    #[test]
    fn the_longest_lines_fit_their_room() {
        let (mut r, _) = records_of_bundled_captures().remove(0);
        let worst = "\u{1}".repeat(5000);
        let ch = r.client_hello.as_mut().unwrap();
        ch.sni = Some(worst.clone());
        ch.alpn = vec![worst.clone(); 40].into();
        ch.versions_offered = (0..300u16)
            .map(|i| TlsVersion::from_wire(0x7f00 + (i % 256)))
            .collect::<Vec<_>>()
            .into();
        ch.version_offered_max = TlsVersion::from_wire(0x1a1a);
        let sh = r.server_hello.as_mut().unwrap();
        sh.alpn = Some(worst.clone());
        sh.version = TlsVersion::from_wire(0xfefe);
        sh.cipher = helloscope_tls::CipherSuite(0xeeee);
        r.client = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"
            .parse()
            .unwrap();
        r.server = "[1111:2222:3333:4444:5555:6666:7777:8888]:1"
            .parse()
            .unwrap();
        r.outcome = Outcome::Alert {
            level: AlertLevel::Unknown(255),
            description: AlertDescription(255),
            from: Side::Client,
        };
        r.flags = helloscope_capture::FlowFlags::default();
        r.flags.midstream = true;
        r.flags.gap = true;
        r.flags.buffer_limit = true;
        r.flags.overlap_conflict = true;
        r.flags.malformed = true;
        r.flags.snaplen_cut = true;
        r.packets = u64::MAX;
        r.first_seen = Duration::new(u64::from(u32::MAX), 999_999_999);
        // The longest tunnel texts, more layers than are named.
        for t in [
            Tunnel::Erspan3(1023),
            Tunnel::GtpU(u32::MAX),
            Tunnel::GreKey(u32::MAX),
            Tunnel::Vxlan(0xff_ffff),
            Tunnel::Geneve(0xff_ffff),
            Tunnel::Mpls(0xf_ffff),
            Tunnel::Erspan2(1023),
        ] {
            r.tunnel.push(t);
        }
        same_as_serde(&r, "-", None);
        let eval = Evaluation {
            profile: worst.clone(),
            verdict: crate::policy::Verdict::Breaks,
            findings: (0..20)
                .map(|_| crate::policy::Finding {
                    code: "below_minimum",
                    message: worst.clone(),
                    remediation: Some(worst.as_str().into()),
                })
                .collect(),
        };
        same_as_serde(&r, &worst, Some(&eval));
        let stack = StackMatch::new(
            Some(&worst),
            Some(&worst),
            crate::stack::Confidence::Unknown,
            crate::stack::Tls12::Disabled,
            vec![],
            None,
        );
        same_as_serde_with(&r, &worst, Some(&eval), Some(&stack));
        same_as_serde_named(&r, &worst, &worst, Some(&eval), Some(&stack));
    }

    #[test]
    fn clean_strings_are_told_from_the_rest_at_every_position() {
        for len in 0..20 {
            let clean: String = "ab/c.d-e_f:g h".chars().cycle().take(len).collect();
            assert!(is_clean(clean.as_bytes()), "{clean:?}");
            for at in 0..len {
                for bad in ['"', '\\', '\u{0}', '\n', '\u{1f}'] {
                    let mut s: Vec<char> = clean.chars().collect();
                    s[at] = bad;
                    let s: String = s.into_iter().collect();
                    assert!(!is_clean(s.as_bytes()), "{s:?}");
                }
            }
        }
        // Bytes just outside the escaped set, and non-ASCII, are clean.
        assert!(is_clean("  !#[]^~\u{7f}éé😀😀 !#[]^~".as_bytes()));
    }

    #[test]
    fn ipv4_addresses_as_std_writes_them() {
        for a in [
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [10, 0, 9, 100],
            [192, 168, 1, 23],
        ] {
            let a = IpAddr::from(a);
            assert_eq!(written(|c| c.ip(a)), format!("\"{a}\"").into_bytes());
        }
        for v in 0..=255u8 {
            let a = IpAddr::from([v, v / 3, 255 - v, v / 10]);
            assert_eq!(written(|c| c.ip(a)), format!("\"{a}\"").into_bytes());
        }
    }

    #[test]
    fn decimals() {
        for v in [
            0u64,
            7,
            10,
            99,
            100,
            999,
            1000,
            65535,
            99_999,
            100_000,
            u64::MAX,
        ] {
            assert_eq!(written(|c| c.decimal(v)), v.to_string().into_bytes());
        }
    }

    #[test]
    fn timestamps_are_what_humantime_writes() {
        // One writer throughout: the kept date must follow the day.
        let mut w = LineWriter::default();
        let mut secs = 0u64;
        while secs < u64::from(u32::MAX) {
            for micros in [0u32, 7, 999_999] {
                let d = Duration::new(secs, micros * 1000);
                let ours = written(|c| w.timestamp(c, d));
                let want = humantime::format_rfc3339_micros(UNIX_EPOCH + d).to_string();
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    format!("\"{want}\""),
                    "{secs}"
                );
            }
            // Steps that land on every month end, leap day and century rule across the range.
            secs += 86_399 * 7 + 3_607;
        }
    }

    /// Timestamps at the edges of what RFC 3339 writes, 1970 to the last microsecond of
    /// 9999: written as the general writer writes them, and read back to the same time;
    /// past 9999 (which the analyzer skips) the year is expanded, never wrong.
    #[test]
    fn timestamps_of_every_year_read_back() {
        let mut w = LineWriter::default();
        let edges = [
            Duration::ZERO,
            Duration::new(86_399, 999_999_000),
            Duration::new(951_782_400, 0),       // 2000-02-29
            Duration::new(4_107_542_400, 1_000), // 2100-03-01
            Duration::new(253_370_764_800, 0),   // 9999-01-01
            Duration::new(253_402_300_799, 999_999_000),
            helloscope_capture::MAX_TIMESTAMP,
        ];
        for d in edges {
            let ours = String::from_utf8(written(|c| w.timestamp(c, d))).unwrap();
            assert_eq!(ours, format!("\"{}\"", crate::output::rfc3339_micros(d)));
            let back = humantime::parse_rfc3339(ours.trim_matches('"')).unwrap();
            let micros = Duration::from_micros(d.as_micros() as u64);
            assert_eq!(back.duration_since(UNIX_EPOCH).unwrap(), micros, "{ours}");
        }
        let past = helloscope_capture::MAX_TIMESTAMP + Duration::from_secs(1);
        let ours = String::from_utf8(written(|c| w.timestamp(c, past))).unwrap();
        assert_eq!(ours, "\"+10000-01-01T00:00:00.999999Z\"");
        let (mut r, _) = records_of_bundled_captures().remove(0);
        r.first_seen = Duration::new(u64::MAX, 999_999_999);
        same_as_serde(&r, "x", None);
    }
}
