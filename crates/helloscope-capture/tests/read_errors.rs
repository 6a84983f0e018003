//! A damaged capture file stops the reading with a typed error that callers can match:
//! which structure, where it starts, how many bytes it needed and had. The bundled captures
//! are cut and corrupted; the expected offsets and lengths come from walking the files by
//! their format's own fields (pcap: 24-byte file header, 16-byte record headers with the
//! captured length at byte 8; pcapng: block total length at byte 4), not from the reader.

use std::io::Cursor;

use helloscope_capture::{FileStructure, PacketSource, ReadError, SourceError};

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../captures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn u32_le(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// Opens `bytes` and reads to the end: the error, with the packets read before it.
fn read_all(bytes: Vec<u8>) -> Result<u64, SourceError> {
    let mut src = PacketSource::from_reader("test", Box::new(Cursor::new(bytes)))?;
    let mut n = 0;
    while src.next_packet()?.is_some() {
        n += 1;
    }
    Ok(n)
}

fn read_error(bytes: Vec<u8>) -> (u64, ReadError) {
    match read_all(bytes) {
        Err(SourceError::Read { packet, error, .. }) => (packet, error),
        other => panic!("{other:?}"),
    }
}

/// Reads `bytes` to their error, which must be a truncation: the packets read before it, the
/// structure cut short, its offset, the bytes it needed and the bytes there.
fn truncation(bytes: Vec<u8>) -> (u64, FileStructure, u64, usize, usize) {
    match read_error(bytes) {
        (
            packet,
            ReadError::Truncated {
                structure,
                offset,
                required_len,
                len,
            },
        ) => (packet, structure, offset, required_len, len),
        (_, e) => panic!("not a truncation: {e:?}"),
    }
}

/// Record start offsets of a little-endian microsecond pcap file.
fn pcap_records(b: &[u8]) -> Vec<usize> {
    assert_eq!(&b[..4], [0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let (mut at, mut v) = (24, Vec::new());
    while at < b.len() {
        v.push(at);
        at += 16 + u32_le(b, at + 8);
    }
    v
}

#[test]
fn a_pcap_file_cut_at_several_offsets() {
    let full = capture("openssl.pcap");
    let recs = pcap_records(&full);
    assert_eq!(read_all(full.clone()).unwrap(), recs.len() as u64);

    // Inside the file header.
    assert_eq!(
        truncation(full[..10].to_vec()),
        (0, FileStructure::FileHeader, 0, 24, 10)
    );
    for k in [0, 1, recs.len() / 2, recs.len() - 1] {
        let at = recs[k];
        let caplen = u32_le(&full, at + 8);
        // Inside the record header, 8 of its 16 bytes there.
        assert_eq!(
            truncation(full[..at + 8].to_vec()),
            (k as u64, FileStructure::RecordHeader, at as u64, 16, 8),
            "record {k}"
        );
        // Inside the captured bytes, one short.
        assert_eq!(
            truncation(full[..at + 16 + caplen - 1].to_vec()),
            (
                k as u64,
                FileStructure::Record,
                at as u64,
                16 + caplen,
                16 + caplen - 1
            ),
            "record {k}"
        );
        assert!(e_text(&full[..at + 8]).contains(&format!("at byte offset {at}")));
    }
}

fn e_text(bytes: &[u8]) -> String {
    read_all(bytes.to_vec()).unwrap_err().to_string()
}

#[test]
fn a_pcap_file_with_a_corrupt_magic_version_or_record() {
    let full = capture("openssl.pcap");
    // The magic: not a capture at all, which is an error opening it.
    let mut bad = full.clone();
    bad[0] ^= 0xff;
    assert!(matches!(read_all(bad), Err(SourceError::Open { .. })));
    // Major version 3 (libpcap writes 2.4).
    let mut v3 = full.clone();
    v3[4] = 3;
    match read_error(v3).1 {
        ReadError::UnsupportedVersion {
            format: "pcap",
            major: 3,
            minor: 4,
            offset: 0,
        } => {}
        e => panic!("{e:?}"),
    }
    // The second record's captured length made 1 MiB, more than libpcap's 256 KiB.
    let recs = pcap_records(&full);
    let mut big = full.clone();
    big[recs[1] + 8..recs[1] + 12].copy_from_slice(&(1u32 << 20).to_le_bytes());
    match read_error(big) {
        (1, ReadError::BadRecord { offset, caplen }) => {
            assert_eq!((offset, caplen), (recs[1] as u64, 1 << 20))
        }
        other => panic!("{other:?}"),
    }
}

/// Block start offsets of a little-endian pcapng file.
fn pcapng_blocks(b: &[u8]) -> Vec<usize> {
    assert_eq!(&b[8..12], [0x4d, 0x3c, 0x2b, 0x1a], "little-endian pcapng");
    let (mut at, mut v) = (0, Vec::new());
    while at < b.len() {
        v.push(at);
        at += u32_le(b, at + 4);
    }
    v
}

#[test]
fn a_pcapng_file_cut_and_corrupted() {
    let full = capture("curl.pcapng");
    let blocks = pcapng_blocks(&full);
    let shb_len = u32_le(&full, 4);
    // Inside the section header block: an error opening the stream, before any packet.
    assert_eq!(
        truncation(full[..20].to_vec()),
        (0, FileStructure::Block, 0, shb_len, 20)
    );
    // Inside the last block, 10 of its bytes there; and inside its first 8 bytes.
    let last = *blocks.last().unwrap();
    let last_len = u32_le(&full, last + 4);
    let (_, structure, offset, required_len, len) = truncation(full[..last + 10].to_vec());
    assert_eq!(
        (structure, offset, required_len, len),
        (FileStructure::Block, last as u64, last_len, 10)
    );
    let (_, structure, offset, required_len, len) = truncation(full[..last + 5].to_vec());
    assert_eq!(
        (structure, offset, required_len, len),
        (FileStructure::BlockHeader, last as u64, 8, 5)
    );
    // Two sections, the second's byte-order magic corrupted, then its major version made 2.
    let packets = read_all(full.clone()).unwrap();
    let mut two = full.clone();
    two.extend_from_slice(&full);
    two[full.len() + 8] = 0x4e;
    match read_error(two.clone()) {
        (n, ReadError::BadMagic { offset, magic }) => {
            assert_eq!(
                (n, offset, magic),
                (packets, full.len() as u64, 0x1a2b_3c4e)
            )
        }
        other => panic!("{other:?}"),
    }
    two[full.len() + 8] = 0x4d;
    two[full.len() + 12] = 2;
    match read_error(two).1 {
        ReadError::UnsupportedVersion {
            format: "pcapng",
            offset,
            major: 2,
            ..
        } => assert_eq!(offset, full.len() as u64),
        e => panic!("{e:?}"),
    }
}

/// A stream that fails after the file header: the reader's I/O error is kept as the source.
#[test]
fn an_io_error_is_kept_as_the_source() {
    struct Failing(Cursor<Vec<u8>>);
    impl std::io::Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(out)? {
                0 => Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "gone",
                )),
                n => Ok(n),
            }
        }
    }
    let full = capture("openssl.pcap");
    let cut = full[..pcap_records(&full)[3] + 3].to_vec();
    let mut src =
        PacketSource::from_reader("failing", Box::new(Failing(Cursor::new(cut)))).unwrap();
    let err = loop {
        match src.next_packet() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    let SourceError::Read {
        error: ReadError::Io(io),
        packet,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (io.kind(), *packet),
        (std::io::ErrorKind::ConnectionReset, 3)
    );
    let source = std::error::Error::source(&err).unwrap();
    assert!(source.downcast_ref::<ReadError>().is_some());
}
