// SPDX-License-Identifier: GPL-2.0

//! Misc devices: a character device node with a dynamic minor.
//!
//! Shaped like upstream's `kernel::miscdevice` (Linux 6.13): a `#[vtable]`
//! trait for the driver, one constant `file_operations` built from it
//! (`MiscdeviceVTable`), and `extern "C"` trampolines that turn errors into
//! errnos at the edge. 6.12's bindings lack `struct miscdevice`, so it is
//! declared here and checked against the C header at build time. The
//! operations' `owner` is this module, so the VFS pins the module while a
//! file is open.

use super::file::File;
use crate::layout;
use core::{ffi::c_int, ffi::c_uint, marker::PhantomData, mem::offset_of, ptr};
use kernel::{
    bindings,
    error::{from_result, to_result},
    prelude::*,
    str::CStr,
    types::{ForeignOwnable, Opaque},
};

/// `struct miscdevice` of `include/linux/miscdevice.h`.
#[repr(C)]
struct RawMiscDevice {
    minor: c_int,
    name: *const kernel::ffi::c_char,
    // `const struct file_operations *`, opaque here: on some configs the
    // bindings of what it points to are not FFI-safe (empty structs).
    fops: *const core::ffi::c_void,
    list: bindings::list_head,
    // Pointers to structs this module never touches, kept opaque.
    parent: *mut core::ffi::c_void,
    this_device: *mut core::ffi::c_void,
    groups: *mut core::ffi::c_void,
    nodename: *const kernel::ffi::c_char,
    mode: bindings::umode_t,
}

const _: () = {
    assert!(core::mem::size_of::<RawMiscDevice>() == layout::MISCDEVICE_SIZE);
    assert!(offset_of!(RawMiscDevice, minor) == layout::MISCDEVICE_MINOR);
    assert!(offset_of!(RawMiscDevice, name) == layout::MISCDEVICE_NAME);
    assert!(offset_of!(RawMiscDevice, fops) == layout::MISCDEVICE_FOPS);
    assert!(offset_of!(RawMiscDevice, mode) == layout::MISCDEVICE_MODE);
};

extern "C" {
    fn misc_register(misc: *mut RawMiscDevice) -> c_int;
    fn misc_deregister(misc: *mut RawMiscDevice);
}

/// Options of a misc device.
pub(crate) struct MiscDeviceOptions {
    /// The device's name, and so the name of its node in `/dev`.
    pub(crate) name: &'static CStr,
    /// The permissions of the node.
    pub(crate) mode: u16,
}

/// The file operations a misc device implements.
#[vtable]
pub(crate) trait MiscDevice: Sized {
    /// What `open` creates and the other operations borrow: the per-file
    /// state, kept in the file's `private_data`.
    type Ptr: ForeignOwnable + Send + Sync;

    /// State shared by the whole device, given to `open`.
    type Context: Send + Sync;

    /// Called when the device node is opened.
    fn open(file: &File, ctx: &Self::Context) -> Result<Self::Ptr>;

    /// Called when the last reference to the file is dropped.
    fn release(device: Self::Ptr, _file: &File) {
        drop(device);
    }

    /// Handles an ioctl. Unknown commands must return `ENOTTY`.
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        Err(ENOTTY)
    }

    /// Maps the file into `vma` (`mmap`).
    fn mmap(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _vma: &super::mm::VmaNew,
    ) -> Result {
        Err(ENODEV)
    }

    /// Reports readiness (`POLL*` bits) and registers with `table`.
    fn poll(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _table: &super::poll::PollTable<'_>,
    ) -> u32 {
        0
    }

    /// Writes this file's lines of `/proc/<pid>/fdinfo/<fd>`.
    fn show_fdinfo(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _m: &super::seq_file::SeqFile,
    ) {
    }
}

