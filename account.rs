// SPDX-License-Identifier: GPL-2.0

//! The per-user limit on requests (module parameter `max_user_requests`).
//!
//! A queue's own limit (`max_requests`) does not bound what one user can
//! make the kernel hold: queues are cheap. As epoll charges every watch to
//! the user who created the instance (`max_user_watches`), kevent charges
//! every request to the user who created the queue, whatever its type.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use kernel::{prelude::*, rbtree::RBTree, sync::Arc};

/// The most requests the queues of one user may hold together (module
/// parameter `max_user_requests`; 0 at load means the default).
pub(crate) static MAX_USER_REQUESTS: AtomicU32 = AtomicU32::new(0);

/// What a request costs, for the default limit: the request with its timer,
/// tree node, wait queue hook and share of a watch, rounded up.
const REQUEST_COST: u64 = 1024;

/// Sets the default limit if none was given at load: requests worth 4% of
/// memory, as epoll's default for `max_user_watches`.
pub(crate) fn init_limit(total_ram: u64) {
    let default = (total_ram / 25 / REQUEST_COST).clamp(1024, u64::from(u32::MAX));
    let _ =
        MAX_USER_REQUESTS.compare_exchange(0, default as u32, Ordering::Relaxed, Ordering::Relaxed);
}

/// The requests of one user's queues.
pub(crate) struct UserAccount {
    requests: AtomicUsize,
    /// Queues of this user that are open; the map keeps the account while
    /// any is. Changed only under the accounts' lock.
    queues: AtomicUsize,
}

impl UserAccount {
    /// Counts one more request, or fails with `ENOSPC` at the limit.
    pub(crate) fn charge(&self) -> Result {
        self.charge_n(1)
    }

    pub(crate) fn uncharge(&self) {
        self.uncharge_n(1);
    }

    /// Counts `n` more requests' worth (a ring), or fails with `ENOSPC` if
    /// that would pass the limit.
    pub(crate) fn charge_n(&self, n: usize) -> Result {
        let max = MAX_USER_REQUESTS.load(Ordering::Relaxed) as usize;
        self.requests
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |have| {
                have.checked_add(n).filter(|&total| total <= max)
            })
            .map(|_| ())
            .map_err(|_| ENOSPC)
    }

    pub(crate) fn uncharge_n(&self, n: usize) {
        self.requests.fetch_sub(n, Ordering::Relaxed);
    }
}

/// The accounts of the users that have queues open, by uid.
pub(crate) struct Accounts {
    users: RBTree<u32, Arc<UserAccount>>,
}

impl Accounts {
    pub(crate) fn new() -> Self {
        Self {
            users: RBTree::new(),
        }
    }

    /// The account of `uid` for a new queue.
    pub(crate) fn open(&mut self, uid: u32) -> Result<Arc<UserAccount>> {
        if let Some(account) = self.users.get(&uid) {
            account.queues.fetch_add(1, Ordering::Relaxed);
            return Ok(account.clone());
        }
        let account = Arc::new(
            UserAccount {
                requests: AtomicUsize::new(0),
                queues: AtomicUsize::new(1),
            },
            GFP_KERNEL,
        )?;
        self.users
            .try_create_and_insert(uid, account.clone(), GFP_KERNEL)?;
        Ok(account)
    }

    /// A queue of `uid` was closed (its requests are gone).
    pub(crate) fn close(&mut self, uid: u32) {
        let Some(account) = self.users.get(&uid) else {
            return;
        };
        if account.queues.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.users.remove(&uid);
        }
    }
}
