// SPDX-License-Identifier: GPL-2.0

//! Sockets: what a `KEVENT_SOCKET` event reports of one, read by the C
//! helpers of `sys/socket.c` (6.12's bindings have no `struct sock`).
//!
//! Upstream has no Rust socket abstraction to shape this like; it is the
//! smallest surface the module needs: is this file a supported socket, its
//! figures now, and the hold a watch keeps on a socket ([`SocketHold`]).

use super::file::{File, FileRef};
use crate::layout;
use core::ffi::{c_int, c_void};
use core::marker::PhantomData;
use core::mem::{offset_of, size_of};
use core::ptr::NonNull;
use kernel::{error::Error, prelude::*};

/// What `sys/socket.c` reads of a socket (`struct kevent_socket_state`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct SocketState {
    /// The figure of the direction asked for: the bytes a receive would
    /// return now (a datagram's or a record's size), the connections
    /// waiting to be accepted, or the free space in the send buffer.
    pub(crate) figure: u32,
    /// The pending error, a positive errno (0: none); not cleared.
    pub(crate) error: u32,
    /// [`RCV_SHUTDOWN`] and [`SEND_SHUTDOWN`].
    pub(crate) shutdown: u32,
    /// 1 if the socket listens for connections.
    pub(crate) listening: u32,
}

const _: () = {
    assert!(size_of::<SocketState>() == layout::SOCKET_STATE_SIZE);
    assert!(offset_of!(SocketState, figure) == layout::SOCKET_STATE_FIGURE);
    assert!(offset_of!(SocketState, error) == layout::SOCKET_STATE_ERROR);
    assert!(offset_of!(SocketState, shutdown) == layout::SOCKET_STATE_SHUTDOWN);
    assert!(offset_of!(SocketState, listening) == layout::SOCKET_STATE_LISTENING);
};

/// The receiving direction was shut down (by the peer, or here).
pub(crate) const RCV_SHUTDOWN: u32 = layout::RCV_SHUTDOWN_BITS as u32;
/// The sending direction was shut down.
pub(crate) const SEND_SHUTDOWN: u32 = layout::SEND_SHUTDOWN_BITS as u32;

extern "C" {
    // `struct file` is passed as an opaque pointer: its Rust binding holds
    // a type that is not FFI-safe, and C dereferences it, not Rust.
    fn kevent_socket_check(file: *mut c_void) -> c_int;
    fn kevent_socket_state(file: *mut c_void, direction: u32, st: *mut SocketState);
    fn kevent_held_socket_of(file: *mut c_void) -> *mut c_void;
    fn kevent_socket_hold(sock: *mut c_void) -> *mut c_void;
    fn kevent_socket_hold_file(hold: *mut c_void) -> *mut c_void;
    fn kevent_socket_hold_released(hold: *const c_void) -> bool;
    fn kevent_socket_hold_put(hold: *mut c_void);
    fn kevent_socket_holds_flush();
}

/// Checks that `file` is a socket whose figures are known: `ENOTSOCK` if
/// it is no socket, `EOPNOTSUPP` for another family or protocol (TCP, UDP
/// and UDP-Lite over IPv4 and IPv6, and unix sockets of every type are
/// known).
pub(crate) fn check(file: &File) -> Result {
    // SAFETY: `file` is valid while borrowed (`File`'s invariant).
    let r = unsafe { kevent_socket_check(file.as_ptr().cast()) };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// The state of the socket behind `file`, which [`check`] accepted, with
/// the figure of `direction` (a `KEVENT_SOCKET_*` event) only: reading
/// the others may cost a lock. May sleep (TCP's count of bytes to receive
/// takes the socket lock).
pub(crate) fn state(file: &File, direction: u32) -> SocketState {
    let mut st = SocketState::default();
    // SAFETY: `file` is valid while borrowed; a file that is a socket stays
    // one, so the helper finds the socket `check` accepted; `st` is valid
    // for writes and has the helper's layout (checked above).
    unsafe { kevent_socket_state(file.as_ptr().cast(), direction, &mut st) };
    st
}

/// The socket behind a file, if a watch holds it by a [`SocketHold`]
/// (those whose figures are known, see [`check`]), for as long as the file
/// is borrowed.
pub(crate) struct HeldSocket<'a> {
    sock: NonNull<c_void>,
    _file: PhantomData<&'a File>,
}

