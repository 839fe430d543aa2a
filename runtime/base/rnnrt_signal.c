/*
 * rnnrt_signal.c: SIGINT/SIGTERM handling for long runs (CERT SIG30-C).
 *
 * The handler does the only safe thing: it records the signal in a
 * volatile sig_atomic_t. The training, evaluation and sampling loops poll
 * rnnrt_signal_pending() between steps and, when it is set, save a
 * checkpoint atomically and exit 130 (SIGINT) or 143 (SIGTERM). A second
 * signal while that is happening means "stop now": the handler removes the
 * tmp file of a save in progress (rnnrt_out_unlink_active), writes one line
 * with write(2) and calls _Exit(RNNRT_EXIT_ABORTED), all async-signal-safe.
 * 75, not 130/143: those promise a clean save, and this run saved nothing.
 * The previous checkpoint is intact, because a save only renames a complete
 * file over it. SA_RESTART keeps reads and writes from failing with EINTR.
 */
#include "rnnrt.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t pending;
static struct sigaction old_int, old_term;
static int installed;

static void on_signal(int sig)
{
    if (pending) {
        rnnrt_out_unlink_active();
        static const char msg[] = "\ninterrupted again: stopped without "
                                  "saving (exit 75); a checkpoint saved "
                                  "before is unchanged\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _Exit(RNNRT_EXIT_ABORTED);
    }
    pending = sig;
}

void rnnrt_signal_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    installed = 1;
}

void rnnrt_signal_restore(void)
{
    if (!installed)
        return;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    installed = 0;
}

int rnnrt_signal_pending(void)
{
    return pending;
}

int rnnrt_signal_exit_code(int sig)
{
    return !sig ? 0 : sig == SIGTERM ? RNNRT_EXIT_SIGTERM : RNNRT_EXIT_SIGINT;
}

void rnnrt_signal_clear(void)
{
    pending = 0;
}
