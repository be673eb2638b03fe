// SPDX-License-Identifier: GPL-2.0

//! The file operations of `/dev/kevent`: decoding and validating ioctls.
//!
//! Everything a caller passes is checked here before the queue sees it:
//! unknown commands are `ENOTTY`, unknown flags and non-zero reserved
//! fields `EINVAL`, unreadable arguments `EFAULT`.

use crate::defs::*;
use crate::queue::{Queue, Timeout};
use crate::shared::Shared;
use crate::sys::{
    compat::Ktime,
    file::{File, FileExt},
    miscdevice::{self, MiscDevice},
    mm::VmaNew,
    poll::PollTable,
    seq_file::SeqFile,
    signal,
    uaccess::{read_arg, write_arg, StagedEvents, UkeventReader, UkeventWriter},
};
use kernel::{
    c_str,
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// How many ctl entries are read, run and written back at a time.
const CTL_GROUP: usize = 16;

/// A group of ctl entries.
type CtlGroup = StagedEvents<CTL_GROUP>;

/// The device: each open file is one queue.
pub(crate) struct KeventDevice;

#[vtable]
impl MiscDevice for KeventDevice {
    type Ptr = Arc<Queue>;
    type Context = Arc<Shared>;

    fn open(_file: &File, shared: &Arc<Shared>) -> Result<Arc<Queue>> {
        Queue::new(shared.clone())
    }

    fn release(queue: Arc<Queue>, _file: &File) {
        queue.release();
    }

    // Only get-events is inlined here: with every handler inlined, this
    // function had a frame of 792 bytes and six saved registers, which
    // each get-events call paid for (7 instructions, `bench/ab.sh
    // --icount`). The others are `#[inline(never)]`.
    fn ioctl(queue: ArcBorrow<'_, Queue>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            KEVENT_IOC_CTL => ctl(queue, file, arg),
            KEVENT_IOC_GET_EVENTS => get_events(queue, file, arg),
            KEVENT_IOC_PGET_EVENTS => pget_events(queue, file, arg),
            KEVENT_IOC_RING_SETUP => ring_setup(&queue, arg),
            _ => Err(ENOTTY),
        }
    }

    fn mmap(queue: ArcBorrow<'_, Queue>, _file: &File, vma: &VmaNew) -> Result {
        queue.mmap_ring(vma)
    }

    fn poll(queue: ArcBorrow<'_, Queue>, file: &File, table: &PollTable<'_>) -> u32 {
        table.register_wait(file, queue.pollers());
        queue.poll_mask()
    }

    fn show_fdinfo(queue: ArcBorrow<'_, Queue>, m: &SeqFile) {
        queue.show_fdinfo(m);
    }
}

/// The queue behind `file`, if it is a kevent queue.
pub(crate) fn queue_of(file: &File) -> Option<Arc<Queue>> {
    miscdevice::private_of::<KeventDevice>(file).map(Arc::from)
}

/// `KEVENT_IOC_CTL`: runs `cmd` on each entry in order and writes it back.
#[inline(never)]
fn ctl(queue: ArcBorrow<'_, Queue>, file: &File, arg: usize) -> Result<isize> {
    let a: CtlArg = read_arg(arg)?;
    if a.flags != 0 || a.reserved != 0 || a.num > KEVENT_CTL_MAX_NUM {
        return Err(EINVAL);
    }
    match a.cmd {
        KEVENT_CTL_INIT => return init(&queue, file, &a),
        KEVENT_CTL_ADD | KEVENT_CTL_REMOVE | KEVENT_CTL_MODIFY | KEVENT_CTL_READY => {}
        _ => return Err(EINVAL),
    }
    if a.num == 0 {
        return Ok(0);
    }
    let mut reader = UkeventReader::new(a.events, a.num as usize)?;
    let mut writer = UkeventWriter::new(a.events, a.num as usize)?;
    let mut entries = CtlGroup::new();
    let mut done: isize = 0;
    // A group at a time: read in one piece, run under one hold of the
    // registry, written back in one piece.
    loop {
        let read = reader.read_into(&mut entries);
        if read == 0 {
            break;
        }
        let ran = queue.ctl(a.cmd, entries.events_mut());
        // An entry took effect even if its result cannot be written back,
        // so it counts as processed.
        done += ran as isize;
        let written = writer.write(&entries.events()[..ran]);
        if ran < read {
            // The task is being killed.
            return if done > 0 { Ok(done) } else { Err(EINTR) };
        }
        if written < ran || read < CTL_GROUP {
            break;
        }
    }
    if done == 0 {
        return Err(EFAULT);
    }
    Ok(done)
}

