/*
 * test_spec.c: the spec reader (compiler/spec.c).
 *
 * specs/rnn.yaml must give the right AST values and Locs. The other tests
 * parse small variants of it from memory. Diagnostics are captured in a
 * memstream so positions and messages can be checked. The last test edits
 * the text at random (with a fixed seed) and checks that the reader never
 * crashes and returns NULL exactly when it reported an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

/* specs/rnn.yaml without comments after values; line numbers match. */
static const char rnn_yaml[] =
    "# Character-level language model with a tanh RNN cell (the d2l recipe).\n"
    "model: rnn\n"
    "task: language_model\n"
    "data:\n"
    "  tokens: char\n"
    "  normalize: letters\n"
    "  split: 0.9\n"
    "cell:\n"
    "  name: rnn_tanh\n"
    "  input: x\n"
    "  state: [h]\n"
    "  output: h\n"
    "  params:\n"
    "    W_ih: [input, hidden]\n"
    "    W_hh: [hidden, hidden]\n"
    "    b_ih: [hidden]\n"
    "    b_hh: [hidden]\n"
    "  equations:\n"
    "    h: tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)\n"
    "network:\n"
    "  input: one_hot\n"
    "  hidden: 256\n"
    "  output: linear\n"
    "train:\n"
    "  batch: 32\n"
    "  steps: 35\n"
    "  sampler: sequential\n"
    "  bptt: truncated\n"
    "  optimizer: sgd\n"
    "  lr: 1.0\n"
    "  clip_norm: 1.0\n"
    "  epochs: 20\n"
    "  seed: 0\n";

typedef struct {
    Arena arena;
    char *diag;
    size_t diag_len;
    FILE *diag_f;
} Fixture;

static int setup(void **state)
{
    Fixture *fx = calloc(1, sizeof *fx);
    fx->diag_f = open_memstream(&fx->diag, &fx->diag_len);
    diag_reset();
    diag_set_stream(fx->diag_f);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    Fixture *fx = *state;
    diag_set_stream(NULL);
    diag_reset();
    fclose(fx->diag_f);
    free(fx->diag);
    arena_free_all(&fx->arena);
    free(fx);
    return 0;
}

static const char *diags(Fixture *fx)
{
    fflush(fx->diag_f);
    return fx->diag ? fx->diag : "";
}

static void expect_diag(Fixture *fx, const char *want)
{
    if (!strstr(diags(fx), want))
        fail_msg("expected '%s' in:\n%s", want, diags(fx));
}

/* rnn_yaml with the first `old` replaced by `new` (in the fixture's arena). */
static const char *edit(Fixture *fx, const char *old, const char *new)
{
    const char *at = strstr(rnn_yaml, old);
    if (!at)
        fail_msg("'%s' is not in rnn_yaml", old);
    return arena_printf(&fx->arena, "%.*s%s%s", (int)(at - rnn_yaml), rnn_yaml, new,
                        at + strlen(old));
}

static Spec *parse(Fixture *fx, const char *text)
{
    return spec_parse(&fx->arena, "t.yaml", text, strlen(text));
}

/* Parsing must fail and print `want` (e.g. "t.yaml:22:11: error: ..."). */
static void expect_error(Fixture *fx, const char *text, const char *want)
{
    assert_null(parse(fx, text));
    assert_true(diag_error_count() > 0);
    expect_diag(fx, want);
}

static void assert_loc(Loc loc, int line, int col)
{
    if (loc.line != line || loc.col != col)
        fail_msg("expected %d:%d, got %d:%d", line, col, loc.line, loc.col);
}

static const char *print_expr(Fixture *fx, const Expr *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    expr_print(f, e);
    fclose(f);
    char *out = arena_strdup(&fx->arena, buf);
    free(buf);
    return out;
}

/* ---- specs/rnn.yaml ---- */

static void check_rnn_cell(Fixture *fx, const SpecCell *c)
{
    assert_string_equal(c->name, "rnn_tanh");
    assert_loc(c->loc, 9, 9);
    assert_string_equal(c->input, "x");
    assert_loc(c->input_loc, 10, 10);
    assert_int_equal(c->nstate, 1);
    assert_string_equal(c->state[0], "h");
    assert_loc(c->state_locs[0], 11, 11);
    assert_string_equal(c->output, "h");
    assert_loc(c->output_loc, 12, 11);

    assert_int_equal(c->nparams, 4);
    static const char *const names[] = {"W_ih", "W_hh", "b_ih", "b_hh"};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(c->params[i].name, names[i]);
        assert_loc(c->params[i].loc, 14 + i, 5);
        assert_int_equal(c->params[i].init, INIT_DEFAULT);
    }
    const SpecParam *w = &c->params[0];
    assert_int_equal(w->ndim, 2);
    assert_string_equal(w->dims[0].sym, "input");
    assert_loc(w->dims[0].loc, 14, 12);
    assert_string_equal(w->dims[1].sym, "hidden");
    assert_loc(w->dims[1].loc, 14, 19);
    assert_int_equal(c->params[3].ndim, 1);
    assert_string_equal(c->params[3].dims[0].sym, "hidden");

    assert_int_equal(c->neqs, 1);
    const SpecEq *eq = &c->eqs[0];
    assert_string_equal(eq->lhs, "h");
    assert_loc(eq->loc, 19, 5);
    assert_string_equal(eq->text, "tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)");
    assert_int_equal(eq->rhs->kind, EX_CALL);
    assert_loc(eq->rhs->loc, 19, 8);
    assert_string_equal(eq->rhs->loc.file, eq->loc.file);
    assert_string_equal(print_expr(fx, eq->rhs), "tanh((((x @ W_ih) + b_ih) + (h @ W_hh)) + b_hh)");
    /* the last '+', column 8 + 32 */
    assert_loc(eq->rhs->lhs->loc, 19, 40);
}

