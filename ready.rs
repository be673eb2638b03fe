// SPDX-License-Identifier: GPL-2.0

//! A queue's ready list, and the event ring it feeds if the queue has one.
//!
//! Both are guarded by the queue's ready lock (taken with interrupts off):
//! sources append to the list, or write to the ring directly (see
//! `Queue::mark_ready`), from any context; collections pop the list and
//! write to the ring or to a user array. While a ring exists, its header
//! says whether anything waits on the list (`KEVENT_RING_BACKLOG`): each
//! change of the list that starts or ends a backlog updates it.
//!
//! A request whose last event (a one-shot request's, the end of an inode
//! watch) a wake-up writes into the ring leaves the queue with it; taking
//! it out of the registry needs the registry's mutex, which a wake-up
//! cannot take, so it waits among the `gone` until the next call (see
//! `Queue::reap`). Their slots are allocated with the ring: a wake-up
//! never allocates, and with no slot free the event waits in line instead.

use crate::request::Request;
use crate::sys::{
    list::{EmptyHint, OwnedList},
    ring::Ring,
};
use kernel::{
    list::ListArc,
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// The most requests that can wait to be taken out after their last event
/// went into the ring (fewer for a smaller ring).
const GONE_SLOTS: u32 = 1024;

/// The ready requests, oldest first, and the queue's ring.
pub(crate) struct ReadyList {
    list: OwnedList<Request>,
    ring: Option<Ring>,
    /// Requests that left with an event written into the ring, in
    /// `gone[..gone_len]`, until a call takes them out of the registry.
    gone: KVec<Option<Arc<Request>>>,
    gone_len: usize,
    /// What the ring's header says of a backlog.
    backlog: bool,
    /// A collection into the ring holds requests taken off the list: a
    /// wake-up then queues rather than writes, so that the ring keeps the
    /// order in which requests became ready.
    pub(crate) collecting: bool,
}

impl ReadyList {
    /// An empty list without a ring, and the hint of its emptiness.
    pub(crate) fn new(flags: kernel::alloc::Flags) -> Result<(Self, EmptyHint)> {
        let (list, hint) = OwnedList::new(flags)?;
        let this = Self {
            list,
            ring: None,
            gone: KVec::new(),
            gone_len: 0,
            backlog: false,
            collecting: false,
        };
        Ok((this, hint))
    }

    /// The id that the queue's requests report.
    pub(crate) fn id(&self) -> u64 {
        self.list.id()
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// The requests a scan has yet to look at (`Queue::enough_ready`).
    pub(crate) fn unseen(&self) -> impl Iterator<Item = ArcBorrow<'_, Request>> {
        self.list.unseen()
    }

    /// The scan keeps `req`, the first it had yet to look at, in line.
    pub(crate) fn keep_seen(&mut self, req: &Request) {
        self.list.keep_seen(req);
    }

    /// The scan takes `req`, the first it had yet to look at, out of line.
    pub(crate) fn take_unseen(&mut self, req: &Request) -> Option<ListArc<Request>> {
        let taken = self.list.take_unseen(req);
        self.show_backlog();
        taken
    }

    /// Ends the scan: what it kept is the front of the line.
    pub(crate) fn end_scan(&mut self) {
        self.list.end_scan();
    }

    pub(crate) fn push_back(&mut self, item: ListArc<Request>) -> Result<(), ListArc<Request>> {
        let r = self.list.push_back(item);
        self.show_backlog();
        r
    }

    pub(crate) fn push_front(&mut self, item: ListArc<Request>) -> Result<(), ListArc<Request>> {
        let r = self.list.push_front(item);
        self.show_backlog();
        r
    }

    // Inlined in its callers, as it was before a running scan had to be
    // ended here: out of line, a MODIFY of 64 took 7-12 % longer per fd
    // in wall time (`bench/ab.sh`), for 5 instructions more.
    #[inline(always)]
    pub(crate) fn remove(&mut self, item: &Request) -> Option<ListArc<Request>> {
        let removed = self.list.remove(item);
        self.show_backlog();
        removed
    }

    /// Keeps the ring's `KEVENT_RING_BACKLOG` equal to "the list is not
    /// empty" (one store when that changes).
    pub(crate) fn show_backlog(&mut self) {
        // Without a ring (most queues), one test of the pointer.
        let Some(ring) = &mut self.ring else { return };
        let waiting = !self.list.is_empty();
        if waiting != self.backlog {
            self.backlog = waiting;
            ring.set_backlog(waiting);
        }
    }

    /// The slots for requests that leave with an event written at wake-up,
    /// for a ring of `entries`: to pass to [`ReadyList::attach_ring`].
    pub(crate) fn gone_slots(entries: u32) -> Result<KVec<Option<Arc<Request>>>> {
        let n = entries.min(GONE_SLOTS) as usize;
        Ok(KVec::from_elem(None, n, GFP_KERNEL_ACCOUNT)?)
    }

    /// The bytes of `gone_slots(entries)`.
    pub(crate) fn gone_slots_size(entries: u32) -> usize {
        entries.min(GONE_SLOTS) as usize * core::mem::size_of::<Option<Arc<Request>>>()
    }

    /// Gives the queue its ring (once), with `gone` from `gone_slots`.
    pub(crate) fn attach_ring(&mut self, ring: Ring, gone: KVec<Option<Arc<Request>>>) {
        self.ring = Some(ring);
        self.gone = gone;
        self.backlog = false;
        self.show_backlog();
    }

    /// The ring's size in entries, if there is one.
    pub(crate) fn ring_entries(&self) -> Option<u32> {
        self.ring.as_ref().map(Ring::entries)
    }

    /// The ring's unread entries: `None` without a ring, `Some(None)` if
    /// the program's `head` is nonsense.
    pub(crate) fn ring_unread(&self) -> Option<Option<u32>> {
        self.ring.as_ref().map(Ring::unread)
    }

    /// Whether a wake-up may write its event into the ring now: there is
    /// one, and nothing is in line before it.
    pub(crate) fn writes_at_wake(&self) -> bool {
        self.ring.is_some() && self.list.is_empty() && !self.collecting
    }

    /// Whether a request that leaves with its event can wait to be taken
    /// out ([`ReadyList::push_gone`] will succeed).
    pub(crate) fn has_gone_slot(&self) -> bool {
        self.gone_len < self.gone.len()
    }

    /// Keeps `req`, which left with an event written into the ring, until
    /// a call takes it out (false: no slot, see `has_gone_slot`).
    pub(crate) fn push_gone(&mut self, req: Arc<Request>) -> bool {
        let Some(slot) = self.gone.get_mut(self.gone_len) else {
            return false;
        };
        *slot = Some(req);
        self.gone_len += 1;
        true
    }

    /// Frees the last slot taken by `push_gone`: `None` if none is taken,
    /// else the request it kept, to take out, unless `release_gone` let go
    /// of it. Drop it without the ready lock (it may be the last
    /// reference).
    pub(crate) fn pop_gone(&mut self) -> Option<Option<Arc<Request>>> {
        self.gone_len = self.gone_len.checked_sub(1)?;
        self.gone.get_mut(self.gone_len).map(Option::take)
    }

    /// Lets go of `req` if a slot keeps it, and keeps the slot taken until
    /// a call frees it (`pop_gone`): the sweep found its file closed, and
    /// the request holds the file. Drop it without the ready lock.
    pub(crate) fn release_gone(&mut self, req: &Request) -> Option<Arc<Request>> {
        self.gone
            .iter_mut()
            .take(self.gone_len)
            .find(|slot| slot.as_deref().is_some_and(|kept| core::ptr::eq(kept, req)))?
            .take()
    }

    /// How many events the ring can take now (without a ring: any number).
    pub(crate) fn ring_room(&self) -> usize {
        self.ring
            .as_ref()
            .map_or(usize::MAX, |ring| ring.room() as usize)
    }

    /// Writes `events` into the ring, as many as fit; returns how many.
    pub(crate) fn write_ring(&mut self, events: &[crate::defs::Ukevent]) -> usize {
        self.ring.as_mut().map_or(0, |ring| ring.write(events))
    }

    /// Writes `event` into the ring if it has room, as
    /// [`ReadyList::write_ring`] does, but shows it to the program only at
    /// [`ReadyList::publish_ring`]. Returns whether it was written.
    pub(crate) fn stage_one(&mut self, event: &crate::defs::Ukevent) -> bool {
        self.ring.as_mut().is_some_and(|ring| ring.stage_one(event))
    }

    /// Shows the program the entries `stage_one` wrote.
    pub(crate) fn publish_ring(&mut self) {
        if let Some(ring) = self.ring.as_mut() {
            ring.publish();
        }
    }

    /// Pops the oldest request, for a collection, which updates the backlog
    /// flag once it is done (`show_backlog`): the flag may stay set a
    /// moment after the list empties, as the uapi allows.
    ///
    /// A level-triggered request goes back in line if its file is still
    /// ready, so while the collection holds one, the queue is readable
    /// (`readable`) and its emptiness hint says "not empty", until
    /// `end_take`. A caller that does not wait then takes the registry,
    /// waiting for the collection to end, as epoll's does, and never finds
    /// the queue empty only because another task held the request.
    #[inline(always)]
    pub(crate) fn take_front(&mut self) -> Option<ListArc<Request>> {
        self.list.pop_front_held(Request::is_level_triggered)
    }

    /// The collection that called `take_front` ends: what it held is back
    /// in line, delivered or dropped. Said once per call: until then the
    /// queue stays readable even if the requests it held turned out not to
    /// be ready, as it is while such a request waits in line.
    pub(crate) fn end_take(&mut self) {
        self.list.release_held();
    }

    /// Whether `poll()` finds the queue readable: an event waits, or a
    /// collection holds a level-triggered request. A queue or an epoll
    /// instance watching this one asks while another task collects from
    /// it; epoll's own poll waits for such a collection to end, and then
    /// finds the request back in line. Answering "not readable" meanwhile
    /// would make an edge-triggered watcher miss the event for good.
    pub(crate) fn readable(&self) -> bool {
        self.list.is_held() || self.available() > 0
    }

    /// The events a waiter can count on: those in line, and those unread
    /// in the ring (all of it if its `head` is nonsense, so that a waiter
    /// wakes to report that).
    pub(crate) fn available(&self) -> usize {
        let unread = match &self.ring {
            None => 0,
            Some(ring) => ring.unread().unwrap_or(ring.entries()),
        };
        self.list.len() + unread as usize
    }
}
