#!/usr/bin/python3
"""safetensors_roundtrip.py: the trainers' `export` and `import` against PyTorch.

The safetensors files are read and written here with json + numpy (Debian
ships no safetensors package), as the format says: an 8-byte little-endian
header length, a JSON header (dtype, shape, data_offsets per tensor, and
__metadata__), the raw little-endian data.

  torch -> rnnc   torch.nn.RNN / GRU / LSTM (+ nn.Embedding, 2 layers, a
                  bidirectional 2-layer GRU tagger) with random weights are
                  written as safetensors (their state_dict names), imported
                  with `TRAINER import`, and the logits rnnc computes for one
                  input (tests/tools/st_logits.c) must equal PyTorch's to 1e-5.
  rnnc -> torch   a model trained a few steps by rnnc (one with tied
                  embedding and decoder weights too) is exported; the file
                  loads into the PyTorch module with load_state_dict(strict)
                  and gives rnnc's logits to 1e-5. Exporting the same
                  checkpoint twice, and export(import(export)), give the
                  same bytes.
  spec names      a user-written cell keeps the spec's parameter names and
                  rnnc's layouts; its logits are checked by hand.
  malformed       truncated files, bad JSON, duplicate keys, wrong dtype,
                  offsets out of range, overlapping or not matching the
                  shape, shape mismatches, missing and extra tensors, no
                  vocabulary, NaN: a clear error naming the file (and
                  tensor), exit 1 or 3, never a crash.

Exit status: 0 all pass, 1 a failure, 77 when /usr/bin/python3 cannot
import torch (ctest SKIP_RETURN_CODE).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError:
    print("SKIP: this python3 cannot import torch and numpy (on Debian: apt-get "
          "install python3-torch); the safetensors round trip did not run")
    sys.exit(77)

SPECIALS = ["<unk>", "<pad>", "<bos>", "<eos>"]
TOL = 1e-5
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


# ---- the format, by hand ----

def write_st(path, tensors, meta, order=None):
    """tensors: name -> numpy array (F32 or F64); keys sorted."""
    header, blobs, off = {"__metadata__": meta}, [], 0
    for name in order or sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        dt = {np.dtype("float32"): "F32", np.dtype("float64"): "F64"}[a.dtype]
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_st(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, d in header.items():
        dt = {"F32": "<f4", "F64": "<f8"}[d["dtype"]]
        b, e = d["data_offsets"]
        out[name] = np.frombuffer(body[b:e], dtype=dt).reshape(d["shape"]).copy()
    return out, meta


# ---- models ----

CELLS = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}


class Net(torch.nn.Module):
    """What rnnc's network is: [embedding] -> stacked cell -> linear decoder."""

    def __init__(self, cell, V, out, hidden, embed=0, layers=1, bidirectional=False, head=None,
                 tie=False):
        super().__init__()
        self.V, self.H, self.head = V, hidden, head
        self.embedding = torch.nn.Embedding(V, embed) if embed else None
        self.rnn = CELLS[cell](embed or V, hidden, num_layers=layers,
                               bidirectional=bidirectional)
        self.decoder = torch.nn.Linear(hidden * (2 if bidirectional else 1), out)
        if tie:  # word_language_model's tying: one tensor under both names
            self.decoder.weight = self.embedding.weight

    def forward(self, ids):
        ids = torch.tensor(ids)
        if self.embedding is not None:
            x = self.embedding(ids)
        else:
            x = torch.nn.functional.one_hot(ids, self.V).float()
        y, _ = self.rnn(x[:, None, :])
        y = y[:, 0, :]
        if self.head == "mean":  # classification: the states' mean
            y = y.mean(0, keepdim=True)
        elif self.head == "last":  # the final state of each direction
            H = self.H
            y = (torch.cat([y[-1, :H], y[0, H:]]) if y.shape[1] > H else y[-1])[None, :]
        return self.decoder(y)


