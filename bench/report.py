#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns kevent_bench's "@ SECTION WHO PARAMS METRIC MEDIAN LO HI" lines
and the web benchmark's "@ web ROW BACKEND ROUND key=value..." lines
(bench/web/web.sh) into BENCHMARKS.md, and writes the data and gnuplot
scripts of the plots (bench/run.sh runs gnuplot on them). Standard library
only."""

import argparse
import datetime
import os
import re
import statistics
import sys

NOTES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")


def load(path):
    """{(section, who, params, metric): (median, lo, hi)}; torn lines are skipped."""
    res = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 8 or parts[0] != "@" or parts[1] in ("web", "web-info"):
                continue
            try:
                res[tuple(parts[1:5])] = tuple(float(x) for x in parts[5:8])
            except ValueError:
                print("skipping a torn line: " + line.strip(), file=sys.stderr)
    return res


def fmt(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 10000:
        return f"{v / 1e3:.0f} k"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


class Report:
    def __init__(self, res):
        self.res = res
        self.lines = []
        self.goals = []

    def get(self, sec, who, params, metric):
        return self.res.get((sec, who, params, metric))

    def med(self, sec, who, params, metric):
        v = self.get(sec, who, params, metric)
        return v[0] if v else None

    def cell(self, sec, who, params, metric):
        """median (min–max) of the runs."""
        v = self.get(sec, who, params, metric)
        if not v:
            return "–"
        return f"{fmt(v[0])} ({fmt(v[1])}–{fmt(v[2])})"

    def out(self, *lines):
        self.lines.extend(lines)

    def table(self, header, rows):
        self.out("| " + " | ".join(header) + " |", "|" + " --- |" * len(header))
        for r in rows:
            self.out("| " + " | ".join(r) + " |")
        self.out("")

    def goal(self, what, value, met):
        """A goal's row. A ratio (a float, or None) is shown with two
        decimals, or more where two would show it equal to the goal's
        bound: 1.004 misses "<= 1.0" and must not read 1.00."""
        if value is None or isinstance(value, float):
            value = rfmt_against(value, what)
        self.goals.append((what, value, "met" if met else "**missed**"))


def ratio(a, b):
    return a / b if a is not None and b else None


def rfmt(r, digits=2):
    return "–" if r is None else f"{r:.{digits}f}"


def rfmt_against(r, what):
    """rfmt, with as many digits (up to 4) as it takes to tell r from the
    bound that ends the goal's text ("... <= 1.0")."""
    bound = re.search(r"[<>]= ([0-9.]+)$", what)
    digits = 2
    while r is not None and bound and r != float(bound.group(1)) and digits < 4 \
            and float(rfmt(r, digits)) == float(bound.group(1)):
        digits += 1
    return rfmt(r, digits)


PIPE_WHO = ("poll", "epoll", "kevent", "kevent-ring")


def pipes(rep, data_dir, plots):
    rep.out("## 1. Chained pipes (libevent's bench.c)", "",
            "µs per round of 1 000 chained writes, median (fastest–slowest run). "
            "poll over more than 1 000 pipes runs fewer writes (its dispatch is O(n)) "
            "and is scaled to 1 000. kevent-ring: the same chains on a queue with an "
            "event ring, edge-triggered, so each write's wake-up writes an entry into "
            "the ring and the loop reads the ring with no system call (bench/pipes.c).", "")
    rows, flat = [], {}
    with open(os.path.join(data_dir, "pipes.dat"), "w") as dat:
        for active in (1, 100):
            dat.write(f"# active={active}: n " + " ".join(PIPE_WHO) + "\n")
            for n in (100, 1000, 10000, 50000):
                p = f"n={n},active={active}"
                meds = [rep.med("pipes", w, p, "us_per_round") for w in PIPE_WHO]
                r, rr = ratio(meds[2], meds[1]), ratio(meds[3], meds[1])
                rows.append([str(n), str(active)] +
                            [rep.cell("pipes", w, p, "us_per_round") for w in PIPE_WHO] +
                            [rfmt(r), rfmt(rr)])
                dat.write(f"{n} " + " ".join("nan" if m is None else f"{m}" for m in meds) + "\n")
                flat.setdefault(active, []).append(meds)
                rep.goal(f"pipes n={n} active={active}: kevent/epoll <= 1.0", r,
                         r is not None and r <= 1.0)
                rep.goal(f"pipes n={n} active={active}: kevent-ring/epoll <= 1.0", rr,
                         rr is not None and rr <= 1.0)
            dat.write("\n\n")
    rep.table(["n", "active"] + list(PIPE_WHO) + ["kevent/epoll", "kevent-ring/epoll"], rows)
    for active, vals in flat.items():
        e = [v[1] for v in vals if v[1]]
        for col, who in ((2, "kevent"), (3, "kevent-ring")):
            k = [v[col] for v in vals if v[col]]
            if k and e:
                spread = max(k) / min(k)
                rep.goal(f"pipes flat in n (active={active}): {who} slowest/fastest n <= 1.5",
                         f"{spread:.2f} (epoll {max(e) / min(e):.2f})", spread <= 1.5)
    rep.out("![µs per round against n](bench/plots/pipes.png)", "")
    lines = []
    for idx, active, dash in ((0, 1, ""), (1, 100, " dt 2")):
        for col, who in enumerate(PIPE_WHO, start=2):
            lines.append(f"f index {idx} u 1:{col} w lp{dash} t '{who}, {active} active'")
    with open(os.path.join(data_dir, "pipes.gp"), "w") as gp:
        gp.write(f"""set terminal pngcairo size 900,500
set output '{plots}/pipes.png'
set title 'Chained pipes: µs per round of 1 000 writes (median of runs)'
set logscale xy
set xlabel 'pipes (n)'
set ylabel 'µs per round'
set key outside right
set grid
f='{data_dir}/pipes.dat'
plot """ + ", \\\n     ".join(lines) + "\n")


