/*
 * rnnrt_text.c: getting corpus text into memory and into the recipe's shape.
 *
 *  - rnnrt_file_read reads one file, refusing directories and anything past
 *    a size limit (1 GiB for corpora) before it is slurped, and reports the
 *    path with strerror on failure (exit 3).
 *  - rnnrt_text_read_dir builds the default corpus: the regular files of a
 *    directory in byte order of their names, joined with "\n".
 *  - rnnrt_utf8_check is the strict gate in front of the char tokenizer: a
 *    bad byte is an error with its line:col, never silently replaced.
 *  - rnnrt_text_normalize applies the recipe's normalization in place.
 *    "letters" reproduces Python's re.sub("[^a-z]+", " ", text.lower())
 *    .strip() byte for byte on valid UTF-8 (see rnnrt.h for the two
 *    non-ASCII characters Python lowers to ASCII letters).
 */
#include "rnnrt.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int rnnrt_file_read(const char *path, size_t max_bytes, char **data,
                    size_t *len, RnnrtError *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rnnrt_error(err, RNNRT_EXIT_IO, "cannot open '%s': %s", path,
                           strerror(errno));
    struct stat st = {0};
    if (fstat(fileno(f), &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            fclose(f);
            return rnnrt_error(err, RNNRT_EXIT_IO, "cannot read '%s': %s",
                               path, strerror(EISDIR));
        }
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
            fclose(f);
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is %lld bytes; the limit is %zu bytes "
                               "(%.3g GiB)", path, (long long)st.st_size,
                               max_bytes, (double)max_bytes / (1 << 30));
        }
    }
    size_t cap = 1 << 16, n = 0;
    if (S_ISREG(st.st_mode))
        cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) {
            fclose(f);
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "out of memory reading '%s' (%zu bytes)", path,
                               cap);
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        if (n > max_bytes) {
            free(buf);
            fclose(f);
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is larger than the limit of %zu bytes",
                               path, max_bytes);
        }
        cap *= 2;
        char *grown = realloc(buf, cap + 1);
        if (!grown)
            free(buf);
        buf = grown;
    }
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad) {
        free(buf);
        return rnnrt_error(err, RNNRT_EXIT_IO, "error reading '%s': %s", path,
                           strerror(saved));
    }
    if (n > max_bytes) {
        free(buf);
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "'%s' is larger than the limit of %zu bytes", path,
                           max_bytes);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the regular files (not symlinks) in dir, sorted. */
static int list_regular_files(const char *dir, char ***names, size_t *count,
                              RnnrtError *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot open the default corpus directory '%s': "
                           "%s (give a corpus with --data PATH)", dir,
                           strerror(errno));
    size_t n = 0, cap = 16;
    char **v = rnnrt_xcalloc(cap, sizeof *v, "file names");
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap *= 2;
            char **grown = realloc(v, cap * sizeof *v);
            if (!grown) {
                fprintf(stderr, "error: out of memory listing '%s'\n", dir);
                exit(RNNRT_EXIT_IO);
            }
            v = grown;
        }
        v[n] = rnnrt_xcalloc(strlen(e->d_name) + 1, 1, "file name");
        strcpy(v[n++], e->d_name);
    }
    closedir(d);
    qsort(v, n, sizeof *v, by_name);
    *names = v;
    *count = n;
    return 0;
}

