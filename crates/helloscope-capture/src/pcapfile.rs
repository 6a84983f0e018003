//! A reader for classic pcap files (not pcapng), used instead of libpcap for plain files.
//!
//! libpcap reads files through stdio in small blocks and copies every packet twice; on a
//! 1 GB capture the profile showed the reading alone costing as much as all of helloscope's
//! own work (see the Performance section of the README). This reader makes large `read`
//! calls into one buffer ([`crate::stream`]) and hands out packets borrowed from it. pcapng
//! files are read the same way by [`crate::pcapng`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::stream::{Compression, ReadBuf};

/// Largest caplen accepted: libpcap's own bound for savefiles (256 KiB).
pub(crate) const MAX_CAPLEN: usize = 262_144;

/// What stopped the reading of a capture file, and where: the error of this crate's pcap and
/// pcapng readers, carried by [`SourceError::Read`](crate::SourceError::Read).
///
/// ```
/// use helloscope_capture::{FileStructure, PacketSource, ReadError, SourceError};
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../captures/openssl.pcap");
/// let mut bytes = std::fs::read(path)?;
/// // Cut inside the first record: its 16-byte header is whole, its data is not.
/// bytes.truncate(24 + 16 + 4);
/// let mut src = PacketSource::from_reader("cut.pcap", Box::new(std::io::Cursor::new(bytes)))?;
/// match src.next_packet() {
///     Err(SourceError::Read { error: ReadError::Truncated { structure, offset, len, .. }, .. }) => {
///         assert_eq!((structure, offset, len), (FileStructure::Record, 24, 20));
///     }
///     other => panic!("{:?}", other.map(|p| p.is_some())),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The stream could not be read (kept as the source).
    #[error("{0}")]
    Io(#[source] Arc<io::Error>),
    /// The file ends inside a structure (a copy cut short, or a capture still being written).
    #[error(
        "file truncated inside the {structure} at byte offset {offset} \
         ({len} of its {required_len} bytes)"
    )]
    Truncated {
        /// What was being read.
        structure: FileStructure,
        /// Where it starts in the file (of the decompressed stream, for a compressed file).
        offset: u64,
        /// Bytes it needs (a record: its header and the captured length it announces).
        required_len: usize,
        /// Bytes there were.
        len: usize,
    },
    /// A pcap record whose captured length no writer produces (more than libpcap's 256 KiB).
    #[error("corrupt packet record at byte offset {offset} (captured length {caplen})")]
    BadRecord {
        /// Where the record starts.
        offset: u64,
        /// The captured length it says.
        caplen: u32,
    },
    /// A pcapng section header whose byte-order magic is neither order of 0x1A2B3C4D.
    #[error("corrupt pcapng block at byte offset {offset}: section header with a bad byte-order magic 0x{magic:08x}")]
    BadMagic {
        /// Where the section header starts.
        offset: u64,
        /// The magic found (read little-endian).
        magic: u32,
    },
    /// A format version this reader does not read (pcap 2.x and pcapng 1.x are read).
    #[error("unsupported version {major}.{minor} of the {format} format at byte offset {offset}")]
    UnsupportedVersion {
        /// `pcap` or `pcapng`.
        format: &'static str,
        /// Where the header with the version starts.
        offset: u64,
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
    /// A pcapng block that cannot be right.
    #[error("corrupt pcapng block at byte offset {offset}: {why}")]
    BadBlock {
        /// Where the block starts.
        offset: u64,
        /// What is wrong with it.
        why: &'static str,
    },
    /// libpcap's error reading a live interface.
    #[error("{message}")]
    Libpcap {
        /// libpcap's explanation.
        message: String,
    },
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(Arc::new(e))
    }
}

/// The structures of a capture file, as [`ReadError::Truncated`] names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileStructure {
    /// The 24-byte pcap file header.
    FileHeader,
    /// A 16-byte pcap record header.
    RecordHeader,
    /// A pcap record: its header and the captured bytes.
    Record,
    /// The type and length words that start a pcapng block (8 bytes; 12 for a section
    /// header, whose byte-order magic says how to read its length).
    BlockHeader,
    /// A whole pcapng block.
    Block,
}

impl std::fmt::Display for FileStructure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::FileHeader => "file header",
            Self::RecordHeader => "packet record header",
            Self::Record => "packet record",
            Self::BlockHeader => "pcapng block header",
            Self::Block => "pcapng block",
        })
    }
}

/// How a file's record headers are written: byte order and timestamp resolution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordFormat {
    swapped: bool,
    nanos: bool,
}

/// Length of a record header: seconds, fraction, captured length, wire length.
pub(crate) const RECORD_HEADER_LEN: usize = 16;

/// Length of the file header.
pub(crate) const FILE_HEADER_LEN: u64 = 24;