def registration(rep):
    rep.out("## 2. Registration", "",
            "ns per registration: kevent with b requests in one kevent_ctl call, epoll with "
            "b epoll_ctl calls; 64 pipes, median (fastest–slowest run).", "")
    rows = []
    for op in ("add", "modify", "remove"):
        for b in (1, 8, 64):
            p = f"op={op},batch={b}"
            e, k = rep.med("reg", "epoll", p, "ns_per_registration"), rep.med("reg", "kevent", p, "ns_per_registration")
            r = ratio(e, k)
            rows.append([op, str(b), rep.cell("reg", "epoll", p, "ns_per_registration"),
                         rep.cell("reg", "kevent", p, "ns_per_registration"), rfmt(r),
                         rep.cell("reg", "kevent-user", p, "ns_per_registration")])
            if b == 64:
                want = 1.5 if op == "add" else 1.3
                rep.goal(f"batched {op.upper()} of 64: epoll_ctl/kevent per registration >= {want}", r,
                         r is not None and r >= want)
    rep.table(["op", "batch", "epoll_ctl", "kevent_ctl", "epoll/kevent (speed-up)",
               "kevent_ctl, KEVENT_USER (no file)"], rows)


def collection(rep, floor):
    rep.out("## 3. Collection", "",
            f"Fetching ready events from 64 always-ready eventfds. The floor is getppid: "
            f"{fmt(floor)} ns per call in this boot. io_uring has no level-triggered poll: it "
            "reports wake-ups, through a multishot POLL_ADD per eventfd armed once "
            "(SINGLE_ISSUER, DEFER_TASKRUN); before each of its calls the eventfds are written, "
            "outside the timing, and the call waits for their CQEs. kevent-user collects "
            "level-triggered KEVENT_USER events, which have no file to ask. "
            "kevent-ring-level: the same eventfds, level-triggered, on a queue with an event "
            "ring; timed: get-events with KEVENT_GET_RING, then reading the entries from the ring. "
            "kevent-ring: 64 eventfds of its own, edge-triggered, on a queue with a ring; each "
            "eventfd write's wake-up writes an entry into the ring. Timed: only reading the "
            "entries (no system call), blocks of 1 024 entries written beforehand, outside the "
            "timing, as io_uring's writes are. The kernel's share of its events is in those "
            "writes: the second table.", "")
    rows = []
    for b in (1, 64):
        p = f"batch={b}"
        for w in ("epoll", "kevent", "io_uring", "kevent-user", "kevent-ring-level", "kevent-ring"):
            call = rep.med("collect", w, p, "ns_per_call")
            rows.append([str(b), w, rep.cell("collect", w, p, "ns_per_call"),
                         rep.cell("collect", w, p, "ns_per_event"),
                         "no call" if w == "kevent-ring" else rfmt(ratio(call, floor))])
        r = ratio(rep.med("collect", "kevent", p, "ns_per_call"), rep.med("collect", "epoll", p, "ns_per_call"))
        want = 0.8 if b == 64 else 1.0
        rep.goal(f"collection of {b} per call: kevent/epoll <= {want}", r, r is not None and r <= want)
    r = ratio(rep.med("collect", "kevent-ring", "batch=64", "ns_per_event"),
              rep.med("collect", "epoll", "batch=64", "ns_per_event"))
    rep.goal("ring collection of 64 per call: kevent-ring/epoll per event <= 0.2", r,
             r is not None and r <= 0.2)
    rep.table(["events per call", "contender", "ns per call", "ns per event", "call / getppid"], rows)
    rep.out("Making the events ready and collecting them, ns per event. Each contender writes "
            "eventfds of its own: write-only, 64 that nothing watches (what a write costs); "
            "epoll-edge, 64 in an edge-triggered epoll, `batch` written before each epoll_wait "
            "(the writes and the call timed apart); kevent-ring, as above. \"wake-up\" is the "
            "writes above write-only's: the watcher's callback, which for kevent-ring writes the "
            "entry. The last column, writes + collection, is what one edge-triggered event costs "
            "from the write to the program holding it. io_uring's writes are not shown: its "
            "eventfds are the shared ones, whose writes also run epoll's and kevent's callbacks.", "")
    rows = []
    for b in (1, 64):
        p = f"batch={b}"
        base = rep.med("collect", "write-only", p, "write_ns_per_event")
        tot = {}
        for w in ("write-only", "epoll-edge", "kevent-ring"):
            wr = rep.med("collect", w, p, "write_ns_per_event")
            col = rep.med("collect", w, p, "ns_per_event") if w != "write-only" else None
            tot[w] = wr + col if wr is not None and col is not None else None
            rows.append([str(b), w, rep.cell("collect", w, p, "write_ns_per_event"),
                         fmt(above(wr, base)) if w != "write-only" else "",
                         rep.cell("collect", w, p, "ns_per_event") if w != "write-only" else "",
                         fmt(tot[w]) if w != "write-only" else ""])
        r = ratio(tot["kevent-ring"], tot["epoll-edge"])
        rows.append([str(b), "kevent-ring / epoll-edge", "", "", "", rfmt(r)])
        # The collection goals' bounds, for the ring's whole cost of an event.
        want = 0.8 if b == 64 else 1.0
        rep.goal(f"ring event from write to program, {b} per call: kevent-ring/epoll-edge "
                 f"<= {want}", r, r is not None and r <= want)
    rep.table(["events per call", "contender", "writes", "of which wake-up", "collection",
               "writes + collection"], rows)


