// SPDX-License-Identifier: GPL-2.0

//! Watched files: the one reference kevent holds to each file that
//! `KEVENT_POLL` requests watch, and how it notices that the file was
//! closed.
//!
//! epoll holds no reference to the files it watches: `__fput` calls
//! `eventpoll_release`, which removes them. That hook is built into the
//! kernel; a module gets no call when a descriptor is closed. So kevent
//! must hold a reference (the file's wait queues must outlive its hooks),
//! and a reference alone would keep a closed file open, and any cycle of
//! files through it (a queue in flight in a socket it watches) alive
//! forever.
//!
//! Instead every watched `struct file` has one [`Watch`], shared by all
//! requests on it in every queue, and the watch's reference is the only one
//! the module holds. "Every descriptor is closed" is then an observable
//! state: the watch holds the file's only reference. It is looked at when
//! the file wakes a request, when a request is collected or named by ctl,
//! and by a sweep that runs every [`SWEEP_INTERVAL_NS`] while anything is
//! watched. A closed file's requests are then removed silently, as epoll
//! removes them, and the file is released.
//!
//! Each run of the sweep goes on with its round of the table, at most
//! `sweep_batch` watches a run (see [`sweep_batch`]), so the more files are
//! watched, the longer a round takes, for every user. So that one user
//! cannot make another wait that long, each run first takes a lane: each
//! user's watched files in turn, at most [`LANE_USER`] + 1 a turn, and at
//! most [`LANE_BATCH`] in all. The table is ordered by the (real) user who
//! opened each file, then by address, which puts each user's files
//! together. While few users have watched files, one whose opened files
//! that are watched are at most [`LANE_USER`] sees a closed one let go of
//! within a run or two, however many the others have; with many such
//! users, a lap of the lane takes a run per [`LANE_BATCH`] of their
//! visits. A user whose watched files are more shares the round.
//!
//! TCP, UDP and unix sockets are the exception: kevent holds a watched
//! socket's inode, not its file (`sys/socket.rs`, `SocketHold`). A file
//! reference would keep a closed socket open until the sweep came by (a
//! TCP peer would wait that long for the FIN), and would count for the
//! unix GC as one from outside, so a cycle of unix sockets in flight in
//! each other's receive queues would never be freed while kevent watched
//! one of them. The socket's file is then released when the last
//! descriptor goes, as if nothing watched it (the peer sees the close at
//! once), and "closed" is that release.

use crate::queue::Queue;
use crate::request::Request;
use crate::sys::{
    file::{FileExt, FileRef, FileUse},
    rbtree::{impl_has_rb_links, RbItem, RbLinks, RbTree},
    socket::{self, SocketHold},
};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    prelude::*,
    sync::{Arc, LockedBy, Mutex},
};

/// Where a watch sits in the table: with the other files its opener's user
/// opened (for the sweep's lane), then by the file's address (the socket's
/// for a held socket). Neither changes while the file exists.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct WatchKey {
    uid: u32,
    addr: usize,
}

impl WatchKey {
    /// The first key of `uid`'s files.
    fn first_of(uid: u32) -> Self {
        Self { uid, addr: 0 }
    }

    fn uid(self) -> u32 {
        self.uid
    }

    /// The next key after this one.
    fn after(self) -> Self {
        Self {
            uid: self.uid,
            addr: self.addr.wrapping_add(1),
        }
    }
}

/// How often the sweep looks for closed files while any file is watched.
pub(crate) const SWEEP_INTERVAL_NS: i64 = 50_000_000;

/// The most watches one sweep run visits in its round of the table (module
/// parameter `sweep_batch`; 0 means [`SWEEP_BATCH_DEFAULT`], more than
/// [`SWEEP_BATCH_MAX`] that): bounds the work of a run, so a large number
/// of watches costs more runs, never a long one.
pub(crate) static SWEEP_BATCH: AtomicU32 = AtomicU32::new(SWEEP_BATCH_DEFAULT);

/// The default of `sweep_batch`.
pub(crate) const SWEEP_BATCH_DEFAULT: u32 = 1024;

/// The most `sweep_batch` may be: a run holds the table's mutex, which
/// every ADD of a file needs, while it visits.
const SWEEP_BATCH_MAX: u32 = 65536;

