/*
 * workspace.c: prints the workspace bytes a generated model needs for
 * B T V [X] (X: the labels L of a task head, or the target vocabulary Vt
 * of a seq2seq model). Built by tests/memplan/check.sh around one
 * generated file: -DGEN="file.c" -DMODEL=name_model -DKIND=0|1|2 (language
 * model | task head | seq2seq).
 */
#define RNNC_NO_MAIN
#include GEN

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s B T V X\n", argv[0]);
        return 2;
    }
    int B = atoi(argv[1]), T = atoi(argv[2]), V = atoi(argv[3]), X = atoi(argv[4]);
#if KIND == 0
    size_t n = MODEL.workspace(B, T, V);
    (void)X;
#elif KIND == 1
    size_t n = MODEL.workspace_l(B, T, V, X);
#else
    size_t n = MODEL.workspace(B, T, V, X);
#endif
    printf("%zu\n", n * sizeof(real));
    return n ? 0 : 1;
}
