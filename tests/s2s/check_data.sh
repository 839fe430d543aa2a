#!/bin/bash
# check_data.sh TOOL REPO DATA WORK: librnnrt's seq2seq data path (through
# tests/s2s/s2s_tool) and bench/s2s_torch.py must see identical data: the
# same tokens, vocabularies (with counts), arrays, valid lengths and split
# on the first 20,000 pairs of fra-eng; and the same preprocessing of every
# character the C side lowercases (ASCII, Latin-1, Latin Extended-A,
# Cyrillic U+0400-U+042F) next to punctuation and the no-break spaces.
# Exit 77 (skipped) without the data or without /usr/bin/python3 + torch.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in bench/
tool=$1 repo=$2 data=$3 work=$4
[ -f "$data" ] || { echo "skip: $data not found"; exit 77; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "skip: no torch"; exit 77; }
rm -rf "$work"
mkdir -p "$work/c" "$work/py"

"$tool" dump "$data" "$work/c" 20000 10 2 | tee "$work/c.log"
/usr/bin/python3 "$repo/bench/s2s_torch.py" --data "$data" --pairs 20000 \
    --num-steps 10 --min-freq 2 --dump "$work/py" | tee "$work/py.log"
status=0
for f in src_vocab.tsv tgt_vocab.tsv src_tokens.txt tgt_tokens.txt arrays.txt; do
    if cmp -s "$work/c/$f" "$work/py/$f"; then
        echo "same: $f ($(wc -l < "$work/c/$f") lines)"
    else
        echo "DIFFERENT: $f"; diff "$work/c/$f" "$work/py/$f" | head -20 || true
        status=1
    fi
done
# token counts, side by side
for side in src tgt; do
    c=$(wc -w < "$work/c/${side}_tokens.txt"); p=$(wc -w < "$work/py/${side}_tokens.txt")
    echo "$side tokens: rnnrt $c, torch $p"
    [ "$c" = "$p" ] || status=1
done

# Preprocessing of single characters in context.
/usr/bin/python3 - "$work/chars.txt" <<'PY'
import sys
cps = list(range(0x21, 0x7f)) + list(range(0xa1, 0x180)) + list(range(0x400, 0x460))
with open(sys.argv[1], 'w', encoding='utf-8') as f:
    for c in cps:
        ch = chr(c)
        up = ch.upper()  # only where upper() stays in these blocks
        up = up if len(up) == 1 and ord(up) in cps else ch
        f.write(f'{ch}{up}x{ch}.\u202f!\xa0?y{ch}, {ch}\n')
PY
"$tool" preprocess < "$work/chars.txt" > "$work/chars.c"
/usr/bin/python3 - "$repo/bench" "$work/chars.txt" > "$work/chars.py" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from s2s_torch import preprocess
for line in open(sys.argv[2], encoding='utf-8'):
    print(preprocess(line.rstrip('\n')))
PY
if cmp -s "$work/chars.c" "$work/chars.py"; then
    echo "same: preprocessing of $(wc -l < "$work/chars.txt") character lines"
else
    echo "DIFFERENT: preprocessing"; diff "$work/chars.c" "$work/chars.py" | head -20 || true
    status=1
fi
# BLEU: the reference's Python BLEU and librnnrt's on the same random
# corpus (short predictions included), to 1e-12.
/usr/bin/python3 - "$repo/bench" "$work" > "$work/bleu.py" <<'PY'
import random, sys
sys.path.insert(0, sys.argv[1])
from s2s_torch import corpus_bleu4, bleu_d2l
random.seed(9)
words = 'le la un chat chien est petit noir . ! ?'.split()
P, R = [], []
for _ in range(500):
    r = [random.choice(words) for _ in range(random.randint(1, 12))]
    p = [w if random.random() < 0.6 else random.choice(words) for w in r]
    P.append(p[:random.randint(0, len(p))] if random.random() < 0.2 else p)
    R.append(r)
open(f'{sys.argv[2]}/pred.txt', 'w').write(''.join(' '.join(p) + '\n' for p in P))
open(f'{sys.argv[2]}/ref.txt', 'w').write(''.join(' '.join(r) + '\n' for r in R))
print('%.12f %.12f' % (corpus_bleu4(P, R), sum(bleu_d2l(p, r) for p, r in zip(P, R)) / len(P)))
PY
read -r pb pd < "$work/bleu.py"
read -r _ cb _ cd < <("$tool" bleu "$work/pred.txt" "$work/ref.txt")
echo "corpus BLEU-4: torch script $pb, rnnrt $cb; mean d2l bleu: $pd, $cd"
/usr/bin/python3 -c "import sys; sys.exit(abs($pb - $cb) > 1e-12 or abs($pd - $cd) > 1e-12)" || status=1
exit $status