/// `KEVENT_CTL_INIT`: a new, independent queue; returns its fd.
fn init(queue: &Queue, file: &File, a: &CtlArg) -> Result<isize> {
    if a.num != 0 || a.events != 0 {
        return Err(EINVAL);
    }
    let new = Queue::new(queue.shared().clone())?;
    // Without a file (EMFILE, ENOMEM), `release` never runs for it: close
    // its account here, as `release` would.
    let fd = miscdevice::new_file::<KeventDevice>(file, c_str!("[kevent]"), new.clone())
        .inspect_err(|_| new.release())?;
    Ok(fd as isize)
}

/// `KEVENT_IOC_GET_EVENTS`.
fn get_events(queue: ArcBorrow<'_, Queue>, file: &File, arg: usize) -> Result<isize> {
    let a: GetEventsArg = read_arg(arg)?;
    wait(&queue, file, &a)
}

/// `KEVENT_IOC_PGET_EVENTS`: get-events with the signal mask the caller
/// passes in force while it waits, as `epoll_pwait()` and `ppoll()` do.
#[inline(never)]
fn pget_events(queue: ArcBorrow<'_, Queue>, file: &File, arg: usize) -> Result<isize> {
    let a: PgetEventsArg = read_arg(arg)?;
    if a.reserved != 0 {
        return Err(EINVAL);
    }
    let mask = match a.sigmask {
        // Without a mask the size means nothing, as for epoll_pwait().
        0 => None,
        _ if a.sigsetsize != SIGSET_SIZE => return Err(EINVAL),
        ptr => Some(read_arg::<u64>(ptr as usize)?),
    };
    check_get_events(&a.get)?;
    let Some(mask) = mask else {
        return wait(&queue, file, &a.get);
    };
    let sigmask = signal::WaitSigmask::set(mask);
    let r = wait(&queue, file, &a.get);
    sigmask.restore(matches!(&r, Err(e) if e.to_errno() == EINTR.to_errno()));
    r
}

/// Checks the fields of a get-events argument.
fn check_get_events(a: &GetEventsArg) -> Result {
    if a.flags & !KEVENT_GET_RING != 0 || a.reserved != 0 || a.max_nr == 0 || a.min_nr > a.max_nr {
        return Err(EINVAL);
    }
    // Into the ring, there is no array.
    if a.flags & KEVENT_GET_RING != 0 && a.events != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// `KEVENT_IOC_RING_SETUP`: gives the queue its ring, and writes back the
/// bytes to map.
#[inline(never)]
fn ring_setup(queue: &Queue, arg: usize) -> Result<isize> {
    let mut a: RingSetupArg = read_arg(arg)?;
    if a.flags != 0 || a.reserved != 0 {
        return Err(EINVAL);
    }
    let size = queue.setup_ring(a.entries)?;
    // The ring stays set up if the size cannot be written back: the
    // program can compute it (the header's layout is fixed).
    a.size = u32::try_from(size).map_err(|_| EINVAL)?;
    write_arg(arg, &a)?;
    Ok(0)
}

/// Waits for and copies out events as `a` asks.
fn wait(queue: &Queue, file: &File, a: &GetEventsArg) -> Result<isize> {
    check_get_events(a)?;
    let timeout = match a.timeout_ns {
        t if t < 0 => Timeout::Forever,
        0 => Timeout::Poll,
        t => Timeout::Until(Ktime::from_raw(
            Ktime::ktime_get().to_ns().saturating_add(t),
        )),
    };
    if a.flags & KEVENT_GET_RING != 0 {
        let n = queue.get_ring_events(
            a.min_nr as usize,
            a.max_nr as usize,
            timeout,
            file.is_nonblocking(),
        )?;
        return Ok(n as isize);
    }
    let mut out = UkeventWriter::new(a.events, a.max_nr as usize)?;
    let n = queue.get_events(
        a.min_nr as usize,
        a.max_nr as usize,
        timeout,
        file.is_nonblocking(),
        &mut out,
    )?;
    Ok(n as isize)
}