/// A registered misc device; dropping it deregisters the device.
///
/// # Invariants
///
/// `inner` is registered with `misc_register` and stays at this address
/// until `drop` deregisters it.
#[pin_data(PinnedDrop)]
#[repr(C)]
pub(crate) struct MiscDeviceRegistration<T: MiscDevice> {
    #[pin]
    inner: Opaque<RawMiscDevice>,
    ctx: T::Context,
    _t: PhantomData<T>,
}

// SAFETY: The registration is only touched by `misc_register` and
// `misc_deregister`, which serialise on the misc device lock.
unsafe impl<T: MiscDevice> Send for MiscDeviceRegistration<T> {}
// SAFETY: See `Send`; a shared reference gives access to nothing mutable.
unsafe impl<T: MiscDevice> Sync for MiscDeviceRegistration<T> {}

impl<T: MiscDevice> MiscDeviceRegistration<T> {
    /// Registers a misc device whose files pin this module.
    pub(crate) fn register(opts: MiscDeviceOptions, ctx: T::Context) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            // SAFETY: `slot` is valid for writes and pinned (the contract of
            // `pin_init_from_closure`), so the address of `inner` stays
            // valid until `drop` deregisters the device; the operations
            // are a constant.
            unsafe {
                let fops = MiscdeviceVTable::<T>::build();
                let misc = super::compat::opaque_raw_get(ptr::addr_of!((*slot).inner));
                // All-zero is a valid `struct miscdevice` before registration.
                misc.write_bytes(0, 1);
                (*misc).minor = layout::MISC_DYNAMIC_MINOR_VALUE as c_int;
                (*misc).name = opts.name.as_char_ptr();
                (*misc).mode = opts.mode;
                (*misc).fops = ptr::from_ref(fops).cast();
                ptr::addr_of_mut!((*slot).ctx).write(ctx);
                // INVARIANT: on success the device is registered with fops
                // and a context that live next to it.
                let r = to_result(misc_register(misc));
                if r.is_err() {
                    ptr::drop_in_place(ptr::addr_of_mut!((*slot).ctx));
                }
                r
            }
        };
        // SAFETY: `init` either initialises every field and registers the
        // device, or fails having registered nothing and dropped the
        // context (the zeroed miscdevice needs no cleanup).
        unsafe { super::compat::pin_init_from_closure(init) }
    }
}

#[pinned_drop]
impl<T: MiscDevice> PinnedDrop for MiscDeviceRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant the device is registered.
        unsafe { misc_deregister(self.inner.get()) };
    }
}

/// The `file_operations` of `T`, a constant in read-only memory as
/// upstream's `MiscdeviceVTable` makes them.
struct MiscdeviceVTable<T: MiscDevice>(PhantomData<T>);

// A `struct file` reaches `task_struct`, whose bindings contain empty structs
// on some configs (arm64's debug kernel), which the lint calls not FFI-safe;
// only pointers cross here.
#[cfg(CONFIG_COMPAT)]
#[allow(improper_ctypes)]
extern "C" {
    /// The generic `compat_ioctl`: the argument through `compat_ptr()`,
    /// then the native handler. Every ioctl argument of a `MiscDevice` here
    /// is a pointer to a struct with the same layout on every ABI.
    fn compat_ptr_ioctl(
        file: *mut bindings::file,
        cmd: c_uint,
        arg: kernel::ffi::c_ulong,
    ) -> kernel::ffi::c_long;
}

