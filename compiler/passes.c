/*
 * passes.c: the pass list. Adding a pass means one new file and one new
 * line in `passes`; each pass is followed by dead code elimination and
 * graph_verify. The driver (main.c) runs the list on every graph it emits
 * and, for `rnnc -d NAME`, prints them all after pass NAME. The forward
 * passes run before autodiff, the others after it.
 */
#include "passes.h"

#include <string.h>

typedef struct {
    const char *name;
    void (*run)(Model *m);
} Pass;

static const Pass passes[] = {
    {"wgrad", pass_wgrad},
    {"hoist", pass_hoist},
    {"onehot", pass_onehot},
    {"cse", pass_cse},
    {"fuse", pass_fuse},
    {"memplan", pass_memplan}, /* last: it plans the buffers of the final graph */
};
enum { NPASSES = sizeof passes / sizeof *passes };

static const Pass forward_passes[] = {
    {"gemmfuse", pass_gemmfuse},
};
enum { NFORWARD = sizeof forward_passes / sizeof *forward_passes };

/* Off unless rnnc --pass NAME (or -d NAME) asks: gemmfuse made the bench
 * configs no faster (bench/README.md). */
static const char *const optional[] = {"gemmfuse"};
enum { NOPTIONAL = sizeof optional / sizeof *optional };

void pass_skip(PassChoice *c, const char *name)
{
    if (c->nskipped < PASS_CHOICE_MAX)
        c->skipped[c->nskipped++] = name;
}

void pass_enable(PassChoice *c, const char *name)
{
    if (c->nenabled < PASS_CHOICE_MAX)
        c->enabled[c->nenabled++] = name;
}

static bool listed(const char *const *list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* Does pass p run? Skipped ones never; optional ones when enabled or
 * stopped after (-d NAME). */
static bool runs(const Pass *p, const PassChoice *c, const char *stop_after)
{
    static const PassChoice defaults;
    if (!c)
        c = &defaults;
    if (listed(c->skipped, c->nskipped, p->name))
        return false;
    return !listed(optional, NOPTIONAL, p->name) || listed(c->enabled, c->nenabled, p->name) ||
           (stop_after && strcmp(stop_after, p->name) == 0);
}

bool pass_known(const char *name)
{
    for (int i = 0; i < NFORWARD; i++)
        if (strcmp(forward_passes[i].name, name) == 0)
            return true;
    for (int i = 0; i < NPASSES; i++)
        if (strcmp(passes[i].name, name) == 0)
            return true;
    return strcmp(name, "dce") == 0;
}

const char *pass_names(void)
{
    const char *s = NULL;
    for (int i = 0; i < NFORWARD; i++)
        s = s ? arena_printf(&perm, "%s | %s", s, forward_passes[i].name) : forward_passes[i].name;
    s = s ? arena_printf(&perm, "%s | dce", s) : "dce";
    for (int i = 0; i < NPASSES; i++)
        s = arena_printf(&perm, "%s | %s", s, passes[i].name);
    return s;
}

static void dump_fused(FILE *f, const Graph *g, int indent)
{
    for (int i = 0; i < g->n; i++) {
        const Node *n = g->nodes[i];
        if (n->op == OP_SCAN)
            dump_fused(f, n->scan->body, indent + 4);
        if (n->op != OP_FUSED)
            continue;
        fprintf(f, "%*sfused %%%d body:\n", indent, "", n->id);
        for (int k = 0; k < n->scan->nin; k++)
            fprintf(f, "%*s  in %d: %%%d -> arg %%%d\n", indent, "", k, n->in[k]->id, n->scan->in[k].arg->id);
        for (int o = 0; o < n->scan->nout; o++)
            fprintf(f, "%*s  out %d: %%%d\n", indent, "", o, n->scan->out[o].node->id);
        graph_dump(f, n->scan->body, indent + 4);
    }
}

void passes_dump(FILE *f, const Model *m)
{
    model_dump(f, m);
    dump_fused(f, m->g, 0);
    memplan_dump(f, m);
}

bool passes_run_forward(Model *m, const PassChoice *c, const char *stop_after)
{
    for (int i = 0; i < NFORWARD; i++) {
        if (runs(&forward_passes[i], c, stop_after))
            forward_passes[i].run(m);
        pass_dce(m);
        graph_verify(m->g);
        if (stop_after && strcmp(stop_after, forward_passes[i].name) == 0)
            return true;
    }
    return false;
}

bool passes_run(Model *m, const PassChoice *c, const char *stop_after)
{
    pass_dce(m);
    if (stop_after && strcmp(stop_after, "dce") == 0)
        return true;
    for (int i = 0; i < NPASSES; i++) {
        if (runs(&passes[i], c, stop_after))
            passes[i].run(m);
        pass_dce(m);
        graph_verify(m->g);
        if (stop_after && strcmp(stop_after, passes[i].name) == 0)
            return true;
    }
    return false;
}