def spec_text(model, task, cell, hidden, embed=0, layers=1, bidirectional=False, head=None,
              tie=False):
    net = f"  input: {{embed: {embed}}}\n" if embed else "  input: one_hot\n"
    net += f"  hidden: {hidden}\n  output: linear\n"
    if layers > 1:
        net += f"  layers: {layers}\n"
    if bidirectional:
        net += "  bidirectional: true\n"
    if head:
        net += f"  head: {head}\n"
    if tie:
        net += "  tie_weights: true\n"
    cell_text = cell if "\n" in cell else f"cell: {cell}\n"
    return (f"model: {model}\ntask: {task}\ndata:\n  tokens: char\n  normalize: none\n"
            f"  split: 0.8\n{cell_text}network:\n{net}"
            "train:\n  batch: 2\n  steps: 8\n  sampler: sequential\n  bptt: truncated\n"
            "  optimizer: adam\n  lr: 0.01\n  clip_norm: 1.0\n  epochs: 1\n  seed: 1\n")


class Builder:
    def __init__(self, a, tmp):
        self.a, self.tmp = a, tmp

    def build(self, name, text):
        """The trainer and its logits tool for spec text."""
        spec = os.path.join(self.tmp, name + ".yaml")
        with open(spec, "w") as f:
            f.write(text)
        c = os.path.join(self.tmp, name + ".c")
        subprocess.run([self.a.rnnc, spec, "-o", c], check=True)
        exe, tool = os.path.join(self.tmp, name), os.path.join(self.tmp, name + "_logits")
        inc = "-I" + os.path.join(self.a.source, "runtime")
        libs = [self.a.lib] + self.a.libs.split() + ["-lm"]
        subprocess.run([self.a.cc, "-O1", "-std=c11", inc, c] + libs + ["-o", exe], check=True)
        subprocess.run([self.a.cc, "-O1", "-std=c11", inc, "-DRNNC_NO_MAIN",
                        f"-DST_MODEL={name}_model", c, self.a.tool] + libs + ["-o", tool],
                       check=True)
        return exe, tool


def rnnc_logits(tool, ckpt, ids):
    out = subprocess.run([tool, ckpt] + [str(i) for i in ids], check=True,
                         capture_output=True, text=True).stdout
    return np.array([[float(v) for v in line.split()] for line in out.splitlines()])


