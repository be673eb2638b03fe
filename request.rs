// SPDX-License-Identifier: GPL-2.0

//! A request: one registered `struct ukevent` and the source behind it.

use crate::defs::*;
use crate::queue::{Queue, Registry};
use crate::source::{self, Handle, Kind, Running};
use crate::sys::{
    clock::ClockSetWatcher,
    file::FileUse,
    hrtimer::{impl_has_hr_timer, HrTimer},
    inode::InodeWatcher,
    list::{impl_list_links, ListArcTracker, ListOwner},
    poll::{HookSlot, PollCallback},
    rbtree::{impl_has_rb_links, RbItem, RbLinks},
};
use crate::watch::{Watch, OTHERS};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use kernel::{
    list::{impl_list_arc_safe, ListLinks, TryNewListArc},
    prelude::*,
    sync::{Arc, ArcBorrow, LockedBy},
};

/// A request's `state`.
const NEW: u8 = 0;
const ARMED: u8 = 1;
const DEAD: u8 = 2;

/// What names a request within its queue: `(id, type, user)`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) type_: u32,
    pub(crate) id: [u32; 2],
    pub(crate) user: u64,
}

impl Identity {
    pub(crate) fn of(uk: &Ukevent) -> Self {
        Self {
            type_: uk.type_,
            id: uk.id,
            user: uk.user,
        }
    }

    /// The fields as integers, in the order the registry sorts by. Any
    /// total order does; this one is cheap at every step of a tree walk:
    /// the id (what tells most requests of a queue apart) first, read as
    /// the one 64-bit word it is in memory, and the type, which most
    /// requests of a queue share, last.
    fn key(&self) -> (u64, u64, u32) {
        let id = (u64::from(self.id[1]) << 32) | u64::from(self.id[0]);
        (id, self.user, self.type_)
    }
}

impl Ord for Identity {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        let (a, b) = (self.key(), other.key());
        if a.0 != b.0 {
            return a.0.cmp(&b.0);
        }
        if a.1 != b.1 {
            return a.1.cmp(&b.1);
        }
        a.2.cmp(&b.2)
    }
}

impl PartialOrd for Identity {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A registered request: the queue's side of it. What makes it ready is
/// its source's (`source.rs`), which sees it as a [`Handle`].
///
/// Locking: `event`, `req_flags`, `source` and the registry links change
/// only under the queue's registry mutex. `pending`, `payload` and `dead`
/// change only under the queue's ready lock (atomics, because the
/// registry side reads them without it).
#[pin_data]
pub(crate) struct Request {
    pub(crate) ident: Identity,
    pub(crate) kind: Kind,
    pub(crate) queue: Arc<Queue>,
    /// The watched file of a kind that watches one.
    pub(crate) watch: Option<Arc<Watch>>,
    event: AtomicU32,
    req_flags: AtomicU32,
    /// How many times the source fired since the last delivery (what an
    /// inode request's notifications were, see `Kind::merge`): non-zero
    /// while the request is in line (for a file, while it is possibly
    /// ready: its poll method decides at collection), so that each firing
    /// is seen as a change.
    pending: AtomicU64,
    /// The payload of the last `Handle::fire_with`, or what the source
    /// keeps of the ADD or MODIFY entry (`Kind::param`).
    payload: [AtomicU32; 2],
    /// `NEW` until its ADD succeeded (a wake-up may queue it, which a
    /// failed ADD undoes, but not write its event into the ring), then
    /// `ARMED`; `DEAD` once it has left its queue: it is never queued again.
    state: AtomicU8,
    /// What keeps its source running, while it is registered. It holds
    /// references to the request (a timer or hooks must not outlive it):
    /// the queue takes it out when the request leaves the registry.
    pub(crate) source: LockedBy<Running<Request>, Registry>,
    /// Its place in the queue's registry.
    #[pin]
    reg_links: RbLinks,
    /// Its place among the requests on its watched file, if it is not the
    /// first (see `watch.rs`).
    #[pin]
    watch_links: RbLinks<OTHERS>,
    #[pin]
    links: ListLinks,
    #[pin]
    tracker: ListArcTracker,
    /// The hrtimer of a source that uses one.
    #[pin]
    timer: HrTimer<Request>,
    /// The first hook of a source that hooks a file's wait queues.
    #[pin]
    hook: HookSlot<Request>,
}

impl_list_arc_safe! {
    impl ListArcSafe<0> for Request { tracked_by tracker: ListArcTracker; }
}
impl_list_links!(Request, links);
impl_has_hr_timer!(Request, timer, source::timer_fired);
impl_has_rb_links!(Request, reg_links);
impl_has_rb_links!(Request, watch_links, OTHERS);

impl RbItem for Request {
    type Key = Identity;

