//! The kevent crate's API against the module: batches, the reusable
//! `Events` buffer, fd conversions, queues watching queues, sockets,
//! file-system notifications.

use crate::alloc_count::allocations;
use crate::ktap::{Test, TestResult};
use crate::queue::{errno, queue, user, wait};
use crate::{check, check_eq};
use kevent::{
    Ctl, Direction, Events, InodeChange, InodeEvents, Interest, Kind, Queue, Request,
    SocketReadiness, Ukevent,
};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const TESTS: &[Test] = &[
    Test {
        name: "api_batch_of_every_kind_with_results",
        run: batch_of_every_kind_with_results,
    },
    Test {
        name: "api_wait_allocates_nothing_and_fills_in_place",
        run: wait_allocates_nothing_and_fills_in_place,
    },
    Test {
        name: "api_fd_conversions_and_a_watched_queue",
        run: fd_conversions_and_a_watched_queue,
    },
    Test {
        name: "api_socket_directions_figures_and_eof",
        run: socket_directions_figures_and_eof,
    },
    Test {
        name: "api_inode_directory_entries_and_no_child_events",
        run: inode_directory_entries_and_no_child_events,
    },
    Test {
        name: "api_inode_file_changes_coalesce_into_one_event",
        run: inode_file_changes_coalesce_into_one_event,
    },
    Test {
        name: "api_inode_watches_the_object_not_the_fd",
        run: inode_watches_the_object_not_the_fd,
    },
    Test {
        name: "api_inode_oneshot_goes_with_its_event",
        run: inode_oneshot_goes_with_its_event,
    },
    Test {
        name: "api_inode_deletion_ends_the_watch",
        run: inode_deletion_ends_the_watch,
    },
    Test {
        name: "api_inode_unmount_ends_the_watch",
        run: inode_unmount_ends_the_watch,
    },
    Test {
        name: "api_inode_modify_filters_what_is_pending",
        run: inode_modify_filters_what_is_pending,
    },
    Test {
        name: "api_inode_refusals",
        run: inode_refusals,
    },
];

fn batch_of_every_kind_with_results() -> TestResult {
    let q = queue()?;
    let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
    let timer = Request::timer(Duration::from_millis(1), None)
        .map_err(|e| e.to_string())?
        .oneshot()
        .with_cookie(3);
    let mut batch = [
        user(1),
        Request::poll(&writer, Interest::OUT).with_cookie(2),
        timer,
        Request::poll(&reader, Interest::IN).edge_triggered(),
        user(1),
    ];
    let results = q.submit(Ctl::Add, &mut batch).map_err(|e| e.to_string())?;
    let errnos: Vec<Option<i32>> = results.into_iter().map(errno).collect();
    check_eq!(errnos, vec![None, None, None, None, Some(libc::EEXIST)]);
    // The writable pipe and the timer come; nothing else is ready.
    let mut ev = Events::with_capacity(8);
    check_eq!(wait(&q, 2, &mut ev, Some(Duration::from_secs(10)))?, 2);
    let mut kinds: Vec<(Kind, u64)> = ev.iter().map(|e| (e.kind(), e.cookie())).collect();
    kinds.sort_by_key(|k| k.1);
    check_eq!(kinds, vec![(Kind::Poll, 2), (Kind::Timer, 3)]);
    for e in &ev {
        match e.kind() {
            Kind::Poll => check_eq!(e.fired(), Interest::OUT),
            _ => check_eq!(e.expirations(), 1),
        }
        check!(e.error().is_none(), "{:?} broken", e.raw());
    }
    // Removing through the event's own request.
    let out = ev
        .iter()
        .find(|e| e.kind() == Kind::Poll)
        .ok_or("no poll event")?;
    q.remove(&out.request()).map_err(|e| e.to_string())?;
    let mut again = [out.request(), batch[2]];
    let results = q
        .submit(Ctl::Remove, &mut again)
        .map_err(|e| e.to_string())?;
    let errnos: Vec<Option<i32>> = results.into_iter().map(errno).collect();
    // The one-shot timer went with its delivery.
    check_eq!(errnos, vec![Some(libc::ENOENT), Some(libc::ENOENT)]);
    Ok(())
}

