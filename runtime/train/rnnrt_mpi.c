/*
 * rnnrt_mpi.c: data parallelism over MPI ranks (issue 16), the transport
 * under the training driver's step, stop and save hooks.
 *
 * `mpirun -np N trainer train ...` starts N copies of the trainer. Each
 * reads the same data and builds the same global minibatch of B rows;
 * rank r computes only its rows (rnnrt_mpi_rows: B = 7 over 2 ranks is
 * 4 + 3, the thread split's dealing), optionally split again over its
 * --threads. The rank's loss and gradients come back already weighted by
 * rows / B (rnnrt_parallel.c), so the minibatch's are their plain sum:
 *
 *   rnnrt_mpi_sum   every rank adds up one piece of the gradient over
 *                   the ranks, in rank order (in double), and the summed
 *                   pieces go to every rank (sum_reals)
 *
 * MPI_Allreduce is not used for this: the standard lets an implementation
 * add in any order (Open MPI picks its algorithm by message size and
 * process count), and floating-point addition is not associative, so the
 * ranks and the runs could differ in the last bits. With a fixed order per
 * element a run is bit-reproducible for a given N, every rank
 * ends with identical parameters, and N ranks x 1 thread compute the same
 * double sums as 1 rank x N threads.
 *
 * Every rank reading the data (instead of rank 0 broadcasting it) keeps
 * one code path for 1 and N ranks, costs each rank one read of a corpus
 * that is small next to the training, and makes each rank check the
 * corpus hash against the checkpoint on its own.
 *
 * MPI starts only when a launcher says this process is one of several
 * (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_SIZE above 1): a trainer run on
 * its own never initializes MPI, so single-process runs are unchanged. A
 * rank that dies makes mpirun abort the others (Open MPI's default,
 * MPI_ERRORS_ARE_FATAL); a rank that fails on its own calls MPI_Abort
 * (rnnrt_mpi_stop), so nobody waits in a collective for it.
 */
#include "rnnrt.h"

#include <stdlib.h>
#include <string.h>

#ifdef RNNC_MPI
#include <mpi.h>
#ifdef RNNRT_DOUBLE
#define MPI_REAL_T MPI_DOUBLE
#else
#define MPI_REAL_T MPI_FLOAT
#endif
#endif

static int started, rank, size = 1;
#ifdef RNNC_MPI
static real *gathered; /* [size][piece]: the ranks' pieces of a chunk */
static int *counts;    /* [4][size]: the pieces' sizes and offsets, sent
                          and received (sum_reals) */
#endif

/* The launcher's process count, 1 when there is none. */
int rnnrt_mpi_launched(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1)
            return atoi(v);
    }
    return 1;
}

