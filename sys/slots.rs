// SPDX-License-Identifier: GPL-2.0

//! An array on the stack whose slots are initialised when first set.
//!
//! A collection takes its ready requests `BATCH` at a time into an array
//! of `Option`s on the stack. Made with `Default`, every slot is written
//! when the array is made and checked when it is dropped, all of them, on
//! every call, even the common one that takes a single event. Here a slot
//! is written the first time it is set, and only the slots ever set are
//! dropped; setting a slot again drops its old value, as an assignment to
//! an array element does.

use core::mem::MaybeUninit;

/// `N` slots of `T`, the first `set` of them initialised.
///
/// # Invariants
///
/// The first `set` slots of `items` are initialised, and `set <= N`.
pub(crate) struct Slots<T, const N: usize> {
    items: [MaybeUninit<T>; N],
    set: usize,
}

impl<T, const N: usize> Slots<T, N> {
    pub(crate) fn new() -> Self {
        // INVARIANT: no slot is initialised.
        Self {
            items: [const { MaybeUninit::uninit() }; N],
            set: 0,
        }
    }

    /// Puts `value` in slot `i`, dropping what it held. Slots are set in
    /// order: `i` is at most the number of slots set so far, or `value`
    /// is handed back (as it is for `i >= N`).
    pub(crate) fn set(&mut self, i: usize, value: T) -> Result<(), T> {
        if i < self.set {
            // SAFETY: slot `i` is below `set`, so initialised (type
            // invariant); the assignment drops its old value.
            unsafe { *self.items[i].assume_init_mut() = value };
            return Ok(());
        }
        if i > self.set || i >= N {
            return Err(value);
        }
        self.items[i].write(value);
        // INVARIANT: slot `i`, the one at the old `set`, was just written.
        self.set += 1;
        Ok(())
    }

    /// The first `n` slots, at most those set so far.
    pub(crate) fn first_mut(&mut self, n: usize) -> &mut [T] {
        let n = n.min(self.set);
        // SAFETY: the first `set` slots are initialised (type invariant),
        // `n <= set`, and `MaybeUninit<T>` has `T`'s layout; the borrow of
        // `self` keeps them from being dropped or moved meanwhile.
        unsafe { core::slice::from_raw_parts_mut(self.items.as_mut_ptr().cast::<T>(), n) }
    }
}

impl<T, const N: usize> Drop for Slots<T, N> {
    fn drop(&mut self) {
        let set: *mut [T] = self.first_mut(self.set);
        // SAFETY: these are the initialised slots, dropped once here and
        // never read again.
        unsafe { core::ptr::drop_in_place(set) };
    }
}
