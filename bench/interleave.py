#!/usr/bin/env python3
"""Compare kiln binaries on one project, interleaved: `check` / `render --stdout` of each.

    python3 bench/interleave.py ROUNDS PROJECT_DIR KILN [KILN ...]

Each round runs every binary's `check` and `render --stdout` once, in turn, so a machine that
slows down for a while slows every command alike (these machines' noise is as large as the
differences measured: compare the binaries of one run, never numbers of different runs). Prints
per binary the medians of wall time and of the children's user + system CPU time (getrusage),
their ratio, and the median of each round's own ratio.

Make a project with `python3 ../shared/bench/fleet.py DIR 1000` (`DIR/kiln`). Exit codes are not
checked: `check` of that fleet exits 0 with warnings, and a failing binary shows as a fast one.
"""

import os
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = (["check"], ["render", "--stdout"])


def run(argv):
    """Wall and CPU seconds of one run, its output thrown away."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    rounds, project, binaries = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    runs = [([kiln, "-C", project] + cmd) for kiln in binaries for cmd in COMMANDS]
    for argv in runs:  # warm the page cache and the binaries
        run(argv)
    wall = {tuple(a): [] for a in runs}
    cpu = {tuple(a): [] for a in runs}
    for _ in range(rounds):
        for argv in runs:
            w, c = run(argv)
            wall[tuple(argv)].append(w)
            cpu[tuple(argv)].append(c)
    med = statistics.median
    for kiln in binaries:
        check = tuple([kiln, "-C", project] + COMMANDS[0])
        render = tuple([kiln, "-C", project] + COMMANDS[1])
        parts = []
        for name, times in (("wall", wall), ("cpu", cpu)):
            c, r = times[check], times[render]
            paired = med([a / b for a, b in zip(c, r)])
            parts.append(
                f"{name}: check {med(c) * 1000:.1f} ms, render --stdout {med(r) * 1000:.1f} ms, "
                f"ratio {med(c) / med(r):.3f} (per round {paired:.3f})"
            )
        print(f"{kiln}\n  " + "\n  ".join(parts))


if __name__ == "__main__":
    main()