fn wait_allocates_nothing_and_fills_in_place() -> TestResult {
    let q = queue()?;
    let u = user(9);
    q.add(&u).map_err(|e| e.to_string())?;
    q.trigger(&u, [1, 2]).map_err(|e| e.to_string())?;
    let mut ev = Events::with_capacity(4);
    let buf = ev.as_raw().as_ptr();
    let before = allocations();
    let mut sum = 0u64;
    for _ in 0..1000 {
        // Level-triggered: one event per wait, forever.
        q.wait(1, &mut ev, Some(Duration::ZERO))
            .map_err(|e| e.to_string())?;
        for e in &ev {
            sum += u64::from(e.payload()[1]);
        }
    }
    let allocated = allocations() - before;
    check_eq!(allocated, 0);
    check_eq!(sum, 2000);
    check!(ev.as_raw().as_ptr() == buf, "the buffer moved");
    Ok(())
}

fn fd_conversions_and_a_watched_queue() -> TestResult {
    let outer = queue()?;
    let inner = outer.new_queue().map_err(|e| e.to_string())?;
    // Through an OwnedFd and back.
    let fd: OwnedFd = inner.into();
    let raw = fd.as_raw_fd();
    let inner = Queue::from(fd);
    check_eq!(inner.as_raw_fd(), raw);
    check_eq!(inner.as_fd().as_raw_fd(), raw);
    outer
        .add(&Request::poll(&inner, Interest::IN).with_cookie(5))
        .map_err(|e| e.to_string())?;
    // A queue watching itself is a loop.
    check_eq!(
        errno(outer.add(&Request::poll(&outer, Interest::IN))),
        Some(libc::ELOOP)
    );
    let mut ev = Events::with_capacity(2);
    check_eq!(wait(&outer, 0, &mut ev, Some(Duration::ZERO))?, 0);
    inner.add(&user(1)).map_err(|e| e.to_string())?;
    inner.trigger(&user(1), [0, 0]).map_err(|e| e.to_string())?;
    check_eq!(wait(&outer, 1, &mut ev, Some(Duration::from_secs(10)))?, 1);
    // The wanted bit that is set; the queue also reports RDNORM.
    let e = ev.get(0).ok_or("no event")?;
    check_eq!(
        (e.cookie(), e.fired(), e.fd()),
        (5, Interest::IN, Some(raw))
    );
    Ok(())
}

fn socket_directions_figures_and_eof() -> TestResult {
    let q = queue()?;
    let (mut a, mut b) = UnixStream::pair().map_err(|e| e.to_string())?;
    // Two directions of one socket: two cookies.
    let recv = Request::socket(&a, Direction::Recv)
        .low_water(4)
        .with_cookie(1);
    let send = Request::socket(&a, Direction::Send).with_cookie(2);
    let mut batch = [
        recv,
        send,
        Request::socket(&a, Direction::Accept).low_water(1),
    ];
    let results = q.submit(Ctl::Add, &mut batch).map_err(|e| e.to_string())?;
    let errnos: Vec<Option<i32>> = results.into_iter().map(errno).collect();
    check_eq!(errnos, vec![None, None, Some(libc::EINVAL)]);
    let mut ev = Events::with_capacity(4);
    // Room to send; below the mark, nothing to receive.
    b.write_all(b"abc").map_err(|e| e.to_string())?;
    check_eq!(wait(&q, 1, &mut ev, Some(Duration::from_secs(10)))?, 1);
    let e = ev.get(0).ok_or("no event")?;
    let s = e.socket().ok_or("not a socket event")?;
    check_eq!(
        (e.kind(), e.cookie(), e.fd()),
        (Kind::Socket, 2, Some(a.as_raw_fd()))
    );
    check!(
        s.direction == Direction::Send && s.amount > 0 && !s.eof,
        "{s:?}"
    );
    q.remove(&send).map_err(|e| e.to_string())?;
    // The fourth byte reaches the mark; the peer's close is end of file.
    b.write_all(b"d").map_err(|e| e.to_string())?;
    check_eq!(wait(&q, 1, &mut ev, Some(Duration::from_secs(10)))?, 1);
    let s = ev
        .get(0)
        .and_then(|e| e.socket())
        .ok_or("no socket event")?;
    let want = SocketReadiness {
        direction: Direction::Recv,
        amount: 4,
        eof: false,
        error: None,
    };
    check_eq!(s, want);
    drop(b);
    let mut buf = [0u8; 8];
    check_eq!(a.read(&mut buf).map_err(|e| e.to_string())?, 4);
    check_eq!(wait(&q, 1, &mut ev, Some(Duration::from_secs(10)))?, 1);
    let s = ev
        .get(0)
        .and_then(|e| e.socket())
        .ok_or("no socket event")?;
    check!(s.eof && s.amount == 0, "{s:?}");
    // A pipe is no socket.
    let (reader, _writer) = std::io::pipe().map_err(|e| e.to_string())?;
    check_eq!(
        errno(q.add(&Request::socket(&reader, Direction::Recv))),
        Some(libc::ENOTSOCK)
    );
    Ok(())
}

