//! `--format ecs`: the record as an Elastic Common Schema document, one a line, so that Elastic
//! Agent, Filebeat, Logstash and Vector index it without a mapping.
//!
//! ECS fields where ECS has them (`source.*`, `destination.*`, `network.*`, `tls.*`,
//! `event.*`, `observer.*`), everything else under `helloscope.*` with the jsonl key names.
//! Written by hand through the jsonl line's cursor, for the same reason as the jsonl line.
//! `tls.client.supported_ciphers` is not written: records keep the number of suites offered,
//! not the list (JA3's string has their numbers, `helloscope.ja3_string`).

use std::net::IpAddr;

use helloscope_capture::{FlowRecord, Outcome};
use helloscope_tls::TlsVersion;

use super::{line_bound, Cursor, LineWriter};
use crate::policy::Evaluation;
use crate::stack::StackMatch;

/// The ECS version the documents follow (`ecs.version`).
pub const ECS_VERSION: &str = "8.11.0";

/// Room for the ECS document's longer keys and constant parts, over the jsonl line's.
const ECS_ROOM: usize = 1024;

/// ECS `tls.version_protocol` and `tls.version`: `tls` and `1.2` of `TLS 1.2`.
fn protocol_and_number(v: TlsVersion) -> Option<(&'static str, &'static str)> {
    let name = v.name()?;
    [("TLS ", "tls"), ("SSL ", "ssl"), ("DTLS ", "dtls")]
        .into_iter()
        .find_map(|(prefix, protocol)| name.strip_prefix(prefix).map(|n| (protocol, n)))
}

/// ECS `event.outcome`: whether the handshake got through.
fn event_outcome(o: &Outcome) -> &'static str {
    match o {
        Outcome::Established | Outcome::Negotiated => "success",
        Outcome::Alert { .. } | Outcome::Reset { .. } | Outcome::Closed { .. } => "failure",
        Outcome::NoResponse => "failure",
        Outcome::Incomplete | Outcome::ClientUnseen | Outcome::ServerUnseen => "unknown",
        // An outcome added to the library later: not claimed either way.
        _ => "unknown",
    }
}

