/*
 * test_check.c: check_dump, the `rnnc --check DUMP` comparison.
 *
 * The fixture lowers a small tanh RNN (no YAML), runs autodiff, and writes
 * the dump a correct trainer would write: the interpreter's own outputs on
 * random params and inputs, numbers with %.17g. Tests then edit that text
 * (a changed value, a missing or garbled line) and check the verdict and
 * the error message, which must name the dump and the line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph.h"

enum { B = 2, T = 3, V = 4, HIDDEN = 3 };

typedef struct {
    Model *m;
    char *text;          /* the correct dump */
    char path[64];       /* where the test writes its version */
    char *err;           /* what check_dump reported */
    size_t err_len;
} Fix;

static Model *lower_rnn(void)
{
    static const char *states[] = {"h"};
    Spec *s = arena_alloc(&perm, sizeof *s);
    s->path = "rnn.yaml";
    s->model = "rnn";
    s->hidden = HIDDEN;
    SpecCell *c = &s->cell;
    c->name = "rnn_tanh", c->input = "x", c->output = "h";
    c->state = states, c->nstate = 1;
    c->state_locs = arena_array(&perm, 1, sizeof(Loc));
    c->params = arena_array(&perm, 3, sizeof(SpecParam));
    c->nparams = 3;
    c->params[0] = (SpecParam){.name = "W_ih", .ndim = 2, .dims = {{"input", 0, {0}}, {"hidden", 0, {0}}}};
    c->params[1] = (SpecParam){.name = "W_hh", .ndim = 2, .dims = {{"hidden", 0, {0}}, {"hidden", 0, {0}}}};
    c->params[2] = (SpecParam){.name = "b", .ndim = 1, .dims = {{"hidden", 0, {0}}}};
    c->eqs = arena_array(&perm, 1, sizeof(SpecEq));
    c->neqs = 1;
    const char *eq = "tanh(x @ W_ih + h @ W_hh + b)";
    c->eqs[0] = (SpecEq){"h", loc_none(), expr_parse(&perm, eq, loc_none()), eq};
    Model *m = lower(&perm, s);
    assert_non_null(m);
    autodiff(&perm, m);
    return m;
}

static double rnd(uint64_t *r)
{
    *r ^= *r << 13, *r ^= *r >> 7, *r ^= *r << 17;
    return (double)(*r >> 11) / 9007199254740992.0;
}

static void put(FILE *f, const char *head, const double *v, size_t n)
{
    fprintf(f, "%s %zu", head, n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %.17g", v ? v[i] : 0.0);
    fputc('\n', f);
}

/* The dump a correct trainer writes: the interpreter's results. */
static char *make_dump(const Model *m)
{
    uint64_t r = 12345;
    static int32_t x[T * B], y[T * B];
    static double cs[T], st[B * HIDDEN];
    double **pv = test_calloc((size_t)m->nparams, sizeof(double *));
    size_t *pn = test_calloc((size_t)m->nparams, sizeof(size_t));
    for (int i = 0; i < m->nparams; i++) {
        assert_true(shape_numel(m->params[i].shape, B, T, V, 0, &pn[i]));
        pv[i] = test_calloc(pn[i], sizeof(double));
        for (size_t j = 0; j < pn[i]; j++)
            pv[i][j] = rnd(&r) - 0.5;
    }
    for (int i = 0; i < T * B; i++)
        x[i] = (int32_t)(rnd(&r) * V), y[i] = (int32_t)(rnd(&r) * V);
    for (int i = 0; i < T; i++)
        cs[i] = i == 1 ? 0 : 1;
    for (int i = 0; i < B * HIDDEN; i++)
        st[i] = rnd(&r) - 0.5;
    InterpEnv env = {B, T, V, pv, x, y, {st}, cs, 0, false, 0, NULL, NULL};
    Arena a = {0};
    InterpResult *res = interp_run(&a, m, &env);
    assert_non_null(res);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, "dims %d %d %d %d\n", B, T, V, HIDDEN);
    for (int i = 0; i < m->nparams; i++) {
        char head[64];
        snprintf(head, sizeof head, "param %s", m->params[i].name);
        put(f, head, pv[i], pn[i]);
    }
    fprintf(f, "x %d", T * B);
    for (int i = 0; i < T * B; i++)
        fprintf(f, " %d", x[i]);
    fprintf(f, "\ny %d", T * B);
    for (int i = 0; i < T * B; i++)
        fprintf(f, " %d", y[i]);
    fputc('\n', f);
    put(f, "state", st, B * HIDDEN);
    put(f, "carry_scale", cs, T);
    fprintf(f, "loss %.17g\n", res->val[m->loss->id][0]);
    put(f, "logits", res->val[m->logits->id], T * B * V);
    put(f, "state_out", res->val[m->state_out[0]->id], B * HIDDEN);
    for (int i = 0; i < m->nparams; i++) {
        char head[64];
        snprintf(head, sizeof head, "grad %s", m->params[i].name);
        put(f, head, m->grads[i] ? res->val[m->grads[i]->id] : NULL, pn[i]);
    }
    put(f, "dstate", m->dstate[0] ? res->val[m->dstate[0]->id] : NULL, B * HIDDEN);
    fclose(f);
    arena_free_all(&a);
    for (int i = 0; i < m->nparams; i++)
        test_free(pv[i]);
    test_free(pv);
    test_free(pn);
    return text;
}

