// SPDX-License-Identifier: GPL-2.0

//! An intrusive red-black tree of reference-counted items.
//!
//! `kernel::rbtree::RBTree` allocates a node for every entry. Here the
//! `struct rb_node` is embedded in the item, as `struct epitem` embeds its
//! `rbn`, so putting an item in a tree allocates nothing and cannot fail
//! for want of memory. The tree holds one reference to each item it holds
//! (an `Arc` turned into a raw pointer on insert, and back on removal).
//!
//! An item is in at most one tree of a given `ID` at a time: inserting
//! claims its links with the tree's id, and only removal gives them back.
//! `rb_erase` must be told the root of the tree a node is in: an item
//! leaves a tree by key, from its front (nodes found by walking that
//! tree), or as itself (`remove_item`) when its links name this tree.
//!
//! An ADD looks its key up before it does any work and inserts the item
//! after: [`RbTree::vacancy`] remembers where the lookup ended, and
//! [`RbTree::insert_at`] links the item there without a second walk if
//! the tree has not changed since (each tree counts its changes).
//!
//! Upstream has no intrusive red-black tree for Rust; this follows the
//! shape of `kernel::list` (links embedded in the item, found with an
//! offset that a macro computes).

use core::cmp::Ordering as CmpOrdering;
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    bindings,
    prelude::*,
    sync::{Arc, ArcBorrow},
    types::Opaque,
};

/// The links of an item in an [`RbTree`]: embed one per tree kind (`ID`).
#[pin_data]
pub(crate) struct RbLinks<const ID: u64 = 0> {
    #[pin]
    node: Opaque<bindings::rb_node>,
    /// The id of the tree the item is in, 0 if none: set by the insert
    /// that links it, cleared by the removal that unlinks it.
    tree: AtomicU64,
}

/// The next tree id: ids are never reused (a `u64` does not wrap).
static NEXT_TREE_ID: AtomicU64 = AtomicU64::new(1);

// SAFETY: `node` is only touched by the tree that holds the item, through
// its `&mut self` methods (writes) or `&self` methods (reads); so it moves
// between threads with the tree, which is `Send` and `Sync` only for items
// that are.
unsafe impl<const ID: u64> Send for RbLinks<ID> {}
// SAFETY: As above.
unsafe impl<const ID: u64> Sync for RbLinks<ID> {}

impl<const ID: u64> RbLinks<ID> {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // Only a tree that claimed the links writes the node, and it
            // links it before it reads it.
            node: Opaque::uninit(),
            tree: AtomicU64::new(0),
        })
    }
}

/// Types that embed [`RbLinks<ID>`], and so can be in an [`RbTree`].
///
/// Use [`impl_has_rb_links`] to implement it.
///
/// # Safety
///
/// `OFFSET` is the offset in `Self` of the field that `rb_links` returns.
pub(crate) unsafe trait HasRbLinks<const ID: u64 = 0> {
    const OFFSET: usize;

    fn rb_links(&self) -> &RbLinks<ID>;
}

/// Implements [`HasRbLinks`] for a type with an [`RbLinks`] field.
macro_rules! impl_has_rb_links {
    ($t:ty, $field:ident $(, $id:tt)?) => {
        // SAFETY: `OFFSET` is the offset of the field `rb_links` returns.
        unsafe impl $crate::sys::rbtree::HasRbLinks$(<{ $id }>)? for $t {
            const OFFSET: usize = core::mem::offset_of!($t, $field);

            fn rb_links(&self) -> &$crate::sys::rbtree::RbLinks$(<{ $id }>)? {
                &self.$field
            }
        }
    };
}
pub(crate) use impl_has_rb_links;

/// Items of an [`RbTree`]: their key, which must not change while the item
/// is in a tree.
pub(crate) trait RbItem<const ID: u64 = 0>: HasRbLinks<ID> {
    type Key: Ord;

    fn rb_key(&self) -> Self::Key;
}

