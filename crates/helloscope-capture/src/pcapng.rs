//! A reader for pcapng files (draft-ietf-opsawg-pcapng), built like the classic pcap reader:
//! large reads into one buffer, packets handed out where they lie.
//!
//! libpcap refuses a pcapng file whose interfaces have different link types, which is what
//! `dumpcap -i eth0 -i any` and `mergecap` write. Here every Interface Description Block
//! keeps its own link type, timestamp resolution (`if_tsresol`) and offset (`if_tsoffset`);
//! a file may hold several sections (captures concatenated), each in its own byte order.
//! Enhanced, Simple and obsolete Packet Blocks give packets; every other block (name
//! resolution, interface statistics, decryption secrets, custom) is skipped by its length.

use std::time::Duration;

use crate::pcapfile::{FileStructure, ReadError, Record, MAX_CAPLEN};
use crate::stream::{Compression, ReadBuf};

/// Section Header Block type; the same read in either byte order.
const SHB: u32 = 0x0A0D_0D0A;
/// Interface Description Block.
const IDB: u32 = 1;
/// Packet Block (obsolete, still written by old tools).
const PB: u32 = 2;
/// Simple Packet Block.
const SPB: u32 = 3;
/// Enhanced Packet Block.
const EPB: u32 = 6;
/// The Section Header Block's byte-order magic, as written by its writer.
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Block type, block total length.
const BLOCK_HEADER_LEN: usize = 8;
/// Largest block accepted: libpcap's bound, so that damage cannot make the buffer grow
/// without end.
const MAX_BLOCK_LEN: usize = 16 << 20;

/// IDB options: timestamp resolution and offset.
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// Units of an interface's timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolution {
    /// Microseconds, the default.
    Micro,
    /// Nanoseconds (`tcpdump --time-stamp-precision=nano`, dumpcap on most systems).
    Nano,
    /// 10^-n seconds, `n` at most 19 (so that 10^n fits 64 bits).
    Decimal(u32),
    /// 2^-n seconds, `n` at most 63.
    Binary(u32),
}

impl Resolution {
    /// The `if_tsresol` option's value: the high bit says base 2, the rest is the exponent.
    fn from_option(v: u8) -> Option<Resolution> {
        let n = (v & 0x7f) as u32;
        Some(if v & 0x80 != 0 {
            if n > 63 {
                return None;
            }
            Resolution::Binary(n)
        } else {
            match n {
                6 => Resolution::Micro,
                9 => Resolution::Nano,
                0..=19 => Resolution::Decimal(n),
                _ => return None,
            }
        })
    }

    /// Seconds and nanoseconds of a timestamp of `t` units.
    #[inline(always)]
    fn split(self, t: u64) -> (u64, u32) {
        match self {
            // Constant divisors: the common cases cost no division instruction.
            Resolution::Micro => (t / 1_000_000, (t % 1_000_000) as u32 * 1000),
            Resolution::Nano => (t / 1_000_000_000, (t % 1_000_000_000) as u32),
            Resolution::Decimal(n) => {
                let per_sec = 10u64.pow(n);
                let frac = t % per_sec;
                let nanos = if n <= 9 {
                    frac * 10u64.pow(9 - n)
                } else {
                    frac / 10u64.pow(n - 9)
                };
                (t / per_sec, nanos as u32)
            }
            Resolution::Binary(n) => {
                let frac = t & ((1u64 << n) - 1);
                let nanos = ((frac as u128 * 1_000_000_000) >> n) as u32;
                (t >> n, nanos)
            }
        }
    }
}

/// What an Interface Description Block says about its packets.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    /// 0: no limit.
    snaplen: u32,
    resolution: Resolution,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset: i64,
}

impl Interface {
    #[inline(always)]
    fn time(&self, t: u64) -> Duration {
        let (secs, nanos) = self.resolution.split(t);
        let secs = if self.offset == 0 {
            secs
        } else {
            // Before the epoch cannot be said in a Duration: clamp there.
            (secs as i128 + self.offset as i128).clamp(0, u64::MAX as i128) as u64
        };
        Duration::new(secs, nanos)
    }
}

/// Reads the packets of a pcapng stream.
pub(crate) struct PcapngReader {
    rd: ReadBuf,
    /// The current section was written in the other byte order.
    swapped: bool,
    /// The current section's interfaces, by the number packets refer to them with.
    interfaces: Vec<Interface>,
    /// Link type of the first interface of the file.
    pub(crate) first_linktype: Option<u32>,
    /// Timestamp of the last packet, given to Simple Packet Blocks, which have none.
    last_ts: Duration,
}

