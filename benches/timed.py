#!/usr/bin/env python3
"""Interleaved timed runs of two helloscope builds on the same files.

    benches/timed.py ROUNDS OLD_BINARY NEW_BINARY FILE...
    ARGS="--threads 2" benches/timed.py ...      # options added to every run

Each round runs `analyze --format jsonl -o /dev/null FILE` with each build, alternating which
goes first, and takes user+sys CPU time from wait4 (the machine's other load moves wall time
more than CPU time) and wall time. Prints best and median per build and file, and the load
average. Warm the page cache first (`cat FILE > /dev/null`). Speed is judged here and with
cachegrind, never in a test.
"""
import os
import statistics
import sys
import time


def run(exe, path):
    pid = os.fork()
    if pid == 0:
        fd = os.open("/dev/null", os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        extra = os.environ.get("ARGS", "").split()
        os.execv(exe, [exe, "analyze", "--format", "jsonl", "-o", "/dev/null", *extra, path])
    start = time.perf_counter()
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"timed.py: {exe} failed on {path}")
    return usage.ru_utime + usage.ru_stime, wall


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    builds = {"old": sys.argv[2], "new": sys.argv[3]}
    files = sys.argv[4:]
    times = {(b, f): [] for b in builds for f in files}
    for r in range(rounds):
        order = list(builds.items())
        if r % 2:
            order.reverse()
        for f in files:
            for b, exe in order:
                times[(b, f)].append(run(exe, f))
    for f in files:
        for b in builds:
            cpu = sorted(t[0] for t in times[(b, f)])
            wall = sorted(t[1] for t in times[(b, f)])
            print(f"{os.path.basename(f):24} {b}: user+sys best {cpu[0]:.3f} s, median "
                  f"{statistics.median(cpu):.3f} s; wall best {wall[0]:.3f} s, median "
                  f"{statistics.median(wall):.3f} s ({len(cpu)} runs)")
    print("load average: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
