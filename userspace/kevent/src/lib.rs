//! Safe bindings to `/dev/kevent`, the unified event queue.
//!
//! A [`Queue`] is one open of the device. [`Request`]s go in (readiness of
//! any file or socket, changes to files and directories, timers on any
//! [`Clock`], relative or absolute, user events), one at a time or in
//! batches with a result per entry; events come out with [`Queue::wait`]
//! into a reusable [`Events`] buffer that the kernel writes into
//! directly, so waiting allocates nothing and copies nothing beyond the
//! ioctl's own copy.
//! [`Queue::wait_with_sigmask`] waits with a [`SigSet`] as the signal
//! mask, as `epoll_pwait` and `ppoll` do. A queue may instead deliver
//! into a [`Ring`], memory shared with the kernel that the program reads
//! without a system call.
//!
//! Errors are [`std::io::Error`]s carrying the kernel's errno; the rules
//! behind every errno are in `docs/kevent.7.md`.
//!
//! # Examples
//!
//! ```no_run
//! use kevent::{Events, Interest, Queue, Request};
//! use std::time::Duration;
//!
//! let queue = Queue::new()?;
//! let (reader, _writer) = std::io::pipe()?;
//! // Every 100 ms, the first time after 10 ms; and the pipe's readability.
//! let tick = Request::timer(Duration::from_millis(100), Some(Duration::from_millis(10)))?;
//! queue.add(&tick.with_cookie(1))?;
//! queue.add(&Request::poll(&reader, Interest::IN).with_cookie(2))?;
//!
//! let mut events = Events::with_capacity(16);
//! queue.wait(1, &mut events, Some(Duration::from_secs(1)))?;
//! for ev in &events {
//!     match ev.cookie() {
//!         1 => println!("{} ticks", ev.expirations()),
//!         _ => println!("pipe: {:?}", ev.fired()),
//!     }
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Not every request fits in the ABI
//!
//! A timer's period and first expiry travel as two `u32`s in one unit
//! (nanoseconds, microseconds or milliseconds). [`Request::timer`] picks
//! the finest unit that holds both and rounds up to it, so a timer is
//! never early; a period of zero, or one longer than `u32::MAX`
//! milliseconds, is `InvalidInput`. An absolute timer's time
//! ([`Request::timer_at`]) travels as nanoseconds in a `u64`, of which the
//! kernel takes at most `i64::MAX` (about 292 years since the clock's
//! epoch); a later time is `InvalidInput`.

#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

// The raw ABI keeps the header's names; the header documents them.
#[allow(missing_docs, unsafe_code)]
pub mod sys;

use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::ops::{BitOr, BitOrAssign};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

pub use sys::Ukevent;

/// The device node.
pub const DEVICE: &str = "/dev/kevent";

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

/// An event queue: one open file of `/dev/kevent`.
///
/// Closing it (dropping it) cancels its timers and drops every request.
#[derive(Debug)]
pub struct Queue {
    fd: OwnedFd,
}

/// A ctl command for [`Queue::submit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctl {
    /// Registers requests (`KEVENT_CTL_ADD`).
    Add,
    /// Removes the requests with these identities (`KEVENT_CTL_REMOVE`).
    Remove,
    /// Replaces `event` and flags of existing requests (`KEVENT_CTL_MODIFY`).
    Modify,
    /// Triggers user events, with their payload (`KEVENT_CTL_READY`).
    Ready,
}

impl Ctl {
    /// The `KEVENT_CTL_*` value.
    pub fn raw(self) -> u32 {
        match self {
            Ctl::Add => sys::KEVENT_CTL_ADD,
            Ctl::Remove => sys::KEVENT_CTL_REMOVE,
            Ctl::Modify => sys::KEVENT_CTL_MODIFY,
            Ctl::Ready => sys::KEVENT_CTL_READY,
        }
    }
}

impl Queue {
    /// Opens a new queue (close-on-exec).
    pub fn new() -> io::Result<Queue> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(DEVICE)?;
        Ok(Queue { fd: file.into() })
    }

    /// A new, independent queue made through this one (`KEVENT_CTL_INIT`).
    pub fn new_queue(&self) -> io::Result<Queue> {
        sys::ctl_init(self.fd.as_fd()).map(Queue::from)
    }

    /// Sets or clears `O_NONBLOCK`: a non-blocking queue never sleeps in
    /// [`wait`](Queue::wait), which fails with `WouldBlock` (`EAGAIN`) if
    /// nothing is ready.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        sys::set_nonblocking(self.fd.as_fd(), on)
    }

    /// Runs `cmd` on every request of the batch, in order, and returns one
    /// result per entry the kernel processed (all of them, unless the call
    /// itself failed). Each request is also written back in place:
    /// [`Request::result`] tells its outcome.
    ///
    /// One entry failing does not stop the others; the call as a whole
    /// fails only for what concerns all entries (for example more than
    /// `KEVENT_CTL_MAX_NUM` of them, `EINVAL`).
    ///
    /// ```no_run
    /// use kevent::{Ctl, Queue, Request};
    ///
    /// let queue = Queue::new()?;
    /// let mut batch = [Request::user(1), Request::user(2).oneshot(), Request::user(1)];
    /// let results = queue.submit(Ctl::Add, &mut batch)?;
    /// assert!(results[0].is_ok() && results[1].is_ok());
    /// // The same identity twice: EEXIST for the second.
    /// assert_eq!(results[2].as_ref().unwrap_err().raw_os_error(), Some(libc::EEXIST));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn submit(&self, cmd: Ctl, batch: &mut [Request]) -> io::Result<Vec<io::Result<()>>> {
        let n = sys::ctl(self.fd.as_fd(), cmd.raw(), batch)?;
        Ok(batch[..n.min(batch.len())]
            .iter()
            .map(|r| {
                r.result()
                    .unwrap_or_else(|| Err(invalid("entry not processed")))
            })
            .collect())
    }

    fn ctl_one(&self, cmd: Ctl, req: &Request) -> io::Result<()> {
        let mut one = [*req];
        match sys::ctl(self.fd.as_fd(), cmd.raw(), &mut one)? {
            1 => one[0]
                .result()
                .unwrap_or_else(|| Err(invalid("entry not processed"))),
            n => Err(io::Error::other(format!("ctl processed {n} of 1 entries"))),
        }
    }

    /// Registers one request. `EEXIST` if one with its identity (id, type,
    /// cookie) exists; see `docs/kevent.7.md` for the others.
    pub fn add(&self, req: &Request) -> io::Result<()> {
        self.ctl_one(Ctl::Add, req)
    }

    /// Replaces the settings of the request with `req`'s identity.
    pub fn modify(&self, req: &Request) -> io::Result<()> {
        self.ctl_one(Ctl::Modify, req)
    }

    /// Removes the request with `req`'s identity; it is never delivered
    /// afterwards.
    pub fn remove(&self, req: &Request) -> io::Result<()> {
        self.ctl_one(Ctl::Remove, req)
    }

    /// Makes the user event with `req`'s identity ready, with `payload`
    /// (delivered in [`Event::payload`]).
    pub fn trigger(&self, req: &Request, payload: [u32; 2]) -> io::Result<()> {
        self.ctl_one(Ctl::Ready, &req.with_payload(payload))
    }

    /// `KEVENT_IOC_CTL` on raw entries, for programs (and tests) that
    /// build `struct ukevent`s themselves. Returns how many were processed.
    pub fn ctl_raw(&self, cmd: u32, entries: &mut [Ukevent]) -> io::Result<usize> {
        sys::ctl(self.fd.as_fd(), cmd, entries)
    }

    /// Waits until at least `min` events are ready or `timeout` passes
    /// (`None`: forever; zero: never blocks), then fills `events` with up
    /// to its capacity and returns how many it holds. On timeout it returns
    /// what is ready, possibly 0.
    ///
    /// `min` above the capacity of `events`, or a capacity of 0, is
    /// `InvalidInput`. A signal while waiting is `Interrupted` and consumes
    /// no event; a non-blocking queue with nothing ready is `WouldBlock`.
    /// A queue with a [`Ring`] delivers only through it: this is `EINVAL`
    /// there ([`Ring::wait`] takes its place).
    ///
    /// ```no_run
    /// use kevent::{Events, Queue, Request};
    /// use std::time::Duration;
    ///
    /// let queue = Queue::new()?;
    /// let wake = Request::user(1).edge_triggered();
    /// queue.add(&wake)?;
    /// queue.trigger(&wake, [42, 0])?;
    /// let mut events = Events::with_capacity(32); // allocated once
    /// while queue.wait(1, &mut events, Some(Duration::ZERO))? > 0 {
    ///     for ev in &events {
    ///         assert_eq!(ev.payload(), [42, 0]);
    ///     }
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(
        &self,
        min: usize,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        self.get_events(min, events, timeout, None)
    }

    /// [`wait`](Queue::wait) with `sigmask` as the calling thread's signal
    /// mask while it waits (`KEVENT_IOC_PGET_EVENTS`), set and restored
    /// atomically as `epoll_pwait` and `ppoll` do, which closes the race
    /// of unblocking a signal and then waiting.
    ///
    /// A signal that `sigmask` leaves unblocked, pending before the call
    /// or arriving while it waits, ends the wait with `Interrupted`
    /// (`EINTR`, no event consumed); its handler runs with `sigmask` in
    /// force, and the thread's own mask is back when this returns. The
    /// call is not retried: that is its purpose. A signal that `sigmask`
    /// blocks does not interrupt the wait; it stays pending and is
    /// delivered after the call if the thread's own mask allows it.
    /// `SIGKILL` and `SIGSTOP` cannot be blocked.
    ///
    /// A module without the ioctl answers `ENOTTY`.
    ///
    /// ```no_run
    /// use kevent::{Events, Queue, SigSet};
    /// use std::time::Duration;
    ///
    /// let queue = Queue::new()?;
    /// // SIGUSR1 is blocked in this thread, except while it waits here.
    /// let mut mask = SigSet::current()?;
    /// mask.remove(libc::SIGUSR1)?;
    /// let mut events = Events::with_capacity(16);
    /// match queue.wait_with_sigmask(1, &mut events, Some(Duration::from_secs(1)), &mask) {
    ///     Ok(n) => println!("{n} events"),
    ///     Err(e) if e.kind() == std::io::ErrorKind::Interrupted => println!("SIGUSR1"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_with_sigmask(
        &self,
        min: usize,
        events: &mut Events,
        timeout: Option<Duration>,
        sigmask: &SigSet,
    ) -> io::Result<usize> {
        self.get_events(min, events, timeout, Some(sigmask))
    }

    fn get_events(
        &self,
        min: usize,
        events: &mut Events,
        timeout: Option<Duration>,
        sigmask: Option<&SigSet>,
    ) -> io::Result<usize> {
        events.len = 0;
        if events.buf.is_empty() {
            return Err(invalid("an Events buffer with no room"));
        }
        if min > events.capacity() {
            return Err(invalid(format!(
                "waiting for {min} events with room for {}",
                events.capacity()
            )));
        }
        let timeout_ns = timeout_ns(timeout);
        let cap = events.capacity();
        let buf = &mut events.buf[..cap];
        let n = match sigmask {
            None => sys::get_events(self.fd.as_fd(), min as u32, buf, timeout_ns)?,
            Some(m) => sys::pget_events(self.fd.as_fd(), min as u32, buf, timeout_ns, Some(&m.0))?,
        };
        events.len = n.min(cap);
        Ok(events.len)
    }
}

impl AsFd for Queue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Queue {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<OwnedFd> for Queue {
    /// Wraps an fd of `/dev/kevent` (from `open`, `KEVENT_CTL_INIT`, or
    /// another process). Nothing checks that it is one: ioctls on another
    /// file fail (`ENOTTY`).
    fn from(fd: OwnedFd) -> Queue {
        Queue { fd }
    }
}

impl From<Queue> for OwnedFd {
    fn from(q: Queue) -> OwnedFd {
        q.fd
    }
}

/// A set of signals, as the kernel's `sigset_t` holds them (signals 1 to
/// 64): the mask of [`Queue::wait_with_sigmask`].
///
/// ```
/// use kevent::SigSet;
/// let mut s = SigSet::empty();
/// s.insert(libc::SIGUSR1)?;
/// assert!(s.contains(libc::SIGUSR1) && !s.contains(libc::SIGUSR2));
/// assert!(s.insert(0).is_err() && s.insert(65).is_err());
/// assert!(SigSet::full().contains(64));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SigSet(sys::KernelSigset);

impl SigSet {
    /// The highest signal number.
    pub const MAX: libc::c_int = 64;

    /// No signal.
    pub fn empty() -> SigSet {
        SigSet::default()
    }

    /// Every signal (the kernel never blocks `SIGKILL` and `SIGSTOP`).
    pub fn full() -> SigSet {
        SigSet(sys::KernelSigset {
            sig: [libc::c_ulong::MAX; sys::SIGSET_WORDS],
        })
    }

    /// The calling thread's signal mask.
    pub fn current() -> io::Result<SigSet> {
        sys::thread_sigmask().map(SigSet)
    }

    fn place(sig: libc::c_int) -> io::Result<(usize, libc::c_ulong)> {
        if !(1..=Self::MAX).contains(&sig) {
            return Err(invalid(format!("signal {sig} is not in 1..=64")));
        }
        let bits = <libc::c_ulong>::BITS as usize;
        let n = (sig - 1) as usize;
        Ok((n / bits, 1 << (n % bits)))
    }