/// Where a block lies and what it is.
struct BlockHeader {
    kind: u32,
    len: usize,
    offset: u64,
}

impl PcapngReader {
    /// Reads the Section Header Block at the front of `rd` (and the interfaces described
    /// before the first packet) if it is a pcapng stream; gives `rd` back for anything else.
    pub(crate) fn open(mut rd: ReadBuf) -> Result<Result<PcapngReader, ReadError>, ReadBuf> {
        if rd.fill(12).is_err() || rd.len() < 12 {
            return Err(rd);
        }
        let h = rd.available();
        let magic = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        if u32::from_le_bytes([h[0], h[1], h[2], h[3]]) != SHB
            || (magic != BYTE_ORDER_MAGIC && magic.swap_bytes() != BYTE_ORDER_MAGIC)
        {
            return Err(rd);
        }
        let mut r = PcapngReader {
            rd,
            swapped: false,
            interfaces: Vec::new(),
            first_linktype: None,
            last_ts: Duration::ZERO,
        };
        // Up to the first packet, so that the first interface's link type is known.
        Ok(r.skip_to_packet().map(|()| r))
    }

    /// How the stream was stored.
    pub(crate) fn compression(&self) -> Compression {
        self.rd.compression
    }

    /// The reader's buffer, which [`Record::at`] indexes.
    #[inline]
    pub(crate) fn buf(&self) -> &[u8] {
        &self.rd.buf
    }

    #[inline]
    fn u32_at(&self, b: &[u8], i: usize) -> u32 {
        let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if self.swapped {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    }

    #[inline]
    fn u16_at(&self, b: &[u8], i: usize) -> u16 {
        let w = [b[i], b[i + 1]];
        if self.swapped {
            u16::from_be_bytes(w)
        } else {
            u16::from_le_bytes(w)
        }
    }

    /// The next packet, or `None` at a clean end of the stream.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Result<Option<Record>, ReadError> {
        match self.buffered_epb() {
            Some(rec) => Ok(Some(rec)),
            None => self.next_block(),
        }
    }

    /// The usual case, read with as few checks as are needed: a well-formed Enhanced Packet
    /// Block of a described interface, wholly in the buffer. Anything else (another block,
    /// damage, a block cut by the buffer's end) is left to [`Self::next_block`].
    #[inline(always)]
    fn buffered_epb(&mut self) -> Option<Record> {
        // One branch on the byte order per packet, not one per field.
        if self.swapped {
            self.buffered_epb_in::<true>()
        } else {
            self.buffered_epb_in::<false>()
        }
    }

