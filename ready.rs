// SPDX-License-Identifier: GPL-2.0

//! A queue's ready list, and the event ring it feeds if the queue has one.
//!
//! Both are guarded by the queue's ready lock (taken with interrupts off):
//! sources append to the list, or write to the ring directly (see
//! `Queue::mark_ready`), from any context; collections pop the list and
//! write to the ring or to a user array. While a ring exists, its header
//! says whether anything waits on the list (`KEVENT_RING_BACKLOG`): each
//! change of the list that starts or ends a backlog updates it.

use crate::request::Request;
use crate::sys::{
    list::{EmptyHint, OwnedList},
    ring::Ring,
};
use kernel::{list::ListArc, prelude::*, sync::ArcBorrow};

/// The ready requests, oldest first, and the queue's ring.
pub(crate) struct ReadyList {
    list: OwnedList<Request>,
    ring: Option<Ring>,
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

    pub(crate) fn iter(&self) -> impl Iterator<Item = ArcBorrow<'_, Request>> {
        self.list.iter()
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

    pub(crate) fn pop_front(&mut self) -> Option<ListArc<Request>> {
        let item = self.list.pop_front();
        self.show_backlog();
        item
    }

    pub(crate) fn remove(&mut self, item: &Request) -> Option<ListArc<Request>> {
        let removed = self.list.remove(item);
        self.show_backlog();
        removed
    }

    /// Keeps the ring's `KEVENT_RING_BACKLOG` equal to "the list is not
    /// empty" (one store when that changes).
    fn show_backlog(&mut self) {
        let Some(ring) = &mut self.ring else { return };
        let waiting = !self.list.is_empty();
        if waiting != self.backlog {
            self.backlog = waiting;
            ring.set_backlog(waiting);
        }
    }

    /// Gives the queue its ring (once).
    pub(crate) fn attach_ring(&mut self, ring: Ring) {
        self.ring = Some(ring);
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
