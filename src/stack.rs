//! The TLS stack behind a ClientHello: which library family built it, the application where
//! the hello shows it, and whether the hello can speak TLS 1.2.
//!
//! The knowledge is data (`src/stacks.toml`, embedded; users add entries with `--stack-file`):
//! exact entries list the JA4s of recorded builds, structure entries describe habits a library
//! keeps across versions (cipher order, extension order, the renegotiation SCSV, point
//! formats, GREASE). Every entry names its evidence. A hello no entry describes is `unknown`.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use helloscope_capture::memory::{Shed, ShedNotice};
use helloscope_capture::ClientHelloSummary;
use helloscope_tls::TlsVersion;
use serde::Deserialize;

/// The built-in entries.
pub const BUILTIN: &str = include_str!("stacks.toml");

/// [`BUILTIN`] as JSON, made from it by build.rs: it reads in a fraction of the time.
const BUILTIN_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/stacks.json"));

/// How sure a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    /// The hello's JA4 is one recorded from a known build.
    Exact,
    /// The hello has the structure of a family's hellos.
    Family,
    /// No entry describes this hello.
    Unknown,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Exact => "exact",
            Confidence::Family => "family",
            Confidence::Unknown => "unknown",
        }
    }
}

/// What the hello shows about TLS 1.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tls12 {
    /// TLS 1.2 or later is offered.
    Offered,
    /// Not offered, but the hello carries TLS 1.2-only cipher suites or extensions: the
    /// library can speak it and was configured down.
    Disabled,
    /// Not offered, and nothing in the hello needs TLS 1.2: a library without it, or one that
    /// leaves out what it would not use at the version it was limited to.
    Absent,
}

impl Tls12 {
    pub fn as_str(self) -> &'static str {
        match self {
            Tls12::Offered => "offered",
            Tls12::Disabled => "disabled",
            Tls12::Absent => "absent",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "offered" => Some(Tls12::Offered),
            "disabled" => Some(Tls12::Disabled),
            "absent" => Some(Tls12::Absent),
            _ => None,
        }
    }
}

/// The stack named for one hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackMatch {
    /// Library family (`OpenSSL`, `BoringSSL`, `NSS`, ...); `None` when unknown.
    pub family: Option<Arc<str>>,
    /// The application, where the hello shows it.
    pub application: Option<Arc<str>>,
    pub confidence: Confidence,
    pub tls12: Tls12,
    /// The ids of the entries that matched (for debugging a data file).
    pub entries: Vec<Arc<str>>,
    /// What to change, when the hello offers less than TLS 1.2.
    pub remediation: Option<Arc<str>>,
    /// The jsonl `stack` object, written once per distinct hello.
    pub json: Box<str>,
}

impl StackMatch {
    pub fn new(
        family: Option<&str>,
        application: Option<&str>,
        confidence: Confidence,
        tls12: Tls12,
        entries: Vec<Arc<str>>,
        remediation: Option<&str>,
    ) -> Self {
        let mut m = StackMatch {
            family: family.map(Into::into),
            application: application.map(Into::into),
            confidence,
            tls12,
            entries,
            remediation: remediation.map(Into::into),
            json: Box::from(""),
        };
        m.json = serde_json::to_string(&crate::output::StackJson::new(&m))
            .expect("strings and names serialize")
            .into();
        m
    }

    /// `OpenSSL (curl)`, `Java JSSE`, `unknown`: for tables and the report.
    pub fn label(&self) -> String {
        match (&self.family, &self.application) {
            (Some(f), Some(a)) => format!("{f} ({a})"),
            (Some(f), None) => f.to_string(),
            (None, _) => "unknown".into(),
        }
    }
}

/// The file format: `[[stack]]` entries and `[[remediation]]` texts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackFile {
    #[serde(default)]
    pub stack: Vec<Entry>,
    #[serde(default)]
    pub remediation: Vec<Remediation>,
}

/// One entry: a family, the evidence, and either exact fingerprints or a structure.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub family: String,
    pub application: Option<String>,
    /// Where the entry comes from: a capture path (`captures/...`, `corpus:...`) first, then
    /// which flows of it, in words.
    pub evidence: Vec<String>,
    /// For the file's readers: why the entry says what it says.
    #[allow(dead_code)]
    pub note: Option<String>,
    /// JA4s of recorded hellos of this build: an exact match.
    #[serde(default)]
    pub ja4: Vec<String>,
    /// A structure the family's hellos share.
    pub structure: Option<Structure>,
}

