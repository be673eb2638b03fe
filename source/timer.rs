// SPDX-License-Identifier: GPL-2.0

//! `KEVENT_TIMER`: a relative timer on `CLOCK_MONOTONIC`, one-shot or
//! periodic, whose event counts its expirations.

use super::{Delivery, Handle, Running};
use crate::defs::*;
use crate::sys::hrtimer::HrTimer;
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
    time::Ktime,
};

/// The schedule of a timer request, in nanoseconds.
#[derive(Clone, Copy)]
struct TimerSpec {
    period_ns: i64,
    first_ns: i64,
}

impl TimerSpec {
    /// Decodes `id` and `event` of a timer request (see the uapi header).
    fn decode(id: [u32; 2], event: u32) -> Result<Self> {
        if event & !(KEVENT_TIMER_FIRED | KEVENT_TIMER_UNIT_MASK) != 0 {
            return Err(EINVAL);
        }
        let unit_ns: i64 = match event & KEVENT_TIMER_UNIT_MASK {
            0 => 1_000_000,
            KEVENT_TIMER_UNIT_US => 1_000,
            KEVENT_TIMER_UNIT_NS => 1,
            _ => return Err(EINVAL),
        };
        if id[0] == 0 {
            return Err(EINVAL);
        }
        let period_ns = i64::from(id[0]) * unit_ns;
        let first_ns = match id[1] {
            0 => period_ns,
            first => i64::from(first) * unit_ns,
        };
        Ok(Self {
            period_ns,
            first_ns,
        })
    }

    fn of<R: Handle>(req: &R) -> Result<Self> {
        Self::decode(req.id(), req.event())
    }
}

pub(super) fn validate(uk: &Ukevent) -> Result {
    TimerSpec::decode(uk.id, uk.event).map(|_| ())
}

/// Arms the timer for its first expiry.
pub(super) fn start<R: Handle>(req: &Arc<R>) -> Result<Running<R>> {
    let spec = TimerSpec::of(&**req)?;
    let expires = Ktime::ktime_get().to_ns().saturating_add(spec.first_ns);
    HrTimer::start(req.clone(), expires).map(Running::Timer)
}

/// The hrtimer callback (hard-irq context): one expiration. A periodic
/// timer counts the ones it missed when it is restarted at delivery.
pub(crate) fn fired<R: Handle>(req: ArcBorrow<'_, R>) {
    R::fire(req, 1);
}

/// A periodic timer is restarted as its event is delivered, with the
/// expirations it missed since it fired added to `taken`; the event
/// carries the count.
#[inline(always)]
pub(super) fn deliver<R: Handle>(req: &R, running: &mut Running<R>, taken: &mut u64) -> Delivery {
    if req.req_flags() & KEVENT_REQ_ONESHOT == 0 {
        // With interrupts on: its callback cannot run before this (it
        // fired), and one after it finds the request held by the collector
        // and leaves it pending.
        if let (Running::Timer(timer), Ok(spec)) = (running, TimerSpec::of(req)) {
            *taken = taken.saturating_add(timer.restart_periodic(spec.period_ns));
        }
    }
    Delivery::Ready {
        ret_data: [u32::try_from(*taken).unwrap_or(u32::MAX), 0],
        ret_flags: 0,
        keep: false,
        last: false,
    }
}