// ---- KEVENT_INODE ----
//
// The kernel notifies synchronously: the event of a file operation is
// ready when the syscall returns (a close's too: the last fput of a file
// the process closes runs before close() returns). The waits' timeouts
// only bound a failure.

/// How long a test waits for an event it expects.
const INODE_WAIT: Duration = Duration::from_secs(5);

/// A directory of a test's own in the temporary directory (`/tmp`, a
/// tmpfs in the VM), removed with what it holds when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Result<TempDir, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("kevent-harness-{}-{tag}-{n}", std::process::id()));
        fs::create_dir(&path).map_err(at(format!("mkdir {}", path.display())))?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A test's error for a failed file operation.
fn at(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// An open for writing that neither creates nor truncates (no event).
fn writer(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(at(format!("open {} for writing", path.display())))
}

fn chmod(path: &Path, mode: u32) -> Result<(), String> {
    fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(at(format!("chmod {}", path.display())))
}

/// What an event of a watch that goes on says.
fn change(events: InodeEvents, count: u32) -> InodeChange {
    InodeChange {
        events,
        count,
        ended: false,
    }
}

/// Waits for exactly `n` events of `q`, every one an inode event, and
/// returns their cookies and what they say, by cookie.
fn inode_events(q: &Queue, ev: &mut Events, n: usize) -> Result<Vec<(u64, InodeChange)>, String> {
    let got = wait(q, n, ev, Some(INODE_WAIT))?;
    check!(got == n, "{got} events, wanted {n}: {:?}", ev.as_raw());
    let mut out = Vec::new();
    for e in ev.iter() {
        check!(e.kind() == Kind::Inode, "not an inode event: {:?}", e.raw());
        let c = e.inode().ok_or("no inode change")?;
        check!(e.error().is_none(), "{:?} broken", e.raw());
        out.push((e.cookie(), c));
    }
    out.sort_by_key(|(cookie, _)| *cookie);
    Ok(out)
}

/// The one event of `q`, an inode event: its cookie and what it says.
fn inode_event(q: &Queue, ev: &mut Events) -> Result<(u64, InodeChange), String> {
    Ok(inode_events(q, ev, 1)?[0])
}

/// Nothing is ready on `q`.
fn no_event(q: &Queue, ev: &mut Events) -> Result<(), String> {
    let n = wait(q, 0, ev, Some(Duration::ZERO))?;
    check!(n == 0, "{n} events, wanted none: {:?}", ev.as_raw());
    Ok(())
}

/// A directory's request reports what happens to its entries (created,
/// removed, renamed within, out and in), one notification each, and
/// nothing of what happens to the entries themselves.
fn inode_directory_entries_and_no_child_events() -> TestResult {
    use InodeEvents as I;
    let dir = TempDir::new("entries")?;
    let elsewhere = TempDir::new("elsewhere")?;
    let q = queue()?;
    let mut ev = Events::with_capacity(4);
    let d = File::open(dir.path()).map_err(at("open the directory"))?;
    q.add(&Request::inode(&d, I::all()).with_cookie(1))
        .map_err(at("ADD"))?;
    no_event(&q, &mut ev)?;
    // A file created, written, closed: the directory sees the creation.
    let mut f = File::create(dir.join("a")).map_err(at("create a"))?;
    f.write_all(b"data").map_err(at("write a"))?;
    drop(f);
    check_eq!(inode_event(&q, &mut ev)?, (1, change(I::CREATE, 1)));
    no_event(&q, &mut ev)?;
    // mkdir, symlink, link: three creations, collected as one event.
    fs::create_dir(dir.join("sub")).map_err(at("mkdir sub"))?;
    std::os::unix::fs::symlink("a", dir.join("s")).map_err(at("symlink s"))?;
    fs::hard_link(dir.join("a"), dir.join("h")).map_err(at("link h"))?;
    check_eq!(inode_event(&q, &mut ev)?, (1, change(I::CREATE, 3)));
    // What happens to an entry is the entry's: a write, a truncation, a
    // chmod of a file in the directory are not reported to it.
    let mut w = writer(&dir.join("a"))?;
    w.write_all(b"more").map_err(at("write a"))?;
    w.set_len(1).map_err(at("truncate a"))?;
    drop(w);
    chmod(&dir.join("h"), 0o600)?;
    no_event(&q, &mut ev)?;
    // unlink and rmdir.
    fs::remove_file(dir.join("a")).map_err(at("unlink a"))?;
    fs::remove_dir(dir.join("sub")).map_err(at("rmdir sub"))?;
    check_eq!(inode_event(&q, &mut ev)?, (1, change(I::REMOVE, 2)));
    // A rename within the directory is both, one notification each.
    fs::rename(dir.join("h"), dir.join("h2")).map_err(at("rename h h2"))?;
    check_eq!(
        inode_event(&q, &mut ev)?,
        (1, change(I::MOVED_FROM | I::MOVED_TO, 2))
    );
    // Out of it, and back in.
    let out = elsewhere.join("h");
    fs::rename(dir.join("h2"), &out).map_err(at("rename h2 out"))?;
    check_eq!(inode_event(&q, &mut ev)?, (1, change(I::MOVED_FROM, 1)));
    fs::rename(&out, dir.join("h3")).map_err(at("rename h3 in"))?;
    check_eq!(inode_event(&q, &mut ev)?, (1, change(I::MOVED_TO, 1)));
    no_event(&q, &mut ev)?;
    Ok(())
}

/// A file's request: a write, a truncation, a chmod, the close of a
/// writer, one event each when collected in between; collected once, one
/// event with every bit and the count of all. Opens, reads and read-only
/// closes are nothing.
fn inode_file_changes_coalesce_into_one_event() -> TestResult {
    use InodeEvents as I;
    let dir = TempDir::new("file")?;
    let path = dir.join("f");
    fs::write(&path, b"").map_err(at("create f"))?;
    let q = queue()?;
    let mut ev = Events::with_capacity(4);
    let watched = File::open(&path).map_err(at("open f"))?;
    let req = Request::inode(&watched, I::WRITE | I::ATTRIB | I::CLOSE_WRITE).with_cookie(2);
    q.add(&req).map_err(at("ADD"))?;
    let mut w = writer(&path)?;
    no_event(&q, &mut ev)?;
    w.write_all(b"abc").map_err(at("write"))?;
    check_eq!(inode_event(&q, &mut ev)?, (2, change(I::WRITE, 1)));
    w.set_len(1).map_err(at("ftruncate"))?;
    check_eq!(inode_event(&q, &mut ev)?, (2, change(I::WRITE, 1)));
    w.set_permissions(Permissions::from_mode(0o640))
        .map_err(at("fchmod"))?;
    check_eq!(inode_event(&q, &mut ev)?, (2, change(I::ATTRIB, 1)));
    drop(w);
    check_eq!(inode_event(&q, &mut ev)?, (2, change(I::CLOSE_WRITE, 1)));
    no_event(&q, &mut ev)?;
    // Five notifications before a collection: one event.
    let mut w = writer(&path)?;
    for b in [b"1", b"2", b"3"] {
        w.write_all(b).map_err(at("write"))?;
    }
    chmod(&path, 0o600)?;
    drop(w);
    check_eq!(
        inode_event(&q, &mut ev)?,
        (2, change(I::WRITE | I::ATTRIB | I::CLOSE_WRITE, 5))
    );
    // Delivered is cleared.
    no_event(&q, &mut ev)?;
    // Not asked for: opening, reading, closing without writing (the
    // writer wrote from offset 0, over the "a").
    let mut data = Vec::new();
    File::open(&path)
        .and_then(|mut r| r.read_to_end(&mut data))
        .map_err(at("read f"))?;
    check_eq!(data, b"123".to_vec());
    no_event(&q, &mut ev)?;
    // Edge-triggered is the same.
    q.modify(&req.edge_triggered())
        .map_err(at("MODIFY to ET"))?;
    writer(&path)?.write_all(b"4").map_err(at("write"))?;
    check_eq!(
        inode_event(&q, &mut ev)?,
        (2, change(I::WRITE | I::CLOSE_WRITE, 2))
    );
    no_event(&q, &mut ev)?;
    Ok(())
}

/// The fd names the object at ADD: an O_PATH fd works, closing it
/// removes nothing, and the requests of one inode, in one queue (two
/// cookies) or two, each get every notification.
fn inode_watches_the_object_not_the_fd() -> TestResult {
    use InodeEvents as I;
    let dir = TempDir::new("object")?;
    let path = dir.join("f");
    fs::write(&path, b"").map_err(at("create f"))?;
    let (q1, q2) = (queue()?, queue()?);
    let mut ev = Events::with_capacity(4);
    let opath = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(&path)
        .map_err(at("open f O_PATH"))?;
    let num = opath.as_raw_fd();
    let a = Request::inode(&opath, I::WRITE).with_cookie(1);
    let b = Request::inode(&opath, I::WRITE | I::ATTRIB)
        .edge_triggered()
        .with_cookie(2);
    q1.add(&a).map_err(at("ADD a"))?;
    q1.add(&b).map_err(at("ADD b"))?;
    q2.add(&a).map_err(at("ADD a to the second queue"))?;
    check_eq!(errno(q1.add(&a)), Some(libc::EEXIST));
    drop(opath);
    writer(&path)?.write_all(b"x").map_err(at("write"))?;
    check_eq!(
        inode_events(&q1, &mut ev, 2)?,
        vec![(1, change(I::WRITE, 1)), (2, change(I::WRITE, 1))]
    );
    check_eq!(ev.get(0).and_then(|e| e.fd()), Some(num));
    check_eq!(inode_event(&q2, &mut ev)?, (1, change(I::WRITE, 1)));
    // Its number closed, the request is there to remove.
    q1.remove(&a).map_err(at("REMOVE a"))?;
    check_eq!(errno(q1.remove(&a)), Some(libc::ENOENT));
    chmod(&path, 0o600)?;
    check_eq!(inode_event(&q1, &mut ev)?, (2, change(I::ATTRIB, 1)));
    no_event(&q2, &mut ev)?;
    writer(&path)?.write_all(b"y").map_err(at("write"))?;
    check_eq!(inode_event(&q1, &mut ev)?, (2, change(I::WRITE, 1)));
    check_eq!(inode_event(&q2, &mut ev)?, (1, change(I::WRITE, 1)));
    Ok(())
}

/// A one-shot request delivers one event, which holds what came before
/// it was collected, and is gone with it.
fn inode_oneshot_goes_with_its_event() -> TestResult {
    let dir = TempDir::new("oneshot")?;
    let q = queue()?;
    let mut ev = Events::with_capacity(4);
    let d = File::open(dir.path()).map_err(at("open the directory"))?;
    let req = Request::inode(&d, InodeEvents::CREATE)
        .oneshot()
        .with_cookie(3);
    q.add(&req).map_err(at("ADD"))?;
    fs::write(dir.join("x"), b"").map_err(at("create x"))?;
    fs::create_dir(dir.join("y")).map_err(at("mkdir y"))?;
    check_eq!(
        inode_event(&q, &mut ev)?,
        (3, change(InodeEvents::CREATE, 2))
    );
    check_eq!(errno(q.remove(&req)), Some(libc::ENOENT));
    fs::write(dir.join("z"), b"").map_err(at("create z"))?;
    no_event(&q, &mut ev)?;
    Ok(())
}

/// Deleting the watched object ends the watch: one last event with
/// `ended`, carrying `DELETE_SELF` if asked for (no bits and no count if
/// not), and the request is gone. A file unlinked while open is deleted
/// at its last close; a directory at its rmdir.
fn inode_deletion_ends_the_watch() -> TestResult {
    use InodeEvents as I;
    let dir = TempDir::new("delete")?;
    let q = queue()?;
    let mut ev = Events::with_capacity(4);
    let path = dir.join("f");
    fs::write(&path, b"").map_err(at("create f"))?;
    let f = File::open(&path).map_err(at("open f"))?;
    let write_only = Request::inode(&f, I::WRITE).with_cookie(1);
    let all = Request::inode(&f, I::all()).with_cookie(2);
    q.add(&write_only).map_err(at("ADD"))?;
    q.add(&all).map_err(at("ADD"))?;
    drop(f);
    // Unlinked with no fd open: the link count (ATTRIB), then deleted.
    fs::remove_file(&path).map_err(at("unlink f"))?;
    let end = |events, count| InodeChange {
        events,
        count,
        ended: true,
    };
    check_eq!(
        inode_events(&q, &mut ev, 2)?,
        vec![
            (1, end(I::empty(), 0)),
            (2, end(I::ATTRIB | I::DELETE_SELF, 2))
        ]
    );
    check_eq!(errno(q.remove(&write_only)), Some(libc::ENOENT));
    check_eq!(errno(q.remove(&all)), Some(libc::ENOENT));
    no_event(&q, &mut ev)?;
    // Unlinked while open: deleted when the last fd goes.
    let path = dir.join("g");
    fs::write(&path, b"").map_err(at("create g"))?;
    let g = File::open(&path).map_err(at("open g"))?;
    let req = Request::inode(&g, I::ATTRIB | I::DELETE_SELF).with_cookie(3);
    q.add(&req).map_err(at("ADD"))?;
    fs::remove_file(&path).map_err(at("unlink g"))?;
    check_eq!(inode_event(&q, &mut ev)?, (3, change(I::ATTRIB, 1)));
    drop(g);
    check_eq!(inode_event(&q, &mut ev)?, (3, end(I::DELETE_SELF, 1)));
    check_eq!(errno(q.remove(&req)), Some(libc::ENOENT));
    // A directory.
    let sub = dir.join("sub");
    fs::create_dir(&sub).map_err(at("mkdir sub"))?;
    let d = File::open(&sub).map_err(at("open sub"))?;
    let req = Request::inode(&d, I::CREATE | I::DELETE_SELF).with_cookie(4);
    q.add(&req).map_err(at("ADD"))?;
    drop(d);
    fs::remove_dir(&sub).map_err(at("rmdir sub"))?;
    check_eq!(inode_event(&q, &mut ev)?, (4, end(I::DELETE_SELF, 1)));
    check_eq!(errno(q.remove(&req)), Some(libc::ENOENT));
    no_event(&q, &mut ev)?;
    Ok(())
}

/// A tmpfs mounted for a test, unmounted (lazily) when dropped if the
/// test did not.
struct Mount(Option<CString>);

impl Mount {
    /// Mounts a tmpfs on `dir`; `None` if the harness may not mount.
    fn tmpfs(dir: &Path) -> Result<Option<Mount>, String> {
        let target = CString::new(dir.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: every pointer is a NUL-terminated string that outlives
        // the call; mount reads them and keeps none.
        let r = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                c"size=1m".as_ptr().cast(),
            )
        };
        if r == 0 {
            return Ok(Some(Mount(Some(target))));
        }
        match std::io::Error::last_os_error() {
            e if e.raw_os_error() == Some(libc::EPERM) => Ok(None),
            e => Err(format!("mount a tmpfs on {}: {e}", dir.display())),
        }
    }

    fn umount(&mut self, flags: libc::c_int) -> std::io::Result<()> {
        let Some(target) = self.0.take() else {
            return Ok(());
        };
        // SAFETY: `target` is a NUL-terminated string that outlives the
        // call.
        if unsafe { libc::umount2(target.as_ptr(), flags) } != 0 {
            let e = std::io::Error::last_os_error();
            self.0 = Some(target);
            return Err(e);
        }
        Ok(())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = self.umount(libc::MNT_DETACH);
    }
}

