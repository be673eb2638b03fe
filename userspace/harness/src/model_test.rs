//! The model-based test: seeded random sequences of operations, run on
//! the module (through the kevent crate) and on the reference model
//! (`model.rs`) side by side; every ctl entry written back, every event
//! and every errno must be the same. Timers run on a queue of their own
//! and are checked with tolerances (never early, eventually delivered).
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
use crate::model::{End, Model, TimerModel};
use kevent::sys::*;
use kevent::{Ctl, Events, Queue, Request, Ukevent};
use std::fmt;
use std::io::{PipeReader, PipeWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
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
    pub first: u32,
    pub unit: u32,
    pub flags: u32,
}

/// One operation of a sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Ctl(u32, Vec<Entry>),
    Wait { min: u32, max: u32, timeout_ms: u32 },
    Nonblock(bool),
    Write(usize, usize),
    Read(usize, usize),
    Close(usize, End),
    Reopen(usize),
    TimerCtl(u32, Vec<TimerEntry>),
    TimerWait { max: u32 },
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
            Target::BadFd => write!(f, "fd#bad")?,
            Target::Raw(t, id) => write!(f, "type{t}[{},{}]", id[0], id[1])?,
        }
        write!(f, " {}", flags_name(self.flags))?;
        if self.event != 0 {
            write!(
                f,
                " event={}",
                kevent::Interest::from_bits(self.event)
                    .map_or(format!("{:#x}", self.event), |i| format!("{i:?}"))
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
            Op::Close(s, End::Read) => write!(f, "close pipe{s}.r"),
            Op::Close(s, End::Write) => write!(f, "close pipe{s}.w"),
            Op::Reopen(s) => write!(f, "reopen pipe{s}"),
            Op::TimerCtl(cmd, es) => {
                write!(f, "timer ctl {} [", cmd_name(*cmd))?;
                for (i, e) in es.iter().enumerate() {
                    write!(
                        f,
                        "{}timer#{} {}/{} unit={:#x} {}",
                        if i > 0 { "; " } else { "" },
                        e.id,
                        e.period,
                        e.first,
                        e.unit,
                        flags_name(e.flags)
                    )?;
                }
                write!(f, "]")
            }
            Op::TimerWait { max } => write!(f, "timer get_events max={max}"),
        }
    }
}

