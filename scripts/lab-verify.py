#!/usr/bin/env python3
"""Prove that every record a client saw acknowledged is on the data disk:
asks the service for "dump" (the records file read back from the disk) and
checks each "answer NS SEQ NODE TEXT" line of the client logs against it.
Prints "verified N acknowledged records (disk holds M)" and exits 0, or
lists what is missing or different and exits 1.
usage: lab-verify.py ADDR PORT CLIENTLOG..."""
import socket
import sys


def dump(addr, port):
    with socket.create_connection((addr, port), timeout=5) as s:
        s.settimeout(30)
        s.sendall(b'dump\n')
        f = s.makefile()
        records = {}
        for line in f:
            line = line.rstrip('\n')
            if line == '.':
                return records
            if line.startswith('error'):
                sys.exit('lab-verify: the service says: ' + line)
            seq, _, text = line.partition(' ')
            records[int(seq)] = text
    sys.exit('lab-verify: the dump ended early')


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    try:
        records = dump(sys.argv[1], int(sys.argv[2]))
    except OSError as e:
        sys.exit('lab-verify: cannot ask the service: %s' % e)
    acked, bad = 0, []
    for path in sys.argv[3:]:
        with open(path) as log:
            for line in log:
                w = line.split()
                if len(w) < 5 or w[0] != 'answer':
                    continue
                acked += 1
                seq, text = int(w[2]), w[4]
                if records.get(seq) != text:
                    bad.append('record %d "%s" acknowledged by %s: disk has %s' %
                               (seq, text, w[3], repr(records.get(seq, 'nothing'))))
    if bad:
        print('lab-verify: %d of %d acknowledged records are not on the disk:' % (len(bad), acked))
        for b in bad[:20]:
            print('  ' + b)
        sys.exit(1)
    print('verified %d acknowledged records (disk holds %d)' % (acked, len(records)))


main()
