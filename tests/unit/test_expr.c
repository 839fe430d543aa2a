/*
 * test_expr.c: the cell equation parser (compiler/expr.c).
 *
 * Precedence and associativity are checked through expr_print, which writes
 * every binary operation in parentheses. Errors are checked by capturing the
 * diagnostics in a memstream: each must name the exact column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "spec.h"

typedef struct {
    Arena arena;
    char *diag;      /* what the diagnostics printed */
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

/* The diagnostics printed so far. */
static const char *diags(Fixture *fx)
{
    fflush(fx->diag_f);
    return fx->diag ? fx->diag : "";
}

/* Parse `text` as if it started at eq:1:1 and print it; NULL on error. */
static const char *parse_print(Fixture *fx, const char *text)
{
    Loc loc = {"eq", 1, 1};
    Expr *e = expr_parse(&fx->arena, text, loc);
    if (!e)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    expr_print(f, e);
    fclose(f);
    char *out = arena_strdup(&fx->arena, buf);
    free(buf);
    return out;
}

/* Parsing must fail with exactly one error whose text contains `want`. */
static void expect_error(Fixture *fx, const char *text, const char *want)
{
    Loc loc = {"eq", 1, 1};
    assert_null(expr_parse(&fx->arena, text, loc));
    assert_int_equal(diag_error_count(), 1);
    if (!strstr(diags(fx), want))
        fail_msg("for '%s' expected '%s' in:\n%s", text, want, diags(fx));
}

/* ---- precedence and associativity ---- */

static void test_expr_parse_matmul_binds_tighter_than_mul(void **state)
{
    assert_string_equal(parse_print(*state, "a * b @ c"), "(a * (b @ c))");
    assert_string_equal(parse_print(*state, "a @ b * c"), "((a @ b) * c)");
}

static void test_expr_parse_mul_binds_tighter_than_add(void **state)
{
    assert_string_equal(parse_print(*state, "a + b * c - d"), "((a + (b * c)) - d)");
    assert_string_equal(parse_print(*state, "x @ W + h @ U + b"), "(((x @ W) + (h @ U)) + b)");
}

static void test_expr_parse_operators_are_left_associative(void **state)
{
    assert_string_equal(parse_print(*state, "a - b - c"), "((a - b) - c)");
    assert_string_equal(parse_print(*state, "a - b + c"), "((a - b) + c)");
    assert_string_equal(parse_print(*state, "a * b * c"), "((a * b) * c)");
    assert_string_equal(parse_print(*state, "a @ b @ c"), "((a @ b) @ c)");
}

static void test_expr_parse_unary_minus_binds_tightest(void **state)
{
    assert_string_equal(parse_print(*state, "-x @ W"), "((-x) @ W)");
    assert_string_equal(parse_print(*state, "a - -b"), "(a - (-b))");
    assert_string_equal(parse_print(*state, "--a"), "(-(-a))");
    assert_string_equal(parse_print(*state, "a*-b"), "(a * (-b))");
}

static void test_expr_parse_parentheses_group(void **state)
{
    assert_string_equal(parse_print(*state, "(a + b) * c"), "((a + b) * c)");
    assert_string_equal(parse_print(*state, "a - (b - c)"), "(a - (b - c))");
    assert_string_equal(parse_print(*state, "((a))"), "a");
}

static void test_expr_parse_calls(void **state)
{
    assert_string_equal(parse_print(*state, "tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)"),
                        "tanh((((x @ W_ih) + b_ih) + (h @ W_hh)) + b_hh)");
    assert_string_equal(parse_print(*state, "sigmoid (x)"), "sigmoid(x)");
    assert_string_equal(parse_print(*state, "tanh(-x)"), "tanh(-x)");
    assert_string_equal(parse_print(*state, "z * h + (1 - z) * n"), "((z * h) + ((1 - z) * n))");
}

static void test_expr_parse_numbers(void **state)
{
    assert_string_equal(parse_print(*state, "1 - 0.5 * 2e-3"), "(1 - (0.5 * 0.002))");
    assert_string_equal(parse_print(*state, "0.1"), "0.1");
    assert_string_equal(parse_print(*state, "1E+2"), "1e+02");
    assert_string_equal(parse_print(*state, "007"), "7");
}

static void test_expr_parse_skips_spaces_and_tabs(void **state)
{
    assert_string_equal(parse_print(*state, " \ta\t+  b "), "(a + b)");
}

/* ---- Locs ---- */

