// SPDX-License-Identifier: GPL-2.0

//! Poll tables: what a file's `poll` method registers its wait queues with.
//!
//! Shaped like upstream's `kernel::sync::poll` (Linux 6.13). 6.12's
//! bindings keep `struct poll_table_struct` opaque and never bind the
//! inline `poll_wait`, so both are written here; the layout is checked
//! against `include/linux/poll.h` at build time.

use super::{file::File, wait::WaitQueueHead};
use crate::layout;
use core::{
    marker::PhantomData,
    mem::offset_of,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, Ordering},
};
use kernel::{
    bindings,
    prelude::*,
    sync::{Arc, ArcBorrow},
    types::Opaque,
};

/// `struct poll_table_struct` of `include/linux/poll.h`.
#[repr(C)]
struct RawPollTable {
    qproc: Option<
        unsafe extern "C" fn(
            *mut bindings::file,
            *mut bindings::wait_queue_head,
            *mut bindings::poll_table_struct,
        ),
    >,
    key: bindings::__poll_t,
}

const _: () = {
    assert!(core::mem::size_of::<RawPollTable>() == layout::POLL_TABLE_SIZE);
    assert!(offset_of!(RawPollTable, qproc) == layout::POLL_TABLE_QPROC);
    assert!(offset_of!(RawPollTable, key) == layout::POLL_TABLE_KEY);
};

/// The poll table a `poll` file operation was called with (possibly none).
///
/// # Invariants
///
/// `ptr` is null or points to a poll table valid for `'a`.
pub(crate) struct PollTable<'a> {
    ptr: *mut bindings::poll_table_struct,
    _p: PhantomData<&'a ()>,
}

impl<'a> PollTable<'a> {
    /// # Safety
    ///
    /// `ptr` must be null or valid for the lifetime `'a`.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::poll_table_struct) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self {
            ptr,
            _p: PhantomData,
        }
    }

    /// Registers `head` with the poller, as `poll_wait()` does: whoever
    /// polls is woken when `head` is.
    ///
    /// `head` must stay alive until the poller has unhooked itself: for a
    /// file's own head, the VFS guarantees that (epoll and kevent unhook
    /// before the file is released, select and poll before returning).
    pub(crate) fn register_wait(&self, file: &File, head: &WaitQueueHead) {
        if self.ptr.is_null() {
            return;
        }
        let table = self.ptr.cast::<RawPollTable>();
        // SAFETY: `table` is valid by the type invariant and has the layout
        // of `RawPollTable` (checked above).
        if let Some(qproc) = unsafe { (*table).qproc } {
            // SAFETY: This is `poll_wait()`: the arguments are the file being
            // polled, a live wait queue head and the table it came with.
            unsafe { qproc(file.as_ptr(), head.as_ptr(), self.ptr) };
        }
    }
}

/// The readiness bits `poll` always reports, wanted or not.
pub(crate) const POLL_ALWAYS: u32 = (layout::EPOLLERR_BITS | layout::EPOLLHUP_BITS) as u32;
/// The wake-up key of a wait queue head that is about to be freed.
const POLLFREE: u32 = layout::EPOLLFREE_BITS as u32;

/// Asks `file` for its readiness now, without registering (`vfs_poll`
/// with no table). `EINVAL` for a file with no poll method.
pub(crate) fn poll_now(file: &File) -> Result<u32> {
    // SAFETY: A null table is how `vfs_poll` asks without waiting.
    unsafe { call_poll(file, ptr::null_mut()) }
}

/// # Safety
///
/// `table` must be null or a poll table valid for the call.
unsafe fn call_poll(file: &File, table: *mut bindings::poll_table_struct) -> Result<u32> {
    // SAFETY: `f_op` of an open file is set and never changes.
    let poll = unsafe { (*(*file.as_ptr()).f_op).poll }.ok_or(EINVAL)?;
    // SAFETY: The file is open (the caller holds it); `table` is valid or
    // null by the caller's contract.
    Ok(unsafe { poll(file.as_ptr(), table) })
}

