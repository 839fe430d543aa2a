#!/usr/bin/env python3
"""arpa_query.py FILE.arpa TEXT: an independent scorer of the ARPA backoff
model, sentence by sentence as KenLM's query does (every line <s> words
</s>, whitespace-separated words, a word not in the model is <unk>):
prints one log10 probability per line, then the total."""
import sys

prob, bow, order = {}, {}, 0
with open(sys.argv[1], encoding="utf-8") as f:
    n = 0
    for line in f:
        line = line.rstrip("\n")
        if line.startswith("\\") and line.endswith("-grams:"):
            n = int(line[1:line.index("-")])
            order = max(order, n)
            continue
        if not line or line.startswith("\\") or line.startswith("ngram ") or n == 0:
            continue
        fields = line.split("\t")
        words = tuple(fields[1].split(" "))
        prob[words] = float(fields[0])
        if len(fields) > 2:
            bow[words] = float(fields[2])


def logp(hist, w):
    """log10 p(w | hist), backing off: p(w|h) = b(h) + p(w|h')."""
    hist = hist[-(order - 1):] if order > 1 else ()
    for k in range(len(hist), -1, -1):
        h = tuple(hist[len(hist) - k:])
        if h + (w,) in prob:
            return prob[h + (w,)] + sum(bow.get(tuple(hist[len(hist) - j:]), 0.0)
                                         for j in range(k + 1, len(hist) + 1))
    raise SystemExit("arpa_query: no unigram for %r" % (w,))


vocab = {g[0] for g in prob if len(g) == 1}
total = 0.0
with open(sys.argv[2], encoding="utf-8") as f:
    text = f.read()
lines = text.split("\n")
if text.endswith("\n"):
    lines.pop()
for line in lines:
    words = [w if w in vocab else "<unk>" for w in line.split()]
    hist, s = ["<s>"], 0.0
    for w in words + ["</s>"]:
        s += logp(hist, w)
        hist.append(w)
    print("%.17g" % s)
    total += s
print("%.17g" % total)
