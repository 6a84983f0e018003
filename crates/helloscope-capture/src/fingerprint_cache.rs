//! Fingerprints already computed, found again by the hello fields they are computed from.
//!
//! A client build sends the same cipher suites, extensions and lists on every connection, so a
//! gateway sees a few hundred distinct hellos among millions of connections. JA3 (an MD5) and
//! JA4 (two SHA-256) cost about 2 µs per ClientHello; finding them again costs a key built from
//! exactly the fields they read, one hash and one comparison.
//!
//! GREASE values (RFC 8701) are written into the key as one value, `0x0a0a`: every fingerprint
//! leaves GREASE out and nothing it reads depends on which GREASE value a client drew, so a
//! Chromium build that draws new ones on each connection still finds its entry. Extension order
//! stays in the key because JA3 depends on it. A client that shuffles its extensions (Chromium
//! since 110, on every connection) misses there and is looked up again in a second table keyed
//! without the order: everything but JA3 is found, and only JA3 is computed.

use std::collections::HashMap;
use std::sync::Arc;

use helloscope_tls::{ClientHello, ExtensionType, ServerHello, TlsVersion};

use crate::memory::{Bound, Shed, ShedNotice};

/// What a ClientHello's key determines: its fingerprints, and the summary values read from
/// the same fields. Shared by every flow whose hello gives the same key.
#[derive(Clone, Debug)]
pub(crate) struct ClientFingerprints {
    pub(crate) ja3: Arc<str>,
    pub(crate) ja3_string: Arc<str>,
    pub(crate) ja4: Arc<str>,
    pub(crate) ja4_r: Arc<str>,
    /// ALPN names offered (the first ALPN extension's body is in the key).
    pub(crate) alpn: Arc<[String]>,
    /// Versions offered, highest first (legacy_version and supported_versions are in the key;
    /// GREASE is left out, so which value was drawn does not matter).
    pub(crate) versions_offered: Arc<[TlsVersion]>,
    /// Cipher suites, the fallback SCSV among them, GREASE anywhere in suites or extension
    /// types: all from fields in the key (GREASE values are still GREASE once made equal).
    pub(crate) cipher_count: usize,
    pub(crate) fallback_scsv: bool,
    pub(crate) grease: bool,
}

impl ClientFingerprints {
    pub(crate) fn compute(h: &ClientHello<'_>) -> Self {
        Self::compute_over(h, helloscope_tls::Transport::Tcp)
    }

    /// The fingerprints of a hello that travelled over `transport` (JA4's first letter).
    pub(crate) fn compute_over(h: &ClientHello<'_>, transport: helloscope_tls::Transport) -> Self {
        let ja3 = helloscope_tls::ja3(h);
        let (ja4, ja4_r) = helloscope_tls::ja4_with_raw(h, transport);
        let alpn: Vec<String> = h
            .alpn()
            .map(|n| n.map(crate::record::text).collect())
            .unwrap_or_default();
        ClientFingerprints {
            ja3: ja3.hash().into(),
            ja3_string: ja3.string.into(),
            ja4: ja4.as_str().into(),
            ja4_r: ja4_r.into(),
            alpn: alpn.into(),
            versions_offered: h.offered_versions().into(),
            cipher_count: h.cipher_suites().len(),
            fallback_scsv: h.has_fallback_scsv(),
            grease: h.cipher_suites().any(|c| c.is_grease())
                || h.extensions().any(|e| e.ext_type.is_grease()),
        }
    }
}

/// What a ServerHello's fingerprints are.
#[derive(Clone, Debug)]
pub(crate) struct ServerFingerprints {
    pub(crate) ja3s: Arc<str>,
    pub(crate) ja3s_string: Arc<str>,
    pub(crate) ja4s: Option<Arc<str>>,
}

impl ServerFingerprints {
    pub(crate) fn compute(h: &ServerHello<'_>) -> Self {
        Self::compute_over(h, helloscope_tls::Transport::Tcp)
    }