impl LineWriter {
    /// Appends the ECS document of `r` (without the newline).
    pub fn write_ecs_line(
        &mut self,
        out: &mut Vec<u8>,
        r: &FlowRecord,
        source: &str,
        eval: Option<&Evaluation>,
        stack: Option<&StackMatch>,
    ) {
        if self.source != source {
            self.source = source.to_owned();
            self.source_json = super::escaped(source);
        }
        let ch = r.client_hello.as_ref();
        let sh = r.server_hello.as_ref();
        let bound = line_bound(r, &self.source_json, &self.sensor_json, eval, stack) + ECS_ROOM;
        let mut scratch = std::mem::take(&mut self.scratch);
        if scratch.len() < bound {
            scratch.resize(bound, 0);
        }
        let mut c = Cursor {
            buf: &mut scratch,
            pos: 0,
        };
        c.put_slice(b"{\"@timestamp\":");
        let at = c.pos;
        self.timestamp(&mut c, r.first_seen);
        let at = at..c.pos;
        c.put_slice(b",\"ecs\":{\"version\":\"");
        c.put_slice(ECS_VERSION.as_bytes());
        c.put_slice(b"\"},\"event\":{\"kind\":\"event\",\"category\":[\"network\"],\"type\":[\"connection\",\"protocol\"],\"module\":\"helloscope\",\"dataset\":\"helloscope.flow\",\"outcome\":");
        c.clean(event_outcome(&r.outcome));
        c.put_slice(b",\"start\":");
        // The text of `@timestamp` again.
        c.buf.copy_within(at.clone(), c.pos);
        c.pos += at.len();
        c.put_slice(b",\"end\":");
        self.timestamp(&mut c, r.last_seen);
        c.put_slice(b",\"duration\":");
        let nanos = r.last_seen.saturating_sub(r.first_seen).as_nanos();
        c.decimal(u64::try_from(nanos).unwrap_or(u64::MAX));
        c.put_slice(b"},\"observer\":{\"type\":\"sensor\",\"name\":");
        c.put_slice(&self.sensor_json);
        c.put_slice(b"},\"source\":{\"ip\":");
        c.ip(r.client.ip());
        c.put_slice(b",\"port\":");
        c.decimal(r.client.port().into());
        c.put_slice(b"},\"destination\":{\"ip\":");
        c.ip(r.server.ip());
        c.put_slice(b",\"port\":");
        c.decimal(r.server.port().into());
        c.put_slice(b"},\"network\":{\"transport\":\"tcp\",\"protocol\":\"tls\",\"type\":");
        c.clean(match r.client.ip() {
            IpAddr::V4(_) => "ipv4",
            IpAddr::V6(_) => "ipv6",
        });
        c.put_slice(b"},\"tls\":{\"established\":");
        c.bool(matches!(r.outcome, Outcome::Established));
        if let Some(s) = sh {
            match protocol_and_number(s.version) {
                Some((protocol, number)) => {
                    c.put_slice(b",\"version_protocol\":");
                    c.clean(protocol);
                    c.put_slice(b",\"version\":");
                    c.clean(number);
                }
                None => {
                    c.put_slice(b",\"version\":");
                    c.version(s.version);
                }
            }
            c.put_slice(b",\"cipher\":");
            match self.ecs_cipher_name(s.cipher) {
                Some(n) => c.clean(n),
                None => c.display(s.cipher),
            }
            if let Some(p) = s.alpn.as_deref() {
                c.put_slice(b",\"next_protocol\":");
                c.string(p);
            }
            c.put_slice(b",\"server\":{\"ja3s\":");
            c.clean(&s.ja3s);
            c.put(b'}');
        }
        if let Some(h) = ch {
            c.put_slice(b",\"client\":{");
            let mut first = true;
            let mut key = |c: &mut Cursor<'_>, k: &[u8]| {
                if !first {
                    c.put(b',');
                }
                first = false;
                c.put_slice(k);
            };
            if let Some(sni) = h.sni.as_deref() {
                key(&mut c, b"\"server_name\":");
                c.string(sni);
            }
            if let Some(ja3) = h.ja3.as_deref() {
                key(&mut c, b"\"ja3\":");
                c.clean(ja3);
            }
            c.put(b'}');
        }
        c.put_slice(b"},\"helloscope\":{\"source\":");
        c.put_slice(&self.source_json);
        c.put_slice(b",\"alpn_offered\":[");
        for (i, p) in ch.map_or(&[][..], |c| &c.alpn[..]).iter().enumerate() {
            if i > 0 {
                c.put(b',');
            }
            c.string(p);
        }
        c.put_slice(b"],\"versions_offered\":[");
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
        c.put_slice(b"],\"version_offered_max\":");
        c.opt_version(ch.map(|c| c.version_offered_max));
        c.put_slice(b",\"hello_retry\":");
        c.bool(sh.is_some_and(|s| s.hello_retry));
        c.put_slice(b",\"fallback_scsv\":");
        c.bool(ch.is_some_and(|c| c.fallback_scsv));
        c.put_slice(b",\"ja4\":");
        c.opt_clean(ch.and_then(|c| c.ja4.as_deref()));
        c.put_slice(b",\"ja4s\":");
        c.opt_clean(sh.and_then(|s| s.ja4s.as_deref()));
        c.put_slice(b",\"ja4_r\":");
        c.opt_clean(ch.and_then(|c| c.ja4_r.as_deref()));
        c.put_slice(b",\"ja3_string\":");
        c.opt_clean(ch.and_then(|c| c.ja3_string.as_deref()));
        c.put_slice(b",\"stack\":");
        match stack {
            None => c.put_slice(b"null"),
            Some(s) => c.put_slice(s.json.as_bytes()),
        }
        c.put_slice(b",\"outcome\":");
        c.clean(r.outcome.name());
        c.put_slice(b",\"alert\":");
        match r.outcome {
            Outcome::Alert {
                level,
                description,
                from,
            } => {
                c.put_slice(b"{\"level\":");
                c.display(level);
                c.put_slice(b",\"description\":");
                c.display(description);
                c.put_slice(b",\"from\":");
                c.clean(from.as_str());
                c.put(b'}');
            }
            _ => c.put_slice(b"null"),
        }
        if let Some(e) = eval {
            c.put_slice(b",\"policy\":{\"profile\":");
            c.string(&e.profile);
            c.put_slice(b",\"verdict\":");
            c.clean(e.verdict.as_str());
            c.put_slice(b",\"findings\":[");
            for (i, f) in e.findings.iter().enumerate() {
                if i > 0 {
                    c.put(b',');
                }
                c.put_slice(b"{\"code\":");
                c.string(f.code);
                c.put_slice(b",\"message\":");
                c.string(&f.message);
                c.put_slice(b",\"remediation\":");
                c.opt_string(f.remediation.as_deref());
                c.put(b'}');
            }
            c.put_slice(b"]}");
        }
        c.put_slice(b",\"sslv2_hello\":");
        c.bool(ch.is_some_and(|c| c.sslv2_format));
        c.put_slice(b",\"reset_by\":");
        c.opt_clean(match r.outcome {
            Outcome::Reset { from } => Some(from.as_str()),
            _ => None,
        });
        c.put_slice(b",\"end\":");
        c.clean(r.end.name());
        c.put_slice(b",\"flags\":[");
        for (i, f) in crate::output::flag_names(&r.flags).iter().enumerate() {
            if i > 0 {
                c.put(b',');
            }
            c.clean(f);
        }
        c.put_slice(b"],\"packets\":");
        c.decimal(r.packets);
        c.put_slice(b"}}");
        let written = c.pos;
        out.extend_from_slice(&scratch[..written]);
        self.scratch = scratch;
    }

    /// The suite's registry name, from the writer's cache of recent suites.
    fn ecs_cipher_name(&mut self, suite: helloscope_tls::CipherSuite) -> Option<&'static str> {
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