/// Unmounting the file system of a watched file (no fd open) succeeds
/// and ends the watch with `UNMOUNT`, reported asked for or not.
fn inode_unmount_ends_the_watch() -> TestResult {
    use InodeEvents as I;
    let dir = TempDir::new("unmount")?;
    let Some(mut mnt) = Mount::tmpfs(dir.path())? else {
        println!("# api_inode_unmount_ends_the_watch: may not mount a tmpfs (EPERM), skipped");
        return Ok(());
    };
    let q = queue()?;
    let mut ev = Events::with_capacity(4);
    let path = dir.join("f");
    fs::write(&path, b"").map_err(at("create f on the tmpfs"))?;
    let f = File::open(&path).map_err(at("open f"))?;
    let asked = Request::inode(&f, I::ATTRIB | I::UNMOUNT).with_cookie(1);
    let not_asked = Request::inode(&f, I::WRITE).with_cookie(2);
    q.add(&asked).map_err(at("ADD"))?;
    q.add(&not_asked).map_err(at("ADD"))?;
    drop(f);
    mnt.umount(0).map_err(at(
        "umount a tmpfs whose file is watched (the requests must not pin it)",
    ))?;
    let got = inode_events(&q, &mut ev, 2)?;
    let end = InodeChange {
        events: I::UNMOUNT,
        count: 1,
        ended: true,
    };
    check_eq!(got[0], (1, end));
    // Not asked for, still reported (its count is the kernel's choice).
    let (cookie, c) = got[1];
    check!(
        cookie == 2 && c.events == I::UNMOUNT && c.ended,
        "{cookie}: {c:?}"
    );
    check_eq!(errno(q.remove(&asked)), Some(libc::ENOENT));
    check_eq!(errno(q.remove(&not_asked)), Some(libc::ENOENT));
    no_event(&q, &mut ev)?;
    Ok(())
}