    fn rb_key(&self) -> Identity {
        self.ident
    }
}

impl RbItem<OTHERS> for Request {
    type Key = usize;

    fn rb_key(&self) -> usize {
        self.watch_key()
    }
}

impl ListOwner for Request {
    fn list_id(&self) -> u64 {
        self.queue.list_id()
    }
}

impl Request {
    /// Allocates a request for `uk` (validated) in `queue`, with no source
    /// yet (`source`, made for the queue's registry).
    pub(crate) fn new(
        queue: Arc<Queue>,
        uk: &Ukevent,
        kind: Kind,
        watch: Option<Arc<Watch>>,
        source: LockedBy<Running<Request>, Registry>,
    ) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                ident: Identity::of(uk),
                kind,
                queue,
                watch,
                event: AtomicU32::new(uk.event),
                req_flags: AtomicU32::new(uk.req_flags),
                pending: AtomicU64::new(0),
                payload: {
                    let [a, b] = kind.param(uk).unwrap_or_default();
                    [AtomicU32::new(a), AtomicU32::new(b)]
                },
                state: AtomicU8::new(NEW),
                source,
                reg_links <- RbLinks::new(),
                watch_links <- RbLinks::new(),
                links <- ListLinks::new(),
                tracker <- ListArcTracker::new(),
                // Only a source that uses it sets up its hrtimer.
                timer <- HrTimer::new(kind.timer_clock(uk)),
                hook <- HookSlot::new(),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Identifies the request among those on its watched file: its address.
    pub(crate) fn watch_key(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    pub(crate) fn event(&self) -> u32 {
        self.event.load(Ordering::Relaxed)
    }

    pub(crate) fn req_flags(&self) -> u32 {
        self.req_flags.load(Ordering::Relaxed)
    }

    pub(crate) fn is_oneshot(&self) -> bool {
        self.req_flags() & KEVENT_REQ_ONESHOT != 0
    }

    /// Whether it stays ready after delivery with nothing new.
    pub(crate) fn stays_ready(&self) -> bool {
        self.kind.stays_ready(self.req_flags())
    }

    /// Whether it is level-triggered (see `Kind::level_triggered`).
    pub(crate) fn is_level_triggered(&self) -> bool {
        self.kind.level_triggered(self.req_flags())
    }

    /// Replaces the settings (MODIFY). Call with the registry mutex held.
    pub(crate) fn set(&self, event: u32, req_flags: u32) {
        self.event.store(event, Ordering::Relaxed);
        self.req_flags.store(req_flags, Ordering::Relaxed);
    }

    pub(crate) fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.state.load(Ordering::Relaxed) == DEAD
    }

    /// Its ADD succeeded (see `state`). Only that ADD could have killed it
    /// before (its failure path, which does not come here): a plain store.
    pub(crate) fn arm(&self) {
        self.state.store(ARMED, Ordering::Release);
    }

    pub(crate) fn is_armed(&self) -> bool {
        self.state.load(Ordering::Acquire) == ARMED
    }

    /// The following take `&mut ReadyList` as proof that the queue's ready
    /// lock is held.
    pub(crate) fn add_pending(&self, _ready: &mut crate::queue::ReadyList, n: u64) {
        let old = self.pending.load(Ordering::Relaxed);
        self.pending
            .store(self.kind.merge(old, n), Ordering::Relaxed);
    }

    pub(crate) fn take_pending(&self, _ready: &mut crate::queue::ReadyList) -> u64 {
        let taken = self.pending();
        // Every writer holds the ready lock, as the caller does: a plain
        // store loses nothing, and costs no atomic exchange.
        if !self.stays_ready() {
            self.pending.store(0, Ordering::Relaxed);
        }
        taken
    }