int rnnrt_mpi_start(RnnrtError *err)
{
    int n = rnnrt_mpi_launched();
    if (started || n <= 1)
        return 0;
#ifdef RNNC_MPI
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return rnnrt_error(err, RNNRT_EXIT_IO, "MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    started = 1;
    return 0;
#else
    return rnnrt_error(err, RNNRT_EXIT_USAGE,
                       "started as one of %d MPI processes, but this "
                       "trainer was built without MPI (install "
                       "libopenmpi-dev and rebuild with -DRNNC_MPI=ON)", n);
#endif
}

void rnnrt_mpi_stop(int rc)
{
    if (!started)
        return;
    started = 0;
#ifdef RNNC_MPI
    /* 0 and an agreed interrupt end on every rank at once; any other
     * failure may be this rank's alone, and the others must not wait. */
    if (rc && rc != RNNRT_EXIT_SIGINT && rc != RNNRT_EXIT_SIGTERM) {
        fflush(NULL);
        MPI_Abort(MPI_COMM_WORLD, rc);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    free(gathered);
    free(counts);
    gathered = NULL;
    counts = NULL;
#else
    (void)rc;
#endif
}

int rnnrt_mpi_rank(void) { return rank; }
int rnnrt_mpi_size(void) { return size; }

void rnnrt_mpi_rows_of(int r, int B, int *row0, int *rows)
{
    int base = B / size, extra = B % size;
    *rows = base + (r < extra);
    *row0 = r * base + (r < extra ? r : extra);
}

void rnnrt_mpi_rows(int B, int *row0, int *rows)
{
    rnnrt_mpi_rows_of(rank, B, row0, rows);
}

#ifdef RNNC_MPI
enum { CHUNK = 1 << 20 }; /* reals summed at a time: bounds the buffers */

/* The sum over the ranks of g [n], in place on every rank. Each chunk is
 * cut into one piece per rank (rnnrt_mpi_rows_of's dealing); rank r
 * receives every rank's piece r (MPI_Alltoallv), adds them in rank order
 * (in double), and the summed pieces go to every rank (MPI_Allgatherv).
 * Each element is the same sum, in the same order, as rank 0 adding up
 * the gathered copies would give, so the bits are those of --threads N;
 * but the adding is shared out and no rank moves more than the block
 * twice. */
static void sum_reals(real *g, size_t n)
{
    int piece = CHUNK / size + 1;
    if (!gathered) { /* kept for the next step */
        gathered = rnnrt_xcalloc((size_t)size * (size_t)piece, sizeof(real),
                                 "the gradient sum over MPI ranks");
        counts = rnnrt_xcalloc((size_t)size * 4, sizeof(int),
                               "the gradient sum over MPI ranks");
    }
    int *cnt = counts, *off = counts + size, *rcnt = counts + 2 * size,
        *roff = counts + 3 * size;
    real *all = gathered;
    for (size_t k0 = 0; k0 < n; k0 += CHUNK) {
        int m = (int)(n - k0 < CHUNK ? n - k0 : CHUNK);
        for (int r = 0; r < size; r++)
            rnnrt_mpi_rows_of(r, m, &off[r], &cnt[r]);
        int mine = cnt[rank];
        for (int q = 0; q < size; q++) {
            rcnt[q] = mine;
            roff[q] = q * mine;
        }
        MPI_Alltoallv(g + k0, cnt, off, MPI_REAL_T, all, rcnt, roff,
                      MPI_REAL_T, MPI_COMM_WORLD);
        real *out = g + k0 + off[rank];
        for (int k = 0; k < mine; k++) {
            double s = 0;
            for (int q = 0; q < size; q++)
                s += (double)all[(size_t)q * (size_t)mine + (size_t)k];
            out[k] = (real)s;
        }
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, g + k0, cnt, off,
                       MPI_REAL_T, MPI_COMM_WORLD);
    }
}
#endif

void rnnrt_mpi_sum(double *v, int nv, real *g, size_t ng)
{
#ifdef RNNC_MPI
    if (!started || size <= 1)
        return;
    enum { MAXV = 8 };
    double all[64 * MAXV];
    double *buf = size <= 64 ? all : NULL;
    if (!buf)
        buf = rnnrt_xcalloc((size_t)size * MAXV, sizeof(double), "MPI sums");
    for (int i0 = 0; i0 < nv; i0 += MAXV) {
        int m = nv - i0 < MAXV ? nv - i0 : MAXV;
        MPI_Gather(v + i0, m, MPI_DOUBLE, buf, m, MPI_DOUBLE, 0,
                   MPI_COMM_WORLD);
        if (rank == 0)
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int r = 0; r < size; r++)
                    s += buf[r * m + i];
                v[i0 + i] = s;
            }
        MPI_Bcast(v + i0, m, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    }
    if (buf != all)
        free(buf);
    if (ng)
        sum_reals(g, ng);
#else
    (void)v, (void)nv, (void)g, (void)ng;
#endif
}

void rnnrt_mpi_max(int *v, int n)
{
#ifdef RNNC_MPI
    /* The maximum of integers is exact in any order. */
    if (started && size > 1)
        MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
#else
    (void)v, (void)n;
#endif
}

int rnnrt_mpi_bcast_int(int v)
{
#ifdef RNNC_MPI
    if (started && size > 1)
        MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
    return v;
}

void rnnrt_mpi_share_rows(real *buf, int blocks, int B, size_t w)
{
#ifdef RNNC_MPI
    if (!started || size <= 1)
        return;
    for (int r = 0; r < size; r++) {
        int row0, rows;
        rnnrt_mpi_rows_of(r, B, &row0, &rows);
        for (int k = 0; k < blocks; k++)
            MPI_Bcast(buf + ((size_t)k * (size_t)B + (size_t)row0) * w,
                      (int)((size_t)rows * w), MPI_REAL_T, r, MPI_COMM_WORLD);
    }
#else
    (void)buf, (void)blocks, (void)B, (void)w;
#endif
}
