#!/usr/bin/env python3
"""Print the host CLOCK_MONOTONIC time (ns) at which each FILE first has a
new line (after SKIP lines) matching REGEX, polling every 2 ms (a tighter loop steals the CPU
the partitions under test need; 2 ms is small against what is measured).

  watch-files.py [--armed FLAG] TIMEOUT_S SKIP:REGEX:FILE [SKIP:REGEX:FILE ...]

One output line per spec, in order: the time, or 'timeout'.  With --armed,
FLAG is created once every file has been read once: a failure triggered
after that is timed from its first poll, not from Python's start-up (which
alone takes longer than what is measured)."""
import re
import sys
import time


def main():
    args = sys.argv[1:]
    armed = None
    if args[:1] == ['--armed'] and len(args) > 1:
        armed, args = args[1], args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    deadline = time.monotonic() + float(args[0])
    specs = []
    for arg in args[1:]:
        skip, rx, path = arg.split(':', 2)
        specs.append([int(skip), re.compile(rx), path, None])
    while time.monotonic() < deadline and any(s[3] is None for s in specs):
        for s in specs:
            if s[3] is not None:
                continue
            try:
                with open(s[2]) as f:
                    lines = f.read().splitlines()[s[0]:]
            except OSError:
                continue
            if any(s[1].search(line) for line in lines):
                s[3] = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if armed:
            open(armed, 'w').close()
            armed = None
        time.sleep(0.002)
    for s in specs:
        print(s[3] if s[3] is not None else 'timeout')


main()