    /// Adds `sig`; `InvalidInput` if it is not in `1..=64`.
    pub fn insert(&mut self, sig: libc::c_int) -> io::Result<()> {
        let (w, bit) = Self::place(sig)?;
        self.0.sig[w] |= bit;
        Ok(())
    }

    /// Removes `sig`; `InvalidInput` if it is not in `1..=64`.
    pub fn remove(&mut self, sig: libc::c_int) -> io::Result<()> {
        let (w, bit) = Self::place(sig)?;
        self.0.sig[w] &= !bit;
        Ok(())
    }

    /// Whether `sig` is in the set (never for a number outside `1..=64`).
    pub fn contains(&self, sig: libc::c_int) -> bool {
        Self::place(sig).is_ok_and(|(w, bit)| self.0.sig[w] & bit != 0)
    }

    /// The kernel's `sigset_t` it is.
    pub fn raw(&self) -> &sys::KernelSigset {
        &self.0
    }

    /// The set of a kernel `sigset_t` (from `rt_sigprocmask`, say).
    pub fn from_raw(raw: sys::KernelSigset) -> SigSet {
        SigSet(raw)
    }

    /// The signals in the set, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = libc::c_int> + '_ {
        (1..=Self::MAX).filter(|&s| self.contains(s))
    }
}

impl fmt::Debug for SigSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A set of `KEVENT_POLL_*` bits: what a poll request waits for, and what
/// fired.
///
/// ```
/// use kevent::Interest;
/// let i = Interest::IN | Interest::RDNORM;
/// assert!(i.contains(Interest::IN));
/// assert_eq!(i.bits(), 0x41);
/// assert_eq!(Interest::from_bits(0x8000), None);
/// assert_eq!(format!("{i:?}"), "IN|RDNORM");
/// // A half-closed stream socket.
/// assert_eq!(Interest::from_bits(0x2001), Some(Interest::IN | Interest::RDHUP));
/// assert_eq!(format!("{:?}", Interest::IN | Interest::RDHUP), "IN|RDHUP");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interest(u32);

impl Interest {
    /// Readable (`POLLIN`).
    pub const IN: Interest = Interest(sys::KEVENT_POLL_POLLIN);
    /// Urgent data (`POLLPRI`).
    pub const PRI: Interest = Interest(sys::KEVENT_POLL_POLLPRI);
    /// Writable (`POLLOUT`).
    pub const OUT: Interest = Interest(sys::KEVENT_POLL_POLLOUT);
    /// An error (`POLLERR`); always reported.
    pub const ERR: Interest = Interest(sys::KEVENT_POLL_POLLERR);
    /// Hang-up (`POLLHUP`); always reported.
    pub const HUP: Interest = Interest(sys::KEVENT_POLL_POLLHUP);
    /// Invalid (`POLLNVAL`).
    pub const NVAL: Interest = Interest(sys::KEVENT_POLL_POLLNVAL);
    /// Normal data readable (`POLLRDNORM`).
    pub const RDNORM: Interest = Interest(sys::KEVENT_POLL_POLLRDNORM);
    /// Priority band readable (`POLLRDBAND`).
    pub const RDBAND: Interest = Interest(sys::KEVENT_POLL_POLLRDBAND);
    /// Normal data writable (`POLLWRNORM`).
    pub const WRNORM: Interest = Interest(sys::KEVENT_POLL_POLLWRNORM);
    /// Priority band writable (`POLLWRBAND`).
    pub const WRBAND: Interest = Interest(sys::KEVENT_POLL_POLLWRBAND);
    /// `POLLMSG`.
    pub const MSG: Interest = Interest(sys::KEVENT_POLL_POLLMSG);
    /// The peer shut down its writing side (`POLLRDHUP`, epoll's
    /// `EPOLLRDHUP`): a stream socket will read EOF once its data is
    /// drained, so a server can tell a half-closed connection without a
    /// `read()`. Files that do not know it (pipes, eventfd, ...) never
    /// report it; they report `HUP` when the other end is gone.
    pub const RDHUP: Interest = Interest(sys::KEVENT_POLL_POLLRDHUP);

    const NAMES: [(Interest, &'static str); 12] = [
        (Self::IN, "IN"),
        (Self::PRI, "PRI"),
        (Self::OUT, "OUT"),
        (Self::ERR, "ERR"),
        (Self::HUP, "HUP"),
        (Self::NVAL, "NVAL"),
        (Self::RDNORM, "RDNORM"),
        (Self::RDBAND, "RDBAND"),
        (Self::WRNORM, "WRNORM"),
        (Self::WRBAND, "WRBAND"),
        (Self::MSG, "MSG"),
        (Self::RDHUP, "RDHUP"),
    ];

    /// No bit.
    pub const fn empty() -> Interest {
        Interest(0)
    }

    /// The set with these bits, or `None` if a bit is not a `KEVENT_POLL_*`
    /// value.
    pub const fn from_bits(bits: u32) -> Option<Interest> {
        if bits & !sys::KEVENT_POLL_VALID != 0 {
            None
        } else {
            Some(Interest(bits))
        }
    }

    /// The bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set here.
    pub const fn contains(self, other: Interest) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        Interest(self.0 | rhs.0)
    }
}

impl BitOrAssign for Interest {
    fn bitor_assign(&mut self, rhs: Interest) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bits(
            f,
            self.0,
            Self::NAMES.iter().map(|(bit, name)| (bit.0, *name)),
        )
    }
}

/// Writes `bits` as `NAME|NAME|0xrest` from `names`, or `0x0` if empty.
fn write_bits<'n>(
    f: &mut fmt::Formatter<'_>,
    bits: u32,
    names: impl Iterator<Item = (u32, &'n str)>,
) -> fmt::Result {
    let mut rest = bits;
    let mut first = true;
    for (bit, name) in names {
        if rest & bit != 0 {
            if !first {
                f.write_str("|")?;
            }
            f.write_str(name)?;
            rest &= !bit;
            first = false;
        }
    }
    if rest != 0 || first {
        if !first {
            f.write_str("|")?;
        }
        write!(f, "{rest:#x}")?;
    }
    Ok(())
}

/// A set of `KEVENT_INODE_*` bits: what an inode request watches for (see
/// [`Request::inode`]), and what happened (see [`Event::inode`]).
///
/// ```
/// use kevent::InodeEvents;
/// let e = InodeEvents::CREATE | InodeEvents::REMOVE;
/// assert!(e.contains(InodeEvents::CREATE) && !e.contains(InodeEvents::WRITE));
/// assert_eq!(e.bits(), 0x3);
/// assert_eq!(format!("{e:?}"), "CREATE|REMOVE");
/// assert_eq!(InodeEvents::all().bits(), 0x3ff);
/// assert_eq!(InodeEvents::from_bits(0x400), None);
/// assert_eq!(
///     InodeEvents::from_bits(0x90),
///     Some(InodeEvents::CLOSE_WRITE | InodeEvents::DELETE_SELF)
/// );
/// // The last event of a watch that ended for a reason it did not ask for.
/// assert_eq!(format!("{:?}", InodeEvents::empty()), "0x0");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InodeEvents(u32);

impl InodeEvents {
    /// An entry was created in the watched directory: `creat`, `mkdir`,
    /// `mknod`, `symlink`, `link` (`KEVENT_INODE_CREATE`).
    pub const CREATE: InodeEvents = InodeEvents(sys::KEVENT_INODE_CREATE);
    /// An entry was removed from the watched directory: `unlink`, `rmdir`
    /// (`KEVENT_INODE_REMOVE`).
    pub const REMOVE: InodeEvents = InodeEvents(sys::KEVENT_INODE_REMOVE);
    /// The watched file's data was modified: `write`, `truncate`
    /// (`KEVENT_INODE_WRITE`).
    pub const WRITE: InodeEvents = InodeEvents(sys::KEVENT_INODE_WRITE);
    /// Its metadata changed: mode, owner, times, link count, extended
    /// attributes (`KEVENT_INODE_ATTRIB`).
    pub const ATTRIB: InodeEvents = InodeEvents(sys::KEVENT_INODE_ATTRIB);
    /// A file opened for writing was closed (`KEVENT_INODE_CLOSE_WRITE`).
    pub const CLOSE_WRITE: InodeEvents = InodeEvents(sys::KEVENT_INODE_CLOSE_WRITE);
    /// An entry was renamed out of the watched directory
    /// (`KEVENT_INODE_MOVED_FROM`); a rename within it gives `MOVED_TO`
    /// too.
    pub const MOVED_FROM: InodeEvents = InodeEvents(sys::KEVENT_INODE_MOVED_FROM);
    /// An entry was renamed into the watched directory
    /// (`KEVENT_INODE_MOVED_TO`).
    pub const MOVED_TO: InodeEvents = InodeEvents(sys::KEVENT_INODE_MOVED_TO);
    /// The watched object was deleted: its last link removed and the last
    /// reference to it dropped (`KEVENT_INODE_DELETE_SELF`). The watch
    /// ends with it.
    pub const DELETE_SELF: InodeEvents = InodeEvents(sys::KEVENT_INODE_DELETE_SELF);
    /// The watched object itself was renamed or moved
    /// (`KEVENT_INODE_MOVE_SELF`).
    pub const MOVE_SELF: InodeEvents = InodeEvents(sys::KEVENT_INODE_MOVE_SELF);
    /// Its file system was unmounted (`KEVENT_INODE_UNMOUNT`): always
    /// reported, asked for or not. The watch ends with it.
    pub const UNMOUNT: InodeEvents = InodeEvents(sys::KEVENT_INODE_UNMOUNT);

    const NAMES: [(InodeEvents, &'static str); 10] = [
        (Self::CREATE, "CREATE"),
        (Self::REMOVE, "REMOVE"),
        (Self::WRITE, "WRITE"),
        (Self::ATTRIB, "ATTRIB"),
        (Self::CLOSE_WRITE, "CLOSE_WRITE"),
        (Self::MOVED_FROM, "MOVED_FROM"),
        (Self::MOVED_TO, "MOVED_TO"),
        (Self::DELETE_SELF, "DELETE_SELF"),
        (Self::MOVE_SELF, "MOVE_SELF"),
        (Self::UNMOUNT, "UNMOUNT"),
    ];

    /// No bit (a request for nothing is `EINVAL`).
    pub const fn empty() -> InodeEvents {
        InodeEvents(0)
    }

    /// Every bit (`KEVENT_INODE_ALL`).
    pub const fn all() -> InodeEvents {
        InodeEvents(sys::KEVENT_INODE_ALL)
    }

    /// The set with these bits, or `None` if a bit is not a
    /// `KEVENT_INODE_*` value.
    pub const fn from_bits(bits: u32) -> Option<InodeEvents> {
        if bits & !sys::KEVENT_INODE_ALL != 0 {
            None
        } else {
            Some(InodeEvents(bits))
        }
    }

    /// The bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set here.
    pub const fn contains(self, other: InodeEvents) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for InodeEvents {
    type Output = InodeEvents;
    fn bitor(self, rhs: InodeEvents) -> InodeEvents {
        InodeEvents(self.0 | rhs.0)
    }
}

impl BitOrAssign for InodeEvents {
    fn bitor_assign(&mut self, rhs: InodeEvents) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for InodeEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bits(
            f,
            self.0,
            Self::NAMES.iter().map(|(bit, name)| (bit.0, *name)),
        )
    }
}

/// What a request watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A socket's readiness in one direction, with figures
    /// (`KEVENT_SOCKET`).
    Socket,
    /// File-system notifications of a file or directory
    /// (`KEVENT_INODE`).
    Inode,
    /// A file's readiness (`KEVENT_POLL`).
    Poll,
    /// A timer (`KEVENT_TIMER`).
    Timer,
    /// A user event (`KEVENT_USER`).
    User,
    /// Any other type value (take12's unimplemented types, or invalid).
    Other(u32),
}

impl Kind {
    fn of(type_: u32) -> Kind {
        match type_ {
            sys::KEVENT_SOCKET => Kind::Socket,
            sys::KEVENT_INODE => Kind::Inode,
            sys::KEVENT_POLL => Kind::Poll,
            sys::KEVENT_TIMER => Kind::Timer,
            sys::KEVENT_USER => Kind::User,
            t => Kind::Other(t),
        }
    }
}

/// Which way a socket request looks (`KEVENT_SOCKET_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Bytes to receive (`KEVENT_SOCKET_RECV`).
    Recv,
    /// Connections to accept (`KEVENT_SOCKET_ACCEPT`).
    Accept,
    /// Room to send (`KEVENT_SOCKET_SEND`).
    Send,
}

impl Direction {
    fn bits(self) -> u32 {
        match self {
            Direction::Recv => sys::KEVENT_SOCKET_RECV,
            Direction::Accept => sys::KEVENT_SOCKET_ACCEPT,
            Direction::Send => sys::KEVENT_SOCKET_SEND,
        }
    }

    fn of(event: u32) -> Option<Direction> {
        match event {
            sys::KEVENT_SOCKET_RECV => Some(Direction::Recv),
            sys::KEVENT_SOCKET_ACCEPT => Some(Direction::Accept),
            sys::KEVENT_SOCKET_SEND => Some(Direction::Send),
            _ => None,
        }
    }
}

