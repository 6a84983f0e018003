//! `analyze`'s inputs as one stream of packets: directories expanded, every input ordered
//! by the time of its first packet (not its name), and inputs that overlap in time merged
//! packet by packet by timestamp, so that a connection split over rotated files reaches one
//! flow table as it went over the wire.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use helloscope_capture::{Packet, PacketSource, SourceError, Stats};

use crate::common::Failure;

/// An input named on the command line, or found in a directory named there.
struct Named {
    path: String,
    /// Found in a directory: a file there that is not a capture is skipped with a note, not
    /// an error (a directory of rotated captures often holds a README or a checksum list).
    in_dir: bool,
}

/// Paths on the command line, directories replaced by the regular files directly inside
/// them (not recursively: `-G` and `-C` rotation writes one flat directory, and a tree may
/// hold older or unrelated captures).
fn expand(args: &[String]) -> Result<Vec<Named>, Failure> {
    let mut out = Vec::new();
    for a in args {
        let dir = a != "-" && std::fs::metadata(a).is_ok_and(|m| m.is_dir());
        if !dir {
            out.push(Named {
                path: a.clone(),
                in_dir: false,
            });
            continue;
        }
        let entries = std::fs::read_dir(a).map_err(|e| Failure(format!("{a}: {e}")))?;
        let mut files: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()))
            .map(|e| e.path().to_string_lossy().into_owned())
            .collect();
        // Sorted only so that messages come in a stable order; reading goes by time.
        files.sort();
        out.extend(files.into_iter().map(|path| Named { path, in_dir: true }));
    }
    Ok(out)
}

/// One input, while it is being read.
struct Input {
    path: String,
    /// Time of its first packet.
    first: Duration,
    source: Option<PacketSource>,
}

/// The names records are reported under: the input that held the flow's first packet.
#[derive(Clone, Default)]
pub struct Sources(Vec<(Duration, String)>);

impl Sources {
    /// The input a flow that began at `first_seen` is reported under: the last input (in
    /// time order) whose first packet is not after it. For rotated captures that is the file
    /// holding the flow's first packet; for inputs overlapping in time, the one that began
    /// last before the flow did.
    pub fn of(&self, first_seen: Duration) -> &str {
        let i = self.0.partition_point(|(t, _)| *t <= first_seen);
        self.0.get(i.saturating_sub(1)).map_or("", |s| s.1.as_str())
    }
}

/// All inputs as one stream of packets in time order.
pub struct Merged {
    filter: Option<String>,
    /// Inputs in the order of their first packets.
    inputs: Vec<Input>,
    /// Inputs not opened yet: `inputs[next_to_open..]`.
    next_to_open: usize,
    /// Open inputs by the time of their next packet (then their order).
    heap: BinaryHeap<Reverse<(Duration, usize)>>,
    /// The input being read, while its packets come before every other input's.
    current: Option<usize>,
    /// Packets of link types not decoded, from closed inputs.
    pub skipped: Stats,
    /// Some input could not be read, or stopped on damage.
    pub damaged: bool,
    /// All inputs are uncompressed regular files (their sizes say how much there is to read).
    pub plain: bool,
}

impl Merged {
    /// Opens every input, reads its first packet's time, and orders them. Messages about
    /// inputs that cannot be read are printed here.
    pub fn open(args: &[String], filter: Option<&str>) -> Result<Merged, Failure> {
        let named = expand(args)?;
        let several = named.len() > 1;
        let mut m = Merged {
            filter: filter.map(str::to_owned),
            inputs: Vec::new(),
            next_to_open: 0,
            heap: BinaryHeap::new(),
            current: None,
            skipped: Stats::default(),
            damaged: false,
            plain: true,
        };
        for n in named {
            let mut source = match m.open_one(&n.path)? {
                Ok(s) => s,
                Err(SourceError::Open { message, .. }) if n.in_dir => {
                    eprintln!("helloscope: {}: {message}; skipped", n.path);
                    continue;
                }
                Err(e) => {
                    eprintln!("helloscope: {e}");
                    m.damaged = true;
                    continue;
                }
            };
            m.plain &= source.is_plain_file();
            match source.next_time() {
                Ok(Some(first)) => {
                    // Many rotated files would hold a read buffer (and a decompressor) each:
                    // reopen regular files when their time comes; keep open what cannot be
                    // read twice (standard input, pipes such as `<(zcat a.gz)`).
                    let regular =
                        n.path != "-" && std::fs::metadata(&n.path).is_ok_and(|m| m.is_file());
                    let keep = !several || !regular;
                    m.inputs.push(Input {
                        path: n.path,
                        first,
                        source: keep.then_some(source),
                    });
                }
                Ok(None) => m.skipped.merge(&source.take_skipped()),
                Err(e) => {
                    m.skipped.merge(&source.take_skipped());
                    eprintln!("helloscope: {e} (flows read before it are reported)");
                    m.damaged = true;
                }
            }
        }
        // Stable: inputs that begin at the same time keep the order they were named in.
        m.inputs.sort_by_key(|i| i.first);
        Ok(m)
    }

