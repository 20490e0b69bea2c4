#!/usr/bin/env python3
"""Compares the losses of two metrics.jsonl files (ShapeLab run format) step by step.

usage: python3 compare.py A/metrics.jsonl B/metrics.jsonl [--tol 1e-3] [--key loss] [--every 1]
Prints step, loss_a, loss_b, abs diff, rel diff for the steps both files have, then the max
relative difference; exits 1 when it is above --tol (default: report only, exit 0).
Lines that do not parse (a torn last line) are skipped, as the run format says.
"""
import argparse
import json
import os
import sys


def read(path, key):
    """step -> value. A metrics.jsonl inside a run folder is read as the run's one history (rows a
    resume superseded are dropped: train.py's read_history, docs/run-format.md); any other file as is."""
    out = {}
    d, name = os.path.split(os.path.abspath(path))
    if os.path.exists(os.path.join(d, "events.jsonl")) and name == "metrics.jsonl":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "shapelab_torch"))
        from train import read_history
        recs = read_history(d)[0]
    else:
        recs = []
        with open(path, "r", encoding="utf-8") as f:
            for line in f:
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    continue
    for rec in recs:
        if isinstance(rec, dict) and "step" in rec and isinstance(rec.get(key), (int, float)):
            out[int(rec["step"])] = float(rec[key])
    return out


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--key", default="loss")
    p.add_argument("--tol", type=float, help="fail (exit 1) when the max relative difference exceeds this")
    p.add_argument("--every", type=int, default=1, help="print every Nth common step (the max uses all)")
    p.add_argument("--json", help="also write the table as JSON lines to this file")
    a = p.parse_args(argv)
    A, B = read(a.a, a.key), read(a.b, a.key)
    steps = sorted(set(A) & set(B))
    if not steps:
        print("no common steps with a numeric %r (a: %d steps, b: %d steps)" % (a.key, len(A), len(B)))
        return 2
    print("%8s %14s %14s %12s %12s" % ("step", a.key + "_a", a.key + "_b", "abs diff", "rel diff"))
    worst, worst_step, rows = 0.0, steps[0], []
    for i, s in enumerate(steps):
        x, y = A[s], B[s]
        d = abs(x - y)
        r = d / max(abs(x), abs(y), 1e-12)
        rows.append({"step": s, "a": x, "b": y, "abs": d, "rel": r})
        if r > worst:
            worst, worst_step = r, s
        if i % max(1, a.every) == 0 or s == steps[-1]:
            print("%8d %14.7f %14.7f %12.3e %12.3e" % (s, x, y, d, r))
    only_a, only_b = len(set(A) - set(B)), len(set(B) - set(A))
    print("common steps: %d (only in a: %d, only in b: %d)" % (len(steps), only_a, only_b))
    print("max rel diff: %.3e at step %d" % (worst, worst_step))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    if a.tol is not None and worst > a.tol:
        print("FAIL: above tolerance %.3e" % a.tol)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
