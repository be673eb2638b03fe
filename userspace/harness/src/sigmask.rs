//! Waiting with a signal mask (`KEVENT_IOC_PGET_EVENTS`, through
//! `Queue::wait_with_sigmask`), as `epoll_pwait` waits: the mask is set
//! and restored atomically around the wait. The C selftests check the
//! same rules through `kevent_pget_events_ns()`.
//!
//! Today's main has no such ioctl: every test here fails with `ENOTTY`.

use crate::ktap::{Test, TestResult};
use crate::queue::{queue, user};
use crate::{check, check_eq};
use kevent::sys::{KernelSigset, KERNEL_SIGSET_SIZE};
use kevent::{Events, Queue, SigSet};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const TESTS: &[Test] = &[
    Test {
        name: "sigmask_pending_signal_it_unblocks_is_eintr",
        run: pending_signal_it_unblocks_is_eintr,
    },
    Test {
        name: "sigmask_signal_it_unblocks_ends_the_wait",
        run: signal_it_unblocks_ends_the_wait,
    },
    Test {
        name: "sigmask_signal_it_blocks_comes_after_the_call",
        run: signal_it_blocks_comes_after_the_call,
    },
];

/// How often the handler ran, and the signal mask it ran with (signal
/// `n` at bit `n - 1`).
static HITS: AtomicUsize = AtomicUsize::new(0);
static MASK_IN_HANDLER: AtomicU64 = AtomicU64::new(0);

fn bits(set: &SigSet) -> u64 {
    set.iter().fold(0, |b, s| b | 1 << (s - 1))
}

/// Async-signal-safe: a system call, arithmetic and atomics.
extern "C" fn on_signal(_sig: libc::c_int) {
    let mask = SigSet::current().map_or(u64::MAX, |m| bits(&m));
    MASK_IN_HANDLER.store(mask, Ordering::SeqCst);
    HITS.fetch_add(1, Ordering::SeqCst);
}

/// `on_signal` as the handler of a signal until dropped.
struct Handler {
    sig: libc::c_int,
    old: libc::sigaction,
}

impl Handler {
    fn install(sig: libc::c_int) -> Result<Handler, String> {
        // SAFETY: a zeroed sigaction is a valid one (no flags, empty mask).
        let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
        new.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: as above.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: both structs are live; the handler only does what is
        // async-signal-safe.
        if unsafe { libc::sigaction(sig, &new, &mut old) } < 0 {
            return Err(format!("sigaction: {}", io::Error::last_os_error()));
        }
        HITS.store(0, Ordering::SeqCst);
        MASK_IN_HANDLER.store(0, Ordering::SeqCst);
        Ok(Handler { sig, old })
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        // SAFETY: puts back the action `install` read.
        unsafe { libc::sigaction(self.sig, &self.old, std::ptr::null_mut()) };
    }
}

/// `rt_sigprocmask(how, set)` on this thread: the old mask.
fn sigprocmask(how: libc::c_int, set: &SigSet) -> Result<SigSet, String> {
    let mut old = KernelSigset::default();
    // SAFETY: both sets are live kernel sigsets of KERNEL_SIGSET_SIZE bytes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            set.raw() as *const KernelSigset,
            &mut old as *mut KernelSigset,
            KERNEL_SIGSET_SIZE as libc::size_t,
        )
    };
    if r < 0 {
        return Err(format!("rt_sigprocmask: {}", io::Error::last_os_error()));
    }
    Ok(SigSet::from_raw(old))
}

/// This thread's mask, with `block` blocked and `unblock` not, until
/// dropped.
struct Mask(SigSet);

impl Mask {
    fn set(block: &[libc::c_int], unblock: &[libc::c_int]) -> Result<Mask, String> {
        let mut m = SigSet::current().map_err(|e| e.to_string())?;
        for &s in block {
            m.insert(s).map_err(|e| e.to_string())?;
        }
        for &s in unblock {
            m.remove(s).map_err(|e| e.to_string())?;
        }
        sigprocmask(libc::SIG_SETMASK, &m).map(Mask)
    }
}

