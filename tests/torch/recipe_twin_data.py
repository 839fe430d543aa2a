#!/usr/bin/python3
"""recipe_twin_data.py: bench/torch_recipe.py reads a recipe's data as rnnc does.

The PyTorch twin of a recipe (bench/torch_recipe.py) has its own copy of
the data pipeline: normalization, the word tokenizer of runtime/rnnrt.h,
the split, the vocabulary with min_freq and the four specials, <unk>. For
each recipe of examples/recipes/ this builds the rnnc trainer, trains it for
one step on a small text full of the tokenizer's corner cases (contractions,
leading and trailing apostrophes, dashes, Unicode quotes and letters,
Latin-1 capitals, tabs and vertical tabs, CRLF, a written <unk>, words seen
once) and requires the counts on its data line (tokens, train, validation,
vocabulary, validation tokens not in the vocabulary, training tokens read as
<unk>) to equal the twin's. A tokenizer difference moves at least one of
them on this text.

Exit status: 0 all equal, 1 a difference, 77 when /usr/bin/python3 cannot
import torch or yaml.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

try:
    import torch  # noqa: F401  (torch_recipe needs it)
    import yaml
except ImportError:
    print("recipe_twin_data: skipped: /usr/bin/python3 cannot import torch and yaml")
    sys.exit(77)

LINE = ("Don't stop--now, caf\u00e9! 'Tis o'clock; the dogs' bones.\r\n"
        "It\u2019s \u201cquoted\u201d \u2014 a <unk> word<unk>x, 3.14 _x_ a''b '' it's' ' "
        "\u00bfQu\u00e9?\tTAB\x0bVT \u00c0LA \u00d7 \u00f7 \u00aa\u00b5 end\n")


def corpus():
    # every line once more with a word of its own (seen once: <unk> under
    # min_freq 2), the last lines' words never seen in training
    return "".join(LINE.replace("end", f"end{k % 5} once{k}") for k in range(12))


def rnnc_counts(exe, data, tmp):
    r = subprocess.run([exe, "train", "--data", data, "--max-steps", "1", "--batch", "2",
                        "--steps", "5", "--threads", "1", "--ckpt", os.path.join(tmp, "x.ckpt"), "--force"],
                       capture_output=True, text=True, check=True)
    m = re.search(r"data \S+: (\d+) tokens \(train (\d+), validation (\d+)\), vocabulary (\d+), "
                  r"(\d+) validation tokens not in", r.stderr)
    if not m:
        raise SystemExit(f"recipe_twin_data: no data line in:\n{r.stderr}")
    n = re.search(r"note: (\d+) training tokens are read as <unk>", r.stderr)
    return tuple(int(g) for g in m.groups()) + (int(n.group(1)) if n else 0,)


def twin_counts(twin, spec, data):
    train, val, V, unk = twin.load(spec, data)
    # rnnc's note counts the training tokens min_freq turned into <unk>, not
    # the ones written <unk>
    d = spec["data"]
    toks = twin.split_words if d["tokens"] == "word" else list
    text = twin.normalize(open(data, encoding="utf-8", newline="").read(), d.get("normalize", "none"))
    written = sum(1 for t in toks(text)[: len(train)] if t == "<unk>") if d["tokens"] == "word" else 0
    return (len(train) + len(val), len(train), len(val), V, unk, int((train == 0).sum()) - written)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True, help="the repository root")
    ap.add_argument("--rnnc", required=True)
    ap.add_argument("--lib", required=True, help="librnnrt_d.a")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--libs", default="-lopenblas -ljansson")
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.source, "bench"))
    import torch_recipe as twin
    recipes = os.path.join(a.source, "examples", "recipes")
    specs = sorted(f for f in os.listdir(recipes) if f.endswith(".yaml"))
    if not specs:
        raise SystemExit("recipe_twin_data: no recipes in " + recipes)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "corpus.txt")
        with open(data, "w", encoding="utf-8", newline="") as f:
            f.write(corpus())
        for name in specs:
            path = os.path.join(recipes, name)
            c, exe = os.path.join(tmp, "t.c"), os.path.join(tmp, "t_d")
            subprocess.run([a.rnnc, path, "-o", c], check=True)
            subprocess.run([a.cc, "-O1", "-std=c11", "-DRNNRT_DOUBLE", "-I" + os.path.join(a.source, "runtime"),
                            c, a.lib] + a.libs.split() + ["-lpthread", "-lm", "-o", exe], check=True)
            got = rnnc_counts(exe, data, tmp)
            want = twin_counts(twin, yaml.safe_load(open(path)), data)
            ok = got == want
            bad += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}: rnnc {got} twin {want} "
                  "(tokens, train, valid, V, valid <unk>, train <unk>)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
