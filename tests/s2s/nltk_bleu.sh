#!/bin/bash
# nltk_bleu.sh TOOL WORK: corpus BLEU-4 of librnnrt against nltk's
# corpus_bleu (Debian's python3-nltk; exit 77 = skipped when it is not
# installed). Every prediction has >= 4 tokens, where nltk and Papineni
# agree (nltk counts a denominator of 1 for shorter ones).
set -euo pipefail
tool=$1 work=$2
/usr/bin/python3 -c 'import nltk' 2>/dev/null || { echo "skip: python3-nltk is not installed"; exit 77; }
rm -rf "$work"; mkdir -p "$work"
want=$(/usr/bin/python3 - "$work" <<'PY'
import random, sys
from nltk.translate.bleu_score import corpus_bleu
random.seed(4)
words = 'le la un une chat chien est petit grand noir . !'.split()
preds, refs = [], []
for _ in range(300):
    ref = [random.choice(words) for _ in range(random.randint(4, 12))]
    pred = [w if random.random() < 0.7 else random.choice(words) for w in ref]
    pred = pred[:max(4, len(pred) - random.randint(0, 3))]
    preds.append(pred); refs.append(ref)
open(f'{sys.argv[1]}/pred.txt', 'w').write('\n'.join(' '.join(p) for p in preds) + '\n')
open(f'{sys.argv[1]}/ref.txt', 'w').write('\n'.join(' '.join(r) for r in refs) + '\n')
print('%.12f' % corpus_bleu([[r] for r in refs], preds))
PY
)
got=$("$tool" bleu "$work/pred.txt" "$work/ref.txt" | awk '{print $2}')
echo "nltk $want, rnnrt $got"
/usr/bin/python3 -c "import sys; sys.exit(abs($want - $got) > 1e-9)"
