/*
 * rnnc_plot.c: rnnc-plot, the training curves of a --metrics file as SVG.
 *
 *   rnnc-plot METRICS.jsonl [--out CURVE.svg] [--title TEXT]
 *
 * Reads the JSON lines every trainer writes with --metrics (README
 * "Training metrics"; runtime/train/rnnrt_trainlog.c) with Jansson, the
 * JSON library the runtime uses, and draws against the step:
 *   top     the training loss of the "train" records, the epoch's mean
 *           training loss and the validation loss of the "eval"/"epoch"
 *           records
 *   bottom  the validation metric of the "eval" records (val_ppl for a
 *           language model, val_acc for the task heads), when there is one
 * A line that is not a record is an error at path:line:col (exit 1); a
 * last line without its newline is one a running trainer is writing and
 * is left out. The SVG is written through rnnrt_out.h (atomically, or "-"
 * for standard output) with the runtime's SVG pieces (rnnrt_svg.h).
 */
#include "rnnrt.h"
#include "rnnrt_svg.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "rnnc-plot";

typedef struct {
    double *x, *y;
    size_t n, cap;
} Series;

enum { S_TRAIN, S_EPOCH, S_VAL_LOSS, S_METRIC, NSERIES };

typedef struct {
    Series s[NSERIES];
    char metric[64]; /* the eval records' val_metric */
    const char *title;
} Curves;

/* realloc, or exit 3 as rnnrt_xcalloc does */
static double *grow(double *p, size_t n)
{
    p = n <= SIZE_MAX / sizeof *p ? realloc(p, n * sizeof *p) : NULL;
    if (!p) {
        fprintf(stderr, "%s: error: out of memory for the curves\n", prog);
        exit(RNNRT_EXIT_IO);
    }
    return p;
}

static void add(Series *s, double x, double y)
{
    if (!isfinite(y))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->x = grow(s->x, s->cap);
        s->y = grow(s->y, s->cap);
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
}

/* key of o as a number: NAN when null or absent, -1 if another type. */
static int number(json_t *o, const char *key, double *out)
{
    json_t *v = json_object_get(o, key);
    *out = NAN;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return 0;
}

static int bad_line(RnnrtError *err, const char *path, size_t line,
                    const char *what)
{
    return rnnrt_error(err, RNNRT_EXIT_DATA, "%s:%zu:1: %s", path, line,
                       what);
}

/* One line: a record into c. */
static int read_record(Curves *c, const char *path, size_t line,
                       const char *s, size_t n, RnnrtError *err)
{
    json_error_t je;
    json_t *o = json_loadb(s, n, 0, &je);
    if (!o)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "%s:%zu:%d: %s", path, line,
                           je.column > 0 ? je.column : 1, je.text);
    int rc = 0;
    json_t *kind = json_object_get(o, "kind");
    json_t *step = json_object_get(o, "step");
    json_t *metric = json_object_get(o, "val_metric");
    double loss = NAN, val_loss = NAN, value = NAN;
    if (!json_is_object(o) || !json_is_string(kind))
        rc = bad_line(err, path, line, "not a --metrics record (an object "
                      "with a \"kind\")");
    else if (!json_is_integer(step) || json_integer_value(step) < 0)
        rc = bad_line(err, path, line, "\"step\" is not a count of steps");
    else if (number(o, "loss", &loss) || number(o, "val_loss", &val_loss) ||
             number(o, "val_value", &value))
        rc = bad_line(err, path, line, "\"loss\", \"val_loss\" or "
                      "\"val_value\" is not a number or null");
    else if (metric && !json_is_null(metric) && !json_is_string(metric))
        rc = bad_line(err, path, line, "\"val_metric\" is not a string");
    if (rc) {
        json_decref(o);
        return rc;
    }
    double x = (double)json_integer_value(step);
    const char *k = json_string_value(kind);
    if (strcmp(k, "train") == 0) {
        add(&c->s[S_TRAIN], x, loss);
    } else if (strcmp(k, "eval") == 0 || strcmp(k, "epoch") == 0) {
        add(&c->s[S_EPOCH], x, loss);
        add(&c->s[S_VAL_LOSS], x, val_loss);
        if (json_is_string(metric) && isfinite(value)) {
            add(&c->s[S_METRIC], x, value);
            snprintf(c->metric, sizeof c->metric, "%s",
                     json_string_value(metric));
        }
    } /* other kinds: a later writer's; not drawn */
    json_decref(o);
    return 0;
}

