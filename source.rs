// SPDX-License-Identifier: GPL-2.0

//! Event sources: what makes a request ready, one module per type.
//!
//! The queue knows requests, identities, the ready list, waiting and
//! collection, and no type by name. A source owns its type's fields: their
//! validation, starting and stopping what fires (a timer, hooks in a file's
//! wait queues), whether its request is ready now, and what a delivery
//! writes back. The queue calls it through [`Kind`].
//!
//! A source sees its request only through [`Handle`], which it declares
//! and the queue's request implements: what a source may read of its
//! request and do to it. So the sources import nothing of the queue.

mod inode;
mod poll;
mod socket;
mod timer;
mod user;

/// The notification callback of a request's inode mark.
pub(crate) use inode::notified as inode_notified;
/// The hrtimer callback of a request's embedded timer, and its
/// cancel-on-set timer's when the clock was set.
pub(crate) use timer::{clock_was_set as timer_clock_set, fired as timer_fired};

use crate::defs::*;
use crate::sys::{
    clock::{ClockSetWatch, ClockSetWatcher},
    file::{File, FileUse},
    hrtimer::{Clock, HasHrTimer, TimerHandle},
    inode::{InodeMark, InodeWatcher},
    poll::{PollCallback, PollHooks},
};
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// What a source may read of its request and do to it.
///
/// A source is told of its request's own storage and callbacks through the
/// supertraits: the hrtimer and the first wait-queue hook are embedded in
/// the request, so that registering allocates no more for them.
pub(crate) trait Handle: HasHrTimer + PollCallback + InodeWatcher + ClockSetWatcher {
    /// `id` as registered: what it means is the source's.
    fn id(&self) -> [u32; 2];
    /// `event` and `req_flags` as registered or last modified.
    fn event(&self) -> u32;
    fn req_flags(&self) -> u32;
    /// The file the request watches, for a kind that watches one (see
    /// [`Kind::watched_fd`]), for the length of a use: the queue holds it,
    /// or holds the socket of a TCP, UDP or unix socket, whose file is
    /// `None` once it is released.
    fn file(&self) -> Option<FileUse<'_>>;
    /// The payload the last [`Handle::fire_with`] left.
    fn payload(&self) -> [u32; 2];
    /// The source fired `n` times: the request is queued and a waiter
    /// woken. Any context; never sleeps. (What `n` means is the kind's:
    /// [`Kind::merge`] adds it to what is pending.)
    fn fire(this: ArcBorrow<'_, Self>, n: u64);
    /// Fires once, leaving `payload` for the delivery to write back.
    fn fire_with(this: ArcBorrow<'_, Self>, payload: [u32; 2]);
}

/// What keeps a request's source running while it is registered; dropping
/// it stops the source (a timer is cancelled and its callback finished,
/// hooks leave the wait queues). It holds a reference to the request.
pub(crate) enum Running<R: Handle> {
    Stopped,
    /// A timer (`None` while MODIFY changes it), and what tells it of a
    /// setting of its clock.
    Timer {
        timer: Option<TimerHandle<R>>,
        clock_set: Option<ClockSetWatch<R>>,
    },
    /// Hooks in a file's wait queues, held for what their drop does.
    Hooked {
        _hooks: PollHooks<R>,
    },
    /// An inode's notifications, held for what its drop does.
    Watching {
        _mark: InodeMark<R>,
    },
}

/// A started source, and whether its request is ready already.
pub(crate) type Started<R> = (Running<R>, bool);

/// What collecting a ready request finds.
pub(crate) enum Delivery {
    /// Not ready after all (a level-triggered file that was drained).
    NotReady,
    /// An event carrying `ret_data`, and `ret_flags` besides
    /// `KEVENT_RET_DONE`. With `keep`, the request stays ready after the
    /// delivery (a level-triggered file is asked again next time); with
    /// `last`, it leaves the queue, as a one-shot request does (its source
    /// is gone: a deleted inode).
    Ready {
        ret_data: [u32; 2],
        ret_flags: u32,
        keep: bool,
        last: bool,
    },
}

/// An event known when its source fires (see [`Kind::at_wake`]).
pub(crate) struct WakeEvent {
    pub(crate) ret_data: [u32; 2],
    /// Besides `KEVENT_RET_DONE`.
    pub(crate) ret_flags: u32,
    /// The request's last event: it leaves the queue (a deleted inode).
    pub(crate) last: bool,
}

/// A request's type, as its source sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Socket,
    Inode,
    Timer,
    Poll,
    User,
}

impl Kind {
    /// The kind of `type_`: `EOPNOTSUPP` for a type take12 defined that
    /// this module does not implement, `EINVAL` for any other.
    pub(crate) fn of(type_: u32) -> Result<Self> {
        match type_ {
            KEVENT_SOCKET => Ok(Self::Socket),
            KEVENT_INODE => Ok(Self::Inode),
            KEVENT_TIMER => Ok(Self::Timer),
            KEVENT_POLL => Ok(Self::Poll),
            KEVENT_USER => Ok(Self::User),
            // take12's AIO types (NAIO, AIO).
            4 | 5 => Err(eopnotsupp()),
            _ => Err(EINVAL),
        }
    }

