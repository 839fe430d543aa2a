#!/usr/bin/python3
"""compare_cells.py: rnnc's emitted GRU and LSTM against PyTorch's.

For each spec (specs/gru.yaml, specs/lstm.yaml by default) this builds the
double-precision trainer (or uses the one given with --trainer), runs

    X_d dump --B 3 --T 5 --V 7 --seed 3

which prints the parameters, inputs, initial state, carry_scale, and the
outputs of one forward + backward (see runtime/train/rnnrt_check.c), loads those
parameters into torch.nn.GRU / torch.nn.LSTM and torch.nn.Linear in
float64, runs the same one-hot inputs from the same initial state, takes the
mean cross-entropy and its backward, and compares the loss, the logits, the
final states, every parameter gradient and the initial-state gradient.
Each tensor must agree to 1e-5 relative to its largest magnitude (in
double the differences are ~1e-15); the max differences are printed.

Layouts. rnnc stores an input weight as [input, hidden] (x @ W_ir); PyTorch
stacks the transposed gate blocks: weight_ih_l0 = [W_ir^T; W_iz^T; W_in^T]
for the GRU (gates r, z, n) and [W_ii^T; W_if^T; W_ig^T; W_io^T] for the
LSTM (gates i, f, g, o); weight_hh_l0 and the biases likewise. W_out is
[hidden, V], nn.Linear's weight is its transpose. The state block holds
state k as the [B][H] block at offset k*B*H (LSTM: h, then c).

carry_scale: the emitted backward multiplies the state gradient that enters
step t from outside (the previous step, or the initial state at t = 0) by
carry_scale[t]; here each step's incoming state goes through a function
that is the identity forward and scales the gradient backward, and the
model runs one step at a time (the full-sequence call is compared too).

Exit status: 0 all agree, 1 a mismatch or a failed build, 77 when
/usr/bin/python3 cannot import torch (ctest SKIP_RETURN_CODE).
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    print("SKIP: this python3 cannot import torch (on Debian: apt-get install "
          "python3-torch); the PyTorch comparison did not run")
    sys.exit(77)

RTOL = 1e-5
GATES = {"gru": ["r", "z", "n"], "lstm": ["i", "f", "g", "o"]}


def parse_dump(text):
    """The records of a dump, as {'param': {name: [..]}, 'grad': {...}, ...}."""
    d = {"param": {}, "grad": {}}
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "dims":
            d["B"], d["T"], d["V"], d["S"] = map(int, f[1:5])
        elif f[0] in ("param", "grad"):
            name, n = f[1], int(f[2])
            d[f[0]][name] = [float(v) for v in f[3:3 + n]]
            assert len(d[f[0]][name]) == n, line[:80]
        elif f[0] == "loss":
            d["loss"] = float(f[1])
        elif f[0] in ("x", "y"):
            d[f[0]] = [int(v) for v in f[2:]]
        else:
            d[f[0]] = [float(v) for v in f[2:]]
    return d


def build_trainer(spec, rnnc, lib, include, cc, libs, tmp):
    name = os.path.splitext(os.path.basename(spec))[0]
    c = os.path.join(tmp, name + ".c")
    exe = os.path.join(tmp, name + "_d")
    subprocess.run([rnnc, spec, "-o", c], check=True)
    subprocess.run([cc, "-O2", "-std=c11", "-DRNNRT_DOUBLE", "-I" + include, c, lib]
                   + libs + ["-lm", "-o", exe], check=True)
    return exe


class GradScale(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by s."""

    @staticmethod
    def forward(ctx, x, s):
        ctx.s = s
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.s, None


def mat(d, name, rows, cols):
    return torch.tensor(d["param"][name], dtype=torch.float64).reshape(rows, cols)


def vec(d, name):
    return torch.tensor(d["param"][name], dtype=torch.float64)


def torch_model(kind, d, H):
    V, gates = d["V"], GATES[kind]
    rnn = (torch.nn.GRU if kind == "gru" else torch.nn.LSTM)(V, H).double()
    lin = torch.nn.Linear(H, V).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.cat([mat(d, "W_i" + g, V, H).t() for g in gates]))
        rnn.weight_hh_l0.copy_(torch.cat([mat(d, "W_h" + g, H, H).t() for g in gates]))
        rnn.bias_ih_l0.copy_(torch.cat([vec(d, "b_i" + g) for g in gates]))
        rnn.bias_hh_l0.copy_(torch.cat([vec(d, "b_h" + g) for g in gates]))
        lin.weight.copy_(mat(d, "W_out", H, V).t())
        lin.bias.copy_(vec(d, "b_out"))
    return rnn, lin


def torch_grads(kind, rnn, lin, H, V):
    """rnnc's gradient names -> tensors laid out as rnnc stores them."""
    gates, out = GATES[kind], {}
    for k, g in enumerate(gates):
        rows = slice(k * H, (k + 1) * H)
        out["W_i" + g] = rnn.weight_ih_l0.grad[rows].t()
        out["W_h" + g] = rnn.weight_hh_l0.grad[rows].t()
        out["b_i" + g] = rnn.bias_ih_l0.grad[rows]
        out["b_h" + g] = rnn.bias_hh_l0.grad[rows]
    out["W_out"] = lin.weight.grad.t()
    out["b_out"] = lin.bias.grad
    return out