#[cfg(test)]
mod tests {
    use helloscope_capture::{Analyzer, FlowConfig, PacketSource};

    use super::*;

    #[test]
    fn documents_are_json_with_hostile_names_at_length() {
        let hostile = "\u{1}\"\\".repeat(3000);
        let procore = crate::policy::Policy::builtin("procore").unwrap();
        let db = crate::stack::StackDb::builtin();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/libraries.pcap");
        let mut src = PacketSource::open_file(path).unwrap();
        let mut a = Analyzer::new(FlowConfig::default());
        let mut records = Vec::new();
        let mut emit = |r: FlowRecord| records.push(r);
        a.run(&mut src, &mut emit).unwrap();
        a.finish(&mut emit);
        assert!(!records.is_empty());
        let mut w = LineWriter::new(&hostile);
        for r in &records {
            let stack = r.client_hello.as_ref().map(|c| db.name(c));
            let mut out = Vec::new();
            w.write_ecs_line(
                &mut out,
                r,
                &hostile,
                procore.evaluate(r).as_ref(),
                stack.as_deref(),
            );
            let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(doc["observer"]["name"], hostile.as_str());
            assert_eq!(doc["helloscope"]["source"], hostile.as_str());
            assert_eq!(doc["@timestamp"], doc["event"]["start"]);
            assert_eq!(doc["source"]["ip"], r.client.ip().to_string());
        }
    }

    #[test]
    fn versions_split_as_ecs_asks() {
        assert_eq!(protocol_and_number(TlsVersion::Tls12), Some(("tls", "1.2")));
        assert_eq!(protocol_and_number(TlsVersion::Ssl3), Some(("ssl", "3.0")));
        assert_eq!(protocol_and_number(TlsVersion::Tls13Draft(23)), None);
    }
}
