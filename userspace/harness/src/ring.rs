//! The event ring through the crate's `Ring` (`docs/kevent.7.md`, "The
//! event ring"): set-up and its refusals, the mapping's rules, what the
//! kernel writes at wake-up and what get-events with `KEVENT_GET_RING`
//! moves in, one-shot requests that leave with their entry (and wait in
//! line when no slot is free for them, which only calls free), a full
//! ring falling back to the queue, wrap-around, waiting, and a ring that
//! outlives its queue.

use crate::abi::ioctl;
use crate::alloc_count::allocations;
use crate::api::TempDir;
use crate::ktap::{Test, TestResult};
use crate::queue::{errno, queue, user};
use crate::{check, check_eq};
use kevent::sys::{self, GetEventsArg, RingMap, RingSetup, Ukevent};
use kevent::{InodeChange, InodeEvents, Interest, Kind, Queue, Request, Ring, RingEvent};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

pub const TESTS: &[Test] = &[
    Test {
        name: "ring_setup_refusals_and_ebusy",
        run: setup_refusals_and_ebusy,
    },
    Test {
        name: "ring_get_events_rules",
        run: get_events_rules,
    },
    Test {
        name: "ring_mmap_rules_and_a_second_mapping",
        run: mmap_rules_and_a_second_mapping,
    },
    Test {
        name: "ring_et_user_triggers_are_written_at_once",
        run: et_user_triggers_are_written_at_once,
    },
    Test {
        name: "ring_level_triggered_and_timers_come_through_wait",
        run: level_triggered_and_timers_come_through_wait,
    },
    Test {
        name: "ring_oneshot_requests_leave_with_their_entry",
        run: oneshot_requests_leave_with_their_entry,
    },
    Test {
        name: "ring_closed_files_release_but_keep_their_slots",
        run: closed_files_release_but_keep_their_slots,
    },
    Test {
        name: "ring_full_falls_back_to_the_queue_and_loses_nothing",
        run: full_falls_back_to_the_queue_and_loses_nothing,
    },
    Test {
        name: "ring_wraps_around",
        run: wraps_around,
    },
    Test {
        name: "ring_wait_blocks_until_min_entries",
        run: wait_blocks_until_min_entries,
    },
    Test {
        name: "ring_wait_moves_a_level_triggered_request_once",
        run: wait_moves_a_level_triggered_request_once,
    },
    Test {
        name: "ring_inode_notifications_one_entry_each",
        run: inode_notifications_one_entry_each,
    },
    Test {
        name: "ring_outlives_its_queue",
        run: outlives_its_queue,
    },
    Test {
        name: "ring_reading_allocates_nothing",
        run: reading_allocates_nothing,
    },
];

/// How long a test waits for what it expects.
const LONG: Duration = Duration::from_secs(10);

fn new_ring(q: &Queue, entries: u32) -> Result<Ring, String> {
    Ring::new(q, entries).map_err(|e| format!("ring of {entries} entries: {e}"))
}

/// The unread entries, read and freed.
fn take(ring: &mut Ring) -> Result<Vec<RingEvent>, String> {
    let mut out = Vec::new();
    ring.drain(|e| out.push(e))
        .map_err(|e| format!("drain: {e}"))?;
    Ok(out)
}

fn ready(ring: &Ring) -> Result<usize, String> {
    ring.ready().map_err(|e| format!("ready: {e}"))
}

fn ring_wait(
    ring: &Ring,
    q: &Queue,
    min: usize,
    max: usize,
    t: Option<Duration>,
) -> Result<usize, String> {
    ring.wait(q, min, max, t)
        .map_err(|e| format!("ring wait({min}, {max}): {e}"))
}

/// (id, payload) of user entries, failing on any other kind.
fn users(evs: &[RingEvent]) -> Result<Vec<(u32, [u32; 2])>, String> {
    evs.iter()
        .map(|e| {
            check!(
                e.kind() == Kind::User && e.raw().ret_flags == sys::KEVENT_RET_DONE,
                "not a delivered user event: {:?}",
                e.raw()
            );
            check_eq!(e.cookie(), u64::from(e.id()[0]));
            Ok((e.id()[0], e.payload()))
        })
        .collect()
}

