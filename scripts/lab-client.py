#!/usr/bin/env python3
"""The lab's service client: adds a record every 50 ms and logs, per try,
    answer HOST_MONO_NS SEQ NODE TEXT MS  (acknowledged: must survive any failover;
                                          MS is the try's round trip)
    fail HOST_MONO_NS REASON
A try that has no answer within TIMEOUT seconds (default 0.3: a failover's
timeline wants fine steps) is a failure.
usage: lab-client.py ADDR PORT LOGFILE [TIMEOUT]"""
import socket
import sys
import time


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    addr, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) == 5 else 0.3
    n = 0
    start = time.time_ns() // 1000000  # texts stay unique across clients
    with open(path, 'a', buffering=1) as log:
        while True:
            n += 1
            t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            try:
                with socket.create_connection((addr, port), timeout=timeout) as s:
                    s.settimeout(max(2, timeout))
                    text = 'lab-%d-%d' % (start, n)
                    s.sendall(('add %s\n' % text).encode())
                    words = s.makefile().readline().split()
                if len(words) == 3 and words[0] == 'ok':
                    t = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
                    log.write('answer %d %s %s %s %.1f\n' % (t, words[1], words[2], text,
                                                             (t - t0) / 1e6))
                else:
                    log.write('fail %d %s\n' % (t0,
                                                '_'.join(words) or 'empty'))
            except OSError as e:
                log.write('fail %d %s\n' % (t0,
                                            type(e).__name__))
            time.sleep(0.05)


main()
