//! JA3, JA3S, JA4 (all forms) and JA4S of anything that parses as a hello.
#![no_main]
use helloscope_tls::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = ClientHello::parse(data) {
        let j = ja3(&h);
        assert_eq!(j.hash().len(), 32);
        let (fp, raw) = ja4_with_raw(&h, Transport::Tcp);
        assert_eq!(fp.as_str().len(), 36);
        assert_eq!(fp, ja4(&h, Transport::Tcp));
        assert_eq!(raw, ja4_r(&h, Transport::Tcp));
        let _ = (ja4_o(&h, Transport::Quic), ja4_ro(&h, Transport::Dtls));
    }
    if let Ok(s) = ServerHello::parse(data) {
        let _ = ja3s(&s);
        assert_eq!(ja4s(&s, Transport::Tcp).as_str().len(), 25);
        let _ = ja4s_r(&s, Transport::Tcp);
    }
});