/// What a socket event says (see [`Event::socket`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketReadiness {
    /// The direction the request looks.
    pub direction: Direction,
    /// The bytes a receive returns now (for a datagram or seqpacket
    /// socket, the next one's size), the connections waiting to be
    /// accepted, or the free space in the send buffer.
    pub amount: u32,
    /// The direction is shut down: for `Recv`, the peer sends no more
    /// (what is left may still be read); for `Send`, nothing more can be
    /// sent.
    pub eof: bool,
    /// The socket's pending error (an errno), left for `SO_ERROR`.
    pub error: Option<i32>,
}

/// What an inode event says (see [`Event::inode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InodeChange {
    /// What happened since the last delivery, of what the request asks
    /// for, and `UNMOUNT`. Empty only in the last event of a watch that
    /// ended for a reason the request does not ask for (a request for
    /// `WRITE` whose file was deleted).
    pub events: InodeEvents,
    /// How many notifications were coalesced into this event, saturating
    /// at `u32::MAX`: every one that arrived before the event was
    /// collected.
    pub count: u32,
    /// The watch ended (`KEVENT_RET_EOF`): the object was deleted or its
    /// file system unmounted, and the request left the queue with this
    /// event ([`Queue::remove`] of it is `ENOENT`).
    pub ended: bool,
}

/// The clock a timer runs on: its expiries are times of that clock, and
/// an absolute timer's time ([`Request::timer_at`]) is read on it.
///
/// ```
/// use kevent::Clock;
/// assert_eq!(Clock::default(), Clock::Monotonic);
/// assert_eq!(Clock::Realtime.id(), libc::CLOCK_REALTIME);
/// assert_eq!(Clock::from_event(Clock::Tai.bits() | 0x20), Clock::Tai);
/// // What a timer on the clock is measured against.
/// let before = Clock::Boottime.now()?;
/// assert!(Clock::Boottime.now()? >= before);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Clock {
    /// `CLOCK_MONOTONIC` (`KEVENT_TIMER_MONOTONIC`, no bits): time since
    /// boot, not counting suspend, never set. The default, and the only
    /// clock of take12's timers.
    #[default]
    Monotonic,
    /// `CLOCK_REALTIME` (`KEVENT_TIMER_REALTIME`): the wall clock, since
    /// the Unix epoch. It can be set (`clock_settime`, `settimeofday`,
    /// `adjtimex`), and its timers follow: stepped forward, they count
    /// the expiries the step passed; stepped back, they wait until the
    /// clock reaches their expiries again. [`Request::cancel_on_set`]
    /// reports the steps.
    Realtime,
    /// `CLOCK_BOOTTIME` (`KEVENT_TIMER_BOOTTIME`): `Monotonic` plus the
    /// time the system was suspended.
    Boottime,
    /// `CLOCK_TAI` (`KEVENT_TIMER_TAI`): International Atomic Time,
    /// `Realtime` plus the TAI offset the system knows. It is set with
    /// `Realtime`, and its timers follow the steps as `Realtime`'s do;
    /// only `Realtime` timers can have them reported.
    Tai,
}

impl Clock {
    /// Every clock, the default first.
    pub const ALL: [Clock; 4] = [
        Clock::Monotonic,
        Clock::Realtime,
        Clock::Boottime,
        Clock::Tai,
    ];

    /// Its `KEVENT_TIMER_*` clock bits, for a timer's `event`.
    pub const fn bits(self) -> u32 {
        match self {
            Clock::Monotonic => sys::KEVENT_TIMER_MONOTONIC,
            Clock::Realtime => sys::KEVENT_TIMER_REALTIME,
            Clock::Boottime => sys::KEVENT_TIMER_BOOTTIME,
            Clock::Tai => sys::KEVENT_TIMER_TAI,
        }
    }

    /// The clock a timer's `event` names (its `KEVENT_TIMER_CLOCK_MASK`
    /// bits; the other bits are ignored).
    pub const fn from_event(event: u32) -> Clock {
        match event & sys::KEVENT_TIMER_CLOCK_MASK {
            sys::KEVENT_TIMER_REALTIME => Clock::Realtime,
            sys::KEVENT_TIMER_BOOTTIME => Clock::Boottime,
            sys::KEVENT_TIMER_TAI => Clock::Tai,
            _ => Clock::Monotonic,
        }
    }

    /// Its `clockid_t`, for `clock_gettime` and friends.
    pub const fn id(self) -> libc::clockid_t {
        match self {
            Clock::Monotonic => libc::CLOCK_MONOTONIC,
            Clock::Realtime => libc::CLOCK_REALTIME,
            Clock::Boottime => libc::CLOCK_BOOTTIME,
            Clock::Tai => libc::CLOCK_TAI,
        }
    }

    /// The clock's time now (`clock_gettime`), since its epoch: what an
    /// absolute timer's time is compared with. A time before the epoch (a
    /// wall clock set before 1970) is an error.
    pub fn now(self) -> io::Result<Duration> {
        let ts = sys::clock_gettime(self.id())?;
        let secs = u64::try_from(ts.tv_sec)
            .map_err(|_| io::Error::other(format!("{self:?} is before its epoch: {ts:?}")))?;
        Ok(Duration::new(secs, ts.tv_nsec as u32))
    }
}

/// When a timer first expires (see [`TimerSpec`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FirstExpiry {
    /// This long after the ADD or MODIFY that armed it, measured on its
    /// clock ([`Request::timer_on`]).
    After(Duration),
    /// At this time of its clock, since the clock's epoch
    /// ([`Request::timer_at`], `KEVENT_TIMER_ABSTIME`).
    At(Duration),
}

/// A timer request's settings, decoded (see [`Request::timer_spec`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerSpec {
    /// The clock it runs on.
    pub clock: Clock,
    /// Its first expiry.
    pub first: FirstExpiry,
    /// The time between expiries; `None` for a single expiry (an
    /// absolute timer only).
    pub period: Option<Duration>,
    /// Its event reports the setting of its clock
    /// ([`Request::cancel_on_set`]).
    pub cancel_on_set: bool,
}

/// The timer units, finest first, with their length in nanoseconds.
const TIMER_UNITS: [(u32, u128); 3] = [
    (sys::KEVENT_TIMER_UNIT_NS, 1),
    (sys::KEVENT_TIMER_UNIT_US, 1_000),
    (sys::KEVENT_TIMER_UNIT_MS, 1_000_000),
];

/// One request as registered: a `struct ukevent`, built through typed
/// constructors. Its identity is (id, type, cookie); the same request
/// value is what [`Queue::remove`], [`Queue::modify`] and
/// [`Queue::trigger`] take.
///
/// ```
/// use kevent::{Interest, Kind, Request};
/// use std::time::Duration;
///
/// let t = Request::timer(Duration::from_millis(250), Some(Duration::from_micros(1500)))?;
/// assert_eq!(t.kind(), Kind::Timer);
/// assert_eq!(
///     t.timer_schedule(),
///     Some((Duration::from_millis(250), Duration::from_micros(1500)))
/// );
///
/// let u = Request::user(7).edge_triggered().with_cookie(42);
/// assert_eq!((u.kind(), u.cookie()), (Kind::User, 42));
/// assert!(u.result().is_none()); // not submitted yet
///
/// assert!(Request::timer(Duration::ZERO, None).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Request(Ukevent);

impl Request {
    /// Readiness of `fd` for `interest` (`POLLERR` and `POLLHUP` are always
    /// reported).
    ///
    /// The request is named by the fd's number but watches the *file* the
    /// fd names when it is added, as epoll does. When every descriptor of
    /// that file is closed, its requests are removed silently: they are
    /// never delivered afterwards, [`Queue::remove`] of them is `ENOENT`,
    /// and the number may be added again at once. While the file is open
    /// through another descriptor (a `dup`, a child process), its requests
    /// stay and are delivered under their original number, whatever that
    /// number names now; adding that identity again is `EEXIST` until the
    /// old request is removed.
    pub fn poll(fd: impl AsFd, interest: Interest) -> Request {
        Request(Ukevent {
            id: [fd.as_fd().as_raw_fd() as u32, 0],
            type_: sys::KEVENT_POLL,
            event: interest.bits(),
            ..Default::default()
        })
    }

    /// Readiness of socket `fd` in one direction, with the figure of that
    /// direction in each event (see [`Event::socket`]).
    ///
    /// The direction is not part of the identity (id, type, cookie): to
    /// watch two directions of one socket, give the requests different
    /// cookies. Closed sockets are treated as [`Request::poll`] treats
    /// closed files.
    pub fn socket(fd: impl AsFd, direction: Direction) -> Request {
        Request(Ukevent {
            id: [fd.as_fd().as_raw_fd() as u32, 0],
            type_: sys::KEVENT_SOCKET,
            event: direction.bits(),
            ..Default::default()
        })
    }

