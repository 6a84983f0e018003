//! A reader for classic pcap files (not pcapng), used instead of libpcap for plain files.
//!
//! libpcap reads files through stdio in small blocks and copies every packet twice; on a
//! 1 GB capture the profile showed the reading alone costing as much as all of helloscope's
//! own work (see the Performance section of the README). This reader makes large `read`
//! calls into one buffer and hands out packets borrowed from it. pcapng files, standard
//! input and BPF filters still go through libpcap.

use std::fs::File;
use std::io::{self, Read};
use std::time::Duration;

/// Largest caplen accepted: libpcap's own bound for savefiles (256 KiB).
const MAX_CAPLEN: usize = 262_144;

/// What is wrong with a file, and where.
#[derive(Debug)]
pub(crate) enum PcapError {
    Io(io::Error),
    /// The file ends inside a record (a copy cut short, or a capture still being written).
    Truncated {
        offset: u64,
    },
    /// A record header that cannot be right.
    BadRecord {
        offset: u64,
        caplen: u32,
    },
}

impl std::fmt::Display for PcapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PcapError::Io(e) => write!(f, "{e}"),
            PcapError::Truncated { offset } => {
                write!(
                    f,
                    "file truncated inside the packet record at byte offset {offset}"
                )
            }
            PcapError::BadRecord { offset, caplen } => write!(
                f,
                "corrupt packet record at byte offset {offset} (captured length {caplen})"
            ),
        }
    }
}

/// One packet record: timestamp, length on the wire, captured bytes.
pub(crate) type RawRecord<'a> = (Duration, u32, &'a [u8]);

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
    pub(crate) fn header(self, h: &[u8], offset: u64) -> Result<(Duration, u32, usize), PcapError> {
        let (sec, frac, caplen, len) = (
            self.u32_at(h, 0),
            self.u32_at(h, 4),
            self.u32_at(h, 8),
            self.u32_at(h, 12),
        );
        if caplen as usize > MAX_CAPLEN {
            return Err(PcapError::BadRecord { offset, caplen });
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
    file: File,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    pub(crate) format: RecordFormat,
    /// File offset of `buf[0]`.
    base: u64,
    pub(crate) linktype: i32,
}

impl PcapReader {
    /// Opens `file` if it is a classic pcap file; `Ok(None)` for anything else (pcapng,
    /// garbage), which is then left to libpcap and its error messages.
    pub(crate) fn open(path: &str) -> io::Result<Option<PcapReader>> {
        let mut file = File::open(path)?;
        let mut h = [0u8; 24];
        if file.read_exact(&mut h).is_err() {
            return Ok(None);
        }
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (swapped, nanos) = match magic {
            0xa1b2_c3d4 => (false, false),
            0xa1b2_3c4d => (false, true),
            0xd4c3_b2a1 => (true, false),
            0x4d3c_b2a1 => (true, true),
            _ => return Ok(None),
        };
        let rd = |b: [u8; 4]| {
            if swapped {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let linktype = (rd([h[20], h[21], h[22], h[23]]) & 0x0fff_ffff) as i32;
        Ok(Some(PcapReader {
            file,
            buf: vec![0; 256 << 10],
            start: 0,
            end: 0,
            eof: false,
            format: RecordFormat { swapped, nanos },
            base: FILE_HEADER_LEN,
            linktype,
        }))
    }

    /// Makes at least `n` bytes available from `start`, unless the file ends first.
    fn fill(&mut self, n: usize) -> Result<(), PcapError> {
        while self.end - self.start < n && !self.eof {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.base += self.start as u64;
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() < n {
                self.buf.resize(n.next_power_of_two(), 0);
            }
            match self.file.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(PcapError::Io(e)),
            }
        }
        Ok(())
    }

    /// The next record, or `None` at a clean end of file.
    #[inline]
    pub(crate) fn next(&mut self) -> Result<Option<RawRecord<'_>>, PcapError> {
        // The usual case: the whole record is in the buffer; otherwise refill first.
        let (ts, len, caplen) = match self.buffered_header()? {
            Some(h) if self.end - self.start >= RECORD_HEADER_LEN + h.2 => h,
            _ => match self.refill()? {
                Some(h) => h,
                None => return Ok(None),
            },
        };
        let data_start = self.start + RECORD_HEADER_LEN;
        self.start = data_start + caplen;
        Ok(Some((ts, len, &self.buf[data_start..data_start + caplen])))
    }

    /// The header of the next record, when it is in the buffer.
    #[inline]
    fn buffered_header(&self) -> Result<Option<(Duration, u32, usize)>, PcapError> {
        if self.end - self.start < RECORD_HEADER_LEN {
            return Ok(None);
        }
        let offset = self.base + self.start as u64;
        let h = &self.buf[self.start..self.start + RECORD_HEADER_LEN];
        self.format.header(h, offset).map(Some)
    }

    /// Reads until the next record is wholly in the buffer, and gives its header; `None` at
    /// a clean end of file, an error when the file ends inside the record.
    #[cold]
    fn refill(&mut self) -> Result<Option<(Duration, u32, usize)>, PcapError> {
        self.fill(RECORD_HEADER_LEN)?;
        let offset = self.base + self.start as u64;
        let avail = self.end - self.start;
        if avail == 0 {
            return Ok(None);
        }
        let Some(h) = self.buffered_header()? else {
            return Err(PcapError::Truncated { offset });
        };
        self.fill(RECORD_HEADER_LEN + h.2)?;
        if self.end - self.start < RECORD_HEADER_LEN + h.2 {
            return Err(PcapError::Truncated { offset });
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
    fn complete_carry(&mut self, b: &mut &[u8]) -> Result<Option<usize>, PcapError> {
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
    ) -> Result<(), PcapError> {
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
    pub(crate) fn finish(&self) -> Result<(), PcapError> {
        if self.carry.is_empty() {
            Ok(())
        } else {
            Err(PcapError::Truncated {
                offset: self.offset,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way of cutting a real capture into blocks gives the records the reader gives.
    #[test]
    fn blocks_cut_anywhere_give_the_reader_s_records() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../captures/openssl.pcap");
        let mut r = PcapReader::open(path).unwrap().unwrap();
        let mut want = Vec::new();
        while let Some((ts, len, d)) = r.next().unwrap() {
            want.push((ts, len, d.to_vec()));
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
        assert!(matches!(w.finish(), Err(PcapError::Truncated { .. })));
    }
}
