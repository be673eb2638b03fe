// SPDX-License-Identifier: GPL-2.0

//! The event queue: registered requests, the ready list, the waiters.
//!
//! Locking, outermost first:
//! - `registry` (a mutex): the requests by identity. ctl commands and the
//!   collection of events hold it, so they never interleave; it is never
//!   held while sleeping for events.
//! - `ready` (a spinlock taken with interrupts off): the FIFO of ready
//!   requests. Event sources (hrtimer callbacks in hard-irq context, wait
//!   queue callbacks) take only this lock.
//! - the wait queue heads' own locks, inside `ready` when a waiter queues
//!   itself. Wake-ups are issued after `ready` is released; a wake-up that
//!   arrives under a watched queue's poller lock wakes this queue's pollers
//!   from a work item, so a chain of queues never nests two queues' locks.

use crate::defs::*;
use crate::device::KeventDevice;
use crate::request::{self, Identity, Request, TimerSpec};
use crate::sys::{
    file::FileRef,
    hrtimer::{HrTimer, TimerHandle},
    list::OwnedList,
    miscdevice,
    poll::{self, PollHooks, POLL_ALWAYS},
    seq_file::SeqFile,
    spinlock_irq::{new_spinlock_irq, SpinLockIrq},
    wait::{new_wait_queue_head, WaitQueueHead, Wake},
    work,
};
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    impl_has_work,
    list::ListArc,
    new_mutex, new_work,
    prelude::*,
    rbtree::{self, RBTree, RBTreeNodeReservation},
    sync::{Arc, ArcBorrow, Mutex},
    time::Ktime,
    uaccess::UserSliceWriter,
    workqueue::{self, Work, WorkItem},
};

/// The most requests one queue holds (module parameter `max_requests`).
pub(crate) static MAX_REQUESTS: AtomicU32 = AtomicU32::new(65536);

/// The ready requests, oldest first.
pub(crate) type ReadyList = OwnedList<Request>;

/// `poll()` readiness of a queue with events.
const POLL_READABLE: u32 = (crate::layout::EPOLLIN_BITS | crate::layout::EPOLLRDNORM_BITS) as u32;

/// Events are collected in batches of this many between user copies.
const BATCH: usize = 16;

/// How long get-events may wait for `min_nr` events.
#[derive(Clone, Copy)]
pub(crate) enum Timeout {
    /// Not at all: take what is ready (a timeout of 0).
    Poll,
    /// Until this time of `CLOCK_MONOTONIC`.
    Until(Ktime),
    Forever,
}

/// The longest chain of queues watching queues (epoll's `EP_MAX_NESTS`).
pub(crate) const MAX_NEST: usize = 4;

/// What every queue of the device shares.
#[pin_data]
pub(crate) struct Shared {
    /// Serialises the loop checks of requests that watch queues, so two
    /// ADDs cannot close a loop between them (epoll's `epnested_mutex`).
    #[pin]
    nest: Mutex<()>,
}

impl Shared {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self { nest <- new_mutex!((), "kevent_nest") }),
            GFP_KERNEL,
        )
    }
}

/// A registered request and what keeps its source running.
struct Entry {
    req: Arc<Request>,
    /// The armed timer of a `KEVENT_TIMER` request; dropping it cancels.
    timer: Option<TimerHandle<Request>>,
    /// The wait queue entries of a `KEVENT_POLL` request; dropping them
    /// unhooks them.
    hooks: Option<PollHooks<Request>>,
}

/// What collecting a ready request comes to.
enum Outcome {
    /// Not ready after all (a level-triggered file that was drained).
    Skip,
    /// Deliver `event`; then keep the request ready (`keep`, level-
    /// triggered files) or remove it (`remove`: one-shot, or a closed fd).
    Deliver {
        event: Ukevent,
        keep: bool,
        remove: bool,
    },
}

struct Registry {
    requests: RBTree<Identity, Entry>,
    count: usize,
}

/// An event queue: one open file of `/dev/kevent`.
#[pin_data]
pub(crate) struct Queue {
    shared: Arc<Shared>,
    #[pin]
    registry: Mutex<Registry>,
    #[pin]
    ready: SpinLockIrq<ReadyList>,
    /// Tasks in get-events, woken one at a time.
    #[pin]
    waiters: WaitQueueHead,
    /// `poll()`, `select()`, epoll and kevent watching this queue's fd.
    #[pin]
    pollers: WaitQueueHead,
    /// Wakes `pollers` on behalf of wake-ups that arrive under another
    /// wait queue's lock (see `make_ready_nested`).
    #[pin]
    poll_work: Work<Queue>,
    list_id: u64,
}