    /// The fingerprints of a hello that travelled over `transport` (JA4S's first letter).
    #[cfg_attr(not(feature = "ja4s"), allow(unused_variables))]
    pub(crate) fn compute_over(h: &ServerHello<'_>, transport: helloscope_tls::Transport) -> Self {
        let j = helloscope_tls::ja3s(h);
        #[cfg(feature = "ja4s")]
        let ja4s = Some(helloscope_tls::ja4s(h, transport).as_str().into());
        #[cfg(not(feature = "ja4s"))]
        let ja4s = None;
        ServerFingerprints {
            ja3s: j.hash().into(),
            ja3s_string: j.string.into(),
            ja4s,
        }
    }
}

/// The bounded table of fingerprints by key. When full (in entries, or in bytes: a hostile hello
/// can list thousands of suites) it is emptied: traffic made of ever new hellos then costs what
/// it would cost without the table, and memory stays bounded.
pub(crate) struct FingerprintCache {
    client: Side<ClientFingerprints>,
    /// The same entries by [`FingerprintCache::client_key_unordered`].
    client_unordered: Side<ClientFingerprints>,
    server: Side<ServerFingerprints>,
    /// The keys being built, kept to reuse their allocations.
    key: Vec<u8>,
    unordered_key: Vec<u8>,
    capacity: usize,
    /// Most bytes of each table, and whether the memory bound set it.
    max_bytes: Bound,
    notice: ShedNotice,
    /// Times a table was emptied because the memory bound was its bound.
    pub(crate) shed_by_memory: u64,
    /// Hellos whose fingerprints were found in the table.
    pub(crate) hits: u64,
    /// ClientHellos found with their extensions in another order (all but JA3 reused).
    pub(crate) hits_unordered: u64,
}

/// `0x0a0a` for a GREASE value (RFC 8701: `0x?A?A`, both bytes equal), else `v`; no branch.
#[inline(always)]
fn normalised(v: u16) -> u16 {
    let grease = ((v & 0x0f0f) == 0x0a0a) & ((v >> 8) == (v & 0xff));
    if grease {
        0x0a0a
    } else {
        v
    }
}

/// [`normalised`] on the four u16 of `x` at once (read from the wire in either byte order:
/// a GREASE value's two bytes are equal). A lane is GREASE when its low nibbles are both `a`
/// and its high nibbles equal, i.e. when `t` below is zero in it; it is made `0x0a0a` by
/// clearing its high nibbles.
#[inline(always)]
fn normalised4(x: u64) -> u64 {
    const LANES: u64 = 0x0001_0001_0001_0001;
    let t = ((x & 0x0f0f_0f0f_0f0f_0f0f) ^ 0x0a0a_0a0a_0a0a_0a0a)
        | (((x >> 8) ^ x) & 0x00f0_00f0_00f0_00f0);
    // t uses 12 bits per lane, so adding 0xfff carries into bit 12 exactly when it is not 0.
    let grease = !(t + 0x0fff * LANES) & (0x1000 * LANES);
    x & !((grease >> 12) * 0xf0f0)
}

/// A key being written, at a cursor into a buffer kept at least as long as the longest key
/// the hello could give (one bound computed per hello instead of a capacity check per
/// append).
struct KeyWriter<'k> {
    buf: &'k mut [u8],
    pos: usize,
}

