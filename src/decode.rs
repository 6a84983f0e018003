//! `helloscope decode`: every field and fingerprint of one raw record or hello, a QUIC
//! client Initial (decrypted), or a DTLS datagram.

use std::fmt::Write as _;
use std::process::ExitCode;

use helloscope_tls::{
    extensions, ja3, ja3s, ja4, ja4_o, ja4_r, ja4_ro, Alert, ClientHello, ContentType,
    ExtensionType, HandshakeReassembler, HandshakeType, Records, ServerHello, Sslv2ClientHello,
    Transport,
};

use crate::common::Failure;

/// Turns hex text (spaces, colons, `0x` and newlines allowed) into bytes.
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let clean: String = s
        .replace("0x", "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && *c != ',')
        .collect();
    if clean.is_empty()
        || !clean.len().is_multiple_of(2)
        || !clean.chars().all(|c| c.is_ascii_hexdigit())
    {
        return None;
    }
    (0..clean.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).ok())
        .collect()
}

/// A name the peer chose (server name, ALPN protocol), made safe for a terminal: invalid
/// UTF-8 replaced, control characters escaped as tcpdump prints them.
fn peer_text(b: &[u8]) -> String {
    crate::output::escape_text(&String::from_utf8_lossy(b)).into_owned()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `0x000a supported_groups   12 bytes`, without the line end.
fn extension_line(out: &mut String, e: &helloscope_tls::Extension<'_>) {
    let _ = write!(
        out,
        "    0x{:04x} {:<40} {:>5} bytes",
        e.ext_type.0,
        e.ext_type.to_string(),
        e.data.len()
    );
}

fn client_hello(out: &mut String, h: &ClientHello<'_>, t: Transport) {
    let _ = writeln!(out, "ClientHello");
    let _ = writeln!(out, "  legacy_version        {}", h.legacy_version);
    let _ = writeln!(out, "  random                {}", hex(h.random));
    let _ = writeln!(out, "  session_id            {} bytes", h.session_id.len());
    if let Some(c) = h.cookie {
        let _ = writeln!(out, "  cookie                {} bytes", c.len());
    }
    let _ = writeln!(out, "  cipher_suites         {}", h.cipher_suites().len());
    for c in h.cipher_suites() {
        let name = if c.is_grease() {
            "GREASE".to_string()
        } else {
            c.to_string()
        };
        let _ = writeln!(out, "    0x{:04x} {}", c.0, name);
    }
    let _ = writeln!(
        out,
        "  compression_methods   {}",
        hex(h.compression_methods)
    );
    let _ = writeln!(out, "  extensions            {}", h.extensions().count());
    for e in h.extensions() {
        extension_line(out, &e);
        let detail = match e.ext_type {
            ExtensionType::SERVER_NAME => extensions::parse_server_name(e.data)
                .map(|n| n.map(peer_text).unwrap_or_default()),
            ExtensionType::ALPN => extensions::parse_alpn(e.data).map(|n| {
                n.map(peer_text).collect::<Vec<_>>().join(",")
            }),
            ExtensionType::SUPPORTED_VERSIONS => extensions::parse_supported_versions_client(e.data)
                .map(|v| v.map(|v| v.to_string()).collect::<Vec<_>>().join(", ")),
            ExtensionType::SUPPORTED_GROUPS => extensions::parse_supported_groups(e.data)
                .map(|v| v.map(|v| v.to_string()).collect::<Vec<_>>().join(", ")),
            ExtensionType::SIGNATURE_ALGORITHMS => extensions::parse_signature_algorithms(e.data)
                .map(|v| v.map(|v| v.to_string()).collect::<Vec<_>>().join(", ")),
            ExtensionType::KEY_SHARE => extensions::parse_key_share_client(e.data).map(|v| {
                v.map(|k| format!("{} ({} bytes)", k.group, k.key_exchange.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            ExtensionType::EC_POINT_FORMATS => extensions::parse_ec_point_formats(e.data).map(hex),
            ExtensionType::PSK_KEY_EXCHANGE_MODES => {
                extensions::parse_psk_key_exchange_modes(e.data).map(hex)
            }
            ExtensionType::PRE_SHARED_KEY => extensions::parse_pre_shared_key_client(e.data)
                .map(|p| format!("{} identities", p.identity_count)),
            ExtensionType::ENCRYPTED_CLIENT_HELLO => {
                extensions::parse_encrypted_client_hello(e.data).map(|x| match x {
                    extensions::EchClientHello::Outer { kdf_id, aead_id, config_id, enc, payload } => format!(
                        "outer kdf=0x{kdf_id:04x} aead=0x{aead_id:04x} config_id={config_id} enc={} payload={}",
                        enc.len(),
                        payload.len()
                    ),
                    extensions::EchClientHello::Inner => "inner".into(),
                })
            }
            ExtensionType::RENEGOTIATION_INFO => {
                extensions::parse_renegotiation_info(e.data).map(|r| format!("{} bytes", r.len()))
            }
            ExtensionType::PADDING => extensions::parse_padding(e.data).map(|n| format!("{n} zero bytes")),
            _ => Ok(String::new()),
        };
        match detail {
            Ok(d) if d.is_empty() => out.push('\n'),
            Ok(d) => {
                let _ = writeln!(out, "  {d}");
            }
            Err(err) => {
                let _ = writeln!(out, "  MALFORMED: {err}");
            }
        }
    }
    let offered: Vec<String> = h.offered_versions().iter().map(|v| v.to_string()).collect();
    let _ = writeln!(out, "  versions_offered      {}", offered.join(", "));
    let _ = writeln!(out, "  version_offered_max   {}", h.highest_version());
    let _ = writeln!(out, "  fallback_scsv         {}", h.has_fallback_scsv());
    let j = ja3(h);
    let _ = writeln!(out, "  ja3                   {}", j.hash());
    let _ = writeln!(out, "  ja3_string            {}", j.string);
    let _ = writeln!(out, "  ja4                   {}", ja4(h, t));
    let _ = writeln!(out, "  ja4_r                 {}", ja4_r(h, t));
    let _ = writeln!(out, "  ja4_o                 {}", ja4_o(h, t));
    let _ = writeln!(out, "  ja4_ro                {}", ja4_ro(h, t));
}

#[cfg_attr(not(feature = "ja4s"), allow(unused_variables))]
fn server_hello(out: &mut String, h: &ServerHello<'_>, t: Transport) {
    let kind = if h.is_hello_retry_request() {
        "HelloRetryRequest"
    } else {
        "ServerHello"
    };
    let _ = writeln!(out, "{kind}");
    let _ = writeln!(out, "  legacy_version        {}", h.legacy_version);
    let _ = writeln!(out, "  selected_version      {}", h.selected_version());
    let _ = writeln!(out, "  random                {}", hex(h.random));
    let _ = writeln!(
        out,
        "  cipher_suite          0x{:04x} {}",
        h.cipher_suite.0, h.cipher_suite
    );
    let _ = writeln!(out, "  compression_method    {}", h.compression_method);
    for e in h.extensions() {
        extension_line(out, &e);
        out.push('\n');
    }
    if let Some(a) = h.alpn() {
        let _ = writeln!(out, "  alpn                  {}", peer_text(a));
    }
    if let Some(g) = h.key_share_group() {
        let _ = writeln!(out, "  key_share             {g}");
    }
    if let Some(d) = h.downgrade_sentinel() {
        let _ = writeln!(out, "  downgrade_sentinel    {d:?}");
    }
    let j = ja3s(h);
    let _ = writeln!(out, "  ja3s                  {}", j.hash());
    let _ = writeln!(out, "  ja3s_string           {}", j.string);
    #[cfg(feature = "ja4s")]
    {
        let _ = writeln!(
            out,
            "  ja4s                  {}",
            helloscope_tls::ja4s(h, t)
        );
        let _ = writeln!(
            out,
            "  ja4s_r                {}",
            helloscope_tls::ja4s_r(h, t)
        );
    }
}

fn message(out: &mut String, t: HandshakeType, body: &[u8]) {
    match t {
        HandshakeType::CLIENT_HELLO => match ClientHello::parse(body) {
            Ok(h) => client_hello(out, &h, Transport::Tcp),
            Err(e) => {
                let _ = writeln!(out, "client_hello: {e}");
            }
        },
        HandshakeType::SERVER_HELLO => match ServerHello::parse(body) {
            Ok(h) => server_hello(out, &h, Transport::Tcp),
            Err(e) => {
                let _ = writeln!(out, "server_hello: {e}");
            }
        },
        t => {
            let _ = writeln!(out, "{t} ({} bytes)", body.len());
        }
    }
}

/// A QUIC client Initial datagram: its packets, decrypted, and the ClientHello in them.
fn quic_initial(out: &mut String, bytes: &[u8]) {
    use helloscope_tls::quic::{InitialReader, Packet, Packets, Sender};
    for p in Packets::new(bytes) {
        match p {
            Packet::Long(h) => {
                let _ = writeln!(
                    out,
                    "QUIC {:?} packet, version {} (0x{:08x}), dcid {}, scid {}, token {} bytes, {} bytes",
                    h.packet_type,
                    h.version,
                    h.version.0,
                    hex(h.dcid),
                    hex(h.scid),
                    h.token.len(),
                    h.packet.len()
                );
            }
            Packet::Short { packet } => {
                let _ = writeln!(out, "QUIC short-header packet, {} bytes", packet.len());
            }
            Packet::VersionNegotiation { .. } => {
                let _ = writeln!(out, "QUIC Version Negotiation");
            }
        }
    }
    let mut r = InitialReader::new(1 << 16);
    if let Err(e) = r.on_datagram(bytes, Sender::Client) {
        let _ = writeln!(out, "  {e}");
    }
    let (n, failed) = r.initials(Sender::Client);
    let _ = writeln!(out, "  Initial packets opened {}", n - failed);
    let _ = writeln!(
        out,
        "  crypto stream         {} bytes in order",
        r.crypto_stream(Sender::Client).contiguous().len()
    );
    match r.client_hello() {
        Ok(h) => client_hello(out, &h, Transport::Quic),
        Err(e) => {
            let _ = writeln!(out, "client_hello: {e}");
        }
    }
}

/// A DTLS datagram: its records and the handshake messages they complete.
fn dtls_datagram(out: &mut String, bytes: &[u8]) {
    use helloscope_tls::dtls::{
        parse_handshake_fragment, DtlsRecords, FragmentReassembler, HelloVerifyRequest,
        HELLO_VERIFY_REQUEST,
    };
    let mut reasm = FragmentReassembler::new(1 << 24);
    let mut records = DtlsRecords::new(bytes);
    for r in records.by_ref() {
        let _ = writeln!(
            out,
            "record {} {} epoch {} seq {} ({} bytes)",
            r.content_type()
                .map_or_else(|| r.content_type.to_string(), |c| c.to_string()),
            r.version,
            r.epoch,
            r.sequence_number,
            r.fragment.len()
        );
        if r.epoch != 0 {
            continue;
        }
        match r.content_type() {
            Some(ContentType::Handshake) => {
                let mut rest = r.fragment;
                while !rest.is_empty() {
                    let f = match parse_handshake_fragment(rest) {
                        Ok((f, next)) => {
                            rest = next;
                            f
                        }
                        Err(e) => {
                            let _ = writeln!(out, "  handshake: {e}");
                            break;
                        }
                    };
                    let _ = writeln!(
                        out,
                        "  {} message_seq {} fragment {}+{} of {}",
                        f.msg_type,
                        f.message_seq,
                        f.fragment_offset,
                        f.fragment.len(),
                        f.length
                    );
                    let pushed = reasm.push(f, |m| match m.msg_type {
                        HandshakeType::CLIENT_HELLO => match ClientHello::parse_dtls(m.body) {
                            Ok(h) => client_hello(out, &h, Transport::Dtls),
                            Err(e) => {
                                let _ = writeln!(out, "client_hello: {e}");
                            }
                        },
                        HandshakeType::SERVER_HELLO => match ServerHello::parse(m.body) {
                            Ok(h) => server_hello(out, &h, Transport::Dtls),
                            Err(e) => {
                                let _ = writeln!(out, "server_hello: {e}");
                            }
                        },
                        HELLO_VERIFY_REQUEST => match HelloVerifyRequest::parse(m.body) {
                            Ok(h) => {
                                let _ = writeln!(
                                    out,
                                    "HelloVerifyRequest {} cookie {} bytes",
                                    h.server_version,
                                    h.cookie.len()
                                );
                            }
                            Err(e) => {
                                let _ = writeln!(out, "hello_verify_request: {e}");
                            }
                        },
                        t => {
                            let _ = writeln!(out, "{t} ({} bytes)", m.body.len());
                        }
                    });
                    if let Err(e) = pushed {
                        let _ = writeln!(out, "  handshake: {e}");
                    }
                }
            }
            Some(ContentType::Alert) => alert(out, r.fragment),
            _ => {}
        }
    }
    walk_end(out, records.stopped_by(), reasm.pending());
}

/// An alert record: its level and description, or that it is encrypted (not two bytes).
fn alert(out: &mut String, fragment: &[u8]) {
    let _ = match Alert::parse(fragment) {
        Ok(a) => writeln!(out, "Alert {a}"),
        Err(_) => writeln!(out, "Alert (encrypted)"),
    };
}

/// Why a record walk stopped early, and what the handshake reassembler still holds.
fn walk_end(out: &mut String, stopped_by: Option<impl std::fmt::Display>, pending: usize) {
    if let Some(e) = stopped_by {
        let _ = writeln!(out, "stopped: {e}");
    }
    if pending > 0 {
        let _ = writeln!(out, "incomplete handshake message: {pending} bytes held");
    }
}

/// Describes `bytes`: a record stream, an SSLv2 hello, or one bare handshake message.
pub fn describe(bytes: &[u8]) -> Result<String, String> {
    let mut out = String::new();
    if Sslv2ClientHello::looks_like(bytes) {
        let (h, _) = Sslv2ClientHello::parse(bytes).map_err(|e| e.to_string())?;
        let _ = writeln!(out, "SSLv2-format CLIENT-HELLO");
        let _ = writeln!(out, "  version               {}", h.version);
        let specs: Vec<String> = h.cipher_specs().map(|c| format!("0x{c:06x}")).collect();
        let _ = writeln!(out, "  cipher_specs          {}", specs.join(" "));
        let _ = writeln!(out, "  session_id            {} bytes", h.session_id.len());
        let _ = writeln!(out, "  challenge             {}", hex(h.challenge));
        let _ = writeln!(
            out,
            "  (no JA3/JA4: neither is defined for SSLv2-format hellos)"
        );
        return Ok(out);
    }
    if helloscope_tls::quic::looks_like_initial(bytes) {
        quic_initial(&mut out, bytes);
        return Ok(out);
    }
    if matches!(bytes.first(), Some(20..=24))
        && matches!(
            bytes.get(1..3),
            Some([0xfe, 0xff | 0xfd | 0xfc] | [0x01, 0x00])
        )
    {
        dtls_datagram(&mut out, bytes);
        return Ok(out);
    }
    if matches!(bytes.first(), Some(20..=24)) && bytes.get(1) == Some(&3) {
        let mut reasm = HandshakeReassembler::new(1 << 24);
        let mut records = Records::new(bytes);
        for r in records.by_ref() {
            let _ = writeln!(
                out,
                "record {} {} ({} bytes)",
                r.content_type,
                r.legacy_version,
                r.fragment.len()
            );
            match r.content_type {
                ContentType::Handshake => {
                    let mut msgs = Vec::new();
                    if let Err(e) =
                        reasm.push(r.fragment, |m| msgs.push((m.msg_type, m.body.to_vec())))
                    {
                        let _ = writeln!(out, "  handshake: {e}");
                    }
                    for (t, b) in msgs {
                        message(&mut out, t, &b);
                    }
                }
                ContentType::Alert => alert(&mut out, r.fragment),
                _ => {}
            }
        }
        walk_end(&mut out, records.stopped_by(), reasm.pending());
        return Ok(out);
    }
    if matches!(bytes.first(), Some(1 | 2)) {
        let (m, _) = helloscope_tls::parse_handshake(bytes, 1 << 24).map_err(|e| e.to_string())?;
        message(&mut out, m.msg_type, m.body);
        return Ok(out);
    }
    Err(
        "not a TLS record, an SSLv2 hello, a ClientHello/ServerHello handshake message, a QUIC \
         client Initial or a DTLS record"
            .into(),
    )
}

/// Runs `decode` on hex from the command line, or a file of hex or raw bytes.
pub fn run(input: &str) -> Result<ExitCode, Failure> {
    let bytes = match parse_hex(input) {
        Some(b) => b,
        None => {
            let raw = std::fs::read(input)
                .map_err(|e| Failure(format!("{input}: not hex, and not a readable file: {e}")))?;
            std::str::from_utf8(&raw)
                .ok()
                .and_then(parse_hex)
                .unwrap_or(raw)
        }
    };
    let text = describe(&bytes).map_err(Failure)?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record whose SNI and ALPN hold escape sequences and a line break.
    #[test]
    fn names_from_the_wire_are_printed_escaped() {
        let name = b"\x1b[2J\x1b[31mx\r\ny";
        let mut sni = vec![0x00, 0x00];
        let list_len = (name.len() + 3) as u16;
        sni.extend_from_slice(&(list_len + 2).to_be_bytes());
        sni.extend_from_slice(&list_len.to_be_bytes());
        sni.push(0);
        sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni.extend_from_slice(name);
        let mut alpn = vec![0x00, 0x10];
        alpn.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        alpn.extend_from_slice(&((name.len() + 1) as u16).to_be_bytes());
        alpn.push(name.len() as u8);
        alpn.extend_from_slice(name);
        let exts: Vec<u8> = [sni, alpn].concat();
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut msg = vec![1, 0];
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend_from_slice(&body);
        let mut record = vec![0x16, 3, 1];
        record.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        record.extend_from_slice(&msg);
        let out = describe(&record).unwrap();
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert_eq!(out.matches("\\x1b[2J\\x1b[31mx\\r\\ny").count(), 2, "{out}");
    }
}
