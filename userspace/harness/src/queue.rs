//! Queues, ctl and get-events through the crate, as a Rust program uses
//! them.

use crate::ktap::{Test, TestResult};
use crate::{check, check_eq};
use kevent::sys::{self, Ukevent};
use kevent::{Ctl, Events, Interest, Kind, Queue, Request};
use std::io;
use std::time::{Duration, Instant};

pub const TESTS: &[Test] = &[
    Test {
        name: "queue_ctl_results_per_entry",
        run: ctl_results_per_entry,
    },
    Test {
        name: "queue_user_events_fifo_et_oneshot",
        run: user_events_fifo_et_oneshot,
    },
    Test {
        name: "queue_timeout_returns_what_is_ready",
        run: timeout_returns_what_is_ready,
    },
    Test {
        name: "queue_nonblocking_is_eagain",
        run: nonblocking_is_eagain,
    },
    Test {
        name: "queue_init_makes_an_independent_queue",
        run: init_makes_an_independent_queue,
    },
    Test {
        name: "timer_never_early_in_nanoseconds",
        run: timer_never_early_in_nanoseconds,
    },
    Test {
        name: "timer_periodic_counts_expirations",
        run: timer_periodic_counts_expirations,
    },
    Test {
        name: "poll_pipe_level_edge_and_closed_file",
        run: poll_pipe_level_edge_and_closed_file,
    },
];

pub fn queue() -> Result<Queue, String> {
    Queue::new().map_err(|e| format!("open {}: {e}", kevent::DEVICE))
}

/// A user event whose cookie is its id.
pub fn user(id: u32) -> Request {
    Request::user(id).with_cookie(u64::from(id))
}

