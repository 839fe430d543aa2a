#!/usr/bin/python3
"""PyTorch twin of an rnnc language-model recipe (examples/recipes/*.yaml).

  torch_recipe.py SPEC --data FILE [--seed N] [--epochs N] [--threads N]
                  [--early-stop N] [--max-seconds S]

Reads the recipe from the spec and trains the same model on the same data
the rnnc trainer does, so that the two validation perplexities can be put
side by side:

  data     the file is read as UTF-8; `normalize` none | lower | letters
           (re.sub("[^a-z]+", " ", text.lower()).strip()); `tokens: char`
           (one token per character) or `word` (the rule of runtime/rnnrt.h:
           lowercase, punctuation split off, inner apostrophes kept, a
           written <unk> kept whole); the first floor(n * split) tokens
           train, the rest validate. The vocabulary is the four specials
           <unk> <pad> <bos> <eos> (ids 0-3) and the training tokens seen at
           least min_freq times; every other token is <unk>.
  batches  sequential partitioning: B rows of (n-1)//B columns, windows of
           T columns (the last one shorter), state carried and detached.
  model    nn.Embedding(V, E) (N(0,1), as rnnc's embed) -> nn.Dropout
           (dropout_embed) -> nn.LSTM/GRU/RNN(E, H, layers, dropout) ->
           nn.Dropout(dropout_output) -> nn.Linear(H, V), its weight the
           embedding when tie_weights. PyTorch's default initialisation
           everywhere else, which is rnnc's default for library cells
           (U(+-1/sqrt(H))); a cell `init: {uniform: A}` is applied to the
           cell's parameters.
  train    mean cross-entropy per minibatch, clip_grad_norm_, Adam/AdamW or
           SGD (momentum), the schedule from torch.optim.lr_scheduler
           (StepLR, ReduceLROnPlateau on the validation loss,
           CosineAnnealingLR with T_max = epochs), validation after every
           epoch (exp of the mean NLL over the validation stream partitioned
           as in training, state carried), early stopping after N epochs
           without a lower validation loss, the best epoch reported.

Prints "epoch E train_loss L val_ppl P lr X" per epoch and a RESULT line.
"""
import argparse
import math
import re
import sys
import time
from collections import Counter

import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

SPECIALS = ["<unk>", "<pad>", "<bos>", "<eos>"]


def fail(msg):
    print(f"torch_recipe: error: {msg}", file=sys.stderr)
    sys.exit(1)


def normalize(text, mode):
    if mode == "none":
        return text
    if mode == "lower":
        return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)
    if mode == "letters":
        return re.sub("[^a-z]+", " ", text.lower()).strip()
    fail(f"normalize '{mode}' is not supported")


def _is_sep(c):
    o = ord(c)
    return (o <= 0x20 or o == 0x7F or o == 0x85 or o == 0xA0 or o == 0x1680
            or 0x2000 <= o <= 0x200A or o in (0x2028, 0x2029, 0x202F, 0x205F, 0x3000))


def _is_punct(c):
    o = ord(c)
    if o < 0x80:
        return 0x21 <= o <= 0x7E and not c.isalnum()
    if 0xA1 <= o <= 0xBF:
        return o not in (0xAA, 0xB5, 0xBA)
    return o in (0xD7, 0xF7) or 0x2010 <= o <= 0x2027 or 0x2030 <= o <= 0x205E


def _lower_words(text):
    out = []
    for c in text:
        o = ord(c)
        if 0x41 <= o <= 0x5A or (0xC0 <= o <= 0xDE and o != 0xD7):
            c = chr(o + 32)
        out.append(c)
    return "".join(out)


