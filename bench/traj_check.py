#!/usr/bin/python3
"""traj_check.py: is rnnc's char-LM training the same computation as PyTorch's?

Starts PyTorch from rnnc's EXACT initial weights and token stream and follows
both training trajectories step by step (specs/rnn.yaml recipe: tanh RNN,
H 256, one-hot, B 32, T 35, sequential partitioning with carried detached
state, SGD lr 1, global-norm clip 1).

How to run (from the repository root; takes ~5 min for `traj`, ~5 min for
`full` on 1 thread):

  cmake -S . -B /tmp/build-traj -DCMAKE_BUILD_TYPE=Release
  cmake --build /tmp/build-traj -j2 --target rnn rnn_d rnnc
  OPENBLAS_CORETYPE=Haswell /usr/bin/python3 bench/traj_check.py traj \
      [--rnn /tmp/build-traj/rnn] [--steps 135] [--work /tmp/traj]
  OPENBLAS_CORETYPE=Haswell /usr/bin/python3 bench/traj_check.py full \
      [--epochs 20]

traj: runs the float trainer (`rnn`) and the double trainer (`rnn_d`) one
      optimizer step at a time (--max-steps 1, then --resume --max-steps 1,
      ...; resume is exact), keeping every checkpoint; reproduces rnnc's
      initialisation (xoshiro256** seeded by splitmix64, U(-1/16, 1/16) per
      parameter in descriptor order) in Python; trains torch nn.RNN + Linear
      from those weights in float32 and float64; prints, per step, the loss
      (rnnc's loss of minibatch k is recomputed in float64 from its
      checkpoint k-1: parameters + carried state) and the relative parameter
      differences  ||a - b|| / ||b||  over the whole parameter block:
        rnnc(float) vs torch64, torch32 vs torch64, rnnc_d(double) vs torch64.
full: rnnc for --epochs epochs (seed 0) and torch float32 and float64 for the
      same epochs from rnnc's seed-0 initial weights; prints the validation
      perplexity of each (every 5th epoch), and torch's evaluation of rnnc's
      final checkpoint (checks the evaluation code too).

Checkpoints are only read (layout: runtime/rnnrt.h, "checkpoints").
"""
import argparse
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

H = 256
B = 32
T = 35
NAMES = ["W_ih", "W_hh", "b_ih", "b_hh", "W_out", "b_out"]
MASK = (1 << 64) - 1


# ---------------------------------------------------------------- checkpoint
def read_ckpt(path):
    """rnnc's checkpoint (runtime/rnnrt.h, "checkpoints"): a 32-byte
    preamble, then sections framed as name[8], u64 length, u32 CRC32 of
    name, length and payload, u32 zero."""
    d = open(path, "rb").read()
    assert d[:8] == b"RNNCCKPT", path
    version, tag, rsize, nsec, _, crc = struct.unpack_from("<IIIIII", d, 8)
    assert tag == 0x01020304 and crc == zlib.crc32(d[:28]), path
    dt = np.float32 if rsize == 4 else np.float64
    pos, sec = 32, {}
    for _ in range(nsec):
        name = d[pos:pos + 8].rstrip(b"\0").decode()
        n, c = struct.unpack_from("<QI", d, pos + 8)
        sec[name] = d[pos + 24:pos + 24 + n]
        assert c == zlib.crc32(d[pos:pos + 16] + sec[name]), (path, name)
        pos += 24 + n
    assert pos == len(d), path

    def rd_str(b, p):
        n, = struct.unpack_from("<I", b, p)
        return b[p + 4:p + 4 + n].decode("utf-8"), p + 4 + n

    b = sec["header"]
    model, p = rd_str(b, 0)
    spec_hash, = struct.unpack_from("<Q", b, p)
    task, p = rd_str(b, p + 8)
    ndims, = struct.unpack_from("<I", b, p)
    p += 4
    dims = {}
    for _ in range(ndims):
        nm, p = rd_str(b, p)
        dims[nm], = struct.unpack_from("<Q", b, p)
        p += 8
    V = dims["V"]
    nparams, = struct.unpack_from("<I", b, p)
    p += 4
    shapes = []
    for _ in range(nparams):
        nm, p = rd_str(b, p)
        ndim, d0, d1 = struct.unpack_from("<III", b, p)
        p += 12
        shapes.append((nm, (d0, d1) if ndim == 2 else (d0,)))
    b = sec["vocab"]
    size, = struct.unpack_from("<I", b, 0)
    p, tokens, counts = 4, [], []
    for _ in range(size):
        tok, p = rd_str(b, p)
        c, = struct.unpack_from("<q", b, p)
        p += 8
        tokens.append(tok)
        counts.append(c)
    flat = np.frombuffer(sec["params"], dtype=dt)
    params, off = {}, 0
    for nm, shp in shapes:
        n = int(np.prod(shp))
        params[nm] = flat[off:off + n].reshape(shp).copy()
        off += n
    assert off == len(flat)
    b = sec["train"]
    epoch, batch, step, ntok = struct.unpack_from("<qqqq", b, 0)
    lr, = struct.unpack_from("<d", b, 32)
    halvings, cB, cT, sampler = struct.unpack_from("<IIII", b, 40)
    p = 40 + 16 + 64 + 8
    S2, = struct.unpack_from("<I", b, p)
    nst, = struct.unpack_from("<Q", b, p + 4)
    state = np.frombuffer(b[p + 12:p + 12 + nst * rsize], dtype=dt)
    state = state.reshape(cB, S2) if nst else np.zeros((cB, S2), dt)
    return dict(V=V, tokens=tokens, counts=counts, params=params, flat=flat,
                epoch=epoch, batch=batch, step=step, lr=lr,
                halvings=halvings, state=state.copy(), real=dt)


