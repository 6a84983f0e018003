//! The output schema, described once: every key of a flow's record with its JSON type, its
//! meaning (the README's table), how the jsonl line writes it, the most bytes it can take
//! there, its csv columns and its ECS field.
//!
//! One [`schema!`] invocation below is the whole description; the macro makes from it the
//! jsonl writer (straight-line code, the same as written by hand: the key is a constant, the
//! value is written through the line's cursor), the line's length bound, the `helloscope.*`
//! part of the ECS document, the csv header and row, [`FIELDS`] and the README table
//! ([`markdown_table`]). A new key is one entry here.

use std::net::IpAddr;

use helloscope_capture::{ClientHelloSummary, FlowRecord, Outcome, ServerHelloSummary};

use crate::common::Failure;
use crate::jsonl::{esc_len, Cursor, LineWriter};
use crate::output::{for_each_flag, quic_version_name, rfc3339_micros};
use crate::policy::Evaluation;
use crate::stack::StackMatch;

/// What one record is written from.
pub struct Flow<'a> {
    pub r: &'a FlowRecord,
    pub ch: Option<&'a ClientHelloSummary>,
    pub sh: Option<&'a ServerHelloSummary>,
    /// The capture (or interface) of the flow's first packet.
    pub source: &'a str,
    pub eval: Option<&'a Evaluation>,
    pub stack: Option<&'a StackMatch>,
}

impl<'a> Flow<'a> {
    pub fn new(
        r: &'a FlowRecord,
        source: &'a str,
        eval: Option<&'a Evaluation>,
        stack: Option<&'a StackMatch>,
    ) -> Self {
        Flow {
            r,
            ch: r.client_hello.as_ref(),
            sh: r.server_hello.as_ref(),
            source,
            eval,
            stack,
        }
    }
}

/// One key of the record, as documented.
#[derive(Debug)]
pub struct Field {
    /// The jsonl key.
    pub key: &'static str,
    /// Its JSON type, in words.
    pub kind: &'static str,
    /// What it means (the README's table).
    pub doc: &'static str,
    /// Its csv columns (none: not in csv).
    pub csv: &'static [&'static str],
    /// The ECS field it goes to; `None`: `helloscope.<key>`.
    pub ecs: Option<&'static str>,
    /// Written only when it applies (otherwise absent, not null).
    pub optional: bool,
}

/// The longest text of a timestamp, quoted: the expanded year of the largest `u64` second,
/// `"+584554051223-11-09T07:00:15.000000Z"`.
pub(crate) const TS_MAX: usize = 38;
/// The longest address, quoted: IPv6 with an embedded IPv4 address is 45 bytes.
pub(crate) const IP_MAX: usize = 47;
/// A port.
pub(crate) const PORT_MAX: usize = 5;
/// A `u64`.
pub(crate) const U64_MAX: usize = 20;
/// A version's text, quoted, with the comma before it in a list (`"TLS 1.3 draft 255"`).
pub(crate) const VERSION_MAX: usize = 20;
/// A cipher suite's text, quoted (registry names are under 64 bytes, others `0x` and hex).
pub(crate) const CIPHER_MAX: usize = 66;
/// The `alert` object at its longest (`level_255`, the longest description name).
pub(crate) const ALERT_MAX: usize = 96;
/// Every flag set.
pub(crate) const FLAGS_MAX: usize = 80;
/// The `tunnel` list at its longest: every layer kept at the longest text, and `...`.
pub(crate) const TUNNEL_MAX: usize = 2 + (helloscope_capture::decode::MAX_TUNNELS + 1) * 24;
/// A QUIC version, quoted (`"0x0000000a"`).
pub(crate) const QUIC_VERSION_MAX: usize = 12;
/// A short name from a fixed set (outcome, end, side, transport, verdict), quoted.
pub(crate) const NAME_MAX: usize = 16;

/// Bytes a put of a fixed-size word may write past what it keeps (see `Cursor::put_word`).
pub(crate) const WORD_SLACK: usize = 8;

/// `s`, quoted, or `null`: room for a string that needs no escaping.
fn opt_clean_len(s: Option<&str>) -> usize {
    s.map_or(4, |s| s.len() + 2)
}

/// Room for `s`, escaped, or `null`.
fn opt_esc_len(s: Option<&str>) -> usize {
    s.map_or(4, esc_len)
}

