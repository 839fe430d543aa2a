/*
 * ngram_driver.c: a stand-in for rnnc's output for specs/ngram.yaml, used
 * by bench/ngram_bench.sh and examples/ngram until the compiler emits
 * generated/ngram.c. It fills the descriptor with the values the spec is
 * expected to hold and hands over to the runtime, which is all the
 * generated file will do.
 */
#include "rnnrt_ngram.h"

static const RnnrtNgramSpec spec = {
    .name = "ngram",
    .spec_path = "specs/ngram.yaml",
    .spec_hash = 0,
    .tokens = "char",
    .normalize = "none",
    .split = 0.9,
    .order = 5,
    .smoothing = "modified_kneser_ney",
    .k = 1.0,
    .discount = -1.0,
};

int main(int argc, char **argv)
{
    return rnnrt_ngram_main(argc, argv, &spec);
}
