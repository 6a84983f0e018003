//! The jsonl line of a flow, written straight from the record into a byte buffer.
//!
//! By hand because it is the hot end of the CLI: through serde, building the owned
//! [`FlowJson`](crate::output::FlowJson) and serializing it cost a third of the run on
//! handshake-heavy traffic. The bytes are the same as `serde_json::to_vec(&FlowJson)`; a test
//! holds the two together.

use std::fmt::{self, Display, Write as _};
use std::net::IpAddr;
use std::time::Duration;

use helloscope_capture::{FlowRecord, Outcome};
use helloscope_tls::TlsVersion;

use crate::policy::Evaluation;

/// Appends `s` as a JSON string body, escaped as serde_json escapes it: `"`, `\`, and control
/// characters (`\b \t \n \f \r` by name, the rest as `\u00XX`).
pub fn escape_into(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    if is_clean(b) {
        out.extend_from_slice(b);
        return;
    }
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 0xf) as usize],
            ],
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
}

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

/// `fmt::Write` that escapes what is written into it.
struct Escaping<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

/// The line being written: `"key":value` pairs separated by commas.
struct Line<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Line<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Line { out, first: true }
    }

    /// Keys are this module's own ASCII literals: no escaping needed.
    #[inline(always)]
    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    #[inline(always)]
    fn str(&mut self, k: &str, v: &str) {
        let o = self.key(k);
        string(o, v);
    }

    #[inline(always)]
    fn opt_str(&mut self, k: &str, v: Option<&str>) {
        match v {
            Some(v) => self.str(k, v),
            None => self.key(k).extend_from_slice(b"null"),
        }
    }

    fn display(&mut self, k: &str, v: Option<impl Display>) {
        let o = self.key(k);
        match v {
            Some(v) => display(o, v),
            None => o.extend_from_slice(b"null"),
        }
    }

    /// A string this crate builds from ASCII letters, digits and `,-_` only (fingerprints):
    /// nothing to escape, and these are the longest strings of the line.
    #[inline(always)]
    fn clean_str(&mut self, k: &str, v: Option<&str>) {
        let o = self.key(k);
        match v {
            Some(v) => {
                debug_assert!(!v.bytes().any(|c| c < 0x20 || c == b'"' || c == b'\\'));
                o.push(b'"');
                o.extend_from_slice(v.as_bytes());
                o.push(b'"');
            }
            None => o.extend_from_slice(b"null"),
        }
    }

    fn version(&mut self, k: &str, v: Option<TlsVersion>) {
        match v.map(|v| (v, v.name())) {
            Some((_, Some(name))) => self.clean_str(k, Some(name)),
            Some((v, None)) => self.display(k, Some(v)),
            None => self.clean_str(k, None),
        }
    }

    #[inline(always)]
    fn bool(&mut self, k: &str, v: bool) {
        let o = self.key(k);
        o.extend_from_slice(if v { b"true" } else { b"false" });
    }

    #[inline(always)]
    fn uint(&mut self, k: &str, v: u64) {
        let o = self.key(k);
        decimal(o, v);
    }

    fn list<T>(&mut self, k: &str, items: &[T], mut each: impl FnMut(&mut Vec<u8>, &T)) {
        let o = self.key(k);
        o.push(b'[');
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            each(o, it);
        }
        o.push(b']');
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

fn display(out: &mut Vec<u8>, v: impl Display) {
    out.push(b'"');
    let _ = write!(Escaping(out), "{v}");
    out.push(b'"');
}

fn decimal(out: &mut Vec<u8>, v: u64) {
    // Ports, octets and packet counts: at most five digits, all computed, then the leading
    // zeros skipped by where the copy starts. No branch on the value: the digit counts of
    // neighbouring fields differ, and mispredicted branches cost more than the arithmetic.
    if v < 100_000 {
        let v = v as u32;
        let n = 1
            + usize::from(v >= 10)
            + usize::from(v >= 100)
            + usize::from(v >= 1000)
            + usize::from(v >= 10_000);
        let mut digits = [0u8; 16];
        digits[0] = b'0' + (v / 10_000) as u8;
        digits[1] = b'0' + (v / 1000 % 10) as u8;
        digits[2] = b'0' + (v / 100 % 10) as u8;
        digits[3] = b'0' + (v / 10 % 10) as u8;
        digits[4] = b'0' + (v % 10) as u8;
        let len = out.len();
        out.extend_from_slice(&digits[5 - n..13 - n]);
        out.truncate(len + n);
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
    out.extend_from_slice(&buf[i..]);
}

/// `digits` decimal digits of `v`, zero-padded.
fn padded(out: &mut Vec<u8>, v: u64, digits: usize) {
    let mut buf = [b'0'; 20];
    let mut v = v;
    for d in buf[..digits].iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&buf[..digits]);
}