/// Structure rules; every rule given must hold. Cipher suites and groups are wire order
/// without GREASE; extensions are wire order without GREASE.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Structure {
    /// GREASE values present (true) or absent (false).
    pub grease: Option<bool>,
    /// The cipher list starts with these.
    #[serde(default)]
    pub ciphers_prefix: Vec<u16>,
    /// The cipher list ends with these (e.g. the renegotiation SCSV 0x00ff).
    #[serde(default)]
    pub ciphers_suffix: Vec<u16>,
    /// Cipher suites that must not appear.
    #[serde(default)]
    pub ciphers_without: Vec<u16>,
    /// These ciphers appear, in this relative order.
    #[serde(default)]
    pub ciphers_order: Vec<u16>,
    /// The extension list starts with these.
    #[serde(default)]
    pub extensions_prefix: Vec<u16>,
    /// These extensions appear, in this relative order.
    #[serde(default)]
    pub extensions_order: Vec<u16>,
    /// At least one of these extensions appears.
    #[serde(default)]
    pub extensions_any: Vec<u16>,
    /// Extensions that must not appear.
    #[serde(default)]
    pub extensions_without: Vec<u16>,
    /// supported_groups starts with these.
    #[serde(default)]
    pub groups_prefix: Vec<u16>,
    /// ec_point_formats is exactly this list.
    pub point_formats: Option<Vec<u8>>,
    /// signature_algorithms starts with these.
    #[serde(default)]
    pub sigalgs_prefix: Vec<u16>,
}

/// A remediation text for a family (`*` for any) and a TLS 1.2 state.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    pub family: String,
    /// `absent` or `disabled`.
    pub tls12: String,
    pub text: String,
}

/// What the rules look at, taken from a hello's summary.
#[derive(Debug, Default)]
pub struct Features {
    pub ciphers: Vec<u16>,
    pub extensions: Vec<u16>,
    pub groups: Vec<u16>,
    pub point_formats: Option<Vec<u8>>,
    pub sigalgs: Vec<u16>,
    pub grease: bool,
    pub max_version: Option<TlsVersion>,
}

fn dash_list<T: std::str::FromStr>(s: &str) -> Vec<T> {
    s.split('-').filter_map(|v| v.parse().ok()).collect()
}

impl Features {
    /// From the summary: the JA3 string (wire order, GREASE removed), the JA4 raw form's
    /// signature algorithms (wire order), the GREASE flag.
    pub fn from_summary(ch: &ClientHelloSummary) -> Option<Self> {
        let ja3 = ch.ja3_string.as_deref()?;
        let mut parts = ja3.split(',');
        let _version = parts.next()?;
        let ciphers = dash_list(parts.next()?);
        let extensions = dash_list(parts.next()?);
        let groups = dash_list(parts.next().unwrap_or(""));
        let pf = parts.next().unwrap_or("");
        let point_formats = extensions.contains(&11).then(|| dash_list(pf));
        let sigalgs = ch
            .ja4_r
            .as_deref()
            .and_then(|r| r.split('_').nth(3))
            .map(|s| {
                s.split(',')
                    .filter_map(|v| u16::from_str_radix(v, 16).ok())
                    .collect()
            })
            .unwrap_or_default();
        Some(Features {
            ciphers,
            extensions,
            groups,
            point_formats,
            sigalgs,
            grease: ch.grease,
            max_version: Some(ch.version_offered_max),
        })
    }
}

/// `needles` appear in `hay` in this relative order.
fn in_order(hay: &[u16], needles: &[u16]) -> bool {
    let mut it = hay.iter();
    needles.iter().all(|n| it.any(|h| h == n))
}

impl Structure {
    pub fn matches(&self, f: &Features) -> bool {
        self.grease.is_none_or(|g| g == f.grease)
            && f.ciphers.starts_with(&self.ciphers_prefix)
            && f.ciphers.ends_with(&self.ciphers_suffix)
            && !self.ciphers_without.iter().any(|c| f.ciphers.contains(c))
            && in_order(&f.ciphers, &self.ciphers_order)
            && f.extensions.starts_with(&self.extensions_prefix)
            && in_order(&f.extensions, &self.extensions_order)
            && (self.extensions_any.is_empty()
                || self.extensions_any.iter().any(|e| f.extensions.contains(e)))
            && !self
                .extensions_without
                .iter()
                .any(|e| f.extensions.contains(e))
            && f.groups.starts_with(&self.groups_prefix)
            && self
                .point_formats
                .as_ref()
                .is_none_or(|p| f.point_formats.as_ref() == Some(p))
            && f.sigalgs.starts_with(&self.sigalgs_prefix)
    }