/// Owners of wait queue entries hooked into other files' wait queues.
pub(crate) trait PollCallback: Send + Sync + Sized {
    /// The owner's room for its first hook: a field of the owner (any
    /// other slot is ignored, and every hook allocated).
    fn hook_slot(&self) -> &HookSlot<Self>;

    /// The readiness bits the owner waits for (`POLL_ALWAYS` is added).
    fn wanted(&self) -> u32;

    /// Called by a wake-up of a hooked wait queue, in any context and
    /// under that queue's lock: no sleeping, irq-safe locks only. `mask`
    /// is the readiness announced, or 0 when the waker did not say.
    /// `sync`: the waker passed wake flags (`WF_SYNC` from a `_sync`
    /// wake-up, as a socket's or a pipe's data wakes its readers): it
    /// means to sleep soon, and the owner's own sleepers may be woken
    /// with the same hint, as `ep_poll_callback` passes it on.
    fn wake(this: ArcBorrow<'_, Self>, mask: u32, sync: bool);
}

/// One wait queue entry of a [`PollHooks`].
///
/// `whead` is the head it is on, set to null (release) by the wake-up
/// that announces the head is being freed (`POLLFREE`), as epoll does.
#[repr(C)]
struct Hook<T> {
    wait: bindings::wait_queue_entry,
    whead: AtomicPtr<bindings::wait_queue_head>,
    owner: *const T,
    /// The hook made before this one: the hooks are a chain, so a file
    /// with one wait queue costs one allocation (a vector would add one).
    next: Option<KBox<Hook<T>>>,
}

/// Room for one hook inside its owner: the first wait queue a file names
/// costs no allocation (epoll's `epitem` embeds its first entry too).
///
/// # Invariants
///
/// `hook` holds a `Hook<T>` only while `used` is set, by the one
/// [`PollHooks`] that set it; nothing else touches it but wake-ups.
#[pin_data]
pub(crate) struct HookSlot<T> {
    #[pin]
    hook: Opaque<Hook<T>>,
    used: AtomicBool,
}

// SAFETY: The slot is written only by the `PollHooks` that claimed it
// (through `used`, atomically), and read by wake-ups as its hook.
unsafe impl<T: Sync> Send for HookSlot<T> {}
// SAFETY: See `Send`.
unsafe impl<T: Sync> Sync for HookSlot<T> {}

impl<T> HookSlot<T> {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            hook: Opaque::uninit(),
            used: AtomicBool::new(false),
        })
    }
}

/// The wait queue entries `owner` has in a file's wait queues; dropping
/// it unhooks them all, after which no callback runs for them.
///
/// # Invariants
///
/// If `embedded`, this claimed `owner`'s [`HookSlot`], whose hook has
/// `owner` as its owner. Every hook of the chain from `first` is allocated
/// on its own (its address never changes), and its `owner` is `owner`.
/// Each of these hooks is on the wait queue `whead` unless `whead` is
/// null, in which case it is on no list.
pub(crate) struct PollHooks<T: PollCallback> {
    owner: Arc<T>,
    embedded: bool,
    first: Option<KBox<Hook<T>>>,
}

// SAFETY: The hooks are only touched by their owner (under its locks) and
// by wake-ups, which only read `owner` and clear `whead`.
unsafe impl<T: PollCallback> Send for PollHooks<T> {}
// SAFETY: Shared references give access to nothing.
unsafe impl<T: PollCallback> Sync for PollHooks<T> {}

/// The poll table `register` passes, with what `queue_proc` needs.
#[repr(C)]
struct RegisterTable<T: PollCallback> {
    raw: RawPollTable,
    hooks: *mut PollHooks<T>,
    failed: bool,
}