impl_has_work! {
    impl HasWork<Self> for Queue { self.poll_work }
}

impl WorkItem for Queue {
    type Pointer = Arc<Queue>;

    fn run(this: Arc<Queue>) {
        this.pollers.wake_up_poll(POLL_READABLE);
    }
}

impl Queue {
    pub(crate) fn new(shared: Arc<Shared>) -> Result<Arc<Self>> {
        let list = ReadyList::new();
        let list_id = list.id();
        Arc::pin_init(
            pin_init!(Self {
                shared,
                registry <- new_mutex!(Registry { requests: RBTree::new(), count: 0 }, "kevent_registry"),
                ready <- new_spinlock_irq!(list, "kevent_ready"),
                waiters <- new_wait_queue_head!("kevent_waiters"),
                pollers <- new_wait_queue_head!("kevent_pollers"),
                poll_work <- new_work!("kevent_poll_work"),
                list_id,
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The id of this queue's ready list, which its requests report.
    pub(crate) fn list_id(&self) -> u64 {
        self.list_id
    }

    /// Runs one ctl entry. The caller writes the result back.
    pub(crate) fn ctl_one(self: ArcBorrow<'_, Self>, cmd: u32, uk: &Ukevent) -> Result {
        request::check_type(uk.type_)?;
        match cmd {
            KEVENT_CTL_ADD => self.add(uk),
            KEVENT_CTL_REMOVE => self.remove(&Identity::of(uk)),
            KEVENT_CTL_MODIFY => self.modify(uk),
            KEVENT_CTL_READY => self.ready_user(uk),
            _ => Err(EINVAL),
        }
    }

    fn add(self: ArcBorrow<'_, Self>, uk: &Ukevent) -> Result {
        request::validate(uk)?;
        let file = match uk.type_ {
            KEVENT_POLL => Some(FileRef::from_fd(uk.id[0])?),
            _ => None,
        };
        // Watching a queue: refuse loops and deep chains, holding the
        // device-wide lock until the request is in place.
        let target = file.as_ref().and_then(Self::queue_of);
        let _nest = match &target {
            Some(target) => {
                let guard = self.shared.nest.lock();
                self.check_nesting(target)?;
                Some(guard)
            }
            None => None,
        };
        // Allocate before taking the lock; a duplicate wastes them.
        let req = Request::new(self.into(), uk, file)?;
        let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
        let mut guard = self.registry.lock();
        let reg = &mut *guard;
        // One walk of the tree finds the place and refuses a duplicate.
        let rbtree::Entry::Vacant(place) = reg.requests.entry(req.ident) else {
            return Err(EEXIST);
        };
        if reg.count >= MAX_REQUESTS.load(Ordering::Relaxed) as usize {
            return Err(ENOSPC);
        }
        let timer = Self::arm(&req)?;
        let (hooks, ready_now) = match &req.file {
            Some(file) => {
                let (hooks, mask) = PollHooks::register(req.clone(), file.file())?;
                (Some(hooks), mask & (req.event() | POLL_ALWAYS) != 0)
            }
            None => (None, false),
        };
        let entry = Entry {
            req: req.clone(),
            timer,
            hooks,
        };
        place.insert(entry, node);
        reg.count += 1;
        drop(guard);
        // Ready already: queued as usual, for the next collection.
        if ready_now {
            self.make_ready(req.as_arc_borrow(), 1);
        }
        Ok(())
    }

    /// The queue behind `file`, if it is a kevent queue.
    fn queue_of(file: &FileRef) -> Option<Arc<Queue>> {
        miscdevice::private_of::<KeventDevice>(file.file()).map(Arc::from)
    }

    /// Checks that this queue may watch `target` (`ep_loop_check`): not
    /// itself, not a queue from which this one can be reached, and no
    /// chain longer than `MAX_NEST`. Call with `shared.nest` held.
    fn check_nesting(&self, target: &Queue) -> Result {
        if 1 + Self::depth_below(target, self, 1)? > MAX_NEST {
            return Err(eloop());
        }
        Ok(())
    }

    /// The longest chain of queues that `queue` watches, failing with
    /// `ELOOP` if `origin` is on one or the chain is too long.
    fn depth_below(queue: &Queue, origin: &Queue, level: usize) -> Result<usize> {
        if core::ptr::eq(queue, origin) || level > MAX_NEST {
            return Err(eloop());
        }
        let mut watched = KVec::new();
        {
            let reg = queue.registry.lock();
            for (_, entry) in reg.requests.iter() {
                if let Some(q) = entry.req.file.as_ref().and_then(Self::queue_of) {
                    watched.push(q, GFP_KERNEL)?;
                }
            }
        }
        let mut depth = 0;
        for q in watched.iter() {
            depth = depth.max(1 + Self::depth_below(q, origin, level + 1)?);
        }
        Ok(depth)
    }

    /// Starts the source of a request that has none running.
    fn arm(req: &Arc<Request>) -> Result<Option<TimerHandle<Request>>> {
        if req.ident.type_ != KEVENT_TIMER {
            return Ok(None);
        }
        let spec: TimerSpec = req.timer_spec()?;
        let expires = Ktime::ktime_get().to_ns().saturating_add(spec.first_ns);
        Ok(Some(HrTimer::start(req.clone(), expires)))
    }

    fn remove(&self, ident: &Identity) -> Result {
        let mut reg = self.registry.lock();
        let entry = reg.requests.remove(ident).ok_or(ENOENT)?;
        reg.count -= 1;
        // Under the registry lock, so no collector can deliver it once it
        // has left the registry.
        self.retire(entry);
        Ok(())
    }

    /// Takes a request out for good: its source first (a timer is cancelled
    /// and its callback finished), then its place on the ready list. Call
    /// with the registry locked.
    fn retire(&self, entry: Entry) {
        drop(entry.timer);
        drop(entry.hooks);
        let mut ready = self.ready.lock();
        entry.req.kill(&mut ready);
        let queued = ready.remove(&entry.req);
        drop(ready);
        drop(queued);
    }

    fn modify(&self, uk: &Ukevent) -> Result {
        request::validate(uk)?;
        let mut reg = self.registry.lock();
        let entry = reg.requests.get_mut(&Identity::of(uk)).ok_or(ENOENT)?;
        // Stop the source, apply the settings, start it again: a timer
        // restarts on its new schedule with no expiration of the old one.
        drop(entry.timer.take());
        let req = entry.req.clone();
        req.set(uk.event, uk.req_flags);
        // A watched file is asked again, with the new mask.
        let file_ready = match &req.file {
            Some(file) => Some(poll::poll_now(file.file())? & (req.event() | POLL_ALWAYS) != 0),
            None => None,
        };
        let mut ready = self.ready.lock();
        let queued = ready.remove(&req);
        match file_ready {
            Some(true) => req.keep_pending(&mut ready),
            Some(false) => req.clear_pending(&mut ready),
            None if req.ident.type_ == KEVENT_TIMER => req.clear_pending(&mut ready),
            None => {}
        }
        // Its old place in line is given up; still pending, it goes to the back.
        drop(queued);
        if req.pending() > 0 {
            Self::queue_locked(&mut ready, req.as_arc_borrow());
        }
        let count = ready.len();
        drop(ready);
        entry.timer = Self::arm(&req)?;
        drop(reg);
        self.wake(count);
        Ok(())
    }

    /// KEVENT_CTL_READY: triggers a user event, with `ret_data` as payload.
    fn ready_user(self: ArcBorrow<'_, Self>, uk: &Ukevent) -> Result {
        if uk.type_ != KEVENT_USER {
            return Err(EINVAL);
        }
        let reg = self.registry.lock();
        let entry = reg.requests.get(&Identity::of(uk)).ok_or(ENOENT)?;
        let req = entry.req.clone();
        {
            let mut ready = self.ready.lock();
            req.set_payload(&mut ready, uk.ret_data);
        }
        drop(reg);
        self.make_ready(req.as_arc_borrow(), 1);
        Ok(())
    }

    /// Queues `req` at the back unless it is queued or dead. Returns `true`
    /// if it was queued now. Call with `ready` locked.
    fn queue_locked(ready: &mut ReadyList, req: ArcBorrow<'_, Request>) -> bool {
        if req.is_dead() {
            return false;
        }
        // `None`: it is on the list already, or held by a collector, which
        // re-queues it (and wakes) when it sees it pending; collectors let
        // go of requests only under this lock (`finish`).
        let Some(item) = ListArc::try_from_arc_borrow(req) else {
            return false;
        };
        // Only this queue's requests are ever made ready here.
        ready.push_back(item).is_ok()
    }

    /// An event source fired `n` times: queue the request and wake one
    /// waiter that can use it. Any context; never sleeps.
    pub(crate) fn make_ready(&self, req: ArcBorrow<'_, Request>, n: u64) {
        if let Some((count, _)) = self.mark_ready(req, |req, ready| req.add_pending(ready, n)) {
            self.wake(count);
        }
    }

    /// A wake-up of a watched file, under the lock of that file's wait
    /// queue: queue the request and wake a waiter. The pollers of this
    /// queue are woken from a work item instead: their wait queues may
    /// belong to a queue watching this one, and waking them here would
    /// nest two queues' poller locks (lockdep rightly objects).
    ///
    /// Nobody is woken for a request that was queued already: they were
    /// when it was. Besides saving work, this ends the ping-pong of a
    /// queue and an epoll instance that watch each other (each wake-up of
    /// one waking the other), which no loop check can refuse since epoll
    /// does not know kevent queues.
    pub(crate) fn make_ready_nested(self: &Arc<Self>, req: ArcBorrow<'_, Request>) {
        let Some((count, true)) = self.mark_ready(req, Request::keep_pending) else {
            return;
        };
        self.waiters.wake_up_count(count);
        if self.pollers.is_active() {
            // Already queued: that run will see this readiness too.
            let _ = workqueue::system().enqueue(self.clone());
        }
    }

    /// Marks a live request pending with `mark` and queues it; returns the
    /// number of ready requests and whether this queued it, or `None` for
    /// a removed request.
    fn mark_ready(
        &self,
        req: ArcBorrow<'_, Request>,
        mark: impl FnOnce(&Request, &mut ReadyList),
    ) -> Option<(usize, bool)> {
        let mut ready = self.ready.lock();
        if req.is_dead() {
            return None;
        }
        mark(&req, &mut ready);
        let queued = Self::queue_locked(&mut ready, req);
        Some((ready.len(), queued))
    }

    /// Wakes one waiter whose `min_nr` is at most `count`, and the pollers.
    fn wake(&self, count: usize) {
        if count > 0 {
            // After the ready lock was let go: see `wake_next`.
            if self.waiters.is_active() {
                self.waiters.wake_up_count(count);
            }
            if self.pollers.is_active() {
                self.pollers.wake_up_poll(POLL_READABLE);
            }
        }
    }

    /// `poll()` on the queue: readable while an event is ready.
    pub(crate) fn poll_mask(&self) -> u32 {
        if self.ready.lock().is_empty() {
            0
        } else {
            POLL_READABLE
        }
    }

    pub(crate) fn pollers(&self) -> &WaitQueueHead {
        &self.pollers
    }

    /// get-events: waits until `min_nr` events are ready (or the timeout),
    /// then copies up to `max_nr` to `out`.
    pub(crate) fn get_events(
        &self,
        min_nr: usize,
        max_nr: usize,
        timeout: Timeout,
        nonblock: bool,
        out: &mut UserSliceWriter,
    ) -> Result<usize> {
        // Wanting at most one event, a caller takes what is ready at once
        // and waits only if there was none: one hold of the ready lock less
        // on the common path.
        let mut wait_first = min_nr > 1;
        loop {
            let timed_out = wait_first && self.wait_for(min_nr, timeout, nonblock)?;
            wait_first = true;
            let (n, left) = self.collect(max_nr, out);
            self.wake_next(left);
            match n {
                // Nothing was ready, or what looked ready was not (a
                // level-triggered file drained meanwhile), and it may have
                // hidden what was: wait (again) if there is time. With a
                // timeout of 0 this comes back at once.
                Ok(0) if min_nr > 0 && !timed_out && !nonblock => continue,
                Ok(0) if nonblock => return Err(EAGAIN),
                n => return n,
            }
        }
    }

    /// Sleeps until `min_nr` events are ready, the deadline passes (then
    /// returns `true`) or a signal arrives (`EINTR`).
    fn wait_for(&self, min_nr: usize, timeout: Timeout, nonblock: bool) -> Result<bool> {
        loop {
            let ready = self.ready.lock();
            let avail = ready.len();
            if nonblock && avail == 0 {
                return Err(EAGAIN);
            }
            if avail >= min_nr || nonblock {
                return Ok(false);
            }
            let deadline = match timeout {
                // No clock read when there is no waiting: a timeout of 0 is
                // the common busy-loop case, and the clock can be slow to
                // read (an emulated HPET).
                Timeout::Poll => return Ok(true),
                Timeout::Until(d) if Ktime::ktime_get().to_ns() >= d.to_ns() => return Ok(true),
                Timeout::Until(d) => Some(d),
                Timeout::Forever => None,
            };
            if kernel::current!().signal_pending() {
                drop(ready);
                // A wake-up this waiter took may be owed to another.
                self.pass_on();
                return Err(EINTR);
            }
            // Woken or timed out, the loop checks again.
            let _: Wake = self.waiters.wait_exclusive(ready, min_nr, deadline);
        }
    }

    /// Wakes another waiter if events are left (an exclusive wake-up is
    /// only ever consumed by one waiter, which may not take everything).
    fn pass_on(&self) {
        let count = self.ready.lock().len();
        self.wake_next(count);
    }

    /// Wakes a waiter for the `count` events that were left at the last
    /// hold of the ready lock. A waiter goes on the list under that lock,
    /// so one that is not seen here saw the count itself before it slept,
    /// and events queued since woke waiters themselves.
    fn wake_next(&self, count: usize) {
        if count > 0 && self.waiters.is_active() {
            self.waiters.wake_up_count(count);
        }
    }

    /// Moves up to `max_nr` ready events to `out`, oldest first. Returns
    /// how many, and how many were left ready at the end.
    fn collect(&self, max_nr: usize, out: &mut UserSliceWriter) -> (Result<usize>, usize) {
        let mut reg = self.registry.lock();
        let mut budget = None;
        let mut done = 0;
        let mut left = 0;
        let mut requeued = false;
        loop {
            let mut batch: [Option<(ListArc<Request>, u64)>; BATCH] = Default::default();
            let n = self.pop_batch(&mut reg, &mut batch, &mut budget, max_nr);
            if n == 0 {
                break;
            }
            // The requests whose events are out (or were not ready), and
            // whether each keeps its readiness: finished together below.
            let mut after: [Option<(ListArc<Request>, bool)>; BATCH] = Default::default();
            let mut faulted = None;
            for i in 0..n {
                let Some((item, taken)) = batch[i].take() else {
                    continue;
                };
                let (event, keep, remove) = match Self::outcome(&item, taken) {
                    Outcome::Skip => {
                        after[i] = Some((item, false));
                        continue;
                    }
                    Outcome::Deliver {
                        event,
                        keep,
                        remove,
                    } => (event, keep, remove),
                };
                if out.write(&event).is_err() {
                    batch[i] = Some((item, taken));
                    faulted = Some(i);
                    break;
                }
                done += 1;
                if remove {
                    self.remove_delivered(&mut reg, item);
                } else {
                    after[i] = Some((item, keep));
                }
            }
            let (again, count) = self.finish(&mut after);
            requeued |= again;
            left = count;
            if let Some(i) = faulted {
                // Undelivered events go back to the front, in order, with
                // what they had pending.
                left = self.unpop(&mut batch[i..n]);
                self.wake_pollers(requeued);
                return (if done > 0 { Ok(done) } else { Err(EFAULT) }, left);
            }
        }
        self.wake_pollers(requeued);
        (Ok(done), left)
    }

    /// Takes up to `max` requests off the front of the ready list, with
    /// what they had pending.
    fn pop_batch(
        &self,
        reg: &mut Registry,
        batch: &mut [Option<(ListArc<Request>, u64)>],
        budget: &mut Option<usize>,
        max_nr: usize,
    ) -> usize {
        let mut ready = self.ready.lock();
        // The first batch sets the call's budget: requests re-queued during
        // the call go behind those ready at its start, so counting those
        // bounds the call, and no request is delivered twice in one call.
        let budget = budget.get_or_insert_with(|| max_nr.min(ready.len()));
        let max = (*budget).min(batch.len());
        let mut n = 0;
        while n < max {
            let Some(item) = ready.pop_front() else { break };
            let mut taken = item.take_pending(&mut ready);
            if item.is_periodic_timer() {
                taken = taken.saturating_add(Self::restart_timer(reg, &item));
            }
            batch[n] = Some((item, taken));
            n += 1;
        }
        *budget -= n;
        n
    }

    /// Decides what collecting `req` delivers. A watched file is asked for
    /// its readiness now, in the collecting task, whose fd must still name
    /// the same file.
    fn outcome(req: &Request, taken: u64) -> Outcome {
        let Some(file) = &req.file else {
            return Outcome::Deliver {
                event: req.to_event(taken),
                keep: false,
                remove: req.is_oneshot(),
            };
        };
        if !file.is_fd(req.fd()) {
            // epoll's "events for a closed fd" trap, made visible.
            let ebadf = EBADF.to_errno().unsigned_abs();
            return Outcome::Deliver {
                event: req.event_with(KEVENT_RET_DONE | KEVENT_RET_BROKEN, [0, ebadf]),
                keep: false,
                remove: true,
            };
        }
        let wanted = req.event() | POLL_ALWAYS;
        match poll::poll_now(file.file()).map(|mask| mask & wanted) {
            Ok(0) | Err(_) => Outcome::Skip,
            Ok(mask) => Outcome::Deliver {
                event: req.event_with(KEVENT_RET_DONE, [mask, 0]),
                keep: !req.is_edge_triggered(),
                remove: req.is_oneshot(),
            },
        }
    }

    /// Restarts the periodic timer of a request being delivered; returns
    /// the expirations it missed since it fired.
    fn restart_timer(reg: &mut Registry, req: &Request) -> u64 {
        let Ok(spec) = req.timer_spec() else { return 0 };
        reg.requests
            .get_mut(&req.ident)
            .and_then(|entry| entry.timer.as_mut())
            .map_or(0, |timer| timer.restart_periodic(spec.period_ns))
    }

    /// Puts collected but undelivered events back at the front.
    /// Returns how many are ready then.
    fn unpop(&self, batch: &mut [Option<(ListArc<Request>, u64)>]) -> usize {
        let mut ready = self.ready.lock();
        for slot in batch.iter_mut().rev() {
            if let Some((item, taken)) = slot.take() {
                if !item.stays_ready() {
                    item.add_pending(&mut ready, taken);
                }
                let _ = ready.push_front(item);
            }
        }
        ready.len()
    }

    /// A delivered request that leaves the queue (one-shot, closed fd).
    fn remove_delivered(&self, reg: &mut Registry, item: ListArc<Request>) {
        let ident = item.ident;
        let same = reg
            .requests
            .get(&ident)
            .is_some_and(|entry| Arc::ptr_eq(&entry.req, item.as_arc()));
        drop(item);
        if same {
            if let Some(entry) = reg.requests.remove(&ident) {
                reg.count -= 1;
                self.retire(entry);
            }
        }
    }

    /// After collection: the requests still (`keep`) or again pending go
    /// to the back of the line, in order, under one hold of the ready lock.
    /// Returns whether any did, and how many are ready then.
    fn finish(&self, items: &mut [Option<(ListArc<Request>, bool)>]) -> (bool, usize) {
        let mut requeued = false;
        let mut ready = self.ready.lock();
        for (item, keep) in items.iter_mut().filter_map(Option::take) {
            if keep && !item.is_dead() {
                item.keep_pending(&mut ready);
            }
            if item.pending() > 0 && !item.is_dead() {
                requeued |= ready.push_back(item).is_ok();
            } else {
                // Let go of the request under the lock: a source that found
                // it held by this collector (and so did not queue it) must
                // see it pending here, or be able to queue it itself.
                drop(item);
            }
        }
        (requeued, ready.len())
    }

    /// Readiness that arrived while a collector held a request was not
    /// announced: the collector re-queued it, and tells the pollers once
    /// per call. Its waiters hear of it from `wake_next`.
    fn wake_pollers(&self, requeued: bool) {
        if requeued && self.pollers.is_active() {
            self.pollers.wake_up_poll(POLL_READABLE);
        }
    }

    /// Closes the queue: stops every source, drops every request.
    pub(crate) fn release(&self) {
        let mut reg = self.registry.lock();
        reg.count = 0;
        while let Some(cursor) = reg.requests.cursor_front() {
            let (_, node) = cursor.remove_current();
            let (_, entry) = node.to_key_value();
            self.retire(entry);
        }
        drop(reg);
        // Nothing can queue the poll work any more; let a pending run
        // finish before the module can go away.
        work::flush(&self.poll_work);
    }

    /// `/proc/<pid>/fdinfo/<fd>`: one line per request.
    pub(crate) fn show_fdinfo(&self, m: &mut SeqFile) {
        let reg = self.registry.lock();
        let ready = self.ready.lock().len();
        let _ = writeln!(m, "kevent-requests:\t{}", reg.count);
        let _ = writeln!(m, "kevent-ready:\t{}", ready);
        for (ident, entry) in reg.requests.iter() {
            let req = &entry.req;
            let _ = writeln!(
                m,
                "kevent-req: type:{} id:{},{} event:{:#x} flags:{:#x} user:{:#x} pending:{}",
                ident.type_,
                ident.id[0],
                ident.id[1],
                req.event(),
                req.req_flags(),
                ident.user,
                req.pending(),
            );
        }
    }
}