/// `opt` as a csv cell: empty when absent.
fn cell<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The description: for every key, in the order of the jsonl line,
///
/// - `kind`, `doc`: its JSON type and meaning, for the README;
/// - `ecs`: the ECS field written for it by `jsonl/ecs.rs` (`None`: `helloscope.<key>`,
///   written from this entry);
/// - `when` (optional): the key is written only when this holds;
/// - `bound`: the most bytes its value can take in the line, from the record (`w` the
///   writer, `x` the [`Flow`]); `tests::every_key_fits_its_bound` holds each to the longest
///   value the key can take;
/// - `json`: writes the value through the cursor `c`;
/// - `csv`: its columns, each with its cell's text.
macro_rules! schema {
    ($(
        $key:literal {
            kind: $kind:literal,
            doc: $doc:literal,
            ecs: $ecs:expr,
            $(when: |$wx:ident| $when:expr,)?
            bound: |$bw:ident, $bx:ident| $bound:expr,
            json: |$jw:ident, $jc:ident, $jx:ident| $json:expr,
            csv: [$($col:literal => |$cx:ident| $cell:expr),* $(,)?],
        }
    )*) => {
        /// Every key, in the order of the line.
        pub const FIELDS: &[Field] = &[$(Field {
            key: $key,
            kind: $kind,
            doc: $doc,
            csv: &[$($col),*],
            ecs: $ecs,
            optional: false $(|| { stringify!($when); true })?,
        }),*];

        /// The csv columns, in order.
        pub const CSV_HEADER: &[&str] = &[$($($col,)*)*];

        impl LineWriter {
            /// Writes the keys and values of `x` as `,"key":value` each: all of them
            /// (`ECS_REST` false), or those that have no ECS field of their own. `after` is
            /// told each key written and where its value ends (tests; a no-op otherwise).
            #[inline(always)]
            #[allow(unused_variables, clippy::redundant_closure_call)]
            pub(crate) fn write_fields<const ECS_REST: bool>(
                &mut self,
                c: &mut Cursor<'_>,
                x: &Flow<'_>,
                mut after: impl FnMut(&'static str, usize),
            ) {
                $(
                    if !ECS_REST || { const E: Option<&str> = $ecs; E.is_none() } {
                        let present = true $(&& { let $wx = x; $when })?;
                        if present {
                            c.put_slice(concat!(",\"", $key, "\":").as_bytes());
                            {
                                let $jw = &mut *self;
                                let $jc = &mut *c;
                                let $jx = x;
                                $json;
                            }
                            after($key, c.pos);
                        }
                    }
                )*
            }

            /// The most bytes `write_fields` writes for `x` (the same choice of keys),
            /// whatever its values: each key's bound, and its key.
            #[inline(always)]
            #[allow(unused_variables)]
            pub(crate) fn fields_bound<const ECS_REST: bool>(&self, x: &Flow<'_>) -> usize {
                let mut n = WORD_SLACK;
                $(
                    if !ECS_REST || { const E: Option<&str> = $ecs; E.is_none() } {
                        n += $key.len() + 4;
                        let $bw = self;
                        let $bx = x;
                        n += $bound;
                    }
                )*
                n
            }
        }

        /// The csv row of `x`: each column's cell, in order, not yet escaped.
        #[allow(unused_variables)]
        pub fn csv_cells(x: &Flow<'_>) -> Vec<String> {
            let mut cells = Vec::with_capacity(CSV_HEADER.len());
            $($(
                cells.push({
                    let $cx = x;
                    $cell
                });
            )*)*
            cells
        }

        #[cfg(test)]
        #[allow(unused_variables)]
        /// The bound of each key for `x`, by key.
        pub(crate) fn bounds_of(w: &LineWriter, x: &Flow<'_>) -> Vec<(&'static str, usize)> {
            let mut v = Vec::new();
            $({
                let $bw = w;
                let $bx = x;
                v.push(($key, $bound));
            })*
            v
        }
    };
}

schema! {
    "ts" {
        kind: "string",
        doc: "first packet, RFC 3339 UTC with microseconds",
        ecs: Some("@timestamp"),
        bound: |w, x| TS_MAX,
        json: |w, c, x| w.timestamp(c, x.r.first_seen),
        csv: ["ts" => |x| rfc3339_micros(x.r.first_seen)],
    }
    "source" {
        kind: "string",
        doc: "capture path (as given, or inside a directory given; `-` for stdin) holding the flow's first packet, or the interface",
        ecs: None,
        bound: |w, x| w.source_json.len(),
        json: |w, c, x| c.put_slice(&w.source_json),
        csv: ["source" => |x| x.source.to_owned()],
    }
    "sensor" {
        kind: "string",
        doc: "the sensor that wrote the record: `--sensor NAME`, default the host name",
        ecs: Some("observer.name"),
        bound: |w, x| w.sensor_json.len(),
        json: |w, c, x| c.put_slice(&w.sensor_json),
        csv: [],
    }
    "client_ip" {
        kind: "string",
        doc: "the client's address; the client is the side that sent the ClientHello",
        ecs: Some("source.ip"),
        bound: |w, x| IP_MAX,
        json: |w, c, x| c.ip(x.r.client.ip()),
        csv: ["client_ip" => |x| x.r.client.ip().to_string()],
    }
    "client_port" {
        kind: "number",
        doc: "the client's port",
        ecs: Some("source.port"),
        bound: |w, x| PORT_MAX,
        json: |w, c, x| c.decimal(x.r.client.port().into()),
        csv: ["client_port" => |x| x.r.client.port().to_string()],
    }
    "server_ip" {
        kind: "string",
        doc: "the server's address",
        ecs: Some("destination.ip"),
        bound: |w, x| IP_MAX,
        json: |w, c, x| c.ip(x.r.server.ip()),
        csv: ["server_ip" => |x| x.r.server.ip().to_string()],
    }
    "server_port" {
        kind: "number",
        doc: "the server's port",
        ecs: Some("destination.port"),
        bound: |w, x| PORT_MAX,
        json: |w, c, x| c.decimal(x.r.server.port().into()),
        csv: ["server_port" => |x| x.r.server.port().to_string()],
    }
    "sni" {
        kind: "string or null",
        doc: "server_name, or null",
        ecs: Some("tls.client.server_name"),
        bound: |w, x| opt_esc_len(x.ch.and_then(|c| c.sni.as_deref())),
        json: |w, c, x| c.opt_string(x.ch.and_then(|c| c.sni.as_deref())),
        csv: ["sni" => |x| cell(x.ch.and_then(|c| c.sni.as_deref()))],
    }
    "alpn_offered" {
        kind: "array of strings",
        doc: "ALPN protocols offered, in order",
        ecs: None,
        bound: |w, x| 2 + x.ch.map_or(0, |c| c.alpn.iter().map(|a| esc_len(a) + 1).sum()),
        json: |w, c, x| c.list(x.ch.map_or(&[][..], |c| &c.alpn[..]), |c, p| c.string(p)),
        csv: ["alpn_offered" => |x| x.ch.map(|c| c.alpn.join(" ")).unwrap_or_default()],
    }
    "alpn" {
        kind: "string or null",
        doc: "ALPN the server selected in its ServerHello, or null (TLS 1.3 encrypts it)",
        ecs: Some("tls.next_protocol"),
        bound: |w, x| opt_esc_len(x.sh.and_then(|s| s.alpn.as_deref())),
        json: |w, c, x| c.opt_string(x.sh.and_then(|s| s.alpn.as_deref())),
        csv: ["alpn" => |x| cell(x.sh.and_then(|s| s.alpn.as_deref()))],
    }
    "versions_offered" {
        kind: "array of strings",
        doc: "highest first, e.g. `[\"TLS 1.3\",\"TLS 1.2\"]`: supported_versions when present, else the legacy version alone",
        ecs: None,
        bound: |w, x| 2 + x.ch.map_or(0, |c| c.versions_offered.len() * VERSION_MAX),
        json: |w, c, x| c.list(
            x.ch.map_or(&[][..], |c| &c.versions_offered[..]),
            |c, v| c.version(*v),
        ),
        csv: ["versions_offered" => |x| x.ch.map(|c| {
            c.versions_offered.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ")
        }).unwrap_or_default()],
    }
    "version_offered_max" {
        kind: "string or null",
        doc: "the highest version offered",
        ecs: None,
        bound: |w, x| VERSION_MAX,
        json: |w, c, x| c.opt_version(x.ch.map(|c| c.version_offered_max)),
        csv: ["version_offered_max" => |x| cell(x.ch.map(|c| c.version_offered_max))],
    }
    "version" {
        kind: "string or null",
        doc: "negotiated version, or null",
        ecs: Some("tls.version"),
        bound: |w, x| VERSION_MAX,
        json: |w, c, x| c.opt_version(x.sh.map(|s| s.version)),
        csv: ["version" => |x| cell(x.sh.map(|s| s.version))],
    }
    "cipher" {
        kind: "string or null",
        doc: "IANA name of the negotiated cipher suite, or null",
        ecs: Some("tls.cipher"),
        bound: |w, x| CIPHER_MAX,
        json: |w, c, x| match x.sh.map(|s| s.cipher) {
            None => c.put_slice(b"null"),
            Some(suite) => match w.cipher_name(suite) {
                // Registry names are ASCII identifiers.
                Some(n) => c.clean(n),
                None => c.display(suite),
            },
        },
        csv: ["cipher" => |x| cell(x.sh.map(|s| s.cipher))],
    }
    "hello_retry" {
        kind: "boolean",
        doc: "the server sent a HelloRetryRequest",
        ecs: None,
        bound: |w, x| 5,
        json: |w, c, x| c.bool(x.sh.is_some_and(|s| s.hello_retry)),
        csv: ["hello_retry" => |x| x.sh.is_some_and(|s| s.hello_retry).to_string()],
    }
    "fallback_scsv" {
        kind: "boolean",
        doc: "TLS_FALLBACK_SCSV offered (the client is retrying lower after a failure)",
        ecs: None,
        bound: |w, x| 5,
        json: |w, c, x| c.bool(x.ch.is_some_and(|c| c.fallback_scsv)),
        csv: ["fallback_scsv" => |x| x.ch.is_some_and(|c| c.fallback_scsv).to_string()],
    }
    "ja3" {
        kind: "string or null",
        doc: "JA3 of the ClientHello, null when not computable (SSLv2-format hellos, and a damaged hello flagged `malformed`: not every input was read)",
        ecs: Some("tls.client.ja3"),
        bound: |w, x| opt_clean_len(x.ch.and_then(|c| c.ja3.as_deref())),
        json: |w, c, x| c.opt_clean(x.ch.and_then(|c| c.ja3.as_deref())),
        csv: ["ja3" => |x| cell(x.ch.and_then(|c| c.ja3.as_deref()))],
    }
    "ja3s" {
        kind: "string or null",
        doc: "JA3S of the first ServerHello, null without one",
        ecs: Some("tls.server.ja3s"),
        bound: |w, x| opt_clean_len(x.sh.map(|s| &*s.ja3s)),
        json: |w, c, x| c.opt_clean(x.sh.map(|s| &*s.ja3s)),
        csv: ["ja3s" => |x| cell(x.sh.map(|s| &*s.ja3s))],
    }
    "ja4" {
        kind: "string or null",
        doc: "JA4 of the ClientHello, null when not computable (SSLv2-format hellos, and a damaged hello flagged `malformed`)",
        ecs: None,
        bound: |w, x| opt_clean_len(x.ch.and_then(|c| c.ja4.as_deref())),
        json: |w, c, x| c.opt_clean(x.ch.and_then(|c| c.ja4.as_deref())),
        csv: ["ja4" => |x| cell(x.ch.and_then(|c| c.ja4.as_deref()))],
    }
    "ja4s" {
        kind: "string or null",
        doc: "JA4S of the first ServerHello, null without one (needs the `ja4s` feature)",
        ecs: None,
        bound: |w, x| opt_clean_len(x.sh.and_then(|s| s.ja4s.as_deref())),
        json: |w, c, x| c.opt_clean(x.sh.and_then(|s| s.ja4s.as_deref())),
        csv: ["ja4s" => |x| cell(x.sh.and_then(|s| s.ja4s.as_deref()))],
    }
    "stack" {
        kind: "object or null",
        doc: "the TLS stack behind the ClientHello, null without one: `{\"family\",\"application\",\"confidence\",\"tls12\"}` (see \"Naming the TLS stack\")",
        ecs: None,
        bound: |w, x| x.stack.map_or(4, |s| s.json.len()),
        // Written once per distinct hello, with the name.
        json: |w, c, x| match x.stack {
            None => c.put_slice(b"null"),
            Some(s) => c.put_slice(s.json.as_bytes()),
        },
        csv: [
            "stack_family" => |x| cell(x.stack.and_then(|s| s.family.as_deref())),
            "stack_application" => |x| cell(x.stack.and_then(|s| s.application.as_deref())),
            "stack_confidence" => |x| cell(x.stack.map(|s| s.confidence.as_str())),
            "stack_tls12" => |x| cell(x.stack.map(|s| s.tls12.as_str())),
        ],
    }
    "outcome" {
        kind: "string",
        doc: "`established`, `negotiated`, `alert`, `reset`, `closed`, `no_response`, `incomplete`, `client_unseen`, `server_unseen` (see \"Outcomes\" below)",
        ecs: None,
        bound: |w, x| NAME_MAX,
        json: |w, c, x| c.clean(x.r.outcome.name()),
        csv: ["outcome" => |x| x.r.outcome.name().to_owned()],
    }
    "alert" {
        kind: "object or null",
        doc: "null or `{\"level\",\"description\",\"from\"}`, from = `client` or `server`",
        ecs: None,
        bound: |w, x| ALERT_MAX,
        json: |w, c, x| match x.r.outcome {
            Outcome::Alert { level, description, from } => {
                c.put_slice(b"{\"level\":");
                c.named(level.name(), level);
                c.put_slice(b",\"description\":");
                c.named(description.name(), description);
                c.put_slice(b",\"from\":");
                c.clean(from.as_str());
                c.put(b'}');
            }
            _ => c.put_slice(b"null"),
        },
        csv: [
            "alert_level" => |x| cell(alert(x).map(|a| a.0)),
            "alert_description" => |x| cell(alert(x).map(|a| a.1)),
            "alert_from" => |x| cell(alert(x).map(|a| a.2)),
        ],
    }
    "policy" {
        kind: "object",
        doc: "only when a policy matched the flow: `{\"profile\",\"verdict\",\"findings\":[{\"code\",\"message\",\"remediation\"}]}`; `remediation` is what to change, in plain words, from the client's stack (on `below_minimum`; null on the others)",
        ecs: None,
        when: |x| x.eval.is_some(),
        bound: |w, x| x.eval.map_or(0, |e| {
            esc_len(&e.profile)
                + 64
                + e.findings
                    .iter()
                    .map(|f| {
                        esc_len(f.code)
                            + esc_len(&f.message)
                            + f.remediation.as_deref().map_or(4, esc_len)
                            + 48
                    })
                    .sum::<usize>()
        }),
        json: |w, c, x| if let Some(e) = x.eval {
            c.put_slice(b"{\"profile\":");
            c.string(&e.profile);
            c.put_slice(b",\"verdict\":");
            c.clean(e.verdict.as_str());
            c.put_slice(b",\"findings\":");
            c.list(&e.findings, |c, f| {
                c.put_slice(b"{\"code\":");
                c.string(f.code);
                c.put_slice(b",\"message\":");
                c.string(&f.message);
                c.put_slice(b",\"remediation\":");
                c.opt_string(f.remediation.as_deref());
                c.put(b'}');
            });
            c.put(b'}');
        },
        csv: [
            "policy_profile" => |x| cell(x.eval.map(|e| &e.profile)),
            "policy_verdict" => |x| cell(x.eval.map(|e| e.verdict.as_str())),
            "policy_findings" => |x| x.eval.map(|e| {
                e.findings.iter().map(|f| f.code).collect::<Vec<_>>().join(" ")
            }).unwrap_or_default(),
        ],
    }
    "ja3_string" {
        kind: "string or null",
        doc: "the string JA3 hashes",
        ecs: None,
        bound: |w, x| opt_clean_len(x.ch.and_then(|c| c.ja3_string.as_deref())),
        json: |w, c, x| c.opt_clean(x.ch.and_then(|c| c.ja3_string.as_deref())),
        csv: [],
    }
    "ja4_r" {
        kind: "string or null",
        doc: "JA4's raw form, its lists sorted",
        ecs: None,
        bound: |w, x| opt_clean_len(x.ch.and_then(|c| c.ja4_r.as_deref())),
        json: |w, c, x| c.opt_clean(x.ch.and_then(|c| c.ja4_r.as_deref())),
        csv: [],
    }
    "sslv2_hello" {
        kind: "boolean",
        doc: "the ClientHello was in SSLv2 format",
        ecs: None,
        bound: |w, x| 5,
        json: |w, c, x| c.bool(x.ch.is_some_and(|c| c.sslv2_format)),
        csv: [],
    }
    "reset_by" {
        kind: "string or null",
        doc: "who sent the reset (`client` or `server`) when the outcome is `reset`, else null",
        ecs: None,
        bound: |w, x| NAME_MAX,
        json: |w, c, x| c.opt_clean(match x.r.outcome {
            Outcome::Reset { from } => Some(from.as_str()),
            _ => None,
        }),
        csv: [],
    }
    "end" {
        kind: "string",
        doc: "why the record was written then: `decided`, `timeout`, `table_full`, `end_of_capture`",
        ecs: None,
        bound: |w, x| NAME_MAX,
        json: |w, c, x| c.clean(x.r.end.name()),
        csv: [],
    }
    "flags" {
        kind: "array of strings",
        doc: "anomalies: `midstream`, `gap`, `buffer_limit`, `overlap_conflict`, `malformed`, `snaplen_cut`",
        ecs: None,
        bound: |w, x| FLAGS_MAX,
        // Without a list of their own: most records have none, and the list cost more than
        // the line's other keys.
        json: |w, c, x| {
            c.put(b'[');
            let mut first = true;
            for_each_flag(&x.r.flags, |f| {
                if !first {
                    c.put(b',');
                }
                first = false;
                c.clean(f);
            });
            c.put(b']');
        },
        csv: [],
    }
    "packets" {
        kind: "number",
        doc: "packets seen",
        ecs: None,
        bound: |w, x| U64_MAX,
        json: |w, c, x| c.decimal(x.r.packets),
        csv: [],
    }
    "tunnel" {
        kind: "array of strings",
        doc: "only when the flow came through a tunnel: its encapsulations, outermost first, e.g. `[\"vxlan:vni=5001\"]`, `[\"mpls:label=16\",\"erspan2:session=3\"]` (see \"What is decoded\"); absent for plain traffic",
        ecs: None,
        when: |x| !x.r.tunnel.is_empty(),
        bound: |w, x| TUNNEL_MAX,
        json: |w, c, x| c.list(&x.r.tunnel.names(), |c, t| c.clean(t)),
        csv: ["tunnel" => |x| x.r.tunnel.names().join(" ")],
    }
    "transport" {
        kind: "string",
        doc: "`tcp` (TLS over TCP), `quic` or `dtls`",
        ecs: None,
        bound: |w, x| NAME_MAX,
        json: |w, c, x| c.clean(x.r.transport.name()),
        csv: ["transport" => |x| x.r.transport.name().to_owned()],
    }
    "quic_version" {
        kind: "string or null",
        doc: "QUIC only: `v1`, `v2`, `draft-29` (else `0x` and eight hex digits); null otherwise",
        ecs: None,
        bound: |w, x| QUIC_VERSION_MAX,
        json: |w, c, x| match x.r.quic_version {
            Some(v) => c.clean(&quic_version_name(v)),
            None => c.put_slice(b"null"),
        },
        csv: ["quic_version" => |x| cell(x.r.quic_version.map(quic_version_name))],
    }
}

/// The alert's level, description and sender, when the outcome is one.
fn alert(x: &Flow<'_>) -> Option<(String, String, &'static str)> {
    match x.r.outcome {
        Outcome::Alert {
            level,
            description,
            from,
        } => Some((level.to_string(), description.to_string(), from.as_str())),
        _ => None,
    }
}

/// `ipv4` or `ipv6`, ECS `network.type`.
pub(crate) fn network_type(a: IpAddr) -> &'static str {
    match a {
        IpAddr::V4(_) => "ipv4",
        IpAddr::V6(_) => "ipv6",
    }
}