    /// A structure with no rule would name every hello.
    fn is_empty(&self) -> bool {
        self.grease.is_none()
            && self.ciphers_prefix.is_empty()
            && self.ciphers_suffix.is_empty()
            && self.ciphers_without.is_empty()
            && self.ciphers_order.is_empty()
            && self.extensions_prefix.is_empty()
            && self.extensions_order.is_empty()
            && self.extensions_any.is_empty()
            && self.extensions_without.is_empty()
            && self.groups_prefix.is_empty()
            && self.point_formats.is_none()
            && self.sigalgs_prefix.is_empty()
    }
}

/// Cipher suites defined for TLS 1.2 and later only: AEAD suites (GCM, CCM, ChaCha20) and
/// those with SHA-256/SHA-384 MACs (RFC 5246, 5288, 5289, 6655, 7905, 8446). A hello that
/// offers one was built by a library that speaks TLS 1.2.
pub fn is_tls12_only_cipher(c: u16) -> bool {
    matches!(c,
        // TLS 1.3 suites.
        0x1301..=0x1305
        // RFC 5246: *_SHA256 suites.
        | 0x003b..=0x003d | 0x003e..=0x0040 | 0x0067..=0x006d
        // RFC 5288 AES-GCM, RFC 5487 PSK GCM/SHA256/SHA384.
        | 0x009c..=0x00b7
        // RFC 5932/6367 Camellia SHA256/GCM.
        | 0x00ba..=0x00c5 | 0xc072..=0xc09b
        // RFC 5289: ECDHE/ECDH with SHA256/SHA384 and GCM.
        | 0xc023..=0xc032
        // RFC 6209 ARIA, RFC 6655 AES-CCM.
        | 0xc03c..=0xc071 | 0xc09c..=0xc0af
        // RFC 7905 ChaCha20-Poly1305.
        | 0xcca8..=0xccae)
}

/// Extensions only a TLS 1.2-capable client sends: signature_algorithms (RFC 5246),
/// encrypt_then_mac (RFC 7366) and extended_master_secret (RFC 7627), which postdate TLS 1.2
/// in every implementation, and TLS 1.3's supported_versions, psk_key_exchange_modes,
/// signature_algorithms_cert and key_share.
pub const TLS12_EXTENSIONS: &[u16] = &[13, 22, 23, 43, 45, 50, 51];

pub fn tls12_state(f: &Features) -> Tls12 {
    if f.max_version.is_some_and(|v| v >= TlsVersion::Tls12) {
        Tls12::Offered
    } else if f.ciphers.iter().any(|&c| is_tls12_only_cipher(c))
        || f.extensions.iter().any(|e| TLS12_EXTENSIONS.contains(e))
    {
        Tls12::Disabled
    } else {
        Tls12::Absent
    }
}

/// The entries, user ones first, and the remediation texts.
#[derive(Debug)]
pub struct StackDb {
    entries: Vec<Entry>,
    remediations: Vec<Remediation>,
    by_ja4: HashMap<String, Vec<usize>>,
    /// Tells one database's cache entries from another's.
    id: u64,
    /// No entry that could match a GREASE hello reads the extension order.
    grease_order_free: bool,
    /// Most bytes each thread's cache of names holds (its share of --max-memory-mib), and
    /// who is told when that empties it.
    cache_bound: Option<(usize, ShedNotice)>,
}

impl StackDb {
    /// The built-in data and, before it, a user file's entries.
    pub fn load(user: Option<&Path>) -> Result<Self, String> {
        let mut files = Vec::new();
        if let Some(p) = user {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            files.push(parse(&text).map_err(|e| format!("{}: {e}", p.display()))?);
        }
        files.push(parse_builtin().map_err(|e| format!("built-in stacks.toml: {e}"))?);
        Ok(Self::from_files(files))
    }

    /// The built-in data only.
    #[cfg(test)]
    pub fn builtin() -> Self {
        Self::load(None).expect("the built-in stacks.toml parses (tests/stacks.rs checks)")
    }