impl Drop for Mask {
    fn drop(&mut self) {
        let _ = sigprocmask(libc::SIG_SETMASK, &self.0);
    }
}

/// A thread, to signal.
#[derive(Clone, Copy)]
struct Thread {
    pthread: libc::pthread_t,
    tid: libc::pid_t,
}

impl Thread {
    fn me() -> Thread {
        // SAFETY: neither call has preconditions.
        unsafe {
            Thread {
                pthread: libc::pthread_self(),
                tid: libc::gettid(),
            }
        }
    }

    fn kill(self, sig: libc::c_int) -> Result<(), String> {
        // SAFETY: the thread is alive: it is waiting for this signal.
        match unsafe { libc::pthread_kill(self.pthread, sig) } {
            0 => Ok(()),
            e => Err(format!("pthread_kill: {}", io::Error::from_raw_os_error(e))),
        }
    }

    /// A line of `/proc/self/task/<tid>/<file>`.
    fn proc(self, file: &str) -> String {
        std::fs::read_to_string(format!("/proc/self/task/{}/{file}", self.tid)).unwrap_or_default()
    }

    /// Waits (up to 10 s) until the thread sleeps in `ioctl`, so that a
    /// signal sent next arrives while it waits. Whether it does or not, the
    /// tests' outcome is the same; only what they cover changes.
    fn wait_until_in_ioctl(self) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let nr = self.proc("syscall");
            if nr.split_whitespace().next() == Some(&libc::SYS_ioctl.to_string()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    /// Whether `sig` is pending for the thread itself (`SigPnd`).
    fn pending(self, sig: libc::c_int) -> bool {
        self.proc("status")
            .lines()
            .find_map(|l| l.strip_prefix("SigPnd:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .is_some_and(|p| p & 1 << (sig - 1) != 0)
    }
}

fn interrupted(r: io::Result<usize>) -> Result<(), String> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        other => Err(format!("wait_with_sigmask: {other:?}, wanted EINTR")),
    }
}

/// A SIGUSR1 pending before the call, blocked in the thread's mask and
/// unblocked by the call's: EINTR at once, the handler runs once with the
/// call's mask, no event is consumed, the thread's mask is back after.
fn pending_signal_it_unblocks_is_eintr() -> TestResult {
    let q = queue()?;
    let _h = Handler::install(libc::SIGUSR1)?;
    let _m = Mask::set(&[libc::SIGUSR1], &[libc::SIGUSR2])?;
    let own = SigSet::current().map_err(|e| e.to_string())?;
    Thread::me().kill(libc::SIGUSR1)?;
    check_eq!(HITS.load(Ordering::SeqCst), 0);
    // One edge-triggered event ready: a call that consumed it would take
    // it for good.
    let et = user(1).edge_triggered();
    q.add(&et).map_err(|e| e.to_string())?;
    q.trigger(&et, [7, 0]).map_err(|e| e.to_string())?;
    let mut tmp = own;
    tmp.remove(libc::SIGUSR1).map_err(|e| e.to_string())?;
    tmp.insert(libc::SIGUSR2).map_err(|e| e.to_string())?;
    let mut ev = Events::with_capacity(4);
    let start = Instant::now();
    interrupted(q.wait_with_sigmask(2, &mut ev, Some(Duration::from_secs(10)), &tmp))?;
    check!(
        start.elapsed() < Duration::from_secs(10),
        "EINTR only after the timeout"
    );
    check_eq!(HITS.load(Ordering::SeqCst), 1);
    let seen = MASK_IN_HANDLER.load(Ordering::SeqCst);
    // The call's mask (SIGUSR2 blocked), and the signal itself.
    check_eq!(seen, bits(&tmp) | 1 << (libc::SIGUSR1 - 1));
    check_eq!(SigSet::current().map_err(|e| e.to_string())?, own);
    check_eq!(q.wait(1, &mut ev, Some(Duration::ZERO)).ok(), Some(1));
    check_eq!(ev.get(0).map(|e| e.payload()), Some([7, 0]));
    Ok(())
}

/// A SIGUSR1 sent by another thread while the call waits, unblocked by the
/// call's mask only: EINTR, the handler ran once with the call's mask.
fn signal_it_unblocks_ends_the_wait() -> TestResult {
    let q = queue()?;
    let _h = Handler::install(libc::SIGUSR1)?;
    let _m = Mask::set(&[libc::SIGUSR1], &[libc::SIGUSR2])?;
    let own = SigSet::current().map_err(|e| e.to_string())?;
    let mut tmp = own;
    tmp.remove(libc::SIGUSR1).map_err(|e| e.to_string())?;
    tmp.insert(libc::SIGUSR2).map_err(|e| e.to_string())?;
    let me = Thread::me();
    let mut ev = Events::with_capacity(4);
    let (r, sent) = std::thread::scope(|s| {
        let sender = s.spawn(move || {
            me.wait_until_in_ioctl();
            me.kill(libc::SIGUSR1)
        });
        let r = q.wait_with_sigmask(1, &mut ev, Some(Duration::from_secs(10)), &tmp);
        (r, sender.join())
    });
    sent.map_err(|_| "the sender panicked")??;
    interrupted(r)?;
    check_eq!(HITS.load(Ordering::SeqCst), 1);
    let seen = MASK_IN_HANDLER.load(Ordering::SeqCst);
    check_eq!(seen, bits(&tmp) | 1 << (libc::SIGUSR1 - 1));
    check_eq!(SigSet::current().map_err(|e| e.to_string())?, own);
    Ok(())
}

/// A SIGUSR1 that the call's mask blocks, sent while it waits: it stays
/// pending (the call goes on and returns the event that ends it), and is
/// delivered after the call, with the thread's own mask, which allows it.
fn signal_it_blocks_comes_after_the_call() -> TestResult {
    let q: Queue = queue()?;
    let _h = Handler::install(libc::SIGUSR1)?;
    let _m = Mask::set(&[], &[libc::SIGUSR1, libc::SIGUSR2])?;
    let own = SigSet::current().map_err(|e| e.to_string())?;
    let mut tmp = own;
    tmp.insert(libc::SIGUSR1).map_err(|e| e.to_string())?;
    tmp.insert(libc::SIGUSR2).map_err(|e| e.to_string())?;
    let u = user(2);
    q.add(&u).map_err(|e| e.to_string())?;
    let me = Thread::me();
    let held = AtomicBool::new(false);
    let mut ev = Events::with_capacity(4);
    let (r, sent) = std::thread::scope(|s| {
        let sender = s.spawn(|| -> Result<(), String> {
            let waiting = me.wait_until_in_ioctl();
            me.kill(libc::SIGUSR1)?;
            // Pending and not handled while the call still waits.
            let start = Instant::now();
            while !me.pending(libc::SIGUSR1) && start.elapsed() < Duration::from_secs(1) {
                std::thread::sleep(Duration::from_millis(1));
            }
            held.store(
                waiting && me.pending(libc::SIGUSR1) && HITS.load(Ordering::SeqCst) == 0,
                Ordering::SeqCst,
            );
            q.trigger(&u, [9, 0]).map_err(|e| e.to_string())
        });
        let r = q.wait_with_sigmask(1, &mut ev, Some(Duration::from_secs(10)), &tmp);
        (r, sender.join())
    });
    sent.map_err(|_| "the sender panicked")??;
    check_eq!(r.map_err(|e| e.to_string()), Ok(1));
    check_eq!(ev.get(0).map(|e| e.payload()), Some([9, 0]));
    check!(
        held.load(Ordering::SeqCst),
        "SIGUSR1 was not seen pending, unhandled, while the call waited"
    );
    check_eq!(HITS.load(Ordering::SeqCst), 1);
    // Handled after the call: with the thread's own mask (no SIGUSR2).
    let seen = MASK_IN_HANDLER.load(Ordering::SeqCst);
    check_eq!(seen, bits(&own) | 1 << (libc::SIGUSR1 - 1));
    check_eq!(SigSet::current().map_err(|e| e.to_string())?, own);
    Ok(())
}
