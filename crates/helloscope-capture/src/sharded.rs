//! Several analyzers over one capture, each following its share of the flows.
//!
//! A flow belongs to the shard given by a symmetric hash of its two endpoints (the innermost
//! ones, under any tunnel), so both directions meet in the same analyzer. An IP fragment has
//! no ports to hash, so every analyzer takes it, and each keeps the reassembled datagrams of
//! its own flows ([`route`]). For a classic pcap file
//! ([`PacketSource::analyze_sharded`](crate::PacketSource::analyze_sharded)) the workers also
//! share the reading: the file is cut into blocks, worker `k % n` reads block `k`, walks its
//! records while they are in its cache and lists each worker's packets in it, and hands the
//! block and the lists to the others; every worker then analyses its own packets of every
//! block, in file order. Copying a file out of the page cache costs as much as analysing bulk
//! traffic, so a single reading thread would bound the speed-up; split this way no thread
//! reads more than its share, no packet is copied again, and no thread walks a block another
//! core read (a cache miss per record, measured costlier than the analysis itself).

use std::fs::File;
use std::net::IpAddr;
use std::os::unix::fs::FileExt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::decode::{decode_packet, Decoded, LinkType, TcpSegment};
use crate::pcapfile::{BlockWalker, ReadError, RecordFormat, FILE_HEADER_LEN};
use crate::{Analyzer, FlowConfig, FlowRecord, SourceError, Stats};

/// The secret key of the shard hash: random per run (per process), the same for every
/// worker of it. Unkeyed, the hash would let traffic be aimed at one shard: a sender picks
/// ports whose flows all land on one worker, which then holds the whole table's share alone.
fn shard_key() -> &'static [u64; 4] {
    static KEY: OnceLock<[u64; 4]> = OnceLock::new();
    KEY.get_or_init(|| {
        let random = ahash::RandomState::new();
        [0u64, 1, 2, 3].map(|i| random.hash_one(i))
    })
}

/// The 128-bit product of `a` and `b`, folded to 64 bits (as aHash's fallback mixes).
#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline]
fn endpoint_hash(key: &[u64; 4], ip: IpAddr, port: u16) -> u64 {
    let x = match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    };
    let h = folded_multiply((x as u64) ^ key[0], ((x >> 64) as u64) ^ key[1]);
    folded_multiply(h ^ key[2], u64::from(port) ^ key[3])
}

/// The shard of a frame among `n`: the same for both directions of a connection (the two
/// endpoint hashes are combined with XOR), taken from the innermost addresses and ports, so
/// that the tunnels a connection comes through do not matter. Frames without a TCP segment
/// all go to shard 0, which counts them; an IP fragment too (see [`route`] for where it must
/// go).
///
/// ```
/// use helloscope_capture::{sharded::shard_of, LinkType};
/// let frame = [0u8; 10]; // not TCP
/// assert_eq!(shard_of(LinkType::Ethernet, &frame, 4), 0);
/// ```
pub fn shard_of(link: LinkType, frame: &[u8], n: usize) -> usize {
    route(link, frame, n).unwrap_or(0)
}

/// Where a frame must go among `n` shards: `Some(shard)`, or `None` for every shard. An IP
/// fragment has no ports (or not all of its datagram's), so every shard takes it, reassembles
/// the datagram, and keeps it only when its flow is that shard's
/// ([`Analyzer::set_shard`](crate::Analyzer::set_shard)).
pub fn route(link: LinkType, frame: &[u8], n: usize) -> Option<usize> {
    match decode_packet(link, frame) {
        Ok(Decoded::Tcp(s)) => Some(shard_of_segment(&s, n)),
        Ok(Decoded::Fragment(_)) if n > 1 => None,
        _ => Some(0),
    }
}

/// [`route`], and whether the frame is a TCP segment for the flow table (what moves its
/// clock: see [`ReaderClock`]).
pub fn route_segment(link: LinkType, frame: &[u8], n: usize) -> (Option<usize>, bool) {
    match decode_packet(link, frame) {
        Ok(Decoded::Tcp(s)) => (Some(shard_of_segment(&s, n)), true),
        Ok(Decoded::Fragment(_)) if n > 1 => (None, false),
        _ => (Some(0), false),
    }
}

