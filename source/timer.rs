// SPDX-License-Identifier: GPL-2.0

//! `KEVENT_TIMER`: a timer on a clock of the caller's choice, relative or
//! at an absolute first expiry, one-shot or periodic, whose event counts
//! its expirations; on `CLOCK_REALTIME`, optionally told when the clock is
//! set (timerfd's `TFD_TIMER_CANCEL_ON_SET`).
//!
//! The request's pending word counts expirations, with [`CANCELED`] set
//! when the clock was set since the last delivery (see [`merge`]).

use super::{Delivery, Handle, Running};
use crate::defs::*;
use crate::sys::{
    clock::ClockSetWatch,
    hrtimer::{Clock, Expiry, HrTimer},
};
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// In the pending word: the clock was set (a cancel-on-set timer).
const CANCELED: u64 = 1 << 63;
/// In the pending word: the expirations.
const COUNT: u64 = CANCELED - 1;

/// The schedule of a timer request, in nanoseconds.
#[derive(Clone, Copy)]
struct TimerSpec {
    /// 0: a single expiry (an absolute timer only).
    period_ns: i64,
    first: Expiry,
    cancel_on_set: bool,
}

impl TimerSpec {
    /// Decodes `id` and `event` of a timer request, and the absolute first
    /// expiry `at` (see the uapi header).
    fn decode(id: [u32; 2], event: u32, at: [u32; 2]) -> Result<Self> {
        const KNOWN: u32 = KEVENT_TIMER_FIRED
            | KEVENT_TIMER_UNIT_MASK
            | KEVENT_TIMER_CLOCK_MASK
            | KEVENT_TIMER_ABSTIME
            | KEVENT_TIMER_CANCEL_ON_SET;
        if event & !KNOWN != 0 {
            return Err(EINVAL);
        }
        let unit_ns: i64 = match event & KEVENT_TIMER_UNIT_MASK {
            0 => 1_000_000,
            KEVENT_TIMER_UNIT_US => 1_000,
            KEVENT_TIMER_UNIT_NS => 1,
            _ => return Err(EINVAL),
        };
        let period_ns = i64::from(id[0]) * unit_ns;
        let absolute = event & KEVENT_TIMER_ABSTIME != 0;
        let first = if absolute {
            // The first expiry is `at`; `id[1]` has no meaning.
            let at = (u64::from(at[1]) << 32) | u64::from(at[0]);
            if id[1] != 0 {
                return Err(EINVAL);
            }
            Expiry::At(i64::try_from(at).map_err(|_| EINVAL)?)
        } else {
            // Relative: a period is needed, and the first expiry defaults
            // to one.
            if id[0] == 0 {
                return Err(EINVAL);
            }
            Expiry::After(match id[1] {
                0 => period_ns,
                first => i64::from(first) * unit_ns,
            })
        };
        let cancel_on_set = event & KEVENT_TIMER_CANCEL_ON_SET != 0;
        // As timerfd: only an absolute time can be upset by a setting.
        if cancel_on_set && (clock(event) != Clock::Realtime || !absolute) {
            return Err(EINVAL);
        }
        Ok(Self {
            period_ns,
            first,
            cancel_on_set,
        })
    }

    fn of<R: Handle>(req: &R) -> Result<Self> {
        Self::decode(req.id(), req.event(), req.payload())
    }
}

/// The clock `event` names.
pub(super) fn clock(event: u32) -> Clock {
    match event & KEVENT_TIMER_CLOCK_MASK {
        KEVENT_TIMER_REALTIME => Clock::Realtime,
        KEVENT_TIMER_BOOTTIME => Clock::Boottime,
        KEVENT_TIMER_TAI => Clock::Tai,
        _ => Clock::Monotonic,
    }
}

pub(super) fn validate(uk: &Ukevent) -> Result {
    TimerSpec::decode(uk.id, uk.event, uk.ret_data).map(|_| ())
}

/// What a request keeps of an ADD or MODIFY besides its fields: the
/// absolute first expiry, which comes in `ret_data`.
pub(super) fn param(uk: &Ukevent) -> Option<[u32; 2]> {
    (uk.event & KEVENT_TIMER_ABSTIME != 0).then_some(uk.ret_data)
}

/// Arms the timer for its first expiry, and watches the clock for a
/// setting if asked to (with `clock_set` if there is one already).
pub(super) fn start<R: Handle>(
    req: &Arc<R>,
    clock_set: Option<ClockSetWatch<R>>,
) -> Result<Running<R>> {
    let spec = TimerSpec::of(&**req)?;
    let clock_set = watch_clock(req, spec.cancel_on_set, clock_set)?;
    let timer = HrTimer::start(req.clone(), spec.first)?;
    Ok(Running::Timer {
        timer: Some(timer),
        clock_set,
    })
}

