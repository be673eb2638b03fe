// SPDX-License-Identifier: GPL-2.0

//! Memory totals (`totalram_pages()`, an inline function in C), and the
//! memory area an `mmap` sets up: upstream's `kernel::mm::virt::VmaNew` on
//! 7.2, written here for 6.12.

use kernel::{bindings, page::PAGE_SIZE};

#[cfg(linux_ge_7_2)]
pub(crate) use kernel::mm::virt::VmaNew;

/// A virtual memory area being set up by a file's `mmap`, with the mm's
/// lock held for writing.
#[cfg(not(linux_ge_7_2))]
#[repr(transparent)]
pub(crate) struct VmaNew(kernel::types::Opaque<bindings::vm_area_struct>);

#[cfg(not(linux_ge_7_2))]
impl VmaNew {
    /// # Safety
    ///
    /// `vma` is a memory area being set up by `mmap`, which stays valid
    /// and locked for `'a`.
    pub(crate) unsafe fn from_raw<'a>(vma: *mut bindings::vm_area_struct) -> &'a Self {
        // SAFETY: `VmaNew` is a transparent wrapper of the C struct, and
        // the caller guarantees it is valid for `'a`.
        unsafe { &*vma.cast::<Self>() }
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::vm_area_struct {
        self.0.get()
    }
}

/// The memory the kernel manages, in bytes.
pub(crate) fn total_ram_bytes() -> u64 {
    // SAFETY: `_totalram_pages` is a global `atomic_long_t` that lives
    // forever; this reads it as `atomic_long_read()` does.
    let pages = unsafe { core::ptr::addr_of!(bindings::_totalram_pages.counter).read_volatile() };
    (pages.max(0) as u64).saturating_mul(PAGE_SIZE as u64)
}
