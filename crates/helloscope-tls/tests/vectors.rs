//! Real hellos from real peers (testdata/), checked field by field against tshark's dissection
//! of the same bytes (testdata/tshark-values.json).

use helloscope_tls::{
    ja3, ja3s, parse_client_hello_record, parse_handshake, parse_record, ContentType,
    HandshakeType, NamedGroup, ServerHello, TlsVersion,
};
use serde_json::Value;

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn tshark(name: &str) -> Value {
    let v: Value = serde_json::from_slice(&testdata("tshark-values.json")).unwrap();
    v["values"][name].clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn hex16(s: &str) -> u16 {
    u16::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn client_hellos_match_tshark() {
    for name in [
        "curl-7.88.1-clienthello.bin",
        "chromium-156-clienthello.bin",
        "gnutls-3.7.9-clienthello.bin",
    ] {
        let bytes = testdata(name);
        let t = tshark(name);
        let h = parse_client_hello_record(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!h.extensions_malformed(), "{name}");
        let j = ja3(&h);
        assert_eq!(
            j.string, t["tls.handshake.ja3_full"][0],
            "{name} ja3 string"
        );
        assert_eq!(j.hash(), t["tls.handshake.ja3"][0], "{name} ja3");
        assert_eq!(
            h.server_name_str(),
            t["tls.handshake.extensions_server_name"][0].as_str(),
            "{name} sni"
        );
        let suites: Vec<u16> = h.cipher_suites().map(|c| c.0).collect();
        let want: Vec<u16> = strings(&t["tls.handshake.ciphersuite"])
            .iter()
            .map(|s| hex16(s))
            .collect();
        assert_eq!(
            suites, want,
            "{name} cipher suites, GREASE included, in wire order"
        );
        let exts: Vec<u16> = h.extensions().map(|e| e.ext_type.0).collect();
        let want: Vec<u16> = strings(&t["tls.handshake.extension.type"])
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(exts, want, "{name} extension types in wire order");
        let sv: Vec<u16> = h
            .supported_versions()
            .map(|v| v.map(|v| v.to_wire()).collect())
            .unwrap_or_default();
        let want: Vec<u16> = strings(&t["tls.handshake.extensions.supported_version"])
            .iter()
            .map(|s| hex16(s))
            .collect();
        assert_eq!(sv, want, "{name} supported_versions");
        let alpn: Vec<String> = h
            .alpn()
            .map(|n| n.map(|p| String::from_utf8_lossy(p).into_owned()).collect())
            .unwrap_or_default();
        assert_eq!(
            alpn,
            strings(&t["tls.handshake.extensions_alpn_str"]),
            "{name} alpn"
        );
        assert_eq!(h.highest_version(), TlsVersion::Tls13, "{name}");
        assert!(!h.offered_versions().iter().any(|v| v.is_grease()));
    }
}

#[test]
fn chromium_greases_and_grease_is_left_out_of_ja4() {
    let bytes = testdata("chromium-156-clienthello.bin");
    let h = parse_client_hello_record(&bytes).unwrap();
    assert!(
        h.cipher_suites().next().unwrap().is_grease(),
        "Chromium leads with GREASE"
    );
    assert!(h
        .key_share_groups()
        .unwrap()
        .any(|g| g == NamedGroup::X25519MLKEM768));
    let fp = helloscope_tls::ja4(&h, helloscope_tls::Transport::Tcp);
    // tshark lists 16 suites and 19 extensions; without GREASE that is 15 and 17.
    assert_eq!(fp.a(), "t13d1517h2");
    let raw = helloscope_tls::ja4_r(&h, helloscope_tls::Transport::Tcp);
    assert!(!raw.contains("caca") && !raw.contains("6a6a"), "{raw}");
}

#[test]
fn hello_retry_request_from_openssl() {
    let bytes = testdata("openssl-3.0-hello-retry-request.bin");
    let t = tshark("openssl-3.0-hello-retry-request.bin");
    let (rec, rest) = parse_record(&bytes).unwrap();
    assert_eq!(rec.content_type, ContentType::Handshake);
    let (msg, _) = parse_handshake(rec.fragment, 1 << 16).unwrap();
    assert_eq!(msg.msg_type, HandshakeType::SERVER_HELLO);
    let sh = ServerHello::parse(msg.body).unwrap();
    assert!(sh.is_hello_retry_request());
    assert_eq!(sh.selected_version(), TlsVersion::Tls13);
    assert_eq!(
        sh.key_share_group(),
        Some(NamedGroup::SECP384R1),
        "the server asks for P-384"
    );
    let j = ja3s(&sh);
    assert_eq!(j.string, t["tls.handshake.ja3s_full"][0]);
    assert_eq!(j.hash(), t["tls.handshake.ja3s"][0]);
    // The middlebox-compatibility ChangeCipherSpec follows.
    let (ccs, _) = parse_record(rest).unwrap();
    assert_eq!(ccs.content_type, ContentType::ChangeCipherSpec);
}
