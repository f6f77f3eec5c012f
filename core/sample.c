/* sample.c - see sample.h. Probabilities are accumulated in double so the
 * nucleus boundary and the draw do not depend on float rounding of long sums. */
#include "sample.h"

#include <math.h>
#include <stdlib.h>

#include "util.h"

/* A candidate for the cuts, sorted by (probability descending, id ascending). */
typedef struct {
    double p;
    int id;
} Cand;

void r1_sampler_init(R1Sampler *s, int V) {
    s->V = V;
    s->p = r1_xmalloc(sizeof(double) * (size_t)V);
    s->cand = r1_xmalloc(sizeof(Cand) * (size_t)V);
}

void r1_sampler_free(R1Sampler *s) {
    free(s->p);
    free(s->cand);
    s->p = NULL;
    s->cand = NULL;
}

static int argmax(const float *x, int V) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static int cand_cmp(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Moves the k first candidates in (probability descending, id ascending)
 * order to c[0..k), in any order (quickselect; the set is unique because the
 * order is total). */
static void select_top(Cand *c, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        Cand pivot = c[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (cand_cmp(&c[i], &pivot) < 0) i++;
            while (cand_cmp(&c[j], &pivot) > 0) j--;
            if (i <= j) {
                Cand t = c[i];
                c[i++] = c[j], c[j--] = t;
            }
        }
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            break;
    }
}

/* Draws from the candidates c[0..n) after the top-k and top-p cuts. total is
 * the mass top-p refers to: the whole vocabulary's (z), or what top-k kept. */
static int draw_truncated(Cand *c, int n, double z, const R1SampleOpts *o, R1Rng *rng) {
    double total = z;
    if (o->top_k > 0 && o->top_k < n) {
        select_top(c, n, o->top_k);
        n = o->top_k, total = 0.0;
        for (int i = 0; i < n; i++) total += c[i].p;
    }
    qsort(c, (size_t)n, sizeof *c, cand_cmp);
    if (o->top_p < 1.0f) {
        double need = (double)o->top_p * total, cum = 0.0;
        int keep = 0;
        while (keep < n) {
            cum += c[keep++].p;
            if (cum >= need) break;
        }
        n = keep, total = cum;
    }
    double u = r1_rng_uniform(rng) * total, cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += c[i].p;
        if (u < cum) return c[i].id;
    }
    return c[n - 1].id; /* u within rounding of the total */
}

int r1_sample(R1Sampler *s, const float *logits, const R1SampleOpts *o, R1Rng *rng,
              float *logprob) {
    int V = s->V, greedy = !(o->temperature > 0.0f);
    double inv_t = greedy ? 1.0 : 1.0 / (double)o->temperature;
    double mx = logits[argmax(logits, V)] * inv_t, z = 0.0;
    /* expf of a float argument: ~1e-7 relative per term, far below what a
     * float32 log-probability resolves; the sum stays in double. */
    for (int i = 0; i < V; i++) z += s->p[i] = expf((float)(logits[i] * inv_t - mx));
    int tok;
    if (greedy) {
        tok = argmax(logits, V);
    } else if ((o->top_k <= 0 || o->top_k >= V) && o->top_p >= 1.0f) {
        double u = r1_rng_uniform(rng) * z, cum = 0.0;
        tok = V - 1;
        for (int i = 0; i < V; i++) {
            cum += s->p[i];
            if (u < cum) {
                tok = i;
                break;
            }
        }
        while (s->p[tok] == 0.0 && tok > 0) tok--; /* never a token of probability 0 */
    } else {
        /* Without top-k, only tokens of probability >= (1 - top_p) / V can be in
         * the nucleus: all the others together weigh less than 1 - top_p, so the
         * nucleus of the whole vocabulary lies among the rest. With top-k every
         * token is a candidate for the selection. */
        int use_k = o->top_k > 0 && o->top_k < V;
        double floor_p = o->top_p < 1.0f && !use_k ? (1.0 - o->top_p) / V * z : 0.0;
        Cand *cand = s->cand;
        int n = 0;
        for (int i = 0; i < V; i++)
            if (s->p[i] >= floor_p && s->p[i] > 0.0) cand[n].p = s->p[i], cand[n++].id = i;
        tok = draw_truncated(cand, n, z, o, rng);
    }
    *logprob = (float)(logits[tok] * inv_t - mx - log(z));
    return tok;
}

uint64_t r1_seq_seed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t parts[3] = {a, b, c}, h = seed ^ 0x243f6a8885a308d3ULL;
    for (int i = 0; i < 3; i++) {
        h ^= parts[i] + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
    }
    return h;
}