impl KeyWriter<'_> {
    #[inline(always)]
    fn u16(&mut self, v: u16) {
        self.buf[self.pos..self.pos + 2].copy_from_slice(&v.to_be_bytes());
        self.pos += 2;
    }

    /// `bytes`, then every u16 from `list_at` on made [`normalised`]: four at a time, the
    /// last one to three alone.
    #[inline]
    fn normalised_list(&mut self, bytes: &[u8], list_at: usize) {
        let out = &mut self.buf[self.pos..self.pos + bytes.len()];
        out.copy_from_slice(bytes);
        self.pos += bytes.len();
        let mut words = out[list_at.min(bytes.len())..].chunks_exact_mut(8);
        for w in &mut words {
            let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            w.copy_from_slice(&normalised4(x).to_le_bytes());
        }
        for c in words.into_remainder().chunks_exact_mut(2) {
            let v = normalised(u16::from_be_bytes([c[0], c[1]]));
            c.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// An extension's type and, when `body` is given, its body with its length.
    #[inline(always)]
    fn extension(&mut self, ext_type: u16, body: Option<(&[u8], usize)>) {
        self.u16(normalised(ext_type));
        if let Some((body, list_at)) = body {
            self.u16(body.len() as u16);
            self.normalised_list(body, list_at);
        }
    }
}

/// The body of a ClientHello extension that goes into the key, with where its list of u16
/// values starts: the extensions JA3 and JA4 read.
fn client_key_body(t: ExtensionType, data: &[u8]) -> Option<(&[u8], usize)> {
    let list_at = match t {
        ExtensionType::SUPPORTED_GROUPS | ExtensionType::SIGNATURE_ALGORITHMS => 2,
        ExtensionType::SUPPORTED_VERSIONS => 1,
        ExtensionType::EC_POINT_FORMATS | ExtensionType::ALPN => data.len(),
        _ => return None,
    };
    Some((data, list_at))
}

/// `key` made at least `room` long, and a writer at its start; the key is `key[..pos]`.
fn key_writer(key: &mut Vec<u8>, room: usize) -> KeyWriter<'_> {
    if key.len() < room {
        key.resize(room, 0);
    }
    KeyWriter { buf: key, pos: 0 }
}

impl FingerprintCache {
    /// A table of at most `capacity` entries per side; 0 computes every fingerprint afresh.
    #[cfg(test)]
    pub(crate) fn new(capacity: usize) -> Self {
        let max_bytes = Bound {
            max: MAX_BYTES,
            by_memory: false,
        };
        Self::with_bounds(capacity, max_bytes, ShedNotice::default())
    }

    /// A table of at most `capacity` entries and `max_bytes` bytes per side; emptied when
    /// `max_bytes` is reached, which `notice` is told when the memory bound set it.
    pub(crate) fn with_bounds(capacity: usize, max_bytes: Bound, notice: ShedNotice) -> Self {
        FingerprintCache {
            max_bytes,
            notice,
            shed_by_memory: 0,
            client: Side::default(),
            client_unordered: Side::default(),
            server: Side::default(),
            key: Vec::new(),
            unordered_key: Vec::new(),
            capacity,
            hits: 0,
            hits_unordered: 0,
        }
    }

    /// The key of a ClientHello: `legacy_version`, cipher suites, and each of `extensions`
    /// (type and body, in the order given: wire order for the exact key) as its type with, for
    /// the extensions JA3 and JA4 read, its body. Returns its length in `key`.
    fn client_key<'h>(
        key: &mut Vec<u8>,
        h: &ClientHello<'h>,
        extensions: impl Iterator<Item = (u16, &'h [u8])>,
    ) -> usize {
        let suites = h.cipher_suites().as_bytes();
        // Each extension gives at most its wire bytes (a type, a length and a body).
        let mut w = key_writer(key, 4 + suites.len() + h.extensions().as_bytes().len());
        w.u16(h.legacy_version.to_wire());
        w.u16(suites.len() as u16);
        w.normalised_list(suites, 0);
        for (t, data) in extensions {
            w.extension(t, client_key_body(ExtensionType(t), data));
        }
        w.pos
    }

    /// [`Self::client_key`] with the extensions in order of type (of their first occurrence
    /// for repeated types): everything JA4 and the shared summary values read, and nothing of
    /// the order, which only JA3 reads.
    fn client_key_unordered(key: &mut Vec<u8>, h: &ClientHello<'_>) -> usize {
        let mut exts: Vec<(u16, &[u8])> = h
            .extensions()
            .map(|e| (normalised(e.ext_type.0), e.data))
            .collect();
        // Stable: repeated types keep their order, and the first of them is the one read.
        exts.sort_by_key(|e| e.0);
        Self::client_key(key, h, exts.into_iter())
    }

