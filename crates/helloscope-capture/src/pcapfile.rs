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

pub(crate) struct PcapReader {
    file: File,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    swapped: bool,
    nanos: bool,
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
            buf: vec![0; 1 << 22],
            start: 0,
            end: 0,
            eof: false,
            swapped,
            nanos,
            base: 24,
            linktype,
        }))
    }

    fn u32_at(&self, i: usize) -> u32 {
        let b = [
            self.buf[i],
            self.buf[i + 1],
            self.buf[i + 2],
            self.buf[i + 3],
        ];
        if self.swapped {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
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
    pub(crate) fn next(&mut self) -> Result<Option<RawRecord<'_>>, PcapError> {
        self.fill(16)?;
        let avail = self.end - self.start;
        if avail == 0 {
            return Ok(None);
        }
        let offset = self.base + self.start as u64;
        if avail < 16 {
            return Err(PcapError::Truncated { offset });
        }
        let s = self.start;
        let (sec, frac, caplen, len) = (
            self.u32_at(s),
            self.u32_at(s + 4),
            self.u32_at(s + 8),
            self.u32_at(s + 12),
        );
        if caplen as usize > MAX_CAPLEN {
            return Err(PcapError::BadRecord { offset, caplen });
        }
        self.fill(16 + caplen as usize)?;
        if self.end - self.start < 16 + caplen as usize {
            return Err(PcapError::Truncated { offset });
        }
        let nanos = if self.nanos {
            frac.min(999_999_999)
        } else {
            frac.min(999_999) * 1000
        };
        let data_start = self.start + 16;
        self.start = data_start + caplen as usize;
        Ok(Some((
            Duration::new(sec as u64, nanos),
            len,
            &self.buf[data_start..data_start + caplen as usize],
        )))
    }
}
