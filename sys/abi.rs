// SPDX-License-Identifier: GPL-2.0

//! The byte-level traits of the uapi structs of `defs.rs`, which let
//! `uaccess` copy them to and from user memory, and the build-time checks
//! of their layouts against `uapi/linux/kevent.h` (read by
//! `layout_check.c`) that make those traits sound.

use crate::defs::{CtlArg, GetEventsArg, PgetEventsArg, RingSetupArg, Ukevent};
use crate::layout;
use crate::sys::compat::{AsBytes, FromBytes};
use core::mem::{offset_of, size_of};

// SAFETY: The five structs are `repr(C)` with only integer fields and no
// padding (their sizes are checked below against the header, whose fields
// are naturally aligned), so every bit pattern is valid and all bytes are
// initialised.
unsafe impl FromBytes for Ukevent {}
// SAFETY: See `FromBytes` above.
unsafe impl AsBytes for Ukevent {}
// SAFETY: See `FromBytes` above.
unsafe impl FromBytes for CtlArg {}
// SAFETY: See `FromBytes` above.
unsafe impl FromBytes for GetEventsArg {}
// SAFETY: See `FromBytes` above.
unsafe impl FromBytes for PgetEventsArg {}
// SAFETY: See `FromBytes` above.
unsafe impl FromBytes for RingSetupArg {}
// SAFETY: See `FromBytes` above.
unsafe impl AsBytes for RingSetupArg {}

const _: () = {
    assert!(size_of::<Ukevent>() == layout::UKEVENT_SIZE);
    assert!(offset_of!(Ukevent, id) == layout::UKEVENT_ID);
    assert!(offset_of!(Ukevent, type_) == layout::UKEVENT_TYPE);
    assert!(offset_of!(Ukevent, event) == layout::UKEVENT_EVENT);
    assert!(offset_of!(Ukevent, req_flags) == layout::UKEVENT_REQ_FLAGS);
    assert!(offset_of!(Ukevent, ret_flags) == layout::UKEVENT_RET_FLAGS);
    assert!(offset_of!(Ukevent, ret_data) == layout::UKEVENT_RET_DATA);
    assert!(offset_of!(Ukevent, user) == layout::UKEVENT_USER);

    assert!(size_of::<CtlArg>() == layout::CTL_ARG_SIZE);
    assert!(offset_of!(CtlArg, cmd) == layout::CTL_ARG_CMD);
    assert!(offset_of!(CtlArg, num) == layout::CTL_ARG_NUM);
    assert!(offset_of!(CtlArg, events) == layout::CTL_ARG_EVENTS);
    assert!(offset_of!(CtlArg, flags) == layout::CTL_ARG_FLAGS);
    assert!(offset_of!(CtlArg, reserved) == layout::CTL_ARG_RESERVED);

    assert!(size_of::<GetEventsArg>() == layout::GET_EVENTS_ARG_SIZE);
    assert!(offset_of!(GetEventsArg, min_nr) == layout::GET_EVENTS_ARG_MIN_NR);
    assert!(offset_of!(GetEventsArg, max_nr) == layout::GET_EVENTS_ARG_MAX_NR);
    assert!(offset_of!(GetEventsArg, timeout_ns) == layout::GET_EVENTS_ARG_TIMEOUT_NS);
    assert!(offset_of!(GetEventsArg, events) == layout::GET_EVENTS_ARG_EVENTS);
    assert!(offset_of!(GetEventsArg, flags) == layout::GET_EVENTS_ARG_FLAGS);
    assert!(offset_of!(GetEventsArg, reserved) == layout::GET_EVENTS_ARG_RESERVED);

    assert!(size_of::<PgetEventsArg>() == layout::PGET_EVENTS_ARG_SIZE);
    assert!(offset_of!(PgetEventsArg, get) == layout::PGET_EVENTS_ARG_GET);
    assert!(offset_of!(PgetEventsArg, sigmask) == layout::PGET_EVENTS_ARG_SIGMASK);
    assert!(offset_of!(PgetEventsArg, sigsetsize) == layout::PGET_EVENTS_ARG_SIGSETSIZE);
    assert!(offset_of!(PgetEventsArg, reserved) == layout::PGET_EVENTS_ARG_RESERVED);

    assert!(size_of::<RingSetupArg>() == layout::RING_SETUP_SIZE);
    assert!(offset_of!(RingSetupArg, entries) == layout::RING_SETUP_ENTRIES);
    assert!(offset_of!(RingSetupArg, flags) == layout::RING_SETUP_FLAGS);
    assert!(offset_of!(RingSetupArg, size) == layout::RING_SETUP_SIZE_OUT);
    assert!(offset_of!(RingSetupArg, reserved) == layout::RING_SETUP_RESERVED);
};
