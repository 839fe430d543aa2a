/*
 * rnnrt_progress.c: the one-line training progress report on stderr.
 *
 *   epoch 3/20  step 120/147  loss 1.8345  ppl 6.26  41.2k tok/s  ETA 2m13s
 *
 * On a terminal the line is redrawn in place with '\r' (at most ten times a
 * second) and cleared before anything else is printed; otherwise (a log
 * file, CI) it is printed as an ordinary line every few seconds, so logs
 * stay readable and still show that the run is alive.
 */
#include "rnnrt.h"

#include <math.h>
#include <unistd.h>

void rnnrt_progress_init(RnnrtProgress *p, FILE *f, int quiet)
{
    p->f = f;
    p->quiet = quiet;
    p->tty = isatty(fileno(f));
    p->shown = 0;
    p->t_start = p->t_last = rnnrt_now();
    p->interval = p->tty ? 0.1 : 5.0;
}

static void format_duration(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static void format_rate(char *buf, size_t n, double r)
{
    if (r >= 1e6)
        snprintf(buf, n, "%.2fM", r / 1e6);
    else if (r >= 1e3)
        snprintf(buf, n, "%.1fk", r / 1e3);
    else
        snprintf(buf, n, "%.0f", r);
}

void rnnrt_progress_update(RnnrtProgress *p, int epoch, int epochs,
                           size_t batch, size_t nbatches, double loss,
                           double avg_loss, double tok_s,
                           double eta_seconds)
{
    double now = rnnrt_now();
    if (p->quiet || now - p->t_last < p->interval)
        return;
    p->t_last = now;
    char eta[32], rate[32];
    format_duration(eta, sizeof eta, eta_seconds);
    format_rate(rate, sizeof rate, tok_s);
    fprintf(p->f, "%sepoch %d/%d  step %zu/%zu  loss %.4f  ppl %.2f  "
                  "%s tok/s  ETA %s%s",
            p->tty ? "\r" : "", epoch, epochs, batch, nbatches, loss,
            exp(avg_loss), rate, eta, p->tty ? "\033[K" : "\n");
    fflush(p->f);
    p->shown = p->tty;
}

void rnnrt_progress_clear(RnnrtProgress *p)
{
    if (p->shown) {
        fprintf(p->f, "\r\033[K");
        fflush(p->f);
        p->shown = 0;
    }
}
