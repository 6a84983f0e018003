//! Packet sources: capture files (pcap and pcapng, compressed or not, `-` for standard
//! input) read by this crate's own readers, and live interfaces through libpcap, behind one
//! type. libpcap (live capture, BPF filters) needs the `live` cargo feature; without it
//! [`PacketSource::open_live`] and [`PacketSource::set_filter`] return
//! [`SourceError::NeedsFeature`], and files are read all the same.

use std::time::Duration;

#[cfg(feature = "live")]
use pcap::{Active, Capture};

use crate::decode::LinkType;
use crate::stats::Stats;

/// Errors opening or reading a packet source, each with what a person can do about it.
///
/// ```
/// use helloscope_capture::{LiveConfig, PacketSource, SourceError};
/// match PacketSource::open_file("/nonexistent/capture.pcap") {
///     Err(SourceError::Open { path, .. }) => assert_eq!(path, "/nonexistent/capture.pcap"),
///     other => panic!("{:?}", other.err()),
/// }
/// // Without the `live` feature there is no libpcap to capture with.
/// match PacketSource::open_live(&LiveConfig::new("lo")) {
///     Err(SourceError::NeedsFeature { feature, .. }) => assert_eq!(feature, "live"),
///     _ => assert!(cfg!(feature = "live")),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The file could not be opened or is not a capture.
    #[error("{path}: {message}")]
    Open {
        /// The path as given.
        path: String,
        /// libpcap's explanation.
        message: String,
    },
    /// The interface could not be opened.
    #[error("interface {iface}: {message}{hint}")]
    Live {
        /// Interface name.
        iface: String,
        /// libpcap's explanation.
        message: String,
        /// What to do about it, when known.
        hint: &'static str,
    },
    /// The BPF filter does not compile.
    #[error("filter {filter:?}: {message}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// libpcap's explanation.
        message: String,
    },
    /// The capture's link type is not one this tool decodes.
    #[error("{source_name}: unsupported link type {linktype} ({name})")]
    UnsupportedLinkType {
        /// File or interface.
        source_name: String,
        /// The LINKTYPE_ number.
        linktype: i32,
        /// libpcap's name for it.
        name: String,
    },
    /// Reading stopped on damage (a truncated or corrupt file). Packets before it were read.
    #[error("{source_name}: read error after packet {packet}: {error}")]
    Read {
        /// File or interface.
        source_name: String,
        /// Number of packets read successfully before the error.
        packet: u64,
        /// What was wrong, and where.
        #[source]
        error: crate::ReadError,
    },
    /// What was asked needs libpcap, and this build has no `live` feature.
    #[error(
        "{what} needs libpcap: this helloscope was built without the `{feature}` feature \
         (install libpcap-dev, then build with `--features {feature}`)"
    )]
    NeedsFeature {
        /// What was asked: live capture, a BPF filter.
        what: &'static str,
        /// The cargo feature that brings it.
        feature: &'static str,
    },
}

/// How to open a live interface.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LiveConfig {
    /// Interface name (`eth0`, `any`, `lo` …).
    pub interface: String,
    /// Bytes kept per packet. Every byte of a handshake segment's payload is needed, and a
    /// segment is as large as the interface lets it be (a full MTU, or up to 64 KiB where the
    /// NIC coalesces segments), so keep whole frames. A large snaplen costs nothing in the
    /// ring: with TPACKET_V3 (immediate mode off) frames take only their captured length.
    pub snaplen: i32,
    /// Put the interface in promiscuous mode.
    pub promiscuous: bool,
    /// Deliver each packet as it arrives. Off by default: libpcap on Linux then uses a
    /// TPACKET_V3 ring of variable-size frames handed over a block at a time, which holds
    /// many times more packets in the same memory and costs one wake-up per block; in
    /// immediate mode it falls back to TPACKET_V2, whose fixed slots (one per snaplen)
    /// leave a 16 MiB ring room for only a few hundred frames.
    pub immediate: bool,
    /// Kernel buffer size in bytes.
    pub buffer_size: i32,
    /// How long a block of packets may wait in the kernel before it is handed over (the
    /// latency of a record on a quiet link), and the longest [`PacketSource::next_packet`]
    /// waits for a packet, so that the caller can check for a stop request or tick.
    pub read_timeout: Duration,
}