/// The watches one run visits in its round (see [`SWEEP_BATCH`]).
fn sweep_batch() -> usize {
    match SWEEP_BATCH.load(Ordering::Relaxed) {
        0 => SWEEP_BATCH_DEFAULT as usize,
        n => n.min(SWEEP_BATCH_MAX) as usize,
    }
}

/// The most watches one sweep run visits in its lane.
const LANE_BATCH: usize = 512;

/// A user with more watched files than this can run out of its turn in
/// the lane, and shares the round with everyone.
const LANE_USER: usize = 64;

/// The tree of a watch's requests, beyond its first (the request links of
/// `Request::watch_links`).
pub(crate) const OTHERS: u64 = 1;

/// What a watch holds of its file.
enum Held {
    File(FileRef),
    /// A socket of a known family: the socket, not the file (see
    /// [`SocketHold`]).
    Socket(SocketHold),
}

/// kevent's reference to a watched file, and its place in the
/// [`WatchTable`] (one allocation per watched file).
#[pin_data]
pub(crate) struct Watch {
    held: Held,
    /// Identifies the file in the table.
    key: WatchKey,
    /// The queue behind the file, if it is a kevent queue.
    queue: Option<Arc<Queue>>,
    /// Whether the file is an epoll instance (see [`Watch::wake_depth`]).
    epoll: bool,
    /// The requests on the file and the ADDs in progress. It holds
    /// references to the requests, which hold the watch: requests leave it
    /// when they leave their queues (`WatchTable::detach`), or all at once
    /// when the sweep finds the file closed.
    requests: LockedBy<Slot, WatchTable>,
    #[pin]
    links: RbLinks,
}

impl_has_rb_links!(Watch, links);

impl RbItem for Watch {
    type Key = WatchKey;

    fn rb_key(&self) -> WatchKey {
        self.key
    }
}

impl Watch {
    /// The file for the length of a use; `None` once a held socket's file
    /// is released (any other file is held by the watch).
    #[inline]
    pub(crate) fn file(&self) -> Option<FileUse<'_>> {
        match &self.held {
            Held::File(file) => Some(FileUse::borrowed(file.file())),
            Held::Socket(socket) => socket.file().map(FileUse::taken),
        }
    }

    /// The kevent queue this watch watches, if it watches one.
    pub(crate) fn queue(&self) -> Option<&Arc<Queue>> {
        self.queue.as_ref()
    }

    /// Whether every other reference to the file is gone: its requests are
    /// to be removed, and nobody can name the file again. Any context.
    pub(crate) fn is_closed(&self) -> bool {
        match &self.held {
            Held::File(file) => file.is_only_reference(),
            Held::Socket(socket) => socket.is_released(),
        }
    }

    /// How deep inside other queues' wake-ups a wake-up from this file
    /// runs, for the lockdep subclass of the woken queue's poller lock: one
    /// more than the watched queue's own depth, 0 for any other file.
    ///
    /// `None` for an epoll instance: its wake-ups are passed on from a work
    /// item, never under its lock. epoll cannot see a loop that runs
    /// through a kevent queue, so an epoll instance watching a queue that
    /// watches it is allowed, and waking under its lock could come back to
    /// the same lock.
    pub(crate) fn wake_depth(&self) -> Option<u32> {
        match &self.queue {
            _ if self.epoll => None,
            Some(queue) => Some(queue.wake_depth() + 1),
            None => Some(0),
        }
    }

    /// Whether the sweep may take the watch out: its file is closed, and no
    /// ADD in progress holds it (the sweep after that ADD finds the file if
    /// it is closed).
    fn sweep_finds_closed(&self, table: &WatchTable) -> bool {
        self.requests.access(table).adders == 0 && self.is_closed()
    }
}

/// The requests on a watched file. Most files have one, kept in `first`;
/// the others are in a tree by address, linked through the requests.
#[derive(Default)]
struct Slot {
    first: Option<Arc<Request>>,
    others: RbTree<Request, OTHERS>,
    /// Whether `first` is taken, or promised to an ADD in progress.
    first_claimed: bool,
    /// ADDs that hold the watch but have not attached their request yet.
    adders: usize,
}

impl Slot {
    fn is_unused(&self) -> bool {
        self.adders == 0 && !self.first_claimed && self.others.is_empty()
    }
}

