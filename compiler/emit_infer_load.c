/*
 * emit_infer_load.c: the weight loader of a standalone file (`rnnc SPEC
 * --inference --weights CKPT --runtime-weights`, infer.h): instead of
 * compiling the parameters in, the file reads them at run time from a
 * checkpoint the trainer wrote, held in a byte buffer the caller passes
 * (the file does no I/O and allocates nothing): <name>_load(&w, bytes, len)
 * into the caller's <name>_weights (<NAME>_WEIGHTS_BYTES).
 *
 * The trainer's checkpoint rather than the exported .safetensors file:
 * every section of a checkpoint carries a CRC32 (of its name, length and
 * payload; the preamble its own), so a flipped byte anywhere is caught,
 * where a safetensors file has no checksum and a damaged weight would be
 * read as a number; and the checkpoint's header names the model, the spec's
 * hash, the task, the dimensions and every parameter's shape, which the
 * loader compares with the ones the file was compiled for (the shapes and
 * vocabulary of CKPT given to rnnc), as the trainer's reader does
 * (runtime/train/rnnrt_ckpt.c; the format: runtime/rnnrt.h, "checkpoints").
 * The vocabulary and the labels stay compiled in; the file's must be the
 * same tokens (a checkpoint of the same spec and data: a later or retrained
 * one). Every refusal is an error code (<name>_load_error names it); a
 * truncated, damaged or foreign buffer is never read out of bounds.
 */
#include "infer.h"

#include <ctype.h>
#include <string.h>

typedef struct {
    FILE *f;
    const char *P;
} Out;

