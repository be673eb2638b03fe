// SPDX-License-Identifier: GPL-2.0

//! `KEVENT_POLL`: readiness of any file with a `poll` method, as epoll
//! reports it.
//!
//! The request hooks the file's wait queues; a wake-up queues it (the
//! queue's request decides that, as it knows whether the file was closed
//! and how deep in other queues' wake-ups it runs), and the file is asked
//! for its readiness when the request is collected.

use super::{Delivery, Handle, Running, Started};
use crate::defs::*;
use crate::sys::poll::{self, PollHooks, POLL_ALWAYS};
use kernel::{prelude::*, sync::Arc};

pub(super) fn validate(uk: &Ukevent) -> Result {
    if uk.id[1] != 0 || uk.event & !KEVENT_POLL_VALID != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// The readiness bits a request reports: those it asks for, and those a
/// file always reports.
fn wanted<R: Handle>(req: &R) -> u32 {
    req.event() | POLL_ALWAYS
}

/// Hooks the watched file's wait queues; ready if the file is already.
pub(super) fn start<R: Handle>(req: &Arc<R>) -> Result<Started<R>> {
    // `None`: a held socket closed since the ADD took it.
    let file = req.file().ok_or(EBADF)?;
    let (hooks, mask) = PollHooks::register(req.clone(), &file)?;
    Ok((
        Running::Hooked { _hooks: hooks },
        mask & wanted(&**req) != 0,
    ))
}

/// The file's readiness now, in the bits the request reports.
#[inline(always)]
fn mask_now<R: Handle>(req: &R) -> Result<u32> {
    // A poll request always watches a file; a held socket's may be gone.
    let Some(file) = req.file() else {
        return Ok(0);
    };
    poll::poll_now(&file).map(|mask| mask & wanted(req))
}

pub(super) fn is_ready_now<R: Handle>(req: &R) -> Result<bool> {
    mask_now(req).map(|mask| mask != 0)
}

/// An edge-triggered request's event at wake-up: the readiness the wake-up
/// announced, if it said and it concerns the request (see `Kind::at_wake`).
pub(super) fn at_wake<R: Handle>(req: &R, mask: u32) -> Option<([u32; 2], u32, bool)> {
    let bits = mask & wanted(req);
    (bits != 0).then_some(([bits, 0], 0, false))
}

/// The file is asked now (which task asks makes no difference); the event
/// carries the mask. A level-triggered request stays ready, to be asked
/// again at the next collection.
#[inline(always)]
pub(super) fn deliver<R: Handle>(req: &R) -> Delivery {
    match mask_now(req) {
        Ok(0) | Err(_) => Delivery::NotReady,
        Ok(mask) => Delivery::Ready {
            ret_data: [mask, 0],
            ret_flags: 0,
            keep: req.req_flags() & KEVENT_REQ_ET == 0,
            last: false,
        },
    }
}