/// The flow table's clock as one analyzer would keep it, kept by the reader of a capture
/// whose packets workers share. A worker's table sees only its share of the segments: with a
/// clock of its own it would take a jump of the capture's time (or a packet as an outlier)
/// at other packets than one analyzer, and sweep idle flows at other times, so the records
/// would depend on how the flows fall into shards (the shard hash is keyed per run). The
/// reader reads this clock for every packet, in order, and tells the packet's worker when its
/// time is not its own ([`Analyzer::process_at`]) and every worker when a sweep is due
/// ([`Analyzer::sweep_at`]); workers' clocks are driven ([`Analyzer::drive_clock`]).
///
/// Segments reassembled from IP fragments do not move it (the reader does not reassemble):
/// a capture of fragmented TCP whose time jumps may still differ there.
#[derive(Clone, Debug)]
pub struct ReaderClock(crate::flow::clock::Clock);

/// What the reader's clock says of one packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketTime {
    /// An idle sweep is due at this time, before the packet: every worker makes it.
    pub sweep: Option<Duration>,
    /// The packet, an outlier, is handled at this time rather than its own.
    pub at: Option<Duration>,
}

impl ReaderClock {
    /// The clock of a table with `cfg`'s idle timeout.
    pub fn new(cfg: &FlowConfig) -> Self {
        ReaderClock(crate::flow::clock::Clock::new(cfg.idle_timeout))
    }

    /// Reads the clock for a packet at `ts`; `segment`: it is a TCP segment for the table
    /// (see [`route_segment`]). Anything else leaves the clock as it is.
    #[inline]
    pub fn read(&mut self, ts: Duration, segment: bool) -> PacketTime {
        if !segment || ts.as_secs() > crate::MAX_TIMESTAMP.as_secs() {
            return PacketTime::default();
        }
        let mut outliers = 0;
        let at = self.0.read(ts, &mut outliers);
        let sweep = self.0.sweep_due().then(|| {
            self.0.swept();
            self.0.now
        });
        PacketTime {
            sweep,
            at: (outliers > 0).then_some(at),
        }
    }
}

/// The shard of a TCP segment's connection among `n`.
pub(crate) fn shard_of_segment(s: &TcpSegment<'_>, n: usize) -> usize {
    segment_shard_keyed(shard_key(), s, n)
}

fn segment_shard_keyed(key: &[u64; 4], s: &TcpSegment<'_>, n: usize) -> usize {
    pick(
        endpoint_hash(key, s.src, s.src_port) ^ endpoint_hash(key, s.dst, s.dst_port),
        n,
    )
}

/// [`shard_of`] under a given key (the tests compare keys).
#[cfg(test)]
fn shard_keyed(key: &[u64; 4], link: LinkType, frame: &[u8], n: usize) -> usize {
    match decode_packet(link, frame) {
        Ok(Decoded::Tcp(s)) => segment_shard_keyed(key, &s, n),
        _ => 0,
    }
}

/// One of `n` shards for a connection hash: its well-mixed high half, reduced.
fn pick(h: u64, n: usize) -> usize {
    ((h.wrapping_mul(0xff51_afd7_ed55_8ccd) >> 32) as usize) % n
}

/// The shard of an Ethernet frame holding IPv4 without options and TCP, read at fixed offsets
/// without decoding: a block's reader finds the shard of every packet in it, and most gateway
/// traffic is this. The addresses and ports read are the ones the decoder reads, so the shard
/// is [`route`]'s. `None` for anything else (fragments included).
#[inline]
fn quick_shard(link: LinkType, frame: &[u8], n: usize) -> Option<usize> {
    if link != LinkType::Ethernet || frame.len() < 38 {
        return None;
    }
    if frame[12..14] != [0x08, 0x00] || frame[14] != 0x45 || frame[23] != 6 {
        return None;
    }
    // A fragment (more-fragments flag or an offset) goes to every shard.
    if u16::from_be_bytes([frame[20], frame[21]]) & 0x3fff != 0 {
        return None;
    }
    let v4 = |i: usize| IpAddr::from([frame[i], frame[i + 1], frame[i + 2], frame[i + 3]]);
    let port = |i: usize| u16::from_be_bytes([frame[i], frame[i + 1]]);
    let key = shard_key();
    Some(pick(
        endpoint_hash(key, v4(26), port(34)) ^ endpoint_hash(key, v4(30), port(36)),
        n,
    ))
}

