// SPDX-License-Identifier: GPL-2.0

//! What every queue of the device shares: the nesting lock, the watched
//! files and the sweep that finds the closed ones, and the users'
//! accounts.
//!
//! Lock order: a queue's registry, then `nest`, then `watches` (or
//! `accounts`); the sweep takes `watches` alone, and no queue's registry.

use crate::account::{Accounts, UserAccount};
use crate::nest::Checks;
use crate::queue::Queue;
use crate::sys::{
    compat::Ktime,
    hrtimer::{impl_has_hr_timer, Clock, Expiry, HrTimer, TimerHandle},
    work,
};
use crate::watch::{ClosedFile, SweepRun, WatchTable, SWEEP_INTERVAL_NS};
use core::sync::atomic::{AtomicI64, Ordering};
use kernel::{
    impl_has_work, new_mutex, new_work,
    prelude::*,
    sync::{Arc, ArcBorrow, Mutex},
    workqueue::{Work, WorkItem},
};

/// The sweep's timer, while it is armed.
struct Sweep {
    timer: Option<TimerHandle<Shared>>,
    /// Set at module unload: the sweep is never armed again.
    stopped: bool,
}

#[pin_data]
pub(crate) struct Shared {
    /// Guards the graph of queues watching queues and serialises its
    /// checks, so two ADDs cannot close a loop between them (epoll's
    /// `epnested_mutex`).
    #[pin]
    pub(crate) nest: Mutex<Checks>,
    /// Every watched file, with its requests (see `watch.rs`).
    #[pin]
    pub(crate) watches: Mutex<WatchTable>,
    #[pin]
    accounts: Mutex<Accounts>,
    #[pin]
    sweep: Mutex<Sweep>,
    /// Fires every `SWEEP_INTERVAL_NS` while files are watched, and queues
    /// `sweep_work` (the sweep takes mutexes; the timer runs in hard irq).
    #[pin]
    sweep_timer: HrTimer<Shared>,
    #[pin]
    sweep_work: Work<Shared>,
    /// No wake-up runs the sweep before this time (`CLOCK_MONOTONIC`, ns):
    /// a run visits only some of the watches, and may miss the closed
    /// file whose wake-ups keep asking for it.
    next_kick: AtomicI64,
}

impl_has_hr_timer!(Shared, sweep_timer, Shared::sweep_fired);

impl_has_work! {
    impl HasWork<Self> for Shared { self.sweep_work }
}

impl WorkItem for Shared {
    type Pointer = Arc<Shared>;

    fn run(this: Arc<Shared>) {
        this.run_sweep();
    }
}

impl Shared {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                nest <- new_mutex!(Checks::new(), "kevent_nest"),
                watches <- new_mutex!(WatchTable::new(), "kevent_watches"),
                accounts <- new_mutex!(Accounts::new(), "kevent_accounts"),
                sweep <- new_mutex!(Sweep { timer: None, stopped: false }, "kevent_sweep"),
                sweep_timer <- HrTimer::new(Some(Clock::Monotonic)),
                sweep_work <- new_work!("kevent_sweep_work"),
                next_kick: AtomicI64::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// The account of the calling user, for a new queue.
    pub(crate) fn open_account(&self, uid: u32) -> Result<Arc<UserAccount>> {
        self.accounts.lock().open(uid)
    }

    /// A queue of `uid` is closed.
    pub(crate) fn close_account(&self, uid: u32) {
        self.accounts.lock().close(uid);
    }

    /// Arms the sweep if it is not armed: a file is watched.
    pub(crate) fn arm_sweep(self: &Arc<Self>) {
        let mut sweep = self.sweep.lock();
        if sweep.stopped || sweep.timer.is_some() {
            return;
        }
        let expires = Ktime::ktime_get().to_ns().saturating_add(SWEEP_INTERVAL_NS);
        // The sweep's timer is `used`: starting it cannot fail.
        sweep.timer = HrTimer::start(self.clone(), Expiry::At(expires)).ok();
    }

    /// Runs the sweep now, unless a wake-up did less than a sweep interval
    /// ago: a closed file woke one of its requests. Any context.
    pub(crate) fn kick_sweep(self: &Arc<Self>) {
        let now = Ktime::ktime_get().to_ns();
        let next = self.next_kick.load(Ordering::Relaxed);
        if now < next
            || self
                .next_kick
                .compare_exchange(
                    next,
                    now + SWEEP_INTERVAL_NS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        // Already queued: that run will look.
        let _ = work::system().enqueue(self.clone());
    }

    /// The sweep timer fired (hard irq): run the sweep from a work item.
    fn sweep_fired(this: ArcBorrow<'_, Self>) {
        let _ = work::system().enqueue(Arc::<Self>::from(this));
    }

    /// One run of the sweep: removes the requests of the closed files
    /// among the watches it visits (see `watch.rs`), and arms the next run
    /// while files are watched.
    fn run_sweep(self: Arc<Self>) {
        // The timer has fired, or is cancelled here if a wake-up kicked
        // this run; it is armed again below. Cancelled under the lock: an
        // ADD arming the timer (the same hrtimer) between the take and the
        // cancel would see it unarmed, start it, and have it cancelled,
        // leaving it marked armed and no sweep ever again. The timer's
        // callback only queues this work, so cancelling under the mutex
        // cannot wait on it.
        {
            let mut sweep = self.sweep.lock();
            drop(sweep.timer.take());
        }
        let mut run = SweepRun::new();
        loop {
            let closed = self.watches.lock().take_closed(&mut run);
            let Some(closed) = closed else { break };
            Self::remove_closed(closed);
        }
        if !self.watches.lock().is_empty() {
            self.arm_sweep();
        }
    }

    /// Hands the requests of a closed file to their queues, which take
    /// them out from work items of their own; the file is released when
    /// the last of them is freed. The sweep never waits for a queue: a
    /// queue's registry can be held for as long as a watched file's poll
    /// method or a copy to its owner's memory blocks, and one stalled
    /// queue must not keep every other user's closed files open.
    fn remove_closed(mut closed: ClosedFile) {
        while let Some(req) = closed.take_request() {
            Queue::hand_closed(req);
        }
    }

    /// Stops the sweep for good (module unload; no queue is open, so no
    /// file is watched).
    pub(crate) fn shutdown(&self) {
        {
            let mut sweep = self.sweep.lock();
            sweep.stopped = true;
            // Cancelled under the lock, as in `run_sweep`.
            drop(sweep.timer.take());
        }
        work::flush(&self.sweep_work);
    }
}