    /// File-system notifications of the file or directory `fd` names:
    /// what happens to it among `events`, and `UNMOUNT` always, in one
    /// event per collection that says what happened since the last one
    /// and how many times (see [`Event::inode`]). Entry events (`CREATE`,
    /// `REMOVE`, `MOVED_*`) come from directories; what happens to an
    /// entry itself (a write to a file in the directory) is not the
    /// directory's.
    ///
    /// The request watches the object, not the fd: `fd` names it at ADD
    /// and gives the identity its number, and closing `fd` does not
    /// remove the request (unlike [`Request::poll`]). Any fd naming an
    /// inode works, an `O_PATH` one too; the caller must be allowed to
    /// read the object (`EACCES` otherwise, as `inotify_add_watch`). An
    /// empty `events` is `EINVAL`. The watch ends when the object is
    /// deleted (its last link removed and its last reference dropped) or
    /// its file system is unmounted: the request leaves the queue with
    /// that last event ([`InodeChange::ended`]). Edge-triggered makes no
    /// difference: every delivery clears what it reports.
    ///
    /// ```no_run
    /// use kevent::{Events, InodeEvents, Queue, Request};
    /// use std::time::Duration;
    ///
    /// let queue = Queue::new()?;
    /// let dir = std::fs::File::open("/tmp")?;
    /// let entries = Request::inode(&dir, InodeEvents::CREATE | InodeEvents::REMOVE);
    /// queue.add(&entries)?;
    /// drop(dir); // the request stays
    /// let mut events = Events::with_capacity(8);
    /// queue.wait(1, &mut events, Some(Duration::from_secs(1)))?;
    /// for ev in &events {
    ///     if let Some(c) = ev.inode() {
    ///         println!("{:?}, {} notifications, ended: {}", c.events, c.count, c.ended);
    ///     }
    /// }
    /// queue.remove(&entries)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn inode(fd: impl AsFd, events: InodeEvents) -> Request {
        Request(Ukevent {
            id: [fd.as_fd().as_raw_fd() as u32, 0],
            type_: sys::KEVENT_INODE,
            event: events.bits(),
            ..Default::default()
        })
    }

    /// For a socket request looking to receive or send, a low-water mark:
    /// ready only once `bytes` are there to receive, or there is room for
    /// them. Part of the identity (`id[1]`).
    #[must_use]
    pub fn low_water(mut self, bytes: u32) -> Request {
        self.0.id[1] = bytes;
        self
    }

    /// A timer on [`Clock::Monotonic`] that fires every `period`, the
    /// first time after `first` (`None`: after one period), periodic
    /// unless [`oneshot`](Self::oneshot): [`Request::timer_on`] with the
    /// default clock, take12's timer.
    ///
    /// Both are rounded up to the finest unit that holds them, so the timer
    /// is never early; a first expiry of zero becomes one unit. A zero
    /// period, or one longer than `u32::MAX` milliseconds, is
    /// `InvalidInput`.
    pub fn timer(period: Duration, first: Option<Duration>) -> io::Result<Request> {
        Request::timer_on(Clock::Monotonic, period, first)
    }

    /// A timer on `clock` that fires every `period`, the first time
    /// `first` after the ADD (`None`: one period after), periodic unless
    /// [`oneshot`](Self::oneshot). Both are measured on `clock` from the
    /// ADD, or from the MODIFY that restarts it.
    ///
    /// Encoded as [`Request::timer`] encodes them: rounded up to the
    /// finest unit that holds both, so the timer is never early (when its
    /// event is delivered, `clock` has gone at least first + (*n* − 1) ×
    /// period past the ADD, *n* counting every expiration delivered); a
    /// zero period, or one longer than `u32::MAX` milliseconds, is
    /// `InvalidInput`.
    ///
    /// On [`Clock::Realtime`] and [`Clock::Tai`] the expiries are times of
    /// the clock, so the timer follows its steps (see [`Clock::Realtime`]).
    ///
    /// ```
    /// use kevent::{Clock, FirstExpiry, Request};
    /// use std::time::Duration;
    ///
    /// let ms = Duration::from_millis;
    /// let t = Request::timer_on(Clock::Boottime, ms(100), Some(ms(5)))?;
    /// let spec = t.timer_spec().unwrap();
    /// assert_eq!(spec.clock, Clock::Boottime);
    /// assert_eq!((spec.first, spec.period), (FirstExpiry::After(ms(5)), Some(ms(100))));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timer_on(
        clock: Clock,
        period: Duration,
        first: Option<Duration>,
    ) -> io::Result<Request> {
        if period.is_zero() {
            return Err(invalid("a timer period of zero"));
        }
        let (unit, p, f) =
            timer_units(period.as_nanos(), first.map(|d| d.as_nanos())).ok_or_else(|| {
                invalid(format!(
                    "timer period {period:?} or first expiry {first:?} is longer than u32::MAX ms"
                ))
            })?;
        Ok(Request(Ukevent {
            id: [p, f],
            type_: sys::KEVENT_TIMER,
            event: unit | clock.bits(),
            ..Default::default()
        }))
    }

    /// An absolute timer (`KEVENT_TIMER_ABSTIME`): it fires when `clock`
    /// reads `first_expiry` (a time since the clock's epoch, as
    /// [`Clock::now`] gives it), then every `period` if there is one.
    ///
    /// - A time already past fires at once. A periodic timer whose first
    ///   expiry is past counts every period that has elapsed since, as
    ///   timerfd does: its first event has 1 + (now − first) / period
    ///   expirations.
    /// - Without a period the timer expires once: after its event the
    ///   request stays registered (unless [`oneshot`](Self::oneshot)) and
    ///   never fires again, until a MODIFY re-arms it with a new time.
    /// - Never early: when its event is delivered, `clock` reads at least
    ///   first + (*n* − 1) × period, *n* counting every expiration
    ///   delivered.
    /// - On [`Clock::Realtime`] or [`Clock::Tai`] the time is a wall-clock
    ///   time: the timer fires when the clock reads it, however the clock
    ///   is set in between (a step past it fires it, a step back delays
    ///   it).
    ///
    /// The time travels in `ret_data` (low 32 bits, high 32 bits) as
    /// nanoseconds, exactly; the period is rounded up to the finest unit
    /// that holds it. A time past `i64::MAX` nanoseconds (about 292
    /// years), a zero period (`None` is the single expiry), or a period
    /// longer than `u32::MAX` milliseconds is `InvalidInput`.
    ///
    /// The time is not part of the identity (id, type, cookie), and the
    /// id holds only the period: two absolute timers with the same period
    /// need different cookies. The kernel writes each processed entry's
    /// result over `ret_data[1]`, so an entry [`Queue::submit`] wrote back
    /// has lost the high half of its time, and an event's
    /// [`request`](Event::request) has none: build the request again to
    /// MODIFY it ([`Queue::add`] and [`Queue::modify`] leave theirs alone).
    ///
    /// ```no_run
    /// use kevent::{Clock, Events, Queue, Request};
    /// use std::time::Duration;
    ///
    /// let queue = Queue::new()?;
    /// // At the next full second of the wall clock, and every second after.
    /// let now = Clock::Realtime.now()?;
    /// let next = Duration::from_secs(now.as_secs() + 1);
    /// let tick = Request::timer_at(Clock::Realtime, next, Some(Duration::from_secs(1)))?;
    /// queue.add(&tick.with_cookie(1))?;
    /// let mut events = Events::with_capacity(4);
    /// queue.wait(1, &mut events, None)?;
    /// assert!(Clock::Realtime.now()? >= next);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timer_at(
        clock: Clock,
        first_expiry: Duration,
        period: Option<Duration>,
    ) -> io::Result<Request> {
        let at = u64::try_from(first_expiry.as_nanos())
            .ok()
            .filter(|&ns| ns <= i64::MAX as u64)
            .ok_or_else(|| {
                invalid(format!(
                    "absolute timer expiry {first_expiry:?}: more than i64::MAX ns"
                ))
            })?;
        let (unit, p) = match period {
            None => (sys::KEVENT_TIMER_UNIT_NS, 0),
            Some(d) if d.is_zero() => {
                return Err(invalid("a timer period of zero (None is a single expiry)"))
            }
            Some(d) => {
                let (unit, p, _) = timer_units(d.as_nanos(), None).ok_or_else(|| {
                    invalid(format!("timer period {d:?} is longer than u32::MAX ms"))
                })?;
                (unit, p)
            }
        };
        Ok(Request(Ukevent {
            id: [p, 0],
            type_: sys::KEVENT_TIMER,
            event: unit | clock.bits() | sys::KEVENT_TIMER_ABSTIME,
            ret_data: [at as u32, (at >> 32) as u32],
            ..Default::default()
        }))
    }

    /// For an absolute timer on [`Clock::Realtime`], reports each setting
    /// of the clock (`KEVENT_TIMER_CANCEL_ON_SET`, timerfd's
    /// `TFD_TIMER_CANCEL_ON_SET`): when the clock is set (`clock_settime`,
    /// `settimeofday`, `adjtimex` with `ADJ_SETOFFSET`) while the request
    /// is registered, it is ready at once, and its next event says so
    /// ([`Event::timer_canceled`]), with the expirations since the last
    /// delivery, possibly 0. The timer keeps its schedule, its time on the
    /// clock as set now; a one-shot request leaves with that event.
    /// Without it, a setting of the clock is not reported.
    ///
    /// Any other request (another clock, a relative timer, not a timer)
    /// is `InvalidInput`, as the kernel would refuse it (`EINVAL`).
    ///
    /// ```
    /// use kevent::{Clock, Request};
    /// use std::time::Duration;
    ///
    /// let soon = Clock::Realtime.now()? + Duration::from_secs(3600);
    /// let t = Request::timer_at(Clock::Realtime, soon, None)?.cancel_on_set()?;
    /// assert!(t.timer_spec().unwrap().cancel_on_set);
    /// let mono = Request::timer_at(Clock::Monotonic, Duration::from_secs(9), None)?;
    /// assert!(mono.cancel_on_set().is_err());
    /// let relative = Request::timer_on(Clock::Realtime, Duration::from_secs(1), None)?;
    /// assert!(relative.cancel_on_set().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel_on_set(mut self) -> io::Result<Request> {
        let uk = &self.0;
        if uk.type_ != sys::KEVENT_TIMER
            || uk.event & sys::KEVENT_TIMER_ABSTIME == 0
            || Clock::from_event(uk.event) != Clock::Realtime
        {
            return Err(invalid(
                "cancel on set is for absolute timers on Clock::Realtime",
            ));
        }
        self.0.event |= sys::KEVENT_TIMER_CANCEL_ON_SET;
        Ok(self)
    }

    /// A user event named `id`, made ready by [`Queue::trigger`].
    pub fn user(id: u32) -> Request {
        Request(Ukevent {
            id: [id, 0],
            type_: sys::KEVENT_USER,
            ..Default::default()
        })
    }

    /// A request from a raw `struct ukevent`, unchecked: the kernel
    /// validates it.
    pub fn from_raw(raw: Ukevent) -> Request {
        Request(raw)
    }

    /// Removed after its first delivery (`KEVENT_REQ_ONESHOT`).
    #[must_use]
    pub fn oneshot(mut self) -> Request {
        self.0.req_flags |= sys::KEVENT_REQ_ONESHOT;
        self
    }

    /// Edge-triggered (`KEVENT_REQ_ET`): delivered once per new readiness.
    #[must_use]
    pub fn edge_triggered(mut self) -> Request {
        self.0.req_flags |= sys::KEVENT_REQ_ET;
        self
    }

    /// The caller's cookie, part of the identity and returned with every
    /// event.
    #[must_use]
    pub fn with_cookie(mut self, cookie: u64) -> Request {
        self.0.user = cookie;
        self
    }

    /// The payload a [`Ctl::Ready`] entry carries.
    #[must_use]
    pub fn with_payload(mut self, payload: [u32; 2]) -> Request {
        self.0.ret_data = payload;
        self
    }

    /// The `struct ukevent`.
    pub fn raw(&self) -> &Ukevent {
        &self.0
    }

    /// What it watches.
    pub fn kind(&self) -> Kind {
        Kind::of(self.0.type_)
    }

    /// The cookie.
    pub fn cookie(&self) -> u64 {
        self.0.user
    }

    /// A timer's period and first expiry, decoded; `None` for another kind
    /// or an encoding the kernel refuses.
    ///
    /// For a relative timer, on any clock, the first expiry is counted
    /// from the ADD. For an absolute timer ([`Request::timer_at`]) it is
    /// its time on its clock, read from `ret_data` (so 0 in a request
    /// taken from an event), and the period is zero for a single expiry.
    /// [`timer_spec`](Self::timer_spec) tells them apart.
    pub fn timer_schedule(&self) -> Option<(Duration, Duration)> {
        let spec = decode_timer(&self.0)?;
        let first = match spec.first {
            FirstExpiry::After(d) | FirstExpiry::At(d) => d,
        };
        Some((spec.period.unwrap_or(Duration::ZERO), first))
    }

    /// A timer's settings, decoded: its clock, first expiry (relative or
    /// absolute), period and whether it reports clock settings; `None`
    /// for another kind or an encoding the kernel refuses.
    pub fn timer_spec(&self) -> Option<TimerSpec> {
        decode_timer(&self.0)
    }

    /// The result the kernel wrote back after [`Queue::submit`]: `None` if
    /// the entry was not processed.
    pub fn result(&self) -> Option<io::Result<()>> {
        entry_result(&self.0)
    }
}

/// The finest unit that holds `period_ns` and `first_ns` (`None`: no
/// first expiry), and both in it, rounded up (a first expiry of zero is
/// one unit); `None` if they do not fit even in milliseconds.
fn timer_units(period_ns: u128, first_ns: Option<u128>) -> Option<(u32, u32, u32)> {
    TIMER_UNITS.iter().find_map(|&(unit, ns)| {
        let p = u32::try_from(period_ns.div_ceil(ns)).ok()?;
        let f = u32::try_from(first_ns.map_or(0, |f| f.div_ceil(ns).max(1))).ok()?;
        Some((unit, p, f))
    })
}

/// The settings of a timer request or event, as the kernel validates
/// them (`None` where it says `EINVAL`). An absolute timer's time is read
/// from `ret_data`.
fn decode_timer(uk: &Ukevent) -> Option<TimerSpec> {
    if uk.type_ != sys::KEVENT_TIMER || uk.event & !sys::KEVENT_TIMER_VALID != 0 {
        return None;
    }
    let unit = uk.event & sys::KEVENT_TIMER_UNIT_MASK;
    let (_, ns) = TIMER_UNITS.iter().find(|(u, _)| *u == unit)?;
    let ns = *ns as u64;
    let clock = Clock::from_event(uk.event);
    let absolute = uk.event & sys::KEVENT_TIMER_ABSTIME != 0;
    let cancel_on_set = uk.event & sys::KEVENT_TIMER_CANCEL_ON_SET != 0;
    if cancel_on_set && !(absolute && clock == Clock::Realtime) {
        return None;
    }
    let period = match uk.id[0] {
        0 => None,
        p => Some(Duration::from_nanos(u64::from(p) * ns)),
    };
    let first = if absolute {
        let at = u64::from(uk.ret_data[0]) | u64::from(uk.ret_data[1]) << 32;
        if uk.id[1] != 0 || at > i64::MAX as u64 {
            return None;
        }
        FirstExpiry::At(Duration::from_nanos(at))
    } else {
        // A relative timer needs a period.
        let p = period?;
        FirstExpiry::After(match uk.id[1] {
            0 => p,
            f => Duration::from_nanos(u64::from(f) * ns),
        })
    };
    Some(TimerSpec {
        clock,
        first,
        period,
        cancel_on_set,
    })
}

fn entry_result(uk: &Ukevent) -> Option<io::Result<()>> {
    if uk.ret_flags & sys::KEVENT_RET_DONE == 0 {
        None
    } else if uk.ret_flags & sys::KEVENT_RET_BROKEN != 0 {
        Some(Err(io::Error::from_raw_os_error(uk.ret_data[1] as i32)))
    } else {
        Some(Ok(()))
    }
}

/// A reusable buffer of events that the kernel fills in place.
///
/// It is allocated once, with its capacity (the most events one
/// [`Queue::wait`] returns); waiting never allocates.
///
/// ```
/// let events = kevent::Events::with_capacity(64);
/// assert_eq!((events.capacity(), events.len()), (64, 0));
/// assert!(events.iter().next().is_none());
/// ```
#[derive(Clone, Debug)]
pub struct Events {
    buf: Vec<Ukevent>,
    len: usize,
}

impl Events {
    /// Room for `capacity` events (at most `u32::MAX` are used).
    pub fn with_capacity(capacity: usize) -> Events {
        Events {
            buf: vec![Ukevent::default(); capacity.min(u32::MAX as usize)],
            len: 0,
        }
    }

    /// The most events one wait returns.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// How many events the last wait returned.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the last wait returned none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the events.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The `i`-th event.
    pub fn get(&self, i: usize) -> Option<Event<'_>> {
        self.buf[..self.len].get(i).map(Event)
    }

    /// The events, oldest readiness first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        self.buf[..self.len].iter().map(Event)
    }

    /// The events as the kernel wrote them.
    pub fn as_raw(&self) -> &[Ukevent] {
        &self.buf[..self.len]
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = Event<'a>;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, Ukevent>, fn(&'a Ukevent) -> Event<'a>>;
    fn into_iter(self) -> Self::IntoIter {
        self.buf[..self.len].iter().map(Event)
    }
}

/// One delivered event, borrowed from [`Events`]: the request as
/// registered, with its results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a>(&'a Ukevent);

