// SPDX-License-Identifier: GPL-2.0

//! A request: one registered `struct ukevent` and the source behind it.

use crate::defs::*;
use crate::queue::{Queue, Registry};
use crate::sys::{
    hrtimer::{impl_has_hr_timer, HrTimer, TimerHandle},
    list::ListOwner,
    poll::{HookSlot, PollCallback, PollHooks},
    rbtree::{impl_has_rb_links, RbItem, RbLinks},
};
use crate::watch::{Watch, OTHERS};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    list::{
        impl_has_list_links, impl_list_arc_safe, impl_list_item, AtomicTracker, ListLinks,
        TryNewListArc,
    },
    prelude::*,
    sync::{Arc, ArcBorrow, LockedBy},
};

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

/// The schedule of a `KEVENT_TIMER` request, in nanoseconds.
#[derive(Clone, Copy)]
pub(crate) struct TimerSpec {
    pub(crate) period_ns: i64,
    pub(crate) first_ns: i64,
}

impl TimerSpec {
    /// Decodes `id` and `event` of a timer request (see the uapi header).
    pub(crate) fn decode(id: [u32; 2], event: u32) -> Result<Self> {
        if event & !(KEVENT_TIMER_FIRED | KEVENT_TIMER_UNIT_MASK) != 0 {
            return Err(EINVAL);
        }
        let unit_ns: i64 = match event & KEVENT_TIMER_UNIT_MASK {
            0 => 1_000_000,
            KEVENT_TIMER_UNIT_US => 1_000,
            KEVENT_TIMER_UNIT_NS => 1,
            _ => return Err(EINVAL),
        };
        if id[0] == 0 {
            return Err(EINVAL);
        }
        let period_ns = i64::from(id[0]) * unit_ns;
        let first_ns = match id[1] {
            0 => period_ns,
            first => i64::from(first) * unit_ns,
        };
        Ok(Self {
            period_ns,
            first_ns,
        })
    }
}

/// Checks the per-type fields of an ADD or MODIFY entry.
pub(crate) fn validate(uk: &Ukevent) -> Result {
    if uk.req_flags & !KEVENT_REQ_ALL != 0 {
        return Err(EINVAL);
    }
    match uk.type_ {
        KEVENT_TIMER => TimerSpec::decode(uk.id, uk.event).map(|_| ()),
        KEVENT_POLL if uk.id[1] != 0 || uk.event & !KEVENT_POLL_VALID != 0 => Err(EINVAL),
        KEVENT_POLL => Ok(()),
        // A user event has no mask; `event` is reserved.
        KEVENT_USER if uk.event != 0 => Err(EINVAL),
        KEVENT_USER => Ok(()),
        _ => Err(EINVAL),
    }
}

/// Checks that `type_` is a type this module knows and implements.
pub(crate) fn check_type(type_: u32) -> Result {
    match type_ {
        KEVENT_TIMER | KEVENT_POLL | KEVENT_USER => Ok(()),
        // take12's socket, inode and AIO types.
        0..=5 => Err(eopnotsupp()),
        _ => Err(EINVAL),
    }
}

/// What keeps a request's source running: dropping it stops the source.
#[derive(Default)]
pub(crate) struct Source {
    /// The armed timer of a `KEVENT_TIMER` request; dropping it cancels.
    pub(crate) timer: Option<TimerHandle<Request>>,
    /// The wait queue entries of a `KEVENT_POLL` request; dropping them
    /// unhooks them.
    pub(crate) hooks: Option<PollHooks<Request>>,
}

/// A registered request.
///
/// Locking: `event`, `req_flags`, `source` and the registry links change
/// only under the queue's registry mutex. `pending`, `payload` and `dead`
/// change only under the queue's ready lock (atomics, because the
/// registry side reads them without it).
#[pin_data]
pub(crate) struct Request {
    pub(crate) ident: Identity,
    pub(crate) queue: Arc<Queue>,
    /// The watched file of a `KEVENT_POLL` request.
    pub(crate) watch: Option<Arc<Watch>>,
    event: AtomicU32,
    req_flags: AtomicU32,
    /// Timers: expirations since the last delivery. User events: non-zero
    /// while triggered. Files: non-zero while possibly ready (the file's
    /// poll method decides at collection), counting the wake-ups since it
    /// was last taken, so that a wake-up is always seen as a change.
    pending: AtomicU64,
    /// The payload of the last `KEVENT_CTL_READY` (user events).
    payload: [AtomicU32; 2],
    /// Set once the request has left its queue: it is never queued again.
    dead: AtomicBool,
    /// Its source, while it is registered. It holds references to the
    /// request (a timer or hooks must not outlive it): the queue takes it
    /// out when the request leaves the registry.
    pub(crate) source: LockedBy<Source, Registry>,
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
    tracker: AtomicTracker,
    #[pin]
    timer: HrTimer<Request>,
    /// The first hook of a `KEVENT_POLL` request in its file's wait queues.
    #[pin]
    hook: HookSlot<Request>,
}

