// SPDX-License-Identifier: GPL-2.0

//! Module parameters.
//!
//! 6.12's `module!` macro takes no parameters (upstream added them in
//! Linux 6.16), so this is what C's `module_param(name, uint, perm)` and
//! `MODULE_PARM_DESC` expand to: a `struct kernel_param` in the `__param`
//! section pointing at the value, and `.modinfo` strings. The value is an
//! `AtomicU32`, which has the layout of the `unsigned int` that
//! `param_ops_uint` reads and writes, and is read here without tearing.

use kernel::{bindings, types::Opaque};

/// A `struct kernel_param` that may live in a `static`.
#[repr(transparent)]
pub(crate) struct KernelParam(pub(crate) bindings::kernel_param);

// SAFETY: The kernel reads the descriptor under `kernel_param_lock`; Rust
// code never touches it after its constant initialisation.
unsafe impl Sync for KernelParam {}

// Only the address of `__this_module` is taken; on some configs its
// bindings contain empty structs, which the lint calls not FFI-safe.
#[allow(improper_ctypes)]
extern "C" {
    /// This module, as the `module!` macro refers to it.
    pub(crate) static __this_module: Opaque<bindings::module>;
}

/// Copies a string into a byte array of its length, for `.modinfo`.
pub(crate) const fn modinfo<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Declares `$store` (a `static AtomicU32`) as the module parameter `$name`
/// of type `uint`, settable at load time and through
/// `/sys/module/<module>/parameters/$name` with permissions `$perm`.
macro_rules! module_param_uint {
    ($name:ident, $store:path, $perm:expr, $desc:literal) => {
        const _: () = {
            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: $crate::sys::param::KernelParam =
                $crate::sys::param::KernelParam(kernel::bindings::kernel_param {
                    name: concat!(stringify!($name), "\0").as_ptr().cast(),
                    // SAFETY: Taking the address of the module, which the
                    // kernel creates before it reads `__param`.
                    mod_: unsafe { $crate::sys::param::__this_module.get() },
                    ops: core::ptr::addr_of!(kernel::bindings::param_ops_uint),
                    perm: $perm,
                    level: -1,
                    flags: 0,
                    __bindgen_anon_1: kernel::bindings::kernel_param__bindgen_ty_1 {
                        arg: $store.as_ptr().cast(),
                    },
                });
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE: [u8; concat!("parmtype=", stringify!($name), ":uint\0").len()] =
                $crate::sys::param::modinfo(concat!("parmtype=", stringify!($name), ":uint\0"));
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM: [u8; concat!("parm=", stringify!($name), ":", $desc, "\0").len()] =
                $crate::sys::param::modinfo(concat!("parm=", stringify!($name), ":", $desc, "\0"));
        };
    };
}
pub(crate) use module_param_uint;