def sockets(rep):
    rep.out("## 9. Socket readiness", "",
            "Collecting 64 readable unix stream sockets per call, level-triggered, the same sockets "
            "for every contender. A program that sizes its reads also wants the bytes waiting: "
            "epoll+FIONREAD asks each socket after epoll_wait; a KEVENT_SOCKET event carries the "
            "count. kevent-poll is KEVENT_POLL on the sockets: readiness only, as epoll.", "")
    p = "batch=64"
    rows = [[w, rep.cell("sockets", w, p, "ns_per_event")]
            for w in ("epoll", "epoll+FIONREAD", "kevent-poll", "kevent-socket")]
    rep.table(["contender", "ns per event"], rows)
    r = ratio(rep.med("sockets", "kevent-socket", p, "ns_per_event"),
              rep.med("sockets", "epoll+FIONREAD", p, "ns_per_event"))
    rep.out(f"kevent-socket / epoll+FIONREAD: {rfmt(r)}", "")


def inode(rep):
    who = ("write-only", "inotify", "kevent")
    rep.out("## 10. Inode events", "",
            f"Files on {info(rep, 'inode_fs', 'the VM’s /tmp')} watched for writes, each by one "
            "KEVENT_INODE request (KEVENT_INODE_WRITE) or one inotify watch (IN_MODIFY), the same files "
            "for both, one contender watching at a time. A round writes one byte (pwrite) to each file, "
            "then collects: one kevent_get_events of all the events, read() of the inotify fd until "
            "every file was heard of. ns per event: the whole round, writes included, per event; "
            "write-only is the same writes with nothing watching, and the last column compares what "
            "each contender adds to it (the notification and the collection).", "")
    rows = []
    for files in (1, 64):
        p, m = f"files={files},writes=1", "ns_per_event"
        w, i, k = (rep.med("inode", c, p, m) for c in who)
        rows.append([str(files)] + [rep.cell("inode", c, p, m) for c in who] +
                    [rfmt(ratio(k, i)), rfmt(ratio(above(k, w), above(i, w)))])
    rep.table(["files", "write-only", "inotify", "kevent", "kevent/inotify", "kevent/inotify less the writes"],
              rows)
    rep.out("Coalescing: each file written `writes` times, in turn, before one collection; ns per write. "
            "A KEVENT_INODE request gives one event per file with the count of its writes (checked); "
            "inotify merges an event only into the last one queued, if identical: one event for one "
            "file, but one per write for two files written in turn.", "")
    rows = []
    for files, writes in ((1, 64), (2, 32)):
        p, m = f"files={files},writes={writes}", "ns_per_write"
        rows.append([str(files), str(writes)] + [rep.cell("inode", c, p, m) for c in who] +
                    [fmt(rep.med("inode", c, p, "events_per_round")) for c in who[1:]] +
                    [rfmt(ratio(rep.med("inode", "kevent", p, m), rep.med("inode", "inotify", p, m)))])
    rep.table(["files", "writes per file", "write-only", "inotify", "kevent", "inotify events per round",
               "kevent events per round", "kevent/inotify"], rows)


