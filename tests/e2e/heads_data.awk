# heads_data.awk: self-made datasets for the task heads (issue #3).
#   awk -v task=labelling -v n=N -v seed=S -f heads_data.awk
#     N sentences of `char<TAB>label` lines, a blank line after each. The
#     characters are a-e, space and parentheses (nested at most twice, all
#     closed by the end of the sentence); the label is I when the character
#     sits inside parentheses (an unclosed '(' before it, so ')' is I and
#     the outermost '(' is O) and O otherwise: only the history tells.
#   awk -v task=classification -v n=N -v seed=S [-v maxlen=M] -f ...
#     N `label<TAB>text` lines over a, b, c (length 3 .. maxlen, default
#     20); the label is `more_a` or `more_b` by which of a and b occurs more
#     often (ties are redrawn).
function letter() { return substr("abcde ", 1 + int(rand() * 6), 1) }
function sentence(   len, i, depth, c, r) {
    len = 10 + int(rand() * 20)
    depth = 0
    for (i = 0; i < len || depth > 0; i++) {
        r = rand()
        if (i < len && r < 0.12 && depth < 2)
            c = "("
        else if (depth > 0 && (r > 0.82 || i >= len))
            c = ")"
        else
            c = letter()
        printf "%s\t%s\n", c, (depth > 0 ? "I" : "O")
        depth += (c == "(") - (c == ")")
    }
    printf "\n"
}
function line(   len, i, c, na, nb, s) {
    do {
        len = 3 + int(rand() * (maxlen - 2))
        s = ""
        na = nb = 0
        for (i = 0; i < len; i++) {
            c = substr("abc", 1 + int(rand() * 3), 1)
            na += c == "a"
            nb += c == "b"
            s = s c
        }
    } while (na == nb)
    printf "%s\t%s\n", (na > nb ? "more_a" : "more_b"), s
}
BEGIN {
    srand(seed + 0)
    if (maxlen == "")
        maxlen = 20
    for (k = 0; k < n; k++)
        if (task == "labelling")
            sentence()
        else
            line()
}