impl LiveConfig {
    /// The defaults for `interface`; set other fields after, as in
    /// ```
    /// let mut cfg = helloscope_capture::LiveConfig::new("eth0");
    /// cfg.promiscuous = false;
    /// cfg.buffer_size = 64 << 20;
    /// ```
    pub fn new(interface: impl Into<String>) -> Self {
        LiveConfig {
            interface: interface.into(),
            ..LiveConfig::default()
        }
    }
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            interface: String::new(),
            snaplen: 65535,
            promiscuous: true,
            immediate: false,
            buffer_size: 32 << 20,
            read_timeout: Duration::from_millis(200),
        }
    }
}

/// Capture statistics of a live source (libpcap's `pcap_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaptureStats {
    /// Packets received by the filter.
    pub received: u32,
    /// Packets dropped by the kernel for lack of buffer space.
    pub dropped_by_kernel: u32,
    /// Packets dropped by the interface or its driver.
    pub dropped_by_interface: u32,
}

pub(crate) enum Inner {
    /// A classic pcap file read by [`crate::pcapfile`].
    Pcap(crate::pcapfile::PcapReader),
    /// A pcapng file read by [`crate::pcapng`].
    Pcapng(crate::pcapng::PcapngReader),
    // Without libpcap, `Live` is uninhabited: the variant stays so that matches need no cfg.
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    Live(Live),
}

/// Without libpcap there is no live source: the variant cannot be built.
#[cfg(not(feature = "live"))]
pub(crate) enum Live {}

/// A live capture in non-blocking mode, and when to wait for it.
#[cfg(feature = "live")]
pub(crate) struct Live {
    cap: Capture<Active>,
    /// Longest wait for a packet.
    timeout: Duration,
    /// The last read found nothing: wait before the next.
    drained: bool,
}

/// Waits until `cap` has packets to read or `timeout` passes; true when it has. A signal
/// ends the wait early (false), so that the caller sees a stop request at once.
#[cfg(feature = "live")]
fn wait_readable(cap: &Capture<Active>, timeout: Duration) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let mut fds = [PollFd::new(cap.as_fd(), PollFlags::POLLIN)];
    // An error (EINTR) counts as "nothing yet": the caller comes back.
    matches!(poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)), Ok(n) if n > 0)
}

/// One packet, borrowed from the source until the next read.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Packet<'a> {
    /// Capture time, since the Unix epoch.
    pub ts: Duration,
    /// Length on the wire.
    pub wire_len: u32,
    /// The captured bytes (may be shorter than `wire_len`).
    pub data: &'a [u8],
    /// The link type of the interface that captured it (a pcapng file may have several).
    pub link: LinkType,
}

/// A BPF filter on a file: libpcap compiles a filter for one link type, so there is one
/// program per link type met, compiled when it is first met.
#[cfg(feature = "live")]
struct FileFilter {
    text: String,
    programs: Vec<(u32, pcap::BpfProgram)>,
}

/// Without libpcap no filter is compiled: a file's filter cannot be built.
#[cfg(not(feature = "live"))]
enum FileFilter {}

#[cfg(not(feature = "live"))]
impl FileFilter {
    fn matches(&mut self, _linktype: u32, _data: &[u8]) -> Result<bool, SourceError> {
        match *self {}
    }
}

#[cfg(feature = "live")]
impl FileFilter {
    fn compile(text: &str, linktype: u32) -> Result<pcap::BpfProgram, SourceError> {
        let err = |e: pcap::Error| SourceError::Filter {
            filter: text.to_owned(),
            message: e.to_string(),
        };
        Capture::dead(pcap::Linktype(linktype as i32))
            .map_err(err)?
            .compile(text, true)
            .map_err(err)
    }

