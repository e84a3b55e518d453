#!/usr/bin/env python3
"""Kernel-to-kernel notice latency from timestamps taken in three clocks.

  clock-map.py BEATS SKIP A B STATE_NS B_TS

BEATS is the output of `orthrosctl link events --beats` run by a host peer
(host CLOCK_MONOTONIC arrival time, peer's own beat time).  For each
partition X, min(arrival - beat time) over the beats of the last second
before the notice is X's clock offset to the host plus the smallest one-way
doorbell delay; A and B ring the host over the same path, so that delay
cancels when B's detection time is compared with A's notice time:

  latency = (B_TS + off_B) - (STATE_NS + off_A)

STATE_NS is A's own time of its panic notice (the peer_ts of B's PANIC
event), B_TS is B's kernel time of the PANIC event.  Prints the latency in
ns, or 'none' when a clock cannot be mapped (fewer than 10 beats)."""
import sys


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    path, skip = sys.argv[1], int(sys.argv[2])
    a, b = sys.argv[3], sys.argv[4]
    state_ns, b_ts = int(sys.argv[5]), int(sys.argv[6])
    beats = {a: [], b: []}
    with open(path) as f:
        for n, line in enumerate(f):
            if n < skip:
                continue
            w = line.split()
            if len(w) < 6 or w[1] != 'BEAT':
                continue
            peer = w[2].split('=', 1)[1]
            own = int(w[5].split('=', 1)[1])
            if peer in beats and own:	# a fresh record has not beaten yet
                beats[peer].append((int(w[0]), own))
    offs = {}
    for peer, pts in beats.items():
        # The window ends at A's notice mapped roughly (A's last beats): the
        # second before it, so guest clock drift stays negligible.
        pts = pts[-100:]
        if len(pts) < 10:
            print('none')
            return
        offs[peer] = min(arr - own for arr, own in pts)
    print((b_ts + offs[b]) - (state_ns + offs[a]))


main()
