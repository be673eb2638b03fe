//! The raw ABI of `uapi/linux/kevent.h`: the only place with `unsafe` code.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Event types.
pub const KEVENT_TIMER: u32 = 2;
pub const KEVENT_POLL: u32 = 3;
pub const KEVENT_USER: u32 = 9;

/// Request flags.
pub const KEVENT_REQ_ONESHOT: u32 = 0x1;
pub const KEVENT_REQ_ET: u32 = 0x4;

/// Result flags.
pub const KEVENT_RET_BROKEN: u32 = 0x1;
pub const KEVENT_RET_DONE: u32 = 0x2;

/// Timer units.
pub const KEVENT_TIMER_UNIT_MS: u32 = 0x00;
pub const KEVENT_TIMER_UNIT_US: u32 = 0x10;
pub const KEVENT_TIMER_UNIT_NS: u32 = 0x20;

/// ctl commands.
pub const KEVENT_CTL_ADD: u32 = 0;
pub const KEVENT_CTL_REMOVE: u32 = 1;
pub const KEVENT_CTL_MODIFY: u32 = 2;
pub const KEVENT_CTL_INIT: u32 = 3;
pub const KEVENT_CTL_READY: u32 = 4;
pub const KEVENT_CTL_MAX_NUM: u32 = 4096;

/// `struct ukevent`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
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

const _: () = {
    assert!(std::mem::size_of::<Ukevent>() == 40);
    assert!(std::mem::size_of::<CtlArg>() == 24);
    assert!(std::mem::size_of::<GetEventsArg>() == 32);
};

/// The ioctl magic.
pub const KEVENT_IOC_MAGIC: u32 = 0xB9;

/// `_IOW(type, nr, size)` of `asm-generic/ioctl.h`.
pub const fn iow(ty: u32, nr: u32, size: usize) -> u32 {
    (1 << 30) | ((size as u32) << 16) | (ty << 8) | nr
}

pub const KEVENT_IOC_CTL: u32 = iow(KEVENT_IOC_MAGIC, 1, std::mem::size_of::<CtlArg>());
pub const KEVENT_IOC_GET_EVENTS: u32 =
    iow(KEVENT_IOC_MAGIC, 2, std::mem::size_of::<GetEventsArg>());

/// Issues an ioctl whose argument is a pointer, possibly a bad one: the
/// kernel checks every pointer it is given and fails with `EFAULT`.
///
/// # Safety
///
/// For the kevent commands the kernel writes the `struct ukevent` arrays
/// that the argument points to: they must be memory this program lets the
/// kernel write (or memory it cannot write at all, which is `EFAULT`).
pub unsafe fn ioctl_ptr(fd: BorrowedFd<'_>, cmd: u32, arg: *const libc::c_void) -> io::Result<i32> {
    // SAFETY: What the kernel reads and writes through `arg` is the
    // caller's promise; the kernel never writes outside those arrays.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as libc::c_ulong, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `KEVENT_IOC_CTL` on `events`: returns how many entries were processed.
pub fn ctl(fd: BorrowedFd<'_>, cmd: u32, events: &mut [Ukevent]) -> io::Result<usize> {
    let arg = CtlArg {
        cmd,
        num: u32::try_from(events.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
        events: events.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `events` is an exclusively borrowed array of `num` entries.
    unsafe { ioctl_ptr(fd, KEVENT_IOC_CTL, (&arg as *const CtlArg).cast()) }.map(|n| n as usize)
}

/// `KEVENT_IOC_GET_EVENTS` into `buf`: returns how many events were copied.
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
    // entries.
    unsafe {
        ioctl_ptr(
            fd,
            KEVENT_IOC_GET_EVENTS,
            (&arg as *const GetEventsArg).cast(),
        )
    }
    .map(|n| n as usize)
}