/// Each worker's share of the table, buffer and memory bounds, so the totals stay as
/// configured.
pub fn per_worker_config(cfg: &FlowConfig, workers: usize) -> FlowConfig {
    FlowConfig {
        max_flows: (cfg.max_flows / workers).max(1),
        max_buffer_total: (cfg.max_buffer_total / workers).max(1),
        max_memory: match cfg.max_memory {
            0 => 0,
            m => (m / workers).max(1),
        },
        ..cfg.clone()
    }
}

/// Bytes of the file read at once by one worker and indexed by it while they are still in its
/// cache. Measured on bulk traffic with two workers (best of alternating runs): 128 KiB 0.21 s,
/// 256 KiB 0.19 s, 512 KiB 0.20 s, 1 MiB 0.16–0.25 s, 2 MiB 0.31 s, 4 MiB 0.38 s (slower than
/// one thread): past the cache, every access to a block is a miss.
pub(crate) const BLOCK: u64 = 512 << 10;

/// An indexed block, shared by the workers.
type Shared = Arc<Index>;

/// Records prepared into one batch for the calling thread: one wake-up per record costs more
/// than preparing it, and a batch of a few dozen kilobytes stays clear of the allocator's
/// fresh mappings (a 256-record batch of output lines was slower).
pub(crate) const RECORD_BATCH: usize = 64;

/// The worker's end of the way to the calling thread: records are prepared into a batch `B`
/// (lines of output, say) and each full batch is sent.
pub(crate) struct Batcher<'a, B> {
    batch: B,
    count: usize,
    prepare: &'a (dyn Fn(FlowRecord, &mut B) + Sync),
    tx: mpsc::Sender<B>,
}

impl<'a, B: Default> Batcher<'a, B> {
    /// A batcher that prepares with `prepare` and sends on `tx`.
    pub(crate) fn new(
        prepare: &'a (dyn Fn(FlowRecord, &mut B) + Sync),
        tx: mpsc::Sender<B>,
    ) -> Self {
        Batcher {
            batch: B::default(),
            count: 0,
            prepare,
            tx,
        }
    }

    /// Prepares `r` into the batch, and sends the batch when it is full.
    pub(crate) fn push(&mut self, r: FlowRecord) {
        (self.prepare)(r, &mut self.batch);
        self.count += 1;
        if self.count == RECORD_BATCH {
            self.flush();
        }
    }

    /// Sends what the batch holds.
    pub(crate) fn flush(&mut self) {
        if self.count > 0 {
            // The calling thread gone means nobody wants the records any more.
            let _ = self.tx.send(std::mem::take(&mut self.batch));
            self.count = 0;
        }
    }
}

/// Blocks a worker may read ahead of the slowest of its peers.
const AHEAD: usize = 2;

/// What a classic pcap file needs to be read in blocks.
pub(crate) struct BlockFile {
    pub(crate) path: String,
    pub(crate) format: RecordFormat,
    pub(crate) link: LinkType,
}

/// One block of the file as its owner walked it: the bytes, and where each worker's packets
/// lie in them. The other workers jump to their own packets; none walks a block it did not
/// read (walking another core's freshly read block, a cache miss per record, cost more than
/// the analysis).
struct Index {
    block: Vec<u8>,
    /// A record that began in an earlier block and ends in this one: timestamp, bytes, shard
    /// (`None`: every shard), and what the reader's clock says of it.
    carried: Option<(Duration, Vec<u8>, Option<usize>, PacketTime)>,
    /// Per worker: (offset in `block`, captured length, timestamp) of its packets, in order.
    entries: Vec<Vec<(u32, u32, Duration)>>,
    /// Per worker, the few places where the reader's clock has something to say: before its
    /// packet at this index in `entries` (or after the last), a sweep, and for its own
    /// packet, the time it is handled at.
    times: Vec<Vec<(u32, PacketTime)>>,
    /// The walk and the reader's clock as they stand after this block, for the owner of the
    /// next one.
    walker: BlockWalker,
    clock: ReaderClock,
    /// Nothing after this block is read: the file ends or is damaged here (why, if damaged).
    last: bool,
    failed: Option<ReadError>,
}