impl<T: PollCallback> PollHooks<T> {
    /// Calls `file`'s poll method with a table that hooks an entry of
    /// `owner` into each wait queue the file names (`ep_ptable_queue_proc`).
    /// Returns the hooks and the readiness the file reported.
    pub(crate) fn register(owner: Arc<T>, file: &File) -> Result<(Self, u32)> {
        let wanted = owner.wanted() | POLL_ALWAYS;
        let mut this = PollHooks {
            owner,
            embedded: false,
            first: None,
        };
        let mut table = RegisterTable::<T> {
            raw: RawPollTable {
                qproc: Some(queue_proc::<T>),
                key: wanted,
            },
            hooks: &mut this,
            failed: false,
        };
        // SAFETY: `table` outlives the call, and `queue_proc` only uses
        // it during the call.
        let mask = unsafe { call_poll(file, ptr::addr_of_mut!(table.raw).cast())? };
        if table.failed {
            // Dropping `this` unhooks what was hooked.
            return Err(ENOMEM);
        }
        Ok((this, mask))
    }
}

/// The poll table's queue callback: hooks one entry into `whead`.
///
/// # Safety
///
/// Called by a poll method with the `RegisterTable` that `register` made.
unsafe extern "C" fn queue_proc<T: PollCallback>(
    _file: *mut bindings::file,
    whead: *mut bindings::wait_queue_head,
    pt: *mut bindings::poll_table_struct,
) {
    // SAFETY: `raw` is the first field of the `repr(C)` `RegisterTable`.
    let table = unsafe { &mut *pt.cast::<RegisterTable<T>>() };
    if table.failed {
        return;
    }
    // SAFETY: `hooks` points to the `PollHooks` that `register` is filling.
    let this = unsafe { &mut *table.hooks };
    let hook = Hook {
        // SAFETY: All-zero is a valid unlinked entry, set up below.
        wait: unsafe { core::mem::zeroed() },
        whead: AtomicPtr::new(whead),
        owner: core::ptr::from_ref::<T>(&this.owner),
        next: None,
    };
    let slot = this.owner.hook_slot();
    let hook: *mut Hook<T> = if !this.embedded
        && is_within(slot, &*this.owner)
        && slot
            .used
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    {
        let at = slot.hook.get();
        // SAFETY: The slot is claimed just now, so nothing else uses it; it
        // lives in the owner, which `this` keeps alive. A hook left there
        // by an earlier claim has no chain (`next` is `None`): overwriting
        // it leaks nothing.
        unsafe { at.write(hook) };
        // INVARIANT: the slot is claimed, and holds a hook of `owner`.
        this.embedded = true;
        at
    } else {
        let Ok(mut hook) = KBox::new(hook, GFP_KERNEL_ACCOUNT) else {
            table.failed = true;
            return;
        };
        hook.next = this.first.take();
        let at = ptr::addr_of_mut!(*hook);
        // INVARIANT: the hook is on the chain (boxed, so it stays where it
        // is) before it goes on `whead`.
        this.first = Some(hook);
        at
    };
    // SAFETY: `hook` is valid (in the claimed slot or on the chain, both
    // kept alive by `this`); this is `init_waitqueue_func_entry()`, with
    // the list head pointing to itself as `INIT_LIST_HEAD` makes it.
    let wait = unsafe {
        let wait = ptr::addr_of_mut!((*hook).wait);
        (*wait).func = Some(hook_wake::<T>);
        let list = ptr::addr_of_mut!((*wait).entry);
        (*list).next = list;
        (*list).prev = list;
        wait
    };
    // SAFETY: `whead` is a live wait queue head of the file being polled,
    // and `wait` an initialised entry that `Drop` removes.
    unsafe { bindings::add_wait_queue(whead, wait) };
}

/// Whether `part` lies inside `whole`: a `hook_slot` that is not the
/// owner's own (the trait is safe to implement) is not kept alive by the
/// hooks, so it is never used.
fn is_within<P, W>(part: &P, whole: &W) -> bool {
    let start = ptr::from_ref(whole) as usize;
    let at = ptr::from_ref(part) as usize;
    at >= start && at + core::mem::size_of::<P>() <= start + core::mem::size_of::<W>()
}