/// MODIFY replaces the bits asked for; what is pending is filtered by the
/// new ones when delivered, and nothing is delivered if nothing is left.
fn inode_modify_filters_what_is_pending() -> TestResult {
    use InodeEvents as I;
    let dir = TempDir::new("modify")?;
    let path = dir.join("f");
    fs::write(&path, b"").map_err(at("create f"))?;
    let q = queue()?;
    let mut ev = Events::with_capacity(4);
    let f = File::open(&path).map_err(at("open f"))?;
    let both = Request::inode(&f, I::WRITE | I::ATTRIB).with_cookie(5);
    let attrib = Request::inode(&f, I::ATTRIB).with_cookie(5);
    let write = Request::inode(&f, I::WRITE).with_cookie(5);
    q.add(&both).map_err(at("ADD"))?;
    let mut w = writer(&path)?;
    // A write pending, and no longer asked for: nothing.
    w.write_all(b"a").map_err(at("write"))?;
    q.modify(&attrib).map_err(at("MODIFY to ATTRIB"))?;
    no_event(&q, &mut ev)?;
    chmod(&path, 0o640)?;
    // (Whether the dropped write still counts is not specified.)
    let (cookie, c) = inode_event(&q, &mut ev)?;
    check!(
        cookie == 5 && c.events == I::ATTRIB && !c.ended && c.count >= 1,
        "{cookie}: {c:?}"
    );
    // A write and a chmod pending; only the write is asked for now.
    q.modify(&both).map_err(at("MODIFY to both"))?;
    w.write_all(b"b").map_err(at("write"))?;
    chmod(&path, 0o600)?;
    q.modify(&write).map_err(at("MODIFY to WRITE"))?;
    let (cookie, c) = inode_event(&q, &mut ev)?;
    check!(
        cookie == 5 && c.events == I::WRITE && !c.ended && c.count >= 1,
        "{cookie}: {c:?}"
    );
    no_event(&q, &mut ev)?;
    chmod(&path, 0o644)?;
    no_event(&q, &mut ev)?;
    drop(w);
    Ok(())
}

