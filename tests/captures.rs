//! End to end over the project's own captures: every flow of `captures/expected.jsonl`
//! (recorded from real clients by captures/record.sh, with values from the scenario and
//! tshark) comes out of the library with the expected values, fingerprints included (JA3,
//! JA3S from tshark; JA4, JA4_r from tshark's dissection per FoxIO's specification).

use std::collections::HashMap;
use std::path::Path;

use helloscope_capture::{Analyzer, FlowConfig, FlowRecord, Outcome, PacketSource};
use serde_json::Value;

fn captures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/captures"))
}

fn analyze(file: &str) -> Vec<FlowRecord> {
    let mut src = PacketSource::open_file(captures().join(file).to_str().unwrap()).unwrap();
    let mut a = Analyzer::new(FlowConfig::default());
    let mut out = Vec::new();
    a.run(&mut src, &mut |r| out.push(r)).unwrap();
    a.finish(&mut |r| out.push(r));
    out
}

fn expected() -> Vec<Value> {
    std::fs::read_to_string(captures().join("expected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_recorded_flow_matches_its_scenario() {
    let exp = expected();
    assert!(
        exp.len() >= 25,
        "captures/expected.jsonl holds {} flows",
        exp.len()
    );
    let mut by_file: HashMap<String, Vec<FlowRecord>> = HashMap::new();
    let mut reported = 0;
    for e in &exp {
        let file = e["file"].as_str().unwrap();
        let flows = by_file.entry(file.to_owned()).or_insert_with(|| {
            let f = analyze(file);
            reported += f.len();
            f
        });
        let port = e["client_port"].as_u64().unwrap() as u16;
        let ip = e["client_ip"].as_str().unwrap();
        let who = format!("{file} {ip}:{port} ({})", e["client"]);
        let r = flows
            .iter()
            .find(|r| r.client.port() == port && r.client.ip().to_string() == ip)
            .unwrap_or_else(|| panic!("{who}: not reported"));
        let ch = r
            .client_hello
            .as_ref()
            .unwrap_or_else(|| panic!("{who}: no ClientHello"));
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
            sh.map(|s| s.cipher.to_string()).as_deref(),
            e["cipher"].as_str(),
            "{who} cipher"
        );
        let alpn: Vec<String> = serde_json::from_value(e["alpn_offered"].clone()).unwrap();
        assert_eq!(&ch.alpn[..], &alpn[..], "{who} alpn offered");
        assert_eq!(
            sh.and_then(|s| s.alpn.as_deref()),
            e["alpn"].as_str(),
            "{who} alpn"
        );
        assert_eq!(
            sh.is_some_and(|s| s.hello_retry),
            e["hello_retry"].as_bool().unwrap(),
            "{who} hrr"
        );
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
        // Fingerprints, in full: JA3 and JA3S (and their strings) as tshark computes them,
        // JA4 and JA4_r computed by make_expected.py from tshark's dissection per FoxIO's spec.
        for (key, got) in [
            ("ja3", ch.ja3.as_deref()),
            ("ja3_string", ch.ja3_string.as_deref()),
            ("ja4", ch.ja4.as_deref()),
            ("ja4_r", ch.ja4_r.as_deref()),
            ("ja3s", sh.map(|s| &*s.ja3s)),
            ("ja3s_string", sh.map(|s| &*s.ja3s_string)),
        ] {
            assert!(
                e.get(key).is_some(),
                "{who}: captures/expected.jsonl has no {key}: run captures/make_expected.py"
            );
            assert_eq!(got, e[key].as_str(), "{who} {key}");
        }
    }
    assert_eq!(
        reported,
        exp.len(),
        "every reported flow is in the answer key, and only those"
    );
}

/// One client build gives one JA4 across its connections, whatever GREASE it drew: the two
/// Chromium connections (different GREASE values, permuted extensions) share one JA4.
#[test]
fn chromium_connections_share_one_ja4() {
    let flows = analyze("ipv6.pcap");
    let chromium: Vec<&FlowRecord> = flows.iter().filter(|r| r.server.port() == 4442).collect();
    assert!(chromium.len() >= 2, "two Chromium connections expected");
    let ja4: Vec<&str> = chromium
        .iter()
        .map(|r| r.client_hello.as_ref().unwrap().ja4.as_deref().unwrap())
        .collect();
    assert!(ja4.iter().all(|j| *j == ja4[0]), "{ja4:?}");
    // Chromium sends GREASE and ECH GREASE (and a post-quantum key share).
    let ch = chromium[0].client_hello.as_ref().unwrap();
    assert!(ch.grease);
    assert!(ch.extensions.contains(&0xfe0d), "encrypted_client_hello");
    assert_eq!(ja4[0].len(), 36);
}

/// Each link type of the captures decodes: Ethernet (tcpdump on lo), SLL2 (`-i any`),
/// SLL (`-y LINUX_SLL`), and pcapng.
#[test]
fn link_types_of_the_captures() {
    use helloscope_capture::LinkType;
    for (file, link) in [
        ("openssl.pcap", LinkType::Ethernet),
        ("curl.pcapng", LinkType::Ethernet),
        ("libraries.pcap", LinkType::LinuxSll2),
        ("ipv6.pcap", LinkType::LinuxSll),
    ] {
        let src = PacketSource::open_file(captures().join(file).to_str().unwrap()).unwrap();
        assert_eq!(src.link_type(), link, "{file}");
        assert!(!analyze(file).is_empty(), "{file}");
    }
}
