// SPDX-License-Identifier: GPL-2.0

//! `KEVENT_USER`: an event that a program triggers by hand
//! (`KEVENT_CTL_READY`), with a payload its delivery carries.

use super::{Delivery, Handle};
use crate::defs::*;
use kernel::{prelude::*, sync::ArcBorrow};

pub(super) fn validate(uk: &Ukevent) -> Result {
    // A user event has no mask; `event` is reserved.
    if uk.event != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

pub(super) fn trigger<R: Handle>(req: ArcBorrow<'_, R>, payload: [u32; 2]) {
    R::fire_with(req, payload);
}

/// The event carries the payload of the last trigger. A level-triggered
/// user event stays ready (see `Kind::stays_ready`) until it is modified
/// or removed.
#[inline(always)]
pub(super) fn deliver<R: Handle>(req: &R) -> Delivery {
    Delivery::Ready {
        ret_data: req.payload(),
        ret_flags: 0,
        keep: false,
        last: false,
    }
}