    /// Checks the fields of an ADD or MODIFY entry of this kind.
    pub(crate) fn validate(self, uk: &Ukevent) -> Result {
        if uk.req_flags & !KEVENT_REQ_ALL != 0 {
            return Err(EINVAL);
        }
        match self {
            Self::Socket => socket::validate(uk),
            Self::Inode => inode::validate(uk),
            Self::Timer => timer::validate(uk),
            Self::Poll => poll::validate(uk),
            Self::User => user::validate(uk),
        }
    }

    /// The fd whose file a request of this kind watches: the queue takes
    /// and holds the file (and notices it closed) before [`Kind::start`].
    /// An inode request watches the object, not the file: closing the fd
    /// does not end it, and holding the file would keep its file system
    /// busy.
    pub(crate) fn watched_fd(self, uk: &Ukevent) -> Option<u32> {
        match self {
            Self::Socket | Self::Poll => Some(uk.id[0]),
            Self::Inode | Self::Timer | Self::User => None,
        }
    }

    /// Checks the file a request of this kind is to watch, before anything
    /// is made for the request (`ENOTSOCK` for a socket request's file
    /// that is no socket).
    pub(crate) fn check_file(self, file: &File) -> Result {
        match self {
            Self::Socket => socket::check_file(file),
            Self::Inode | Self::Poll | Self::Timer | Self::User => Ok(()),
        }
    }

    /// The readiness bits of a watched file's wake-ups that concern a
    /// request with this `event` (others do not queue it).
    pub(crate) fn wake_mask(self, event: u32) -> u32 {
        match self {
            Self::Socket => socket::wake_mask(event),
            Self::Inode | Self::Poll | Self::Timer | Self::User => event,
        }
    }

    /// The clock of the embedded hrtimer of a request of this kind made
    /// by `uk`, if it uses one (setting one up costs an `hrtimer_init`,
    /// which a debug kernel's object tracking makes expensive).
    pub(crate) fn timer_clock(self, uk: &Ukevent) -> Option<Clock> {
        match self {
            Self::Timer => Some(timer::clock(uk.event)),
            Self::Socket | Self::Inode | Self::Poll | Self::User => None,
        }
    }

    /// Whether a request stays ready after its event is delivered, with
    /// nothing new (a level-triggered user event).
    pub(crate) fn stays_ready(self, req_flags: u32) -> bool {
        self == Self::User && req_flags & KEVENT_REQ_ET == 0
    }

    /// Whether a request is level-triggered: after a delivery it stays in
    /// line for as long as its file is ready (or, a user event, until it
    /// is reset). One-shot requests leave instead; timers and inode watches
    /// report each firing once.
    pub(crate) fn level_triggered(self, req_flags: u32) -> bool {
        // The flags first: an edge-triggered request is told by one test.
        req_flags & (KEVENT_REQ_ET | KEVENT_REQ_ONESHOT) == 0
            && matches!(self, Self::Poll | Self::Socket | Self::User)
    }

    /// Starts what makes `req` ready, which the queue has registered.
    /// Returns what keeps it running, and whether it is ready already.
    /// A source that fails leaves nothing running, but may have fired.
    pub(crate) fn start<R: Handle>(self, req: &Arc<R>) -> Result<Started<R>> {
        match self {
            Self::Socket => socket::start(req),
            Self::Inode => Ok((inode::start(req)?, false)),
            Self::Timer => Ok((timer::start(req, None)?, false)),
            Self::Poll => poll::start(req),
            Self::User => Ok((Running::Stopped, false)),
        }
    }

    /// MODIFY to `uk`, before the settings change: stops what must not
    /// fire on the old settings, having made what the new ones need (a
    /// failure changes nothing).
    pub(crate) fn pause<R: Handle>(
        self,
        req: &Arc<R>,
        running: &mut Running<R>,
        uk: &Ukevent,
    ) -> Result {
        if self == Self::Timer {
            timer::pause(req, running, uk)?;
        }
        Ok(())
    }

    /// MODIFY, after the settings changed: whether the request is ready
    /// now (`None`: as it was).
    pub(crate) fn ready_after_change<R: Handle>(self, req: &R) -> Result<Option<bool>> {
        match self {
            // An expiration of the old schedule is not one of the new.
            Self::Timer => Ok(Some(false)),
            Self::Poll => poll::is_ready_now(req).map(Some),
            Self::Socket => Ok(Some(socket::is_ready_now(req))),
            // What is pending is filtered by the new mask at delivery.
            Self::Inode | Self::User => Ok(None),
        }
    }