static void test_expr_parse_locs_point_at_operators_and_names(void **state)
{
    Fixture *fx = *state;
    Loc loc = {"spec.yaml", 7, 8};
    /*                                   0123456789012345678 */
    Expr *e = expr_parse(&fx->arena, "tanh(x @ W) + -b_1", loc);
    assert_non_null(e);
    assert_int_equal(e->kind, EX_BINOP);
    assert_int_equal(e->op, '+');
    assert_int_equal(e->loc.line, 7);
    assert_int_equal(e->loc.col, 8 + 12);
    assert_string_equal(e->loc.file, "spec.yaml");
    Expr *call = e->lhs;
    assert_int_equal(call->kind, EX_CALL);
    assert_string_equal(call->name, "tanh");
    assert_int_equal(call->loc.col, 8);
    assert_int_equal(call->lhs->loc.col, 8 + 7);       /* the '@' */
    assert_int_equal(call->lhs->lhs->loc.col, 8 + 5);  /* x */
    assert_int_equal(call->lhs->rhs->loc.col, 8 + 9);  /* W */
    Expr *neg = e->rhs;
    assert_int_equal(neg->kind, EX_NEG);
    assert_int_equal(neg->loc.col, 8 + 14);
    assert_int_equal(neg->lhs->kind, EX_NAME);
    assert_string_equal(neg->lhs->name, "b_1");
    assert_int_equal(neg->lhs->loc.col, 8 + 15);
}

static void test_expr_parse_number_value(void **state)
{
    Fixture *fx = *state;
    Expr *e = expr_parse(&fx->arena, "2.5e1", (Loc){"eq", 1, 1});
    assert_non_null(e);
    assert_int_equal(e->kind, EX_NUM);
    assert_true(e->num == 25.0);
}

/* ---- errors, each at its exact column ---- */

static void test_expr_parse_empty_is_an_error(void **state)
{
    expect_error(*state, "", "eq:1:1: error: empty expression");
}

static void test_expr_parse_blank_is_an_error(void **state)
{
    expect_error(*state, "   ", "eq:1:1: error: empty expression");
}

static void test_expr_parse_unexpected_character(void **state)
{
    expect_error(*state, "a $ b", "eq:1:3: error: unexpected character '$'");
}

static void test_expr_parse_unexpected_character_inside_call(void **state)
{
    expect_error(*state, "tanh(x / 2)", "eq:1:8: error: unexpected character '/'");
}

static void test_expr_parse_non_ascii_character(void **state)
{
    expect_error(*state, "a \xc3\x97 b", "eq:1:3: error: unexpected character (byte 0xC3)");
}

static void test_expr_parse_missing_close_paren_notes_the_open_one(void **state)
{
    Fixture *fx = *state;
    expect_error(fx, "tanh((a + b)", "eq:1:13: error: missing ')'");
    assert_non_null(strstr(diags(fx), "eq:1:5: note: to match this '('"));
}

static void test_expr_parse_wrong_token_before_close_paren(void **state)
{
    Fixture *fx = *state;
    expect_error(fx, "(a b)", "eq:1:4: error: expected ')' or an operator, found 'b'");
    assert_non_null(strstr(diags(fx), "eq:1:1: note: to match this '('"));
}

static void test_expr_parse_unmatched_close_paren(void **state)
{
    expect_error(*state, "a + b)", "eq:1:6: error: unmatched ')'");
}

static void test_expr_parse_dangling_operator(void **state)
{
    expect_error(*state, "a +", "eq:1:4: error: expected an operand after '+', found end of expression");
}

static void test_expr_parse_two_operators(void **state)
{
    expect_error(*state, "a * @ b", "eq:1:5: error: expected an operand after '*', found '@'");
}

static void test_expr_parse_leading_operator(void **state)
{
    expect_error(*state, "* b", "eq:1:1: error: expected an operand, found '*'");
}

static void test_expr_parse_empty_parens(void **state)
{
    expect_error(*state, "tanh()", "eq:1:6: error: expected an operand, found ')'");
}

static void test_expr_parse_trailing_garbage(void **state)
{
    expect_error(*state, "a b", "eq:1:3: error: expected an operator, found 'b'");
}

static void test_expr_parse_two_arguments(void **state)
{
    expect_error(*state, "f(a, b)", "eq:1:4: error: functions take exactly one argument");
}

static void test_expr_parse_prime_is_rejected(void **state)
{
    expect_error(*state, "z * h'", "eq:1:6: error: unexpected character \"'\" after 'h'");
}

static void test_expr_parse_number_too_long(void **state)
{
    expect_error(*state, "x + 123456789012345678901234567890123",
                 "eq:1:5: error: number is too long");
}

