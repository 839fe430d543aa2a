#!/usr/bin/python3
"""compare_heads.py: rnnc's task heads (labelling, classification) against PyTorch.

For each model (specs/tagger.yaml: GRU over an embedding, a label per step;
specs/classifier.yaml: LSTM over an embedding, head: mean;
tests/specs/classifier_last.yaml: GRU over one-hot input, head: last;
examples/classifier_bidirectional.yaml: a bidirectional GRU, head: last;
examples/tagger_bidirectional.yaml: a bidirectional GRU tagger; see
compare_bidirectional) this
builds the double-precision trainer (or uses the one given with --trainer),
runs

    X_d dump --B 3 --T 5 --V 7 --L 4 --seed 3

and recomputes the dump in float64 with torch.nn.GRU / torch.nn.LSTM,
torch.nn.Linear and torch.nn.functional.cross_entropy, as
compare_cells.py does for the language models (same layouts, same
carry_scale handling). Classification pools the per-step outputs with the
dump's `pool` weights; independently of them, the pooled states must also
equal what PyTorch users write for each head: out[len-1] (last) or
out[:len].mean(0) (mean), with each row's valid length len read from the
weights' support. Every tensor must agree to 1e-5 relative to its largest
magnitude.

Exit status: 0 all agree, 1 a mismatch or a failed build, 77 when
/usr/bin/python3 cannot import torch (ctest SKIP_RETURN_CODE).
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_cells import (Compare, GATES, GradScale, build_trainer,  # noqa: E402
                           mat, parse_dump, torch)

# model -> (spec relative to the source, cell, head: None = labelling)
MODELS = {
    "tagger": ("specs/tagger.yaml", "gru", None),
    "classifier": ("specs/classifier.yaml", "lstm", "mean"),
    "classifier_last": ("tests/specs/classifier_last.yaml", "gru", "last"),
    "classifier_bidirectional": ("examples/classifier_bidirectional.yaml", "gru", "bidirectional"),
    "tagger_bidirectional": ("examples/tagger_bidirectional.yaml", "gru", "bidirectional labelling"),
}


def load_cell(kind, d, I, H, suffix=""):
    gates = GATES[kind]
    rnn = (torch.nn.GRU if kind == "gru" else torch.nn.LSTM)(I, H).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.cat([mat(d, "W_i" + g + suffix, I, H).t() for g in gates]))
        rnn.weight_hh_l0.copy_(torch.cat([mat(d, "W_h" + g + suffix, H, H).t() for g in gates]))
        rnn.bias_ih_l0.copy_(torch.cat([torch.tensor(d["param"]["b_i" + g + suffix], dtype=torch.float64)
                                        for g in gates]))
        rnn.bias_hh_l0.copy_(torch.cat([torch.tensor(d["param"]["b_h" + g + suffix], dtype=torch.float64)
                                        for g in gates]))
    return rnn


def cell_grads(kind, rnn, H, suffix, grads):
    for k, g in enumerate(GATES[kind]):
        rows = slice(k * H, (k + 1) * H)
        grads["W_i" + g + suffix] = rnn.weight_ih_l0.grad[rows].t()
        grads["W_h" + g + suffix] = rnn.weight_hh_l0.grad[rows].t()
        grads["b_i" + g + suffix] = rnn.bias_ih_l0.grad[rows]
        grads["b_h" + g + suffix] = rnn.bias_hh_l0.grad[rows]


def compare_bidirectional(name, d, labelling):
    """A bidirectional GRU classifier (head: last) on padded rows, or a
    bidirectional GRU tagger on its minibatch window. Each row is run
    unpadded, one step at a time in each direction (the incoming state's
    gradient scaled by carry_scale[t] as rnnc does); the classifier pools
    concat(forward state at len-1, reverse state at 0), the tagger reads
    concat(forward, reverse) at every step, its reverse direction starting
    from zeros (rnnc ignores the carried reverse state of a tagger). Loss,
    logits, final states and gradients must match the dump. The logits must
    also match one torch.nn.GRU(bidirectional=True) call: on
    pack_padded_sequence of the padded batch for the classifier (h_n, what
    PyTorch users pool), on the window for the tagger."""
    B, T, V, S, L = d["B"], d["T"], d["V"], d["S"], d["L"]
    H = S // 2
    x = torch.tensor(d["x"]).reshape(T, B)
    if labelling:
        lens = [T] * B
    else:
        m = torch.tensor(d["mask"], dtype=torch.float64).reshape(T, B)
        lens = [int(m[:, b].sum().item()) for b in range(B)]
        print(f"  valid lengths {lens} of T = {T}")
    embed = None
    if "embed" in d["param"]:
        E = len(d["param"]["embed"]) // V
        embed = mat(d, "embed", V, E).requires_grad_(True)
        xs, I = embed[x], E
    else:
        xs, I = torch.nn.functional.one_hot(x, V).to(torch.float64), V
    fwd, rev = load_cell("gru", d, I, H), load_cell("gru", d, I, H, "_reverse")
    lin = torch.nn.Linear(2 * H, L).double()
    with torch.no_grad():
        lin.weight.copy_(mat(d, "W_out", 2 * H, L).t())
        lin.bias.copy_(torch.tensor(d["param"]["b_out"], dtype=torch.float64))
    st = torch.tensor(d["state"], dtype=torch.float64).reshape(2, B, H)
    h0f, h0r = st[0].clone().requires_grad_(True), st[1].clone().requires_grad_(True)
    r0 = torch.zeros(B, H, dtype=torch.float64) if labelling else h0r
    carry = d["carry_scale"]

    def run(rnn, h, b, steps):
        """The states after each of steps, by step."""
        seq = {}
        for t in steps:
            _, h = rnn(xs[t:t + 1, b:b + 1], GradScale.apply(h, carry[t]).reshape(1, 1, H))
            seq[t] = h.reshape(H)
        return seq

    sf = [run(fwd, h0f[b], b, range(lens[b])) for b in range(B)]
    sr = [run(rev, r0[b], b, reversed(range(lens[b]))) for b in range(B)]
    hf = torch.stack([sf[b][lens[b] - 1] for b in range(B)])
    hr = torch.stack([sr[b][0] for b in range(B)])
    if labelling:
        out = torch.stack([torch.stack([torch.cat([sf[b][t], sr[b][t]]) for b in range(B)])
                           for t in range(T)])
        logits = lin(out)
        loss = torch.nn.functional.cross_entropy(logits.reshape(T * B, L), torch.tensor(d["y"]))
    else:
        logits = lin(torch.cat([hf, hr], 1))
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(d["y"]))
    loss.backward()
    cmp = Compare(name)
    if not labelling and min(lens) == T:
        print("  FAIL no row of the dump has padding")
        cmp.bad += 1
    both = torch.nn.GRU(I, H, bidirectional=True).double()
    with torch.no_grad():
        for suffix, one in (("", fwd), ("_reverse", rev)):
            for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(both, p + "_l0" + suffix).copy_(getattr(one, p + "_l0"))
        h0 = torch.stack([st[0], r0.detach()])
        if labelling:
            out, _ = both(xs.detach(), h0)
            cmp("one call", d["logits"], lin(out))
        else:
            packed = torch.nn.utils.rnn.pack_padded_sequence(xs.detach(), torch.tensor(lens),
                                                             enforce_sorted=False)
            _, h_n = both(packed, h0)
            cmp("packed", d["logits"], lin(torch.cat([h_n[0], h_n[1]], 1)))
    cmp("loss", [d["loss"]], loss.reshape(1))
    cmp("logits", d["logits"], logits)
    cmp("state", d["state_out"], torch.cat([hf.reshape(-1), hr.reshape(-1)]))
    grads = {"W_out": lin.weight.grad.t(), "b_out": lin.bias.grad}
    if embed is not None:
        grads["embed"] = embed.grad
    cell_grads("gru", fwd, H, "", grads)
    cell_grads("gru", rev, H, "_reverse", grads)
    for pname in d["grad"]:
        if pname not in grads:
            print(f"  FAIL {pname}: no PyTorch counterpart")
            cmp.bad += 1
            continue
        cmp(pname, d["grad"][pname], grads[pname])
    dr = torch.zeros(B * H, dtype=torch.float64) if labelling else h0r.grad.reshape(-1)
    cmp("dstate", d["dstate"], torch.cat([h0f.grad.reshape(-1), dr]))
    return cmp.bad


def compare(name, kind, head, d):
    B, T, V, S, L = d["B"], d["T"], d["V"], d["S"], d["L"]
    nstate = 2 if kind == "lstm" else 1
    H = S // nstate
    x = torch.tensor(d["x"]).reshape(T, B)
    embed = None
    if "embed" in d["param"]:
        E = len(d["param"]["embed"]) // V
        embed = mat(d, "embed", V, E).requires_grad_(True)
        xs, I = embed[x], E
    else:
        xs, I = torch.nn.functional.one_hot(x, V).to(torch.float64), V
    rnn = load_cell(kind, d, I, H)
    lin = torch.nn.Linear(H, L).double()
    with torch.no_grad():
        lin.weight.copy_(mat(d, "W_out", H, L).t())
        lin.bias.copy_(torch.tensor(d["param"]["b_out"], dtype=torch.float64))
    st = torch.tensor(d["state"], dtype=torch.float64).reshape(nstate, B, H)
    h0 = st[0].clone().requires_grad_(True)
    c0 = st[1].clone().requires_grad_(True) if nstate == 2 else None
    carry = d["carry_scale"]
    h, c, outs, hseq, cseq = h0, c0, [], [], []
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
        hseq.append(h)
        cseq.append(c)
    out = torch.stack(outs)  # [T, B, H]
    cmp = Compare(name)
    if head is None:
        y = torch.tensor(d["y"]).reshape(T, B)
        logits = lin(out)
        loss = torch.nn.functional.cross_entropy(logits.reshape(T * B, L), y.reshape(T * B))
    else:
        y = torch.tensor(d["y"])
        w = torch.tensor(d["pool"], dtype=torch.float64).reshape(T, B)
        pooled = (w.unsqueeze(2) * out).sum(0)
        # what a PyTorch user writes for the head, from each row's length
        lens = [int((w[:, b] != 0).nonzero().max().item()) + 1 if head == "last"
                else int((w[:, b] != 0).sum().item()) for b in range(B)]
        idiom = torch.stack([out[n - 1, b] if head == "last" else out[:n, b].mean(0)
                             for b, n in enumerate(lens)])
        cmp(f"{head}", pooled, idiom)
        logits = lin(pooled)
        loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    cmp("loss", [d["loss"]], loss.reshape(1))
    cmp("logits", d["logits"], logits)
    if head is not None:
        # classification: padding keeps the state (the dump's valid-step
        # mask), so the final state is the one at each row's last valid step
        m = torch.tensor(d["mask"], dtype=torch.float64).reshape(T, B)
        n = [int(m[:, b].sum().item()) for b in range(B)]
        h = torch.stack([hseq[n[b] - 1][b] for b in range(B)])
        c = torch.stack([cseq[n[b] - 1][b] for b in range(B)]) if c is not None else None
    final = torch.cat([h.reshape(-1)] + ([c.reshape(-1)] if c is not None else []))
    cmp("state", d["state_out"], final)
    grads = {"W_out": lin.weight.grad.t(), "b_out": lin.bias.grad}
    if embed is not None:
        grads["embed"] = embed.grad
    for k, g in enumerate(GATES[kind]):
        rows = slice(k * H, (k + 1) * H)
        grads["W_i" + g] = rnn.weight_ih_l0.grad[rows].t()
        grads["W_h" + g] = rnn.weight_hh_l0.grad[rows].t()
        grads["b_i" + g] = rnn.bias_ih_l0.grad[rows]
        grads["b_h" + g] = rnn.bias_hh_l0.grad[rows]
    for pname in d["grad"]:
        if pname not in grads:
            print(f"  FAIL {pname}: no PyTorch counterpart")
            cmp.bad += 1
            continue
        cmp(pname, d["grad"][pname], grads[pname])
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
                    help="MODEL=PATH: use this double trainer")
    ap.add_argument("models", nargs="*", default=list(MODELS))
    a = ap.parse_args()
    torch.set_num_threads(1)
    given = dict(t.split("=", 1) for t in a.trainer)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models:
            rel, kind, head = MODELS[name]
            spec = os.path.join(a.source, rel)
            try:
                exe = given.get(name) or build_trainer(
                    spec, a.rnnc, a.lib, os.path.join(a.source, "runtime"), a.cc,
                    a.libs.split(), tmp)
                # the bidirectional model: rows of 4, 3, 6 and 5 valid steps
                size = (["--B", "4", "--T", "6", "--seed", "5"] if head == "bidirectional"
                        else ["--B", "3", "--T", "5", "--seed", "3"])
                dump = subprocess.run([exe, "dump", "--V", "7", "--L", "4"] + size, check=True,
                                      capture_output=True, text=True).stdout
            except (subprocess.CalledProcessError, OSError, TypeError) as e:
                print(f"{name}: FAIL: could not build or run the trainer: {e}")
                bad += 1
                continue
            d = parse_dump(dump)
            d["L"] = int(dump.split("\n", 1)[0].split()[5])
            print(f"{name}: {rel} ({head or 'labelling'}) vs torch.nn.{kind.upper()} "
                  f"{torch.__version__} (float64)")
            if head and head.startswith("bidirectional"):
                bad += compare_bidirectional(name, d, head.endswith("labelling"))
            else:
                bad += compare(name, kind, head, d)
    print("PASS" if bad == 0 else f"FAIL ({bad} mismatches)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
