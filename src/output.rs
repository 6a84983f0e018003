//! Output formats: jsonl (the documented, stable interface), csv and an aligned table.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use helloscope_capture::{FlowFlags, Outcome};
use serde::Serialize;

use crate::schema::Flow;
use crate::stack::StackMatch;
use crate::word;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Jsonl,
    Csv,
    /// jsonl with Elastic Common Schema field names.
    Ecs,
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

/// A QUIC version as the outputs write it: `v1`, `v2`, `draft-29`, else `0x` and eight hex
/// digits.
pub fn quic_version_name(v: u32) -> String {
    helloscope_tls::quic::QuicVersion(v).to_string()
}

/// `2023-11-14T22:13:20.000007Z`: RFC 3339 UTC with microseconds. A year past 9999, which
/// RFC 3339 cannot write (the analyzer skips such packets), is written as ISO 8601's
/// expanded form, `+10000-01-01T…`, rather than wrongly or not at all.
pub fn rfc3339_micros(d: Duration) -> String {
    let secs = d.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    let mut s = String::with_capacity(32);
    if year > 9999 {
        s.push('+');
    }
    let _ = write!(
        s,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_micros()
    );
    s
}

/// Year, month and day of day `days` since 1970-01-01 (Howard Hinnant's "chrono-Compatible
/// Low-Level Date Algorithms"), for any `u64` day count.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month, day)
}

/// `s` with every control and non-printable character escaped as tcpdump and tshark print
/// them (`\x1b`, `\r`, `\n`, `\t`, and `\\` for a backslash, so that an escape in the
/// name cannot pass for one made here), for a terminal or a table: a peer chose these bytes
/// and must not be able to clear the screen, recolour it or forge lines.
pub fn escape_text(s: &str) -> std::borrow::Cow<'_, str> {
    let needs = |c: char| c == '\\' || c.is_control() || is_invisible(c);
    if is_plain_ascii(s.as_bytes()) || !s.contains(needs) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 && needs(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Every byte printable ASCII (`0x20..=0x7e`) other than `\\`: nothing [`escape_text`]
/// escapes (the characters it escapes beyond these are all outside ASCII). Eight bytes at a
/// time, as a word: almost every cell is plain, and decoding it char by char cost more than
/// the rest of the csv row.
fn is_plain_ascii(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let x = word::load(c);
        if x & word::HIGH != 0
            || (word::below(x, 0x20) | word::has(x, 0x7f) | word::has(x, b'\\')) != 0
        {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&c| (0x20..0x7f).contains(&c) && c != b'\\')
}

/// Characters that print as nothing or reorder what follows them: zero-width and
/// bidirectional formatting characters, separators of lines and paragraphs, the BOM.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00ad | 0x061c | 0x180e | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff
        | 0xfff9..=0xfffb)
}

/// Calls `f` with the name of each flag set, in the documented order.
#[inline(always)]
pub fn for_each_flag(fl: &FlowFlags, mut f: impl FnMut(&'static str)) {
    if fl.midstream {
        f("midstream");
    }
    if fl.gap {
        f("gap");
    }
    if fl.buffer_limit {
        f("buffer_limit");
    }
    if fl.overlap_conflict {
        f("overlap_conflict");
    }
    if fl.malformed {
        f("malformed");
    }
    if fl.snaplen_cut {
        f("snaplen_cut");
    }
}

pub use crate::schema::CSV_HEADER;

/// One csv cell (RFC 4180). Control characters are escaped as in the table, so no raw
/// control byte reaches the file; a cell a spreadsheet would run as a formula (starting with
/// `=`, `+`, `-`, `@`; a leading tab or carriage return is escaped already) gets a leading
/// `'`, as OWASP recommends against CSV injection.
#[cfg(test)]
fn csv_field(s: &str) -> String {
    let mut cell = String::with_capacity(s.len() + 3);
    push_csv_field(&mut cell, s);
    cell
}

/// Appends the csv cell of `s` (see [`csv_field`]) to `row`.
fn push_csv_field(row: &mut String, s: &str) {
    let s = escape_text(s);
    // A single character cannot be a formula: `-` stays `-`.
    let formula = s.len() > 1 && s.starts_with(['=', '+', '-', '@']);
    let quoted = s.contains([',', '"', '\n', '\r']);
    if quoted {
        row.push('"');
    }
    if formula {
        row.push('\'');
    }
    if quoted {
        for (i, part) in s.split('"').enumerate() {
            if i > 0 {
                row.push_str("\"\"");
            }
            row.push_str(part);
        }
        row.push('"');
    } else {
        row.push_str(&s);
    }
}

/// The csv row of a record (columns: [`CSV_HEADER`]), written into one string.
pub fn csv_row(x: &Flow<'_>) -> String {
    let cells = crate::schema::csv_cells(x);
    let mut row = String::with_capacity(cells.iter().map(|c| c.len() + 1).sum::<usize>() + 16);
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            row.push(',');
        }
        push_csv_field(&mut row, cell);
    }
    row
}