static void check_rnn_spec(Fixture *fx, const Spec *s)
{
    assert_string_equal(s->model, "rnn");
    assert_loc(s->model_loc, 2, 8);
    assert_string_equal(s->model_loc.file, s->path);
    assert_int_equal(s->task, TASK_LANGUAGE_MODEL);
    assert_loc(s->task_loc, 3, 7);

    assert_loc(s->data_loc, 4, 1);
    assert_int_equal(s->tokens, TOK_CHAR);
    assert_loc(s->tokens_loc, 5, 11);
    assert_int_equal(s->normalize, NORM_LETTERS);
    assert_true(s->split == 0.9);
    assert_loc(s->split_loc, 7, 10);

    check_rnn_cell(fx, &s->cell);

    assert_loc(s->network_loc, 20, 1);
    assert_int_equal(s->input, INPUT_ONE_HOT);
    assert_int_equal(s->embed_dim, 0);
    assert_loc(s->input_loc, 21, 10);
    assert_int_equal(s->hidden, 256);
    assert_loc(s->hidden_loc, 22, 11);

    assert_loc(s->train_loc, 24, 1);
    assert_int_equal(s->batch, 32);
    assert_loc(s->batch_loc, 25, 10);
    assert_int_equal(s->steps, 35);
    assert_loc(s->steps_loc, 26, 10);
    assert_int_equal(s->sampler, SAMPLER_SEQUENTIAL);
    assert_loc(s->sampler_loc, 27, 12);
    assert_int_equal(s->bptt, BPTT_TRUNCATED);
    assert_int_equal(s->bptt_k, 0);
    assert_loc(s->bptt_loc, 28, 9);
    assert_int_equal(s->optimizer, OPT_SGD);
    assert_true(s->lr == 1.0);
    assert_loc(s->lr_loc, 30, 7);
    assert_true(s->clip_norm == 1.0);
    assert_loc(s->clip_loc, 31, 14);
    assert_int_equal(s->epochs, 20);
    assert_loc(s->epochs_loc, 32, 11);
    assert_true(s->seed == 0);
}

static void test_spec_load_rnn_yaml_gives_the_ast(void **state)
{
    Fixture *fx = *state;
    const char *src = getenv("RNNC_SOURCE_DIR");
    if (!src)
        skip();
    const char *path = arena_printf(&fx->arena, "%s/specs/rnn.yaml", src);
    int code = -1;
    Spec *s = spec_load(&fx->arena, path, &code);
    if (!s)
        fail_msg("%s", diags(fx));
    assert_int_equal(code, EXIT_OK);
    assert_string_equal(s->path, path);
    assert_int_equal(diag_error_count(), 0);
    assert_true(s->hash == hash_fnv1a(s->text, s->text_len));
    check_rnn_spec(fx, s);
}

static void test_spec_parse_rnn_text_gives_the_ast(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, rnn_yaml);
    if (!s)
        fail_msg("%s", diags(fx));
    assert_string_equal(s->text, rnn_yaml);
    assert_int_equal(s->text_len, strlen(rnn_yaml));
    check_rnn_spec(fx, s);
}

/* ---- files ---- */

static void test_spec_load_missing_file_sets_exit_io(void **state)
{
    Fixture *fx = *state;
    int code = -1;
    assert_null(spec_load(&fx->arena, "/nonexistent/x.yaml", &code));
    assert_int_equal(code, EXIT_IO);
    expect_diag(fx, "/nonexistent/x.yaml: error: cannot read spec: No such file or directory");
}

static void test_spec_load_directory_sets_exit_io(void **state)
{
    Fixture *fx = *state;
    int code = -1;
    assert_null(spec_load(&fx->arena, "/", &code));
    assert_int_equal(code, EXIT_IO);
    expect_diag(fx, "/: error: cannot read spec: Is a directory");
}

