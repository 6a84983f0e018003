//! Initial packet protection (RFC 9001 §5; RFC 9369 §3.3 for version 2): secrets derived from
//! the client's first Destination Connection ID with HKDF-SHA256, header protection with
//! AES-128 in ECB mode over a sample of the ciphertext, payload protection with AES-128-GCM.
//!
//! Initial keys are public by design (anyone who sees the Destination Connection ID can derive
//! them); still, nothing here prints them: [`InitialKeys`]'s `Debug` shows no key material.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

use super::packet::{LongHeader, LongPacketType, QuicVersion};
use crate::error::{Error, Structure};

/// Length of the AEAD tag that ends every protected payload.
const TAG_LEN: usize = 16;
/// Length of the ciphertext sample that header protection is computed from.
const SAMPLE_LEN: usize = 16;

/// The salt of HKDF-Extract for a version's Initial secrets, and the prefix of the labels
/// its keys are expanded with.
fn salt_and_label_prefix(v: QuicVersion) -> Option<(&'static [u8; 20], &'static str)> {
    Some(match v {
        // RFC 9001 §5.2.
        QuicVersion::V1 => (
            &[
                0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
                0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
            ],
            "quic",
        ),
        // RFC 9369 §3.3.1 and §3.3.2.
        QuicVersion::V2 => (
            &[
                0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26,
                0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
            ],
            "quicv2",
        ),
        // draft-ietf-quic-tls-29 §5.2.
        QuicVersion::DRAFT_29 => (
            &[
                0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61,
                0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99,
            ],
            "quic",
        ),
        _ => return None,
    })
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(prk: &Hkdf<Sha256>, label: &[&str], out: &mut [u8]) {
    let label_len: usize = 6 + label.iter().map(|l| l.len()).sum::<usize>();
    let mut info = [0u8; 2 + 1 + 64 + 1];
    info[..2].copy_from_slice(&(out.len() as u16).to_be_bytes());
    info[2] = label_len as u8;
    let mut at = 3;
    for part in core::iter::once("tls13 ").chain(label.iter().copied()) {
        info[at..at + part.len()].copy_from_slice(part.as_bytes());
        at += part.len();
    }
    info[at] = 0; // no context
                  // Lengths asked for here (12 to 32 bytes) are far below HKDF's limit of 255 blocks.
    let _ = prk.expand(&info[..at + 1], out);
}

/// The client's and server's Initial secrets for a connection whose client chose `dcid` as
/// its first Destination Connection ID (RFC 9001 §5.2).
pub(crate) fn initial_secrets(version: QuicVersion, dcid: &[u8]) -> Option<([u8; 32], [u8; 32])> {
    let (salt, _) = salt_and_label_prefix(version)?;
    let (_, initial) = Hkdf::<Sha256>::extract(Some(salt), dcid);
    let mut client = [0u8; 32];
    let mut server = [0u8; 32];
    expand_label(&initial, &["client in"], &mut client);
    expand_label(&initial, &["server in"], &mut server);
    Some((client, server))
}

/// The AEAD key, IV and header protection key expanded from one Initial secret.
pub(crate) struct KeyMaterial {
    pub(crate) key: [u8; 16],
    pub(crate) iv: [u8; 12],
    pub(crate) hp: [u8; 16],
}

pub(crate) fn key_material(version: QuicVersion, secret: &[u8; 32]) -> Option<KeyMaterial> {
    let (_, prefix) = salt_and_label_prefix(version)?;
    let prk = Hkdf::<Sha256>::from_prk(secret).ok()?;
    let mut m = KeyMaterial {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    expand_label(&prk, &[prefix, " key"], &mut m.key);
    expand_label(&prk, &[prefix, " iv"], &mut m.iv);
    expand_label(&prk, &[prefix, " hp"], &mut m.hp);
    Some(m)
}

/// Which end sent a packet, hence which Initial keys protect it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sender {
    /// The client.
    Client,
    /// The server.
    Server,
}

/// The keys that protect one direction's Initial packets, ready to use.
#[derive(Clone)]
pub struct InitialKeys {
    version: QuicVersion,
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: Aes128,
}

impl core::fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the key material, not even in debug output.
        f.debug_struct("InitialKeys")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl InitialKeys {
    /// The Initial keys of `sender` for a connection whose client's first Destination
    /// Connection ID is `dcid`; `None` for a version without known Initial salt.
    ///
    /// ```
    /// use helloscope_tls::quic::{InitialKeys, QuicVersion, Sender};
    /// let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
    /// assert!(InitialKeys::new(QuicVersion::V1, &dcid, Sender::Client).is_some());
    /// assert!(InitialKeys::new(QuicVersion(0x5130_3530), &dcid, Sender::Client).is_none());
    /// ```
    pub fn new(version: QuicVersion, dcid: &[u8], sender: Sender) -> Option<Self> {
        let (client, server) = initial_secrets(version, dcid)?;
        let secret = match sender {
            Sender::Client => client,
            Sender::Server => server,
        };
        let m = key_material(version, &secret)?;
        Some(InitialKeys {
            version,
            aead: Aes128Gcm::new(&m.key.into()),
            iv: m.iv,
            hp: Aes128::new(&m.hp.into()),
        })
    }

    /// The version these keys are for.
    pub fn version(&self) -> QuicVersion {
        self.version
    }

    /// The header protection mask for a packet whose packet number starts at `pn_offset`
    /// (RFC 9001 §5.4.2: the sample starts four bytes after it).
    fn mask(&self, packet: &[u8], pn_offset: usize) -> Result<[u8; 16], Error> {
        let sample = packet
            .get(pn_offset + 4..pn_offset + 4 + SAMPLE_LEN)
            .ok_or(malformed("too short to sample"))?;
        let mut block = aes::Block::clone_from_slice(sample);
        self.hp.encrypt_block(&mut block);
        Ok(block.into())
    }

    /// Removes header and payload protection from an Initial packet, writing its plaintext
    /// payload (the frames) into `out`, and returns its packet number.
    ///
    /// The packet number is decoded as the truncated value: a connection's Initial packets
    /// are numbered from zero and stay far below the window of even a one-byte encoding.
    ///
    /// ```
    /// use helloscope_tls::quic::{parse_packet, InitialKeys, Packet, Sender};
    /// # let datagram = helloscope_tls::doc_sample::quic_client_initial();
    /// let (Packet::Long(h), _) = parse_packet(&datagram)? else { panic!() };
    /// let keys = InitialKeys::new(h.version, h.dcid, Sender::Client).unwrap();
    /// let mut frames = Vec::new();
    /// assert_eq!(keys.open(&h, &mut frames)?, 2);
    /// assert_eq!(frames[0], 0x06); // a CRYPTO frame
    /// # Ok::<(), helloscope_tls::Error>(())
    /// ```
    pub fn open(&self, h: &LongHeader<'_>, out: &mut Vec<u8>) -> Result<u64, Error> {
        if h.packet_type != LongPacketType::Initial || h.version != self.version {
            return Err(malformed("not an Initial packet of this version"));
        }
        let packet = h.packet;
        let mask = self.mask(packet, h.pn_offset)?;
        // Header: at most 1 + 4 + 1 + 20 + 1 + 20 + token + 8 + 4 bytes; the token can be
        // long (Retry tokens), so the unprotected copy is on the heap with the payload.
        let first = packet[0] ^ (mask[0] & 0x0f);
        let pn_len = usize::from(first & 0x03) + 1;
        let payload_start = h.pn_offset + pn_len;
        if packet.len() < payload_start + TAG_LEN {
            return Err(malformed("too short for its tag"));
        }
        out.clear();
        out.extend_from_slice(packet);
        out[0] = first;
        let mut pn = 0u64;
        for i in 0..pn_len {
            out[h.pn_offset + i] ^= mask[1 + i];
            pn = pn << 8 | u64::from(out[h.pn_offset + i]);
        }
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        let tag_at = out.len() - TAG_LEN;
        let tag = Tag::clone_from_slice(&out[tag_at..]);
        let (aad, payload) = out[..tag_at].split_at_mut(payload_start);
        self.aead
            .decrypt_in_place_detached(Nonce::from_slice(&nonce), aad, payload, &tag)
            .map_err(|_| Error::Malformed {
                structure: Structure::QuicInitialPacket,
                field: "authentication failed",
            })?;
        out.truncate(tag_at);
        out.drain(..payload_start);
        Ok(pn)
    }
}

fn malformed(field: &'static str) -> Error {
    Error::Malformed {
        structure: Structure::QuicInitialPacket,
        field,
    }
}
