//! Packet sources through libpcap: capture files (pcap and pcapng, `-` for standard input)
//! and live interfaces, behind one type.

use std::time::Duration;

use pcap::{Active, Capture, Offline};

use crate::decode::LinkType;

/// Errors opening or reading a packet source, each with what a person can do about it.
#[derive(Debug, thiserror::Error)]
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
    #[error("{source_name}: read error after packet {packet}: {message}")]
    Read {
        /// File or interface.
        source_name: String,
        /// Number of packets read successfully before the error.
        packet: u64,
        /// libpcap's explanation.
        message: String,
    },
}

/// How to open a live interface.
#[derive(Clone, Debug)]
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
    File(Capture<Offline>),
    Live(Live),
}

/// A live capture in non-blocking mode, and when to wait for it.
pub(crate) struct Live {
    cap: Capture<Active>,
    /// Longest wait for a packet.
    timeout: Duration,
    /// The last read found nothing: wait before the next.
    drained: bool,
}

/// Waits until `cap` has packets to read or `timeout` passes; true when it has. A signal
/// ends the wait early (false), so that the caller sees a stop request at once.
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
pub struct Packet<'a> {
    /// Capture time, since the Unix epoch.
    pub ts: Duration,
    /// Length on the wire.
    pub wire_len: u32,
    /// The captured bytes (may be shorter than `wire_len`).
    pub data: &'a [u8],
}

/// A capture file or a live interface.
pub struct PacketSource {
    pub(crate) inner: Inner,
    name: String,
    link: LinkType,
    packets: u64,
}

fn link_of(name: &str, lt: pcap::Linktype) -> Result<LinkType, SourceError> {
    LinkType::from_linktype(lt.0).ok_or_else(|| SourceError::UnsupportedLinkType {
        source_name: name.to_owned(),
        linktype: lt.0,
        name: lt.get_name().unwrap_or_else(|_| "unknown".into()),
    })
}

impl PacketSource {
    /// Opens a pcap or pcapng file; `-` reads standard input.
    pub fn open_file(path: &str) -> Result<Self, SourceError> {
        if path != "-" {
            let open_err = |e: std::io::Error| SourceError::Open {
                path: path.to_owned(),
                message: e.to_string(),
            };
            if let Some(r) = crate::pcapfile::PcapReader::open(path).map_err(open_err)? {
                let link = link_of(path, pcap::Linktype(r.linktype))?;
                return Ok(PacketSource {
                    inner: Inner::Pcap(r),
                    name: path.to_owned(),
                    link,
                    packets: 0,
                });
            }
        }
        Self::open_file_libpcap(path)
    }

    /// Opens a file through libpcap (pcapng, standard input, or when a filter is needed).
    fn open_file_libpcap(path: &str) -> Result<Self, SourceError> {
        let cap = Capture::from_file(path).map_err(|e| SourceError::Open {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let link = link_of(path, cap.get_datalink())?;
        Ok(PacketSource {
            inner: Inner::File(cap),
            name: path.to_owned(),
            link,
            packets: 0,
        })
    }

    /// Opens a live interface.
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
        })
    }

    /// Applies a BPF filter (works on files too).
    pub fn set_filter(&mut self, filter: &str) -> Result<(), SourceError> {
        // Filters run inside libpcap: reopen a plain pcap file through it.
        if matches!(self.inner, Inner::Pcap(_)) {
            if self.packets > 0 {
                return Err(SourceError::Filter {
                    filter: filter.to_owned(),
                    message: "a filter must be set before reading".into(),
                });
            }
            *self = Self::open_file_libpcap(&self.name.clone())?;
        }
        let r = match &mut self.inner {
            Inner::File(c) => c.filter(filter, true),
            Inner::Live(l) => l.cap.filter(filter, true),
            Inner::Pcap(_) => {
                return Err(SourceError::Filter {
                    filter: filter.to_owned(),
                    message: "filters need libpcap, and the file could not be reopened through it"
                        .into(),
                })
            }
        };
        r.map_err(|e| SourceError::Filter {
            filter: filter.to_owned(),
            message: e.to_string(),
        })
    }

    /// The file path or interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The link type of the packets.
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Packets read so far.
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// The next packet: `Ok(None)` at the end of a file, or when a live source has nothing
    /// to deliver right now (call again: the next call waits up to the read timeout for
    /// packets); an error when the file is damaged.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, SourceError> {
        if let Inner::Live(l) = &mut self.inner {
            // Packets already handed over by the kernel are read without a system call; only
            // once they are all read does the reader wait, for the next block or the timeout.
            if l.drained {
                if !wait_readable(&l.cap, l.timeout) {
                    return Ok(None);
                }
                l.drained = false;
            }
        }
        let (r, live) = match &mut self.inner {
            Inner::Pcap(r) => {
                return match r.next() {
                    Ok(Some((ts, wire_len, data))) => {
                        self.packets += 1;
                        Ok(Some(Packet { ts, wire_len, data }))
                    }
                    Ok(None) => Ok(None),
                    Err(e) => Err(SourceError::Read {
                        source_name: self.name.clone(),
                        packet: self.packets,
                        message: e.to_string(),
                    }),
                };
            }
            Inner::File(c) => (c.next_packet(), false),
            Inner::Live(l) => {
                let r = l.cap.next_packet();
                // Nothing ready: say so now (the caller may have a stop request or a tick to
                // see to) and wait at the next call.
                l.drained = matches!(r, Err(pcap::Error::TimeoutExpired));
                (r, true)
            }
        };
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
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(pcap::Error::TimeoutExpired) if live => Ok(None),
            Err(e) => Err(SourceError::Read {
                source_name: self.name.clone(),
                packet: self.packets,
                message: e.to_string(),
            }),
        }
    }

    /// Analyses a classic pcap file on `threads` workers that share both the reading and the
    /// flows (see [`crate::sharded`]); `None` for other sources (pcapng, standard input, a
    /// filtered or live source), which are read by one thread.
    ///
    /// Each record is prepared into a batch `B` by `prepare` on its worker (formatting is as
    /// costly as the analysis, so it is spread too), and `emit` receives the batches on the
    /// calling thread, in no set order across workers. `progress` is told how many bytes were
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

    /// True for a live interface.
    pub fn is_live(&self) -> bool {
        matches!(self.inner, Inner::Live(..))
    }

    /// Capture statistics (live sources only).
    pub fn capture_stats(&mut self) -> Option<CaptureStats> {
        match &mut self.inner {
            Inner::Live(l) => l.cap.stats().ok().map(|s| CaptureStats {
                received: s.received,
                dropped_by_kernel: s.dropped,
                dropped_by_interface: s.if_dropped,
            }),
            Inner::File(_) | Inner::Pcap(_) => None,
        }
    }
}
