// SPDX-License-Identifier: GPL-2.0

//! `KEVENT_INODE`: file-system notifications of a file or directory, as
//! take12 proposed and kqueue's `EVFILT_VNODE` reports them.
//!
//! The request watches the object that `id[0]` names when it is added,
//! through an fsnotify mark of its own (`sys::inode`), and keeps no file:
//! closing the fd leaves it, and it never keeps a file system busy.
//! Notifications that come before the request is collected merge into one
//! event. The request's pending word holds them: the bits that happened in
//! its low half, how many notifications in its high half (see [`merge`]).

use super::{Delivery, Handle, Running};
use crate::defs::*;
use crate::sys::{
    file::FileRef,
    inode::{InodeMark, INODE_ENDED},
};
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// In the low half of the pending word: the watch ended. Not a uapi bit
/// (those are below it).
const ENDED: u64 = INODE_ENDED as u64;
/// One notification, in the pending word.
const ONE: u64 = 1 << 32;

const _: () = assert!(KEVENT_INODE_ALL & INODE_ENDED == 0);

pub(super) fn validate(uk: &Ukevent) -> Result {
    if uk.id[1] != 0 || uk.event == 0 || uk.event & !KEVENT_INODE_ALL != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// Watches the object the fd `id[0]` refers to (an `O_PATH` fd too), which
/// the caller must be allowed to read (`EACCES`).
pub(super) fn start<R: Handle>(req: &Arc<R>) -> Result<Running<R>> {
    let file = FileRef::from_fd_raw(req.id()[0])?;
    let mark = InodeMark::watch(req.clone(), file.file())?;
    Ok(Running::Watching { _mark: mark })
}

/// The bits a request reports: those it asks for, and the unmount of the
/// file system, which ends every watch.
fn wanted(event: u32) -> u32 {
    event | KEVENT_INODE_UNMOUNT
}

/// Notifications of the watched object (in the file-system operation that
/// made them), or the end of the watch: the request is marked with them.
pub(crate) fn notified<R: Handle>(req: ArcBorrow<'_, R>, events: u32) {
    let word = if events == INODE_ENDED {
        ENDED
    } else {
        match events & wanted(req.event()) {
            0 => return,
            bits => ONE | u64::from(bits),
        }
    };
    R::fire(req, word);
}

/// Merges `new` into the pending word `old`: the bits are or'ed, the
/// counts added (saturating).
#[inline(always)]
pub(super) fn merge(old: u64, new: u64) -> u64 {
    let count = (old >> 32)
        .saturating_add(new >> 32)
        .min(u64::from(u32::MAX));
    (count << 32) | ((old | new) & u64::from(u32::MAX))
}

/// The event of what is pending at a notification, or of the end of the
/// watch (see `Kind::at_wake`).
pub(super) fn at_wake<R: Handle>(req: &R, pending: u64) -> Option<([u32; 2], u32, bool)> {
    match deliver(req, pending) {
        Delivery::Ready {
            ret_data,
            ret_flags,
            last,
            ..
        } => Some((ret_data, ret_flags, last)),
        Delivery::NotReady => None,
    }
}

/// The event carries the bits and the count of what was `taken`, in the
/// request's mask as it is now (MODIFY may have narrowed it). The end of
/// the watch is its last event: `KEVENT_RET_EOF`, and it leaves the queue.
pub(super) fn deliver<R: Handle>(req: &R, taken: u64) -> Delivery {
    // The low half: the bits; the high half: the count.
    let bits = (taken as u32) & wanted(req.event());
    let ended = taken & ENDED != 0;
    if bits == 0 && !ended {
        return Delivery::NotReady;
    }
    Delivery::Ready {
        ret_data: [bits, (taken >> 32) as u32],
        ret_flags: if ended { KEVENT_RET_EOF } else { 0 },
        keep: false,
        last: ended,
    }
}
