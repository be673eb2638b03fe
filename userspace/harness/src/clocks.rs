//! Timers on the four clocks through the crate: relative and absolute
//! (`KEVENT_TIMER_ABSTIME`), never early against `clock_gettime` of
//! their own clock, the periods an absolute timer's past first expiry
//! counts, the report of a setting of `CLOCK_REALTIME`
//! (`KEVENT_TIMER_CANCEL_ON_SET`), and what ADD and MODIFY refuse.
//!
//! Never early is checked exactly: a clock read before the ADD (or the
//! MODIFY), another after the wait that returned the event, and the
//! expiry the event reports must lie between. The waits' timeouts (5 s)
//! only bound a failure.
//!
//! One test sets `CLOCK_REALTIME` (as root; skipped if it may not) and
//! sets it back before it returns, to the time it would read had it not
//! been set. The harness runs its tests one after the other, and the
//! model test (which runs timers on every clock) after this one.

use crate::ktap::{Test, TestResult};
use crate::queue::{errno, queue, wait};
use crate::{check, check_eq};
use kevent::sys::{self, Ukevent};
use kevent::{Clock, Ctl, Event, Events, FirstExpiry, Kind, Queue, Request};
use std::io;
use std::time::Duration;

pub const TESTS: &[Test] = &[
    Test {
        name: "clock_relative_timer_on_each_clock_never_early",
        run: relative_timer_on_each_clock_never_early,
    },
    Test {
        name: "clock_absolute_timer_fires_at_its_time",
        run: absolute_timer_fires_at_its_time,
    },
    Test {
        name: "clock_absolute_timer_in_the_past_counts_elapsed_periods",
        run: absolute_timer_in_the_past_counts_elapsed_periods,
    },
    Test {
        name: "clock_cancel_on_set_reports_a_setting_of_realtime",
        run: cancel_on_set_reports_a_setting_of_realtime,
    },
    Test {
        name: "clock_timer_refusals",
        run: timer_refusals,
    },
];

/// How long a test waits for an event it expects.
const TIMER_WAIT: Duration = Duration::from_secs(5);

/// `clock`'s time now, with a test's error.
fn now(clock: Clock) -> Result<Duration, String> {
    clock
        .now()
        .map_err(|e| format!("clock_gettime({clock:?}): {e}"))
}

/// A test's error for a failed call.
fn at(what: impl std::fmt::Display) -> impl FnOnce(io::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// Waits for exactly one event of `q`, a timer's, and reads `clock` once
/// the wait has returned: the event, and the clock's time after it.
fn one_timer_event<'e>(
    q: &Queue,
    ev: &'e mut Events,
    clock: Clock,
) -> Result<(Event<'e>, Duration), String> {
    let n = wait(q, 1, ev, Some(TIMER_WAIT))?;
    let after = now(clock)?;
    check!(n == 1, "{n} events, wanted one: {:?}", ev.as_raw());
    let e = ev.get(0).ok_or("no event")?;
    check!(e.kind() == Kind::Timer, "not a timer event: {:?}", e.raw());
    check!(e.error().is_none(), "{:?} broken", e.raw());
    Ok((e, after))
}

/// The event is an expiry (no clock setting) of `req`: its settings, a
/// count of at least one, `ret_data[1]` 0.
fn check_expiry(e: &Event<'_>, req: &Request) -> TestResult {
    let raw = e.raw();
    check_eq!(
        (raw.id, raw.event, raw.req_flags, e.cookie()),
        (
            req.raw().id,
            req.raw().event,
            req.raw().req_flags,
            req.cookie()
        )
    );
    check!(
        raw.ret_flags == sys::KEVENT_RET_DONE && !e.timer_canceled(),
        "ret_flags {:#x}: {raw:?}",
        raw.ret_flags
    );
    check!(
        e.expirations() >= 1 && raw.ret_data[1] == 0,
        "ret_data {:?}",
        raw.ret_data
    );
    Ok(())
}

/// Nothing becomes ready on `q` within `t`.
fn nothing_within(q: &Queue, ev: &mut Events, t: Duration) -> TestResult {
    let n = wait(q, 1, ev, Some(t))?;
    check!(n == 0, "{n} events, wanted none: {:?}", ev.as_raw());
    Ok(())
}