    fn from_files(files: Vec<StackFile>) -> Self {
        let mut entries = Vec::new();
        let mut remediations = Vec::new();
        for f in files {
            entries.extend(f.stack);
            remediations.extend(f.remediation);
        }
        let mut by_ja4: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            for j in &e.ja4 {
                by_ja4.entry(j.clone()).or_default().push(i);
            }
        }
        let grease_order_free = entries.iter().all(|e| {
            e.structure.as_ref().is_none_or(|s| {
                s.grease == Some(false)
                    || (s.extensions_prefix.is_empty() && s.extensions_order.is_empty())
            })
        });
        let mut h = DefaultHasher::new();
        entries.len().hash(&mut h);
        for e in &entries {
            e.id.hash(&mut h);
        }
        StackDb {
            entries,
            remediations,
            by_ja4,
            id: h.finish(),
            grease_order_free,
            cache_bound: None,
        }
    }

    /// Bounds each thread's cache of names to `bytes` (a share of --max-memory-mib); when
    /// that empties it, it is counted ([`cache_shed`]) and `notice` told.
    pub fn bound_cache(&mut self, bytes: usize, notice: ShedNotice) {
        self.cache_bound = Some((bytes, notice));
    }

    #[cfg(test)]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Names the stack of one hello (uncached).
    pub fn classify(&self, ch: &ClientHelloSummary) -> StackMatch {
        let Some(f) = Features::from_summary(ch) else {
            // SSLv2-format hellos: no entry describes them.
            let tls12 = if ch.version_offered_max >= TlsVersion::Tls12 {
                Tls12::Offered
            } else {
                Tls12::Absent
            };
            return self.finish(None, None, Confidence::Unknown, tls12, vec![]);
        };
        let tls12 = tls12_state(&f);
        let exact = ch.ja4.as_deref().and_then(|j| self.by_ja4.get(j));
        // JA4 sorts the cipher and extension lists: a hello with a recorded build's JA4 is
        // that build only if it also has its family's structure (the order), where the data
        // describes one.
        let exact = exact.filter(|idx| {
            let family = &self.entries[idx[0]].family;
            let mut structures = self
                .entries
                .iter()
                .filter(|e| &e.family == family)
                .filter_map(|e| e.structure.as_ref())
                .peekable();
            structures.peek().is_none() || structures.any(|s| s.matches(&f))
        });
        if let Some(idx) = exact {
            // The first entry's family (the data test forbids two families for one JA4); an
            // application only when every entry listing this JA4 names the same one.
            let first = &self.entries[idx[0]];
            let app = first.application.as_deref().filter(|a| {
                idx.iter()
                    .all(|&i| self.entries[i].application.as_deref() == Some(*a))
            });
            let ids = idx
                .iter()
                .map(|&i| self.entries[i].id.as_str().into())
                .collect();
            return self.finish(Some(&first.family), app, Confidence::Exact, tls12, ids);
        }
        for e in &self.entries {
            if e.structure.as_ref().is_some_and(|s| s.matches(&f)) {
                return self.finish(
                    Some(&e.family),
                    e.application.as_deref(),
                    Confidence::Family,
                    tls12,
                    vec![e.id.as_str().into()],
                );
            }
        }
        self.finish(None, None, Confidence::Unknown, tls12, vec![])
    }

    fn finish(
        &self,
        family: Option<&str>,
        application: Option<&str>,
        confidence: Confidence,
        tls12: Tls12,
        entries: Vec<Arc<str>>,
    ) -> StackMatch {
        StackMatch::new(
            family,
            application,
            confidence,
            tls12,
            entries,
            self.remediation(family, tls12),
        )
    }

    /// The family's text for this TLS 1.2 state, else the text for any family (`*`).
    pub fn remediation(&self, family: Option<&str>, tls12: Tls12) -> Option<&str> {
        if tls12 == Tls12::Offered {
            return None;
        }
        let pick = |fam: &str| {
            self.remediations
                .iter()
                .find(|r| r.family == fam && Tls12::parse(&r.tls12) == Some(tls12))
                .map(|r| r.text.as_str())
        };
        family.and_then(pick).or_else(|| pick("*"))
    }

    /// What the rules read of a hello, as text: the JA3 string (wire order), the JA4 raw form
    /// (the JA4 follows from it), GREASE. Chromium shuffles its extensions at every
    /// connection; when no entry that could match a GREASE hello reads the extension order,
    /// the order is left out for GREASE hellos (the raw form keeps the set), so that their
    /// name is not worked out again for each connection.
    fn cache_text(&self, ja3: &str, ja4_r: &str, grease: bool) -> String {
        let ja3 = match ja3
            .match_indices(',')
            .nth(1)
            .zip(ja3.match_indices(',').nth(2))
        {
            Some(((a, _), (b, _))) if grease && self.grease_order_free => {
                format!("{}{}", &ja3[..a], &ja3[b..])
            }
            _ => ja3.to_owned(),
        };
        format!("{ja3}|{ja4_r}|{grease}")
    }

    /// [`StackDb::name_in`] with this thread's cache.
    #[cfg(test)]
    pub fn name(&self, ch: &ClientHelloSummary) -> Arc<StackMatch> {
        with_thread_cache(|c| self.name_in(c, ch))
    }

    /// Names the stack of one hello, once per distinct hello in `c` (one cache per thread:
    /// the sink's own, or the thread's, reached once per record, not once per lookup), like
    /// the fingerprints: the rules read the JA3 string, the JA4 and its raw form, and GREASE.
    /// First by the addresses of those strings (the fingerprint cache shares them between the
    /// flows of one client build; the cache holds its own references, so an address cannot be
    /// reused while it is a key), then by their text (flows whose fingerprints were computed
    /// afresh).
    #[inline]
    pub fn name_in(&self, c: &mut NameCache, ch: &ClientHelloSummary) -> Arc<StackMatch> {
        let (Some(ja3), Some(ja4_r), Some(_)) = (&ch.ja3_string, &ch.ja4_r, &ch.ja4) else {
            return Arc::new(self.classify(ch));
        };
        // The JA4 follows from its raw form: the two other strings and GREASE make the key.
        // When the extension order is not read (GREASE hellos, see `cache_text`), the JA3
        // string's address is left out: the fingerprint cache computes a new JA3 for each
        // extension order but shares the raw JA4 of one entry only between hellos equal in
        // all else that JA3 reads (its key without the order), so a shuffled Chromium hello
        // is named by address too, not by formatting and hashing its text.
        let order_free = ch.grease && self.grease_order_free;
        let key = (
            self.id,
            if order_free {
                0
            } else {
                Arc::as_ptr(ja3) as *const u8 as usize
            },
            Arc::as_ptr(ja4_r) as *const u8 as usize,
            ch.grease,
        );
        // A small direct-mapped table first: most records are of a few builds, and a
        // slot is one cache line away.
        let slot = (key.1 >> 4 ^ key.2 >> 4) % FRONT;
        if let Some((k, m)) = &c.front[slot] {
            if *k == key {
                return m.clone();
            }
        }
        self.name_past_front(c, ch, key, slot)
    }

    /// [`StackDb::name_in`] of a hello not in the front table: out of line, so that the
    /// usual path (a front hit) is inlined where records are judged.
    #[inline(never)]
    fn name_past_front(
        &self,
        c: &mut NameCache,
        ch: &ClientHelloSummary,
        key: CacheKey,
        slot: usize,
    ) -> Arc<StackMatch> {
        let (Some(ja3), Some(ja4_r), Some(ja4)) = (&ch.ja3_string, &ch.ja4_r, &ch.ja4) else {
            return Arc::new(self.classify(ch));
        };
        if let Some((_, m)) = c.by_address.get(&key) {
            let m = m.clone();
            c.front[slot] = Some((key, m.clone()));
            return m;
        }
        let text = self.cache_text(ja3, ja4_r, ch.grease);
        let mut h = DefaultHasher::new();
        (self.id, &text).hash(&mut h);
        let text_key = h.finish();
        let known = c
            .by_text
            .get(&text_key)
            .and_then(|(t, m)| (**t == *text).then(|| m.clone()));
        let m = known.unwrap_or_else(|| Arc::new(self.classify(ch)));
        // Its strings (held here, even when the fingerprint cache holds them too), the
        // text key, and the two maps' slots as they are at worst (doubled).
        let cost = ja3.len() + ja4_r.len() + ja4.len() + 3 * 16 + text.len() + 16 + 2 * 96;
        let over = self
            .cache_bound
            .as_ref()
            .filter(|(max, _)| c.bytes + cost > *max);
        if c.by_address.len() >= CACHE_MAX || c.by_text.len() >= CACHE_MAX || over.is_some() {
            if let Some((_, notice)) = over {
                CACHE_SHED.fetch_add(1, Ordering::Relaxed);
                notice.shed(Shed::StackNames);
            }
            // The front's keys are addresses the maps hold: they go together.
            c.by_address.clear();
            c.by_text.clear();
            c.front = std::array::from_fn(|_| None);
            c.bytes = 0;
        }
        c.bytes += cost;
        let strings = [ja3.clone(), ja4_r.clone(), ja4.clone()];
        c.by_text
            .entry(text_key)
            .or_insert_with(|| (text.into(), m.clone()));
        c.by_address.insert(key, (strings, m.clone()));
        c.front[slot] = Some((key, m.clone()));
        m
    }
}

