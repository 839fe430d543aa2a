/*
 * rnnrt_words.c: the word tokenizer of `tokens: word`.
 *
 * The rule is in rnnrt.h and is meant to be read there; in short:
 * lowercase, whitespace separates, punctuation characters are tokens of
 * their own, an apostrophe between two word characters stays inside the
 * word. Every character is classified by its code point, decoded from
 * UTF-8, so a multi-byte character is never split and non-ASCII
 * punctuation (curly quotes, dashes, ellipsis) splits like ASCII does.
 * Both functions are linear and allocate nothing; rnnrt_words_split is
 * called twice by its users, once to count and once to fill. The
 * whitespace tokenizer and the <eos> marks (`tokens: whitespace`,
 * `data.eos`) are at the end.
 */
#include "rnnrt.h"

#include <string.h>

static const char unk_token[] = "<unk>";
enum { UNK_LEN = sizeof unk_token - 1 };

static int unk_at(const unsigned char *s, size_t i, size_t len)
{
    return len - i >= UNK_LEN && !memcmp(s + i, unk_token, UNK_LEN);
}

typedef enum { C_SPACE, C_PUNCT, C_APOS, C_WORD } Class;

/* The code point at s[i..] and its length in bytes. Invalid or truncated
 * sequences decode as one byte with code point 0xFFFD (a word character). */
static uint32_t decode(const unsigned char *s, size_t i, size_t len, size_t *n)
{
    unsigned char c = s[i];
    int k = rnnrt_utf8_len(c);
    *n = 1;
    if (c < 0x80)
        return c;
    if (c < 0xC2 || c > 0xF4 || i + (size_t)k > len)
        return 0xFFFD;
    uint32_t cp = c & (k == 2 ? 0x1F : k == 3 ? 0x0F : 0x07);
    for (int j = 1; j < k; j++) {
        if ((s[i + (size_t)j] & 0xC0) != 0x80)
            return 0xFFFD;
        cp = cp << 6 | (s[i + (size_t)j] & 0x3F);
    }
    *n = (size_t)k;
    return cp;
}

static int is_space(uint32_t cp)
{
    return cp < 0x20 || cp == 0x20 || cp == 0x7F || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static int is_punct(uint32_t cp)
{
    if (cp < 0x80)
        return !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
                 (cp >= '0' && cp <= '9'));
    if (cp >= 0xA1 && cp <= 0xBF)
        return cp != 0xAA && cp != 0xB5 && cp != 0xBA;
    return cp == 0xD7 || cp == 0xF7 || (cp >= 0x2010 && cp <= 0x2027) ||
           (cp >= 0x2030 && cp <= 0x205E);
}

static Class classify(uint32_t cp)
{
    if (is_space(cp))
        return C_SPACE;
    if (cp == '\'' || cp == 0x2019)
        return C_APOS;
    return is_punct(cp) ? C_PUNCT : C_WORD;
}

void rnnrt_words_lower(char *text, size_t len)
{
    unsigned char *s = (unsigned char *)text;
    for (size_t i = 0; i < len; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (unsigned char)(s[i] + 32);
        else if (s[i] == 0xC3 && i + 1 < len && s[i + 1] >= 0x80 &&
                 s[i + 1] <= 0x9E && s[i + 1] != 0x97) /* U+00C0..U+00DE */
            s[++i] += 32;
    }
}

/* Is the character starting at byte i (< len) a word character? */
static int word_at(const unsigned char *s, size_t i, size_t len)
{
    size_t n;
    return i < len && classify(decode(s, i, len, &n)) == C_WORD;
}

size_t rnnrt_words_split(const char *text, size_t len, RnnrtToken *out,
                         size_t max)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t count = 0, i = 0, start = 0;
    int in_word = 0;
    while (i <= len) {
        size_t n = 1;
        if (i < len && unk_at(s, i, len)) { /* rule 5 */
            if (in_word && out && count < max)
                out[count] = (RnnrtToken){start, i - start};
            count += (size_t)in_word;
            in_word = 0;
            if (out && count < max)
                out[count] = (RnnrtToken){i, UNK_LEN};
            count++;
            i += UNK_LEN;
            continue;
        }
        Class k = i < len ? classify(decode(s, i, len, &n)) : C_SPACE;
        if (k == C_APOS && in_word && word_at(s, i + n, len))
            k = C_WORD; /* don't, o'clock */
        if (in_word && k != C_WORD) {
            if (out && count < max)
                out[count] = (RnnrtToken){start, i - start};
            count++;
            in_word = 0;
        }
        if (k == C_WORD && !in_word) {
            start = i;
            in_word = 1;
        } else if (k == C_PUNCT || k == C_APOS) {
            if (out && count < max)
                out[count] = (RnnrtToken){i, n};
            count++;
        }
        i += n;
    }
    return count;
}

size_t rnnrt_words_split_ws(const char *text, size_t len, RnnrtToken *out,
                            size_t max)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t count = 0, i = 0, start = 0;
    int in_tok = 0;
    while (i <= len) {
        size_t n = 1;
        int sep = i == len || is_space(decode(s, i, len, &n));
        if (in_tok && sep) {
            if (out && count < max)
                out[count] = (RnnrtToken){start, i - start};
            count++;
            in_tok = 0;
        } else if (!in_tok && !sep) {
            start = i;
            in_tok = 1;
        }
        i += n;
    }
    return count;
}

int rnnrt_tokens_kind(const char *tokens)
{
    static const char *const names[] = {"char", "word", "whitespace"};
    for (int k = 0; tokens && k < 3; k++)
        if (!strcmp(tokens, names[k]))
            return k;
    return -1;
}

static size_t split_kind(int kind, const char *text, size_t len,
                         RnnrtToken *out, size_t max)
{
    return kind == RNNRT_TOKENS_WHITESPACE
               ? rnnrt_words_split_ws(text, len, out, max)
               : rnnrt_words_split(text, len, out, max);
}

size_t rnnrt_tokens_split(int kind, int eos, const char *text, size_t len,
                          RnnrtToken *out, size_t max)
{
    if (!eos)
        return split_kind(kind, text, len, out, max);
    size_t count = 0;
    for (size_t a = 0; a < len;) {
        const char *nl = memchr(text + a, '\n', len - a);
        size_t b = nl ? (size_t)(nl - text) : len;
        size_t room = out && count < max ? max - count : 0;
        size_t k = split_kind(kind, text + a, b - a,
                              room ? out + count : NULL, room);
        for (size_t j = 0; j < k && j < room; j++)
            out[count + j].off += a;
        count += k;
        if (out && count < max)
            out[count] = (RnnrtToken){b, 0};
        count++;
        a = b + 1;
    }
    return count;
}
