//! The bytes of a capture file: one large read buffer that packets are handed out of where
//! they lie, over a file, standard input, or a decompressor recognised by its magic bytes.
//!
//! Rotated captures are kept compressed (`tcpdump -z gzip`, `zstd`, `lz4`), and tshark reads
//! them as they are; so does this. The compressed formats are told apart by their first
//! bytes, never by the file's name, and are decompressed as a stream: memory does not grow
//! with the file.

use std::io::{self, Read};
use std::sync::mpsc;

/// Size of the read buffer. Large reads are what make file reading cheap (see pcapfile.rs).
const BUF_LEN: usize = 256 << 10;

/// How the bytes of a capture were stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
    Lz4,
}

impl Compression {
    /// The compression whose magic bytes start `head` (at least 4 bytes to tell).
    fn of(head: &[u8]) -> Compression {
        match head {
            // RFC 1952: ID1 ID2, then CM = 8 (deflate).
            [0x1f, 0x8b, 8, ..] => Compression::Gzip,
            // RFC 8878 section 3.1.1: the Zstandard frame magic number 0xFD2FB528.
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            // The LZ4 frame format's magic number 0x184D2204.
            [0x04, 0x22, 0x4d, 0x18, ..] => Compression::Lz4,
            _ => Compression::None,
        }
    }
}

/// Decompressed blocks a [`Prefetch`] thread may hold ready: enough to keep both sides busy,
/// few enough that memory stays small.
const PREFETCH_BLOCKS: usize = 4;

/// A stream read on a thread of its own, a block ahead of its reader: decompression then
/// runs beside the analysis, as `zcat FILE | helloscope analyze -` would on two cores,
/// instead of taking turns with it.
struct Prefetch {
    blocks: mpsc::Receiver<io::Result<Vec<u8>>>,
    /// Emptied blocks go back to the thread, so that no block is allocated per read.
    spent: mpsc::SyncSender<Vec<u8>>,
    block: Vec<u8>,
    pos: usize,
}

impl Prefetch {
    fn spawn(mut src: Box<dyn Read + Send>) -> Prefetch {
        let (tx, blocks) = mpsc::sync_channel(PREFETCH_BLOCKS);
        let (spent, recycled) = mpsc::sync_channel::<Vec<u8>>(PREFETCH_BLOCKS + 2);
        std::thread::spawn(move || loop {
            let mut b = recycled.try_recv().unwrap_or_default();
            b.resize(BUF_LEN, 0);
            let r = loop {
                match src.read(&mut b) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    r => break r,
                }
            };
            let last = !matches!(r, Ok(n) if n > 0);
            let sent = match r {
                Ok(0) => break,
                Ok(n) => {
                    b.truncate(n);
                    tx.send(Ok(b))
                }
                Err(e) => tx.send(Err(e)),
            };
            // The reader is gone (dropped the source), or the stream ended: stop.
            if sent.is_err() || last {
                break;
            }
        });
        Prefetch {
            blocks,
            spent,
            block: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for Prefetch {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.block.len() {
            let next = match self.blocks.recv() {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => return Err(e),
                // The thread ended: the end of the stream.
                Err(_) => return Ok(0),
            };
            let done = std::mem::replace(&mut self.block, next);
            let _ = self.spent.try_send(done);
            self.pos = 0;
        }
        let n = out.len().min(self.block.len() - self.pos);
        out[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A byte stream read in large blocks into one buffer; callers look at `buf[start..end]`
/// and consume from the front.
pub(crate) struct ReadBuf {
    src: Box<dyn Read + Send>,
    pub(crate) buf: Vec<u8>,
    pub(crate) start: usize,
    pub(crate) end: usize,
    eof: bool,
    /// Stream offset of `buf[0]` (of the decompressed stream for a compressed file).
    base: u64,
    /// How the stream was stored.
    pub(crate) compression: Compression,
}

impl ReadBuf {
    fn new(src: Box<dyn Read + Send>) -> Self {
        ReadBuf {
            src,
            buf: vec![0; BUF_LEN],
            start: 0,
            end: 0,
            eof: false,
            base: 0,
            compression: Compression::None,
        }
    }

    /// Opens `src`, decompressing it when its first bytes say it is compressed (one level:
    /// a compressed file inside a compressed file is not a capture anyone writes).
    pub(crate) fn open(src: Box<dyn Read + Send>) -> io::Result<Self> {
        let mut raw = ReadBuf::new(src);
        raw.fill(4)?;
        let compression = Compression::of(raw.available());
        if compression == Compression::None {
            return Ok(raw);
        }
        // The decompressor reads the bytes already buffered, then the rest of the stream.
        let head = raw.available().to_vec();
        let rest: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(raw.src));
        let src: Box<dyn Read + Send> = match compression {
            // Multi: `cat a.gz b.gz` and pigz's output are several members, as gzip reads them.
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(rest)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(rest)?),
            Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(rest)),
            Compression::None => unreachable!("handled above"),
        };
        let mut rd = ReadBuf::new(Box::new(Prefetch::spawn(src)));
        rd.compression = compression;
        Ok(rd)
    }

    /// The buffered bytes not yet consumed.
    #[inline]
    pub(crate) fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Number of buffered bytes not yet consumed.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    /// Stream offset of the first unconsumed byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Drops the first `n` buffered bytes (at most [`ReadBuf::len`]).
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
    }

    /// Makes at least `n` bytes available from `start`, unless the stream ends first (then
    /// fewer are). Buffered bytes move to the front of the buffer, never elsewhere.
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<()> {
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
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(mut rd: ReadBuf) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            rd.fill(1000).unwrap();
            if rd.len() == 0 {
                return out;
            }
            let n = rd.len().min(777);
            out.extend_from_slice(&rd.available()[..n]);
            rd.consume(n);
        }
    }

    /// Each compression, written by its own crate's encoder, reads back as the original
    /// bytes; the magic decides, and anything else is read as it is.
    #[test]
    fn every_compression_reads_back() {
        use std::io::Write;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../captures/openssl.pcap");
        let plain = std::fs::read(path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&plain[..], 3).unwrap();
        let mut lz = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz.write_all(&plain).unwrap();
        let lz = lz.finish().unwrap();
        for (bytes, want) in [
            (plain.clone(), Compression::None),
            (gz, Compression::Gzip),
            (zst, Compression::Zstd),
            (lz, Compression::Lz4),
        ] {
            let rd = ReadBuf::open(Box::new(io::Cursor::new(bytes))).unwrap();
            assert_eq!(rd.compression, want);
            assert!(all(rd) == plain, "{want:?}");
        }
        // Shorter than any magic: read as it is.
        let rd = ReadBuf::open(Box::new(io::Cursor::new(vec![0x1f]))).unwrap();
        assert_eq!(rd.compression, Compression::None);
        assert_eq!(all(rd), [0x1f]);
    }
}