    fn open_one(&self, path: &str) -> Result<Result<PacketSource, SourceError>, Failure> {
        let mut s = match PacketSource::open_file(path) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(f) = &self.filter {
            // A filter that does not compile is the command's error, not the file's.
            s.set_filter(f)?;
        }
        Ok(Ok(s))
    }

    /// The names records are reported under.
    pub fn sources(&self) -> Sources {
        Sources(
            self.inputs
                .iter()
                .map(|i| (i.first, i.path.clone()))
                .collect(),
        )
    }

    /// The only input, opened, when there is exactly one (for `--threads` on a classic pcap
    /// file, whose workers read it themselves).
    pub fn single(&mut self) -> Option<&mut PacketSource> {
        match &mut self.inputs[..] {
            [one] => one.source.as_mut(),
            _ => None,
        }
    }

    /// Sum of the input files' sizes.
    pub fn total_size(&self) -> u64 {
        self.inputs
            .iter()
            .filter_map(|i| std::fs::metadata(&i.path).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Opens the inputs whose first packet is due by `t` (all of them up to the next one
    /// when nothing is open).
    fn open_due(&mut self, t: Option<Duration>) -> Result<(), Failure> {
        while let Some(i) = self.inputs.get(self.next_to_open) {
            if t.is_some_and(|t| i.first > t) {
                return Ok(());
            }
            let k = self.next_to_open;
            self.next_to_open += 1;
            let source = match self.inputs[k].source.take() {
                Some(s) => Ok(s),
                None => self.open_one(&self.inputs[k].path)?,
            };
            let next = source.and_then(|mut s| {
                let t = s.next_time();
                self.inputs[k].source = Some(s);
                t
            });
            match next {
                Ok(Some(t)) => self.heap.push(Reverse((t, k))),
                Ok(None) => self.close(k),
                Err(e) => self.fail(k, e),
            }
            if t.is_none() {
                return Ok(());
            }
        }
        Ok(())
    }

    fn close(&mut self, k: usize) {
        if let Some(mut s) = self.inputs[k].source.take() {
            self.skipped.merge(&s.take_skipped());
        }
    }

    fn fail(&mut self, k: usize, e: SourceError) {
        eprintln!("helloscope: {e} (flows read before it are reported)");
        self.damaged = true;
        self.close(k);
    }

    /// Hands the next packet of all inputs, in time order, to `visit`; false at the end.
    pub fn next(&mut self, visit: &mut dyn FnMut(Packet<'_>)) -> Result<bool, Failure> {
        loop {
            let k = match self.current.take() {
                Some(k) => k,
                None => {
                    let top = self.heap.peek().map(|r| r.0 .0);
                    self.open_due(top)?;
                    match self.heap.pop() {
                        Some(Reverse((_, k))) => k,
                        None if self.next_to_open < self.inputs.len() => continue,
                        None => return Ok(false),
                    }
                }
            };
            // The only input left (or the only one): nothing to compare its times with.
            let alone = self.heap.is_empty() && self.next_to_open == self.inputs.len();
            let Some(s) = self.inputs[k].source.as_mut() else {
                continue;
            };
            match s.next_packet() {
                Ok(Some(p)) => visit(p),
                Ok(None) => {
                    self.close(k);
                    continue;
                }
                Err(e) => {
                    self.fail(k, e);
                    continue;
                }
            }
            if alone {
                self.current = Some(k);
                return Ok(true);
            }
            match s.next_time() {
                Ok(Some(t)) => {
                    // Go on with this input while it stays first: no heap work for files
                    // that do not overlap.
                    let before_open = self.heap.peek().is_none_or(|r| t <= r.0 .0);
                    let before_new = self
                        .inputs
                        .get(self.next_to_open)
                        .is_none_or(|i| t < i.first);
                    if before_open && before_new {
                        self.current = Some(k);
                    } else {
                        self.heap.push(Reverse((t, k)));
                    }
                }
                Ok(None) => self.close(k),
                Err(e) => self.fail(k, e),
            }
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_reported_under_the_input_that_began_before_them() {
        let s = Sources(vec![
            (Duration::from_secs(10), "a".into()),
            (Duration::from_secs(20), "b".into()),
            (Duration::from_secs(20), "c".into()),
        ]);
        assert_eq!(s.of(Duration::from_secs(5)), "a", "before every input");
        assert_eq!(s.of(Duration::from_secs(10)), "a");
        assert_eq!(s.of(Duration::from_secs(19)), "a");
        assert_eq!(s.of(Duration::from_secs(20)), "c");
        assert_eq!(s.of(Duration::from_secs(99)), "c");
        assert_eq!(Sources::default().of(Duration::ZERO), "");
    }
}
