// SPDX-License-Identifier: GPL-2.0

//! A FIFO of reference-counted items that belong to one list for life.
//!
//! `kernel::list::List` can only remove an item from the middle with an
//! unsafe call whose caller promises the item is not on another list. Here
//! each list gets a unique id, each item names the id of the list it
//! belongs to, and only that list accepts it; so every item is either on
//! its own list or on none, which is the promise `remove` needs.
//!
//! Whether the list is empty can also be read without the lock that
//! guards it, through an [`EmptyHint`], as epoll reads whether its ready
//! list is empty (`ep_events_available`). Its owner may have the hint
//! count items it took off the list as still there
//! ([`OwnedList::pop_front_held`]), as epoll's counts a scan in progress.
//!
//! A scan can walk the list from the front across drops of its lock, the
//! way epoll's `ep_start_scan` takes its ready list aside: the items it
//! has looked at and keeps go to a second list, `seen`, which stays at
//! the front of the line until the scan ends, so that the next item to
//! look at is always the first of the rest. Each step costs O(1) however
//! far the scan has gone; `iter().skip(n)` would walk the `n` again.

use core::marker::PhantomPinned;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::list::{List, ListArc, ListArcSafe, ListItem, TryNewListArc};
use kernel::prelude::*;
use kernel::sync::Arc;

/// Makes the `ListLinks` field `$field` of `$t` its links on lists of id
/// 0. 6.12's `impl_list_item!` takes the field from a separate
/// `impl_has_list_links!`; 7.2's names it itself.
macro_rules! impl_list_links {
    ($t:ident, $field:ident) => {
        #[cfg(not(linux_ge_7_2))]
        kernel::list::impl_has_list_links! {
            impl HasListLinks<0> for $t { self.$field }
        }
        #[cfg(not(linux_ge_7_2))]
        kernel::list::impl_list_item! {
            impl ListItem<0> for $t { using ListLinks; }
        }
        #[cfg(linux_ge_7_2)]
        kernel::list::impl_list_item! {
            impl ListItem<0> for $t { using ListLinks { self.$field }; }
        }
    };
}
pub(crate) use impl_list_links;

/// Tracks whether an item's `ListArc` exists, as `kernel::list::AtomicTracker`
/// does, and can also say so without trying to take it ([`Self::is_taken`]):
/// a caller that only needs to know whether it could queue the item then
/// costs no compare-and-swap, and no reference taken and dropped again.
///
/// # Invariants
///
/// `taken` is `true` exactly while a `ListArc` of the item exists, as
/// `AtomicTracker`'s flag is.
#[pin_data]
pub(crate) struct ListArcTracker {
    taken: AtomicBool,
    /// Pinned, so that it is never moved into an `Arc` that has a
    /// `ListArc` already (the invariant of `new`, as `AtomicTracker`'s).
    #[pin]
    _pin: PhantomPinned,
}

impl ListArcTracker {
    pub(crate) fn new() -> impl PinInit<Self> {
        // INVARIANT: a pin-initialiser cannot reach an existing `Arc`, so
        // no `ListArc` of the item exists yet.
        pin_init!(Self {
            taken: AtomicBool::new(false),
            _pin: PhantomPinned,
        })
    }

    /// Whether a `ListArc` of the item exists. Exact for a caller that
    /// holds the lock under which every `ListArc` of the item is made and
    /// let go of; otherwise a moment's answer.
    pub(crate) fn is_taken(&self) -> bool {
        self.taken.load(Ordering::Acquire)
    }
}

impl ListArcSafe<0> for ListArcTracker {
    unsafe fn on_create_list_arc_from_unique(self: Pin<&mut Self>) {
        // SAFETY: `taken` is not structurally pinned.
        let this = unsafe { Pin::into_inner_unchecked(self) };
        // INVARIANT: a `ListArc` was just made.
        *this.taken.get_mut() = true;
    }

