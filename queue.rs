// SPDX-License-Identifier: GPL-2.0

//! The event queue: registered requests, the ready list, the waiters.
//!
//! Locking, outermost first:
//! - `registry` (a mutex): the requests by identity. ctl commands (a group
//!   of entries at a time) and the collection of events hold it, so they
//!   never interleave; it is never held while sleeping for events.
//! - `ready` (a spinlock taken with interrupts off): the FIFO of ready
//!   requests. Event sources (hrtimer callbacks in hard-irq context, wait
//!   queue callbacks) take only this lock.
//! - the wait queue heads' own locks, inside `ready` when a waiter queues
//!   itself. Wake-ups are issued after `ready` is released. A wake-up that
//!   arrives under a watched file's wait queue lock wakes this queue's
//!   pollers at once, under that lock, as epoll's nested wake-ups do: the
//!   poller lock is taken with a lockdep subclass that counts how many
//!   queues' wake-ups it runs inside, which the nesting limit bounds. From
//!   an epoll instance (which may watch this queue back) it is a work item.
//! - a queue's nesting links and the device-wide locks of `shared.rs`,
//!   inside the registry.

use crate::account::UserAccount;
use crate::defs::*;
use crate::nest::{self, EdgeRoom};
pub(crate) use crate::ready::ReadyList;
use crate::request::{Identity, Request};
use crate::shared::Shared;
use crate::source::{Delivery, Kind, Running, Started};
use crate::sys::{
    compat::Ktime,
    cred,
    file::FileRef,
    list::EmptyHint,
    mm::VmaNew,
    rbtree::{RbTree, Vacancy},
    ring::{Ring, RingMem},
    seq_file::{seq_print, SeqFile},
    signal,
    spinlock_irq::{new_spinlock_irq, SpinLockIrq, SpinLockIrqBackend},
    uaccess::{StagedEvents, UkeventWriter},
    wait::{new_wait_queue_head, PollWaking, WaitQueueHead, Wake, MAX_WAKE_DEPTH},
    work,
};
use crate::watch::{self, PendingWatch};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use kernel::{
    impl_has_work,
    list::ListArc,
    new_mutex, new_work,
    page::PAGE_SIZE,
    prelude::*,
    sync::{lock::mutex::MutexBackend, Arc, ArcBorrow, LockedBy, Mutex},
    workqueue::{Work, WorkItem},
};

/// The most requests one queue holds (module parameter `max_requests`).
pub(crate) static MAX_REQUESTS: AtomicU32 = AtomicU32::new(65536);

/// The ready list, locked.
type ReadyGuard<'a> = kernel::sync::lock::Guard<'a, ReadyList, SpinLockIrqBackend>;

/// `poll()` readiness of a queue with events.
const POLL_READABLE: u32 = (crate::layout::EPOLLIN_BITS | crate::layout::EPOLLRDNORM_BITS) as u32;

/// Events are collected in batches of this many between user copies.
const BATCH: usize = 16;

/// The most pollers that a source's wake-up of the queue wakes itself,
/// under the source's locks, often with interrupts off. More are woken
/// from the queue's work item, which one run does for any number of
/// wake-ups: otherwise each of many requests on one file, made ready by
/// one wake-up of that file, would walk all of the queue's pollers (many
/// requests of another queue, say) in turn, with interrupts off.
const INLINE_POLLERS: usize = 16;

/// A request a collection took off the ready list, and what it comes to.
struct Taken {
    item: ListArc<Request>,
    /// What it had pending when taken: given back if its event is not
    /// delivered.
    pending: u64,
    fate: Fate,
}

/// What becomes of a collected request once its batch's events are out.
#[derive(Clone, Copy)]
enum Fate {
    /// Not ready after all (a level-triggered file that was drained): back
    /// in line only if it was woken meanwhile.
    Skip,
    /// Its event is staged at `at`: if that was written, it stays ready
    /// (`keep`, level-triggered files) or leaves the queue (`remove`,
    /// one-shot); if not, it goes back to the front as it was.
    Staged { at: usize, keep: bool, remove: bool },
}

/// The lock of the device's nesting checks, held while a queue is linked
/// to a queue it watches.
type ChecksGuard<'a> = kernel::sync::lock::Guard<'a, nest::Checks, MutexBackend>;

/// How long get-events may wait for `min_nr` events.
#[derive(Clone, Copy)]
pub(crate) enum Timeout {
    /// Not at all: take what is ready (a timeout of 0).
    Poll,
    /// Until this time of `CLOCK_MONOTONIC`.
    Until(Ktime),
    Forever,
}

/// What collecting a ready request comes to.
enum Outcome {
    /// Not ready after all (a level-triggered file that was drained).
    Skip,
    /// Its file is closed: remove it without a word (see `watch.rs`).
    Discard,
    /// Deliver `event`; then keep the request ready (`keep`, level-
    /// triggered files) or remove it (`remove`: one-shot).
    Deliver {
        event: Ukevent,
        keep: bool,
        remove: bool,
    },
}

/// What a ring counts against its user's `max_user_requests`: a request
/// per KiB of its memory (its whole pages, and the slots of requests that
/// leave with an entry), rounded up.
fn ring_cost(entries: u32) -> usize {
    let pages = RingMem::size(entries).next_multiple_of(PAGE_SIZE);
    (pages + ReadyList::gone_slots_size(entries)).div_ceil(1024)
}

/// Where a collection puts events: a user array, or the queue's ring.
trait Sink {
    /// Whether this is the ring.
    const RING: bool;
    /// How many events it can take now. Call with `ready` locked.
    fn room(&self, ready: &ReadyList) -> usize;
    /// Puts `events`, in order; returns how many it took. Call without
    /// the ready lock.
    fn put(&mut self, events: &[Ukevent]) -> usize;
    /// What a call returns that put `done` events and then fell short.
    fn short(&self, done: usize) -> Result<usize>;
}

impl Sink for UkeventWriter {
    const RING: bool = false;

    fn room(&self, _ready: &ReadyList) -> usize {
        usize::MAX
    }

    fn put(&mut self, events: &[Ukevent]) -> usize {
        self.write(events)
    }

    /// A write faulted: the events copied, or `EFAULT` if none was.
    fn short(&self, done: usize) -> Result<usize> {
        if done > 0 {
            Ok(done)
        } else {
            Err(EFAULT)
        }
    }
}

/// The queue's ring, as the sink of a collection.
struct RingSink<'a>(&'a SpinLockIrq<ReadyList>);

impl Sink for RingSink<'_> {
    const RING: bool = true;

    fn room(&self, ready: &ReadyList) -> usize {
        ready.ring_room()
    }

    fn put(&mut self, events: &[Ukevent]) -> usize {
        self.0.lock().write_ring(events)
    }

    /// The program freed no room meanwhile (or wrote a nonsense `head`):
    /// what did not fit waits in line.
    fn short(&self, done: usize) -> Result<usize> {
        Ok(done)
    }
}

/// The requests of a queue by identity (the tree links are in the
/// requests: registering allocates nothing more).
pub(crate) struct Registry {
    requests: RbTree<Request>,
}