pub fn errno<T>(r: io::Result<T>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

/// `wait` with a test's error message.
pub fn wait(q: &Queue, min: usize, ev: &mut Events, t: Option<Duration>) -> Result<usize, String> {
    q.wait(min, ev, t).map_err(|e| format!("wait({min}): {e}"))
}

fn ms(n: u64) -> Option<Duration> {
    Some(Duration::from_millis(n))
}

fn ctl_results_per_entry() -> TestResult {
    let q = queue()?;
    let mut batch = [
        user(1),
        user(1),
        Request::from_raw(Ukevent {
            type_: 7,
            ..*user(2).raw()
        }),
        Request::from_raw(Ukevent {
            req_flags: 0x2,
            ..*user(3).raw()
        }),
    ];
    let results = q.submit(Ctl::Add, &mut batch).map_err(|e| e.to_string())?;
    let errnos: Vec<Option<i32>> = results
        .into_iter()
        .map(|r| r.err().and_then(|e| e.raw_os_error()))
        .collect();
    check_eq!(
        errnos,
        vec![
            None,
            Some(libc::EEXIST),
            Some(libc::EINVAL),
            Some(libc::EINVAL)
        ]
    );
    // Written back in place, too.
    check!(
        batch[0].result().is_some_and(|r| r.is_ok()),
        "first entry not marked done"
    );
    let et = user(1).edge_triggered();
    check_eq!(q.modify(&et).map_err(|e| e.to_string())?, ());
    check_eq!(q.remove(&et).map_err(|e| e.to_string())?, ());
    check_eq!(errno(q.remove(&et)), Some(libc::ENOENT));
    check_eq!(errno(q.modify(&et)), Some(libc::ENOENT));
    Ok(())
}

fn user_events_fifo_et_oneshot() -> TestResult {
    let q = queue()?;
    for id in 1..=5 {
        let r = if id == 5 {
            user(id).oneshot()
        } else {
            user(id).edge_triggered()
        };
        q.add(&r).map_err(|e| e.to_string())?;
    }
    for id in [4, 2, 5, 1] {
        q.trigger(&user(id), [id * 10, id])
            .map_err(|e| e.to_string())?;
    }
    let mut ev = Events::with_capacity(8);
    check_eq!(wait(&q, 4, &mut ev, ms(0))?, 4);
    let got: Vec<(u64, [u32; 2], Kind)> = ev
        .iter()
        .map(|e| (e.cookie(), e.payload(), e.kind()))
        .collect();
    check_eq!(
        got,
        vec![
            (4, [40, 4], Kind::User),
            (2, [20, 2], Kind::User),
            (5, [50, 5], Kind::User),
            (1, [10, 1], Kind::User)
        ]
    );
    // Edge-triggered: nothing more until the next READY; one-shot: gone.
    check_eq!(wait(&q, 0, &mut ev, ms(0))?, 0);
    check_eq!(errno(q.remove(&user(5))), Some(libc::ENOENT));
    Ok(())
}

fn timeout_returns_what_is_ready() -> TestResult {
    let q = queue()?;
    q.add(&user(1)).map_err(|e| e.to_string())?;
    q.trigger(&user(1), [0, 0]).map_err(|e| e.to_string())?;
    let mut ev = Events::with_capacity(4);
    let start = Instant::now();
    check_eq!(wait(&q, 3, &mut ev, ms(40))?, 1);
    check!(
        start.elapsed() >= Duration::from_millis(40),
        "returned early: {:?}",
        start.elapsed()
    );
    // Asking for more than the buffer holds is refused before the kernel.
    let e = q.wait(5, &mut ev, ms(0)).unwrap_err();
    check_eq!(e.kind(), io::ErrorKind::InvalidInput);
    Ok(())
}

fn nonblocking_is_eagain() -> TestResult {
    let q = queue()?;
    q.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut ev = Events::with_capacity(4);
    let e = q.wait(1, &mut ev, None).unwrap_err();
    check_eq!(e.raw_os_error(), Some(libc::EAGAIN));
    check_eq!(e.kind(), io::ErrorKind::WouldBlock);
    q.set_nonblocking(false).map_err(|e| e.to_string())?;
    check_eq!(wait(&q, 0, &mut ev, None)?, 0);
    Ok(())
}

fn init_makes_an_independent_queue() -> TestResult {
    let q = queue()?;
    let q2 = q.new_queue().map_err(|e| format!("KEVENT_CTL_INIT: {e}"))?;
    q.add(&user(1)).map_err(|e| e.to_string())?;
    q2.add(&user(1)).map_err(|e| e.to_string())?;
    q2.trigger(&user(1), [7, 0]).map_err(|e| e.to_string())?;
    let mut ev = Events::with_capacity(2);
    check_eq!(wait(&q, 0, &mut ev, ms(0))?, 0);
    check_eq!(wait(&q2, 1, &mut ev, ms(0))?, 1);
    check_eq!(ev.get(0).map(|e| e.payload()), Some([7, 0]));
    Ok(())
}

fn timer_never_early_in_nanoseconds() -> TestResult {
    let q = queue()?;
    let mut ev = Events::with_capacity(2);
    for ns in [1u64, 1_000, 77_777, 1_000_000, 3_000_000] {
        let start = Instant::now();
        let d = Duration::from_nanos(ns);
        let t = Request::timer(d, None).map_err(|e| e.to_string())?;
        check_eq!(t.raw().event, sys::KEVENT_TIMER_UNIT_NS);
        q.add(&t.oneshot()).map_err(|e| e.to_string())?;
        check_eq!(wait(&q, 1, &mut ev, None)?, 1);
        let took = start.elapsed();
        check!(took >= d, "{ns} ns timer fired after {took:?}");
        check_eq!(ev.get(0).map(|e| e.expirations()), Some(1));
    }
    Ok(())
}

fn timer_periodic_counts_expirations() -> TestResult {
    let q = queue()?;
    let period = Duration::from_micros(500);
    let start = Instant::now();
    let t = Request::timer(period, None).map_err(|e| e.to_string())?;
    q.add(&t).map_err(|e| e.to_string())?;
    let added = start.elapsed();
    let mut ev = Events::with_capacity(2);
    let mut sum = 0u64;
    let mut before = Duration::ZERO;
    while start.elapsed() < Duration::from_millis(150) {
        std::thread::sleep(Duration::from_millis(7));
        before = start.elapsed();
        check_eq!(wait(&q, 1, &mut ev, None)?, 1);
        sum += ev.get(0).map_or(0, |e| u64::from(e.expirations()));
    }
    let end = start.elapsed();
    let most = (end.as_nanos() / period.as_nanos()) as u64;
    let least = (before.saturating_sub(added).as_nanos() / period.as_nanos()) as u64;
    check!(
        sum <= most,
        "{sum} expirations in {end:?}: more than elapsed periods ({most})"
    );
    check!(
        sum + 1 >= least,
        "{sum} expirations: fewer than {least} periods before the last read"
    );
    Ok(())
}

fn poll_pipe_level_edge_and_closed_file() -> TestResult {
    let q = queue()?;
    let (reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let level = Request::poll(&reader, Interest::IN).with_cookie(7);
    q.add(&level).map_err(|e| e.to_string())?;
    let mut ev = Events::with_capacity(4);
    check_eq!(wait(&q, 0, &mut ev, ms(0))?, 0);
    io::Write::write_all(&mut writer, b"x").map_err(|e| e.to_string())?;
    // Level-triggered: reported at every collection while readable.
    for _ in 0..3 {
        check_eq!(wait(&q, 1, &mut ev, ms(1000))?, 1);
        let e = ev.get(0).ok_or("no event")?;
        check_eq!(
            (e.fired(), e.cookie(), e.kind()),
            (Interest::IN, 7, Kind::Poll)
        );
        check_eq!(e.fd(), Some(std::os::fd::AsRawFd::as_raw_fd(&reader)));
    }
    // Edge-triggered: once.
    q.modify(&level.edge_triggered())
        .map_err(|e| e.to_string())?;
    check_eq!(wait(&q, 1, &mut ev, ms(0))?, 1);
    check_eq!(wait(&q, 0, &mut ev, ms(0))?, 0);
    // Closed while watched, and readable: its requests go with its last
    // fd, silently (today's main delivers it once as broken, EBADF).
    q.modify(&level).map_err(|e| e.to_string())?;
    drop(reader);
    check_eq!(wait(&q, 0, &mut ev, ms(0))?, 0);
    check_eq!(errno(q.remove(&level)), Some(libc::ENOENT));
    // Open through another fd, it stays watched under its own number.
    let (reader, mut writer) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let num = std::os::fd::AsRawFd::as_raw_fd(&reader);
    let req = Request::poll(&reader, Interest::IN).with_cookie(8);
    q.add(&req).map_err(|e| e.to_string())?;
    let other = reader.try_clone().map_err(|e| e.to_string())?;
    drop(reader);
    io::Write::write_all(&mut writer, b"y").map_err(|e| e.to_string())?;
    check_eq!(wait(&q, 1, &mut ev, ms(1000))?, 1);
    let e = ev.get(0).ok_or("no event")?;
    check_eq!(
        (e.fd(), e.cookie(), e.fired()),
        (Some(num), 8, Interest::IN)
    );
    check!(e.error().is_none(), "{:?} broken", e.raw());
    drop(other);
    check_eq!(wait(&q, 0, &mut ev, ms(0))?, 0);
    check_eq!(errno(q.remove(&req)), Some(libc::ENOENT));
    Ok(())
}
