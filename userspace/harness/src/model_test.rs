//! The model-based test: seeded random sequences of operations, run on
//! the module (through the kevent crate) and on the reference model
//! (`model.rs`) side by side; every ctl entry written back, every event
//! and every errno must be the same. Timers run on a queue of their own
//! and are checked with tolerances (never early, eventually delivered):
//! on every clock, relative and absolute (`TimerEntry`; see `model.rs`
//! for why no clock is set meanwhile).
//!
//! The pipes' descriptors are closed, duplicated and replaced (`dup2`)
//! too, so that watched files lose their last descriptor while watched, or
//! stay open under another number: see `Op` and `Sut::settle`.
//!
//! Half the seeds give the queue an event ring early in the sequence
//! (`with_ring`): from then on its get-events are ring waits and reads of
//! the ring, and after every operation the ring's unread entries and
//! `KEVENT_RING_BACKLOG` are compared with the model's, so an entry
//! written at a wake-up is seen at the operation that wrote it. What the
//! model holds of the ring, and what it leaves out, is in `model.rs`.
//!
//! A failing sequence is shrunk to a minimal one and printed with its
//! seed. To replay a seed in the VM:
//!
//! ```sh
//! KEVENT_CMDLINE="KEVENT_MODEL_SEED=0x1234 KEVENT_MODEL_OPS=2000" \
//!     ./qemu-test.sh --only kevent-harness
//! ./qemu-test.sh --run userspace/target/x86_64-unknown-linux-gnu/release/kevent-harness \
//!     --seed 0x1234 --ops 2000
//! ```
//!
//! (The kernel hands command-line words of the form `NAME=value` that it
//! does not know to `/init` as environment variables.)

#[cfg(test)]
use crate::model::Mutation;
use crate::model::{End, Ident, Model, TimerModel};
use kevent::sys::*;
use kevent::{Clock, Ctl, Events, Queue, Request, Ring, Ukevent};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Pipe slots the operations name.
pub const SLOTS: usize = 3;

/// The largest read: more than the runner lets a pipe hold, so it drains it.
const MAX_READ: usize = 8192;

/// splitmix64: small, and the same on every machine.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u32) as usize]
    }
}

/// What a ctl entry names, before fds are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A user event.
    User(u32),
    /// A pipe end of a slot: its fd now, or the number it had.
    Pipe(usize, End),
    /// A `KEVENT_SOCKET` request on a pipe end of a slot (never a
    /// socket: `ENOTSOCK`, or `EBADF` if its number is closed).
    SocketOnPipe(usize, End),
    /// A `KEVENT_INODE` request naming the inode of a slot's pipe by the
    /// number of one of its ends (`EBADF` if that number is closed; the
    /// request stays when it is closed).
    InodeOnPipe(usize, End),
    /// An fd number nothing uses.
    BadFd,
    /// A raw type and id (bad types, bad timers).
    Raw(u32, [u32; 2]),
}

/// One ctl entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub target: Target,
    pub event: u32,
    pub flags: u32,
    pub cookie: u64,
    pub payload: [u32; 2],
    /// `id[1]`, non-zero only to test validation.
    pub id1: u32,
}

/// One timer-queue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerEntry {
    pub id: u32,
    pub period: u32,
    /// A relative timer's first expiry (`id[1]`); an absolute one's time
    /// is this many units ahead of its clock's time when the entry is
    /// made (behind with `past`).
    pub first: u32,
    pub unit: u32,
    pub flags: u32,
    /// The clock bits, `KEVENT_TIMER_ABSTIME` and
    /// `KEVENT_TIMER_CANCEL_ON_SET`, or'ed into `event` with the unit.
    pub bits: u32,
    /// An absolute timer's time is behind the clock's.
    pub past: bool,
}

/// One operation of a sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Ctl(u32, Vec<Entry>),
    Wait {
        min: u32,
        max: u32,
        timeout_ms: u32,
    },
    Nonblock(bool),
    Write(usize, usize),
    Read(usize, usize),
    /// Closes the slot end's own fd number (targets name it), whatever
    /// file it names now.
    Close(usize, End),
    /// One more descriptor of the slot end's file (`F_DUPFD`).
    Dup(usize, End),
    /// Closes the descriptors of the slot end's file other than its own
    /// number.
    CloseDups(usize, End),
    /// `dup2` of a descriptor of `from`'s file onto `onto`'s own number.
    Dup2 {
        from: (usize, End),
        onto: (usize, End),
    },
    /// Closes every descriptor of the slot's pipe; opens a new one.
    Reopen(usize),
    TimerCtl(u32, Vec<TimerEntry>),
    TimerWait {
        max: u32,
    },
    /// `KEVENT_IOC_RING_SETUP` of the queue, and its mapping.
    RingSetup(u32),
    /// Get-events with `KEVENT_GET_RING`, a timeout of 0; `min` is 0 or
    /// refused (see `model.rs`).
    RingWait {
        min: u32,
        max: u32,
    },
    /// Reads up to this many entries of the ring, and frees them.
    RingRead(usize),
}

fn cmd_name(cmd: u32) -> String {
    match cmd {
        KEVENT_CTL_ADD => "ADD".into(),
        KEVENT_CTL_REMOVE => "REMOVE".into(),
        KEVENT_CTL_MODIFY => "MODIFY".into(),
        KEVENT_CTL_READY => "READY".into(),
        KEVENT_CTL_INIT => "INIT".into(),
        c => format!("cmd{c}"),
    }
}

fn flags_name(flags: u32) -> String {
    let mut s = Vec::new();
    if flags & KEVENT_REQ_ONESHOT != 0 {
        s.push("ONESHOT".to_string());
    }
    if flags & KEVENT_REQ_ET != 0 {
        s.push("ET".to_string());
    }
    let rest = flags & !(KEVENT_REQ_ONESHOT | KEVENT_REQ_ET);
    if rest != 0 {
        s.push(format!("{rest:#x}"));
    }
    if s.is_empty() {
        "LT".into()
    } else {
        s.join("|")
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.target {
            Target::User(id) => write!(f, "user#{id}")?,
            Target::Pipe(slot, End::Read) => write!(f, "pipe{slot}.r")?,
            Target::Pipe(slot, End::Write) => write!(f, "pipe{slot}.w")?,
            Target::SocketOnPipe(slot, End::Read) => write!(f, "socket:pipe{slot}.r")?,
            Target::SocketOnPipe(slot, End::Write) => write!(f, "socket:pipe{slot}.w")?,
            Target::InodeOnPipe(slot, End::Read) => write!(f, "inode:pipe{slot}.r")?,
            Target::InodeOnPipe(slot, End::Write) => write!(f, "inode:pipe{slot}.w")?,
            Target::BadFd => write!(f, "fd#bad")?,
            Target::Raw(t, id) => write!(f, "type{t}[{},{}]", id[0], id[1])?,
        }
        write!(f, " {}", flags_name(self.flags))?;
        if self.event != 0 {
            let named = match self.target {
                Target::InodeOnPipe(..) => {
                    kevent::InodeEvents::from_bits(self.event).map(|e| format!("{e:?}"))
                }
                _ => kevent::Interest::from_bits(self.event).map(|i| format!("{i:?}")),
            };
            write!(
                f,
                " event={}",
                named.unwrap_or_else(|| format!("{:#x}", self.event))
            )?;
        }
        if self.cookie != 0 {
            write!(f, " cookie={}", self.cookie)?;
        }
        if self.payload != [0, 0] {
            write!(f, " payload={:?}", self.payload)?;
        }
        if self.id1 != 0 {
            write!(f, " id1={}", self.id1)?;
        }
        Ok(())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Ctl(cmd, es) => {
                write!(f, "ctl {} [", cmd_name(*cmd))?;
                for (i, e) in es.iter().enumerate() {
                    write!(f, "{}{e}", if i > 0 { "; " } else { "" })?;
                }
                write!(f, "]")
            }
            Op::Wait {
                min,
                max,
                timeout_ms,
            } => write!(f, "get_events min={min} max={max} timeout={timeout_ms}ms"),
            Op::Nonblock(on) => write!(f, "O_NONBLOCK {}", if *on { "on" } else { "off" }),
            Op::Write(s, n) => write!(f, "write {n} bytes to pipe{s}"),
            Op::Read(s, n) => write!(f, "read {n} bytes from pipe{s}"),
            Op::Close(s, e) => write!(f, "close {}", end_name(*s, *e)),
            Op::Dup(s, e) => write!(f, "dup {}", end_name(*s, *e)),
            Op::CloseDups(s, e) => write!(f, "close the dups of {}", end_name(*s, *e)),
            Op::Dup2 { from, onto } => write!(
                f,
                "dup2 {} onto the number of {}",
                end_name(from.0, from.1),
                end_name(onto.0, onto.1)
            ),
            Op::Reopen(s) => write!(f, "reopen pipe{s}"),
            Op::TimerCtl(cmd, es) => {
                write!(f, "timer ctl {} [", cmd_name(*cmd))?;
                for (i, e) in es.iter().enumerate() {
                    let first = match (e.bits & KEVENT_TIMER_ABSTIME != 0, e.past) {
                        (false, _) => format!("{}", e.first),
                        (true, false) => format!("at now+{}", e.first),
                        (true, true) => format!("at now-{}", e.first),
                    };
                    write!(
                        f,
                        "{}timer#{} {}/{first} event={:#x} {}",
                        if i > 0 { "; " } else { "" },
                        e.id,
                        e.period,
                        e.unit | e.bits,
                        flags_name(e.flags)
                    )?;
                }
                write!(f, "]")
            }
            Op::TimerWait { max } => write!(f, "timer get_events max={max}"),
            Op::RingSetup(n) => write!(f, "ring set-up of {n} entries"),
            Op::RingWait { min, max } => write!(f, "ring get_events min={min} max={max}"),
            Op::RingRead(n) => write!(f, "read {n} ring entries"),
        }
    }
}

fn end_name(slot: usize, end: End) -> String {
    match end {
        End::Read => format!("pipe{slot}.r"),
        End::Write => format!("pipe{slot}.w"),
    }
}

fn gen_end(r: &mut Rng) -> (usize, End) {
    let end = if r.below(2) == 0 {
        End::Read
    } else {
        End::Write
    };
    (r.below(SLOTS as u32) as usize, end)
}

fn gen_flags(r: &mut Rng) -> u32 {
    match r.below(20) {
        0..=8 => 0,
        9..=14 => KEVENT_REQ_ET,
        15..=17 => KEVENT_REQ_ONESHOT,
        _ => KEVENT_REQ_ONESHOT | KEVENT_REQ_ET,
    }
}

