// SPDX-License-Identifier: GPL-2.0

//! Sockets: what a `KEVENT_SOCKET` event reports of one, read by the C
//! helpers of `sys/socket.c` (6.12's bindings have no `struct sock`).
//!
//! Upstream has no Rust socket abstraction to shape this like; it is the
//! smallest surface the source needs: is this file a supported socket, and
//! its figures now.

use super::file::File;
use crate::layout;
use core::ffi::{c_int, c_void};
use core::mem::{offset_of, size_of};
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
    fn kevent_socket_only_in_own_queue(file: *mut c_void) -> bool;
    fn kevent_socket_collect_unix_garbage();
}

/// Checks that `file` is a socket whose figures are known: `ENOTSOCK` if
/// it is no socket, `EOPNOTSUPP` for another family or protocol (TCP and
/// UDP over IPv4 and IPv6, and unix sockets of every type are known).
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

/// Whether `file`, to which the caller holds a reference, is a unix socket
/// that nothing else holds but SCM_RIGHTS copies of itself waiting in its
/// own receive queue: garbage that nobody can reach (nobody can receive
/// from the socket without holding it), kept only by the caller's
/// reference, which the unix GC takes for one from outside. Once `true`
/// it stays so. `false` when unsure (see `sys/socket.c`). May sleep.
pub(crate) fn only_in_own_queue(file: &File) -> bool {
    // SAFETY: `file` is valid while borrowed (`File`'s invariant); the
    // helper only reads it and takes the socket's own locks.
    unsafe { kevent_socket_only_in_own_queue(file.as_ptr().cast()) }
}

/// Starts the unix GC, as any unix socket's release does while files are
/// in flight: once the caller has let go of a socket that
/// [`only_in_own_queue`] found, the GC frees it and what its queue holds.
/// May sleep.
pub(crate) fn collect_unix_garbage() {
    // SAFETY: No arguments; the helper creates and releases a socket of
    // its own, in process context (the caller's promise, "may sleep").
    unsafe { kevent_socket_collect_unix_garbage() }
}
