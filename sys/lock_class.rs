// SPDX-License-Identifier: GPL-2.0

//! Lockdep class keys for C objects initialised here.
//!
//! 6.12's `kernel::sync::LockClassKey` hides its pointer from other crates,
//! so wait queue heads, whose initialiser takes a key, use this one.

use kernel::{bindings, types::Opaque};

/// A static lockdep class key.
#[repr(transparent)]
pub(crate) struct ClassKey(Opaque<bindings::lock_class_key>);

impl ClassKey {
    /// Creates a key for a `static`; lockdep initialises it on first use.
    pub(crate) const fn new() -> Self {
        Self(Opaque::uninit())
    }

    pub(crate) fn as_ptr(&'static self) -> *mut bindings::lock_class_key {
        self.0.get()
    }
}

// SAFETY: lockdep owns the key's contents and synchronises its own accesses;
// Rust code only ever takes its address.
unsafe impl Sync for ClassKey {}

/// Creates a static [`ClassKey`] for the call site.
macro_rules! class_key {
    () => {{
        static KEY: $crate::sys::lock_class::ClassKey = $crate::sys::lock_class::ClassKey::new();
        &KEY
    }};
}
pub(crate) use class_key;
