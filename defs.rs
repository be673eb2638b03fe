// SPDX-License-Identifier: GPL-2.0

//! The ABI of `uapi/linux/kevent.h`, in Rust.
//!
//! The structs are declared by hand and checked at build time (in
//! `sys/abi.rs`) against the layouts `layout_check.c` reads from the
//! header, so the two cannot drift.

use crate::layout;
use kernel::error::Error;

/// Event types.
pub(crate) const KEVENT_SOCKET: u32 = layout::KEVENT_SOCKET_VALUE as u32;
pub(crate) const KEVENT_INODE: u32 = layout::KEVENT_INODE_VALUE as u32;
pub(crate) const KEVENT_TIMER: u32 = 2;
pub(crate) const KEVENT_POLL: u32 = 3;
pub(crate) const KEVENT_USER: u32 = 9;

/// Request flags.
pub(crate) const KEVENT_REQ_ONESHOT: u32 = 0x1;
pub(crate) const KEVENT_REQ_ET: u32 = 0x4;
pub(crate) const KEVENT_REQ_ALL: u32 = KEVENT_REQ_ONESHOT | KEVENT_REQ_ET;

/// Result flags.
pub(crate) const KEVENT_RET_BROKEN: u32 = 0x1;
pub(crate) const KEVENT_RET_DONE: u32 = 0x2;
pub(crate) const KEVENT_RET_EOF: u32 = layout::KEVENT_RET_EOF_VALUE as u32;
pub(crate) const KEVENT_RET_CANCELED: u32 = layout::KEVENT_RET_CANCELED_VALUE as u32;

/// `KEVENT_SOCKET` events: one direction each.
pub(crate) const KEVENT_SOCKET_RECV: u32 = layout::KEVENT_SOCKET_RECV_VALUE as u32;
pub(crate) const KEVENT_SOCKET_ACCEPT: u32 = layout::KEVENT_SOCKET_ACCEPT_VALUE as u32;
pub(crate) const KEVENT_SOCKET_SEND: u32 = layout::KEVENT_SOCKET_SEND_VALUE as u32;

/// `KEVENT_INODE` events: every bit a request may ask for, and the one it
/// is always told of.
pub(crate) const KEVENT_INODE_ALL: u32 = layout::KEVENT_INODE_ALL_VALUE as u32;
pub(crate) const KEVENT_INODE_UNMOUNT: u32 = layout::KEVENT_INODE_UNMOUNT_VALUE as u32;

/// Timer events: take12's "fired" bit and the unit.
pub(crate) const KEVENT_TIMER_FIRED: u32 = 0x1;
pub(crate) const KEVENT_TIMER_UNIT_US: u32 = 0x10;
pub(crate) const KEVENT_TIMER_UNIT_NS: u32 = 0x20;
pub(crate) const KEVENT_TIMER_UNIT_MASK: u32 = 0x30;
/// Timer clocks (none: `CLOCK_MONOTONIC`), the absolute first expiry and
/// cancel-on-set.
pub(crate) const KEVENT_TIMER_REALTIME: u32 = layout::KEVENT_TIMER_REALTIME_VALUE as u32;
pub(crate) const KEVENT_TIMER_BOOTTIME: u32 = layout::KEVENT_TIMER_BOOTTIME_VALUE as u32;
pub(crate) const KEVENT_TIMER_TAI: u32 = layout::KEVENT_TIMER_TAI_VALUE as u32;
pub(crate) const KEVENT_TIMER_CLOCK_MASK: u32 = layout::KEVENT_TIMER_CLOCK_MASK_VALUE as u32;
pub(crate) const KEVENT_TIMER_ABSTIME: u32 = layout::KEVENT_TIMER_ABSTIME_VALUE as u32;
pub(crate) const KEVENT_TIMER_CANCEL_ON_SET: u32 = layout::KEVENT_TIMER_CANCEL_ON_SET_VALUE as u32;