/// The clock watch a timer needs if `wanted`: the one `kept`, or a new one
/// (`ENOMEM`, which only happens when none was kept).
fn watch_clock<R: Handle>(
    req: &Arc<R>,
    wanted: bool,
    kept: Option<ClockSetWatch<R>>,
) -> Result<Option<ClockSetWatch<R>>> {
    match (wanted, kept) {
        (false, _) => Ok(None),
        (true, Some(watch)) => Ok(Some(watch)),
        (true, None) => ClockSetWatch::new(req.clone()).map(Some),
    }
}

/// MODIFY to `uk`: makes the clock watch the new settings need, if the
/// timer has none, then stops the timer; an expiration of the old schedule
/// is not one of the new. Fails before anything changed: `EINVAL` for
/// another clock (a timer's clock is its own from its ADD on, as a
/// timerfd's), `ENOMEM`.
pub(super) fn pause<R: Handle>(req: &Arc<R>, running: &mut Running<R>, uk: &Ukevent) -> Result {
    if clock(uk.event) != clock(req.event()) {
        return Err(EINVAL);
    }
    let kept = match running {
        Running::Timer { clock_set, .. } => clock_set.take(),
        _ => None,
    };
    // Fails only when there was no watch to keep: then nothing was taken.
    let clock_set = watch_clock(req, uk.event & KEVENT_TIMER_CANCEL_ON_SET != 0, kept)?;
    *running = Running::Timer {
        timer: None,
        clock_set,
    };
    Ok(())
}

/// MODIFY, last: starts the timer on its new settings (validated), with
/// the clock watch `pause` kept.
pub(super) fn resume<R: Handle>(req: &Arc<R>, running: &mut Running<R>) {
    let clock_set = match core::mem::replace(running, Running::Stopped) {
        Running::Timer { clock_set, .. } => clock_set,
        _ => None,
    };
    // Validated settings, a watch if they need one, and a timer the
    // request uses: this cannot fail.
    if let Ok(started) = start(req, clock_set) {
        *running = started;
    }
}

/// The hrtimer callback (hard-irq context): one expiration. A periodic
/// timer counts the ones it missed when it is restarted at delivery.
pub(crate) fn fired<R: Handle>(req: ArcBorrow<'_, R>) {
    R::fire(req, 1);
}

/// The clock of a cancel-on-set timer was set: its next event says so.
pub(crate) fn clock_was_set<R: Handle>(req: ArcBorrow<'_, R>) {
    R::fire(req, CANCELED);
}

/// Merges `new` into the pending word `old`: the counts add (saturating),
/// [`CANCELED`] stays once set.
#[inline(always)]
pub(super) fn merge(old: u64, new: u64) -> u64 {
    let count = (old & COUNT).saturating_add(new & COUNT).min(COUNT);
    count | ((old | new) & CANCELED)
}

/// The event of a firing at wake-up (see `Kind::at_wake`): the expiry of a
/// one-shot request or of a single-expiry timer, or a setting of the clock;
/// not an expiry of a periodic timer, which its delivery restarts.
pub(super) fn at_wake<R: Handle>(
    req: &R,
    pending: u64,
    oneshot: bool,
) -> Option<([u32; 2], u32, bool)> {
    let count = pending & COUNT;
    if count > 0 && !oneshot && !TimerSpec::of(req).is_ok_and(|spec| spec.period_ns == 0) {
        return None;
    }
    let ret_flags = if pending & CANCELED != 0 {
        KEVENT_RET_CANCELED
    } else {
        0
    };
    Some((
        [u32::try_from(count).unwrap_or(u32::MAX), 0],
        ret_flags,
        false,
    ))
}

/// A periodic timer is restarted as its event is delivered, with the
/// expirations it missed since it fired added to `taken`; the event
/// carries the count, and `KEVENT_RET_CANCELED` if the clock was set.
#[inline(always)]
pub(super) fn deliver<R: Handle>(req: &R, running: &mut Running<R>, taken: &mut u64) -> Delivery {
    if req.req_flags() & KEVENT_REQ_ONESHOT == 0 {
        // With interrupts on: its callback cannot run before this (it
        // fired), and one after it finds the request held by the collector
        // and leaves it pending. A timer that has not fired (the clock was
        // set) is left alone.
        if let (
            Running::Timer {
                timer: Some(timer), ..
            },
            Ok(spec),
        ) = (running, TimerSpec::of(req))
        {
            *taken = merge(*taken, timer.restart_periodic(spec.period_ns));
        }
    }
    let count = *taken & COUNT;
    Delivery::Ready {
        ret_data: [u32::try_from(count).unwrap_or(u32::MAX), 0],
        ret_flags: if *taken & CANCELED != 0 {
            KEVENT_RET_CANCELED
        } else {
            0
        },
        keep: false,
        last: false,
    }
}
