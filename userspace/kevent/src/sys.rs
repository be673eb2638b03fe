//! The raw ABI of `uapi/linux/kevent.h`, and the only module with `unsafe`
//! code: the four ioctls, `fcntl(F_SETFL)`, the thread's signal mask,
//! `clock_gettime`, the view of a slice of [`Request`](crate::Request)s as
//! the `struct ukevent` array it wraps, and the mapping of an event ring
//! ([`RingMap`]: `mmap`, `munmap`, and the atomic and volatile accesses to
//! the memory it shares with the kernel).
//!
//! Every constant here is read from the header at build time (`build.rs`
//! compiles a C program against it); the `#[repr(C)]` structs are declared
//! by hand and checked, field by field, against the offsets and sizes that
//! program printed.

use std::io;
use std::mem::{align_of, offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// What `build.rs` read from the header.
mod generated {
    include!(concat!(env!("OUT_DIR"), "/abi.rs"));
}

pub use generated::{
    KEVENT_AIO, KEVENT_CTL_ADD, KEVENT_CTL_INIT, KEVENT_CTL_MAX_NUM, KEVENT_CTL_MODIFY,
    KEVENT_CTL_READY, KEVENT_CTL_REMOVE, KEVENT_GET_RING, KEVENT_INODE, KEVENT_INODE_ALL,
    KEVENT_INODE_ATTRIB, KEVENT_INODE_CLOSE_WRITE, KEVENT_INODE_CREATE, KEVENT_INODE_DELETE_SELF,
    KEVENT_INODE_MOVED_FROM, KEVENT_INODE_MOVED_TO, KEVENT_INODE_MOVE_SELF, KEVENT_INODE_REMOVE,
    KEVENT_INODE_UNMOUNT, KEVENT_INODE_WRITE, KEVENT_IOC_CTL, KEVENT_IOC_GET_EVENTS,
    KEVENT_IOC_MAGIC, KEVENT_IOC_PGET_EVENTS, KEVENT_IOC_RING_SETUP, KEVENT_MAX, KEVENT_NAIO,
    KEVENT_POLL, KEVENT_POLL_POLLERR, KEVENT_POLL_POLLHUP, KEVENT_POLL_POLLIN, KEVENT_POLL_POLLMSG,
    KEVENT_POLL_POLLNVAL, KEVENT_POLL_POLLOUT, KEVENT_POLL_POLLPRI, KEVENT_POLL_POLLRDBAND,
    KEVENT_POLL_POLLRDHUP, KEVENT_POLL_POLLRDNORM, KEVENT_POLL_POLLREMOVE, KEVENT_POLL_POLLWRBAND,
    KEVENT_POLL_POLLWRNORM, KEVENT_REQ_ET, KEVENT_REQ_ONESHOT, KEVENT_RET_BROKEN,
    KEVENT_RET_CANCELED, KEVENT_RET_DONE, KEVENT_RET_EOF, KEVENT_RING_BACKLOG,
    KEVENT_RING_MAX_ENTRIES, KEVENT_RING_MIN_ENTRIES, KEVENT_SOCKET, KEVENT_SOCKET_ACCEPT,
    KEVENT_SOCKET_RECV, KEVENT_SOCKET_SEND, KEVENT_TIMER, KEVENT_TIMER_ABSTIME,
    KEVENT_TIMER_BOOTTIME, KEVENT_TIMER_CANCEL_ON_SET, KEVENT_TIMER_CLOCK_MASK, KEVENT_TIMER_FIRED,
    KEVENT_TIMER_MONOTONIC, KEVENT_TIMER_REALTIME, KEVENT_TIMER_TAI, KEVENT_TIMER_UNIT_MASK,
    KEVENT_TIMER_UNIT_MS, KEVENT_TIMER_UNIT_NS, KEVENT_TIMER_UNIT_US, KEVENT_USER,
};

/// Every `KEVENT_POLL_*` bit the module accepts.
pub const KEVENT_POLL_VALID: u32 = KEVENT_POLL_POLLIN
    | KEVENT_POLL_POLLPRI
    | KEVENT_POLL_POLLOUT
    | KEVENT_POLL_POLLERR
    | KEVENT_POLL_POLLHUP
    | KEVENT_POLL_POLLNVAL
    | KEVENT_POLL_POLLRDNORM
    | KEVENT_POLL_POLLRDBAND
    | KEVENT_POLL_POLLWRNORM
    | KEVENT_POLL_POLLWRBAND
    | KEVENT_POLL_POLLMSG
    | KEVENT_POLL_POLLREMOVE
    | KEVENT_POLL_POLLRDHUP;

/// Every bit a `KEVENT_TIMER` request's `event` may have. Some of their
/// combinations are still refused: the unit value 0x30, and
/// `KEVENT_TIMER_CANCEL_ON_SET` without both `KEVENT_TIMER_REALTIME` and
/// `KEVENT_TIMER_ABSTIME`.
pub const KEVENT_TIMER_VALID: u32 = KEVENT_TIMER_FIRED
    | KEVENT_TIMER_UNIT_MASK
    | KEVENT_TIMER_CLOCK_MASK
    | KEVENT_TIMER_ABSTIME
    | KEVENT_TIMER_CANCEL_ON_SET;

/// `struct ukevent`. The header's `union { __u32 user[2]; __u64 ptr; }`
/// is `user` here, as a `u64`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, Hash)]
pub struct Ukevent {
    pub id: [u32; 2],
    pub type_: u32,
    pub event: u32,
    pub req_flags: u32,
    pub ret_flags: u32,
    pub ret_data: [u32; 2],
    pub user: u64,
}

/// `struct kevent_ctl_arg`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct CtlArg {
    pub cmd: u32,
    pub num: u32,
    pub events: u64,
    pub flags: u32,
    pub reserved: u32,
}

