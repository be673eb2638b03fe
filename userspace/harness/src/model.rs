//! A reference model of one kevent queue, in plain Rust, from the spec
//! (`docs/kevent.7.md`): requests by identity, the ready list, level,
//! edge and one-shot delivery, user events, and the readiness of pipes
//! watched with `KEVENT_POLL`. The model test (`model_test.rs`) drives it
//! and the module with the same operations and compares every result.
//!
//! Timers are not modelled here: their events depend on time. They are
//! checked with tolerances on a queue of their own (`TimerModel`): never
//! early, a single expiry once, and an event whenever one is due. Both
//! queues validate timers alike (`timer_schedule`): the clock bits,
//! `KEVENT_TIMER_ABSTIME` with its time in `ret_data` (at most
//! `i64::MAX`, `id[1]` 0, the period 0 for a single expiry), and
//! `KEVENT_TIMER_CANCEL_ON_SET` with `REALTIME` and `ABSTIME` only.
//! Relative timers on `CLOCK_REALTIME`, `CLOCK_TAI` and `CLOCK_BOOTTIME`
//! are checked as those on `CLOCK_MONOTONIC` are, against `Instant`
//! (`CLOCK_MONOTONIC`): while no clock is set and the system does not
//! suspend, the four advance together, and nothing sets a clock while
//! the model test runs (the harness runs its tests one at a time; the
//! test that sets `CLOCK_REALTIME` sets it back before it returns). So a
//! `CANCEL_ON_SET` timer never reports a setting here, and absolute
//! timers are checked against their own clock, read after the events
//! came.
//!
//! Inode requests (`KEVENT_INODE`) are modelled as far as ctl goes: their
//! validation, ADD on any open fd (a pipe end names an inode like any
//! file), and requests that watch the object and not the fd, so closing
//! their fd removes nothing. Their events are not modelled: an inode
//! request is never ready here. The model test asks only for bits that a
//! pipe's inode never reports under its operations (`PIPE_INODE_SILENT`
//! in `model_test.rs`); the API tests (`api.rs`) check the events on a
//! real file system.
//!
//! The event ring (`docs/kevent.7.md`, "The event ring") is modelled for
//! this queue: set-up (once; `EINVAL` for a bad size, `EBUSY` after), a
//! copying get-events on a ring queue (`EINVAL`), the entries written at
//! wake-up, get-events with `KEVENT_GET_RING` and reads of the ring. What
//! it holds, exactly (the kernel's `Queue::write_or_queue` and
//! `Kind::at_wake`):
//! - A wake-up writes the request's event into the ring at once if the
//!   ready list is empty (nothing waits outside the ring), the ring has
//!   room, and the event is known at the wake-up: a user event's READY
//!   if the request is edge-triggered or one-shot (one entry per READY,
//!   with its payload); a pipe's wake-up with a key (a write waking its
//!   readers) of an edge-triggered or one-shot `KEVENT_POLL` request (the
//!   key's bits among those wanted and `POLLERR | POLLHUP`). A wake-up
//!   with no key (a release) says no readiness: it goes on the list. So
//!   do level-triggered requests that are not one-shot, ADD's "ready
//!   now" and MODIFY (no wake-ups), and anything when the ring is full or
//!   the list is not empty, coalesced as without a ring.
//! - A one-shot request whose event is written leaves the queue with it:
//!   from then on REMOVE, MODIFY and READY of it are `ENOENT` and an ADD
//!   of its identity succeeds, so the model takes it out at once. The
//!   kernel keeps it registered, as good as removed, in one of
//!   `min(entries, 1024)` "gone slots" (`GONE_SLOTS`) until the next call
//!   takes it out: a ctl call that gets to its entries (ADD, REMOVE,
//!   MODIFY or READY with at least one; not one refused as a whole) or a
//!   ring wait that passes its checks, before it runs its entries or
//!   moves events. With no slot free the event goes on the list instead,
//!   and a ring wait moves it (and takes the request out) as usual. A
//!   slot is freed only by that next call, whatever happens to the
//!   request meanwhile (a REMOVE's `ENOENT`, an ADD that replaces it).
//!   Until then the module's fdinfo still lists it; the model test reads
//!   fdinfo only for the requests of a closed file that the model holds
//!   (`Sut::settle`), which never include a request that left (the model
//!   took it out, and an ADD of its identity replaces it in the module's
//!   registry too), and compares no count of requests.
//! - Inode requests never fire here (their events are not modelled) and
//!   the queue's timers are all refused, so neither kind's events at
//!   wake-up (an inode notification or the end of a watch, a single or
//!   one-shot expiry, a clock setting) are modelled; socket requests are
//!   refused (`ENOTSOCK`), and their events wait on the list anyway.
//! - A ring wait moves what a copying collection of
//!   `min(max_nr, room)` events would deliver (the same budget rule: at
//!   most that many requests are taken off the list, each at most once, a
//!   drained file's taking a slot and moving nothing), then returns the
//!   unread entries. Only waits that need not wait are modelled:
//!   `min_nr` 0 (or a refused one), with a timeout of 0. A wait for more
//!   than the ring holds waits until the unread entries and the requests
//!   ready on the list make `min_nr` (the files asked, as a copying wait
//!   asks them), then moves once; the harness's `ring.rs` checks waits
//!   that block. On an `O_NONBLOCK` queue a wait that leaves the
//!   ring empty is `EAGAIN`, as a get-events that copies is.
//! - `KEVENT_RING_BACKLOG` is set whenever the ready list is not empty
//!   (it may stay set a moment after the list empties, so its being set
//!   with an empty list is not checked).
//! - Entries are copies: a REMOVE, MODIFY or close of their request
//!   leaves them. The timer queue has no ring.
//!
//! What the model follows besides the spec, because the kernel's pipes do
//! it and it decides the order of the ready list:
//! - a write to a pipe wakes the read end's wait queue with `POLLIN |
//!   POLLRDNORM` (a pipe that was ever polled is woken on every write); a
//!   read that does not have to sleep wakes nobody;
//! - wait queues are woken newest hook first (`add_wait_queue` adds at the
//!   head);
//! - the last close of one end wakes both ends with no key (every hook).
//!   References a syscall drops are released when it returns, the last
//!   dropped first (`task_work`).
//!
//! Closed files (spec issue 11, section 1): a request watches the file
//! its fd named at ADD, and kevent's own reference does not keep it: when
//! the last descriptor of a file goes (close, dup2 over it), its requests
//! are removed silently and the file is released. The module notices
//! it lazily (when such a request is named by a ctl, collected, or woken
//! by its file) or else from a background sweep every 50 ms; until then
//! the stale request may sit on the ready list, take a slot of a
//! collection's budget (and be dropped unseen) or count towards
//! `min_nr`. The model removes it at the close itself, and the model
//! test's module side waits, after each close of a file's last
//! descriptor, until the queue's fdinfo no longer lists the file's
//! requests and the release's wake-ups are over (see `Sut::settle`).
//! While another descriptor keeps the file open, its requests stay and
//! are delivered under their own fd number, whatever that number names
//! now; ADD of that identity is `EEXIST` even if the number is closed
//! (the duplicate check comes before the fd lookup). A one-shot request
//! that left with its entry and waits in a gone slot keeps its file
//! watched in the module until a call or the sweep takes it out; the
//! settling waits for the file's release all the same.

use kevent::sys::*;
use kevent::{Clock, Ring, Ukevent};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

pub const EINVAL: i32 = libc::EINVAL;
pub const EBADF: i32 = libc::EBADF;
pub const ENOENT: i32 = libc::ENOENT;
pub const EEXIST: i32 = libc::EEXIST;
pub const EAGAIN: i32 = libc::EAGAIN;
pub const EOPNOTSUPP: i32 = libc::EOPNOTSUPP;
pub const ENOTSOCK: i32 = libc::ENOTSOCK;
pub const EBUSY: i32 = libc::EBUSY;

/// Bits `poll` always reports.
const POLL_ALWAYS: u32 = KEVENT_POLL_POLLERR | KEVENT_POLL_POLLHUP;
/// The key of a pipe write's wake-up of its readers.
const WAKE_READERS: u32 = KEVENT_POLL_POLLIN | KEVENT_POLL_POLLRDNORM;

/// What names a request: `(id, type, user)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Ident {
    pub type_: u32,
    pub id: [u32; 2],
    pub user: u64,
}

impl Ident {
    pub fn of(uk: &Ukevent) -> Ident {
        Ident {
            type_: uk.type_,
            id: uk.id,
            user: uk.user,
        }
    }
}

/// A deliberate deviation, to show that the model test catches bugs
/// (host tests only).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mutation {
    /// A delivered edge-triggered user event is re-queued like a
    /// level-triggered one.
    EtRequeues,
    /// Wake-ups never write into the ring: everything waits on the list.
    NoRingAtWakeup,
    /// One-shot requests leave with their entry written at wake-up
    /// however many wait to be taken out: no limit of gone slots.
    NoGoneLimit,
}

/// Which end of a pipe.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    Read,
    Write,
}

struct Req {
    event: u32,
    flags: u32,
    /// Non-zero while triggered (user events) or possibly ready (files).
    pending: u64,
    payload: [u32; 2],
    /// The watched file, an index into `files`.
    file: Option<usize>,
}

struct File {
    pipe: usize,
    end: End,
    /// The descriptors naming it.
    fds: Vec<i32>,
    /// `release` ran: the pipe end is closed.
    released: bool,
    /// Requests hooked into its wait queue, oldest first.
    hooks: Vec<Ident>,
}

/// The most requests that can wait to be taken out of the registry after
/// leaving with their entry written at wake-up (fewer for a smaller ring:
/// `min(entries, GONE_SLOTS)`), as the module's `ready.rs` has it.
pub const GONE_SLOTS: u32 = 1024;

/// The queue's event ring.
struct RingModel {
    entries: u32,
    /// The entries written and not read yet, oldest first.
    unread: VecDeque<RingEntry>,
    /// Gone slots taken since the last call that took their requests out
    /// (`Model::reap`).
    gone: usize,
}

impl RingModel {
    fn has_room(&self) -> bool {
        self.unread.len() < self.entries as usize
    }

    fn has_gone_slot(&self) -> bool {
        self.gone < self.entries.min(GONE_SLOTS) as usize
    }
}

/// The ring entry of a delivered event.
pub fn ring_entry(ev: &Ukevent) -> RingEntry {
    RingEntry {
        id: ev.id,
        type_: ev.type_,
        ret_flags: ev.ret_flags,
        ret_data: ev.ret_data,
        user: ev.user,
    }
}

#[derive(Default)]
struct Pipe {
    /// Bytes buffered (the tests never fill a pipe).
    data: usize,
}

/// The reference model of one queue and the pipes it may watch.
#[derive(Default)]
pub struct Model {
    reqs: BTreeMap<Ident, Req>,
    ready: VecDeque<Ident>,
    nonblock: bool,
    files: Vec<File>,
    fds: HashMap<i32, usize>,
    pipes: Vec<Pipe>,
    /// Files whose last descriptor went during the current syscall.
    to_release: Vec<usize>,
    pub mutation: Option<Mutation>,
    /// The event ring, once set up.
    ring: Option<RingModel>,
    /// What happened, for tests of the generator: requests the `min_nr`
    /// check took off the ready list, requests removed with their closed
    /// file, events delivered under an fd number that no longer names
    /// their file (still open through another descriptor), and ADDs that
    /// were `EEXIST` for such a request (its number closed or naming
    /// another file); and entries naming an inode request whose fd number
    /// was closed since its ADD.
    pub pruned: usize,
    pub closed_removed: usize,
    pub renamed_delivered: usize,
    pub exists_renamed: usize,
    pub inode_fd_closed: usize,
    /// Ring entries written at wake-up (of them, by pipes; of them, of
    /// one-shot requests, which left with them), moved in by ring waits,
    /// wake-ups that would have written one but found the ring full or
    /// the list not empty, and those of one-shot requests that found the
    /// ring with room and the list empty but no gone slot free.
    pub ring_written: usize,
    pub ring_written_poll: usize,
    pub ring_left: usize,
    pub ring_moved: usize,
    pub ring_fell_back: usize,
    pub ring_no_gone_slot: usize,
}