static void test_spec_load_syntax_error_sets_exit_spec(void **state)
{
    Fixture *fx = *state;
    char path[] = "/tmp/test_spec_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("model: [\n", f);
    fclose(f);
    int code = -1;
    Spec *s = spec_load(&fx->arena, path, &code);
    remove(path);
    assert_null(s);
    assert_int_equal(code, EXIT_SPEC);
}

static void test_spec_parse_too_large_text_is_an_error(void **state)
{
    Fixture *fx = *state;
    size_t n = (1 << 20) + 1;
    char *big = malloc(n);
    memset(big, '#', n);
    assert_null(spec_parse(&fx->arena, "big.yaml", big, n));
    free(big);
    expect_diag(fx, "big.yaml: error: spec is too large");
}

/* ---- forms and defaults ---- */

static void test_spec_parse_defaults_when_keys_absent(void **state)
{
    Fixture *fx = *state;
    const char *text = edit(fx, "  normalize: letters\n  split: 0.9\n", "");
    text = arena_printf(&fx->arena, "%s", text);
    const char *cut[] = {"  output: linear\n", "  sampler: sequential\n", "  bptt: truncated\n",
                         "  clip_norm: 1.0\n", "  seed: 0\n"};
    for (int i = 0; i < 5; i++) {
        const char *at = strstr(text, cut[i]);
        assert_non_null(at);
        text = arena_printf(&fx->arena, "%.*s%s", (int)(at - text), text, at + strlen(cut[i]));
    }
    Spec *s = parse(fx, text);
    if (!s)
        fail_msg("%s", diags(fx));
    assert_int_equal(s->normalize, NORM_NONE);
    assert_true(s->split == 0.9);
    assert_int_equal(s->sampler, SAMPLER_SEQUENTIAL);
    assert_int_equal(s->bptt, BPTT_TRUNCATED);
    assert_int_equal(s->bptt_k, 0);
    assert_true(s->clip_norm == 0);
    assert_true(s->seed == 0);
    /* absent keys point at their section */
    assert_loc(s->split_loc, 4, 1);
    assert_loc(s->sampler_loc, s->train_loc.line, 1);
}

static void test_spec_parse_long_forms(void **state)
{
    Fixture *fx = *state;
    const char *text = edit(fx, "    b_hh: [hidden]\n",
                            "    b_hh: {shape: [hidden], init: zeros}\n"
                            "    U: {shape: [7, hidden], init: {uniform: 0.1}}\n"
                            "    V: {shape: [hidden], init: {normal: 2e-2}}\n");
    text = arena_printf(&fx->arena, "%s", text);
    const char *pairs[][2] = {
        {"  input: one_hot\n", "  input: {embed: 32}\n"},
        {"  bptt: truncated\n", "  bptt: {truncated: 5}\n"},
        {"  sampler: sequential\n", "  sampler: random\n"},
        {"  tokens: char\n", "  tokens: word\n"},
        {"  normalize: letters\n", "  normalize: lower\n"},
        {"  seed: 0\n", "  seed: 18446744073709551615\n"},
        {"  split: 0.9\n", "  split: .75\n"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        const char *at = strstr(text, pairs[i][0]);
        assert_non_null(at);
        text = arena_printf(&fx->arena, "%.*s%s%s", (int)(at - text), text, pairs[i][1],
                            at + strlen(pairs[i][0]));
    }
    Spec *s = parse(fx, text);
    if (!s)
        fail_msg("%s", diags(fx));
    assert_int_equal(s->input, INPUT_EMBED);
    assert_int_equal(s->embed_dim, 32);
    assert_int_equal(s->bptt, BPTT_TRUNCATED);
    assert_int_equal(s->bptt_k, 5);
    assert_int_equal(s->sampler, SAMPLER_RANDOM);
    assert_int_equal(s->tokens, TOK_WORD);
    assert_int_equal(s->normalize, NORM_LOWER);
    assert_true(s->seed == UINT64_MAX);
    assert_true(s->split == 0.75);
    assert_int_equal(s->cell.nparams, 6);
    const SpecParam *p = s->cell.params;
    assert_int_equal(p[3].init, INIT_ZEROS);
    assert_int_equal(p[4].init, INIT_UNIFORM);
    assert_true(p[4].init_arg == 0.1);
    assert_int_equal(p[4].ndim, 2);
    assert_null(p[4].dims[0].sym);
    assert_int_equal(p[4].dims[0].value, 7);
    assert_int_equal(p[5].init, INIT_NORMAL);
    assert_true(p[5].init_arg == 0.02);
}

static void test_spec_parse_bptt_full_and_randomized(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, edit(fx, "  bptt: truncated\n", "  bptt: full\n"));
    assert_non_null(s);
    assert_int_equal(s->bptt, BPTT_FULL);
    s = parse(fx, edit(fx, "  bptt: truncated\n", "  bptt: {randomized: 1}\n"));
    assert_non_null(s);
    assert_int_equal(s->bptt, BPTT_RANDOMIZED);
    assert_true(s->bptt_p == 1.0);
    expect_error(fx, edit(fx, "  bptt: truncated\n", "  bptt: randomized\n"),
                 "t.yaml:28:9: error: 'train.bptt' needs an argument: write {randomized: P}");
    expect_error(fx, edit(fx, "  bptt: truncated\n", "  bptt: {full: 3}\n"),
                 "t.yaml:28:9: error: 'train.bptt' takes no argument: write full");
    expect_error(fx, edit(fx, "  bptt: truncated\n", "  bptt: {truncated: 3, full: 1}\n"),
                 "t.yaml:28:24: error: 'train.bptt' takes a single key");
}

static void test_spec_parse_keeps_equation_order_and_text(void **state)
{
    Fixture *fx = *state;
    const char *text = edit(fx, "    h: tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)\n",
                            "    z: sigmoid(x @ W_ih + h @ W_hh)\n"
                            "    n: tanh(x @ W_ih + (z * h) @ W_hh + b_hh)\n"
                            "    h: z * h + (1 - z) * n\n");
    Spec *s = parse(fx, text);
    if (!s)
        fail_msg("%s", diags(fx));
    assert_int_equal(s->cell.neqs, 3);
    assert_string_equal(s->cell.eqs[0].lhs, "z");
    assert_string_equal(s->cell.eqs[1].lhs, "n");
    assert_string_equal(s->cell.eqs[2].lhs, "h");
    assert_string_equal(s->cell.eqs[2].text, "z * h + (1 - z) * n");
    assert_loc(s->cell.eqs[2].loc, 21, 5);
    assert_string_equal(print_expr(fx, s->cell.eqs[2].rhs), "((z * h) + ((1 - z) * n))");
}

static void test_spec_parse_quoted_equation_columns_skip_the_quote(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, edit(fx, "h: tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)",
                             "h: \"tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)\""));
    assert_non_null(s);
    assert_loc(s->cell.eqs[0].rhs->loc, 19, 9);
    s = parse(fx, edit(fx, "h: tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)",
                       "h:   'tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)'"));
    assert_non_null(s);
    assert_loc(s->cell.eqs[0].rhs->loc, 19, 11);
    expect_error(fx, edit(fx, "h: tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)", "h: 'tanh(x $ W_ih)'"),
                 "t.yaml:19:16: error: unexpected character '$'");
}

static void test_spec_parse_crlf_line_endings(void **state)
{
    Fixture *fx = *state;
    size_t n = strlen(rnn_yaml);
    char *crlf = arena_alloc(&fx->arena, 2 * n + 1), *q = crlf;
    for (const char *p = rnn_yaml; *p; p++) {
        if (*p == '\n')
            *q++ = '\r';
        *q++ = *p;
    }
    Spec *s = parse(fx, crlf);
    if (!s)
        fail_msg("%s", diags(fx));
    check_rnn_spec(fx, s);
}

