// SPDX-License-Identifier: GPL-2.0

//! A FIFO of reference-counted items that belong to one list for life.
//!
//! `kernel::list::List` can only remove an item from the middle with an
//! unsafe call whose caller promises the item is not on another list. Here
//! each list gets a unique id, each item names the id of the list it
//! belongs to, and only that list accepts it; so every item is either on
//! its own list or on none, which is the promise `remove` needs.

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::list::{List, ListArc, ListItem};

/// Items that belong to one [`OwnedList`] for life.
pub(crate) trait ListOwner {
    /// The id of the list this item may be on ([`OwnedList::id`]).
    fn list_id(&self) -> u64;
}

/// A FIFO list with an O(1) remove of any of its items.
///
/// # Invariants
///
/// Every item on `list` has `list_id() == id`; ids are unique among all
/// `OwnedList`s; `len` is the number of items on `list`. Items of types
/// used here are never put on any other `List` (this crate only ever
/// creates `List`s through this type).
pub(crate) struct OwnedList<T: ListItem + ListOwner> {
    list: List<T>,
    id: u64,
    len: usize,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl<T: ListItem + ListOwner> OwnedList<T> {
    /// Creates an empty list with a new unique id.
    pub(crate) fn new() -> Self {
        // INVARIANT: a 64-bit counter never wraps in practice.
        Self {
            list: List::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            len: 0,
        }
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

    /// Appends `item`. An item of another list is handed back.
    pub(crate) fn push_back(&mut self, item: ListArc<T>) -> Result<(), ListArc<T>> {
        if item.list_id() != self.id {
            return Err(item);
        }
        self.list.push_back(item);
        self.len += 1;
        Ok(())
    }

    /// Prepends `item`. An item of another list is handed back.
    pub(crate) fn push_front(&mut self, item: ListArc<T>) -> Result<(), ListArc<T>> {
        if item.list_id() != self.id {
            return Err(item);
        }
        self.list.push_front(item);
        self.len += 1;
        Ok(())
    }

    /// The items, front to back.
    pub(crate) fn iter(&self) -> impl Iterator<Item = kernel::sync::ArcBorrow<'_, T>> {
        self.list.iter()
    }

    pub(crate) fn pop_front(&mut self) -> Option<ListArc<T>> {
        let item = self.list.pop_front()?;
        self.len -= 1;
        Some(item)
    }

    /// Removes `item` if it is on this list.
    pub(crate) fn remove(&mut self, item: &T) -> Option<ListArc<T>> {
        if item.list_id() != self.id {
            return None;
        }
        // SAFETY: `item` belongs to this list, so by the type invariant it
        // is on this list or on no list at all.
        let removed = unsafe { self.list.remove(item) }?;
        self.len -= 1;
        Some(removed)
    }
}
