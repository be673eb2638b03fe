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
//!   itself; wake-ups are issued after `ready` is released, so a chain of
//!   queues watching each other never nests two queues' locks.

use crate::defs::*;
use crate::request::{self, Identity, Request, TimerSpec};
use crate::sys::{
    hrtimer::{HrTimer, TimerHandle},
    list::OwnedList,
    seq_file::SeqFile,
    spinlock_irq::{new_spinlock_irq, SpinLockIrq},
    wait::{new_wait_queue_head, WaitQueueHead, Wake},
};
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    list::ListArc,
    new_mutex,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{Arc, ArcBorrow, Mutex},
    time::Ktime,
    uaccess::UserSliceWriter,
};

/// The most requests one queue holds (module parameter `max_requests`).
pub(crate) static MAX_REQUESTS: AtomicU32 = AtomicU32::new(65536);

/// The ready requests, oldest first.
pub(crate) type ReadyList = OwnedList<Request>;

/// `poll()` readiness of a queue with events.
const POLL_READABLE: u32 = (crate::layout::EPOLLIN_BITS | crate::layout::EPOLLRDNORM_BITS) as u32;

/// Events are collected in batches of this many between user copies.
const BATCH: usize = 16;

/// A registered request and what keeps its source running.
struct Entry {
    req: Arc<Request>,
    /// The armed timer of a `KEVENT_TIMER` request; dropping it cancels.
    timer: Option<TimerHandle<Request>>,
}

struct Registry {
    requests: RBTree<Identity, Entry>,
    count: usize,
}

/// An event queue: one open file of `/dev/kevent`.
#[pin_data]
pub(crate) struct Queue {
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
    list_id: u64,
}