    /// Marks the request pending if it is not (level-triggered readiness
    /// that outlived a delivery).
    pub(crate) fn keep_pending(&self, _ready: &mut crate::queue::ReadyList) {
        if self.pending() == 0 {
            self.pending.store(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn clear_pending(&self, _ready: &mut crate::queue::ReadyList) {
        self.pending.store(0, Ordering::Relaxed);
    }

    pub(crate) fn set_payload(&self, _ready: &mut crate::queue::ReadyList, data: [u32; 2]) {
        self.payload[0].store(data[0], Ordering::Relaxed);
        self.payload[1].store(data[1], Ordering::Relaxed);
    }

    /// Whether it is on the ready list or held by a collector. Exact: every
    /// `ListArc` of a request is made (`Queue::queue_locked`) and let go of
    /// under the ready lock, save those of dead requests (`Queue::retire`
    /// kills one under the lock, then lets go of its `ListArc`, as
    /// `Queue::remove_delivered` does after it), which are never asked.
    pub(crate) fn is_in_line(&self, _ready: &mut crate::queue::ReadyList) -> bool {
        self.tracker.is_taken()
    }

    pub(crate) fn kill(&self, _ready: &mut crate::queue::ReadyList) {
        self.state.store(DEAD, Ordering::Relaxed);
    }

    /// The request as registered, with these results.
    pub(crate) fn event_with(&self, ret_flags: u32, ret_data: [u32; 2]) -> Ukevent {
        Ukevent {
            id: self.ident.id,
            type_: self.ident.type_,
            event: self.event(),
            req_flags: self.req_flags(),
            ret_flags,
            ret_data,
            user: self.ident.user,
        }
    }

    /// Whether the request is as good as removed though still registered:
    /// it left with its last event written into the ring at wake-up (see
    /// `Queue::reap`), or it watches a file that every other holder has
    /// closed (see `watch.rs`).
    pub(crate) fn is_gone(&self) -> bool {
        self.is_dead() || self.is_closed()
    }

    /// Whether this watches a file that every other holder has closed:
    /// the request is as good as removed (see `watch.rs`).
    pub(crate) fn is_closed(&self) -> bool {
        self.watch.as_ref().is_some_and(|watch| watch.is_closed())
    }
}

impl PollCallback for Request {
    fn hook_slot(&self) -> &HookSlot<Self> {
        &self.hook
    }

    fn wanted(&self) -> u32 {
        self.kind.wake_mask(self.event())
    }

    /// A wake-up of the watched file (any context, under the lock of the
    /// file's wait queue): queue the request; its readiness is re-checked
    /// with the file's poll method when it is collected (or, written into
    /// a ring at once, is what `mask` announced). A closed file's wake-up
    /// calls the sweep instead, to remove it now.
    fn wake(this: ArcBorrow<'_, Self>, mask: u32, sync: bool) {
        let Some(watch) = &this.watch else { return };
        if watch.is_closed() {
            this.queue.shared().kick_sweep();
            return;
        }
        this.queue
            .make_ready_nested(this, watch.wake_depth(), mask, sync);
    }
}

impl ClockSetWatcher for Request {
    fn clock_was_set(this: ArcBorrow<'_, Self>) {
        source::timer_clock_set(this);
    }
}

impl InodeWatcher for Request {
    fn notified(this: ArcBorrow<'_, Self>, events: u32) {
        source::inode_notified(this, events);
    }
}

impl Handle for Request {
    fn id(&self) -> [u32; 2] {
        self.ident.id
    }

    fn event(&self) -> u32 {
        Request::event(self)
    }

    fn req_flags(&self) -> u32 {
        Request::req_flags(self)
    }

    #[inline]
    fn file(&self) -> Option<FileUse<'_>> {
        self.watch.as_ref()?.file()
    }

    fn payload(&self) -> [u32; 2] {
        [
            self.payload[0].load(Ordering::Relaxed),
            self.payload[1].load(Ordering::Relaxed),
        ]
    }

    fn fire(this: ArcBorrow<'_, Self>, n: u64) {
        this.queue.make_ready(this, n);
    }

    fn fire_with(this: ArcBorrow<'_, Self>, payload: [u32; 2]) {
        this.queue.make_ready_with(this, payload);
    }
}
