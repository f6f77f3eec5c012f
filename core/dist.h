/* dist.h - the processes of one job: data parallelism over MPI.
 *
 * The same executables run alone or as N ranks under an MPI launcher
 * (`mpirun -np N r1-grpo ...`). MPI is Open MPI's (or any MPI's) library,
 * linked when the build found mpicc (make MPI=0: never); MPI_Init is only
 * called when a launcher started the process (its environment says so), so a
 * plain run never touches MPI and behaves exactly as a build without it.
 *
 * Contract:
 *   - r1_dist_init before anything else in main; r1_dist_end(d, status) last:
 *     with status 0 it finalises MPI, otherwise it aborts the whole job
 *     (MPI_Abort), so one failing rank never leaves the others waiting in a
 *     collective. Either way it returns the status for main to return.
 *   - With size 1 every collective is a no-op (no copy is made).
 *   - Every collective is called by all ranks in the same order; failures of
 *     MPI itself abort the job (MPI's default error handler): a rank that dies
 *     takes the job down with a non-zero exit on every rank.
 *   - Rank 0 is the only writer of the database, checkpoints and stdout
 *     summaries; the stages keep to that.
 *   - d->comm_seconds counts the time spent in the gradient collectives
 *     (all-reduce, reduce-scatter, all-gather), for metrics. */
#ifndef R1_DIST_H
#define R1_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "util.h"

typedef struct {
    int rank, size;
    int local_rank; /* this rank's index on its node (GPU choice) */
    int mpi;        /* MPI_Init was called */
    double comm_seconds;
    long fault_hits; /* the test hook's counter (r1_dist_fault) */
} R1Dist;

int r1_dist_init(R1Dist *d, int *argc, char ***argv, R1Err *err);
int r1_dist_end(R1Dist *d, int status);
/* The run database for this rank: rank 0 opens it for writing (and migrates
 * it), then the others open it read-only. Collective; an error on any rank is
 * an error on all (the others' message says so). */
int r1_dist_db_open(R1Dist *d, R1Db *db, const char *path, R1Err *err);
/* Prints "who: msg", or "who: rank R of N: msg" when there are several ranks. */
void r1_dist_error(const R1Dist *d, const char *who, const char *msg);
/* Ends the job at once (MPI_Abort; alone: exit) after printing "who: msg":
 * for failures inside a collective that the other ranks cannot learn about,
 * such as NCCL's. */
_Noreturn void r1_dist_fatal(R1Dist *d, const char *who, const char *msg);

/* Agreement on a phase's outcome: 1 when any rank passes a non-zero rc. */
int r1_dist_any(R1Dist *d, int rc);

/* In-place sums over ranks (float32 in buckets of at most 16 MiB; float64). */
void r1_dist_sum_f32(R1Dist *d, float *x, size_t n);
void r1_dist_sum_f64(R1Dist *d, double *x, int n);
void r1_dist_max_f64(R1Dist *d, double *x, int n);
/* Rank 0's bytes to every rank. */
void r1_dist_bcast(R1Dist *d, void *buf, size_t n);

/* Rank r's contiguous share [lo, hi) of n items split as evenly as possible. */
void r1_dist_share(size_t n, int size, int rank, size_t *lo, size_t *hi);
/* Which rank computes each of n items with these weights (token counts):
 * the heaviest first, each to the rank with the least weight so far (ties:
 * the lower rank; equal weights: the earlier item), so the ranks' loads
 * differ by at most the heaviest item. The same on every rank. */
void r1_dist_assign(const long *w, int n, int size, int *owner);
/* This rank's items (owner[i] == d->rank) of idx[0..n), in their order, into
 * out; returns their count. */
int r1_dist_mine(const R1Dist *d, const int *idx, const int *owner, int n, int *out);
/* Items 0..n-1, item i a run of len[i] floats computed by rank owner[i]; each
 * rank passes its own items' runs concatenated in item order. Returns the runs
 * of every item in item order (malloc'd): on every rank with all = 1 (an
 * all-gather), on rank 0 only with all = 0 (NULL elsewhere). */
float *r1_dist_items(R1Dist *d, const float *mine, const int *len, const int *owner, int n,
                     int all);

/* Every rank's n bytes, in rank order, to rank 0: returns a malloc'd
 * concatenation there (counts[r] filled, counts sized d->size) and NULL
 * elsewhere. */
char *r1_dist_gather(R1Dist *d, const void *buf, size_t n, size_t *counts);
/* Rank r's part x[lo[r] .. lo[r + 1]) to rank 0's x (mine: this rank's part;
 * x need only exist on rank 0). */
void r1_dist_gather_f32(R1Dist *d, const float *mine, float *x, const size_t *lo);
/* x[lo[r] .. lo[r + 1]) is rank r's part; afterwards every rank holds all. */
void r1_dist_allgather_f32(R1Dist *d, float *x, const size_t *lo);
/* Sum over ranks of x[lo[r] .. lo[r + 1]), left in rank r's part of x (the
 * rest of x is undefined afterwards). */
void r1_dist_reduce_scatter_f32(R1Dist *d, float *x, const size_t *lo);

/* A 64-bit fingerprint of n floats' bytes. */
uint64_t r1_hash_f32(const float *x, size_t n);
/* 0 when every rank passed the same h; otherwise an error naming the first
 * rank whose value differs from rank 0's and `what`. */
int r1_dist_same(R1Dist *d, uint64_t h, const char *what, R1Err *err);

/* Test hook: with R1C_FAULT="RANK:POINT" (or "RANK:POINT:K", the K-th time,
 * default 1) the rank RANK kills itself with SIGKILL when it reaches POINT, as
 * a crashed node would; for POINT "perturb" it returns 1 instead (the caller
 * then changes its weights on purpose). Never armed in normal runs. */
int r1_dist_fault(R1Dist *d, const char *point);

#endif