    /// The key of a ServerHello: `legacy_version`, cipher suite, extension types in wire order,
    /// and the bodies of supported_versions and ALPN. Returns its length in `key`.
    fn server_key(key: &mut Vec<u8>, h: &ServerHello<'_>) -> usize {
        let mut w = key_writer(key, 4 + h.extensions().as_bytes().len());
        w.u16(h.legacy_version.to_wire());
        w.u16(h.cipher_suite.0);
        for e in h.extensions() {
            let body = matches!(
                e.ext_type,
                ExtensionType::SUPPORTED_VERSIONS | ExtensionType::ALPN
            )
            .then_some((e.data, e.data.len()));
            w.extension(e.ext_type.0, body);
        }
        w.pos
    }

    /// The fingerprints of a ClientHello.
    pub(crate) fn client(&mut self, h: &ClientHello<'_>) -> ClientFingerprints {
        if self.capacity == 0 {
            return ClientFingerprints::compute(h);
        }
        let n = Self::client_key(
            &mut self.key,
            h,
            h.extensions().map(|e| (e.ext_type.0, e.data)),
        );
        let key = &self.key[..n];
        if let Some(f) = self.client.map.get(key) {
            self.hits += 1;
            return f.clone();
        }
        // Not this order: perhaps the same hello with its extensions shuffled, as Chromium
        // sends them. Everything but JA3 is then known; only JA3 (which keeps the order) is
        // computed. The order is not kept: each connection draws a new one.
        let n_unordered = Self::client_key_unordered(&mut self.unordered_key, h);
        let unordered_key = &self.unordered_key[..n_unordered];
        if let Some(f) = self.client_unordered.map.get(unordered_key) {
            self.hits_unordered += 1;
            let ja3 = helloscope_tls::ja3(h);
            return ClientFingerprints {
                ja3: ja3.hash().into(),
                ja3_string: ja3.string.into(),
                ..f.clone()
            };
        }
        // Both keys were just looked up and missed: kept without looking again.
        let f = ClientFingerprints::compute(h);
        let max = self.max_bytes.max;
        let over = keep(&mut self.client, key, &f, self.capacity, max)
            | keep(
                &mut self.client_unordered,
                unordered_key,
                &f,
                self.capacity,
                max,
            );
        if over {
            self.shed();
        }
        f
    }

    /// The fingerprints of a ServerHello.
    pub(crate) fn server(&mut self, h: &ServerHello<'_>) -> ServerFingerprints {
        if self.capacity == 0 {
            return ServerFingerprints::compute(h);
        }
        let n = Self::server_key(&mut self.key, h);
        let (side, key, hits) = (&mut self.server, &self.key[..n], &mut self.hits);
        let (max, mut over) = (self.max_bytes.max, false);
        let f = get_or_compute(side, key, (self.capacity, max, &mut over), hits, || {
            ServerFingerprints::compute(h)
        });
        if over {
            self.shed();
        }
        f
    }

    /// A table was emptied for its bytes.
    #[cold]
    fn shed(&mut self) {
        if self.max_bytes.by_memory {
            self.shed_by_memory += 1;
            self.notice.shed(Shed::Fingerprints);
        }
    }
}

/// Most bytes of keys and values kept per side, unless the memory bound gives less.
pub(crate) const MAX_BYTES: usize = 4 << 20;

/// Largest entry kept (key and values); real hellos give 0.5 to 2 KiB.
const MAX_ENTRY: usize = 16 << 10;

/// What an entry costs in the map itself, whatever its contents: its slot and control byte
/// (a table is at most 7/8 full and doubles when it grows, so just after growing there are
/// up to 16/7 slots per entry) and the allocator's rounding of the key's box. Without it a
/// flood of tiny distinct hellos would fill `capacity` slots that the byte count never saw.
fn slot_cost<V>() -> usize {
    (std::mem::size_of::<(Box<[u8]>, V)>() + 1) * 16 / 7 + 16
}

