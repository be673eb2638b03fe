// SPDX-License-Identifier: GPL-2.0

//! kevent: a unified event queue for Linux.
//!
//! `/dev/kevent` is a misc device; every open is an event queue. Two
//! ioctls carry the calls of the 2006 kevent patch series: `kevent_ctl`
//! (add, modify, remove requests) and `kevent_get_events` (wait for at
//! least `min_nr` events). `docs/kevent.7.md` is the reference.

use kernel::{c_str, prelude::*, sync::Arc};

mod account;
mod defs;
mod device;
mod nest;
mod queue;
mod ready;
mod request;
mod shared;
mod source;
mod sys;
mod watch;

/// The layouts of hand-declared C structs, generated from `layout_check.c`.
mod layout {
    include!("layout_generated.rs");
}

// 6.12's `module!` takes one `author`, 7.2's a list of `authors`.
#[cfg(not(linux_ge_7_2))]
module! {
    type: KeventModule,
    name: "kevent",
    author: "The kevent developers",
    description: "A unified event queue: /dev/kevent",
    license: "GPL",
}
#[cfg(linux_ge_7_2)]
module! {
    type: KeventModule,
    name: "kevent",
    authors: ["The kevent developers"],
    description: "A unified event queue: /dev/kevent",
    license: "GPL",
}

sys::param::module_param_uint!(
    max_requests,
    queue::MAX_REQUESTS,
    0o644,
    "Most requests one queue may hold (default 65536)"
);

sys::param::module_param_uint!(
    sweep_batch,
    watch::SWEEP_BATCH,
    0o644,
    "Watched files one run of the closed-file sweep visits in its round of all of them, every 50 ms (default 1024, at most 65536)"
);

sys::param::module_param_uint!(
    max_user_requests,
    account::MAX_USER_REQUESTS,
    0o644,
    "Most requests the queues of one user may hold together (default: 4% of memory's worth)"
);

struct KeventModule {
    // Fields drop in this order. The device goes first: no queue can be
    // opened after it. Then the inode group waits for the marks of closed
    // queues to be freed (each holds its request, and so its queue), so
    // that the last references to the queues and to `shared` go here.
    _dev: Pin<KBox<sys::miscdevice::MiscDeviceRegistration<device::KeventDevice>>>,
    _inodes: sys::inode::InodeNotify,
    _clock_set: sys::clock::ClockSetNotify,
    shared: Arc<shared::Shared>,
    // Last: watches of sockets may go with any of the above.
    _socket_holds: sys::socket::SocketHoldsFlush,
}

impl kernel::Module for KeventModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        account::init_limit(sys::mm::total_ram_bytes());
        let inodes = sys::inode::InodeNotify::new()?;
        let clock_set = sys::clock::ClockSetNotify::new()?;
        let shared = shared::Shared::new()?;
        let opts = sys::miscdevice::MiscDeviceOptions {
            name: c_str!("kevent"),
            // Every user may create queues: a queue only ever sees the
            // files its owner could already access.
            mode: 0o666,
        };
        let dev = KBox::pin_init(
            sys::miscdevice::MiscDeviceRegistration::register(opts, shared.clone()),
            GFP_KERNEL,
        )?;
        pr_info!("/dev/kevent registered\n");
        Ok(Self {
            _dev: dev,
            _inodes: inodes,
            _clock_set: clock_set,
            shared,
            _socket_holds: sys::socket::SocketHoldsFlush,
        })
    }
}

impl Drop for KeventModule {
    fn drop(&mut self) {
        // No queue is open (each pins the module), so nothing is watched;
        // the sweep's timer may still be armed.
        self.shared.shutdown();
    }
}