/// `poll` of the queue, not waiting: whether it shows `POLLIN`.
fn pollin(fd: BorrowedFd<'_>) -> Result<bool, String> {
    let mut p = [libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: `p` is one live `pollfd` that poll may write.
    let r = unsafe { libc::poll(p.as_mut_ptr(), 1, 0) };
    check!(r >= 0, "poll: {}", std::io::Error::last_os_error());
    Ok(p[0].revents & libc::POLLIN != 0)
}

fn setup_refusals_and_ebusy() -> TestResult {
    let q = queue()?;
    // Not a power of two, or out of 2..=32768: EINVAL, and no ring.
    for entries in [0, 1, 3, 6, 48, 65536, 1 << 20, u32::MAX] {
        check_eq!(errno(Ring::new(&q, entries)), Some(libc::EINVAL));
    }
    // flags and __reserved must be 0.
    for (flags, reserved) in [(1, 0), (0x8000_0000, 0), (0, 1)] {
        let mut s = RingSetup {
            entries: 8,
            flags,
            reserved,
            ..Default::default()
        };
        check_eq!(
            errno(sys::ring_setup(q.as_fd(), &mut s)),
            Some(libc::EINVAL)
        );
    }
    // Still no ring: get-events copies as before.
    let mut ev = kevent::Events::with_capacity(1);
    check_eq!(
        q.wait(0, &mut ev, Some(Duration::ZERO))
            .map_err(|e| e.to_string())?,
        0
    );
    // Every valid size, each on its own queue; the size covers the ring.
    for shift in 1..=15 {
        let entries = 1u32 << shift;
        let q = queue()?;
        let mut s = RingSetup {
            entries,
            ..Default::default()
        };
        sys::ring_setup(q.as_fd(), &mut s).map_err(|e| format!("set-up of {entries}: {e}"))?;
        check!(
            s.size as usize >= sys::ring_bytes(entries),
            "{entries} entries in {} bytes",
            s.size
        );
        check_eq!((s.entries, s.flags, s.reserved), (entries, 0, 0));
        // Once for life: another size too.
        for again in [entries, 2, 8] {
            check_eq!(errno(Ring::new(&q, again)), Some(libc::EBUSY));
        }
    }
    let ring = new_ring(&q, 2)?;
    check_eq!(ring.entries(), 2);
    check!(
        ring.mapped_bytes() >= sys::ring_bytes(2),
        "{} bytes mapped",
        ring.mapped_bytes()
    );
    check_eq!((ready(&ring)?, ring.backlog()), (0, false));
    check_eq!(errno(Ring::new(&q, 2)), Some(libc::EBUSY));
    Ok(())
}

fn get_events_rules() -> TestResult {
    let q = queue()?;
    // KEVENT_GET_RING without a ring.
    check_eq!(
        errno(sys::get_ring(q.as_fd(), 0, 1, 0, None)),
        Some(libc::EINVAL)
    );
    let ring = new_ring(&q, 4)?;
    let z = Some(Duration::ZERO);
    // Once the queue has a ring, get-events without it is EINVAL.
    let mut ev = kevent::Events::with_capacity(4);
    check_eq!(errno(q.wait(0, &mut ev, z)), Some(libc::EINVAL));
    // max 0, min above max, min above the ring's entries.
    check_eq!(errno(ring.wait(&q, 0, 0, z)), Some(libc::EINVAL));
    check_eq!(errno(ring.wait(&q, 3, 2, z)), Some(libc::EINVAL));
    check_eq!(errno(ring.wait(&q, 5, 8, z)), Some(libc::EINVAL));
    // min 4 of 4 is fine (and times out here); max above the entries too.
    check_eq!(
        ring_wait(&ring, &q, 4, 100, Some(Duration::from_millis(1)))?,
        0
    );
    // events must be 0 with KEVENT_GET_RING.
    let mut buf = [Ukevent::default(); 4];
    let arg = GetEventsArg {
        max_nr: 4,
        events: buf.as_mut_ptr() as u64,
        flags: sys::KEVENT_GET_RING,
        ..Default::default()
    };
    let r = ioctl(
        q.as_fd(),
        sys::KEVENT_IOC_GET_EVENTS,
        (&arg as *const GetEventsArg).cast(),
    );
    check_eq!(errno(r), Some(libc::EINVAL));
    // An unknown flag.
    let arg = GetEventsArg {
        max_nr: 4,
        flags: 0x2,
        ..Default::default()
    };
    let r = ioctl(
        q.as_fd(),
        sys::KEVENT_IOC_GET_EVENTS,
        (&arg as *const GetEventsArg).cast(),
    );
    check_eq!(errno(r), Some(libc::EINVAL));
    // Non-blocking with nothing: EAGAIN.
    q.set_nonblocking(true).map_err(|e| e.to_string())?;
    check_eq!(errno(ring.wait(&q, 1, 4, None)), Some(libc::EAGAIN));
    Ok(())
}

fn mmap_rules_and_a_second_mapping() -> TestResult {
    let q = queue()?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    // No ring yet.
    check_eq!(
        errno(sys::probe_mmap(q.as_fd(), 4096, rw, libc::MAP_SHARED, 0)),
        Some(libc::ENODEV)
    );
    let mut s = RingSetup {
        entries: 8,
        ..Default::default()
    };
    sys::ring_setup(q.as_fd(), &mut s).map_err(|e| e.to_string())?;
    let page = 4096;
    let whole = (s.size as usize).next_multiple_of(page);
    // MAP_SHARED only; offset 0 only; no more than the size in pages.
    check_eq!(
        errno(sys::probe_mmap(q.as_fd(), whole, rw, libc::MAP_PRIVATE, 0)),
        Some(libc::EINVAL)
    );
    check_eq!(
        errno(sys::probe_mmap(
            q.as_fd(),
            whole,
            rw,
            libc::MAP_SHARED,
            page as libc::off_t
        )),
        Some(libc::EINVAL)
    );
    check_eq!(
        errno(sys::probe_mmap(
            q.as_fd(),
            whole + page,
            rw,
            libc::MAP_SHARED,
            0
        )),
        Some(libc::EINVAL)
    );
    // Less is fine, and the whole rounded size.
    for len in [128, s.size as usize, whole] {
        sys::probe_mmap(q.as_fd(), len, rw, libc::MAP_SHARED, 0)
            .map_err(|e| format!("mmap of {len} bytes: {e}"))?;
    }
    // Two mappings show one ring.
    let a = RingMap::map(q.as_fd(), s.size, 8).map_err(|e| e.to_string())?;
    let b = RingMap::map(q.as_fd(), s.size, 8).map_err(|e| e.to_string())?;
    let u = user(1).edge_triggered();
    q.add(&u).map_err(|e| e.to_string())?;
    q.trigger(&u, [5, 6]).map_err(|e| e.to_string())?;
    check_eq!((a.tail(), b.tail(), a.head()), (1, 1, 0));
    check_eq!(a.entry(0), b.entry(0));
    check_eq!(
        (a.entry(0).id, a.entry(0).ret_data, a.entry(0).user),
        ([1, 0], [5, 6], 1)
    );
    b.set_head(1);
    check_eq!(a.head(), 1);
    check_eq!(a.mask(), 7);
    Ok(())
}

fn et_user_triggers_are_written_at_once() -> TestResult {
    let q = queue()?;
    let mut ring = new_ring(&q, 8)?;
    let (one, two) = (user(1).edge_triggered(), user(2).edge_triggered());
    q.add(&one).map_err(|e| e.to_string())?;
    q.add(&two).map_err(|e| e.to_string())?;
    check!(!pollin(q.as_fd())?, "POLLIN on an empty ring");
    for (u, p) in [(&one, 1), (&two, 2), (&one, 3)] {
        q.trigger(u, [p, 0]).map_err(|e| e.to_string())?;
    }
    // In the ring with no call, one entry per trigger, in order: the two
    // of user 1 do not coalesce.
    check_eq!(ready(&ring)?, 3);
    check!(!ring.backlog(), "backlog with nothing outside the ring");
    check!(pollin(q.as_fd())?, "no POLLIN with unread entries");
    let evs = take(&mut ring)?;
    check_eq!(users(&evs)?, vec![(1, [1, 0]), (2, [2, 0]), (1, [3, 0])]);
    check_eq!(ready(&ring)?, 0);
    check!(!pollin(q.as_fd())?, "POLLIN on a read ring");
    // The identity is enough to name the request.
    let req = evs[1].request();
    check_eq!((req.kind(), req.cookie()), (Kind::User, 2));
    // An entry written before a REMOVE stays in the ring.
    q.trigger(&two, [4, 0]).map_err(|e| e.to_string())?;
    q.remove(&req).map_err(|e| e.to_string())?;
    check_eq!(errno(q.trigger(&two, [5, 0])), Some(libc::ENOENT));
    check_eq!(users(&take(&mut ring)?)?, vec![(2, [4, 0])]);
    // A wait finds what is there already, and moves nothing more.
    q.trigger(&one, [6, 0]).map_err(|e| e.to_string())?;
    check_eq!(ring_wait(&ring, &q, 1, 8, Some(LONG))?, 1);
    check_eq!(users(&take(&mut ring)?)?, vec![(1, [6, 0])]);
    Ok(())
}

fn level_triggered_and_timers_come_through_wait() -> TestResult {
    let q = queue()?;
    let mut ring = new_ring(&q, 8)?;
    let (mut reader, mut writer) = std::io::pipe().map_err(|e| e.to_string())?;
    writer.write_all(b"abc").map_err(|e| e.to_string())?;
    // A readable pipe watched level-triggered: queued at ADD, outside
    // the ring until a wait moves it.
    q.add(&Request::poll(&reader, Interest::IN).with_cookie(5))
        .map_err(|e| e.to_string())?;
    check_eq!(ready(&ring)?, 0);
    check!(ring.backlog(), "no backlog with a ready request outside");
    check!(pollin(q.as_fd())?, "no POLLIN with an event waiting");
    for _ in 0..3 {
        // Still readable: moved in at every wait, one entry each.
        check_eq!(ring_wait(&ring, &q, 1, 8, Some(LONG))?, 1);
        let evs = take(&mut ring)?;
        check_eq!(evs.len(), 1);
        let e = evs[0];
        check_eq!(
            (e.kind(), e.cookie(), e.fired(), e.fd()),
            (Kind::Poll, 5, Interest::IN, Some(reader.as_raw_fd()))
        );
        check_eq!(e.raw().ret_flags, sys::KEVENT_RET_DONE);
    }
    // Drained: the wait asks the file, and moves nothing.
    reader.read_exact(&mut [0; 3]).map_err(|e| e.to_string())?;
    check_eq!(ring_wait(&ring, &q, 0, 8, Some(Duration::ZERO))?, 0);
    check_eq!(ready(&ring)?, 0);
    // A level-triggered user event: at every wait, with its payload.
    let lt = user(7);
    q.add(&lt).map_err(|e| e.to_string())?;
    q.trigger(&lt, [70, 1]).map_err(|e| e.to_string())?;
    check_eq!(ready(&ring)?, 0);
    for _ in 0..2 {
        check_eq!(ring_wait(&ring, &q, 1, 8, Some(LONG))?, 1);
        check_eq!(users(&take(&mut ring)?)?, vec![(7, [70, 1])]);
    }
    q.remove(&lt).map_err(|e| e.to_string())?;
    // A one-shot timer, with nothing waiting outside the ring: its expiry
    // is written at once, with no call, and it leaves the queue with it.
    let t = Request::timer(Duration::from_millis(2), None)
        .map_err(|e| e.to_string())?
        .oneshot()
        .with_cookie(9);
    q.add(&t).map_err(|e| e.to_string())?;
    let start = Instant::now();
    while ready(&ring)? == 0 {
        check!(
            start.elapsed() < LONG,
            "a one-shot timer's entry was not written at its expiry"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let evs = take(&mut ring)?;
    check_eq!(evs.len(), 1);
    check_eq!(
        (evs[0].kind(), evs[0].cookie(), evs[0].expirations()),
        (Kind::Timer, 9, 1)
    );
    check_eq!(errno(q.remove(&t)), Some(libc::ENOENT));
    // A periodic one: every wait moves its expirations, at least one.
    let p = Request::timer(Duration::from_millis(1), None)
        .map_err(|e| e.to_string())?
        .with_cookie(10);
    q.add(&p).map_err(|e| e.to_string())?;
    let mut total = 0;
    for _ in 0..3 {
        check_eq!(ring_wait(&ring, &q, 1, 8, Some(LONG))?, 1);
        let evs = take(&mut ring)?;
        check!(
            evs.len() == 1 && evs[0].expirations() >= 1,
            "{:?}",
            evs.iter().map(|e| e.raw()).collect::<Vec<_>>()
        );
        total += evs[0].expirations();
    }
    check!(total >= 3, "{total} expirations");
    Ok(())
}

fn oneshot_requests_leave_with_their_entry() -> TestResult {
    let q = queue()?;
    let mut ring = new_ring(&q, 2)?;
    let done = |r: std::io::Result<()>| r.map_err(|e| e.to_string());
    // A one-shot user event, level-triggered: written at its READY.
    let one = user(1).oneshot();
    done(q.add(&one))?;
    done(q.trigger(&one, [10, 0]))?;
    check_eq!((ready(&ring)?, ring.backlog()), (1, false));
    // It left the queue with its entry: READY, MODIFY and REMOVE of it
    // find nothing, and the entry stays.
    check_eq!(errno(q.trigger(&one, [11, 0])), Some(libc::ENOENT));
    check_eq!(errno(q.modify(&one)), Some(libc::ENOENT));
    check_eq!(errno(q.remove(&one)), Some(libc::ENOENT));
    check_eq!(users(&take(&mut ring)?)?, vec![(1, [10, 0])]);
    // Its identity is free: a new request is written and leaves in turn.
    done(q.add(&one))?;
    done(q.trigger(&one, [12, 0]))?;
    check_eq!(users(&take(&mut ring)?)?, vec![(1, [12, 0])]);
    check_eq!(errno(q.remove(&one)), Some(libc::ENOENT));
    // A ring of 2 keeps at most two such requests until a call takes them
    // out (a READY's call takes its own out as it ends). A wake-up between
    // calls takes one slot...
    let (reader, mut writer) = std::io::pipe().map_err(|e| e.to_string())?;
    let (other_reader, mut other_writer) = std::io::pipe().map_err(|e| e.to_string())?;
    for cookie in [1, 2] {
        let watch = Request::poll(&reader, Interest::IN)
            .oneshot()
            .with_cookie(cookie);
        done(q.add(&watch))?;
    }
    let other = Request::poll(&other_reader, Interest::IN)
        .oneshot()
        .with_cookie(3);
    done(q.add(&other))?;
    other_writer.write_all(b"y").map_err(|e| e.to_string())?;
    check_eq!(take(&mut ring)?.len(), 1);
    // ...so of the pipe's two one-shot requests, level-triggered, the
    // write's wake-up writes one (with the bits it brings) and the other
    // finds no slot free, though the ring has room: it waits in line.
    writer.write_all(b"x").map_err(|e| e.to_string())?;
    check_eq!((ready(&ring)?, ring.backlog()), (1, true));
    // A wait frees the slots and moves it in (asking the pipe); both left.
    check_eq!(ring_wait(&ring, &q, 0, 8, Some(Duration::ZERO))?, 2);
    let evs = take(&mut ring)?;
    let mut got: Vec<(Kind, u64, Interest)> = evs
        .iter()
        .map(|e| (e.kind(), e.cookie(), e.fired()))
        .collect();
    got.sort_by_key(|g| g.1);
    check_eq!(
        got,
        vec![(Kind::Poll, 1, Interest::IN), (Kind::Poll, 2, Interest::IN)]
    );
    for cookie in [1, 2] {
        let watch = Request::poll(&reader, Interest::IN).with_cookie(cookie);
        check_eq!(errno(q.remove(&watch)), Some(libc::ENOENT));
    }
    Ok(())
}

/// Writes to `writer` until its pipe has no reader (`EPIPE`): kevent
/// released the reader's file, every descriptor of it being closed.
fn await_released(writer: &mut std::io::PipeWriter, what: &str) -> TestResult {
    let start = Instant::now();
    loop {
        match writer.write(b"z") {
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => return Ok(()),
            Err(e) => return Err(format!("write to {what}: {e}")),
            Ok(_) => check!(
                start.elapsed() < LONG,
                "{what}'s reader is still open {LONG:?} after its last descriptor was closed"
            ),
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The sweep that finds closed files (every 50 ms, and at a closed file's
/// wake-up) releases them, a request waiting in a slot to be taken out
/// included, but frees no slot: only a call does. So whether a wake-up
/// writes into the ring never depends on when the sweep ran (the model
/// harness found the sweep freeing them all).
fn closed_files_release_but_keep_their_slots() -> TestResult {
    let q = queue()?;
    let mut ring = new_ring(&q, 2)?;
    let done = |r: std::io::Result<()>| r.map_err(|e| e.to_string());
    let pipe = || std::io::pipe().map_err(|e| e.to_string());
    let ((left, mut left_w), (live, mut live_w), (last, mut last_w)) = (pipe()?, pipe()?, pipe()?);
    for (reader, cookie) in [(&left, 1), (&left, 2), (&last, 4)] {
        done(
            q.add(
                &Request::poll(reader, Interest::IN)
                    .oneshot()
                    .with_cookie(cookie),
            ),
        )?;
    }
    let plain = Request::poll(&live, Interest::IN).with_cookie(3);
    done(q.add(&plain))?;
    // Both of `left`'s one-shot requests leave with their entries, and
    // take the ring's two slots; reading the entries is no call.
    left_w.write_all(b"x").map_err(|e| e.to_string())?;
    check_eq!(take(&mut ring)?.len(), 2);
    // Closing `left`'s reader, kept by those slots' requests, and `live`'s,
    // watched by a registered request: the sweep releases both files.
    drop(left);
    drop(live);
    await_released(&mut left_w, "the pipe of the requests that left")?;
    await_released(&mut live_w, "the watched pipe")?;
    // The slots are still taken, so `last`'s one-shot request waits in
    // line although the ring has room.
    last_w.write_all(b"x").map_err(|e| e.to_string())?;
    check_eq!((ready(&ring)?, ring.backlog()), (0, true));
    // A call frees them and moves it in.
    check_eq!(ring_wait(&ring, &q, 0, 8, Some(Duration::ZERO))?, 1);
    let evs = take(&mut ring)?;
    check_eq!(
        evs.iter()
            .map(|e| (e.kind(), e.cookie(), e.fired()))
            .collect::<Vec<_>>(),
        vec![(Kind::Poll, 4, Interest::IN)]
    );
    check_eq!(errno(q.remove(&plain)), Some(libc::ENOENT));
    Ok(())
}

fn full_falls_back_to_the_queue_and_loses_nothing() -> TestResult {
    let q = queue()?;
    let mut ring = new_ring(&q, 4)?;
    let reqs: Vec<Request> = (1..=10).map(|id| user(id).edge_triggered()).collect();
    for r in &reqs {
        q.add(r).map_err(|e| e.to_string())?;
    }
    for (i, r) in reqs.iter().enumerate() {
        q.trigger(r, [i as u32 + 1, 0]).map_err(|e| e.to_string())?;
    }
    // Four fit; six wait on the queue, and the flag says so.
    check_eq!(ready(&ring)?, 4);
    check!(ring.backlog(), "a full ring and no backlog");
    // A trigger of one that waits coalesces with it: one event, its
    // latest payload; another trigger of one already in the ring waits
    // too (something waits outside), behind the others.
    q.trigger(&reqs[6], [70, 0]).map_err(|e| e.to_string())?;
    q.trigger(&reqs[0], [11, 0]).map_err(|e| e.to_string())?;
    check_eq!(ready(&ring)?, 4);
    let mut got = users(&take(&mut ring)?)?;
    // Reading makes room, but moves nothing in: the entries stay on the
    // queue until a wait, so that order is kept.
    check_eq!(ready(&ring)?, 0);
    check!(ring.backlog(), "the backlog went without a wait");
    let mut rounds = 0;
    loop {
        let n = ring_wait(&ring, &q, 0, 16, Some(Duration::ZERO))?;
        check!(n <= 4, "{n} entries in a ring of 4");
        let evs = take(&mut ring)?;
        if evs.is_empty() {
            break;
        }
        got.extend(users(&evs)?);
        rounds += 1;
        check!(rounds < 10, "the backlog does not drain: {got:?}");
    }
    let mut want: Vec<(u32, [u32; 2])> = (1..=10).map(|id| (id, [id, 0])).collect();
    want[6].1 = [70, 0];
    want.push((1, [11, 0]));
    check_eq!(got, want);
    check_eq!(rounds, 2);
    // The flag may stay set a moment after the list empties.
    let start = Instant::now();
    while ring.backlog() {
        check!(
            start.elapsed() < LONG,
            "KEVENT_RING_BACKLOG still set with nothing outside the ring"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // Nothing waits: a trigger is written at once again.
    q.trigger(&reqs[2], [3, 3]).map_err(|e| e.to_string())?;
    check_eq!(users(&take(&mut ring)?)?, vec![(3, [3, 3])]);
    Ok(())
}

fn wraps_around() -> TestResult {
    // Through rings of 2 and of 4 by 3 at a time, so that reads straddle
    // the end of the array.
    for (entries, per) in [(2u32, 2u32), (4, 3)] {
        let q = queue()?;
        let mut ring = new_ring(&q, entries)?;
        let u = user(1).edge_triggered();
        q.add(&u).map_err(|e| e.to_string())?;
        let mut seq = 0;
        for round in 0..100 {
            for _ in 0..per {
                q.trigger(&u, [seq, round]).map_err(|e| e.to_string())?;
                seq += 1;
            }
            check_eq!(ready(&ring)?, per as usize);
            let got = users(&take(&mut ring)?)?;
            let want: Vec<(u32, [u32; 2])> = (seq - per..seq).map(|s| (1, [s, round])).collect();
            check_eq!(got, want);
        }
        check!(!ring.backlog(), "backlog in a ring never full");
    }
    Ok(())
}

fn wait_blocks_until_min_entries() -> TestResult {
    let q = queue()?;
    let mut ring = new_ring(&q, 8)?;
    let u = user(1).edge_triggered();
    q.add(&u).map_err(|e| e.to_string())?;
    // Nothing comes: a timeout, never early.
    let start = Instant::now();
    check_eq!(
        ring_wait(&ring, &q, 1, 8, Some(Duration::from_millis(30)))?,
        0
    );
    check!(
        start.elapsed() >= Duration::from_millis(30),
        "timed out after {:?}",
        start.elapsed()
    );
    // Three triggers 20 ms apart from another thread: a wait for three
    // returns once the third is in, the entries written at the triggers.
    let start = Instant::now();
    let n = std::thread::scope(|s| {
        let t = s.spawn(|| -> Result<(), String> {
            for p in 0..3 {
                std::thread::sleep(Duration::from_millis(20));
                q.trigger(&u, [p, 0]).map_err(|e| e.to_string())?;
            }
            Ok(())
        });
        let n = ring_wait(&ring, &q, 3, 8, Some(LONG));
        t.join().map_err(|_| "the trigger thread panicked")??;
        n
    })?;
    check!(n >= 3, "{n} entries");
    check!(
        start.elapsed() >= Duration::from_millis(55),
        "returned after {:?}, before the third trigger",
        start.elapsed()
    );
    check_eq!(
        users(&take(&mut ring)?)?,
        vec![(1, [0, 0]), (1, [1, 0]), (1, [2, 0])]
    );
    Ok(())
}

/// A level-triggered request goes back in line after its entry, if its
/// file is still ready; a wait must not move it again, nor count it twice
/// towards `min_nr` (it once returned two entries of one pipe at once for
/// a `min_nr` of 2).
fn wait_moves_a_level_triggered_request_once() -> TestResult {
    let q = queue()?;
    let mut ring = new_ring(&q, 8)?;
    let (reader, mut writer) = std::io::pipe().map_err(|e| e.to_string())?;
    writer.write_all(b"a").map_err(|e| e.to_string())?;
    q.add(&Request::poll(&reader, Interest::IN).with_cookie(1))
        .map_err(|e| e.to_string())?;
    // One ready file, two wanted: the wait times out with its one entry.
    let start = Instant::now();
    let wait = Duration::from_millis(50);
    check_eq!(ring_wait(&ring, &q, 2, 8, Some(wait))?, 1);
    check!(
        start.elapsed() >= wait,
        "returned after {:?}, with one ready file for a min_nr of 2",
        start.elapsed()
    );
    let evs = take(&mut ring)?;
    check_eq!(evs.iter().map(|e| e.cookie()).collect::<Vec<_>>(), vec![1]);
    // A second file made ready while it waits: two entries, one each.
    let (other, mut other_w) = std::io::pipe().map_err(|e| e.to_string())?;
    q.add(&Request::poll(&other, Interest::IN).with_cookie(2))
        .map_err(|e| e.to_string())?;
    let n = std::thread::scope(|s| {
        let t = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            other_w.write_all(b"b").map_err(|e| e.to_string())
        });
        let n = ring_wait(&ring, &q, 2, 8, Some(LONG));
        t.join().map_err(|_| "the writer thread panicked")??;
        n
    })?;
    check_eq!(n, 2);
    let mut cookies: Vec<u64> = take(&mut ring)?.iter().map(|e| e.cookie()).collect();
    cookies.sort_unstable();
    check_eq!(cookies, vec![1, 2]);
    Ok(())
}

fn inode_notifications_one_entry_each() -> TestResult {
    let dir = TempDir::new("ring")?;
    let path = dir.join("f");
    let mut f = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    let q = queue()?;
    let mut ring = new_ring(&q, 8)?;
    q.add(&Request::inode(&f, InodeEvents::WRITE).with_cookie(4))
        .map_err(|e| e.to_string())?;
    // Two writes: two entries, each its own notification (count 1),
    // where get-events would coalesce them into one.
    for _ in 0..2 {
        f.write_all(b"x").map_err(|e| e.to_string())?;
    }
    check_eq!(ready(&ring)?, 2);
    let evs = take(&mut ring)?;
    for e in &evs {
        check_eq!(
            (e.kind(), e.cookie(), e.inode()),
            (
                Kind::Inode,
                4,
                Some(InodeChange {
                    events: InodeEvents::WRITE,
                    count: 1,
                    ended: false
                })
            )
        );
    }
    check_eq!(evs.len(), 2);
    Ok(())
}

fn outlives_its_queue() -> TestResult {
    let (reader, mut writer) = std::io::pipe().map_err(|e| e.to_string())?;
    let q = queue()?;
    let mut ring = new_ring(&q, 8)?;
    let u = user(1).edge_triggered();
    q.add(&u).map_err(|e| e.to_string())?;
    q.add(
        &Request::poll(&reader, Interest::IN)
            .edge_triggered()
            .with_cookie(3),
    )
    .map_err(|e| e.to_string())?;
    q.trigger(&u, [1, 2]).map_err(|e| e.to_string())?;
    // The queue's only descriptor goes: the mapping keeps the queue.
    drop(q);
    check_eq!(ready(&ring)?, 1);
    check_eq!(users(&take(&mut ring)?)?, vec![(1, [1, 2])]);
    // Its poll request still writes an entry at each wake-up of the pipe.
    for round in 1..=2 {
        writer.write_all(b"x").map_err(|e| e.to_string())?;
        check_eq!(ready(&ring)?, 1);
        let evs = take(&mut ring)?;
        let e = evs[0];
        check_eq!(
            (e.kind(), e.cookie(), e.fired(), e.fd(), round),
            (Kind::Poll, 3, Interest::IN, Some(reader.as_raw_fd()), round)
        );
    }
    // The last mapping goes: the queue ends with it, and keeps nothing
    // of the pipe: once its reader is closed too, writing is EPIPE (the
    // release may finish a moment after the calls return).
    drop(ring);
    drop(reader);
    await_released(
        &mut writer,
        "the pipe watched by the queue whose last mapping went",
    )
}

fn reading_allocates_nothing() -> TestResult {
    let q = queue()?;
    let mut ring = new_ring(&q, 4)?;
    let u = user(1).edge_triggered();
    q.add(&u).map_err(|e| e.to_string())?;
    let before = allocations();
    let mut sum = 0u64;
    for i in 0..1000 {
        if q.trigger(&u, [i, 1]).is_err() {
            return Err("trigger failed".into());
        }
        if !matches!(ring.wait(&q, 1, 4, Some(Duration::ZERO)), Ok(1)) {
            return Err("wait did not find the entry".into());
        }
        if ring.drain(|e| sum += u64::from(e.payload()[1])).is_err() {
            return Err("drain failed".into());
        }
    }
    let allocated = allocations() - before;
    check_eq!(allocated, 0);
    check_eq!(sum, 1000);
    Ok(())
}