/// A relative timer on each clock: periodic (five events, every count
/// added up) and one-shot. Every event comes when the clock has gone at
/// least first + (n - 1) * period past the ADD, n counting every
/// expiration delivered.
fn relative_timer_on_each_clock_never_early() -> TestResult {
    let q = queue()?;
    let mut ev = Events::with_capacity(4);
    // Odd nanosecond values: the unit is nanoseconds, not rounded.
    let period = Duration::from_nanos(700_001);
    let first = Duration::from_nanos(3_000_007);
    for (i, clock) in Clock::ALL.into_iter().enumerate() {
        let cookie = i as u64 + 1;
        let req = Request::timer_on(clock, period, Some(first))
            .map_err(at("timer_on"))?
            .with_cookie(cookie);
        check_eq!(req.raw().event, sys::KEVENT_TIMER_UNIT_NS | clock.bits());
        let start = now(clock)?;
        q.add(&req).map_err(at(format!("ADD on {clock:?}")))?;
        let mut total = 0u64;
        for _ in 0..5 {
            let (e, after) = one_timer_event(&q, &mut ev, clock)?;
            check_expiry(&e, &req)?;
            total += u64::from(e.expirations());
            let due = first + Duration::from_nanos((total - 1) * period.as_nanos() as u64);
            check!(
                after >= start + due,
                "{clock:?}: {total} expirations {:?} after the ADD, the last due at {due:?}",
                after.saturating_sub(start)
            );
        }
        q.remove(&req).map_err(at("REMOVE"))?;
        // One-shot: one expiry, then gone.
        let d = Duration::from_nanos(1_234_567);
        let once = Request::timer_on(clock, d, None)
            .map_err(at("timer_on"))?
            .oneshot()
            .with_cookie(cookie);
        let start = now(clock)?;
        q.add(&once)
            .map_err(at(format!("ADD one-shot on {clock:?}")))?;
        let (e, after) = one_timer_event(&q, &mut ev, clock)?;
        check_expiry(&e, &once)?;
        check_eq!(e.expirations(), 1);
        check!(
            after >= start + d,
            "{clock:?}: one-shot of {d:?} fired {:?} after the ADD",
            after.saturating_sub(start)
        );
        check_eq!(errno(q.remove(&once)), Some(libc::ENOENT));
    }
    Ok(())
}

/// An absolute timer on each clock, 50 ms ahead of the clock's time:
/// its event comes when the clock reads that time or later, with one
/// expiration; without a period it stays registered and never fires
/// again, until a MODIFY re-arms it with a new time. A time already past
/// fires (once, a one-shot request leaving with it).
fn absolute_timer_fires_at_its_time() -> TestResult {
    let q = queue()?;
    let mut ev = Events::with_capacity(4);
    let ahead = Duration::from_millis(50);
    for (i, clock) in Clock::ALL.into_iter().enumerate() {
        let cookie = 10 + i as u64;
        let target = now(clock)? + ahead;
        let req = Request::timer_at(clock, target, None)
            .map_err(at("timer_at"))?
            .with_cookie(cookie);
        check_eq!(req.raw().id, [0, 0]);
        q.add(&req).map_err(at(format!("ADD on {clock:?}")))?;
        let (e, after) = one_timer_event(&q, &mut ev, clock)?;
        check_expiry(&e, &req)?;
        check_eq!(e.expirations(), 1);
        check!(
            after >= target,
            "{clock:?}: absolute timer fired {:?} before its time",
            target - after
        );
        // Spent, and still registered.
        nothing_within(&q, &mut ev, Duration::from_millis(100))?;
        // MODIFY re-arms it (the request built again: an event's request
        // has no time).
        let target = now(clock)? + ahead;
        let again = Request::timer_at(clock, target, None)
            .map_err(at("timer_at"))?
            .with_cookie(cookie);
        q.modify(&again)
            .map_err(at(format!("MODIFY on {clock:?}")))?;
        let (e, after) = one_timer_event(&q, &mut ev, clock)?;
        check_expiry(&e, &again)?;
        check_eq!(e.expirations(), 1);
        check!(
            after >= target,
            "{clock:?}: re-armed timer fired {:?} before its time",
            target - after
        );
        // The identity is all REMOVE needs.
        let from_event = e.request();
        check_eq!(from_event.raw().ret_data, [0, 0]);
        q.remove(&from_event).map_err(at("REMOVE"))?;
        // The clock's epoch is past: at once, one expiration, and a
        // one-shot request goes with its event.
        let past = Request::timer_at(clock, Duration::ZERO, None)
            .map_err(at("timer_at"))?
            .oneshot()
            .with_cookie(cookie);
        q.add(&past).map_err(at(format!("ADD past on {clock:?}")))?;
        let (e, _) = one_timer_event(&q, &mut ev, clock)?;
        check_expiry(&e, &past)?;
        check_eq!(e.expirations(), 1);
        check_eq!(errno(q.remove(&past)), Some(libc::ENOENT));
    }
    Ok(())
}

