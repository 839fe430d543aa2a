/*
 * rnnrt_optim.c: the parameter update and gradient clipping.
 *
 * Both work on the whole parameter block at once (all parameters are one
 * array, see rnnrt_model.c), so "global norm" is simply the norm of the
 * gradient block. Clipping follows torch.nn.utils.clip_grad_norm_: the
 * scale is max_norm / (total + 1e-6), applied only when it is below 1. A
 * non-finite total leaves the gradient alone and is returned so the
 * trainer can skip the step.
 */
#include "rnnrt.h"

#include <math.h>

/* p -= lr * g */
void rnnrt_sgd_step(real *p, const real *g, size_t n, double lr)
{
    real a = (real)lr;
    for (size_t i = 0; i < n; i++)
        p[i] -= a * g[i];
}

double rnnrt_grad_norm(const real *g, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)g[i] * (double)g[i];
    return sqrt(sum);
}

double rnnrt_clip_grad_norm(real *g, size_t n, double max_norm)
{
    double total = rnnrt_grad_norm(g, n);
    if (max_norm <= 0 || !isfinite(total))
        return total;
    double coef = max_norm / (total + 1e-6);
    if (coef < 1) {
        real c = (real)coef;
        for (size_t i = 0; i < n; i++)
            g[i] *= c;
    }
    return total;
}
