#!/usr/bin/python3
"""s2s_torch.py: the PyTorch reference for rnnc's seq2seq (issue #4).

Same data pipeline, model and recipe as specs/seq2seq*.yaml + librnnrt
(runtime/data/rnnrt_pairs.c, rnnrt_beam.c, rnnrt_bleu.c); the numbers it prints
are the bar rnnc's BLEU is compared with (rnnc >= torch - 0.5).
Runs with Debian's /usr/bin/python3 and torch 1.13, no other dependencies.

    /usr/bin/python3 bench/s2s_torch.py [--data ../shared/data/fra-eng-20k.txt]
        [--attn additive|dot|none] [--epochs N] [--threads 1] [--seed 1]
        [--dump DIR]            # write vocabularies + arrays, then exit

Data (identical to rnnrt_pairs.c; tests/s2s/check_data.sh compares the two):
  * the first --pairs lines (20,000) of a UTF-8 file of `English<TAB>French`
    lines; every line has exactly one tab and two non-empty sides.
  * preprocessing as d2l's preprocess_nmt, per side: U+202F and U+00A0 become
    ' ', the text is lowercased (str.lower()), and a ' ' is inserted before
    each of , . ! ? that is not preceded by ' ' (nor at the start of a side).
    (d2l looks at the character before in the text before lowercasing, by
    index, which is off by one after a character that lowercases to two,
    such as U+0130; here it is the lowercased text's previous character.)
  * tokens: split on ' ', empty strings dropped (d2l's MTFraEng._tokenize).
    Nothing else is a separator (U+2009 stays inside its token).
  * split: the first floor(0.9 n) pairs train, the last 10% are held out.
  * vocabularies, one per side, from the training pairs only: <unk>=0
    <pad>=1 <bos>=2 <eos>=3, then the tokens seen >= min_freq (2) times, by
    decreasing count, ties by UTF-8 byte order. A word spelled like a special
    token ("<eos>") is not added and encodes as <unk>.
  * arrays (d2l's build_array_nmt / truncate_pad): ids + <eos>, cut or
    padded with <pad> to num_steps; valid length = non-pad count
    = min(len + 1, num_steps). Decoder input = <bos> + label[:-1].

Model (d2l "Bahdanau attention", with the issue's input order):
  encoder: Embedding(Vs, E) -> GRU(E, H, L layers)
  decoder: state0 = the encoder's final state (all L layers);
    step t: query q = top-layer decoder state h_{t-1};
            additive: score_j = w_v . tanh(W_q q + W_k k_j)    (no biases)
            dot:      score_j = q . k_j / sqrt(H)
            keys = values = encoder outputs (top layer), positions
            j >= src_valid_len masked (score -1e6, as d2l), softmax;
            context c = sum_j a_j k_j
            none:     c = the encoder's final top-layer state, every step
            input x_t = [Embedding(y_{t-1}) ; c]  ->  GRU(E + H, H, L)
            logits = Linear(H, Vt)(top-layer output)
  GRU gates as torch.nn.GRU (n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).
  Init: every weight matrix xavier-uniform per gate block,
  U(+-sqrt(6 / (fan_in + fan_out))), biases 0, embeddings N(0, 1).
  The generated trainer (specs/seq2seq.yaml) differs in two ways, which
  flags here match: --init default (PyTorch's own U(+-1/sqrt(H)) for GRU
  and Linear weights and biases, rnnc's default init) and --packed (the
  encoder's state stops at each source's valid length, so its final state
  is the one after the last real token; rnnc's encoder does that).

Recipe (default; chosen to train in <= 10 minutes on one core):
  E = 64, H = 128, L = 2, no dropout, num_steps 10, batch 64 (the last,
  partial minibatch of an epoch is kept), Adam lr 0.005 (betas 0.9 0.999,
  eps 1e-8), gradient clipping at global norm 1.0, 12 epochs, shuffled each
  epoch (seeded). Loss: cross-entropy summed over non-pad label positions
  divided by their number (masked mean), teacher forcing. d2l uses dropout
  0.1; --dropout P applies it between GRU layers and to the attention
  weights, but the recipe has none, so rnnc's trainer needs no dropout.
  train_tok_s = label tokens (non-pad) per second of training steps
  (forward + backward + update; evaluation excluded).

Decoding (as rnnrt_beam.c): max_len = num_steps tokens including <eos>;
  <pad>, <bos> and <unk> are never emitted. Greedy = beam 1. Beam search of
  width k: per step every live hypothesis is extended by every allowed
  token; the best k - f candidates by total log-probability are kept (f =
  hypotheses finished so far; ties: lower parent slot, then lower token id);
  those ending in <eos> are finished and leave the beam for good; at max_len
  the live ones are finished as they are. The answer is the finished
  hypothesis with the best log P / len^alpha, alpha = 0.75 (d2l), len
  counting <eos> when emitted (ties: the earlier finished).

Toy task (tests/s2s/s2s_tool toy reverse 6000 10 3 8 1 > toy.txt: reverse
  3-8 one-letter words over 10 symbols): --data toy.txt --pairs 0
  --min-freq 1 --embed 32 --hidden 64 --layers 1 --lr 0.002 --epochs 12
  reaches 100% exact match on the 600 held-out pairs (greedy and beam 4).

BLEU on the held-out pairs: predictions (token strings, <eos> dropped)
  against the preprocessed reference tokens (not mapped to <unk>, not
  truncated): corpus BLEU-4 (Papineni, no smoothing, 0 when a precision is
  0, brevity penalty over total lengths) and the mean of d2l's per-sentence
  bleu(k=2).
Prints `RESULT bleu_greedy=.. bleu_beam4=.. train_tok_s=..` (BLEU x 100).
"""
import argparse
import collections
import math
import os
import sys
import time