/// The `KEVENT_INODE_*` bits a pipe's inode never reports under the
/// runner's operations, which the model test's inode requests ask for
/// (the model does not model inode events): every bit but `WRITE` (6.12
/// notifies every write to a pipe as a modification of its inode) and
/// `CLOSE_WRITE` (the release of a write end, which a poll request on it
/// can defer to a time the model does not know). Nothing renames,
/// deletes or changes the attributes of a pipe, or unmounts pipefs, and
/// a pipe's inode keeps its one link when the pipe is gone.
const PIPE_INODE_SILENT: u32 = KEVENT_INODE_ALL & !(KEVENT_INODE_WRITE | KEVENT_INODE_CLOSE_WRITE);

fn gen_entry(r: &mut Rng, cmd: u32) -> Entry {
    let mut e = Entry {
        target: Target::User(1 + r.below(4)),
        event: 0,
        flags: gen_flags(r),
        cookie: u64::from(r.below(6) == 0),
        payload: [r.below(1000), r.below(3)],
        id1: 0,
    };
    let mut roll = r.below(100);
    // READY is for user events; a few go elsewhere, to be refused.
    if cmd == KEVENT_CTL_READY && (55..=89).contains(&roll) && r.below(10) != 0 {
        roll = 0;
    }
    // Pipes are watched more often: they are closed and reopened.
    if cmd == KEVENT_CTL_ADD && roll < 25 {
        roll += 55;
    }
    match roll {
        0..=54 => {}
        // One in eight names the pipe's inode instead.
        55..=89 if r.below(8) == 0 => {
            let end = if r.below(3) == 0 {
                End::Write
            } else {
                End::Read
            };
            e.target = Target::InodeOnPipe(r.below(SLOTS as u32) as usize, end);
            e.event = r.pick(&[
                KEVENT_INODE_ATTRIB,
                KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE,
                KEVENT_INODE_DELETE_SELF | KEVENT_INODE_MOVE_SELF,
                KEVENT_INODE_UNMOUNT,
                PIPE_INODE_SILENT,
                // None, or a bit that is none of the ten: EINVAL.
                0,
                0x400,
                KEVENT_INODE_ATTRIB | 0x8000_0000,
            ]);
            e.id1 = u32::from(r.below(12) == 0);
        }
        55..=89 => {
            let end = if r.below(3) == 0 {
                End::Write
            } else {
                End::Read
            };
            e.target = Target::Pipe(r.below(SLOTS as u32) as usize, end);
            e.event = r.pick(&[
                KEVENT_POLL_POLLIN,
                KEVENT_POLL_POLLIN,
                KEVENT_POLL_POLLIN,
                KEVENT_POLL_POLLOUT,
                KEVENT_POLL_POLLIN | KEVENT_POLL_POLLOUT,
                KEVENT_POLL_POLLRDNORM,
                0,
                KEVENT_POLL_POLLHUP,
                KEVENT_POLL_POLLIN | KEVENT_POLL_POLLPRI,
                // Valid, never reported by a pipe.
                KEVENT_POLL_POLLIN | KEVENT_POLL_POLLRDHUP,
            ]);
        }
        // Entries the kernel refuses, each for one reason.
        90 => e.target = Target::Raw(7, [1, 0]),
        91 => {
            e.target = Target::SocketOnPipe(r.below(SLOTS as u32) as usize, End::Read);
            // A direction (refused for the file), or none or two (EINVAL).
            e.event = r.pick(&[
                KEVENT_SOCKET_RECV,
                KEVENT_SOCKET_SEND,
                KEVENT_SOCKET_ACCEPT,
                0,
                KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND,
            ]);
        }
        // Timers the kernel refuses (the model queue holds none): take12's
        // and the clocks', absolute times and cancel on set.
        92 => e.target = Target::Raw(KEVENT_TIMER, [0, 0]),
        93 => {
            let (event, id, high) = r.pick(&REFUSED_TIMERS);
            e.target = Target::Raw(KEVENT_TIMER, id);
            e.event = event;
            e.payload[1] |= high;
        }
        94 => {
            e.target = Target::BadFd;
            e.event = KEVENT_POLL_POLLIN;
        }
        95 => {
            e.target = Target::Pipe(0, End::Read);
            e.event = KEVENT_POLL_POLLIN;
            e.id1 = 1;
        }
        96 => {
            e.target = Target::Pipe(1, End::Read);
            e.event = 0x8000;
        }
        97 => e.event = 1,
        98 => e.flags = 0x2,
        _ => e.target = Target::Raw(KEVENT_AIO, [0, 0]),
    }
    e
}

/// Timer entries the kernel refuses, each for one reason: `(event, id,
/// bits or'ed into ret_data[1])` (`ret_data` is the entry's payload, an
/// absolute time far below `i64::MAX` unless the last is set).
const REFUSED_TIMERS: [(u32, [u32; 2], u32); 9] = [
    // The unit 0x30, on a clock too.
    (KEVENT_TIMER_UNIT_MASK, [5, 0], 0),
    (KEVENT_TIMER_UNIT_MASK | KEVENT_TIMER_TAI, [5, 0], 0),
    // A relative timer with no period, on a clock.
    (KEVENT_TIMER_BOOTTIME, [0, 5], 0),
    // CANCEL_ON_SET without ABSTIME, or not on REALTIME.
    (
        KEVENT_TIMER_REALTIME | KEVENT_TIMER_CANCEL_ON_SET,
        [5, 0],
        0,
    ),
    (KEVENT_TIMER_ABSTIME | KEVENT_TIMER_CANCEL_ON_SET, [0, 0], 0),
    (
        KEVENT_TIMER_TAI | KEVENT_TIMER_ABSTIME | KEVENT_TIMER_CANCEL_ON_SET,
        [5, 0],
        0,
    ),
    // ABSTIME with id[1] set, or a time past i64::MAX.
    (KEVENT_TIMER_REALTIME | KEVENT_TIMER_ABSTIME, [5, 1], 0),
    (KEVENT_TIMER_ABSTIME, [0, 0], 0x8000_0000),
    // A bit that is none of the timer's.
    (KEVENT_TIMER_REALTIME | 0x1000, [5, 0], 0),
];

/// The clocks of the timer queue's entries: `CLOCK_MONOTONIC` (take12's)
/// half the time.
const TIMER_CLOCKS: [u32; 6] = [
    KEVENT_TIMER_MONOTONIC,
    KEVENT_TIMER_MONOTONIC,
    KEVENT_TIMER_MONOTONIC,
    KEVENT_TIMER_REALTIME,
    KEVENT_TIMER_BOOTTIME,
    KEVENT_TIMER_TAI,
];

fn gen_timer_entry(r: &mut Rng) -> TimerEntry {
    let mut t = TimerEntry {
        id: 1 + r.below(3),
        period: r.pick(&[200, 1_000, 5_000, 20_000]),
        first: r.pick(&[0, 0, 50, 2_000, 15_000]),
        unit: KEVENT_TIMER_UNIT_US,
        flags: gen_flags(r),
        bits: r.pick(&TIMER_CLOCKS),
        past: false,
    };
    match r.below(10) {
        0 => {
            t.unit = KEVENT_TIMER_UNIT_NS;
            t.period *= 1000;
            t.first *= 1000;
        }
        1 if r.below(3) == 0 => t.period = 0,
        _ => {}
    }
    // One in four absolute: its time `first` units ahead of its clock's
    // (or behind, so that the periods since count); a period of 0 is a
    // single expiry. On REALTIME, half ask for cancel on set, which
    // nothing triggers here.
    if r.below(4) == 0 {
        t.bits |= KEVENT_TIMER_ABSTIME;
        t.past = r.below(4) == 0;
        if r.below(4) == 0 {
            t.period = 0;
        }
        if t.bits & KEVENT_TIMER_CLOCK_MASK == KEVENT_TIMER_REALTIME && r.below(2) == 0 {
            t.bits |= KEVENT_TIMER_CANCEL_ON_SET;
        }
    } else if r.below(40) == 0 {
        // Refused: cancel on set of a relative timer.
        t.bits |= KEVENT_TIMER_CANCEL_ON_SET;
    }
    t
}

/// The operations of one seed.
pub fn generate(seed: u64, n: usize) -> Vec<Op> {
    with_ring(seed, generate_queue_ops(seed, n))
}

/// For half the seeds, a ring on the queue: set up within the first fifth
/// of the sequence (after a refused size, sometimes); from then on most
/// get-events become ring waits or reads of the ring, a few stay (they
/// are `EINVAL` now) or become another set-up (`EBUSY`), and now and then
/// a burst of one-shot requests runs the gone slots out (`gone_burst`).
/// Before it, a few ring waits are `EINVAL` (no ring). The other half are
/// unchanged, so the operations of a seed without a ring are those it
/// always had.
fn with_ring(seed: u64, ops: Vec<Op>) -> Vec<Op> {
    let mut r = Rng::new(seed ^ 0x7269_6e67_5f72_696e);
    if r.below(2) == 0 || ops.is_empty() {
        return ops;
    }
    let at = r.below((ops.len() / 5).max(1) as u32) as usize;
    let mut entries = 0;
    let mut out = Vec::with_capacity(ops.len() + ops.len() / 5 + 2);
    for (i, op) in ops.into_iter().enumerate() {
        if i == at {
            if r.below(2) == 0 {
                out.push(Op::RingSetup(r.pick(&[0, 1, 3, 6, 65536])));
            }
            entries = r.pick(&[2, 4, 4, 8, 8]);
            out.push(Op::RingSetup(entries));
        }
        let set_up = i >= at;
        if set_up && r.below(40) == 0 {
            out.extend(gone_burst(&mut r, entries));
        }
        match op {
            // Mostly requests whose events are written at wake-up on a
            // ring, edge-triggered or one-shot: a level-triggered one that
            // is ready stays on the list, and while anything is there no
            // wake-up writes into the ring.
            Op::Ctl(cmd, mut entries)
                if set_up && (cmd == KEVENT_CTL_ADD || cmd == KEVENT_CTL_MODIFY) =>
            {
                for e in &mut entries {
                    let plain = e.flags & !(KEVENT_REQ_ONESHOT | KEVENT_REQ_ET) == 0;
                    if plain
                        && matches!(e.target, Target::User(_) | Target::Pipe(..))
                        && r.below(5) != 0
                    {
                        e.flags = r.pick(&[KEVENT_REQ_ET, KEVENT_REQ_ET, KEVENT_REQ_ONESHOT]);
                    }
                }
                out.push(Op::Ctl(cmd, entries));
            }
            Op::Wait { .. } if !set_up && r.below(10) == 0 => out.push(gen_ring_wait(&mut r)),
            Op::Wait { .. } if set_up => out.push(match r.below(20) {
                0 => op,
                1 => Op::RingSetup(r.pick(&[2, 8, 3])),
                2..=10 => gen_ring_wait(&mut r),
                _ => Op::RingRead(r.pick(&[1, 1, 2, 3, 64])),
            }),
            op => out.push(op),
        }
    }
    out
}