/// `struct kevent_get_events_arg`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct GetEventsArg {
    pub min_nr: u32,
    pub max_nr: u32,
    pub timeout_ns: i64,
    pub events: u64,
    pub flags: u32,
    pub reserved: u32,
}

/// `struct kevent_pget_events_arg`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct PgetEventsArg {
    pub get: GetEventsArg,
    /// User pointer to the signal mask (a [`KernelSigset`]); 0: none.
    pub sigmask: u64,
    /// [`KERNEL_SIGSET_SIZE`] with a mask, 0 without.
    pub sigsetsize: u32,
    pub reserved: u32,
}

/// The size of the kernel's `sigset_t`, which `sigsetsize` must give: 64
/// signals (on every architecture but MIPS). glibc's `sigset_t` is
/// larger (1024 bits); the kernel reads only this much of it.
pub const KERNEL_SIGSET_SIZE: u32 = 8;

/// `unsigned long`s in the kernel's `sigset_t`.
pub const SIGSET_WORDS: usize = 64 / <libc::c_ulong>::BITS as usize;

/// The kernel's `sigset_t`: signal `n` (1 to 64) is bit `(n - 1) % W` of
/// word `(n - 1) / W`, `W` being the bits of an `unsigned long`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, Hash)]
pub struct KernelSigset {
    pub sig: [libc::c_ulong; SIGSET_WORDS],
}

/// `struct kevent_ring_setup`, the argument of `KEVENT_IOC_RING_SETUP`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct RingSetup {
    pub entries: u32,
    pub flags: u32,
    /// Written by the kernel: the bytes to map.
    pub size: u32,
    pub reserved: u32,
}

/// `struct kevent_ring_entry`: one event in the ring. The header's
/// `union { __u32 user[2]; __u64 ptr; }` is `user` here, as a `u64`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, Hash)]
pub struct RingEntry {
    pub id: [u32; 2],
    pub type_: u32,
    pub ret_flags: u32,
    pub ret_data: [u32; 2],
    pub user: u64,
}

/// `struct kevent_ring`, the start of a ring's mapping. No value of it is
/// ever made in this program's memory: its layout gives the offsets of
/// the words shared with the kernel, which [`RingMap`] reads and writes
/// atomically. `entries` is the header's flexible array.
#[repr(C)]
#[derive(Debug)]
pub struct RingHeader {
    /// The next entry to read: written by the program.
    pub head: u32,
    pub pad0: [u32; 15],
    /// One past the last entry written: written by the kernel.
    pub tail: u32,
    /// `entries - 1`.
    pub mask: u32,
    /// `KEVENT_RING_*`, written by the kernel.
    pub flags: u32,
    pub pad1: [u32; 13],
    pub entries: [RingEntry; 0],
}