import torch
from torch import nn

SPECIALS = ['<unk>', '<pad>', '<bos>', '<eos>']
UNK, PAD, BOS, EOS = 0, 1, 2, 3


# ---------------------------------------------------------------- data

def preprocess(side):
    text = side.replace('\u202f', ' ').replace('\xa0', ' ')
    low = text.lower()
    out = []
    for i, c in enumerate(low):
        if i > 0 and c in ',.!?' and low[i - 1] != ' ':
            out.append(' ')
        out.append(c)
    return ''.join(out)


def tokenize(side):
    return [t for t in preprocess(side).split(' ') if t]


def read_pairs(path, limit):
    src, tgt = [], []
    with open(path, encoding='utf-8', newline='\n') as f:
        for lineno, line in enumerate(f, 1):
            if limit and lineno > limit:
                break
            line = line.rstrip('\n')
            if line.endswith('\r'):
                line = line[:-1]
            parts = line.split('\t')
            if len(parts) != 2:
                sys.exit(f'{path}:{lineno}: error: expected exactly one tab')
            s, t = tokenize(parts[0]), tokenize(parts[1])
            if not s or not t:
                sys.exit(f'{path}:{lineno}: error: empty side')
            src.append(s)
            tgt.append(t)
    return src, tgt


class Vocab:
    def __init__(self, sentences, min_freq):
        counts = collections.Counter(t for s in sentences for t in s
                                     if t not in SPECIALS)
        kept = [(t, c) for t, c in counts.items() if c >= min_freq]
        kept.sort(key=lambda tc: (-tc[1], tc[0].encode('utf-8')))
        self.itos = SPECIALS + [t for t, _ in kept]
        self.counts = [0] * 4 + [c for _, c in kept]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, toks):
        return [UNK if t in SPECIALS else self.stoi.get(t, UNK) for t in toks]


def build_arrays(sents, vocab, T, is_tgt):
    rows, valid = [], []
    for s in sents:
        ids = (vocab.encode(s) + [EOS])[:T]
        valid.append(len(ids))
        rows.append(ids + [PAD] * (T - len(ids)))
    arr = torch.tensor(rows, dtype=torch.long)
    vl = torch.tensor(valid, dtype=torch.long)
    if not is_tgt:
        return arr, vl
    dec_in = torch.cat([torch.full((len(rows), 1), BOS), arr[:, :-1]], 1)
    return dec_in, arr, vl


# ---------------------------------------------------------------- model

def xavier_gates(w, gates):
    """xavier-uniform for each [out/gates, in] gate block of w."""
    rows = w.shape[0] // gates
    with torch.no_grad():
        for g in range(gates):
            nn.init.xavier_uniform_(w[g * rows:(g + 1) * rows])


def init_gru(gru):
    for name, p in gru.named_parameters():
        if name.startswith('weight'):
            xavier_gates(p, 3)
        else:
            nn.init.zeros_(p)


