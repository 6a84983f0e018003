//! One direction's crypto stream at the Initial level, put back together from CRYPTO frames
//! that arrive in any order, overlap, repeat, and spread over packets and datagrams
//! (RFC 9000 §19.6), within a fixed bound.

use crate::error::{Error, Structure};
use crate::handshake::{parse_handshake, HandshakeMessage};

/// Most separate holes-and-islands the stream keeps track of; a peer scattering more tiny
/// frames than this is not sending a hello.
const MAX_RANGES: usize = 16;

/// The bytes of a crypto stream received so far.
///
/// ```
/// use helloscope_tls::quic::CryptoStream;
/// use helloscope_tls::HandshakeType;
/// let mut s = CryptoStream::new(1 << 16);
/// // A three-byte handshake message, its second half first.
/// s.insert(5, &[0xbb, 0xcc])?;
/// assert!(s.first_message().is_err());
/// s.insert(0, &[1, 0, 0, 3, 0xaa])?;
/// let m = s.first_message()?;
/// assert_eq!((m.msg_type, m.body), (HandshakeType::CLIENT_HELLO, &[0xaa, 0xbb, 0xcc][..]));
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct CryptoStream {
    buf: Vec<u8>,
    /// Received byte ranges, sorted, disjoint and not touching.
    ranges: Vec<(usize, usize)>,
    limit: usize,
}

impl CryptoStream {
    /// An empty stream that refuses bytes past offset `limit`.
    pub fn new(limit: usize) -> Self {
        CryptoStream {
            buf: Vec::new(),
            ranges: Vec::new(),
            limit,
        }
    }

    /// Bytes held (received or holes between them).
    pub fn buffered(&self) -> usize {
        self.buf.capacity()
    }

    /// Forgets everything (the client started again after a Retry).
    pub fn clear(&mut self) {
        self.buf = Vec::new();
        self.ranges.clear();
    }

    /// Takes the data of one CRYPTO frame. Bytes already received are kept as they were
    /// (a retransmission carries the same bytes; a conflicting one is not believed).
    ///
    /// An error when the data would go past the limit or scatter the stream into too many
    /// pieces; the stream is left as it was.
    pub fn insert(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        if data.is_empty() {
            return Ok(());
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(data.len());
        if end > self.limit {
            return Err(Error::Malformed {
                structure: Structure::QuicCryptoStream,
                field: "beyond the buffer limit",
            });
        }
        // The ranges this one touches or overlaps.
        let first = self.ranges.partition_point(|r| r.1 < start);
        let last = self.ranges.partition_point(|r| r.0 <= end);
        if first == last && self.ranges.len() >= MAX_RANGES {
            return Err(Error::Malformed {
                structure: Structure::QuicCryptoStream,
                field: "too many pieces",
            });
        }
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        // Copy only into the holes between the existing ranges.
        let mut at = start;
        for &(s, e) in &self.ranges[first..last] {
            if at < s {
                self.buf[at..s].copy_from_slice(&data[at - start..s - start]);
            }
            at = at.max(e);
        }
        if at < end {
            self.buf[at..end].copy_from_slice(&data[at - start..]);
        }
        let merged = if last > first {
            (
                self.ranges[first].0.min(start),
                self.ranges[last - 1].1.max(end),
            )
        } else {
            (start, end)
        };
        self.ranges.splice(first..last, [merged]);
        Ok(())
    }

    /// The bytes received without a hole from offset 0.
    pub fn contiguous(&self) -> &[u8] {
        match self.ranges.first() {
            Some(&(0, end)) => &self.buf[..end],
            _ => &[],
        }
    }

    /// The first handshake message of the stream, once it is whole:
    /// [`Error::Incomplete`] until then.
    pub fn first_message(&self) -> Result<HandshakeMessage<'_>, Error> {
        parse_handshake(self.contiguous(), self.limit).map(|(m, _)| m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_of_four_pieces_gives_the_same_stream() {
        let msg: Vec<u8> = [1u8, 0, 0, 12].into_iter().chain(1..=12).collect();
        let pieces = [(0usize, 5usize), (5, 9), (9, 14), (14, 16)];
        let orders = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]];
        for order in orders {
            let mut s = CryptoStream::new(100);
            for (n, &i) in order.iter().enumerate() {
                let (a, b) = pieces[i];
                s.insert(a as u64, &msg[a..b]).unwrap();
                // A retransmission of everything so far, overlapping.
                s.insert(a as u64, &msg[a..b]).unwrap();
                assert_eq!(s.first_message().is_ok(), n == 3, "{order:?} {n}");
            }
            assert_eq!(s.contiguous(), &msg[..]);
            assert_eq!(s.ranges, [(0, 16)]);
        }
    }

    #[test]
    fn overlapping_conflicting_bytes_keep_the_first() {
        let mut s = CryptoStream::new(100);
        s.insert(2, &[2, 3, 4]).unwrap();
        s.insert(0, &[0, 1, 9, 9, 9, 5]).unwrap();
        assert_eq!(s.contiguous(), [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn bounds() {
        let mut s = CryptoStream::new(10);
        assert!(s.insert(9, &[1, 2]).is_err());
        assert!(s.insert(u64::MAX, &[1]).is_err());
        let mut s = CryptoStream::new(1000);
        for i in 0..MAX_RANGES {
            s.insert(10 * i as u64 + 1, &[1]).unwrap();
        }
        assert!(s.insert(500, &[1]).is_err());
        // Filling a hole between existing pieces is still allowed.
        s.insert(2, &[1; 9]).unwrap();
        assert_eq!(s.ranges.len(), MAX_RANGES - 1);
    }
}