/// Checks the type of an entry, as every ctl command does first.
pub fn check_type(type_: u32) -> Result<(), i32> {
    match type_ {
        KEVENT_SOCKET | KEVENT_INODE | KEVENT_TIMER | KEVENT_POLL | KEVENT_USER => Ok(()),
        0..=5 => Err(EOPNOTSUPP),
        _ => Err(EINVAL),
    }
}

/// READY is for user events only: any other type is `EINVAL`, checked
/// before the type itself (so take12's unimplemented types, `EOPNOTSUPP`
/// for the other commands, are `EINVAL` here too).
pub fn check_ready_type(cmd: u32, type_: u32) -> Result<(), i32> {
    if cmd == KEVENT_CTL_READY && type_ != KEVENT_USER {
        Err(EINVAL)
    } else {
        Ok(())
    }
}

/// Whether a user or `KEVENT_POLL` request with `flags` has its event
/// known at a wake-up (a READY's payload, the bits a file's wake-up says
/// it brings), so that a ring may take it at once (`Kind::at_wake`):
/// edge-triggered or one-shot. A level-triggered request that is not
/// one-shot is ready again after each delivery, which only a collection
/// asks.
pub fn at_wake(flags: u32) -> bool {
    flags & (KEVENT_REQ_ET | KEVENT_REQ_ONESHOT) != 0
}

/// A timer's schedule, as ADD and MODIFY read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The clock it runs on.
    pub clock: Clock,
    /// The period in nanoseconds; 0 for a single expiry (absolute only).
    pub period_ns: u64,
    /// The first expiry: nanoseconds after the ADD, or with `absolute`
    /// the time of `clock` (from `ret_data`).
    pub first_ns: u64,
    pub absolute: bool,
}

/// A timer's schedule, or `EINVAL`: bits other than `FIRED`, the unit,
/// the clock, `ABSTIME` and `CANCEL_ON_SET`; the unit 0x30;
/// `CANCEL_ON_SET` without `REALTIME` and `ABSTIME`; a relative timer
/// with a period of 0; an absolute one with `id[1]` not 0 or a time past
/// `i64::MAX`.
pub fn timer_schedule(uk: &Ukevent) -> Result<Schedule, i32> {
    let event = uk.event;
    if event & !KEVENT_TIMER_VALID != 0 {
        return Err(EINVAL);
    }
    let unit = match event & KEVENT_TIMER_UNIT_MASK {
        KEVENT_TIMER_UNIT_MS => 1_000_000,
        KEVENT_TIMER_UNIT_US => 1_000,
        KEVENT_TIMER_UNIT_NS => 1,
        _ => return Err(EINVAL),
    };
    let clock = Clock::from_event(event);
    let absolute = event & KEVENT_TIMER_ABSTIME != 0;
    if event & KEVENT_TIMER_CANCEL_ON_SET != 0 && !(absolute && clock == Clock::Realtime) {
        return Err(EINVAL);
    }
    let period_ns = u64::from(uk.id[0]) * unit;
    let first_ns = if absolute {
        let at = u64::from(uk.ret_data[0]) | u64::from(uk.ret_data[1]) << 32;
        if uk.id[1] != 0 || at > i64::MAX as u64 {
            return Err(EINVAL);
        }
        at
    } else {
        if period_ns == 0 {
            return Err(EINVAL);
        }
        match uk.id[1] {
            0 => period_ns,
            f => u64::from(f) * unit,
        }
    };
    Ok(Schedule {
        clock,
        period_ns,
        first_ns,
        absolute,
    })
}

/// The per-type checks of ADD and MODIFY.
pub fn validate(uk: &Ukevent) -> Result<(), i32> {
    if uk.req_flags & !(KEVENT_REQ_ONESHOT | KEVENT_REQ_ET) != 0 {
        return Err(EINVAL);
    }
    match uk.type_ {
        KEVENT_TIMER => timer_schedule(uk).map(|_| ()),
        KEVENT_POLL if uk.id[1] != 0 || uk.event & !KEVENT_POLL_VALID != 0 => Err(EINVAL),
        KEVENT_USER if uk.event != 0 => Err(EINVAL),
        KEVENT_SOCKET => match uk.event {
            KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND => Ok(()),
            KEVENT_SOCKET_ACCEPT if uk.id[1] == 0 => Ok(()),
            _ => Err(EINVAL),
        },
        KEVENT_INODE if uk.id[1] != 0 || uk.event == 0 || uk.event & !KEVENT_INODE_ALL != 0 => {
            Err(EINVAL)
        }
        _ => Ok(()),
    }
}

/// What the kernel writes back into a processed ctl entry.
pub fn written_back(uk: &Ukevent, result: Result<(), i32>) -> Ukevent {
    let mut out = *uk;
    out.ret_flags = KEVENT_RET_DONE;
    out.ret_data[1] = 0;
    if let Err(e) = result {
        out.ret_flags |= KEVENT_RET_BROKEN;
        out.ret_data[1] = e as u32;
    }
    out
}

/// The call-level checks of a ctl ioctl; `Ok(false)` for `num == 0`.
pub fn check_ctl(cmd: u32, num: usize) -> Result<bool, i32> {
    if num > KEVENT_CTL_MAX_NUM as usize {
        return Err(EINVAL);
    }
    match cmd {
        KEVENT_CTL_ADD | KEVENT_CTL_REMOVE | KEVENT_CTL_MODIFY | KEVENT_CTL_READY => Ok(num > 0),
        _ => Err(EINVAL),
    }
}

impl Model {
    pub fn new() -> Model {
        Model::default()
    }

    // ---- the world outside the queue: pipes and fds ----

    /// A new pipe whose ends got these fds; returns its index.
    pub fn pipe_opened(&mut self, rfd: i32, wfd: i32) -> usize {
        let pipe = self.pipes.len();
        self.pipes.push(Pipe::default());
        for (fd, end) in [(rfd, End::Read), (wfd, End::Write)] {
            let f = self.files.len();
            self.files.push(File {
                pipe,
                end,
                fds: vec![fd],
                released: false,
                hooks: Vec::new(),
            });
            let old = self.fds.insert(fd, f);
            assert!(old.is_none(), "fd {fd} opened twice");
        }
        pipe
    }

    /// `close(fd)` of a pipe end. Returns the requests removed with the
    /// file if `fd` was its last descriptor.
    pub fn close_fd(&mut self, fd: i32) -> Vec<Ident> {
        let gone = self.unname(fd);
        self.syscall_returns();
        gone
    }

    /// `dup(fd)` (or `fcntl(F_DUPFD)`) returned `newfd`.
    pub fn dup_fd(&mut self, fd: i32, newfd: i32) {
        let f = self.fds[&fd];
        let old = self.fds.insert(newfd, f);
        assert!(old.is_none(), "dup to fd {newfd}, which is open");
        self.files[f].fds.push(newfd);
    }

    /// `dup2(fd, newfd)`, `fd != newfd`: `newfd` is closed if open, then
    /// names `fd`'s file. Returns the requests removed with the file
    /// `newfd` named if it was that file's last descriptor.
    pub fn dup2_fd(&mut self, fd: i32, newfd: i32) -> Vec<Ident> {
        assert_ne!(fd, newfd);
        let f = self.fds[&fd];
        let gone = if self.fds.contains_key(&newfd) {
            self.unname(newfd)
        } else {
            Vec::new()
        };
        self.fds.insert(newfd, f);
        self.files[f].fds.push(newfd);
        self.syscall_returns();
        gone
    }

    /// Whether `fd` is open, and the pipe end it names.
    pub fn fd_names(&self, fd: i32) -> Option<(usize, End)> {
        self.fds
            .get(&fd)
            .map(|&f| (self.files[f].pipe, self.files[f].end))
    }

    /// Descriptor `fd` goes. If it was its file's last, the file's requests
    /// are removed, silently, and the file is released when the syscall
    /// returns; returns those requests.
    fn unname(&mut self, fd: i32) -> Vec<Ident> {
        let f = self.fds.remove(&fd).expect("closing an fd the model knows");
        let file = &mut self.files[f];
        file.fds.retain(|&d| d != fd);
        if !file.fds.is_empty() {
            return Vec::new();
        }
        let doomed: Vec<Ident> = self
            .reqs
            .iter()
            .filter(|(_, r)| r.file == Some(f))
            .map(|(i, _)| *i)
            .collect();
        self.closed_removed += doomed.len();
        for ident in &doomed {
            self.retire(ident);
        }
        self.to_release.push(f);
        doomed
    }

    /// Bytes buffered in pipe `pipe`.
    pub fn pipe_data(&self, pipe: usize) -> usize {
        self.pipes[pipe].data
    }

    /// A write of `n > 0` bytes to the write end of `pipe` (whose read end
    /// is open).
    pub fn pipe_write(&mut self, pipe: usize, n: usize) {
        self.pipes[pipe].data += n;
        if let Some(r) = self.file_of(pipe, End::Read) {
            self.wake(r, WAKE_READERS);
        }
        self.syscall_returns();
    }

    /// A read of up to `n` bytes that does not block; returns how many.
    pub fn pipe_read(&mut self, pipe: usize, n: usize) -> usize {
        let got = n.min(self.pipes[pipe].data);
        self.pipes[pipe].data -= got;
        got
    }

    /// The live (not released) file of one end of `pipe`.
    fn file_of(&self, pipe: usize, end: End) -> Option<usize> {
        self.files
            .iter()
            .position(|f| f.pipe == pipe && f.end == end && !f.released)
    }

    fn poll_mask(&self, f: usize) -> u32 {
        let file = &self.files[f];
        let other = match file.end {
            End::Read => End::Write,
            End::Write => End::Read,
        };
        let other_open = self.file_of(file.pipe, other).is_some();
        match file.end {
            End::Read => {
                let mut m = 0;
                if self.pipes[file.pipe].data > 0 {
                    m |= KEVENT_POLL_POLLIN | KEVENT_POLL_POLLRDNORM;
                }
                if !other_open {
                    m |= KEVENT_POLL_POLLHUP;
                }
                m
            }
            End::Write => {
                let mut m = KEVENT_POLL_POLLOUT | KEVENT_POLL_POLLWRNORM;
                if !other_open {
                    m |= KEVENT_POLL_POLLERR;
                }
                m
            }
        }
    }

    /// The end of a syscall: deferred file releases run, newest first.
    fn syscall_returns(&mut self) {
        while let Some(f) = self.to_release.pop() {
            let pipe = self.files[f].pipe;
            let end = self.files[f].end;
            self.files[f].released = true;
            // `pipe_release`: the last of one end, but not of the other,
            // wakes both ends' wait queues with no key.
            let other = match end {
                End::Read => End::Write,
                End::Write => End::Read,
            };
            if self.file_of(pipe, end).is_none() && self.file_of(pipe, other).is_some() {
                for e in [End::Read, End::Write] {
                    if let Some(g) = self.file_of(pipe, e) {
                        self.wake(g, 0);
                    }
                }
            }
        }
    }