class Seq2Seq(nn.Module):
    def __init__(self, vs, vt, E, H, L, attn, dropout, init='xavier',
                 packed=False):
        super().__init__()
        self.H, self.attn, self.packed = H, attn, packed
        self.src_emb = nn.Embedding(vs, E)
        self.enc = nn.GRU(E, H, L, dropout=dropout)
        self.tgt_emb = nn.Embedding(vt, E)
        self.dec = nn.GRU(E + H, H, L, dropout=dropout)
        self.W_q = nn.Linear(H, H, bias=False)
        self.W_k = nn.Linear(H, H, bias=False)
        self.w_v = nn.Linear(H, 1, bias=False)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(H, vt)
        nn.init.normal_(self.src_emb.weight)
        nn.init.normal_(self.tgt_emb.weight)
        if init == 'default':
            # PyTorch's own: U(+-1/sqrt(H)) for the GRUs and every Linear
            # (fan_in H), which is rnnc's default init, so --init default
            # trains the same distribution as the generated trainer.
            return
        init_gru(self.enc)
        init_gru(self.dec)
        for lin in (self.W_q, self.W_k, self.w_v, self.out):
            nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(self.out.bias)

    def encode(self, src, src_valid):
        """src [B, T] -> state for decode_step."""
        if self.packed:
            # rnnc's encoder: the state stops at each source's valid length
            # (its final state is the one after the last real token)
            packed = nn.utils.rnn.pack_padded_sequence(
                self.src_emb(src.t()), src_valid.cpu(), enforce_sorted=False)
            out, h = self.enc(packed)
            enc_out, _ = nn.utils.rnn.pad_packed_sequence(
                out, total_length=src.shape[1])
        else:
            enc_out, h = self.enc(self.src_emb(src.t()))   # [T,B,H], [L,B,H]
        keys = enc_out.transpose(0, 1)                      # [B,T,H]
        kproj = self.W_k(keys) if self.attn == 'additive' else None
        T = src.shape[1]
        mask = torch.arange(T)[None, :] >= src_valid[:, None]  # [B,T]
        return dict(keys=keys, kproj=kproj, mask=mask, ctx0=h[-1]), h

    def context(self, enc, q):
        """q [B,H] -> context [B,H], weights [B,T]."""
        if self.attn == 'none':
            return enc['ctx0'], None
        if self.attn == 'additive':
            f = torch.tanh(self.W_q(q)[:, None, :] + enc['kproj'])
            scores = self.w_v(f).squeeze(-1)
        else:
            scores = torch.bmm(enc['keys'], q[:, :, None]).squeeze(-1)
            scores = scores / math.sqrt(self.H)
        scores = scores.masked_fill(enc['mask'], -1e6)
        a = torch.softmax(scores, dim=-1)
        c = torch.bmm(self.drop(a)[:, None, :], enc['keys']).squeeze(1)
        return c, a

    def decode_step(self, enc, h, y_prev):
        """h [L,B,H], y_prev [B] -> logits [B,V], h', weights."""
        c, a = self.context(enc, h[-1])
        x = torch.cat([self.tgt_emb(y_prev), c], -1)[None]
        o, h = self.dec(x, h)
        return self.out(o[0]), h, a

    def forward(self, src, src_valid, dec_in):
        enc, h = self.encode(src, src_valid)
        if self.attn == 'none':
            # context is fixed: one GRU call over all steps
            c = enc['ctx0'][None].expand(dec_in.shape[1], -1, -1)
            x = torch.cat([self.tgt_emb(dec_in.t()), c], -1)
            o, _ = self.dec(x, h)
            return self.out(o).transpose(0, 1)
        logits = []
        for t in range(dec_in.shape[1]):
            lg, h, _ = self.decode_step(enc, h, dec_in[:, t])
            logits.append(lg)
        return torch.stack(logits, 1)                       # [B,T,V]


def masked_loss(logits, label, valid):
    T = label.shape[1]
    mask = (torch.arange(T)[None, :] < valid[:, None]).float()
    ce = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                     label.reshape(-1), reduction='none')
    return (ce * mask.reshape(-1)).sum() / mask.sum()


# ---------------------------------------------------------------- decoding