static void test_spec_parse_utf8_bom_is_skipped(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, arena_printf(&fx->arena, "\xef\xbb\xbf%s", rnn_yaml));
    if (!s)
        fail_msg("%s", diags(fx));
    check_rnn_spec(fx, s);
}

static void test_spec_parse_columns_count_bytes_after_non_ascii(void **state)
{
    Fixture *fx = *state;
    /* "é" is two bytes, libyaml counts it as one character */
    const char *data = "data:\n  tokens: char\n  normalize: letters\n  split: 0.9\n";
    expect_error(fx, edit(fx, data, "data: {\"\xc3\xa9\": 1,\n  tokens: char,\n  fo: 1}\n"),
                 "t.yaml:4:8: error: unknown key '\?\?' in 'data'");
    expect_diag(fx, "t.yaml:6:3: error: unknown key 'fo' in 'data'");
    diag_reset();
    const char *text = edit(fx, data, "data: {\"\xc3\xa9\": 1, tokens: chr}\n");
    expect_error(fx, text, "t.yaml:4:25: error: unknown value 'chr' for 'data.tokens'");
}

/* ---- errors that the corpus also covers, checked here for details ---- */

static void test_spec_parse_unknown_key_suggests_and_lists(void **state)
{
    Fixture *fx = *state;
    expect_error(fx, edit(fx, "  hidden: 256\n", "  hiden: 256\n"),
                 "t.yaml:22:3: error: unknown key 'hiden' in 'network'; did you mean 'hidden'?");
    expect_diag(fx, "t.yaml: note: valid keys are: input, hidden, output");
    expect_diag(fx, "t.yaml:20:1: error: missing required key 'hidden' in 'network'");
    assert_int_equal(diag_error_count(), 2);
}

static void test_spec_parse_unknown_key_far_from_all_gets_no_suggestion(void **state)
{
    Fixture *fx = *state;
    expect_error(fx, edit(fx, "  seed: 0\n", "  seed: 0\n  momentum: 0.9\n"),
                 "t.yaml:34:3: error: unknown key 'momentum' in 'train'\n");
}

static void test_spec_parse_reports_every_schema_error(void **state)
{
    Fixture *fx = *state;
    const char *text = edit(fx, "  batch: 32\n  steps: 35\n", "  batch: 0\n  steps: x\n");
    text = arena_printf(&fx->arena, "%s", text);
    const char *at = strstr(text, "model: rnn");
    text = arena_printf(&fx->arena, "%.*smodel: 9%s", (int)(at - text), text, at + 10);
    expect_error(fx, text, "t.yaml:2:8: error: 'model' must be an identifier");
    expect_diag(fx, "t.yaml:25:10: error: 'train.batch' must be between 1 and 65536, found 0");
    expect_diag(fx, "t.yaml:26:10: error: 'train.steps' must be a plain decimal integer, found 'x'");
    assert_int_equal(diag_error_count(), 3);
}

static void test_spec_parse_duplicate_key_notes_the_first(void **state)
{
    Fixture *fx = *state;
    expect_error(fx, edit(fx, "    b_hh: [hidden]\n", "    b_hh: [hidden]\n    W_ih: [hidden]\n"),
                 "t.yaml:18:5: error: duplicate key 'W_ih'");
    expect_diag(fx, "t.yaml:14:5: note: 'W_ih' was first set here");
}

static void test_spec_parse_int_range_ends(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, edit(fx, "  hidden: 256\n", "  hidden: 65536\n"));
    assert_non_null(s);
    assert_int_equal(s->hidden, 65536);
    expect_error(fx, edit(fx, "  hidden: 256\n", "  hidden: 65537\n"),
                 "t.yaml:22:11: error: 'network.hidden' must be between 1 and 65536, found 65537");
    expect_error(fx, edit(fx, "  hidden: 256\n", "  hidden: 4294967296\n"),
                 "found 4294967296");
    expect_error(fx, edit(fx, "  hidden: 256\n", "  hidden:\n"),
                 "t.yaml:22:10: error: 'network.hidden' must be a plain decimal integer, found null");
    expect_error(fx, edit(fx, "  hidden: 256\n", "  hidden: [256]\n"),
                 "'network.hidden' must be a plain decimal integer, found a list");
}

static void test_spec_parse_float_forms(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, edit(fx, "  lr: 1.0\n", "  lr: 5e-1\n"));
    assert_non_null(s);
    assert_true(s->lr == 0.5);
    expect_error(fx, edit(fx, "  lr: 1.0\n", "  lr: .inf\n"),
                 "t.yaml:30:7: error: 'train.lr' must be a number, found '.inf'");
    expect_error(fx, edit(fx, "  lr: 1.0\n", "  lr: \"0.1\"\n"),
                 "'train.lr' must be a number, found the quoted string '0.1'");
    expect_error(fx, edit(fx, "  lr: 1.0\n", "  lr: 1e999\n"),
                 "t.yaml:30:7: error: 'train.lr' is out of range: 1e999");
    expect_error(fx, edit(fx, "  clip_norm: 1.0\n", "  clip_norm: -1\n"),
                 "'train.clip_norm' must be 0 (off) or greater, found -1");
    expect_error(fx, edit(fx, "  split: 0.9\n", "  split: 1\n"),
                 "'data.split' must be between 0 and 1 (exclusive), found 1");
}