/// What [`RbTree::find`] finds: the node with the key, or the child
/// pointer (of `parent`, or the root) where a node with it would go.
enum Place {
    Found(*mut bindings::rb_node),
    Vacant {
        parent: *mut bindings::rb_node,
        link: *mut *mut bindings::rb_node,
    },
}

/// Where an item with a key the tree does not hold would be linked, as
/// [`RbTree::vacancy`] found it: the child slot (left or right) of
/// `parent`, or the root if `parent` is null, in the tree `tree` as it was
/// at change `changes`. `K` is the type of the key it was found for.
pub(crate) struct Vacancy<K> {
    tree: u64,
    changes: u64,
    parent: *mut bindings::rb_node,
    left: bool,
    _key: PhantomData<K>,
}

/// A red-black tree of `Arc<T>`, ordered by [`RbItem::rb_key`], with
/// unique keys.
///
/// # Invariants
///
/// Every node reachable from `root` is the `node` of the [`RbLinks<ID>`]
/// of an item whose `tree` is `id`, at `T::OFFSET` in it, and the tree
/// owns one reference to that item, from `Arc::into_raw`; every item
/// whose links' `tree` is `id` is such an item. `len` is the number of
/// such nodes. `id` is 0 until the tree first needs one, then unique
/// among all trees. `changes` grows with every link and unlink.
pub(crate) struct RbTree<T: RbItem<ID>, const ID: u64 = 0> {
    root: bindings::rb_root,
    len: usize,
    id: u64,
    changes: u64,
    _items: PhantomData<Arc<T>>,
}

// SAFETY: The tree owns `Arc<T>`s; it may move to another thread if they may.
unsafe impl<T: RbItem<ID> + Send + Sync, const ID: u64> Send for RbTree<T, ID> {}
// SAFETY: `&self` methods only read the tree and hand out `&T`.
unsafe impl<T: RbItem<ID> + Send + Sync, const ID: u64> Sync for RbTree<T, ID> {}

impl<T: RbItem<ID>, const ID: u64> RbTree<T, ID> {
    pub(crate) fn new() -> Self {
        // INVARIANT: an empty tree.
        Self {
            root: bindings::rb_root {
                rb_node: ptr::null_mut(),
            },
            len: 0,
            id: 0,
            changes: 0,
            _items: PhantomData,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.root.rb_node.is_null()
    }

    /// How many items the tree holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The item whose `node` this is.
    ///
    /// # Safety
    ///
    /// `node` is reachable from `self.root`.
    unsafe fn item(node: *mut bindings::rb_node) -> *const T {
        let links_to_node = core::mem::offset_of!(RbLinks<ID>, node);
        // SAFETY: By the type invariant, `node` is at `links_to_node` in
        // links that are at `T::OFFSET` in a live item.
        unsafe { node.cast::<u8>().sub(links_to_node + T::OFFSET).cast::<T>() }
    }

    /// This tree's id, given now if it had none (an atomic increment per
    /// tree, not per operation).
    fn id(&mut self) -> u64 {
        if self.id == 0 {
            // INVARIANT: a fresh id; no item names it yet.
            self.id = NEXT_TREE_ID.fetch_add(1, Ordering::Relaxed);
        }
        self.id
    }

    /// The node of `item`.
    fn node_of(item: &T) -> *mut bindings::rb_node {
        item.rb_links().node.get()
    }

    /// The node holding `key`, or where a node with it would be linked.
    fn find(&mut self, key: &T::Key) -> Place {
        let mut parent = ptr::null_mut();
        let mut link: *mut *mut bindings::rb_node = &mut self.root.rb_node;
        // SAFETY: `link` points at the root or at a child pointer of a node
        // of the tree, and every non-null one is a node of the tree, whose
        // item lives while the tree holds it (type invariant).
        unsafe {
            while !(*link).is_null() {
                let node = *link;
                let item = &*Self::item(node);
                link = match key.cmp(&item.rb_key()) {
                    CmpOrdering::Less => &mut (*node).rb_left,
                    CmpOrdering::Greater => &mut (*node).rb_right,
                    CmpOrdering::Equal => return Place::Found(node),
                };
                parent = node;
            }
        }
        Place::Vacant { parent, link }
    }

    /// The item with `key`.
    pub(crate) fn get(&self, key: &T::Key) -> Option<ArcBorrow<'_, T>> {
        let mut node = self.root.rb_node;
        // SAFETY: As in `find`; the tree's reference keeps the item alive
        // for as long as `self` is borrowed, since removal takes `&mut self`.
        unsafe {
            while !node.is_null() {
                let item = Self::item(node);
                node = match key.cmp(&(*item).rb_key()) {
                    CmpOrdering::Less => (*node).rb_left,
                    CmpOrdering::Greater => (*node).rb_right,
                    CmpOrdering::Equal => return Some(ArcBorrow::from_raw(item)),
                };
            }
        }
        None
    }

