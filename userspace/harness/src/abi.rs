//! The ioctl ABI through the crate's raw layer: commands, validation, faults.

use crate::ktap::{Test, TestResult};
use crate::{check, check_eq};
use kevent::sys::{self, CtlArg, GetEventsArg, KernelSigset, PgetEventsArg, Ukevent};
use kevent::Queue;
use std::os::fd::AsFd;

pub const TESTS: &[Test] = &[
    Test {
        name: "abi_unknown_ioctl_is_enotty",
        run: unknown_ioctl_is_enotty,
    },
    Test {
        name: "abi_null_argument_is_efault",
        run: null_argument_is_efault,
    },
    Test {
        name: "abi_ctl_flags_and_reserved_are_einval",
        run: ctl_flags_and_reserved_are_einval,
    },
    Test {
        name: "abi_ctl_num_limits",
        run: ctl_num_limits,
    },
    Test {
        name: "abi_get_events_validation",
        run: get_events_validation,
    },
    Test {
        name: "abi_pget_events_validation",
        run: pget_events_validation,
    },
];

/// A kevent ioctl with a raw argument, for the tests that hand the kernel
/// bad pointers on purpose.
pub fn ioctl(
    fd: std::os::fd::BorrowedFd<'_>,
    cmd: u32,
    arg: *const libc::c_void,
) -> std::io::Result<i32> {
    // SAFETY: The tests pass null, argument structs whose arrays are their
    // own live locals, or pointers the kernel must reject with EFAULT.
    unsafe { sys::ioctl_ptr(fd, cmd, arg) }
}

fn errno(r: std::io::Result<i32>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

fn unknown_ioctl_is_enotty() -> TestResult {
    let q = Queue::new().map_err(|e| format!("open {}: {e}", kevent::DEVICE))?;
    let bad = sys::iow(sys::KEVENT_IOC_MAGIC, 0x7f, 8);
    check_eq!(
        errno(ioctl(q.as_fd(), bad, std::ptr::null())),
        Some(libc::ENOTTY)
    );
    Ok(())
}

fn null_argument_is_efault() -> TestResult {
    let q = Queue::new().map_err(|e| e.to_string())?;
    for cmd in [
        sys::KEVENT_IOC_CTL,
        sys::KEVENT_IOC_GET_EVENTS,
        sys::KEVENT_IOC_PGET_EVENTS,
    ] {
        check_eq!(
            errno(ioctl(q.as_fd(), cmd, std::ptr::null())),
            Some(libc::EFAULT)
        );
    }
    Ok(())
}

fn ctl_flags_and_reserved_are_einval() -> TestResult {
    let q = Queue::new().map_err(|e| e.to_string())?;
    let uk = Ukevent {
        type_: sys::KEVENT_USER,
        ..Default::default()
    };
    let base = CtlArg {
        cmd: sys::KEVENT_CTL_ADD,
        num: 1,
        events: &uk as *const _ as u64,
        ..Default::default()
    };
    for arg in [
        CtlArg { flags: 1, ..base },
        CtlArg {
            reserved: 7,
            ..base
        },
    ] {
        let r = ioctl(
            q.as_fd(),
            sys::KEVENT_IOC_CTL,
            (&arg as *const CtlArg).cast(),
        );
        check_eq!(errno(r), Some(libc::EINVAL));
    }
    check!(uk.ret_flags == 0, "an entry was processed despite EINVAL");
    Ok(())
}

fn ctl_num_limits() -> TestResult {
    let q = Queue::new().map_err(|e| e.to_string())?;
    check_eq!(
        q.submit(kevent::Ctl::Add, &mut [])
            .map_err(|e| e.to_string())?
            .len(),
        0
    );
    let arg = CtlArg {
        cmd: sys::KEVENT_CTL_ADD,
        num: sys::KEVENT_CTL_MAX_NUM + 1,
        ..Default::default()
    };
    let r = ioctl(
        q.as_fd(),
        sys::KEVENT_IOC_CTL,
        (&arg as *const CtlArg).cast(),
    );
    check_eq!(errno(r), Some(libc::EINVAL));
    Ok(())
}

fn get_events_validation() -> TestResult {
    let q = Queue::new().map_err(|e| e.to_string())?;
    let mut buf = [Ukevent::default(); 2];
    let base = GetEventsArg {
        min_nr: 0,
        max_nr: 2,
        events: buf.as_mut_ptr() as u64,
        ..Default::default()
    };
    for arg in [
        GetEventsArg { max_nr: 0, ..base },
        GetEventsArg { min_nr: 3, ..base },
        GetEventsArg { flags: 2, ..base },
        GetEventsArg {
            reserved: 1,
            ..base
        },
    ] {
        let r = ioctl(
            q.as_fd(),
            sys::KEVENT_IOC_GET_EVENTS,
            (&arg as *const GetEventsArg).cast(),
        );
        check_eq!(errno(r), Some(libc::EINVAL));
    }
    Ok(())
}

/// `KEVENT_IOC_PGET_EVENTS`: a mask needs `sigsetsize` 8, `__reserved` 0
/// and a readable mask; the `get` part is checked as for GET_EVENTS; no
/// mask is GET_EVENTS. (Today's main has no such ioctl: ENOTTY.)
fn pget_events_validation() -> TestResult {
    let q = Queue::new().map_err(|e| e.to_string())?;
    let u = kevent::Request::user(1);
    q.add(&u).map_err(|e| e.to_string())?;
    q.trigger(&u, [0, 0]).map_err(|e| e.to_string())?;
    let mut buf = [Ukevent::default(); 2];
    let mask = KernelSigset::default();
    let base = sys::pget_events_arg(1, &mut buf, 0, Some(&mask));
    let get = base.get;
    for (arg, want) in [
        (
            PgetEventsArg {
                sigsetsize: 16,
                ..base
            },
            libc::EINVAL,
        ),
        (
            PgetEventsArg {
                sigsetsize: 0,
                ..base
            },
            libc::EINVAL,
        ),
        (
            PgetEventsArg {
                reserved: 1,
                ..base
            },
            libc::EINVAL,
        ),
        (PgetEventsArg { sigmask: 8, ..base }, libc::EFAULT),
        (
            PgetEventsArg {
                get: GetEventsArg { max_nr: 0, ..get },
                ..base
            },
            libc::EINVAL,
        ),
        (
            PgetEventsArg {
                get: GetEventsArg { flags: 1, ..get },
                ..base
            },
            libc::EINVAL,
        ),
    ] {
        let r = ioctl(
            q.as_fd(),
            sys::KEVENT_IOC_PGET_EVENTS,
            (&arg as *const PgetEventsArg).cast(),
        );
        let got = errno(r);
        check!(got == Some(want), "{arg:?}: errno {got:?}, wanted {want}");
    }
    // The level-triggered user event is still there for both forms.
    let n = sys::pget_events(q.as_fd(), 1, &mut buf, 0, None).map_err(|e| e.to_string())?;
    check_eq!(n, 1);
    let n = sys::pget_events(q.as_fd(), 1, &mut buf, 0, Some(&mask)).map_err(|e| e.to_string())?;
    check_eq!(n, 1);
    Ok(())
}