/// Every watched file of the device, by [`WatchKey`]: each has exactly one
/// watch while any request uses it.
pub(crate) struct WatchTable {
    files: RbTree<Watch>,
    /// Where the sweep's round goes on: the next key to visit.
    cursor: WatchKey,
    /// The user whose turn in the sweep's lane is next (or the next one
    /// after it with watched files); past the last uid once the last user
    /// has had its turn.
    lane_uid: u64,
}

/// What one run of the sweep may still do.
pub(crate) struct SweepRun {
    /// Visits left for the lane, and for the round.
    lane: usize,
    round: usize,
    /// Where the lane started in this run (`WatchTable::lane_uid`), and
    /// whether it has passed the last user and started again from the
    /// first.
    lane_start: Option<u64>,
    lane_wrapped: bool,
    /// The turn of the user the lane is at: where it goes on, and the
    /// visits left of it.
    turn: Option<(WatchKey, usize)>,
    lane_done: bool,
}

impl SweepRun {
    pub(crate) fn new() -> Self {
        Self {
            lane: LANE_BATCH,
            round: sweep_batch(),
            lane_start: None,
            lane_wrapped: false,
            turn: None,
            lane_done: false,
        }
    }
}

/// A watch held by an ADD: attached to its request by
/// [`WatchTable::attach`], or given back when dropped unattached (a failed
/// ADD), so that its slot counts no adder that is gone.
pub(crate) struct PendingWatch<'a> {
    table: &'a Mutex<WatchTable>,
    watch: Option<Arc<Watch>>,
    /// Whether the request goes to the slot's `first`, claimed for this
    /// ADD, or to `others`.
    first: bool,
}

impl PendingWatch<'_> {
    pub(crate) fn watch(&self) -> Option<&Arc<Watch>> {
        self.watch.as_ref()
    }
}

impl Drop for PendingWatch<'_> {
    fn drop(&mut self) {
        if let Some(watch) = self.watch.take() {
            let unused = self.table.lock().abandon(&watch, self.first);
            // The file is released (if this was the last use) unlocked.
            drop((watch, unused));
        }
    }
}

/// Takes a watch of `file` for an ADD: the file's watch, made if it has
/// none, and whether it is new. The ADD's reference to the file is dropped
/// if the file has a watch.
///
/// The new watch is made first, without the table's mutex, which every
/// user's ADD of a file, REMOVE and the sweep take: an allocation may wait
/// for reclaim in the caller's memory cgroup, and only the caller is to
/// wait for that. A file that has a watch already (a second request on
/// it) then costs an allocation for nothing; a new file, the common case,
/// costs one hold of the mutex and one walk of the table, as it did when
/// the watch was made under the mutex.
pub(crate) fn watch_file(
    table: &Mutex<WatchTable>,
    file: FileRef,
) -> Result<(PendingWatch<'_>, bool)> {
    let socket = socket::held_socket(file.file());
    let key = WatchKey {
        uid: file.file().opener_uid(),
        addr: socket
            .as_ref()
            .map_or(file.file().as_ptr() as usize, socket::HeldSocket::key),
    };
    let queue = crate::device::queue_of(file.file());
    let epoll = file.file().is_epoll();
    let held = match socket {
        None => Held::File(file),
        // The ADD's reference goes: the hold keeps the socket.
        Some(socket) => Held::Socket(SocketHold::new(socket)?),
    };
    // Not named `slot`, which 7.2's `pin_init!` binds itself.
    let claimed = Slot {
        first_claimed: true,
        adders: 1,
        ..Slot::default()
    };
    let made = Arc::pin_init(
        pin_init!(Watch {
            held,
            key,
            queue,
            epoll,
            requests: LockedBy::new(table, claimed),
            links <- RbLinks::new(),
        }),
        GFP_KERNEL_ACCOUNT,
    )?;
    let entered = table.lock().enter(&key, &made);
    let (watch, first) = entered.ok_or(EEXIST)?;
    let new = Arc::ptr_eq(&watch, &made);
    // Unless it went into the table, the new watch goes here, and with it
    // the ADD's reference to the file, unlocked.
    drop(made);
    Ok((
        PendingWatch {
            table,
            watch: Some(watch),
            first,
        },
        new,
    ))
}

/// The requests of a closed file, taken out of the table by the sweep.
pub(crate) struct ClosedFile {
    first: Option<Arc<Request>>,
    others: RbTree<Request, OTHERS>,
    _watch: Arc<Watch>,
}

impl ClosedFile {
    /// Takes the next of the file's requests, to be taken out of its queue.
    pub(crate) fn take_request(&mut self) -> Option<Arc<Request>> {
        self.first.take().or_else(|| self.others.pop_first())
    }
}