/// The cookies of the requests `gone_burst` adds, which no other entry
/// uses: the first for user events, then one per pipe request.
const BURST_COOKIE: u64 = 8;

/// Operations that run out the gone slots of a ring of `entries` (as many
/// as its entries, see `model.rs`) while it has room. Three in four first
/// clear the ready list, which most of the time holds requests that stay
/// ready (level-triggered user events, writable pipes) and makes every
/// wake-up wait there: every request the generator names is removed, what
/// waits is moved in and read, and the pipe of a slot is reopened (its
/// number may name another file since a `dup2`, its writer may be closed;
/// nothing watches it now, so the module has nothing to settle). The
/// others only drain that pipe. Then:
/// - one-shot requests are added: user events, and on the pipe's read end
///   level-triggered or edge-triggered `POLLIN` requests, mostly one or
///   two more than the slots the user events will leave (at most 8);
/// - the ring is read, and one to four of the user events are readied in
///   one call: written at once, each taking a slot, if nothing waits on
///   the list (more than the ring takes wait in line);
/// - the ring is read again, which makes room but frees no slot;
/// - the pipe is written to: the wake-ups of its one-shot requests find no
///   slot after the first few, and wait in line.
///
/// The next ctl call or ring wait frees the slots.
fn gone_burst(r: &mut Rng, entries: u32) -> Vec<Op> {
    // Two pipes: the first's wake-up takes gone slots (no call frees them
    // before the second's), so the second finds room in the ring but too
    // few slots.
    let a = r.below(SLOTS as u32) as usize;
    let b = (a + 1) % SLOTS;
    let users = 1 + r.below(4);
    let first = 1 + r.below(entries.min(8));
    let second = ((entries + 1).saturating_sub(first) + r.below(2)).clamp(1, 8);
    let mut ops = Vec::new();
    if r.below(4) != 0 {
        ops.push(Op::Ctl(KEVENT_CTL_REMOVE, every_request()));
        ops.extend([Op::RingRead(64), gen_ring_wait_all(), Op::RingRead(64)]);
        ops.extend([Op::Reopen(a), Op::Reopen(b)]);
    } else {
        ops.extend([Op::Read(a, MAX_READ), Op::Read(b, MAX_READ)]);
    }
    let entry = |target, flags, cookie| Entry {
        target,
        event: match target {
            Target::Pipe(..) => KEVENT_POLL_POLLIN,
            _ => 0,
        },
        flags,
        cookie,
        payload: [0, 0],
        id1: 0,
    };
    let mut adds: Vec<Entry> = (1..=users)
        .map(|id| entry(Target::User(id), KEVENT_REQ_ONESHOT, BURST_COOKIE))
        .collect();
    let mut cookie = BURST_COOKIE;
    for (slot, hooks) in [(a, first), (b, second)] {
        for _ in 0..hooks {
            let flags = r.pick(&[KEVENT_REQ_ONESHOT, KEVENT_REQ_ONESHOT | KEVENT_REQ_ET]);
            cookie += 1;
            adds.push(entry(Target::Pipe(slot, End::Read), flags, cookie));
        }
    }
    let readys = (1..=users)
        .map(|id| Entry {
            payload: [r.below(1000), 0],
            ..entry(Target::User(id), 0, BURST_COOKIE)
        })
        .collect();
    ops.extend([
        Op::Ctl(KEVENT_CTL_ADD, adds),
        Op::RingRead(64),
        // Written at once and taken out at the call's end.
        Op::Ctl(KEVENT_CTL_READY, readys),
        Op::RingRead(64),
        Op::Write(a, 1 + r.below(32) as usize),
        Op::RingRead(64),
        Op::Write(b, 1 + r.below(32) as usize),
    ]);
    ops
}

/// A ring wait that moves as much as the ring takes.
fn gen_ring_wait_all() -> Op {
    Op::RingWait { min: 0, max: 64 }
}

/// REMOVE entries naming every user and pipe request the generator and
/// `gone_burst` add (those on inodes excepted, which are never ready).
fn every_request() -> Vec<Entry> {
    let entry = |target, cookie| Entry {
        target,
        event: 0,
        flags: 0,
        cookie,
        payload: [0, 0],
        id1: 0,
    };
    let mut out = Vec::new();
    for id in 1..=4 {
        for cookie in [0, 1, BURST_COOKIE] {
            out.push(entry(Target::User(id), cookie));
        }
    }
    for slot in 0..SLOTS {
        for end in [End::Read, End::Write] {
            for cookie in [0, 1] {
                out.push(entry(Target::Pipe(slot, end), cookie));
            }
        }
        // `gone_burst`'s cookies, over its two pipes.
        for k in 1..=16 {
            out.push(entry(Target::Pipe(slot, End::Read), BURST_COOKIE + k));
        }
    }
    out
}

/// A ring wait: `min` 0, or one the kernel refuses (above `max`, or
/// above the entries of any ring the sequences set up).
fn gen_ring_wait(r: &mut Rng) -> Op {
    let max = r.pick(&[1, 1, 2, 3, 4, 8, 16, 0]);
    let min = match r.below(12) {
        0 => max + 1,
        1 => 9,
        _ => 0,
    };
    Op::RingWait {
        min,
        max: if min == 9 { 16 } else { max },
    }
}

/// The operations of one seed on the queues, without a ring.
fn generate_queue_ops(seed: u64, n: usize) -> Vec<Op> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| match r.below(100) {
            0..=39 => {
                let cmd = match r.below(100) {
                    0..=29 => KEVENT_CTL_ADD,
                    30..=64 => KEVENT_CTL_READY,
                    65..=81 => KEVENT_CTL_MODIFY,
                    82..=98 => KEVENT_CTL_REMOVE,
                    _ => r.pick(&[KEVENT_CTL_INIT, 5]),
                };
                let k = if r.below(4) == 0 { 2 + r.below(3) } else { 1 };
                Op::Ctl(cmd, (0..k).map(|_| gen_entry(&mut r, cmd)).collect())
            }
            40..=66 => Op::Wait {
                min: r.below(4),
                max: r.pick(&[1, 1, 2, 3, 4, 6, 8, 8, 0]),
                timeout_ms: u32::from(r.below(15) == 0),
            },
            67..=74 => Op::Write(r.below(SLOTS as u32) as usize, 1 + r.below(32) as usize),
            75..=84 => {
                let slot = r.below(SLOTS as u32) as usize;
                // Half the reads drain the pipe: level-triggered
                // requests then go stale on the ready list.
                let n = match r.below(2) {
                    0 => MAX_READ,
                    _ => 1 + r.below(40) as usize,
                };
                Op::Read(slot, n)
            }
            85..=87 => {
                let (s, e) = gen_end(&mut r);
                match r.below(20) {
                    0..=5 => Op::Close(s, e),
                    6..=9 => Op::Dup(s, e),
                    10..=12 => Op::CloseDups(s, e),
                    13..=16 => Op::Dup2 {
                        from: gen_end(&mut r),
                        onto: (s, e),
                    },
                    _ => Op::Reopen(s),
                }
            }
            88 => Op::Nonblock(r.below(3) == 0),
            89..=94 => {
                let cmd = r.pick(&[
                    KEVENT_CTL_ADD,
                    KEVENT_CTL_ADD,
                    KEVENT_CTL_MODIFY,
                    KEVENT_CTL_REMOVE,
                ]);
                let k = 1 + u32::from(r.below(4) == 0);
                Op::TimerCtl(cmd, (0..k).map(|_| gen_timer_entry(&mut r)).collect())
            }
            _ => Op::TimerWait {
                max: 1 + r.below(3),
            },
        })
        .collect()
}

/// The system under test: the module, or (host tests) a model.
pub trait Sut {
    fn ctl(&mut self, cmd: u32, entries: &mut [Ukevent]) -> Result<usize, i32>;
    fn get_events(&mut self, min: u32, max: u32, timeout_ms: u32) -> Result<Vec<Ukevent>, i32>;
    fn set_nonblock(&mut self, on: bool);
    /// Opens a pipe: the fds of its read and write ends.
    fn open_pipe(&mut self) -> (i32, i32);
    fn close(&mut self, fd: i32);
    /// A new descriptor of `fd`'s file, the lowest free number (above 2).
    fn dup(&mut self, fd: i32) -> i32;
    /// `dup2(fd, onto)`, `fd != onto`.
    fn dup2(&mut self, fd: i32, onto: i32);
    /// Called when a pipe end's last descriptor went: its requests must be
    /// gone and the end released before the next operation, so that the
    /// queue holds what the model holds (the model removed them at the
    /// close) and the release's wake-ups (the other end hangs up) come
    /// where the model has them. `gone` are the requests the model removed
    /// with the file; `other` is an open fd of the other end and the bit
    /// its `poll` shows once the release is over (`POLLHUP` for a reader,
    /// `POLLERR` for a writer).
    fn settle(&mut self, gone: &[Ident], other: Option<(i32, u32)>) -> Result<(), String>;
    fn write(&mut self, fd: i32, n: usize) -> Result<usize, i32>;
    fn read(&mut self, fd: i32, n: usize) -> Result<usize, i32>;
    /// The timer queue, if this system has one.
    fn timer_ctl(&mut self, cmd: u32, entries: &mut [Ukevent]) -> Option<Result<usize, i32>>;
    fn timer_get_events(
        &mut self,
        min: u32,
        max: u32,
        timeout: Duration,
    ) -> Option<Result<Vec<Ukevent>, i32>>;
    /// Sets up the queue's ring of `entries` and maps it.
    fn ring_setup(&mut self, entries: u32) -> Result<(), i32>;
    /// Get-events with `KEVENT_GET_RING` and a timeout of 0: the unread
    /// entries.
    fn ring_wait(&mut self, min: u32, max: u32) -> Result<usize, i32>;
    /// Reads up to `n` entries of the ring (set up), frees them.
    fn ring_read(&mut self, n: usize) -> Result<Vec<RingEntry>, String>;
    /// With a ring: its unread entries and whether `KEVENT_RING_BACKLOG`
    /// is set.
    fn ring_state(&mut self) -> Result<Option<(usize, bool)>, String>;
}

