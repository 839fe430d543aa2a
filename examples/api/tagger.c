/*
 * tagger.c: a trained labelling model (a tagger) used from a program of
 * one's own, through the C API (runtime/rnnrt_api.h).
 *
 *   tagger CKPT TEXT...
 *
 * Opens the checkpoint that the model's trainer wrote and prints each
 * TEXT's tokens with their labels, `token<TAB>label` per line and a blank
 * line after each TEXT (what `tagger predict` prints for it). The tokens
 * of a char model are TEXT's characters, those of a word model its words
 * (split at spaces).
 *
 * Build: as examples/api/lm.c, with generated/tagger.c (CMake builds it as
 * build/examples/api/tagger). Errors come back from the API as a code and
 * a message; the program prints the message and exits with the code.
 */
#include "rnnrt_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TAGGER_MODEL
#define TAGGER_MODEL tagger_model
#endif
extern const RnnrtModel TAGGER_MODEL;

/* Splits text (modified in place) into tokens: UTF-8 characters, or words
 * at spaces. Returns the count; tok has room for strlen(text) + 1 tokens,
 * chars the same number of 5-byte cells. */
static size_t split(char *text, int words, char **tok, char (*chars)[5])
{
    size_t n = 0;
    if (words) {
        for (char *w = strtok(text, " "); w; w = strtok(NULL, " "))
            tok[n++] = w;
        return n;
    }
    for (size_t i = 0; text[i];) {
        unsigned char c = (unsigned char)text[i];
        size_t k = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        size_t j = 0;
        for (; j < k && text[i + j]; j++)
            chars[n][j] = text[i + j];
        chars[n][j] = '\0';
        tok[n] = chars[n];
        n++;
        i += j;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CKPT TEXT...\n", argv[0]);
        return RNNRT_EXIT_USAGE;
    }
    RnnrtError err;
    RnnrtTagger *t = NULL;
    if (rnnrt_tagger_open(&t, argv[1], &TAGGER_MODEL, &err)) {
        rnnrt_error_print(&err, "tagger");
        return err.code;
    }
    RnnrtTaskInfo info;
    rnnrt_tagger_info(t, &info, &err);
    printf("model %s: %d %s tokens, %d labels, %lld training steps, %s\n",
           info.name, info.vocab, info.tokens, info.labels,
           (long long)info.train_steps, info.real);
    int rc = 0;
    for (int a = 2; a < argc && !rc; a++) {
        size_t len = strlen(argv[a]);
        char **tok = malloc((len + 1) * sizeof *tok);
        char (*chars)[5] = malloc((len + 1) * sizeof *chars);
        int *labels = malloc((len + 1) * sizeof *labels);
        if (!tok || !chars || !labels) {
            fprintf(stderr, "tagger: out of memory\n");
            return RNNRT_EXIT_IO;
        }
        size_t n = split(argv[a], !strcmp(info.tokens, "word"), tok, chars);
        size_t unk = 0;
        rc = rnnrt_tagger_label(t, (const char *const *)tok, n, labels, &unk,
                                &err);
        for (size_t i = 0; !rc && i < n; i++) {
            const char *name;
            rc = rnnrt_tagger_label_name(t, labels[i], &name, &err);
            if (!rc)
                printf("%s\t%s\n", tok[i], name);
        }
        if (!rc)
            printf("\n");
        free(tok);
        free(chars);
        free(labels);
    }
    if (rc)
        rnnrt_error_print(&err, "tagger");
    rnnrt_tagger_close(&t);
    return rc;
}