/// An absolute periodic timer whose first expiry is two seconds past (or
/// the clock's epoch, if it reads less) counts every period elapsed
/// since, as timerfd does: 1 + (now - first) / period expirations, `now`
/// between the clock read before the ADD and the one after the wait. The
/// next events keep the schedule, never early.
fn absolute_timer_in_the_past_counts_elapsed_periods() -> TestResult {
    let q = queue()?;
    let mut ev = Events::with_capacity(4);
    let period = Duration::from_millis(10);
    let p = period.as_nanos() as u64;
    for (i, clock) in Clock::ALL.into_iter().enumerate() {
        let cookie = 20 + i as u64;
        let t0 = now(clock)?;
        let first = t0 - Duration::from_millis(2_005).min(t0);
        let req = Request::timer_at(clock, first, Some(period))
            .map_err(at("timer_at"))?
            .with_cookie(cookie);
        check_eq!(
            req.timer_spec().map(|s| (s.first, s.period)),
            Some((FirstExpiry::At(first), Some(period)))
        );
        q.add(&req).map_err(at(format!("ADD on {clock:?}")))?;
        let (e, t1) = one_timer_event(&q, &mut ev, clock)?;
        check_expiry(&e, &req)?;
        let n = u64::from(e.expirations());
        let least = 1 + (t0 - first).as_nanos() as u64 / p;
        let most = 1 + t1.saturating_sub(first).as_nanos() as u64 / p;
        check!(
            (least..=most).contains(&n),
            "{clock:?}: {n} expirations of a timer whose first expiry was {:?} past, \
             wanted {least} to {most}",
            t0 - first
        );
        let mut total = n;
        for _ in 0..3 {
            let (e, after) = one_timer_event(&q, &mut ev, clock)?;
            check_expiry(&e, &req)?;
            total += u64::from(e.expirations());
            let due = first + Duration::from_nanos((total - 1) * p);
            check!(
                after >= due,
                "{clock:?}: {total} expirations delivered {:?} before the last was due",
                due - after
            );
        }
        q.remove(&req).map_err(at("REMOVE"))?;
    }
    Ok(())
}

/// `CLOCK_REALTIME` set ahead by a test, and set back when dropped (if
/// the test did not) to the time it would read had it not been set: its
/// time before, plus the `CLOCK_MONOTONIC` time since.
struct RealtimeStep {
    realtime: Duration,
    monotonic: Duration,
    restored: bool,
}

impl RealtimeStep {
    /// Sets `CLOCK_REALTIME` `by` ahead; `None` if the harness may not
    /// (`EPERM`: not root).
    fn forward(by: Duration) -> Result<Option<RealtimeStep>, String> {
        let monotonic = now(Clock::Monotonic)?;
        let realtime = now(Clock::Realtime)?;
        match set_realtime(realtime + by) {
            Ok(()) => Ok(Some(RealtimeStep {
                realtime,
                monotonic,
                restored: false,
            })),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(None),
            Err(e) => Err(format!("clock_settime(CLOCK_REALTIME): {e}")),
        }
    }

    /// Sets the clock back (a setting of the clock too).
    fn restore(&mut self) -> Result<(), String> {
        if self.restored {
            return Ok(());
        }
        let since = now(Clock::Monotonic)? - self.monotonic;
        set_realtime(self.realtime + since).map_err(at("clock_settime(CLOCK_REALTIME) back"))?;
        self.restored = true;
        Ok(())
    }
}

impl Drop for RealtimeStep {
    fn drop(&mut self) {
        if let Err(e) = self.restore() {
            println!("# could not set CLOCK_REALTIME back: {e}");
        }
    }
}

fn set_realtime(t: Duration) -> io::Result<()> {
    let ts = libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    };
    // SAFETY: clock_settime reads one `timespec`, which `ts` is; it keeps
    // nothing.
    if unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits for exactly `n` events of `q`, each a report of a setting of the