static void test_spec_parse_name_rules(void **state)
{
    Fixture *fx = *state;
    expect_error(fx, edit(fx, "model: rnn\n", "model: rnnrt_x\n"),
                 "t.yaml:2:8: error: 'model' cannot be 'rnnrt_x'");
    expect_error(fx, edit(fx, "model: rnn\n", "model: while\n"), "'model' cannot be 'while'");
    expect_error(fx, edit(fx, "model: rnn\n", "model: a-b\n"), "'model' must be an identifier");
    const char *long_name = "model: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
    expect_error(fx, edit(fx, "model: rnn\n", long_name), "'model' must be an identifier");
    expect_error(fx, edit(fx, "    W_hh: [hidden, hidden]\n", "    W-hh: [hidden, hidden]\n"),
                 "t.yaml:15:5: error: parameter name must be an identifier");
    expect_error(fx, edit(fx, "    W_hh: [hidden, hidden]\n", "    x: [hidden, hidden]\n"),
                 "t.yaml:15:5: error: parameter 'x' has the same name as the input");
    expect_diag(fx, "t.yaml:10:10: note: the input 'x' is declared here");
}

static void test_spec_parse_equation_cannot_assign_a_parameter(void **state)
{
    Fixture *fx = *state;
    expect_error(fx, edit(fx, "    h: tanh", "    b_ih: h\n    h: tanh"),
                 "t.yaml:19:5: error: equation assigns to the parameter 'b_ih'");
    expect_diag(fx, "t.yaml:16:5: note: the parameter 'b_ih' is declared here");
}

static void test_spec_parse_block_scalar_equation_is_an_error(void **state)
{
    Fixture *fx = *state;
    expect_error(fx, edit(fx, "    h: tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)\n",
                          "    h: |\n      tanh(x)\n"),
                 "t.yaml:19:8: error: equation 'h' must be a one-line expression, not a block scalar");
}

static void test_spec_parse_missing_sections(void **state)
{
    Fixture *fx = *state;
    expect_error(fx, "model: rnn\n",
                 "t.yaml:1:1: error: missing required key 'task' at the top level");
    expect_diag(fx, "missing required key 'data' at the top level");
    expect_diag(fx, "missing required key 'cell' at the top level");
    expect_diag(fx, "missing required key 'network' at the top level");
    expect_diag(fx, "missing required key 'train' at the top level");
    expect_error(fx, edit(fx, "network:\n  input: one_hot\n  hidden: 256\n  output: linear\n",
                          "network:\n"),
                 "t.yaml:20:9: error: 'network' must be a mapping, found null");
}

static void test_spec_parse_deep_block_nesting_is_an_error(void **state)
{
    Fixture *fx = *state;
    enum { N = 200 };
    size_t cap = (size_t)N * (N + 8);
    char *text = arena_alloc(&fx->arena, cap), *p = text;
    for (int i = 0; i < N; i++)
        p += sprintf(p, "%*sk%d:\n", i, "", i);
    sprintf(p, "%*sv: 1\n", N, "");
    expect_error(fx, text, "t.yaml:65:65: error: nesting is too deep (more than 64 levels)");
}

static void test_spec_parse_flow_nesting_is_an_error(void **state)
{
    Fixture *fx = *state;
    enum { N = 100000 };
    char *text = arena_alloc(&fx->arena, 2 * N + 16);
    strcpy(text, "model: ");
    memset(text + 7, '[', N);
    text[7 + N] = 0;
    expect_error(fx, text, "t.yaml:1:71: error: nesting is too deep");
}

static void test_spec_parse_sizes_of_lists_are_capped(void **state)
{
    Fixture *fx = *state;
    enum { N = 5000 };
    char *text = arena_alloc(&fx->arena, 8 * N + 32), *p = text;
    p += sprintf(p, "model: [");
    for (int i = 0; i < N; i++)
        p += sprintf(p, "%s1", i ? "," : "");
    strcpy(p, "]\n");
    expect_error(fx, text, "error: too many entries in one list (the limit is 4096)");
}

/* ---- robustness ---- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random small edits of rnn_yaml. Whatever comes out, spec_parse must not
 * crash and must return NULL exactly when it reported an error. */
static void test_spec_parse_random_edits_never_crash(void **state)
{
    (void)state;
    static const char alphabet[] = "[]{}:,-?&*!|>'\"#%@` \t\n\r\\0123456789aehx_.~\xff\xc3\x00";
    FILE *null = fopen("/dev/null", "w");
    diag_set_stream(null);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    size_t n = strlen(rnn_yaml);
    char *buf = malloc(n + 64);
    for (int iter = 0; iter < 4000; iter++) {
        memcpy(buf, rnn_yaml, n);
        size_t len = n;
        int edits = 1 + (int)(rng_next(&seed) % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = rng_next(&seed) % len;
            char ch = alphabet[rng_next(&seed) % (sizeof alphabet - 1)];
            switch (rng_next(&seed) % 3) {
            case 0: /* replace */
                buf[at] = ch;
                break;
            case 1: /* insert */
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = ch;
                len++;
                break;
            default: /* delete */
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
            }
        }
        Arena a = {0};
        diag_reset();
        Spec *s = spec_parse(&a, "fuzz.yaml", buf, len);
        if ((s != NULL) != (diag_error_count() == 0))
            fail_msg("iteration %d: spec %p with %d errors", iter, (void *)s, diag_error_count());
        diag_reset();
        arena_free_all(&a);
    }
    free(buf);
    diag_set_stream(NULL);
    fclose(null);
}

/* ---- the cell library and the keys of gated and deeper networks ---- */

/* rnn_yaml with its whole cell section replaced by `cell`. */
static const char *with_cell(Fixture *fx, const char *cell)
{
    const char *at = strstr(rnn_yaml, "cell:\n"), *end = strstr(rnn_yaml, "network:\n");
    return arena_printf(&fx->arena, "%.*s%s%s", (int)(at - rnn_yaml), rnn_yaml, cell, end);
}