    /// MODIFY, last: starts again what [`Kind::pause`] stopped.
    pub(crate) fn resume<R: Handle>(self, req: &Arc<R>, running: &mut Running<R>) {
        if self == Self::Timer {
            timer::resume(req, running);
        }
    }

    /// Whether collecting `req` now would deliver an event (a file is
    /// asked; anything else that is in line is ready).
    pub(crate) fn is_ready_now<R: Handle>(self, req: &R) -> bool {
        match self {
            Self::Poll => poll::is_ready_now(req).unwrap_or(false),
            Self::Socket => socket::is_ready_now(req),
            Self::Inode | Self::Timer | Self::User => true,
        }
    }

    /// What collecting `req` delivers. `taken` is what it had pending
    /// (the times it fired), which the source may add to (expirations of
    /// a periodic timer it restarts now); `running` gives what keeps the
    /// source running, to a source that needs it. Call with interrupts on.
    // Inlined in the collection loop, as are the common sources': out of
    // line, the `Delivery` goes through memory (measured: 50 instructions
    // more per event at 64 events per call).
    #[inline(always)]
    pub(crate) fn deliver<'a, R: Handle>(
        self,
        req: &'a R,
        running: impl FnOnce() -> &'a mut Running<R>,
        taken: &mut u64,
    ) -> Delivery {
        match self {
            Self::Socket => socket::deliver(req),
            Self::Inode => inode::deliver(req, *taken),
            Self::Timer => timer::deliver(req, running(), taken),
            Self::Poll => poll::deliver(req),
            Self::User => user::deliver(req),
        }
    }

    /// `KEVENT_CTL_READY`: triggers `req` with `payload`; `EINVAL` for a
    /// kind that is not triggered by hand.
    pub(crate) fn trigger<R: Handle>(self, req: ArcBorrow<'_, R>, payload: [u32; 2]) -> Result {
        match self {
            Self::User => {
                user::trigger(req, payload);
                Ok(())
            }
            Self::Socket | Self::Inode | Self::Timer | Self::Poll => Err(EINVAL),
        }
    }

    /// What a request of this kind keeps of an ADD or MODIFY entry besides
    /// its fields, as its payload (an absolute timer's first expiry, which
    /// comes in `ret_data`); `None` leaves the payload as it is.
    pub(crate) fn param(self, uk: &Ukevent) -> Option<[u32; 2]> {
        match self {
            Self::Timer => timer::param(uk),
            Self::Socket | Self::Inode | Self::Poll | Self::User => None,
        }
    }

    /// Adds what a source fired (`n`, see [`Handle::fire`]) to what its
    /// request had pending: a count of firings for most kinds; an inode
    /// request merges events and counts (see `source/inode.rs`), a timer
    /// keeps whether its clock was set (`source/timer.rs`).
    #[inline(always)]
    pub(crate) fn merge(self, pending: u64, n: u64) -> u64 {
        match self {
            Self::Inode => inode::merge(pending, n),
            Self::Timer => timer::merge(pending, n),
            _ => pending.saturating_add(n),
        }
    }

    /// The event of a firing of `req`, if it is known as the source fires,
    /// for a queue whose ring takes it at once. `pending` is what the
    /// request has pending with this firing, `mask` what a watched file's
    /// wake-up announced (0: it did not say). Any context; never sleeps.
    ///
    /// Not where the delivery asks or restarts something: a level-
    /// triggered file or user event (ready again after each delivery),
    /// sockets' figures (which take the socket's lock), a periodic timer's
    /// expiry (restarted by the call that delivers it, so that the
    /// program's calls pace its interrupts, as timerfd's reads do). Those
    /// wait in line for a call. A one-shot request reports one firing, so
    /// it needs no re-check.
    #[inline(always)]
    pub(crate) fn at_wake<R: Handle>(self, req: &R, pending: u64, mask: u32) -> Option<WakeEvent> {
        let flags = req.req_flags();
        let oneshot = flags & KEVENT_REQ_ONESHOT != 0;
        let edge = flags & KEVENT_REQ_ET != 0 || oneshot;
        let (ret_data, ret_flags, last) = match self {
            Self::User if edge => (req.payload(), 0, false),
            Self::Poll if edge => poll::at_wake(req, mask)?,
            Self::Inode => inode::at_wake(req, pending)?,
            Self::Timer => timer::at_wake(req, pending, oneshot)?,
            _ => return None,
        };
        Some(WakeEvent {
            ret_data,
            ret_flags,
            last,
        })
    }

    /// Whether [`Kind::trigger`] applies to requests of `type_`.
    pub(crate) fn is_triggered(type_: u32) -> bool {
        type_ == KEVENT_USER
    }
}