/// clock by a timer with no expiration due: `DONE|CANCELED`, a count of
/// 0. Returns their cookies, sorted.
fn cancel_reports(q: &Queue, ev: &mut Events, n: usize) -> Result<Vec<u64>, String> {
    let got = wait(q, n, ev, Some(TIMER_WAIT))?;
    check!(
        got == n,
        "{got} events in {TIMER_WAIT:?} after setting the clock, wanted {n}: {:?}",
        ev.as_raw()
    );
    let mut cookies = Vec::new();
    for e in ev.iter() {
        let raw = e.raw();
        check!(
            e.kind() == Kind::Timer && e.timer_canceled(),
            "not a clock-setting report: {raw:?}"
        );
        check_eq!(
            raw.ret_flags,
            sys::KEVENT_RET_DONE | sys::KEVENT_RET_CANCELED
        );
        // An hour ahead: nothing expired.
        check_eq!(raw.ret_data, [0, 0]);
        cookies.push(e.cookie());
    }
    cookies.sort_unstable();
    Ok(cookies)
}

/// Absolute `CLOCK_REALTIME` timers an hour ahead with
/// `KEVENT_TIMER_CANCEL_ON_SET` report the setting of the clock (to one
/// second ahead): each is ready at once, its event `DONE|CANCELED` with
/// no expiration; a one-shot request leaves with it, the others stay
/// and report the next setting (setting the clock back) too. Requests
/// without the flag (absolute or relative, on `CLOCK_REALTIME` or
/// `CLOCK_MONOTONIC`) report nothing.
fn cancel_on_set_reports_a_setting_of_realtime() -> TestResult {
    let q = queue()?;
    let mut ev = Events::with_capacity(8);
    let hour = Duration::from_secs(3600);
    let expiry = now(Clock::Realtime)? + hour;
    let cancel = |period: Option<Duration>| -> Result<Request, String> {
        Request::timer_at(Clock::Realtime, expiry, period)
            .and_then(Request::cancel_on_set)
            .map_err(at("timer_at(..).cancel_on_set()"))
    };
    let single = cancel(None)?.with_cookie(1);
    let periodic = cancel(Some(Duration::from_secs(60)))?.with_cookie(2);
    let oneshot = cancel(None)?.oneshot().with_cookie(3);
    let quiet = [
        Request::timer_at(Clock::Realtime, expiry, None).map_err(at("timer_at"))?,
        Request::timer_on(Clock::Realtime, hour, None).map_err(at("timer_on"))?,
        Request::timer_at(Clock::Tai, now(Clock::Tai)? + hour, None).map_err(at("timer_at"))?,
        Request::timer_on(Clock::Monotonic, hour, None).map_err(at("timer_on"))?,
    ];
    let mut batch = vec![single, periodic, oneshot];
    batch.extend(
        quiet
            .iter()
            .enumerate()
            .map(|(i, r)| r.with_cookie(10 + i as u64)),
    );
    let results = q.submit(Ctl::Add, &mut batch).map_err(at("ADD batch"))?;
    let errnos: Vec<Option<i32>> = results.into_iter().map(errno).collect();
    check_eq!(errnos, vec![None; 7]);
    check_eq!(wait(&q, 0, &mut ev, Some(Duration::ZERO))?, 0);

    let Some(mut step) = RealtimeStep::forward(Duration::from_secs(1))? else {
        println!(
            "# clock_cancel_on_set_reports_a_setting_of_realtime: may not set \
             CLOCK_REALTIME (EPERM), skipped"
        );
        return Ok(());
    };
    check_eq!(cancel_reports(&q, &mut ev, 3)?, vec![1, 2, 3]);
    // Reported once; the others say nothing.
    nothing_within(&q, &mut ev, Duration::from_millis(200))?;
    check_eq!(errno(q.remove(&oneshot)), Some(libc::ENOENT));
    // Setting it back is a setting too.
    step.restore()?;
    check_eq!(cancel_reports(&q, &mut ev, 2)?, vec![1, 2]);
    nothing_within(&q, &mut ev, Duration::from_millis(200))?;
    // Everything else is registered still.
    for r in [single, periodic] {
        q.remove(&r).map_err(at("REMOVE"))?;
    }
    for (i, r) in quiet.iter().enumerate() {
        q.remove(&r.with_cookie(10 + i as u64))
            .map_err(at("REMOVE"))?;
    }
    Ok(())
}