static void o(Out *O, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void o(Out *O, int indent, const char *fmt, ...)
{
    for (int i = 0; i < indent; i++)
        fputs("    ", O->f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(O->f, fmt, ap);
    va_end(ap);
}

/* A C string literal of s (octal escapes: never run on). */
static void cstr(Out *O, const char *s)
{
    fputc('"', O->f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(O->f, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f || *p == '?')
            fprintf(O->f, "\\%03o", *p);
        else
            fputc(*p, O->f);
    }
    fputc('"', O->f);
}

static const char *upper(const char *s)
{
    char *u = arena_strdup(&perm, s);
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

static const char *task_name(const Spec *s)
{
    return s->task == TASK_LABELLING ? "labelling" : s->task == TASK_CLASSIFICATION ? "classification"
                                                                                      : "language_model";
}

void emit_infer_load_decls(FILE *f, const Model *m, const InferWeights *w)
{
    Out O = {f, m->spec->model};
    const char *P = O.P, *U = upper(P);
    o(&O, 0, "/* The parameters, read at run time by %s_load from a checkpoint of the\n"
             " * trainer (its bytes, which the caller reads or maps: no I/O here). */\n", P);
    o(&O, 0, "#define %s_PARAM_FLOATS %zu\n", U, w->total);
    o(&O, 0, "struct %s_weights {\n", P);
    o(&O, 1, "float p[%zu]; /* the parameter block, in the checkpoint's order */\n", w->total);
    o(&O, 0, "};\n");
    o(&O, 0, "#define %s_WEIGHTS_BYTES sizeof(%s_weights) /* the caller's memory for them */\n\n", U, P);
    o(&O, 0, "enum { /* what %s_load returns */\n", P);
    o(&O, 1, "%s_LOAD_OK = 0,\n", U);
    o(&O, 1, "%s_LOAD_BAD_ARG,         /* a NULL pointer */\n", U);
    o(&O, 1, "%s_LOAD_TRUNCATED,       /* the file ends inside a section */\n", U);
    o(&O, 1, "%s_LOAD_NOT_CHECKPOINT,  /* no RNNCCKPT preamble */\n", U);
    o(&O, 1, "%s_LOAD_FORMAT,          /* another format version, byte order or float size */\n", U);
    o(&O, 1, "%s_LOAD_CORRUPT,         /* a CRC32 does not match: damaged */\n", U);
    o(&O, 1, "%s_LOAD_MALFORMED,       /* CRCs right, contents not as the format says */\n", U);
    o(&O, 1, "%s_LOAD_OTHER_MODEL,     /* another model, task or version of the spec */\n", U);
    o(&O, 1, "%s_LOAD_DIMENSIONS,      /* other dimensions or parameter shapes */\n", U);
    o(&O, 1, "%s_LOAD_VOCABULARY,      /* other tokens or labels than compiled in */\n", U);
    o(&O, 1, "%s_LOAD_NOT_FINITE       /* a parameter is inf or NaN */\n", U);
    o(&O, 0, "};\n");
    o(&O, 0, "/* Checks the checkpoint in file[0 .. len) against the model this file was\n"
             " * compiled for and copies its parameters into *w. Returns 0 or an error\n"
             " * code (*w is then unusable). */\n");
    o(&O, 0, "int %s_load(%s_weights *w, const void *file, size_t len);\n", P, P);
    o(&O, 0, "/* The text of an error code. */\n");
    o(&O, 0, "const char *%s_load_error(int code);\n", P);
    o(&O, 0, "/* The weights s computes with (before %s_reset; until then, and with\n"
             " * NULL, it computes nothing). */\n", P);
    o(&O, 0, "void %s_attach(%s_infer *s, const %s_weights *w);\n\n", P, P, P);
}

/* The expected dimension values, as the trainer writes them. */
static void expect_dims(Out *O, const Model *m, const InferWeights *w)
{
    bool task = m->spec->task != TASK_LANGUAGE_MODEL;
    o(O, 1, "static const char *const dim_name[] = {\"V\", \"L\", \"S\", \"T\"};\n");
    o(O, 1, "static const uint64_t dim_value[] = {%d, %d, %d, %d};\n", w->V, task ? w->nlabels : 0, m->state_size,
      task ? w->T : 0);
    o(O, 1, "static const int dim_wanted[] = {1, %d, 1, %d};\n", task, task);
}

void emit_infer_load(FILE *f, const Model *m, const InferWeights *w)
{
    Out O = {f, m->spec->model};
    const char *P = O.P, *U = upper(P);
    bool labels = w->nlabels > 0;
    o(&O, 0, "/* ---- the loader: a checkpoint (runtime/rnnrt.h, \"checkpoints\"), native byte\n"
             " * order: a 32-byte preamble, then sections, each a 24-byte frame (name,\n"
             " * length, CRC32 of both and the payload) and its payload ---- */\n\n");
    o(&O, 0, "const char *%s_load_error(int code)\n{\n", P);
    static const char *const msg[] = {
        "ok", "a NULL pointer", "the checkpoint is truncated", "not a checkpoint (no RNNCCKPT preamble)",
        "another checkpoint format, byte order or float size", "the checkpoint is damaged (a CRC32 differs)",
        "the checkpoint is malformed", "a checkpoint of another model, task or version of the spec",
        "the checkpoint's dimensions or parameter shapes differ from the model's",
        "the checkpoint's vocabulary or labels differ from the ones compiled in",
        "a parameter in the checkpoint is not finite"};
    int nmsg = (int)(sizeof msg / sizeof *msg);
    o(&O, 1, "static const char *const text[%d] = {\n", nmsg);
    for (int i = 0; i < nmsg; i++)
        o(&O, 2, "\"%s\"%s\n", msg[i], i + 1 < nmsg ? "," : "");
    o(&O, 1, "};\n");
    o(&O, 1, "return code >= 0 && code < %d ? text[code] : \"unknown error\";\n}\n\n", nmsg);

    o(&O, 0, "/* CRC32 (IEEE, as zlib's crc32), a bit at a time: no table. */\n");
    o(&O, 0, "static uint32_t %s_crc32(uint32_t crc, const unsigned char *p, size_t n)\n{\n", P);
    o(&O, 1, "crc = ~crc;\n");
    o(&O, 1, "for (size_t i = 0; i < n; i++) {\n");
    o(&O, 2, "crc ^= p[i];\n");
    o(&O, 2, "for (int k = 0; k < 8; k++)\n");
    o(&O, 3, "crc = (crc >> 1) ^ (UINT32_C(0xEDB88320) & (0u - (crc & 1u)));\n");
    o(&O, 1, "}\n");
    o(&O, 1, "return ~crc;\n}\n\n");
    o(&O, 0, "/* A reader over one section's payload: reads past its end set bad. */\n");
    o(&O, 0, "typedef struct {\n    const unsigned char *p;\n    size_t n, pos;\n    int bad;\n} %s_reader;\n\n", P);
    o(&O, 0, "static uint64_t %s_get(%s_reader *r, int bytes)\n{\n", P, P);
    o(&O, 1, "if (r->bad || r->n - r->pos < (size_t)bytes) {\n");
    o(&O, 2, "r->bad = 1;\n");
    o(&O, 2, "return 0;\n");
    o(&O, 1, "}\n");
    o(&O, 1, "const unsigned char *q = r->p + r->pos;\n");
    o(&O, 1, "r->pos += (size_t)bytes;\n");
    o(&O, 1, "if (bytes == 4) {\n");
    o(&O, 2, "uint32_t v;\n");
    o(&O, 2, "unsigned char *b = (unsigned char *)&v;\n");
    o(&O, 2, "for (int k = 0; k < 4; k++)\n");
    o(&O, 3, "b[k] = q[k];\n");
    o(&O, 2, "return v;\n");
    o(&O, 1, "}\n");
    o(&O, 1, "uint64_t v;\n");
    o(&O, 1, "unsigned char *b = (unsigned char *)&v;\n");
    o(&O, 1, "for (int k = 0; k < 8; k++)\n");
    o(&O, 2, "b[k] = q[k];\n");
    o(&O, 1, "return v;\n}\n\n");
    o(&O, 0, "/* Reads a string (u32 length, bytes): 1 if it is s. */\n");
    o(&O, 0, "static int %s_str_is(%s_reader *r, const char *s)\n{\n", P, P);
    o(&O, 1, "uint64_t len = %s_get(r, 4);\n", P);
    o(&O, 1, "if (r->bad || r->n - r->pos < len) {\n");
    o(&O, 2, "r->bad = 1;\n");
    o(&O, 2, "return 0;\n");
    o(&O, 1, "}\n");
    o(&O, 1, "const unsigned char *q = r->p + r->pos;\n");
    o(&O, 1, "r->pos += (size_t)len;\n");
    o(&O, 1, "size_t k = 0;\n");
    o(&O, 1, "while (k < len && s[k] && (unsigned char)s[k] == q[k])\n");
    o(&O, 2, "k++;\n");
    o(&O, 1, "return k == len && !s[k];\n}\n\n");
    o(&O, 0, "/* A vocabulary section (u32 size, each token's string and i64 count):\n"
             " * 1 if its tokens are want[0 .. n). */\n");
    o(&O, 0, "static int %s_same_tokens(%s_reader *r, const char *const *want, int n)\n{\n", P, P);
    o(&O, 1, "int same = %s_get(r, 4) == (uint64_t)n;\n", P);
    o(&O, 1, "for (int i = 0; same && i < n; i++) {\n");
    o(&O, 2, "same = %s_str_is(r, want[i]);\n", P);
    o(&O, 2, "%s_get(r, 8);\n", P);
    o(&O, 1, "}\n");
    o(&O, 1, "return same && !r->bad && r->pos == r->n;\n}\n\n");

    o(&O, 0, "%s_NOLIB int %s_load(%s_weights *w, const void *file, size_t len)\n{\n", P, P, P);
    o(&O, 1, "const unsigned char *f = file;\n");
    o(&O, 1, "if (!w || !file)\n");
    o(&O, 2, "return %s_LOAD_BAD_ARG;\n", U);
    o(&O, 1, "%s_reader pre = {f, len < 32 ? len : 32, 0, 0};\n", P);
    o(&O, 1, "static const char magic[8] = {'R', 'N', 'N', 'C', 'C', 'K', 'P', 'T'};\n");
    o(&O, 1, "for (size_t k = 0; k < 8; k++)\n");
    o(&O, 2, "if (k >= len || f[k] != (unsigned char)magic[k])\n");
    o(&O, 3, "return k >= len && k > 0 ? %s_LOAD_TRUNCATED : %s_LOAD_NOT_CHECKPOINT;\n", U, U);
    o(&O, 1, "if (len < 32)\n");
    o(&O, 2, "return %s_LOAD_TRUNCATED;\n", U);
    o(&O, 1, "pre.pos = 8;\n");
    o(&O, 1, "uint64_t version = %s_get(&pre, 4), order = %s_get(&pre, 4), real = %s_get(&pre, 4);\n", P, P, P);
    o(&O, 1, "uint64_t nsec = %s_get(&pre, 4), zero = %s_get(&pre, 4), crc = %s_get(&pre, 4);\n", P, P, P);
    o(&O, 1, "if (%s_crc32(0, f, 28) != crc)\n", P);
    o(&O, 2, "return %s_LOAD_CORRUPT;\n", U);
    o(&O, 1, "if (version != 1 || order != UINT32_C(0x01020304) || real != sizeof(float))\n");
    o(&O, 2, "return %s_LOAD_FORMAT;\n", U);
    o(&O, 1, "if (nsec < 1 || nsec > 15 || zero != 0)\n");
    o(&O, 2, "return %s_LOAD_MALFORMED;\n", U);
    o(&O, 1, "/* the sections: every CRC first, then what they hold */\n");
    o(&O, 1, "%s_reader header = {0}, params = {0}, vocab = {0}, labels = {0};\n", P);
    o(&O, 1, "int have_params = 0, have_vocab = 0, have_labels = 0;\n");
    o(&O, 1, "size_t pos = 32;\n");
    o(&O, 1, "for (uint64_t i = 0; i < nsec; i++) {\n");
    o(&O, 2, "if (len - pos < 24)\n");
    o(&O, 3, "return %s_LOAD_TRUNCATED;\n", U);
    o(&O, 2, "%s_reader fr = {f + pos, 24, 8, 0};\n", P);
    o(&O, 2, "uint64_t n = %s_get(&fr, 8), c = %s_get(&fr, 4);\n", P, P);
    o(&O, 2, "if (n > len - pos - 24)\n");
    o(&O, 3, "return %s_LOAD_TRUNCATED;\n", U);
    o(&O, 2, "if (%s_crc32(%s_crc32(0, f + pos, 16), f + pos + 24, (size_t)n) != c || %s_get(&fr, 4) != 0)\n", P,
      P, P);
    o(&O, 3, "return %s_LOAD_CORRUPT;\n", U);
    o(&O, 2, "%s_reader body = {f + pos + 24, (size_t)n, 0, 0};\n", P);
    o(&O, 2, "const unsigned char *name = f + pos;\n");
    o(&O, 2, "static const char names[4][8] = {\"header\", \"params\", \"vocab\", \"labels\"};\n");
    o(&O, 2, "int which = -1;\n");
    o(&O, 2, "for (int k = 0; k < 4 && which < 0; k++) {\n");
    o(&O, 3, "int same = 1;\n");
    o(&O, 3, "for (int j = 0; j < 8; j++)\n");
    o(&O, 4, "same &= name[j] == (unsigned char)names[k][j];\n");
    o(&O, 3, "which = same ? k : -1;\n");
    o(&O, 2, "}\n");
    o(&O, 2, "if ((i == 0) != (which == 0))\n");
    o(&O, 3, "return %s_LOAD_MALFORMED; /* the header comes first, once */\n", U);
    o(&O, 2, "if (which == 0)\n");
    o(&O, 3, "header = body;\n");
    o(&O, 2, "else if (which == 1)\n");
    o(&O, 3, "params = body, have_params = 1;\n");
    o(&O, 2, "else if (which == 2)\n");
    o(&O, 3, "vocab = body, have_vocab = 1;\n");
    o(&O, 2, "else if (which == 3)\n");
    o(&O, 3, "labels = body, have_labels = 1;\n");
    o(&O, 2, "pos += 24 + (size_t)n;\n");
    o(&O, 1, "}\n");
    o(&O, 1, "if (pos != len)\n");
    o(&O, 2, "return %s_LOAD_MALFORMED; /* bytes after the last section */\n", U);
    o(&O, 1, "/* the header: the model, the spec's hash, the task */\n");
    o(&O, 1, "int same = %s_str_is(&header, ", P);
    cstr(&O, m->spec->model);
    o(&O, 0, ");\n");
    o(&O, 1, "same &= %s_get(&header, 8) == UINT64_C(0x%016llx);\n", P, (unsigned long long)m->spec->hash);
    o(&O, 1, "same &= %s_str_is(&header, \"%s\");\n", P, task_name(m->spec));
    o(&O, 1, "if (header.bad)\n");
    o(&O, 2, "return %s_LOAD_MALFORMED;\n", U);
    o(&O, 1, "if (!same)\n");
    o(&O, 2, "return %s_LOAD_OTHER_MODEL;\n", U);
    o(&O, 1, "/* the dimensions: each the model's */\n");
    expect_dims(&O, m, w);
    o(&O, 1, "int seen[4] = {0, 0, 0, 0}, dims_ok = 1;\n");
    o(&O, 1, "uint64_t ndims = %s_get(&header, 4);\n", P);
    o(&O, 1, "for (uint64_t i = 0; i < ndims && !header.bad; i++) {\n");
    o(&O, 2, "size_t at = header.pos;\n");
    o(&O, 2, "int k = 0;\n");
    o(&O, 2, "while (k < 4 && (header.pos = at, !%s_str_is(&header, dim_name[k])))\n", P);
    o(&O, 3, "k++;\n");
    o(&O, 2, "if (k == 4) { /* a dimension the model does not have */\n");
    o(&O, 3, "header.pos = at;\n");
    o(&O, 3, "%s_str_is(&header, \"\");\n", P);
    o(&O, 3, "dims_ok = 0;\n");
    o(&O, 3, "%s_get(&header, 8);\n", P);
    o(&O, 3, "continue;\n");
    o(&O, 2, "}\n");
    o(&O, 2, "dims_ok &= %s_get(&header, 8) == dim_value[k] && dim_wanted[k] && !seen[k];\n", P);
    o(&O, 2, "seen[k] = 1;\n");
    o(&O, 1, "}\n");
    o(&O, 1, "for (int k = 0; k < 4; k++)\n");
    o(&O, 2, "dims_ok &= seen[k] == dim_wanted[k];\n");
    o(&O, 1, "/* every parameter's name and shape, in order */\n");
    o(&O, 1, "static const char *const param_name[%d] = {\n", m->nparams);
    for (int i = 0; i < m->nparams; i++) {
        o(&O, 2, "%s", "");
        cstr(&O, m->params[i].name);
        o(&O, 0, "%s\n", i + 1 < m->nparams ? "," : "");
    }
    o(&O, 1, "};\n");
    o(&O, 1, "static const uint32_t param_shape[%d][3] = {\n", m->nparams);
    for (int i = 0; i < m->nparams; i++) {
        Shape s = m->params[i].shape;
        int d[2] = {1, 1};
        for (int k = 0; k < s.ndim && k < 2; k++)
            d[k] = s.d[k] == DIM_V ? w->V : s.d[k] == DIM_L ? w->nlabels : s.d[k];
        o(&O, 2, "{%d, %d, %d}%s\n", s.ndim, d[0], d[1], i + 1 < m->nparams ? "," : "");
    }
    o(&O, 1, "};\n");
    o(&O, 1, "dims_ok &= %s_get(&header, 4) == %d;\n", P, m->nparams);
    o(&O, 1, "for (int i = 0; i < %d && dims_ok && !header.bad; i++) {\n", m->nparams);
    o(&O, 2, "dims_ok &= %s_str_is(&header, param_name[i]);\n", P);
    o(&O, 2, "for (int k = 0; k < 3; k++)\n");
    o(&O, 3, "dims_ok &= %s_get(&header, 4) == param_shape[i][k];\n", P);
    o(&O, 1, "}\n");
    o(&O, 1, "if (header.bad)\n");
    o(&O, 2, "return %s_LOAD_MALFORMED;\n", U);
    o(&O, 1, "if (!dims_ok || header.pos != header.n)\n");
    o(&O, 2, "return %s_LOAD_DIMENSIONS;\n", U);
    o(&O, 1, "/* the tokens: the ones compiled in */\n");
    o(&O, 1, "if (!have_params || !have_vocab%s)\n", labels ? " || !have_labels" : "");
    o(&O, 2, "return %s_LOAD_MALFORMED;\n", U);
    o(&O, 1, "if (!%s_same_tokens(&vocab, %s_vocab, %d))\n", P, P, w->ntokens);
    o(&O, 2, "return %s_LOAD_VOCABULARY;\n", U);
    if (labels) {
        o(&O, 1, "if (!%s_same_tokens(&labels, %s_labels, %d))\n", P, P, w->nlabels);
        o(&O, 2, "return %s_LOAD_VOCABULARY;\n", U);
    } else
        o(&O, 1, "(void)labels, (void)have_labels;\n");
    o(&O, 1, "/* the parameters */\n");
    o(&O, 1, "if (params.n != sizeof w->p)\n");
    o(&O, 2, "return %s_LOAD_MALFORMED;\n", U);
    o(&O, 1, "unsigned char *to = (unsigned char *)w->p;\n");
    o(&O, 1, "for (size_t i = 0; i < params.n; i++)\n");
    o(&O, 2, "to[i] = params.p[i];\n");
    o(&O, 1, "for (size_t i = 0; i < %zu; i++) {\n", w->total);
    o(&O, 2, "const float v = w->p[i];\n");
    o(&O, 2, "if (!(v - v == 0)) /* inf or NaN */\n");
    o(&O, 3, "return %s_LOAD_NOT_FINITE;\n", U);
    o(&O, 1, "}\n");
    o(&O, 1, "return %s_LOAD_OK;\n}\n\n", U);
    o(&O, 0, "void %s_attach(%s_infer *s, const %s_weights *w)\n{\n", P, P, P);
    o(&O, 1, "s->wt = w;\n}\n\n");
}
