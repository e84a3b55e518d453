#!/usr/bin/env python3
"""Client of orthros-ckpt-demo's request port, run inside a partition.

  req-client.py first PORT TIMEOUT_S   wait for the first answer; print
                                       "first <epoch ms> <line>"; polls
                                       every 20 ms so it steals little of
                                       the one vCPU a restore runs on
  req-client.py rate PORT SECONDS      requests back to back; print
                                       "rate <per s> n <count> bad <count>
                                       failed <count>"
  req-client.py full PORT TIMEOUT_S    like first, on the main port (the
                                       whole hold is checked)
"""
import socket
import sys
import time


def ask(port, timeout):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace").strip()


def first(port, limit):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            line = ask(port, max(0.1, end - time.monotonic()))
            if line:
                print("first %d %s" % (time.time() * 1000, line), flush=True)
                return 0
        except OSError:
            pass
        time.sleep(0.02)
    print("first none", flush=True)
    return 1


def rate(port, seconds):
    n = bad = failed = 0
    t0 = time.monotonic()
    end = t0 + seconds
    while time.monotonic() < end:
        try:
            line = ask(port, 30)
            n += 1
            if " ok " not in line + " ":
                bad += 1
        except OSError:
            failed += 1
    took = time.monotonic() - t0
    print("rate %.1f n %d bad %d failed %d" % (n / took, n, bad, failed), flush=True)
    return 0


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("first", "rate", "full"):
        sys.stderr.write(__doc__)
        return 2
    # The caller starts timing once this is out: Python's own start-up
    # (slow under TCG) is not counted against the service.
    print("ready", flush=True)
    port, arg = int(sys.argv[2]), float(sys.argv[3])
    return rate(port, arg) if sys.argv[1] == "rate" else first(port, arg)


if __name__ == "__main__":
    sys.exit(main())
