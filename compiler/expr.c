/*
 * expr.c: the cell equation language, text -> Expr tree (grammar in spec.h).
 *
 * A recursive-descent parser working directly on the characters; there is
 * no separate token list, because an equation is one short line. Each rule
 * is one function, named after the rule and quoting it.
 *
 * Invariants:
 *  - Positions are byte offsets into the text. text[i] is at column
 *    loc.col + i of loc.line (spec.c makes sure the text is one source line
 *    without escapes).
 *  - The first error is reported with diag_error at its exact column and
 *    parsing stops: every rule returns NULL and the callers unwind.
 *  - Recursion is bounded: only parentheses, calls and unary minus recurse,
 *    and they count against MAX_EXPR_DEPTH. Chains of binary operators are
 *    loops. Hostile input gets an error, never a stack overflow.
 *  - Numbers are read with strtod, which uses '.' as the decimal point
 *    because rnnc never calls setlocale.
 */
#include "spec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    MAX_EXPR_DEPTH = 64, /* nested parentheses, calls and unary minus */
    MAX_NUMBER = 32,     /* characters in a number */
    MAX_IDENT = 64       /* characters in a name */
};

typedef struct {
    Arena *a;
    const char *text; /* the whole expression */
    const char *p;    /* the next character */
    Loc loc;          /* of text[0] */
    int depth;
} Parser;

static Expr *expr(Parser *ps);

/* ---- characters ---- */

