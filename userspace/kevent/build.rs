//! Reads the ABI from `uapi/linux/kevent.h` itself: compiles a small C
//! program against the header with the host C compiler (`$CC`, else `cc`),
//! runs it, and writes what it prints (every constant, the sizes and field
//! offsets of the structs, the ioctl numbers) to `$OUT_DIR/abi.rs`.
//! `src/sys.rs` takes its constants from there and checks its `#[repr(C)]`
//! structs against the offsets, so the crate and the header cannot drift.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// The header's constants, all of type `u32` in Rust.
const CONSTANTS: &[&str] = &[
    "KEVENT_SOCKET",
    "KEVENT_INODE",
    "KEVENT_TIMER",
    "KEVENT_POLL",
    "KEVENT_NAIO",
    "KEVENT_AIO",
    "KEVENT_USER",
    "KEVENT_MAX",
    "KEVENT_REQ_ONESHOT",
    "KEVENT_REQ_ET",
    "KEVENT_RET_BROKEN",
    "KEVENT_RET_DONE",
    "KEVENT_RET_EOF",
    "KEVENT_RET_CANCELED",
    "KEVENT_SOCKET_RECV",
    "KEVENT_SOCKET_ACCEPT",
    "KEVENT_SOCKET_SEND",
    "KEVENT_INODE_CREATE",
    "KEVENT_INODE_REMOVE",
    "KEVENT_INODE_WRITE",
    "KEVENT_INODE_ATTRIB",
    "KEVENT_INODE_CLOSE_WRITE",
    "KEVENT_INODE_MOVED_FROM",
    "KEVENT_INODE_MOVED_TO",
    "KEVENT_INODE_DELETE_SELF",
    "KEVENT_INODE_MOVE_SELF",
    "KEVENT_INODE_UNMOUNT",
    "KEVENT_INODE_ALL",
    "KEVENT_TIMER_FIRED",
    "KEVENT_TIMER_UNIT_MS",
    "KEVENT_TIMER_UNIT_US",
    "KEVENT_TIMER_UNIT_NS",
    "KEVENT_TIMER_UNIT_MASK",
    "KEVENT_TIMER_MONOTONIC",
    "KEVENT_TIMER_REALTIME",
    "KEVENT_TIMER_BOOTTIME",
    "KEVENT_TIMER_TAI",
    "KEVENT_TIMER_CLOCK_MASK",
    "KEVENT_TIMER_ABSTIME",
    "KEVENT_TIMER_CANCEL_ON_SET",
    "KEVENT_POLL_POLLIN",
    "KEVENT_POLL_POLLPRI",
    "KEVENT_POLL_POLLOUT",
    "KEVENT_POLL_POLLERR",
    "KEVENT_POLL_POLLHUP",
    "KEVENT_POLL_POLLNVAL",
    "KEVENT_POLL_POLLRDNORM",
    "KEVENT_POLL_POLLRDBAND",
    "KEVENT_POLL_POLLWRNORM",
    "KEVENT_POLL_POLLWRBAND",
    "KEVENT_POLL_POLLMSG",
    "KEVENT_POLL_POLLREMOVE",
    "KEVENT_POLL_POLLRDHUP",
    "KEVENT_CTL_ADD",
    "KEVENT_CTL_REMOVE",
    "KEVENT_CTL_MODIFY",
    "KEVENT_CTL_INIT",
    "KEVENT_CTL_READY",
    "KEVENT_CTL_MAX_NUM",
    "KEVENT_IOC_MAGIC",
    "KEVENT_IOC_CTL",
    "KEVENT_IOC_GET_EVENTS",
    "KEVENT_IOC_PGET_EVENTS",
    "KEVENT_GET_RING",
    "KEVENT_RING_MIN_ENTRIES",
    "KEVENT_RING_MAX_ENTRIES",
    "KEVENT_RING_BACKLOG",
    "KEVENT_IOC_RING_SETUP",
];

/// The structs and their fields, as the header names them.
const STRUCTS: &[(&str, &[&str])] = &[
    (
        "ukevent",
        &[
            "id",
            "type",
            "event",
            "req_flags",
            "ret_flags",
            "ret_data",
            "user",
            "ptr",
        ],
    ),
    (
        "kevent_ctl_arg",
        &["cmd", "num", "events", "flags", "__reserved"],
    ),
    (
        "kevent_get_events_arg",
        &[
            "min_nr",
            "max_nr",
            "timeout_ns",
            "events",
            "flags",
            "__reserved",
        ],
    ),
    (
        "kevent_pget_events_arg",
        &["get", "sigmask", "sigsetsize", "__reserved"],
    ),
    (
        "kevent_ring_setup",
        &["entries", "flags", "size", "__reserved"],
    ),
    (
        "kevent_ring_entry",
        &["id", "type", "ret_flags", "ret_data", "user", "ptr"],
    ),
    (
        "kevent_ring",
        &[
            "head", "__pad0", "tail", "mask", "flags", "__pad1", "entries",
        ],
    ),
];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let uapi = manifest.join("../../uapi");
    let header = uapi.join("linux/kevent.h");
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-env-changed=CC");
    assert!(
        header.exists(),
        "{} is missing: the kevent crate is built from the kevent repository",
        header.display()
    );

    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <linux/kevent.h>\nint main(void)\n{\n",
    );
    for name in CONSTANTS {
        writeln!(
            c,
            "\tprintf(\"pub const {name}: u32 = %#llx;\\n\", (unsigned long long)({name}));"
        )
        .unwrap();
    }
    for (st, fields) in STRUCTS {
        let up = st.to_uppercase();
        writeln!(
            c,
            "\tprintf(\"pub const SIZEOF_{up}: usize = %zu;\\n\", sizeof(struct {st}));"
        )
        .unwrap();
        writeln!(
            c,
            "\tprintf(\"pub const ALIGNOF_{up}: usize = %zu;\\n\", _Alignof(struct {st}));"
        )
        .unwrap();
        for f in *fields {
            let fup = f.trim_start_matches('_').to_uppercase();
            writeln!(
                c,
                "\tprintf(\"pub const OFFSETOF_{up}_{fup}: usize = %zu;\\n\", offsetof(struct {st}, {f}));"
            )
            .unwrap();
        }
    }
    c.push_str("\treturn 0;\n}\n");

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let src = out.join("abi_probe.c");
    let exe = out.join("abi_probe");
    fs::write(&src, c).expect("write abi_probe.c");
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .arg("-std=gnu11")
        .arg("-Wall")
        .arg("-Werror")
        .arg("-I")
        .arg(&uapi)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}` (set CC): {e}"));
    assert!(
        status.success(),
        "`{cc}` failed to compile {}",
        src.display()
    );
    let run = Command::new(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    assert!(run.status.success(), "{} failed", exe.display());
    let mut rs = String::from("// Generated by build.rs from uapi/linux/kevent.h. Do not edit.\n");
    rs.push_str(std::str::from_utf8(&run.stdout).expect("utf-8 output"));
    fs::write(out.join("abi.rs"), rs).expect("write abi.rs");
}