fn errno(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

/// The module, through the kevent crate.
pub struct Kernel {
    queue: Queue,
    /// The queue's ring, once set up.
    ring: Option<Ring>,
    timers: Queue,
    /// The descriptors of pipe ends, by number.
    files: HashMap<i32, File>,
    /// One reusable buffer per `max_nr`; waiting allocates nothing.
    events: Vec<Events>,
}

const MAX_EVENTS: usize = 8;

impl Kernel {
    pub fn new() -> std::io::Result<Kernel> {
        Ok(Kernel {
            queue: Queue::new()?,
            ring: None,
            timers: Queue::new()?,
            files: HashMap::new(),
            events: (0..=MAX_EVENTS).map(Events::with_capacity).collect(),
        })
    }

    fn ctl_on(q: &Queue, cmd: u32, entries: &mut [Ukevent]) -> Result<usize, i32> {
        let typed = match cmd {
            KEVENT_CTL_ADD => Some(Ctl::Add),
            KEVENT_CTL_REMOVE => Some(Ctl::Remove),
            KEVENT_CTL_MODIFY => Some(Ctl::Modify),
            KEVENT_CTL_READY => Some(Ctl::Ready),
            _ => None,
        };
        match typed {
            // The typed batch API, written back in place.
            Some(c) => {
                let mut reqs: Vec<Request> =
                    entries.iter().map(|u| Request::from_raw(*u)).collect();
                let n = q.submit(c, &mut reqs).map_err(errno)?.len();
                for (e, r) in entries.iter_mut().zip(&reqs) {
                    *e = *r.raw();
                }
                Ok(n)
            }
            None => q.ctl_raw(cmd, entries).map_err(errno),
        }
    }

    fn wait_on(
        q: &Queue,
        events: &mut [Events],
        min: u32,
        max: u32,
        timeout: Duration,
    ) -> Result<Vec<Ukevent>, i32> {
        if max == 0 || min > max || max as usize > MAX_EVENTS {
            // What the typed API refuses itself: the kernel's answer.
            let mut buf = vec![Ukevent::default(); max as usize];
            let n = kevent::sys::get_events(q.as_fd(), min, &mut buf, timeout.as_nanos() as i64)
                .map_err(errno)?;
            buf.truncate(n);
            return Ok(buf);
        }
        let ev = &mut events[max as usize];
        q.wait(min as usize, ev, Some(timeout)).map_err(errno)?;
        Ok(ev.as_raw().to_vec())
    }
}

impl Sut for Kernel {
    fn ctl(&mut self, cmd: u32, entries: &mut [Ukevent]) -> Result<usize, i32> {
        Self::ctl_on(&self.queue, cmd, entries)
    }

    fn get_events(&mut self, min: u32, max: u32, timeout_ms: u32) -> Result<Vec<Ukevent>, i32> {
        let t = Duration::from_millis(u64::from(timeout_ms));
        Self::wait_on(&self.queue, &mut self.events, min, max, t)
    }

    fn set_nonblock(&mut self, on: bool) {
        self.queue
            .set_nonblocking(on)
            .expect("fcntl(F_SETFL) on a queue");
    }

    fn open_pipe(&mut self) -> (i32, i32) {
        let (r, w) = std::io::pipe().expect("pipe");
        let (r, w) = (File::from(OwnedFd::from(r)), File::from(OwnedFd::from(w)));
        let fds = (r.as_raw_fd(), w.as_raw_fd());
        self.files.insert(fds.0, r);
        self.files.insert(fds.1, w);
        fds
    }

    fn close(&mut self, fd: i32) {
        drop(self.files.remove(&fd).expect("closing an fd of a pipe"));
    }

    fn dup(&mut self, fd: i32) -> i32 {
        let new = self.files[&fd].try_clone().expect("F_DUPFD_CLOEXEC");
        let n = new.as_raw_fd();
        self.files.insert(n, new);
        n
    }

    fn dup2(&mut self, fd: i32, onto: i32) {
        let owned = self.files.contains_key(&onto);
        assert!(
            owned || fd_flags(onto).is_err(),
            "dup2 onto fd {onto}, which something else owns"
        );
        let installed = dup2(self.files[&fd].as_fd(), onto).expect("dup2");
        // The `File` that owns the number `onto` owns it still; now it
        // names another file.
        if let Some(new) = installed {
            self.files.insert(onto, File::from(new));
        }
    }

    fn settle(&mut self, gone: &[Ident], other: Option<(i32, u32)>) -> Result<(), String> {
        // The module notices a closed file lazily (a ctl naming one of its
        // requests, a collection, a wake-up by the file) or else from its
        // background sweep, every 50 ms while files are watched. Until
        // then a stale request can take a slot of a collection's budget or
        // count for min_nr, where the model has none: wait until the
        // queue's fdinfo lists none of them. Nothing else touches the
        // queue meanwhile, so it is the sweep that removes them.
        if !gone.is_empty() {
            let path = format!("/proc/self/fdinfo/{}", self.queue.as_raw_fd());
            wait_until_unlisted(&path, gone, SETTLE)?;
        }
        let Some((fd, bit)) = other else {
            // Both ends are closed: no file of the pipe is watched any
            // more, so its release wakes no request.
            return Ok(());
        };
        // The sweep's worker drops kevent's reference, and the release
        // runs later still (a kernel thread's last fput is deferred to a
        // work item): wait until the other end shows it.
        let other = self.files[&fd].as_fd();
        let start = Instant::now();
        while poll_now(other).map_err(|e| format!("poll: {e}"))? & bit == 0 {
            if start.elapsed() > SETTLE {
                return Err(format!(
                    "a closed pipe end was not released {SETTLE:?} after its last fd went \
                     and its requests left the queue (its other end does not show \
                     {bit:#x}): kevent keeps it"
                ));
            }
            std::thread::sleep(SETTLE_POLL);
        }
        // Released by another task: it wakes the watchers under the pipe's
        // lock after the count `poll` saw dropped. Taking the lock
        // (F_GETPIPE_SZ) waits for that to be over.
        pipe_size(other).map_err(|e| format!("F_GETPIPE_SZ: {e}"))?;
        Ok(())
    }

    fn write(&mut self, fd: i32, n: usize) -> Result<usize, i32> {
        let mut w = &self.files[&fd];
        w.write(&[0x5a; 64][..n]).map_err(errno)
    }

    fn read(&mut self, fd: i32, n: usize) -> Result<usize, i32> {
        let mut r = &self.files[&fd];
        r.read(&mut [0; MAX_READ][..n]).map_err(errno)
    }

    fn timer_ctl(&mut self, cmd: u32, entries: &mut [Ukevent]) -> Option<Result<usize, i32>> {
        Some(Self::ctl_on(&self.timers, cmd, entries))
    }

    fn timer_get_events(
        &mut self,
        min: u32,
        max: u32,
        timeout: Duration,
    ) -> Option<Result<Vec<Ukevent>, i32>> {
        Some(Self::wait_on(
            &self.timers,
            &mut self.events,
            min,
            max,
            timeout,
        ))
    }

    fn ring_setup(&mut self, entries: u32) -> Result<(), i32> {
        self.ring = Some(Ring::new(&self.queue, entries).map_err(errno)?);
        Ok(())
    }

    fn ring_wait(&mut self, min: u32, max: u32) -> Result<usize, i32> {
        match &self.ring {
            Some(ring) => ring
                .wait(
                    &self.queue,
                    min as usize,
                    max as usize,
                    Some(Duration::ZERO),
                )
                .map_err(errno),
            // No ring: what the kernel says of KEVENT_GET_RING.
            None => get_ring(self.queue.as_fd(), min, max, 0, None).map_err(errno),
        }
    }

    fn ring_read(&mut self, n: usize) -> Result<Vec<RingEntry>, String> {
        let ring = self.ring.as_mut().ok_or("no ring to read")?;
        let events = ring.events().map_err(|e| e.to_string())?;
        Ok(events.take(n).map(|e| e.raw()).collect())
    }

    fn ring_state(&mut self) -> Result<Option<(usize, bool)>, String> {
        self.ring
            .as_ref()
            .map(|r| Ok((r.ready().map_err(|e| e.to_string())?, r.backlog())))
            .transpose()
    }
}

/// Reads a queue's fdinfo at `path` every `SETTLE_POLL` until it lists
/// none of `gone`; fails after `limit`.
fn wait_until_unlisted(path: &str, gone: &[Ident], limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
        let listed = fdinfo_requests(&text)?;
        let left: Vec<&Ident> = gone.iter().filter(|i| listed.contains(i)).collect();
        if left.is_empty() {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(format!(
                "{} request(s) of a pipe end whose last fd was closed are still in the \
                 queue {limit:?} later (the module did not remove them): {left:?}; \
                 {path}:\n{text}",
                left.len()
            ));
        }
        std::thread::sleep(SETTLE_POLL);
    }
}

/// The identities of the requests in a queue's fdinfo: its lines
/// `kevent-req: type:3 id:10,0 event:0x1 flags:0x0 user:0x0 pending:0`
/// (`show_fdinfo` in the module's `queue.rs`).
fn fdinfo_requests(text: &str) -> Result<Vec<Ident>, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("kevent-req:"))
        .map(|fields| {
            let (mut type_, mut id, mut user) = (None, None, None);
            for (key, value) in fields.split_whitespace().filter_map(|f| f.split_once(':')) {
                match key {
                    "type" => type_ = value.parse().ok(),
                    "id" => {
                        id = value
                            .split_once(',')
                            .and_then(|(a, b)| Some([a.parse().ok()?, b.parse().ok()?]))
                    }
                    "user" => {
                        user = value
                            .strip_prefix("0x")
                            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
                    }
                    _ => {}
                }
            }
            match (type_, id, user) {
                (Some(type_), Some(id), Some(user)) => Ok(Ident { type_, id, user }),
                _ => Err(format!("fdinfo line not understood: kevent-req:{fields}")),
            }
        })
        .collect()
}

/// How long a closed pipe end may take to leave the queue, and to be
/// released.
const SETTLE: Duration = Duration::from_secs(5);
/// How often `settle` looks.
const SETTLE_POLL: Duration = Duration::from_millis(5);