# ------------------------------------------------- rnnc's initialisation
def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return x, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def rnnc_init(seed, V, dtype):
    """rnnrt_rng_init + rnnrt_params_randomize for generated/rnn.c."""
    s, x = [0] * 4, seed
    for i in range(4):
        x, s[i] = splitmix64(x)
    shapes = [("W_ih", (V, H)), ("W_hh", (H, H)), ("b_ih", (H,)),
              ("b_hh", (H,)), ("W_out", (H, V)), ("b_out", (V,))]
    a = 0.0625
    out = {}
    for nm, shp in shapes:
        n = int(np.prod(shp))
        u = np.empty(n, np.float64)
        s0, s1, s2, s3 = s
        for k in range(n):
            r = (rotl((s1 * 5) & MASK, 7) * 9) & MASK
            t = (s1 << 17) & MASK
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = rotl(s3, 45)
            u[k] = (r >> 11) * 2.0 ** -53
        s = [s0, s1, s2, s3]
        out[nm] = (-a + (2 * a) * u).astype(dtype).reshape(shp)
    return out


# ------------------------------------------------------------------- data
def load_stream(path, tokens):
    """The reference's load(), encoded with rnnc's vocabulary ids."""
    text = open(path, encoding="utf-8", errors="replace").read()
    text = re.sub("[^a-z]+", " ", text.lower()).strip()
    idx = {t: i for i, t in enumerate(tokens)}
    ids = torch.tensor([idx.get(c, 0) for c in text], dtype=torch.long)
    cut = int(len(ids) * 0.9)
    # check against the vocabulary's training counts
    cnt = np.bincount(ids[:cut].numpy(), minlength=len(tokens))
    return ids[:cut], ids[cut:], cnt


def partition(ids):
    n = (len(ids) - 1) // B
    return ids[: n * B].view(B, n), ids[1: n * B + 1].view(B, n)


# ------------------------------------------------------------------ model
class LM(nn.Module):
    def __init__(self, V):
        super().__init__()
        self.V = V
        self.rnn = nn.RNN(V, H)
        self.out = nn.Linear(H, V)

    def forward(self, x, state):
        oh = F.one_hot(x.T, self.V).to(self.out.weight.dtype)
        h, state = self.rnn(oh, state)
        return self.out(h), state


def make_model(p, V, dtype):
    m = LM(V).to(dtype)
    with torch.no_grad():
        m.rnn.weight_ih_l0.copy_(torch.from_numpy(np.asarray(p["W_ih"], np.float64).T.copy()))
        m.rnn.weight_hh_l0.copy_(torch.from_numpy(np.asarray(p["W_hh"], np.float64).T.copy()))
        m.rnn.bias_ih_l0.copy_(torch.from_numpy(np.asarray(p["b_ih"], np.float64)))
        m.rnn.bias_hh_l0.copy_(torch.from_numpy(np.asarray(p["b_hh"], np.float64)))
        m.out.weight.copy_(torch.from_numpy(np.asarray(p["W_out"], np.float64).T.copy()))
        m.out.bias.copy_(torch.from_numpy(np.asarray(p["b_out"], np.float64)))
    return m


def model_params(m):
    """rnnc layout, float64 numpy, one flat block."""
    g = lambda t: t.detach().double().numpy()
    return np.concatenate([g(m.rnn.weight_ih_l0).T.ravel(),
                           g(m.rnn.weight_hh_l0).T.ravel(),
                           g(m.rnn.bias_ih_l0), g(m.rnn.bias_hh_l0),
                           g(m.out.weight).T.ravel(), g(m.out.bias)])