    /// The items from the smallest key not below `key` on, in key order.
    pub(crate) fn iter_from(&self, key: &T::Key) -> impl Iterator<Item = &T> + '_ {
        let mut node = self.root.rb_node;
        let mut start = ptr::null_mut();
        // SAFETY: As in `get`.
        unsafe {
            while !node.is_null() {
                node = match key.cmp(&(*Self::item(node)).rb_key()) {
                    CmpOrdering::Greater => (*node).rb_right,
                    CmpOrdering::Equal => {
                        start = node;
                        break;
                    }
                    CmpOrdering::Less => {
                        start = node;
                        (*node).rb_left
                    }
                };
            }
        }
        self.iter_nodes(start)
    }

    /// Inserts `item`. It is handed back if the tree has an item with its
    /// key, or if it is in a tree (of this `ID`) already.
    pub(crate) fn insert(&mut self, item: Arc<T>) -> core::result::Result<(), Arc<T>> {
        if !self.claim(&item) {
            return Err(item);
        }
        match self.find(&item.rb_key()) {
            Place::Vacant { parent, link } => {
                self.link(item, parent, link);
                Ok(())
            }
            Place::Found(_) => Err(self.unclaim(item)),
        }
    }

    /// Looks `key` up for a later [`insert_at`](Self::insert_at): the item
    /// with it, or where an item with it would go.
    pub(crate) fn vacancy(
        &mut self,
        key: &T::Key,
    ) -> core::result::Result<Vacancy<T::Key>, ArcBorrow<'_, T>> {
        let tree = self.id();
        match self.find(key) {
            // SAFETY: `find` found `node` in this tree, which holds its item
            // while `self` is borrowed.
            Place::Found(node) => Err(unsafe { ArcBorrow::from_raw(Self::item(node)) }),
            Place::Vacant { parent, link } => Ok(Vacancy {
                tree,
                changes: self.changes,
                parent,
                // SAFETY: a non-null `parent` is a node of this tree.
                left: !parent.is_null()
                    && ptr::eq(link, unsafe { ptr::addr_of_mut!((*parent).rb_left) }),
                _key: PhantomData,
            }),
        }
    }

    /// Inserts `item`, which has the key `at` was found for, where `at`
    /// says, walking the tree again only if it changed since (or `at` is
    /// of another tree). Hands `item` back as [`insert`](Self::insert)
    /// does. An item of another key would leave the tree out of order:
    /// lookups would miss, but no memory is at stake.
    pub(crate) fn insert_at(
        &mut self,
        at: Vacancy<T::Key>,
        item: Arc<T>,
    ) -> core::result::Result<(), Arc<T>> {
        if at.tree != self.id || at.changes != self.changes {
            return self.insert(item);
        }
        if !self.claim(&item) {
            return Err(item);
        }
        let link = if at.parent.is_null() {
            ptr::addr_of_mut!(self.root.rb_node)
        } else if at.left {
            // SAFETY: the tree has not changed since `parent` was found in
            // it, so it is still a node of it, and its left slot is empty.
            unsafe { ptr::addr_of_mut!((*at.parent).rb_left) }
        } else {
            // SAFETY: As above, for its right slot.
            unsafe { ptr::addr_of_mut!((*at.parent).rb_right) }
        };
        self.link(item, at.parent, link);
        Ok(())
    }

    /// Claims the links of `item` for this tree: false if it is in a tree
    /// (of this `ID`) already.
    fn claim(&mut self, item: &T) -> bool {
        let id = self.id();
        item.rb_links()
            .tree
            .compare_exchange(0, id, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Gives back the links of `item`, claimed and not linked.
    fn unclaim(&mut self, item: Arc<T>) -> Arc<T> {
        item.rb_links().tree.store(0, Ordering::Release);
        item
    }

    /// Links `item`, whose links this tree claimed, at `link`, a child slot
    /// of `parent` (or the root) that `find` or a [`Vacancy`] of the
    /// unchanged tree gave.
    fn link(
        &mut self,
        item: Arc<T>,
        parent: *mut bindings::rb_node,
        link: *mut *mut bindings::rb_node,
    ) {
        let node = Self::node_of(&item);
        let _ = Arc::into_raw(item);
        // INVARIANT: the node is linked into this tree, which keeps the
        // reference just given up; its links name this tree (claimed).
        // SAFETY: `node` belongs to links this tree claimed, so it is in no
        // tree; `parent` and `link` are where an item of its key goes.
        unsafe {
            bindings::rb_link_node(node, parent, link);
            bindings::rb_insert_color(node, &mut self.root);
        }
        self.len += 1;
        self.changes += 1;
    }

    /// Unlinks `node` and returns its item's reference.
    ///
    /// # Safety
    ///
    /// `node` is reachable from `self.root`.
    unsafe fn unlink(&mut self, node: *mut bindings::rb_node) -> Arc<T> {
        // SAFETY: `node` is in this tree (the caller's promise).
        unsafe { bindings::rb_erase(node, &mut self.root) };
        self.len -= 1;
        self.changes += 1;
        // SAFETY: As above; the tree owned a reference, from `into_raw`.
        let item = unsafe { Arc::from_raw(Self::item(node)) };
        // INVARIANT: unlinked, the item names no tree.
        item.rb_links().tree.store(0, Ordering::Release);
        item
    }

    /// Removes the item with `key`.
    pub(crate) fn remove(&mut self, key: &T::Key) -> Option<Arc<T>> {
        let Place::Found(node) = self.find(key) else {
            return None;
        };
        // SAFETY: `find` found `node` in this tree.
        Some(unsafe { self.unlink(node) })
    }

    /// Removes `item` if it is in this tree, without a walk.
    pub(crate) fn remove_item(&mut self, item: &T) -> Option<Arc<T>> {
        if self.id == 0 || item.rb_links().tree.load(Ordering::Acquire) != self.id {
            return None;
        }
        // SAFETY: an item whose links name this tree is in it (type
        // invariant); ids are unique, so no other tree's item names it.
        Some(unsafe { self.unlink(Self::node_of(item)) })
    }

    /// Removes the item with the smallest key.
    pub(crate) fn pop_first(&mut self) -> Option<Arc<T>> {
        // SAFETY: `root` is a valid tree.
        let node = unsafe { bindings::rb_first(&self.root) };
        if node.is_null() {
            return None;
        }
        // SAFETY: `rb_first` returned a node of this tree.
        Some(unsafe { self.unlink(node) })
    }

    /// The items, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        // SAFETY: `root` is a valid tree.
        self.iter_nodes(unsafe { bindings::rb_first(&self.root) })
    }

    /// The items from `node` (a node of this tree, or null) on.
    fn iter_nodes(&self, mut node: *mut bindings::rb_node) -> impl Iterator<Item = &T> {
        core::iter::from_fn(move || {
            if node.is_null() {
                return None;
            }
            // SAFETY: `node` is a node of the tree, which `&self` keeps
            // unchanged and its items alive while the iterator lives.
            unsafe {
                let item = &*Self::item(node);
                node = bindings::rb_next(node);
                Some(item)
            }
        })
    }
}

impl<T: RbItem<ID>, const ID: u64> Default for RbTree<T, ID> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: RbItem<ID>, const ID: u64> Drop for RbTree<T, ID> {
    fn drop(&mut self) {
        while self.pop_first().is_some() {}
    }
}