/// What ADD, MODIFY and READY refuse for an inode request: no bits or
/// unknown ones, `id[1]` not 0, unknown flags (`EINVAL`); the same
/// identity twice (`EEXIST`); an fd that is not open (`EBADF`); READY
/// (`EINVAL`: for user events only). A pipe names an inode too.
fn inode_refusals() -> TestResult {
    let dir = TempDir::new("refusals")?;
    let path = dir.join("f");
    fs::write(&path, b"").map_err(at("create f"))?;
    let q = queue()?;
    let f = File::open(&path).map_err(at("open f"))?;
    let good = Request::inode(&f, InodeEvents::WRITE);
    let raw = *good.raw();
    let mut batch = [
        Request::inode(&f, InodeEvents::empty()),
        Request::from_raw(Ukevent {
            event: 0x400,
            ..raw
        }),
        Request::from_raw(Ukevent {
            event: InodeEvents::all().bits() | 0x8000_0000,
            ..raw
        }),
        Request::from_raw(Ukevent {
            id: [raw.id[0], 1],
            ..raw
        }),
        Request::from_raw(Ukevent {
            req_flags: 0x2,
            ..raw
        }),
        good,
        good,
    ];
    let results = q.submit(Ctl::Add, &mut batch).map_err(at("ADD batch"))?;
    let errnos: Vec<Option<i32>> = results.into_iter().map(errno).collect();
    let einval = Some(libc::EINVAL);
    check_eq!(
        errnos,
        vec![
            einval,
            einval,
            einval,
            einval,
            einval,
            None,
            Some(libc::EEXIST)
        ]
    );
    // MODIFY checks the fields first, then the identity.
    check_eq!(
        errno(q.modify(&Request::inode(&f, InodeEvents::empty()))),
        einval
    );
    check_eq!(errno(q.modify(&good.with_cookie(9))), Some(libc::ENOENT));
    q.modify(&Request::inode(&f, InodeEvents::ATTRIB))
        .map_err(at("MODIFY"))?;
    // READY is for user events.
    check_eq!(errno(q.trigger(&good, [0, 0])), einval);
    // A number that is not open (this thread just closed it).
    let closed = File::open(&path).map_err(at("open f"))?.as_raw_fd();
    let bad = Request::from_raw(Ukevent {
        id: [closed as u32, 0],
        ..raw
    });
    check_eq!(errno(q.add(&bad)), Some(libc::EBADF));
    // A pipe's end names its inode: accepted.
    let (reader, _writer) = std::io::pipe().map_err(at("pipe"))?;
    q.add(&Request::inode(&reader, InodeEvents::ATTRIB))
        .map_err(at("ADD on a pipe"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_dirs_are_their_own_and_go_with_what_they_hold() {
        let (a, b) = (TempDir::new("t").unwrap(), TempDir::new("t").unwrap());
        assert_ne!(a.path(), b.path());
        fs::create_dir(a.join("d")).unwrap();
        fs::write(a.join("d/f"), b"x").unwrap();
        let kept = a.path().to_path_buf();
        drop(a);
        assert!(!kept.exists() && b.path().is_dir());
    }
}