/// The README's table of keys, rendered from [`FIELDS`].
pub fn markdown_table() -> String {
    let mut s = String::from("| key | type | meaning | csv | ECS |\n|---|---|---|---|---|\n");
    for f in FIELDS {
        let csv = if f.csv.is_empty() {
            "-".to_owned()
        } else {
            f.csv
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ecs = match f.ecs {
            Some(e) => format!("`{e}`"),
            None => format!("`helloscope.{}`", f.key),
        };
        let kind = if f.optional {
            format!("{}, or absent", f.kind)
        } else {
            f.kind.to_owned()
        };
        s.push_str(&format!(
            "| `{}` | {kind} | {} | {csv} | {ecs} |\n",
            f.key, f.doc
        ));
    }
    s
}

/// The markers between which the README holds [`markdown_table`].
pub const README_BEGIN: &str =
    "<!-- generated from src/schema.rs by `cargo run -- schema --write-readme README.md` -->\n";
pub const README_END: &str = "<!-- end of the generated table -->";

/// `readme` with the text between the markers replaced by the table; `None` without markers.
pub fn with_table(readme: &str) -> Option<String> {
    let start = readme.find(README_BEGIN)? + README_BEGIN.len();
    let end = start + readme[start..].find(README_END)?;
    Some(format!(
        "{}{}{}",
        &readme[..start],
        markdown_table(),
        &readme[end..]
    ))
}

/// `helloscope schema`: prints the table, or writes it into `readme` between its markers.
pub fn run(readme: Option<&std::path::Path>) -> Result<std::process::ExitCode, Failure> {
    let Some(path) = readme else {
        print!("{}", markdown_table());
        return Ok(std::process::ExitCode::SUCCESS);
    };
    let fail = |e: std::io::Error| Failure(format!("{}: {e}", path.display()));
    let text = std::fs::read_to_string(path).map_err(fail)?;
    let new = with_table(&text).ok_or_else(|| {
        Failure(format!(
            "{}: no markers {:?} … {README_END:?}",
            path.display(),
            README_BEGIN.trim_end()
        ))
    })?;
    if new != text {
        std::fs::write(path, new).map_err(fail)?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use helloscope_capture::{EndReason, Side, Tunnel, TunnelStack};
    use helloscope_tls::{AlertDescription, AlertLevel, CipherSuite, TlsVersion, Transport};

    use super::*;
    use crate::output::tests::record_with_sni;
    use crate::policy::{Finding, Verdict};
    use crate::stack::{Confidence, Tls12};

    #[test]
    fn readme_table_is_the_schema() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let want = with_table(&readme).expect("README has the table's markers");
        assert!(
            readme == want,
            "README's table of keys is not src/schema.rs's: run \
             `cargo run -- schema --write-readme README.md`"
        );
    }

    #[test]
    fn keys_and_columns_are_unique() {
        let mut keys: Vec<_> = FIELDS.iter().map(|f| f.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), FIELDS.len());
        let mut cols = CSV_HEADER.to_vec();
        cols.sort();
        cols.dedup();
        assert_eq!(cols.len(), CSV_HEADER.len());
        assert_eq!(FIELDS[0].key, "ts", "the first key is always written");
        assert!(!FIELDS[0].optional);
    }

    /// Lengths of each key's value as written for `x`, and the line.
    fn written(w: &mut LineWriter, x: &Flow<'_>) -> (BTreeMap<&'static str, usize>, Vec<u8>) {
        let mut buf = vec![0; w.fields_bound::<false>(x)];
        let mut c = Cursor::new(&mut buf);
        let mut lens = BTreeMap::new();
        let mut prev = 0;
        w.write_fields::<false>(&mut c, x, |k, end| {
            lens.insert(k, end - prev - (k.len() + 4));
            prev = end;
        });
        assert!(!c.overflow);
        let n = c.pos;
        (lens, buf[..n].to_vec())
    }

    /// Every key's value as written is within its bound, and so is the line; the line is
    /// JSON and `write_line` writes it without growing its room.
    fn fits(w: &mut LineWriter, x: &Flow<'_>, seen: &mut BTreeMap<&'static str, usize>) {
        let bounds: BTreeMap<_, _> = bounds_of(w, x).into_iter().collect();
        let (lens, _) = written(w, x);
        for (k, n) in &lens {
            assert!(
                *n <= bounds[k],
                "{k}: {n} bytes over its bound {}",
                bounds[k]
            );
            let longest = seen.entry(k).or_default();
            *longest = (*longest).max(*n);
        }
        let mut line = Vec::new();
        let before = w.regrown;
        w.write_line(&mut line, x.r, x.source, x.eval, x.stack);
        assert_eq!(w.regrown, before, "the line outgrew its room");
        assert!(line.len() + WORD_SLACK <= w.fields_bound::<false>(x) + 2);
        let v: serde_json::Value = serde_json::from_slice(&line).expect("a JSON line");
        assert_eq!(v["source"], x.source);
        let mut ecs = Vec::new();
        w.write_ecs_line(&mut ecs, x.r, x.source, x.eval, x.stack);
        assert_eq!(w.regrown, before, "the ECS document outgrew its room");
        serde_json::from_slice::<serde_json::Value>(&ecs).expect("a JSON document");
    }

    /// The longest value each key can take, against its bound: strings of bytes that escape
    /// to six (`\u0001`) at the longest the parser passes (a server_name or the ALPN list in
    /// an extension of 65535 bytes, 127 versions in supported_versions), every version,
    /// cipher suite and alert value, the longest addresses, timestamps and tunnel layers,
    /// every flag, long policies and stack names.
    #[test]
    fn every_key_fits_its_bound() {
        let mut seen = BTreeMap::new();
        let mut r = record_with_sni("x");
        let worst = "\u{1}".repeat(65_535);
        let mut w = LineWriter::new(&"\"".repeat(300));
        let source = "\\\n".repeat(2000);
        w.set_source(&source);
        r.client_hello.as_mut().unwrap().sni = Some(worst.clone());
        r.client = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"
            .parse()
            .unwrap();
        r.server = "[::ffff:255.255.255.255]:65535".parse().unwrap();
        r.packets = u64::MAX;
        r.first_seen = Duration::new(u64::MAX, 999_999_999);
        let f = &mut r.flags;
        f.midstream = true;
        f.gap = true;
        f.buffer_limit = true;
        f.overlap_conflict = true;
        f.malformed = true;
        f.snaplen_cut = true;
        for t in [
            Tunnel::Erspan3(u16::MAX),
            Tunnel::Erspan2(u16::MAX),
            Tunnel::GtpU(u32::MAX),
            Tunnel::GreKey(u32::MAX),
            Tunnel::Vxlan(u32::MAX),
            Tunnel::Geneve(u32::MAX),
            Tunnel::Mpls(u32::MAX),
        ] {
            r.tunnel = TunnelStack::new();
            for _ in 0..=helloscope_capture::decode::MAX_TUNNELS {
                r.tunnel.push(t);
            }
            fits(&mut w, &Flow::new(&r, &source, None, None), &mut seen);
        }
        // ALPN: many short names, or fewer long ones.
        for (n, len) in [(32_766, 1), (255, 255)] {
            r.client_hello.as_mut().unwrap().alpn = vec!["\u{1}".repeat(len); n].into();
            r.server_hello.as_mut().unwrap().alpn = Some("\u{1}".repeat(255));
            fits(&mut w, &Flow::new(&r, &source, None, None), &mut seen);
        }
        // Every 16-bit value as a version, a cipher suite, and a level and description (the
        // long strings, checked above, left short so that the 65536 lines stay quick).
        r.client_hello.as_mut().unwrap().sni = Some("x".into());
        r.client_hello.as_mut().unwrap().alpn = vec!["h2".to_owned()].into();
        r.server_hello.as_mut().unwrap().alpn = None;
        let longest_version = (0..=u16::MAX)
            .map(TlsVersion::from_wire)
            .max_by_key(|v| v.to_string().len())
            .unwrap();
        r.client_hello.as_mut().unwrap().versions_offered = vec![longest_version; 127].into();
        let mut w = LineWriter::new("gw");
        w.set_source("x");
        for v in 0..=u16::MAX {
            let ch = r.client_hello.as_mut().unwrap();
            ch.version_offered_max = TlsVersion::from_wire(v);
            let sh = r.server_hello.as_mut().unwrap();
            sh.version = TlsVersion::from_wire(v);
            sh.cipher = CipherSuite(v);
            r.outcome = Outcome::Alert {
                level: match v >> 8 {
                    1 => AlertLevel::Warning,
                    2 => AlertLevel::Fatal,
                    l => AlertLevel::Unknown(l as u8),
                },
                description: AlertDescription(v as u8),
                from: Side::Server,
            };
            r.quic_version = Some(u32::from(v) << 16 | u32::from(v));
            r.transport = [Transport::Tcp, Transport::Quic, Transport::Dtls][usize::from(v % 3)];
            r.end = [
                EndReason::Decided,
                EndReason::IdleTimeout,
                EndReason::TableFull,
                EndReason::EndOfCapture,
            ][usize::from(v % 4)];
            let (lens, _) = written(&mut w, &Flow::new(&r, "x", None, None));
            let bounds: BTreeMap<_, _> = bounds_of(&w, &Flow::new(&r, "x", None, None))
                .into_iter()
                .collect();
            for (k, n) in lens {
                assert!(
                    n <= bounds[k],
                    "{k}: {n} bytes over its bound {}",
                    bounds[k]
                );
            }
        }
        let mut w = LineWriter::new(&"\"".repeat(300));
        w.set_source(&source);
        r.client_hello.as_mut().unwrap().sni = Some(worst.clone());
        for q in [0xff00_001d, 0x6b33_43cf, 1, 0x709a_50c4, u32::MAX, 0] {
            r.quic_version = Some(q);
            fits(&mut w, &Flow::new(&r, &source, None, None), &mut seen);
        }
        for o in [
            Outcome::Reset { from: Side::Server },
            Outcome::Closed { from: Side::Client },
            Outcome::NoResponse,
            Outcome::Incomplete,
            Outcome::Established,
            Outcome::Negotiated,
        ] {
            r.outcome = o;
            fits(&mut w, &Flow::new(&r, &source, None, None), &mut seen);
        }
        let eval = Evaluation {
            profile: worst.clone(),
            verdict: Verdict::Failing,
            findings: (0..20)
                .map(|i| Finding {
                    code: "handshake_refused",
                    message: worst.clone(),
                    remediation: (i % 2 == 0).then(|| worst.as_str().into()),
                })
                .collect(),
        };
        let stack = StackMatch::new(
            Some(&worst),
            Some(&worst),
            Confidence::Unknown,
            Tls12::Disabled,
            vec![],
            Some(&worst),
        );
        let x = Flow::new(&r, &source, Some(&eval), Some(&stack));
        fits(&mut w, &x, &mut seen);
        let x = Flow::new(&r, "", Some(&eval), Some(&stack));
        let mut w = LineWriter::default();
        w.set_source("");
        fits(&mut w, &x, &mut seen);
        for f in FIELDS {
            assert!(seen.contains_key(f.key), "{} was never written", f.key);
        }
    }

    /// A line longer than its bound (here a bound of one byte) is written whole all the same,
    /// and counted.
    #[test]
    fn a_line_past_its_bound_is_written_again_and_counted() {
        let r = record_with_sni("a\"b");
        let mut want = Vec::new();
        LineWriter::new("gw").write_line(&mut want, &r, "x.pcap", None, None);
        let mut w = LineWriter::new("gw");
        w.set_source("x.pcap");
        let x = Flow::new(&r, "x.pcap", None, None);
        let mut got = b"kept".to_vec();
        w.emit(&mut got, 1, |w, c| {
            w.write_fields::<false>(c, &x, |_, _| {});
            c.set(0, b'{');
            c.put(b'}');
        });
        assert_eq!(w.regrown, 1);
        assert_eq!(got[..4], *b"kept");
        assert_eq!(
            String::from_utf8_lossy(&got[4..]),
            String::from_utf8_lossy(&want)
        );
    }

    /// The csv row has a cell for every column, and the columns are the keys' in order.
    #[test]
    fn csv_columns_follow_the_keys() {
        let r = record_with_sni("a,b");
        assert_eq!(
            csv_cells(&Flow::new(&r, "x", None, None)).len(),
            CSV_HEADER.len()
        );
        let from_fields: Vec<&str> = FIELDS.iter().flat_map(|f| f.csv.iter().copied()).collect();
        assert_eq!(from_fields, CSV_HEADER);
    }
}
