/*
 * rnnrt_metrics.c: softmax cross-entropy (the loss of every language model
 * here), its gradient, and perplexity.
 *
 * logits are n rows of width V; row i is scored against targets[i]. The
 * loss of a row is logsumexp(row) - row[target], computed stably by
 * subtracting the row's maximum; sums run in double even in the float build
 * so the mean over T*B rows does not drift.
 */
#include "rnnrt.h"

#include <math.h>

/* Each row is rnnrt_xent_lse / rnnrt_xent_grad_row (rnnrt_kernels.c): in
 * double, libm in this order; in float, one vectorized exp per logit. */
double rnnrt_softmax_xent(const real *logits, const int32_t *targets, size_t n,
                          int V)
{
    if (n == 0)
        return 0;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const real *row = logits + i * (size_t)V;
        total += rnnrt_xent_lse(row, V) - (double)row[targets[i]];
    }
    return total / (double)n;
}

/* dlogits[i][v] = g * (softmax(row)[v] - [v == target]) / n */
void rnnrt_softmax_xent_grad(const real *logits, const int32_t *targets,
                             size_t n, int V, real g, real *dlogits)
{
    if (n == 0)
        return;
    double scale = (double)g / (double)n;
    for (size_t i = 0; i < n; i++)
        rnnrt_xent_grad_row(logits + i * (size_t)V, V, targets[i], scale,
                            dlogits + i * (size_t)V);
}

double rnnrt_perplexity(double nll, double ntokens)
{
    if (ntokens <= 0)
        return NAN;
    return exp(nll / ntokens);
}