int rnnrt_text_read_dir(const char *dir, char **data, size_t *len,
                        RnnrtError *err)
{
    char **names = NULL;
    size_t count = 0;
    int rc = list_regular_files(dir, &names, &count, err);
    if (rc)
        return rc;
    char *all = NULL;
    size_t n = 0;
    for (size_t i = 0; i < count && !rc; i++) {
        char path[4096], *one;
        size_t m;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        rc = rnnrt_file_read(path, RNNRT_MAX_CORPUS_BYTES - n, &one, &m, err);
        if (rc)
            break;
        char *grown = realloc(all, n + m + 2);
        if (!grown) {
            free(one);
            rc = rnnrt_error(err, RNNRT_EXIT_IO, "out of memory reading '%s'",
                             dir);
            break;
        }
        all = grown;
        if (i > 0)
            all[n++] = '\n';
        memcpy(all + n, one, m);
        n += m;
        all[n] = '\0';
        free(one);
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    if (!rc && count == 0)
        rc = rnnrt_error(err, RNNRT_EXIT_DATA,
                         "no regular files in '%s' (give a corpus with "
                         "--data PATH)", dir);
    if (rc) {
        free(all);
        return rc;
    }
    *data = all;
    *len = n;
    return 0;
}

int rnnrt_norm_parse(const char *name, RnnrtNorm *out)
{
    if (!name || !strcmp(name, "none"))
        *out = RNNRT_NORM_NONE;
    else if (!strcmp(name, "lower"))
        *out = RNNRT_NORM_LOWER;
    else if (!strcmp(name, "letters"))
        *out = RNNRT_NORM_LETTERS;
    else
        return -1;
    return 0;
}

/* The letter that byte sequence s[i..] lowercases to under Python's
 * str.lower(), or 0 for a non-letter. *adv = bytes consumed; *then_gap = 1
 * when lower() also produced a non-letter after it (U+0130 -> i U+0307). */
static char letter_at(const unsigned char *s, size_t i, size_t len,
                      size_t *adv, int *then_gap)
{
    unsigned char c = s[i];
    *adv = 1;
    *then_gap = 0;
    if (c >= 'a' && c <= 'z')
        return (char)c;
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    if (c == 0xC4 && i + 1 < len && s[i + 1] == 0xB0) { /* U+0130 */
        *adv = 2;
        *then_gap = 1;
        return 'i';
    }
    if (c == 0xE2 && i + 2 < len && s[i + 1] == 0x84 && s[i + 2] == 0xAA) {
        *adv = 3; /* U+212A KELVIN SIGN */
        return 'k';
    }
    return 0;
}

/* Never writes ahead of what it has read: a space is written only for a
 * consumed non-letter, and each letter for at least one consumed byte. */
static size_t normalize_letters(char *text, size_t len)
{
    unsigned char *s = (unsigned char *)text;
    size_t o = 0, i = 0;
    int gap = 0;
    while (i < len) {
        size_t adv;
        int then_gap;
        char c = letter_at(s, i, len, &adv, &then_gap);
        if (c) {
            if (gap && o > 0)
                s[o++] = ' ';
            s[o++] = (unsigned char)c;
            gap = then_gap;
        } else {
            gap = 1;
        }
        i += adv;
    }
    return o;
}

size_t rnnrt_text_normalize(char *text, size_t len, RnnrtNorm mode)
{
    switch (mode) {
    case RNNRT_NORM_NONE:
        return len;
    case RNNRT_NORM_LOWER:
        for (size_t i = 0; i < len; i++)
            if (text[i] >= 'A' && text[i] <= 'Z')
                text[i] = (char)(text[i] - 'A' + 'a');
        return len;
    case RNNRT_NORM_LETTERS:
        return normalize_letters(text, len);
    }
    return len;
}

int rnnrt_utf8_len(unsigned char lead)
{
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

size_t rnnrt_utf8_count(const char *text, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)text[i] & 0xC0) != 0x80;
    return n;
}

/* Length of the valid UTF-8 sequence at s[i..], or 0 when it is invalid.
 * The second byte's range excludes overlongs (E0, F0), surrogates (ED) and
 * code points past U+10FFFF (F4). */
static int utf8_valid_at(const unsigned char *s, size_t i, size_t len)
{
    unsigned char c = s[i];
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (len - i < (size_t)n)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (int k = 2; k < n; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
            return 0;
    return n;
}

int rnnrt_utf8_check(const char *text, size_t len, const char *path,
                     int allow_nul, RnnrtError *err)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t line = 1, line_start = 0, i = 0;
    while (i < len) {
        int n = s[i] ? utf8_valid_at(s, i, len) : (allow_nul ? 1 : 0);
        if (n == 0) {
            char where[600];
            snprintf(where, sizeof where, "%s:%zu:%zu", path, line,
                     i - line_start + 1);
            if (s[i] == 0)
                return rnnrt_error_at(err, RNNRT_EXIT_DATA, where,
                                      "NUL byte at byte offset %zu (the char "
                                      "tokenizer needs text)", i);
            return rnnrt_error_at(err, RNNRT_EXIT_DATA, where,
                                  "invalid UTF-8: byte 0x%02X at byte offset "
                                  "%zu does not start a valid character "
                                  "(the char tokenizer needs UTF-8 text)",
                                  s[i], i);
        }
        if (s[i] == '\n') {
            line++;
            line_start = i + 1;
        }
        i += (size_t)n;
    }
    return 0;
}