/// Walks `block` (block `k` of `blocks`) from where `walker` stands, and indexes its records
/// by shard.
fn index_block(
    block: Vec<u8>,
    (mut walker, mut clock): (BlockWalker, ReaderClock),
    last: bool,
    link: LinkType,
    n: usize,
) -> Index {
    let mut entries: Vec<Vec<(u32, u32, Duration)>> = vec![Vec::new(); n];
    let mut times: Vec<Vec<(u32, PacketTime)>> = vec![Vec::new(); n];
    let mut carried = None;
    let within = block.as_ptr_range();
    let fed = walker.feed(&block, &mut |ts, _wire_len, frame| {
        let (shard, segment) = match quick_shard(link, frame, n) {
            Some(s) => (Some(s), true),
            None => route_segment(link, frame, n),
        };
        let to = match shard {
            Some(s) => s..s + 1,
            None => 0..n,
        };
        let time = clock.read(ts, segment);
        let carries = !frame.is_empty() && !within.contains(&frame.as_ptr());
        if time != PacketTime::default() && !carries {
            for (w, t) in times.iter_mut().enumerate() {
                let at = if to.contains(&w) { time.at } else { None };
                if time.sweep.is_some() || at.is_some() {
                    let sweep = time.sweep;
                    t.push((entries[w].len() as u32, PacketTime { sweep, at }));
                }
            }
        }
        if frame.is_empty() {
            for w in to {
                entries[w].push((0, 0, ts));
            }
        } else if within.contains(&frame.as_ptr()) {
            let offset = frame.as_ptr() as usize - within.start as usize;
            for w in to {
                entries[w].push((offset as u32, frame.len() as u32, ts));
            }
        } else {
            carried = Some((ts, frame.to_vec(), shard, time));
        }
    });
    let failed = match fed {
        Err(e) => Some(e),
        Ok(()) if last => walker.finish().err(),
        Ok(()) => None,
    };
    Index {
        block,
        carried,
        entries,
        times,
        walker,
        clock,
        last: last || failed.is_some(),
        failed,
    }
}

