#!/usr/bin/python3
"""PyTorch half of bench/run.sh: the same language model as the rnnc trainer.

  torch_lm.py --cell rnn|gru|lstm --B 32 --T 35 --V 28 --hidden 256
              [--embed 0] [--threads 1] [--windows 7] [--seconds 1]

Model: one-hot input (or nn.Embedding when --embed > 0), one nn.RNN (tanh) /
nn.GRU / nn.LSTM layer, nn.Linear to V, mean cross-entropy. One training
step = zero_grad, forward, backward, clip_grad_norm_(1), SGD step, state
carried and detached: what the rnnc trainer does per minibatch. Random
token data, one warm-up window, then the median tokens/s of `windows`
windows of at least `seconds` each. Generation: batch 1, one token per
step, softmax sampling (torch.multinomial), state carried, no_grad.
Prints key=value lines (the same keys as bench_lm.c).
"""
import argparse
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LM(nn.Module):
    def __init__(self, cell, V, H, embed):
        super().__init__()
        self.V = V
        self.embed = nn.Embedding(V, embed) if embed else None
        kind = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = kind(embed or V, H)
        self.out = nn.Linear(H, V)

    def forward(self, x, state):  # x [T, B] int64
        xs = self.embed(x) if self.embed is not None else F.one_hot(x, self.V).float()
        h, state = self.rnn(xs, state)
        return self.out(h), state


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def zero_state(cell, B, H):
    h = torch.zeros(1, B, H)
    return (h, torch.zeros(1, B, H)) if cell == "lstm" else h


def windows(fn, n, seconds):
    """fn() runs some work and returns its token count; median tokens/s."""
    rates = []
    for w in range(n + 1):  # window 0 is the warm-up
        tokens, t0 = 0, time.perf_counter()
        while True:
            tokens += fn()
            dt = time.perf_counter() - t0
            if dt >= seconds:
                break
        if w > 0:
            rates.append(tokens / dt)
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cell", default="rnn")
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--T", type=int, default=35)
    ap.add_argument("--V", type=int, default=28)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--embed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--windows", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=1.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = LM(a.cell, a.V, a.hidden, a.embed)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, a.V, (a.T, a.B), generator=g)
    y = torch.randint(0, a.V, (a.T, a.B), generator=g)
    state = [zero_state(a.cell, a.B, a.hidden)]

    def train_step():
        opt.zero_grad(set_to_none=False)
        out, st = model(x, state[0])
        loss = F.cross_entropy(out.reshape(-1, a.V), y.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state[0] = detach(st)
        return a.B * a.T

    train = windows(train_step, a.windows, a.seconds)

    gstate = [zero_state(a.cell, 1, a.hidden)]
    tok = [torch.zeros(1, 1, dtype=torch.long)]

    def gen_steps():
        with torch.no_grad():
            for _ in range(64):
                out, gstate[0] = model(tok[0], gstate[0])
                p = torch.softmax(out[0, 0], dim=-1)
                tok[0] = torch.multinomial(p, 1).view(1, 1)
        return 64

    gen = windows(gen_steps, a.windows, a.seconds / 2)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("impl=torch")
    print(f"torch_version={torch.__version__}")
    print(f"train_tok_s={train:.0f}")
    print(f"gen_tok_s={gen:.0f}")
    print(f"peak_rss_mb={rss:.1f}")


if __name__ == "__main__":
    main()
