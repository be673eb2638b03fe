//! The kevent crate's API against the module: batches, the reusable
//! `Events` buffer, fd conversions, queues watching queues, sockets.

use crate::alloc_count::allocations;
use crate::ktap::{Test, TestResult};
use crate::queue::{errno, queue, user, wait};
use crate::{check, check_eq};
use kevent::{Ctl, Direction, Events, Interest, Kind, Queue, Request, SocketReadiness};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

pub const TESTS: &[Test] = &[
    Test {
        name: "api_batch_of_every_kind_with_results",
        run: batch_of_every_kind_with_results,
    },
    Test {
        name: "api_wait_allocates_nothing_and_fills_in_place",
        run: wait_allocates_nothing_and_fills_in_place,
    },
    Test {
        name: "api_fd_conversions_and_a_watched_queue",
        run: fd_conversions_and_a_watched_queue,
    },
    Test {
        name: "api_socket_directions_figures_and_eof",
        run: socket_directions_figures_and_eof,
    },
];

fn batch_of_every_kind_with_results() -> TestResult {
    let q = queue()?;
    let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
    let timer = Request::timer(Duration::from_millis(1), None)
        .map_err(|e| e.to_string())?
        .oneshot()
        .with_cookie(3);
    let mut batch = [
        user(1),
        Request::poll(&writer, Interest::OUT).with_cookie(2),
        timer,
        Request::poll(&reader, Interest::IN).edge_triggered(),
        user(1),
    ];
    let results = q.submit(Ctl::Add, &mut batch).map_err(|e| e.to_string())?;
    let errnos: Vec<Option<i32>> = results.into_iter().map(errno).collect();
    check_eq!(errnos, vec![None, None, None, None, Some(libc::EEXIST)]);
    // The writable pipe and the timer come; nothing else is ready.
    let mut ev = Events::with_capacity(8);
    check_eq!(wait(&q, 2, &mut ev, Some(Duration::from_secs(10)))?, 2);
    let mut kinds: Vec<(Kind, u64)> = ev.iter().map(|e| (e.kind(), e.cookie())).collect();
    kinds.sort_by_key(|k| k.1);
    check_eq!(kinds, vec![(Kind::Poll, 2), (Kind::Timer, 3)]);
    for e in &ev {
        match e.kind() {
            Kind::Poll => check_eq!(e.fired(), Interest::OUT),
            _ => check_eq!(e.expirations(), 1),
        }
        check!(e.error().is_none(), "{:?} broken", e.raw());
    }
    // Removing through the event's own request.
    let out = ev
        .iter()
        .find(|e| e.kind() == Kind::Poll)
        .ok_or("no poll event")?;
    q.remove(&out.request()).map_err(|e| e.to_string())?;
    let mut again = [out.request(), batch[2]];
    let results = q
        .submit(Ctl::Remove, &mut again)
        .map_err(|e| e.to_string())?;
    let errnos: Vec<Option<i32>> = results.into_iter().map(errno).collect();
    // The one-shot timer went with its delivery.
    check_eq!(errnos, vec![Some(libc::ENOENT), Some(libc::ENOENT)]);
    Ok(())
}

fn wait_allocates_nothing_and_fills_in_place() -> TestResult {
    let q = queue()?;
    let u = user(9);
    q.add(&u).map_err(|e| e.to_string())?;
    q.trigger(&u, [1, 2]).map_err(|e| e.to_string())?;
    let mut ev = Events::with_capacity(4);
    let buf = ev.as_raw().as_ptr();
    let before = allocations();
    let mut sum = 0u64;
    for _ in 0..1000 {
        // Level-triggered: one event per wait, forever.
        q.wait(1, &mut ev, Some(Duration::ZERO))
            .map_err(|e| e.to_string())?;
        for e in &ev {
            sum += u64::from(e.payload()[1]);
        }
    }
    let allocated = allocations() - before;
    check_eq!(allocated, 0);
    check_eq!(sum, 2000);
    check!(ev.as_raw().as_ptr() == buf, "the buffer moved");
    Ok(())
}