type CacheKey = (u64, usize, usize, bool);

/// Slots of the direct-mapped table in front of the maps.
const FRONT: usize = 256;

/// The JA3 string, JA4 raw form and JA4 of a hello, and its name.
type Held = ([Arc<str>; 3], Arc<StackMatch>);

/// A multiply-rotate hash for keys made of addresses (SipHash's defence against chosen keys
/// is not needed: an address is not chosen by the traffic).
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
}

/// Names already given, on one thread ([`StackDb::name_in`]): the thread's own (see
/// [`with_thread_cache`]), or one the sink keeps.
pub struct NameCache {
    /// The last name given per slot, by address (only addresses the maps below hold).
    front: [Option<(CacheKey, Arc<StackMatch>)>; FRONT],
    /// By the addresses of the strings (held, so that they stay where they are).
    by_address: HashMap<CacheKey, Held, std::hash::BuildHasherDefault<AddressHasher>>,
    /// By a hash of what the rules read ([`StackDb::cache_text`]), checked against it.
    by_text: HashMap<u64, (Box<str>, Arc<StackMatch>)>,
    /// What the entries hold, as [`StackDb::name`] charges them.
    bytes: usize,
}

/// Times a thread's cache of names was emptied for its share of --max-memory-mib.
static CACHE_SHED: AtomicU64 = AtomicU64::new(0);

