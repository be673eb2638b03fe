// SPDX-License-Identifier: GPL-2.0

//! seq_file: the buffer a `show_fdinfo` file operation writes to.
//!
//! Upstream's `kernel::seq_file` (Linux 6.13), which 7.2 has (`sys.rs`
//! uses it there), written for 6.12 with the same API: `SeqFile` and the
//! `seq_print!` macro.

use kernel::{bindings, types::Opaque};

/// A `struct seq_file` being written by its owner.
#[repr(transparent)]
pub(crate) struct SeqFile(Opaque<bindings::seq_file>);

impl SeqFile {
    /// # Safety
    ///
    /// `ptr` must be a valid seq_file that no other thread accesses while
    /// the returned reference lives.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::seq_file) -> &'a SeqFile {
        // SAFETY: `SeqFile` is `repr(transparent)` over `struct seq_file`;
        // validity for `'a` is guaranteed by the caller.
        unsafe { &*ptr.cast() }
    }

    /// Used by the [`seq_print`] macro.
    pub(crate) fn call_printf(&self, args: core::fmt::Arguments<'_>) {
        // SAFETY: The seq_file is valid and only this thread writes it
        // (`from_raw`); `%pA` formats the `Arguments` it points to.
        // `seq_printf` marks the buffer as overflowed when full, and procfs
        // retries with a larger one.
        unsafe {
            bindings::seq_printf(
                self.0.get(),
                kernel::c_str!("%pA").as_char_ptr(),
                core::ptr::from_ref(&args).cast::<core::ffi::c_void>(),
            )
        };
    }
}

/// Writes to a [`SeqFile`] with Rust's formatting syntax.
macro_rules! seq_print {
    ($m:expr, $($arg:tt)+) => {
        $m.call_printf(core::format_args!($($arg)+))
    };
}
pub(crate) use seq_print;