// The hand-declared structs are the header's, to the byte.
const _: () = {
    use generated::*;
    assert!(size_of::<Ukevent>() == SIZEOF_UKEVENT);
    assert!(align_of::<Ukevent>() == ALIGNOF_UKEVENT);
    assert!(offset_of!(Ukevent, id) == OFFSETOF_UKEVENT_ID);
    assert!(offset_of!(Ukevent, type_) == OFFSETOF_UKEVENT_TYPE);
    assert!(offset_of!(Ukevent, event) == OFFSETOF_UKEVENT_EVENT);
    assert!(offset_of!(Ukevent, req_flags) == OFFSETOF_UKEVENT_REQ_FLAGS);
    assert!(offset_of!(Ukevent, ret_flags) == OFFSETOF_UKEVENT_RET_FLAGS);
    assert!(offset_of!(Ukevent, ret_data) == OFFSETOF_UKEVENT_RET_DATA);
    assert!(offset_of!(Ukevent, user) == OFFSETOF_UKEVENT_USER);
    assert!(offset_of!(Ukevent, user) == OFFSETOF_UKEVENT_PTR);

    assert!(size_of::<CtlArg>() == SIZEOF_KEVENT_CTL_ARG);
    assert!(align_of::<CtlArg>() == ALIGNOF_KEVENT_CTL_ARG);
    assert!(offset_of!(CtlArg, cmd) == OFFSETOF_KEVENT_CTL_ARG_CMD);
    assert!(offset_of!(CtlArg, num) == OFFSETOF_KEVENT_CTL_ARG_NUM);
    assert!(offset_of!(CtlArg, events) == OFFSETOF_KEVENT_CTL_ARG_EVENTS);
    assert!(offset_of!(CtlArg, flags) == OFFSETOF_KEVENT_CTL_ARG_FLAGS);
    assert!(offset_of!(CtlArg, reserved) == OFFSETOF_KEVENT_CTL_ARG_RESERVED);

    assert!(size_of::<GetEventsArg>() == SIZEOF_KEVENT_GET_EVENTS_ARG);
    assert!(align_of::<GetEventsArg>() == ALIGNOF_KEVENT_GET_EVENTS_ARG);
    assert!(offset_of!(GetEventsArg, min_nr) == OFFSETOF_KEVENT_GET_EVENTS_ARG_MIN_NR);
    assert!(offset_of!(GetEventsArg, max_nr) == OFFSETOF_KEVENT_GET_EVENTS_ARG_MAX_NR);
    assert!(offset_of!(GetEventsArg, timeout_ns) == OFFSETOF_KEVENT_GET_EVENTS_ARG_TIMEOUT_NS);
    assert!(offset_of!(GetEventsArg, events) == OFFSETOF_KEVENT_GET_EVENTS_ARG_EVENTS);
    assert!(offset_of!(GetEventsArg, flags) == OFFSETOF_KEVENT_GET_EVENTS_ARG_FLAGS);
    assert!(offset_of!(GetEventsArg, reserved) == OFFSETOF_KEVENT_GET_EVENTS_ARG_RESERVED);

    assert!(size_of::<PgetEventsArg>() == SIZEOF_KEVENT_PGET_EVENTS_ARG);
    assert!(align_of::<PgetEventsArg>() == ALIGNOF_KEVENT_PGET_EVENTS_ARG);
    assert!(offset_of!(PgetEventsArg, get) == OFFSETOF_KEVENT_PGET_EVENTS_ARG_GET);
    assert!(offset_of!(PgetEventsArg, sigmask) == OFFSETOF_KEVENT_PGET_EVENTS_ARG_SIGMASK);
    assert!(offset_of!(PgetEventsArg, sigsetsize) == OFFSETOF_KEVENT_PGET_EVENTS_ARG_SIGSETSIZE);
    assert!(offset_of!(PgetEventsArg, reserved) == OFFSETOF_KEVENT_PGET_EVENTS_ARG_RESERVED);

    assert!(size_of::<KernelSigset>() == KERNEL_SIGSET_SIZE as usize);

    assert!(size_of::<RingSetup>() == SIZEOF_KEVENT_RING_SETUP);
    assert!(align_of::<RingSetup>() == ALIGNOF_KEVENT_RING_SETUP);
    assert!(offset_of!(RingSetup, entries) == OFFSETOF_KEVENT_RING_SETUP_ENTRIES);
    assert!(offset_of!(RingSetup, flags) == OFFSETOF_KEVENT_RING_SETUP_FLAGS);
    assert!(offset_of!(RingSetup, size) == OFFSETOF_KEVENT_RING_SETUP_SIZE);
    assert!(offset_of!(RingSetup, reserved) == OFFSETOF_KEVENT_RING_SETUP_RESERVED);

    assert!(size_of::<RingEntry>() == SIZEOF_KEVENT_RING_ENTRY);
    assert!(align_of::<RingEntry>() == ALIGNOF_KEVENT_RING_ENTRY);
    assert!(offset_of!(RingEntry, id) == OFFSETOF_KEVENT_RING_ENTRY_ID);
    assert!(offset_of!(RingEntry, type_) == OFFSETOF_KEVENT_RING_ENTRY_TYPE);
    assert!(offset_of!(RingEntry, ret_flags) == OFFSETOF_KEVENT_RING_ENTRY_RET_FLAGS);
    assert!(offset_of!(RingEntry, ret_data) == OFFSETOF_KEVENT_RING_ENTRY_RET_DATA);
    assert!(offset_of!(RingEntry, user) == OFFSETOF_KEVENT_RING_ENTRY_USER);
    assert!(offset_of!(RingEntry, user) == OFFSETOF_KEVENT_RING_ENTRY_PTR);

    assert!(size_of::<RingHeader>() == SIZEOF_KEVENT_RING);
    assert!(align_of::<RingHeader>() == ALIGNOF_KEVENT_RING);
    assert!(offset_of!(RingHeader, head) == OFFSETOF_KEVENT_RING_HEAD);
    assert!(offset_of!(RingHeader, pad0) == OFFSETOF_KEVENT_RING_PAD0);
    assert!(offset_of!(RingHeader, tail) == OFFSETOF_KEVENT_RING_TAIL);
    assert!(offset_of!(RingHeader, mask) == OFFSETOF_KEVENT_RING_MASK);
    assert!(offset_of!(RingHeader, flags) == OFFSETOF_KEVENT_RING_FLAGS);
    assert!(offset_of!(RingHeader, pad1) == OFFSETOF_KEVENT_RING_PAD1);
    assert!(offset_of!(RingHeader, entries) == OFFSETOF_KEVENT_RING_ENTRIES);

    // The ioctl numbers encode the argument sizes the structs have here.
    assert!(KEVENT_IOC_CTL == iow(KEVENT_IOC_MAGIC, 1, size_of::<CtlArg>()));
    assert!(KEVENT_IOC_GET_EVENTS == iow(KEVENT_IOC_MAGIC, 2, size_of::<GetEventsArg>()));
    assert!(KEVENT_IOC_PGET_EVENTS == iow(KEVENT_IOC_MAGIC, 3, size_of::<PgetEventsArg>()));
    assert!(KEVENT_IOC_RING_SETUP == iowr(KEVENT_IOC_MAGIC, 4, size_of::<RingSetup>()));
};