impl<T: MiscDevice> MiscdeviceVTable<T> {
    const VTABLE: bindings::file_operations = bindings::file_operations {
        // SAFETY: Only the address of this module is taken.
        owner: unsafe { super::param::__this_module.get() },
        open: Some(fops_open::<T>),
        release: Some(fops_release::<T>),
        unlocked_ioctl: if T::HAS_IOCTL {
            Some(fops_ioctl::<T>)
        } else {
            None
        },
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: if T::HAS_IOCTL {
            Some(compat_ptr_ioctl)
        } else {
            None
        },
        mmap: if T::HAS_MMAP {
            Some(fops_mmap::<T>)
        } else {
            None
        },
        poll: if T::HAS_POLL {
            Some(fops_poll::<T>)
        } else {
            None
        },
        show_fdinfo: if T::HAS_SHOW_FDINFO {
            Some(fops_show_fdinfo::<T>)
        } else {
            None
        },
        // SAFETY: All-zero is a valid `file_operations`: every other member
        // is a nullable function pointer or a flag word.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const fn build() -> &'static bindings::file_operations {
        &Self::VTABLE
    }
}

extern "C" {
    fn anon_inode_getfd(
        name: *const kernel::ffi::c_char,
        fops: *const core::ffi::c_void,
        private: *mut core::ffi::c_void,
        flags: c_int,
    ) -> c_int;
}

/// Creates a file with the operations of `file` (a file of `T`) and
/// `ptr` as its private data, not backed by the device node, and installs
/// it in a new close-on-exec descriptor, which is returned.
pub(crate) fn new_file<T: MiscDevice>(
    file: &File,
    name: &'static CStr,
    ptr: T::Ptr,
) -> Result<i32> {
    // The new file's `release` takes `ptr` back as a `T::Ptr`: only
    // files of `T` may be cloned this way.
    if !is_file_of::<T>(file) {
        return Err(EINVAL);
    }
    // SAFETY: `f_op` of an open file is set and never changes.
    let fops = unsafe { (*file.as_ptr()).f_op };
    let private = ptr.into_foreign();
    // SAFETY: `name` lives forever; `fops` are `T`'s, which the module
    // keeps alive while any file has them (their owner is the module,
    // which `anon_inode_getfd` pins); `private` is owned by the new file
    // from here on, and `release` gives it back.
    let fd = unsafe {
        anon_inode_getfd(
            name.as_char_ptr(),
            fops.cast(),
            super::compat::foreign_mut(private),
            (bindings::O_RDWR | bindings::O_CLOEXEC) as c_int,
        )
    };
    if fd < 0 {
        // SAFETY: No file was created, so `private` is still ours.
        drop(unsafe { T::Ptr::from_foreign(private) });
        return Err(Error::from_errno(fd));
    }
    Ok(fd)
}

/// Returns `true` if `file` has `T`'s file operations, so its private data
/// is a `T::Ptr`. (Kbuild compiles a crate as one codegen unit, so
/// `fops_release::<T>` has a single address.)
fn is_file_of<T: MiscDevice>(file: &File) -> bool {
    // SAFETY: `f_op` of an open file is set and never changes, and points
    // to operations that live while the file is open.
    let release = unsafe { (*(*file.as_ptr()).f_op).release };
    let ours = fops_release::<T> as unsafe extern "C" fn(_, _) -> _ as *const ();
    release.is_some_and(|f| f as *const () == ours)
}

/// Borrows the private data of `file` if it is a file of `T`.
pub(crate) fn private_of<T: MiscDevice>(
    file: &File,
) -> Option<<T::Ptr as ForeignOwnable>::Borrowed<'_>> {
    if !is_file_of::<T>(file) {
        return None;
    }
    // SAFETY: A file of `T` has a `T::Ptr` as private data from `open` (or
    // `new_file`) until `release`, which does not run while `file` is
    // borrowed.
    Some(unsafe { T::Ptr::borrow((*file.as_ptr()).private_data) })
}