/// Bytes an entry holds beyond its fixed size.
trait Cost {
    fn cost(&self) -> usize;
}

impl Cost for ClientFingerprints {
    fn cost(&self) -> usize {
        self.ja3.len()
            + self.ja3_string.len()
            + self.ja4.len()
            + self.ja4_r.len()
            + self.alpn.iter().map(|a| a.len() + 24).sum::<usize>()
            + self.versions_offered.len() * 4
            + 128
    }
}

impl Cost for ServerFingerprints {
    fn cost(&self) -> usize {
        self.ja3s.len() + self.ja3s_string.len() + self.ja4s.as_ref().map_or(0, |j| j.len()) + 64
    }
}

/// One side's table and the bytes it holds.
struct Side<V> {
    map: HashMap<Box<[u8]>, V, ahash::RandomState>,
    bytes: usize,
}

impl<V> Default for Side<V> {
    fn default() -> Self {
        Side {
            map: HashMap::default(),
            bytes: 0,
        }
    }
}

/// The value of `key`, computed and kept when missing.
fn get_or_compute<V: Clone + Cost>(
    side: &mut Side<V>,
    key: &[u8],
    (capacity, max_bytes, over): (usize, usize, &mut bool),
    hits: &mut u64,
    compute: impl FnOnce() -> V,
) -> V {
    if let Some(v) = side.map.get(key) {
        *hits += 1;
        return v.clone();
    }
    let v = compute();
    *over = keep(side, key, &v, capacity, max_bytes);
    v
}