    /// Whether the filter takes `data`, captured on an interface of `linktype`.
    fn matches(&mut self, linktype: u32, data: &[u8]) -> Result<bool, SourceError> {
        let i = match self.programs.iter().position(|p| p.0 == linktype) {
            Some(i) => i,
            None => {
                let prog = Self::compile(&self.text, linktype)?;
                self.programs.push((linktype, prog));
                self.programs.len() - 1
            }
        };
        Ok(self.programs[i].1.filter(data))
    }
}

/// A capture file or a live interface.
pub struct PacketSource {
    pub(crate) inner: Inner,
    name: String,
    link: LinkType,
    packets: u64,
    /// An uncompressed regular file, which `--threads` workers can read themselves.
    plain_file: bool,
    filter: Option<FileFilter>,
    /// The next packet, read ahead by [`PacketSource::next_time`].
    pending: Option<(crate::pcapfile::Record, LinkType)>,
    /// Packets of interfaces whose link type is not decoded: counted, not delivered.
    unsupported: Stats,
    /// The link type of a classic pcap file, when it is decoded.
    pcap_link: Option<LinkType>,
}

#[cfg(feature = "live")]
fn link_of(name: &str, lt: pcap::Linktype) -> Result<LinkType, SourceError> {
    LinkType::from_linktype(lt.0).ok_or_else(|| SourceError::UnsupportedLinkType {
        source_name: name.to_owned(),
        linktype: lt.0,
        name: lt.get_name().unwrap_or_else(|_| "unknown".into()),
    })
}

impl PacketSource {
    /// Opens a capture file: classic pcap or pcapng, either of them possibly compressed with
    /// gzip, zstd or lz4 (recognised by their first bytes, not the name); `-` reads standard
    /// input.
    pub fn open_file(path: &str) -> Result<Self, SourceError> {
        let open_err = |message: String| SourceError::Open {
            path: path.to_owned(),
            message,
        };
        let (stream, regular): (Box<dyn std::io::Read + Send>, bool) = if path == "-" {
            (Box::new(std::io::stdin()), false)
        } else {
            let f = std::fs::File::open(path).map_err(|e| open_err(e.to_string()))?;
            let regular = f.metadata().map(|m| m.is_file()).unwrap_or(false);
            (Box::new(f), regular)
        };
        Self::from_stream(path, stream, regular).map_err(|e| match e {
            SourceError::Open { message, .. } => open_err(message),
            e => e,
        })
    }

