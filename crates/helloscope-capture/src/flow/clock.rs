//! The flow table's clock, and its schedule of idle sweeps.
//!
//! One analyzer's table reads it for every TCP segment. With `--threads`, the workers' tables
//! each see only their share of the segments, so their own clocks would move (and accept a
//! jump of the capture's time) at other packets than one analyzer's: the reader of the
//! capture, which sees every segment in order, keeps the one clock instead and tells each
//! worker the time its packets are handled at where that is not their own, and when to sweep
//! ([`Clock::driven`]).

use std::time::Duration;

/// How far a packet's time may lie from the table's clock, beyond the idle timeout, before
/// it is an outlier: handled at the clock's time, and not moving it. A day: a quiet link
/// overnight is not an outlier, a clock thirty years off is.
pub(crate) const CLOCK_SLACK: Duration = Duration::from_secs(86_400);

/// Consecutive packets far ahead of the clock, within the slack of one another, that show
/// the capture itself jumped (a pause of the link, files joined): the clock follows them.
pub(crate) const CLOCK_JUMP_PACKETS: u32 = 32;

/// The table's clock: the latest packet time that was not an outlier.
#[derive(Clone, Debug)]
pub(crate) struct Clock {
    pub(crate) now: Duration,
    /// Seconds a packet's time may lie from the clock: the idle timeout and [`CLOCK_SLACK`].
    slack_secs: u64,
    /// The seconds within the slack of the clock, inclusive; empty (`lo > hi`) until the
    /// first packet sets the clock.
    lo: u64,
    hi: u64,
    /// The second `lo` and `hi` were set from: most packets fall in the same second as the
    /// one before, and leave them as they are.
    secs: u64,
    /// Packets far ahead of the clock that agree with one another: a time and how many in a
    /// row. Enough of them move the clock there (the capture really did jump).
    jump: Option<(Duration, u32)>,
    /// When the next idle sweep is due, and how far apart they are.
    next_sweep: Duration,
    sweep_every: Duration,
    /// A driven clock's time for the next packet, an outlier by the reader's clock.
    forced: Option<Duration>,
}

impl Clock {
    pub(crate) fn new(idle_timeout: Duration) -> Self {
        Clock {
            now: Duration::ZERO,
            slack_secs: idle_timeout.saturating_add(CLOCK_SLACK).as_secs(),
            lo: 1,
            hi: 0,
            secs: 0,
            jump: None,
            next_sweep: Duration::ZERO,
            sweep_every: (idle_timeout / 4).max(Duration::from_secs(1)),
            forced: None,
        }
    }

    /// A worker's clock, driven by the reader's: every packet is handled at its own time
    /// unless [`Self::force`] says otherwise, and the table sweeps only when told. (A window
    /// of every second: [`Self::read`] never takes the outlier path on its own.)
    pub(crate) fn driven(idle_timeout: Duration) -> Self {
        Clock {
            slack_secs: u64::MAX,
            lo: 0,
            hi: u64::MAX,
            next_sweep: Duration::MAX,
            ..Self::new(idle_timeout)
        }
    }

    /// Moves the clock to packet time `ts` and returns the time the packet is handled at.
    /// One packet stamped years ahead (or behind) must not time out every flow at once, nor
    /// stop the sweeps of idle flows afterwards: such an outlier is counted in `outliers`
    /// and handled at the clock's time (its record still says when it was stamped), unless
    /// enough packets in a row agree that the capture jumped.
    #[inline]
    pub(crate) fn read(&mut self, ts: Duration, outliers: &mut u64) -> Duration {
        // Whole seconds are precise enough against a day's slack.
        let s = ts.as_secs();
        if s >= self.lo && s <= self.hi {
            if self.jump.is_some() {
                self.jump = None;
            }
            if ts > self.now {
                self.now = ts;
                if s != self.secs {
                    self.set_window(s);
                }
            }
            return ts;
        }
        self.outlier(ts, outliers)
    }

    fn set_now(&mut self, ts: Duration) {
        self.now = ts;
        self.set_window(ts.as_secs());
    }

    /// The seconds within the slack of second `s`.
    fn set_window(&mut self, s: u64) {
        self.secs = s;
        self.lo = s.saturating_sub(self.slack_secs);
        self.hi = s.saturating_add(self.slack_secs);
    }

    /// [`Self::read`] for the first packet, for one far from the clock, and for a driven
    /// clock's forced time.
    #[cold]
    #[inline(never)]
    fn outlier(&mut self, ts: Duration, outliers: &mut u64) -> Duration {
        if let Some(at) = self.forced.take() {
            (self.lo, self.hi) = (0, u64::MAX);
            *outliers += 1;
            return at;
        }
        if self.lo > self.hi {
            // The first packet sets the clock.
            self.set_now(ts);
            return ts;
        }
        if ts > self.now {
            let slack = Duration::from_secs(self.slack_secs);
            let n = match self.jump {
                Some((t, n)) if t.abs_diff(ts) <= slack => n + 1,
                _ => 1,
            };
            if n >= CLOCK_JUMP_PACKETS {
                self.jump = None;
                self.set_now(ts);
                return ts;
            }
            self.jump = Some((ts, n));
        }
        *outliers += 1;
        self.now
    }

    /// Whether an idle sweep is due.
    #[inline]
    pub(crate) fn sweep_due(&self) -> bool {
        self.now >= self.next_sweep
    }

    /// Notes a sweep at [`Self::now`]: the next is due a quarter of the timeout later.
    pub(crate) fn swept(&mut self) {
        if self.next_sweep != Duration::MAX {
            self.next_sweep = self.now + self.sweep_every;
        }
    }

    /// A driven clock: the next packet read is an outlier by the reader's clock, handled at
    /// `at` and counted.
    pub(crate) fn force(&mut self, at: Duration) {
        self.forced = Some(at);
        (self.lo, self.hi) = (1, 0);
    }

    /// A driven clock: forgets a forced time the packet did not read (it was no segment for
    /// the table).
    pub(crate) fn unforce(&mut self) {
        if self.forced.take().is_some() {
            (self.lo, self.hi) = (0, u64::MAX);
        }
    }
}