static int read_curves(Curves *c, const char *path, RnnrtError *err)
{
    char *data;
    size_t len;
    int rc = rnnrt_file_read(path, RNNRT_MAX_CORPUS_BYTES, &data, &len, err);
    if (rc)
        return rc;
    size_t line = 0, records = 0;
    for (size_t i = 0; i < len && !rc;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (data + i)) : len - i;
        line++;
        if (!nl) /* being written: left out */
            break;
        if (n > 0) {
            rc = read_record(c, path, line, data + i, n, err);
            records++;
        }
        i += n + 1;
    }
    free(data);
    if (!rc && records == 0)
        rc = rnnrt_error(err, RNNRT_EXIT_DATA, "%s: no records to draw (an "
                         "empty --metrics file?)", path);
    return rc;
}

/* ---- drawing ---- */

enum { WIDTH = 760, PANEL = 280, LEFT = 72, RIGHT = 190, TOP = 44,
       GAP = 56, FONT = 12 };

typedef struct {
    double lo, hi, step; /* the axis and its tick spacing */
} Axis;

/* A range with "nice" ticks (1, 2 or 5 times a power of ten). */
static Axis axis_of(double lo, double hi)
{
    if (!(hi > lo)) {
        double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        lo -= d;
        hi += d;
    }
    double rough = (hi - lo) / 5, mag = pow(10, floor(log10(rough)));
    double r = rough / mag;
    double step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
    Axis a = {floor(lo / step) * step, ceil(hi / step) * step, step};
    return a;
}

static void range(const Series *s, int n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            *lo = fmin(*lo, s[k].y[i]);
            *hi = fmax(*hi, s[k].y[i]);
        }
}

typedef struct {
    int top;     /* of the plot area */
    Axis x, y;
} Panel;

static double px(const Panel *p, double x)
{
    return LEFT + (x - p->x.lo) / (p->x.hi - p->x.lo) * (WIDTH - LEFT - RIGHT);
}

static double py(const Panel *p, double y)
{
    return p->top + PANEL - (y - p->y.lo) / (p->y.hi - p->y.lo) * PANEL;
}

static void draw_axes(FILE *f, const Panel *p, const char *ylabel)
{
    int right = WIDTH - RIGHT, bottom = p->top + PANEL;
    fprintf(f, "<g stroke=\"#ccc\" stroke-width=\"1\">\n");
    for (double v = p->y.lo; v <= p->y.hi + p->y.step / 2; v += p->y.step)
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n",
                LEFT, py(p, v), right, py(p, v));
    fprintf(f, "</g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
               "fill=\"none\" stroke=\"#333\"/>\n", LEFT, p->top, right - LEFT,
            PANEL);
    for (double v = p->y.lo; v <= p->y.hi + p->y.step / 2; v += p->y.step)
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.6g"
                   "</text>\n", LEFT - 6, py(p, v) + FONT / 3.0,
                fabs(v) < p->y.step * 1e-9 ? 0 : v);
    for (double v = p->x.lo; v <= p->x.hi + p->x.step / 2; v += p->x.step)
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.6g"
                   "</text>\n", px(p, v), bottom + FONT + 4, v);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step</text>\n",
            (LEFT + right) / 2, bottom + 2 * FONT + 10);
    fprintf(f, "<text transform=\"translate(%d,%d) rotate(-90)\" "
               "text-anchor=\"middle\">", 16, p->top + PANEL / 2);
    rnnrt_svg_text(f, ylabel);
    fputs("</text>\n", f);
}