/// Times a thread's cache of names was emptied for its share of --max-memory-mib.
pub fn cache_shed() -> u64 {
    CACHE_SHED.load(Ordering::Relaxed)
}

/// Distinct hellos kept per thread; the cache starts over when full (memory stays bounded).
const CACHE_MAX: usize = 1 << 14;

impl Default for NameCache {
    fn default() -> Self {
        NameCache {
            front: std::array::from_fn(|_| None),
            by_address: HashMap::default(),
            by_text: HashMap::new(),
            bytes: 0,
        }
    }
}

thread_local! {
    static CACHE: RefCell<NameCache> = RefCell::new(NameCache::default());
}

/// `f` with this thread's cache of names.
pub fn with_thread_cache<T>(f: impl FnOnce(&mut NameCache) -> T) -> T {
    CACHE.with(|c| f(&mut c.borrow_mut()))
}

/// Parses a stack file and checks each entry: an id, a family, evidence, and either JA4s or a
/// structure with at least one rule (not both).
pub fn parse(text: &str) -> Result<StackFile, String> {
    check(toml::from_str(text).map_err(|e| e.to_string())?)
}

/// [`parse`] of [`BUILTIN`], through its JSON form; the TOML is read again for its error
/// when the JSON does not read (build.rs leaves it empty when the TOML does not parse).
fn parse_builtin() -> Result<StackFile, String> {
    match serde_json::from_str(BUILTIN_JSON) {
        Ok(f) => check(f),
        Err(_) => parse(BUILTIN),
    }
}

/// The checks of [`parse`] on a file read.
fn check(f: StackFile) -> Result<StackFile, String> {
    for e in &f.stack {
        let what = format!("entry {:?}", e.id);
        if e.id.is_empty() || e.family.is_empty() {
            return Err(format!("{what}: id and family must not be empty"));
        }
        if e.evidence.is_empty() {
            return Err(format!("{what}: no evidence"));
        }
        match (&e.structure, e.ja4.is_empty()) {
            (Some(_), false) => return Err(format!("{what}: both ja4 and structure")),
            (None, true) => return Err(format!("{what}: neither ja4 nor structure")),
            (Some(s), true) if s.is_empty() => {
                return Err(format!("{what}: a structure without rules"))
            }
            _ => {}
        }
        if e.ja4.iter().any(|j| j.split('_').count() != 3) {
            return Err(format!("{what}: a ja4 is not of the form a_b_c"));
        }
    }
    for r in &f.remediation {
        if Tls12::parse(&r.tls12).is_none_or(|t| t == Tls12::Offered) {
            return Err(format!(
                "remediation for {:?}: tls12 must be \"absent\" or \"disabled\"",
                r.family
            ));
        }
    }
    let mut ids = std::collections::HashSet::new();
    for e in &f.stack {
        if !ids.insert(&e.id) {
            return Err(format!("entry {:?} appears twice", e.id));
        }
    }
    Ok(f)
}

