//! `--format ecs`: the record as an Elastic Common Schema document, one a line, so that Elastic
//! Agent, Filebeat, Logstash and Vector index it without a mapping.
//!
//! ECS fields where ECS has them (`source.*`, `destination.*`, `network.*`, `tls.*`,
//! `event.*`, `observer.*`; the keys whose `ecs` in [`crate::schema`] names a field), every
//! other key under `helloscope.*` as jsonl writes it, from the schema.
//! Written by hand through the jsonl line's cursor, for the same reason as the jsonl line.
//! `tls.client.supported_ciphers` is not written: records keep the number of suites offered,
//! not the list (JA3's string has their numbers, `helloscope.ja3_string`).

use helloscope_capture::{FlowRecord, Outcome};
use helloscope_tls::{TlsVersion, Transport};

use super::{Cursor, LineOut, LineWriter};
use crate::policy::Evaluation;
use crate::schema::{network_type, Flow};
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
    pub(crate) fn write_ecs_line(
        &mut self,
        out: &mut impl LineOut,
        r: &FlowRecord,
        source: &str,
        eval: Option<&Evaluation>,
        stack: Option<&StackMatch>,
    ) {
        self.set_source(source);
        let x = Flow::new(r, source, eval, stack);
        let bound = self.fields_bound::<false>(&x) + ECS_ROOM;
        out.emit_line(self, bound, |w, c| w.ecs_document(c, &x));
    }

    fn ecs_document(&mut self, c: &mut Cursor<'_>, x: &Flow<'_>) {
        let (r, ch, sh) = (x.r, x.ch, x.sh);
        c.put_slice(b"{\"@timestamp\":");
        let at = c.pos;
        self.timestamp(c, r.first_seen);
        let at = at..c.pos;
        c.put_slice(b",\"ecs\":{\"version\":\"");
        c.put_slice(ECS_VERSION.as_bytes());
        c.put_slice(b"\"},\"event\":{\"kind\":\"event\",\"category\":[\"network\"],\"type\":[\"connection\",\"protocol\"],\"module\":\"helloscope\",\"dataset\":\"helloscope.flow\",\"outcome\":");
        c.clean(event_outcome(&r.outcome));
        c.put_slice(b",\"start\":");
        // The text of `@timestamp` again.
        c.copy_within(at);
        c.put_slice(b",\"end\":");
        self.timestamp(c, r.last_seen);
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
        // The transport layer: QUIC and DTLS run over UDP (`helloscope.transport` says which).
        c.put_slice(b"},\"network\":{\"transport\":");
        c.clean(match r.transport {
            Transport::Tcp => "tcp",
            Transport::Quic | Transport::Dtls => "udp",
            // A transport added to the library later: not claimed either way.
            _ => "unknown",
        });
        c.put_slice(b",\"protocol\":\"tls\",\"type\":");
        c.clean(network_type(r.client.ip()));
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
            match self.cipher_name(s.cipher) {
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
                key(c, b"\"server_name\":");
                c.string(sni);
            }
            if let Some(ja3) = h.ja3.as_deref() {
                key(c, b"\"ja3\":");
                c.clean(ja3);
            }
            c.put(b'}');
        }
        // Every key without an ECS field of its own, as in jsonl; the first one's comma
        // becomes the brace.
        c.put_slice(b"},\"helloscope\":");
        let start = c.pos;
        self.write_fields::<true>(c, x, |_, _| {});
        c.set(start, b'{');
        c.put_slice(b"}}");
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