impl HeldSocket<'_> {
    /// The key of the file's watch: the address of its `struct socket`,
    /// which the hold keeps after the file is gone.
    pub(crate) fn key(&self) -> usize {
        self.sock.as_ptr() as usize
    }
}

/// The socket behind `file`, if a watch holds it by a [`SocketHold`].
pub(crate) fn held_socket(file: &File) -> Option<HeldSocket<'_>> {
    // SAFETY: `file` is valid while borrowed (`File`'s invariant).
    let sock = unsafe { kevent_held_socket_of(file.as_ptr().cast()) };
    NonNull::new(sock.cast()).map(|sock| HeldSocket {
        sock,
        _file: PhantomData,
    })
}

/// kevent's hold on a watched TCP, UDP or unix socket: its inode, not its
/// file. A reference to the file would keep the socket open after its
/// owner closed it (a TCP socket's FIN would wait for the sweep), and
/// would count for the unix GC as one from outside, so unix sockets in
/// flight in each other's queues, and what those queues hold, would never
/// be freed while kevent watched one of them. The hold keeps the socket's
/// wait queue (where the hooks are) and lets the file be released as if
/// nothing watched it (see `sys/socket.c`).
///
/// # Invariants
///
/// `0` is a hold made by `kevent_socket_hold` that this value owns.
pub(crate) struct SocketHold(NonNull<c_void>);

// SAFETY: The hold is a pointer to the socket and a list node for its
// release, which may be used and let go of from any thread.
unsafe impl Send for SocketHold {}
// SAFETY: Shared access only reads the socket's file pointer.
unsafe impl Sync for SocketHold {}

impl SocketHold {
    /// Holds `socket`, as found once: looked up again, the file could
    /// name another socket by then (see `kevent_held_socket_of`). May
    /// sleep.
    pub(crate) fn new(socket: HeldSocket<'_>) -> Result<Self> {
        // SAFETY: `socket` was found behind a file that is still borrowed,
        // which keeps the socket alive.
        let hold = unsafe { kevent_socket_hold(socket.sock.as_ptr()) };
        // INVARIANT: the hold made is now this value's.
        NonNull::new(hold).map(Self).ok_or(ENOMEM)
    }

    /// A reference to the socket's file for the length of a use, `None`
    /// once the file is released.
    pub(crate) fn file(&self) -> Option<FileRef> {
        // SAFETY: The hold is valid by the type invariant.
        let file = unsafe { kevent_socket_hold_file(self.0.as_ptr()) };
        // SAFETY: `kevent_socket_hold_file` returns a new reference, or null.
        NonNull::new(file.cast()).map(|file| unsafe { FileRef::from_raw(file) })
    }

    /// Whether the socket's file was released (every descriptor closed and
    /// none in flight): true for good once true. Any context.
    pub(crate) fn is_released(&self) -> bool {
        // SAFETY: The hold is valid by the type invariant.
        unsafe { kevent_socket_hold_released(self.0.as_ptr()) }
    }
}

impl Drop for SocketHold {
    fn drop(&mut self) {
        // SAFETY: The hold is this value's (the type invariant); whoever
        // drops it has taken its hooks off the socket's wait queue first
        // (a watch outlives its requests, which own the hooks).
        unsafe { kevent_socket_hold_put(self.0.as_ptr()) };
    }
}

/// Dropped last at module exit: waits until every [`SocketHold`] dropped
/// has let go of its socket, which a work item of the module does.
pub(crate) struct SocketHoldsFlush;

impl Drop for SocketHoldsFlush {
    fn drop(&mut self) {
        // SAFETY: No arguments; flushing a work item sleeps, and module
        // exit may.
        unsafe { kevent_socket_holds_flush() }
    }
}
