//! Queues, ctl and get-events through the crate, as a Rust program uses
//! them.

use crate::ktap::{Test, TestResult};
use crate::{check, check_eq};
use kevent::sys::{self, Ukevent};
use kevent::Queue;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
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
        name: "poll_pipe_level_edge_and_closed_fd",
        run: poll_pipe_level_edge_and_closed_fd,
    },
];

fn queue() -> Result<Queue, String> {
    Queue::new().map_err(|e| format!("open {}: {e}", kevent::DEVICE))
}

fn user(id: u32, flags: u32) -> Ukevent {
    Ukevent {
        id: [id, 0],
        type_: sys::KEVENT_USER,
        req_flags: flags,
        user: u64::from(id),
        ..Default::default()
    }
}

fn timer(period: u32, first: u32, unit: u32, flags: u32) -> Ukevent {
    Ukevent {
        id: [period, first],
        type_: sys::KEVENT_TIMER,
        event: unit,
        req_flags: flags,
        ..Default::default()
    }
}

/// Runs one entry; `Ok(())` or the entry's errno.
fn ctl1(q: &Queue, cmd: u32, uk: &mut Ukevent) -> Result<Result<(), u32>, String> {
    let n = q
        .ctl(cmd, std::slice::from_mut(uk))
        .map_err(|e| format!("ctl: {e}"))?;
    check_eq!(n, 1);
    check!(
        uk.ret_flags & sys::KEVENT_RET_DONE != 0,
        "entry not marked done"
    );
    Ok(if uk.ret_flags & sys::KEVENT_RET_BROKEN != 0 {
        Err(uk.ret_data[1])
    } else {
        Ok(())
    })
}

fn ready(q: &Queue, id: u32, payload: u32) -> TestResult {
    let mut uk = user(id, 0);
    uk.ret_data[0] = payload;
    check_eq!(ctl1(q, sys::KEVENT_CTL_READY, &mut uk)?, Ok(()));
    Ok(())
}

fn ctl_results_per_entry() -> TestResult {
    let q = queue()?;
    let mut batch = [
        user(1, 0),
        user(1, 0),
        Ukevent {
            type_: 7,
            ..user(2, 0)
        },
        user(3, 0x2),
    ];
    check_eq!(
        q.ctl(sys::KEVENT_CTL_ADD, &mut batch)
            .map_err(|e| e.to_string())?,
        4
    );
    let results: Vec<(u32, u32)> = batch.iter().map(|u| (u.ret_flags, u.ret_data[1])).collect();
    let broken = sys::KEVENT_RET_DONE | sys::KEVENT_RET_BROKEN;
    check_eq!(
        results,
        vec![
            (sys::KEVENT_RET_DONE, 0),
            (broken, libc::EEXIST as u32),
            (broken, libc::EINVAL as u32),
            (broken, libc::EINVAL as u32)
        ]
    );
    let mut uk = user(1, sys::KEVENT_REQ_ET);
    check_eq!(ctl1(&q, sys::KEVENT_CTL_MODIFY, &mut uk)?, Ok(()));
    check_eq!(ctl1(&q, sys::KEVENT_CTL_REMOVE, &mut uk)?, Ok(()));
    check_eq!(
        ctl1(&q, sys::KEVENT_CTL_REMOVE, &mut uk)?,
        Err(libc::ENOENT as u32)
    );
    check_eq!(
        ctl1(&q, sys::KEVENT_CTL_MODIFY, &mut uk)?,
        Err(libc::ENOENT as u32)
    );
    Ok(())
}

fn user_events_fifo_et_oneshot() -> TestResult {
    let q = queue()?;
    for id in 1..=5 {
        let flags = if id == 5 {
            sys::KEVENT_REQ_ONESHOT
        } else {
            sys::KEVENT_REQ_ET
        };
        check_eq!(ctl1(&q, sys::KEVENT_CTL_ADD, &mut user(id, flags))?, Ok(()));
    }
    for id in [4, 2, 5, 1] {
        ready(&q, id, id * 10)?;
    }
    let mut ev = [Ukevent::default(); 8];
    let n = q.get_events(4, &mut ev, 0).map_err(|e| e.to_string())?;
    check_eq!(n, 4);
    let got: Vec<(u32, u32)> = ev[..n].iter().map(|e| (e.id[0], e.ret_data[0])).collect();
    check_eq!(got, vec![(4, 40), (2, 20), (5, 50), (1, 10)]);
    // Edge-triggered: nothing more until the next READY; one-shot: gone.
    check_eq!(q.get_events(0, &mut ev, 0).map_err(|e| e.to_string())?, 0);
    check_eq!(
        ctl1(&q, sys::KEVENT_CTL_REMOVE, &mut user(5, 0))?,
        Err(libc::ENOENT as u32)
    );
    Ok(())
}

fn timeout_returns_what_is_ready() -> TestResult {
    let q = queue()?;
    check_eq!(ctl1(&q, sys::KEVENT_CTL_ADD, &mut user(1, 0))?, Ok(()));
    ready(&q, 1, 0)?;
    let mut ev = [Ukevent::default(); 4];
    let start = Instant::now();
    check_eq!(
        q.get_events(3, &mut ev, 40_000_000)
            .map_err(|e| e.to_string())?,
        1
    );
    check!(
        start.elapsed() >= Duration::from_millis(40),
        "returned early: {:?}",
        start.elapsed()
    );
    Ok(())
}

fn nonblocking_is_eagain() -> TestResult {
    let q = queue()?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&q);
    // SAFETY: F_SETFL on a descriptor this function owns.
    check_eq!(
        unsafe { libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK) },
        0
    );
    let mut ev = [Ukevent::default(); 4];
    let err = q
        .get_events(1, &mut ev, -1)
        .err()
        .and_then(|e| e.raw_os_error());
    check_eq!(err, Some(libc::EAGAIN));
    Ok(())
}