def split_words(text):
    """The word tokenizer of runtime/rnnrt.h (rnnrt_words_split) on text."""
    text = _lower_words(text)
    toks, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("<unk>", i):
            toks.append("<unk>")
            i += 5
            continue
        c = text[i]
        if _is_sep(c):
            i += 1
            continue
        if _is_punct(c) and c not in "'\u2019":
            toks.append(c)
            i += 1
            continue
        if c in "'\u2019":  # a leading apostrophe is punctuation
            toks.append(c)
            i += 1
            continue
        j = i
        while j < n and not text.startswith("<unk>", j):
            d = text[j]
            if _is_sep(d):
                break
            if d in "'\u2019":
                # part of the word only between two word characters
                if j + 1 < n and not _is_sep(text[j + 1]) and not _is_punct(text[j + 1]) \
                        and not text.startswith("<unk>", j + 1):
                    j += 1
                    continue
                break
            if _is_punct(d):
                break
            j += 1
        toks.append(text[i:j])
        i = j
    return toks


def load(spec, path):
    d = spec.get("data", {})
    for key in ("valid", "test", "max_vocab", "eos"):
        if key in d:
            fail(f"data.{key} is not supported by this twin yet")
    text = normalize(open(path, encoding="utf-8", newline="").read(), d.get("normalize", "none"))
    kind = d["tokens"]
    if kind == "char":
        toks = list(text)
    elif kind == "word":
        toks = split_words(text)
    else:
        fail(f"tokens '{kind}' is not supported")
    ntrain = int(len(toks) * float(d.get("split", 0.9)))
    counts = Counter(t for t in toks[:ntrain] if t != "<unk>")
    minf = int(d.get("min_freq", 1))
    vocab = SPECIALS + sorted(t for t, k in counts.items() if k >= minf)
    index = {t: i for i, t in enumerate(vocab)}
    ids = torch.tensor([index.get(t, 0) for t in toks], dtype=torch.long)
    unk = sum(1 for t in toks[ntrain:] if t not in index)
    return ids[:ntrain], ids[ntrain:], len(vocab), unk


def partition(ids, B):
    n = (len(ids) - 1) // B
    return ids[: n * B].view(B, n), ids[1: n * B + 1].view(B, n)


class LM(nn.Module):
    def __init__(self, spec, V):
        super().__init__()
        net = spec["network"]
        cell = spec["cell"]
        init = None
        if isinstance(cell, dict):
            init = cell.get("init")
            cell = cell["use"]
        kind = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN}.get(cell)
        if kind is None:
            fail(f"cell '{cell}' is not supported (lstm, gru, rnn_tanh)")
        inp = net["input"]
        if not isinstance(inp, dict) or "embed" not in inp:
            fail("network.input must be {embed: N}")
        E, H, L = int(inp["embed"]), int(net["hidden"]), int(net.get("layers", 1))
        self.V = V
        self.embed = nn.Embedding(V, E)  # N(0, 1), as rnnc's embed
        self.drop_in = nn.Dropout(float(net.get("dropout_embed", 0)))
        self.rnn = kind(E, H, L, dropout=float(net.get("dropout", 0)))
        self.drop_out = nn.Dropout(float(net.get("dropout_output", 0)))
        self.out = nn.Linear(H, V)
        if net.get("tie_weights", False):
            if E != H:
                fail("tie_weights needs embed == hidden")
            self.out.weight = self.embed.weight
        if init is not None:
            if list(init) != ["uniform"]:
                fail(f"cell init {init} is not supported")
            for p in self.rnn.parameters():
                nn.init.uniform_(p, -float(init["uniform"]), float(init["uniform"]))

    def forward(self, x, state):  # x [B, T]
        h, state = self.rnn(self.drop_in(self.embed(x.t())), state)
        return self.out(self.drop_out(h)), state


def detach(s):
    if s is None:
        return None
    return tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach()


def evaluate(model, ids, B, T):
    x, y = partition(ids, B)
    model.eval()
    state, nll, n = None, 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[1], T):
            xb, yb = x[:, i: i + T], y[:, i: i + T]
            out, state = model(xb, state)
            nll += F.cross_entropy(out.reshape(-1, model.V), yb.t().reshape(-1), reduction="sum").item()
            n += yb.numel()
    model.train()
    return nll / n