def above(a, b):
    """a - b, or None unless a > b (a contender's figure over write-only's)."""
    return a - b if a is not None and b is not None and a > b else None


def wakeup(rep, data_dir, plots):
    rep.out("## 4. Wake-up latency", "",
            "A thread blocked in its wait call, another writing an eventfd 300 µs after the "
            "waiter went back; µs from just before the write to the waiter's return. "
            "1 500 wake-ups a run; p50 and p99: median of the runs' own (range of the runs); max: over all samples.", "")
    rep.out("kevent-ring: blocked in get-events with KEVENT_GET_RING (min_nr 1) on a queue with a "
            "ring, its request edge-triggered, so the write's wake-up writes the entry into the ring; "
            "the latency ends once the waiter has read the entry. kevent-ring-spin is **not a "
            "wake-up**: its waiter never sleeps, it spins on the ring's tail, burning its CPU; it "
            "bounds what a ring reader can get, and is no contender for the sleeping rows.", "")
    rows = []
    with open(os.path.join(data_dir, "wake.dat"), "w") as dat:
        dat.write("# contender p50 p99 max\n")
        i = 0
        for w in ("epoll", "kevent", "io_uring", "kevent-ring", "kevent-ring-spin"):
            label = w + (" (spinning, no sleep)" if w == "kevent-ring-spin" else "")
            rows.append([label] + [rep.cell("wake", w, "-", m)
                                   for m in ("p50_us", "p99_us", "max_us", "slow_pct")])
            # The plot has the wake-ups of this run (not the spinning reader), and always the first three.
            if w in ("epoll", "kevent", "io_uring") or (w == "kevent-ring" and rep.get("wake", w, "-", "p50_us")):
                dat.write(f"{i} {w} " + " ".join(str(rep.med("wake", w, "-", m) or "nan")
                                                 for m in ("p50_us", "p99_us", "max_us")) + "\n")
                i += 1
    rep.table(["contender", "p50 µs", "p99 µs", "max µs", "% over 1 ms"], rows)
    rep.out("\"% over 1 ms\" is the share of a run's wake-ups that took over a millisecond (median "
            "and range of the runs). Under TCG the idle vCPU's way back sometimes takes milliseconds, "
            "whatever woke it; where that share nears 1 %, a p99 measures the emulator, not the "
            "queue, and the p99 ratios below read that noise.", "")
    r = ratio(rep.med("wake", "kevent", "-", "p50_us"), rep.med("wake", "epoll", "-", "p50_us"))
    rep.goal("wake-up p50 (median of runs): kevent/epoll <= 1.0", r, r is not None and r <= 1.0)
    r = ratio(rep.med("wake", "kevent", "-", "p99_us"), rep.med("wake", "epoll", "-", "p99_us"))
    rep.goal("wake-up p99 (median of runs): kevent/epoll <= 1.0", r, r is not None and r <= 1.0)
    for pct in ("p50", "p99"):
        r = ratio(rep.med("wake", "kevent-ring", "-", f"{pct}_us"), rep.med("wake", "epoll", "-", f"{pct}_us"))
        rep.goal(f"ring wake-up {pct}: kevent-ring/epoll <= 1.0", r, r is not None and r <= 1.0)
    rep.out("kevent's min_nr: a producer makes 64 eventfds ready one at a time, 200 µs apart (at most 64 "
            "outstanding), the consumer (edge-triggered, draining each fd) collects up to 64 "
            "per call. CPU time is the consumer thread's CLOCK_THREAD_CPUTIME_ID; under TCG on a "
            "busy host it also counts time the host took the vCPU away.", "")
    rows = [[str(m), rep.cell("min_nr", "kevent", f"min_nr={m}", "events_per_call"),
             rep.cell("min_nr", "kevent", f"min_nr={m}", "cpu_ns_per_event")] for m in (1, 8, 64)]
    rep.table(["min_nr", "events per call", "consumer CPU ns per event"], rows)
    rep.out("![wake-up latency percentiles](bench/plots/latency.png)", "")
    with open(os.path.join(data_dir, "wake.gp"), "w") as gp:
        gp.write(f"""set terminal pngcairo size 900,500
set output '{plots}/latency.png'
set title 'Wake-up latency through an eventfd (µs)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set termoption noenhanced
set logscale y
set yrange [10:*]
set ylabel 'µs'
set grid y
set key top left
f='{data_dir}/wake.dat'
plot f u 3:xtic(2) t 'p50', f u 4 t 'p99', f u 5 t 'max'
""")


