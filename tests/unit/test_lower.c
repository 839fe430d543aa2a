/*
 * test_lower.c: spec -> graph (compiler/lower.c) and graph -> C
 * (compiler/emit.c).
 *
 * Each test parses a variant of the rnn spec from memory whose equations
 * come from the test, lowers it, and checks either the graph (shapes, the
 * scan's inputs and outputs, the backward pass autodiff adds) or the exact
 * diagnostic a user mistake produces. The emitter tests check that the same
 * spec gives the same bytes and that the C names come from the spec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "passes.h"

/* A one-state cell; PARAMS and EQUATIONS are spliced in. */
static char *spec_text(const char *params, const char *equations, int hidden)
{
    const char *fmt = "model: m\n"
                      "task: language_model\n"
                      "data:\n"
                      "  tokens: char\n"
                      "cell:\n"
                      "  name: c\n"
                      "  input: x\n"
                      "  state: [h]\n"
                      "  output: h\n"
                      "  params:\n"
                      "%s"
                      "  equations:\n"
                      "%s"
                      "network:\n"
                      "  input: one_hot\n"
                      "  hidden: %d\n"
                      "train:\n"
                      "  batch: 2\n"
                      "  steps: 3\n"
                      "  optimizer: sgd\n"
                      "  lr: 1.0\n"
                      "  epochs: 1\n";
    size_t n = strlen(fmt) + strlen(params) + strlen(equations) + 32;
    char *s = malloc(n);
    snprintf(s, n, fmt, params, equations, hidden);
    return s;
}

static const char rnn_params[] = "    W_ih: [input, hidden]\n"
                                 "    W_hh: [hidden, hidden]\n"
                                 "    b: [hidden]\n";

typedef struct {
    char *diag;
    size_t len;
    FILE *f;
} Capture;

static int setup(void **state)
{
    Capture *c = calloc(1, sizeof *c);
    c->f = open_memstream(&c->diag, &c->len);
    diag_reset();
    diag_set_stream(c->f);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    Capture *c = *state;
    diag_set_stream(NULL);
    diag_reset();
    fclose(c->f);
    free(c->diag);
    free(c);
    return 0;
}

static const char *captured(Capture *c)
{
    fflush(c->f);
    return c->diag ? c->diag : "";
}

/* Parse and lower; the text must outlive the run (diagnostics print it). */
static Model *lower_text(const char *params, const char *eqs, int hidden)
{
    char *text = spec_text(params, eqs, hidden);
    Spec *s = spec_parse(&perm, "t.yaml", text, strlen(text));
    if (!s)
        return NULL;
    return lower(&perm, s);
}

static void test_lower_rnn_builds_scan(void **state)
{
    (void)state;
    Model *m = lower_text(rnn_params, "    h: tanh(x @ W_ih + h @ W_hh + b)\n", 8);
    assert_non_null(m);
    assert_int_equal(m->nparams, 5); /* 3 cell params + W_out, b_out */
    assert_string_equal(m->params[3].name, "W_out");
    assert_int_equal(m->state_size, 8);
    Node *scan = NULL;
    for (int i = 0; i < m->g->n; i++)
        if (m->g->nodes[i]->op == OP_SCAN)
            scan = m->g->nodes[i];
    assert_non_null(scan);
    /* x (seq), carry_scale (seq), 3 params (inv), h (carry) */
    assert_int_equal(scan->scan->nin, 6);
    assert_int_equal(scan->scan->in[0].kind, SCAN_SEQ);
    assert_int_equal(scan->scan->in[2].kind, SCAN_INV);
    assert_int_equal(scan->scan->in[5].kind, SCAN_CARRY);
    char sb[64];
    assert_string_equal(shape_str(m->logits->shape, sb, sizeof sb), "[T,B,V]");
}

static void test_autodiff_rnn_adds_reverse_scan(void **state)
{
    (void)state;
    Model *m = lower_text(rnn_params, "    h: tanh(x @ W_ih + h @ W_hh + b)\n", 8);
    assert_non_null(m);
    int n0 = m->g->n;
    autodiff(&perm, m);
    assert_true(m->g->n > n0);
    int reverse = 0;
    for (int i = n0; i < m->g->n; i++)
        if (m->g->nodes[i]->op == OP_SCAN && m->g->nodes[i]->scan->reverse)
            reverse++;
    assert_int_equal(reverse, 1);
    for (int i = 0; i < m->nparams; i++) {
        assert_non_null(m->grads[i]);
        assert_true(shape_eq(m->grads[i]->shape, m->params[i].shape));
    }
    assert_non_null(m->dstate[0]);
}