impl RecordFormat {
    fn u32_at(self, b: &[u8], i: usize) -> u32 {
        let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if self.swapped {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    }

    /// Timestamp, wire length and captured length of the record header at the start of `h`
    /// (at least 16 bytes); an error for a captured length no writer produces.
    #[inline]
    pub(crate) fn header(self, h: &[u8], offset: u64) -> Result<(Duration, u32, usize), ReadError> {
        let (sec, frac, caplen, len) = (
            self.u32_at(h, 0),
            self.u32_at(h, 4),
            self.u32_at(h, 8),
            self.u32_at(h, 12),
        );
        if caplen as usize > MAX_CAPLEN {
            return Err(ReadError::BadRecord { offset, caplen });
        }
        let nanos = if self.nanos {
            frac.min(999_999_999)
        } else {
            frac.min(999_999) * 1000
        };
        Ok((Duration::new(sec as u64, nanos), len, caplen as usize))
    }
}

pub(crate) struct PcapReader {
    rd: ReadBuf,
    pub(crate) format: RecordFormat,
    pub(crate) linktype: u32,
}

/// A record in the reader's buffer: where its bytes lie, and what its header says.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    pub(crate) ts: Duration,
    pub(crate) wire_len: u32,
    /// LINKTYPE_ number of the interface that captured it.
    pub(crate) linktype: u32,
    /// Offset of the captured bytes in the reader's buffer.
    pub(crate) at: usize,
    pub(crate) caplen: usize,
}

impl PcapReader {
    /// Reads the file header at the front of `rd` if it is a classic pcap file; gives `rd`
    /// back for anything else.
    ///
    /// A file with a pcap magic whose header is cut short, or of another major version than
    /// 2, is a pcap file that cannot be read: `Ok(Err(..))`.
    pub(crate) fn open(mut rd: ReadBuf) -> Result<Result<PcapReader, ReadError>, ReadBuf> {
        if rd.fill(FILE_HEADER_LEN as usize).is_err() || rd.len() < 4 {
            return Err(rd);
        }
        let h = rd.available();
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (swapped, nanos) = match magic {
            0xa1b2_c3d4 => (false, false),
            0xa1b2_3c4d => (false, true),
            0xd4c3_b2a1 => (true, false),
            0x4d3c_b2a1 => (true, true),
            _ => return Err(rd),
        };
        if h.len() < FILE_HEADER_LEN as usize {
            return Ok(Err(ReadError::Truncated {
                structure: FileStructure::FileHeader,
                offset: 0,
                required_len: FILE_HEADER_LEN as usize,
                len: h.len(),
            }));
        }
        let format = RecordFormat { swapped, nanos };
        let version = |i: usize| {
            let w = [h[i], h[i + 1]];
            if swapped {
                u16::from_be_bytes(w)
            } else {
                u16::from_le_bytes(w)
            }
        };
        // libpcap reads major version 2 only (1 is older than any file still around).
        if version(4) != 2 {
            return Ok(Err(ReadError::UnsupportedVersion {
                format: "pcap",
                offset: 0,
                major: version(4),
                minor: version(6),
            }));
        }
        let h = &h[..FILE_HEADER_LEN as usize];
        // The upper bits of the link type field carry the FCS length, not the link type.
        let linktype = format.u32_at(h, 20) & 0x0fff_ffff;
        rd.consume(FILE_HEADER_LEN as usize);
        Ok(Ok(PcapReader {
            rd,
            format,
            linktype,
        }))
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

    /// The next record, or `None` at a clean end of file.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Result<Option<Record>, ReadError> {
        // The usual case: the whole record is in the buffer; otherwise refill first.
        let (ts, wire_len, caplen) = match self.buffered_header()? {
            Some(h) if self.rd.len() >= RECORD_HEADER_LEN + h.2 => h,
            _ => match self.refill()? {
                Some(h) => h,
                None => return Ok(None),
            },
        };
        let at = self.rd.start + RECORD_HEADER_LEN;
        self.rd.consume(RECORD_HEADER_LEN + caplen);
        Ok(Some(Record {
            ts,
            wire_len,
            linktype: self.linktype,
            at,
            caplen,
        }))
    }

    /// The header of the next record, when it is in the buffer.
    #[inline]
    fn buffered_header(&self) -> Result<Option<(Duration, u32, usize)>, ReadError> {
        let b = self.rd.available();
        if b.len() < RECORD_HEADER_LEN {
            return Ok(None);
        }
        self.format.header(b, self.rd.offset()).map(Some)
    }

    /// Reads until the next record is wholly in the buffer, and gives its header; `None` at
    /// a clean end of file, an error when the file ends inside the record.
    #[cold]
    fn refill(&mut self) -> Result<Option<(Duration, u32, usize)>, ReadError> {
        self.rd.fill(RECORD_HEADER_LEN)?;
        let offset = self.rd.offset();
        if self.rd.len() == 0 {
            return Ok(None);
        }
        let Some(h) = self.buffered_header()? else {
            return Err(ReadError::Truncated {
                structure: FileStructure::RecordHeader,
                offset,
                required_len: RECORD_HEADER_LEN,
                len: self.rd.len(),
            });
        };
        self.rd.fill(RECORD_HEADER_LEN + h.2)?;
        if self.rd.len() < RECORD_HEADER_LEN + h.2 {
            return Err(ReadError::Truncated {
                structure: FileStructure::Record,
                offset,
                required_len: RECORD_HEADER_LEN + h.2,
                len: self.rd.len(),
            });
        }
        Ok(Some(h))
    }
}

