//! The jsonl line of a flow, written straight from the record into a byte buffer.
//!
//! By hand because it is the hot end of the CLI: through serde, building an owned copy of
//! the record and serializing it cost a third of the run on handshake-heavy traffic. The keys,
//! their order and how each value is written are [`crate::schema`]'s; this module has the
//! cursor they are written through, and escapes strings as serde_json escapes them (a test
//! holds the two together).
//!
//! The line is written into a slice sized beforehand for the longest line this record could
//! give, through a cursor: appending to a `Vec` byte by byte reloads and checks its length
//! and capacity at every byte, which cost more than everything else the line needs.

use std::fmt::{Display, Write as _};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use helloscope_capture::FlowRecord;
use helloscope_tls::{CipherSuite, TlsVersion};

use crate::policy::Evaluation;
use crate::schema::Flow;
use crate::stack::StackMatch;
use crate::word;

/// True when no byte of `b` needs escaping: eight bytes at a time, as a word (almost every
/// string is clean, and a byte loop cost more than copying the line). The bytes past the last
/// full word are tested as a word too: the last eight bytes again, or for short strings their
/// first and last four bytes (which may overlap).
#[inline]
fn is_clean(b: &[u8]) -> bool {
    let dirty = |x: u64| (word::below(x, 0x20) | word::has(x, b'"') | word::has(x, b'\\')) != 0;
    let n = b.len();
    if n >= 8 {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            if dirty(word::load(c)) {
                return false;
            }
        }
        chunks.remainder().is_empty() || !dirty(word::load(&b[n - 8..]))
    } else if n >= 4 {
        let half = |c: &[u8]| u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        !dirty(half(&b[..4]) | half(&b[n - 4..]) << 32)
    } else {
        !b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\')
    }
}

/// Longest escape of one byte (`\u00XX`).
const MAX_ESCAPE: usize = 6;

mod ecs;

/// A write position in a slice sized beforehand. Past its end nothing is stored, but the
/// position still counts what was to be written (see [`LineWriter::emit`]).
pub(crate) struct Cursor<'a> {
    pub(crate) buf: &'a mut [u8],
    pub(crate) pos: usize,
    /// Something did not fit.
    pub(crate) overflow: bool,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Cursor {
            buf,
            pos: 0,
            overflow: false,
        }
    }
}

