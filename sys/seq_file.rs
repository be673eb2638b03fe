// SPDX-License-Identifier: GPL-2.0

//! seq_file: the buffer a `show_fdinfo` file operation writes to.
//!
//! Shaped like upstream's `kernel::seq_file` (Linux 6.13), with
//! `core::fmt::Write` in place of its `seq_print!` macro.

use kernel::{bindings, types::Opaque};

/// A `struct seq_file` being written by its owner.
#[repr(transparent)]
pub(crate) struct SeqFile(Opaque<bindings::seq_file>);

impl SeqFile {
    /// # Safety
    ///
    /// `ptr` must be a valid seq_file that nothing else writes while the
    /// returned reference lives.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::seq_file) -> &'a mut SeqFile {
        // SAFETY: `SeqFile` is `repr(transparent)` over `struct seq_file`;
        // validity and exclusivity are guaranteed by the caller.
        unsafe { &mut *ptr.cast() }
    }
}

impl core::fmt::Write for SeqFile {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // SAFETY: The seq_file is valid and ours (type invariant); `s` is
        // valid for reads of `s.len()` bytes. `seq_write` marks the buffer
        // as overflowed when full, and procfs retries with a larger one.
        unsafe { bindings::seq_write(self.0.get(), s.as_ptr().cast(), s.len()) };
        Ok(())
    }
}