    /// A wake-up of file `f`'s wait queue with `key` (0: everyone, and no
    /// word of the readiness it brings).
    fn wake(&mut self, f: usize, key: u32) {
        let hooks: Vec<Ident> = self.files[f].hooks.iter().rev().copied().collect();
        for ident in hooks {
            let Some(req) = self.reqs.get(&ident) else {
                continue;
            };
            let bits = key & (req.event | POLL_ALWAYS);
            if key != 0 && bits == 0 {
                continue;
            }
            // Its event is known now if the key says what it brings.
            let known = (key != 0 && at_wake(req.flags)).then_some([bits, 0]);
            if self.write_at_wake(ident, known) {
                continue;
            }
            let req = self.reqs.get_mut(&ident).unwrap();
            if req.pending == 0 {
                req.pending = 1;
            }
            self.enqueue(ident);
        }
    }

    /// A wake-up of `ident` whose event is `known` (`ret_data`) if its
    /// kind knows it at the wake-up: writes it into the ring if the queue
    /// has one, nothing waits on the ready list, the ring has room and, for
    /// a one-shot request, which leaves with it, a gone slot is free; then
    /// the one-shot request is taken out. Returns whether it wrote; if not,
    /// the caller queues the request as without a ring.
    fn write_at_wake(&mut self, ident: Ident, known: Option<[u32; 2]>) -> bool {
        let (Some(ring), Some(ret_data)) = (&self.ring, known) else {
            return false;
        };
        if !ring.has_room() || !self.ready.is_empty() {
            self.ring_fell_back += 1;
            return false;
        }
        let leaves = self.reqs[&ident].flags & KEVENT_REQ_ONESHOT != 0;
        if leaves && !ring.has_gone_slot() && self.mutation != Some(Mutation::NoGoneLimit) {
            self.ring_no_gone_slot += 1;
            return false;
        }
        if self.mutation == Some(Mutation::NoRingAtWakeup) {
            return false;
        }
        let ring = self.ring.as_mut().unwrap();
        ring.unread.push_back(RingEntry {
            id: ident.id,
            type_: ident.type_,
            ret_flags: KEVENT_RET_DONE,
            ret_data,
            user: ident.user,
        });
        self.ring_written += 1;
        self.ring_written_poll += usize::from(ident.type_ == KEVENT_POLL);
        if leaves {
            ring.gone += 1;
            self.ring_left += 1;
            self.retire(&ident);
        }
        true
    }

    /// What a call that holds the registry does first: takes out the
    /// requests that left with their entry, which frees their gone slots
    /// (the model took them out already).
    fn reap(&mut self) {
        if let Some(ring) = &mut self.ring {
            ring.gone = 0;
        }
    }

    fn enqueue(&mut self, ident: Ident) {
        if !self.ready.contains(&ident) {
            self.ready.push_back(ident);
        }
    }

    // ---- the queue ----

    pub fn set_nonblock(&mut self, on: bool) {
        self.nonblock = on;
    }

    /// Requests registered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.reqs.len()
    }

    /// Requests on the ready list.
    #[cfg(test)]
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// `KEVENT_IOC_CTL`: the entries as written back, or the call's errno.
    /// A call that gets to its entries takes out the requests that left
    /// with their entry (`reap`), before them and after them.
    pub fn ctl(&mut self, cmd: u32, entries: &[Ukevent]) -> Result<Vec<Ukevent>, i32> {
        if !check_ctl(cmd, entries.len())? {
            return Ok(Vec::new());
        }
        self.reap();
        let out = entries
            .iter()
            .map(|uk| {
                let r = self.ctl_one(cmd, uk);
                written_back(uk, r)
            })
            .collect();
        self.reap();
        self.syscall_returns();
        Ok(out)
    }

    fn ctl_one(&mut self, cmd: u32, uk: &Ukevent) -> Result<(), i32> {
        check_ready_type(cmd, uk.type_)?;
        check_type(uk.type_)?;
        if uk.type_ == KEVENT_INODE
            && self.reqs.contains_key(&Ident::of(uk))
            && !self.fds.contains_key(&(uk.id[0] as i32))
        {
            self.inode_fd_closed += 1;
        }
        match cmd {
            KEVENT_CTL_ADD => self.add(uk),
            KEVENT_CTL_REMOVE => self.remove(&Ident::of(uk)),
            KEVENT_CTL_MODIFY => self.modify(uk),
            _ => self.ready_user(uk),
        }
    }

    /// ADD: the fields are validated, then the identity must be free, and
    /// only then is the fd looked up. So an fd number that is closed, or
    /// names another file, while the file its request watches is open
    /// through another descriptor, is `EEXIST`, not `EBADF`. (The requests
    /// of a closed file are gone already: every request here is live.)
    /// An inode request needs an open fd too, but only to name its
    /// object: it is not hooked to the file, so no close removes it, and
    /// it is never ready (its events are not modelled).
    fn add(&mut self, uk: &Ukevent) -> Result<(), i32> {
        validate(uk)?;
        assert!(uk.type_ != KEVENT_TIMER, "the exact model has no timers");
        let ident = Ident::of(uk);
        if let Some(req) = self.reqs.get(&ident) {
            let named = i32::try_from(uk.id[0])
                .ok()
                .and_then(|fd| self.fds.get(&fd));
            if req.file.is_some() && named != req.file.as_ref() {
                self.exists_renamed += 1;
            }
            return Err(EEXIST);
        }
        let file = match uk.type_ {
            KEVENT_POLL | KEVENT_SOCKET => Some(
                *i32::try_from(uk.id[0])
                    .ok()
                    .and_then(|fd| self.fds.get(&fd))
                    .ok_or(EBADF)?,
            ),
            _ => None,
        };
        // The model's files are pipe ends.
        if uk.type_ == KEVENT_SOCKET {
            return Err(ENOTSOCK);
        }
        if uk.type_ == KEVENT_INODE {
            i32::try_from(uk.id[0])
                .ok()
                .filter(|fd| self.fds.contains_key(fd))
                .ok_or(EBADF)?;
        }
        self.reqs.insert(
            ident,
            Req {
                event: uk.event,
                flags: uk.req_flags,
                pending: 0,
                payload: [0; 2],
                file,
            },
        );
        if let Some(f) = file {
            self.files[f].hooks.push(ident);
            if self.poll_mask(f) & (uk.event | POLL_ALWAYS) != 0 {
                self.reqs.get_mut(&ident).unwrap().pending += 1;
                self.enqueue(ident);
            }
        }
        Ok(())
    }

    /// Takes a request out for good.
    fn retire(&mut self, ident: &Ident) {
        let req = self
            .reqs
            .remove(ident)
            .expect("retiring a registered request");
        self.ready.retain(|i| i != ident);
        if let Some(f) = req.file {
            self.files[f].hooks.retain(|i| i != ident);
        }
    }

    fn remove(&mut self, ident: &Ident) -> Result<(), i32> {
        if !self.reqs.contains_key(ident) {
            return Err(ENOENT);
        }
        self.retire(ident);
        Ok(())
    }

    fn modify(&mut self, uk: &Ukevent) -> Result<(), i32> {
        validate(uk)?;
        let ident = Ident::of(uk);
        let file = {
            let req = self.reqs.get_mut(&ident).ok_or(ENOENT)?;
            req.event = uk.event;
            req.flags = uk.req_flags;
            req.file
        };
        let file_ready = file.map(|f| self.poll_mask(f) & (uk.event | POLL_ALWAYS) != 0);
        self.ready.retain(|i| *i != ident);
        let req = self.reqs.get_mut(&ident).unwrap();
        match file_ready {
            Some(true) if req.pending == 0 => req.pending = 1,
            Some(false) => req.pending = 0,
            _ => {}
        }
        if req.pending > 0 {
            self.ready.push_back(ident);
        }
        Ok(())
    }

    fn ready_user(&mut self, uk: &Ukevent) -> Result<(), i32> {
        let ident = Ident::of(uk);
        let req = self.reqs.get_mut(&ident).ok_or(ENOENT)?;
        req.payload = uk.ret_data;
        let known = at_wake(req.flags).then_some(uk.ret_data);
        if self.write_at_wake(ident, known) {
            return Ok(());
        }
        let req = self.reqs.get_mut(&ident).unwrap();
        req.pending += 1;
        self.enqueue(ident);
        Ok(())
    }

    /// `KEVENT_IOC_GET_EVENTS` with a timeout that passes while nothing
    /// happens (this model has no other thread): the events, or the errno.
    /// The timeout's value does not matter: 0 or not, a wait whose
    /// `min_nr` the ready list seems to satisfy does not time out.
    pub fn get_events(&mut self, min_nr: u32, max_nr: u32) -> Result<Vec<Ukevent>, i32> {
        // A queue with a ring delivers only into it.
        if max_nr == 0 || min_nr > max_nr || self.ring.is_some() {
            return Err(EINVAL);
        }
        let min = min_nr as usize;
        let r = loop {
            let avail = self.ready.len();
            if self.nonblock && avail == 0 {
                break Err(EAGAIN);
            }
            // Not enough ready: the wait times out, then collects.
            let mut timed_out = avail < min && !self.nonblock;
            // Enough seem ready for a blocking wait of more than one: they
            // are verified first, and if too few really are, it waits on
            // (and times out, here) with the stale ones pruned.
            if min > 1 && !timed_out && !self.nonblock && !self.verify(min) {
                timed_out = true;
            }
            let out = self.collect(max_nr as usize);
            if out.is_empty() && min_nr > 0 && !timed_out && !self.nonblock {
                continue;
            }
            if out.is_empty() && self.nonblock {
                break Err(EAGAIN);
            }
            break Ok(out);
        };
        self.syscall_returns();
        r
    }

    // ---- the event ring ----

    /// `KEVENT_IOC_RING_SETUP` of `entries`: done, or the errnos the
    /// kernel may answer (a bad size on a queue that has a ring is
    /// refused, but the spec does not say which check comes first).
    pub fn ring_setup(&mut self, entries: u32) -> Result<(), &'static [i32]> {
        let valid =
            entries.is_power_of_two() && (Ring::MIN_ENTRIES..=Ring::MAX_ENTRIES).contains(&entries);
        match (&self.ring, valid) {
            (None, true) => {
                self.ring = Some(RingModel {
                    entries,
                    unread: VecDeque::new(),
                    gone: 0,
                });
                Ok(())
            }
            (None, false) => Err(&[EINVAL]),
            (Some(_), true) => Err(&[EBUSY]),
            (Some(_), false) => Err(&[EINVAL, EBUSY]),
        }
    }

    /// Get-events with `KEVENT_GET_RING` and a timeout of 0, for a
    /// `min_nr` that needs no waiting (0, or one the kernel refuses):
    /// takes out the requests that left with their entry (freeing their
    /// gone slots), moves events in, returns the unread entries. `EINVAL`
    /// without a ring, for `max_nr` 0, `min_nr` above `max_nr` or above
    /// the ring's entries (nothing taken out); `EAGAIN` on an
    /// `O_NONBLOCK` queue if the ring is left empty.
    pub fn ring_wait(&mut self, min_nr: u32, max_nr: u32) -> Result<usize, i32> {
        let entries = self.ring.as_ref().ok_or(EINVAL)?.entries;
        if max_nr == 0 || min_nr > max_nr || min_nr > entries {
            return Err(EINVAL);
        }
        assert_eq!(
            min_nr, 0,
            "ring waits that may have to wait are not modelled"
        );
        self.reap();
        let ring = self.ring.as_ref().unwrap();
        let room = entries as usize - ring.unread.len();
        let moved = self.collect((max_nr as usize).min(room));
        self.ring_moved += moved.len();
        let ring = self.ring.as_mut().unwrap();
        ring.unread.extend(moved.iter().map(ring_entry));
        let n = ring.unread.len();
        self.syscall_returns();
        if self.nonblock && n == 0 {
            return Err(EAGAIN);
        }
        Ok(n)
    }

    /// Reads up to `n` entries of the ring, oldest first, and frees them.
    pub fn ring_read(&mut self, n: usize) -> Vec<RingEntry> {
        let ring = self
            .ring
            .as_mut()
            .expect("reading a ring that is not set up");
        let n = n.min(ring.unread.len());
        ring.unread.drain(..n).collect()
    }

    /// With a ring: its unread entries, and whether `KEVENT_RING_BACKLOG`
    /// must be set (an event waits on the ready list).
    pub fn ring_state(&self) -> Option<(usize, bool)> {
        self.ring
            .as_ref()
            .map(|r| (r.unread.len(), !self.ready.is_empty()))
    }

    /// The check that `min_nr` is met before a collection (spec issue 11,
    /// section 4): walks the ready list in order; a file request whose file
    /// is not ready now leaves it (its pending state cleared), anything
    /// else counts, and the walk stops when `min` are counted. Returns
    /// whether they were.
    fn verify(&mut self, min: usize) -> bool {
        let mut count = 0;
        let mut i = 0;
        while count < min && i < self.ready.len() {
            let ident = self.ready[i];
            let req = &self.reqs[&ident];
            let stale = req
                .file
                .is_some_and(|f| self.poll_mask(f) & (req.event | POLL_ALWAYS) == 0);
            if stale {
                self.ready.remove(i);
                self.reqs.get_mut(&ident).unwrap().pending = 0;
                self.pruned += 1;
            } else {
                count += 1;
                i += 1;
            }
        }
        count >= min
    }

    fn collect(&mut self, max_nr: usize) -> Vec<Ukevent> {
        let budget = max_nr.min(self.ready.len());
        let popped: Vec<(Ident, u64)> = (0..budget)
            .map(|_| {
                let ident = self.ready.pop_front().unwrap();
                let req = self.reqs.get_mut(&ident).unwrap();
                let stays = ident.type_ == KEVENT_USER && req.flags & KEVENT_REQ_ET == 0;
                let taken = if stays {
                    req.pending
                } else {
                    std::mem::take(&mut req.pending)
                };
                (ident, taken)
            })
            .collect();
        let mut out = Vec::new();
        for (ident, _taken) in popped {
            let req = &self.reqs[&ident];
            let mut ev = Ukevent {
                id: ident.id,
                type_: ident.type_,
                event: req.event,
                req_flags: req.flags,
                ret_flags: KEVENT_RET_DONE,
                ret_data: req.payload,
                user: ident.user,
            };
            let oneshot = req.flags & KEVENT_REQ_ONESHOT != 0;
            let et = req.flags & KEVENT_REQ_ET != 0;
            let (keep, remove) = match req.file {
                None => (false, oneshot),
                Some(f) => {
                    // The file it watches, whatever its fd number names now.
                    let mask = self.poll_mask(f) & (req.event | POLL_ALWAYS);
                    if mask == 0 {
                        continue; // Skip: pending was taken, it leaves the list.
                    }
                    if self.fds.get(&(ident.id[0] as i32)) != Some(&f) {
                        self.renamed_delivered += 1;
                    }
                    ev.ret_data = [mask, 0];
                    (!et, oneshot)
                }
            };
            out.push(ev);
            if remove {
                self.retire(&ident);
                continue;
            }
            let requeue_et =
                self.mutation == Some(Mutation::EtRequeues) && ident.type_ == KEVENT_USER && et;
            let req = self.reqs.get_mut(&ident).unwrap();
            if (keep || requeue_et) && req.pending == 0 {
                req.pending = 1;
            }
            if req.pending > 0 {
                self.ready.push_back(ident);
            }
        }
        out
    }
}