def close(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False, f"shapes {a.shape} vs {b.shape}"
    d = float(np.max(np.abs(a - b)))
    scale = max(1.0, float(np.max(np.abs(b))))
    return d <= TOL * scale, f"max |diff| {d:.3g} (scale {scale:.3g})"


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# ---- torch -> rnnc ----

def torch_to_rnnc(b, name, task, cell, H, embed, layers, bidir, ids, V, L=0, head=None):
    exe, tool = b.build(name, spec_text(name, task, cell, H, embed, layers, bidir, head))
    torch.manual_seed(sum(name.encode()))
    net = Net(cell.replace("rnn_tanh", "rnn"), V, L or V, H, embed, layers, bidir, head)
    vocab = SPECIALS + [chr(ord("a") + i) for i in range(V - 4)]
    meta = {"vocab": json.dumps(vocab)}
    if L:
        meta["labels"] = json.dumps([f"L{i}" for i in range(L)])
    st = os.path.join(b.tmp, name + "_torch.safetensors")
    write_st(st, {k: v.detach().numpy() for k, v in net.state_dict().items()}, meta)
    ckpt = os.path.join(b.tmp, name + "_imported.ckpt")
    r = run([exe, "import", st, "--ckpt", ckpt])
    check(r.returncode == 0, f"{name}: import of PyTorch's state_dict (exit {r.returncode} {r.stderr.strip()})")
    if r.returncode:
        return
    with torch.no_grad():
        want = net(ids).numpy()
    ok, why = close(rnnc_logits(tool, ckpt, ids), want)
    check(ok, f"{name}: torch -> import -> rnnc logits equal PyTorch's: {why}")
    if cell != "rnn_tanh":
        # the control: the first two gate blocks swapped must show
        sd = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
        w = sd["rnn.weight_ih_l0"]
        w[:H], w[H:2 * H] = w[H:2 * H].copy(), w[:H].copy()
        write_st(st, sd, meta)
        run([exe, "import", st, "--ckpt", ckpt + ".swapped"])
        ok, why = close(rnnc_logits(tool, ckpt + ".swapped", ids), want)
        check(not ok, f"{name}: control: swapped gate blocks give other logits: {why}")
    return exe, tool, ckpt


# ---- rnnc -> torch ----

def rnnc_to_torch(b, name, task, cell, H, embed, layers, bidir, data, ids, head=None, tie=False):
    exe, tool = b.build(name, spec_text(name, task, cell, H, embed, layers, bidir, head, tie))
    ckpt = os.path.join(b.tmp, name + ".ckpt")
    r = run([exe, "train", "--data", data, "--ckpt", ckpt, "--max-steps", "5", "--quiet"])
    check(r.returncode == 0, f"{name}: trains 5 steps (exit {r.returncode} {r.stderr.strip()[-300:]})")
    if r.returncode:
        return
    st1, st2, st3 = (os.path.join(b.tmp, f"{name}_{i}.safetensors") for i in (1, 2, 3))
    r1 = run([exe, "export", ckpt, "-o", st1])
    r2 = run([exe, "export", "--ckpt", ckpt, "--out", st2])
    check(r1.returncode == 0 and r2.returncode == 0, f"{name}: export ({r1.stderr.strip()} {r2.stderr.strip()})")
    if r1.returncode or r2.returncode:
        return
    check(open(st1, "rb").read() == open(st2, "rb").read(),
          f"{name}: the same checkpoint exports to the same bytes")
    back = os.path.join(b.tmp, name + "_back.ckpt")
    r = run([exe, "import", st1, "--ckpt", back])
    r3 = run([exe, "export", back, "-o", st3])
    check(r.returncode == 0 and r3.returncode == 0 and
          open(st1, "rb").read() == open(st3, "rb").read(),
          f"{name}: export(import(export)) gives the same bytes")
    tensors, meta = read_st(st1)
    check(meta.get("names") == "pytorch" and meta.get("cell") == cell.replace("rnn_tanh", "rnn"),
          f"{name}: __metadata__ names=pytorch cell={meta.get('cell')}")
    vocab = json.loads(meta["vocab"])
    labels = json.loads(meta["labels"]) if "labels" in meta else None
    check(vocab[:4] == SPECIALS and json.loads(meta["recipe"])["optimizer"] == "adam",
          f"{name}: __metadata__ holds the vocabulary ({len(vocab)}) and the recipe")
    net = Net(meta["cell"], len(vocab), len(labels) if labels else len(vocab), int(meta["hidden"]),
              embed, int(meta["layers"]), meta["bidirectional"] == "1", head, tie)
    if tie:
        check(np.array_equal(tensors["decoder.weight"], tensors["embedding.weight"]),
              f"{name}: tied: decoder.weight is the embedding's values")
    try:
        net.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
        loaded = True
    except RuntimeError as e:
        loaded = False
        print(e)
    check(loaded, f"{name}: load_state_dict(strict=True) takes the exported file")
    if not loaded:
        return
    with torch.no_grad():
        want = net(ids).numpy()
    ok, why = close(rnnc_logits(tool, ckpt, ids), want)
    check(ok, f"{name}: rnnc-trained -> export -> PyTorch logits equal rnnc's: {why}")
    return exe, ckpt, st1


# ---- spec names ----

CUSTOM_CELL = """cell:
  name: elman
  input: x
  state: [h]
  output: h
  params:
    U: [input, hidden]
    R: [hidden, hidden]
    c: [hidden]
  equations:
    h: tanh(x @ U + h @ R + c)
"""


def spec_names(b, data, ids):
    exe, tool = b.build("elman", spec_text("elman", "language_model", CUSTOM_CELL, 6, 5))
    ckpt, st = os.path.join(b.tmp, "elman.ckpt"), os.path.join(b.tmp, "elman.safetensors")
    r = run([exe, "train", "--data", data, "--ckpt", ckpt, "--max-steps", "3", "--quiet"])
    r2 = run([exe, "export", ckpt, "-o", st])
    check(r.returncode == 0 and r2.returncode == 0, f"elman: train and export ({r2.stderr.strip()})")
    if r2.returncode:
        return
    t, meta = read_st(st)
    check(sorted(t) == ["R", "U", "c", "decoder.bias", "decoder.weight", "embedding.weight"]
          and meta["names"] == "spec" and t["U"].shape == (5, 6),
          f"elman: a user-written cell keeps the spec's names: {sorted(t)}")
    E = t["embedding.weight"]
    h = np.zeros(6, dtype=np.float64)
    rows = []
    for i in ids:
        h = np.tanh(E[i] @ t["U"] + h @ t["R"] + t["c"])
        rows.append(t["decoder.weight"] @ h + t["decoder.bias"])
    ok, why = close(rnnc_logits(tool, ckpt, ids), np.array(rows))
    check(ok, f"elman: logits from the exported spec-named tensors: {why}")


# ---- malformed files ----

def malformed(b, exe, good):
    data = open(good, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    names = sorted(k for k in header if k != "__metadata__")
    first, last = names[0], names[-1]

    def with_header(h, body=body, raw=None):
        hb = raw if raw is not None else json.dumps(h).encode()
        return struct.pack("<Q", len(hb)) + hb + body

    def edit(fn):
        h = json.loads(json.dumps(header))
        fn(h)
        return with_header(h)

    def nan_body():
        b2 = bytearray(body)
        s = header[first]["data_offsets"][0]
        b2[s:s + 4] = struct.pack("<f", float("nan"))
        return with_header(header, bytes(b2))

    cases = [
        ("empty file", b"", "truncated"),
        ("cut inside the length", data[:5], "truncated"),
        ("cut inside the header", data[:8 + n // 2], "truncated"),
        ("cut inside the data", data[:-10], "truncated?"),
        ("huge header length", struct.pack("<Q", 1 << 62) + data[8:], "exceeds"),
        ("bad JSON", with_header(None, raw=b'{"a": [1, 2'), "not valid JSON"),
        ("header not an object", with_header([1, 2]), "not a JSON object"),
        ("duplicate key", with_header(None, raw=data[8:8 + n].rstrip()[:-1]
                                      + b',"' + last.encode() + b'":'
                                      + json.dumps(header[last]).encode() + b"}"),
         "duplicate"),
        ("wrong dtype", edit(lambda h: h[first].update(dtype="I64")), "dtype I64"),
        ("BF16", edit(lambda h: h[first].update(dtype="BF16")), "dtype BF16"),
        ("offsets past the end", edit(lambda h: h[last].update(
            data_offsets=[len(body) - 4 * int(np.prod(h[last]["shape"])) + 8, len(body) + 8])),
         "after the end"),
        ("offsets not the shape's size", edit(lambda h: h[first].update(
            data_offsets=[h[first]["data_offsets"][0], h[first]["data_offsets"][1] - 4])), "span"),
        ("overlapping tensors", edit(lambda h: h[last].update(
            data_offsets=[0, 4 * int(np.prod(h[last]["shape"]))])), "overlap"),
        ("negative offset", edit(lambda h: h[first].update(data_offsets=[-4, 0])), "data_offsets"),
        ("shape mismatch", edit(lambda h: h["decoder.bias"].update(
            shape=[h["decoder.bias"]["shape"][0] - 1],
            data_offsets=[h["decoder.bias"]["data_offsets"][0], h["decoder.bias"]["data_offsets"][1] - 4])),
         "has shape"),
        ("missing tensor", edit(lambda h: h.pop(last)), "'" + last + "'"),
        ("extra tensor", edit(lambda h: h.update(
            {"rnn.weight_ih_l9": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}})),
         "'rnn.weight_ih_l9' is not a parameter"),
        ("no vocabulary", edit(lambda h: h["__metadata__"].pop("vocab")), "no 'vocab'"),
        ("vocabulary without specials", edit(lambda h: h["__metadata__"].update(
            vocab=json.dumps(["a"] + json.loads(h["__metadata__"]["vocab"])[1:]))), "special"),
        ("metadata not strings", edit(lambda h: h["__metadata__"].update(layers=2)), "not a string"),
        ("unknown tensor key", edit(lambda h: h[first].update(offsets=[0, 4])), "unknown key"),
        ("a NaN", nan_body(), "NaN"),
    ]
    for what, content, want in cases:
        path = os.path.join(b.tmp, "bad.safetensors")
        with open(path, "wb") as f:
            f.write(content)
        ck = os.path.join(b.tmp, "bad.ckpt")
        if os.path.exists(ck):
            os.remove(ck)
        r = run([exe, "import", path, "--ckpt", ck])
        msg = r.stderr.strip()
        ok = r.returncode in (1, 3) and want in msg and path in msg and not os.path.exists(ck)
        check(ok, f"malformed: {what}: exit {r.returncode}: {msg[:200]}")
    r = run([exe, "import", os.path.join(b.tmp, "no-such.safetensors"), "--ckpt", os.path.join(b.tmp, "x.ckpt")])
    check(r.returncode == 3 and "no-such.safetensors" in r.stderr, f"malformed: a missing file: exit {r.returncode}")
    r = run([exe, "export", os.path.join(b.tmp, "no-such.ckpt"), "-o", os.path.join(b.tmp, "x.st")])
    check(r.returncode in (1, 3) and "no-such.ckpt" in r.stderr, f"export of a missing checkpoint: exit {r.returncode}")
    r = run([exe, "export", good])
    check(r.returncode == 2 and "-o" in r.stderr, f"export without -o is a usage error: exit {r.returncode}")
    r = run([exe, "import"])
    check(r.returncode == 2, f"import without a file is a usage error: exit {r.returncode}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--source", required=True)
    p.add_argument("--rnnc", required=True)
    p.add_argument("--lib", required=True, help="librnnrt.a (float)")
    p.add_argument("--cc", default="cc")
    p.add_argument("--libs", default="")
    p.add_argument("--tool", required=True, help="tests/tools/st_logits.c")
    a = p.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmp:
        b = Builder(a, tmp)
        ids = [int(i) for i in rng.integers(0, 14, 12)]
        # torch -> rnnc
        torch_to_rnnc(b, "st_rnn", "language_model", "rnn_tanh", 8, 0, 1, False, ids, 14)
        torch_to_rnnc(b, "st_gru", "language_model", "gru", 8, 6, 2, False, ids, 14)
        torch_to_rnnc(b, "st_lstm", "language_model", "lstm", 8, 6, 2, False, ids, 14)
        torch_to_rnnc(b, "st_tagger", "labelling", "gru", 8, 6, 2, True, ids, 14, 3)
        torch_to_rnnc(b, "st_cls_mean", "classification", "lstm", 8, 6, 2, True, ids, 14, 3, "mean")
        torch_to_rnnc(b, "st_cls_last", "classification", "gru", 8, 6, 1, True, ids, 14, 4, "last")
        # rnnc -> torch
        text = os.path.join(tmp, "text.txt")
        with open(text, "w") as f:
            f.write(("the quick brown fox jumps over the lazy dog. " * 40))
        tags = os.path.join(tmp, "tags.tsv")
        with open(tags, "w") as f:
            for k in range(60):
                for ch in "abcabcba"[k % 3:]:
                    f.write(f"{ch}\t{'V' if ch in 'a' else 'C'}\n")
                f.write("\n")
        lines = os.path.join(tmp, "lines.tsv")
        with open(lines, "w") as f:
            for k in range(80):
                f.write(("A\tabab" if k % 2 else "B\tbbab") + "ba"[k % 2] * (k % 5) + "\n")
        ids2 = [4, 5, 6, 7, 5, 4, 8, 9, 4, 5]
        got = rnnc_to_torch(b, "tr_lstm", "language_model", "lstm", 8, 6, 2, False, text, ids2)
        rnnc_to_torch(b, "tr_lstm_tied", "language_model", "lstm", 8, 8, 2, False, text, ids2, tie=True)
        rnnc_to_torch(b, "tr_rnn", "language_model", "rnn_tanh", 8, 0, 1, False, text, ids2)
        rnnc_to_torch(b, "tr_tagger", "labelling", "gru", 8, 6, 2, True, tags, [4, 5, 6, 4, 5])
        rnnc_to_torch(b, "tr_cls", "classification", "lstm", 8, 6, 1, True, lines, [4, 5, 4, 5, 5],
                      "mean")
        spec_names(b, text, ids2)
        if got:
            malformed(b, got[0], got[2])
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
