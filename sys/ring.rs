// SPDX-License-Identifier: GPL-2.0

//! A queue's event ring: memory shared with the program that maps the
//! queue (the pages of `sys/ring.c`), and the kernel's side of the ring's
//! protocol (see `struct kevent_ring` in the uapi header).
//!
//! Upstream has no abstraction for rings shared with user space (io_uring
//! is C); this follows the shape of the others here: a safe type owns the
//! memory, and nothing the program writes is trusted. The kernel never
//! reads an entry, and reads `head` only to bound what it writes.

use crate::defs::Ukevent;
use crate::layout;
use crate::sys::mm::VmaNew;
use core::{
    ffi::{c_int, c_void},
    mem::{offset_of, size_of},
    ptr::NonNull,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{error::Error, page::PAGE_SIZE, prelude::*, sync::Arc};

/// `struct kevent_ring_mem`, which only the C side reads.
#[repr(C)]
struct RawMem {
    _opaque: [u8; 0],
}

extern "C" {
    fn kevent_ring_mem_alloc(size: usize) -> *mut RawMem;
    fn kevent_ring_mem_free(mem: *mut RawMem);
    fn kevent_ring_mem_addrs(mem: *mut RawMem) -> *mut *mut c_void;
    // `struct vm_area_struct *`, passed through (bindgen's type of it holds
    // an opaque struct, which the FFI lint refuses).
    fn kevent_ring_mem_mmap(mem: *mut RawMem, vma: *mut c_void) -> c_int;
}

/// `struct kevent_ring_entry`.
#[repr(C)]
struct RingEntry {
    id: [u32; 2],
    type_: u32,
    ret_flags: u32,
    ret_data: [u32; 2],
    user: u64,
}

const _: () = {
    assert!(size_of::<RingEntry>() == layout::RING_ENTRY_SIZE);
    assert!(offset_of!(RingEntry, id) == layout::RING_ENTRY_ID);
    assert!(offset_of!(RingEntry, type_) == layout::RING_ENTRY_TYPE);
    assert!(offset_of!(RingEntry, ret_flags) == layout::RING_ENTRY_RET_FLAGS);
    assert!(offset_of!(RingEntry, ret_data) == layout::RING_ENTRY_RET_DATA);
    assert!(offset_of!(RingEntry, user) == layout::RING_ENTRY_USER);
    // The header's words are 4-aligned, the entries 8-aligned.
    assert!(layout::RING_HEAD % 4 == 0 && layout::RING_TAIL % 4 == 0);
    assert!(layout::RING_MASK % 4 == 0 && layout::RING_FLAGS % 4 == 0);
    assert!(layout::RING_ENTRIES == layout::RING_HEADER_SIZE);
    assert!(layout::RING_ENTRIES % 8 == 0);
    // No entry straddles a page.
    assert!(PAGE_SIZE % layout::RING_HEADER_SIZE == 0);
    assert!(PAGE_SIZE % layout::RING_ENTRY_SIZE == 0);
};

/// The memory of a ring of `entries` entries: the header, then the entries.
///
/// # Invariants
///
/// `mem` came from `kevent_ring_mem_alloc(Self::size(entries))` and is
/// freed only by `drop`; `pages` is its array of the addresses of its
/// pages, each valid for `PAGE_SIZE` bytes while `self` lives; `entries` is
/// a power of two.
pub(crate) struct RingMem {
    mem: NonNull<RawMem>,
    pages: NonNull<*mut c_void>,
    entries: u32,
}

// SAFETY: The memory is not tied to a thread. Of the words the program
// may write at the same time, the header's are only accessed atomically,
// and the entries only get volatile stores (under the queue's ready lock)
// and are never read back (see `put`).
unsafe impl Send for RingMem {}
// SAFETY: See `Send`: `&RingMem` gives only those accesses.
unsafe impl Sync for RingMem {}

impl RingMem {
    /// The bytes of a ring of `entries` entries.
    pub(crate) fn size(entries: u32) -> usize {
        layout::RING_HEADER_SIZE + entries as usize * layout::RING_ENTRY_SIZE
    }

    /// Zeroed memory for a ring of `entries` entries, a power of two that
    /// the caller checked is within the uapi's bounds.
    pub(crate) fn new(entries: u32) -> Result<Self> {
        if !entries.is_power_of_two() {
            return Err(EINVAL);
        }
        // SAFETY: Any size may be asked for; NULL is a failure.
        let mem =
            NonNull::new(unsafe { kevent_ring_mem_alloc(Self::size(entries)) }).ok_or(ENOMEM)?;
        // SAFETY: `mem` is a live ring memory.
        let pages = unsafe { kevent_ring_mem_addrs(mem.as_ptr()) };
        // INVARIANT: the helper made `size` bytes' worth of pages, whose
        // addresses `pages` holds (never null for a live ring memory).
        let Some(pages) = NonNull::new(pages) else {
            // SAFETY: `mem` is live and not used again.
            unsafe { kevent_ring_mem_free(mem.as_ptr()) };
            return Err(ENOMEM);
        };
        let this = Self {
            mem,
            pages,
            entries,
        };
        this.word(layout::RING_MASK)
            .store(entries - 1, Ordering::Relaxed);
        Ok(this)
    }

    pub(crate) fn entries(&self) -> u32 {
        self.entries
    }

    /// The address of byte `offset` of the ring. (No item straddles a
    /// page, so an item's bytes follow its first.)
    ///
    /// # Safety
    ///
    /// `offset` is below the ring's size.
    unsafe fn at(&self, offset: usize) -> *mut u8 {
        debug_assert!(offset < Self::size(self.entries));
        // SAFETY: `offset` is below the size (the caller's promise), so its
        // page is one of the ring's and `pages` has its address (type
        // invariant).
        let page = unsafe { *self.pages.as_ptr().add(offset / PAGE_SIZE) };
        // SAFETY: The page is `PAGE_SIZE` bytes.
        unsafe { page.cast::<u8>().add(offset % PAGE_SIZE) }
    }

    /// The header's 32-bit word at `offset` (a `layout::RING_*` constant).
    fn word(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset + 4 <= layout::RING_HEADER_SIZE && offset % 4 == 0);
        // SAFETY: `offset` is one of the header's word offsets (4-aligned,
        // inside the header on the first page, checked at compile time
        // above), and the memory lives as long as `self`. `AtomicU32` has
        // the layout of `u32`, and the word is only ever accessed
        // atomically here; the program's concurrent 32-bit loads and stores
        // of it cannot tear it.
        unsafe { &*self.at(offset).cast::<AtomicU32>() }
    }

    /// Writes `entry` in slot `index & (entries - 1)`.
    fn put(&self, index: u32, entry: RingEntry) {
        let slot = (index & (self.entries - 1)) as usize;
        let at = layout::RING_ENTRIES + slot * layout::RING_ENTRY_SIZE;
        // SAFETY: `slot < entries`, so the entry lies inside the memory, on
        // one page (entries are 32 bytes from offset 128, and a page is a
        // multiple of 128 bytes, asserted at the top of this file), 8-aligned. The program
        // may write the same bytes at the same time: a volatile write of
        // plain integers leaves at worst garbage in its own ring, and the
        // kernel never reads entries back.
        unsafe { core::ptr::write_volatile(self.at(at).cast::<RingEntry>(), entry) };
    }

    /// Maps the ring into `vma`: shared, from offset 0, at most its pages
    /// (`EINVAL` otherwise).
    pub(crate) fn mmap(&self, vma: &VmaNew) -> Result {
        // SAFETY: `mem` is live; `vma` is being set up by `mmap`, with the
        // mm's lock held for writing, as `vm_insert_pages` needs.
        let r = unsafe { kevent_ring_mem_mmap(self.mem.as_ptr(), vma.as_ptr().cast()) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }
}

impl Drop for RingMem {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `mem` is live and this is its last
        // use. Mappings hold references to the pages of their own.
        unsafe { kevent_ring_mem_free(self.mem.as_ptr()) };
    }
}