static void test_expr_parse_number_out_of_range(void **state)
{
    expect_error(*state, "1e999", "eq:1:1: error: number '1e999' is out of range");
    diag_reset();
    expect_error(*state, "1e-999", "number '1e-999' is out of range");
}

static void test_expr_parse_malformed_numbers(void **state)
{
    expect_error(*state, "2x", "eq:1:1: error: malformed number '2x'");
    diag_reset();
    expect_error(*state, "a + 1.2.3", "eq:1:5: error: malformed number '1.2.3'");
    diag_reset();
    expect_error(*state, "1e", "malformed number '1e'");
    diag_reset();
    expect_error(*state, ".5", "eq:1:1: error: numbers must start with a digit");
}

static void test_expr_parse_name_too_long(void **state)
{
    char text[80];
    memset(text, 'a', 65);
    text[65] = 0;
    expect_error(*state, text, "eq:1:1: error: name is too long");
}

static void test_expr_parse_deep_parentheses_are_an_error_not_a_crash(void **state)
{
    enum { N = 100000 };
    char *text = malloc(2 * N + 2);
    memset(text, '(', N);
    text[N] = 'x';
    memset(text + N + 1, ')', N);
    text[2 * N + 1] = 0;
    expect_error(*state, text, "eq:1:65: error: expression is nested too deeply");
    free(text);
}

static void test_expr_parse_deep_unary_minus_is_an_error_not_a_crash(void **state)
{
    enum { N = 100000 };
    char *text = malloc(N + 2);
    memset(text, '-', N);
    text[N] = 'x';
    text[N + 1] = 0;
    expect_error(*state, text, "eq:1:65: error: expression is nested too deeply");
    free(text);
}

static void test_expr_parse_long_operator_chain_is_fine(void **state)
{
    Fixture *fx = *state;
    enum { N = 2000 };
    char *text = malloc(4 * N + 1), *p = text;
    for (int i = 0; i < N; i++)
        p += sprintf(p, "%sx", i ? " + " : "");
    Expr *e = expr_parse(&fx->arena, text, (Loc){"eq", 1, 1});
    free(text);
    assert_non_null(e);
    int depth = 0;
    for (; e->kind == EX_BINOP; e = e->lhs)
        depth++;
    assert_int_equal(depth, N - 1);
}

/* ---- expr_print ---- */

static void test_expr_print_numbers_shortest_round_trip(void **state)
{
    assert_string_equal(parse_print(*state, "0.30000000000000004"), "0.30000000000000004");
    assert_string_equal(parse_print(*state, "1.5e-7"), "1.5e-07");
    assert_string_equal(parse_print(*state, "3"), "3");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_expr_parse_matmul_binds_tighter_than_mul),
        T(test_expr_parse_mul_binds_tighter_than_add),
        T(test_expr_parse_operators_are_left_associative),
        T(test_expr_parse_unary_minus_binds_tightest),
        T(test_expr_parse_parentheses_group),
        T(test_expr_parse_calls),
        T(test_expr_parse_numbers),
        T(test_expr_parse_skips_spaces_and_tabs),
        T(test_expr_parse_locs_point_at_operators_and_names),
        T(test_expr_parse_number_value),
        T(test_expr_parse_empty_is_an_error),
        T(test_expr_parse_blank_is_an_error),
        T(test_expr_parse_unexpected_character),
        T(test_expr_parse_unexpected_character_inside_call),
        T(test_expr_parse_non_ascii_character),
        T(test_expr_parse_missing_close_paren_notes_the_open_one),
        T(test_expr_parse_wrong_token_before_close_paren),
        T(test_expr_parse_unmatched_close_paren),
        T(test_expr_parse_dangling_operator),
        T(test_expr_parse_two_operators),
        T(test_expr_parse_leading_operator),
        T(test_expr_parse_empty_parens),
        T(test_expr_parse_trailing_garbage),
        T(test_expr_parse_two_arguments),
        T(test_expr_parse_prime_is_rejected),
        T(test_expr_parse_number_too_long),
        T(test_expr_parse_number_out_of_range),
        T(test_expr_parse_malformed_numbers),
        T(test_expr_parse_name_too_long),
        T(test_expr_parse_deep_parentheses_are_an_error_not_a_crash),
        T(test_expr_parse_deep_unary_minus_is_an_error_not_a_crash),
        T(test_expr_parse_long_operator_chain_is_fine),
        T(test_expr_print_numbers_shortest_round_trip),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
