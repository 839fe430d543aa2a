/*
 * rnnrt_svg.c: the shared pieces of SVG (rnnrt_svg.h).
 */
#include "rnnrt_svg.h"

void rnnrt_svg_begin(FILE *f, int width, int height, int font)
{
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\""
               " font-size=\"%d\">\n", width, height, width, height, font);
    fputs("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n", f);
}

int rnnrt_svg_end(FILE *f)
{
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}

void rnnrt_svg_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            fputc(c < 0x20 || c == 0x7F ? '?' : c, f);
        }
    }
}