/// An event queue: one open file of `/dev/kevent`.
#[pin_data]
pub(crate) struct Queue {
    shared: Arc<Shared>,
    /// Who created the queue, and the account its requests are charged to.
    uid: u32,
    account: Arc<UserAccount>,
    #[pin]
    registry: Mutex<Registry>,
    #[pin]
    ready: SpinLockIrq<ReadyList>,
    /// Whether `ready` is empty, read without its lock.
    ready_empty: EmptyHint,
    /// The memory of the queue's ring, once set up (for `mmap`; the ready
    /// list holds the ring's producer side).
    #[pin]
    ring_mem: Mutex<Option<Arc<RingMem>>>,
    /// Whether the queue has a ring: its events go there only.
    ringed: AtomicBool,
    /// Whether requests wait to be taken out by `reap` (changed under the
    /// ready lock, read without it).
    gone_hint: AtomicBool,
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
    /// Requests of closed files, handed over by the sweep (`hand_closed`).
    #[pin]
    closed: Mutex<ClosedRequests>,
    /// Takes out the requests in `closed`.
    #[pin]
    closed_work: Work<Queue, CLOSED_WORK>,
    list_id: u64,
    /// The queues this one watches and that watch it.
    nest: nest::Node,
    /// While this queue wakes its pollers: how many other queues' wake-ups
    /// that runs inside (the lockdep subclass of its poller lock).
    waking: PollWaking,
}

/// The id of `Queue::closed_work` (`poll_work` is 0).
const CLOSED_WORK: u64 = 1;

/// The requests the sweep handed to a queue, until its work item takes
/// them out.
struct ClosedRequests {
    /// Grown as files close, without bound: large, it comes from vmalloc
    /// rather than fail, which would leave the sweep waiting for this
    /// queue (see `hand_closed`).
    requests: KVVec<Arc<Request>>,
    /// The queue was released: it takes nothing more.
    released: bool,
}

impl ClosedRequests {
    /// Takes every request handed over.
    // `core::mem::take` where `KVVec` has a `Default` (7.2, not 6.12).
    #[allow(clippy::mem_replace_with_default)]
    fn take_all(&mut self) -> KVVec<Arc<Request>> {
        core::mem::replace(&mut self.requests, KVVec::new())
    }
}

impl_has_work! {
    impl HasWork<Self> for Queue { self.poll_work }
    impl HasWork<Self, CLOSED_WORK> for Queue { self.closed_work }
}

impl WorkItem for Queue {
    type Pointer = Arc<Queue>;

    fn run(this: Arc<Queue>) {
        this.wake_pollers_at(0);
    }
}

impl WorkItem<CLOSED_WORK> for Queue {
    type Pointer = Arc<Queue>;

    fn run(this: Arc<Queue>) {
        this.take_out_closed();
    }
}

