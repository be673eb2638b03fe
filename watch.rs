// SPDX-License-Identifier: GPL-2.0

//! Watched files: the one reference kevent holds to each file that
//! `KEVENT_POLL` requests watch, and how it notices that the file was
//! closed.
//!
//! epoll holds no reference to the files it watches: `__fput` calls
//! `eventpoll_release`, which removes them. That hook is built into the
//! kernel; a module gets no call when a descriptor is closed. So kevent
//! must hold a reference (the file's wait queues must outlive its hooks),
//! and a reference alone would keep a closed file open, and any cycle of
//! files through it (a queue in flight in a socket it watches) alive
//! forever.
//!
//! Instead every watched `struct file` has one [`Watch`], shared by all
//! requests on it in every queue, and the watch's reference is the only one
//! the module holds. "Every descriptor is closed" is then an observable
//! state: the watch holds the file's only reference. It is looked at when
//! the file wakes a request, when a request is collected or named by ctl,
//! and by a sweep that runs every [`SWEEP_INTERVAL_NS`] while anything is
//! watched, visiting at most [`SWEEP_BATCH`] watches per run. A closed
//! file's requests are then removed silently, as epoll removes them, and
//! the file is released.

use crate::queue::Queue;
use crate::request::Request;
use crate::sys::file::FileRef;
use kernel::{
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{Arc, Mutex},
};

/// How often the sweep looks for closed files while any file is watched.
pub(crate) const SWEEP_INTERVAL_NS: i64 = 50_000_000;

/// The most watches one sweep run visits: bounds the work of a run, so a
/// large number of watches costs more runs, never a long one.
pub(crate) const SWEEP_BATCH: usize = 1024;

/// kevent's reference to a watched file.
pub(crate) struct Watch {
    file: FileRef,
    /// The queue behind the file, if it is a kevent queue.
    queue: Option<Arc<Queue>>,
    /// Whether the file is an epoll instance (see [`Watch::wake_depth`]).
    epoll: bool,
}

impl Watch {
    pub(crate) fn file(&self) -> &FileRef {
        &self.file
    }

    /// The kevent queue this watch watches, if it watches one.
    pub(crate) fn queue(&self) -> Option<&Arc<Queue>> {
        self.queue.as_ref()
    }

    /// Whether every other reference to the file is gone: its requests are
    /// to be removed, and nobody can name the file again.
    pub(crate) fn is_closed(&self) -> bool {
        self.file.is_only_reference()
    }

    /// How deep inside other queues' wake-ups a wake-up from this file
    /// runs, for the lockdep subclass of the woken queue's poller lock: one
    /// more than the watched queue's own depth, 0 for any other file.
    ///
    /// `None` for an epoll instance: its wake-ups are passed on from a work
    /// item, never under its lock. epoll cannot see a loop that runs
    /// through a kevent queue, so an epoll instance watching a queue that
    /// watches it is allowed, and waking under its lock could come back to
    /// the same lock.
    pub(crate) fn wake_depth(&self) -> Option<u32> {
        match &self.queue {
            _ if self.epoll => None,
            Some(queue) => Some(queue.wake_depth() + 1),
            None => Some(0),
        }
    }

    /// Identifies the file (its address, stable while the watch lives).
    fn key(&self) -> usize {
        self.file.file().as_ptr() as usize
    }
}

/// A watched file's place in the [`WatchTable`].
struct Slot {
    watch: Arc<Watch>,
    /// The requests on the file: most files have one, kept here, so that
    /// watching a file costs no tree node; the others by address.
    first: Option<Arc<Request>>,
    others: RBTree<usize, Arc<Request>>,
    /// Whether `first` is taken, or promised to an ADD in progress.
    first_claimed: bool,
    /// ADDs that hold the watch but have not attached their request yet.
    adders: usize,
}

impl Slot {
    fn is_unused(&self) -> bool {
        self.adders == 0 && !self.first_claimed && self.others.iter().next().is_none()
    }
}

/// Every watched file of the device, by address: each has exactly one
/// watch while any request uses it.
pub(crate) struct WatchTable {
    files: RBTree<usize, Slot>,
    /// Where the sweep goes on: the next key to visit.
    cursor: usize,
}

/// A watch held by an ADD: attached to its request by
/// [`WatchTable::attach`], or given back when dropped unattached (a failed
/// ADD), so that its slot counts no adder that is gone.
pub(crate) struct PendingWatch<'a> {
    table: &'a Mutex<WatchTable>,
    watch: Option<Arc<Watch>>,
    /// Where the request goes: the slot's `first`, claimed for this ADD,
    /// or a node of `others` that [`PendingWatch::reserve`] allocates.
    place: Place,
}

enum Place {
    First,
    Other(Option<RBTreeNodeReservation<usize, Arc<Request>>>),
}

impl PendingWatch<'_> {
    pub(crate) fn watch(&self) -> Option<&Arc<Watch>> {
        self.watch.as_ref()
    }

    /// Allocates what attaching will need (nothing for the first request
    /// on a file). Call without the table locked.
    pub(crate) fn reserve(&mut self) -> Result {
        if let Place::Other(node @ None) = &mut self.place {
            *node = Some(RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?);
        }
        Ok(())
    }
}

impl Drop for PendingWatch<'_> {
    fn drop(&mut self) {
        if let Some(watch) = self.watch.take() {
            let first = matches!(self.place, Place::First);
            let unused = self.table.lock().abandon(&watch, first);
            // The file is released (if this was the last use) unlocked.
            drop((watch, unused));
        }
    }
}

