//! `--threads N` for sources read by one thread (pcapng, compressed files, standard input,
//! filtered files, several inputs merged by time; each packet with its own link type):
//! flows sharded over N analyzer threads by a symmetric hash of their endpoints, so both
//! directions of a connection meet in the same analyzer. The calling thread reads the
//! capture; workers analyse and format. Classic pcap files are read by the workers themselves
//! (`PacketSource::analyze_sharded`).

use std::sync::mpsc;
use std::time::Duration;

use helloscope_capture::sharded::{per_worker_config, route_segment, PacketTime, ReaderClock};
use helloscope_capture::{Analyzer, FlowConfig, FlowRecord, LinkType, Packet, Stats};

/// Packets sent to a worker in one message: one allocation per batch, not per packet.
struct Batch {
    data: Vec<u8>,
    /// Per packet: time, link type, offset and length in `data`.
    index: Vec<(Duration, LinkType, u32, u32)>,
    /// The few places where the reader's clock has something to say (see
    /// [`ReaderClock`]): before the packet at this index (or after the last), a sweep, and
    /// the time the packet is handled at.
    times: Vec<(u32, PacketTime)>,
}

const BATCH_PACKETS: usize = 512;

impl Batch {
    fn new() -> Self {
        Batch {
            data: Vec::with_capacity(BATCH_PACKETS * 256),
            index: Vec::with_capacity(BATCH_PACKETS),
            times: Vec::new(),
        }
    }
}

/// Records prepared into one batch for the calling thread: one wake-up per record costs more
/// than preparing it, and a batch of a few dozen kilobytes stays clear of the allocator's
/// fresh mappings (a 256-record batch of output lines was slower). The size of
/// `PacketSource::analyze_sharded`'s batches too.
pub const RECORD_BATCH: usize = 64;

/// The worker's end of the way to the calling thread: records are prepared into a batch `B`
/// (lines of output, say) and each full batch is sent.
struct Batcher<'a, B> {
    batch: B,
    count: usize,
    prepare: &'a (dyn Fn(FlowRecord, &mut B) + Sync),
    tx: mpsc::Sender<B>,
}

impl<'a, B: Default> Batcher<'a, B> {
    fn new(prepare: &'a (dyn Fn(FlowRecord, &mut B) + Sync), tx: mpsc::Sender<B>) -> Self {
        Batcher {
            batch: B::default(),
            count: 0,
            prepare,
            tx,
        }
    }

    fn push(&mut self, r: FlowRecord) {
        (self.prepare)(r, &mut self.batch);
        self.count += 1;
        if self.count == RECORD_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.count > 0 {
            // The calling thread gone means nobody wants the records any more.
            let _ = self.tx.send(std::mem::take(&mut self.batch));
            self.count = 0;
        }
    }
}

/// Something that reads the next packet, hands it to the visitor, and says whether there was
/// one.
pub type Reader<'a> = dyn FnMut(&mut dyn FnMut(Packet<'_>)) -> bool + 'a;

/// Reads packets with `read` (which hands the next packet to its argument and returns false
/// at the end), analyses them on `threads` workers, prepares each record into a batch `B`
/// with `prepare` on the worker (formatting is as costly as the analysis, so it is spread
/// too), and hands the batches to `emit` on the calling thread. Returns the merged counters.
pub fn run<B: Default + Send>(
    threads: usize,
    cfg: &FlowConfig,
    read: &mut Reader<'_>,
    prepare: &(dyn Fn(FlowRecord, &mut B) + Sync),
    emit: &mut dyn FnMut(B),
) -> Stats {
    let threads = threads.max(1);
    let per_worker = per_worker_config(cfg, threads);
    std::thread::scope(|scope| {
        let (rec_tx, rec_rx) = mpsc::channel::<B>();
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for w in 0..threads {
            // Bounded: a slow worker makes the reader wait instead of queueing the file.
            let (tx, rx) = mpsc::sync_channel::<Batch>(4);
            senders.push(tx);
            let rec_tx = rec_tx.clone();
            let cfg = per_worker.clone();
            handles.push(scope.spawn(move || {
                let mut a = Analyzer::new(cfg);
                a.set_shard(w, threads);
                a.drive_clock();
                let mut batcher = Batcher::new(prepare, rec_tx);
                let mut send = |r: FlowRecord| batcher.push(r);
                for b in rx {
                    let mut next = 0;
                    for (i, &(ts, link, start, len)) in b.index.iter().enumerate() {
                        let f = &b.data[start as usize..(start + len) as usize];
                        let mut at = None;
                        while next < b.times.len() && b.times[next].0 as usize == i {
                            let time = b.times[next].1;
                            if let Some(now) = time.sweep {
                                a.sweep_at(now, &mut send);
                            }
                            at = at.or(time.at);
                            next += 1;
                        }
                        match at {
                            Some(at) => a.process_at(ts, at, link, f, &mut send),
                            None => a.process(ts, link, f, &mut send),
                        }
                    }
                    // Sweeps after this worker's last packet of the batch.
                    for &(_, time) in &b.times[next..] {
                        if let Some(now) = time.sweep {
                            a.sweep_at(now, &mut send);
                        }
                    }
                }
                a.finish(&mut send);
                batcher.flush();
                a.stats().clone()
            }));
        }
        drop(rec_tx);
        let mut batches: Vec<Batch> = (0..threads).map(|_| Batch::new()).collect();
        let mut full: Option<usize> = None;
        // One clock for every worker's table, as one analyzer's (see `ReaderClock`).
        let mut clock = ReaderClock::new(cfg);
        loop {
            let more = read(&mut |p| {
                // An IP fragment goes to every worker (see `route`).
                let (shard, segment) = route_segment(p.link, p.data, threads);
                let to = match shard {
                    Some(s) => s..s + 1,
                    None => 0..threads,
                };
                let time = clock.read(p.ts, segment);
                if time != PacketTime::default() {
                    for (w, b) in batches.iter_mut().enumerate() {
                        let at = if to.contains(&w) { time.at } else { None };
                        if time.sweep.is_some() || at.is_some() {
                            let sweep = time.sweep;
                            b.times
                                .push((b.index.len() as u32, PacketTime { sweep, at }));
                        }
                    }
                }
                for s in to {
                    let b = &mut batches[s];
                    b.index
                        .push((p.ts, p.link, b.data.len() as u32, p.data.len() as u32));
                    b.data.extend_from_slice(p.data);
                    if b.index.len() >= BATCH_PACKETS {
                        full = Some(s);
                    }
                }
            });
            if let Some(s) = full.take() {
                let b = std::mem::replace(&mut batches[s], Batch::new());
                let _ = senders[s].send(b);
                while let Ok(r) = rec_rx.try_recv() {
                    emit(r);
                }
            }
            if !more {
                break;
            }
        }
        for (s, b) in batches.into_iter().enumerate() {
            if !b.index.is_empty() {
                let _ = senders[s].send(b);
            }
        }
        drop(senders);
        for r in rec_rx {
            emit(r);
        }
        let mut total = Stats::default();
        for h in handles {
            if let Ok(s) = h.join() {
                total.merge(&s);
            }
        }
        total
    })
}
