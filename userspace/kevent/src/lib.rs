//! Safe bindings to `/dev/kevent`, the unified event queue.
//!
//! Each [`Queue`] is one open of the device. Requests go in with
//! [`Queue::ctl`], events come out with [`Queue::get_events`].

#![forbid(unsafe_op_in_unsafe_fn)]

pub mod sys;

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

pub use sys::Ukevent;

/// The device node.
pub const DEVICE: &str = "/dev/kevent";

/// An event queue: one open file of `/dev/kevent`.
#[derive(Debug)]
pub struct Queue {
    fd: OwnedFd,
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

    /// Runs a ctl command on a batch of entries; each is written back with
    /// its result flags. Returns how many entries were processed.
    pub fn ctl(&self, cmd: u32, events: &mut [Ukevent]) -> io::Result<usize> {
        sys::ctl(self.fd.as_fd(), cmd, events)
    }

    /// Waits up to `timeout_ns` (< 0: forever) for `min_nr` events and
    /// copies up to `buf.len()` of them. Returns how many were copied.
    pub fn get_events(
        &self,
        min_nr: u32,
        buf: &mut [Ukevent],
        timeout_ns: i64,
    ) -> io::Result<usize> {
        sys::get_events(self.fd.as_fd(), min_nr, buf, timeout_ns)
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
    fn from(fd: OwnedFd) -> Queue {
        Queue { fd }
    }
}

#[cfg(test)]
mod tests {
    use super::sys::*;

    #[test]
    fn ioctl_numbers_match_the_header() {
        // _IOW(0xB9, 1, 24 bytes) and _IOW(0xB9, 2, 32 bytes).
        assert_eq!(KEVENT_IOC_CTL, 0x4018_b901);
        assert_eq!(KEVENT_IOC_GET_EVENTS, 0x4020_b902);
    }
}