/// Analyses a classic pcap file on `threads` workers that share the reading (see the module
/// documentation). Each record becomes a `T` with `prepare` on its worker; `emit` receives
/// them on the calling thread, in no particular order across workers. `progress` is told the
/// bytes walked so far. Returns the merged counters, and the error that stopped the reading
/// early (a truncated or damaged file: everything before it was analysed).
pub(crate) fn analyze_blocks<B: Default + Send>(
    f: &BlockFile,
    threads: usize,
    block_size: u64,
    cfg: &FlowConfig,
    prepare: &(dyn Fn(FlowRecord, &mut B) + Sync),
    emit: &mut dyn FnMut(B),
    progress: &(dyn Fn(u64) + Sync),
) -> (Stats, Option<SourceError>) {
    let n = threads.max(1);
    let read_error = |error: ReadError, packet: u64| SourceError::Read {
        source_name: f.path.clone(),
        packet,
        error,
    };
    let file = match File::open(&f.path) {
        Ok(file) => file,
        Err(e) => return (Stats::default(), Some(read_error(e.into(), 0))),
    };
    // The file as it is now: bytes appended later (a capture still being written) are not
    // read, so every worker agrees on where the file ends.
    let end = file.metadata().map(|m| m.len()).unwrap_or(0);
    let block_size = block_size.max(1);
    let blocks = end.saturating_sub(FILE_HEADER_LEN).div_ceil(block_size);
    let cfg = per_worker_config(cfg, n);
    let io_error: Mutex<Option<std::io::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        let (rec_tx, rec_rx) = mpsc::channel::<B>();
        // inboxes[to][from]: the blocks `from` indexed, for `to`.
        let mut inboxes: Vec<Vec<Option<mpsc::Receiver<Shared>>>> =
            (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
        let mut outboxes: Vec<Vec<mpsc::SyncSender<Shared>>> = (0..n).map(|_| Vec::new()).collect();
        for (from, out) in outboxes.iter_mut().enumerate() {
            for (to, inbox) in inboxes.iter_mut().enumerate() {
                if from != to {
                    let (tx, rx) = mpsc::sync_channel(AHEAD);
                    out.push(tx);
                    inbox[from] = Some(rx);
                }
            }
        }
        let mut handles = Vec::new();
        for (w, (inbox, outbox)) in inboxes.into_iter().zip(outboxes).enumerate() {
            let rec_tx = rec_tx.clone();
            let (cfg, file, io_error) = (cfg.clone(), &file, &io_error);
            handles.push(scope.spawn(move || {
                let mut a = Analyzer::new(cfg);
                a.set_shard(w, n);
                a.drive_clock();
                let mut batcher = Batcher::new(prepare, rec_tx);
                let mut send = |r: FlowRecord| batcher.push(r);
                let mut process = |idx: &Index, a: &mut Analyzer| {
                    if let Some((ts, frame, shard, time)) = &idx.carried {
                        if let Some(now) = time.sweep {
                            a.sweep_at(now, &mut send);
                        }
                        if shard.is_none_or(|s| s == w) {
                            match time.at {
                                Some(at) => a.process_at(*ts, at, f.link, frame, &mut send),
                                None => a.process(*ts, f.link, frame, &mut send),
                            }
                        }
                    }
                    let times = &idx.times[w];
                    let mut next = 0;
                    for (i, &(offset, len, ts)) in idx.entries[w].iter().enumerate() {
                        let frame = &idx.block[offset as usize..(offset + len) as usize];
                        let mut at = None;
                        while next < times.len() && times[next].0 as usize == i {
                            let time = times[next].1;
                            if let Some(now) = time.sweep {
                                a.sweep_at(now, &mut send);
                            }
                            at = at.or(time.at);
                            next += 1;
                        }
                        match at {
                            Some(at) => a.process_at(ts, at, f.link, frame, &mut send),
                            None => a.process(ts, f.link, frame, &mut send),
                        }
                    }
                    // Sweeps after this worker's last packet of the block.
                    for &(_, time) in &times[next..] {
                        if let Some(now) = time.sweep {
                            a.sweep_at(now, &mut send);
                        }
                    }
                };
                // Blocks this worker read, reused once every peer has let go of them: a
                // fresh block would be zeroed (and, from the allocator, faulted in) first.
                let mut pool: Vec<Shared> = Vec::new();
                // This worker's blocks read ahead, not yet indexed.
                let mut own = std::collections::VecDeque::new();
                let mut next_own = w as u64;
                // Indexes in file order not yet analysed here.
                let mut pending: std::collections::VecDeque<Shared> = Default::default();
                let mut walker = BlockWalker::new(f.format);
                let mut clock = ReaderClock::new(a.config());
                let mut outcome = (None, 0);
                for k in 0..blocks {
                    // Read ahead, so that the workers' reads overlap instead of taking turns.
                    while next_own < blocks && next_own < k + (AHEAD * n) as u64 {
                        let mut buf = match pool.iter().position(|i| Arc::strong_count(i) == 1) {
                            Some(i) => Arc::try_unwrap(pool.swap_remove(i))
                                .map(|i| i.block)
                                .unwrap_or_default(),
                            None => Vec::new(),
                        };
                        read_block(file, next_own, block_size, end, io_error, &mut buf);
                        own.push_back(buf);
                        next_own += n as u64;
                    }
                    let owner = (k % n as u64) as usize;
                    let idx = if owner == w {
                        let Some(block) = own.pop_front() else { break };
                        let last = k + 1 == blocks || (block.len() as u64) < block_size;
                        // Where the previous block's walk stopped (taken from its index).
                        let from = (
                            std::mem::replace(&mut walker, BlockWalker::new(f.format)),
                            clock.clone(),
                        );
                        let idx = Arc::new(index_block(block, from, last, f.link, n));
                        for tx in &outbox {
                            // A peer that stopped has dropped its inbox: nothing to do.
                            let _ = tx.send(Arc::clone(&idx));
                        }
                        if pool.len() < 2 * AHEAD + 2 {
                            pool.push(Arc::clone(&idx));
                        }
                        idx
                    } else {
                        match inbox[owner].as_ref().map(|rx| rx.recv()) {
                            Some(Ok(idx)) => idx,
                            _ => break,
                        }
                    };
                    // The next block is this worker's to index: do that first, so its peers
                    // wait as little as possible, and analyse these after.
                    let indexes_next = (k + 1) % n as u64 == w as u64;
                    if indexes_next {
                        walker = idx.walker.clone();
                        clock = idx.clock.clone();
                    }
                    let stop = idx.last;
                    if stop {
                        outcome = (idx.failed.clone(), idx.walker.records);
                    }
                    pending.push_back(idx);
                    if stop || n == 1 || !indexes_next {
                        for idx in pending.drain(..) {
                            process(&idx, &mut a);
                        }
                        if w == 0 {
                            progress(((k + 1) * block_size).min(end));
                        }
                    }
                    if stop {
                        break;
                    }
                }
                for idx in pending.drain(..) {
                    process(&idx, &mut a);
                }
                a.finish(&mut send);
                batcher.flush();
                (a.stats().clone(), outcome)
            }));
        }
        drop(rec_tx);
        for batch in rec_rx {
            emit(batch);
        }
        let mut total = Stats::default();
        let mut first_error = None;
        for h in handles {
            if let Ok((s, (failed, records))) = h.join() {
                total.merge(&s);
                if first_error.is_none() {
                    first_error = failed.map(|e| read_error(e, records));
                }
            }
        }
        if let Some(m) = io_error.lock().ok().and_then(|mut e| e.take()) {
            first_error = Some(read_error(m.into(), total.packets));
        }
        (total, first_error)
    })
}

