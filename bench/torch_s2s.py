#!/usr/bin/python3
"""PyTorch half of bench/run.sh for S2S-ATT: the training step of
bench/bench_s2s.c on the model of bench/s2s_torch.py.

  torch_s2s.py --B 64 --T 10 --V 2000 --hidden 256 --embed 256
               [--layers 1] [--threads 1] [--windows 7] [--seconds 1]
               [--packed]

Model: s2s_torch.py's Seq2Seq with additive attention, no dropout and
PyTorch's default init (--init default there), i.e. the model of
bench/specs/s2s_att.yaml: Embedding + nn.GRU encoder, additive attention
over the encoder outputs (masked past each source's valid length), decoder
nn.GRU over [Embedding(y_{t-1}); context] one step at a time, nn.Linear to
V. V_src = V_tgt = V.

Data as bench_s2s.c: random ids in [4, V) (no specials), drawn once;
dec_in = <bos> + label[:-1]; every source and target length is T, so
nothing is padded. With no padding, pack_padded_sequence computes the same
function as the plain GRU call (s2s_torch.py's --packed, which matches
rnnc's encoder stopping at each valid length), so the encoder runs
unpacked unless --packed; the two ran within 2% of each other here.

One step = zero_grad, forward, masked mean cross-entropy
(s2s_torch.masked_loss), backward, clip_grad_norm_(1), Adam (lr 0.005):
what s2s_torch.py's training loop does. Tokens/s counts target (label)
tokens, B * T per step. One warm-up window, then the median of `windows`
windows of at least `seconds` each. Prints key=value lines (the keys of
bench_s2s.c).

Generation (gen_tok_s), as bench_s2s.c: batch-1 greedy decoding under
no_grad, per sentence (the batch's sources in turn) model.encode, then T
model.decode_step calls from <bos>, each feeding back the argmax of its
logits (no stop at <eos>); tokens/s counts the T generated tokens per
sentence, the encoder's time included. Windows of seconds / 2, after
training, on the trained parameters.
"""
import argparse
import os
import resource
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s2s_torch import BOS, Seq2Seq, masked_loss  # noqa: E402
from torch_lm import windows  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--B", type=int, default=64)
    ap.add_argument("--T", type=int, default=10)
    ap.add_argument("--V", type=int, default=2000)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--embed", type=int, default=256)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--windows", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--packed", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Seq2Seq(a.V, a.V, a.embed, a.hidden, a.layers, "additive", 0.0, init="default", packed=a.packed)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    g = torch.Generator().manual_seed(1)
    src = torch.randint(4, a.V, (a.B, a.T), generator=g)
    label = torch.randint(4, a.V, (a.B, a.T), generator=g)
    dec_in = torch.cat([torch.full((a.B, 1), BOS), label[:, :-1]], 1)
    valid = torch.full((a.B,), a.T, dtype=torch.long)
    first = []

    def train_step():
        logits = model(src, valid, dec_in)
        loss = masked_loss(logits, label, valid)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        if not first:
            first.append(float(loss))
        return a.B * a.T

    train = windows(train_step, a.windows, a.seconds)
    row = [0]

    def gen_sentence():
        with torch.no_grad():
            b = row[0]
            row[0] = (b + 1) % a.B
            enc, h = model.encode(src[b:b + 1], valid[b:b + 1])
            prev = torch.full((1,), BOS, dtype=torch.long)
            for _ in range(a.T):
                lg, h, _ = model.decode_step(enc, h, prev)
                prev = lg.argmax(-1)
        return a.T

    model.eval()
    gen = windows(gen_sentence, a.windows, a.seconds / 2)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("impl=torch")
    print(f"torch_version={torch.__version__}")
    print(f"train_tok_s={train:.0f}")
    print(f"gen_tok_s={gen:.0f}")
    print(f"first_loss={first[0]:.4f}")
    print(f"peak_rss_mb={rss:.1f}")


if __name__ == "__main__":
    main()