/* 1-based number of the line of `text` that starts with `prefix`. */
static int line_of(const char *text, const char *prefix)
{
    int line = 1;
    for (const char *p = text; *p; line++) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            return line;
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
    fail_msg("no line starts with '%s'", prefix);
    return 0;
}

static void test_spec_parse_library_cell_by_name(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, with_cell(fx, "cell: gru\n"));
    if (!s)
        fail_msg("%s", diags(fx));
    const SpecCell *c = &s->cell;
    assert_string_equal(s->cell_use, "gru");
    assert_loc(s->cell_use_loc, 8, 7);
    assert_string_equal(c->name, "gru");
    assert_int_equal(c->nstate, 1);
    assert_int_equal(c->nparams, 12);
    assert_int_equal(c->neqs, 4);
    /* Locs point into the library file, with its real lines */
    assert_string_equal(c->loc.file, "<rnnc>/cells/gru.yaml");
    size_t len = 0;
    const char *text = spec_source_text(s, c->loc.file, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_loc(c->eqs[2].loc, line_of(text, "  n: "), 3);
    assert_string_equal(c->eqs[2].loc.file, "<rnnc>/cells/gru.yaml");
    assert_string_equal(c->eqs[2].text, "tanh(x @ W_in + b_in + r * (h @ W_hn + b_hn))");
    assert_loc(c->eqs[2].rhs->loc, line_of(text, "  n: "), 6);
    assert_ptr_equal(spec_source_text(s, s->path, &len), s->text);
    assert_null(spec_source_text(s, "<rnnc>/cells/nope.yaml", &len));
}

static void test_spec_parse_library_cell_use_form(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, with_cell(fx, "cell: {use: lstm}\n"));
    if (!s)
        fail_msg("%s", diags(fx));
    assert_string_equal(s->cell_use, "lstm");
    assert_loc(s->cell_use_loc, 8, 13);
    assert_int_equal(s->cell.nstate, 2);
    assert_string_equal(s->cell.state[0], "h");
    assert_string_equal(s->cell.state[1], "c");
    assert_string_equal(s->cell.output, "h");
    s = parse(fx, rnn_yaml);
    assert_non_null(s);
    assert_null(s->cell_use);
    /* cell.init sets every parameter's (word_language_model's U(-0.1, 0.1)) */
    s = parse(fx, with_cell(fx, "cell: {use: lstm, init: {uniform: 0.1}}\n"));
    if (!s)
        fail_msg("%s", diags(fx));
    assert_int_equal(s->cell.nparams, 16);
    for (int i = 0; i < s->cell.nparams; i++) {
        assert_int_equal(s->cell.params[i].init, INIT_UNIFORM);
        assert_true(s->cell.params[i].init_arg == 0.1);
    }
}

/* Every library cell parses, is named after its file and lists its
 * parameters in PyTorch's gate order. */
static void test_spec_library_cells_all_parse(void **state)
{
    Fixture *fx = *state;
    static const char *const want[][2] = {
        {"gru", "W_ir W_iz W_in W_hr W_hz W_hn b_ir b_iz b_in b_hr b_hz b_hn "},
        {"lstm", "W_ii W_if W_ig W_io W_hi W_hf W_hg W_ho b_ii b_if b_ig b_io b_hi b_hf b_hg "
                 "b_ho "},
        {"rnn_relu", "W_ih W_hh b_ih b_hh "},
        {"rnn_tanh", "W_ih W_hh b_ih b_hh "},
    };
    assert_int_equal(spec_cell_library_n, 4);
    for (int i = 0; i < spec_cell_library_n; i++) {
        assert_string_equal(spec_cell_library[i].name, want[i][0]);
        const char *cell = arena_printf(&fx->arena, "cell: %s\n", want[i][0]);
        Spec *s = parse(fx, with_cell(fx, cell));
        if (!s)
            fail_msg("%s: %s", want[i][0], diags(fx));
        assert_string_equal(s->cell.name, want[i][0]);
        char names[256] = "";
        for (int k = 0; k < s->cell.nparams; k++)
            strcat(strcat(names, s->cell.params[k].name), " ");
        assert_string_equal(names, want[i][1]);
    }
}

/* The library's gru and lstm are the cells written out in specs/. */
static void test_spec_library_cells_match_specs(void **state)
{
    Fixture *fx = *state;
    const char *src = getenv("RNNC_SOURCE_DIR");
    if (!src)
        skip();
    static const char *const names[] = {"gru", "lstm", "rnn_tanh"};
    static const char *const files[] = {"gru", "lstm", "rnn"};
    for (int i = 0; i < 3; i++) {
        int code;
        Spec *a = spec_load(&fx->arena, arena_printf(&fx->arena, "%s/specs/%s.yaml", src, files[i]),
                            &code);
        Spec *b = parse(fx, with_cell(fx, arena_printf(&fx->arena, "cell: %s\n", names[i])));
        if (!a || !b)
            fail_msg("%s", diags(fx));
        assert_int_equal(a->cell.nparams, b->cell.nparams);
        for (int k = 0; k < a->cell.nparams; k++) {
            assert_string_equal(a->cell.params[k].name, b->cell.params[k].name);
            assert_int_equal(a->cell.params[k].ndim, b->cell.params[k].ndim);
        }
        assert_int_equal(a->cell.neqs, b->cell.neqs);
        for (int k = 0; k < a->cell.neqs; k++) {
            assert_string_equal(a->cell.eqs[k].lhs, b->cell.eqs[k].lhs);
            assert_string_equal(a->cell.eqs[k].text, b->cell.eqs[k].text);
        }
        assert_int_equal(a->cell.nstate, b->cell.nstate);
    }
}

