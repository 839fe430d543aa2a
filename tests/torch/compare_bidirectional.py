#!/usr/bin/python3
"""compare_bidirectional.py: rnnc's bidirectional and stacked layers against PyTorch.

For the GRU and the LSTM (specs/gru.yaml, specs/lstm.yaml) with 1 and 2
bidirectional layers, and 2 layers with dropout 0.5 between them, this
compiles the spec with `rnnc --test-bidirectional` (spec checks refuse a
bidirectional language model; the flag lowers it anyway, for tests) or with
the layer keys added, builds the double trainer, runs `dump` and rebuilds
the same network in PyTorch (float64) from the dumped parameters:

  - each direction of each layer is a one-layer torch.nn.GRU / nn.LSTM fed
    one step at a time (forward: t = 0 .. T-1, reverse: t = T-1 .. 0), the
    incoming state's gradient scaled by carry_scale[t] as rnnc does;
  - the layer output is [forward, reverse] concatenated on the last axis;
  - dropout between layers uses the mask rnnc uses (the hash of the dumped
    seed, the layer and the element index, ported below), kept values
    scaled by 1/(1-p), as torch.nn.functional.dropout with that mask.

Loss, logits, final states, every parameter gradient (named like PyTorch's
weight_ih_l0_reverse blocks) and the initial-state gradient must agree to
1e-5 relative to the largest magnitude. Without dropout, the logits of one
call of torch.nn.GRU/LSTM(num_layers=L, bidirectional=True) holding the
same weights are compared too: that checks rnnc's layout against PyTorch's
own bidirectional stack, not only against this file's loop.

Exit status: 0 all agree, 1 a mismatch or a failed build, 77 when
/usr/bin/python3 cannot import torch.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_cells import GATES, Compare, GradScale, parse_dump, torch  # noqa: E402

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def keep_mask(seed, site, n, rate):
    """rnnrt_dropout_keep for elements 0..n-1, as a float64 tensor of 0/1."""
    key = mix64((seed + GOLDEN * (site + 1)) & M64)
    u = [(mix64((key + GOLDEN * (i + 1)) & M64) >> 11) * 2.0 ** -53 for i in range(n)]
    return torch.tensor([1.0 if v >= rate else 0.0 for v in u], dtype=torch.float64)


def variant(src, layers, dropout, tmp, name):
    """specs/X.yaml at hidden 8 with network.layers and network.dropout set."""
    text = open(src).read()
    extra = f"  layers: {layers}\n" + (f"  dropout: {dropout}\n" if dropout else "")
    text, n = re.subn(r"(?m)^  hidden: \d+\n", lambda m: "  hidden: 8\n" + extra, text)
    assert n == 1, "no 'hidden:' line in " + src
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def build(spec, flags, a, tmp, name):
    c, exe = os.path.join(tmp, name + ".c"), os.path.join(tmp, name + "_d")
    subprocess.run([a.rnnc] + flags + [spec, "-o", c], check=True)
    subprocess.run([a.cc, "-O1", "-std=c11", "-DRNNRT_DOUBLE",
                    "-I" + os.path.join(a.source, "runtime"), c, a.lib]
                   + a.libs.split() + ["-lm", "-o", exe], check=True)
    return exe


def seed_of(text):
    m = re.search(r"(?m)^dropout (\d+) ([01])$", text)
    assert m, "the dump has no 'dropout SEED TRAIN' record"
    return int(m.group(1)), m.group(2) == "1"


class Net:
    """The dumped parameters as one-layer torch modules, by (layer, dir)."""

    def __init__(self, kind, d, H, layers, dirs):
        self.kind, self.H, self.layers, self.dirs = kind, H, layers, dirs
        self.mods, V = {}, d["V"]
        gates = GATES[kind]
        for l in range(layers):
            width = V if l == 0 else H * dirs
            for r in range(dirs):
                sfx = (f"_l{l}" if layers > 1 else "") + ("_reverse" if r else "")
                m = (torch.nn.GRU if kind == "gru" else torch.nn.LSTM)(width, H).double()
                p = lambda n, *shape: torch.tensor(d["param"][n + sfx], dtype=torch.float64).reshape(*shape)
                with torch.no_grad():
                    m.weight_ih_l0.copy_(torch.cat([p("W_i" + g, width, H).t() for g in gates]))
                    m.weight_hh_l0.copy_(torch.cat([p("W_h" + g, H, H).t() for g in gates]))
                    m.bias_ih_l0.copy_(torch.cat([p("b_i" + g, H) for g in gates]))
                    m.bias_hh_l0.copy_(torch.cat([p("b_h" + g, H) for g in gates]))
                self.mods[l, r] = (m, sfx)
        self.lin = torch.nn.Linear(H * dirs, V).double()
        with torch.no_grad():
            w = torch.tensor(d["param"]["W_out"], dtype=torch.float64).reshape(H * dirs, V)
            self.lin.weight.copy_(w.t())
            self.lin.bias.copy_(torch.tensor(d["param"]["b_out"], dtype=torch.float64))

    def grads(self):
        """rnnc's gradient names -> tensors laid out as rnnc stores them."""
        out, H = {}, self.H
        for (l, r), (m, sfx) in self.mods.items():
            for k, g in enumerate(GATES[self.kind]):
                rows = slice(k * H, (k + 1) * H)
                out["W_i" + g + sfx] = m.weight_ih_l0.grad[rows].t()
                out["W_h" + g + sfx] = m.weight_hh_l0.grad[rows].t()
                out["b_i" + g + sfx] = m.bias_ih_l0.grad[rows]
                out["b_h" + g + sfx] = m.bias_hh_l0.grad[rows]
        out["W_out"] = self.lin.weight.grad.t()
        out["b_out"] = self.lin.bias.grad
        return out

    def torch_stack(self):
        """The same weights in one nn.GRU/LSTM(num_layers, bidirectional)."""
        cls = torch.nn.GRU if self.kind == "gru" else torch.nn.LSTM
        m = cls(self.mods[0, 0][0].input_size, self.H, num_layers=self.layers,
                bidirectional=self.dirs == 2).double()
        with torch.no_grad():
            for (l, r), (one, _) in self.mods.items():
                sfx = f"_l{l}" + ("_reverse" if r else "")
                for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(m, w + sfx).copy_(getattr(one, w + "_l0"))
        return m