impl Cursor<'_> {
    #[inline(always)]
    pub(crate) fn put(&mut self, b: u8) {
        match self.buf.get_mut(self.pos) {
            Some(d) => *d = b,
            None => self.overflowed(),
        }
        self.pos += 1;
    }

    #[inline(always)]
    pub(crate) fn put_slice(&mut self, s: &[u8]) {
        match self.buf.get_mut(self.pos..self.pos + s.len()) {
            Some(d) => d.copy_from_slice(s),
            None => self.overflowed(),
        }
        self.pos += s.len();
    }

    /// Writes again the bytes of `from`, written before.
    pub(crate) fn copy_within(&mut self, from: std::ops::Range<usize>) {
        let n = from.len();
        if self.pos + n <= self.buf.len() && from.end <= self.buf.len() {
            self.buf.copy_within(from, self.pos);
        } else {
            self.overflowed();
        }
        self.pos += n;
    }

    /// Writes `b` over the byte at `at`, written before.
    #[inline(always)]
    pub(crate) fn set(&mut self, at: usize, b: u8) {
        if let Some(d) = self.buf.get_mut(at) {
            *d = b;
        }
    }

    #[cold]
    #[inline(never)]
    fn overflowed(&mut self) {
        self.overflow = true;
    }

    /// The first `n` bytes of `word`. All eight are copied (a copy of fixed size is a
    /// register store; one of variable size is a call to `memmove`) and the rest written over
    /// later: the line's room has a margin for them.
    #[inline(always)]
    pub(crate) fn put_word<const N: usize>(&mut self, (word, n): ([u8; N], u8)) {
        match self.buf.get_mut(self.pos..self.pos + N) {
            Some(d) => d.copy_from_slice(&word),
            None => self.overflowed(),
        }
        self.pos += n as usize;
    }

    /// A string this crate builds from ASCII letters, digits, spaces and `,-_.` only
    /// (fingerprints, names): nothing to escape.
    #[inline(always)]
    pub(crate) fn clean(&mut self, s: &str) {
        debug_assert!(is_clean(s.as_bytes()));
        self.quoted(s.as_bytes());
    }

    /// `b` between quotes: one check of the room for the three.
    #[inline(always)]
    fn quoted(&mut self, b: &[u8]) {
        let n = b.len();
        match self.buf.get_mut(self.pos..self.pos + n + 2) {
            Some([open, d @ .., close]) => {
                *open = b'"';
                d.copy_from_slice(b);
                *close = b'"';
            }
            _ => self.overflowed(),
        }
        self.pos += n + 2;
    }

    /// A string from the capture, escaped as serde_json escapes it: `"`, `\`, and control
    /// characters (`\b \t \n \f \r` by name, the rest as `\u00XX`).
    pub(crate) fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let b = s.as_bytes();
        if is_clean(b) {
            self.quoted(b);
        } else {
            self.put(b'"');
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
            self.put(b'"');
        }
    }

    pub(crate) fn opt_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.string(s),
            None => self.put_slice(b"null"),
        }
    }

    pub(crate) fn opt_clean(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.clean(s),
            None => self.put_slice(b"null"),
        }
    }

    /// The text of a value without a static name (IPv6 addresses, unnamed versions and
    /// ciphers, alerts): bounded in length, rare, and escaped all the same.
    pub(crate) fn display(&mut self, v: impl Display) {
        let mut s = String::new();
        let _ = write!(s, "{v}");
        self.string(&s);
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.put_slice(if v { b"true" } else { b"false" });
    }

    #[inline(always)]
    pub(crate) fn decimal(&mut self, v: u64) {
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
    pub(crate) fn padded(&mut self, v: u64, digits: usize) {
        let mut buf = [b'0'; 20];
        let mut v = v;
        for d in buf[..digits].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.put_slice(&buf[..digits]);
    }

    #[inline(always)]
    pub(crate) fn ip(&mut self, a: IpAddr) {
        match a {
            IpAddr::V4(v4) => {
                // Four table entries, each a number and a dot, gathered in a register and
                // stored at once (at most 16 bytes); the last dot taken back.
                let mut word = 0u128;
                let mut n = 0;
                for o in v4.octets() {
                    let (digits, len) = OCTETS[o as usize];
                    word |= u128::from(u32::from_le_bytes(digits)) << (8 * n);
                    n += u32::from(len);
                }
                self.put(b'"');
                self.put_word((word.to_le_bytes(), n as u8));
                self.set(self.pos - 1, b'"');
            }
            IpAddr::V6(v6) => self.display(v6),
        }
    }

    /// A version's name, quoted, as one stored word (its text from [`TlsVersion::name`]);
    /// the others (drafts, GREASE, unknown values) as their text.
    #[inline(always)]
    pub(crate) fn version(&mut self, v: TlsVersion) {
        const fn word(v: TlsVersion) -> ([u8; 16], u8) {
            match v.name() {
                Some(n) => quoted_word(n),
                None => panic!("a named version"),
            }
        }
        let word = match v {
            TlsVersion::Tls13 => const { word(TlsVersion::Tls13) },
            TlsVersion::Tls12 => const { word(TlsVersion::Tls12) },
            TlsVersion::Tls11 => const { word(TlsVersion::Tls11) },
            TlsVersion::Tls10 => const { word(TlsVersion::Tls10) },
            TlsVersion::Ssl3 => const { word(TlsVersion::Ssl3) },
            TlsVersion::Ssl2 => const { word(TlsVersion::Ssl2) },
            TlsVersion::Dtls10 => const { word(TlsVersion::Dtls10) },
            TlsVersion::Dtls12 => const { word(TlsVersion::Dtls12) },
            TlsVersion::Dtls13 => const { word(TlsVersion::Dtls13) },
            _ => return self.display(v),
        };
        self.put_word(word);
    }

    /// A registry name (`name`, ASCII letters, digits and `_`), else the text of the value
    /// that has none.
    pub(crate) fn named(&mut self, name: Option<&str>, v: impl Display) {
        match name {
            Some(n) => self.clean(n),
            None => self.display(v),
        }
    }

    #[inline(always)]
    pub(crate) fn opt_version(&mut self, v: Option<TlsVersion>) {
        match v {
            Some(v) => self.version(v),
            None => self.put_slice(b"null"),
        }
    }

    /// `[a,b,…]`, each item written by `item`.
    #[inline(always)]
    pub(crate) fn list<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.put(b'[');
        for (i, t) in items.iter().enumerate() {
            if i > 0 {
                self.put(b',');
            }
            item(self, t);
        }
        self.put(b']');
    }
}