def throughput(rep):
    rep.out("## 5. Throughput (the 2006 epoll_bench method)", "",
            "One writer, a byte at a time round-robin to 2 000 streams; events per second "
            "collected by the reader thread, median (slowest–fastest run). "
            "kevent-ring-level: level-triggered requests on a queue with a 2 048-entry event ring, "
            "moved into the ring by get-events with KEVENT_GET_RING (64 per call), then read from it. "
            "kevent-ring-edge: edge-triggered, each wake-up (each byte written) writes an entry, "
            "read with no call; GET_RING only when the ring is empty. Its entries are not coalesced "
            "(a stream written twice before the reader comes has two entries, and the second finds "
            "nothing to read), so its events are not the others': bytes per second compares them all.", "")
    ways = ("epoll-level", "epoll-edge", "kevent-level", "kevent-edge", "kevent-ring-level", "kevent-ring-edge")
    rows, brows, erows = [], [], []
    for t in ("pipe", "unix", "tcp"):
        p = f"transport={t}"
        rows.append([t] + [rep.cell("tput", w, p, "events_per_s") for w in ways])
        brows.append([t] + [rep.cell("tput", w, p, "bytes_per_s") for w in ways])
        erows.append([t] + [fmt(rep.med("tput", w, p, "empty_pct")) for w in ways])
        for mode in ("level", "edge"):
            r = ratio(rep.med("tput", f"epoll-{mode}", p, "events_per_s"),
                      rep.med("tput", f"kevent-{mode}", p, "events_per_s"))
            rep.goal(f"throughput {t} {mode}: epoll/kevent events per s <= 1.0", r,
                     r is not None and r <= 1.0)
    rep.table(["transport"] + list(ways), rows)
    # Runs before the ring counted no bytes: the tables only when there are any.
    if any(k[0] == "tput" and k[3] == "bytes_per_s" for k in rep.res):
        rep.out("Bytes read per second by the reader thread, median (slowest–fastest run):", "")
        rep.table(["transport"] + list(ways), brows)
        rep.out("Deliveries that found nothing to read, % (median of runs):", "")
        rep.table(["transport"] + list(ways), erows)