def run_direction(kind, mod, xs, init, carry, reverse):
    """One direction over xs [T,B,I] step by step; init: list of states."""
    T = xs.shape[0]
    st, outs = list(init), [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        s = [GradScale.apply(v, carry[t]).unsqueeze(0) for v in st]
        if kind == "lstm":
            o, (h, c) = mod(xs[t:t + 1], (s[0], s[1]))
            st = [h[0], c[0]]
        else:
            o, h = mod(xs[t:t + 1], s[0])
            st = [h[0]]
        outs[t] = o[0]
    return torch.stack(outs), st


def compare(kind, d, layers, dirs, rate, seed):
    B, T, V, S = d["B"], d["T"], d["V"], d["S"]
    nstate = 2 if kind == "lstm" else 1
    H = S // (nstate * layers * dirs)
    net = Net(kind, d, H, layers, dirs)
    x = torch.tensor(d["x"]).reshape(T, B)
    y = torch.tensor(d["y"]).reshape(T, B)
    xs = torch.nn.functional.one_hot(x, V).to(torch.float64)
    st = torch.tensor(d["state"], dtype=torch.float64).reshape(-1, B, H)
    init = [st[k].clone().requires_grad_(True) for k in range(st.shape[0])]
    carry = d["carry_scale"]

    hs, finals = xs, []
    for l in range(layers):
        outs = []
        for r in range(dirs):
            k = (l * dirs + r) * nstate
            o, fin = run_direction(kind, net.mods[l, r][0], hs, init[k:k + nstate], carry, r == 1)
            outs.append(o)
            finals += fin
        hs = torch.cat(outs, dim=-1)
        if l + 1 < layers and rate > 0:
            mask = keep_mask(seed, l, hs.numel(), rate).reshape(hs.shape)
            hs = hs * mask / (1 - rate)
    logits = net.lin(hs)
    loss = torch.nn.functional.cross_entropy(logits.reshape(T * B, V), y.reshape(T * B))
    loss.backward()

    cmp = Compare(kind)
    cmp("loss", [d["loss"]], loss.reshape(1))
    cmp("logits", d["logits"], logits)
    if rate == 0:
        with torch.no_grad():
            stack = net.torch_stack()
            h0 = st[0::nstate]
            full, _ = stack(xs, (h0, st[1::nstate]) if kind == "lstm" else h0)
            cmp("nn_stack", d["logits"], net.lin(full))
    cmp("state", d["state_out"], torch.cat([f.reshape(-1) for f in finals]))
    grads = net.grads()
    for name in d["grad"]:
        if name not in grads:
            print(f"  FAIL {name}: no PyTorch counterpart")
            cmp.bad += 1
            continue
        cmp(name, d["grad"][name], grads[name])
    cmp("dstate", d["dstate"], torch.cat([v.grad.reshape(-1) for v in init]))
    return cmp.bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--rnnc", required=True)
    ap.add_argument("--lib", required=True, help="librnnrt_d.a")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--libs", default="-lopenblas -ljansson", help="BLAS and Jansson link flags")
    a = ap.parse_args()
    torch.set_num_threads(1)
    # (layers, bidirectional, dropout)
    cases = [(1, True, 0), (2, True, 0), (2, False, 0.5), (2, True, 0.5)]
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("gru", "lstm"):
            for layers, bidir, rate in cases:
                name = f"{kind}_l{layers}{'_bi' if bidir else ''}{'_drop' if rate else ''}"
                src = os.path.join(a.source, "specs", kind + ".yaml")
                try:
                    spec = variant(src, layers, rate, tmp, name)
                    exe = build(spec, ["--test-bidirectional"] if bidir else [], a, tmp, name)
                    text = subprocess.run([exe, "dump", "--B", "3", "--T", "5", "--V", "7", "--seed", "3"],
                                          check=True, capture_output=True, text=True).stdout
                except (subprocess.CalledProcessError, OSError, AssertionError) as e:
                    print(f"{name}: FAIL: could not build or run the trainer: {e}")
                    bad += 1
                    continue
                seed, train = seed_of(text)
                print(f"{name}: {layers} layer(s), {'bidirectional' if bidir else 'forward only'}, "
                      f"dropout {rate} (seed {seed}, train {int(train)}) vs torch {torch.__version__}")
                bad += compare(kind, parse_dump(text), layers, 2 if bidir else 1, rate if train else 0, seed)
    print("PASS" if bad == 0 else f"FAIL ({bad} mismatches)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