/// `_IOW(type, nr, size)` of `asm-generic/ioctl.h`.
pub const fn iow(ty: u32, nr: u32, size: usize) -> u32 {
    (1 << 30) | ((size as u32) << 16) | (ty << 8) | nr
}

/// `_IOWR(type, nr, size)` of `asm-generic/ioctl.h`.
pub const fn iowr(ty: u32, nr: u32, size: usize) -> u32 {
    (3 << 30) | ((size as u32) << 16) | (ty << 8) | nr
}

/// Issues an ioctl whose argument is a pointer, possibly a bad one: the
/// kernel checks every pointer it is given and fails with `EFAULT`.
///
/// # Safety
///
/// For the kevent commands the kernel writes the `struct ukevent` arrays
/// that the argument points to: they must be memory this program lets the
/// kernel write (or memory it cannot write at all, which is `EFAULT`). For
/// any other command, `arg` must be what that command expects.
pub unsafe fn ioctl_ptr(fd: BorrowedFd<'_>, cmd: u32, arg: *const libc::c_void) -> io::Result<i32> {
    // SAFETY: What the kernel reads and writes through `arg` is the
    // caller's promise; `fd` is open for the duration of the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as libc::c_ulong, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A type that is `#[repr(transparent)]` over [`Ukevent`], so a slice of
/// it can be handed to the kernel as a `struct ukevent` array.
///
/// # Safety
///
/// Implementors must be `#[repr(transparent)]` wrappers of `Ukevent` for
/// which every bit pattern of a `Ukevent` is a valid value.
pub unsafe trait UkeventArray: Sized {}

// SAFETY: `Ukevent` is itself; every bit pattern of its integers is valid.
unsafe impl UkeventArray for Ukevent {}

// SAFETY: `Request` is `#[repr(transparent)]` over its one `Ukevent` field
// and puts no constraint on its value (checked below).
unsafe impl UkeventArray for crate::Request {}

const _: () = {
    assert!(size_of::<crate::Request>() == size_of::<Ukevent>());
    assert!(align_of::<crate::Request>() == align_of::<Ukevent>());
};

/// `KEVENT_IOC_CTL` on `entries` (`num` = their number, `events` = their
/// address); each entry is written back with its result. Returns how many
/// entries were processed.
pub fn ctl<T: UkeventArray>(fd: BorrowedFd<'_>, cmd: u32, entries: &mut [T]) -> io::Result<usize> {
    let arg = CtlArg {
        cmd,
        num: u32::try_from(entries.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} ctl entries: more than the ABI can carry", entries.len()),
            )
        })?,
        events: entries.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `entries` is an exclusively borrowed array of `num` values,
    // each laid out as a `struct ukevent` (`UkeventArray`), and any value
    // the kernel writes back is valid for them.
    unsafe { ioctl_ptr(fd, KEVENT_IOC_CTL, (&arg as *const CtlArg).cast()) }.map(|n| n as usize)
}

/// `KEVENT_CTL_INIT`: the fd of a new queue, as the kernel returned it.
pub fn ctl_init(fd: BorrowedFd<'_>) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let arg = CtlArg {
        cmd: KEVENT_CTL_INIT,
        ..Default::default()
    };
    // SAFETY: INIT reads only the argument struct (`num` is 0, `events`
    // null); it returns a new descriptor.
    let raw = unsafe { ioctl_ptr(fd, KEVENT_IOC_CTL, (&arg as *const CtlArg).cast()) }?;
    // SAFETY: the kernel just installed `raw` for us and nothing else
    // knows it, so it is ours to own.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) })
}

