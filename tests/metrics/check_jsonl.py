#!/usr/bin/env python3
"""check_jsonl.py FILE METRIC [MIN_EVALS]: FILE is the JSON lines of a
trainer's --metrics: every line an object with every key (README "Training
metrics"), kinds train/eval/epoch, steps never decreasing (a kind's steps
strictly increasing), train records with a loss, lr and gradient norm, and
at least MIN_EVALS eval records whose val_metric is METRIC ("-": epoch
records instead, no validation)."""
import json
import math
import sys

KEYS = ["kind", "step", "epoch", "loss", "val_loss", "val_metric", "val_value",
        "lr", "grad_norm", "tokens", "tokens_per_s", "elapsed"]


def fail(msg):
    sys.exit("check_jsonl: %s: %s" % (sys.argv[1], msg))


def main():
    path, metric = sys.argv[1], sys.argv[2]
    need = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not text.endswith("\n"):
        fail("the last line has no newline")
    recs = []
    for i, line in enumerate(text.splitlines(), 1):
        try:
            r = json.loads(line)
        except ValueError as e:
            fail("line %d is not JSON: %s" % (i, e))
        if not isinstance(r, dict) or list(r) != KEYS:
            fail("line %d: keys %s, expected %s" % (i, list(r), KEYS))
        recs.append(r)
    if not recs:
        fail("no records")
    last, by_kind = -1, {}
    for i, r in enumerate(recs, 1):
        k, s = r["kind"], r["step"]
        if k not in ("train", "eval", "epoch"):
            fail("line %d: kind %r" % (i, k))
        if not isinstance(s, int) or s < last:
            fail("line %d: step %r after %d" % (i, s, last))
        if s <= by_kind.get(k, -1):
            fail("line %d: %s step %d repeats or goes back" % (i, k, s))
        last, by_kind[k] = s, s
        if r["epoch"] < 1 or r["tokens"] < 0 or r["elapsed"] < 0:
            fail("line %d: epoch, tokens or elapsed out of range" % i)
        if k == "train":
            for key in ("loss", "lr", "grad_norm"):
                if not (isinstance(r[key], float) or isinstance(r[key], int)) or not math.isfinite(r[key]):
                    fail("line %d: train record without a %s" % (i, key))
        if k == "eval":
            if r["val_metric"] != metric or not isinstance(r["val_value"], (int, float)) \
                    or not isinstance(r["val_loss"], (int, float)):
                fail("line %d: eval record without %s and val_loss" % (i, metric))
        if k == "epoch" and (r["val_metric"] is not None or r["val_value"] is not None):
            fail("line %d: an epoch record with a validation metric" % i)
    kind = "epoch" if metric == "-" else "eval"
    n = sum(1 for r in recs if r["kind"] == kind)
    if n < need:
        fail("%d %s records, expected at least %d" % (n, kind, need))
    print("check_jsonl: %s: %d records (%d train, %d %s), steps %d..%d" % (
        path, len(recs), sum(1 for r in recs if r["kind"] == "train"), n, kind,
        recs[0]["step"], recs[-1]["step"]))


main()