fn init_makes_an_independent_queue() -> TestResult {
    let q = queue()?;
    let arg = sys::CtlArg {
        cmd: sys::KEVENT_CTL_INIT,
        ..Default::default()
    };
    let fd = crate::abi::ioctl(
        q.as_fd(),
        sys::KEVENT_IOC_CTL,
        (&arg as *const sys::CtlArg).cast(),
    )
    .map_err(|e| format!("KEVENT_CTL_INIT: {e}"))?;
    // SAFETY: the kernel just returned this new descriptor to us.
    let q2 = Queue::from(unsafe { OwnedFd::from_raw_fd(fd) });
    check_eq!(ctl1(&q, sys::KEVENT_CTL_ADD, &mut user(1, 0))?, Ok(()));
    check_eq!(ctl1(&q2, sys::KEVENT_CTL_ADD, &mut user(1, 0))?, Ok(()));
    ready(&q2, 1, 7)?;
    let mut ev = [Ukevent::default(); 2];
    check_eq!(q.get_events(0, &mut ev, 0).map_err(|e| e.to_string())?, 0);
    check_eq!(q2.get_events(1, &mut ev, 0).map_err(|e| e.to_string())?, 1);
    check_eq!(ev[0].ret_data[0], 7);
    Ok(())
}

fn timer_never_early_in_nanoseconds() -> TestResult {
    let q = queue()?;
    let mut ev = [Ukevent::default(); 2];
    for ns in [1u32, 1_000, 77_777, 1_000_000, 3_000_000] {
        let start = Instant::now();
        let mut uk = timer(ns, 0, sys::KEVENT_TIMER_UNIT_NS, sys::KEVENT_REQ_ONESHOT);
        check_eq!(ctl1(&q, sys::KEVENT_CTL_ADD, &mut uk)?, Ok(()));
        check_eq!(q.get_events(1, &mut ev, -1).map_err(|e| e.to_string())?, 1);
        let took = start.elapsed();
        check!(
            took >= Duration::from_nanos(u64::from(ns)),
            "{ns} ns timer fired after {took:?}"
        );
        check_eq!(ev[0].ret_data[0], 1);
    }
    Ok(())
}

fn timer_periodic_counts_expirations() -> TestResult {
    let q = queue()?;
    let period = Duration::from_micros(500);
    let start = Instant::now();
    let mut uk = timer(500, 0, sys::KEVENT_TIMER_UNIT_US, 0);
    check_eq!(ctl1(&q, sys::KEVENT_CTL_ADD, &mut uk)?, Ok(()));
    let added = start.elapsed();
    let mut ev = [Ukevent::default(); 2];
    let mut sum = 0u64;
    let mut before = Duration::ZERO;
    while start.elapsed() < Duration::from_millis(150) {
        std::thread::sleep(Duration::from_millis(7));
        before = start.elapsed();
        check_eq!(q.get_events(1, &mut ev, -1).map_err(|e| e.to_string())?, 1);
        sum += u64::from(ev[0].ret_data[0]);
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

fn poll_request(fd: i32, flags: u32) -> Ukevent {
    Ukevent {
        id: [fd as u32, 0],
        type_: sys::KEVENT_POLL,
        event: libc::POLLIN as u32,
        req_flags: flags,
        user: 7,
        ..Default::default()
    }
}

fn poll_pipe_level_edge_and_closed_fd() -> TestResult {
    let q = queue()?;
    let (reader, mut writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let rfd = std::os::fd::AsRawFd::as_raw_fd(&reader);
    check_eq!(
        ctl1(&q, sys::KEVENT_CTL_ADD, &mut poll_request(rfd, 0))?,
        Ok(())
    );
    let mut ev = [Ukevent::default(); 4];
    check_eq!(q.get_events(0, &mut ev, 0).map_err(|e| e.to_string())?, 0);
    std::io::Write::write_all(&mut writer, b"x").map_err(|e| e.to_string())?;
    // Level-triggered: reported at every collection while readable.
    for _ in 0..3 {
        check_eq!(
            q.get_events(1, &mut ev, 1_000_000_000)
                .map_err(|e| e.to_string())?,
            1
        );
        check_eq!(ev[0].ret_data[0], libc::POLLIN as u32);
    }
    // Edge-triggered: once.
    check_eq!(
        ctl1(
            &q,
            sys::KEVENT_CTL_MODIFY,
            &mut poll_request(rfd, sys::KEVENT_REQ_ET)
        )?,
        Ok(())
    );
    check_eq!(q.get_events(1, &mut ev, 0).map_err(|e| e.to_string())?, 1);
    check_eq!(q.get_events(0, &mut ev, 0).map_err(|e| e.to_string())?, 0);
    // Closed while watched: delivered once as broken, then gone.
    check_eq!(
        ctl1(&q, sys::KEVENT_CTL_MODIFY, &mut poll_request(rfd, 0))?,
        Ok(())
    );
    drop(reader);
    check_eq!(
        q.get_events(1, &mut ev, 1_000_000_000)
            .map_err(|e| e.to_string())?,
        1
    );
    check_eq!(
        ev[0].ret_flags,
        sys::KEVENT_RET_DONE | sys::KEVENT_RET_BROKEN
    );
    check_eq!(ev[0].ret_data[1], libc::EBADF as u32);
    check_eq!(q.get_events(0, &mut ev, 0).map_err(|e| e.to_string())?, 0);
    Ok(())
}