static void draw_series(FILE *f, const Panel *p, const Series *s,
                        const char *color, const char *dash, int marks,
                        const char *label, int row)
{
    if (!s->n)
        return;
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s"
               " points=\"", color, dash);
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "%s%.2f,%.2f", i ? " " : "", px(p, s->x[i]), py(p, s->y[i]));
    fputs("\"/>\n", f);
    for (size_t i = 0; marks && i < s->n; i++)
        fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                px(p, s->x[i]), py(p, s->y[i]), color);
    int lx = WIDTH - RIGHT + 14, ly = p->top + 10 + row * (FONT + 8);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
               "stroke-width=\"2\"%s/>\n<text x=\"%d\" y=\"%d\">", lx, ly,
            lx + 22, ly, color, dash, lx + 28, ly + FONT / 3);
    rnnrt_svg_text(f, label);
    fputs("</text>\n", f);
}

static int write_svg(FILE *f, void *ctx)
{
    const Curves *c = ctx;
    const Series *s = c->s;
    int metric = s[S_METRIC].n > 0;
    int height = TOP + PANEL + GAP + (metric ? PANEL + GAP : 0);
    double xlo = 0, xhi = 1;
    for (int k = 0; k < NSERIES; k++)
        for (size_t i = 0; i < s[k].n; i++)
            xhi = fmax(xhi, s[k].x[i]);
    Panel top = {.top = TOP, .x = axis_of(xlo, xhi)};
    double lo, hi;
    range(s, S_METRIC, &lo, &hi);
    top.y = isfinite(lo) ? axis_of(lo, hi) : axis_of(0, 1);
    rnnrt_svg_begin(f, WIDTH, height, FONT);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">", LEFT, TOP - 16);
    rnnrt_svg_text(f, c->title);
    fputs("</text>\n", f);
    draw_axes(f, &top, "loss (per token)");
    draw_series(f, &top, &s[S_TRAIN], "#1f77b4", "", 0, "train loss", 0);
    draw_series(f, &top, &s[S_EPOCH], "#7f7f7f", " stroke-dasharray=\"4 3\"",
                1, "epoch mean train loss", 1);
    draw_series(f, &top, &s[S_VAL_LOSS], "#ff7f0e", "", 1, "validation loss",
                2);
    if (metric) {
        Panel bot = {.top = TOP + PANEL + GAP, .x = top.x};
        range(&s[S_METRIC], 1, &lo, &hi);
        bot.y = axis_of(lo, hi);
        draw_axes(f, &bot, c->metric);
        draw_series(f, &bot, &s[S_METRIC], "#2ca02c", "", 1, c->metric, 0);
    }
    return rnnrt_svg_end(f) ? (errno ? errno : EIO) : 0;
}

int main(int argc, char **argv)
{
    const char *out = "-", *title = NULL;
    const RnnrtOpt opts[] = {
        {"--out", RNNRT_OPT_STR, &out, "FILE", "the SVG (- = standard "
         "output; a file is replaced atomically)", 0, 0},
        {"--title", RNNRT_OPT_STR, &title, "TEXT", "the heading (default: "
         "the metrics file's path)", 0, 0},
        {0},
    };
    const char *summary = "Draws the training curves of a --metrics file "
                          "(JSON lines) as SVG: the losses and the\n"
                          "validation metric against the step.";
    if (argc < 2 || argv[1][0] == '-') {
        int help = argc >= 2 && (!strcmp(argv[1], "--help") ||
                                 !strcmp(argv[1], "-h"));
        if (!help)
            fprintf(stderr, "%s: error: no metrics file given\n", prog);
        rnnrt_cli_usage(help ? stdout : stderr, prog, "METRICS.jsonl",
                        summary, opts);
        return help ? 0 : RNNRT_EXIT_USAGE;
    }
    int rc = rnnrt_cli_parse(argc - 1, argv + 1, prog, summary, opts);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    Curves c = {.title = title ? title : argv[1]};
    RnnrtError err = {0};
    rc = read_curves(&c, argv[1], &err);
    if (!rc) {
        RnnrtSaveStage stage;
        int e = rnnrt_out_save(out, write_svg, &c, &stage);
        if (stage != RNNRT_SAVE_OK)
            rc = rnnrt_error(&err, RNNRT_EXIT_IO, "cannot write '%s': %s",
                             strcmp(out, "-") ? out : "standard output",
                             strerror(e ? e : EIO));
    }
    for (int k = 0; k < NSERIES; k++) {
        free(c.s[k].x);
        free(c.s[k].y);
    }
    return rnnrt_cli_report(rc, &err, prog, argv[1]);
}