impl WatchTable {
    pub(crate) fn new() -> Self {
        Self {
            files: RbTree::new(),
            cursor: WatchKey::first_of(0),
            lane_uid: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Claims the watch with `key` for an ADD, or, without one, puts
    /// `made` (a new watch of that key, claimed for its ADD) in its place.
    /// Counts the caller as an adder; returns the watch and whether the
    /// slot's `first` is claimed for the caller (`None`: the insert failed,
    /// which a vacant key rules out).
    fn enter(&mut self, key: &WatchKey, made: &Arc<Watch>) -> Option<(Arc<Watch>, bool)> {
        let vacancy = match self.files.vacancy(key) {
            Ok(vacancy) => vacancy,
            Err(found) => {
                let watch = Arc::<Watch>::from(found);
                let slot = watch.requests.access_mut(self);
                slot.adders += 1;
                let first = !slot.first_claimed;
                slot.first_claimed = true;
                return Some((watch, first));
            }
        };
        self.files.insert_at(vacancy, made.clone()).ok()?;
        Some((made.clone(), true))
    }

    /// Records `req` as a request on the watch `pending` holds (call with
    /// the table locked by `self`).
    pub(crate) fn attach(&mut self, pending: &mut PendingWatch<'_>, req: Arc<Request>) {
        let Some(watch) = pending.watch.take() else {
            return;
        };
        let slot = watch.requests.access_mut(self);
        slot.adders -= 1;
        if pending.first {
            // Claimed for this ADD, so empty.
            slot.first = Some(req);
        } else if slot.others.insert(req).is_err() {
            // A request is attached once, when it is added.
            kernel::pr_warn!("kevent: a request was attached to its watch twice\n");
        }
    }

    /// An adder gives `watch` back unused (with its claim of `first`);
    /// returns the watch if its file has no other use, to be dropped
    /// unlocked.
    fn abandon(&mut self, watch: &Watch, first: bool) -> Option<Arc<Watch>> {
        let slot = watch.requests.access_mut(self);
        slot.adders -= 1;
        if first {
            slot.first_claimed = false;
        }
        self.remove_if_unused(watch)
    }

    /// Forgets `req`, which is leaving its queue. Returns the watch if the
    /// file has no requests left, for the caller to drop after unlocking.
    /// (A watch the sweep took out has lent its requests to the sweep:
    /// there is nothing to forget.)
    pub(crate) fn detach(&mut self, watch: &Watch, req: &Request) -> Option<Arc<Watch>> {
        let slot = watch.requests.access_mut(self);
        if slot
            .first
            .as_deref()
            .is_some_and(|first| core::ptr::eq::<Request>(first, req))
        {
            slot.first = None;
            slot.first_claimed = false;
        } else {
            drop(slot.others.remove_item(req));
        }
        self.remove_if_unused(watch)
    }

    /// Takes `watch` out of the table if nothing uses it (and it is in the
    /// table: the sweep may have taken it out).
    fn remove_if_unused(&mut self, watch: &Watch) -> Option<Arc<Watch>> {
        if !watch.requests.access_mut(self).is_unused() {
            return None;
        }
        self.files.remove_item(watch)
    }

    /// The sweep: takes out the next watch whose file is closed, first in
    /// the lane, then in the round. `None` when the run is over.
    pub(crate) fn take_closed(&mut self, run: &mut SweepRun) -> Option<ClosedFile> {
        if !run.lane_done {
            match self.lane_closed(run) {
                Some(key) => return self.take_out(key),
                None => run.lane_done = true,
            }
        }
        let key = self.round_closed(&mut run.round)?;
        self.take_out(key)
    }

    /// The lane: from `lane_uid` on, each user's turn: up to
    /// [`LANE_USER`] + 1 of the files it opened (one more than a user with
    /// few files has, so that only a user with more can run out of its
    /// turn). Returns the key of the first closed file; `None` when the
    /// lane's visits are spent, or every user has had a turn in this run.
    fn lane_closed(&mut self, run: &mut SweepRun) -> Option<WatchKey> {
        while run.lane > 0 {
            let (from, left) = match run.turn.take() {
                Some(turn) => turn,
                None => (WatchKey::first_of(self.next_user(run)?), LANE_USER + 1),
            };
            let uid = from.uid();
            let budget = run.lane.min(left);
            let (visited, closed) = self.look_at_user(from, budget);
            // A step that finds nothing left of the user still costs a
            // visit: a run's work stays bounded.
            run.lane -= visited.max(1).min(run.lane);
            let left = left - visited;
            if let Some(key) = closed {
                // The turn goes on after the closed file at the next call;
                // a user cannot keep the lane by having files to take out.
                if left > 0 {
                    run.turn = Some((key.after(), left));
                } else {
                    self.pass_user(uid);
                }
                return Some(key);
            }
            // Out of visits before the user's turn was over: its turn
            // starts again at the next run.
            if visited == budget && budget < left + visited {
                return None;
            }
            self.pass_user(uid);
        }
        None
    }

    /// The user whose turn is next in this run: the first at or after
    /// `lane_uid` with watched files, once past the last starting again
    /// from the first. `None` once every user has had a turn in the run.
    fn next_user(&mut self, run: &mut SweepRun) -> Option<u32> {
        let start = *run.lane_start.get_or_insert(self.lane_uid);
        loop {
            let uid = u32::try_from(self.lane_uid).ok().and_then(|uid| {
                let first = self.files.iter_from(&WatchKey::first_of(uid)).next();
                first.map(|watch| watch.key.uid())
            });
            match uid {
                // Started again from the first user: up to where the run
                // began.
                Some(uid) if !run.lane_wrapped || u64::from(uid) < start => {
                    self.lane_uid = uid.into();
                    return Some(uid);
                }
                Some(_) => return None,
                None if run.lane_wrapped || start == 0 => {
                    self.lane_uid = 0;
                    return None;
                }
                None => {
                    run.lane_wrapped = true;
                    self.lane_uid = 0;
                }
            }
        }
    }

    /// `uid`'s turn is over: the next user's is next.
    fn pass_user(&mut self, uid: u32) {
        self.lane_uid = u64::from(uid) + 1;
    }

    /// Visits up to `budget` watches of the user of `from`, from `from` on,
    /// in order. Returns how many it visited and the key of the first
    /// closed file.
    fn look_at_user(&self, from: WatchKey, budget: usize) -> (usize, Option<WatchKey>) {
        let mut visited = 0;
        for watch in self.files.iter_from(&from) {
            if watch.key.uid() != from.uid() || visited == budget {
                break;
            }
            visited += 1;
            if watch.sweep_finds_closed(self) {
                return (visited, Some(watch.key));
            }
        }
        (visited, None)
    }

    /// The round: visits up to `*budget` watches after the cursor. Returns
    /// the key of the first closed file; `None` when the budget is spent
    /// or a round of the table is complete.
    fn round_closed(&mut self, budget: &mut usize) -> Option<WatchKey> {
        let start = WatchKey::first_of(0);
        // A run that starts past the last key starts again from the first.
        for _ in 0..2 {
            let (visited, next, closed) = self.look_from(self.cursor, *budget);
            *budget -= visited;
            if let Some(key) = closed {
                self.cursor = key.after();
                return Some(key);
            }
            if let Some(next) = next {
                self.cursor = next;
                return None;
            }
            let restart = visited == 0 && self.cursor != start;
            self.cursor = start;
            if !restart {
                return None;
            }
        }
        None
    }

    /// Visits up to `budget` watches from key `from` on, in order. Returns
    /// how many it visited, the key to go on from if the budget ran out
    /// first (`None` at the end of the table), and the key of the first
    /// closed file.
    fn look_from(
        &self,
        from: WatchKey,
        budget: usize,
    ) -> (usize, Option<WatchKey>, Option<WatchKey>) {
        let mut visited = 0;
        for watch in self.files.iter_from(&from) {
            if visited == budget {
                return (visited, Some(watch.key), None);
            }
            visited += 1;
            if watch.sweep_finds_closed(self) {
                return (visited, None, Some(watch.key));
            }
        }
        (visited, None, None)
    }

    /// Takes the watch of `key` out of the table, with its requests.
    fn take_out(&mut self, key: WatchKey) -> Option<ClosedFile> {
        let watch = self.files.remove(&key)?;
        let slot = watch.requests.access_mut(self);
        let first = slot.first.take();
        let others = core::mem::take(&mut slot.others);
        slot.first_claimed = false;
        Some(ClosedFile {
            first,
            others,
            _watch: watch,
        })
    }
}
