/*
 * rnnrt_svg.h: the few pieces of SVG the runtime's pictures share (the
 * attention heatmaps of rnnrt_attnviz.c, the training curves of rnnc-plot):
 * the document's head and tail and escaped text. The callers write their
 * shapes with fprintf and save the file through rnnrt_out.h.
 */
#ifndef RNNRT_SVG_H
#define RNNRT_SVG_H

#include <stdio.h>

/* The XML declaration, <svg> of width x height (user units = pixels) in a
 * sans-serif font of font px, and a white background. */
void rnnrt_svg_begin(FILE *f, int width, int height, int font);
/* </svg>; 0, or -1 if a write to f failed (ferror). */
int rnnrt_svg_end(FILE *f);
/* s as XML character data or attribute value: & < > " ' escaped, the
 * control characters XML 1.0 forbids written as '?'. */
void rnnrt_svg_text(FILE *f, const char *s);

#endif