/// Takes a watch of `file` for an ADD (see [`WatchTable::watch`]).
pub(crate) fn watch_file(
    table: &Mutex<WatchTable>,
    file: FileRef,
) -> Result<(PendingWatch<'_>, bool)> {
    let (watch, new, first) = table.lock().watch(file)?;
    let place = if first {
        Place::First
    } else {
        Place::Other(None)
    };
    Ok((
        PendingWatch {
            table,
            watch: Some(watch),
            place,
        },
        new,
    ))
}

/// The requests of a closed file, taken out of the table by the sweep.
pub(crate) struct ClosedFile {
    first: Option<Arc<Request>>,
    others: RBTree<usize, Arc<Request>>,
    _watch: Arc<Watch>,
}

impl ClosedFile {
    pub(crate) fn requests(&self) -> impl Iterator<Item = &Arc<Request>> {
        Iterator::chain(self.first.iter(), self.others.values())
    }
}

impl WatchTable {
    pub(crate) fn new() -> Self {
        Self {
            files: RBTree::new(),
            cursor: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.files.iter().next().is_none()
    }

    /// The watch of `file` (a reference taken for the ADD), made if the
    /// file has none; the ADD's reference is dropped if it has one. Counts
    /// the caller as an adder; returns the watch, whether it is new, and
    /// whether the slot's `first` is claimed for the caller.
    fn watch(&mut self, file: FileRef) -> Result<(Arc<Watch>, bool, bool)> {
        let key = file.file().as_ptr() as usize;
        if let Some(slot) = self.files.get_mut(&key) {
            slot.adders += 1;
            let first = !slot.first_claimed;
            slot.first_claimed = true;
            return Ok((slot.watch.clone(), false, first));
        }
        let queue = crate::queue::queue_of(file.file());
        let epoll = file.file().is_epoll();
        let watch = Arc::new(Watch { file, queue, epoll }, GFP_KERNEL_ACCOUNT)?;
        let slot = Slot {
            watch: watch.clone(),
            first: None,
            others: RBTree::new(),
            first_claimed: true,
            adders: 1,
        };
        self.files
            .try_create_and_insert(key, slot, GFP_KERNEL_ACCOUNT)?;
        Ok((watch, true, true))
    }

    /// Records `req` as a request on the watch `pending` holds (call with
    /// the table locked by `self`, having called [`PendingWatch::reserve`]).
    pub(crate) fn attach(&mut self, pending: &mut PendingWatch<'_>, req: Arc<Request>) {
        let Some(watch) = pending.watch.take() else {
            return;
        };
        // An adder keeps its slot in the table, so it is there.
        let Some(slot) = self.files.get_mut(&watch.key()) else {
            return;
        };
        slot.adders -= 1;
        match core::mem::replace(&mut pending.place, Place::Other(None)) {
            // Claimed for this ADD, so empty.
            Place::First => slot.first = Some(req),
            Place::Other(Some(node)) => {
                let addr = core::ptr::from_ref::<Request>(&req) as usize;
                slot.others.insert(node.into_node(addr, req));
            }
            // Not reserved: the caller broke the rule above.
            Place::Other(None) => {
                kernel::pr_warn!("kevent: a request was attached to its watch unreserved\n");
            }
        }
    }

    /// An adder gives `watch` back unused (with its claim of `first`);
    /// returns the watch if its file has no other use, to be dropped
    /// unlocked.
    fn abandon(&mut self, watch: &Watch, first: bool) -> Option<Arc<Watch>> {
        let key = watch.key();
        if let Some(slot) = self.files.get_mut(&key) {
            slot.adders -= 1;
            if first {
                slot.first_claimed = false;
            }
        }
        self.remove_if_unused(key)
    }

    /// Forgets `req`, which is leaving its queue. Returns the watch if the
    /// file has no requests left, for the caller to drop after unlocking.
    pub(crate) fn detach(&mut self, watch: &Watch, req: &Request) -> Option<Arc<Watch>> {
        let key = watch.key();
        let slot = self.files.get_mut(&key)?;
        if slot
            .first
            .as_ref()
            .is_some_and(|first| core::ptr::eq::<Request>(&**first, req))
        {
            slot.first = None;
            slot.first_claimed = false;
        } else {
            slot.others.remove(&(core::ptr::from_ref(req) as usize));
        }
        self.remove_if_unused(key)
    }

    fn remove_if_unused(&mut self, key: usize) -> Option<Arc<Watch>> {
        if self.files.get(&key).is_some_and(Slot::is_unused) {
            return self.files.remove(&key).map(|slot| slot.watch);
        }
        None
    }

    /// The sweep: visits up to `*budget` watches after the cursor, taking
    /// out the first whose file is closed. `None` when the budget is spent
    /// or a round of the table is complete.
    pub(crate) fn take_closed(&mut self, budget: &mut usize) -> Option<ClosedFile> {
        let mut wrapped = false;
        while *budget > 0 {
            let Some(mut cursor) = self.files.cursor_lower_bound(&self.cursor) else {
                // Past the last key: start again from the first, once.
                if wrapped || self.cursor == 0 {
                    self.cursor = 0;
                    return None;
                }
                wrapped = true;
                self.cursor = 0;
                continue;
            };
            loop {
                *budget -= 1;
                let (&key, slot) = cursor.current();
                // An ADD in progress holds the slot: the sweep after it
                // finds the file if it is closed.
                let closed = slot.adders == 0 && slot.watch.is_closed();
                self.cursor = key.wrapping_add(1);
                if closed {
                    let (_, node) = cursor.remove_current();
                    let (_, slot) = node.to_key_value();
                    return Some(ClosedFile {
                        first: slot.first,
                        others: slot.others,
                        _watch: slot.watch,
                    });
                }
                if *budget == 0 {
                    return None;
                }
                match cursor.move_next() {
                    Some(next) => cursor = next,
                    None => {
                        self.cursor = 0;
                        return None;
                    }
                }
            }
        }
        None
    }
}
