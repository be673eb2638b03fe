// SPDX-License-Identifier: GPL-2.0

//! Lockdep class keys for C objects initialised here.
//!
//! 6.12's `kernel::sync::LockClassKey` hides its pointer from other crates,
//! so wait queue heads, whose initialiser takes a key, use this one, with
//! the API upstream's has in 7.2 (`sys.rs` uses that one there).

use kernel::{bindings, types::Opaque};

/// A static lockdep class key.
#[repr(transparent)]
pub(crate) struct LockClassKey(Opaque<bindings::lock_class_key>);

impl LockClassKey {
    /// Creates a key for a `static`; lockdep initialises it on first use.
    pub(crate) const fn new_static() -> Self {
        Self(Opaque::uninit())
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::lock_class_key {
        self.0.get()
    }
}

// SAFETY: lockdep owns the key's contents and synchronises its own accesses;
// Rust code only ever takes its address.
unsafe impl Sync for LockClassKey {}

/// Creates a static [`LockClassKey`] for the call site.
macro_rules! static_lock_class {
    () => {{
        static CLASS: $crate::sys::lock_class::LockClassKey =
            $crate::sys::lock_class::LockClassKey::new_static();
        core::pin::Pin::static_ref(&CLASS)
    }};
}
pub(crate) use static_lock_class;
