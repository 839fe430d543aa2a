/*
 * rnnrt_s2s_ckpt.c: the seq2seq trainer's checkpoints.
 */
#include "rnnrt_s2s_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- checkpoints ----
 * rnnrt_ckpt.c's format, task "seq2seq": the header (dims V, Vt and the
 * block's total reals; every parameter's shape), "srcvocab" and
 * "tgtvocab", "params" (the block), "train" and "optim" (the cursor, step
 * and token counts, learning rate after halvings, the RNG now and at the
 * epoch's start, the corpus hash; the optimizer's moments) and "progress"
 * (the running epoch's loss sum and label tokens, so a resumed epoch
 * prints the same loss, and the training split's size). */

int rnnrt_s2s_ckpt_save(const char *path, const S2sParams *p, const RnnrtPairs *pairs, const S2sProgress *pr,
                     RnnrtError *err)
{
    RnnrtCkptWriter w;
    rnnrt_ckpt_begin(&w, "seq2seq", p->m->name, p->m->spec_hash);
    rnnrt_ckpt_put_dim(&w, "V", (uint64_t)p->V);
    rnnrt_ckpt_put_dim(&w, "Vt", (uint64_t)p->Vt);
    rnnrt_ckpt_put_dim(&w, "total", p->b.total);
    rnnrt_ckpt_put_params(&w, p->m->params, &p->b);
    rnnrt_ckpt_put_vocab(&w, "srcvocab", &pairs->src_vocab);
    rnnrt_ckpt_put_vocab(&w, "tgtvocab", &pairs->tgt_vocab);
    rnnrt_ckpt_put_state(&w, &pr->ts, p->b.total);
    RnnrtBuf *b = rnnrt_ckpt_add(&w, "progress");
    rnnrt_buf_put_f64(b, pr->epoch_loss);
    rnnrt_buf_put_i64(b, pr->epoch_ntok);
    rnnrt_buf_put_u64(b, pr->ntrain);
    return rnnrt_ckpt_write(&w, path, err);
}

static int get_progress(const RnnrtCkptFile *f, S2sProgress *pr, RnnrtError *err)
{
    RnnrtReader s;
    int rc = rnnrt_ckpt_section(f, "progress", &s, err);
    if (rc)
        return rc;
    pr->epoch_loss = rnnrt_reader_f64(&s);
    pr->epoch_ntok = rnnrt_reader_i64(&s);
    pr->ntrain = rnnrt_reader_u64(&s);
    if (s.bad || s.pos != s.n || pr->epoch_ntok < 0 || !isfinite(pr->epoch_loss))
        return rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is corrupt: section 'progress' is malformed", f->path);
    return 0;
}

/* Header, vocabularies and parameters (allocating p), then with pr the
 * training state. */
static int ckpt_parse(const RnnrtCkptFile *f, const RnnrtS2sModel *m, S2sParams *p, RnnrtVocab *sv, RnnrtVocab *tv,
                      S2sProgress *pr, RnnrtError *err)
{
    uint64_t V = 0, Vt = 0, total = 0;
    int rc = rnnrt_ckpt_check_model(f, "seq2seq", m->name, m->spec_hash, m->spec_path, err);
    if (!rc)
        rc = rnnrt_ckpt_get_dim(f, "V", &V, err);
    if (!rc)
        rc = rnnrt_ckpt_get_dim(f, "Vt", &Vt, err);
    if (!rc)
        rc = rnnrt_ckpt_get_dim(f, "total", &total, err);
    if (!rc)
        rc = rnnrt_ckpt_get_vocab(f, "srcvocab", 1, sv, err);
    if (!rc)
        rc = rnnrt_ckpt_get_vocab(f, "tgtvocab", 1, tv, err);
    if (!rc && ((uint64_t)sv->size != V || (uint64_t)tv->size != Vt))
        rc = rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is corrupt: the vocabularies disagree with the header", f->path);
    if (!rc)
        rc = rnnrt_s2s_vocab_check(sv, "source vocabulary", err);
    if (!rc)
        rc = rnnrt_s2s_vocab_check(tv, "target vocabulary", err);
    if (!rc)
        rc = rnnrt_s2s_params_init(p, m, sv->size, tv->size, NULL, err);
    if (rc)
        return rc;
    if (p->b.total != total) {
        rnnrt_s2s_params_free(p);
        return rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is corrupt: the parameter block has the wrong size", f->path);
    }
    rc = rnnrt_ckpt_get_params(f, m->params, &p->b, err);
    if (rc) {
        rnnrt_s2s_params_free(p);
        return rc;
    }
    if (!pr)
        return 0;
    rc = rnnrt_ckpt_get_state(f, 0, p->b.total, &pr->ts, err);
    if (!rc)
        rc = get_progress(f, pr, err);
    if (rc) {
        rnnrt_train_state_free(&pr->ts);
        rnnrt_s2s_params_free(p);
    }
    return rc;
}

/* Loads a checkpoint; pr NULL: parameters and vocabularies only. With pr
 * (a resume) a damaged file falls back to its previous generation, with a
 * warning. The caller frees the vocabularies whatever happens, and p and
 * pr only on success. */
int rnnrt_s2s_ckpt_read(const char *path, const RnnrtS2sModel *m, S2sParams *p, RnnrtVocab *sv, RnnrtVocab *tv,
                     S2sProgress *pr, RnnrtError *err)
{
    rnnrt_vocab_init(sv);
    rnnrt_vocab_init(tv);
    if (pr)
        memset(pr, 0, sizeof *pr);
    RnnrtCkptFile f;
    int rc = pr ? rnnrt_ckpt_open_latest(&f, path, err) : rnnrt_ckpt_open(&f, path, err);
    if (!rc) {
        rnnrt_vocab_free(sv);
        rnnrt_vocab_free(tv);
        rc = ckpt_parse(&f, m, p, sv, tv, pr, err);
    }
    if (!rc && f.warning[0] && rnnrt_mpi_rank() == 0) /* rank 0 alone prints */
        fprintf(stderr, "%s: warning: %s\n", m->name, f.warning);
    rnnrt_ckpt_close(&f);
    return rc;
}

int rnnrt_s2s_ckpt_load(const char *path, const RnnrtS2sModel *m, S2sParams *p, RnnrtVocab *sv, RnnrtVocab *tv,
                     RnnrtError *err)
{
    return rnnrt_s2s_ckpt_read(path, m, p, sv, tv, NULL, err);
}

/* A fresh run may replace a checkpoint of this model and spec, but not
 * another file (a checkpoint of another spec, a corpus given by mistake)
 * unless --force. */
int rnnrt_s2s_check_overwrite(const char *path, const RnnrtS2sModel *m, int force, RnnrtError *err)
{
    return force ? 0 : rnnrt_ckpt_check_overwrite(path, "seq2seq", m->name, m->spec_hash, m->spec_path, err);
}

/* The safetensors export's and import's side (rnnrt_s2s.h). */
int rnnrt_s2s_ckpt_weights(const char *path, const RnnrtS2sModel *m, RnnrtParams *p, RnnrtVocab *sv,
                           RnnrtVocab *tv, RnnrtError *err)
{
    S2sParams sp;
    int rc = rnnrt_s2s_ckpt_load(path, m, &sp, sv, tv, err);
    if (!rc)
        *p = sp.b;
    return rc;
}

int rnnrt_s2s_ckpt_from_weights(const char *path, const RnnrtS2sModel *m, const RnnrtParams *p, const RnnrtVocab *sv,
                                const RnnrtVocab *tv, const RnnrtTrainState *ts, RnnrtError *err)
{
    S2sParams sp = {.m = m, .V = sv->size, .Vt = tv->size, .b = *p};
    RnnrtPairs pairs;
    memset(&pairs, 0, sizeof pairs);
    pairs.src_vocab = *sv;
    pairs.tgt_vocab = *tv;
    S2sProgress pr;
    memset(&pr, 0, sizeof pr);
    pr.ts = *ts;
    return rnnrt_s2s_ckpt_save(path, &sp, &pairs, &pr, err);
}