def timers(rep):
    rep.out("## 6. Timers", "",
            "Lateness in µs of each delivery against its due time (arm time + k periods): "
            "p50 (p10–p90) and max of all deliveries; p99 of the runs: the median of the runs' "
            "own p99s (range of the runs), as the wake-up section reports its p99, and the goal's "
            "figure; p99 of all: of all runs' deliveries together, which one run's stall of the "
            "emulator (see Wake-up latency) can set alone. early = deliveries before their due "
            "time, of all deliveries; arm = ns per arming call (kevent: one ADD; timerfd: "
            "timerfd_settime, after timerfd_create + epoll_ctl, whose cost is create); counted = "
            "periodic expirations reported against periods elapsed.", "")
    rows = []
    for period in (100, 1000):
        for mode in ("oneshot", "periodic"):
            for n in (1, 1000, 10000):
                p = f"period_us={period},mode={mode},n={n}"
                for w in ("timerfd", "kevent"):
                    e = rep.get("timer", w, p, "early_fires")
                    cnt = rep.med("timer", w, p, "ticks_counted_pct")
                    rows.append([f"{period} µs", mode, str(n), w,
                                 rep.cell("timer", w, p, "late_p50_us"), rep.cell("timer", w, p, "late_p99_runs_us"),
                                 fmt(rep.med("timer", w, p, "late_p99_us")),
                                 fmt(rep.med("timer", w, p, "late_max_us")),
                                 f"{e[0]:.0f} / {e[1]:.0f}" if e else "–",
                                 rep.cell("timer", w, p, "arm_ns"),
                                 fmt(rep.med("timer", w, p, "create_ns")) if w == "timerfd" else "–",
                                 "–" if cnt is None else f"{cnt:.0f}%"])
                ke, tp = rep.get("timer", "kevent", p, "early_fires"), None
                rep.goal(f"timer {period} µs {mode} n={n}: kevent never early", f"{ke[0]:.0f}" if ke else "–",
                         ke is not None and ke[0] == 0)
                k99, t99 = (rep.med("timer", w, p, "late_p99_runs_us") for w in ("kevent", "timerfd"))
                tp = ratio(k99, t99)
                rep.goal(f"timer {period} µs {mode} n={n}: kevent p99 lateness (median of runs) / timerfd's <= 1.0",
                         tp, tp is not None and tp <= 1.0)
    rep.table(["period", "mode", "timers", "contender", "late p50 µs", "p99 of the runs", "p99 of all",
               "max", "early", "arm ns", "create ns", "counted"], rows)


def demangle(sym):
    """Readable enough names for Rust v0 symbols: the last path segments."""
    mod = ""
    if "[" in sym:
        sym, mod = sym.split("[", 1)
        mod = " [" + mod
    if not sym.startswith("_R"):
        return sym + mod
    # Identifiers are length-prefixed; between them, crate hashes (Cs..._),
    # disambiguators (s..._) and back-references (B..._) are skipped.
    body, idents, i = sym[2:], [], 0
    while i < len(body):
        m = re.match(r"(\d+)_?", body[i:])
        if m:
            start = i + m.end()
            idents.append(body[start:start + int(m.group(1))])
            i = start + int(m.group(1))
            continue
        m = re.match(r"(Cs|s|B)[0-9a-zA-Z]*_", body[i:])
        i += m.end() if m else 1
    idents = [x for x in idents if x and not x.startswith("_")]
    return "::".join(idents[-3:]) + mod


def profiles(rep):
    whos = sorted({k[1] for k in rep.res if k[0] == "profile"})
    if not whos:
        return
    rep.out("## 7. Profiles", "",
            "Where the kernel time goes, sampled in the guest by the benchmark itself "
            "(perf_event_open, cpu-clock, instruction pointer, symbols from /proc/kallsyms): "
            "about 3 s of each workload. Samples taken with interrupts off are charged to the "
            "function that re-enables them (spin_unlock_irqrestore, _raw_spin_unlock_irq...).", "")
    for who in whos:
        tot = rep.get("profile", who, "-", "samples_kernel_user")
        rows = sorted(((v[0], k[2]) for k, v in rep.res.items()
                       if k[0] == "profile" and k[1] == who and k[3] == "pct_of_samples"), reverse=True)
        rep.out(f"**{who}** ({tot[0]:.0f} kernel and {tot[1]:.0f} user samples)" if tot else f"**{who}**", "")
        rep.table(["function", "% of samples"], [[f"`{demangle(sym)}`", f"{pct:.1f}"] for pct, sym in rows])