/// `fcntl(fd, F_GETFD)`: fails with `EBADF` if `fd` is not open.
fn fd_flags(fd: i32) -> std::io::Result<i32> {
    // SAFETY: F_GETFD takes no argument and only reads the fd table; a
    // number that is not open is EBADF.
    let r = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `dup2(fd, onto)`: `Some` owner of `onto` if it was not open before (the
/// caller owns it otherwise, and it now names `fd`'s file).
fn dup2(fd: BorrowedFd<'_>, onto: i32) -> std::io::Result<Option<OwnedFd>> {
    let was_open = fd_flags(onto).is_ok();
    // SAFETY: dup2 closes the file `onto` named and installs `fd`'s there;
    // the caller owns `onto` if it was open (its owner keeps the number),
    // and nothing does if it was not.
    let r = unsafe { libc::dup2(fd.as_raw_fd(), onto) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `onto` was not open, so the descriptor dup2 just installed
    // is owned by nothing else.
    Ok((!was_open).then(|| unsafe { OwnedFd::from_raw_fd(onto) }))
}

/// `poll` of one fd, not waiting: its `revents`.
fn poll_now(fd: BorrowedFd<'_>) -> std::io::Result<u32> {
    let mut p = [libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN | libc::POLLOUT,
        revents: 0,
    }];
    // SAFETY: `p` is one live `pollfd` that poll may write.
    let r = unsafe { libc::poll(p.as_mut_ptr(), 1, 0) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(u32::from(p[0].revents as u16))
}

/// `fcntl(fd, F_GETPIPE_SZ)`, which takes the pipe's lock.
fn pipe_size(fd: BorrowedFd<'_>) -> std::io::Result<i32> {
    // SAFETY: F_GETPIPE_SZ takes no argument and only reads the pipe.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Where and why a sequence failed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub index: usize,
    pub why: String,
}

/// A slot's pipe as the runner knows it.
#[derive(Clone, Copy, Default)]
struct Slot {
    /// The model's pipe.
    pipe: usize,
    /// The numbers its ends got at `pipe()`, which targets name: open, or
    /// closed, or naming another file since a `dup2`.
    fds: [i32; 2],
}

/// The runner's fd table: the slots, and every open descriptor with the
/// slot end whose file it names (always a slot's current pipe: a reopen
/// closes every descriptor of the old one).
struct Pipes {
    slots: [Slot; SLOTS],
    open: BTreeMap<i32, (usize, End)>,
}

impl Pipes {
    /// The open fds of a slot end's file, lowest first.
    fn names(&self, slot: usize, end: End) -> Vec<i32> {
        self.open
            .iter()
            .filter(|(_, &se)| se == (slot, end))
            .map(|(&fd, _)| fd)
            .collect()
    }

    /// An open fd of a slot end's file: its own number if that still
    /// names it, else the lowest.
    fn fd_of(&self, slot: usize, end: End) -> Option<i32> {
        let own = self.slots[slot].fds[end_ix(end)];
        if self.open.get(&own) == Some(&(slot, end)) {
            return Some(own);
        }
        self.names(slot, end).first().copied()
    }

    /// Whether the model's fd table is this one (a check of the runner).
    fn agrees_with(&self, m: &Model) -> bool {
        self.open
            .iter()
            .all(|(&fd, &(s, e))| m.fd_names(fd) == Some((self.slots[s].pipe, e)))
    }

    /// Opens a new pipe in `slot` on both sides.
    fn open_pipe(&mut self, slot: usize, m: &mut Model, sut: &mut dyn Sut) {
        let (r, w) = sut.open_pipe();
        for (fd, end) in [(r, End::Read), (w, End::Write)] {
            let old = self.open.insert(fd, (slot, end));
            assert!(old.is_none(), "pipe() returned fd {fd}, which is open");
        }
        self.slots[slot] = Slot {
            pipe: m.pipe_opened(r, w),
            fds: [r, w],
        };
    }

    /// Closes `fd` on both sides.
    fn close(&mut self, fd: i32, m: &mut Model, sut: &mut dyn Sut) -> Result<(), String> {
        let (slot, end) = self.open.remove(&fd).expect("closing an open fd");
        sut.close(fd);
        let gone = m.close_fd(fd);
        self.settle_if_last(slot, end, &gone, sut)
    }

    /// After a descriptor of a slot end's file went: if it was the last,
    /// the module must have let go of the file, and of `gone` (its
    /// requests, which the model removed), before anything else.
    fn settle_if_last(
        &self,
        slot: usize,
        end: End,
        gone: &[Ident],
        sut: &mut dyn Sut,
    ) -> Result<(), String> {
        if !self.names(slot, end).is_empty() {
            assert!(
                gone.is_empty(),
                "the model removed requests of an open file"
            );
            return Ok(());
        }
        let (other, bit) = match end {
            End::Read => (End::Write, KEVENT_POLL_POLLERR),
            End::Write => (End::Read, KEVENT_POLL_POLLHUP),
        };
        sut.settle(gone, self.fd_of(slot, other).map(|fd| (fd, bit)))
    }
}

fn end_ix(end: End) -> usize {
    match end {
        End::Read => 0,
        End::Write => 1,
    }
}

/// What a run compared.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Operations run on both sides (those with nothing to do are skipped).
    pub ops: usize,
    /// ctl entries compared, and how many of them failed (same errno).
    pub entries: usize,
    pub entry_errors: usize,
    /// Events compared exactly.
    pub events: usize,
    /// Timer events checked with tolerances.
    pub timer_events: usize,
    /// Ring entries compared exactly.
    pub ring_entries: usize,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        self.ops += o.ops;
        self.entries += o.entries;
        self.entry_errors += o.entry_errors;
        self.events += o.events;
        self.timer_events += o.timer_events;
        self.ring_entries += o.ring_entries;
    }
}

/// Runs `ops` on `sut` and on a fresh model; the first difference fails.
pub fn run(ops: &[Op], sut: &mut dyn Sut) -> Result<Stats, Failure> {
    let mut m = Model::new();
    let mut tm = TimerModel::default();
    let mut p = Pipes {
        slots: [Slot::default(); SLOTS],
        open: BTreeMap::new(),
    };
    for i in 0..SLOTS {
        p.open_pipe(i, &mut m, sut);
    }
    let mut st = Stats::default();
    for (index, op) in ops.iter().enumerate() {
        let fail = |why: String| Failure { index, why };
        match op {
            Op::Ctl(cmd, entries) => {
                let mut raw: Vec<Ukevent> = entries.iter().map(|e| resolve(e, &p.slots)).collect();
                let want = m.ctl(*cmd, &raw);
                let got = sut.ctl(*cmd, &mut raw).map(|n| raw[..n].to_vec());
                if got != want {
                    return Err(fail(format!(
                        "ctl {}: module {}, model {}",
                        cmd_name(*cmd),
                        show(&got),
                        show(&want)
                    )));
                }
                for e in want.iter().flatten() {
                    st.entries += 1;
                    st.entry_errors += usize::from(e.ret_flags & KEVENT_RET_BROKEN != 0);
                }
            }
            Op::Wait {
                min,
                max,
                timeout_ms,
            } => {
                let want = m.get_events(*min, *max);
                let got = sut.get_events(*min, *max, *timeout_ms);
                if got != want {
                    return Err(fail(format!(
                        "get_events: module {}, model {}",
                        show(&got),
                        show(&want)
                    )));
                }
                st.events += want.map_or(0, |v| v.len());
            }
            Op::Nonblock(on) => {
                m.set_nonblock(*on);
                sut.set_nonblock(*on);
            }
            Op::Write(s, n) => {
                let pipe = p.slots[*s].pipe;
                // Never fill a pipe, never write without a reader (EPIPE).
                let Some(w) = p.fd_of(*s, End::Write) else {
                    continue;
                };
                if p.fd_of(*s, End::Read).is_none() || m.pipe_data(pipe) > 4096 {
                    continue;
                }
                let got = sut.write(w, *n);
                m.pipe_write(pipe, *n);
                if got != Ok(*n) {
                    return Err(fail(format!("write: {got:?}, wanted Ok({n})")));
                }
            }
            Op::Read(s, n) => {
                let pipe = p.slots[*s].pipe;
                let n = (*n).min(m.pipe_data(pipe));
                let Some(r) = p.fd_of(*s, End::Read) else {
                    continue;
                };
                if n == 0 {
                    continue;
                }
                let want = m.pipe_read(pipe, n);
                let got = sut.read(r, n);
                if got != Ok(want) {
                    return Err(fail(format!("read: {got:?}, wanted Ok({want})")));
                }
            }
            Op::Close(s, end) => {
                let fd = p.slots[*s].fds[end_ix(*end)];
                if !p.open.contains_key(&fd) {
                    continue;
                }
                p.close(fd, &mut m, sut).map_err(fail)?;
            }
            Op::Dup(s, end) => {
                let Some(fd) = p.fd_of(*s, *end) else {
                    continue;
                };
                if p.names(*s, *end).len() >= 3 {
                    continue;
                }
                let new = sut.dup(fd);
                m.dup_fd(fd, new);
                let old = p.open.insert(new, (*s, *end));
                assert!(old.is_none(), "dup returned fd {new}, which is open");
            }
            Op::CloseDups(s, end) => {
                let own = p.slots[*s].fds[end_ix(*end)];
                let dups: Vec<i32> = p
                    .names(*s, *end)
                    .into_iter()
                    .filter(|&fd| fd != own)
                    .collect();
                if dups.is_empty() {
                    continue;
                }
                for fd in dups {
                    p.close(fd, &mut m, sut).map_err(fail)?;
                }
            }
            Op::Dup2 { from, onto } => {
                let Some(fd) = p.fd_of(from.0, from.1) else {
                    continue;
                };
                let target = p.slots[onto.0].fds[end_ix(onto.1)];
                // Onto a number that names another file, or none; a file
                // keeps at most four.
                if p.open.get(&target) == Some(from) || p.names(from.0, from.1).len() >= 4 {
                    continue;
                }
                sut.dup2(fd, target);
                let gone = m.dup2_fd(fd, target);
                match p.open.insert(target, *from) {
                    Some((s, e)) => p.settle_if_last(s, e, &gone, sut).map_err(fail)?,
                    None => assert!(gone.is_empty(), "dup2 onto a free number removed requests"),
                }
            }
            Op::Reopen(s) => {
                for end in [End::Read, End::Write] {
                    for fd in p.names(*s, end) {
                        p.close(fd, &mut m, sut).map_err(fail)?;
                    }
                }
                p.open_pipe(*s, &mut m, sut);
            }
            Op::TimerCtl(cmd, entries) => {
                let mut raw: Vec<Ukevent> = entries.iter().map(timer_entry).collect();
                let before = Instant::now();
                let Some(got) = sut.timer_ctl(*cmd, &mut raw) else {
                    continue;
                };
                let want = tm.ctl(*cmd, &raw, before);
                let got = got.map(|n| raw[..n].to_vec());
                if got != want {
                    return Err(fail(format!(
                        "timer ctl {}: module {}, model {}",
                        cmd_name(*cmd),
                        show(&got),
                        show(&want)
                    )));
                }
            }
            Op::TimerWait { max } => {
                // With a timer registered, one must come: every timer fires.
                let min = u32::from(tm.live() > 0);
                let timeout = Duration::from_secs(if min > 0 { 10 } else { 0 });
                let Some(got) = sut.timer_get_events(min, *max, timeout) else {
                    continue;
                };
                let after = Instant::now();
                let evs = got.map_err(|e| fail(format!("timer get_events: errno {e}")))?;
                if (evs.len() as u32) < min {
                    return Err(fail(format!(
                        "no timer event in {timeout:?} with {} timers registered",
                        tm.live()
                    )));
                }
                tm.check_events(&evs, after).map_err(fail)?;
                st.timer_events += evs.len();
            }
            Op::RingSetup(entries) => {
                let want = m.ring_setup(*entries);
                let got = sut.ring_setup(*entries);
                let same = match (&got, want) {
                    (Ok(()), Ok(())) => true,
                    (Err(e), Err(errnos)) => errnos.contains(e),
                    _ => false,
                };
                if !same {
                    return Err(fail(format!(
                        "ring set-up of {entries}: module {got:?}, model {want:?}"
                    )));
                }
            }
            Op::RingWait { min, max } => {
                let want = m.ring_wait(*min, *max);
                let got = sut.ring_wait(*min, *max);
                if got != want {
                    return Err(fail(format!(
                        "ring get_events: module {}, model {}",
                        show_count(&got),
                        show_count(&want)
                    )));
                }
            }
            Op::RingRead(n) => {
                if m.ring_state().is_none() {
                    continue;
                }
                let want = m.ring_read(*n);
                let got = sut.ring_read(*n).map_err(fail)?;
                if got != want {
                    return Err(fail(format!(
                        "ring entries: module {}, model {}",
                        show_entries(&got),
                        show_entries(&want)
                    )));
                }
                st.ring_entries += want.len();
            }
        }
        // The ring as the operation left it: what wake-ups wrote.
        if let Some((unread, backlog)) = m.ring_state() {
            let got = sut.ring_state().map_err(fail)?;
            let Some((n, flag)) = got else {
                return Err(fail("the model has a ring, the module's queue none".into()));
            };
            if n != unread || (backlog && !flag) {
                return Err(fail(format!(
                    "ring: module {n} unread entries{}, model {unread}{}",
                    if flag { " and a backlog" } else { "" },
                    if backlog {
                        " and events waiting outside the ring"
                    } else {
                        ""
                    }
                )));
            }
        }
        assert!(
            p.agrees_with(&m),
            "the runner's fd table is not the model's"
        );
        st.ops += 1;
    }
    Ok(st)
}

fn resolve(e: &Entry, slots: &[Slot; SLOTS]) -> Ukevent {
    let (type_, id) = match e.target {
        Target::User(id) => (KEVENT_USER, [id, e.id1]),
        Target::Pipe(s, end) => (KEVENT_POLL, [slots[s].fds[end_ix(end)] as u32, e.id1]),
        Target::SocketOnPipe(s, end) => (KEVENT_SOCKET, [slots[s].fds[end_ix(end)] as u32, e.id1]),
        Target::InodeOnPipe(s, end) => (KEVENT_INODE, [slots[s].fds[end_ix(end)] as u32, e.id1]),
        Target::BadFd => (KEVENT_POLL, [1000, e.id1]),
        Target::Raw(t, id) => (t, id),
    };
    Ukevent {
        id,
        type_,
        event: e.event,
        req_flags: e.flags,
        ret_flags: 0,
        ret_data: e.payload,
        user: e.cookie,
    }
}

/// The entry of a timer: an absolute one's time is read off its clock
/// now.
fn timer_entry(t: &TimerEntry) -> Ukevent {
    let mut uk = Ukevent {
        id: [t.period, t.first],
        type_: KEVENT_TIMER,
        event: t.unit | t.bits,
        req_flags: t.flags,
        user: u64::from(t.id),
        ..Default::default()
    };
    if t.bits & KEVENT_TIMER_ABSTIME != 0 {
        let unit_ns: u64 = match t.unit {
            KEVENT_TIMER_UNIT_NS => 1,
            KEVENT_TIMER_UNIT_US => 1_000,
            _ => 1_000_000,
        };
        let now = Clock::from_event(t.bits)
            .now()
            .expect("clock_gettime of a timer's clock")
            .as_nanos() as u64;
        let offset = u64::from(t.first) * unit_ns;
        let at = if t.past {
            now.saturating_sub(offset)
        } else {
            now + offset
        };
        uk.id[1] = 0;
        uk.ret_data = [at as u32, (at >> 32) as u32];
    }
    uk
}

fn show(r: &Result<Vec<Ukevent>, i32>) -> String {
    match r {
        Err(e) => format!("errno {e} ({})", std::io::Error::from_raw_os_error(*e)),
        Ok(v) => {
            let items: Vec<String> = v.iter().map(show_one).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

fn show_count(r: &Result<usize, i32>) -> String {
    match r {
        Err(e) => format!("errno {e} ({})", std::io::Error::from_raw_os_error(*e)),
        Ok(n) => format!("{n} unread"),
    }
}

/// Ring entries, for people: `[user#4 cookie=4 -> DONE [228, 0]]`.
fn show_entries(es: &[RingEntry]) -> String {
    let items: Vec<String> = es
        .iter()
        .map(|e| {
            let what = match e.type_ {
                KEVENT_USER => format!("user#{}", e.id[0]),
                KEVENT_POLL => format!("fd{}", e.id[0]),
                t => format!("type{t}[{},{}]", e.id[0], e.id[1]),
            };
            let ret = match e.ret_flags {
                KEVENT_RET_DONE => "DONE".to_string(),
                f => format!("{f:#x}"),
            };
            format!("{what} cookie={} -> {ret} {:?}", e.user, e.ret_data)
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// One entry or event, for people: `user#4 ET cookie=0 -> DONE [228, 0]`.
fn show_one(u: &Ukevent) -> String {
    let what = match u.type_ {
        KEVENT_USER => format!("user#{}", u.id[0]),
        KEVENT_POLL => format!("fd{}", u.id[0]),
        KEVENT_INODE => format!("inode:fd{}", u.id[0]),
        KEVENT_TIMER => format!("timer#{}", u.user),
        t => format!("type{t}"),
    };
    let ret = match u.ret_flags {
        0 => "-".to_string(),
        KEVENT_RET_DONE => "DONE".to_string(),
        f if f == KEVENT_RET_DONE | KEVENT_RET_BROKEN => "DONE|BROKEN".to_string(),
        f => format!("{f:#x}"),
    };
    format!(
        "{what}{} {} event={:#x} cookie={} -> {ret} {:?}",
        if u.id[1] != 0 {
            format!(",{}", u.id[1])
        } else {
            String::new()
        },
        flags_name(u.req_flags),
        u.event,
        u.user,
        u.ret_data
    )
}

/// Shrinks a failing sequence: drops chunks of operations, then single
/// entries of batches, as long as `fails` still holds, within `budget`.
pub fn shrink(ops: Vec<Op>, budget: Duration, mut fails: impl FnMut(&[Op]) -> bool) -> Vec<Op> {
    let start = Instant::now();
    let mut best = ops;
    let mut chunk = best.len().div_ceil(2).max(1);
    loop {
        let mut progress = false;
        let mut i = 0;
        while i < best.len() && start.elapsed() < budget {
            let end = (i + chunk).min(best.len());
            let mut cand = best.clone();
            cand.drain(i..end);
            if fails(&cand) {
                best = cand;
                progress = true;
            } else {
                i += chunk;
            }
        }
        if start.elapsed() >= budget {
            break;
        }
        if !progress {
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
    }
    // Fewer entries per batch.
    let mut i = 0;
    while i < best.len() && start.elapsed() < budget {
        let n = match &best[i] {
            Op::Ctl(_, es) => es.len(),
            Op::TimerCtl(_, es) => es.len(),
            _ => 0,
        };
        let mut j = 0;
        let mut n = n;
        while n > 1 && j < n {
            let mut cand = best.clone();
            match &mut cand[i] {
                Op::Ctl(_, es) => {
                    es.remove(j);
                }
                Op::TimerCtl(_, es) => {
                    es.remove(j);
                }
                _ => unreachable!(),
            }
            if fails(&cand) {
                best = cand;
                n -= 1;
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    best
}

/// The settings of a model-test run.
#[derive(Debug)]
pub struct Config {
    /// The seed of the first sequence.
    pub seed: u64,
    /// Replay only `seed`.
    pub replay: bool,
    /// Operations per sequence.
    pub ops: usize,
    /// Sequences are run until this much time has passed.
    pub budget: Duration,
}

impl Config {
    /// From the environment (`KEVENT_MODEL_SEED`, `KEVENT_MODEL_OPS`,
    /// `KEVENT_MODEL_SECS`) and then the arguments (`--seed`, `--ops`,
    /// `--secs`), which win.
    pub fn from_env_and_args(args: &[String]) -> Result<Config, String> {
        let mut seed = std::env::var("KEVENT_MODEL_SEED").ok();
        let mut ops = std::env::var("KEVENT_MODEL_OPS").ok();
        let mut secs = std::env::var("KEVENT_MODEL_SECS").ok();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let slot = match a.as_str() {
                "--seed" => &mut seed,
                "--ops" => &mut ops,
                "--secs" => &mut secs,
                other => {
                    return Err(format!(
                        "unknown argument {other:?} (--seed N, --ops N, --secs N)"
                    ))
                }
            };
            *slot = Some(it.next().ok_or(format!("{a} needs a value"))?.clone());
        }
        let num = |name: &str, s: &str| -> Result<u64, String> {
            let r = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            r.map_err(|_| format!("{name}={s:?} is not a number"))
        };
        let replay = seed.is_some();
        let seed = match seed {
            Some(s) => num("KEVENT_MODEL_SEED", &s)?,
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
        };
        let ops = ops.map_or(Ok(2000), |s| num("KEVENT_MODEL_OPS", &s))? as usize;
        let secs = secs.map_or(Ok(30), |s| num("KEVENT_MODEL_SECS", &s))?;
        Ok(Config {
            seed,
            replay,
            ops,
            budget: Duration::from_secs(secs),
        })
    }
}

/// The seed of the `i`-th sequence after `seed`.
pub fn nth_seed(seed: u64, i: u64) -> u64 {
    let mut r = Rng::new(seed ^ i.wrapping_mul(0xa076_1d64_78bd_642f));
    if i == 0 {
        seed
    } else {
        r.next_u64()
    }
}

/// Runs sequences on systems from `new_sut` until the budget is spent (or
/// the one seed of a replay); on a failure, shrinks it and returns the
/// report. Prints progress as KTAP comments.
pub fn check(cfg: &Config, mut new_sut: impl FnMut() -> Box<dyn Sut>) -> Result<String, String> {
    let start = Instant::now();
    let mut total = Stats::default();
    let mut seqs = 0u64;
    loop {
        let seed = nth_seed(cfg.seed, seqs);
        let ops = generate(seed, cfg.ops);
        seqs += 1;
        // The system is dropped before a failure is shrunk.
        let result = run(&ops, &mut *new_sut());
        match result {
            Ok(st) => total += st,
            Err(f) => {
                let mut report = format!(
                    "model mismatch with KEVENT_MODEL_SEED={seed:#x} KEVENT_MODEL_OPS={} at operation {}: {}\n",
                    cfg.ops, f.index, f.why
                );
                let prefix = ops[..=f.index].to_vec();
                let small = shrink(prefix, Duration::from_secs(60), |cand| {
                    run(cand, &mut *new_sut()).is_err()
                });
                let last = run(&small, &mut *new_sut()).err();
                report.push_str(&format!("shrunk to {} operations:\n", small.len()));
                for (i, op) in small.iter().enumerate() {
                    report.push_str(&format!("  {i}: {op}\n"));
                }
                if let Some(f) = last {
                    report.push_str(&format!("which fails at {}: {}\n", f.index, f.why));
                }
                return Err(report);
            }
        }
        if cfg.replay || start.elapsed() >= cfg.budget {
            break;
        }
    }
    Ok(format!(
        "{} operations model-checked in {seqs} sequences of {} in {:.1} s (seeds from {:#x}): \
         {} ctl entries ({} failing), {} events and {} ring entries compared exactly, \
         {} timer events within tolerances",
        total.ops,
        cfg.ops,
        start.elapsed().as_secs_f64(),
        cfg.seed,
        total.entries,
        total.entry_errors,
        total.events,
        total.ring_entries,
        total.timer_events
    ))
}

/// A model standing in for the module, with a deliberate bug: the host
/// tests check that the model test finds it and shrinks it.
#[cfg(test)]
pub struct Mutant {
    m: Model,
    /// Its fds, numbered from 10.
    open: std::collections::BTreeSet<i32>,
}

#[cfg(test)]
impl Mutant {
    pub fn new(mutation: Option<Mutation>) -> Mutant {
        let mut m = Model::new();
        m.mutation = mutation;
        Mutant {
            m,
            open: Default::default(),
        }
    }

    /// The lowest free fd, as the kernel allocates them.
    fn alloc_fd(&mut self) -> i32 {
        let fd = (10..).find(|fd| !self.open.contains(fd)).unwrap();
        self.open.insert(fd);
        fd
    }

    fn pipe_of(&self, fd: i32) -> usize {
        self.m.fd_names(fd).expect("an open fd").0
    }
}

#[cfg(test)]
impl Sut for Mutant {
    fn ctl(&mut self, cmd: u32, entries: &mut [Ukevent]) -> Result<usize, i32> {
        let out = self.m.ctl(cmd, entries)?;
        entries[..out.len()].copy_from_slice(&out);
        Ok(out.len())
    }

    fn get_events(&mut self, min: u32, max: u32, _timeout_ms: u32) -> Result<Vec<Ukevent>, i32> {
        self.m.get_events(min, max)
    }

    fn set_nonblock(&mut self, on: bool) {
        self.m.set_nonblock(on);
    }

    fn open_pipe(&mut self) -> (i32, i32) {
        let (r, w) = (self.alloc_fd(), self.alloc_fd());
        self.m.pipe_opened(r, w);
        (r, w)
    }

    fn close(&mut self, fd: i32) {
        let _gone = self.m.close_fd(fd);
        self.open.remove(&fd);
    }

    fn dup(&mut self, fd: i32) -> i32 {
        let new = self.alloc_fd();
        self.m.dup_fd(fd, new);
        new
    }

    fn dup2(&mut self, fd: i32, onto: i32) {
        let _gone = self.m.dup2_fd(fd, onto);
        self.open.insert(onto);
    }

    fn settle(&mut self, _gone: &[Ident], _other: Option<(i32, u32)>) -> Result<(), String> {
        Ok(())
    }

    fn write(&mut self, fd: i32, n: usize) -> Result<usize, i32> {
        self.m.pipe_write(self.pipe_of(fd), n);
        Ok(n)
    }

    fn read(&mut self, fd: i32, n: usize) -> Result<usize, i32> {
        Ok(self.m.pipe_read(self.pipe_of(fd), n))
    }

    fn timer_ctl(&mut self, _cmd: u32, _entries: &mut [Ukevent]) -> Option<Result<usize, i32>> {
        None
    }

    fn timer_get_events(
        &mut self,
        _min: u32,
        _max: u32,
        _timeout: Duration,
    ) -> Option<Result<Vec<Ukevent>, i32>> {
        None
    }

    fn ring_setup(&mut self, entries: u32) -> Result<(), i32> {
        self.m.ring_setup(entries).map_err(|errnos| errnos[0])
    }

    fn ring_wait(&mut self, min: u32, max: u32) -> Result<usize, i32> {
        self.m.ring_wait(min, max)
    }

    fn ring_read(&mut self, n: usize) -> Result<Vec<RingEntry>, String> {
        Ok(self.m.ring_read(n))
    }

    fn ring_state(&mut self) -> Result<Option<(usize, bool)>, String> {
        Ok(self.m.ring_state())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(seed: u64, ops: usize) -> Config {
        Config {
            seed,
            replay: true,
            ops,
            budget: Duration::ZERO,
        }
    }

    #[test]
    fn generation_is_a_function_of_the_seed() {
        assert_eq!(generate(7, 300), generate(7, 300));
        assert_ne!(generate(7, 300), generate(8, 300));
        let mut r = Rng::new(1);
        assert!((0..1000).all(|_| r.below(3) < 3));
    }

    #[test]
    fn the_model_agrees_with_itself_over_many_seeds() {
        for seed in 0..200 {
            let ops = generate(seed, 500);
            let mut sut = Mutant::new(None);
            let n = run(&ops, &mut sut)
                .unwrap_or_else(|f| panic!("seed {seed}: {f:?}"))
                .ops;
            assert!(n > 300, "seed {seed}: only {n} operations compared");
        }
    }

    /// Counts what a model standing in for the module delivers: user,
    /// file and broken events, and inode entries it accepted.
    struct Counting(Mutant, [usize; 4]);

    impl Sut for Counting {
        fn ctl(&mut self, cmd: u32, entries: &mut [Ukevent]) -> Result<usize, i32> {
            let r = self.0.ctl(cmd, entries);
            if let Ok(n) = r {
                self.1[3] += entries[..n]
                    .iter()
                    .filter(|e| e.type_ == KEVENT_INODE && e.ret_flags == KEVENT_RET_DONE)
                    .count();
            }
            r
        }
        fn get_events(&mut self, min: u32, max: u32, t: u32) -> Result<Vec<Ukevent>, i32> {
            let r = self.0.get_events(min, max, t);
            for ev in r.iter().flatten() {
                let k = match ev.type_ {
                    KEVENT_USER => 0,
                    _ if ev.ret_flags & KEVENT_RET_BROKEN != 0 => 2,
                    _ => 1,
                };
                self.1[k] += 1;
            }
            r
        }
        fn set_nonblock(&mut self, on: bool) {
            self.0.set_nonblock(on)
        }
        fn open_pipe(&mut self) -> (i32, i32) {
            self.0.open_pipe()
        }
        fn close(&mut self, fd: i32) {
            self.0.close(fd)
        }
        fn dup(&mut self, fd: i32) -> i32 {
            self.0.dup(fd)
        }
        fn dup2(&mut self, fd: i32, onto: i32) {
            self.0.dup2(fd, onto)
        }
        fn settle(&mut self, gone: &[Ident], other: Option<(i32, u32)>) -> Result<(), String> {
            self.0.settle(gone, other)
        }
        fn write(&mut self, fd: i32, n: usize) -> Result<usize, i32> {
            self.0.write(fd, n)
        }
        fn read(&mut self, fd: i32, n: usize) -> Result<usize, i32> {
            self.0.read(fd, n)
        }
        fn timer_ctl(&mut self, c: u32, e: &mut [Ukevent]) -> Option<Result<usize, i32>> {
            self.0.timer_ctl(c, e)
        }
        fn timer_get_events(
            &mut self,
            min: u32,
            max: u32,
            t: Duration,
        ) -> Option<Result<Vec<Ukevent>, i32>> {
            self.0.timer_get_events(min, max, t)
        }
        fn ring_setup(&mut self, entries: u32) -> Result<(), i32> {
            self.0.ring_setup(entries)
        }
        fn ring_wait(&mut self, min: u32, max: u32) -> Result<usize, i32> {
            self.0.ring_wait(min, max)
        }
        fn ring_read(&mut self, n: usize) -> Result<Vec<RingEntry>, String> {
            self.0.ring_read(n)
        }
        fn ring_state(&mut self) -> Result<Option<(usize, bool)>, String> {
            self.0.ring_state()
        }
    }

    #[test]
    fn sequences_reach_interesting_states() {
        // User and poll events come out; watched files lose their last fd
        // while watched, or stay open under another number and are
        // delivered under their old one; the min_nr check prunes; inode
        // requests are added, and named after their fd was closed.
        let mut sut = Counting(Mutant::new(None), [0; 4]);
        let st = run(&generate(42, 5000), &mut sut).unwrap();
        let [user, poll, broken, inode] = sut.1;
        let m = &sut.0.m;
        let (pruned, closed, renamed) = (m.pruned, m.closed_removed, m.renamed_delivered);
        let (exists, orphans) = (m.exists_renamed, m.inode_fd_closed);
        println!(
            "{st:?}, {user} user, {poll} poll, {broken} broken; \
             {pruned} pruned, {closed} removed with their file, {renamed} delivered renamed, \
             {exists} ADDs EEXIST under a number that no longer names the file; \
             {inode} inode entries accepted, {orphans} naming one whose fd was closed"
        );
        assert!(user > 100 && poll > 100, "{user} {poll}");
        assert_eq!(broken, 0, "no event is delivered broken");
        assert!(
            pruned > 0 && closed > 20 && renamed > 5 && exists > 0,
            "{pruned} {closed} {renamed} {exists}"
        );
        assert!(inode > 10 && orphans > 0, "{inode} {orphans}");
        // Plenty of entries take effect, plenty are refused.
        let ok = st.entries - st.entry_errors;
        assert!(ok * 10 > st.entries * 3, "{st:?}");
        assert!(st.entry_errors * 10 > st.entries * 3, "{st:?}");
    }

    #[test]
    fn timer_entries_cover_the_clocks_absolute_times_and_refusals() {
        // The timer queue's entries: every clock, relative and absolute
        // (ahead and behind, periodic and single), cancel on set, and
        // refusals; the model queue's timer entries are all refused.
        let mut clocks = [0usize; 4];
        let (mut abs, mut past, mut single, mut cancel, mut refused) = (0, 0, 0, 0, 0);
        let mut model_timers = 0;
        for op in generate(42, 5000) {
            match op {
                Op::TimerCtl(_, es) => {
                    for t in es {
                        let uk = timer_entry(&t);
                        let Ok(s) = crate::model::timer_schedule(&uk) else {
                            refused += 1;
                            continue;
                        };
                        clocks[Clock::ALL.iter().position(|c| *c == s.clock).unwrap()] += 1;
                        if s.absolute {
                            abs += 1;
                            past += usize::from(t.past);
                            single += usize::from(s.period_ns == 0);
                            cancel += usize::from(uk.event & KEVENT_TIMER_CANCEL_ON_SET != 0);
                        }
                    }
                }
                Op::Ctl(_, es) => {
                    for e in es {
                        if let Target::Raw(KEVENT_TIMER, _) = e.target {
                            let uk = resolve(&e, &[Slot::default(); SLOTS]);
                            assert!(crate::model::validate(&uk).is_err(), "{uk:?}");
                            model_timers += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        println!(
            "clocks {clocks:?}; {abs} absolute ({past} past, {single} single, \
             {cancel} cancel on set); {refused} refused; {model_timers} refused on the model queue"
        );
        assert!(clocks.iter().all(|&n| n > 20), "{clocks:?}");
        assert!(abs > 50 && past > 5 && single > 5 && cancel > 3);
        assert!(refused > 5 && model_timers > 10);
    }

    /// The report of the first of 50 seeds that catches `mutation`, and
    /// the length of the sequence it was shrunk to.
    fn caught(mutation: Mutation) -> (String, usize) {
        let mut found = None;
        for seed in 0..50 {
            let r = check(&cfg(seed, 400), || Box::new(Mutant::new(Some(mutation))));
            if let Err(report) = r {
                found = Some(report);
                break;
            }
        }
        let report = found.unwrap_or_else(|| panic!("{mutation:?} survived 50 seeds"));
        println!("{report}");
        assert!(report.contains("KEVENT_MODEL_SEED="), "{report}");
        let n: usize = report
            .split("shrunk to ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .expect("a shrunk length");
        (report, n)
    }

    #[test]
    fn a_mutant_is_caught_and_shrunk() {
        // ADD an ET user event (or ADD and MODIFY to ET), READY it, collect
        // twice: four or five operations. On a ring queue its READY must
        // find something on the list to go there too (a pipe request that
        // is ready at its ADD because a dup2 closed its pipe's writer,
        // say), and a read of the ring must make room for the second
        // move: with the set-up, up to eight (nine with `gone_burst`'s
        // two pipes, whose ADD can be the one that fills the list).
        let (report, n) = caught(Mutation::EtRequeues);
        assert!(n <= 9, "shrunk only to {n}:\n{report}");
    }

    #[test]
    fn a_ring_mutant_is_caught_at_the_wake_up() {
        // A READY of an ET user event that goes on the list when the
        // ring has room: set-up, ADD, READY, caught at the READY.
        let (report, n) = caught(Mutation::NoRingAtWakeup);
        assert!(n <= 3, "shrunk only to {n}:\n{report}");
        assert!(report.contains("unread entries"), "{report}");
    }

    #[test]
    fn a_gone_slot_mutant_is_caught() {
        // A one-shot request that finds no gone slot free but room in the
        // ring is written anyway: a burst's pipe write shows one entry
        // too many and no backlog.
        let (report, n) = caught(Mutation::NoGoneLimit);
        assert!(report.contains("unread entries"), "{report}");
        assert!(n <= 8, "shrunk only to {n}:\n{report}");
    }

    #[test]
    fn ring_sequences_reach_interesting_states() {
        // Of the seeds with a ring: entries written at wake-ups (user
        // events and pipes, of one-shot requests that leave with them),
        // wake-ups that find the ring full or the list busy, or no gone
        // slot free though the ring has room, entries moved in by waits,
        // and all of them read.
        let (mut rings, mut refused, mut busy) = (0, 0, 0);
        let mut totals = [0usize; 7];
        let mut st = Stats::default();
        for seed in 0..20 {
            let ops = generate(seed, 2000);
            let setups: Vec<u32> = ops
                .iter()
                .filter_map(|op| match op {
                    Op::RingSetup(n) => Some(*n),
                    _ => None,
                })
                .collect();
            if setups.is_empty() {
                continue;
            }
            rings += 1;
            let mut sut = Mutant::new(None);
            st += run(&ops, &mut sut).unwrap_or_else(|f| panic!("seed {seed}: {f:?}"));
            let m = &sut.m;
            refused += setups.iter().filter(|n| !n.is_power_of_two()).count();
            busy += setups.len() - 1;
            for (t, n) in totals.iter_mut().zip([
                m.ring_written,
                m.ring_written_poll,
                m.ring_left,
                m.ring_moved,
                m.ring_fell_back,
                m.ring_no_gone_slot,
                m.pruned,
            ]) {
                *t += n;
            }
        }
        let [written, by_pipes, left, moved, fell_back, no_slot, pruned] = totals;
        println!(
            "{rings} of 20 seeds with a ring ({refused} refused set-ups, {busy} more): \
             {written} entries written at wake-up ({by_pipes} by pipes, {left} of one-shot \
             requests that left), {moved} moved in, {fell_back} wake-ups fell back to the \
             list, {no_slot} found no gone slot, {} read, {pruned} pruned; {st:?}",
            st.ring_entries
        );
        assert!((5..=15).contains(&rings), "{rings}");
        assert!(refused > 3 && busy > 10, "{refused} {busy}");
        assert!(written > 200 && by_pipes > 30, "{totals:?}");
        assert!(left > 500 && no_slot > 100, "{totals:?}");
        assert!(moved > 200 && fell_back > 100, "{totals:?}");
        assert!(st.ring_entries * 10 > (written + moved) * 9, "{st:?}");
    }

    #[test]
    fn fd_helpers_dup2_poll_and_the_pipe_lock() {
        let (r, w) = std::io::pipe().unwrap();
        let (r2, mut w2) = std::io::pipe().unwrap();
        // Onto an fd someone owns: they keep the number, which now names
        // the other file.
        assert!(dup2(w2.as_fd(), r.as_raw_fd()).unwrap().is_none());
        let out = u32::from(libc::POLLOUT as u16);
        assert_eq!(poll_now(r.as_fd()).unwrap() & out, out);
        // Onto a free number: a new owner.
        let free = 900;
        assert_eq!(
            fd_flags(free).unwrap_err().raw_os_error(),
            Some(libc::EBADF)
        );
        let mut dup = File::from(dup2(r2.as_fd(), free).unwrap().unwrap());
        assert_eq!(dup.as_raw_fd(), free);
        w2.write_all(b"ab").unwrap();
        assert_eq!(dup.read(&mut [0; 8]).unwrap(), 2);
        // The last writer of pipe 2 goes: its readers hang up.
        let hup = u32::from(libc::POLLHUP as u16);
        drop(w2);
        assert_eq!(poll_now(r2.as_fd()).unwrap() & hup, 0);
        drop(r);
        assert_eq!(poll_now(r2.as_fd()).unwrap() & hup, hup);
        assert!(pipe_size(r2.as_fd()).unwrap() >= 4096);
        drop((dup, w));
        assert!(fd_flags(free).is_err());
    }

    #[test]
    fn fdinfo_lines_give_the_identities() {
        // As the module prints them (pos/flags/... come from the VFS).
        let text = "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t7\n\
                    kevent-requests:\t2\nkevent-ready:\t1\n\
                    kevent-req: type:3 id:10,0 event:0x1 flags:0x1 user:0x0 pending:1\n\
                    kevent-req: type:9 id:4,0 event:0x0 flags:0x0 user:0x1f pending:0\n";
        let poll = Ident {
            type_: KEVENT_POLL,
            id: [10, 0],
            user: 0,
        };
        let user = Ident {
            type_: KEVENT_USER,
            id: [4, 0],
            user: 0x1f,
        };
        assert_eq!(fdinfo_requests(text).unwrap(), [poll, user]);
        assert_eq!(fdinfo_requests("kevent-requests:\t0\n").unwrap(), []);
        assert!(fdinfo_requests("kevent-req: type:3 id:10 user:0x0\n")
            .unwrap_err()
            .contains("not understood"));
        // The wait: done at once when none of them is listed; a clear
        // failure when one stays.
        let dir = std::env::temp_dir().join(format!("kevent-fdinfo-{}", std::process::id()));
        std::fs::write(&dir, text).unwrap();
        let path = dir.to_str().unwrap();
        let other = Ident { user: 1, ..poll };
        wait_until_unlisted(path, &[other], Duration::ZERO).unwrap();
        let err = wait_until_unlisted(path, &[other, poll], Duration::from_millis(20)).unwrap_err();
        std::fs::remove_file(&dir).unwrap();
        assert!(err.starts_with("1 request(s)"), "{err}");
        assert!(
            err.contains("id: [10, 0]") && err.contains("kevent-ready"),
            "{err}"
        );
    }

    #[test]
    fn shrink_finds_the_minimal_pair() {
        let ops: Vec<Op> = (0..40).map(|i| Op::Write(0, i)).collect();
        let small = shrink(ops, Duration::from_secs(10), |c| {
            c.contains(&Op::Write(0, 7)) && c.contains(&Op::Write(0, 31))
        });
        assert_eq!(small, vec![Op::Write(0, 7), Op::Write(0, 31)]);
    }

    #[test]
    fn config_reads_env_style_numbers_and_rejects_junk() {
        let args: Vec<String> = ["--seed", "0x10", "--ops", "50"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let c = Config::from_env_and_args(&args).unwrap();
        assert_eq!((c.seed, c.ops, c.replay), (16, 50, true));
        let bad: Vec<String> = ["--seed", "x"].iter().map(|s| s.to_string()).collect();
        assert!(Config::from_env_and_args(&bad)
            .unwrap_err()
            .contains("not a number"));
        assert!(Config::from_env_and_args(&["--what".into()]).is_err());
    }
}
