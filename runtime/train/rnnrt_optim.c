/*
 * rnnrt_optim.c: the parameter update and gradient clipping.
 *
 * Both work on the whole parameter block at once (all parameters are one
 * array, see rnnrt_model.c), so "global norm" is simply the norm of the
 * gradient block. Clipping follows torch.nn.utils.clip_grad_norm_: the
 * scale is max_norm / (total + 1e-6), applied only when it is below 1. A
 * non-finite total leaves the gradient alone and is returned so the
 * trainer can skip the step.
 *
 * The optimizers with state (SGD with momentum, Adam) follow PyTorch's
 * update rules line by line (rnnrt.h quotes them); their moments are one
 * block each, parallel to the parameter block. In the double build each
 * element's update is computed in double, so it matches PyTorch's float64
 * arithmetic; the float build does the same steps in float, as PyTorch's
 * float32 tensors do, in loops GCC vectorizes (issue #5: the per-element
 * double conversions were 8% of a seq2seq step). The moments are `real`
 * either way, so checkpoints keep their format.
 */
/* CMakeLists.txt compiles this file with -fno-math-errno, which Adam's
 * sqrtf needs to vectorize. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif
#include "rnnrt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* p -= lr * g */
void rnnrt_sgd_step(real *p, const real *g, size_t n, double lr)
{
    real a = (real)lr;
    for (size_t i = 0; i < n; i++)
        p[i] -= a * g[i];
}

#ifdef RNNRT_DOUBLE
double rnnrt_grad_norm(const real *g, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)g[i] * (double)g[i];
    return sqrt(sum);
}
#else
/* Squares summed in double over NORM_LANES partial sums, so the loop
 * vectorizes without GCC reassociating on its own (fixed order). */
#define NORM_LANES 8
double rnnrt_grad_norm(const real *g, size_t n)
{
    double s[NORM_LANES] = {0};
    size_t i = 0;
    for (; i + NORM_LANES <= n; i += NORM_LANES)
        for (int j = 0; j < NORM_LANES; j++)
            s[j] += (double)g[i + j] * (double)g[i + j];
    double sum = 0;
    for (int j = 0; j < NORM_LANES; j++)
        sum += s[j];
    for (; i < n; i++)
        sum += (double)g[i] * (double)g[i];
    return sqrt(sum);
}
#endif

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

/* ---- optimizers with state: SGD with momentum, Adam ---- */

static const char *const optim_names[] = {"sgd", "momentum", "adam"};

const char *rnnrt_optim_name(RnnrtOptimKind kind)
{
    return (unsigned)kind < 3 ? optim_names[kind] : "?";
}

size_t rnnrt_optim_state_size(const RnnrtOptim *o)
{
    return o->kind == RNNRT_OPTIM_ADAM       ? 2 * o->n
           : o->kind == RNNRT_OPTIM_MOMENTUM ? o->n
                                             : 0;
}

/* A hyperparameter: 0 picks the default; otherwise it must lie in
 * [lo, hi) (or (lo, hi) when lo is excluded). */
static int hyper(double x, double def, double lo, int lo_closed, double hi,
                 const char *name, double *out, RnnrtError *err)
{
    if (x == 0) {
        *out = def;
        return 0;
    }
    if (!(x > lo || (lo_closed && x == lo)) || !(x < hi))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "optimizer %s must be in %c%g, %g), not %g", name,
                           lo_closed ? '[' : '(', lo, hi, x);
    *out = x;
    return 0;
}

int rnnrt_optim_init(RnnrtOptim *o, const char *name, double momentum,
                     double beta1, double beta2, double eps, size_t n,
                     RnnrtError *err)
{
    memset(o, 0, sizeof *o);
    int k = 0;
    while (k < 3 && strcmp(name ? name : "sgd", optim_names[k]))
        k++;
    if (k == 3)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "unknown optimizer '%s' (expected sgd, momentum "
                           "or adam)", name);
    o->kind = (RnnrtOptimKind)k;
    o->n = n;
    int rc = 0;
    if (o->kind == RNNRT_OPTIM_MOMENTUM)
        rc = hyper(momentum, 0.9, 0, 0, 1, "momentum", &o->momentum, err);
    if (o->kind == RNNRT_OPTIM_ADAM) {
        rc = hyper(beta1, 0.9, 0, 1, 1, "beta1", &o->beta1, err);
        if (!rc)
            rc = hyper(beta2, 0.999, 0, 1, 1, "beta2", &o->beta2, err);
        if (!rc)
            rc = hyper(eps, 1e-8, 0, 0, HUGE_VAL, "eps", &o->eps, err);
    }
    if (rc)
        return rc;
    if (o->kind != RNNRT_OPTIM_SGD)
        o->m1 = rnnrt_xcalloc(n ? n : 1, sizeof(real), "optimizer moments");
    if (o->kind == RNNRT_OPTIM_ADAM)
        o->m2 = rnnrt_xcalloc(n ? n : 1, sizeof(real), "optimizer moments");
    return 0;
}

