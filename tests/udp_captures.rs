//! End to end over the project's QUIC and DTLS captures: every flow of
//! `captures/expected_udp.jsonl` (recorded from aioquic, openssl and gnutls-cli by
//! captures/record_udp.sh, with values from the scenario and tshark's dissection, JA3 from
//! tshark and JA4 computed from tshark's fields) comes out of the library with those values.

use std::collections::HashMap;
use std::path::Path;

use helloscope_capture::{Analyzer, FlowConfig, FlowRecord, Outcome, PacketSource};
use serde_json::Value;

fn captures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/captures"))
}

fn analyze(file: &str) -> (Vec<FlowRecord>, helloscope_capture::Stats) {
    let mut src = PacketSource::open_file(captures().join(file).to_str().unwrap()).unwrap();
    let mut a = Analyzer::new(FlowConfig::default());
    let mut out = Vec::new();
    a.run(&mut src, &mut |r| out.push(r)).unwrap();
    a.finish(&mut |r| out.push(r));
    (out, a.stats().clone())
}

#[test]
fn every_recorded_quic_and_dtls_flow_matches_its_scenario() {
    let exp: Vec<Value> = std::fs::read_to_string(captures().join("expected_udp.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        exp.len() >= 12,
        "expected_udp.jsonl holds {} flows",
        exp.len()
    );
    let mut by_file: HashMap<String, Vec<FlowRecord>> = HashMap::new();
    let mut reported = 0;
    let mut by_transport: HashMap<String, usize> = HashMap::new();
    for e in &exp {
        let file = e["file"].as_str().unwrap();
        let flows = by_file.entry(file.to_owned()).or_insert_with(|| {
            let (f, _) = analyze(file);
            reported += f.len();
            f
        });
        let port = e["client_port"].as_u64().unwrap() as u16;
        let who = format!("{file} :{port} ({})", e["client"]);
        let r = flows
            .iter()
            .find(|r| r.client.port() == port && r.client.ip().to_string() == e["client_ip"])
            .unwrap_or_else(|| panic!("{who}: not reported"));
        assert_eq!(
            r.server.port() as u64,
            e["server_port"].as_u64().unwrap(),
            "{who}"
        );
        assert_eq!(
            r.transport.name(),
            e["transport"].as_str().unwrap(),
            "{who} transport"
        );
        *by_transport.entry(r.transport.name().into()).or_default() += 1;
        assert_eq!(
            r.quic_version
                .map(|v| helloscope_tls::quic::QuicVersion(v).to_string())
                .as_deref(),
            e["quic_version"].as_str(),
            "{who} quic_version"
        );
        let ch = r
            .client_hello
            .as_ref()
            .unwrap_or_else(|| panic!("{who}: no hello"));
        let sh = r.server_hello.as_ref();
        assert_eq!(ch.sni.as_deref(), e["sni"].as_str(), "{who} sni");
        let offered: Vec<String> = ch.versions_offered.iter().map(|v| v.to_string()).collect();
        let want: Vec<String> = serde_json::from_value(e["versions_offered"].clone()).unwrap();
        assert_eq!(offered, want, "{who} versions offered");
        assert_eq!(
            ch.version_offered_max.to_string(),
            e["version_offered_max"].as_str().unwrap(),
            "{who}"
        );
        assert_eq!(
            sh.map(|s| s.version.to_string()).as_deref(),
            e["version"].as_str(),
            "{who} version"
        );
        assert_eq!(
            sh.map(|s| format!("0x{:04x}", s.cipher.0)).as_deref(),
            e["cipher"].as_str(),
            "{who} cipher"
        );
        let alpn: Vec<String> = serde_json::from_value(e["alpn_offered"].clone()).unwrap();
        assert_eq!(&ch.alpn[..], &alpn[..], "{who} alpn offered");
        assert_eq!(ch.ja3.as_deref(), e["ja3"].as_str(), "{who} ja3");
        assert_eq!(
            ch.ja3_string.as_deref(),
            e["ja3_string"].as_str(),
            "{who} ja3_string"
        );
        assert_eq!(ch.ja4.as_deref(), e["ja4"].as_str(), "{who} ja4");
        assert_eq!(
            r.outcome.name(),
            e["outcome"].as_str().unwrap(),
            "{who} outcome"
        );
        if let Outcome::Alert {
            description, from, ..
        } = r.outcome
        {
            assert_eq!(
                description.to_string(),
                e["alert"]["description"].as_str().unwrap(),
                "{who}"
            );
            assert_eq!(from.as_str(), e["alert"]["from"].as_str().unwrap(), "{who}");
        }
        assert!(!r.flags.malformed, "{who}: flagged malformed");
    }
    assert_eq!(
        reported,
        exp.len(),
        "every reported flow is in the answer key, and only those"
    );
    assert!(
        by_transport["quic"] >= 6 && by_transport["dtls"] >= 6,
        "{by_transport:?}"
    );
}

/// The counters say what the captures hold: every datagram read as UDP, one flow per
/// handshake, no Initial that failed to open.
#[test]
fn udp_counters() {
    let (flows, s) = analyze("quic.pcap");
    assert_eq!(s.flows_quic, flows.len() as u64);
    assert_eq!(s.udp_datagrams, s.packets);
    assert_eq!(s.quic_initials_undecryptable, 0);
    assert_eq!(s.udp_not_handshake, 0);
    let (flows, s) = analyze("dtls.pcap");
    assert_eq!(s.flows_dtls, flows.len() as u64);
    assert_eq!(s.flows_quic, 0);
}