impl Queue {
    pub(crate) fn new() -> Result<Arc<Self>> {
        let list = ReadyList::new();
        let list_id = list.id();
        Arc::pin_init(
            pin_init!(Self {
                registry <- new_mutex!(Registry { requests: RBTree::new(), count: 0 }, "kevent_registry"),
                ready <- new_spinlock_irq!(list, "kevent_ready"),
                waiters <- new_wait_queue_head!("kevent_waiters"),
                pollers <- new_wait_queue_head!("kevent_pollers"),
                list_id,
            }),
            GFP_KERNEL_ACCOUNT,
        )
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
        // Allocate before taking the lock; a duplicate wastes them.
        let req = Request::new(self.into(), uk)?;
        let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
        let mut reg = self.registry.lock();
        if reg.requests.get(&req.ident).is_some() {
            return Err(EEXIST);
        }
        if reg.count >= MAX_REQUESTS.load(Ordering::Relaxed) as usize {
            return Err(ENOSPC);
        }
        let timer = Self::arm(&req)?;
        reg.requests
            .insert(node.into_node(req.ident, Entry { req, timer }));
        reg.count += 1;
        Ok(())
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
        let mut ready = self.ready.lock();
        let queued = ready.remove(&req);
        req.set(uk.event, uk.req_flags);
        if req.ident.type_ == KEVENT_TIMER {
            req.clear_pending(&mut ready);
        }
        let count = self.requeue_if_pending(&mut ready, &req, queued);
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

    /// Queues `req` at the back unless it is queued or dead. Returns the
    /// number of ready requests. Call with `ready` locked.
    fn queue_locked(ready: &mut ReadyList, req: ArcBorrow<'_, Request>) -> usize {
        if !req.is_dead() {
            // `None`: it is on the list already, or held by a collector,
            // which re-queues it when it sees it pending.
            if let Some(item) = ListArc::try_from_arc_borrow(req) {
                // Only this queue's requests are ever made ready here.
                let _ = ready.push_back(item);
            }
        }
        ready.len()
    }

    /// Re-queues `req` (whose list item is `queued`, if any) if it is
    /// pending. Returns the number of ready requests.
    fn requeue_if_pending(
        &self,
        ready: &mut ReadyList,
        req: &Arc<Request>,
        queued: Option<ListArc<Request>>,
    ) -> usize {
        drop(queued);
        if req.pending() > 0 {
            Self::queue_locked(ready, req.as_arc_borrow());
        }
        ready.len()
    }

    /// An event source fired `n` times: queue the request and wake one
    /// waiter that can use it. Any context; never sleeps.
    pub(crate) fn make_ready(&self, req: ArcBorrow<'_, Request>, n: u64) {
        let count = {
            let mut ready = self.ready.lock();
            if req.is_dead() {
                return;
            }
            req.add_pending(&mut ready, n);
            Self::queue_locked(&mut ready, req)
        };
        self.wake(count);
    }

    /// Wakes one waiter whose `min_nr` is at most `count`, and the pollers.
    fn wake(&self, count: usize) {
        if count > 0 {
            self.waiters.wake_up_count(count);
            self.pollers.wake_up_poll(POLL_READABLE);
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

    /// get-events: waits until `min_nr` events are ready (or the deadline,
    /// `None` for never), then copies up to `max_nr` to `out`.
    pub(crate) fn get_events(
        &self,
        min_nr: usize,
        max_nr: usize,
        deadline: Option<Ktime>,
        nonblock: bool,
        out: &mut UserSliceWriter,
    ) -> Result<usize> {
        loop {
            let ready = self.ready.lock();
            let avail = ready.len();
            if nonblock && avail == 0 {
                return Err(EAGAIN);
            }
            if avail >= min_nr || nonblock {
                break;
            }
            if deadline.is_some_and(|d| Ktime::ktime_get().to_ns() >= d.to_ns()) {
                break;
            }
            if kernel::current!().signal_pending() {
                drop(ready);
                // A wake-up this waiter took may be owed to another.
                self.pass_on();
                return Err(EINTR);
            }
            if self.waiters.wait_exclusive(ready, min_nr, deadline) == Wake::TimedOut {
                // Loop once more: return what is ready now.
                continue;
            }
        }
        let n = self.collect(max_nr, out);
        self.pass_on();
        n
    }

    /// Wakes another waiter if events are left (an exclusive wake-up is
    /// only ever consumed by one waiter, which may not take everything).
    fn pass_on(&self) {
        let count = self.ready.lock().len();
        if count > 0 {
            self.waiters.wake_up_count(count);
        }
    }

    /// Moves up to `max_nr` ready events to `out`, oldest first.
    fn collect(&self, max_nr: usize, out: &mut UserSliceWriter) -> Result<usize> {
        let mut reg = self.registry.lock();
        // Requests re-queued during this call go behind those ready at its
        // start, so counting those bounds the call: no request is
        // delivered twice in one call.
        let mut budget = max_nr.min(self.ready.lock().len());
        let mut done = 0;
        while budget > 0 {
            let mut batch: [Option<(ListArc<Request>, u64)>; BATCH] = Default::default();
            let mut events = [Ukevent::default(); BATCH];
            let mut n = 0;
            {
                let mut ready = self.ready.lock();
                while n < BATCH && n < budget {
                    let Some(item) = ready.pop_front() else { break };
                    let mut taken = item.take_pending(&mut ready);
                    if item.is_periodic_timer() {
                        taken = taken.saturating_add(Self::restart_timer(&mut reg, &item));
                    }
                    events[n] = item.to_event(taken);
                    batch[n] = Some((item, taken));
                    n += 1;
                }
            }
            if n == 0 {
                break;
            }
            budget -= n;
            for i in 0..n {
                if out.write(&events[i]).is_err() {
                    // Undelivered events go back to the front, in order,
                    // with what they had pending.
                    self.unpop(&mut batch[i..n]);
                    return if done > 0 { Ok(done) } else { Err(EFAULT) };
                }
                if let Some((item, _)) = batch[i].take() {
                    self.delivered(&mut reg, item);
                }
                done += 1;
            }
        }
        Ok(done)
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
    fn unpop(&self, batch: &mut [Option<(ListArc<Request>, u64)>]) {
        let mut ready = self.ready.lock();
        for slot in batch.iter_mut().rev() {
            if let Some((item, taken)) = slot.take() {
                if !item.stays_ready() {
                    item.add_pending(&mut ready, taken);
                }
                let _ = ready.push_front(item);
            }
        }
    }

    /// After delivery: a ONESHOT request leaves the queue; a request still
    /// (or again) ready goes to the back of the line.
    fn delivered(&self, reg: &mut Registry, item: ListArc<Request>) {
        if item.is_oneshot() {
            if let Some(entry) = reg.requests.remove(&item.ident) {
                reg.count -= 1;
                drop(item);
                self.retire(entry);
            }
            return;
        }
        let count = {
            let mut ready = self.ready.lock();
            if item.pending() > 0 && !item.is_dead() {
                let _ = ready.push_back(item);
            }
            ready.len()
        };
        // Readiness that arrived during the copy was not announced.
        self.wake(count);
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