fn fd_conversions_and_a_watched_queue() -> TestResult {
    let outer = queue()?;
    let inner = outer.new_queue().map_err(|e| e.to_string())?;
    // Through an OwnedFd and back.
    let fd: OwnedFd = inner.into();
    let raw = fd.as_raw_fd();
    let inner = Queue::from(fd);
    check_eq!(inner.as_raw_fd(), raw);
    check_eq!(inner.as_fd().as_raw_fd(), raw);
    outer
        .add(&Request::poll(&inner, Interest::IN).with_cookie(5))
        .map_err(|e| e.to_string())?;
    // A queue watching itself is a loop.
    check_eq!(
        errno(outer.add(&Request::poll(&outer, Interest::IN))),
        Some(libc::ELOOP)
    );
    let mut ev = Events::with_capacity(2);
    check_eq!(wait(&outer, 0, &mut ev, Some(Duration::ZERO))?, 0);
    inner.add(&user(1)).map_err(|e| e.to_string())?;
    inner.trigger(&user(1), [0, 0]).map_err(|e| e.to_string())?;
    check_eq!(wait(&outer, 1, &mut ev, Some(Duration::from_secs(10)))?, 1);
    // The wanted bit that is set; the queue also reports RDNORM.
    let e = ev.get(0).ok_or("no event")?;
    check_eq!(
        (e.cookie(), e.fired(), e.fd()),
        (5, Interest::IN, Some(raw))
    );
    Ok(())
}

fn socket_directions_figures_and_eof() -> TestResult {
    let q = queue()?;
    let (mut a, mut b) = UnixStream::pair().map_err(|e| e.to_string())?;
    // Two directions of one socket: two cookies.
    let recv = Request::socket(&a, Direction::Recv)
        .low_water(4)
        .with_cookie(1);
    let send = Request::socket(&a, Direction::Send).with_cookie(2);
    let mut batch = [
        recv,
        send,
        Request::socket(&a, Direction::Accept).low_water(1),
    ];
    let results = q.submit(Ctl::Add, &mut batch).map_err(|e| e.to_string())?;
    let errnos: Vec<Option<i32>> = results.into_iter().map(errno).collect();
    check_eq!(errnos, vec![None, None, Some(libc::EINVAL)]);
    let mut ev = Events::with_capacity(4);
    // Room to send; below the mark, nothing to receive.
    b.write_all(b"abc").map_err(|e| e.to_string())?;
    check_eq!(wait(&q, 1, &mut ev, Some(Duration::from_secs(10)))?, 1);
    let e = ev.get(0).ok_or("no event")?;
    let s = e.socket().ok_or("not a socket event")?;
    check_eq!(
        (e.kind(), e.cookie(), e.fd()),
        (Kind::Socket, 2, Some(a.as_raw_fd()))
    );
    check!(
        s.direction == Direction::Send && s.amount > 0 && !s.eof,
        "{s:?}"
    );
    q.remove(&send).map_err(|e| e.to_string())?;
    // The fourth byte reaches the mark; the peer's close is end of file.
    b.write_all(b"d").map_err(|e| e.to_string())?;
    check_eq!(wait(&q, 1, &mut ev, Some(Duration::from_secs(10)))?, 1);
    let s = ev
        .get(0)
        .and_then(|e| e.socket())
        .ok_or("no socket event")?;
    let want = SocketReadiness {
        direction: Direction::Recv,
        amount: 4,
        eof: false,
        error: None,
    };
    check_eq!(s, want);
    drop(b);
    let mut buf = [0u8; 8];
    check_eq!(a.read(&mut buf).map_err(|e| e.to_string())?, 4);
    check_eq!(wait(&q, 1, &mut ev, Some(Duration::from_secs(10)))?, 1);
    let s = ev
        .get(0)
        .and_then(|e| e.socket())
        .ok_or("no socket event")?;
    check!(s.eof && s.amount == 0, "{s:?}");
    // A pipe is no socket.
    let (reader, _writer) = std::io::pipe().map_err(|e| e.to_string())?;
    check_eq!(
        errno(q.add(&Request::socket(&reader, Direction::Recv))),
        Some(libc::ENOTSOCK)
    );
    Ok(())
}
