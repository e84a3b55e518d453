#!/usr/bin/env python3
"""Fire a failure at a partition and print the host CLOCK_MONOTONIC time
(ns) taken just before the action, to compare with event timestamps.

  trigger.py nmi QMP_SOCKET   inject an NMI (guest booted with
                              unknown_nmi_panic panics on it)
  trigger.py stop PID         SIGSTOP the partition's QEMU (a hang)
  trigger.py cont PID         SIGCONT it
"""
import json
import os
import signal
import socket
import sys
import time


def qmp(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile('rw')
    json.loads(f.readline())                      # greeting
    f.write(json.dumps({'execute': 'qmp_capabilities'}) + '\n')
    f.flush()
    json.loads(f.readline())
    return s, f


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    what, arg = sys.argv[1], sys.argv[2]
    if what == 'nmi':
        s, f = qmp(arg)
        t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        f.write(json.dumps({'execute': 'inject-nmi'}) + '\n')
        f.flush()
        # Quiet while the partition panics: reading QEMU's reply, or the
        # shell waking on t0, would preempt its main loop on the same host
        # CPU while it holds the lock the dying vCPU needs to ring its
        # peers, and the bench would measure itself.
        time.sleep(0.05)
        print(t0, flush=True)
        s.close()
    elif what in ('stop', 'cont'):
        t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        os.kill(int(arg), signal.SIGSTOP if what == 'stop' else signal.SIGCONT)
        print(t0, flush=True)
    else:
        sys.exit(__doc__)


main()