/// Puts the stack's remediation on the findings a client must act on: `below_minimum`.
pub fn remediate(e: &mut crate::policy::Evaluation, s: &StackMatch) {
    for f in &mut e.findings {
        if f.code == "below_minimum" {
            f.remediation = s.remediation.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use helloscope_capture::{Analyzer, FlowConfig, FlowRecord, PacketSource};

    use super::*;

    /// The JSON that build.rs makes of stacks.toml reads as the same entries as the TOML.
    #[test]
    fn builtin_json_is_the_toml() {
        assert!(serde_json::from_str::<StackFile>(BUILTIN_JSON).is_ok());
        let json = parse_builtin().unwrap();
        let toml = parse(BUILTIN).unwrap();
        let headers = BUILTIN.lines().filter(|l| l.trim() == "[[stack]]").count();
        assert!(headers > 20);
        assert_eq!(json.stack.len(), headers);
        assert_eq!(format!("{json:?}"), format!("{toml:?}"));
    }

    fn hellos_of_the_recorded_clients() -> Vec<(String, ClientHelloSummary)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
        let mut out = Vec::new();
        for f in [
            "openssl.pcap",
            "curl.pcapng",
            "libraries.pcap",
            "ipv6.pcap",
            "stacks/clients.pcap",
        ] {
            let path = format!("{dir}/{f}");
            let mut src = PacketSource::open_file(&path).unwrap();
            let mut a = Analyzer::new(FlowConfig::default());
            let mut emit = |r: FlowRecord| {
                if let Some(c) = r.client_hello {
                    out.push((format!("{f}:{}", r.client.port()), c));
                }
            };
            a.run(&mut src, &mut emit).unwrap();
            a.finish(&mut emit);
        }
        assert!(out.len() >= 45, "{} hellos", out.len());
        out
    }

    /// The structure entries alone name every recorded hello's family, the same family its
    /// exact JA4 names, and no hello has the structure of two families: the structures
    /// carry the knowledge past the builds recorded, and do not conflict.
    #[test]
    fn structures_alone_name_every_recorded_hello_and_never_two_families() {
        let db = StackDb::builtin();
        for (what, ch) in hellos_of_the_recorded_clients() {
            let full = db.classify(&ch);
            assert_ne!(full.confidence, Confidence::Unknown, "{what}");
            let f = Features::from_summary(&ch).unwrap();
            let families: std::collections::BTreeSet<&str> = db
                .entries()
                .iter()
                .filter(|e| e.structure.as_ref().is_some_and(|s| s.matches(&f)))
                .map(|e| e.family.as_str())
                .collect();
            assert_eq!(families.len(), 1, "{what}: {families:?}");
            assert_eq!(families.first().copied(), full.family.as_deref(), "{what}");
        }
    }

    #[test]
    fn tls12_only_suites_and_extensions() {
        // AES-GCM, SHA-256 CBC, ChaCha20, TLS 1.3: TLS 1.2 and later only.
        for c in [0x009c, 0xc02f, 0x003c, 0xc027, 0xcca8, 0x1301, 0xc0ac] {
            assert!(is_tls12_only_cipher(c), "{c:#06x}");
        }
        // SHA-1 CBC suites, RC4, 3DES and the SCSVs exist below TLS 1.2.
        for c in [
            0x002f, 0x0035, 0xc013, 0xc014, 0x000a, 0x0005, 0x00ff, 0x5600,
        ] {
            assert!(!is_tls12_only_cipher(c), "{c:#06x}");
        }
        let mut f = Features {
            ciphers: vec![0xc013, 0x002f],
            extensions: vec![0, 10, 11],
            max_version: Some(TlsVersion::Tls10),
            ..Features::default()
        };
        assert_eq!(tls12_state(&f), Tls12::Absent);
        f.extensions.push(23);
        assert_eq!(tls12_state(&f), Tls12::Disabled);
        f.extensions.pop();
        f.ciphers.push(0x009c);
        assert_eq!(tls12_state(&f), Tls12::Disabled);
        f.max_version = Some(TlsVersion::Tls12);
        assert_eq!(tls12_state(&f), Tls12::Offered);
    }

    #[test]
    fn remediation_is_the_familys_else_the_general_one() {
        let db = StackDb::builtin();
        assert!(db
            .remediation(Some("Java JSSE"), Tls12::Disabled)
            .unwrap()
            .contains("jdk.tls.client.protocols"));
        assert!(db
            .remediation(Some("Windows SChannel"), Tls12::Absent)
            .unwrap()
            .contains("3072"));
        assert!(db
            .remediation(Some("rustls"), Tls12::Disabled)
            .unwrap()
            .contains("configured down"));
        assert!(db
            .remediation(None, Tls12::Absent)
            .unwrap()
            .contains("too old"));
        assert_eq!(db.remediation(Some("OpenSSL"), Tls12::Offered), None);
    }

    /// Chromium's two connections in ipv6.pcap have their extensions in different orders: the
    /// second is named from the cache, since no GREASE entry reads the order. An entry that
    /// reads it for GREASE hellos puts the order back in the key.
    #[test]
    fn shuffled_extensions_share_a_name_unless_an_entry_reads_their_order() {
        let chromium: Vec<ClientHelloSummary> = hellos_of_the_recorded_clients()
            .into_iter()
            .filter(|(what, c)| what.starts_with("ipv6.pcap") && c.grease)
            .map(|(_, c)| c)
            .collect();
        assert_eq!(chromium.len(), 2);
        assert_ne!(chromium[0].ja3_string, chromium[1].ja3_string);
        let db = StackDb::builtin();
        assert!(db.grease_order_free);
        assert!(Arc::ptr_eq(&db.name(&chromium[0]), &db.name(&chromium[1])));
        let user = parse(
            "[[stack]]\nid = \"o\"\nfamily = \"F\"\nevidence = [\"e\"]\n\
             [stack.structure]\ngrease = true\nextensions_order = [0, 10]\n",
        )
        .unwrap();
        let strict = StackDb::from_files(vec![user, parse(BUILTIN).unwrap()]);
        assert!(!strict.grease_order_free);
        assert!(!Arc::ptr_eq(
            &strict.name(&chromium[0]),
            &strict.name(&chromium[1])
        ));
    }

    #[test]
    fn the_cache_gives_what_classify_gives() {
        let db = StackDb::builtin();
        for (what, ch) in hellos_of_the_recorded_clients() {
            let once = db.name(&ch);
            assert_eq!(*once, db.classify(&ch), "{what}");
            assert!(Arc::ptr_eq(&once, &db.name(&ch)), "{what}: cached");
        }
    }

    /// Held to its share of --max-memory-mib, a thread's cache of names is emptied when the
    /// next entry would take it past its bytes: each time counted, the first said once, the
    /// names still those classify gives.
    #[test]
    fn the_cache_of_names_is_held_to_its_bytes() {
        let (_, ch) = hellos_of_the_recorded_clients().remove(0);
        let told = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut db = StackDb::builtin();
        const BOUND: usize = 64 << 10;
        let t = told.clone();
        db.bound_cache(BOUND, ShedNotice::new(move |w| t.lock().unwrap().push(w)));
        // A thread of its own: a cache of its own.
        std::thread::spawn(move || {
            let before = cache_shed();
            let ja3 = ch.ja3_string.clone().unwrap();
            for i in 0..2000 {
                let mut h = ch.clone();
                // Another hello (its point formats end differently) at another address.
                h.ja3_string = Some(format!("{ja3}-{i}").into());
                assert_eq!(*db.name(&h), db.classify(&h));
                CACHE.with(|c| assert!(c.borrow().bytes <= BOUND));
            }
            // Each entry holds its strings (over 200 bytes) and slots: 2000 fill 64 KiB
            // several times over.
            assert!(cache_shed() - before >= 4, "{}", cache_shed() - before);
        })
        .join()
        .unwrap();
        assert_eq!(*told.lock().unwrap(), [Shed::StackNames], "said once");
    }
}