/// # Safety
///
/// Called by the VFS with a valid inode and a file being opened through the
/// device node, whose `private_data` is the miscdevice.
unsafe extern "C" fn fops_open<T: MiscDevice>(
    _inode: *mut bindings::inode,
    raw: *mut bindings::file,
) -> c_int {
    // SAFETY: The VFS holds a reference to the file during `open`, and no
    // `fdget_pos` region is active on it on this thread.
    let file = unsafe { File::from_raw_file(raw) };
    // SAFETY: `misc_open` sets `private_data` to the miscdevice, which is
    // the first field of the `repr(C)` registration; the registration
    // outlives the open (the device cannot be deregistered meanwhile).
    let ctx = unsafe { &(*(*raw).private_data.cast::<MiscDeviceRegistration<T>>()).ctx };
    match T::open(file, ctx) {
        Ok(ptr) => {
            // SAFETY: The file is being opened, so nothing else reads
            // `private_data` yet; `release` takes ownership back.
            unsafe { (*raw).private_data = super::compat::foreign_mut(ptr.into_foreign()) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS once, when the last reference to a file of `T`'s
/// operations is dropped.
unsafe extern "C" fn fops_release<T: MiscDevice>(
    _inode: *mut bindings::inode,
    raw: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` was set by `into_foreign` in `fops_open` or
    // in `new_file` (through `anon_inode_getfd`), and this is the last use
    // of it.
    let ptr = unsafe { T::Ptr::from_foreign((*raw).private_data) };
    // SAFETY: The VFS holds the file alive during `release`, and no
    // `fdget_pos` region is active on it on this thread.
    T::release(ptr, unsafe { File::from_raw_file(raw) });
    0
}

/// # Safety
///
/// Called by the VFS with a file of `T`'s operations that is open.
unsafe extern "C" fn fops_ioctl<T: MiscDevice>(
    raw: *mut bindings::file,
    cmd: c_uint,
    arg: usize,
) -> isize {
    // SAFETY: `release` has not run while an ioctl holds the file, so
    // `private_data` is still owned by the file.
    let device = unsafe { T::Ptr::borrow((*raw).private_data) };
    // SAFETY: The ioctl holds a reference to the file, and no `fdget_pos`
    // region is active on it on this thread.
    let file = unsafe { File::from_raw_file(raw) };
    from_result(|| T::ioctl(device, file, cmd, arg))
}

/// # Safety
///
/// Called by the VFS with an open file of `T`'s operations and a memory
/// area being set up for it, with the mm's lock held for writing.
unsafe extern "C" fn fops_mmap<T: MiscDevice>(
    raw: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: As in `fops_ioctl`.
    let device = unsafe { T::Ptr::borrow((*raw).private_data) };
    // SAFETY: The caller holds a reference to the file, and no `fdget_pos`
    // region is active on it on this thread.
    let file = unsafe { File::from_raw_file(raw) };
    // SAFETY: `vma` is being set up by `mmap` for the duration of the call.
    let vma = unsafe { super::mm::VmaNew::from_raw(vma) };
    match T::mmap(device, file, vma) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS with an open file of `T`'s operations and a poll table
/// that is null or valid for the duration of the call.
unsafe extern "C" fn fops_poll<T: MiscDevice>(
    raw: *mut bindings::file,
    table: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: As in `fops_ioctl`.
    let device = unsafe { T::Ptr::borrow((*raw).private_data) };
    // SAFETY: The caller holds a reference to the file, and no `fdget_pos`
    // region is active on it on this thread.
    let file = unsafe { File::from_raw_file(raw) };
    // SAFETY: `table` is null or valid for the call.
    let table = unsafe { super::poll::PollTable::from_raw(table) };
    T::poll(device, file, &table)
}

/// # Safety
///
/// Called by procfs with a valid seq_file and an open file of `T`'s
/// operations.
unsafe extern "C" fn fops_show_fdinfo<T: MiscDevice>(
    m: *mut bindings::seq_file,
    raw: *mut bindings::file,
) {
    // SAFETY: As in `fops_ioctl`.
    let device = unsafe { T::Ptr::borrow((*raw).private_data) };
    // SAFETY: `m` is valid and exclusively ours for the call.
    let m = unsafe { super::seq_file::SeqFile::from_raw(m) };
    T::show_fdinfo(device, m);
}