    /// Reads a capture (as [`PacketSource::open_file`] does) from any byte stream; `name`
    /// is what messages call it.
    ///
    /// ```
    /// use helloscope_capture::PacketSource;
    /// let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../captures/curl.pcapng"))?;
    /// let mut src = PacketSource::from_reader("curl.pcapng", Box::new(std::io::Cursor::new(bytes)))?;
    /// let mut n = 0;
    /// while let Some(_packet) = src.next_packet()? {
    ///     n += 1;
    /// }
    /// assert!(n > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_reader(
        name: &str,
        stream: Box<dyn std::io::Read + Send>,
    ) -> Result<Self, SourceError> {
        Self::from_stream(name, stream, false)
    }

    fn from_stream(
        name: &str,
        stream: Box<dyn std::io::Read + Send>,
        regular: bool,
    ) -> Result<Self, SourceError> {
        use crate::stream::{Compression, ReadBuf};
        let rd = ReadBuf::open(stream).map_err(|e| SourceError::Open {
            path: name.to_owned(),
            message: e.to_string(),
        })?;
        let (linktype, compression, inner) = match crate::pcapfile::PcapReader::open(rd) {
            Ok(Ok(r)) => (r.linktype, r.compression(), Inner::Pcap(r)),
            Ok(Err(e)) => {
                return Err(SourceError::Read {
                    source_name: name.to_owned(),
                    packet: 0,
                    error: e,
                })
            }
            Err(rd) => match crate::pcapng::PcapngReader::open(rd) {
                Ok(Ok(r)) => (
                    r.first_linktype.unwrap_or(1),
                    r.compression(),
                    Inner::Pcapng(r),
                ),
                Ok(Err(e)) => {
                    return Err(SourceError::Read {
                        source_name: name.to_owned(),
                        packet: 0,
                        error: e,
                    })
                }
                Err(rd) => {
                    let what = match rd.compression {
                        Compression::None => "",
                        Compression::Gzip => " inside gzip",
                        Compression::Zstd => " inside zstd",
                        Compression::Lz4 => " inside lz4",
                    };
                    return Err(SourceError::Open {
                        path: name.to_owned(),
                        message: format!(
                            "unknown file format{what} (not a pcap or pcapng capture)"
                        ),
                    });
                }
            },
        };
        let pcap_link = match inner {
            Inner::Pcap(_) => LinkType::from_linktype(linktype as i32),
            _ => None,
        };
        Ok(PacketSource {
            inner,
            name: name.to_owned(),
            // A first interface of a type not decoded: its packets are counted and skipped.
            link: LinkType::from_linktype(linktype as i32).unwrap_or(LinkType::Ethernet),
            packets: 0,
            plain_file: regular && compression == Compression::None,
            filter: None,
            pending: None,
            unsupported: Stats::default(),
            pcap_link,
        })
    }

    /// Opens a live interface (with the `live` feature; without it,
    /// [`SourceError::NeedsFeature`]).
    #[cfg(not(feature = "live"))]
    pub fn open_live(_cfg: &LiveConfig) -> Result<Self, SourceError> {
        Err(SourceError::NeedsFeature {
            what: "live capture",
            feature: "live",
        })
    }

    /// Opens a live interface (with the `live` feature; without it,
    /// [`SourceError::NeedsFeature`]).
    #[cfg(feature = "live")]
    pub fn open_live(cfg: &LiveConfig) -> Result<Self, SourceError> {
        let live_err = |e: pcap::Error| {
            let message = e.to_string();
            let hint = if message.contains("ermission") || message.contains("not permitted") {
                " (capturing needs root, or CAP_NET_RAW and CAP_NET_ADMIN: \
                 setcap cap_net_raw,cap_net_admin=eip $(command -v helloscope))"
            } else if message.contains("No such device") || message.contains("doesn't exist") {
                " (list interfaces with `ip link`)"
            } else {
                ""
            };
            SourceError::Live {
                iface: cfg.interface.clone(),
                message,
                hint,
            }
        };
        let cap = Capture::from_device(cfg.interface.as_str())
            .map_err(live_err)?
            .snaplen(cfg.snaplen)
            .promisc(cfg.promiscuous)
            .immediate_mode(cfg.immediate)
            .buffer_size(cfg.buffer_size)
            .timeout(cfg.read_timeout.as_millis().min(i32::MAX as u128) as i32)
            .open()
            .map_err(live_err)?
            // With TPACKET_V3 libpcap blocks until the kernel hands over a block, and the
            // kernel's block timer only runs while the block holds packets: a blocking read
            // on a quiet link never returns to see a stop request. So reads do not block, and
            // `next_packet` waits in poll(2) on the capture's descriptor, with a timeout.
            .setnonblock()
            .map_err(live_err)?;
        let link = link_of(&cfg.interface, cap.get_datalink())?;
        Ok(PacketSource {
            inner: Inner::Live(Live {
                cap,
                timeout: cfg.read_timeout,
                drained: false,
            }),
            name: cfg.interface.clone(),
            link,
            packets: 0,
            plain_file: false,
            filter: None,
            pending: None,
            unsupported: Stats::default(),
            pcap_link: None,
        })
    }

    /// Applies a BPF filter (works on files too, compiled for each link type they hold).
    /// libpcap compiles it: without the `live` feature this is
    /// [`SourceError::NeedsFeature`].
    #[cfg(not(feature = "live"))]
    pub fn set_filter(&mut self, _filter: &str) -> Result<(), SourceError> {
        Err(SourceError::NeedsFeature {
            what: "a BPF filter (-f)",
            feature: "live",
        })
    }

    /// Applies a BPF filter (works on files too, compiled for each link type they hold).
    /// libpcap compiles it: without the `live` feature this is
    /// [`SourceError::NeedsFeature`].
    #[cfg(feature = "live")]
    pub fn set_filter(&mut self, filter: &str) -> Result<(), SourceError> {
        let live = match &mut self.inner {
            Inner::Live(l) => l.cap.filter(filter, true),
            Inner::Pcap(_) | Inner::Pcapng(_) => {
                if self.packets > 0 {
                    return Err(SourceError::Filter {
                        filter: filter.to_owned(),
                        message: "a filter must be set before reading".into(),
                    });
                }
                // Compiled now for the first interface, so that a bad filter says so at once.
                let first = match &self.inner {
                    Inner::Pcap(r) => r.linktype,
                    Inner::Pcapng(r) => r.first_linktype.unwrap_or(1),
                    Inner::Live(_) => unreachable!("matched above"),
                };
                let prog = FileFilter::compile(filter, first)?;
                self.filter = Some(FileFilter {
                    text: filter.to_owned(),
                    programs: vec![(first, prog)],
                });
                return Ok(());
            }
        };
        live.map_err(|e| SourceError::Filter {
            filter: filter.to_owned(),
            message: e.to_string(),
        })
    }

    /// The file path or interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The link type of a live interface, or of a file's first interface (each
    /// [`Packet`] says its own: a pcapng file may have several). Ethernet when the first
    /// interface's type is not one decoded (its packets are counted in
    /// [`PacketSource::take_skipped`], not delivered).
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Packets read so far (for a file: every packet record, also those filtered out or of
    /// a link type not decoded).
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// The packets this source read but did not deliver, because their interface's link
    /// type is not decoded (`packets`, `bytes` and `skipped[&DecodeSkip::UnsupportedLinkType]`), since
    /// the last call. [`crate::Analyzer::run`] adds them to its counters.
    pub fn take_skipped(&mut self) -> Stats {
        std::mem::take(&mut self.unsupported)
    }

    /// The time of the next packet of a file, without taking it (the next
    /// [`PacketSource::next_packet`] gives it); `None` at the end, and for a live source.
    pub fn next_time(&mut self) -> Result<Option<Duration>, SourceError> {
        if self.pending.is_none() && !self.is_live() {
            self.pending = self.next_record()?;
        }
        Ok(self.pending.map(|r| r.0.ts))
    }

    /// The next record of a file that is to be delivered: of a decoded link type, and taken
    /// by the filter if there is one.
    #[inline]
    fn next_record(&mut self) -> Result<Option<(crate::pcapfile::Record, LinkType)>, SourceError> {
        loop {
            let r = match &mut self.inner {
                Inner::Pcap(r) => r.next(),
                Inner::Pcapng(r) => r.next(),
                Inner::Live(_) => return Ok(None),
            };
            let rec = match r {
                Ok(Some(rec)) => rec,
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(SourceError::Read {
                        source_name: self.name.clone(),
                        packet: self.packets,
                        error: e,
                    })
                }
            };
            self.packets += 1;
            if let Some(f) = &mut self.filter {
                let data = &self.inner.file_buf()[rec.at..rec.at + rec.caplen];
                if !f.matches(rec.linktype, data)? {
                    continue;
                }
            }
            let Some(link) = LinkType::from_linktype(rec.linktype as i32) else {
                count_unsupported(&mut self.unsupported, rec.caplen);
                continue;
            };
            return Ok(Some((rec, link)));
        }
    }

    /// The next packet: `Ok(None)` at the end of a file, or when a live source has nothing
    /// to deliver right now (call again: the next call waits up to the read timeout for
    /// packets); an error when the file is damaged.
    #[inline]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, SourceError> {
        // The usual case first: a classic pcap file of a decoded link type, no filter, nothing
        // read ahead; every packet is delivered as it is read.
        if let (Some(link), None, None) = (self.pcap_link, &self.filter, &self.pending) {
            let Inner::Pcap(r) = &mut self.inner else {
                unreachable!("pcap_link is set for classic pcap files only")
            };
            return match r.next() {
                Ok(Some(rec)) => {
                    self.packets += 1;
                    Ok(Some(Packet {
                        ts: rec.ts,
                        wire_len: rec.wire_len,
                        data: &r.buf()[rec.at..rec.at + rec.caplen],
                        link,
                    }))
                }
                Ok(None) => Ok(None),
                Err(e) => Err(SourceError::Read {
                    source_name: self.name.clone(),
                    packet: self.packets,
                    error: e,
                }),
            };
        }
        // A pcapng file, no filter, nothing read ahead: packets of link types not decoded
        // are counted here, the others delivered.
        if self.filter.is_none() && self.pending.is_none() && matches!(self.inner, Inner::Pcapng(_))
        {
            let Inner::Pcapng(r) = &mut self.inner else {
                unreachable!("matched above")
            };
            let (rec, link) = loop {
                match r.next() {
                    Ok(Some(rec)) => {
                        self.packets += 1;
                        match LinkType::from_linktype(rec.linktype as i32) {
                            Some(link) => break (rec, link),
                            None => count_unsupported(&mut self.unsupported, rec.caplen),
                        }
                    }
                    Ok(None) => return Ok(None),
                    Err(e) => {
                        return Err(SourceError::Read {
                            source_name: self.name.clone(),
                            packet: self.packets,
                            error: e,
                        })
                    }
                }
            };
            return Ok(Some(Packet {
                ts: rec.ts,
                wire_len: rec.wire_len,
                data: &r.buf()[rec.at..rec.at + rec.caplen],
                link,
            }));
        }
        if !matches!(self.inner, Inner::Live(_)) {
            let (rec, link) = match self.pending.take() {
                Some(next) => next,
                None => match self.next_record()? {
                    Some(next) => next,
                    None => return Ok(None),
                },
            };
            return Ok(Some(Packet {
                ts: rec.ts,
                wire_len: rec.wire_len,
                data: &self.inner.file_buf()[rec.at..rec.at + rec.caplen],
                link,
            }));
        }
        self.next_live()
    }

    /// The next packet of a live source (see [`PacketSource::next_packet`]).
    #[cfg(not(feature = "live"))]
    fn next_live(&mut self) -> Result<Option<Packet<'_>>, SourceError> {
        match self.inner {
            Inner::Live(ref l) => match *l {},
            Inner::Pcap(_) | Inner::Pcapng(_) => Ok(None),
        }
    }

    /// The next packet of a live source (see [`PacketSource::next_packet`]).
    #[cfg(feature = "live")]
    fn next_live(&mut self) -> Result<Option<Packet<'_>>, SourceError> {
        let Inner::Live(l) = &mut self.inner else {
            unreachable!("files are read above")
        };
        // Packets already handed over by the kernel are read without a system call; only once
        // they are all read does the reader wait, for the next block or the timeout.
        if l.drained {
            if !wait_readable(&l.cap, l.timeout) {
                return Ok(None);
            }
            l.drained = false;
        }
        let r = l.cap.next_packet();
        // Nothing ready: say so now (the caller may have a stop request or a tick to see to)
        // and wait at the next call.
        l.drained = matches!(r, Err(pcap::Error::TimeoutExpired));
        match r {
            Ok(p) => {
                self.packets += 1;
                let ts = Duration::new(
                    p.header.ts.tv_sec.max(0) as u64,
                    (p.header.ts.tv_usec.clamp(0, 999_999) as u32) * 1000,
                );
                Ok(Some(Packet {
                    ts,
                    wire_len: p.header.len,
                    data: p.data,
                    link: self.link,
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(pcap::Error::TimeoutExpired) => Ok(None),
            Err(e) => Err(SourceError::Read {
                source_name: self.name.clone(),
                packet: self.packets,
                error: crate::ReadError::Libpcap {
                    message: e.to_string(),
                },
            }),
        }
    }

    /// Analyses a classic pcap file on `threads` workers that share both the reading and the
    /// flows (see [`crate::sharded`]); `None` for other sources (pcapng, compressed files,
    /// standard input, a filtered or live source), which are read by one thread.
    ///
    /// Each record is prepared into a batch `B` by `prepare` on its worker (formatting is as
    /// costly as the analysis, so it is spread too), and `emit` receives the batches on the
    /// calling thread (up to 64 records a batch), in no set order across workers. `progress` is told how many bytes were
    /// walked. Returns the merged counters, and the error that stopped the reading early (a
    /// truncated or damaged file; everything before it was analysed).
    ///
    /// ```no_run
    /// use helloscope_capture::{FlowConfig, FlowRecord, PacketSource};
    /// let source = PacketSource::open_file("capture.pcap")?;
    /// // Each worker gathers the server names of its flows; the calling thread counts them.
    /// let prepare = |r: FlowRecord, batch: &mut Vec<String>| {
    ///     batch.extend(r.client_hello.and_then(|c| c.sni));
    /// };
    /// let mut names = 0;
    /// let mut emit = |batch: Vec<String>| names += batch.len();
    /// if let Some((stats, error)) =
    ///     source.analyze_sharded(2, &FlowConfig::default(), &prepare, &mut emit, &|_| {})
    /// {
    ///     println!("{names} names in {} packets; {error:?}", stats.packets);
    /// }
    /// # Ok::<(), helloscope_capture::SourceError>(())
    /// ```
    pub fn analyze_sharded<B: Default + Send>(
        &self,
        threads: usize,
        cfg: &crate::FlowConfig,
        prepare: &(dyn Fn(crate::FlowRecord, &mut B) + Sync),
        emit: &mut dyn FnMut(B),
        progress: &(dyn Fn(u64) + Sync),
    ) -> Option<(crate::Stats, Option<SourceError>)> {
        let Inner::Pcap(r) = &self.inner else {
            return None;
        };
        // The workers read the file themselves: it must be a plain file with no filter, of a
        // link type decoded, of which nothing was delivered yet. A first record only looked
        // at ([`PacketSource::next_time`], as a caller merging inputs by time does) is read
        // again by the workers with the rest.
        let delivered = self.packets - u64::from(self.pending.is_some());
        if !self.plain_file
            || self.filter.is_some()
            || delivered > 0
            || LinkType::from_linktype(r.linktype as i32).is_none()
        {
            return None;
        }
        let f = crate::sharded::BlockFile {
            path: self.name.clone(),
            format: r.format,
            link: self.link,
        };
        Some(crate::sharded::analyze_blocks(
            &f,
            threads,
            crate::sharded::BLOCK,
            cfg,
            prepare,
            emit,
            progress,
        ))
    }

    /// True for an uncompressed regular file (its size is what there is to read).
    pub fn is_plain_file(&self) -> bool {
        self.plain_file
    }

    /// True for a live interface.
    pub fn is_live(&self) -> bool {
        matches!(self.inner, Inner::Live(_))
    }

    /// Capture statistics (live sources only).
    pub fn capture_stats(&mut self) -> Option<CaptureStats> {
        match &mut self.inner {
            #[cfg(feature = "live")]
            Inner::Live(l) => l.cap.stats().ok().map(|s| CaptureStats {
                received: s.received,
                dropped_by_kernel: s.dropped,
                dropped_by_interface: s.if_dropped,
            }),
            #[cfg(not(feature = "live"))]
            Inner::Live(l) => match *l {},
            Inner::Pcap(_) | Inner::Pcapng(_) => None,
        }
    }
}

/// Counts a packet of a link type not decoded.
#[cold]
fn count_unsupported(s: &mut Stats, caplen: usize) {
    s.packets += 1;
    s.bytes += caplen as u64;
    *s.skipped
        .entry(crate::DecodeSkip::UnsupportedLinkType)
        .or_insert(0) += 1;
}

impl Inner {
    /// The read buffer of a file reader, which its records index.
    #[inline]
    fn file_buf(&self) -> &[u8] {
        match self {
            Inner::Pcap(r) => r.buf(),
            Inner::Pcapng(r) => r.buf(),
            Inner::Live(_) => &[],
        }
    }
}