/// Block `k` of the file's records (after the file header), up to `end`. A read error ends
/// the block where it happened and is kept for the report.
fn read_block(
    file: &File,
    k: u64,
    block_size: u64,
    end: u64,
    io_error: &Mutex<Option<std::io::Error>>,
    buf: &mut Vec<u8>,
) {
    let start = FILE_HEADER_LEN + k * block_size;
    let len = block_size.min(end.saturating_sub(start)) as usize;
    buf.resize(len, 0);
    let mut got = 0;
    while got < len {
        match file.read_at(&mut buf[got..], start + got as u64) {
            Ok(0) => break,
            Ok(m) => got += m,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                if let Ok(mut slot) = io_error.lock() {
                    slot.get_or_insert(e);
                }
                break;
            }
        }
    }
    buf.truncate(got);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Inner;
    use crate::PacketSource;

    fn captures(f: &str) -> String {
        format!("{}/../../captures/{f}", env!("CARGO_MANIFEST_DIR"))
    }

    fn key(r: &FlowRecord) -> impl Ord {
        (r.first_seen, r.client, r.server, r.packets)
    }

    /// Records and packet count of one analyzer reading `path` packet by packet, and whether
    /// an error stopped it.
    fn single(path: &str) -> (Vec<FlowRecord>, [u64; 3], bool) {
        let mut src = PacketSource::open_file(path).unwrap();
        let mut a = Analyzer::new(FlowConfig::default());
        let mut out = Vec::new();
        let failed = a.run(&mut src, &mut |r| out.push(r)).is_err();
        a.finish(&mut |r| out.push(r));
        out.sort_by_key(key);
        (out, counts(a.stats()), failed)
    }

    /// Packets, clock outliers and idle flows: what depends on the table's clock.
    fn counts(s: &Stats) -> [u64; 3] {
        [s.packets, s.packets_clock_outlier, s.evicted_idle]
    }

    fn sharded(path: &str, threads: usize, block: u64) -> (Vec<FlowRecord>, [u64; 3], bool) {
        let src = PacketSource::open_file(path).unwrap();
        let Inner::Pcap(r) = &src.inner else {
            panic!("{path} is a classic pcap file");
        };
        let f = BlockFile {
            path: path.to_owned(),
            format: r.format,
            link: src.link_type(),
        };
        let mut out = Vec::new();
        let (stats, err) = analyze_blocks(
            &f,
            threads,
            block,
            &FlowConfig::default(),
            &|r, b: &mut Vec<FlowRecord>| b.push(r),
            &mut |b| out.extend(b),
            &|_| {},
        );
        out.sort_by_key(key);
        (out, counts(&stats), err.is_some())
    }

    /// Any number of workers and any block size (blocks cut records anywhere, a record
    /// spanning several blocks) give the records one analyzer gives.
    #[test]
    fn workers_give_what_one_analyzer_gives() {
        for f in ["openssl.pcap", "libraries.pcap", "ipv6.pcap"] {
            let path = captures(f);
            let want = single(&path);
            assert!(!want.0.is_empty() && !want.2);
            for threads in [1, 2, 3] {
                for block in [1, 97, 1500, 4096, BLOCK] {
                    assert_eq!(
                        sharded(&path, threads, block),
                        want,
                        "{f} {threads} {block}"
                    );
                }
            }
        }
    }

    /// A caller that looks at a file's first packet time before choosing how to read it (the
    /// CLI does, to merge inputs by time) still gets the workers' shared reading, with every
    /// record; once a packet was delivered, it does not (the workers would read it twice).
    #[test]
    fn a_first_packet_looked_at_still_lets_the_workers_read_the_file() {
        let path = captures("openssl.pcap");
        let want = single(&path);
        let mut src = PacketSource::open_file(&path).unwrap();
        assert!(src.next_time().unwrap().is_some());
        let mut out = Vec::new();
        let (stats, err) = src
            .analyze_sharded(
                2,
                &FlowConfig::default(),
                &|r, b: &mut Vec<FlowRecord>| b.push(r),
                &mut |b| out.extend(b),
                &|_| {},
            )
            .expect("the workers read the file");
        out.sort_by_key(key);
        assert_eq!((out, counts(&stats), err.is_some()), want);

        let mut src = PacketSource::open_file(&path).unwrap();
        assert!(src.next_packet().unwrap().is_some());
        let none = src.analyze_sharded(
            2,
            &FlowConfig::default(),
            &|r, b: &mut Vec<FlowRecord>| b.push(r),
            &mut |_| {},
            &|_| {},
        );
        assert!(none.is_none(), "a packet was delivered: not from the start");
    }

    /// A classic pcap file (little-endian, microseconds) of Ethernet `frames`.
    fn write_pcap(path: &std::path::Path, frames: &[(Duration, Vec<u8>)]) {
        let mut b = Vec::new();
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for (ts, f) in frames {
            let len = f.len() as u32;
            for v in [ts.as_secs() as u32, ts.subsec_micros(), len, len] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b.extend_from_slice(f);
        }
        std::fs::write(path, b).unwrap();
    }

    /// The frames of a connection from 10.1.`net`.`host`:`port` to 192.0.2.1:443 that
    /// sends a ClientHello and waits, from `t` on.
    fn waiting_flow(net: u8, host: u8, port: u16, t: Duration) -> Vec<(Duration, Vec<u8>)> {
        let hello = include_bytes!("../../helloscope-tls/testdata/gnutls-3.7.9-clienthello.bin");
        let (client, server) = ([10, 1, net, host], [192, 0, 2, 1]);
        let frame = |to_client: bool, syn: bool, payload: &[u8]| {
            let eth = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
            // A SYN takes one sequence number: the data after it starts one on.
            let b = if to_client {
                eth.ipv4(server, client, 64)
                    .tcp(443, port, if syn { 7000 } else { 7001 }, 65535)
                    .ack(1001)
            } else {
                eth.ipv4(client, server, 64)
                    .tcp(port, 443, if syn { 1000 } else { 1001 }, 65535)
            };
            let b = match (syn, to_client) {
                (true, _) => b.syn(),
                (false, false) => b.ack(7001),
                (false, true) => b,
            };
            let mut out = Vec::new();
            b.write(&mut out, payload).unwrap();
            out
        };
        let ms = Duration::from_millis(1);
        vec![
            (t, frame(false, true, &[])),
            (t + ms, frame(true, true, &[])),
            (t + ms * 2, frame(false, false, &[])),
            (t + ms * 3, frame(false, false, hello)),
        ]
    }

    /// Found on arkime_synthetic.pcap (stamped 2023 to 2025): with `--threads` each worker's
    /// table kept its own clock, fed by its share of the packets only, so a jump of the
    /// capture's time was taken (and packets counted as stamped far from the clock) at other
    /// packets than one analyzer takes them, and idle flows swept at other times; which
    /// packets a worker gets follows the per-run shard key, so records changed from run to
    /// run. A capture whose time jumps a year ahead for a few packets (outliers), back, ahead
    /// for good, back for a few, with idle gaps between: any number of workers, any block
    /// size, and flows falling into the shards in many ways (the ports vary: the same as
    /// varying the key), give what one analyzer gives, counters of the clock included.
    #[test]
    fn workers_follow_one_clock_when_the_capture_jumps() {
        let year = Duration::from_secs(365 * 86_400);
        let t0 = Duration::from_secs(1_690_000_000);
        let dir = std::env::temp_dir().join(format!("hs-jumps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("jumps.pcap");
        for variant in 0..12u16 {
            let mut frames = Vec::new();
            let mut flow = |net: u8, n: u8, start: Duration, step: Duration| {
                for h in 0..n {
                    let port = 20_000 + variant * 97 + u16::from(net) * 13 + u16::from(h);
                    let t = start + step * u32::from(h);
                    frames.extend(waiting_flow(net, h + 1, port, t));
                }
            };
            let s = Duration::from_secs(1);
            // The old epoch; a few flows a year ahead (fewer packets than a jump takes);
            // back; then a year ahead for good, with gaps past the idle timeout; a few
            // packets from the old epoch again; and more in the new one.
            flow(1, 6, t0, s * 10);
            flow(2, 3, t0 + year, s);
            flow(3, 6, t0 + s * 100, s * 50);
            flow(4, 12, t0 + year + s * 10, s * 3);
            flow(5, 4, t0 + year + s * 400, s * 90);
            flow(6, 2, t0 + s * 500, s);
            flow(7, 6, t0 + year + s * 900, s * 7);
            // In the order written, not sorted: the capture's own order is the point.
            write_pcap(&path, &frames);
            let path = path.to_str().unwrap();
            let want = single(path);
            assert!(
                want.1[1] > 0 && want.1[2] > 0,
                "outliers and sweeps: {:?}",
                want.1
            );
            assert_eq!(want.0.len(), 39, "every flow reported once");
            for threads in [2, 3, 4] {
                for block in [1500, BLOCK] {
                    let got = sharded(path, threads, block);
                    assert_eq!(got, want, "variant {variant}, {threads} workers, {block}");
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A file cut inside a record: the same records as one analyzer, and the error.
    #[test]
    fn a_truncated_file_gives_its_records_and_the_error() {
        let bytes = std::fs::read(captures("openssl.pcap")).unwrap();
        let dir = std::env::temp_dir().join(format!("hs-sharded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cut.pcap");
        std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let path = path.to_str().unwrap();
        let want = single(path);
        assert!(want.2, "the reader reports the cut");
        for threads in [2, 3] {
            for block in [333, 4096, BLOCK] {
                assert_eq!(sharded(path, threads, block), want, "{threads} {block}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The fixed-offset shard is the decoder's, for every frame of the bundled Ethernet
    /// capture, at several worker counts.
    #[test]
    fn quick_shard_agrees_with_the_decoder() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../captures/openssl.pcap");
        let mut src = crate::PacketSource::open_file(path).unwrap();
        assert_eq!(src.link_type(), LinkType::Ethernet);
        let mut quick = 0;
        while let Some(p) = src.next_packet().unwrap() {
            for n in [2, 3, 7] {
                if let Some(s) = quick_shard(LinkType::Ethernet, p.data, n) {
                    assert_eq!(s, shard_of(LinkType::Ethernet, p.data, n));
                    quick += 1;
                }
            }
        }
        assert!(quick > 100, "the capture is Ethernet, IPv4, TCP: {quick}");
    }

    /// A fragment goes to every shard, at the fixed offsets as through the decoder; its
    /// unfragmented twin to one.
    #[test]
    fn fragments_go_to_every_shard() {
        let mut src = crate::PacketSource::open_file(&captures("openssl.pcap")).unwrap();
        let frame = src.next_packet().unwrap().unwrap().data.to_vec();
        assert!(quick_shard(LinkType::Ethernet, &frame, 2).is_some());
        assert!(route(LinkType::Ethernet, &frame, 2).is_some());
        let mut first = frame.clone();
        first[20] |= 0x20; // more fragments
        let mut later = frame;
        later[21] = 1; // offset 8
        for f in [first, later] {
            assert_eq!(quick_shard(LinkType::Ethernet, &f, 2), None);
            assert_eq!(route(LinkType::Ethernet, &f, 2), None);
            assert_eq!(route(LinkType::Ethernet, &f, 1), Some(0));
        }
    }

    /// Found by a review: the shard hash had no secret, so a sender could pick ports whose
    /// flows all land on one worker. Flows chosen to share a shard under one key spread over
    /// all shards under another: without the run's key, the choice is blind.
    #[test]
    fn flows_aimed_at_one_shard_spread_under_another_key() {
        let frame = |port: u16| {
            let b = etherparse::PacketBuilder::ipv4([198, 51, 100, 7], [192, 0, 2, 1], 64)
                .tcp(port, 443, 1, 65535)
                .syn();
            let mut out = Vec::new();
            b.write(&mut out, &[]).unwrap();
            out
        };
        let (a, b) = ([1, 2, 3, 4], [5, 6, 7, 8]);
        let n = 4;
        let aimed: Vec<Vec<u8>> = (1024..u16::MAX)
            .map(frame)
            .filter(|f| shard_keyed(&a, LinkType::Raw, f, n) == 0)
            .take(2000)
            .collect();
        assert_eq!(aimed.len(), 2000);
        let mut counts = [0usize; 4];
        for f in &aimed {
            counts[shard_keyed(&b, LinkType::Raw, f, n)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 350), "{counts:?}");
        // The run's key is one for all workers: the same frame, the same shard.
        let f = frame(4000);
        assert_eq!(
            shard_of(LinkType::Raw, &f, n),
            shard_of(LinkType::Raw, &f, n)
        );
        assert_eq!(shard_key(), shard_key());
    }
}