impl Queue {
    pub(crate) fn new(shared: Arc<Shared>) -> Result<Arc<Self>> {
        let (list, ready_empty) = ReadyList::new(GFP_KERNEL_ACCOUNT)?;
        let list_id = list.id();
        let uid = cred::current_uid();
        let account = shared.open_account(uid)?;
        let accounts = shared.clone();
        let node = nest::Node::new(&shared.nest);
        let queue = Arc::pin_init(
            pin_init!(Self {
                shared,
                uid,
                account,
                registry <- new_mutex!(Registry { requests: RbTree::new() }, "kevent_registry"),
                ready <- new_spinlock_irq!(list, "kevent_ready"),
                ready_empty,
                ring_mem <- new_mutex!(None, "kevent_ring_mem"),
                ringed: AtomicBool::new(false),
                gone_hint: AtomicBool::new(false),
                waiters <- new_wait_queue_head!("kevent_waiters"),
                pollers <- new_wait_queue_head!("kevent_pollers"),
                poll_work <- new_work!("kevent_poll_work"),
                closed <- new_mutex!(
                    ClosedRequests { requests: KVVec::new(), released: false },
                    "kevent_closed"
                ),
                closed_work <- new_work!("kevent_closed_work"),
                list_id,
                nest: node,
                waking: PollWaking::new(),
            }),
            GFP_KERNEL_ACCOUNT,
        );
        if queue.is_err() {
            accounts.close_account(uid);
        }
        queue
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn nest(&self) -> &nest::Node {
        &self.nest
    }

    /// See `waking`: 0 unless read inside this queue's wake-up of its
    /// pollers, on the same CPU, under the poller lock.
    pub(crate) fn wake_depth(&self) -> u32 {
        self.waking.depth()
    }

    /// The id of this queue's ready list, which its requests report.
    pub(crate) fn list_id(&self) -> u64 {
        self.list_id
    }

    /// Runs `cmd` on each of `entries` in order, under one hold of the
    /// registry, and sets each one's result: `KEVENT_RET_DONE`, and
    /// `KEVENT_RET_BROKEN` with the errno in `ret_data[1]` if it failed.
    /// Returns how many were run: all of them, or none if the task is
    /// being killed.
    pub(crate) fn ctl(self: ArcBorrow<'_, Self>, cmd: u32, entries: &mut [Ukevent]) -> usize {
        // A task being killed stops before each group: the rest would only
        // delay its exit (under a memory cgroup's OOM kill, every failing
        // allocation first retries reclaim). A group is short (`CTL_GROUP`
        // entries in `device.rs`); asking once per entry cost a twentieth
        // of a batched MODIFY.
        if signal::fatal_signal_pending() {
            return 0;
        }
        let mut reg = self.registry.lock();
        self.reap(&mut reg);
        for uk in entries.iter_mut() {
            let result = self.ctl_one(&mut reg, cmd, uk);
            uk.ret_flags = KEVENT_RET_DONE;
            uk.ret_data[1] = 0;
            if let Err(e) = result {
                uk.ret_flags |= KEVENT_RET_BROKEN;
                uk.ret_data[1] = e.to_errno().unsigned_abs();
            }
        }
        // Those that left meanwhile (a READY of a one-shot request) hold
        // their files and edges until taken out: not past this call.
        self.reap(&mut reg);
        entries.len()
    }

    /// Runs one ctl entry.
    fn ctl_one(self: ArcBorrow<'_, Self>, reg: &mut Registry, cmd: u32, uk: &Ukevent) -> Result {
        // READY is for the types triggered by hand only, whatever the type
        // is.
        if cmd == KEVENT_CTL_READY && !Kind::is_triggered(uk.type_) {
            return Err(EINVAL);
        }
        let kind = Kind::of(uk.type_)?;
        match cmd {
            KEVENT_CTL_ADD => self.add(reg, kind, uk),
            KEVENT_CTL_REMOVE => self.remove(reg, &Identity::of(uk)),
            KEVENT_CTL_MODIFY => self.modify(reg, kind, uk),
            KEVENT_CTL_READY => self.trigger(reg, kind, uk),
            _ => Err(EINVAL),
        }
    }

    fn add(self: ArcBorrow<'_, Self>, reg: &mut Registry, kind: Kind, uk: &Ukevent) -> Result {
        kind.validate(uk)?;
        // A duplicate is refused before any work, the loop check included;
        // where the lookup ended is kept for the insert.
        let vacancy = Self::check_vacant(reg, &Identity::of(uk))?;
        let mut watch = match kind.watched_fd(uk) {
            Some(fd) => {
                let file = FileRef::from_fd(fd)?;
                kind.check_file(file.file())?;
                let (watch, new) = watch::watch_file(&self.shared.watches, file)?;
                if new {
                    self.shared.arm_sweep();
                }
                Some(watch)
            }
            None => None,
        };
        // Dropping `watch` unattached (any failure below) gives it back.
        self.add_watching(reg, kind, uk, watch.as_mut(), vacancy)
    }

    /// Fails with `EEXIST` if a live request has this identity; else
    /// returns where a request of it goes (`None`: a closed file's request
    /// has it, which `insert_vacant` takes out).
    fn check_vacant(reg: &mut Registry, ident: &Identity) -> Result<Option<Vacancy<Identity>>> {
        match reg.requests.vacancy(ident) {
            Ok(vacancy) => Ok(Some(vacancy)),
            Err(req) if !req.is_gone() => Err(EEXIST),
            Err(_) => Ok(None),
        }
    }

    /// ADD, with the watch of the request's file taken if it watches one.
    fn add_watching(
        self: ArcBorrow<'_, Self>,
        reg: &mut Registry,
        kind: Kind,
        uk: &Ukevent,
        watch: Option<&mut PendingWatch<'_>>,
        vacancy: Option<Vacancy<Identity>>,
    ) -> Result {
        let target = watch
            .as_ref()
            .and_then(|w| w.watch())
            .and_then(|w| w.queue())
            .cloned();
        let req = Request::new(
            self.into(),
            uk,
            kind,
            watch.as_ref().and_then(|w| w.watch()).cloned(),
            LockedBy::new(&self.registry, Running::Stopped),
        )?;
        let edge = match &target {
            Some(_) => Some(EdgeRoom::new()?),
            None => None,
        };
        self.insert_vacant(reg, &req, vacancy)?;
        // No other entry or collection sees the request before this ADD
        // returns (the registry is held): until its source runs, a failure
        // only takes it out.
        let started = self.start_registered(&req, target.as_ref());
        let (mut checks, (running, ready_now)) = match started {
            Ok(started) => started,
            Err(e) => {
                drop(reg.requests.remove(&req.ident));
                return Err(e);
            }
        };
        *req.source.access_mut(reg) = running;
        // Nothing below fails: its events may go straight into the ring.
        req.arm();
        if let Some(watch) = watch {
            self.shared.watches.lock().attach(watch, req.clone());
        }
        if let (Some(checks), Some(target), Some(edge)) = (checks.as_mut(), &target, edge) {
            nest::link(checks, &self.into(), target, edge);
        }
        drop(checks);
        // Ready already: queued as usual, for the next collection.
        if ready_now {
            self.make_ready(req.as_arc_borrow(), 1);
        }
        Ok(())
    }

    /// Puts a new request in the registry: `EEXIST` if a live request has
    /// its identity, `ENOSPC` if the queue is full. A request of the same
    /// identity whose file was closed since the first check is as good as
    /// gone: it goes now. On the common path the registry is not walked
    /// again: the request goes where `check_vacant` found its place.
    fn insert_vacant(
        &self,
        reg: &mut Registry,
        req: &Arc<Request>,
        vacancy: Option<Vacancy<Identity>>,
    ) -> Result {
        if reg.requests.len() >= MAX_REQUESTS.load(Ordering::Relaxed) as usize {
            // Full: only a closed file's request of this identity makes room.
            match reg.requests.get(&req.ident) {
                Some(old) if old.is_gone() => self.remove_locked(reg, &req.ident),
                Some(_) => return Err(EEXIST),
                None => return Err(ENOSPC),
            }
        }
        let inserted = match vacancy {
            Some(at) => reg.requests.insert_at(at, req.clone()),
            None => reg.requests.insert(req.clone()),
        };
        let Err(new) = inserted else {
            return Ok(());
        };
        let closed = reg
            .requests
            .get(&req.ident)
            .is_some_and(|old| old.is_gone());
        if !closed {
            return Err(EEXIST);
        }
        self.remove_locked(reg, &req.ident);
        reg.requests.insert(new).map_err(|_| EEXIST)
    }

    /// Checks a watch of another queue (refusing loops and long chains),
    /// charges the request to its user and starts its source. Returns the
    /// lock of the nesting checks, held until the edge is in place, and
    /// what `start_source` returns.
    fn start_registered(
        &self,
        req: &Arc<Request>,
        target: Option<&Arc<Queue>>,
    ) -> Result<(Option<ChecksGuard<'_>>, Started<Request>)> {
        let checks = match target {
            Some(target) => {
                let mut checks = self.shared.nest.lock();
                nest::check(&mut checks, self, target)?;
                Some(checks)
            }
            None => None,
        };
        self.account.charge()?;
        match self.start_source(req) {
            Ok(source) => Ok((checks, source)),
            Err(e) => {
                self.account.uncharge();
                Err(e)
            }
        }
    }

    /// Starts what makes `req` ready (and says whether it is ready now).
    /// On failure nothing of it is left: the source may have fired before
    /// it failed (a wake-up through a hook installed first), so the
    /// request is taken off the ready list for good.
    fn start_source(&self, req: &Arc<Request>) -> Result<Started<Request>> {
        match req.kind.start(req) {
            Ok(started) => Ok(started),
            Err(e) => {
                let mut ready = self.ready.lock();
                req.kill(&mut ready);
                let queued = ready.remove(req);
                drop(queued);
                drop(ready);
                Err(e)
            }
        }
    }

    fn remove(&self, reg: &mut Registry, ident: &Identity) -> Result {
        // Under the registry lock, so no collector can deliver it once it
        // has left the registry.
        let req = reg.requests.remove(ident).ok_or(ENOENT)?;
        let gone = req.is_gone();
        self.retire(reg, req);
        // A closed file's request was gone already, as far as a caller can
        // tell, as was one that left with an event in the ring; its
        // removal was only late.
        if gone {
            return Err(ENOENT);
        }
        Ok(())
    }

    /// Removes the request named `ident`, if any.
    fn remove_locked(&self, reg: &mut Registry, ident: &Identity) {
        if let Some(req) = reg.requests.remove(ident) {
            self.retire(reg, req);
        }
    }

    /// The sweep found `req`'s file closed: hands it to its queue, whose
    /// own work item takes it out (`take_out_closed`), so that the sweep
    /// never waits for the registry of any queue. A queue that was
    /// released has taken out all of its requests already: the request is
    /// let go of at once. Only if the hand-off cannot allocate does the
    /// sweep take the request out itself.
    pub(crate) fn hand_closed(req: Arc<Request>) {
        let queue = req.queue.clone();
        let mut closed = queue.closed.lock();
        if closed.released {
            return;
        }
        if closed.requests.reserve(1, GFP_KERNEL).is_err() {
            drop(closed);
            queue.remove_closed(&req);
            return;
        }
        // Cannot fail: room was reserved.
        let _ = closed.requests.push(req, GFP_KERNEL);
        // Queued under the lock, so that `release`, which marks the queue
        // released under it and then flushes the work, waits for this run
        // (already queued: that run takes this request too).
        let _ = work::system().enqueue::<Arc<Queue>, CLOSED_WORK>(queue.clone());
        drop(closed);
    }

    /// The queue's work item for the requests `hand_closed` handed over.
    fn take_out_closed(&self) {
        let requests = self.closed.lock().take_all();
        for req in &requests {
            self.remove_closed(req);
        }
    }

    /// Removes `req`, whose file is closed, if it is still here.
    ///
    /// If it left with an entry in the ring, its slot lets go of it, and so
    /// of the file, but stays taken until the program's next call frees
    /// it, as any other slot. Freeing slots here would make which events
    /// the ring takes at wake-up depend on when the sweep ran. The slots
    /// are looked at after the removal: a wake-up that found the file
    /// still open may have written the request's entry meanwhile. (With
    /// no slot taken, the look costs nothing.)
    fn remove_closed(&self, req: &Request) {
        let mut reg = self.registry.lock();
        self.remove_exactly(&mut reg, req);
        let held = self.ready.lock().release_gone(req);
        drop(reg);
        drop(held);
    }

    /// Removes `req` if it is still in the registry (not replaced by a
    /// request of its identity).
    fn remove_exactly(&self, reg: &mut Registry, req: &Request) {
        if let Some(req) = reg.requests.remove_item(req) {
            self.retire(reg, req);
        }
    }

    /// Takes a request out for good: it is marked dead and leaves the ready
    /// list first, so that nothing its source does from then on queues it
    /// or writes it into the ring (stopping an inode watch fires the end of
    /// the watch); then its source (a timer is cancelled and its callback
    /// finished), its watch, its edge to a watched queue and its charge.
    /// Call with the registry locked, having taken it out of the registry.
    fn retire(&self, reg: &mut Registry, req: Arc<Request>) {
        let mut ready = self.ready.lock();
        req.kill(&mut ready);
        let queued = ready.remove(&req);
        drop(ready);
        drop(queued);
        let running = core::mem::replace(req.source.access_mut(reg), Running::Stopped);
        drop(running);
        if let Some(watch) = &req.watch {
            let unused = self.shared.watches.lock().detach(watch, &req);
            drop(unused);
            if let Some(target) = watch.queue() {
                let gone = nest::unlink(&mut self.shared.nest.lock(), self, target);
                drop(gone);
            }
        }
        self.account.uncharge();
    }

    fn modify(&self, reg: &mut Registry, kind: Kind, uk: &Ukevent) -> Result {
        kind.validate(uk)?;
        let ident = Identity::of(uk);
        let req: Arc<Request> = reg.requests.get(&ident).ok_or(ENOENT)?.into();
        if req.is_gone() {
            self.remove_locked(reg, &ident);
            return Err(ENOENT);
        }
        // Stop the source, apply the settings, start it again: a timer
        // restarts on its new schedule with no expiration of the old one,
        // a watched file is asked again with the new mask.
        kind.pause(&req, req.source.access_mut(reg), uk)?;
        // With a ring, a wake-up writes an event with the settings it finds
        // under the ready lock, and a one-shot request leaves with it: the
        // settings change under that lock, so that each entry is of the
        // settings it was written with. (Whether the queue has a ring does
        // not change while the registry is held, `setup_ring`. Without
        // one, the lock costs MODIFY 15 % of its instructions.)
        if self.ringed.load(Ordering::Relaxed) {
            self.set_with_ring(reg, &req, &ident, uk)?;
        } else {
            req.set(uk.event, uk.req_flags);
        }
        // If it leaves from now on, it does with an event of the new
        // settings: the MODIFY was done, a later call takes the request out
        // (`reap`), and nothing below queues a dead request.
        let ready_now = kind.ready_after_change(&*req)?;
        let mut ready = self.ready.lock();
        if let Some(param) = kind.param(uk) {
            req.set_payload(&mut ready, param);
        }
        let queued = ready.remove(&req);
        match ready_now {
            Some(true) => req.keep_pending(&mut ready),
            Some(false) => req.clear_pending(&mut ready),
            None => {}
        }
        // Its old place in line is given up; still pending, it goes to the
        // back: moved if it was in line (not let go and taken again).
        match queued {
            Some(item) if req.pending() > 0 && !req.is_dead() => {
                let _ = ready.push_back(item);
            }
            Some(item) => drop(item),
            None if req.pending() > 0 => {
                Self::queue_locked(&mut ready, req.as_arc_borrow());
            }
            None => {}
        }
        let count = ready.available();
        drop(ready);
        kind.resume(&req, req.source.access_mut(reg));
        self.wake(&req, count);
        Ok(())
    }

    /// MODIFY's change of the settings of `req` on a queue with a ring:
    /// under the ready lock, unless a wake-up wrote the request's last
    /// event with the old settings since MODIFY found it (a one-shot
    /// request woken, a timer that expired before it was paused): then it
    /// is gone, and nothing is left to modify (`ENOENT`). Out of line: the
    /// common MODIFY, without a ring, needs no lock here.
    #[cold]
    #[inline(never)]
    fn set_with_ring(
        &self,
        reg: &mut Registry,
        req: &Request,
        ident: &Identity,
        uk: &Ukevent,
    ) -> Result {
        let ready = self.ready.lock();
        if req.is_dead() {
            drop(ready);
            self.remove_locked(reg, ident);
            return Err(ENOENT);
        }
        req.set(uk.event, uk.req_flags);
        Ok(())
    }

    /// KEVENT_CTL_READY: triggers the request, with `ret_data` as payload.
    fn trigger(&self, reg: &mut Registry, kind: Kind, uk: &Ukevent) -> Result {
        let ident = Identity::of(uk);
        let req = reg.requests.get(&ident).ok_or(ENOENT)?;
        if req.is_gone() {
            self.remove_locked(reg, &ident);
            return Err(ENOENT);
        }
        kind.trigger(req, uk.ret_data)
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
        if let Some((count, _)) = self.mark_ready(req, 0, |req, ready| req.add_pending(ready, n)) {
            self.wake(&req, count);
        }
    }

    /// `make_ready` of one firing that leaves `payload` for the delivery,
    /// under the same hold of the ready lock.
    pub(crate) fn make_ready_with(&self, req: ArcBorrow<'_, Request>, payload: [u32; 2]) {
        let mark = |req: &Request, ready: &mut ReadyList| {
            req.set_payload(ready, payload);
            req.add_pending(ready, 1);
        };
        if let Some((count, _)) = self.mark_ready(req, 0, mark) {
            self.wake(&req, count);
        }
    }

    /// A wake-up of a watched file, under the lock of that file's wait
    /// queue, announcing `mask` (0: it did not say): queue the request and
    /// wake a waiter and the pollers.
    ///
    /// The pollers are woken here, under the file's lock, as epoll wakes a
    /// nested instance, so that a queue or epoll instance watching this
    /// one sees the readiness as soon as the wake-up returns. `depth` is
    /// how many queues' poller locks are held around this call (see
    /// `Watch::wake_depth`); `None` (the file is an epoll instance) or a
    /// depth beyond lockdep's subclasses wakes them from a work item, as
    /// do more than [`INLINE_POLLERS`] pollers and a wake-up of a file that
    /// is not a queue arriving inside some queue's wake-up of its pollers
    /// (an aio poll of a queue that signals an eventfd a queue watches).
    ///
    /// Nobody is woken for a request that was queued already: they were
    /// when it was. Besides saving work, this ends the ping-pong of a
    /// queue and an epoll instance that watch each other (each wake-up of
    /// one waking the other), which no loop check can refuse since epoll
    /// does not know kevent queues.
    ///
    /// A waiter is woken with the file's `sync` hint (the file's waker is
    /// about to sleep), as epoll passes it on: the scheduler may then run
    /// the waiter where the waker ran. Pollers are woken without it, as
    /// epoll wakes its own.
    pub(crate) fn make_ready_nested(
        self: &Arc<Self>,
        req: ArcBorrow<'_, Request>,
        depth: Option<u32>,
        mask: u32,
        sync: bool,
    ) {
        let Some((count, true)) =
            self.mark_ready(req, mask, |req, ready| req.add_pending(ready, 1))
        else {
            return;
        };
        self.wake_waiter(count, sync);
        self.wake_pollers_for_source(depth);
    }

    /// Wakes the pollers with the poller lock at lockdep subclass `depth`,
    /// which wake-ups nested in this one read from `waking`. From the
    /// queue's own contexts (its work item, the end of a collection), which
    /// no wake-up of its pollers can be inside.
    fn wake_pollers_at(&self, depth: u32) {
        self.pollers
            .wake_up_poll_nested(POLL_READABLE, depth, &self.waking, None);
    }

    /// Wakes the pollers for readiness a source brought, from the source's
    /// context: itself if it may (see `make_ready_nested`), else from the
    /// work item. Most queues have no pollers: inlined, that costs a test.
    #[inline(always)]
    fn wake_pollers_for_source(self: &Arc<Self>, depth: Option<u32>) {
        if self.pollers.is_active() {
            self.wake_pollers_from_source(depth);
        }
    }

    #[inline(never)]
    fn wake_pollers_from_source(self: &Arc<Self>, depth: Option<u32>) {
        let woken = match depth {
            Some(depth) if depth <= MAX_WAKE_DEPTH => self.pollers.wake_up_poll_nested(
                POLL_READABLE,
                depth,
                &self.waking,
                Some(INLINE_POLLERS),
            ),
            _ => false,
        };
        if !woken {
            // Already queued: that run will see this readiness too.
            let _ = work::system().enqueue::<Arc<Queue>, 0>(self.clone());
        }
    }

    /// Marks a live request pending with `mark` and queues it, or writes
    /// its event into the ring (`mask`: what a file's wake-up announced).
    /// Returns the number of events a waiter can count on and whether
    /// this queued or wrote it, or `None` for a removed request.
    fn mark_ready(
        &self,
        req: ArcBorrow<'_, Request>,
        mask: u32,
        mark: impl FnOnce(&Request, &mut ReadyList),
    ) -> Option<(usize, bool)> {
        let mut ready = self.ready.lock();
        if req.is_dead() {
            return None;
        }
        mark(&req, &mut ready);
        let queued = if ready.writes_at_wake() {
            self.write_or_queue(&mut ready, req, mask)
        } else {
            Self::queue_locked(&mut ready, req)
        };
        Some((ready.available(), queued))
    }

    /// With a ring and nothing in line: writes the request's event into
    /// the ring if its kind knows it at wake-up (`Kind::at_wake`) and the
    /// ring has room; else queues it. Returns whether it did either.
    /// Call with `ready` locked.
    fn write_or_queue(
        &self,
        ready: &mut ReadyList,
        req: ArcBorrow<'_, Request>,
        mask: u32,
    ) -> bool {
        // Until its ADD succeeded, an event cannot be taken back from the
        // ring if the ADD fails: it waits in line, which the failure clears.
        if !req.is_armed() {
            return Self::queue_locked(ready, req);
        }
        let Some(ev) = req.kind.at_wake(&*req, req.pending(), mask) else {
            return Self::queue_locked(ready, req);
        };
        // Its last event: it leaves the queue, kept until a call takes it
        // out of the registry, if a slot is free for that.
        let leaves = ev.last || req.is_oneshot();
        if leaves && !ready.has_gone_slot() {
            return Self::queue_locked(ready, req);
        }
        // Held by a collector, which re-queues it when it sees it pending
        // (the list is empty, so it is not on it). Asked, not taken: an
        // event written into the ring needs no `ListArc`, and taking one
        // and letting it go cost 28 instructions a wake-up.
        if req.is_in_line(ready) {
            return false;
        }
        let event = req.event_with(KEVENT_RET_DONE | ev.ret_flags, ev.ret_data);
        if !ready.stage_one(&event) {
            // The ring is full: the event waits in line, coalesced as usual.
            return Self::queue_locked(ready, req);
        }
        // Delivered: nothing is pending any more.
        req.take_pending(ready);
        if leaves {
            // Never queued again; it stays registered, as good as removed
            // (`is_gone`), until `reap`.
            req.kill(ready);
            ready.push_gone(req.into());
            self.gone_hint.store(true, Ordering::Relaxed);
        }
        // Shown last: a program that reads the entry of a request that left
        // finds it gone (an ADD of its identity succeeds, a REMOVE fails),
        // even if it reads the ring while this CPU still holds the lock.
        ready.publish_ring();
        true
    }

    /// Takes out of the registry the requests that left with their last
    /// event written into the ring at wake-up. Every call that holds the
    /// registry does this first, so a program sees them as removed.
    fn reap(&self, reg: &mut Registry) {
        if !self.gone_hint.load(Ordering::Relaxed) {
            return;
        }
        loop {
            let slot = {
                let mut ready = self.ready.lock();
                let slot = ready.pop_gone();
                if slot.is_none() {
                    self.gone_hint.store(false, Ordering::Relaxed);
                }
                slot
            };
            match slot {
                None => return,
                // The sweep took it out already (`remove_closed`).
                Some(None) => {}
                Some(Some(req)) => self.remove_exactly(reg, &req),
            }
        }
    }

    /// Wakes one waiter whose `min_nr` is at most `count`, and the pollers,
    /// for `req` of this queue.
    fn wake(&self, req: &Request, count: usize) {
        self.wake_next(count);
        if count > 0 {
            req.queue.wake_pollers_for_source(Some(0));
        }
    }

    /// `poll()` on the queue: readable while an event is ready (or unread
    /// in the ring, or held by a collection that puts it back in line, see
    /// `ReadyList::readable`).
    pub(crate) fn poll_mask(&self) -> u32 {
        if self.ready.lock().readable() {
            POLL_READABLE
        } else {
            0
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
        out: &mut UkeventWriter,
    ) -> Result<usize> {
        // A queue with a ring delivers there only (`get_ring_events`).
        if self.ringed.load(Ordering::Relaxed) {
            return Err(EINVAL);
        }
        // Wanting at most one event, a caller takes what is ready at once
        // and waits only if there was none: one hold of the ready lock less
        // on the common path.
        let mut wait_first = min_nr > 1;
        // Nothing in line: a caller that would not wait returns at once,
        // without a lock or the collection's set-up (a busy loop polling
        // an idle queue), as if it had come a moment earlier. One that
        // would wait checks again under the lock (`wait_for`). While
        // another collection holds a level-triggered request, the line is
        // not empty (`ReadyList::take_front`): the caller waits for that
        // collection (the registry) and finds the request back in line,
        // as epoll's caller does.
        if !wait_first && self.ready_empty.is_empty() {
            if nonblock {
                return Err(EAGAIN);
            }
            if min_nr == 0 || matches!(timeout, Timeout::Poll) {
                return Ok(0);
            }
            wait_first = true;
        }
        loop {
            let timed_out = wait_first && self.wait_for(min_nr, timeout, nonblock, false)?;
            wait_first = true;
            let mut reg = self.registry.lock();
            // The count the wait went by includes level-triggered files
            // that were ready at their last delivery and may be drained
            // since: asked now, fewer than `min_nr` may be ready. Then
            // wait on (the ones not ready are off the list).
            if min_nr > 1 && !timed_out && !nonblock && !self.enough_ready(&mut reg, min_nr) {
                drop(reg);
                if kernel::current!().signal_pending() {
                    self.pass_on();
                    return Err(EINTR);
                }
                continue;
            }
            let (n, left) = self.collect(&mut reg, max_nr, out);
            drop(reg);
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

    /// Gives the queue a ring of `entries` entries (`EBUSY` if it has one).
    /// Returns its size in bytes, to map.
    pub(crate) fn setup_ring(&self, entries: u32) -> Result<usize> {
        if !(KEVENT_RING_MIN_ENTRIES..=KEVENT_RING_MAX_ENTRIES).contains(&entries)
            || !entries.is_power_of_two()
        {
            return Err(EINVAL);
        }
        // Under the registry (taken first: get-events holds it while it
        // copies to user memory, under which `mmap` takes `ring_mem`), so
        // that a ctl call sees the queue with a ring or without one for
        // its whole run (see `modify`).
        let _reg = self.registry.lock();
        let mut slot = self.ring_mem.lock();
        if slot.is_some() {
            return Err(EBUSY);
        }
        let cost = ring_cost(entries);
        self.account.charge_n(cost)?;
        let made = RingMem::new(entries)
            .and_then(|mem| Ok(Arc::new(mem, GFP_KERNEL_ACCOUNT)?))
            .and_then(|mem| Ok((mem, ReadyList::gone_slots(entries)?)));
        let (mem, gone) = match made {
            Ok(made) => made,
            Err(e) => {
                self.account.uncharge_n(cost);
                return Err(e);
            }
        };
        self.ready.lock().attach_ring(Ring::new(mem.clone()), gone);
        *slot = Some(mem);
        self.ringed.store(true, Ordering::Relaxed);
        // A get-events that copies and waits now would wait for events that
        // go to the ring: it looks again, and fails.
        self.waiters.wake_up_all();
        Ok(RingMem::size(entries))
    }

    /// `mmap` of the queue: its ring (`ENODEV` without one).
    pub(crate) fn mmap_ring(&self, vma: &VmaNew) -> Result {
        let slot = self.ring_mem.lock();
        slot.as_ref().ok_or(ENODEV)?.mmap(vma)
    }

    /// get-events into the ring: waits until the ring's unread entries and
    /// the events that wait in line make `min_nr` (or the timeout), then
    /// moves up to `max_nr` of those in line into the ring. Returns how
    /// many entries it holds unread.
    ///
    /// Events in line are moved once there are enough: a request that
    /// goes back in line after its entry (a level-triggered file still
    /// ready) must count once towards `min_nr`, as a get-events that
    /// copies counts it, not once for its entry and again for its place
    /// in line.
    pub(crate) fn get_ring_events(
        &self,
        min_nr: usize,
        max_nr: usize,
        timeout: Timeout,
        nonblock: bool,
    ) -> Result<usize> {
        let entries = self.ready.lock().ring_entries().ok_or(EINVAL)?;
        if min_nr > entries as usize {
            return Err(EINVAL);
        }
        let mut timed_out = false;
        loop {
            // Most events are written at wake-up: on the common path there
            // is nothing in line to move.
            if !self.ready_empty.is_empty() || self.gone_hint.load(Ordering::Relaxed) {
                let mut reg = self.registry.lock();
                self.reap(&mut reg);
                // Wanting one entry at most, the call moves what is ready
                // at once, as a get-events that copies collects it. Wanting
                // more, it moves once enough are: the wait went by requests
                // in line that were ready at their last look, and may be
                // drained since, so they are asked now (the others leave
                // the line).
                let moves = min_nr <= 1 || timed_out || nonblock || {
                    let unread = self.ring_unread()?;
                    unread >= min_nr || self.enough_ready(&mut reg, min_nr - unread)
                };
                if moves {
                    let (moved, _) = self.collect(&mut reg, max_nr, &mut RingSink(&self.ready));
                    drop(reg);
                    moved?;
                } else {
                    drop(reg);
                    if kernel::current!().signal_pending() {
                        return Err(EINTR);
                    }
                }
            }
            // Counted after moving (which also reports a nonsense `head`):
            // another thread may have read entries meanwhile, and the call
            // returns with `min_nr` unread unless it times out, or waits on.
            let unread = self.ring_unread()?;
            if unread >= min_nr || timed_out || nonblock {
                return Self::ring_result(unread, nonblock);
            }
            timed_out = self.wait_for(min_nr, timeout, nonblock, true)?;
        }
    }

    /// The ring's unread entries, or `EINVAL` if the program wrote a
    /// nonsense `head`.
    fn ring_unread(&self) -> Result<usize> {
        let unread = self.ready.lock().ring_unread().flatten().ok_or(EINVAL)?;
        Ok(unread as usize)
    }

    /// What a get-events into the ring returns once done: the `unread`
    /// entries, or `EAGAIN` for a call that would not wait and has none,
    /// as a get-events that copies fails, whatever its `min_nr`. No
    /// wake-up is passed on: the entries are the ring's, and another
    /// waiter woken for them would find them read.
    fn ring_result(unread: usize, nonblock: bool) -> Result<usize> {
        match unread {
            0 if nonblock => Err(EAGAIN),
            unread => Ok(unread),
        }
    }

    /// Whether at least `min_nr` of the requests in line are ready now:
    /// timers and user events are; a file is asked, and taken off the line
    /// if it is not ready and no wake-up came since it was looked at (the
    /// next wake-up queues it again). Stops asking at `min_nr`.
    ///
    /// Call with the registry locked: then only wake-ups, which append,
    /// change the line meanwhile. The requests found ready are kept at its
    /// front, in order, as a scan's `seen` (see `sys/list.rs`), and the
    /// next one to look at is always the first of the rest. They are
    /// looked at `BATCH` at a time, without allocating and without the
    /// ready lock; each hold of it costs O(`BATCH`), however long the line.
    fn enough_ready(&self, _reg: &mut Registry, min_nr: usize) -> bool {
        let mut count = 0;
        let enough = loop {
            if count >= min_nr {
                break true;
            }
            match self.scan_batch(min_nr - count) {
                Some(kept) => count += kept,
                None => break false,
            }
        };
        self.ready.lock().end_scan();
        enough
    }

    /// One step of `enough_ready`: looks at up to `BATCH` requests not yet
    /// looked at, stopping at `wanted` found ready. Keeps those ready or
    /// woken since, takes the others out of line. Returns how many it
    /// kept, `None` if there was nothing left to look at.
    fn scan_batch(&self, wanted: usize) -> Option<usize> {
        let mut batch: [Option<(Arc<Request>, u64)>; BATCH] = Default::default();
        let mut n = 0;
        {
            let ready = self.ready.lock();
            for (slot, req) in batch.iter_mut().zip(ready.unseen()) {
                *slot = Some((Arc::from(req), req.pending()));
                n += 1;
            }
        }
        if n == 0 {
            return None;
        }
        // Asked without the lock: a file's poll method may take locks of
        // its own.
        let mut ready_now = [false; BATCH];
        let mut found = 0;
        let mut asked = 0;
        for ((req, _), now) in batch.iter().take(n).flatten().zip(&mut ready_now) {
            if found >= wanted {
                break;
            }
            *now = self.is_ready_now(req);
            found += usize::from(*now);
            asked += 1;
        }
        let mut kept = 0;
        let mut ready = self.ready.lock();
        for ((req, seen), now) in batch.iter().take(asked).flatten().zip(ready_now) {
            // Only this scan takes requests off the front of the line while
            // the registry is locked: `req` is the first it has not seen.
            // One woken since it was asked stays, and counts.
            if now || req.pending() != *seen {
                ready.keep_seen(req);
                kept += 1;
            } else {
                req.clear_pending(&mut ready);
                // Let go under the lock, as `finish` does.
                drop(ready.take_unseen(req));
            }
        }
        drop(ready);
        Some(kept)
    }

    /// Whether collecting `req` now would deliver an event (its source
    /// is asked; a closed file's request never would).
    fn is_ready_now(&self, req: &Request) -> bool {
        !req.is_closed() && req.kind.is_ready_now(req)
    }

    /// Sleeps until `min_nr` events are ready, the deadline passes (then
    /// returns `true`) or a signal arrives (`EINTR`).
    /// A waiter for the ring (`ring`) counts the ring's unread entries
    /// too; one that copies, only what is in line.
    fn wait_for(
        &self,
        min_nr: usize,
        timeout: Timeout,
        nonblock: bool,
        ring: bool,
    ) -> Result<bool> {
        loop {
            // The queue got a ring while this copying call waited: its
            // events go there only (`setup_ring` wakes every waiter).
            if !ring && self.ringed.load(Ordering::Relaxed) {
                return Err(EINVAL);
            }
            let ready = self.ready.lock();
            let avail = if ring { ready.available() } else { ready.len() };
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
        let count = self.ready.lock().available();
        self.wake_next(count);
    }

    /// Wakes a waiter for the `count` events that were left at the last
    /// hold of the ready lock. A waiter goes on the list under that lock,
    /// so one that is not seen here saw the count itself before it slept,
    /// and events queued since woke waiters themselves.
    fn wake_next(&self, count: usize) {
        self.wake_waiter(count, false);
    }

    /// `wake_next`, with the scheduler's hint that the waker will sleep
    /// soon if `sync` (see `make_ready_nested`).
    fn wake_waiter(&self, count: usize, sync: bool) {
        if count > 0 && self.waiters.is_active() {
            self.waiters.wake_up_count(count, sync);
        }
    }

    /// Moves up to `max_nr` ready events to `out`, oldest first. Returns
    /// how many, and how many were left ready at the end.
    /// Call with the registry locked.
    fn collect<S: Sink>(
        &self,
        reg: &mut Registry,
        max_nr: usize,
        out: &mut S,
    ) -> (Result<usize>, usize) {
        let mut ready = self.ready.lock();
        // Requests re-queued during the call go behind those ready at its
        // start, so counting those bounds the call, and no request is
        // delivered twice in one call. No more are taken than the sink
        // has room for (a ring).
        let budget = max_nr.min(ready.len()).min(out.room(&ready));
        if S::RING {
            ready.collecting = true;
        }
        // Most calls take one event (an event loop's turn after a wake-up):
        // they go straight through, without setting up a batch.
        if budget <= 1 {
            self.collect_one::<S>(reg, ready, budget, out)
        } else {
            self.collect_in::<S>(reg, ready, budget, out)
        }
    }

    /// `collect` of at most one event: the steps of `collect_in` for one
    /// request (popped under the ready lock held on entry, asked and
    /// copied out without it, re-queued or let go under it again), in a
    /// straight line. For one event, the batch's slots, staging and loops
    /// cost 68 of the call's 885 guest instructions (`bench/ab.sh
    /// --icount`). Out of line: the batched loop, inlined in its caller,
    /// stays as compact as it was.
    #[inline(never)]
    fn collect_one<'a, S: Sink>(
        &'a self,
        reg: &mut Registry,
        mut ready: ReadyGuard<'a>,
        budget: usize,
        out: &mut S,
    ) -> (Result<usize>, usize) {
        let item = if budget == 0 {
            None
        } else {
            ready.take_front()
        };
        let Some(item) = item else {
            return self.end_collect::<S>(ready, Ok(0), false, 0);
        };
        let mut pending = item.take_pending(&mut ready);
        drop(ready);
        let (event, keep, remove) = match Self::outcome(reg, &item, &mut pending) {
            Outcome::Deliver {
                event,
                keep,
                remove,
            } => (event, keep, remove),
            Outcome::Skip => {
                let mut ready = self.ready.lock();
                let requeued = Self::requeue(&mut ready, item, false);
                return self.end_collect::<S>(ready, Ok(0), requeued, 0);
            }
            Outcome::Discard => {
                self.remove_delivered(reg, item);
                return self.end_collect::<S>(self.ready.lock(), Ok(0), false, 0);
            }
        };
        if out.put(core::slice::from_ref(&event)) == 0 {
            let mut ready = self.ready.lock();
            Self::put_back(&mut ready, item, pending);
            return self.end_collect::<S>(ready, out.short(0), false, 0);
        }
        if remove {
            self.remove_delivered(reg, item);
            return self.end_collect::<S>(self.ready.lock(), Ok(1), false, 1);
        }
        let mut ready = self.ready.lock();
        let requeued = Self::requeue(&mut ready, item, keep);
        self.end_collect::<S>(ready, Ok(1), requeued, 1)
    }

    /// Ends a collection that moved `done` events and ends with `r`, under
    /// the ready lock: once per call, not per request popped.
    #[inline(always)]
    fn end_collect<S: Sink>(
        &self,
        mut ready: ReadyGuard<'_>,
        r: Result<usize>,
        requeued: bool,
        done: usize,
    ) -> (Result<usize>, usize) {
        if S::RING {
            ready.collecting = false;
        }
        ready.end_take();
        ready.show_backlog();
        let left = ready.len();
        drop(ready);
        // Entries written into the ring are news to pollers, which may
        // have looked while they were on their way.
        self.wake_pollers(requeued || (S::RING && done > 0));
        (r, left)
    }

    /// `collect`, in batches of `BATCH` requests: popped under the ready
    /// lock (held on entry), asked and copied out (in one copy) without
    /// it, then finished (re-queued or let go) under the same hold of the
    /// lock that pops the next batch, so a call takes the lock one time
    /// more than it has batches.
    #[inline(always)]
    fn collect_in<'a, S: Sink>(
        &'a self,
        reg: &mut Registry,
        mut ready: ReadyGuard<'a>,
        mut budget: usize,
        out: &mut S,
    ) -> (Result<usize>, usize) {
        let mut done = 0;
        let mut requeued = false;
        let mut batch: [Option<Taken>; BATCH] = [const { None }; BATCH];
        let mut staged = StagedEvents::<BATCH>::new();
        loop {
            let n = Self::pop_batch(&mut ready, &mut batch, &mut budget);
            if n == 0 {
                return self.end_collect::<S>(ready, Ok(done), requeued, done);
            }
            drop(ready);
            let taken = &mut batch[..n];
            self.decide_batch(reg, taken, &mut staged);
            // One copy for the batch.
            let written = out.put(staged.events());
            done += written;
            self.remove_oneshots(reg, taken, written);
            ready = self.ready.lock();
            requeued |= Self::finish(&mut ready, taken, written);
            if written < staged.len() {
                return self.end_collect::<S>(ready, out.short(done), requeued, done);
            }
        }
    }

    /// Decides what each request of a popped batch comes to, and stages
    /// the events of those that deliver one, in order. Closed files'
    /// requests are removed at once.
    // Always inlined in `decide_batch`, which the compiler places.
    #[inline(always)]
    fn decide<const N: usize>(
        &self,
        reg: &mut Registry,
        taken: &mut [Option<Taken>],
        staged: &mut StagedEvents<N>,
    ) {
        staged.clear();
        for slot in taken.iter_mut() {
            let Some(t) = slot.as_mut() else { continue };
            match Self::outcome(reg, &t.item, &mut t.pending) {
                Outcome::Skip => t.fate = Fate::Skip,
                Outcome::Discard => {
                    if let Some(t) = slot.take() {
                        self.remove_delivered(reg, t.item);
                    }
                }
                Outcome::Deliver {
                    event,
                    keep,
                    remove,
                } => {
                    // No room cannot happen (a batch has at most `N`
                    // requests); if it did, the request would go back to
                    // the front, undelivered, like an event not written.
                    let at = staged.push(event).unwrap_or(usize::MAX);
                    t.fate = Fate::Staged { at, keep, remove };
                }
            }
        }
    }

    /// `decide`, inlined in the batched loop where the compiler finds it
    /// best: forcing it either way cost 12 to 23 instructions more per
    /// event. The two are not one function: `decide` itself, left to the
    /// compiler, was called out of line (8 more per event, measured).
    fn decide_batch<const N: usize>(
        &self,
        reg: &mut Registry,
        taken: &mut [Option<Taken>],
        staged: &mut StagedEvents<N>,
    ) {
        self.decide(reg, taken, staged);
    }

    /// One-shot requests whose events were written leave the queue.
    fn remove_oneshots(&self, reg: &mut Registry, taken: &mut [Option<Taken>], written: usize) {
        for slot in taken.iter_mut() {
            let fate = slot.as_ref().map(|t| t.fate);
            if !matches!(fate, Some(Fate::Staged { at, remove: true, .. }) if at < written) {
                continue;
            }
            if let Some(t) = slot.take() {
                self.remove_delivered(reg, t.item);
            }
        }
    }

    /// Fills `batch` with requests taken off the front of the ready list,
    /// at most `budget`, with what they had pending.
    // Inlined in the batched loop: a call per batch costs more under the
    // ready lock than the copy of the code.
    #[inline(always)]
    fn pop_batch(ready: &mut ReadyList, batch: &mut [Option<Taken>], budget: &mut usize) -> usize {
        let max = (*budget).min(batch.len());
        let mut n = 0;
        while n < max {
            let Some(item) = ready.take_front() else {
                break;
            };
            let pending = item.take_pending(ready);
            batch[n] = Some(Taken {
                item,
                pending,
                fate: Fate::Skip,
            });
            n += 1;
        }
        *budget -= n;
        n
    }

    /// Decides what collecting `req` delivers: its source says, unless its
    /// file was closed. `taken` is what it had pending, to which the source
    /// may add.
    // Inlined in `decide` and `collect_one`: out of line, the event it
    // builds is returned through memory and copied again (measured: 62
    // instructions more per event at 64 events per call).
    #[inline(always)]
    fn outcome(reg: &mut Registry, req: &Request, taken: &mut u64) -> Outcome {
        if req.is_closed() {
            return Outcome::Discard;
        }
        match req.kind.deliver(req, || req.source.access_mut(reg), taken) {
            Delivery::NotReady => Outcome::Skip,
            Delivery::Ready {
                ret_data,
                ret_flags,
                keep,
                last,
            } => Outcome::Deliver {
                event: req.event_with(KEVENT_RET_DONE | ret_flags, ret_data),
                keep,
                remove: last || req.is_oneshot(),
            },
        }
    }

    /// A collected request that leaves the queue (one-shot, closed file).
    /// It is still registered: the collector has held the registry since
    /// it took the request off the ready list, and a request leaves the
    /// registry (`retire`) before it leaves the list.
    fn remove_delivered(&self, reg: &mut Registry, item: ListArc<Request>) {
        let removed = reg.requests.remove_item(&item);
        debug_assert!(removed.is_some(), "a collected request was not registered");
        if let Some(req) = removed {
            self.retire(reg, req);
        }
    }

    /// After collection, under the ready lock: the requests still (`keep`)
    /// or again pending go to the back of the line, in order, and those
    /// whose events were not written (from `written` on) back to the front,
    /// in order, with what they had pending. Returns whether any went to
    /// the back.
    // Inlined for the reason `pop_batch` is.
    #[inline(always)]
    fn finish(ready: &mut ReadyList, taken: &mut [Option<Taken>], written: usize) -> bool {
        let mut requeued = false;
        let mut unwritten = false;
        for slot in taken.iter_mut() {
            let keep = match slot.as_ref().map(|t| t.fate) {
                None => continue,
                Some(Fate::Staged { at, .. }) if at >= written => {
                    unwritten = true;
                    continue;
                }
                Some(Fate::Staged { keep, .. }) => keep,
                Some(Fate::Skip) => false,
            };
            let Some(Taken { item, .. }) = slot.take() else {
                continue;
            };
            // `requeue`, written out: called here, even inlined, it cost 5
            // instructions more per event.
            let dead = item.is_dead();
            if keep && !dead {
                item.keep_pending(ready);
            }
            if item.pending() > 0 && !dead {
                requeued |= ready.push_back(item).is_ok();
            } else {
                // Let go under the lock (see `requeue`).
                drop(item);
            }
        }
        if unwritten {
            // Only the unwritten are left in `taken`.
            for t in taken.iter_mut().rev().filter_map(Option::take) {
                Self::put_back(ready, t.item, t.pending);
            }
        }
        requeued
    }

    /// A collected request that stays in the queue, under the ready lock:
    /// back in line if it is still (`keep`) or again pending. Returns
    /// whether it went back.
    #[inline(always)]
    fn requeue(ready: &mut ReadyList, item: ListArc<Request>, keep: bool) -> bool {
        let dead = item.is_dead();
        if keep && !dead {
            item.keep_pending(ready);
        }
        if item.pending() > 0 && !dead {
            ready.push_back(item).is_ok()
        } else {
            // Let go of the request under the lock: a source that found it
            // held by this collector (and so did not queue it) must see it
            // pending here, or be able to queue it itself.
            drop(item);
            false
        }
    }

    /// A collected request whose event was not written, under the ready
    /// lock: back at the front of the line with what it had pending.
    #[inline(always)]
    fn put_back(ready: &mut ReadyList, item: ListArc<Request>, pending: u64) {
        if !item.stays_ready() {
            item.add_pending(ready, pending);
        }
        let _ = ready.push_front(item);
    }

    /// Readiness that arrived while a collector held a request was not
    /// announced: the collector re-queued it, and tells the pollers once
    /// per call. Its waiters hear of it from `wake_next`.
    fn wake_pollers(&self, requeued: bool) {
        if requeued && self.pollers.is_active() {
            self.wake_pollers_at(0);
        }
    }

    /// Closes the queue: stops every source, drops every request.
    pub(crate) fn release(&self) {
        let mut reg = self.registry.lock();
        while let Some(req) = reg.requests.pop_first() {
            self.retire(&mut reg, req);
        }
        drop(reg);
        // They hold the queue: let go of those left for `reap`.
        loop {
            let slot = self.ready.lock().pop_gone();
            let Some(kept) = slot else { break };
            drop(kept);
        }
        if let Some(mem) = self.ring_mem.lock().as_ref() {
            self.account.uncharge_n(ring_cost(mem.entries()));
        }
        self.shared.close_account(self.uid);
        // The sweep hands over nothing more; what it handed over holds the
        // queue, and was taken out above.
        let handed = {
            let mut closed = self.closed.lock();
            closed.released = true;
            closed.take_all()
        };
        drop(handed);
        // Nothing can queue the work items any more; let pending runs
        // finish before the module can go away.
        work::flush(&self.poll_work);
        work::flush(&self.closed_work);
    }

    /// `/proc/<pid>/fdinfo/<fd>`: one line per request.
    pub(crate) fn show_fdinfo(&self, m: &SeqFile) {
        let reg = self.registry.lock();
        let ready = self.ready.lock().len();
        seq_print!(m, "kevent-requests:\t{}\n", reg.requests.len());
        seq_print!(m, "kevent-ready:\t{}\n", ready);
        if let Some(mem) = self.ring_mem.lock().as_ref() {
            seq_print!(m, "kevent-ring-entries:\t{}\n", mem.entries());
        }
        for req in reg.requests.iter() {
            let ident = &req.ident;
            seq_print!(
                m,
                "kevent-req: type:{} id:{},{} event:{:#x} flags:{:#x} user:{:#x} pending:{}\n",
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