/// The wake function of a hook (`ep_poll_callback`).
///
/// # Safety
///
/// Called by `__wake_up` under the head's lock with an entry of a `Hook<T>`
/// whose owner is alive (the hooks hold it until they are unhooked).
unsafe extern "C" fn hook_wake<T: PollCallback>(
    wait: *mut bindings::wait_queue_entry,
    _mode: core::ffi::c_uint,
    flags: core::ffi::c_int,
    key: *mut core::ffi::c_void,
) -> core::ffi::c_int {
    let hook = wait.cast::<Hook<T>>();
    let mask = key as usize as u32;
    // SAFETY: `wait` is the first field of a live `repr(C)` `Hook<T>`,
    // whose owner the hooks keep alive while the hook is on a queue.
    let owner = unsafe { ArcBorrow::from_raw((*hook).owner) };
    if mask == 0 || mask & (owner.wanted() | POLL_ALWAYS) != 0 {
        // Any flag counts as `WF_SYNC`, as in `ep_poll_callback` (the
        // flags' values are private to the scheduler).
        T::wake(owner, mask, flags != 0);
    }
    if mask & POLLFREE != 0 {
        // The head is being freed once an RCU grace period has passed. We
        // hold its lock: unlink now, then say so; `Drop` reads `whead`
        // (acquire), so this release is the hook's last access here.
        // SAFETY: The entry is on this head's list, whose lock we hold;
        // this is `list_del_init()`.
        unsafe {
            let entry = ptr::addr_of_mut!((*wait).entry);
            (*(*entry).next).prev = (*entry).prev;
            (*(*entry).prev).next = (*entry).next;
            (*entry).next = entry;
            (*entry).prev = entry;
            (*hook).whead.store(ptr::null_mut(), Ordering::Release);
        }
    }
    0
}

impl<T: PollCallback> PollHooks<T> {
    /// Takes `hook` off its wait queue, if it is on one; once this
    /// returns, no wake-up runs for it.
    ///
    /// # Safety
    ///
    /// `hook` is a hook of these `PollHooks`, valid for the call.
    unsafe fn unhook(hook: *mut Hook<T>) {
        // SAFETY: A head that announced POLLFREE is freed only after an
        // RCU grace period, so inside this read-side section a head read
        // as non-null is still valid (as `ep_remove_wait_queue`).
        unsafe { bindings::__rcu_read_lock() };
        // SAFETY: `hook` is valid (the caller's contract).
        let whead = unsafe { (*hook).whead.load(Ordering::Acquire) };
        if !whead.is_null() {
            // SAFETY: By the type invariant the hook is on `whead`; once
            // this returns, no wake-up runs for it.
            unsafe { bindings::remove_wait_queue(whead, ptr::addr_of_mut!((*hook).wait)) };
        }
        // SAFETY: Ends the section begun above.
        unsafe { bindings::__rcu_read_unlock() };
    }
}

impl<T: PollCallback> Drop for PollHooks<T> {
    fn drop(&mut self) {
        if self.embedded {
            let slot = self.owner.hook_slot();
            // SAFETY: By the type invariant the claimed slot holds a hook
            // of these `PollHooks`, kept alive by `owner`.
            unsafe { Self::unhook(slot.hook.get()) };
            // Unhooked: the slot is free for another claim.
            slot.used.store(false, Ordering::Release);
        }
        // One hook at a time, unhooked before it is freed: a recursive drop
        // of the chain would free hooks still on their queues.
        let mut next = self.first.take();
        while let Some(mut hook) = next {
            // SAFETY: The hook is on this chain and alive (boxed here).
            unsafe { Self::unhook(ptr::addr_of_mut!(*hook)) };
            next = hook.next.take();
        }
    }
}
