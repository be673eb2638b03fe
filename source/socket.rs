// SPDX-License-Identifier: GPL-2.0

//! `KEVENT_SOCKET`: a socket ready in one direction, with the figures
//! kqueue's `EVFILT_READ` and `EVFILT_WRITE` report and epoll cannot: the
//! bytes a receive returns, the connections waiting, the free send space,
//! end of file and the pending error.
//!
//! The request hooks the socket's wait queue as a `KEVENT_POLL` request
//! does; the figures are read when it is collected, and decide with the
//! low-water mark whether there is an event.

use super::{Delivery, Handle, Running, Started};
use crate::defs::*;
use crate::sys::{
    file::File,
    poll::{self, PollHooks},
    socket::{self, RCV_SHUTDOWN, SEND_SHUTDOWN},
};
use kernel::{prelude::*, sync::Arc};

pub(super) fn validate(uk: &Ukevent) -> Result {
    match uk.event {
        KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND => Ok(()),
        // Connections are counted, not bytes: no low-water mark.
        KEVENT_SOCKET_ACCEPT if uk.id[1] == 0 => Ok(()),
        // None, or more than one direction.
        _ => Err(EINVAL),
    }
}

/// The wake-ups of the socket that may make the request ready.
pub(super) fn wake_mask(event: u32) -> u32 {
    match event {
        KEVENT_SOCKET_SEND => KEVENT_POLL_POLLOUT | KEVENT_POLL_POLLWRNORM,
        _ => KEVENT_POLL_POLLIN | KEVENT_POLL_POLLRDNORM | KEVENT_POLL_POLLRDHUP,
    }
}

/// A socket of a family and protocol whose figures are known (see
/// `sys::socket::check`).
pub(super) fn check_file(file: &File) -> Result {
    socket::check(file)
}

/// Hooks the socket's wait queue; ready if it is already.
pub(super) fn start<R: Handle>(req: &Arc<R>) -> Result<Started<R>> {
    // `None`: a held socket closed since the ADD took it.
    let file = req.file().ok_or(EBADF)?;
    let (hooks, _) = PollHooks::register(req.clone(), &file)?;
    let ready = observe(&**req).is_some();
    Ok((Running::Hooked { _hooks: hooks }, ready))
}

pub(super) fn is_ready_now<R: Handle>(req: &R) -> bool {
    observe(req).is_some()
}

/// The event, if the socket is ready in the request's direction now: the
/// direction's figure has reached the low-water mark (`id[1]`; without
/// one, anything to receive or room to send), or the direction was shut
/// down (end of file), or an error is pending. A level-triggered request
/// stays ready, to be asked again.
pub(super) fn deliver<R: Handle>(req: &R) -> Delivery {
    match observe(req) {
        None => Delivery::NotReady,
        Some((ret_data, ret_flags)) => Delivery::Ready {
            ret_data,
            ret_flags,
            keep: req.req_flags() & KEVENT_REQ_ET == 0,
            last: false,
        },
    }
}

/// `ret_data` (the figure, the pending error) and `ret_flags` of an event
/// the socket has now, if it has one.
fn observe<R: Handle>(req: &R) -> Option<([u32; 2], u32)> {
    let file = req.file()?;
    let direction = req.event();
    let st = socket::state(&file, direction);
    let lowat = req.id()[1];
    let (reached, eof) = match direction {
        KEVENT_SOCKET_RECV => {
            // Without a mark, anything to receive: an empty datagram too,
            // which has no bytes. A listener has connections, not bytes.
            let reached = match lowat {
                0 => st.listening == 0 && polls(&file, KEVENT_POLL_POLLIN),
                lowat => st.figure >= lowat,
            };
            (reached, st.shutdown & RCV_SHUTDOWN != 0)
        }
        KEVENT_SOCKET_ACCEPT => (st.figure > 0, false),
        // Free space is not enough: a connecting TCP socket has it, and a
        // unix datagram socket whose peer's queue is full. The socket's
        // own writability decides first.
        _ => (
            polls(&file, KEVENT_POLL_POLLOUT) && st.figure >= lowat.max(1),
            st.shutdown & SEND_SHUTDOWN != 0,
        ),
    };
    if !reached && !eof && st.error == 0 {
        return None;
    }
    let ret_flags = if eof { KEVENT_RET_EOF } else { 0 };
    Some(([st.figure, st.error], ret_flags))
}

/// Whether the socket's poll method reports `bit` now.
fn polls(file: &File, bit: u32) -> bool {
    poll::poll_now(file).is_ok_and(|mask| mask & bit != 0)
}
