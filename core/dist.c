/* dist.c - see dist.h. Compiled with R1_MPI when the build found mpicc; the
 * single-process path below never touches MPI. */
#include "dist.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef R1_MPI
#include <mpi.h>
#endif

/* Floats per all-reduce call: bounds MPI's temporary buffers and lets large
 * gradients go in pieces that fit an int count. */
#define BUCKET_FLOATS ((size_t)4 << 20)

static int env_int(const char *name) {
    const char *s = getenv(name);
    return s && *s ? atoi(s) : -1;
}

/* How many processes a launcher started (0: none did). Open MPI's mpirun,
 * MPICH's hydra and Slurm's PMI each say it in the environment. */
static int launched(void) {
    int n = env_int("OMPI_COMM_WORLD_SIZE");
    if (n < 0) n = env_int("PMI_SIZE");
    if (n < 0 && getenv("PMIX_RANK")) n = 1;
    return n < 0 ? 0 : n;
}

int r1_dist_init(R1Dist *d, int *argc, char ***argv, R1Err *err) {
    memset(d, 0, sizeof *d);
    d->size = 1;
    int n = launched();
#ifdef R1_MPI
    if (n > 0) {
        int provided;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return r1_seterr(err, "MPI_Init failed (launched as one of %d processes)", n);
        MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &d->size);
        d->mpi = 1;
        int lr = env_int("OMPI_COMM_WORLD_LOCAL_RANK");
        if (lr < 0) lr = env_int("MPI_LOCALRANKID");
        if (lr < 0) lr = env_int("SLURM_LOCALID");
        d->local_rank = lr < 0 ? d->rank : lr;
    }
#else
    (void)argc, (void)argv;
    if (n > 1)
        return r1_seterr(err,
                         "launched as one of %d processes, but this build has no MPI (it was "
                         "built with MPI=0 or without mpicc): install libopenmpi-dev and rebuild",
                         n);
#endif
    return 0;
}

int r1_dist_end(R1Dist *d, int status) {
#ifdef R1_MPI
    if (d->mpi) {
        fflush(stdout), fflush(stderr);
        /* A failed rank cannot finalise: the others may be waiting for it in a
         * collective. Aborting ends every rank with a non-zero status. */
        if (status != 0 && d->size > 1) MPI_Abort(MPI_COMM_WORLD, status);
        MPI_Finalize();
    }
#else
    (void)d;
#endif
    return status;
}

int r1_dist_db_open(R1Dist *d, R1Db *db, const char *path, R1Err *err) {
    int rc = d->rank == 0 ? r1_db_open(db, path, err) : 0;
    if (r1_dist_any(d, rc)) {
        if (rc == 0) {
            r1_db_close(db);
            rc = r1_seterr(err, "rank 0 could not open %s", path);
        }
        return rc;
    }
    if (d->rank != 0) rc = r1_db_open_readonly(db, path, err);
    if (r1_dist_any(d, rc) && rc == 0) {
        r1_db_close(db);
        rc = r1_seterr(err, "another rank could not open %s", path);
    }
    return rc;
}

void r1_dist_error(const R1Dist *d, const char *who, const char *msg) {
    if (d->size > 1)
        fprintf(stderr, "%s: rank %d of %d: %s\n", who, d->rank, d->size, msg);
    else
        fprintf(stderr, "%s: %s\n", who, msg);
}

void r1_dist_fatal(R1Dist *d, const char *who, const char *msg) {
    r1_dist_error(d, who, msg);
    r1_dist_end(d, 1);
    exit(1);
}

int r1_dist_any(R1Dist *d, int rc) {
    int bad = rc != 0;
#ifdef R1_MPI
    if (d->size > 1) MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
#else
    (void)d;
#endif
    return bad;
}