static void test_spec_parse_unknown_cell_suggests_and_lists(void **state)
{
    Fixture *fx = *state;
    expect_error(fx, with_cell(fx, "cell: lstn\n"),
                 "t.yaml:8:7: error: unknown cell 'lstn' in 'cell'; did you mean 'lstm'?");
    expect_diag(fx, "note: valid library cells are: gru, lstm, rnn_relu, rnn_tanh");
    expect_error(fx, with_cell(fx, "cell: {use: transformer}\n"),
                 "t.yaml:8:13: error: unknown cell 'transformer' in 'cell.use'\n");
    expect_error(fx, with_cell(fx, "cell: {use: gru, name: mine}\n"),
                 "t.yaml:8:18: error: 'cell.use' selects a library cell and takes no other keys, "
                 "found 'name'");
    /* cell.init (issue 13): every parameter of the library cell */
    expect_error(fx, with_cell(fx, "cell: {use: gru, init: {uniform: 0}}\n"),
                 "t.yaml:8:34: error: 'cell.init.uniform' must be greater than 0, found 0");
    expect_error(fx, with_cell(fx, "cell: {use: gru, init: ones}\n"),
                 "t.yaml:8:24: error: ");
    expect_error(fx, with_cell(fx, "cell: [gru]\n"), "t.yaml:8:7: error: 'cell' must be a library "
                                                     "cell name (like gru)");
    expect_error(fx, with_cell(fx, "cell: {use: [gru]}\n"),
                 "t.yaml:8:13: error: 'cell.use' must be the name of a library cell");
}

static void test_spec_parse_network_keys(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, rnn_yaml);
    assert_non_null(s);
    assert_int_equal(s->layers, 1);
    assert_true(s->dropout == 0);
    assert_false(s->bidirectional);
    assert_int_equal(s->head, HEAD_LAST);
    assert_int_equal(s->min_freq, 1);
    assert_loc(s->layers_loc, 20, 1);
    /* bidirectional needs a task other than language_model */
    const char *net = edit(fx, "  hidden: 256\n",
                           "  hidden: 256\n  layers: 64\n  dropout: 0.5\n  bidirectional: true\n");
    expect_error(fx, net, "t.yaml:25:3: error: 'network.bidirectional: true' cannot be used with task: "
                          "language_model");
    const char *lm = strstr(net, "task: language_model\n");
    assert_non_null(lm);
    s = parse(fx, arena_printf(&fx->arena, "%.*stask: labelling\n%s", (int)(lm - net), net,
                               lm + strlen("task: language_model\n")));
    if (!s)
        fail_msg("%s", diags(fx));
    assert_int_equal(s->layers, 64);
    assert_loc(s->layers_loc, 23, 11);
    assert_true(s->dropout == 0.5);
    assert_loc(s->dropout_loc, 24, 12);
    assert_true(s->bidirectional);
    assert_loc(s->bidirectional_loc, 25, 18);
    s = parse(fx, edit(fx, "  hidden: 256\n", "  hidden: 256\n  dropout: 0\n  bidirectional: false\n"));
    assert_non_null(s);
    assert_false(s->bidirectional);
    expect_error(fx, edit(fx, "  hidden: 256\n", "  hidden: 256\n  layers: 65\n"),
                 "t.yaml:23:11: error: 'network.layers' must be between 1 and 64, found 65");
    expect_error(fx, edit(fx, "  hidden: 256\n", "  hidden: 256\n  dropout: -0.1\n"),
                 "t.yaml:23:12: error: 'network.dropout' must be in [0, 1), found -0.1");
    expect_error(fx, edit(fx, "  hidden: 256\n", "  hidden: 256\n  bidirectional: yes\n"),
                 "t.yaml:23:18: error: 'network.bidirectional' must be true or false, found 'yes'");
    expect_error(fx, edit(fx, "  hidden: 256\n", "  hidden: 256\n  bidirectional: \"true\"\n"),
                 "'network.bidirectional' must be true or false, found the quoted string");
    expect_error(fx, edit(fx, "  hidden: 256\n", "  hidden: 256\n  layer: 2\n"),
                 "t.yaml:23:3: error: unknown key 'layer' in 'network'; did you mean 'layers'?");
}

static void test_spec_parse_task_and_head(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, edit(fx, "task: language_model\n", "task: labelling\n"));
    assert_non_null(s);
    assert_int_equal(s->task, TASK_LABELLING);
    s = parse(fx, edit(fx, "task: language_model\n", "task: classification\n"));
    assert_non_null(s);
    assert_int_equal(s->task, TASK_CLASSIFICATION);
    assert_int_equal(s->head, HEAD_LAST);
    const char *text = edit(fx, "task: language_model\n", "task: classification\n");
    const char *at = strstr(text, "  hidden: 256\n");
    text = arena_printf(&fx->arena, "%.*s  head: mean\n%s", (int)(at - text), text, at);
    s = parse(fx, text);
    if (!s)
        fail_msg("%s", diags(fx));
    assert_int_equal(s->head, HEAD_MEAN);
    assert_loc(s->head_loc, 22, 9);
    expect_error(fx, edit(fx, "  hidden: 256\n", "  hidden: 256\n  head: mean\n"),
                 "t.yaml:23:3: error: 'network.head' applies only to task: classification");
    expect_diag(fx, "t.yaml:3:7: note: the task is language_model here");
    expect_error(fx, edit(fx, "task: language_model\n", "task: labeling\n"),
                 "t.yaml:3:7: error: unknown value 'labeling' for 'task'; did you mean 'labelling'?");
    /* a bad task does not also blame the head */
    text = edit(fx, "task: language_model\n", "task: tagging\n");
    at = strstr(text, "  hidden: 256\n");
    text = arena_printf(&fx->arena, "%.*s  head: last\n%s", (int)(at - text), text, at);
    int errors = diag_error_count();
    expect_error(fx, text, "unknown value 'tagging'");
    assert_int_equal(diag_error_count(), errors + 1);
}