impl<'a> Event<'a> {
    /// The `struct ukevent` as the kernel wrote it.
    pub fn raw(&self) -> &'a Ukevent {
        self.0
    }

    /// What the request watches.
    pub fn kind(&self) -> Kind {
        Kind::of(self.0.type_)
    }

    /// The request's id (`[fd, 0]` for a poll or inode request, `[fd,
    /// low-water mark]` for a socket request, the timer schedule (`[period,
    /// 0]` for an absolute timer), `[id, 0]` for a user event).
    pub fn id(&self) -> [u32; 2] {
        self.0.id
    }

    /// The request's cookie.
    pub fn cookie(&self) -> u64 {
        self.0.user
    }

    /// The request this event came from, as registered (for
    /// [`Queue::remove`] and friends), but for `ret_data`, which is 0: an
    /// absolute timer's time is not in it (see [`Request::timer_at`]).
    pub fn request(&self) -> Request {
        Request(Ukevent {
            ret_flags: 0,
            ret_data: [0; 2],
            ..*self.0
        })
    }

    /// For a poll or socket request, the fd it watches; for an inode
    /// request, the fd number that named its object at ADD (which may be
    /// closed since, or name another file).
    pub fn fd(&self) -> Option<RawFd> {
        matches!(self.kind(), Kind::Poll | Kind::Socket | Kind::Inode)
            .then_some(self.0.id[0] as RawFd)
    }

    /// For a socket request, what its socket has now.
    pub fn socket(&self) -> Option<SocketReadiness> {
        if self.kind() != Kind::Socket {
            return None;
        }
        Some(socket_readiness(self.0, Direction::of(self.0.event)?))
    }

    /// For an inode request, what happened to its object since the last
    /// delivery, and whether the watch ended.
    pub fn inode(&self) -> Option<InodeChange> {
        (self.kind() == Kind::Inode).then(|| InodeChange {
            events: InodeEvents(self.0.ret_data[0]),
            count: self.0.ret_data[1],
            ended: self.0.ret_flags & sys::KEVENT_RET_EOF != 0,
        })
    }

    /// For a poll request, what fired (the wanted bits that are set, and
    /// `ERR`/`HUP`).
    pub fn fired(&self) -> Interest {
        Interest(self.0.ret_data[0])
    }

    /// For a timer, the expirations since the last delivery: at least 1,
    /// but in an event that reports a setting of its clock
    /// ([`timer_canceled`](Self::timer_canceled)), which may have 0.
    pub fn expirations(&self) -> u32 {
        self.0.ret_data[0]
    }

    /// For a timer that reports the setting of its clock
    /// ([`Request::cancel_on_set`]), whether this event is such a report
    /// (`KEVENT_RET_CANCELED`): the clock was set since the last delivery.
    /// [`expirations`](Self::expirations) counts those that came besides,
    /// possibly none. `false` for any other event.
    pub fn timer_canceled(&self) -> bool {
        self.kind() == Kind::Timer && self.0.ret_flags & sys::KEVENT_RET_CANCELED != 0
    }

    /// For a user event, the payload of the last trigger.
    pub fn payload(&self) -> [u32; 2] {
        self.0.ret_data
    }

    /// `Some` for an event delivered as broken (`KEVENT_RET_BROKEN`, the
    /// errno in `ret_data[1]`). The module delivers none today: a poll
    /// request whose file was closed is removed silently instead.
    pub fn error(&self) -> Option<io::Error> {
        match entry_result(self.0) {
            Some(Err(e)) => Some(e),
            _ => None,
        }
    }
}

/// The figures of a socket event, in the direction its request looks.
fn socket_readiness(uk: &Ukevent, direction: Direction) -> SocketReadiness {
    SocketReadiness {
        direction,
        amount: uk.ret_data[0],
        eof: uk.ret_flags & sys::KEVENT_RET_EOF != 0,
        error: match uk.ret_data[1] {
            0 => None,
            e => Some(e as i32),
        },
    }
}

/// A queue's event ring: memory shared with the kernel, in which it
/// writes events that the program reads without a system call
/// (`docs/kevent.7.md`, "The event ring").
///
/// [`Ring::new`] gives a [`Queue`] its ring (`KEVENT_IOC_RING_SETUP`, once
/// in the queue's life) and maps it; dropping the `Ring` unmaps it. From
/// then on the queue delivers its events only through the ring:
/// [`Queue::wait`] on it is `EINVAL`, and [`Ring::wait`] takes its place.
///
/// - Some events are written at once, when their source fires, if the
///   ring has room and nothing waits outside it: each
///   [`Queue::trigger`] of an edge-triggered user event (one entry per
///   trigger, with its payload: they do not coalesce), each inode
///   notification, and each wake-up of an edge-triggered poll request
///   that says what readiness it brings. [`Ring::ready`] sees them
///   without any call.
/// - Every other event (level-triggered and one-shot requests, timers,
///   sockets, the end of an inode watch), and any event that found the
///   ring full, waits on the queue, coalesced as without a ring, and
///   [`Ring::backlog`] says so; [`Ring::wait`] moves them into the ring.
///   No event is lost.
///
/// # The ring does not borrow its queue
///
/// The mapping itself keeps the queue alive in the kernel: closing the
/// queue's last descriptor ends it only once the last mapping is gone. So
/// a `Ring` is valid memory whatever becomes of the [`Queue`] it was made
/// from, and it does not borrow it: a `Ring` has no lifetime, can live in
/// the same struct as its queue, move to another thread on its own, and
/// keeps receiving what sources write at wake-up (inode notifications,
/// edge-triggered poll requests) after the `Queue` is dropped. It holds no
/// descriptor either (the mapping is enough), so the calls that need one
/// take the queue: [`wait`](Ring::wait) must be given the queue the ring
/// was set up on. Another queue answers for its own ring (or `EINVAL`, if
/// it has none); the call catches that only when the count it returns
/// cannot be this ring's.
///
/// # One consumer
///
/// The ring has one `head`. Reading takes `&mut self`
/// ([`events`](Ring::events), [`drain`](Ring::drain)), so one `Ring` has
/// one reader at a time: to read from several threads, put it behind a
/// `Mutex`, which serialises the reads of entries and the updates of
/// `head` as the ring's rule asks. The `&self` methods only read the
/// kernel's counters and flags, and are safe from any thread. `Ring` is
/// `Send` and `Sync`.
///
/// Nothing stops another mapping of the same ring from reading it too (a
/// child after `fork`, which inherits the mapping, or another process
/// mapping the queue): two consumers of one ring must agree between
/// themselves, or they will read entries twice or lose them. Memory
/// safety does not depend on it: the ring never reads outside its
/// mapping, whatever the kernel or another process writes.
///
/// # Trusting the kernel
///
/// `head` is this `Ring`'s own count of the entries read (its copy in the
/// mapping is for the kernel). `tail` is read with an acquire load and
/// checked: if it is more than [`entries`](Ring::entries) past `head`, the
/// read fails with `InvalidData` and nothing is read. Entries are copied
/// out of the mapping, never borrowed from it.
///
/// ```no_run
/// use kevent::{Queue, Request, Ring};
/// use std::time::Duration;
///
/// let queue = Queue::new()?;
/// let mut ring = Ring::new(&queue, 256)?;
/// let wake = Request::user(1).edge_triggered().with_cookie(7);
/// queue.add(&wake)?;
/// queue.trigger(&wake, [1, 0])?;
/// queue.trigger(&wake, [2, 0])?;
/// // Written at each trigger: no call needed to see them.
/// assert_eq!(ring.ready()?, 2);
/// ring.drain(|ev| println!("cookie {} payload {:?}", ev.cookie(), ev.payload()))?;
///
/// let tick = Request::timer(Duration::from_millis(10), None)?;
/// queue.add(&tick.with_cookie(2))?;
/// // Timers wait on the queue until a wait moves them into the ring.
/// ring.wait(&queue, 1, 64, Some(Duration::from_secs(1)))?;
/// for ev in ring.events()? {
///     println!("{:?}: {} expirations", ev.kind(), ev.expirations());
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Ring {
    map: sys::RingMap,
    /// The counter of the next entry to read: this consumer's own, stored
    /// into the mapping's `head` (release) when entries are freed.
    head: u32,
}

impl Ring {
    /// The fewest entries a ring has (`KEVENT_RING_MIN_ENTRIES`).
    pub const MIN_ENTRIES: u32 = sys::KEVENT_RING_MIN_ENTRIES;
    /// The most entries a ring has (`KEVENT_RING_MAX_ENTRIES`).
    pub const MAX_ENTRIES: u32 = sys::KEVENT_RING_MAX_ENTRIES;

    /// Gives `queue` a ring of `entries` entries and maps it
    /// (`mmap(MAP_SHARED)`).
    ///
    /// `entries` must be a power of two from [`MIN_ENTRIES`] to
    /// [`MAX_ENTRIES`] (`EINVAL` from the kernel otherwise). A queue has
    /// one ring for life: a second set-up is `EBUSY`. The ring's memory
    /// is charged to the caller's memory cgroup and counts against the
    /// user's `max_user_requests` as one request per KiB (`ENOSPC`
    /// beyond it). If the set-up succeeds and the mapping fails (`ENOMEM`,
    /// say), the queue keeps its ring all the same.
    ///
    /// [`MIN_ENTRIES`]: Ring::MIN_ENTRIES
    /// [`MAX_ENTRIES`]: Ring::MAX_ENTRIES
    pub fn new(queue: &Queue, entries: u32) -> io::Result<Ring> {
        let mut setup = sys::RingSetup {
            entries,
            ..Default::default()
        };
        sys::ring_setup(queue.as_fd(), &mut setup)?;
        let map = sys::RingMap::map(queue.as_fd(), setup.size, entries)?;
        Ok(Ring::with_map(map))
    }

    fn with_map(map: sys::RingMap) -> Ring {
        let head = map.head();
        Ring { map, head }
    }

    /// The number of entries.
    pub fn entries(&self) -> u32 {
        self.map.entries()
    }

    /// The bytes mapped (the header, the entries, and the kernel's
    /// rounding).
    pub fn mapped_bytes(&self) -> usize {
        self.map.len()
    }

    /// How many entries are unread (`tail - head`); `InvalidData` if the
    /// kernel's `tail` is more than [`entries`](Ring::entries) past
    /// `head`.
    pub fn ready(&self) -> io::Result<usize> {
        self.unread(self.map.tail())
    }

    fn unread(&self, tail: u32) -> io::Result<usize> {
        let n = tail.wrapping_sub(self.head);
        if n > self.map.entries() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the ring's tail {tail} is {n} entries past its head {} in a ring of {}",
                    self.head,
                    self.map.entries()
                ),
            ));
        }
        Ok(n as usize)
    }

    /// Whether events wait on the queue outside the ring
    /// (`KEVENT_RING_BACKLOG`): the ring was full when they came, or
    /// their kind is moved in only by [`wait`](Ring::wait). It may stay
    /// set a moment after the last of them has moved.
    pub fn backlog(&self) -> bool {
        self.map.flags() & sys::KEVENT_RING_BACKLOG != 0
    }

    /// The unread entries, oldest first, each copied out of the ring as
    /// the iterator reaches it: those written when this is called (later
    /// ones wait for the next call). Dropping the iterator frees the
    /// entries it returned (a release store of `head`), and only those:
    /// the rest stay unread. `InvalidData` if the kernel's `tail` is out
    /// of bounds (see [`ready`](Ring::ready)).
    pub fn events(&mut self) -> io::Result<RingEvents<'_>> {
        let n = self.ready()?;
        let end = self.head.wrapping_add(n as u32);
        Ok(RingEvents { ring: self, end })
    }

    /// Calls `f` with every unread entry, oldest first, frees them, and
    /// returns how many there were. Allocates nothing.
    pub fn drain(&mut self, mut f: impl FnMut(RingEvent)) -> io::Result<usize> {
        let mut n = 0;
        for ev in self.events()? {
            n += 1;
            f(ev);
        }
        Ok(n)
    }

    /// Get-events with `KEVENT_GET_RING` on `queue`, the queue this ring
    /// was set up on: waits until the ring's unread entries and the events
    /// waiting on the queue make `min`, until `timeout` (`None`: forever;
    /// zero: never blocks), then moves up to `max` of the waiting events
    /// into the ring (as many as fit). Returns the unread
    /// entries in the ring then, which is at least `min` unless the
    /// timeout passed. Read them with
    /// [`events`](Ring::events) or [`drain`](Ring::drain).
    ///
    /// The rules are [`Queue::wait`]'s: `max` of 0 or `min` above `max`
    /// is `EINVAL`, and so is `min` above [`entries`](Ring::entries); a
    /// signal is `Interrupted`; a non-blocking queue with nothing ready is
    /// `WouldBlock`. A `min` beyond `u32::MAX` is `InvalidInput`; a `max`
    /// beyond it counts as `u32::MAX`. `InvalidData` if the kernel's count
    /// is more than the ring holds: not this ring's queue, or a wrong
    /// `tail`.
    pub fn wait(
        &self,
        queue: &Queue,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        self.get_ring(queue, min, max, timeout, None)
    }

    /// [`wait`](Ring::wait) with `sigmask` as the calling thread's signal
    /// mask while it waits (`KEVENT_IOC_PGET_EVENTS`), as
    /// [`Queue::wait_with_sigmask`] does.
    pub fn wait_with_sigmask(
        &self,
        queue: &Queue,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
        sigmask: &SigSet,
    ) -> io::Result<usize> {
        self.get_ring(queue, min, max, timeout, Some(sigmask))
    }

    fn get_ring(
        &self,
        queue: &Queue,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
        sigmask: Option<&SigSet>,
    ) -> io::Result<usize> {
        let min = u32::try_from(min)
            .map_err(|_| invalid(format!("waiting for {min} entries: more than u32::MAX")))?;
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        // The kernel counts from the mapping's `head`: make sure it is
        // this consumer's (it is, unless a `RingEvents` was forgotten).
        self.map.set_head(self.head);
        let n = sys::get_ring(
            queue.as_fd(),
            min,
            max,
            timeout_ns(timeout),
            sigmask.map(|m| &m.0),
        )?;
        // `tail` only grows while this call holds `&self` (and so `head`
        // stays), so the ring holds at least what the kernel counted.
        let now = self.ready()?;
        if n > now {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "get-events counted {n} entries in the ring, which holds {now}: \
                     is this the ring's queue?"
                ),
            ));
        }
        Ok(n)
    }
}