static void test_lower_state_used_after_update(void **state)
{
    (void)state;
    /* g reads the new h: the state's previous value only before its update */
    Model *m = lower_text("    W: [input, hidden]\n    U: [hidden, hidden]\n",
                          "    h: tanh(x @ W + h @ U)\n    g: h * h\n", 4);
    assert_non_null(m);
}

static void test_lower_undefined_name_suggests(void **state)
{
    Capture *c = *state;
    Model *m = lower_text(rnn_params, "    h: tanh(x @ W_ih + h @ W_hx + b)\n", 8);
    assert_null(m);
    assert_non_null(strstr(captured(c), "t.yaml:15:28: error: undefined name 'W_hx'; did you mean 'W_hh'?"));
}

static void test_lower_unknown_function_suggests(void **state)
{
    Capture *c = *state;
    Model *m = lower_text(rnn_params, "    h: tahn(x @ W_ih + h @ W_hh + b)\n", 8);
    assert_null(m);
    assert_non_null(strstr(captured(c), "t.yaml:15:8: error: unknown function 'tahn'; did you mean 'tanh'?"));
}

static void test_lower_shape_mismatch_points_at_operator(void **state)
{
    Capture *c = *state;
    /* x is [B,V]; W_hh is [8,8] */
    Model *m = lower_text(rnn_params, "    h: tanh(x @ W_hh + h @ W_ih + b)\n", 8);
    assert_null(m);
    const char *d = captured(c);
    assert_non_null(strstr(d, "t.yaml:15:15: error: shape mismatch: [B,V] @ [8,8]"));
    assert_non_null(strstr(d, "note: 'W_hh' has shape [8,8]"));
}

static void test_lower_state_wrong_width(void **state)
{
    Capture *c = *state;
    Model *m = lower_text("    W: [input, 3]\n", "    h: tanh(x @ W)\n", 8);
    assert_null(m);
    assert_non_null(strstr(captured(c), "error: state 'h' must have shape [B,8] (batch x hidden), but its equation "
                                        "gives [B,3]"));
}

static void test_lower_state_never_updated(void **state)
{
    Capture *c = *state;
    Model *m = lower_text("    W: [input, hidden]\n", "    g: tanh(x @ W)\n", 8);
    assert_null(m);
    assert_non_null(strstr(captured(c), "t.yaml:8:11: error: state 'h' has no equation"));
}

static void test_lower_redefinition(void **state)
{
    Capture *c = *state;
    Model *m = lower_text("    W: [input, hidden]\n", "    h: tanh(x @ W)\n    h: h * 2\n", 8);
    /* YAML duplicate key is caught by spec.c; either way it is an error */
    assert_null(m);
    assert_non_null(strstr(captured(c), "error:"));
}

static void test_lower_param_too_large(void **state)
{
    Capture *c = *state;
    Model *m = lower_text("    W: [input, hidden]\n    U: [65536, 65536]\n", "    h: tanh(x @ W)\n", 8);
    assert_null(m);
    assert_non_null(strstr(captured(c), "parameter 'U' has 4294967296 elements"));
}

static void test_lower_unused_param_warns(void **state)
{
    Capture *c = *state;
    Model *m = lower_text("    W: [input, hidden]\n    U: [hidden, hidden]\n", "    h: tanh(x @ W)\n", 8);
    assert_non_null(m);
    assert_non_null(strstr(captured(c), "warning: parameter 'U' is not used"));
}

static void test_lower_two_layers_chain_scans(void **state)
{
    (void)state;
    char *text = spec_text(rnn_params, "    h: tanh(x @ W_ih + h @ W_hh + b)\n", 8);
    char *with = malloc(strlen(text) + 32);
    char *at = strstr(text, "  hidden: 8\n");
    assert_non_null(at);
    size_t head = (size_t)(at - text) + strlen("  hidden: 8\n");
    memcpy(with, text, head);
    strcpy(with + head, "  layers: 2\n");
    strcat(with, text + head);
    Spec *s = spec_parse(&perm, "t.yaml", with, strlen(with));
    assert_non_null(s);
    Model *m = lower(&perm, s);
    assert_non_null(m);
    assert_int_equal(m->nparams, 8); /* 2 x 3 cell params + W_out, b_out */
    assert_string_equal(m->params[0].name, "W_ih_l0");
    assert_string_equal(m->params[3].name, "W_ih_l1");
    char sb[64];
    /* the second layer reads the first's hidden output, not the vocabulary */
    assert_string_equal(shape_str(m->params[0].shape, sb, sizeof sb), "[V,8]");
    assert_string_equal(shape_str(m->params[3].shape, sb, sizeof sb), "[8,8]");
    assert_int_equal(m->nstates, 2);
    assert_int_equal(m->state_size, 16);
    int scans = 0;
    for (int i = 0; i < m->g->n; i++)
        scans += m->g->nodes[i]->op == OP_SCAN;
    assert_int_equal(scans, 2);
    autodiff(&perm, m);
    for (int i = 0; i < m->nparams; i++)
        assert_non_null(m->grads[i]);
    assert_non_null(m->dstate[0]);
    assert_non_null(m->dstate[1]);
}

