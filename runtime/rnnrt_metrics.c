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

static double row_max(const real *row, int V)
{
    double mx = row[0];
    for (int v = 1; v < V; v++)
        if (row[v] > mx)
            mx = row[v];
    return mx;
}

/* log(sum exp(row - mx)) */
static double row_logsumexp(const real *row, int V, double mx)
{
    double sum = 0;
    for (int v = 0; v < V; v++)
        sum += exp((double)row[v] - mx);
    return log(sum);
}

double rnnrt_softmax_xent(const real *logits, const int32_t *targets, size_t n,
                          int V)
{
    if (n == 0)
        return 0;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const real *row = logits + i * (size_t)V;
        double mx = row_max(row, V);
        total += row_logsumexp(row, V, mx) + mx - (double)row[targets[i]];
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
    for (size_t i = 0; i < n; i++) {
        const real *row = logits + i * (size_t)V;
        real *drow = dlogits + i * (size_t)V;
        double mx = row_max(row, V);
        double lse = row_logsumexp(row, V, mx) + mx;
        for (int v = 0; v < V; v++) {
            double p = exp((double)row[v] - lse);
            drow[v] = (real)(scale * (p - (v == targets[i])));
        }
    }
}

double rnnrt_perplexity(double nll, double ntokens)
{
    if (ntokens <= 0)
        return NAN;
    return exp(nll / ntokens);
}
