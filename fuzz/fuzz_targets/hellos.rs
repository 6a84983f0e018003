//! ClientHello, ServerHello and SSLv2 hello parsers, and every typed extension reader.
#![no_main]
use helloscope_tls::{extensions as x, ClientHello, ServerHello, Sslv2ClientHello};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = ClientHello::parse(data) {
        let _ = (h.server_name(), h.alpn().map(|a| a.count()), h.offered_versions());
        let _ = (h.supported_groups().map(|g| g.count()), h.signature_algorithms().map(|s| s.count()));
        let _ = (h.key_share_groups().map(|k| k.count()), h.ec_point_formats(), h.highest_version());
        for e in h.extensions() {
            let d = e.data;
            let _ = (x::parse_server_name(d), x::parse_alpn(d).map(|a| a.count()));
            let _ = (x::parse_supported_versions_client(d).map(|v| v.count()), x::parse_supported_versions_server(d));
            let _ = (x::parse_supported_groups(d).map(|v| v.count()), x::parse_ec_point_formats(d));
            let _ = (x::parse_signature_algorithms(d).map(|v| v.count()), x::parse_key_share_client(d).map(|v| v.count()));
            let _ = (x::parse_key_share_server(d), x::parse_pre_shared_key_client(d), x::parse_psk_key_exchange_modes(d));
            let _ = (x::parse_encrypted_client_hello(d), x::parse_renegotiation_info(d), x::parse_padding(d));
        }
    }
    if let Ok(s) = ServerHello::parse(data) {
        let _ = (s.selected_version(), s.alpn(), s.key_share_group(), s.downgrade_sentinel(), s.is_hello_retry_request());
    }
    if let Ok((h, _)) = Sslv2ClientHello::parse(data) {
        let _ = h.cipher_specs().count();
    }
    let _ = helloscope_tls::parse_client_hello_record(data);
});