void rnnrt_optim_free(RnnrtOptim *o)
{
    free(o->m1);
    free(o->m2);
    o->m1 = o->m2 = NULL;
}

/* torch.optim.SGD(momentum=mu): the buffer starts as a copy of the first
 * gradient (not mu * 0 + g, which is the same number but says why t
 * matters). */
static void momentum_step(RnnrtOptim *o, real *p, const real *g, double lr)
{
    real *b = o->m1;
#ifdef RNNRT_DOUBLE
    double mu = o->momentum;
    for (size_t i = 0; i < o->n; i++) {
        b[i] = o->t == 0 ? g[i] : (real)(mu * (double)b[i] + (double)g[i]);
        p[i] = (real)((double)p[i] - lr * (double)b[i]);
    }
#else
    float mu = (float)o->momentum, a = (float)lr;
    if (o->t == 0)
        memcpy(b, g, o->n * sizeof *b);
    else
        for (size_t i = 0; i < o->n; i++)
            b[i] = mu * b[i] + g[i];
    for (size_t i = 0; i < o->n; i++)
        p[i] -= a * b[i];
#endif
}

/* torch.optim.Adam, _single_tensor_adam in torch 1.13 (amsgrad off):
 *   exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
 *   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
 *   step_size = lr / (1 - beta1**t)
 *   denom = (exp_avg_sq.sqrt() / sqrt(1 - beta2**t)).add_(eps)
 *   param.addcdiv_(exp_avg, denom, value=-step_size) */
static void adam_step(RnnrtOptim *o, real *p, const real *g, double lr)
{
    double b1 = o->beta1, b2 = o->beta2, t = (double)(o->t + 1);
    double step_size = lr / (1 - pow(b1, t));
    double bc2_sqrt = sqrt(1 - pow(b2, t));
#ifdef RNNRT_DOUBLE
    for (size_t i = 0; i < o->n; i++) {
        double gi = (double)g[i];
        double m = b1 * (double)o->m1[i] + (1 - b1) * gi;
        double v = b2 * (double)o->m2[i] + (1 - b2) * gi * gi;
        o->m1[i] = (real)m;
        o->m2[i] = (real)v;
        double denom = sqrt((double)o->m2[i]) / bc2_sqrt + o->eps;
        p[i] = (real)((double)p[i] - step_size * (double)o->m1[i] / denom);
    }
#else
    /* The scalars rounded to float once, as torch passes them to a
     * float32 kernel; the restrict copies let GCC vectorize. */
    float fb1 = (float)b1, fc1 = (float)(1 - b1), fb2 = (float)b2, fc2 = (float)(1 - b2);
    float fstep = (float)step_size, fbc2 = (float)bc2_sqrt, feps = (float)o->eps;
    float *restrict m1 = o->m1, *restrict m2 = o->m2, *restrict pp = p;
    const float *restrict gg = g;
    for (size_t i = 0; i < o->n; i++) {
        float m = fb1 * m1[i] + fc1 * gg[i];
        float v = fb2 * m2[i] + fc2 * gg[i] * gg[i];
        m1[i] = m;
        m2[i] = v;
        pp[i] -= fstep * m / (sqrtf(v) / fbc2 + feps);
    }
#endif
}

void rnnrt_optim_step(RnnrtOptim *o, real *p, const real *g, double lr)
{
    if (o->kind == RNNRT_OPTIM_MOMENTUM)
        momentum_step(o, p, g, lr);
    else if (o->kind == RNNRT_OPTIM_ADAM)
        adam_step(o, p, g, lr);
    else
        rnnrt_sgd_step(p, g, o->n, lr);
    o->t++;
}

/* Weight decay wd, before the step with learning rate lr (after clipping,
 * as torch applies it inside optimizer.step()): L2 for SGD and momentum,
 * g += wd * p (torch.optim.SGD's weight_decay); decoupled for Adam,
 * p *= 1 - lr * wd (torch.optim.AdamW, _single_tensor_adamw). */
void rnnrt_optim_decay(const RnnrtOptim *o, double wd, real *p, real *g,
                       double lr)
{
    if (!(wd > 0))
        return;
    if (o->kind == RNNRT_OPTIM_ADAM) {
        real keep = (real)(1 - lr * wd);
        for (size_t i = 0; i < o->n; i++)
            p[i] *= keep;
    } else {
        real a = (real)wd;
        for (size_t i = 0; i < o->n; i++)
            g[i] += a * p[i];
    }
}