@torch.no_grad()
def beam_search(model, src, src_valid, k, max_len, alpha):
    """Batch beam search; rows r = s * k + j. Returns lists of token ids."""
    n = src.shape[0]
    enc, h = model.encode(src, src_valid)
    rep = lambda x: x.repeat_interleave(k, 0)
    enc = {key: (rep(v) if v is not None else None) for key, v in enc.items()}
    h = h.repeat_interleave(k, 1)                          # [L, n*k, H]
    ninf = float('-inf')
    score = [[0.0] + [ninf] * (k - 1) for _ in range(n)]   # live beams
    live = [k] * n
    toks = [[[] for _ in range(k)] for _ in range(n)]
    done = [[] for _ in range(n)]                          # (norm, toks)
    prev = torch.full((n * k,), BOS, dtype=torch.long)
    for step in range(max_len):
        lg, h2, _ = model.decode_step(enc, h, prev)
        lp = torch.log_softmax(lg.double(), -1)
        lp[:, PAD] = ninf
        lp[:, BOS] = ninf
        lp[:, UNK] = ninf
        V = lp.shape[1]
        sc = torch.tensor(score, dtype=torch.float64).reshape(n * k, 1)
        cand = (sc + lp).reshape(n, k * V)
        order = torch.sort(-cand, dim=1, stable=True).indices[:, :k]
        order = order.tolist()
        cand_l = cand.gather(1, torch.tensor(order)).tolist()
        parent = list(range(n * k))
        new_prev = [EOS] * (n * k)
        for s in range(n):
            m, slot = k - len(done[s]), 0
            new_score = [ninf] * k
            new_toks = [[] for _ in range(k)]
            for rank in range(m):
                val = cand_l[s][rank]
                if val == ninf:
                    break
                b, tok = divmod(order[s][rank], V)
                seq = toks[s][b] + [tok]
                if tok == EOS:
                    done[s].append((val / len(seq) ** alpha, seq[:-1]))
                    continue
                new_score[slot], new_toks[slot] = val, seq
                parent[s * k + slot] = s * k + b
                new_prev[s * k + slot] = tok
                slot += 1
            live[s], score[s], toks[s] = slot, new_score, new_toks
        h = h2[:, parent]
        prev = torch.tensor(new_prev)
        if not any(live):
            break
    out = []
    for s in range(n):
        for j in range(live[s]):
            seq = toks[s][j]
            done[s].append((score[s][j] / len(seq) ** alpha, seq))
        best = done[s][0]
        for d in done[s][1:]:
            if d[0] > best[0]:
                best = d
        out.append(best[1])
    return out


# ---------------------------------------------------------------- BLEU

def ngrams(seq, n):
    return collections.Counter(tuple(seq[i:i + n])
                               for i in range(len(seq) - n + 1))


def corpus_bleu4(preds, refs):
    num, den = [0] * 4, [0] * 4
    c = r = 0
    for p, ref in zip(preds, refs):
        c += len(p)
        r += len(ref)
        for n in range(1, 5):
            pc, rc = ngrams(p, n), ngrams(ref, n)
            num[n - 1] += sum(min(v, rc[g]) for g, v in pc.items())
            den[n - 1] += max(0, len(p) - n + 1)
    if c == 0 or 0 in num:
        return 0.0
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return bp * math.exp(sum(math.log(num[i] / den[i]) for i in range(4)) / 4)


def bleu_d2l(pred, label, k=2):
    lp, ll = len(pred), len(label)
    if lp == 0:
        return 0.0
    score = math.exp(min(0, 1 - ll / lp))
    for n in range(1, k + 1):
        if lp < n:
            return 0.0
        subs = ngrams(label, n)
        matches = 0
        for i in range(lp - n + 1):
            g = tuple(pred[i:i + n])
            if subs[g] > 0:
                matches += 1
                subs[g] -= 1
        score *= math.pow(matches / (lp - n + 1), math.pow(0.5, n))
    return score


# ---------------------------------------------------------------- main