/// `KEVENT_IOC_GET_EVENTS` into `buf` (`max_nr` = its length, capped at
/// `u32::MAX`): returns how many events the kernel wrote at its front.
pub fn get_events(
    fd: BorrowedFd<'_>,
    min_nr: u32,
    buf: &mut [Ukevent],
    timeout_ns: i64,
) -> io::Result<usize> {
    let arg = GetEventsArg {
        min_nr,
        max_nr: u32::try_from(buf.len()).unwrap_or(u32::MAX),
        timeout_ns,
        events: buf.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `buf` is an exclusively borrowed array of at least `max_nr`
    // entries; the kernel writes only whole `struct ukevent`s into it.
    unsafe {
        ioctl_ptr(
            fd,
            KEVENT_IOC_GET_EVENTS,
            (&arg as *const GetEventsArg).cast(),
        )
    }
    .map(|n| n as usize)
}

/// The argument of `KEVENT_IOC_PGET_EVENTS` for a wait into `buf` with
/// `sigmask` (`None`: the mask is left alone, as `KEVENT_IOC_GET_EVENTS`).
/// The pointers in it are `buf`'s and `sigmask`'s.
pub fn pget_events_arg(
    min_nr: u32,
    buf: &mut [Ukevent],
    timeout_ns: i64,
    sigmask: Option<&KernelSigset>,
) -> PgetEventsArg {
    PgetEventsArg {
        get: GetEventsArg {
            min_nr,
            max_nr: u32::try_from(buf.len()).unwrap_or(u32::MAX),
            timeout_ns,
            events: buf.as_mut_ptr() as u64,
            ..Default::default()
        },
        sigmask: sigmask.map_or(0, |m| m as *const KernelSigset as u64),
        sigsetsize: sigmask.map_or(0, |_| KERNEL_SIGSET_SIZE),
        reserved: 0,
    }
}

/// `KEVENT_IOC_PGET_EVENTS` into `buf`, with `sigmask` as the thread's
/// signal mask while the call waits (`None`: unchanged): returns how many
/// events the kernel wrote at the front of `buf`.
pub fn pget_events(
    fd: BorrowedFd<'_>,
    min_nr: u32,
    buf: &mut [Ukevent],
    timeout_ns: i64,
    sigmask: Option<&KernelSigset>,
) -> io::Result<usize> {
    let arg = pget_events_arg(min_nr, buf, timeout_ns, sigmask);
    // SAFETY: `buf` is an exclusively borrowed array of at least `max_nr`
    // entries, of which the kernel writes only whole `struct ukevent`s;
    // `sigmask`, if any, is a live `KernelSigset` of `sigsetsize` bytes,
    // which the kernel only reads.
    unsafe {
        ioctl_ptr(
            fd,
            KEVENT_IOC_PGET_EVENTS,
            (&arg as *const PgetEventsArg).cast(),
        )
    }
    .map(|n| n as usize)
}

/// `KEVENT_IOC_RING_SETUP` with `setup` (its `flags` and `reserved` as
/// given, so tests can pass bad ones); on success the kernel has written
/// the bytes to map into `setup.size`.
pub fn ring_setup(fd: BorrowedFd<'_>, setup: &mut RingSetup) -> io::Result<()> {
    // SAFETY: the kernel reads and writes one `struct kevent_ring_setup`,
    // which `setup` is, exclusively borrowed for the call.
    unsafe {
        ioctl_ptr(
            fd,
            KEVENT_IOC_RING_SETUP,
            (setup as *mut RingSetup).cast_const().cast(),
        )
    }
    .map(|_| ())
}

/// Get-events with `KEVENT_GET_RING` (`events` 0): waits until the ring's
/// unread entries and the waiting events make `min_nr` or `timeout_ns`
/// passes, moves up to `max_nr` waiting events into the queue's ring, and
/// returns how many entries it holds unread
/// (the kernel's `tail - head`). With `sigmask` it is
/// `KEVENT_IOC_PGET_EVENTS`, that mask in force while it waits.
pub fn get_ring(
    fd: BorrowedFd<'_>,
    min_nr: u32,
    max_nr: u32,
    timeout_ns: i64,
    sigmask: Option<&KernelSigset>,
) -> io::Result<usize> {
    let get = GetEventsArg {
        min_nr,
        max_nr,
        timeout_ns,
        events: 0,
        flags: KEVENT_GET_RING,
        reserved: 0,
    };
    let r = match sigmask {
        // SAFETY: with KEVENT_GET_RING the kernel writes no user memory
        // but the ring, which it owns; it reads only the argument.
        None => unsafe {
            ioctl_ptr(
                fd,
                KEVENT_IOC_GET_EVENTS,
                (&get as *const GetEventsArg).cast(),
            )
        },
        Some(m) => {
            let arg = PgetEventsArg {
                get,
                sigmask: m as *const KernelSigset as u64,
                sigsetsize: KERNEL_SIGSET_SIZE,
                reserved: 0,
            };
            // SAFETY: as above; the kernel also reads `sigsetsize` bytes
            // of `m`, a live `KernelSigset` of that size.
            unsafe {
                ioctl_ptr(
                    fd,
                    KEVENT_IOC_PGET_EVENTS,
                    (&arg as *const PgetEventsArg).cast(),
                )
            }
        }
    };
    r.map(|n| n as usize)
}

/// The offset of the first entry in a ring's mapping.
pub const RING_ENTRIES_OFFSET: usize = offset_of!(RingHeader, entries);

/// The bytes a ring of `entries` entries occupies: the header and the
/// entries (the kernel's `size` may round this up).
pub const fn ring_bytes(entries: u32) -> usize {
    RING_ENTRIES_OFFSET + entries as usize * size_of::<RingEntry>()
}

/// A mapping of a queue's event ring (`mmap(MAP_SHARED)` at offset 0),
/// unmapped on drop. The mapping keeps the queue alive in the kernel, so
/// it stays valid whatever happens to the descriptor it was made from.
///
/// It is a view of memory the kernel writes at any time: every access is
/// an atomic load or store of one of the header's words ([`tail`],
/// [`head`], [`flags`], [`mask`]) or a volatile copy of one entry
/// ([`entry`]), always inside the mapping. Nothing here enforces the
/// ring's protocol (read only entries between head and tail, one
/// consumer); [`crate::Ring`] does.
///
/// [`tail`]: RingMap::tail
/// [`head`]: RingMap::head
/// [`flags`]: RingMap::flags
/// [`mask`]: RingMap::mask
/// [`entry`]: RingMap::entry
#[derive(Debug)]
pub struct RingMap {
    base: NonNull<u8>,
    len: usize,
    entries: u32,
}

// SAFETY: The mapping belongs to the process, not to a thread: it may be
// used and unmapped from any thread. Every access through `&self` is an
// atomic load or store, or a volatile read of plain integers (for which
// any value is valid), so sharing `&RingMap` between threads is no data
// race in this program's terms either.
unsafe impl Send for RingMap {}
// SAFETY: See `Send`: `&self` methods only make atomic accesses and
// volatile reads of memory that stays mapped while `self` lives.
unsafe impl Sync for RingMap {}

impl RingMap {
    /// Maps the ring of the queue `fd`, which set-up said is `size` bytes
    /// and holds `entries` entries.
    ///
    /// `InvalidInput` if `entries` is not a power of two in the ABI's
    /// range; `InvalidData`, without touching memory past the mapping, if
    /// `size` is too small for `entries` or the kernel's `mask` is not
    /// `entries - 1`; the errno of `mmap` (`ENODEV` without a ring).
    pub fn map(fd: BorrowedFd<'_>, size: u32, entries: u32) -> io::Result<RingMap> {
        if !entries.is_power_of_two()
            || !(KEVENT_RING_MIN_ENTRIES..=KEVENT_RING_MAX_ENTRIES).contains(&entries)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a ring of {entries} entries: not a power of two from 2 to 32768"),
            ));
        }
        let len = size as usize;
        if len < ring_bytes(entries) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the kernel's ring size {size} is less than the {} bytes of {entries} entries",
                    ring_bytes(entries)
                ),
            ));
        }
        // SAFETY: a new shared mapping of the queue at an address the
        // kernel picks: it replaces nothing this program uses.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap of the ring returned address 0"))?;
        let map = RingMap { base, len, entries };
        let mask = map.mask();
        if mask != entries - 1 {
            // Dropping `map` unmaps it.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the kernel's ring mask is {mask:#x} for {entries} entries"),
            ));
        }
        Ok(map)
    }

    /// The header word at `offset`, as an atomic.
    fn word(&self, offset: usize) -> &AtomicU32 {
        assert!(
            offset.is_multiple_of(align_of::<AtomicU32>()) && offset + 4 <= RING_ENTRIES_OFFSET
        );
        // SAFETY: `offset` is inside the header, which is inside the
        // mapping (`len >= ring_bytes(entries)`, checked at `map`), and
        // 4-aligned in a page-aligned mapping; the mapping lives as long
        // as `self`, which the reference borrows. The kernel accesses the
        // header's words only with single aligned 32-bit loads and stores
        // (READ_ONCE, smp_load_acquire, smp_store_release), and this
        // program only through this function, so every access to the word
        // is atomic, as `AtomicU32::from_ptr` requires.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(offset).cast::<u32>()) }
    }

    /// `tail`, with an acquire load: the entries before it are written.
    pub fn tail(&self) -> u32 {
        self.word(offset_of!(RingHeader, tail))
            .load(Ordering::Acquire)
    }

    /// `head`, as the program last stored it.
    pub fn head(&self) -> u32 {
        self.word(offset_of!(RingHeader, head))
            .load(Ordering::Relaxed)
    }

    /// Stores `head` with a release store: the entries before it are read
    /// and the kernel may write them again.
    pub fn set_head(&self, head: u32) {
        self.word(offset_of!(RingHeader, head))
            .store(head, Ordering::Release);
    }

    /// `flags` (`KEVENT_RING_*`), with an acquire load.
    pub fn flags(&self) -> u32 {
        self.word(offset_of!(RingHeader, flags))
            .load(Ordering::Acquire)
    }

    /// `mask`, as the kernel wrote it.
    pub fn mask(&self) -> u32 {
        self.word(offset_of!(RingHeader, mask))
            .load(Ordering::Relaxed)
    }

    /// The number of entries (a power of two).
    pub fn entries(&self) -> u32 {
        self.entries
    }

    /// The bytes mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never: a mapping holds at least the header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// A copy of the entry of counter `i` (`entries[i & mask]`, the mask
    /// being this mapping's, not the kernel's). It is what the kernel
    /// wrote only if `i` is between `head` and a `tail` read before.
    pub fn entry(&self, i: u32) -> RingEntry {
        let slot = (i & (self.entries - 1)) as usize;
        let offset = RING_ENTRIES_OFFSET + slot * size_of::<RingEntry>();
        assert!(offset + size_of::<RingEntry>() <= self.len);
        // SAFETY: the entry is inside the mapping (asserted; `slot` is
        // below `entries`, whose bytes `map` checked are mapped) and
        // 8-aligned (the mapping is page-aligned, the entries start at 128
        // and are 32 bytes each). The read is volatile because the kernel
        // may write the memory at any time; between head and tail it does
        // not, and elsewhere the copy may be torn, but every bit pattern is
        // a valid `RingEntry`.
        unsafe { std::ptr::read_volatile(self.base.as_ptr().add(offset).cast::<RingEntry>()) }
    }
}