/// Walks the records of a file handed over in consecutive blocks of any size (the file after
/// its header, cut anywhere): records inside a block are visited where they lie, a record cut
/// by a block's end is carried over to the next block.
#[derive(Clone)]
pub(crate) struct BlockWalker {
    format: RecordFormat,
    carry: Vec<u8>,
    /// File offset of the next record.
    offset: u64,
    /// Records visited.
    pub(crate) records: u64,
}

impl BlockWalker {
    pub(crate) fn new(format: RecordFormat) -> Self {
        BlockWalker {
            format,
            carry: Vec::new(),
            offset: FILE_HEADER_LEN,
            records: 0,
        }
    }

    /// Takes from `b` what the carried record still needs; the record when it is complete.
    fn complete_carry(&mut self, b: &mut &[u8]) -> Result<Option<usize>, ReadError> {
        let mut take = |need: usize, carry: &mut Vec<u8>| {
            let n = need.saturating_sub(carry.len()).min(b.len());
            carry.extend_from_slice(&b[..n]);
            *b = &b[n..];
            carry.len() >= need
        };
        if !take(RECORD_HEADER_LEN, &mut self.carry) {
            return Ok(None);
        }
        let (_, _, caplen) = self.format.header(&self.carry, self.offset)?;
        if !take(RECORD_HEADER_LEN + caplen, &mut self.carry) {
            return Ok(None);
        }
        Ok(Some(caplen))
    }

    /// Visits every record that ends in `block`.
    pub(crate) fn feed(
        &mut self,
        block: &[u8],
        visit: &mut impl FnMut(Duration, u32, &[u8]),
    ) -> Result<(), ReadError> {
        let mut b = block;
        if !self.carry.is_empty() {
            let Some(caplen) = self.complete_carry(&mut b)? else {
                return Ok(());
            };
            let (ts, len, _) = self.format.header(&self.carry, self.offset)?;
            visit(ts, len, &self.carry[RECORD_HEADER_LEN..]);
            self.records += 1;
            self.offset += (RECORD_HEADER_LEN + caplen) as u64;
            self.carry.clear();
        }
        while b.len() >= RECORD_HEADER_LEN {
            let (ts, len, caplen) = self.format.header(b, self.offset)?;
            let Some(data) = b.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + caplen) else {
                break;
            };
            visit(ts, len, data);
            self.records += 1;
            self.offset += (RECORD_HEADER_LEN + caplen) as u64;
            b = &b[RECORD_HEADER_LEN + caplen..];
        }
        self.carry.extend_from_slice(b);
        Ok(())
    }

    /// After the last block: an error if it ended inside a record.
    pub(crate) fn finish(&self) -> Result<(), ReadError> {
        if self.carry.is_empty() {
            return Ok(());
        }
        let (structure, required_len) = if self.carry.len() < RECORD_HEADER_LEN {
            (FileStructure::RecordHeader, RECORD_HEADER_LEN)
        } else {
            let (_, _, caplen) = self.format.header(&self.carry, self.offset)?;
            (FileStructure::Record, RECORD_HEADER_LEN + caplen)
        };
        Err(ReadError::Truncated {
            structure,
            offset: self.offset,
            required_len,
            len: self.carry.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way of cutting a real capture into blocks gives the records the reader gives.
    #[test]
    fn blocks_cut_anywhere_give_the_reader_s_records() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../captures/openssl.pcap");
        let file = std::fs::File::open(path).unwrap();
        let Ok(Ok(mut r)) = PcapReader::open(ReadBuf::open(Box::new(file)).unwrap()) else {
            panic!("{path} is a classic pcap file")
        };
        let mut want = Vec::new();
        while let Some(rec) = r.next().unwrap() {
            let d = &r.buf()[rec.at..rec.at + rec.caplen];
            want.push((rec.ts, rec.wire_len, d.to_vec()));
        }
        let bytes = std::fs::read(path).unwrap();
        let body = &bytes[FILE_HEADER_LEN as usize..];
        for size in [1, 2, 7, 15, 16, 17, 100, 1499, 4096, body.len()] {
            let mut w = BlockWalker::new(r.format);
            let mut got = Vec::new();
            for block in body.chunks(size) {
                w.feed(block, &mut |ts, len, d| got.push((ts, len, d.to_vec())))
                    .unwrap();
            }
            w.finish().unwrap();
            assert_eq!(got, want, "blocks of {size}");
            assert_eq!(w.records as usize, want.len());
        }
        // Cut inside the last record: truncated, at that record's offset.
        let mut w = BlockWalker::new(r.format);
        w.feed(&body[..body.len() - 3], &mut |_, _, _| {}).unwrap();
        assert!(matches!(w.finish(), Err(ReadError::Truncated { .. })));
    }
}