def dump(d, args, sv, tv, src, tgt, ntrain, arrays):
    os.makedirs(d, exist_ok=True)
    for name, v in (('src_vocab', sv), ('tgt_vocab', tv)):
        with open(os.path.join(d, name + '.tsv'), 'w', encoding='utf-8') as f:
            for t, c in zip(v.itos, v.counts):
                f.write(f'{t}\t{c}\n')
    for name, sents in (('src_tokens', src), ('tgt_tokens', tgt)):
        with open(os.path.join(d, name + '.txt'), 'w', encoding='utf-8') as f:
            for s in sents:
                f.write(' '.join(s) + '\n')
    s_arr, s_vl, d_in, lab, t_vl = arrays
    with open(os.path.join(d, 'arrays.txt'), 'w') as f:
        f.write(f'n {len(src)} ntrain {ntrain} T {args.num_steps}\n')
        for i in range(len(src)):
            f.write(' '.join(map(str, s_arr[i].tolist())) + f' | {s_vl[i]} | '
                    + ' '.join(map(str, d_in[i].tolist())) + ' | '
                    + ' '.join(map(str, lab[i].tolist())) + f' | {t_vl[i]}\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        '../../shared/data/fra-eng-20k.txt'))
    ap.add_argument('--pairs', type=int, default=20000, help='0 = all')
    ap.add_argument('--split', type=float, default=0.9)
    ap.add_argument('--min-freq', type=int, default=2)
    ap.add_argument('--num-steps', type=int, default=10)
    ap.add_argument('--attn', choices=['additive', 'dot', 'none'],
                    default='additive')
    ap.add_argument('--embed', type=int, default=64)
    ap.add_argument('--hidden', type=int, default=128)
    ap.add_argument('--layers', type=int, default=2)
    ap.add_argument('--dropout', type=float, default=0.0)
    ap.add_argument('--init', choices=['xavier', 'default'], default='xavier',
                    help="default: PyTorch's (and rnnc's) U(+-1/sqrt(H))")
    ap.add_argument('--packed', action='store_true',
                    help="encoder state stops at the source's valid length, "
                         "as rnnc's")
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=0.005)
    ap.add_argument('--clip', type=float, default=1.0)
    ap.add_argument('--epochs', type=int, default=12)
    ap.add_argument('--beam', type=int, default=4)
    ap.add_argument('--alpha', type=float, default=0.75)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--dump', metavar='DIR')
    ap.add_argument('--show', type=int, default=5,
                    help='held-out translations to print')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    src, tgt = read_pairs(args.data, args.pairs)
    n = len(src)
    ntrain = int(math.floor(n * args.split + 1e-9))
    sv = Vocab(src[:ntrain], args.min_freq)
    tv = Vocab(tgt[:ntrain], args.min_freq)
    s_arr, s_vl = build_arrays(src, sv, args.num_steps, False)
    d_in, lab, t_vl = build_arrays(tgt, tv, args.num_steps, True)
    print(f'pairs {n} train {ntrain} held-out {n - ntrain} '
          f'src_vocab {len(sv)} tgt_vocab {len(tv)}', flush=True)
    if args.dump:
        dump(args.dump, args, sv, tv, src, tgt, ntrain,
             (s_arr, s_vl, d_in, lab, t_vl))
        return

    model = Seq2Seq(len(sv), len(tv), args.embed, args.hidden, args.layers,
                    args.attn, args.dropout, args.init, args.packed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    tokens, seconds = 0, 0.0
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(ntrain, generator=gen)
        tot, cnt = 0.0, 0
        t0 = time.perf_counter()
        for i in range(0, ntrain, args.batch):
            idx = perm[i:i + args.batch]
            logits = model(s_arr[idx], s_vl[idx], d_in[idx])
            loss = masked_loss(logits, lab[idx], t_vl[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            ntok = int(t_vl[idx].sum())
            tot += float(loss) * ntok
            cnt += ntok
        dt = time.perf_counter() - t0
        seconds += dt
        tokens += cnt
        print(f'epoch {epoch + 1} loss {tot / cnt:.4f} '
              f'{cnt / dt:.0f} tok/s', flush=True)

    model.eval()
    held = range(ntrain, n)
    refs = [tgt[i] for i in held]
    res = {}
    for name, k in (('greedy', 1), (f'beam{args.beam}', args.beam)):
        t0 = time.perf_counter()
        preds = []
        for i in range(ntrain, n, 256):
            j = min(i + 256, n)
            out = beam_search(model, s_arr[i:j], s_vl[i:j], k,
                              args.num_steps, args.alpha)
            preds += [[tv.itos[t] for t in seq] for seq in out]
        dt = time.perf_counter() - t0
        res[name] = corpus_bleu4(preds, refs)
        d2l = sum(bleu_d2l(p, r) for p, r in zip(preds, refs)) / len(refs)
        exact = sum(p == r for p, r in zip(preds, refs)) / len(refs)
        print(f'{name}: corpus BLEU-4 {100 * res[name]:.2f}, mean d2l '
              f'bleu(k=2) {100 * d2l:.2f}, exact match {100 * exact:.2f}%, '
              f'{dt:.1f} s', flush=True)
        for i in range(args.show):
            print(f'  {" ".join(src[ntrain + i])} => {" ".join(preds[i])}'
                  f'   [{" ".join(refs[i])}]')
    print(f'RESULT bleu_greedy={100 * res["greedy"]:.2f} '
          f'bleu_beam{args.beam}={100 * res[f"beam{args.beam}"]:.2f} '
          f'train_tok_s={tokens / seconds:.0f}')


if __name__ == '__main__':
    main()
