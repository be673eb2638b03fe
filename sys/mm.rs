// SPDX-License-Identifier: GPL-2.0

//! Memory totals: `totalram_pages()`, an inline function in C.

use kernel::{bindings, page::PAGE_SIZE};

/// The memory the kernel manages, in bytes.
pub(crate) fn total_ram_bytes() -> u64 {
    // SAFETY: `_totalram_pages` is a global `atomic_long_t` that lives
    // forever; this reads it as `atomic_long_read()` does.
    let pages = unsafe { core::ptr::addr_of!(bindings::_totalram_pages.counter).read_volatile() };
    (pages.max(0) as u64).saturating_mul(PAGE_SIZE as u64)
}