/// `KEVENT_POLL` events: take12's POLL* bits and `POLLRDHUP`, the kernel's
/// values.
pub(crate) const KEVENT_POLL_VALID: u32 = 0x07ff | 0x1000 | 0x2000;
pub(crate) const KEVENT_POLL_POLLIN: u32 = 0x0001;
pub(crate) const KEVENT_POLL_POLLOUT: u32 = 0x0004;
pub(crate) const KEVENT_POLL_POLLRDNORM: u32 = 0x0040;
pub(crate) const KEVENT_POLL_POLLWRNORM: u32 = 0x0100;
pub(crate) const KEVENT_POLL_POLLRDHUP: u32 = 0x2000;

/// ctl commands.
pub(crate) const KEVENT_CTL_ADD: u32 = 0;
pub(crate) const KEVENT_CTL_REMOVE: u32 = 1;
pub(crate) const KEVENT_CTL_MODIFY: u32 = 2;
pub(crate) const KEVENT_CTL_INIT: u32 = 3;
pub(crate) const KEVENT_CTL_READY: u32 = 4;

/// The most entries one ctl call takes.
pub(crate) const KEVENT_CTL_MAX_NUM: u32 = 4096;

/// The ioctl commands, as the header computes them.
pub(crate) const KEVENT_IOC_CTL: u32 = layout::IOC_CTL as u32;
pub(crate) const KEVENT_IOC_GET_EVENTS: u32 = layout::IOC_GET_EVENTS as u32;
pub(crate) const KEVENT_IOC_PGET_EVENTS: u32 = layout::IOC_PGET_EVENTS as u32;
pub(crate) const KEVENT_IOC_RING_SETUP: u32 = layout::IOC_RING_SETUP as u32;

/// get-events flags: collect into the queue's ring.
pub(crate) const KEVENT_GET_RING: u32 = layout::KEVENT_GET_RING_VALUE as u32;

/// The sizes a ring may have, in entries (powers of two).
pub(crate) const KEVENT_RING_MIN_ENTRIES: u32 = layout::KEVENT_RING_MIN_ENTRIES_VALUE as u32;
pub(crate) const KEVENT_RING_MAX_ENTRIES: u32 = layout::KEVENT_RING_MAX_ENTRIES_VALUE as u32;
/// Ring flags: events wait outside the ring.
pub(crate) const KEVENT_RING_BACKLOG: u32 = layout::KEVENT_RING_BACKLOG_VALUE as u32;

/// The size of the kernel's `sigset_t`, the only `sigsetsize` accepted.
pub(crate) const SIGSET_SIZE: u32 = layout::SIGSET_SIZE as u32;

/// Errnos that 6.12's `kernel::error::code` does not name.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(kernel::bindings::EOPNOTSUPP as i32))
}

pub(crate) fn eloop() -> Error {
    Error::from_errno(-(kernel::bindings::ELOOP as i32))
}

/// `struct ukevent`: a request as registered, an event as delivered.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Ukevent {
    pub(crate) id: [u32; 2],
    pub(crate) type_: u32,
    pub(crate) event: u32,
    pub(crate) req_flags: u32,
    pub(crate) ret_flags: u32,
    pub(crate) ret_data: [u32; 2],
    pub(crate) user: u64,
}

/// `struct kevent_ctl_arg`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct CtlArg {
    pub(crate) cmd: u32,
    pub(crate) num: u32,
    pub(crate) events: u64,
    pub(crate) flags: u32,
    pub(crate) reserved: u32,
}

/// `struct kevent_get_events_arg`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct GetEventsArg {
    pub(crate) min_nr: u32,
    pub(crate) max_nr: u32,
    pub(crate) timeout_ns: i64,
    pub(crate) events: u64,
    pub(crate) flags: u32,
    pub(crate) reserved: u32,
}

/// `struct kevent_pget_events_arg`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct PgetEventsArg {
    pub(crate) get: GetEventsArg,
    pub(crate) sigmask: u64,
    pub(crate) sigsetsize: u32,
    pub(crate) reserved: u32,
}

/// `struct kevent_ring_setup` (aligned as a `u64` here, so that
/// `read_arg` reads it as two words; the layout is the header's).
#[repr(C, align(8))]
#[derive(Clone, Copy, Default)]
pub(crate) struct RingSetupArg {
    pub(crate) entries: u32,
    pub(crate) flags: u32,
    pub(crate) size: u32,
    pub(crate) reserved: u32,
}
