#!/usr/bin/env python3
"""The floor for `kiln render --out`: write the files of SRC (read into memory first) under a new
folder DST/run-<pid>, as plain writes (no fsync, nothing removed). The caller removes DST.
Usage: bench/write-files.py SRC DST"""
import os
import sys


def main():
    src, dst = sys.argv[1], sys.argv[2]
    files = {}
    for d, _, names in os.walk(src):
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                files[os.path.relpath(p, src)] = f.read()
    dst = os.path.join(dst, f"run-{os.getpid()}")
    for rel, data in files.items():
        p = os.path.join(dst, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


main()