static void test_spec_parse_min_freq(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, edit(fx, "  split: 0.9\n", "  split: 0.9\n  min_freq: 3\n"));
    assert_non_null(s);
    assert_int_equal(s->min_freq, 3);
    assert_loc(s->min_freq_loc, 8, 13);
    expect_error(fx, edit(fx, "  split: 0.9\n", "  split: 0.9\n  min_freq: 0\n"),
                 "t.yaml:8:13: error: 'data.min_freq' must be between 1 and 1000000000, found 0");
    expect_error(fx, edit(fx, "  split: 0.9\n", "  split: 0.9\n  min_freq: 2.5\n"),
                 "t.yaml:8:13: error: 'data.min_freq' must be a plain decimal integer");
}

static void test_spec_parse_optimizers(void **state)
{
    Fixture *fx = *state;
    Spec *s = parse(fx, rnn_yaml);
    assert_int_equal(s->optimizer, OPT_SGD);
    assert_true(s->momentum == 0 && s->beta1 == 0 && s->beta2 == 0 && s->eps == 0);
    assert_loc(s->optimizer_loc, 29, 14);
    s = parse(fx, edit(fx, "  optimizer: sgd\n", "  optimizer: momentum\n"));
    assert_non_null(s);
    assert_int_equal(s->optimizer, OPT_MOMENTUM);
    assert_true(s->momentum == 0.9);
    s = parse(fx, edit(fx, "  optimizer: sgd\n", "  optimizer: {momentum: 0.5}\n"));
    assert_non_null(s);
    assert_true(s->momentum == 0.5);
    s = parse(fx, edit(fx, "  optimizer: sgd\n", "  optimizer: adam\n"));
    assert_non_null(s);
    assert_int_equal(s->optimizer, OPT_ADAM);
    assert_true(s->beta1 == 0.9 && s->beta2 == 0.999 && s->eps == 1e-8 && s->momentum == 0);
    s = parse(fx, edit(fx, "  optimizer: sgd\n", "  optimizer: {adam: {beta2: 0.98, eps: 1e-6}}\n"));
    assert_non_null(s);
    assert_true(s->beta1 == 0.9 && s->beta2 == 0.98 && s->eps == 1e-6);
    s = parse(fx, edit(fx, "  optimizer: sgd\n", "  optimizer:\n    adam: {}\n"));
    assert_non_null(s);
    assert_true(s->beta2 == 0.999);
    expect_error(fx, edit(fx, "  optimizer: sgd\n", "  optimizer: {momentum: 1}\n"),
                 "t.yaml:29:25: error: 'train.optimizer.momentum' must be in (0, 1), found 1");
    expect_error(fx, edit(fx, "  optimizer: sgd\n", "  optimizer: {adam: {beta1: 1.0}}\n"),
                 "error: 'train.optimizer.adam.beta1' must be in [0, 1), found 1.0");
    expect_error(fx, edit(fx, "  optimizer: sgd\n", "  optimizer: {adam: {eps: 0}}\n"),
                 "error: 'train.optimizer.adam.eps' must be greater than 0, found 0");
    expect_error(fx, edit(fx, "  optimizer: sgd\n", "  optimizer: {adam: {beta: 0.9}}\n"),
                 "error: unknown key 'beta' in 'train.optimizer.adam'");
    expect_error(fx, edit(fx, "  optimizer: sgd\n", "  optimizer: {adam: 0.9}\n"),
                 "error: 'train.optimizer.adam' must be a mapping {beta1: B1, beta2: B2, eps: E}");
    expect_error(fx, edit(fx, "  optimizer: sgd\n", "  optimizer: {sgd: 0.1}\n"),
                 "t.yaml:29:14: error: 'train.optimizer' takes no argument: write sgd");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_spec_load_rnn_yaml_gives_the_ast),
        T(test_spec_parse_rnn_text_gives_the_ast),
        T(test_spec_load_missing_file_sets_exit_io),
        T(test_spec_load_directory_sets_exit_io),
        T(test_spec_load_syntax_error_sets_exit_spec),
        T(test_spec_parse_too_large_text_is_an_error),
        T(test_spec_parse_defaults_when_keys_absent),
        T(test_spec_parse_long_forms),
        T(test_spec_parse_bptt_full_and_randomized),
        T(test_spec_parse_keeps_equation_order_and_text),
        T(test_spec_parse_quoted_equation_columns_skip_the_quote),
        T(test_spec_parse_crlf_line_endings),
        T(test_spec_parse_utf8_bom_is_skipped),
        T(test_spec_parse_columns_count_bytes_after_non_ascii),
        T(test_spec_parse_unknown_key_suggests_and_lists),
        T(test_spec_parse_unknown_key_far_from_all_gets_no_suggestion),
        T(test_spec_parse_reports_every_schema_error),
        T(test_spec_parse_duplicate_key_notes_the_first),
        T(test_spec_parse_int_range_ends),
        T(test_spec_parse_float_forms),
        T(test_spec_parse_name_rules),
        T(test_spec_parse_equation_cannot_assign_a_parameter),
        T(test_spec_parse_block_scalar_equation_is_an_error),
        T(test_spec_parse_missing_sections),
        T(test_spec_parse_deep_block_nesting_is_an_error),
        T(test_spec_parse_flow_nesting_is_an_error),
        T(test_spec_parse_sizes_of_lists_are_capped),
        T(test_spec_parse_random_edits_never_crash),
        T(test_spec_parse_library_cell_by_name),
        T(test_spec_parse_library_cell_use_form),
        T(test_spec_library_cells_all_parse),
        T(test_spec_library_cells_match_specs),
        T(test_spec_parse_unknown_cell_suggests_and_lists),
        T(test_spec_parse_network_keys),
        T(test_spec_parse_task_and_head),
        T(test_spec_parse_min_freq),
        T(test_spec_parse_optimizers),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