static int setup(void **state)
{
    static Model *m;
    if (!m)
        m = lower_rnn();
    Fix *f = test_calloc(1, sizeof *f);
    f->m = m;
    f->text = make_dump(m);
    strcpy(f->path, "/tmp/rnnc_test_check_XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    close(fd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    unlink(f->path);
    free(f->text);
    free(f->err);
    test_free(f);
    return 0;
}

/* Writes `text` to the fixture's file and runs check_dump on it. */
static int check(Fix *f, const char *text)
{
    FILE *out = fopen(f->path, "w");
    assert_non_null(out);
    fputs(text, out);
    fclose(out);
    free(f->err);
    FILE *es = open_memstream(&f->err, &f->err_len);
    diag_set_stream(es);
    int rc = check_dump(f->m, f->path, 1e-9, 1e-12);
    diag_set_stream(NULL);
    fclose(es);
    return rc;
}

/* The reported error must be "PATH:LINE: error: ...what..." (line 0: any
 * line; NO_LINE: about the whole file, "PATH: error: ..."). */
enum { ANY_LINE = 0, NO_LINE = -1 };

static void expect_error(const Fix *f, int line, const char *what)
{
    char want[128];
    if (line > 0)
        snprintf(want, sizeof want, "%s:%d: error: ", f->path, line);
    else if (line == NO_LINE)
        snprintf(want, sizeof want, "%s: error: ", f->path);
    else
        snprintf(want, sizeof want, "%s:", f->path);
    if (strncmp(f->err, want, strlen(want)) != 0 || !strstr(f->err, "error: ") || !strstr(f->err, what)) {
        print_error("expected \"%s...%s\", got: %s\n", want, what, f->err);
        fail();
    }
}

/* A copy of text with the line starting with `prefix` replaced by
 * `line` (NULL: deleted). */
static char *edit_line(const char *text, const char *prefix, const char *line)
{
    const char *p = text;
    while (strncmp(p, prefix, strlen(prefix)) != 0) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    const char *eol = strchr(p, '\n');
    assert_non_null(eol);
    size_t n = strlen(text) + (line ? strlen(line) : 0) + 2;
    char *r = malloc(n);
    snprintf(r, n, "%.*s%s%s%s", (int)(p - text), text, line ? line : "", line ? "\n" : "", eol + 1);
    return r;
}

/* Replace the first value of the record starting with prefix by v. */
static char *edit_first_value(const char *text, const char *prefix, const char *v)
{
    const char *p = strstr(text, prefix);
    assert_non_null(p);
    const char *val = strchr(p + strlen(prefix) + 1, ' ') + 1; /* after the count */
    const char *end = strpbrk(val, " \n");
    size_t n = strlen(text) + strlen(v) + 1;
    char *r = malloc(n);
    snprintf(r, n, "%.*s%s%s", (int)(val - text), text, v, end);
    return r;
}

static void test_check_dump_own_output_agrees(void **state)
{
    Fix *f = *state;
    assert_int_equal(check(f, f->text), 0);
    assert_string_equal(f->err, "");
}

static void test_check_dump_changed_gradient_is_mismatch(void **state)
{
    Fix *f = *state;
    char *t = edit_first_value(f->text, "grad W_hh ", "0.125");
    assert_int_equal(check(f, t), 1);
    free(t);
}

static void test_check_dump_changed_loss_is_mismatch(void **state)
{
    Fix *f = *state;
    char *t = edit_line(f->text, "loss ", "loss 0.5");
    assert_int_equal(check(f, t), 1);
    free(t);
}

/* A different input gives a different interpreter run: every output then
 * disagrees with the recorded ones. */
static void test_check_dump_changed_input_is_mismatch(void **state)
{
    Fix *f = *state;
    char *t = edit_first_value(f->text, "carry_scale ", "0.5");
    assert_int_equal(check(f, t), 1); /* dstate differs */
    free(t);
}

static void test_check_dump_missing_file_is_io_error(void **state)
{
    Fix *f = *state;
    unlink(f->path);
    FILE *es = open_memstream(&f->err, &f->err_len);
    diag_set_stream(es);
    int rc = check_dump(f->m, f->path, 1e-9, 1e-12);
    diag_set_stream(NULL);
    fclose(es);
    assert_int_equal(rc, EXIT_IO);
    expect_error(f, NO_LINE, "cannot read the dump");
}

static void test_check_dump_dims_not_first_is_error(void **state)
{
    Fix *f = *state;
    char *t = edit_line(f->text, "dims ", NULL);
    assert_int_equal(check(f, t), 1);
    expect_error(f, 1, "'param' before 'dims'");
    free(t);
}

static void test_check_dump_wrong_state_size_is_error(void **state)
{
    Fix *f = *state;
    char *t = edit_line(f->text, "dims ", "dims 2 3 4 5");
    assert_int_equal(check(f, t), 1);
    expect_error(f, 1, "S = 5 but the model carries 3");
    free(t);
}

static void test_check_dump_param_out_of_order_is_error(void **state)
{
    Fix *f = *state;
    char *t = edit_line(f->text, "param W_ih ", NULL);
    assert_int_equal(check(f, t), 1);
    expect_error(f, 2, "'param' line 1 names 'W_hh', but the model's parameter 1 is 'W_ih'");
    free(t);
}

static void test_check_dump_count_disagrees_with_line_is_error(void **state)
{
    Fix *f = *state;
    char *t = edit_line(f->text, "carry_scale ", "carry_scale 3 1 1");
    assert_int_equal(check(f, t), 1);
    expect_error(f, ANY_LINE, "'carry_scale' says 3 values but the line has 2");
    free(t);
}

static void test_check_dump_count_disagrees_with_model_is_error(void **state)
{
    Fix *f = *state;
    char *t = edit_line(f->text, "carry_scale ", "carry_scale 2 1 1");
    assert_int_equal(check(f, t), 1);
    expect_error(f, ANY_LINE, "'carry_scale' needs 3 values");
    free(t);
}

static void test_check_dump_bad_token_id_is_error(void **state)
{
    Fix *f = *state;
    char *t = edit_first_value(f->text, "x ", "4");
    assert_int_equal(check(f, t), 1);
    expect_error(f, ANY_LINE, "'x' value 1 ('4') is not a token id in [0, V)");
    free(t);
}

static void test_check_dump_bad_number_is_error(void **state)
{
    Fix *f = *state;
    char *t = edit_first_value(f->text, "logits ", "1.5x");
    assert_int_equal(check(f, t), 1);
    expect_error(f, ANY_LINE, "'logits' value 1 ('1.5x') is not a number");
    free(t);
}

static void test_check_dump_unknown_record_suggests(void **state)
{
    Fix *f = *state;
    char *t = edit_line(f->text, "dstate ", "dstat 0");
    assert_int_equal(check(f, t), 1);
    expect_error(f, ANY_LINE, "unknown record 'dstat'; did you mean 'dstate'?");
    free(t);
}

/* "dropout SEED TRAIN": optional (this model has no dropout, so any seed
 * agrees), but checked like every other record. */
static void test_check_dump_dropout_record(void **state)
{
    Fix *f = *state;
    static const char *const bad[][2] = {
        {"dropout 12x 1", "'dropout' seed '12x' is not an unsigned 64-bit integer"},
        {"dropout -1 1", "'dropout' seed '-1' is not an unsigned 64-bit integer"},
        {"dropout 18446744073709551616 1", "is not an unsigned 64-bit integer"},
        {"dropout 7 2", "'dropout' train flag '2' is not 0 or 1"},
        {"dropout 7", "'dropout' needs 2 numbers: SEED TRAIN"},
        {"dropout 7 1\ndropout 7 1", "'dropout' appears twice"},
    };
    size_t n = strlen(f->text) + 64;
    char *t = malloc(n);
    snprintf(t, n, "%sdropout 18446744073709551615 1\n", f->text);
    assert_int_equal(check(f, t), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(t, n, "%s%s\n", f->text, bad[i][0]);
        assert_int_equal(check(f, t), 1);
        expect_error(f, ANY_LINE, bad[i][1]);
    }
    free(t);
}

static void test_check_dump_duplicate_record_is_error(void **state)
{
    Fix *f = *state;
    size_t n = strlen(f->text);
    char *t = malloc(n + 16);
    snprintf(t, n + 16, "%sloss 1\n", f->text);
    assert_int_equal(check(f, t), 1);
    expect_error(f, ANY_LINE, "'loss' appears twice");
    free(t);
}

static void test_check_dump_missing_record_is_error(void **state)
{
    Fix *f = *state;
    char *t = edit_line(f->text, "state_out ", NULL);
    assert_int_equal(check(f, t), 1);
    expect_error(f, NO_LINE, "no 'state_out' record");
    free(t);
}

static void test_check_dump_missing_grad_is_error(void **state)
{
    Fix *f = *state;
    char *t = edit_line(f->text, "grad b_out ", NULL);
    assert_int_equal(check(f, t), 1);
    expect_error(f, NO_LINE, "'grad' lines, the model has");
    free(t);
}

static void test_check_dump_truncated_line_is_error(void **state)
{
    Fix *f = *state;
    char *t = strdup(f->text);
    t[strlen(t) / 2] = 0; /* cut in the middle of a record */
    assert_int_equal(check(f, t), 1);
    assert_non_null(strstr(f->err, "error: "));
    free(t);
}

static void test_check_dump_huge_dims_is_error(void **state)
{
    Fix *f = *state;
    assert_int_equal(check(f, "dims 2147483647 2147483647 2147483647 3\nx 1 0\n"), 1);
    expect_error(f, 2, "too large");
}

static void test_check_dump_empty_file_is_error(void **state)
{
    Fix *f = *state;
    assert_int_equal(check(f, "\n\n"), 1);
    expect_error(f, NO_LINE, "no 'dims' record");
}

int main(void)
{
#define T_(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T_(test_check_dump_own_output_agrees),
        T_(test_check_dump_changed_gradient_is_mismatch),
        T_(test_check_dump_changed_loss_is_mismatch),
        T_(test_check_dump_changed_input_is_mismatch),
        T_(test_check_dump_missing_file_is_io_error),
        T_(test_check_dump_dims_not_first_is_error),
        T_(test_check_dump_wrong_state_size_is_error),
        T_(test_check_dump_param_out_of_order_is_error),
        T_(test_check_dump_count_disagrees_with_line_is_error),
        T_(test_check_dump_count_disagrees_with_model_is_error),
        T_(test_check_dump_bad_token_id_is_error),
        T_(test_check_dump_bad_number_is_error),
        T_(test_check_dump_unknown_record_suggests),
        T_(test_check_dump_dropout_record),
        T_(test_check_dump_duplicate_record_is_error),
        T_(test_check_dump_missing_record_is_error),
        T_(test_check_dump_missing_grad_is_error),
        T_(test_check_dump_truncated_line_is_error),
        T_(test_check_dump_huge_dims_is_error),
        T_(test_check_dump_empty_file_is_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