/// Keeps `v` under `key` (which the table does not hold), unless the entry alone is over the
/// bound; a full table is emptied first. True when it was emptied for its bytes.
fn keep<V: Clone + Cost>(
    side: &mut Side<V>,
    key: &[u8],
    v: &V,
    capacity: usize,
    max_bytes: usize,
) -> bool {
    let cost = key.len() + v.cost() + slot_cost::<V>();
    if cost > MAX_ENTRY.min(max_bytes) {
        return false;
    }
    let over_bytes = side.bytes + cost > max_bytes;
    if side.map.len() >= capacity || over_bytes {
        side.map.clear();
        side.bytes = 0;
    }
    side.map.insert(key.into(), v.clone());
    side.bytes += cost;
    over_bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROMIUM: &[u8] =
        include_bytes!("../../helloscope-tls/testdata/chromium-156-clienthello.bin");
    const CURL: &[u8] = include_bytes!("../../helloscope-tls/testdata/curl-7.88.1-clienthello.bin");
    const GNUTLS: &[u8] =
        include_bytes!("../../helloscope-tls/testdata/gnutls-3.7.9-clienthello.bin");

    fn check_same(cache: &mut FingerprintCache, record: &[u8]) -> ClientFingerprints {
        let h = helloscope_tls::parse_client_hello_record(record).unwrap();
        let fresh = ClientFingerprints::compute(&h);
        let got = cache.client(&h);
        assert_eq!(got.ja3, fresh.ja3);
        assert_eq!(got.ja3_string, fresh.ja3_string);
        assert_eq!(got.ja4, fresh.ja4);
        assert_eq!(got.ja4_r, fresh.ja4_r);
        got
    }

    /// Offsets of every byte pair that reads as a GREASE value. In the Chromium hello these
    /// are its GREASE cipher, extension types, group, version and key share.
    fn grease_offsets(b: &[u8]) -> Vec<usize> {
        (0..b.len() - 1)
            .filter(|&i| {
                helloscope_tls::grease::is_grease_u16(u16::from_be_bytes([b[i], b[i + 1]]))
            })
            .collect()
    }

    #[test]
    fn normalising_makes_exactly_the_grease_values_equal() {
        let normal = |v: u16| {
            if helloscope_tls::is_grease_u16(v) {
                0x0a0a
            } else {
                v
            }
        };
        // Every value in each of the four lanes of a word and in the tail after it, beside
        // GREASE and non-GREASE neighbours (a lane must not leak into the next).
        let neighbours = [0x0a0a, 0xfafa, 0x0000, 0xffff, 0x1a2a, 0xaaaa];
        let mut buf = Vec::new();
        for v in 0..=u16::MAX {
            for at in 0..5 {
                let n = neighbours[(usize::from(v) + at) % neighbours.len()];
                let mut list = [n; 5];
                list[at] = v;
                let (mut bytes, mut want) = ([0u8; 10], [0u8; 10]);
                for (i, &x) in list.iter().enumerate() {
                    bytes[2 * i..2 * i + 2].copy_from_slice(&x.to_be_bytes());
                    want[2 * i..2 * i + 2].copy_from_slice(&normal(x).to_be_bytes());
                }
                let mut w = key_writer(&mut buf, 16);
                w.normalised_list(&bytes, 0);
                assert_eq!(buf[..10], want, "{v:#06x} at {at}");
            }
        }
    }

    #[test]
    fn hits_give_what_computing_gives() {
        let mut cache = FingerprintCache::new(16);
        for r in [CHROMIUM, CURL, GNUTLS] {
            check_same(&mut cache, r);
        }
        assert_eq!(cache.hits, 0);
        for r in [CHROMIUM, CURL, GNUTLS] {
            check_same(&mut cache, r);
        }
        assert_eq!(cache.hits, 3);
    }

    #[test]
    fn other_grease_values_find_the_same_entry() {
        let mut cache = FingerprintCache::new(16);
        let first = check_same(&mut cache, CHROMIUM);
        let offsets = grease_offsets(CHROMIUM);
        assert!(offsets.len() >= 4, "the Chromium hello carries GREASE");
        for draw in 0..16u8 {
            let mut b = CHROMIUM.to_vec();
            for &i in &offsets {
                let v = (draw.wrapping_mul(7).wrapping_add(i as u8) % 16) << 4 | 0x0a;
                b[i] = v;
                b[i + 1] = v;
            }
            let again = check_same(&mut cache, &b);
            assert_eq!(again.ja4, first.ja4);
        }
        assert_eq!(cache.hits, 16);
    }

    /// The record with the hello's extensions reordered by `order` (indexes into the wire
    /// order), as Chromium does from one connection to the next.
    fn reordered(record: &[u8], order: &[usize]) -> Vec<u8> {
        let h = helloscope_tls::parse_client_hello_record(record).unwrap();
        let at = 5 + 4 + 2 + 32 + 1 + h.session_id.len();
        let at = at + 2 + h.cipher_suites().as_bytes().len();
        let at = at + 1 + h.compression_methods.len() + 2;
        let exts: Vec<&[u8]> = {
            let mut v = Vec::new();
            let mut rest = &record[at..];
            for e in h.extensions() {
                let n = 4 + e.data.len();
                v.push(&rest[..n]);
                rest = &rest[n..];
            }
            v
        };
        assert_eq!(order.len(), exts.len());
        let mut out = record[..at].to_vec();
        for &i in order {
            out.extend_from_slice(exts[i]);
        }
        out.extend_from_slice(&record[at + exts.iter().map(|e| e.len()).sum::<usize>()..]);
        out
    }

    #[test]
    fn shuffled_extensions_reuse_all_but_ja3() {
        let mut cache = FingerprintCache::new(16);
        let first = check_same(&mut cache, CHROMIUM);
        let n = helloscope_tls::parse_client_hello_record(CHROMIUM)
            .unwrap()
            .extensions()
            .count();
        // Keep GREASE first and last (and pre_shared_key, if any, last), as Chromium does;
        // rotate the rest.
        for k in 1..6 {
            let mut order: Vec<usize> = (1..n - 1).collect();
            order.rotate_left(k);
            order.insert(0, 0);
            order.push(n - 1);
            let b = reordered(CHROMIUM, &order);
            let again = check_same(&mut cache, &b);
            assert_eq!(again.ja4, first.ja4, "JA4 does not see the order");
            assert_ne!(again.ja3, first.ja3, "JA3 does");
        }
        assert_eq!(cache.hits, 0);
        assert_eq!(cache.hits_unordered, 5);
    }

    #[test]
    fn a_changed_fingerprinted_field_misses() {
        let mut cache = FingerprintCache::new(16);
        check_same(&mut cache, CURL);
        // The first cipher suite's low byte: record header, handshake header, version,
        // random, session id, suites length.
        let h = helloscope_tls::parse_client_hello_record(CURL).unwrap();
        let at = 5 + 4 + 2 + 32 + 1 + h.session_id.len() + 2 + 1;
        let mut b = CURL.to_vec();
        b[at] ^= 0x01;
        let changed = check_same(&mut cache, &b);
        assert_eq!(cache.hits, 0);
        assert_ne!(
            changed.ja3,
            check_same(&mut FingerprintCache::new(0), CURL).ja3
        );
    }

    #[test]
    fn full_table_is_emptied_and_stays_bounded() {
        let mut cache = FingerprintCache::new(2);
        for r in [CHROMIUM, CURL, GNUTLS, CHROMIUM, CURL, GNUTLS] {
            check_same(&mut cache, r);
            assert!(cache.client.map.len() <= 2);
        }
    }

    /// Hellos made to be large and all different (thousands of suites each) cannot make the
    /// table hold more than its byte bound; ones too large are not kept at all.
    #[test]
    fn hostile_hellos_stay_within_the_byte_bound() {
        let mut cache = FingerprintCache::new(1 << 20);
        for (i, suites) in (0..3000u32).map(|i| (i, 40 + (i % 7) as usize * 700)) {
            let mut body = vec![0x03, 0x03];
            body.extend([0u8; 32]);
            body.push(0);
            body.extend(((suites * 2) as u16).to_be_bytes());
            for k in 0..suites as u32 {
                body.extend((((i * 7919 + k) % 0xfff0) as u16).to_be_bytes());
            }
            body.extend([1, 0]);
            let h = ClientHello::parse(&body).unwrap();
            let got = cache.client(&h);
            assert_eq!(got.ja3, ClientFingerprints::compute(&h).ja3);
            assert!(cache.client.bytes <= MAX_BYTES, "{}", cache.client.bytes);
        }
        assert!(cache.client.map.len() > 10, "small hellos are kept");
    }

    /// Tiny distinct hellos with no bound on the entry count: what the map's slots take is
    /// charged too, so the table itself stays within the byte bound.
    #[test]
    fn tiny_hellos_stay_within_the_byte_bound_slots_included() {
        let mut cache = FingerprintCache::new(usize::MAX);
        let slot = std::mem::size_of::<(Box<[u8]>, ClientFingerprints)>() + 1;
        let mut most = 0;
        for i in 0..40_000u32 {
            let mut body = vec![0x03, 0x03];
            body.extend([0u8; 32]);
            body.push(0);
            body.extend([0, 4]);
            body.extend(((i % 0xfff0) as u16).to_be_bytes());
            body.extend(((i / 0xfff0) as u16).to_be_bytes());
            body.extend([1, 0]);
            let h = ClientHello::parse(&body).unwrap();
            cache.client(&h);
            if i % 250 != 0 {
                continue;
            }
            for side in [&cache.client, &cache.client_unordered] {
                // What the map really holds: its slots, the keys' boxes, the values' strings.
                let table = side.map.capacity() * 8 / 7 * slot;
                let held: usize = side.map.iter().map(|(k, v)| k.len() + 16 + v.cost()).sum();
                assert!(table + held <= MAX_BYTES, "{table} + {held}");
                assert!(side.bytes <= MAX_BYTES);
                most = most.max(side.map.len());
            }
        }
        assert!(most > 1000, "entries are kept: {most}");
        assert!(most < 40_000, "the table was emptied when full: {most}");
    }
}