/// What ADD and MODIFY refuse (`EINVAL`, the fields checked before the
/// identity): `CANCEL_ON_SET` without `ABSTIME` or on another clock than
/// `REALTIME`, `ABSTIME` with `id[1]` not 0 or a time past `i64::MAX`, a
/// relative timer with no period, the unit 0x30 or an unknown bit on any
/// clock. An absolute timer with no period and a time of `i64::MAX` is
/// fine; its time is not part of its identity (`EEXIST`). READY is for
/// user events (`EINVAL`).
fn timer_refusals() -> TestResult {
    use sys::{
        KEVENT_TIMER_ABSTIME as ABS, KEVENT_TIMER_BOOTTIME as BOOT,
        KEVENT_TIMER_CANCEL_ON_SET as CANCEL, KEVENT_TIMER_REALTIME as RT, KEVENT_TIMER_TAI as TAI,
        KEVENT_TIMER_UNIT_NS as NS,
    };
    let q = queue()?;
    let timer = |event: u32, id: [u32; 2], ret_data: [u32; 2], cookie: u64| {
        Request::from_raw(Ukevent {
            id,
            type_: sys::KEVENT_TIMER,
            event,
            ret_data,
            user: cookie,
            ..Default::default()
        })
    };
    let max = [u32::MAX, 0x7fff_ffff];
    let refused = [
        // CANCEL_ON_SET without ABSTIME, or not on REALTIME.
        timer(NS | RT | CANCEL, [10, 0], [0, 0], 1),
        timer(NS | CANCEL, [10, 0], [0, 0], 2),
        timer(NS | ABS | CANCEL, [0, 0], [1, 0], 3),
        timer(NS | BOOT | ABS | CANCEL, [0, 0], [1, 0], 4),
        timer(NS | TAI | ABS | CANCEL, [0, 0], [1, 0], 5),
        // ABSTIME: id[1] must be 0; at most i64::MAX.
        timer(NS | RT | ABS, [10, 1], [1, 0], 6),
        timer(NS | ABS, [0, 5], [1, 0], 7),
        timer(NS | ABS, [10, 0], [0, 0x8000_0000], 8),
        timer(NS | RT | ABS | CANCEL, [0, 0], [u32::MAX, u32::MAX], 9),
        // Relative with no period; the unit 0x30; an unknown bit.
        timer(NS | RT, [0, 5], [0, 0], 10),
        timer(sys::KEVENT_TIMER_UNIT_MASK | TAI, [10, 0], [0, 0], 11),
        timer(NS | BOOT | 0x1000, [10, 0], [0, 0], 12),
    ];
    let good = timer(NS | ABS, [0, 0], max, 20);
    let good_cancel = timer(NS | RT | ABS | CANCEL, [0, 0], max, 21);
    // The crate refuses them too.
    for r in &refused {
        check!(r.timer_spec().is_none(), "the crate decodes {:?}", r.raw());
    }
    check!(
        good.timer_spec().is_some() && good_cancel.timer_spec().is_some(),
        "the crate refuses a good entry"
    );
    let mut batch: Vec<Request> = refused.to_vec();
    batch.extend([
        good,
        good_cancel,
        // Another time, the same identity.
        timer(NS | ABS, [0, 0], [5, 0], 20),
        timer(NS | ABS, [0, 0], [u32::MAX, 0x7fff_fffe], 22),
    ]);
    let results = q.submit(Ctl::Add, &mut batch).map_err(at("ADD batch"))?;
    let errnos: Vec<Option<i32>> = results.into_iter().map(errno).collect();
    let mut want = vec![Some(libc::EINVAL); refused.len()];
    want.extend([None, None, Some(libc::EEXIST), None]);
    check_eq!(errnos, want);
    // MODIFY checks the fields first: EINVAL for an identity that exists
    // or not, and the request is unchanged.
    for r in &refused {
        check_eq!(
            (errno(q.modify(r)), errno(q.modify(&r.with_cookie(20)))),
            (Some(libc::EINVAL), Some(libc::EINVAL))
        );
    }
    check_eq!(
        errno(q.modify(&timer(NS | ABS, [0, 0], [1, 0], 99))),
        Some(libc::ENOENT)
    );
    // READY is for user events.
    check_eq!(errno(q.trigger(&good, [0, 0])), Some(libc::EINVAL));
    // Their times are some 292 years ahead: nothing comes.
    let mut ev = Events::with_capacity(4);
    check_eq!(wait(&q, 0, &mut ev, Some(Duration::ZERO))?, 0);
    for cookie in [20, 21, 22] {
        q.remove(&timer(NS | ABS, [0, 0], [0, 0], cookie))
            .map_err(at(format!("REMOVE {cookie}")))?;
    }
    Ok(())
}
