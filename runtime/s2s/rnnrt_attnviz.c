/*
 * rnnrt_attnviz.c: attention weights of translated sentences as CSV (for
 * tools) and as one SVG heatmap (for eyes). Formats are in rnnrt_s2s.h.
 *
 * Tokens are user text, so every one is escaped for its format: CSV quotes
 * fields holding , " CR or LF and doubles ", SVG escapes & < > " ' and
 * replaces control characters XML 1.0 forbids (rnnrt_svg.c). Weights are printed with
 * enough digits to read back to the same real. Files are written through
 * rnnrt_out.c (a symlink followed, a device written in place, a regular
 * file through "<target>.tmp" and a rename), so a failed write leaves
 * nothing half-done.
 */
#include "rnnrt_s2s.h"
#include "rnnrt_svg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef RNNRT_DOUBLE
#define WFMT "%.17g"
#else
#define WFMT "%.9g"
#endif

/* ---- CSV ---- */

static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int rnnrt_attn_write_csv(FILE *f, const RnnrtAttnMatrix *m, int count)
{
    for (int k = 0; k < count; k++) {
        const RnnrtAttnMatrix *a = &m[k];
        if (k > 0)
            fputc('\n', f);
        fprintf(f, "sentence %d", k + 1);
        for (int j = 0; j < a->ns; j++) {
            fputc(',', f);
            csv_field(f, a->src[j]);
        }
        fputc('\n', f);
        for (int i = 0; i < a->nt; i++) {
            csv_field(f, a->tgt[i]);
            for (int j = 0; j < a->ns; j++)
                fprintf(f, "," WFMT, (double)a->w[(size_t)i * (size_t)a->ns
                                                 + (size_t)j]);
            fputc('\n', f);
        }
    }
    return ferror(f) ? -1 : 0;
}

/* ---- SVG ---- */

enum { CELL = 28, CHAR_W = 8, FONT = 13, PAD = 12, TITLE = 22 };

static int widest(const char *const *tok, int n)
{
    int w = 0;
    for (int i = 0; i < n; i++) {
        int c = (int)rnnrt_utf8_count(tok[i], strlen(tok[i]));
        w = c > w ? c : w;
    }
    return w;
}

typedef struct {
    int left, top, width, height; /* margins and size of one block */
} Block;

static Block block_of(const RnnrtAttnMatrix *a)
{
    Block b;
    b.left = PAD + widest(a->tgt, a->nt) * CHAR_W + 8;
    b.top = TITLE + widest(a->src, a->ns) * CHAR_W + 8;
    b.width = b.left + a->ns * CELL + PAD;
    b.height = b.top + a->nt * CELL + PAD;
    return b;
}

/* White (0) to #08306b (1); NaN is grey. */
static void color(double w, int rgb[3])
{
    static const int dark[3] = {8, 48, 107};
    if (w != w) {
        rgb[0] = rgb[1] = rgb[2] = 160;
        return;
    }
    w = w < 0 ? 0 : w > 1 ? 1 : w;
    for (int c = 0; c < 3; c++)
        rgb[c] = (int)(255 - w * (255 - dark[c]) + 0.5);
}

static void svg_block(FILE *f, const RnnrtAttnMatrix *a, int k, int y0)
{
    Block b = block_of(a);
    fprintf(f, "<g transform=\"translate(0,%d)\">\n", y0);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">sentence %d"
               "</text>\n", PAD, TITLE - 6, k + 1);
    for (int j = 0; j < a->ns; j++) {
        int x = b.left + j * CELL + CELL / 2 + FONT / 3;
        fprintf(f, "<text transform=\"translate(%d,%d) rotate(-90)\">", x,
                b.top - 6);
        rnnrt_svg_text(f, a->src[j]);
        fputs("</text>\n", f);
    }
    for (int i = 0; i < a->nt; i++) {
        int y = b.top + i * CELL;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                b.left - 6, y + CELL / 2 + FONT / 3);
        rnnrt_svg_text(f, a->tgt[i]);
        fputs("</text>\n", f);
        for (int j = 0; j < a->ns; j++) {
            double w = (double)a->w[(size_t)i * (size_t)a->ns + (size_t)j];
            int rgb[3];
            color(w, rgb);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                       "fill=\"rgb(%d,%d,%d)\" stroke=\"#ddd\"><title>",
                    b.left + j * CELL, y, CELL, CELL, rgb[0], rgb[1], rgb[2]);
            rnnrt_svg_text(f, a->tgt[i]);
            fputs(" / ", f);
            rnnrt_svg_text(f, a->src[j]);
            fprintf(f, ": %.4f</title></rect>\n", w);
        }
    }
    fputs("</g>\n", f);
}

int rnnrt_attn_write_svg(FILE *f, const RnnrtAttnMatrix *m, int count)
{
    int width = 2 * PAD, height = PAD;
    for (int k = 0; k < count; k++) {
        Block b = block_of(&m[k]);
        width = b.width > width ? b.width : width;
        height += b.height;
    }
    rnnrt_svg_begin(f, width, height, FONT);
    int y = 0;
    for (int k = 0; k < count; k++) {
        svg_block(f, &m[k], k, y);
        y += block_of(&m[k]).height;
    }
    return rnnrt_svg_end(f);
}

/* ---- files ---- */

typedef struct {
    int svg;
    const RnnrtAttnMatrix *m;
    int count;
} Plot;

static int write_plot(FILE *f, void *ctx)
{
    const Plot *p = ctx;
    int bad = p->svg ? rnnrt_attn_write_svg(f, p->m, p->count)
                     : rnnrt_attn_write_csv(f, p->m, p->count);
    return bad ? (errno ? errno : EIO) : 0;
}

/* Both files are written before either is renamed into place (rnnrt_out.c:
 * "<target>.tmp", or in place for a device or FIFO), so a failure leaves
 * neither half-done. */
int rnnrt_attn_save(const char *csv_path, const char *svg_path,
                    const RnnrtAttnMatrix *m, int count, RnnrtError *err)
{
    const char *paths[2] = {csv_path, svg_path};
    RnnrtOut out[2];
    int rc = 0, open[2] = {0, 0};
    for (int i = 0; i < 2 && !rc; i++) {
        if (!paths[i])
            continue;
        int e = rnnrt_out_open(&out[i], paths[i]);
        open[i] = !e;
        if (!e)
            e = write_plot(out[i].f, &(Plot){i, m, count});
        if (!e)
            e = rnnrt_out_close(&out[i]);
        if (e)
            rc = rnnrt_error(err, RNNRT_EXIT_IO, "cannot write '%s': %s",
                             rnnrt_out_failed_path(&out[i]), strerror(e));
    }
    for (int i = 0; i < 2 && !rc; i++) {
        int e = open[i] ? rnnrt_out_commit(&out[i]) : 0;
        if (e)
            rc = rnnrt_error(err, RNNRT_EXIT_IO, "cannot write '%s': %s",
                             paths[i], strerror(e));
    }
    for (int i = 0; i < 2; i++)
        if (open[i])
            rnnrt_out_abort(&out[i]); /* after a commit: nothing left */
    return rc;
}