impl Drop for RingMap {
    fn drop(&mut self) {
        // SAFETY: `base` and `len` are the mapping `map` made, which
        // nothing else unmaps; every reference into it borrows `self`, so
        // none outlives this.
        let r = unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
        debug_assert_eq!(r, 0, "munmap of a ring: {}", io::Error::last_os_error());
    }
}

/// `mmap(NULL, len, prot, flags, fd, offset)` of a queue, unmapped at
/// once: the kernel's checks of a ring's mappings (`MAP_SHARED`, offset,
/// length, `ENODEV` without a ring), for tests. Nothing is read or
/// written through the mapping.
pub fn probe_mmap(
    fd: BorrowedFd<'_>,
    len: usize,
    prot: libc::c_int,
    flags: libc::c_int,
    offset: libc::off_t,
) -> io::Result<()> {
    // SAFETY: a new mapping at an address the kernel picks (`MAP_FIXED`,
    // which could replace memory in use, is masked out), never accessed,
    // and unmapped below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            flags & !libc::MAP_FIXED,
            fd.as_raw_fd(),
            offset,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `p` and `len` are the mapping just made, unused.
    if unsafe { libc::munmap(p, len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The calling thread's signal mask, as the kernel has it
/// (`rt_sigprocmask`, so glibc's internal signals are not hidden).
pub fn thread_sigmask() -> io::Result<KernelSigset> {
    let mut set = KernelSigset::default();
    // SAFETY: with a null new set, rt_sigprocmask only writes the current
    // mask, `KERNEL_SIGSET_SIZE` bytes, into `set`, which has that size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK,
            std::ptr::null::<KernelSigset>(),
            &mut set as *mut KernelSigset,
            KERNEL_SIGSET_SIZE as libc::size_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(set)
}

/// `clock_gettime(clock)`: the clock's time now.
pub fn clock_gettime(clock: libc::clockid_t) -> io::Result<libc::timespec> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one `timespec` through its pointer,
    // which points to `ts`; it keeps nothing.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ts)
}

/// Sets or clears `O_NONBLOCK` on `fd`.
pub fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFL takes no argument and only reads the open file.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: F_SETFL takes an int of status flags; `fd` is open.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take12_values_are_kept() {
        assert_eq!(
            [
                KEVENT_CTL_ADD,
                KEVENT_CTL_REMOVE,
                KEVENT_CTL_MODIFY,
                KEVENT_CTL_INIT
            ],
            [0, 1, 2, 3]
        );
        assert_eq!(
            [
                KEVENT_SOCKET,
                KEVENT_INODE,
                KEVENT_TIMER,
                KEVENT_POLL,
                KEVENT_NAIO,
                KEVENT_AIO
            ],
            [0, 1, 2, 3, 4, 5]
        );
        assert_eq!(
            (KEVENT_REQ_ONESHOT, KEVENT_RET_BROKEN, KEVENT_RET_DONE),
            (1, 1, 2)
        );
        assert_eq!(KEVENT_POLL_POLLREMOVE, 0x1000);
    }

    #[test]
    fn ioctl_numbers_match_the_header() {
        // _IOW(0xB9, 1, 24 bytes) and _IOW(0xB9, 2, 32 bytes).
        assert_eq!(KEVENT_IOC_CTL, 0x4018_b901);
        assert_eq!(KEVENT_IOC_GET_EVENTS, 0x4020_b902);
        assert_eq!(size_of::<Ukevent>(), 40);
        // _IOWR(0xB9, 4, 16 bytes).
        assert_eq!(KEVENT_IOC_RING_SETUP, 0xc010_b904);
    }

    #[test]
    fn ring_layout_is_the_documented_one() {
        // head and tail on cache lines of their own, entries at 128.
        assert_eq!(offset_of!(RingHeader, head), 0);
        assert_eq!(offset_of!(RingHeader, tail), 64);
        assert_eq!(RING_ENTRIES_OFFSET, 128);
        assert_eq!(size_of::<RingEntry>(), 32);
        assert_eq!(ring_bytes(2), 128 + 64);
        assert_eq!(
            (KEVENT_RING_MIN_ENTRIES, KEVENT_RING_MAX_ENTRIES),
            (2, 32768)
        );
        assert_eq!((KEVENT_GET_RING, KEVENT_RING_BACKLOG), (1, 1));
    }

    #[test]
    fn ring_calls_on_another_file_fail_cleanly() {
        let (r, _w) = std::io::pipe().unwrap();
        let fd = std::os::fd::AsFd::as_fd(&r);
        let mut setup = RingSetup {
            entries: 8,
            ..Default::default()
        };
        let e = ring_setup(fd, &mut setup).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
        assert_eq!(setup.size, 0);
        let e = get_ring(fd, 0, 1, 0, None).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
        // A pipe cannot be mapped.
        let e = probe_mmap(fd, 4096, libc::PROT_READ, libc::MAP_SHARED, 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
        // A ring is mapped writable: the read end is not open for writing.
        let e = RingMap::map(fd, 4096, 8).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES));
    }

    #[test]
    fn pget_events_arg_carries_the_mask_and_its_size() {
        let mut buf = [Ukevent::default(); 3];
        let mask = KernelSigset::default();
        let arg = pget_events_arg(2, &mut buf, 5, Some(&mask));
        assert_eq!(
            (arg.get.min_nr, arg.get.max_nr, arg.get.timeout_ns),
            (2, 3, 5)
        );
        assert_eq!(arg.get.events, buf.as_ptr() as u64);
        assert_eq!(arg.sigmask, &mask as *const KernelSigset as u64);
        assert_eq!((arg.sigsetsize, arg.reserved, arg.get.flags), (8, 0, 0));
        let arg = pget_events_arg(0, &mut buf, -1, None);
        assert_eq!((arg.sigmask, arg.sigsetsize), (0, 0));
        // _IOW(0xB9, 3, 48 bytes).
        assert_eq!(KEVENT_IOC_PGET_EVENTS, 0x4030_b903);
    }

    #[test]
    fn pget_events_on_another_file_is_enotty() {
        let (r, _w) = std::io::pipe().unwrap();
        let mut buf = [Ukevent::default(); 1];
        let mask = KernelSigset::default();
        for m in [None, Some(&mask)] {
            let e = pget_events(std::os::fd::AsFd::as_fd(&r), 0, &mut buf, 0, m).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
        }
    }

    #[test]
    fn thread_sigmask_reads_the_kernels_mask() {
        // Block SIGWINCH in this test's thread only, read, restore.
        let block = |how: libc::c_int, set: &KernelSigset| {
            let mut old = KernelSigset::default();
            // SAFETY: both sets are live `KERNEL_SIGSET_SIZE`-byte values.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_rt_sigprocmask,
                    how,
                    set as *const KernelSigset,
                    &mut old as *mut KernelSigset,
                    KERNEL_SIGSET_SIZE as libc::size_t,
                )
            };
            assert_eq!(r, 0);
            old
        };
        let bit = 1 << ((libc::SIGWINCH - 1) as u32 % <libc::c_ulong>::BITS);
        let word = (libc::SIGWINCH - 1) as usize / <libc::c_ulong>::BITS as usize;
        let mut winch = KernelSigset::default();
        winch.sig[word] = bit;
        let old = block(libc::SIG_BLOCK, &winch);
        let now = thread_sigmask().unwrap();
        block(libc::SIG_SETMASK, &old);
        assert_eq!(now.sig[word] & bit, bit);
        assert_eq!(old.sig[word] & bit, 0);
        assert_eq!(thread_sigmask().unwrap(), old);
    }

    #[test]
    fn inode_bits_keep_take12s_and_make_all() {
        // take12's CREATE and REMOVE keep their values.
        assert_eq!((KEVENT_INODE_CREATE, KEVENT_INODE_REMOVE), (1, 2));
        let bits = [
            KEVENT_INODE_CREATE,
            KEVENT_INODE_REMOVE,
            KEVENT_INODE_WRITE,
            KEVENT_INODE_ATTRIB,
            KEVENT_INODE_CLOSE_WRITE,
            KEVENT_INODE_MOVED_FROM,
            KEVENT_INODE_MOVED_TO,
            KEVENT_INODE_DELETE_SELF,
            KEVENT_INODE_MOVE_SELF,
            KEVENT_INODE_UNMOUNT,
        ];
        // One bit each, all different, and ALL is every one of them.
        assert!(bits.iter().all(|b| b.is_power_of_two()));
        assert_eq!(bits.iter().fold(0, |a, b| a | b).count_ones(), 10);
        assert_eq!(bits.iter().fold(0, |a, b| a | b), KEVENT_INODE_ALL);
        assert_eq!(KEVENT_INODE_ALL, 0x3ff);
    }

    #[test]
    fn timer_clock_bits_keep_take12s_encoding() {
        // No clock bit is CLOCK_MONOTONIC: take12's timers are unchanged.
        assert_eq!(KEVENT_TIMER_MONOTONIC, 0);
        let clocks = [
            KEVENT_TIMER_MONOTONIC,
            KEVENT_TIMER_REALTIME,
            KEVENT_TIMER_BOOTTIME,
            KEVENT_TIMER_TAI,
        ];
        // Four values of one two-bit field.
        assert_eq!(clocks, [0, 0x100, 0x200, 0x300]);
        assert!(clocks.iter().all(|c| c & !KEVENT_TIMER_CLOCK_MASK == 0));
        assert_eq!(KEVENT_TIMER_CLOCK_MASK.count_ones(), 2);
        // The fields and flags do not overlap, and make the valid bits.
        let parts = [
            KEVENT_TIMER_FIRED,
            KEVENT_TIMER_UNIT_MASK,
            KEVENT_TIMER_CLOCK_MASK,
            KEVENT_TIMER_ABSTIME,
            KEVENT_TIMER_CANCEL_ON_SET,
        ];
        let total: u32 = parts.iter().map(|p| p.count_ones()).sum();
        assert_eq!(parts.iter().fold(0, |a, p| a | p), KEVENT_TIMER_VALID);
        assert_eq!(KEVENT_TIMER_VALID.count_ones(), total);
        assert_eq!(
            (KEVENT_TIMER_ABSTIME, KEVENT_TIMER_CANCEL_ON_SET),
            (0x400, 0x800)
        );
        // CANCELED is a result bit of its own.
        assert_eq!(KEVENT_RET_CANCELED, 0x8);
        let others = KEVENT_RET_BROKEN | KEVENT_RET_DONE | KEVENT_RET_EOF;
        assert_eq!(KEVENT_RET_CANCELED & others, 0);
    }

    #[test]
    fn poll_bits_are_the_kernels() {
        assert_eq!(KEVENT_POLL_POLLIN, libc::POLLIN as u32);
        assert_eq!(KEVENT_POLL_POLLOUT, libc::POLLOUT as u32);
        assert_eq!(KEVENT_POLL_POLLHUP, libc::POLLHUP as u32);
        assert_eq!(KEVENT_POLL_POLLRDNORM, libc::POLLRDNORM as u32);
        assert_eq!(KEVENT_POLL_POLLRDHUP, libc::POLLRDHUP as u32);
        assert_eq!(KEVENT_POLL_POLLRDHUP, 0x2000);
        assert_ne!(KEVENT_POLL_VALID & KEVENT_POLL_POLLRDHUP, 0);
    }
}