static Loc loc_at(const Parser *ps, const char *q)
{
    Loc l = ps->loc;
    l.col += (int)(q - ps->text);
    return l;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

static void skip_space(Parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t')
        ps->p++;
}

/* Characters the grammar uses somewhere; anything else is "unexpected". */
static bool is_known(char c)
{
    return is_name_char(c) || (c && strchr("+-*@() \t.", c));
}

/* How the character at q reads in a message. */
static const char *describe(const Parser *ps, const char *q)
{
    if (!*q)
        return "end of expression";
    if ((unsigned char)*q >= 0x80)
        return "a non-ASCII character";
    return arena_printf(ps->a, "'%c'", *q);
}

static Expr *unexpected_char(Parser *ps, const char *q)
{
    if ((unsigned char)*q >= 0x80 || (unsigned char)*q < 0x20)
        diag_error(loc_at(ps, q), "unexpected character (byte 0x%02X)", (unsigned char)*q);
    else
        diag_error(loc_at(ps, q), "unexpected character '%c'", *q);
    return NULL;
}

/* Something that cannot start an operand where one is needed. `after` is the
 * operator just read, or NULL. */
static Expr *missing_operand(Parser *ps, const char *after)
{
    if (*ps->p && !is_known(*ps->p))
        return unexpected_char(ps, ps->p);
    if (after)
        diag_error(loc_at(ps, ps->p), "expected an operand after '%c', found %s", *after,
                   describe(ps, ps->p));
    else
        diag_error(loc_at(ps, ps->p), "expected an operand, found %s", describe(ps, ps->p));
    return NULL;
}

/* ---- nodes ---- */

static Expr *new_expr(Parser *ps, ExprKind kind, const char *at)
{
    Expr *e = arena_alloc(ps->a, sizeof *e);
    e->kind = kind;
    e->loc = loc_at(ps, at);
    return e;
}

/* One more level of nesting, opened by the character at `at`. */
static bool enter(Parser *ps, const char *at)
{
    if (ps->depth < MAX_EXPR_DEPTH) {
        ps->depth++;
        return true;
    }
    diag_error(loc_at(ps, at), "expression is nested too deeply (more than %d levels)",
               MAX_EXPR_DEPTH);
    return false;
}

/* ---- primaries ---- */

/* number = digits ("." digits)? ([eE] [+-]? digits)? */
static Expr *number(Parser *ps)
{
    const char *start = ps->p, *q = ps->p;
    while (is_digit(*q))
        q++;
    if (*q == '.' && is_digit(q[1]))
        for (q++; is_digit(*q); q++)
            ;
    const char *e = q + (*q == 'e' || *q == 'E');
    e += e > q && (*e == '+' || *e == '-');
    if (e > q && is_digit(*e)) {
        for (q = e; is_digit(*q); q++)
            ;
    }
    if (is_name_char(*q) || *q == '.') {
        const char *end = q;
        while (is_name_char(*end) || *end == '.')
            end++;
        diag_error(loc_at(ps, start), "malformed number '%.*s'", (int)(end - start), start);
        return NULL;
    }
    if (q - start > MAX_NUMBER) {
        diag_error(loc_at(ps, start), "number is too long (more than %d characters)",
                   MAX_NUMBER);
        return NULL;
    }
    errno = 0;
    double v = strtod(start, NULL);
    if (isinf(v) || (v == 0 && errno == ERANGE)) {
        diag_error(loc_at(ps, start), "number '%.*s' is out of range", (int)(q - start), start);
        return NULL;
    }
    Expr *n = new_expr(ps, EX_NUM, start);
    n->num = v;
    ps->p = q;
    return n;
}

/* The ')' that closes the '(' at `open`. */
static bool close_paren(Parser *ps, const char *open)
{
    skip_space(ps);
    if (*ps->p == ')') {
        ps->p++;
        return true;
    }
    if (!*ps->p)
        diag_error(loc_at(ps, ps->p), "missing ')'");
    else if (*ps->p == ',')
        diag_error(loc_at(ps, ps->p), "functions take exactly one argument");
    else if (!is_known(*ps->p)) {
        unexpected_char(ps, ps->p);
        return false;
    } else
        diag_error(loc_at(ps, ps->p), "expected ')' or an operator, found %s",
                   describe(ps, ps->p));
    diag_note(loc_at(ps, open), "to match this '('");
    return false;
}

/* "(" expr ")" -- `open` is the '(' */
static Expr *parenthesized(Parser *ps, const char *open)
{
    ps->p = open + 1;
    if (!enter(ps, open))
        return NULL;
    Expr *e = expr(ps);
    ps->depth--;
    return e && close_paren(ps, open) ? e : NULL;
}

/* name | name "(" expr ")" */
static Expr *name_or_call(Parser *ps)
{
    const char *start = ps->p;
    while (is_name_char(*ps->p))
        ps->p++;
    size_t len = (size_t)(ps->p - start);
    if (len > MAX_IDENT) {
        diag_error(loc_at(ps, start), "name is too long (more than %d characters)", MAX_IDENT);
        return NULL;
    }
    if (*ps->p == '\'') {
        diag_error(loc_at(ps, ps->p), "unexpected character \"'\" after '%.*s' "
                   "(names cannot end in a prime)", (int)len, start);
        return NULL;
    }
    const char *after = ps->p;
    skip_space(ps);
    if (*ps->p != '(') {
        ps->p = after;
        Expr *n = new_expr(ps, EX_NAME, start);
        n->name = arena_strndup(ps->a, start, len);
        return n;
    }
    Expr *call = new_expr(ps, EX_CALL, start);
    call->name = arena_strndup(ps->a, start, len);
    call->lhs = parenthesized(ps, ps->p);
    return call->lhs ? call : NULL;
}

/* primary = number | name | name "(" expr ")" | "(" expr ")" */
static Expr *primary(Parser *ps, const char *after)
{
    skip_space(ps);
    char c = *ps->p;
    if (is_digit(c))
        return number(ps);
    if (is_name_start(c))
        return name_or_call(ps);
    if (c == '(')
        return parenthesized(ps, ps->p);
    if (c == '.' && is_digit(ps->p[1])) {
        diag_error(loc_at(ps, ps->p), "numbers must start with a digit (write 0%.*s)",
                   MAX_NUMBER, ps->p);
        return NULL;
    }
    return missing_operand(ps, after);
}

/* unary = "-" unary | primary */
static Expr *unary(Parser *ps, const char *after)
{
    skip_space(ps);
    if (*ps->p != '-')
        return primary(ps, after);
    const char *minus = ps->p++;
    if (!enter(ps, minus))
        return NULL;
    Expr *operand = unary(ps, minus);
    ps->depth--;
    if (!operand)
        return NULL;
    Expr *e = new_expr(ps, EX_NEG, minus);
    e->lhs = operand;
    return e;
}

/* ---- binary operators: one loop per precedence level ---- */

typedef Expr *Operand(Parser *ps, const char *after);

/* lhs (op rhs)* for the operators in `ops`, left associative. */
static Expr *binary(Parser *ps, const char *ops, Operand *next, const char *after)
{
    Expr *lhs = next(ps, after);
    for (;;) {
        if (!lhs)
            return NULL;
        skip_space(ps);
        if (!*ps->p || !strchr(ops, *ps->p))
            return lhs;
        const char *op = ps->p++;
        Expr *rhs = next(ps, op);
        if (!rhs)
            return NULL;
        Expr *e = new_expr(ps, EX_BINOP, op);
        e->op = *op;
        e->lhs = lhs;
        e->rhs = rhs;
        lhs = e;
    }
}

/* matmul = unary ("@" unary)* */
static Expr *matmul(Parser *ps, const char *after) { return binary(ps, "@", unary, after); }

/* term = matmul ("*" matmul)* */
static Expr *term(Parser *ps, const char *after) { return binary(ps, "*", matmul, after); }

/* expr = term (("+" | "-") term)* */
static Expr *expr(Parser *ps) { return binary(ps, "+-", term, NULL); }

/* ---- entry points ---- */

Expr *expr_parse(Arena *a, const char *text, Loc loc)
{
    Parser ps = {a, text, text, loc, 0};
    skip_space(&ps);
    if (!*ps.p) {
        diag_error(loc, "empty expression");
        return NULL;
    }
    Expr *e = expr(&ps);
    if (!e)
        return NULL;
    skip_space(&ps);
    if (!*ps.p)
        return e;
    if (*ps.p == ')')
        diag_error(loc_at(&ps, ps.p), "unmatched ')'");
    else if (!is_known(*ps.p))
        unexpected_char(&ps, ps.p);
    else
        diag_error(loc_at(&ps, ps.p), "expected an operator, found %s", describe(&ps, ps.p));
    return NULL;
}

/* The shortest %g form that reads back as the same double. */
static void print_number(FILE *f, double v)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

/* An expression without its own outer parentheses (a call's argument). */
static void print_bare(FILE *f, const Expr *e)
{
    if (e->kind == EX_BINOP) {
        expr_print(f, e->lhs);
        fprintf(f, " %c ", e->op);
        expr_print(f, e->rhs);
    } else if (e->kind == EX_NEG) {
        fputc('-', f);
        expr_print(f, e->lhs);
    } else {
        expr_print(f, e);
    }
}

void expr_print(FILE *f, const Expr *e)
{
    switch (e->kind) {
    case EX_NUM:
        print_number(f, e->num);
        break;
    case EX_NAME:
        fputs(e->name, f);
        break;
    case EX_CALL:
        fprintf(f, "%s(", e->name);
        print_bare(f, e->lhs);
        fputc(')', f);
        break;
    case EX_BINOP:
    case EX_NEG:
        fputc('(', f);
        print_bare(f, e);
        fputc(')', f);
        break;
    }
}