fn gen_flags(r: &mut Rng) -> u32 {
    match r.below(20) {
        0..=8 => 0,
        9..=14 => KEVENT_REQ_ET,
        15..=17 => KEVENT_REQ_ONESHOT,
        _ => KEVENT_REQ_ONESHOT | KEVENT_REQ_ET,
    }
}

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
    match roll {
        0..=54 => {}
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
            ]);
        }
        // Entries the kernel refuses, each for one reason.
        90 => e.target = Target::Raw(7, [1, 0]),
        91 => e.target = Target::Raw(KEVENT_SOCKET, [1, 0]),
        92 => e.target = Target::Raw(KEVENT_TIMER, [0, 0]),
        93 => {
            e.target = Target::Raw(KEVENT_TIMER, [5, 0]);
            e.event = KEVENT_TIMER_UNIT_MASK;
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

fn gen_timer_entry(r: &mut Rng) -> TimerEntry {
    let mut t = TimerEntry {
        id: 1 + r.below(3),
        period: r.pick(&[200, 1_000, 5_000, 20_000]),
        first: r.pick(&[0, 0, 50, 2_000, 15_000]),
        unit: KEVENT_TIMER_UNIT_US,
        flags: gen_flags(r),
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
    t
}

/// The operations of one seed.
pub fn generate(seed: u64, n: usize) -> Vec<Op> {
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
            40..=68 => Op::Wait {
                min: r.below(4),
                max: r.pick(&[1, 1, 2, 3, 4, 6, 8, 8, 0]),
                timeout_ms: u32::from(r.below(15) == 0),
            },
            69..=76 => Op::Write(r.below(SLOTS as u32) as usize, 1 + r.below(32) as usize),
            77..=82 => {
                let slot = r.below(SLOTS as u32) as usize;
                // A third of the reads drain the pipe: level-triggered
                // requests then go stale on the ready list.
                let n = match r.below(3) {
                    0 => MAX_READ,
                    _ => 1 + r.below(40) as usize,
                };
                Op::Read(slot, n)
            }
            83..=85 => Op::Close(
                r.below(SLOTS as u32) as usize,
                if r.below(2) == 0 {
                    End::Read
                } else {
                    End::Write
                },
            ),
            86..=87 => Op::Reopen(r.below(SLOTS as u32) as usize),
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
    /// Opens a pipe in `slot` (whose ends are closed): its fds.
    fn open_pipe(&mut self, slot: usize) -> (i32, i32);
    fn close(&mut self, slot: usize, end: End);
    fn write(&mut self, slot: usize, n: usize) -> Result<usize, i32>;
    fn read(&mut self, slot: usize, n: usize) -> Result<usize, i32>;
    /// The timer queue, if this system has one.
    fn timer_ctl(&mut self, cmd: u32, entries: &mut [Ukevent]) -> Option<Result<usize, i32>>;
    fn timer_get_events(
        &mut self,
        min: u32,
        max: u32,
        timeout: Duration,
    ) -> Option<Result<Vec<Ukevent>, i32>>;
}

fn errno(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

/// The module, through the kevent crate.
pub struct Kernel {
    queue: Queue,
    timers: Queue,
    pipes: Vec<(Option<PipeReader>, Option<PipeWriter>)>,
    /// One reusable buffer per `max_nr`; waiting allocates nothing.
    events: Vec<Events>,
}

const MAX_EVENTS: usize = 8;

impl Kernel {
    pub fn new() -> std::io::Result<Kernel> {
        Ok(Kernel {
            queue: Queue::new()?,
            timers: Queue::new()?,
            pipes: (0..SLOTS).map(|_| (None, None)).collect(),
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

    fn open_pipe(&mut self, slot: usize) -> (i32, i32) {
        let (r, w) = std::io::pipe().expect("pipe");
        let fds = (r.as_raw_fd(), w.as_raw_fd());
        self.pipes[slot] = (Some(r), Some(w));
        fds
    }

    fn close(&mut self, slot: usize, end: End) {
        match end {
            End::Read => drop(self.pipes[slot].0.take()),
            End::Write => drop(self.pipes[slot].1.take()),
        }
    }

    fn write(&mut self, slot: usize, n: usize) -> Result<usize, i32> {
        let w = self.pipes[slot].1.as_mut().expect("write end open");
        w.write(&[0x5a; 64][..n]).map_err(errno)
    }

    fn read(&mut self, slot: usize, n: usize) -> Result<usize, i32> {
        let r = self.pipes[slot].0.as_mut().expect("read end open");
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
    pipe: usize,
    /// The fds of its ends: open, or the numbers they had.
    fds: [i32; 2],
    open: [bool; 2],
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
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        self.ops += o.ops;
        self.entries += o.entries;
        self.entry_errors += o.entry_errors;
        self.events += o.events;
        self.timer_events += o.timer_events;
    }
}

/// Runs `ops` on `sut` and on a fresh model; the first difference fails.
pub fn run(ops: &[Op], sut: &mut dyn Sut) -> Result<Stats, Failure> {
    let mut m = Model::new();
    let mut tm = TimerModel::default();
    let mut slots = [Slot::default(); SLOTS];
    for (i, slot) in slots.iter_mut().enumerate() {
        let (r, w) = sut.open_pipe(i);
        slot.pipe = m.pipe_opened(r, w);
        slot.fds = [r, w];
        slot.open = [true, true];
    }
    let mut st = Stats::default();
    for (index, op) in ops.iter().enumerate() {
        let fail = |why: String| Failure { index, why };
        match op {
            Op::Ctl(cmd, entries) => {
                let mut raw: Vec<Ukevent> = entries.iter().map(|e| resolve(e, &slots)).collect();
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
                let slot = slots[*s];
                // Never fill a pipe, never write without a reader (EPIPE).
                if !slot.open[1] || !slot.open[0] || m.pipe_data(slot.pipe) > 4096 {
                    continue;
                }
                let got = sut.write(*s, *n);
                m.pipe_write(slot.pipe, *n);
                if got != Ok(*n) {
                    return Err(fail(format!("write: {got:?}, wanted Ok({n})")));
                }
            }
            Op::Read(s, n) => {
                let slot = slots[*s];
                let n = (*n).min(m.pipe_data(slot.pipe));
                if !slot.open[0] || n == 0 {
                    continue;
                }
                let want = m.pipe_read(slot.pipe, n);
                let got = sut.read(*s, n);
                if got != Ok(want) {
                    return Err(fail(format!("read: {got:?}, wanted Ok({want})")));
                }
            }
            Op::Close(s, end) => {
                let slot = &mut slots[*s];
                let e = end_ix(*end);
                if !slot.open[e] {
                    continue;
                }
                slot.open[e] = false;
                sut.close(*s, *end);
                m.close_fd(slot.fds[e]);
            }
            Op::Reopen(s) => {
                for end in [End::Read, End::Write] {
                    let e = end_ix(end);
                    if slots[*s].open[e] {
                        slots[*s].open[e] = false;
                        sut.close(*s, end);
                        m.close_fd(slots[*s].fds[e]);
                    }
                }
                let (r, w) = sut.open_pipe(*s);
                slots[*s] = Slot {
                    pipe: m.pipe_opened(r, w),
                    fds: [r, w],
                    open: [true, true],
                };
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
        }
        st.ops += 1;
    }
    Ok(st)
}

fn resolve(e: &Entry, slots: &[Slot; SLOTS]) -> Ukevent {
    let (type_, id) = match e.target {
        Target::User(id) => (KEVENT_USER, [id, e.id1]),
        Target::Pipe(s, end) => (KEVENT_POLL, [slots[s].fds[end_ix(end)] as u32, e.id1]),
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

fn timer_entry(t: &TimerEntry) -> Ukevent {
    Ukevent {
        id: [t.period, t.first],
        type_: KEVENT_TIMER,
        event: t.unit,
        req_flags: t.flags,
        user: u64::from(t.id),
        ..Default::default()
    }
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

/// One entry or event, for people: `user#4 ET cookie=0 -> DONE [228, 0]`.
fn show_one(u: &Ukevent) -> String {
    let what = match u.type_ {
        KEVENT_USER => format!("user#{}", u.id[0]),
        KEVENT_POLL => format!("fd{}", u.id[0]),
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
         {} ctl entries ({} failing), {} events compared exactly, {} timer events within tolerances",
        total.ops,
        cfg.ops,
        start.elapsed().as_secs_f64(),
        cfg.seed,
        total.entries,
        total.entry_errors,
        total.events,
        total.timer_events
    ))
}

/// A model standing in for the module, with a deliberate bug: the host
/// tests check that the model test finds it and shrinks it.
#[cfg(test)]
pub struct Mutant {
    m: Model,
    fds: Vec<Option<(i32, i32)>>,
    next_fd: i32,
    pipes: Vec<usize>,
    free: Vec<i32>,
}

#[cfg(test)]
impl Mutant {
    pub fn new(mutation: Option<Mutation>) -> Mutant {
        let mut m = Model::new();
        m.mutation = mutation;
        Mutant {
            m,
            fds: vec![None; SLOTS],
            next_fd: 10,
            pipes: vec![0; SLOTS],
            free: Vec::new(),
        }
    }

    /// The lowest free fd, as the kernel allocates them.
    fn alloc_fd(&mut self) -> i32 {
        self.free.sort_unstable();
        if self.free.is_empty() {
            self.next_fd += 1;
            self.next_fd - 1
        } else {
            self.free.remove(0)
        }
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

    fn open_pipe(&mut self, slot: usize) -> (i32, i32) {
        let (r, w) = (self.alloc_fd(), self.alloc_fd());
        self.fds[slot] = Some((r, w));
        self.pipes[slot] = self.m.pipe_opened(r, w);
        (r, w)
    }

    fn close(&mut self, slot: usize, end: End) {
        let (r, w) = self.fds[slot].expect("open slot");
        let fd = if end == End::Read { r } else { w };
        self.m.close_fd(fd);
        self.free.push(fd);
    }

    fn write(&mut self, slot: usize, n: usize) -> Result<usize, i32> {
        self.m.pipe_write(self.pipes[slot], n);
        Ok(n)
    }

    fn read(&mut self, slot: usize, n: usize) -> Result<usize, i32> {
        Ok(self.m.pipe_read(self.pipes[slot], n))
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

    /// Counts what a model standing in for the module delivers.
    struct Counting(Mutant, [usize; 3]);

    impl Sut for Counting {
        fn ctl(&mut self, cmd: u32, entries: &mut [Ukevent]) -> Result<usize, i32> {
            self.0.ctl(cmd, entries)
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
        fn open_pipe(&mut self, slot: usize) -> (i32, i32) {
            self.0.open_pipe(slot)
        }
        fn close(&mut self, slot: usize, end: End) {
            self.0.close(slot, end)
        }
        fn write(&mut self, slot: usize, n: usize) -> Result<usize, i32> {
            self.0.write(slot, n)
        }
        fn read(&mut self, slot: usize, n: usize) -> Result<usize, i32> {
            self.0.read(slot, n)
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
    }

    #[test]
    fn sequences_reach_interesting_states() {
        // User events, poll events and broken fds all come out.
        let mut sut = Counting(Mutant::new(None), [0; 3]);
        let st = run(&generate(42, 5000), &mut sut).unwrap();
        let [user, poll, broken] = sut.1;
        let pruned = sut.0.m.pruned;
        println!("{st:?}, {user} user, {poll} poll, {broken} broken, {pruned} pruned");
        // The min_nr check finds drained files on the ready list.
        assert!(pruned > 0, "no stale request was ever pruned");
        assert!(
            user > 100 && poll > 100 && broken > 0,
            "{user} {poll} {broken}"
        );
        // Plenty of entries take effect, plenty are refused.
        let ok = st.entries - st.entry_errors;
        assert!(ok * 10 > st.entries * 3, "{st:?}");
        assert!(st.entry_errors * 10 > st.entries * 3, "{st:?}");
    }

    #[test]
    fn a_mutant_is_caught_and_shrunk() {
        let mut found = None;
        for seed in 0..50 {
            let r = check(&cfg(seed, 400), || {
                Box::new(Mutant::new(Some(Mutation::EtRequeues)))
            });
            if let Err(report) = r {
                found = Some(report);
                break;
            }
        }
        let report = found.expect("the mutation survived 50 seeds");
        println!("{report}");
        assert!(report.contains("KEVENT_MODEL_SEED="), "{report}");
        // ADD an ET user event (or ADD and MODIFY to ET), READY it, collect
        // twice: four or five operations.
        let n: usize = report
            .split("shrunk to ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .expect("a shrunk length");
        assert!(n <= 5, "shrunk only to {n}:\n{report}");
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