class Compare:
    def __init__(self, label):
        self.label, self.bad = label, 0

    def __call__(self, what, ours, theirs):
        a = torch.as_tensor(ours, dtype=torch.float64).reshape(-1)
        b = theirs.detach().reshape(-1).to(torch.float64)
        if a.numel() != b.numel():
            print(f"  FAIL {what}: {a.numel()} values, PyTorch has {b.numel()}")
            self.bad += 1
            return
        diff = (a - b).abs().max().item()
        scale = max(b.abs().max().item(), 1e-300)
        ok = diff <= RTOL * scale
        self.bad += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {what:8s} n={a.numel():6d}  max|diff| {diff:.3e}"
              f"  max|torch| {scale:.3e}  rel {diff / scale:.3e}")


def compare(kind, d):
    B, T, V, S = d["B"], d["T"], d["V"], d["S"]
    nstate = 2 if kind == "lstm" else 1
    H = S // nstate
    rnn, lin = torch_model(kind, d, H)
    x = torch.tensor(d["x"]).reshape(T, B)
    y = torch.tensor(d["y"]).reshape(T, B)
    xs = torch.nn.functional.one_hot(x, V).to(torch.float64)
    st = torch.tensor(d["state"], dtype=torch.float64).reshape(nstate, B, H)
    h0 = st[0].clone().requires_grad_(True)
    c0 = st[1].clone().requires_grad_(True) if nstate == 2 else None
    carry = d["carry_scale"]

    # step by step, the incoming state's gradient scaled by carry_scale[t]
    h, c, outs = h0, c0, []
    for t in range(T):
        hs = GradScale.apply(h, carry[t]).unsqueeze(0)
        if kind == "lstm":
            cs = GradScale.apply(c, carry[t]).unsqueeze(0)
            o, (h, c) = rnn(xs[t:t + 1], (hs, cs))
            h, c = h[0], c[0]
        else:
            o, h = rnn(xs[t:t + 1], hs)
            h = h[0]
        outs.append(o[0])
    out = torch.stack(outs)
    logits = lin(out)
    loss = torch.nn.functional.cross_entropy(logits.reshape(T * B, V), y.reshape(T * B))
    loss.backward()

    # the same forward in one call, as users run nn.GRU / nn.LSTM
    with torch.no_grad():
        init = (st[0:1], st[1:2]) if kind == "lstm" else st[0:1]
        full, _ = rnn(xs, init)

    cmp = Compare(kind)
    cmp("loss", [d["loss"]], loss.reshape(1))
    cmp("logits", d["logits"], logits)
    cmp("seq", d["logits"], lin(full))
    final = torch.cat([h.reshape(-1)] + ([c.reshape(-1)] if c is not None else []))
    cmp("state", d["state_out"], final)
    grads = torch_grads(kind, rnn, lin, H, V)
    for name in d["grad"]:
        if name not in grads:
            print(f"  FAIL {name}: no PyTorch counterpart")
            cmp.bad += 1
            continue
        cmp(name, d["grad"][name], grads[name])
    dstate = torch.cat([h0.grad.reshape(-1)] + ([c0.grad.reshape(-1)] if c0 is not None else []))
    cmp("dstate", d["dstate"], dstate)
    return cmp.bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--rnnc", help="the rnnc binary (to build trainers)")
    ap.add_argument("--lib", help="librnnrt_d.a (to build trainers)")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--libs", default="-lopenblas -ljansson", help="BLAS and Jansson link flags")
    ap.add_argument("--trainer", action="append", default=[],
                    help="KIND=PATH: use this double trainer for gru or lstm")
    ap.add_argument("kinds", nargs="*", default=["gru", "lstm"])
    a = ap.parse_args()
    torch.set_num_threads(1)
    given = dict(t.split("=", 1) for t in a.trainer)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for kind in a.kinds:
            spec = os.path.join(a.source, "specs", kind + ".yaml")
            try:
                exe = given.get(kind) or build_trainer(
                    spec, a.rnnc, a.lib, os.path.join(a.source, "runtime"), a.cc,
                    a.libs.split(), tmp)
                dump = subprocess.run([exe, "dump", "--B", "3", "--T", "5", "--V", "7",
                                       "--seed", "3"], check=True, capture_output=True,
                                      text=True).stdout
            except (subprocess.CalledProcessError, OSError, TypeError) as e:
                print(f"{kind}: FAIL: could not build or run the trainer: {e}")
                bad += 1
                continue
            print(f"{kind}: {spec} vs torch.nn.{kind.upper()} {torch.__version__} (float64)")
            bad += compare(kind, parse_dump(dump))
    print("PASS" if bad == 0 else f"FAIL ({bad} mismatches)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