    unsafe fn on_drop_list_arc(&self) {
        // INVARIANT: the `ListArc` was just dropped. Release: what its
        // holder did happens before the next `ListArc` is made.
        self.taken.store(false, Ordering::Release);
    }
}

// SAFETY: `try_new_list_arc` returns `true` only if it turned `taken` from
// `false` to `true`: by the invariant no `ListArc` existed, and the next
// caller sees `true` until the new one is dropped. Acquire pairs with the
// release of the previous `ListArc`'s drop.
unsafe impl TryNewListArc<0> for ListArcTracker {
    fn try_new_list_arc(&self) -> bool {
        self.taken
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }
}

/// Items that belong to one [`OwnedList`] for life.
pub(crate) trait ListOwner {
    /// The id of the list this item may be on ([`OwnedList::id`]).
    fn list_id(&self) -> u64;
}

/// A FIFO list with an O(1) remove of any of its items.
///
/// The line is `seen` (empty unless a scan runs), then `list`.
///
/// # Invariants
///
/// Every item on `list` or `seen` has `list_id() == id`; ids are unique
/// among all `OwnedList`s; `seen_len` is the number of items on `seen`,
/// `len` the number on both, and `empty` holds `len == 0 && !held`
/// whenever no `&mut self` method is running. Items of types used here are
/// never put on any other `List` (this crate only ever creates `List`s
/// through this type).
pub(crate) struct OwnedList<T: ListItem + ListOwner> {
    list: List<T>,
    seen: List<T>,
    id: u64,
    len: usize,
    seen_len: usize,
    /// Items taken off the list count as still there for the hint.
    held: bool,
    empty: Arc<AtomicBool>,
}

/// Whether an [`OwnedList`] is empty, readable without the list's lock.
///
/// Only the list writes it, under its lock, when its length goes to or
/// from 0 or its owner lets go of the items it held: a read sees the list
/// as it was at some moment between the last change the reader saw and
/// now. That answers "is anything there?" for a caller that does not
/// wait, and is never enough to decide to sleep (that check must be made
/// under the lock).
pub(crate) struct EmptyHint(Arc<AtomicBool>);

impl EmptyHint {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl<T: ListItem + ListOwner> OwnedList<T> {
    /// Creates an empty list with a new unique id, and the hint of its
    /// emptiness for readers without its lock.
    pub(crate) fn new(flags: kernel::alloc::Flags) -> Result<(Self, EmptyHint)> {
        let empty = Arc::new(AtomicBool::new(true), flags)?;
        let hint = EmptyHint(empty.clone());
        // INVARIANT: a 64-bit counter never wraps in practice.
        let list = Self {
            list: List::new(),
            seen: List::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            len: 0,
            seen_len: 0,
            held: false,
            empty,
        };
        Ok((list, hint))
    }

    /// The id that items of this list must report.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Pops the first item; if `hold` says so of it, the hint counts it as
    /// still there (the list is "held") until `release_held`. It is asked
    /// only while nothing is held: one held item is enough to say "not
    /// empty". The hint is written once, as the list empties, so it never
    /// says "empty" while a held item is off the list.
    ///
    /// Not while a scan runs: it would pop the first item the scan has
    /// yet to look at. The caller's locking keeps a scan and the holders
    /// of the front apart (checked on the debug kernel). This path is hot:
    /// ending a scan here cost 3 instructions per event collected at 64
    /// per call (`bench/ab.sh --icount`).
    #[inline(always)]
    pub(crate) fn pop_front_held(&mut self, hold: impl FnOnce(&T) -> bool) -> Option<ListArc<T>> {
        debug_assert_eq!(self.seen_len, 0);
        let item = self.list.pop_front()?;
        if !self.held && hold(&item) {
            self.held = true;
        }
        self.shrink();
        Some(item)
    }

    /// Whether items taken by `pop_front_held` count for the hint.
    pub(crate) fn is_held(&self) -> bool {
        self.held
    }