/// `s` (at most 14 bytes that need no escaping) quoted, at the start of a word, and the
/// length of that.
const fn quoted_word(s: &str) -> ([u8; 16], u8) {
    let b = s.as_bytes();
    assert!(b.len() <= 14);
    let mut w = [0u8; 16];
    w[0] = b'"';
    let mut i = 0;
    while i < b.len() {
        w[i + 1] = b[i];
        i += 1;
    }
    w[b.len() + 1] = b'"';
    (w, b.len() as u8 + 2)
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
    let mut c = Cursor::new(&mut out);
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
    pub(crate) source_json: Vec<u8>,
    /// The sensor's name (`--sensor`, the host name by default), and escaped.
    sensor: String,
    pub(crate) sensor_json: Vec<u8>,
    /// The last timestamp's whole second and its text up to the fraction.
    second: Option<(u64, [u8; SECOND_LEN])>,
    /// The day of the last second written (days since the epoch) and its date.
    day: Option<(u64, [u8; 10])>,
    /// Names of recent cipher suites, by a few bits of their value.
    ciphers: [Option<(CipherSuite, Option<&'static str>)>; 16],
    /// Where lines are written before they are appended whole: sized once, so that no line
    /// costs zeroing its room first.
    scratch: Vec<u8>,
    /// Lines longer than their bound, written again in a larger room (see [`LINES_REGROWN`]).
    pub(crate) regrown: u64,
}

/// Where [`LineWriter`] appends lines.
pub(crate) trait LineOut {
    /// Appends what `write` writes, in a room of `bound` bytes (see [`LineWriter::emit`]).
    fn emit_line(
        &mut self,
        w: &mut LineWriter,
        bound: usize,
        write: impl Fn(&mut LineWriter, &mut Cursor<'_>),
    );
}

/// Each line written into the writer's own room, then copied to the end of the vector.
impl LineOut for Vec<u8> {
    #[inline(always)]
    fn emit_line(
        &mut self,
        w: &mut LineWriter,
        bound: usize,
        write: impl Fn(&mut LineWriter, &mut Cursor<'_>),
    ) {
        w.emit(self, bound, write);
    }
}

/// Lines gathered where they are written: a buffer zeroed once, of which the first `len`
/// bytes are lines, the rest room (written over by the next line). Saves copying each line
/// (about a kilobyte) from a room of its own to the buffer that goes out.
pub struct LineBuf {
    buf: Vec<u8>,
    len: usize,
}

impl LineBuf {
    /// An empty buffer with `room` bytes zeroed.
    pub fn with_room(room: usize) -> Self {
        LineBuf {
            buf: vec![0; room],
            len: 0,
        }
    }

    /// The lines written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Bytes of lines written.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends `b` (the newline after a line: its room is kept by `emit_line`).
    pub fn push(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(d) => *d = b,
            None => self.buf.push(b),
        }
        self.len += 1;
    }
}

impl LineOut for LineBuf {
    #[inline(always)]
    fn emit_line(
        &mut self,
        w: &mut LineWriter,
        bound: usize,
        write: impl Fn(&mut LineWriter, &mut Cursor<'_>),
    ) {
        // A byte more: the newline the caller pushes.
        self.len += w.emit_at(&mut self.buf, self.len, bound + 1, write);
    }
}

/// Lines of every writer that were longer than their bound (a bound that is too small: a
/// bug, reported in the summary line), written again in a room of their length.
pub static LINES_REGROWN: AtomicU64 = AtomicU64::new(0);

impl Default for LineWriter {
    fn default() -> Self {
        LineWriter {
            source: String::new(),
            source_json: b"\"\"".to_vec(),
            sensor: String::new(),
            sensor_json: b"\"\"".to_vec(),
            second: None,
            day: None,
            ciphers: [None; 16],
            scratch: Vec::new(),
            regrown: 0,
        }
    }
}

/// `s` as a JSON string.
fn escaped(s: &str) -> Vec<u8> {
    let mut buf = vec![0; esc_len(s)];
    let mut c = Cursor::new(&mut buf);
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

    /// Keeps `source` and its escaped text, when it changed.
    #[inline]
    pub(crate) fn set_source(&mut self, source: &str) {
        if self.source != source {
            self.source = source.to_owned();
            self.source_json = escaped(source);
        }
    }

    /// Appends the jsonl line of `r` (without the newline): the documented schema (README,
    /// "Output", from [`crate::schema`]), keys in the documented order.
    pub(crate) fn write_line(
        &mut self,
        out: &mut impl LineOut,
        r: &FlowRecord,
        source: &str,
        eval: Option<&Evaluation>,
        stack: Option<&StackMatch>,
    ) {
        self.set_source(source);
        let x = Flow::new(r, source, eval, stack);
        let bound = self.fields_bound::<false>(&x) + 2;
        out.emit_line(self, bound, |w, c| {
            // Every key is written after a comma; the first one's becomes the brace.
            w.write_fields::<false>(c, &x, |_, _| {});
            c.set(0, b'{');
            c.put(b'}');
        });
    }

    /// Appends what `write` writes into a room of `bound` bytes. Should the bound be short
    /// (a bug), the cursor stops storing but keeps counting: the line is written again in a
    /// room of its length, and counted, rather than cut or a panic.
    #[inline(always)]
    pub(crate) fn emit(
        &mut self,
        out: &mut Vec<u8>,
        bound: usize,
        write: impl Fn(&mut Self, &mut Cursor<'_>),
    ) {
        // Taken out while written into, so that the other kept things stay usable.
        let mut scratch = std::mem::take(&mut self.scratch);
        let written = self.emit_at(&mut scratch, 0, bound, write);
        out.extend_from_slice(&scratch[..written]);
        self.scratch = scratch;
    }

    /// Writes what `write` writes into `buf` from `at` (the bytes there and after are
    /// written over), `buf` grown (zeroed) to a room of `bound` bytes there when it is short;
    /// returns how many bytes the line took. A bound too short is handled as in `emit`.
    #[inline(always)]
    fn emit_at(
        &mut self,
        buf: &mut Vec<u8>,
        at: usize,
        bound: usize,
        write: impl Fn(&mut Self, &mut Cursor<'_>),
    ) -> usize {
        if buf.len() < at + bound {
            buf.resize(at + bound, 0);
        }
        let mut c = Cursor::new(&mut buf[at..]);
        write(self, &mut c);
        let (written, overflow) = (c.pos, c.overflow);
        if overflow {
            return self.emit_again(buf, at, written, &write);
        }
        written
    }

    /// `emit_at` of a line that did not fit its bound, in a room of the length it asked for.
    /// Out of line, so that the usual path keeps its registers.
    #[cold]
    #[inline(never)]
    fn emit_again(
        &mut self,
        buf: &mut Vec<u8>,
        at: usize,
        need: usize,
        write: &dyn Fn(&mut Self, &mut Cursor<'_>),
    ) -> usize {
        self.regrown += 1;
        LINES_REGROWN.fetch_add(1, Ordering::Relaxed);
        buf.resize(at + need + crate::schema::WORD_SLACK, 0);
        let mut c = Cursor::new(&mut buf[at..]);
        write(self, &mut c);
        let written = c.pos;
        debug_assert!(!c.overflow, "a line wrote more than it asked room for");
        written.min(buf.len() - at)
    }

    /// The suite's registry name, from the writer's cache of recent suites (a few suites make
    /// most connections; the name lookup is a search).
    #[inline]
    pub(crate) fn cipher_name(&mut self, suite: CipherSuite) -> Option<&'static str> {
        let slot = &mut self.ciphers[usize::from((suite.0 ^ suite.0 >> 8) & 15)];
        match *slot {
            Some((known, name)) if known == suite => name,
            _ => {
                let name = suite.name();
                *slot = Some((suite, name));
                name
            }
        }
    }
}

impl LineWriter {
    /// `"2023-11-14T22:13:20.000007Z"`: RFC 3339 UTC with microseconds, as humantime writes
    /// it. Consecutive records mostly share their second, whose text is kept.
    #[inline(always)]
    pub(crate) fn timestamp(&mut self, c: &mut Cursor<'_>, ts: Duration) {
        if ts > helloscope_capture::MAX_TIMESTAMP {
            return expanded_timestamp(c, ts);
        }
        let secs = ts.as_secs();
        let head = match self.second {
            Some((s, head)) if s == secs => head,
            _ => self.new_second(secs),
        };
        c.put_slice(&head);
        // The six digits of the microseconds and `Z"`, as one word: two table entries of
        // three digits each.
        let micros = ts.subsec_micros();
        let (hi, lo) = (micros / 1000, micros % 1000);
        let word = u64::from(THREE_DIGITS[hi as usize])
            | u64::from(THREE_DIGITS[lo as usize]) << 24
            | u64::from(b'Z') << 48
            | u64::from(b'"') << 56;
        c.put_word((word.to_le_bytes(), 8));
    }
}

/// The three digits of each value below 1000, zero-padded, the first in the low byte.
const THREE_DIGITS: [u32; 1000] = {
    let mut t = [0u32; 1000];
    let mut v = 0;
    while v < 1000 {
        t[v] = (b'0' + (v / 100) as u8) as u32
            | ((b'0' + (v / 10 % 10) as u8) as u32) << 8
            | ((b'0' + (v % 10) as u8) as u32) << 16;
        v += 1;
    }
    t
};

impl LineWriter {
    /// The text of the second `secs` up to its fraction, kept for the records that follow;
    /// the date is kept too (records sparser than one a second mostly share their day).
    #[inline(never)]
    fn new_second(&mut self, secs: u64) -> [u8; SECOND_LEN] {
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let date = match self.day {
            Some((d, date)) if d == days => date,
            _ => {
                let date = civil_date(days);
                self.day = Some((days, date));
                date
            }
        };
        let mut head = [0u8; SECOND_LEN];
        let mut h = Cursor::new(&mut head);
        h.put(b'"');
        h.put_slice(&date);
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
}

/// A timestamp past what four digits of year hold (the analyzer skips such packets): the
/// general writer's expanded year, never a wrong one. Room: `schema::TS_MAX`.
#[cold]
#[inline(never)]
fn expanded_timestamp(c: &mut Cursor<'_>, ts: Duration) {
    c.put(b'"');
    c.put_slice(crate::output::rfc3339_micros(ts).as_bytes());
    c.put(b'"');
}

/// Length of `"YYYY-MM-DDTHH:MM:SS.`.
const SECOND_LEN: usize = 21;

/// Room for `s` as an escaped JSON string.
pub(crate) fn esc_len(s: &str) -> usize {
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
        let mut c = Cursor::new(&mut buf);
        f(&mut c);
        let n = c.pos;
        buf.truncate(n);
        buf
    }
    use helloscope_capture::Outcome;
    use serde_json::{json, Value};

    use crate::output::{quic_version_name, rfc3339_micros, StackJson};
    use crate::policy::Policy;
    use crate::schema::FIELDS;

    /// The keys of a JSON object, in their order.
    struct Keys(Vec<String>);

    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }

    /// What the README says a line holds for `r`, built from the record by serde_json.
    fn expected(
        r: &FlowRecord,
        sensor: &str,
        source: &str,
        eval: Option<&Evaluation>,
        stack: Option<&StackMatch>,
    ) -> Value {
        let ch = r.client_hello.as_ref();
        let sh = r.server_hello.as_ref();
        let mut flags = Vec::new();
        crate::output::for_each_flag(&r.flags, |f| flags.push(f));
        let mut v = json!({
            "ts": rfc3339_micros(r.first_seen),
            "source": source,
            "sensor": sensor,
            "client_ip": r.client.ip().to_string(),
            "client_port": r.client.port(),
            "server_ip": r.server.ip().to_string(),
            "server_port": r.server.port(),
            "sni": ch.and_then(|c| c.sni.clone()),
            "alpn_offered": ch.map(|c| c.alpn.to_vec()).unwrap_or_default(),
            "alpn": sh.and_then(|s| s.alpn.clone()),
            "versions_offered": ch.map(|c| c.versions_offered.iter().map(|v| v.to_string()).collect::<Vec<_>>()).unwrap_or_default(),
            "version_offered_max": ch.map(|c| c.version_offered_max.to_string()),
            "version": sh.map(|s| s.version.to_string()),
            "cipher": sh.map(|s| s.cipher.to_string()),
            "hello_retry": sh.is_some_and(|s| s.hello_retry),
            "fallback_scsv": ch.is_some_and(|c| c.fallback_scsv),
            "ja3": ch.and_then(|c| c.ja3.as_deref()),
            "ja3s": sh.map(|s| &*s.ja3s),
            "ja4": ch.and_then(|c| c.ja4.as_deref()),
            "ja4s": sh.and_then(|s| s.ja4s.as_deref()),
            "stack": stack.map(StackJson::new),
            "outcome": r.outcome.name(),
            "alert": match r.outcome {
                Outcome::Alert { level, description, from } => json!({
                    "level": level.to_string(),
                    "description": description.to_string(),
                    "from": from.as_str(),
                }),
                _ => Value::Null,
            },
            "ja3_string": ch.and_then(|c| c.ja3_string.as_deref()),
            "ja4_r": ch.and_then(|c| c.ja4_r.as_deref()),
            "sslv2_hello": ch.is_some_and(|c| c.sslv2_format),
            "reset_by": match r.outcome {
                Outcome::Reset { from } => Some(from.as_str()),
                _ => None,
            },
            "end": r.end.name(),
            "flags": flags,
            "packets": r.packets,
            "transport": r.transport.name(),
            "quic_version": r.quic_version.map(quic_version_name),
        });
        if let Some(e) = eval {
            v["policy"] = json!({
                "profile": e.profile,
                "verdict": e.verdict.as_str(),
                "findings": e.findings.iter().map(|f| json!({
                    "code": f.code,
                    "message": f.message,
                    "remediation": f.remediation.as_deref(),
                })).collect::<Vec<_>>(),
            });
        }
        if !r.tunnel.is_empty() {
            v["tunnel"] = json!(r.tunnel.names());
        }
        v
    }

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

    /// The line is JSON, holds what the README says (`expected`), its keys in the schema's
    /// order, and fits its bound.
    fn same_as_serde_named(
        r: &FlowRecord,
        sensor: &str,
        source: &str,
        eval: Option<&Evaluation>,
        stack: Option<&StackMatch>,
    ) {
        let mut ours = Vec::new();
        let mut w = LineWriter::new(sensor);
        w.write_line(&mut ours, r, source, eval, stack);
        assert_eq!(w.regrown, 0, "the line outgrew its room");
        let got: Value = serde_json::from_slice(&ours)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&ours)));
        assert_eq!(got, expected(r, sensor, source, eval, stack));
        let Keys(keys) = serde_json::from_slice(&ours).unwrap();
        let want: Vec<&str> = FIELDS
            .iter()
            .map(|f| f.key)
            .filter(|k| got.get(k).is_some())
            .collect();
        assert_eq!(keys, want);
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

    /// Lines written in place into a `LineBuf` are those written into a vector, each after
    /// the last, a line too long for its bound included (written again where it stands).
    #[test]
    fn lines_written_in_place_are_the_lines() {
        let procore = Policy::builtin("procore").unwrap();
        let mut want = Vec::new();
        let mut w = LineWriter::new("gw");
        let mut buf = LineBuf::with_room(64);
        let mut w2 = LineWriter::new("gw");
        for (r, source) in records_of_bundled_captures() {
            let eval = procore.evaluate(&r);
            w.write_line(&mut want, &r, &source, eval.as_ref(), None);
            want.push(b'\n');
            w2.write_line(&mut buf, &r, &source, eval.as_ref(), None);
            buf.push(b'\n');
        }
        assert_eq!(w2.regrown, 0);
        assert_eq!(buf.len(), want.len());
        assert!(
            buf.as_bytes() == want,
            "{}",
            String::from_utf8_lossy(buf.as_bytes())
        );
        // A bound of one byte, after the lines above.
        let (r, source) = records_of_bundled_captures().remove(0);
        let x = Flow::new(&r, &source, None, None);
        w.write_line(&mut want, &r, &source, None, None);
        w2.set_source(&source);
        buf.emit_line(&mut w2, 1, |w, c| {
            w.write_fields::<false>(c, &x, |_, _| {});
            c.set(0, b'{');
            c.put(b'}');
        });
        assert_eq!(w2.regrown, 1);
        assert!(buf.as_bytes() == want);
        buf.clear();
        assert!(buf.as_bytes().is_empty());
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
        // Escaped as serde_json escapes.
        for s in [nasty, "dir/\"odd\"\n.pcap", "\u{0}\u{1f}\u{7f}"] {
            let mine = written(|c| c.string(s));
            assert_eq!(mine, serde_json::to_vec(s).unwrap());
        }
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

    /// Versions and alerts written from their names are written as their text is (the
    /// general writer, serde_json's escaping), for every wire value.
    #[test]
    fn versions_and_alert_names_as_their_text() {
        for v in 0..=u16::MAX {
            let v = TlsVersion::from_wire(v);
            assert_eq!(
                written(|c| c.version(v)),
                serde_json::to_vec(&v.to_string()).unwrap(),
                "{v:?}"
            );
        }
        for b in 0..=u8::MAX {
            let level = match b {
                1 => AlertLevel::Warning,
                2 => AlertLevel::Fatal,
                b => AlertLevel::Unknown(b),
            };
            let want = serde_json::to_vec(&level.to_string()).unwrap();
            assert_eq!(written(|c| c.named(level.name(), level)), want);
            let d = AlertDescription(b);
            let want = serde_json::to_vec(&d.to_string()).unwrap();
            assert_eq!(written(|c| c.named(d.name(), d)), want);
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
        // One writer throughout: the kept second and date must follow the time.
        let mut w = LineWriter::default();
        let mut secs = 0u64;
        while secs < u64::from(u32::MAX) {
            // The same second, the next seconds of the same day (or the next day's first).
            for (later, micros) in [0u32, 7, 999, 1_000, 10_001, 123_456, 999_999]
                .into_iter()
                .map(|m| (0, m))
                .chain([(1, 5), (59, 0), (3_600, 999_999)])
            {
                let s = secs + later;
                let d = Duration::new(s, micros * 1000);
                let ours = written(|c| w.timestamp(c, d));
                let want = humantime::format_rfc3339_micros(UNIX_EPOCH + d).to_string();
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    format!("\"{want}\""),
                    "{s}"
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
