//! # helloscope-tls
//!
//! Zero-copy parsing of the cleartext part of TLS: records, handshake messages, ClientHello,
//! ServerHello and HelloRetryRequest, the SSLv2-compatible hello, alerts, and what they say
//! about protocol versions; plus the JA3, JA3S, JA4 and (feature `ja4s`) JA4S fingerprints.
//!
//! Parsed values borrow from the input. There is no I/O and no packet code: feed it the bytes
//! of one direction of a TCP stream (or the fragments of its handshake records).
//!
//! ```
//! use helloscope_tls::{parse_client_hello_record, ja4, Transport};
//! # let bytes: &[u8] = helloscope_tls::doc_sample::CURL_CLIENT_HELLO;
//! // `bytes`: the first bytes a TLS client sent on a connection (here, curl 7.88.1).
//! let hello = parse_client_hello_record(bytes)?;
//! println!("{} offers up to {}", hello.server_name_str().unwrap_or("?"), hello.highest_version());
//! println!("JA4 {}", ja4(&hello, Transport::Tcp));
//! assert_eq!(hello.highest_version().to_string(), "TLS 1.3");
//! # Ok::<(), helloscope_tls::Error>(())
//! ```
//!
//! ## Versions
//! [`TlsVersion`] names every version on the wire. A ClientHello's offer is its
//! supported_versions extension when present, else its `legacy_version`
//! ([`ClientHello::offered_versions`]); a ServerHello's choice is its supported_versions
//! extension when present, else its `legacy_version` ([`ServerHello::selected_version`]).
//!
//! ## Fingerprints and where this crate departs from reference tools
//! JA3/JA3S follow Salesforce's definition; JA4/JA4S follow FoxIO's technical details. Where
//! FoxIO's reference implementation departs from its own specification, this crate follows the
//! specification (see [`fingerprint::ja4`]): GREASE is ignored in signature algorithms too, and a
//! non-alphanumeric ALPN value is represented by its hex characters, not `99`.
//!
//! An SSLv2-format hello has no published JA3 or JA4 definition, so none is computed for it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alert;
pub mod client_hello;
pub mod dtls;
pub mod error;
pub mod extensions;
pub mod fingerprint;
pub mod grease;
pub mod handshake;
pub mod quic;
pub mod record;
pub mod registry;
pub mod server_hello;
pub mod sslv2;
pub mod version;

pub use alert::{Alert, AlertDescription, AlertLevel};
pub use client_hello::{parse_client_hello_record, ClientHello};
pub use error::{Error, Structure};
pub use extensions::{Extension, Extensions};
pub use fingerprint::ja3::{ja3, ja3s, Ja3};
pub use fingerprint::ja4::{ja4, ja4_o, ja4_r, ja4_ro, ja4_with_raw, Ja4};
#[cfg(feature = "ja4s")]
pub use fingerprint::ja4s::{ja4s, ja4s_r, Ja4s};
pub use fingerprint::Transport;
pub use grease::{is_grease_u16, is_grease_u8};
pub use handshake::{parse_handshake, HandshakeMessage, HandshakeReassembler, HandshakeType};
pub use record::{
    parse_record, parse_record_header, ContentType, Record, RecordHeader, Records,
    MAX_FRAGMENT_LEN, RECORD_HEADER_LEN,
};
pub use registry::{CipherSuite, ExtensionType, NamedGroup, SignatureScheme, U16List};
pub use server_hello::{DowngradeSentinel, ServerHello, HELLO_RETRY_REQUEST_RANDOM};
pub use sslv2::Sslv2ClientHello;
pub use version::TlsVersion;

/// Real hello bytes used by the examples in this documentation.
#[doc(hidden)]
pub mod doc_sample {
    /// The first flight of curl 7.88.1 (OpenSSL 3.0) to `api.procore.com` on loopback.
    pub const CURL_CLIENT_HELLO: &[u8] = include_bytes!("../testdata/curl-7.88.1-clienthello.bin");

    /// The client Initial of RFC 9001 Appendix A.2, a whole 1200-byte UDP payload.
    pub fn quic_client_initial() -> Vec<u8> {
        hex(include_str!(
            "../testdata/quic/rfc9001-a2-client-initial.hex"
        ))
    }

    /// Bytes from hex text, whitespace ignored.
    pub fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text
            .bytes()
            .filter(u8::is_ascii_hexdigit)
            .map(|b| (b as char).to_digit(16).unwrap_or(0) as u8)
            .collect();
        digits
            .chunks(2)
            .map(|p| p[0] << 4 | p.get(1).copied().unwrap_or(0))
            .collect()
    }
}