    /// The hint stops counting the items taken by `pop_front_held`.
    pub(crate) fn release_held(&mut self) {
        if self.held {
            self.held = false;
            // While held, the hint said "not empty".
            if self.len == 0 {
                self.empty.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Counts one more or one fewer item, and updates the hint when the
    /// list stops or starts being empty.
    fn grow(&mut self) {
        self.len += 1;
        if self.len == 1 {
            self.empty.store(false, Ordering::Relaxed);
        }
    }

    // Left to itself since it tests `held`, the compiler calls it out of
    // line, or `remove` with it (10 instructions more per REMOVE, `bench/
    // ab.sh --icount`): both are inlined, as they were before.
    #[inline(always)]
    fn shrink(&mut self) {
        self.len -= 1;
        if self.len == 0 && !self.held {
            self.empty.store(true, Ordering::Relaxed);
        }
    }

    /// Appends `item`. An item of another list is handed back.
    /// A running scan goes on: `item` is behind what it has to look at.
    pub(crate) fn push_back(&mut self, item: ListArc<T>) -> Result<(), ListArc<T>> {
        if item.list_id() != self.id {
            return Err(item);
        }
        self.list.push_back(item);
        self.grow();
        Ok(())
    }

    /// Prepends `item`. An item of another list is handed back.
    /// Not while a scan runs (see `pop_front_held`).
    pub(crate) fn push_front(&mut self, item: ListArc<T>) -> Result<(), ListArc<T>> {
        if item.list_id() != self.id {
            return Err(item);
        }
        debug_assert_eq!(self.seen_len, 0);
        self.list.push_front(item);
        self.grow();
        Ok(())
    }

    /// Removes `item` if it is on this list.
    /// Ends a running scan ([`OwnedList::end_scan`]) first.
    #[inline(always)]
    pub(crate) fn remove(&mut self, item: &T) -> Option<ListArc<T>> {
        if item.list_id() != self.id {
            return None;
        }
        self.end_scan();
        // SAFETY: `item` belongs to this list, so by the type invariant it
        // is on `list`, on `seen` or on no list at all; `seen` is empty
        // after `end_scan`.
        let removed = unsafe { self.list.remove(item) }?;
        self.shrink();
        Some(removed)
    }

    /// The items a scan has yet to look at, front to back (all of them
    /// when no scan runs).
    pub(crate) fn unseen(&self) -> impl Iterator<Item = kernel::sync::ArcBorrow<'_, T>> {
        self.list.iter()
    }

    /// Whether `item` is the first of the items a scan has yet to look at.
    fn is_next_unseen(&self, item: &T) -> bool {
        self.list
            .iter()
            .next()
            .is_some_and(|first| core::ptr::eq(&*first, item))
    }

    /// A scan keeps `item`, the first it has yet to look at: it stays in
    /// line, behind the others kept, until the scan ends.
    pub(crate) fn keep_seen(&mut self, item: &T) {
        // The caller's own bookkeeping; on the debug kernel it is checked.
        debug_assert!(self.is_next_unseen(item));
        if let Some(kept) = self.list.pop_front() {
            self.seen.push_back(kept);
            self.seen_len += 1;
        }
    }

    /// A scan takes `item`, the first it has yet to look at, out of line.
    pub(crate) fn take_unseen(&mut self, item: &T) -> Option<ListArc<T>> {
        debug_assert!(self.is_next_unseen(item));
        let item = self.list.pop_front()?;
        self.shrink();
        Some(item)
    }

    /// Ends a scan: what it kept stays at the front of the line, in the
    /// order it was kept, and the items it did not look at follow.
    pub(crate) fn end_scan(&mut self) {
        if self.seen_len != 0 {
            self.rejoin_seen();
        }
    }

    #[cold]
    fn rejoin_seen(&mut self) {
        self.seen.push_all_back(&mut self.list);
        core::mem::swap(&mut self.list, &mut self.seen);
        self.seen_len = 0;
    }
}