/// What the timer queue is known to hold, for tolerance checks.
#[derive(Default)]
pub struct TimerModel {
    timers: BTreeMap<Ident, TimerState>,
}

struct TimerState {
    sched: Schedule,
    event: u32,
    flags: u32,
    /// An instant before the ADD or MODIFY that (re)started it.
    armed: Instant,
    /// Expirations delivered since.
    delivered: u64,
}

impl TimerState {
    /// An absolute timer without a period whose expiry was delivered: it
    /// never fires again until a MODIFY re-arms it.
    fn spent(&self) -> bool {
        self.sched.period_ns == 0 && self.delivered > 0
    }
}

impl TimerModel {
    /// The timers registered that will fire again.
    pub fn live(&self) -> usize {
        self.timers.values().filter(|t| !t.spent()).count()
    }

    /// The timers registered, spent or not.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.timers.len()
    }

    /// A ctl call on the timer queue that started at `before`.
    pub fn ctl(
        &mut self,
        cmd: u32,
        entries: &[Ukevent],
        before: Instant,
    ) -> Result<Vec<Ukevent>, i32> {
        if !check_ctl(cmd, entries.len())? {
            return Ok(Vec::new());
        }
        Ok(entries
            .iter()
            .map(|uk| written_back(uk, self.ctl_one(cmd, uk, before)))
            .collect())
    }

    fn ctl_one(&mut self, cmd: u32, uk: &Ukevent, before: Instant) -> Result<(), i32> {
        check_ready_type(cmd, uk.type_)?;
        check_type(uk.type_)?;
        let ident = Ident::of(uk);
        match cmd {
            KEVENT_CTL_ADD | KEVENT_CTL_MODIFY => {
                validate(uk)?;
                assert_eq!(uk.type_, KEVENT_TIMER, "the timer queue holds timers only");
                let exists = self.timers.contains_key(&ident);
                if cmd == KEVENT_CTL_ADD && exists {
                    return Err(EEXIST);
                }
                if cmd == KEVENT_CTL_MODIFY && !exists {
                    return Err(ENOENT);
                }
                let sched = timer_schedule(uk)?;
                // A timer's clock is its own from its ADD on: MODIFY to
                // another clock is refused, and changes nothing.
                if let Some(t) = self.timers.get(&ident) {
                    if (t.event ^ uk.event) & KEVENT_TIMER_CLOCK_MASK != 0 {
                        return Err(EINVAL);
                    }
                }
                self.timers.insert(
                    ident,
                    TimerState {
                        sched,
                        event: uk.event,
                        flags: uk.req_flags,
                        armed: before,
                        delivered: 0,
                    },
                );
                Ok(())
            }
            KEVENT_CTL_REMOVE => self.timers.remove(&ident).map(|_| ()).ok_or(ENOENT),
            // READY of a user event: the timer queue holds none.
            _ => Err(ENOENT),
        }
    }

    /// Checks the events of a get-events call that returned at `after`:
    /// a relative timer's against `after`, an absolute one's against its
    /// clock, read now.
    pub fn check_events(&mut self, events: &[Ukevent], after: Instant) -> Result<(), String> {
        let mut seen = Vec::new();
        for ev in events {
            let ident = Ident::of(ev);
            if seen.contains(&ident) {
                return Err(format!("timer {ident:?} delivered twice in one call"));
            }
            seen.push(ident);
            let Some(t) = self.timers.get_mut(&ident) else {
                return Err(format!("event of a timer that is not registered: {ev:?}"));
            };
            let n = u64::from(ev.ret_data[0]);
            if ev.ret_flags != KEVENT_RET_DONE || n == 0 || ev.ret_data[1] != 0 {
                return Err(format!("bad timer event {ev:?}"));
            }
            if ev.event != t.event || ev.req_flags != t.flags {
                return Err(format!(
                    "timer event {ev:?} does not carry the settings {:#x}/{:#x}",
                    t.event, t.flags
                ));
            }
            let oneshot = t.flags & KEVENT_REQ_ONESHOT != 0;
            if oneshot && n != 1 {
                return Err(format!("one-shot timer with {n} expirations: {ev:?}"));
            }
            if t.spent() {
                return Err(format!("a single expiry fired again: {ev:?}"));
            }
            if t.sched.period_ns == 0 && n != 1 {
                return Err(format!("single expiry with {n} expirations: {ev:?}"));
            }
            t.delivered += n;
            // Expiry k is at least first + (k - 1) * period after the ADD,
            // or on the clock.
            let due = Duration::from_nanos(
                t.sched
                    .first_ns
                    .saturating_add((t.delivered - 1).saturating_mul(t.sched.period_ns)),
            );
            if t.sched.absolute {
                let clock = t.sched.clock;
                let now = clock
                    .now()
                    .map_err(|e| format!("clock_gettime({clock:?}): {e}"))?;
                if now < due {
                    return Err(format!(
                        "absolute timer early: {} expirations delivered at {now:?} on \
                         {clock:?}, the last due at {due:?}: {ev:?}",
                        t.delivered
                    ));
                }
            } else {
                let elapsed = after.duration_since(t.armed);
                if elapsed < due {
                    return Err(format!(
                        "timer early: {} expirations delivered {elapsed:?} after the ADD, \
                         the last due at {due:?}: {ev:?}",
                        t.delivered
                    ));
                }
            }
            if oneshot {
                self.timers.remove(&ident);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: u32, flags: u32) -> Ukevent {
        Ukevent {
            id: [id, 0],
            type_: KEVENT_USER,
            req_flags: flags,
            user: 100 + u64::from(id),
            ..Default::default()
        }
    }

    fn poll(fd: i32, event: u32, flags: u32) -> Ukevent {
        Ukevent {
            id: [fd as u32, 0],
            type_: KEVENT_POLL,
            event,
            req_flags: flags,
            ..Default::default()
        }
    }

    fn ok(m: &mut Model, cmd: u32, uk: Ukevent) {
        let out = m.ctl(cmd, &[uk]).unwrap();
        assert_eq!(out[0].ret_flags, KEVENT_RET_DONE, "{uk:?}");
    }

    fn err(m: &mut Model, cmd: u32, uk: Ukevent) -> i32 {
        let out = m.ctl(cmd, &[uk]).unwrap();
        assert_eq!(out[0].ret_flags, KEVENT_RET_DONE | KEVENT_RET_BROKEN);
        out[0].ret_data[1] as i32
    }

    fn ready(m: &mut Model, id: u32, payload: u32) {
        let mut uk = user(id, 0);
        uk.ret_data = [payload, 0];
        ok(m, KEVENT_CTL_READY, uk);
    }

    fn ids(evs: &[Ukevent]) -> Vec<u32> {
        evs.iter().map(|e| e.id[0]).collect()
    }

    #[test]
    fn user_events_level_edge_oneshot() {
        let mut m = Model::new();
        ok(&mut m, KEVENT_CTL_ADD, user(1, 0));
        ok(&mut m, KEVENT_CTL_ADD, user(2, KEVENT_REQ_ET));
        ok(&mut m, KEVENT_CTL_ADD, user(3, KEVENT_REQ_ONESHOT));
        for id in [3, 2, 1] {
            ready(&mut m, id, id * 10);
        }
        let evs = m.get_events(0, 8).unwrap();
        assert_eq!(ids(&evs), [3, 2, 1]);
        assert_eq!(evs[2].ret_data, [10, 0]);
        // Level stays, edge and one-shot are gone; one-shot for good.
        assert_eq!(ids(&m.get_events(1, 8).unwrap()), [1]);
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, user(3, 0)), ENOENT);
        ready(&mut m, 2, 7);
        ready(&mut m, 2, 8);
        let evs = m.get_events(0, 8).unwrap();
        assert_eq!(ids(&evs), [1, 2]);
        assert_eq!(evs[1].ret_data, [8, 0]);
    }

    #[test]
    fn level_requeues_behind_and_budget_bounds_a_call() {
        let mut m = Model::new();
        for id in 1..=3 {
            ok(&mut m, KEVENT_CTL_ADD, user(id, 0));
            ready(&mut m, id, 0);
        }
        assert_eq!(ids(&m.get_events(1, 2).unwrap()), [1, 2]);
        assert_eq!(ids(&m.get_events(1, 2).unwrap()), [3, 1]);
        // Each request at most once per call.
        assert_eq!(ids(&m.get_events(1, 8).unwrap()), [2, 3, 1]);
        // MODIFY sends a pending request to the back.
        ok(&mut m, KEVENT_CTL_MODIFY, user(2, 0));
        assert_eq!(ids(&m.get_events(1, 8).unwrap()), [3, 1, 2]);
    }

    #[test]
    fn ctl_errors_in_order_of_checks() {
        let mut m = Model::new();
        let bad_type = Ukevent {
            type_: 7,
            ..user(1, 0)
        };
        let take12 = Ukevent {
            type_: KEVENT_NAIO,
            ..user(1, 0)
        };
        let out = m
            .ctl(
                KEVENT_CTL_ADD,
                &[user(1, 0), user(1, 0), bad_type, take12, user(2, 2)],
            )
            .unwrap();
        let errs: Vec<u32> = out.iter().map(|e| e.ret_data[1]).collect();
        assert_eq!(
            errs,
            [
                0,
                EEXIST as u32,
                EINVAL as u32,
                EOPNOTSUPP as u32,
                EINVAL as u32
            ]
        );
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, poll(999, 1, 0)), EBADF);
        assert_eq!(err(&mut m, KEVENT_CTL_READY, poll(999, 1, 0)), EINVAL);
        // READY refuses every type but KEVENT_USER with EINVAL, before the
        // type check: take12's unimplemented types too; the other commands
        // keep EOPNOTSUPP for them.
        for t in [KEVENT_NAIO, KEVENT_AIO] {
            let uk = Ukevent {
                type_: t,
                ..user(1, 0)
            };
            assert_eq!(err(&mut m, KEVENT_CTL_READY, uk), EINVAL, "type {t}");
            for cmd in [KEVENT_CTL_ADD, KEVENT_CTL_REMOVE, KEVENT_CTL_MODIFY] {
                assert_eq!(err(&mut m, cmd, uk), EOPNOTSUPP, "type {t}");
            }
        }
        let timer = Ukevent {
            type_: KEVENT_TIMER,
            ..user(1, 0)
        };
        assert_eq!(err(&mut m, KEVENT_CTL_READY, timer), EINVAL);
        // A socket request asks for one direction, then needs a socket:
        // a bad fd is EBADF, and the model's files are pipes.
        let socket = Ukevent {
            type_: KEVENT_SOCKET,
            event: KEVENT_SOCKET_RECV,
            ..poll(999, 0, 0)
        };
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, socket), EBADF);
        assert_eq!(err(&mut m, KEVENT_CTL_READY, socket), EINVAL);
        for event in [0, KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND] {
            assert_eq!(validate(&Ukevent { event, ..socket }), Err(EINVAL));
        }
        let accept = Ukevent {
            event: KEVENT_SOCKET_ACCEPT,
            id: [999, 1],
            ..socket
        };
        assert_eq!(validate(&accept), Err(EINVAL));
        // An inode request asks for some of the ten bits and nothing else,
        // with id[1] 0; then needs an open fd. READY is not for it.
        let inode = Ukevent {
            type_: KEVENT_INODE,
            event: KEVENT_INODE_WRITE,
            ..poll(999, 0, 0)
        };
        assert_eq!(validate(&inode), Ok(()));
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, inode), EBADF);
        assert_eq!(err(&mut m, KEVENT_CTL_READY, inode), EINVAL);
        assert_eq!(err(&mut m, KEVENT_CTL_MODIFY, inode), ENOENT);
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, inode), ENOENT);
        for event in [0, 0x400, KEVENT_INODE_ALL | 0x800] {
            let bad = Ukevent { event, ..inode };
            assert_eq!(validate(&bad), Err(EINVAL), "{event:#x}");
            assert_eq!(err(&mut m, KEVENT_CTL_ADD, bad), EINVAL);
            assert_eq!(err(&mut m, KEVENT_CTL_MODIFY, bad), EINVAL);
        }
        let id1 = Ukevent {
            id: [999, 1],
            ..inode
        };
        assert_eq!(validate(&id1), Err(EINVAL));
        assert_eq!(
            validate(&Ukevent {
                event: KEVENT_INODE_ALL,
                req_flags: KEVENT_REQ_ONESHOT | KEVENT_REQ_ET,
                ..inode
            }),
            Ok(())
        );
        // KEVENT_POLL_POLLRDHUP is a valid poll bit (0x8000 is not).
        let rdhup = Ukevent {
            event: KEVENT_POLL_POLLRDHUP,
            ..poll(999, 0, 0)
        };
        assert_eq!(validate(&rdhup), Ok(()));
        assert_eq!(
            validate(&Ukevent {
                event: 0x8000,
                ..rdhup
            }),
            Err(EINVAL)
        );
        assert_eq!(err(&mut m, KEVENT_CTL_MODIFY, user(5, 0)), ENOENT);
        assert_eq!(m.ctl(KEVENT_CTL_INIT, &[user(1, 0)]), Err(EINVAL));
        assert_eq!(m.ctl(KEVENT_CTL_ADD, &[]), Ok(vec![]));
        assert_eq!(m.get_events(2, 1), Err(EINVAL));
        assert_eq!(m.get_events(0, 0), Err(EINVAL));
        m.set_nonblock(true);
        assert_eq!(m.get_events(0, 1), Err(EAGAIN));
    }

    #[test]
    fn pipes_level_edge_and_wake_order() {
        let mut m = Model::new();
        let p = m.pipe_opened(10, 11);
        ok(&mut m, KEVENT_CTL_ADD, poll(10, KEVENT_POLL_POLLIN, 0));
        let mut et = poll(10, KEVENT_POLL_POLLIN, KEVENT_REQ_ET);
        et.user = 2;
        ok(&mut m, KEVENT_CTL_ADD, et);
        // The same identity is one request, whatever its settings.
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, et), EEXIST);
        et.user = 1;
        ok(&mut m, KEVENT_CTL_ADD, et);
        assert_eq!(m.ready_len(), 0);
        m.pipe_write(p, 3);
        // Newest hook first.
        let evs = m.get_events(1, 8).unwrap();
        assert_eq!(evs.len(), 3);
        assert_eq!(evs[0].user, 1);
        assert_eq!(evs[0].ret_data, [KEVENT_POLL_POLLIN, 0]);
        // Edge: once; level: while readable.
        assert_eq!(m.get_events(1, 8).unwrap().len(), 1);
        assert_eq!(m.pipe_read(p, 8), 3);
        assert_eq!(m.get_events(1, 8).unwrap().len(), 0);
        assert_eq!(m.ready_len(), 0);
    }

    #[test]
    fn closing_the_writer_is_hup_and_closing_the_watched_file_is_silent() {
        let mut m = Model::new();
        m.pipe_opened(10, 11);
        ok(&mut m, KEVENT_CTL_ADD, poll(10, KEVENT_POLL_POLLIN, 0));
        m.close_fd(11);
        let evs = m.get_events(1, 8).unwrap();
        assert_eq!(evs[0].ret_data, [KEVENT_POLL_POLLHUP, 0]);
        // The level-triggered request is queued again; closing its file
        // removes it: never delivered, REMOVE finds nothing.
        assert_eq!(m.ready_len(), 1);
        m.close_fd(10);
        assert_eq!((m.len(), m.ready_len(), m.closed_removed), (0, 0, 1));
        assert_eq!(m.get_events(0, 8).unwrap(), []);
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, poll(10, 0, 0)), ENOENT);
        assert_eq!(err(&mut m, KEVENT_CTL_MODIFY, poll(10, 1, 0)), ENOENT);
        // The identity is free: a new file under the same number.
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, poll(10, 1, 0)), EBADF);
        let p = m.pipe_opened(10, 11);
        ok(&mut m, KEVENT_CTL_ADD, poll(10, KEVENT_POLL_POLLIN, 0));
        m.pipe_write(p, 1);
        assert_eq!(m.get_events(1, 8).unwrap()[0].ret_data, [1, 0]);
    }

    #[test]
    fn a_watched_end_does_not_keep_the_pipe_open() {
        let mut m = Model::new();
        m.pipe_opened(10, 11);
        ok(&mut m, KEVENT_CTL_ADD, poll(10, KEVENT_POLL_POLLIN, 0));
        ok(&mut m, KEVENT_CTL_ADD, poll(11, KEVENT_POLL_POLLIN, 0));
        // Closing the watched writer removes its request and releases it:
        // the reader hangs up at once.
        m.close_fd(11);
        assert_eq!(m.len(), 1);
        let evs = m.get_events(0, 8).unwrap();
        assert_eq!(ids(&evs), [10]);
        assert_eq!(evs[0].ret_data, [KEVENT_POLL_POLLHUP, 0]);
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, poll(11, 0, 0)), ENOENT);
    }

    #[test]
    fn a_file_open_through_another_fd_stays_watched_under_its_number() {
        let mut m = Model::new();
        let p = m.pipe_opened(10, 11);
        ok(&mut m, KEVENT_CTL_ADD, poll(10, KEVENT_POLL_POLLIN, 0));
        m.dup_fd(10, 12);
        assert_eq!(m.close_fd(10), []);
        assert_eq!(m.len(), 1);
        // Fields first, then the identity, then the fd: its number is
        // closed, but the identity is taken (EEXIST, not EBADF); another
        // cookie is a free identity, and the closed number is EBADF.
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, poll(10, 0x8000, 0)), EINVAL);
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, poll(10, 4, 0)), EEXIST);
        assert_eq!(m.exists_renamed, 1);
        let mut other = poll(10, 4, 0);
        other.user = 7;
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, other), EBADF);
        m.pipe_write(p, 2);
        let evs = m.get_events(1, 8).unwrap();
        assert_eq!((ids(&evs), evs[0].ret_data), (vec![10], [1, 0]));
        assert_eq!(m.renamed_delivered, 1);
        // Its number names the writer now: the identity is taken while
        // the reader is open (EEXIST), and MODIFY still reaches it.
        m.dup2_fd(11, 10);
        assert_eq!(m.fd_names(10), Some((p, End::Write)));
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, poll(10, 4, 0)), EEXIST);
        assert_eq!(m.exists_renamed, 2);
        ok(
            &mut m,
            KEVENT_CTL_MODIFY,
            poll(10, KEVENT_POLL_POLLIN, KEVENT_REQ_ET),
        );
        assert_eq!(m.get_events(1, 8).unwrap()[0].ret_data, [1, 0]);
        // The reader's last fd goes: its request with it; the number is
        // free for the writer.
        let gone = m.close_fd(12);
        assert_eq!(gone, [Ident::of(&poll(10, 0, 0))]);
        assert_eq!(m.len(), 0);
        ok(&mut m, KEVENT_CTL_ADD, poll(10, KEVENT_POLL_POLLOUT, 0));
        let evs = m.get_events(1, 8).unwrap();
        let want = KEVENT_POLL_POLLOUT | KEVENT_POLL_POLLERR;
        assert_eq!((ids(&evs), evs[0].ret_data), (vec![10], [want, 0]));
    }

    #[test]
    fn dup2_over_the_last_fd_of_a_watched_file_removes_its_requests() {
        let mut m = Model::new();
        let p = m.pipe_opened(10, 11);
        let q = m.pipe_opened(12, 13);
        ok(&mut m, KEVENT_CTL_ADD, poll(10, KEVENT_POLL_POLLIN, 0));
        ok(&mut m, KEVENT_CTL_ADD, poll(11, KEVENT_POLL_POLLOUT, 0));
        m.pipe_write(p, 1);
        assert_eq!(m.ready_len(), 2);
        // The reader goes while ready: never delivered. The writer sees
        // the reader gone.
        assert_eq!(m.dup2_fd(12, 10), [Ident::of(&poll(10, 0, 0))]);
        assert_eq!(m.len(), 1);
        let evs = m.get_events(0, 8).unwrap();
        let want = KEVENT_POLL_POLLOUT | KEVENT_POLL_POLLERR;
        assert_eq!((ids(&evs), evs[0].ret_data), (vec![11], [want, 0]));
        // The number now watches the other pipe.
        ok(
            &mut m,
            KEVENT_CTL_ADD,
            poll(10, KEVENT_POLL_POLLIN, KEVENT_REQ_ET),
        );
        m.pipe_write(q, 1);
        let evs = m.get_events(1, 8).unwrap();
        assert_eq!(ids(&evs), [11, 10]);
    }

    fn inode(fd: i32, event: u32, flags: u32) -> Ukevent {
        Ukevent {
            type_: KEVENT_INODE,
            ..poll(fd, event, flags)
        }
    }

    #[test]
    fn inode_requests_watch_the_object_not_the_fd() {
        let mut m = Model::new();
        let p = m.pipe_opened(10, 11);
        // Any fd of the pipe names an inode; one identity once.
        let attrib = inode(10, KEVENT_INODE_ATTRIB, 0);
        ok(&mut m, KEVENT_CTL_ADD, attrib);
        ok(&mut m, KEVENT_CTL_ADD, inode(11, KEVENT_INODE_CREATE, 0));
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, attrib), EEXIST);
        ok(&mut m, KEVENT_CTL_ADD, poll(10, KEVENT_POLL_POLLIN, 0));
        // Never ready, whatever happens to the pipe.
        m.pipe_write(p, 4);
        let evs = m.get_events(0, 8).unwrap();
        assert_eq!((evs.len(), evs[0].type_), (1, KEVENT_POLL));
        // Closing the fds removes the poll request only.
        assert_eq!(m.close_fd(10), [Ident::of(&poll(10, 0, 0))]);
        m.close_fd(11);
        assert_eq!((m.len(), m.closed_removed), (2, 1));
        assert_eq!(m.get_events(0, 8).unwrap(), []);
        // Its identity is taken with its number closed (EEXIST), another
        // cookie needs an open fd (EBADF); MODIFY and REMOVE reach it.
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, attrib), EEXIST);
        let other = Ukevent { user: 5, ..attrib };
        assert_eq!(err(&mut m, KEVENT_CTL_ADD, other), EBADF);
        ok(
            &mut m,
            KEVENT_CTL_MODIFY,
            inode(10, KEVENT_INODE_DELETE_SELF, KEVENT_REQ_ONESHOT),
        );
        ok(&mut m, KEVENT_CTL_REMOVE, attrib);
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, attrib), ENOENT);
        // The number names a new pipe: a new request.
        m.pipe_opened(10, 11);
        ok(&mut m, KEVENT_CTL_ADD, attrib);
        assert_eq!(
            err(&mut m, KEVENT_CTL_ADD, inode(11, KEVENT_INODE_CREATE, 0)),
            EEXIST
        );
        assert_eq!(m.len(), 2);
    }

    /// A model with pipe 10/11 watched level-triggered for `POLLIN` and
    /// user events 1..=3 added, and its pipe.
    fn pipe_and_users() -> (Model, usize) {
        let mut m = Model::new();
        let p = m.pipe_opened(10, 11);
        ok(&mut m, KEVENT_CTL_ADD, poll(10, KEVENT_POLL_POLLIN, 0));
        for id in 1..=3 {
            ok(&mut m, KEVENT_CTL_ADD, user(id, 0));
        }
        (m, p)
    }

    /// Queues the pipe's request, delivered once and drained since: it is
    /// on the ready list but its file is not ready.
    fn stale_pipe(m: &mut Model, p: usize) {
        m.pipe_write(p, 1);
        assert_eq!(ids(&m.get_events(1, 1).unwrap()), [10]);
        assert_eq!(m.pipe_read(p, 1), 1);
    }

    #[test]
    fn min_nr_is_verified_and_a_short_wait_times_out() {
        // The spec's example: a drained pipe and one user event do not
        // make min 2; the pipe leaves the list and the wait times out.
        let (mut m, p) = pipe_and_users();
        stale_pipe(&mut m, p);
        ready(&mut m, 1, 0);
        assert_eq!(m.ready_len(), 2);
        assert_eq!(ids(&m.get_events(2, 4).unwrap()), [1]);
        assert_eq!(m.ready_len(), 1);
        // Its pending state went with it: a new write queues it again,
        // behind the user event.
        m.pipe_write(p, 1);
        assert_eq!(ids(&m.get_events(2, 4).unwrap()), [1, 10]);
    }

    #[test]
    fn a_pruned_request_takes_no_slot_of_the_budget() {
        // [pipe, 1, 2], max 2: both user events (without the check the
        // stale pipe took a slot and one came).
        let (mut m, p) = pipe_and_users();
        stale_pipe(&mut m, p);
        ready(&mut m, 1, 0);
        ready(&mut m, 2, 0);
        assert_eq!(ids(&m.get_events(2, 2).unwrap()), [1, 2]);
        assert_eq!(m.ready_len(), 2);
    }

    #[test]
    fn the_check_stops_once_min_nr_is_counted() {
        // [1, 2, pipe, 3], min 2, max 3: the walk stops before the stale
        // pipe, which then takes the last slot, and is skipped.
        let (mut m, p) = pipe_and_users();
        ready(&mut m, 1, 0);
        ready(&mut m, 2, 0);
        m.pipe_write(p, 1);
        assert_eq!(m.pipe_read(p, 1), 1);
        ready(&mut m, 3, 0);
        assert_eq!(m.ready_len(), 4);
        assert_eq!(ids(&m.get_events(2, 3).unwrap()), [1, 2]);
        assert_eq!(ids(&m.get_events(0, 8).unwrap()), [3, 1, 2]);
    }

    #[test]
    fn no_check_for_min_nr_1_or_a_nonblocking_queue() {
        let (mut m, p) = pipe_and_users();
        stale_pipe(&mut m, p);
        ready(&mut m, 1, 0);
        // min 1: the collection skips the pipe within the budget of 1,
        // finds nothing, and collects again.
        assert_eq!(ids(&m.get_events(1, 1).unwrap()), [1]);
        assert_eq!(m.ready_len(), 1);
        // Non-blocking: [pipe, 1, 2], max 2: the stale pipe takes a slot.
        let (mut m, p) = pipe_and_users();
        stale_pipe(&mut m, p);
        ready(&mut m, 1, 0);
        ready(&mut m, 2, 0);
        m.set_nonblock(true);
        assert_eq!(ids(&m.get_events(2, 2).unwrap()), [1]);
    }

    fn users_in(es: &[RingEntry]) -> Vec<(u32, u32)> {
        es.iter()
            .map(|e| {
                assert_eq!((e.type_, e.ret_flags), (KEVENT_USER, KEVENT_RET_DONE));
                (e.id[0], e.ret_data[0])
            })
            .collect()
    }

    #[test]
    fn ring_setup_once_and_get_events_through_it_only() {
        let mut m = Model::new();
        assert_eq!(m.ring_wait(0, 1), Err(EINVAL));
        assert_eq!(m.ring_state(), None);
        for bad in [0, 1, 3, 12, 65536] {
            assert_eq!(m.ring_setup(bad), Err(&[EINVAL][..]));
        }
        assert_eq!(m.get_events(0, 1), Ok(vec![]));
        assert_eq!(m.ring_setup(4), Ok(()));
        assert_eq!(m.ring_setup(4), Err(&[EBUSY][..]));
        assert_eq!(m.ring_setup(8), Err(&[EBUSY][..]));
        assert_eq!(m.ring_setup(3), Err(&[EINVAL, EBUSY][..]));
        assert_eq!(m.ring_state(), Some((0, false)));
        // A copying get-events is EINVAL now; ring waits are checked.
        assert_eq!(m.get_events(0, 1), Err(EINVAL));
        assert_eq!(m.ring_wait(0, 0), Err(EINVAL));
        assert_eq!(m.ring_wait(2, 1), Err(EINVAL));
        assert_eq!(m.ring_wait(5, 8), Err(EINVAL));
        assert_eq!(m.ring_wait(0, 8), Ok(0));
        m.set_nonblock(true);
        assert_eq!(m.ring_wait(0, 8), Err(EAGAIN));
    }

    #[test]
    fn ring_takes_et_readys_at_once_while_nothing_waits() {
        let mut m = Model::new();
        m.ring_setup(4).unwrap();
        ok(&mut m, KEVENT_CTL_ADD, user(1, KEVENT_REQ_ET));
        ok(&mut m, KEVENT_CTL_ADD, user(2, KEVENT_REQ_ET));
        ok(&mut m, KEVENT_CTL_ADD, user(3, 0));
        ok(
            &mut m,
            KEVENT_CTL_ADD,
            user(4, KEVENT_REQ_ET | KEVENT_REQ_ONESHOT),
        );
        // One entry per READY: they do not coalesce.
        ready(&mut m, 1, 10);
        ready(&mut m, 2, 20);
        ready(&mut m, 1, 11);
        assert_eq!(m.ring_state(), Some((3, false)));
        assert_eq!(users_in(&m.ring_read(2)), [(1, 10), (2, 20)]);
        // Level-triggered waits on the list; once something does, ET and
        // one-shot READYs wait there too, coalesced.
        ready(&mut m, 3, 30);
        assert_eq!(m.ring_state(), Some((1, true)));
        ready(&mut m, 2, 21);
        ready(&mut m, 2, 22);
        ready(&mut m, 4, 40);
        assert_eq!((m.ring_state(), m.ring_fell_back), (Some((1, true)), 3));
        // A wait moves what fits: three slots free, three on the list; the
        // level-triggered one goes back on it.
        assert_eq!(m.ring_wait(0, 8), Ok(4));
        assert_eq!(m.ring_state(), Some((4, true)));
        assert_eq!(
            users_in(&m.ring_read(8)),
            [(1, 11), (3, 30), (2, 22), (4, 40)]
        );
        // The one-shot went with its entry.
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, user(4, 0)), ENOENT);
        // max bounds a move: the user event, once per wait.
        assert_eq!(m.ring_wait(0, 1), Ok(1));
        assert_eq!(m.ring_wait(0, 8), Ok(2));
        ok(&mut m, KEVENT_CTL_REMOVE, user(3, 0));
        assert_eq!(m.ring_state(), Some((2, false)));
        // Entries outlive their request; the ring takes READYs again.
        ready(&mut m, 1, 12);
        ok(&mut m, KEVENT_CTL_REMOVE, user(1, 0));
        assert_eq!(users_in(&m.ring_read(8)), [(3, 30), (3, 30), (1, 12)]);
        // A full ring: READYs wait, coalesced.
        for p in 0..6 {
            ready(&mut m, 2, p);
        }
        assert_eq!(m.ring_state(), Some((4, true)));
        assert_eq!(m.ring_wait(0, 8), Ok(4));
        assert_eq!(users_in(&m.ring_read(8)), [(2, 0), (2, 1), (2, 2), (2, 3)]);
        assert_eq!(m.ring_wait(0, 8), Ok(1));
        assert_eq!(users_in(&m.ring_read(8)), [(2, 5)]);
        assert_eq!(m.ring_state(), Some((0, false)));
    }

    #[test]
    fn ring_takes_a_pipes_keyed_wake_ups_of_et_requests() {
        let mut m = Model::new();
        let p = m.pipe_opened(10, 11);
        m.ring_setup(8).unwrap();
        let mut both = poll(10, KEVENT_POLL_POLLIN | KEVENT_POLL_POLLOUT, KEVENT_REQ_ET);
        both.user = 1;
        ok(&mut m, KEVENT_CTL_ADD, both);
        ok(
            &mut m,
            KEVENT_CTL_ADD,
            poll(10, KEVENT_POLL_POLLRDNORM, KEVENT_REQ_ET),
        );
        // Each write: one entry each, newest hook first, with the key's
        // bits they want.
        m.pipe_write(p, 1);
        m.pipe_write(p, 1);
        let es = m.ring_read(8);
        let got: Vec<(u64, u32)> = es.iter().map(|e| (e.user, e.ret_data[0])).collect();
        let (rdnorm, pollin) = (KEVENT_POLL_POLLRDNORM, KEVENT_POLL_POLLIN);
        assert_eq!(got, [(0, rdnorm), (1, pollin), (0, rdnorm), (1, pollin)]);
        assert_eq!((m.ring_written_poll, m.ring_state()), (4, Some((0, false))));
        // A level-triggered one waits on the list, and the others behind it.
        ok(&mut m, KEVENT_CTL_ADD, poll(11, KEVENT_POLL_POLLOUT, 0));
        m.pipe_write(p, 1);
        assert_eq!(m.ring_state(), Some((0, true)));
        // A wait asks the files: all three, in line.
        assert_eq!(m.ring_wait(0, 8), Ok(3));
        let got: Vec<u32> = m.ring_read(8).iter().map(|e| e.id[0]).collect();
        assert_eq!(got, [11, 10, 10]);
        // Drained, the ET ones are no more; the writer stays writable.
        assert_eq!(m.pipe_read(p, 100), 3);
        assert_eq!(m.ring_wait(0, 8), Ok(1));
        assert_eq!(m.ring_read(1)[0].id, [11, 0]);
        ok(&mut m, KEVENT_CTL_REMOVE, poll(11, 0, 0));
        // The writer's release wakes with no key: on the list, asked at
        // the wait (HUP for the first, which wants IN and OUT).
        assert_eq!(m.ring_wait(0, 8), Ok(0));
        m.close_fd(11);
        assert_eq!(m.ring_state(), Some((0, true)));
        assert_eq!(m.ring_wait(0, 8), Ok(2));
        let got: Vec<u32> = m.ring_read(8).iter().map(|e| e.ret_data[0]).collect();
        assert_eq!(got, [KEVENT_POLL_POLLHUP, KEVENT_POLL_POLLHUP]);
    }

    /// The errno of each entry of a ctl call (0: done).
    fn errs(m: &mut Model, cmd: u32, uks: &[Ukevent]) -> Vec<i32> {
        let out = m.ctl(cmd, uks).unwrap();
        out.iter().map(|e| e.ret_data[1] as i32).collect()
    }

    fn readied(id: u32, payload: u32) -> Ukevent {
        Ukevent {
            ret_data: [payload, 0],
            ..user(id, 0)
        }
    }

    /// A `KEVENT_POLL` request on `fd` for `POLLIN` with `flags` and the
    /// cookie `user`.
    fn poll_in(fd: i32, flags: u32, user: u64) -> Ukevent {
        Ukevent {
            user,
            ..poll(fd, KEVENT_POLL_POLLIN, flags)
        }
    }

    #[test]
    fn ring_takes_a_one_shot_ready_at_once_and_the_request_leaves_with_it() {
        let mut m = Model::new();
        m.ring_setup(4).unwrap();
        ok(&mut m, KEVENT_CTL_ADD, user(1, KEVENT_REQ_ONESHOT));
        ok(
            &mut m,
            KEVENT_CTL_ADD,
            user(2, KEVENT_REQ_ONESHOT | KEVENT_REQ_ET),
        );
        // Edge-triggered or not: written at the READY, nothing in line.
        ready(&mut m, 1, 10);
        ready(&mut m, 2, 20);
        assert_eq!(m.ring_state(), Some((2, false)));
        assert_eq!((m.ring_left, m.len()), (2, 0));
        // Gone: REMOVE, MODIFY and READY find nothing.
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, user(1, 0)), ENOENT);
        assert_eq!(
            err(&mut m, KEVENT_CTL_MODIFY, user(2, KEVENT_REQ_ET)),
            ENOENT
        );
        assert_eq!(err(&mut m, KEVENT_CTL_READY, readied(2, 21)), ENOENT);
        // The entries stay, with their payloads.
        assert_eq!(users_in(&m.ring_read(8)), [(1, 10), (2, 20)]);
        // The identity is free: an ADD takes it, READY writes again, and
        // the new request leaves in turn, at once: a second READY in the
        // same call finds nothing.
        ok(&mut m, KEVENT_CTL_ADD, user(1, KEVENT_REQ_ONESHOT));
        assert_eq!(
            errs(&mut m, KEVENT_CTL_READY, &[readied(1, 11), readied(1, 12)]),
            [0, ENOENT]
        );
        ok(&mut m, KEVENT_CTL_ADD, user(1, KEVENT_REQ_ONESHOT));
        ready(&mut m, 1, 13);
        assert_eq!(users_in(&m.ring_read(8)), [(1, 11), (1, 13)]);
        assert_eq!(m.len(), 0);
        // A level-triggered one that is not one-shot waits in line, and a
        // one-shot READY behind it too.
        ok(&mut m, KEVENT_CTL_ADD, user(3, 0));
        ok(&mut m, KEVENT_CTL_ADD, user(4, KEVENT_REQ_ONESHOT));
        ready(&mut m, 3, 30);
        ready(&mut m, 4, 40);
        assert_eq!((m.ring_state(), m.ring_left), (Some((0, true)), 4));
        assert_eq!(m.ring_wait(0, 8), Ok(2));
        assert_eq!(users_in(&m.ring_read(8)), [(3, 30), (4, 40)]);
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, user(4, 0)), ENOENT);
        // Without a ring a one-shot READY waits in line, as always.
        let mut m = Model::new();
        ok(&mut m, KEVENT_CTL_ADD, user(1, KEVENT_REQ_ONESHOT));
        ready(&mut m, 1, 10);
        assert_eq!((m.ready_len(), m.len()), (1, 1));
    }

    #[test]
    fn ring_takes_a_pipes_keyed_wake_up_of_a_one_shot_request_level_triggered_too() {
        let mut m = Model::new();
        let p = m.pipe_opened(10, 11);
        m.ring_setup(8).unwrap();
        ok(&mut m, KEVENT_CTL_ADD, poll_in(10, KEVENT_REQ_ONESHOT, 1));
        let both = KEVENT_POLL_POLLIN | KEVENT_POLL_POLLOUT;
        ok(
            &mut m,
            KEVENT_CTL_ADD,
            poll(10, both, KEVENT_REQ_ONESHOT | KEVENT_REQ_ET),
        );
        // One write: both written, newest hook first, with the key's bits
        // they want; then they are gone, and the next write finds nobody.
        m.pipe_write(p, 1);
        m.pipe_write(p, 1);
        let got: Vec<(u64, u32)> = m
            .ring_read(8)
            .iter()
            .map(|e| (e.user, e.ret_data[0]))
            .collect();
        assert_eq!(got, [(0, KEVENT_POLL_POLLIN), (1, KEVENT_POLL_POLLIN)]);
        assert_eq!((m.len(), m.ring_state()), (0, Some((0, false))));
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, poll(10, 0, 0)), ENOENT);
        // ADD's "ready now" is no wake-up: in line, then moved, and gone.
        ok(&mut m, KEVENT_CTL_ADD, poll_in(10, KEVENT_REQ_ONESHOT, 2));
        assert_eq!(m.ring_state(), Some((0, true)));
        assert_eq!(m.ring_wait(0, 8), Ok(1));
        assert_eq!(m.ring_read(8)[0].user, 2);
        assert_eq!(m.len(), 0);
        // A release wakes with no key: in line, asked at the wait (HUP).
        assert_eq!(m.pipe_read(p, 100), 2);
        ok(&mut m, KEVENT_CTL_ADD, poll_in(10, KEVENT_REQ_ONESHOT, 3));
        assert_eq!(m.close_fd(11), []);
        assert_eq!(m.ring_state(), Some((0, true)));
        assert_eq!(m.ring_wait(0, 8), Ok(1));
        assert_eq!(m.ring_read(8)[0].ret_data, [KEVENT_POLL_POLLHUP, 0]);
        // A request that left is not among those its file's close removes.
        let p = m.pipe_opened(12, 13);
        ok(&mut m, KEVENT_CTL_ADD, poll_in(12, KEVENT_REQ_ONESHOT, 4));
        m.pipe_write(p, 1);
        assert_eq!((m.close_fd(12), m.ring_state()), (vec![], Some((1, false))));
    }

    #[test]
    fn ring_gone_slots_run_out_and_the_event_waits_in_line() {
        // A ring of 2 has two gone slots.
        let mut m = Model::new();
        let p = m.pipe_opened(10, 11);
        m.ring_setup(2).unwrap();
        for cookie in [1, 2] {
            ok(
                &mut m,
                KEVENT_CTL_ADD,
                poll_in(10, KEVENT_REQ_ONESHOT, cookie),
            );
        }
        // A wake-up between calls takes a slot, which no call frees yet.
        let q = m.pipe_opened(12, 13);
        ok(&mut m, KEVENT_CTL_ADD, poll_in(12, KEVENT_REQ_ONESHOT, 9));
        m.pipe_write(q, 1);
        assert_eq!(m.ring_read(8)[0].user, 9);
        // The ring has room for both pipe requests, but one slot is left:
        // the newest hook takes it, the other waits in line.
        m.pipe_write(p, 1);
        assert_eq!(m.ring_state(), Some((1, true)));
        assert_eq!((m.ring_left, m.ring_no_gone_slot, m.len()), (2, 1, 1));
        assert_eq!(m.ring_read(8)[0].user, 2);
        // The wait frees the slots, moves it (asking the file), and it
        // leaves as a moved one-shot does.
        assert_eq!(m.ring_wait(0, 8), Ok(1));
        let e = m.ring_read(8)[0];
        assert_eq!((e.user, e.ret_data), (1, [KEVENT_POLL_POLLIN, 0]));
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, poll(10, 0, 0)), ENOENT);
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, poll_in(10, 0, 1)), ENOENT);
        // Without the limit, both would have been written.
        let mut m = Model::new();
        m.mutation = Some(Mutation::NoGoneLimit);
        let p = m.pipe_opened(10, 11);
        m.ring_setup(2).unwrap();
        for cookie in [1, 2] {
            ok(
                &mut m,
                KEVENT_CTL_ADD,
                poll_in(10, KEVENT_REQ_ONESHOT, cookie),
            );
        }
        let q = m.pipe_opened(12, 13);
        ok(&mut m, KEVENT_CTL_ADD, poll_in(12, KEVENT_REQ_ONESHOT, 9));
        m.pipe_write(q, 1);
        m.ring_read(8);
        m.pipe_write(p, 1);
        assert_eq!(m.ring_state(), Some((2, false)));
    }

    #[test]
    fn ring_gone_slots_are_freed_by_the_next_call_that_runs_entries() {
        let mut m = Model::new();
        let p = m.pipe_opened(10, 11);
        let q = m.pipe_opened(12, 13);
        let r = m.pipe_opened(14, 15);
        m.ring_setup(2).unwrap();
        for fd in [10, 12, 14] {
            ok(&mut m, KEVENT_CTL_ADD, poll_in(fd, KEVENT_REQ_ONESHOT, 0));
        }
        // Wake-ups between calls take both slots (a ring of 2 has two).
        m.pipe_write(p, 1);
        m.pipe_write(q, 1);
        assert_eq!(m.ring_read(8).len(), 2);
        // Calls refused as a whole take nothing out.
        assert_eq!(m.ctl(KEVENT_CTL_INIT, &[user(1, 0)]), Err(EINVAL));
        assert_eq!(m.ctl(KEVENT_CTL_ADD, &[]), Ok(vec![]));
        assert_eq!(m.ring_wait(0, 0), Err(EINVAL));
        assert_eq!(m.ring_wait(2, 1), Err(EINVAL));
        assert_eq!(m.ring_wait(3, 8), Err(EINVAL));
        m.pipe_write(r, 1);
        assert_eq!((m.ring_state(), m.ring_no_gone_slot), (Some((0, true)), 1));
        // A ring wait frees them (and moves the pipe's event in).
        assert_eq!(m.ring_wait(0, 8), Ok(1));
        assert_eq!(m.ring_read(8)[0].id, [14, 0]);
        // A ctl call frees them too, even one whose only entry fails, and
        // so does the end of the call whose READYs took them. (The pipes
        // are drained first: a request ready at its ADD goes in line.)
        m.pipe_read(p, 1);
        m.pipe_read(q, 1);
        m.pipe_read(r, 1);
        for fd in [10, 12] {
            ok(&mut m, KEVENT_CTL_ADD, poll_in(fd, KEVENT_REQ_ONESHOT, 0));
        }
        m.pipe_write(p, 1);
        m.pipe_write(q, 1);
        m.ring_read(8);
        assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, user(9, 0)), ENOENT);
        let users = [user(1, KEVENT_REQ_ONESHOT), user(2, KEVENT_REQ_ONESHOT)];
        assert_eq!(errs(&mut m, KEVENT_CTL_ADD, &users), [0, 0]);
        assert_eq!(
            errs(&mut m, KEVENT_CTL_READY, &[readied(1, 1), readied(2, 2)]),
            [0, 0]
        );
        assert_eq!(users_in(&m.ring_read(8)), [(1, 1), (2, 2)]);
        ok(&mut m, KEVENT_CTL_ADD, poll_in(14, KEVENT_REQ_ONESHOT, 0));
        m.pipe_write(r, 1);
        assert_eq!((m.ring_state(), m.ring_no_gone_slot), (Some((1, false)), 1));
        assert_eq!(m.ring_read(8)[0].id, [14, 0]);
        assert_eq!((m.len(), m.ring_left), (0, 7));
    }

    #[test]
    fn ring_waits_move_a_collections_budget() {
        // [stale pipe, 1, 2] with room for 2: the pipe takes a slot of the
        // budget, as in a copying collection.
        let (mut m, p) = pipe_and_users();
        stale_pipe(&mut m, p);
        m.ring_setup(2).unwrap();
        ready(&mut m, 1, 0);
        ready(&mut m, 2, 0);
        assert_eq!(m.ring_wait(0, 8), Ok(1));
        assert_eq!(m.ring_wait(0, 8), Ok(2));
        assert_eq!(users_in(&m.ring_read(8)), [(1, 0), (2, 0)]);
        // A full ring moves nothing.
        assert_eq!(m.ring_wait(0, 8), Ok(2));
        assert_eq!(m.ring_wait(0, 8), Ok(2));
        assert_eq!(m.ring_state(), Some((2, true)));
    }

    #[test]
    fn timer_model_checks_never_early() {
        let mut t = TimerModel::default();
        let start = Instant::now();
        let uk = Ukevent {
            id: [10, 0],
            type_: KEVENT_TIMER,
            ..Default::default()
        };
        let out = t.ctl(KEVENT_CTL_ADD, &[uk], start).unwrap();
        assert_eq!(out[0].ret_flags, KEVENT_RET_DONE);
        let ev = Ukevent {
            ret_flags: KEVENT_RET_DONE,
            ret_data: [1, 0],
            ..uk
        };
        assert!(t.check_events(&[ev], start).unwrap_err().contains("early"));
        let mut t = TimerModel::default();
        t.ctl(KEVENT_CTL_ADD, &[uk], start).unwrap();
        t.check_events(&[ev], start + Duration::from_millis(10))
            .unwrap();
        assert!(t
            .check_events(&[ev, ev], start + Duration::from_secs(1))
            .is_err());
        let out = t.ctl(KEVENT_CTL_ADD, &[uk], start).unwrap();
        assert_eq!(out[0].ret_data[1], EEXIST as u32);
        let bad = Ukevent { id: [0, 0], ..uk };
        assert_eq!(
            t.ctl(KEVENT_CTL_ADD, &[bad], start).unwrap()[0].ret_data[1],
            EINVAL as u32
        );
    }

    /// A timer entry with `event` bits (ns unit), `id` and `ret_data`.
    fn timer(event: u32, id: [u32; 2], ret_data: [u32; 2]) -> Ukevent {
        Ukevent {
            id,
            type_: KEVENT_TIMER,
            event: KEVENT_TIMER_UNIT_NS | event,
            ret_data,
            ..Default::default()
        }
    }

    #[test]
    fn timer_validation_of_clocks_abstime_and_cancel_on_set() {
        let (rt, abs, cancel) = (
            KEVENT_TIMER_REALTIME,
            KEVENT_TIMER_ABSTIME,
            KEVENT_TIMER_CANCEL_ON_SET,
        );
        let ok = [
            // Relative on every clock; take12's FIRED with one.
            timer(0, [10, 0], [0, 0]),
            timer(rt | KEVENT_TIMER_FIRED, [10, 3], [9, 9]),
            timer(KEVENT_TIMER_BOOTTIME, [10, 0], [0, 0]),
            timer(KEVENT_TIMER_TAI, [10, 0], [0, 0]),
            // Absolute: a single expiry, periodic, at i64::MAX.
            timer(abs, [0, 0], [5, 0]),
            timer(KEVENT_TIMER_TAI | abs, [7, 0], [5, 1]),
            timer(abs, [0, 0], [u32::MAX, 0x7fff_ffff]),
            timer(rt | abs | cancel, [0, 0], [1, 2]),
            timer(rt | abs | cancel, [100, 0], [1, 2]),
        ];
        for uk in ok {
            assert!(validate(&uk).is_ok(), "{uk:?}");
        }
        let s = timer_schedule(&timer(KEVENT_TIMER_TAI | abs, [7, 0], [5, 1])).unwrap();
        let want = Schedule {
            clock: Clock::Tai,
            period_ns: 7,
            first_ns: (1 << 32) + 5,
            absolute: true,
        };
        assert_eq!(s, want);
        let s = timer_schedule(&timer(rt, [10, 3], [9, 9])).unwrap();
        assert_eq!(
            (s.clock, s.period_ns, s.first_ns, s.absolute),
            (Clock::Realtime, 10, 3, false)
        );
        let refused = [
            timer(rt | cancel, [10, 0], [0, 0]),
            timer(cancel, [10, 0], [0, 0]),
            timer(abs | cancel, [0, 0], [1, 0]),
            timer(KEVENT_TIMER_BOOTTIME | abs | cancel, [0, 0], [1, 0]),
            timer(KEVENT_TIMER_TAI | abs | cancel, [0, 0], [1, 0]),
            timer(rt | abs, [10, 1], [1, 0]),
            timer(abs, [0, 0], [0, 0x8000_0000]),
            timer(abs, [0, 0], [u32::MAX, u32::MAX]),
            timer(rt, [0, 5], [0, 0]),
            timer(KEVENT_TIMER_UNIT_MASK | rt, [10, 0], [0, 0]),
            timer(0x1000, [10, 0], [0, 0]),
        ];
        let mut m = Model::new();
        for uk in refused {
            assert_eq!(validate(&uk), Err(EINVAL), "{uk:?}");
            // Before the identity: EINVAL on ADD and MODIFY; REMOVE does
            // not look, READY refuses every timer.
            assert_eq!(err(&mut m, KEVENT_CTL_ADD, uk), EINVAL);
            assert_eq!(err(&mut m, KEVENT_CTL_MODIFY, uk), EINVAL);
            assert_eq!(err(&mut m, KEVENT_CTL_REMOVE, uk), ENOENT);
            assert_eq!(err(&mut m, KEVENT_CTL_READY, uk), EINVAL);
        }
    }

    #[test]
    fn timer_model_checks_absolute_timers_on_their_clock() {
        let ns = |d: Duration| d.as_nanos() as u64;
        let split = |t: u64| [t as u32, (t >> 32) as u32];
        let start = Instant::now();
        let ev = |uk: Ukevent, n: u32| Ukevent {
            ret_flags: KEVENT_RET_DONE,
            ret_data: [n, 0],
            ..uk
        };
        // A single expiry an hour ahead on the wall clock: early.
        let mut t = TimerModel::default();
        let later = ns(Clock::Realtime.now().unwrap() + Duration::from_secs(3600));
        let uk = timer(
            KEVENT_TIMER_REALTIME | KEVENT_TIMER_ABSTIME,
            [0, 0],
            split(later),
        );
        t.ctl(KEVENT_CTL_ADD, &[uk], start).unwrap();
        let e = t.check_events(&[ev(uk, 1)], Instant::now()).unwrap_err();
        assert!(e.contains("absolute timer early"), "{e}");
        // One a second past: once, with one expiration, and then spent:
        // registered, but not live.
        let mut t = TimerModel::default();
        let past = ns(Clock::Boottime.now().unwrap() - Duration::from_secs(1));
        let single = timer(
            KEVENT_TIMER_BOOTTIME | KEVENT_TIMER_ABSTIME,
            [0, 0],
            split(past),
        );
        t.ctl(KEVENT_CTL_ADD, &[single], start).unwrap();
        assert_eq!(t.live(), 1);
        let e = t.check_events(&[ev(single, 2)], start).unwrap_err();
        assert!(e.contains("single expiry with 2"), "{e}");
        let mut t = TimerModel::default();
        t.ctl(KEVENT_CTL_ADD, &[single], start).unwrap();
        t.check_events(&[ev(single, 1)], start).unwrap();
        assert_eq!((t.live(), t.len()), (0, 1));
        let e = t.check_events(&[ev(single, 1)], start).unwrap_err();
        assert!(e.contains("fired again"), "{e}");
        // MODIFY re-arms it; it is removed like any other.
        t.ctl(KEVENT_CTL_MODIFY, &[single], start).unwrap();
        assert_eq!(t.live(), 1);
        t.check_events(&[ev(single, 1)], start).unwrap();
        t.ctl(KEVENT_CTL_REMOVE, &[single], start).unwrap();
        assert_eq!(t.len(), 0);
        // Periodic, its first expiry ten periods past: up to eleven
        // expirations at once, not twelve.
        let period = Duration::from_secs(1);
        let first = ns(Clock::Monotonic.now().unwrap() - period * 10);
        let periodic = timer(KEVENT_TIMER_ABSTIME, [1_000_000_000, 0], split(first));
        let mut t = TimerModel::default();
        t.ctl(KEVENT_CTL_ADD, &[periodic], start).unwrap();
        t.check_events(&[ev(periodic, 11)], start).unwrap();
        let mut t = TimerModel::default();
        t.ctl(KEVENT_CTL_ADD, &[periodic], start).unwrap();
        let e = t.check_events(&[ev(periodic, 12)], start).unwrap_err();
        assert!(e.contains("early"), "{e}");
        assert_eq!(t.live(), 1);
    }
}