impl fmt::Debug for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("entries", &self.map.entries())
            .field("head", &self.head)
            .field("tail", &self.map.tail())
            .field("backlog", &self.backlog())
            .finish()
    }
}

/// The unread entries of a [`Ring`] (see [`Ring::events`]); dropping it
/// frees those it returned.
#[derive(Debug)]
pub struct RingEvents<'r> {
    ring: &'r mut Ring,
    /// The `tail` read when it was made.
    end: u32,
}

impl Iterator for RingEvents<'_> {
    type Item = RingEvent;

    fn next(&mut self) -> Option<RingEvent> {
        if self.ring.head == self.end {
            return None;
        }
        let entry = self.ring.map.entry(self.ring.head);
        self.ring.head = self.ring.head.wrapping_add(1);
        Some(RingEvent::from(entry))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.wrapping_sub(self.ring.head) as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for RingEvents<'_> {}

impl Drop for RingEvents<'_> {
    fn drop(&mut self) {
        self.ring.map.set_head(self.ring.head);
    }
}

/// One event read from a [`Ring`]: the request's identity (id, type,
/// cookie) and its results, as a delivered [`Event`] has them. The
/// decoders are [`Event`]'s; what an entry does not carry is the
/// request's `event` and `req_flags`, so a socket event's direction is
/// the caller's to give ([`socket`](RingEvent::socket)), and
/// [`request`](RingEvent::request) has the identity only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RingEvent(Ukevent);

impl From<sys::RingEntry> for RingEvent {
    fn from(e: sys::RingEntry) -> RingEvent {
        RingEvent(Ukevent {
            id: e.id,
            type_: e.type_,
            event: 0,
            req_flags: 0,
            ret_flags: e.ret_flags,
            ret_data: e.ret_data,
            user: e.user,
        })
    }
}

impl RingEvent {
    /// The decoders shared with a delivered event: none of them reads
    /// `event` or `req_flags`, which an entry has not.
    fn event(&self) -> Event<'_> {
        Event(&self.0)
    }

    /// The `struct kevent_ring_entry` as the kernel wrote it.
    pub fn raw(&self) -> sys::RingEntry {
        sys::RingEntry {
            id: self.0.id,
            type_: self.0.type_,
            ret_flags: self.0.ret_flags,
            ret_data: self.0.ret_data,
            user: self.0.user,
        }
    }

    /// What the request watches.
    pub fn kind(&self) -> Kind {
        self.event().kind()
    }

    /// The request's id (see [`Event::id`]).
    pub fn id(&self) -> [u32; 2] {
        self.event().id()
    }

    /// The request's cookie.
    pub fn cookie(&self) -> u64 {
        self.event().cookie()
    }

    /// The request's identity (id, type, cookie), for [`Queue::remove`]
    /// and [`Queue::trigger`]; its `event` and flags are 0, as the entry
    /// does not carry them, so it is no request to [`Queue::modify`] with.
    pub fn request(&self) -> Request {
        Request(Ukevent {
            ret_flags: 0,
            ret_data: [0; 2],
            ..self.0
        })
    }

    /// For a poll, socket or inode request, the fd number of its id (see
    /// [`Event::fd`]).
    pub fn fd(&self) -> Option<RawFd> {
        self.event().fd()
    }

    /// For a socket request looking in `direction` (the entry does not
    /// say which: the request's cookie can), what its socket had (see
    /// [`Event::socket`]).
    pub fn socket(&self, direction: Direction) -> Option<SocketReadiness> {
        (self.kind() == Kind::Socket).then(|| socket_readiness(&self.0, direction))
    }

    /// For an inode request, what happened (see [`Event::inode`]). An
    /// entry written at a notification has its bits and a count of 1.
    pub fn inode(&self) -> Option<InodeChange> {
        self.event().inode()
    }

    /// For a poll request, what fired (see [`Event::fired`]). An entry
    /// written at a wake-up of an edge-triggered request has the bits the
    /// wake-up brought, of those wanted (and `ERR`/`HUP`).
    pub fn fired(&self) -> Interest {
        self.event().fired()
    }

    /// For a timer, the expirations since the last delivery (see
    /// [`Event::expirations`]).
    pub fn expirations(&self) -> u32 {
        self.event().expirations()
    }

    /// For a timer, whether its clock was set (see
    /// [`Event::timer_canceled`]).
    pub fn timer_canceled(&self) -> bool {
        self.event().timer_canceled()
    }

    /// For a user event, its payload: an entry written at a trigger of an
    /// edge-triggered user event has that trigger's.
    pub fn payload(&self) -> [u32; 2] {
        self.event().payload()
    }

    /// `Some` for an entry marked broken (see [`Event::error`]).
    pub fn error(&self) -> Option<io::Error> {
        self.event().error()
    }
}

