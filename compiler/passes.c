/*
 * passes.c: the pass list. Adding a pass means one new file and one new
 * line in `passes`; each pass is followed by dead code elimination and
 * graph_verify. `rnnc -d NAME` prints the model after pass NAME.
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
};
enum { NPASSES = sizeof passes / sizeof *passes };

bool pass_known(const char *name)
{
    for (int i = 0; i < NPASSES; i++)
        if (strcmp(passes[i].name, name) == 0)
            return true;
    return strcmp(name, "dce") == 0;
}

const char *pass_names(void)
{
    const char *s = "dce";
    for (int i = 0; i < NPASSES; i++)
        s = arena_printf(&perm, "%s | %s", s, passes[i].name);
    return s;
}

void passes_dump(FILE *f, const Model *m) { model_dump(f, m); }

bool passes_run(Model *m, const char *dump_after)
{
    pass_dce(m);
    if (dump_after && strcmp(dump_after, "dce") == 0) {
        passes_dump(stdout, m);
        return true;
    }
    for (int i = 0; i < NPASSES; i++) {
        passes[i].run(m);
        pass_dce(m);
        graph_verify(m->g);
        if (dump_after && strcmp(dump_after, passes[i].name) == 0) {
            passes_dump(stdout, m);
            return true;
        }
    }
    return false;
}