    #[inline(always)]
    fn buffered_epb_in<const BIG_ENDIAN: bool>(&mut self) -> Option<Record> {
        let word = |b: &[u8], i: usize| {
            let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
            if BIG_ENDIAN {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        };
        let b = self.rd.available();
        let head: &[u8; 28] = b.get(..28)?.try_into().ok()?;
        let len = word(head, 4) as usize;
        let caplen = word(head, 20) as usize;
        if word(head, 0) != EPB
            || !len.is_multiple_of(4)
            || caplen > MAX_CAPLEN
            || 28 + caplen + 4 > len
        {
            return None;
        }
        if word(b.get(len - 4..len)?, 0) as usize != len || len > MAX_BLOCK_LEN {
            return None;
        }
        let i = self.interfaces.get(word(head, 8) as usize)?;
        let ts = i.time(((word(head, 12) as u64) << 32) | word(head, 16) as u64);
        let rec = Record {
            ts,
            wire_len: word(head, 24),
            linktype: i.linktype,
            at: self.rd.start + 28,
            caplen,
        };
        self.last_ts = ts;
        self.rd.consume(len);
        Some(rec)
    }

    /// The next packet, block by block, with every check and its message.
    #[cold]
    fn next_block(&mut self) -> Result<Option<Record>, ReadError> {
        loop {
            let Some(h) = self.block()? else {
                return Ok(None);
            };
            if let Some(rec) = self.packet(&h)? {
                self.rd.consume(h.len);
                return Ok(Some(rec));
            }
            self.other_block(&h)?;
            self.rd.consume(h.len);
        }
    }

    /// Reads and consumes blocks until the next one is a packet block or the stream ends.
    fn skip_to_packet(&mut self) -> Result<(), ReadError> {
        while let Some(h) = self.block()? {
            if matches!(h.kind, EPB | SPB | PB) {
                return Ok(());
            }
            self.other_block(&h)?;
            self.rd.consume(h.len);
        }
        Ok(())
    }

    /// The header of the next block, with the whole block in the buffer; `None` at a clean
    /// end of the stream.
    #[inline]
    fn block(&mut self) -> Result<Option<BlockHeader>, ReadError> {
        if self.rd.len() < BLOCK_HEADER_LEN {
            self.rd.fill(BLOCK_HEADER_LEN)?;
            if self.rd.len() == 0 {
                return Ok(None);
            }
        }
        let offset = self.rd.offset();
        if self.rd.len() < BLOCK_HEADER_LEN {
            return Err(ReadError::Truncated {
                structure: FileStructure::BlockHeader,
                offset,
                required_len: BLOCK_HEADER_LEN,
                len: self.rd.len(),
            });
        }
        let b = self.rd.available();
        let kind = self.u32_at(b, 0);
        if kind == SHB {
            // A new section says its own byte order before its length can be read.
            self.rd.fill(12)?;
            let b = self.rd.available();
            if b.len() < 12 {
                return Err(ReadError::Truncated {
                    structure: FileStructure::BlockHeader,
                    offset,
                    required_len: 12,
                    len: b.len(),
                });
            }
            let magic = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
            self.swapped = match magic {
                BYTE_ORDER_MAGIC => false,
                m if m.swap_bytes() == BYTE_ORDER_MAGIC => true,
                magic => return Err(ReadError::BadMagic { offset, magic }),
            };
        }
        let len = self.u32_at(self.rd.available(), 4) as usize;
        if len < 12 || !len.is_multiple_of(4) || len > MAX_BLOCK_LEN {
            return Err(bad(offset, "impossible block length"));
        }
        if self.rd.len() < len {
            self.rd.fill(len)?;
            if self.rd.len() < len {
                return Err(ReadError::Truncated {
                    structure: FileStructure::Block,
                    offset,
                    required_len: len,
                    len: self.rd.len(),
                });
            }
        }
        let b = &self.rd.available()[..len];
        if self.u32_at(b, len - 4) != len as u32 {
            return Err(bad(offset, "its two lengths differ"));
        }
        Ok(Some(BlockHeader { kind, len, offset }))
    }

    /// The packet in block `h` (wholly in the buffer), `None` if it is not a packet block.
    #[inline]
    fn packet(&mut self, h: &BlockHeader) -> Result<Option<Record>, ReadError> {
        let b = &self.rd.available()[..h.len];
        // Body offsets: interface, timestamp (high, low), captured and original length.
        let (iface, ts_high, caplen, wire_len, data) = match h.kind {
            EPB if h.len >= 32 => (
                self.u32_at(b, 8),
                12,
                self.u32_at(b, 20),
                self.u32_at(b, 24),
                28,
            ),
            PB if h.len >= 32 => (
                self.u16_at(b, 8) as u32,
                12,
                self.u32_at(b, 20),
                self.u32_at(b, 24),
                28,
            ),
            SPB if h.len >= 16 => {
                let wire_len = self.u32_at(b, 8);
                let Some(i) = self.interfaces.first() else {
                    return Err(bad(h.offset, "simple packet before any interface"));
                };
                // The captured length is not written: the original length, cut to the
                // snap length and to what the block holds.
                let mut caplen = wire_len.min((h.len - 16) as u32);
                if i.snaplen != 0 {
                    caplen = caplen.min(i.snaplen);
                }
                return Ok(Some(Record {
                    ts: self.last_ts,
                    wire_len,
                    linktype: i.linktype,
                    at: self.rd.start + 12,
                    caplen: caplen as usize,
                }));
            }
            EPB | PB | SPB => return Err(bad(h.offset, "packet block too short")),
            _ => return Ok(None),
        };
        let Some(i) = self.interfaces.get(iface as usize) else {
            return Err(bad(h.offset, "packet of an interface not described"));
        };
        let caplen = caplen as usize;
        if caplen > MAX_CAPLEN || data + caplen + 4 > h.len {
            return Err(bad(h.offset, "captured length beyond the block"));
        }
        let t = ((self.u32_at(b, ts_high) as u64) << 32) | self.u32_at(b, ts_high + 4) as u64;
        let ts = i.time(t);
        self.last_ts = ts;
        Ok(Some(Record {
            ts,
            wire_len,
            linktype: i.linktype,
            at: self.rd.start + data,
            caplen,
        }))
    }

    /// Takes what a block other than a packet says: a new section or interface.
    fn other_block(&mut self, h: &BlockHeader) -> Result<(), ReadError> {
        match h.kind {
            SHB => {
                let b = &self.rd.available()[..h.len];
                if h.len < 28 {
                    return Err(bad(h.offset, "section header too short"));
                }
                if self.u16_at(b, 12) != 1 {
                    return Err(ReadError::UnsupportedVersion {
                        format: "pcapng",
                        offset: h.offset,
                        major: self.u16_at(b, 12),
                        minor: self.u16_at(b, 14),
                    });
                }
                // Interface numbers start again in each section.
                self.interfaces.clear();
            }
            IDB => {
                let i = self.interface(h)?;
                self.first_linktype.get_or_insert(i.linktype);
                self.interfaces.push(i);
            }
            _ => {}
        }
        Ok(())
    }

    /// An Interface Description Block: link type, snap length, and its options.
    fn interface(&self, h: &BlockHeader) -> Result<Interface, ReadError> {
        let b = &self.rd.available()[..h.len];
        if h.len < 20 {
            return Err(bad(h.offset, "interface description too short"));
        }
        let mut i = Interface {
            linktype: self.u16_at(b, 8) as u32,
            snaplen: self.u32_at(b, 12),
            resolution: Resolution::Micro,
            offset: 0,
        };
        let mut opts = &b[16..h.len - 4];
        while opts.len() >= 4 {
            let code = self.u16_at(opts, 0);
            let len = self.u16_at(opts, 2) as usize;
            if code == 0 {
                break;
            }
            let padded = (len + 3) & !3;
            let Some(value) = opts.get(4..4 + len) else {
                return Err(bad(h.offset, "interface option beyond the block"));
            };
            match (code, len) {
                (IF_TSRESOL, 1) => {
                    i.resolution = Resolution::from_option(value[0])
                        .ok_or_else(|| bad(h.offset, "timestamp resolution out of range"))?;
                }
                (IF_TSOFFSET, 8) => {
                    let w: [u8; 8] = value.try_into().expect("8 bytes");
                    i.offset = if self.swapped {
                        i64::from_be_bytes(w)
                    } else {
                        i64::from_le_bytes(w)
                    };
                }
                _ => {}
            }
            opts = opts.get(4 + padded..).unwrap_or_default();
        }
        Ok(i)
    }
}

fn bad(offset: u64, why: &'static str) -> ReadError {
    ReadError::BadBlock { offset, why }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_split_into_seconds_and_nanoseconds() {
        let r = |v| Resolution::from_option(v).unwrap();
        assert_eq!(r(6), Resolution::Micro);
        assert_eq!(r(9), Resolution::Nano);
        assert_eq!(
            r(6).split(1_700_000_000_123_456),
            (1_700_000_000, 123_456_000)
        );
        assert_eq!(
            r(9).split(1_700_000_000_123_456_789),
            (1_700_000_000, 123_456_789)
        );
        assert_eq!(r(3).split(12_345), (12, 345_000_000));
        assert_eq!(r(0).split(77), (77, 0));
        assert_eq!(r(12).split(5_000_000_123_999), (5, 123), "picoseconds");
        assert_eq!(r(19).split(u64::MAX), (1, 844_674_407));
        // Base 2: 2^-10 s units, 512 of them is half a second.
        assert_eq!(r(0x80 | 10).split((3 << 10) | 512), (3, 500_000_000));
        assert_eq!(r(0x80 | 63).split(1 << 62), (0, 500_000_000));
        assert_eq!(r(0x80).split(9), (9, 0));
        assert_eq!(Resolution::from_option(20), None);
        assert_eq!(Resolution::from_option(0x80 | 64), None);
    }

    #[test]
    fn offsets_move_timestamps_and_stop_at_the_epoch() {
        let mut i = Interface {
            linktype: 1,
            snaplen: 0,
            resolution: Resolution::Micro,
            offset: 1_000,
        };
        assert_eq!(i.time(2_500_000), Duration::new(1_002, 500_000_000));
        i.offset = -10;
        assert_eq!(i.time(2_500_000), Duration::new(0, 500_000_000));
    }
}