/// A get-events timeout in nanoseconds: `None` is forever (-1).
fn timeout_ns(timeout: Option<Duration>) -> i64 {
    match timeout {
        None => -1,
        Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(r: &Request) -> (u32, [u32; 2]) {
        (r.raw().event, r.raw().id)
    }

    #[test]
    fn timer_picks_the_finest_unit_that_fits() {
        let ms = Duration::from_millis;
        let r = Request::timer(ms(100), None).unwrap();
        assert_eq!(sched(&r), (sys::KEVENT_TIMER_UNIT_NS, [100_000_000, 0]));
        let r = Request::timer(Duration::from_secs(10), Some(ms(5))).unwrap();
        assert_eq!(sched(&r), (sys::KEVENT_TIMER_UNIT_US, [10_000_000, 5_000]));
        let r = Request::timer(Duration::from_secs(3 * 3600), None).unwrap();
        assert_eq!(sched(&r), (sys::KEVENT_TIMER_UNIT_MS, [3 * 3600 * 1000, 0]));
        // A first expiry that needs a coarser unit takes the period with it.
        let r = Request::timer(Duration::from_nanos(1), Some(Duration::from_secs(5))).unwrap();
        assert_eq!(sched(&r), (sys::KEVENT_TIMER_UNIT_US, [1, 5_000_000]));
    }

    #[test]
    fn timer_rounds_up_never_down() {
        let r = Request::timer(Duration::new(5, 1), Some(Duration::ZERO)).unwrap();
        // 5 s + 1 ns in microseconds is 5_000_001 µs; a zero first expiry is one unit.
        assert_eq!(sched(&r), (sys::KEVENT_TIMER_UNIT_US, [5_000_001, 1]));
        let (p, f) = r.timer_schedule().unwrap();
        assert!(p >= Duration::new(5, 1) && f > Duration::ZERO);
    }

    #[test]
    fn timer_refuses_what_the_abi_cannot_carry() {
        let e = Request::timer(Duration::ZERO, None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let too_long = Duration::from_millis(u64::from(u32::MAX) + 1);
        assert!(Request::timer(too_long, None).is_err());
        assert!(Request::timer(Duration::from_secs(1), Some(too_long)).is_err());
        assert!(Request::timer(Duration::from_millis(u64::from(u32::MAX)), None).is_ok());
    }

    #[test]
    fn timer_schedule_decodes_take12_entries() {
        let mut uk = Ukevent {
            type_: sys::KEVENT_TIMER,
            id: [100, 0],
            event: sys::KEVENT_TIMER_FIRED,
            ..Default::default()
        };
        let ms = Duration::from_millis(100);
        assert_eq!(Request::from_raw(uk).timer_schedule(), Some((ms, ms)));
        uk.event = sys::KEVENT_TIMER_UNIT_MASK;
        assert_eq!(Request::from_raw(uk).timer_schedule(), None);
        uk.event = 0;
        uk.id[0] = 0;
        assert_eq!(Request::from_raw(uk).timer_schedule(), None);
    }

    #[test]
    fn clocks_name_their_bits_and_ids() {
        let want = [
            (Clock::Monotonic, 0, libc::CLOCK_MONOTONIC),
            (Clock::Realtime, 0x100, libc::CLOCK_REALTIME),
            (Clock::Boottime, 0x200, libc::CLOCK_BOOTTIME),
            (Clock::Tai, 0x300, libc::CLOCK_TAI),
        ];
        for (c, bits, id) in want {
            assert_eq!((c.bits(), c.id()), (bits, id));
            // The clock field only: units, flags and take12's FIRED aside.
            let event = bits | sys::KEVENT_TIMER_VALID & !sys::KEVENT_TIMER_CLOCK_MASK;
            assert_eq!(Clock::from_event(event), c);
        }
        assert_eq!(Clock::ALL.map(|c| c.bits()), [0, 0x100, 0x200, 0x300]);
        // The clocks read: monotonic does not go back; the wall clock is
        // past 2020 on any machine that runs this.
        let a = Clock::Monotonic.now().unwrap();
        assert!(Clock::Monotonic.now().unwrap() >= a);
        assert!(Clock::Realtime.now().unwrap() > Duration::from_secs(1_577_836_800));
        let (rt, tai) = (Clock::Realtime.now().unwrap(), Clock::Tai.now().unwrap());
        // TAI is the wall clock plus the offset it is told (0 unless set).
        assert!(tai + Duration::from_secs(1) >= rt, "{tai:?} {rt:?}");
    }

    #[test]
    fn timer_on_adds_the_clock_to_take12s_encoding() {
        let ms = Duration::from_millis;
        for c in Clock::ALL {
            let r = Request::timer_on(c, ms(100), Some(ms(5))).unwrap();
            assert_eq!(
                sched(&r),
                (
                    sys::KEVENT_TIMER_UNIT_NS | c.bits(),
                    [100_000_000, 5_000_000]
                )
            );
            assert_eq!(r.raw().ret_data, [0, 0]);
            let spec = r.timer_spec().unwrap();
            let want = TimerSpec {
                clock: c,
                first: FirstExpiry::After(ms(5)),
                period: Some(ms(100)),
                cancel_on_set: false,
            };
            assert_eq!(spec, want);
            assert_eq!(r.timer_schedule(), Some((ms(100), ms(5))));
            // The same units and refusals as take12's timer.
            let r = Request::timer_on(c, Duration::from_secs(3 * 3600), None).unwrap();
            assert_eq!(
                sched(&r),
                (sys::KEVENT_TIMER_UNIT_MS | c.bits(), [3 * 3600 * 1000, 0])
            );
            assert_eq!(
                r.timer_spec().map(|s| s.first),
                Some(FirstExpiry::After(Duration::from_secs(3 * 3600)))
            );
            assert!(Request::timer_on(c, Duration::ZERO, None).is_err());
            let too_long = Duration::from_millis(u64::from(u32::MAX) + 1);
            assert!(Request::timer_on(c, too_long, None).is_err());
        }
        // The default clock is take12's timer, bit for bit.
        let a = Request::timer(ms(7), Some(ms(1))).unwrap();
        let b = Request::timer_on(Clock::Monotonic, ms(7), Some(ms(1))).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn timer_at_puts_the_time_in_ret_data_and_the_period_in_the_id() {
        let t = Duration::from_nanos(0x1_2345_6789);
        let ms = Duration::from_millis;
        let r = Request::timer_at(Clock::Realtime, t, Some(ms(20))).unwrap();
        let abs = sys::KEVENT_TIMER_ABSTIME;
        assert_eq!(
            sched(&r),
            (
                sys::KEVENT_TIMER_UNIT_NS | sys::KEVENT_TIMER_REALTIME | abs,
                [20_000_000, 0]
            )
        );
        assert_eq!(r.raw().ret_data, [0x2345_6789, 1]);
        let want = TimerSpec {
            clock: Clock::Realtime,
            first: FirstExpiry::At(t),
            period: Some(ms(20)),
            cancel_on_set: false,
        };
        assert_eq!(r.timer_spec(), Some(want));
        assert_eq!(r.timer_schedule(), Some((ms(20), t)));
        // No period: a single expiry, id [0, 0].
        let r = Request::timer_at(Clock::Tai, t, None).unwrap();
        assert_eq!(
            sched(&r),
            (
                sys::KEVENT_TIMER_UNIT_NS | sys::KEVENT_TIMER_TAI | abs,
                [0, 0]
            )
        );
        let spec = r.timer_spec().unwrap();
        assert_eq!((spec.period, spec.first), (None, FirstExpiry::At(t)));
        assert_eq!(r.timer_schedule(), Some((Duration::ZERO, t)));
        // A long period takes a coarser unit, rounded up; the time stays
        // in nanoseconds.
        let r = Request::timer_at(Clock::Monotonic, t, Some(Duration::new(10, 1))).unwrap();
        assert_eq!(
            sched(&r),
            (sys::KEVENT_TIMER_UNIT_US | abs, [10_000_001, 0])
        );
        assert_eq!(r.raw().ret_data, [0x2345_6789, 1]);
        // The epoch itself, and the last time the kernel takes.
        let r = Request::timer_at(Clock::Boottime, Duration::ZERO, None).unwrap();
        assert_eq!(r.raw().ret_data, [0, 0]);
        let last = Duration::from_nanos(i64::MAX as u64);
        let r = Request::timer_at(Clock::Realtime, last, None).unwrap();
        assert_eq!(r.raw().ret_data, [u32::MAX, 0x7fff_ffff]);
        assert_eq!(r.timer_spec().map(|s| s.first), Some(FirstExpiry::At(last)));
    }

    #[test]
    fn timer_at_refuses_what_the_kernel_would() {
        let ms = Duration::from_millis;
        let kind = |r: io::Result<Request>| r.unwrap_err().kind();
        let past_i64 = Duration::from_nanos(i64::MAX as u64 + 1);
        assert_eq!(
            kind(Request::timer_at(Clock::Monotonic, past_i64, None)),
            io::ErrorKind::InvalidInput
        );
        assert!(Request::timer_at(Clock::Realtime, Duration::MAX, Some(ms(1))).is_err());
        // A zero period is no single expiry: that is None.
        assert_eq!(
            kind(Request::timer_at(
                Clock::Monotonic,
                ms(1),
                Some(Duration::ZERO)
            )),
            io::ErrorKind::InvalidInput
        );
        let too_long = Duration::from_millis(u64::from(u32::MAX) + 1);
        assert!(Request::timer_at(Clock::Monotonic, ms(1), Some(too_long)).is_err());
    }

    #[test]
    fn cancel_on_set_is_for_absolute_realtime_timers_only() {
        let t = Duration::from_secs(1_000_000);
        let r = Request::timer_at(Clock::Realtime, t, None)
            .unwrap()
            .cancel_on_set()
            .unwrap()
            .oneshot()
            .with_cookie(3);
        let want = sys::KEVENT_TIMER_UNIT_NS
            | sys::KEVENT_TIMER_REALTIME
            | sys::KEVENT_TIMER_ABSTIME
            | sys::KEVENT_TIMER_CANCEL_ON_SET;
        assert_eq!(sched(&r), (want, [0, 0]));
        assert_eq!(r.raw().req_flags, sys::KEVENT_REQ_ONESHOT);
        assert!(r.timer_spec().unwrap().cancel_on_set);
        // Twice is once.
        assert_eq!(r.cancel_on_set().unwrap(), r);
        let refused = [
            Request::timer_at(Clock::Monotonic, t, None).unwrap(),
            Request::timer_at(Clock::Boottime, t, None).unwrap(),
            Request::timer_at(Clock::Tai, t, None).unwrap(),
            Request::timer_on(Clock::Realtime, t, None).unwrap(),
            Request::user(1),
        ];
        for r in refused {
            let e = r.cancel_on_set().unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{r:?}");
        }
    }

    #[test]
    fn timer_decoding_refuses_what_the_kernel_refuses() {
        let spec = |event: u32, id: [u32; 2], ret_data: [u32; 2]| {
            Request::from_raw(Ukevent {
                type_: sys::KEVENT_TIMER,
                id,
                event,
                ret_data,
                ..Default::default()
            })
            .timer_spec()
        };
        let (rt, abs, cancel) = (
            sys::KEVENT_TIMER_REALTIME,
            sys::KEVENT_TIMER_ABSTIME,
            sys::KEVENT_TIMER_CANCEL_ON_SET,
        );
        // take12's FIRED with a clock: accepted; take12's default unit is ms.
        let s = spec(
            sys::KEVENT_TIMER_FIRED | sys::KEVENT_TIMER_TAI,
            [10, 0],
            [0; 2],
        )
        .unwrap();
        let ms10 = Duration::from_millis(10);
        assert_eq!(
            (s.clock, s.first, s.period),
            (Clock::Tai, FirstExpiry::After(ms10), Some(ms10))
        );
        // A relative timer ignores ret_data.
        assert!(spec(rt, [10, 0], [u32::MAX; 2]).is_some());
        // The unit 0x30 on any clock, an unknown bit, a relative period 0.
        assert_eq!(
            spec(sys::KEVENT_TIMER_UNIT_MASK | rt, [10, 0], [0; 2]),
            None
        );
        assert_eq!(spec(0x1000, [10, 0], [0; 2]), None);
        assert_eq!(spec(sys::KEVENT_TIMER_BOOTTIME, [0, 5], [0; 2]), None);
        // Absolute: period 0 is a single expiry; id[1] must be 0; the
        // time at most i64::MAX.
        let s = spec(abs, [0, 0], [5, 0]).unwrap();
        assert_eq!(
            (s.period, s.first),
            (
                None,
                FirstExpiry::At(Duration::from_millis(0) + Duration::from_nanos(5))
            )
        );
        assert_eq!(spec(abs, [0, 1], [5, 0]), None);
        assert_eq!(spec(abs, [3, 0], [0, 0x8000_0000]), None);
        assert_eq!(spec(abs, [3, 0], [u32::MAX, u32::MAX]), None);
        assert!(spec(abs, [3, 0], [u32::MAX, 0x7fff_ffff]).is_some());
        // Cancel on set: with REALTIME and ABSTIME only.
        assert!(spec(rt | abs | cancel, [0, 0], [1, 0]).is_some());
        assert_eq!(spec(rt | cancel, [10, 0], [0; 2]), None);
        assert_eq!(spec(abs | cancel, [0, 0], [1, 0]), None);
        for c in [sys::KEVENT_TIMER_BOOTTIME, sys::KEVENT_TIMER_TAI] {
            assert_eq!(spec(c | abs | cancel, [0, 0], [1, 0]), None);
        }
        // Not a timer.
        let user = Request::user(1).with_payload([1, 0]);
        assert_eq!((user.timer_spec(), user.timer_schedule()), (None, None));
    }

    #[test]
    fn timer_events_tell_a_clock_setting() {
        let t = Request::timer_at(Clock::Realtime, Duration::from_secs(1), None)
            .unwrap()
            .cancel_on_set()
            .unwrap()
            .with_cookie(2);
        let canceled = Ukevent {
            ret_flags: sys::KEVENT_RET_DONE | sys::KEVENT_RET_CANCELED,
            ret_data: [0, 0],
            ..*t.raw()
        };
        let ev = Event(&canceled);
        assert!(ev.timer_canceled());
        assert_eq!(
            (ev.expirations(), ev.kind(), ev.cookie()),
            (0, Kind::Timer, 2)
        );
        assert!(ev.error().is_none());
        // Its request has the settings, not the time.
        let r = ev.request();
        assert_eq!((r.raw().event, r.raw().ret_data), (t.raw().event, [0, 0]));
        assert_eq!(
            r.timer_spec().map(|s| s.first),
            Some(FirstExpiry::At(Duration::ZERO))
        );
        // An expiry.
        let fired = Ukevent {
            ret_flags: sys::KEVENT_RET_DONE,
            ret_data: [3, 0],
            ..canceled
        };
        assert!(!Event(&fired).timer_canceled());
        assert_eq!(Event(&fired).expirations(), 3);
        // The bit means nothing for another kind.
        let user = Ukevent {
            type_: sys::KEVENT_USER,
            ..canceled
        };
        assert!(!Event(&user).timer_canceled());
    }

    #[test]
    fn builders_set_flags_and_identity() {
        let r = Request::user(3).oneshot().edge_triggered().with_cookie(9);
        assert_eq!(
            r.raw().req_flags,
            sys::KEVENT_REQ_ONESHOT | sys::KEVENT_REQ_ET
        );
        assert_eq!(
            (r.raw().id, r.raw().type_, r.cookie()),
            ([3, 0], sys::KEVENT_USER, 9)
        );
        let (rd, _wr) = std::io::pipe().unwrap();
        let p = Request::poll(&rd, Interest::IN | Interest::HUP);
        assert_eq!(p.raw().id, [rd.as_fd().as_raw_fd() as u32, 0]);
        assert_eq!(p.raw().event, 0x11);
        assert_eq!(p.kind(), Kind::Poll);
    }

    #[test]
    fn inode_requests_name_the_fd_and_carry_the_bits() {
        let (rd, _wr) = std::io::pipe().unwrap();
        let r = Request::inode(&rd, InodeEvents::WRITE | InodeEvents::ATTRIB)
            .oneshot()
            .with_cookie(4);
        assert_eq!(
            (r.raw().id, r.raw().type_, r.raw().event),
            ([rd.as_fd().as_raw_fd() as u32, 0], sys::KEVENT_INODE, 0xc)
        );
        assert_eq!((r.kind(), r.cookie()), (Kind::Inode, 4));
        assert_eq!(r.raw().req_flags, sys::KEVENT_REQ_ONESHOT);
        // Not validated here: the kernel refuses an empty set.
        assert_eq!(Request::inode(&rd, InodeEvents::empty()).raw().event, 0);
    }

    #[test]
    fn inode_events_decode_bits_count_and_end() {
        let uk = Ukevent {
            id: [5, 0],
            type_: sys::KEVENT_INODE,
            event: sys::KEVENT_INODE_WRITE,
            ret_flags: sys::KEVENT_RET_DONE,
            ret_data: [sys::KEVENT_INODE_WRITE | sys::KEVENT_INODE_UNMOUNT, 3],
            ..Default::default()
        };
        let ev = Event(&uk);
        let want = InodeChange {
            events: InodeEvents::WRITE | InodeEvents::UNMOUNT,
            count: 3,
            ended: false,
        };
        assert_eq!(ev.inode(), Some(want));
        assert_eq!(
            (ev.kind(), ev.fd(), ev.socket()),
            (Kind::Inode, Some(5), None)
        );
        assert!(ev.error().is_none());
        // The end of a watch it did not ask about: no bits, no count.
        let end = Ukevent {
            ret_flags: sys::KEVENT_RET_DONE | sys::KEVENT_RET_EOF,
            ret_data: [0, 0],
            ..uk
        };
        let c = Event(&end).inode().unwrap();
        assert!(c.ended && c.events.is_empty() && c.count == 0, "{c:?}");
        // Saturated.
        let many = Ukevent {
            ret_data: [sys::KEVENT_INODE_WRITE, u32::MAX],
            ..uk
        };
        assert_eq!(Event(&many).inode().map(|c| c.count), Some(u32::MAX));
        // Another kind has none.
        let poll = Ukevent {
            type_: sys::KEVENT_POLL,
            ..uk
        };
        assert_eq!(Event(&poll).inode(), None);
    }

    #[test]
    fn inode_events_debug_and_from_bits() {
        let all = InodeEvents::all();
        assert_eq!(
            format!("{all:?}"),
            "CREATE|REMOVE|WRITE|ATTRIB|CLOSE_WRITE|MOVED_FROM|MOVED_TO|DELETE_SELF|MOVE_SELF|UNMOUNT"
        );
        assert_eq!(InodeEvents::from_bits(0x3ff), Some(all));
        assert_eq!(InodeEvents::from_bits(0x3ff | 0x400), None);
        assert_eq!(
            format!("{:?}", InodeEvents(0x200 | 0x8000)),
            "UNMOUNT|0x8000"
        );
        let mut e = InodeEvents::empty();
        assert!(e.is_empty() && all.contains(e));
        e |= InodeEvents::MOVED_FROM;
        e |= InodeEvents::MOVED_TO;
        assert_eq!(e.bits(), 0x60);
        assert!(!e.contains(InodeEvents::MOVED_FROM | InodeEvents::CREATE));
    }

    #[test]
    fn results_decode_done_and_broken() {
        let mut uk = Ukevent::default();
        assert!(entry_result(&uk).is_none());
        uk.ret_flags = sys::KEVENT_RET_DONE;
        assert!(entry_result(&uk).unwrap().is_ok());
        uk.ret_flags |= sys::KEVENT_RET_BROKEN;
        uk.ret_data[1] = libc::EEXIST as u32;
        let e = entry_result(&uk).unwrap().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        let ev = Event(&uk);
        assert_eq!(
            ev.error().and_then(|e| e.raw_os_error()),
            Some(libc::EEXIST)
        );
        assert_eq!(ev.request().raw().ret_flags, 0);
    }

    #[test]
    fn interest_debug_names_unknown_bits() {
        assert_eq!(format!("{:?}", Interest::empty()), "0x0");
        assert_eq!(format!("{:?}", Interest(0x1 | 0x8000)), "IN|0x8000");
        assert_eq!(
            Interest::from_bits(0x1000).map(Interest::bits),
            Some(0x1000)
        );
    }

    #[test]
    fn sigset_is_the_kernels_bit_layout() {
        let mut s = SigSet::empty();
        s.insert(1).unwrap();
        s.insert(libc::SIGUSR1).unwrap();
        s.insert(64).unwrap();
        // Signal n is bit n - 1 of 64, in unsigned longs, lowest first.
        let bits = <libc::c_ulong>::BITS;
        let joined =
            s.0.sig
                .iter()
                .rev()
                .fold(0u128, |acc, &w| acc << bits | u128::from(w));
        assert_eq!(joined, 1 | 1 << (libc::SIGUSR1 - 1) | 1 << 63);
        assert_eq!(s.iter().collect::<Vec<_>>(), [1, libc::SIGUSR1, 64]);
        assert_eq!(format!("{s:?}"), format!("{{1, {}, 64}}", libc::SIGUSR1));
        s.remove(64).unwrap();
        assert!(!s.contains(64) && !s.contains(0) && !s.contains(-3));
        assert_eq!(
            s.remove(65).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(SigSet::full().iter().count(), 64);
    }

    #[test]
    fn wait_with_sigmask_checks_its_buffer_first() {
        // A pipe is no queue, but the buffer is refused before any ioctl.
        let (r, _w) = std::io::pipe().unwrap();
        let q = Queue::from(OwnedFd::from(r));
        let mask = SigSet::empty();
        let mut none = Events::with_capacity(0);
        let e = q.wait_with_sigmask(0, &mut none, None, &mask).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let mut ev = Events::with_capacity(2);
        let e = q.wait_with_sigmask(3, &mut ev, None, &mask).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        // Then the kernel: not a kevent queue.
        let e = q.wait_with_sigmask(1, &mut ev, Some(Duration::ZERO), &mask);
        assert_eq!(e.unwrap_err().raw_os_error(), Some(libc::ENOTTY));
    }

    /// The kernel's side of a ring, played by a test on a file mapped as
    /// a queue's ring is: it writes the shared words and entries with
    /// `write_at`, which the mapping sees.
    struct FakeKernel(std::fs::File);

    impl FakeKernel {
        fn put_u32(&self, offset: usize, v: u32) {
            use std::os::unix::fs::FileExt;
            self.0
                .write_all_at(&v.to_ne_bytes(), offset as u64)
                .unwrap();
        }

        fn get_u32(&self, offset: usize) -> u32 {
            use std::os::unix::fs::FileExt;
            let mut b = [0; 4];
            self.0.read_exact_at(&mut b, offset as u64).unwrap();
            u32::from_ne_bytes(b)
        }

        fn tail(&self, tail: u32) {
            self.put_u32(64, tail);
        }

        fn flags(&self, flags: u32) {
            self.put_u32(72, flags);
        }

        fn head(&self) -> u32 {
            self.get_u32(0)
        }

        fn write(&self, entries: u32, i: u32, e: &sys::RingEntry) {
            use std::os::unix::fs::FileExt;
            let mut b = Vec::new();
            for w in [
                e.id[0],
                e.id[1],
                e.type_,
                e.ret_flags,
                e.ret_data[0],
                e.ret_data[1],
            ] {
                b.extend_from_slice(&w.to_ne_bytes());
            }
            b.extend_from_slice(&e.user.to_ne_bytes());
            let off = sys::RING_ENTRIES_OFFSET + (i & (entries - 1)) as usize * 32;
            self.0.write_all_at(&b, off as u64).unwrap();
        }
    }

    /// A file laid out as a ring with `head` and `tail` at `start`, `size`
    /// bytes long, its mask `mask`.
    fn fake_file(start: u32, size: usize, mask: u32) -> FakeKernel {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "kevent-ring-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file.set_len(size as u64).unwrap();
        let k = FakeKernel(file);
        k.put_u32(0, start);
        k.tail(start);
        k.put_u32(68, mask);
        k
    }

    fn fake_ring(entries: u32, start: u32) -> (Ring, FakeKernel) {
        let size = sys::ring_bytes(entries).next_multiple_of(4096);
        let k = fake_file(start, size, entries - 1);
        let map = sys::RingMap::map(k.0.as_fd(), size as u32, entries).unwrap();
        (Ring::with_map(map), k)
    }

    fn user_entry(id: u32, payload: u32) -> sys::RingEntry {
        sys::RingEntry {
            id: [id, 0],
            type_: sys::KEVENT_USER,
            ret_flags: sys::KEVENT_RET_DONE,
            ret_data: [payload, 0],
            user: u64::from(id) << 32 | 7,
        }
    }

    #[test]
    fn ring_reads_between_head_and_tail_and_frees_what_it_read() {
        let (mut ring, k) = fake_ring(4, 0);
        assert_eq!((ring.entries(), ring.mapped_bytes()), (4, 4096));
        assert_eq!(ring.ready().unwrap(), 0);
        assert_eq!(ring.drain(|_| panic!("an empty ring")).unwrap(), 0);
        for i in 0..3 {
            k.write(4, i, &user_entry(i + 1, 10 * i));
        }
        // Not published yet.
        assert_eq!(ring.ready().unwrap(), 0);
        k.tail(3);
        assert_eq!(ring.ready().unwrap(), 3);
        // Two read: head moves by two when the iterator goes.
        let mut it = ring.events().unwrap();
        assert_eq!(it.len(), 3);
        let a = it.next().unwrap();
        let b = it.next().unwrap();
        assert_eq!(it.len(), 1);
        drop(it);
        assert_eq!(k.head(), 2);
        assert_eq!(
            (a.id(), a.payload(), a.cookie()),
            ([1, 0], [0, 0], 1 << 32 | 7)
        );
        assert_eq!((b.kind(), b.payload()), (Kind::User, [10, 0]));
        assert_eq!(a.raw(), user_entry(1, 0));
        assert_eq!(ring.ready().unwrap(), 1);
        // The entries written after `events` wait for the next read.
        let mut seen = Vec::new();
        let mut it = ring.events().unwrap();
        k.write(4, 3, &user_entry(4, 30));
        k.tail(4);
        seen.extend(it.by_ref().map(|e| e.id()[0]));
        drop(it);
        assert_eq!((seen, k.head()), (vec![3], 3));
        let n = ring.drain(|e| assert_eq!(e.id(), [4, 0])).unwrap();
        assert_eq!((n, k.head(), ring.ready().unwrap()), (1, 4, 0));
        assert!(!ring.backlog());
        k.flags(sys::KEVENT_RING_BACKLOG);
        assert!(ring.backlog());
        let dbg = format!("{ring:?}");
        assert!(
            dbg.contains("head: 4") && dbg.contains("backlog: true"),
            "{dbg}"
        );
    }

    #[test]
    fn ring_wraps_around_its_slots_and_its_counters() {
        // Slots wrap every 4 entries; the counters at u32::MAX.
        for start in [0, u32::MAX - 5] {
            let (mut ring, k) = fake_ring(4, start);
            let mut next = 0u32;
            let mut tail = start;
            for round in 0..20u32 {
                let n = 1 + round % 4;
                for _ in 0..n {
                    k.write(4, tail, &user_entry(next, round));
                    tail = tail.wrapping_add(1);
                    next += 1;
                }
                k.tail(tail);
                assert_eq!(ring.ready().unwrap(), n as usize);
                let mut got = Vec::new();
                ring.drain(|e| got.push((e.id()[0], e.payload()[0])))
                    .unwrap();
                let want: Vec<(u32, u32)> = (next - n..next).map(|i| (i, round)).collect();
                assert_eq!(got, want, "start {start} round {round}");
                assert_eq!(k.head(), tail);
            }
        }
    }

    #[test]
    fn ring_refuses_a_tail_out_of_bounds_and_reads_nothing() {
        let (mut ring, k) = fake_ring(4, 10);
        // Five past head in a ring of four; then behind head.
        for tail in [15, 9, 10 + u32::MAX / 2] {
            k.tail(tail);
            for e in [
                ring.ready().unwrap_err(),
                ring.events().unwrap_err(),
                ring.drain(|_| panic!("read past the bounds")).unwrap_err(),
            ] {
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
            }
            assert_eq!(k.head(), 10);
        }
        // A full ring is fine.
        k.tail(14);
        assert_eq!(ring.drain(|_| {}).unwrap(), 4);
        assert_eq!(k.head(), 14);
    }

    #[test]
    fn ring_mapping_checks_what_the_kernel_said() {
        let size = 4096;
        let map = |k: &FakeKernel, size: u32, entries: u32| {
            sys::RingMap::map(k.0.as_fd(), size, entries).map(|m| m.entries())
        };
        let k = fake_file(0, size, 7);
        assert_eq!(map(&k, size as u32, 8).unwrap(), 8);
        // Not a size of the ABI: refused before mapping.
        for entries in [0, 1, 3, 12, 65536] {
            let e = map(&k, size as u32, entries).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{entries}");
        }
        // A size too small for the entries, and a mask that is not theirs.
        let e = map(&k, 128 + 7 * 32, 8).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let e = map(&k, size as u32, 4).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("mask"), "{e}");
        // The kernel's rounding is mapped whole: the largest ring.
        let big = sys::ring_bytes(Ring::MAX_ENTRIES);
        assert_eq!(big, 128 + 32768 * 32);
        let k = fake_file(0, big + 4096, Ring::MAX_ENTRIES - 1);
        let m = sys::RingMap::map(k.0.as_fd(), (big + 4096) as u32, Ring::MAX_ENTRIES).unwrap();
        assert_eq!(m.len(), big + 4096);
        assert_eq!(m.entry(u32::MAX), sys::RingEntry::default());
    }

    #[test]
    fn ring_events_decode_as_delivered_events_do() {
        let (rd, _wr) = std::io::pipe().unwrap();
        let fd = rd.as_fd().as_raw_fd() as u32;
        let entries = [
            (sys::KEVENT_USER, [3, 0], 0, [5, 6]),
            (sys::KEVENT_POLL, [fd, 0], 0, [0x11, 0]),
            (
                sys::KEVENT_TIMER,
                [100, 0],
                sys::KEVENT_RET_CANCELED,
                [2, 0],
            ),
            (sys::KEVENT_INODE, [fd, 0], sys::KEVENT_RET_EOF, [0x84, 1]),
            (
                sys::KEVENT_SOCKET,
                [fd, 64],
                sys::KEVENT_RET_EOF,
                [100, 104],
            ),
            (sys::KEVENT_USER, [1, 0], sys::KEVENT_RET_BROKEN, [0, 2]),
            (42, [1, 2], 0, [3, 4]),
        ];
        for (type_, id, flags, ret_data) in entries {
            let raw = sys::RingEntry {
                id,
                type_,
                ret_flags: sys::KEVENT_RET_DONE | flags,
                ret_data,
                user: 0xdead_beef_0000_0001,
            };
            let r = RingEvent::from(raw);
            assert_eq!(r.raw(), raw);
            // The same event as get-events would deliver it.
            let uk = Ukevent {
                id,
                type_,
                event: sys::KEVENT_SOCKET_SEND,
                req_flags: sys::KEVENT_REQ_ET,
                ret_flags: raw.ret_flags,
                ret_data,
                user: raw.user,
            };
            let e = Event(&uk);
            assert_eq!(
                (r.kind(), r.id(), r.cookie()),
                (e.kind(), e.id(), e.cookie())
            );
            assert_eq!(
                (r.fd(), r.inode(), r.fired()),
                (e.fd(), e.inode(), e.fired())
            );
            assert_eq!(
                (r.expirations(), r.timer_canceled(), r.payload()),
                (e.expirations(), e.timer_canceled(), e.payload())
            );
            assert_eq!(
                r.error().map(|e| e.raw_os_error()),
                e.error().map(|e| e.raw_os_error())
            );
            assert_eq!(r.socket(Direction::Send), e.socket());
            // The identity, without the settings the entry lacks.
            let req = r.request();
            assert_eq!(Ident3::of(req.raw()), Ident3::of(&uk));
            assert_eq!((req.raw().event, req.raw().req_flags), (0, 0));
            assert_eq!((req.raw().ret_flags, req.raw().ret_data), (0, [0, 0]));
        }
        let sock = RingEvent::from(sys::RingEntry {
            type_: sys::KEVENT_SOCKET,
            ret_data: [9, 0],
            ..Default::default()
        });
        let s = sock.socket(Direction::Recv).unwrap();
        assert_eq!(
            (s.direction, s.amount, s.eof, s.error),
            (Direction::Recv, 9, false, None)
        );
        assert!(RingEvent::from(user_entry(1, 1))
            .socket(Direction::Recv)
            .is_none());
    }

    /// A request's identity, for comparisons.
    #[derive(Debug, PartialEq)]
    struct Ident3([u32; 2], u32, u64);

    impl Ident3 {
        fn of(uk: &Ukevent) -> Ident3 {
            Ident3(uk.id, uk.type_, uk.user)
        }
    }

    #[test]
    fn ring_calls_on_another_file_are_enotty() {
        let (r, _w) = std::io::pipe().unwrap();
        let q = Queue::from(OwnedFd::from(r));
        let e = Ring::new(&q, 8).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
        let (ring, _k) = fake_ring(4, 0);
        let e = ring.wait(&q, 0, 4, Some(Duration::ZERO)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
        let e = ring
            .wait_with_sigmask(&q, 1, 4, None, &SigSet::empty())
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
        // What the ABI cannot carry is refused before the kernel.
        let e = ring
            .wait(&q, u32::MAX as usize + 1, usize::MAX, None)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn ring_is_send_and_sync() {
        fn both<T: Send + Sync>() {}
        both::<Ring>();
        both::<RingEvent>();
    }

    #[test]
    fn events_start_empty_and_keep_their_room() {
        let mut ev = Events::with_capacity(3);
        assert_eq!(ev.capacity(), 3);
        assert!(ev.is_empty() && ev.get(0).is_none());
        ev.clear();
        assert_eq!(ev.as_raw().len(), 0);
    }
}