def optimizer(tr, params):
    opt, lr, wd = tr["optimizer"], float(tr["lr"]), float(tr.get("weight_decay", 0))
    if isinstance(opt, dict) and "adam" in opt:
        a = opt["adam"] or {}
        kw = dict(betas=(float(a.get("beta1", 0.9)), float(a.get("beta2", 0.999))), eps=float(a.get("eps", 1e-8)))
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd, **kw) if wd else torch.optim.Adam(params, lr=lr, **kw)
    if opt == "adam":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd) if wd else torch.optim.Adam(params, lr=lr)
    if opt == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if opt == "momentum" or (isinstance(opt, dict) and "momentum" in opt):
        m = float(opt["momentum"]) if isinstance(opt, dict) else 0.9
        return torch.optim.SGD(params, lr=lr, momentum=m, weight_decay=wd)
    fail(f"optimizer {opt} is not supported")


def scheduler(tr, opt, epochs):
    s = tr.get("lr_schedule", "constant")
    name, o = (s, {}) if isinstance(s, str) else next(iter(s.items()))
    o = o or {}
    if name == "constant":
        return None
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(opt, int(o.get("every", 1)), float(o.get("factor", 0.1)))
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=float(o.get("factor", 0.1)), patience=int(o.get("patience", 10)),
            threshold=float(o.get("threshold", 1e-4)), min_lr=float(o.get("min_lr", 0)))
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs, float(o.get("min_lr", 0)))
    fail(f"lr_schedule {s} is not supported")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spec")
    ap.add_argument("--data", required=True)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--early-stop", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=0)
    a = ap.parse_args()
    spec = yaml.safe_load(open(a.spec))
    if spec.get("task") != "language_model":
        fail("only task: language_model")
    tr = spec["train"]
    if tr.get("sampler", "sequential") != "sequential" or tr.get("bptt", "truncated") != "truncated":
        fail("only the sequential sampler with truncated bptt")
    if int(tr.get("warmup_steps", 0)):
        fail("warmup_steps is not supported by this twin yet")
    seed = a.seed if a.seed is not None else int(tr.get("seed", 0))
    epochs = a.epochs or int(tr["epochs"])
    B, T, clip = int(tr["batch"]), int(tr["steps"]), float(tr.get("clip_norm", 0))
    torch.set_num_threads(a.threads)
    torch.manual_seed(seed)
    train, val, V, unk = load(spec, a.data)
    print(f"data {a.data}: {len(train) + len(val)} tokens (train {len(train)}, validation {len(val)}), "
          f"vocabulary {V}, {unk} validation tokens not in the vocabulary", flush=True)
    model = LM(spec, V)
    opt = optimizer(tr, model.parameters())
    sched = scheduler(tr, opt, epochs)
    x, y = partition(train, B)
    t0, tokens = time.time(), 0
    best, best_ep, bad, stopped = math.inf, 0, 0, ""
    for ep in range(1, epochs + 1):
        lr = opt.param_groups[0]["lr"]
        state, tl, tn = None, 0.0, 0
        for i in range(0, x.shape[1], T):
            xb, yb = x[:, i: i + T], y[:, i: i + T]
            out, state = model(xb, detach(state))
            loss = F.cross_entropy(out.reshape(-1, V), yb.t().reshape(-1))
            opt.zero_grad()
            loss.backward()
            if clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            tokens += yb.numel()
            tl += loss.item() * yb.numel()
            tn += yb.numel()
        vloss = evaluate(model, val, B, T)
        print(f"epoch {ep} train_loss {tl / tn:.4f} val_ppl {math.exp(vloss):.4f} lr {lr:.6g} "
              f"elapsed {time.time() - t0:.0f}s", flush=True)
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(vloss)
        elif sched is not None:
            sched.step()
        if vloss < best:
            best, best_ep, bad = vloss, ep, 0
        else:
            bad += 1
            if a.early_stop and bad >= a.early_stop:
                stopped = f" early_stop_after={ep}"
                break
        if a.max_seconds and time.time() - t0 > a.max_seconds:
            stopped = f" max_seconds_after={ep}"
            break
    dt = time.time() - t0
    print(f"RESULT impl=torch{torch.__version__} spec={a.spec} seed={seed} V={V} best_epoch={best_ep} "
          f"val_ppl={math.exp(best):.4f} wall_s={dt:.0f} train_tok_s={tokens / dt:.0f}{stopped}", flush=True)


if __name__ == "__main__":
    main()
