//! IANA TLS registries as 16-bit newtypes: one type per registry, with the values this crate
//! reasons about as constants, GREASE recognition and names where a well-kept table exists.

use core::fmt;

use crate::grease::is_grease_u16;

macro_rules! registry {
    (
        $(#[$doc:meta])*
        $name:ident { $( $(#[$cdoc:meta])* $const:ident = $val:expr, $text:expr; )* }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u16);

        impl $name {
            $( $(#[$cdoc])* pub const $const: $name = $name($val); )*

            /// True for a GREASE value (RFC 8701).
            #[inline]
            pub const fn is_grease(self) -> bool {
                is_grease_u16(self.0)
            }

            /// The registry's name for the values this crate knows.
            pub fn known_name(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some($text), )*
                    _ => None,
                }
            }
        }

        impl From<u16> for $name {
            fn from(v: u16) -> Self {
                $name(v)
            }
        }
    };
}

registry! {
    /// A cipher suite (IANA "TLS Cipher Suites"). Names come from tls-parser's table, which is
    /// generated from the IANA registry.
    ///
    /// ```
    /// use helloscope_tls::CipherSuite;
    /// assert_eq!(CipherSuite(0x1301).name(), Some("TLS_AES_128_GCM_SHA256"));
    /// assert!(CipherSuite::TLS_FALLBACK_SCSV.is_signalling());
    /// ```
    CipherSuite {
        /// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3).
        TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV";
        /// TLS_FALLBACK_SCSV (RFC 7507): the client is retrying with a lower version.
        TLS_FALLBACK_SCSV = 0x5600, "TLS_FALLBACK_SCSV";
    }
}

impl CipherSuite {
    /// The IANA name, from tls-parser's table; `None` for GREASE and unassigned values.
    pub fn name(self) -> Option<&'static str> {
        if let Some(n) = self.known_name() {
            return Some(n);
        }
        tls_parser::TlsCipherSuite::from_id(self.0).map(|c| c.name)
    }

    /// True for the two signalling values that are not ciphers (SCSVs).
    pub const fn is_signalling(self) -> bool {
        matches!(self.0, 0x00ff | 0x5600)
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

/// Display for a registry whose unnamed values are shown as hex (and GREASE as such).
macro_rules! display_by_name {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.known_name() {
                    Some(n) => f.write_str(n),
                    None if self.is_grease() => write!(f, "GREASE 0x{:04x}", self.0),
                    None => write!(f, "0x{:04x}", self.0),
                }
            }
        }
    )*};
}

registry! {
    /// An extension type (IANA "TLS ExtensionType Values").
    ///
    /// ```
    /// use helloscope_tls::ExtensionType;
    /// assert_eq!(ExtensionType(0x002b), ExtensionType::SUPPORTED_VERSIONS);
    /// assert_eq!(ExtensionType::SUPPORTED_VERSIONS.to_string(), "supported_versions");
    /// ```
    ExtensionType {
        /// server_name (RFC 6066).
        SERVER_NAME = 0x0000, "server_name";
        /// status_request (RFC 6066).
        STATUS_REQUEST = 0x0005, "status_request";
        /// supported_groups (RFC 8422, RFC 7919).
        SUPPORTED_GROUPS = 0x000a, "supported_groups";
        /// ec_point_formats (RFC 8422).
        EC_POINT_FORMATS = 0x000b, "ec_point_formats";
        /// signature_algorithms (RFC 8446).
        SIGNATURE_ALGORITHMS = 0x000d, "signature_algorithms";
        /// use_srtp (RFC 5764).
        USE_SRTP = 0x000e, "use_srtp";
        /// heartbeat (RFC 6520).
        HEARTBEAT = 0x000f, "heartbeat";
        /// application_layer_protocol_negotiation (RFC 7301).
        ALPN = 0x0010, "application_layer_protocol_negotiation";
        /// signed_certificate_timestamp (RFC 6962).
        SIGNED_CERTIFICATE_TIMESTAMP = 0x0012, "signed_certificate_timestamp";
        /// padding (RFC 7685).
        PADDING = 0x0015, "padding";
        /// encrypt_then_mac (RFC 7366).
        ENCRYPT_THEN_MAC = 0x0016, "encrypt_then_mac";
        /// extended_master_secret (RFC 7627).
        EXTENDED_MASTER_SECRET = 0x0017, "extended_master_secret";
        /// compress_certificate (RFC 8879).
        COMPRESS_CERTIFICATE = 0x001b, "compress_certificate";
        /// record_size_limit (RFC 8449).
        RECORD_SIZE_LIMIT = 0x001c, "record_size_limit";
        /// session_ticket (RFC 5077).
        SESSION_TICKET = 0x0023, "session_ticket";
        /// pre_shared_key (RFC 8446).
        PRE_SHARED_KEY = 0x0029, "pre_shared_key";
        /// early_data (RFC 8446).
        EARLY_DATA = 0x002a, "early_data";
        /// supported_versions (RFC 8446).
        SUPPORTED_VERSIONS = 0x002b, "supported_versions";
        /// cookie (RFC 8446).
        COOKIE = 0x002c, "cookie";
        /// psk_key_exchange_modes (RFC 8446).
        PSK_KEY_EXCHANGE_MODES = 0x002d, "psk_key_exchange_modes";
        /// post_handshake_auth (RFC 8446).
        POST_HANDSHAKE_AUTH = 0x0031, "post_handshake_auth";
        /// signature_algorithms_cert (RFC 8446).
        SIGNATURE_ALGORITHMS_CERT = 0x0032, "signature_algorithms_cert";
        /// key_share (RFC 8446).
        KEY_SHARE = 0x0033, "key_share";
        /// quic_transport_parameters (RFC 9001).
        QUIC_TRANSPORT_PARAMETERS = 0x0039, "quic_transport_parameters";
        /// application_settings (ALPS, draft, as Chromium sends it).
        APPLICATION_SETTINGS_OLD = 0x4469, "application_settings";
        /// application_settings (ALPS, new code point).
        APPLICATION_SETTINGS = 0x44cd, "application_settings";
        /// encrypted_client_hello (draft-ietf-tls-esni).
        ENCRYPTED_CLIENT_HELLO = 0xfe0d, "encrypted_client_hello";
        /// renegotiation_info (RFC 5746).
        RENEGOTIATION_INFO = 0xff01, "renegotiation_info";
    }
}

registry! {
    /// A named group (IANA "TLS Supported Groups"), as in supported_groups and key_share.
    ///
    /// ```
    /// use helloscope_tls::NamedGroup;
    /// assert_eq!(NamedGroup(0x11ec).to_string(), "X25519MLKEM768");
    /// ```
    NamedGroup {
        /// secp256r1.
        SECP256R1 = 0x0017, "secp256r1";
        /// secp384r1.
        SECP384R1 = 0x0018, "secp384r1";
        /// secp521r1.
        SECP521R1 = 0x0019, "secp521r1";
        /// x25519.
        X25519 = 0x001d, "x25519";
        /// x448.
        X448 = 0x001e, "x448";
        /// ffdhe2048.
        FFDHE2048 = 0x0100, "ffdhe2048";
        /// ffdhe3072.
        FFDHE3072 = 0x0101, "ffdhe3072";
        /// ffdhe4096.
        FFDHE4096 = 0x0102, "ffdhe4096";
        /// ffdhe6144.
        FFDHE6144 = 0x0103, "ffdhe6144";
        /// ffdhe8192.
        FFDHE8192 = 0x0104, "ffdhe8192";
        /// X25519MLKEM768 (post-quantum hybrid).
        X25519MLKEM768 = 0x11ec, "X25519MLKEM768";
        /// X25519Kyber768Draft00 (pre-standard post-quantum hybrid).
        X25519KYBER768_DRAFT00 = 0x6399, "X25519Kyber768Draft00";
    }
}

registry! {
    /// A signature scheme (IANA "TLS SignatureScheme"), as in signature_algorithms.
    ///
    /// ```
    /// use helloscope_tls::SignatureScheme;
    /// assert_eq!(SignatureScheme(0x0804).to_string(), "rsa_pss_rsae_sha256");
    /// ```
    SignatureScheme {
        /// rsa_pkcs1_sha1.
        RSA_PKCS1_SHA1 = 0x0201, "rsa_pkcs1_sha1";
        /// ecdsa_sha1.
        ECDSA_SHA1 = 0x0203, "ecdsa_sha1";
        /// rsa_pkcs1_sha256.
        RSA_PKCS1_SHA256 = 0x0401, "rsa_pkcs1_sha256";
        /// ecdsa_secp256r1_sha256.
        ECDSA_SECP256R1_SHA256 = 0x0403, "ecdsa_secp256r1_sha256";
        /// rsa_pkcs1_sha384.
        RSA_PKCS1_SHA384 = 0x0501, "rsa_pkcs1_sha384";
        /// ecdsa_secp384r1_sha384.
        ECDSA_SECP384R1_SHA384 = 0x0503, "ecdsa_secp384r1_sha384";
        /// rsa_pkcs1_sha512.
        RSA_PKCS1_SHA512 = 0x0601, "rsa_pkcs1_sha512";
        /// ecdsa_secp521r1_sha512.
        ECDSA_SECP521R1_SHA512 = 0x0603, "ecdsa_secp521r1_sha512";
        /// rsa_pss_rsae_sha256.
        RSA_PSS_RSAE_SHA256 = 0x0804, "rsa_pss_rsae_sha256";
        /// rsa_pss_rsae_sha384.
        RSA_PSS_RSAE_SHA384 = 0x0805, "rsa_pss_rsae_sha384";
        /// rsa_pss_rsae_sha512.
        RSA_PSS_RSAE_SHA512 = 0x0806, "rsa_pss_rsae_sha512";
        /// ed25519.
        ED25519 = 0x0807, "ed25519";
        /// ed448.
        ED448 = 0x0808, "ed448";
        /// rsa_pss_pss_sha256.
        RSA_PSS_PSS_SHA256 = 0x0809, "rsa_pss_pss_sha256";
        /// rsa_pss_pss_sha384.
        RSA_PSS_PSS_SHA384 = 0x080a, "rsa_pss_pss_sha384";
        /// rsa_pss_pss_sha512.
        RSA_PSS_PSS_SHA512 = 0x080b, "rsa_pss_pss_sha512";
    }
}

display_by_name!(ExtensionType, NamedGroup, SignatureScheme);

/// Iterates over a byte slice of big-endian `u16` values (cipher suites, groups, schemes …).
///
/// The slice length is checked to be even when the owning structure is parsed, so a stray
/// odd byte can only come from a caller building one by hand; it is ignored.
#[derive(Clone, Debug)]
pub struct U16List<'a, T> {
    bytes: &'a [u8],
    _t: core::marker::PhantomData<T>,
}

impl<'a, T> U16List<'a, T> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        U16List {
            bytes,
            _t: core::marker::PhantomData,
        }
    }

    /// The raw bytes of the list, without its length prefix.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Number of entries, GREASE included.
    pub fn len(&self) -> usize {
        self.bytes.len() / 2
    }

    /// True when the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.bytes.len() < 2
    }
}

impl<T: From<u16>> Iterator for U16List<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        match self.bytes {
            [a, b, rest @ ..] => {
                self.bytes = rest;
                Some(T::from(u16::from_be_bytes([*a, *b])))
            }
            _ => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.bytes.len() / 2;
        (n, Some(n))
    }
}

impl<T: From<u16>> ExactSizeIterator for U16List<'_, T> {}