/* tie_weights (issue 13): one parameter, read by one leaf twice (so its
 * gradient is one adjoint, the sum of both uses), no W_out; the dropouts
 * of the embedding and the top layer's output at sites of their own. */
static void test_lower_tied_weights_and_dropout_sites(void **state)
{
    (void)state;
    char *text = spec_text(rnn_params, "    h: tanh(x @ W_ih + h @ W_hh + b)\n", 8);
    char *with = malloc(strlen(text) + 128);
    char *at = strstr(text, "  input: one_hot\n  hidden: 8\n");
    assert_non_null(at);
    size_t head = (size_t)(at - text);
    memcpy(with, text, head);
    strcpy(with + head, "  input: {embed: 8}\n  hidden: 8\n  tie_weights: true\n"
                        "  dropout_embed: 0.2\n  dropout_output: 0.3\n");
    strcat(with, at + strlen("  input: one_hot\n  hidden: 8\n"));
    Spec *s = spec_parse(&perm, "t.yaml", with, strlen(with));
    assert_non_null(s);
    Model *m = lower(&perm, s);
    assert_non_null(m);
    assert_int_equal(m->nparams, 5); /* embed, 3 cell params, b_out */
    int embed = -1, leaves = 0, tb = 0, drops = 0;
    for (int i = 0; i < m->nparams; i++) {
        assert_string_not_equal(m->params[i].name, "W_out");
        if (strcmp(m->params[i].name, "embed") == 0)
            embed = i;
    }
    assert_true(embed >= 0);
    for (int i = 0; i < m->g->n; i++) {
        const Node *n = m->g->nodes[i];
        leaves += n->op == OP_PARAM && n->index == embed;
        tb += n->op == OP_MATMUL && n->tb;
        if (n->op == OP_DROPOUT) {
            drops++;
            assert_true(n->index >= 64); /* not a layer's site */
        }
    }
    assert_int_equal(leaves, 1);
    assert_int_equal(tb, 1);
    assert_int_equal(drops, 2);
    autodiff(&perm, m);
    assert_non_null(m->grads[embed]);
}

/* ---- emitter ---- */

static char *emit_to_string(Model *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    memplan_storage(m); /* the driver's last step before emit_c */
    emit_c(f, m, NULL);
    fclose(f);
    return buf;
}

static void test_emit_same_spec_same_bytes(void **state)
{
    (void)state;
    Model *a = lower_text(rnn_params, "    h: tanh(x @ W_ih + h @ W_hh + b)\n", 8);
    Model *b = lower_text(rnn_params, "    h: tanh(x @ W_ih + h @ W_hh + b)\n", 8);
    autodiff(&perm, a);
    autodiff(&perm, b);
    char *ca = emit_to_string(a), *cb = emit_to_string(b);
    assert_string_equal(ca, cb);
    free(ca);
    free(cb);
}

static void test_emit_names_from_spec(void **state)
{
    (void)state;
    Model *m = lower_text(rnn_params, "    h: tanh(x @ W_ih + h @ W_hh + b)\n", 8);
    autodiff(&perm, m);
    char *c = emit_to_string(m);
    assert_non_null(strstr(c, "generated by rnnc " RNNC_VERSION " from t.yaml; do not edit."));
    assert_non_null(strstr(c, "static void m_forward(RnnrtCtx *c)"));
    assert_non_null(strstr(c, "static void m_backward(RnnrtCtx *c)"));
    assert_non_null(strstr(c, "const RnnrtModel m_model = {"));
    assert_non_null(strstr(c, "    M_H = 8, /* hidden: t.yaml:"));
    assert_non_null(strstr(c, "real *W_hh; /* [M_H,M_H] */"));
    assert_null(strstr(c, "(void)"));
    assert_non_null(strstr(c, "/* t.yaml:15  h: tanh(x @ W_ih + h @ W_hh + b) */"));
    assert_null(strstr(c, "0x7f")); /* no pointer values */
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lower_rnn_builds_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autodiff_rnn_adds_reverse_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_state_used_after_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_undefined_name_suggests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_unknown_function_suggests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_shape_mismatch_points_at_operator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_state_wrong_width, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_state_never_updated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_redefinition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_param_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_unused_param_warns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_two_layers_chain_scans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_tied_weights_and_dropout_sites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emit_same_spec_same_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emit_names_from_spec, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