/// RFC 3339 UTC with microseconds, `2023-11-14T22:13:20.000007Z`, as humantime writes it.
pub fn rfc3339_micros(out: &mut Vec<u8>, since_epoch: Duration) {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days to civil date: Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms".
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    padded(out, year as u64, 4);
    out.push(b'-');
    padded(out, month as u64, 2);
    out.push(b'-');
    padded(out, day as u64, 2);
    out.push(b'T');
    padded(out, rem / 3600, 2);
    out.push(b':');
    padded(out, rem / 60 % 60, 2);
    out.push(b':');
    padded(out, rem % 60, 2);
    out.push(b'.');
    padded(out, u64::from(since_epoch.subsec_micros()), 6);
    out.push(b'Z');
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

fn ip(out: &mut Vec<u8>, a: IpAddr) {
    out.push(b'"');
    match a {
        IpAddr::V4(v4) => {
            // Four table entries, each copied whole and cut to its length; the last dot off.
            for o in v4.octets() {
                let (text, n) = OCTETS[o as usize];
                let len = out.len();
                out.extend_from_slice(&text);
                out.truncate(len + n as usize);
            }
            out.pop();
        }
        IpAddr::V6(v6) => {
            let _ = write!(Escaping(out), "{v6}");
        }
    }
    out.push(b'"');
}

/// Appends the jsonl line of `r` (without the newline): the documented schema (README,
/// "Output"), keys in the documented order.
pub fn write_line(out: &mut Vec<u8>, r: &FlowRecord, source: &str, eval: Option<&Evaluation>) {
    let ch = r.client_hello.as_ref();
    let sh = r.server_hello.as_ref();
    let mut l = Line::open(out);
    let o = l.key("ts");
    o.push(b'"');
    rfc3339_micros(o, r.first_seen);
    o.push(b'"');
    l.str("source", source);
    ip(l.key("client_ip"), r.client.ip());
    l.uint("client_port", r.client.port().into());
    ip(l.key("server_ip"), r.server.ip());
    l.uint("server_port", r.server.port().into());
    l.opt_str("sni", ch.and_then(|c| c.sni.as_deref()));
    l.list(
        "alpn_offered",
        ch.map_or(&[][..], |c| &c.alpn[..]),
        |o, p| string(o, p),
    );
    l.opt_str("alpn", sh.and_then(|s| s.alpn.as_deref()));
    l.list(
        "versions_offered",
        ch.map_or(&[][..], |c| &c.versions_offered[..]),
        |o, v| match v.name() {
            Some(n) => string(o, n),
            None => display(o, v),
        },
    );
    l.version("version_offered_max", ch.map(|c| c.version_offered_max));
    l.version("version", sh.map(|s| s.version));
    match sh.map(|s| (s.cipher, s.cipher.name())) {
        // Registry names are ASCII identifiers.
        Some((_, Some(name))) => l.clean_str("cipher", Some(name)),
        other => l.display("cipher", other.map(|(c, _)| c)),
    }
    l.bool("hello_retry", sh.is_some_and(|s| s.hello_retry));
    l.bool("fallback_scsv", ch.is_some_and(|c| c.fallback_scsv));
    l.clean_str("ja3", ch.and_then(|c| c.ja3.as_deref()));
    l.clean_str("ja3s", sh.map(|s| &*s.ja3s));
    l.clean_str("ja4", ch.and_then(|c| c.ja4.as_deref()));
    l.clean_str("ja4s", sh.and_then(|s| s.ja4s.as_deref()));
    l.str("outcome", r.outcome.name());
    match r.outcome {
        Outcome::Alert {
            level,
            description,
            from,
        } => {
            let o = l.key("alert");
            let mut a = Line::open(o);
            a.display("level", Some(level));
            a.display("description", Some(description));
            a.str("from", from.as_str());
            a.close();
        }
        _ => l.key("alert").extend_from_slice(b"null"),
    }
    if let Some(e) = eval {
        let o = l.key("policy");
        let mut p = Line::open(o);
        p.str("profile", &e.profile);
        p.str("verdict", e.verdict.as_str());
        p.list("findings", &e.findings, |o, f| {
            let mut fl = Line::open(o);
            fl.str("code", f.code);
            fl.str("message", &f.message);
            fl.close();
        });
        p.close();
    }
    l.clean_str("ja3_string", ch.and_then(|c| c.ja3_string.as_deref()));
    l.clean_str("ja4_r", ch.and_then(|c| c.ja4_r.as_deref()));
    l.bool("sslv2_hello", ch.is_some_and(|c| c.sslv2_format));
    l.opt_str(
        "reset_by",
        match r.outcome {
            Outcome::Reset { from } => Some(from.as_str()),
            _ => None,
        },
    );
    l.str("end", r.end.name());
    l.list("flags", &crate::output::flag_names(&r.flags), |o, f| {
        string(o, f)
    });
    l.uint("packets", r.packets);
    l.close();
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use helloscope_capture::{Analyzer, FlowConfig, PacketSource, Side};
    use helloscope_tls::{AlertDescription, AlertLevel};

    use super::*;
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
        let mut ours = Vec::new();
        write_line(&mut ours, r, source, eval);
        let serde = serde_json::to_vec(&FlowJson::new(r, source, eval)).unwrap();
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
            let mut out = Vec::new();
            ip(&mut out, a);
            assert_eq!(out, format!("\"{a}\"").into_bytes());
        }
        for v in 0..=255u8 {
            let a = IpAddr::from([v, v / 3, 255 - v, v / 10]);
            let mut out = Vec::new();
            ip(&mut out, a);
            assert_eq!(out, format!("\"{a}\"").into_bytes());
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
            let mut out = b"x".to_vec();
            decimal(&mut out, v);
            assert_eq!(out, format!("x{v}").into_bytes());
        }
    }

    #[test]
    fn timestamps_are_what_humantime_writes() {
        let mut secs = 0u64;
        while secs < u64::from(u32::MAX) {
            for micros in [0u32, 7, 999_999] {
                let d = Duration::new(secs, micros * 1000);
                let mut ours = Vec::new();
                rfc3339_micros(&mut ours, d);
                let want = humantime::format_rfc3339_micros(UNIX_EPOCH + d).to_string();
                assert_eq!(String::from_utf8(ours).unwrap(), want, "{secs}");
            }
            // Steps that land on every month end, leap day and century rule across the range.
            secs += 86_399 * 7 + 3_607;
        }
    }
}