def batches(x, y):
    for i in range(0, x.shape[1], T):
        yield x[:, i:i + T], y[:, i:i + T]


def train(m, x, y, nsteps, lr=1.0, clip=1.0, on_step=None):
    """The reference's loop; nsteps may span epochs. on_step(k, loss, m)."""
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    k, V = 0, m.V
    while k < nsteps:
        state = None
        for xb, yb in batches(x, y):
            if state is not None:
                state = state.detach()
            out, state = m(xb, state)
            loss = F.cross_entropy(out.reshape(-1, V), yb.T.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(m.parameters(), clip)
            opt.step()
            k += 1
            if on_step:
                on_step(k, loss.item(), m)
            if k >= nsteps:
                return


def evaluate(m, ids):
    x, y = partition(ids)
    state, nll, n = None, 0.0, 0
    with torch.no_grad():
        for xb, yb in batches(x, y):
            out, state = m(xb, state)
            nll += F.cross_entropy(out.reshape(-1, m.V).double(), yb.T.reshape(-1),
                                   reduction="sum").item()
            n += yb.numel()
    return math.exp(nll / n)


def loss_at(p, state, xb, yb, V):
    """Loss of minibatch (xb, yb) with parameters p and carried state, float64."""
    m = make_model(p, V, torch.float64)
    h0 = torch.from_numpy(np.asarray(state, np.float64)).unsqueeze(0)
    with torch.no_grad():
        out, _ = m(xb, h0)
        return F.cross_entropy(out.reshape(-1, V), yb.T.reshape(-1)).item()


def reldiff(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# ----------------------------------------------------------------- rnnc runs
def run_rnnc(binary, args, log=None):
    env = dict(os.environ, OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE", "Haswell"))
    r = subprocess.run([binary, "train"] + args, env=env, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{binary} {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def rnnc_chain(binary, data, work, tag, nsteps, seed, on_ckpt):
    """Runs 1..nsteps one resumed step at a time; on_ckpt(k, checkpoint)."""
    ck = os.path.join(work, f"{tag}.ckpt")
    if os.path.exists(ck):
        os.remove(ck)
    for k in range(1, nsteps + 1):
        extra = ["--resume"] if k > 1 else []
        run_rnnc(binary, ["--data", data, "--seed", str(seed), "--threads", "1",
                          "--quiet", "--sample-len", "0", "--max-steps", "1",
                          "--ckpt", ck] + extra)
        on_ckpt(k, read_ckpt(ck))


def cmd_traj(a):
    os.makedirs(a.work, exist_ok=True)
    torch.set_num_threads(1)
    ref = os.path.join(a.work, "ref.ckpt")  # one step, for the vocabulary
    if os.path.exists(ref):
        os.remove(ref)
    run_rnnc(a.rnn, ["--data", a.data, "--seed", str(a.seed), "--threads", "1", "--quiet",
                     "--sample-len", "0", "--max-steps", "1", "--ckpt", ref])
    c1 = read_ckpt(ref)
    V = c1["V"]
    train_ids, val_ids, cnt = load_stream(a.data, c1["tokens"])
    assert list(cnt) == c1["counts"], "token stream differs from rnnc's vocabulary counts"
    print(f"# V={V} vocab={''.join(t if len(t) == 1 else '|' for t in c1['tokens'])!r} "
          f"ntrain={len(train_ids)} nval={len(val_ids)}; training-split counts match rnnc's: yes")
    x, y = partition(train_ids)
    allb = list(batches(x, y))
    nb = len(allb)
    print(f"# minibatches per epoch: {nb} (last T={allb[-1][0].shape[1]})")
    show = sorted(k for k in set([1, 2, 3, 5, 10, 20, 30, 50, 75, 100, nb, a.steps] +
                                 list(range(nb, a.steps + 1, nb)) +
                                 list(range(200, a.steps + 1, 100))) if k <= a.steps)

    p0f = rnnc_init(a.seed, V, np.float32)
    p0d = rnnc_init(a.seed, V, np.float64)

    # torch trajectories
    traj = {}
    for name, p0, dt in [("t32", p0f, torch.float32), ("t64", p0f, torch.float64),
                         ("t64d", p0d, torch.float64)]:
        rec = {"loss": [], "params": {}}
        def cb(k, loss, m, rec=rec):
            rec["loss"].append(loss)
            if k in show:
                rec["params"][k] = model_params(m)
        train(make_model(p0, V, dt), x, y, a.steps, on_step=cb)
        traj[name] = rec

    # rnnc: the loss of minibatch k is recomputed from checkpoint k-1 (k=1:
    # the initialisation), parameters and carried state
    def follow(binary, tag, p0):
        rec = {"loss": [], "params": {}, "prev": (p0, np.zeros((B, H)), 0)}
        def cb(k, c):
            p, st, b = rec["prev"]
            rec["loss"].append(loss_at(p, st, *allb[b], V))
            assert c["step"] == k and c["halvings"] == 0
            rec["prev"] = (c["params"], c["state"], c["batch"])
            if k in show:
                rec["params"][k] = c["flat"].astype(np.float64)
        rnnc_chain(binary, a.data, a.work, tag, a.steps, a.seed, cb)
        return rec
    t0 = time.time()
    rf = follow(a.rnn, "f", p0f)
    rd = follow(a.rnn + "_d", "d", p0d)
    print(f"# rnnc chains: {a.steps} steps each, float and double, {time.time() - t0:.0f}s")
    lf, t32l, t64l = rf["loss"], traj["t32"]["loss"], traj["t64"]["loss"]

    print("#  step | loss: rnnc(f)  torch32   torch64  | param ||a-b||/||b||: rnnc(f)~t64  "
          "t32~t64  rnnc_d~t64d | loss diff: rnnc(f)-t64  t32-t64")
    for k in show:
        t64 = traj["t64"]["params"][k]
        print(f"{k:7d} | {lf[k-1]:.6f}  {t32l[k-1]:.6f}  {t64l[k-1]:.6f} | "
              f"{reldiff(rf['params'][k], t64):.2e}  "
              f"{reldiff(traj['t32']['params'][k], t64):.2e}  "
              f"{reldiff(rd['params'][k], traj['t64d']['params'][k]):.2e} | "
              f"{lf[k-1] - t64l[k-1]:+.2e}  {t32l[k-1] - t64l[k-1]:+.2e}")
    ld_err = max(abs(u - v) for u, v in zip(rd["loss"], traj["t64d"]["loss"]))
    print(f"# rnnc_d vs torch float64 (double init): max |loss diff| over {a.steps} steps = {ld_err:.2e}")
    for e0 in range(0, a.steps, nb):
        e1 = min(e0 + nb, a.steps)
        print(f"# mean loss, steps {e0 + 1}-{e1}: rnnc(f) {np.mean(lf[e0:e1]):.6f} "
              f"torch32 {np.mean(t32l[e0:e1]):.6f} torch64 {np.mean(t64l[e0:e1]):.6f} "
              f"rnnc_d {np.mean(rd['loss'][e0:e1]):.6f}")


def cmd_full(a):
    os.makedirs(a.work, exist_ok=True)
    torch.set_num_threads(1)
    ck = os.path.join(a.work, "full.ckpt")
    if not a.reuse or not os.path.exists(ck):
        t0 = time.time()
        out = run_rnnc(a.rnn, ["--data", a.data, "--seed", str(a.seed), "--threads", "1",
                               "--quiet", "--sample-len", "0", "--epochs", str(a.epochs),
                               "--ckpt", ck])
        print(f"# rnnc ({time.time() - t0:.0f}s):\n" + out.strip())
    c = read_ckpt(ck)
    V = c["V"]
    train_ids, val_ids, cnt = load_stream(a.data, c["tokens"])
    assert list(cnt) == c["counts"]
    x, y = partition(train_ids)
    nb = len(list(batches(x, y)))
    print(f"# torch evaluation of rnnc's final checkpoint: val_ppl {evaluate(make_model(c['params'], V, torch.float64), val_ids):.4f}")
    p0 = rnnc_init(a.seed, V, np.float32)
    for dt in (torch.float32, torch.float64):
        t0 = time.time()
        m = make_model(p0, V, dt)
        def cb(k, loss, m):
            if k % nb == 0 and ((k // nb) % 5 == 0 or k // nb == a.epochs):
                print(f"torch {str(dt)[6:]} epoch {k // nb} train_loss {loss:.4f} "
                      f"val_ppl {evaluate(m, val_ids):.4f}", flush=True)
        train(m, x, y, nb * a.epochs, on_step=cb)
        print(f"# torch {str(dt)[6:]} from rnnc's seed-{a.seed} init: {time.time() - t0:.0f}s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["traj", "full"])
    ap.add_argument("--rnn", default="/tmp/build-traj/rnn", help="float trainer; <this>_d is the double one")
    ap.add_argument("--data", default="/work/shared/data/timemachine.txt")
    ap.add_argument("--work", default="/tmp/traj")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=135, help="traj: optimizer steps to follow")
    ap.add_argument("--epochs", type=int, default=20, help="full: epochs")
    ap.add_argument("--reuse", action="store_true", help="full: reuse WORK/full.ckpt")
    a = ap.parse_args()
    (cmd_traj if a.mode == "traj" else cmd_full)(a)


if __name__ == "__main__":
    main()