/// The kernel's side of a ring: it owns `tail`, which it publishes to the
/// program, and reads the program's `head` only to bound what it writes.
/// Its methods take `&mut self`: the caller serialises the producers (the
/// queue's ready lock).
pub(crate) struct Ring {
    mem: Arc<RingMem>,
    /// The kernel's own tail: never read back from the shared memory.
    tail: u32,
}

impl Ring {
    pub(crate) fn new(mem: Arc<RingMem>) -> Self {
        Self { mem, tail: 0 }
    }

    pub(crate) fn entries(&self) -> u32 {
        self.mem.entries
    }

    /// The entries written and not yet read, or `None` if the program's
    /// `head` is not within `entries` of the tail (it wrote nonsense).
    pub(crate) fn unread(&self) -> Option<u32> {
        // Acquire: the program's reads of the entries it frees come before
        // the kernel writes over them.
        let head = self.mem.word(layout::RING_HEAD).load(Ordering::Acquire);
        let unread = self.tail.wrapping_sub(head);
        (unread <= self.mem.entries).then_some(unread)
    }

    /// How many entries can be written now (none if `head` is nonsense).
    pub(crate) fn room(&self) -> u32 {
        self.unread().map_or(0, |unread| self.mem.entries - unread)
    }

    /// Writes `events` at the tail, as many as there is room for, and
    /// publishes them. Returns how many.
    pub(crate) fn write(&mut self, events: &[Ukevent]) -> usize {
        let n = self.stage(events);
        if n > 0 {
            self.publish();
        }
        n
    }

    /// Writes `events` at the tail, as many as there is room for, for
    /// [`Ring::publish`] to publish. Returns how many.
    pub(crate) fn stage(&mut self, events: &[Ukevent]) -> usize {
        let n = events.len().min(self.room() as usize);
        for uk in &events[..n] {
            self.put_at_tail(uk);
        }
        n
    }

    /// [`Ring::stage`] of one event, the wake-up's: returns whether there
    /// was room. A one-event slice through `stage` cost 50 instructions more.
    pub(crate) fn stage_one(&mut self, uk: &Ukevent) -> bool {
        if self.room() == 0 {
            return false;
        }
        self.put_at_tail(uk);
        true
    }

    /// Writes `uk` at the tail and moves the tail past it; the caller
    /// checked that there is room.
    #[inline(always)]
    fn put_at_tail(&mut self, uk: &Ukevent) {
        self.mem.put(
            self.tail,
            RingEntry {
                id: uk.id,
                type_: uk.type_,
                ret_flags: uk.ret_flags,
                ret_data: uk.ret_data,
                user: uk.user,
            },
        );
        self.tail = self.tail.wrapping_add(1);
    }

    /// Shows the program the entries written so far.
    pub(crate) fn publish(&mut self) {
        // Release: the entries, and whatever the caller did before, are
        // written before the program sees the tail that covers them.
        self.mem
            .word(layout::RING_TAIL)
            .store(self.tail, Ordering::Release);
    }

    /// Says in the header whether events wait outside the ring.
    pub(crate) fn set_backlog(&mut self, waiting: bool) {
        let flags = if waiting {
            crate::defs::KEVENT_RING_BACKLOG
        } else {
            0
        };
        self.mem
            .word(layout::RING_FLAGS)
            .store(flags, Ordering::Relaxed);
    }
}