def load_web(path):
    """The web benchmark's rounds, {(row, backend): [{key: value}, ...]} in
    round order, and its settings from "@ web-info"; torn lines are skipped."""
    rounds, info = {}, {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2 or parts[0] != "@" or parts[1] not in ("web", "web-info"):
                continue
            kv = {}
            # "@ web ROW BACKEND ROUND k=v...", "@ web-info - - - k=v..."
            for p in parts[5:]:
                k, eq, v = p.partition("=")
                if eq:
                    try:
                        kv[k] = float(v)
                    except ValueError:
                        kv = None
                        break
            if parts[1] == "web-info":
                info.update(kv or {})
            elif kv is None or len(parts) < 5 or not {"rps", "p50_us", "p99_us", "errors"} <= kv.keys():
                print("skipping a torn line: " + line.strip(), file=sys.stderr)
            else:
                kv["round"] = parts[4]
                rounds.setdefault((parts[2], parts[3]), []).append(kv)
    return rounds, info


def web_row_params(row):
    """{'active': A, 'idle': I} from a row name such as active=10,idle=10000."""
    out = {}
    for kv in row.split(","):
        k, _, v = kv.partition("=")
        out[k] = int(v) if v.isdigit() else 0
    return out


def web_row_title(row):
    p = web_row_params(row)
    if p.get("idle"):
        return f"{p['idle']:,} idle + {p.get('active', 0):,} active"
    return f"{p.get('active', 0):,} active"


def fmt_us(v):
    if v is None:
        return "–"
    return f"{v:.0f} µs" if v < 1000 else f"{v / 1000:.2f} ms"


def web_cell(vals, f):
    """median (min–max) over rounds."""
    if not vals:
        return "–"
    if len(vals) == 1:
        return f(vals[0])
    return f"{f(statistics.median(vals))} ({f(min(vals))}–{f(max(vals))})"


def web(rep, rounds, info):
    rep.out("## 8. Web server", "")
    if not rounds:
        rep.out("No web server results in this run (bench/web/web.sh; see the `# web:` notes "
                "of the console, build/bench/notes.txt).", "")
        rep.goal("web server: kevent/epoll requests/s >= 1.0 on every row", "–", False)
        return
    n_rounds = max(len(v) for v in rounds.values())
    rep.out("The 2006 kevent series reported a small web server doing 3,380 requests/s on kevent "
            "against 2,200–2,500 on epoll. Here: lighttpd 1.4.69 (Debian's source, static) serving a "
            f"{info.get('page_bytes', 2500):,.0f}-byte page from tmpfs over loopback with keep-alive, "
            "on its native epoll backend and on our kevent backend (patches/lighttpd), driven by wrk "
            f"4.1.0 ({info.get('threads', 2):.0f} threads, {info.get('duration_s', 0):.0f} s per row) "
            "in the same VM: client and server share the 2 vCPUs. The idle connections are held by "
            "bench/web/idle_conns (one request each, then idle keep-alive). "
            f"{n_rounds} round(s); each starts lighttpd once per backend, the order alternating "
            "round by round. Cells: median over rounds (fastest–slowest); latency percentiles are "
            "wrk's per round; socket errors (wrk's connect + read + write + timeout) and non-2xx "
            "responses are summed over rounds. kevent/epoll: the median over rounds of each "
            "round's ratio (requests/s: above 1 is kevent ahead; p99: below 1 is). Goal: kevent "
            ">= epoll in requests/s on every row.", "")
    rows = sorted({r for r, _ in rounds}, key=lambda r: (web_row_params(r).get("idle", 0),
                                                          web_row_params(r).get("active", 0)))
    # epoll and kevent always, so a backend that never ran shows as 0 rounds.
    backends = sorted({b for _, b in rounds} | {"epoll", "kevent"}, key=lambda b: (b != "epoll", b))
    table, per_round = [], []
    for i, row in enumerate(rows):
        label = f"{chr(ord('A') + i)}: {web_row_title(row)}"
        ratios = {}
        if "epoll" in backends and "kevent" in backends:
            e = {r["round"]: r for r in rounds.get((row, "epoll"), [])}
            k = {r["round"]: r for r in rounds.get((row, "kevent"), [])}
            both = [n for n in e if n in k]
            for metric in ("rps", "p99_us"):
                rs = [k[n][metric] / e[n][metric] for n in both if e[n][metric]]
                ratios[metric] = statistics.median(rs) if rs else None
            for n in both:
                per_round.append([label, n, fmt(e[n]["rps"]), fmt(k[n]["rps"]),
                                  rfmt(ratio(k[n]["rps"], e[n]["rps"]))])
        for b in backends:
            rs = rounds.get((row, b), [])

            def col(key, rs=rs):
                return [r[key] for r in rs if key in r]
            errs = sum(col("errors"))
            parts = [f"{w} {sum(col(w)):.0f}" for w in ("connect", "read", "write", "timeout") if sum(col(w))]
            held = ""
            if web_row_params(row).get("idle"):
                held = f"{min(col('held')):,.0f}, dropped {sum(col('dropped')):,.0f}" if col("held") else "–"
            table.append([label, b, str(len(rs)), web_cell(col("rps"), fmt), web_cell(col("p50_us"), fmt_us),
                          web_cell(col("p90_us"), fmt_us), web_cell(col("p99_us"), fmt_us),
                          f"{errs:.0f}" + (f" ({', '.join(parts)})" if parts else ""),
                          f"{sum(col('non2xx')):.0f}", held or "–",
                          rfmt(ratios.get("rps")) if b == "kevent" else "",
                          rfmt(ratios.get("p99_us")) if b == "kevent" else ""])
        r = ratios.get("rps")
        rep.goal(f"web {label}: kevent/epoll requests/s >= 1.0", r, r is not None and r >= 1.0)
    rep.table(["row", "backend", "rounds", "requests/s", "p50", "p90", "p99", "socket errors", "non-2xx",
               "idle held (fewest)", "kevent/epoll req/s", "kevent/epoll p99"], table)
    if per_round:
        rep.out("Requests/s round by round:", "")
        rep.table(["row", "round", "epoll", "kevent", "kevent/epoll"], per_round)


def info(rep, name, default="unknown"):
    """The value of an "@ info NAME VALUE" line."""
    found = [k[2] for k in rep.res if k[0] == "info" and k[1] == name]
    return found[0] if found else default


def clocks(rep):
    """The clock line of the header; a boot without high-resolution timers
    measures every timer and wake-up on the tick, and says so in bold."""
    res = info(rep, "clock_getres_ns")
    cost = rep.med("floor", "clock_gettime", "-", "ns_per_call")
    line = (f"- Clocks: `clock_getres` {fmt_ns(res)}, clocksource {info(rep, 'clocksource')}, "
            f"clock event device {info(rep, 'clockevent')} (broadcast: {info(rep, 'broadcast')}), "
            f"`clock_gettime` {fmt(cost)} ns")
    if res.isdigit() and int(res) > 1000:
        line += " — **no high-resolution timers: timer and wake-up figures measure the tick**"
    return line


def fmt_ns(v):
    if not v.isdigit():
        return v
    n = int(v)
    return f"{n // 1000000} ms" if n >= 1000000 and n % 1000000 == 0 else f"{n} ns"


def header(rep, a):
    kernel = info(rep, "kernel")
    rep.out("# Benchmarks", "",
            "Written by `make bench` (bench/run.sh, bench/report.py) from one boot; do not edit by hand.", "",
            f"- Date: {datetime.date.today().isoformat()}",
            f"- Machine: 2 vCPUs, QEMU {a.qemu}, accelerator **{a.accel.upper()}**, CPU model {a.model}, host CPU {a.cpu}",
            f"- Guest kernel: {kernel} (release flavour), the kevent module loaded",
            clocks(rep),
            f"- Runs per contender: {info(rep, 'runs', '?')}, interleaved run by run; "
            "cells are the median with (fastest–slowest run) unless said otherwise",
            f"- Wall time of the benchmark boot: {a.wall} s; VM exit status {a.status}",
            "- The host is shared with other VMs: expect noise of tens of per cent between runs.", "")
    if a.accel != "kvm":
        rep.out("Under TCG every instruction is emulated: absolute figures are 10–50× a "
                "native machine's, and the ratios are what carry over.", "")


def main():
    ap = argparse.ArgumentParser()
    for opt in ("results", "out", "plots", "data", "accel", "model", "wall", "qemu", "cpu", "status"):
        ap.add_argument("--" + opt, default="")
    a = ap.parse_args()
    rep = Report(load(a.results))
    floor = rep.med("floor", "getppid", "-", "ns_per_call")
    header(rep, a)
    body = Report(rep.res)
    pipes(body, a.data, a.plots)
    registration(body)
    collection(body, floor)
    wakeup(body, a.data, a.plots)
    throughput(body)
    timers(body)
    profiles(body)
    web(body, *load_web(a.results))
    sockets(body)
    inode(body)
    rep.out("## Goals", "", "Figures to report, not assertions.", "")
    rep.table(["goal", "figure", ""], [list(g) for g in body.goals])
    rep.lines += body.lines
    if os.path.exists(NOTES):
        with open(NOTES, encoding="utf-8") as f:
            rep.out(f.read())
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(rep.lines).rstrip() + "\n")


if __name__ == "__main__":
    main()
