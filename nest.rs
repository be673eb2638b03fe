// SPDX-License-Identifier: GPL-2.0

//! Queues watching queues: the graph of such watches, and the check that
//! keeps it free of loops and of chains longer than [`MAX_NEST`].
//!
//! Each queue keeps its edges both ways (the queues it watches, the queues
//! watching it) with a count, since several requests of one queue may
//! watch the same queue. All edges are guarded by the device-wide nesting
//! lock (`LockedBy`), taken inside a queue's registry lock when a request
//! that watches a queue is added or removed; the check walks the graph
//! under it without taking any other lock or allocating.
//!
//! The check visits each queue at most once per direction, as epoll's
//! `ep_loop_check` does with its generation number, so it is linear in the
//! size of the graph it can reach, which the per-user limit bounds.

use crate::queue::Queue;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use kernel::{
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{Arc, LockedBy, Mutex},
};

/// The longest chain of queues watching queues, in watches (epoll's
/// `EP_MAX_NESTS`): five queues.
pub(crate) const MAX_NEST: usize = 4;

/// What the device-wide nesting lock guards: the generation of the last
/// check, which marks the queues a check has visited.
pub(crate) struct Checks {
    generation: u64,
}

impl Checks {
    pub(crate) fn new() -> Self {
        Self { generation: 0 }
    }
}

/// The other end of a queue's watches of (or by) one queue.
struct Edge {
    queue: Arc<Queue>,
    /// Requests making this edge.
    count: usize,
}

/// A queue's edges, by the other queue's address.
struct Links {
    down: RBTree<usize, Edge>,
    up: RBTree<usize, Edge>,
}

#[derive(Clone, Copy)]
enum Direction {
    /// Towards the queues watched.
    Down,
    /// Towards the queues watching.
    Up,
}

/// A queue's place in the graph.
pub(crate) struct Node {
    links: LockedBy<Links, Checks>,
    /// The check that last visited this queue, and the depth it found
    /// below (or above) it. Only touched under the nesting lock.
    visited: AtomicU64,
    depth: AtomicUsize,
}

/// Room for one new edge at each end, allocated before any lock is held.
pub(crate) struct EdgeRoom {
    down: RBTreeNodeReservation<usize, Edge>,
    up: RBTreeNodeReservation<usize, Edge>,
}

impl EdgeRoom {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            down: RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?,
            up: RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?,
        })
    }
}

fn key(queue: &Queue) -> usize {
    core::ptr::from_ref(queue) as usize
}

impl Node {
    /// A queue's node, guarded by the device's nesting lock `nest`.
    pub(crate) fn new(nest: &Mutex<Checks>) -> Self {
        let links = Links {
            down: RBTree::new(),
            up: RBTree::new(),
        };
        Self {
            links: LockedBy::new(nest, links),
            visited: AtomicU64::new(0),
            depth: AtomicUsize::new(0),
        }
    }
}

/// Checks that `from` may watch `to` (`ep_loop_check`): not itself, not a
/// queue from which `from` can be reached, and no chain through the new
/// watch longer than [`MAX_NEST`]: the longest chain above `from`, plus
/// one, plus the longest below `to`. Call with the nesting lock held.
pub(crate) fn check(checks: &mut Checks, from: &Queue, to: &Queue) -> Result {
    checks.generation += 1;
    let below = depth(checks, to, Direction::Down, Some(from), 0)?;
    checks.generation += 1;
    let above = depth(checks, from, Direction::Up, None, 0)?;
    if above + 1 + below > MAX_NEST {
        return Err(crate::defs::eloop());
    }
    Ok(())
}

/// The longest chain from `queue` in `dir`, failing with `ELOOP` if it
/// reaches `origin`. Each queue is explored once per check (`generation`);
/// a queue seen again gives the depth found the first time.
fn depth(
    checks: &Checks,
    queue: &Queue,
    dir: Direction,
    origin: Option<&Queue>,
    level: usize,
) -> Result<usize> {
    if origin.is_some_and(|origin| core::ptr::eq(queue, origin)) {
        return Err(crate::defs::eloop());
    }
    let node = queue.nest();
    let generation = checks.generation;
    if node.visited.load(Ordering::Relaxed) == generation {
        return Ok(node.depth.load(Ordering::Relaxed));
    }
    // The graph obeys the limit, so this only bounds the recursion.
    if level > MAX_NEST {
        return Err(crate::defs::eloop());
    }
    let links = node.links.access(checks);
    let edges = match dir {
        Direction::Down => &links.down,
        Direction::Up => &links.up,
    };
    let mut found = 0;
    for edge in edges.values() {
        found = found.max(1 + depth(checks, &edge.queue, dir, origin, level + 1)?);
    }
    node.visited.store(generation, Ordering::Relaxed);
    node.depth.store(found, Ordering::Relaxed);
    Ok(found)
}

/// Adds one watch of `to` by `from`, in room allocated before, after
/// [`check`] allowed it under the same hold of the nesting lock.
pub(crate) fn link(checks: &mut Checks, from: &Arc<Queue>, to: &Arc<Queue>, room: EdgeRoom) {
    from.nest().links.access_mut(checks).down.add(to, room.down);
    to.nest().links.access_mut(checks).up.add(from, room.up);
}

/// Removes one watch of `to` by `from`. Returns the queues whose last
/// edge went, to be dropped once the lock is released.
pub(crate) fn unlink(
    checks: &mut Checks,
    from: &Queue,
    to: &Queue,
) -> (Option<Arc<Queue>>, Option<Arc<Queue>>) {
    let down = from.nest().links.access_mut(checks).down.sub(to);
    let up = to.nest().links.access_mut(checks).up.sub(from);
    (down, up)
}

/// Counted edges.
trait Edges {
    fn add(&mut self, other: &Arc<Queue>, room: RBTreeNodeReservation<usize, Edge>);
    fn sub(&mut self, other: &Queue) -> Option<Arc<Queue>>;
}

impl Edges for RBTree<usize, Edge> {
    fn add(&mut self, other: &Arc<Queue>, room: RBTreeNodeReservation<usize, Edge>) {
        let k = key(other);
        match self.get_mut(&k) {
            Some(edge) => edge.count += 1,
            None => {
                let edge = Edge {
                    queue: other.clone(),
                    count: 1,
                };
                self.insert(room.into_node(k, edge));
            }
        }
    }

    /// Returns the other queue when its last edge goes.
    fn sub(&mut self, other: &Queue) -> Option<Arc<Queue>> {
        let k = key(other);
        let edge = self.get_mut(&k)?;
        edge.count -= 1;
        if edge.count > 0 {
            return None;
        }
        self.remove(&k).map(|edge| edge.queue)
    }
}