/// Aligned table: rows are collected, then printed with column widths.
#[derive(Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

pub const TABLE_HEADER: &[&str] = &[
    "CLIENT",
    "SERVER",
    "PROTO",
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
    pub fn push(&mut self, x: &Flow<'_>) {
        let o = |v: Option<String>| v.map_or_else(|| "-".into(), |s| escape_text(&s).into_owned());
        let (r, ch, sh) = (x.r, x.ch, x.sh);
        let outcome = match r.outcome {
            Outcome::Alert {
                description, from, ..
            } => format!("alert {description} ({})", from.as_str()),
            Outcome::Reset { from } => format!("reset ({})", from.as_str()),
            _ => r.outcome.name().to_string(),
        };
        let policy = x
            .eval
            .map(|p| {
                let codes: Vec<&str> = p
                    .findings
                    .iter()
                    .map(|f| f.code)
                    .filter(|c| *c != "below_minimum" && *c != "handshake_refused")
                    .collect();
                if codes.is_empty() {
                    p.verdict.as_str().to_string()
                } else {
                    format!("{} [{}]", p.verdict.as_str(), codes.join(","))
                }
            })
            .unwrap_or_else(|| "-".into());
        let versions: Vec<String> = ch.map_or_else(Vec::new, |c| {
            c.versions_offered.iter().map(|v| v.to_string()).collect()
        });
        self.rows.push(vec![
            format!(
                "{}:{}",
                bracket(&r.client.ip().to_string()),
                r.client.port()
            ),
            format!(
                "{}:{}",
                bracket(&r.server.ip().to_string()),
                r.server.port()
            ),
            match r.quic_version {
                Some(v) => format!("{} {}", r.transport.name(), quic_version_name(v)),
                None => r.transport.name().to_string(),
            },
            o(ch.and_then(|c| c.sni.clone())),
            if versions.is_empty() {
                "-".into()
            } else {
                versions
                    .join(",")
                    .replace("DTLS ", "DTLS")
                    .replace(",TLS ", ",")
                    .trim_start_matches("TLS ")
                    .to_owned()
            },
            o(ch.map(|c| c.version_offered_max.to_string())),
            o(sh.map(|s| s.version.to_string())),
            o(sh.map(|s| s.cipher.to_string())),
            x.stack
                .map_or_else(|| "-".into(), |s| StackJson::new(s).label()),
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
        // One string for every line; padding pushed as spaces (by chars, as `{:<w$}` pads),
        // not formatted a character at a time.
        let mut s = String::new();
        let mut line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
            s.clear();
            for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                s.push_str(c);
                if i + 1 < cells.len() {
                    let pad = w.saturating_sub(c.chars().count()) + 2;
                    s.extend(std::iter::repeat_n(' ', pad));
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use helloscope_capture::{Analyzer, FlowConfig, FlowRecord, PacketSource};

    /// The first flow of a bundled capture of real clients, its SNI replaced by `sni`.
    pub(crate) fn record_with_sni(sni: &str) -> FlowRecord {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/openssl.pcap");
        let mut src = PacketSource::open_file(path).unwrap();
        let mut a = Analyzer::new(FlowConfig::default());
        let mut out = Vec::new();
        a.run(&mut src, &mut |r| out.push(r)).unwrap();
        a.finish(&mut |r| out.push(r));
        let mut r = out.remove(0);
        r.client_hello.as_mut().unwrap().sni = Some(sni.into());
        r
    }

    const HOSTILE: &str = "\x1b[2J\x1b[31mevil\r\nforged row\u{7f}\u{202e}\\x1b";

    fn no_control(s: &str) -> bool {
        !s.chars()
            .any(|c| (c.is_control() && c != '\n') || is_invisible(c))
    }

    #[test]
    fn control_characters_are_escaped_as_tcpdump_prints_them() {
        assert_eq!(
            escape_text(HOSTILE),
            "\\x1b[2J\\x1b[31mevil\\r\\nforged row\\x7f\\u{202e}\\\\x1b"
        );
        assert_eq!(escape_text("www.example.com"), "www.example.com");
        assert!(matches!(
            escape_text("bücher.de"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    /// The word-at-a-time test of ASCII text agrees with the char-by-char one, for every
    /// ASCII byte at every position (and gives way to it outside ASCII).
    #[test]
    fn plain_ascii_is_told_from_what_needs_escaping_at_every_position() {
        let needs = |c: char| c == '\\' || c.is_control() || is_invisible(c);
        for len in 1..20 {
            for at in 0..len {
                for b in 0..0x80u8 {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    let s = String::from_utf8(v).unwrap();
                    assert_eq!(is_plain_ascii(s.as_bytes()), !s.contains(needs), "{s:?}");
                }
            }
        }
        assert!(!is_plain_ascii("bücher.de".as_bytes()));
        assert!(!is_plain_ascii("0123456789\u{202e}".as_bytes()));
    }

    #[test]
    fn table_rows_hold_no_control_characters() {
        let r = record_with_sni(HOSTILE);
        let mut t = Table::default();
        t.push(&Flow::new(&r, "x.pcap", None, None));
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(no_control(&out), "{out:?}");
        assert_eq!(out.lines().count(), 2, "one header, one row: {out}");
        assert!(
            out.contains("\\x1b[2J\\x1b[31mevil\\r\\nforged row"),
            "{out}"
        );
    }

    #[test]
    fn csv_cells_hold_no_control_characters_and_no_formulas() {
        let r = record_with_sni(HOSTILE);
        let row = csv_row(&Flow::new(&r, "x.pcap", None, None));
        assert!(no_control(&row) && !row.contains('\n'), "{row:?}");
        for (cell, want) in [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "\\tx"),
            ("-", "-"),
            ("a=b", "a=b"),
            ("a,b", "\"a,b\""),
        ] {
            assert_eq!(csv_field(cell), want, "{cell:?}");
        }
        let r = record_with_sni("=cmd|' /C calc'!A0");
        let row = csv_row(&Flow::new(&r, "x.pcap", None, None));
        assert!(row.contains(",'=cmd|' /C calc'!A0,"), "{row}");
    }

    #[test]
    fn timestamps_of_every_year_read_back() {
        let mut secs = 0u64;
        while secs <= 253_402_300_799 {
            for micros in [0u32, 1, 999_999] {
                let d = Duration::new(secs, micros * 1000);
                let s = rfc3339_micros(d);
                let back = humantime::parse_rfc3339(&s).unwrap();
                assert_eq!(
                    back.duration_since(std::time::UNIX_EPOCH).unwrap(),
                    d,
                    "{s}"
                );
            }
            secs += 86_399 * 97 + 3_607;
        }
        assert_eq!(
            rfc3339_micros(helloscope_capture::MAX_TIMESTAMP),
            "9999-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            rfc3339_micros(Duration::ZERO),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            rfc3339_micros(Duration::new(u64::MAX, 0)),
            "+584554051223-11-09T07:00:15.000000Z"
        );
    }
}