impl_list_arc_safe! {
    impl ListArcSafe<0> for Request { tracked_by tracker: AtomicTracker; }
}
impl_has_list_links! {
    impl HasListLinks<0> for Request { self.links }
}
impl_list_item! {
    impl ListItem<0> for Request { using ListLinks; }
}
impl_has_hr_timer!(Request, timer, Request::timer_fired);
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
        watch: Option<Arc<Watch>>,
        source: LockedBy<Source, Registry>,
    ) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                ident: Identity::of(uk),
                queue,
                watch,
                event: AtomicU32::new(uk.event),
                req_flags: AtomicU32::new(uk.req_flags),
                pending: AtomicU64::new(0),
                payload: [AtomicU32::new(0), AtomicU32::new(0)],
                dead: AtomicBool::new(false),
                source,
                reg_links <- RbLinks::new(),
                watch_links <- RbLinks::new(),
                links <- ListLinks::new(),
                tracker <- AtomicTracker::new(),
                // Only a timer request sets up its hrtimer.
                timer <- HrTimer::new(uk.type_ == KEVENT_TIMER),
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

    pub(crate) fn is_edge_triggered(&self) -> bool {
        self.req_flags() & KEVENT_REQ_ET != 0
    }

    /// Level-triggered user events stay ready after delivery.
    pub(crate) fn stays_ready(&self) -> bool {
        self.ident.type_ == KEVENT_USER && self.req_flags() & KEVENT_REQ_ET == 0
    }

    /// Replaces the settings (MODIFY). Call with the registry mutex held.
    pub(crate) fn set(&self, event: u32, req_flags: u32) {
        self.event.store(event, Ordering::Relaxed);
        self.req_flags.store(req_flags, Ordering::Relaxed);
    }

    pub(crate) fn timer_spec(&self) -> Result<TimerSpec> {
        TimerSpec::decode(self.ident.id, self.event())
    }

    pub(crate) fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Relaxed)
    }

    /// The following take `&mut ReadyList` as proof that the queue's ready
    /// lock is held.
    pub(crate) fn add_pending(&self, _ready: &mut crate::queue::ReadyList, n: u64) {
        let old = self.pending.load(Ordering::Relaxed);
        self.pending.store(old.saturating_add(n), Ordering::Relaxed);
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

    pub(crate) fn kill(&self, _ready: &mut crate::queue::ReadyList) {
        self.dead.store(true, Ordering::Relaxed);
    }

    /// The event of a timer or user request as delivered: the request as
    /// registered, with `ret_data` filled from `taken` (what
    /// `take_pending` returned).
    pub(crate) fn to_event(&self, taken: u64) -> Ukevent {
        let ret_data = match self.ident.type_ {
            KEVENT_TIMER => [u32::try_from(taken).unwrap_or(u32::MAX), 0],
            _ => [
                self.payload[0].load(Ordering::Relaxed),
                self.payload[1].load(Ordering::Relaxed),
            ],
        };
        self.event_with(KEVENT_RET_DONE, ret_data)
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

    /// Whether this watches a file that every other holder has closed:
    /// the request is as good as removed (see `watch.rs`).
    pub(crate) fn is_closed(&self) -> bool {
        self.watch.as_ref().is_some_and(|watch| watch.is_closed())
    }

    /// Periodic timers are restarted when their event is collected.
    pub(crate) fn is_periodic_timer(&self) -> bool {
        self.ident.type_ == KEVENT_TIMER && !self.is_oneshot()
    }

    /// The hrtimer callback (hard-irq context): one expiration. A periodic
    /// timer counts the ones it missed when it is restarted at collection.
    fn timer_fired(this: ArcBorrow<'_, Self>) {
        this.queue.make_ready(this, 1);
    }
}

impl PollCallback for Request {
    fn hook_slot(&self) -> &HookSlot<Self> {
        &self.hook
    }

    fn wanted(&self) -> u32 {
        self.event()
    }

    /// A wake-up of the watched file (any context, under the lock of the
    /// file's wait queue): queue the request; its readiness is re-checked
    /// with the file's poll method when it is collected. A closed file's
    /// wake-up calls the sweep instead, to remove it now.
    fn wake(this: ArcBorrow<'_, Self>, _mask: u32) {
        let Some(watch) = &this.watch else { return };
        if watch.is_closed() {
            this.queue.shared().kick_sweep();
            return;
        }
        this.queue.make_ready_nested(this, watch.wake_depth());
    }
}