void r1_dist_sum_f32(R1Dist *d, float *x, size_t n) {
    if (d->size == 1) return;
#ifdef R1_MPI
    double t0 = r1_now();
    for (size_t at = 0; at < n; at += BUCKET_FLOATS) {
        size_t k = n - at < BUCKET_FLOATS ? n - at : BUCKET_FLOATS;
        MPI_Allreduce(MPI_IN_PLACE, x + at, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    d->comm_seconds += r1_now() - t0;
#else
    (void)x, (void)n;
#endif
}

void r1_dist_sum_f64(R1Dist *d, double *x, int n) {
#ifdef R1_MPI
    if (d->size > 1) MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#else
    (void)d, (void)x, (void)n;
#endif
}

void r1_dist_max_f64(R1Dist *d, double *x, int n) {
#ifdef R1_MPI
    if (d->size > 1) MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
#else
    (void)d, (void)x, (void)n;
#endif
}

void r1_dist_bcast(R1Dist *d, void *buf, size_t n) {
#ifdef R1_MPI
    for (size_t at = 0; d->size > 1 && at < n; at += INT_MAX / 2) {
        size_t k = n - at < INT_MAX / 2 ? n - at : INT_MAX / 2;
        MPI_Bcast((char *)buf + at, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
#else
    (void)d, (void)buf, (void)n;
#endif
}

void r1_dist_share(size_t n, int size, int rank, size_t *lo, size_t *hi) {
    *lo = n * (size_t)rank / (size_t)size;
    *hi = n * (size_t)(rank + 1) / (size_t)size;
}

typedef struct {
    long w;
    int i;
} Item;

static int heavier_first(const void *x, const void *y) {
    const Item *a = x, *b = y;
    return a->w != b->w ? (a->w > b->w ? -1 : 1) : (a->i > b->i) - (a->i < b->i);
}

void r1_dist_assign(const long *w, int n, int size, int *owner) {
    Item *it = r1_xmalloc(sizeof(Item) * (size_t)(n + 1));
    long *load = r1_xcalloc((size_t)size, sizeof(long));
    for (int i = 0; i < n; i++) it[i] = (Item){w[i], i};
    qsort(it, (size_t)n, sizeof *it, heavier_first);
    for (int k = 0; k < n; k++) {
        int best = 0;
        for (int r = 1; r < size; r++)
            if (load[r] < load[best]) best = r;
        /* weightless items go round the ranks, so counts stay even */
        if (it[k].w == 0) best = k % size;
        owner[it[k].i] = best, load[best] += it[k].w;
    }
    free(it), free(load);
}

int r1_dist_mine(const R1Dist *d, const int *idx, const int *owner, int n, int *out) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (owner[i] == d->rank) out[k++] = idx[i];
    return k;
}

float *r1_dist_items(R1Dist *d, const float *mine, const int *len, const int *owner, int n,
                     int all) {
    int N = d->size;
    size_t *seg = r1_xcalloc((size_t)N + 1, sizeof(size_t)), total = 0;
    for (int i = 0; i < n; i++) seg[owner[i] + 1] += (size_t)len[i], total += (size_t)len[i];
    for (int r = 0; r < N; r++) seg[r + 1] += seg[r]; /* rank r's runs: seg[r] .. seg[r + 1] */
    float *ranked = NULL;
    if (all) {
        ranked = r1_falloc(total ? total : 1);
        memcpy(ranked + seg[d->rank], mine, sizeof(float) * (seg[d->rank + 1] - seg[d->rank]));
        r1_dist_allgather_f32(d, ranked, seg);
    } else {
        size_t *counts = r1_xmalloc(sizeof(size_t) * (size_t)N);
        ranked = (float *)r1_dist_gather(d, mine, sizeof(float) * (seg[d->rank + 1] - seg[d->rank]),
                                         counts);
        free(counts);
    }
    float *out = NULL;
    if (ranked) { /* from rank order back to item order */
        out = r1_falloc(total ? total : 1);
        size_t at = 0;
        for (int i = 0; i < n; i++) {
            memcpy(out + at, ranked + seg[owner[i]], sizeof(float) * (size_t)len[i]);
            seg[owner[i]] += (size_t)len[i], at += (size_t)len[i];
        }
    }
    free(ranked), free(seg);
    return out;
}

char *r1_dist_gather(R1Dist *d, const void *buf, size_t n, size_t *counts) {
    if (d->size == 1) {
        char *out = r1_xmalloc(n ? n : 1);
        if (n) memcpy(out, buf, n);
        counts[0] = n;
        return out;
    }
#ifdef R1_MPI
    long long mine = (long long)n, *all = r1_xmalloc(sizeof(long long) * (size_t)d->size);
    MPI_Gather(&mine, 1, MPI_LONG_LONG, all, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    int *cnt = NULL, *disp = NULL;
    char *out = NULL;
    if (d->rank == 0) {
        size_t total = 0;
        cnt = r1_xmalloc(sizeof(int) * (size_t)d->size);
        disp = r1_xmalloc(sizeof(int) * (size_t)d->size);
        for (int r = 0; r < d->size; r++) {
            if (all[r] > INT_MAX || total + (size_t)all[r] > INT_MAX) {
                fprintf(stderr, "r1c: a gather of over 2 GiB to rank 0; split the step\n");
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
            counts[r] = (size_t)all[r], cnt[r] = (int)all[r], disp[r] = (int)total;
            total += (size_t)all[r];
        }
        out = r1_xmalloc(total ? total : 1);
    }
    MPI_Gatherv(buf, (int)n, MPI_BYTE, out, cnt, disp, MPI_BYTE, 0, MPI_COMM_WORLD);
    free(all), free(cnt), free(disp);
    return out;
#else
    (void)counts;
    return NULL;
#endif
}

#ifdef R1_MPI
/* Counts and displacements of the parts lo[r] .. lo[r + 1] (int: MPI's). */
static void parts(const R1Dist *d, const size_t *lo, int *cnt, int *disp) {
    for (int r = 0; r < d->size; r++) {
        if (lo[r + 1] - lo[r] > INT_MAX || lo[r] > INT_MAX) {
            fprintf(stderr, "r1c: a collective over offsets past 2^31 floats (a model of over "
                            "2^31 parameters) is not supported yet\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        cnt[r] = (int)(lo[r + 1] - lo[r]), disp[r] = (int)lo[r];
    }
}
#endif

void r1_dist_gather_f32(R1Dist *d, const float *mine, float *x, const size_t *lo) {
    if (d->size == 1) {
        memcpy(x + lo[0], mine, sizeof(float) * (lo[1] - lo[0]));
        return;
    }
#ifdef R1_MPI
    int *cnt = r1_xmalloc(sizeof(int) * (size_t)d->size), *disp = r1_xmalloc(sizeof(int) * d->size);
    parts(d, lo, cnt, disp);
    MPI_Gatherv(mine, cnt[d->rank], MPI_FLOAT, x, cnt, disp, MPI_FLOAT, 0, MPI_COMM_WORLD);
    free(cnt), free(disp);
#else
    (void)mine, (void)x;
#endif
}

void r1_dist_allgather_f32(R1Dist *d, float *x, const size_t *lo) {
    if (d->size == 1) return;
#ifdef R1_MPI
    double t0 = r1_now();
    int *cnt = r1_xmalloc(sizeof(int) * (size_t)d->size), *disp = r1_xmalloc(sizeof(int) * d->size);
    parts(d, lo, cnt, disp);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, cnt, disp, MPI_FLOAT, MPI_COMM_WORLD);
    free(cnt), free(disp);
    d->comm_seconds += r1_now() - t0;
#else
    (void)x, (void)lo;
#endif
}

void r1_dist_reduce_scatter_f32(R1Dist *d, float *x, const size_t *lo) {
    if (d->size == 1) return;
#ifdef R1_MPI
    /* In buckets: the k-th piece of every rank's part, packed side by side, is
     * one MPI_Reduce_scatter. One call over the whole buffer was 3-15x slower
     * than a bucketed all-reduce in Open MPI's shared-memory transport. */
    double t0 = r1_now();
    int N = d->size, *cnt = r1_xmalloc(sizeof(int) * (size_t)N);
    size_t piece = BUCKET_FLOATS / (size_t)N, longest = 0;
    for (int r = 0; r < N; r++)
        if (lo[r + 1] - lo[r] > longest) longest = lo[r + 1] - lo[r];
    float *send = r1_falloc(piece * (size_t)N), *recv = r1_falloc(piece);
    for (size_t at = 0; at < longest; at += piece) {
        size_t k = 0;
        for (int r = 0; r < N; r++) {
            size_t n = lo[r + 1] - lo[r], c = at >= n ? 0 : n - at < piece ? n - at : piece;
            memcpy(send + k, x + lo[r] + at, sizeof(float) * c);
            cnt[r] = (int)c, k += c;
        }
        MPI_Reduce_scatter(send, recv, cnt, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        memcpy(x + lo[d->rank] + at, recv, sizeof(float) * (size_t)cnt[d->rank]);
    }
    free(send), free(recv), free(cnt);
    d->comm_seconds += r1_now() - t0;
#else
    (void)x, (void)lo;
#endif
}

uint64_t r1_hash_f32(const float *x, size_t n) {
    const uint32_t *w = (const uint32_t *)(const void *)x;
    uint64_t h[4] = {0x9e3779b97f4a7c15ULL, 0xbf58476d1ce4e5b9ULL, 0x94d049bb133111ebULL,
                     0x2545f4914f6cdd1dULL};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) h[k] = (h[k] ^ w[i + k]) * 0x100000001b3ULL;
    for (; i < n; i++) h[0] = (h[0] ^ w[i]) * 0x100000001b3ULL;
    uint64_t s = n;
    for (int k = 0; k < 4; k++) s = (s ^ h[k] ^ (h[k] >> 29)) * 0xff51afd7ed558ccdULL;
    return s ^ (s >> 32);
}

int r1_dist_same(R1Dist *d, uint64_t h, const char *what, R1Err *err) {
    if (d->size == 1) return 0;
#ifdef R1_MPI
    unsigned long long mine = h, *all = r1_xmalloc(sizeof(unsigned long long) * (size_t)d->size);
    MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all, 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
    int bad = -1;
    for (int r = 1; r < d->size && bad < 0; r++)
        if (all[r] != all[0]) bad = r;
    int rc = 0;
    if (bad > 0)
        rc = r1_seterr(err,
                       "the ranks diverged: %s on rank %d (checksum %016llx) differ from rank "
                       "0's (%016llx); stopping before anything is written",
                       what, bad, all[bad], all[0]);
    free(all);
    return rc;
#else
    (void)h, (void)what, (void)err;
    return 0;
#endif
}

int r1_dist_fault(R1Dist *d, const char *point) {
    const char *s = getenv("R1C_FAULT");
    if (!s || !*s) return 0;
    char name[64] = {0};
    int rank = -1, k = 1;
    if (sscanf(s, "%d:%63[^:]:%d", &rank, name, &k) < 2 || rank != d->rank || strcmp(name, point))
        return 0;
    if (++d->fault_hits != k) return 0;
    if (!strcmp(point, "perturb")) return 1;
    fprintf(stderr, "r1c: R1C_FAULT: rank %d kills itself at %s\n", d->rank, point);
    fflush(stderr);
    raise(SIGKILL);
    return 0;
}
