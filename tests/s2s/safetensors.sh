#!/usr/bin/env bash
# safetensors.sh TRAINER S2S_TOOL WORKDIR: the seq2seq trainer's export and
# import (runtime/io/rnnrt_safetensors.c, the spec's parameter names). On
# toy pairs: exporting a checkpoint twice gives the same bytes; the file is
# safetensors as json reads it (every parameter, the two vocabularies and
# the recipe in __metadata__); import makes a checkpoint that translates and
# evaluates exactly as the original, exports to the same bytes and trains
# on with --resume --force; a cut file and a language model's are refused.
set -euo pipefail
E2E_NAME=s2s_safetensors
. "$(dirname -- "$0")/../e2e/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER S2S_TOOL WORKDIR" >&2; exit 2; }
trainer=$1 tool=$2 work=$3
fresh_dir "$work"
"$tool" toy reverse 300 8 3 6 1 >"$work/pairs.txt"
must "1 epoch" "$work/train.log" "$trainer" train "$work/pairs.txt" --epochs 1 --eval-max 0 --beam 1 \
    --ckpt "$work/a.ckpt"
must "export" "$work/x1.log" "$trainer" export "$work/a.ckpt" -o "$work/a.safetensors"
must "export again" "$work/x2.log" "$trainer" export --ckpt "$work/a.ckpt" --out "$work/b.safetensors"
cmp "$work/a.safetensors" "$work/b.safetensors" || fail "two exports of one checkpoint differ"
say "ok: the same checkpoint exports to the same $(wc -c <"$work/a.safetensors") bytes"

/usr/bin/python3 - "$work/a.safetensors" <<'PY' || fail "the file does not read as safetensors"
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
h = json.loads(data[8:8 + n])
meta = h.pop("__metadata__")
assert meta["task"] == "seq2seq" and meta["names"] == "spec", meta
src, tgt = json.loads(meta["src_vocab"]), json.loads(meta["tgt_vocab"])
assert src[:4] == tgt[:4] == ["<unk>", "<pad>", "<bos>", "<eos>"]
assert json.loads(meta["recipe"])["batch"] > 0
end = 0
for name, t in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    b, e = t["data_offsets"]
    size = 4 if t["dtype"] == "F32" else 8
    count = 1
    for d in t["shape"]:
        count *= d
    assert b == end and e - b == count * size, name
    end = e
assert end == len(data) - 8 - n
assert "embed_src" in h and "embed_tgt" in h
print(f"{len(h)} tensors, vocabularies {len(src)} and {len(tgt)}")
PY

must "import" "$work/import.log" "$trainer" import "$work/a.safetensors" --ckpt "$work/c.ckpt"
must "export the import" "$work/x3.log" "$trainer" export "$work/c.ckpt" -o "$work/c.safetensors"
cmp "$work/a.safetensors" "$work/c.safetensors" || fail "export(import(export)) differs"
cut -f1 "$work/pairs.txt" | head -20 >"$work/src.txt"
"$trainer" translate --model "$work/a.ckpt" <"$work/src.txt" >"$work/a.txt"
"$trainer" translate --model "$work/c.ckpt" <"$work/src.txt" >"$work/c.txt"
cmp "$work/a.txt" "$work/c.txt" || fail "the imported checkpoint translates differently"
must "eval a" "$work/ea.log" "$trainer" eval "$work/pairs.txt" --model "$work/a.ckpt" --eval-max 40
must "eval c" "$work/ec.log" "$trainer" eval "$work/pairs.txt" --model "$work/c.ckpt" --eval-max 40
[ "$(grep -v seconds "$work/ea.log")" = "$(grep -v seconds "$work/ec.log")" ] ||
    fail "eval differs: $(cat "$work/ea.log" "$work/ec.log")"
say "ok: import -> export gives the same bytes; translate and eval agree"
must "train on" "$work/resume.log" "$trainer" train "$work/pairs.txt" --epochs 1 --eval-max 0 --beam 1 \
    --ckpt "$work/c.ckpt" --resume --force --max-steps 2
say "ok: train --resume --force continues an imported checkpoint"

head -c 1000 "$work/a.safetensors" >"$work/cut.safetensors"
set +e
"$trainer" import "$work/cut.safetensors" --ckpt "$work/d.ckpt" 2>"$work/cut.err"
rc=$?
set -e
{ [ $rc -eq 3 ] || [ $rc -eq 1 ]; } && grep -q "cut.safetensors" "$work/cut.err" && [ ! -e "$work/d.ckpt" ] ||
    fail "a cut file: exit $rc, $(cat "$work/cut.err")"
printf '\x2a\x00\x00\x00\x00\x00\x00\x00{"__metadata__":{"task":"language_model"}}' >"$work/lm.safetensors"
set +e
"$trainer" import "$work/lm.safetensors" --ckpt "$work/d.ckpt" 2>"$work/lm.err"
rc=$?
set -e
[ $rc -eq 1 ] && grep -q "language_model" "$work/lm.err" || fail "another task's file: exit $rc, $(cat "$work/lm.err")"
say "ok: a cut file and a language model's are refused ($(cat "$work/cut.err"))"
