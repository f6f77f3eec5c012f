/* ops_cpu.c - the CPU reference implementation of ops.h.
 *
 * Matrix products go to OpenBLAS (the OpenMP build: inside our own parallel
 * regions it runs single-threaded, outside them it uses every core). The rest
 * are row loops parallelised with OpenMP over tokens. */
#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"
#include "util.h"

/* Loops over fewer elements than this run on one thread: starting a parallel
 * region costs more than such a loop (decoding handles a few rows at a time).
 * Every loop made parallel computes each row or channel independently, so the
 * results do not depend on the thread count. */
#define PAR_MIN 32768

/* ---- matmul ---------------------------------------------------------------- */

void op_matmul_fwd(float *out, const float *inp, const float *w, const float *bias, int T, int IC,
                   int OC, int accumulate) {
    float beta = accumulate ? 1.0f : 0.0f;
    if (bias) {
        /* Seed out with the bias (plus what was there) so one GEMM finishes it. */
#pragma omp parallel for if ((size_t)T * OC >= PAR_MIN)
        for (int t = 0; t < T; t++) {
            float *o = out + (size_t)t * OC;
            /* Not beta * o + bias: 0 * NaN left over from an earlier batch is NaN. */
            if (accumulate)
                for (int j = 0; j < OC; j++) o[j] += bias[j];
            else
                for (int j = 0; j < OC; j++) o[j] = bias[j];
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, OC, IC, 1.0f, inp, IC, w, IC, beta, out,
                OC);
}

void op_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                   const float *w, int T, int IC, int OC) {
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, IC, OC, 1.0f, dout, OC, w, IC,
                    1.0f, dinp, IC);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, T, 1.0f, dout, OC, inp, IC, 1.0f,
                dw, IC);
    if (dbias) {
#pragma omp parallel for if ((size_t)T * OC >= PAR_MIN)
        for (int j = 0; j < OC; j++) {
            float s = 0.0f;
            for (int t = 0; t < T; t++) s += dout[(size_t)t * OC + j];
            dbias[j] += s;
        }
    }
}

/* ---- embedding ------------------------------------------------------------- */

void op_embedding_fwd(float *out, const int *ids, const float *wte, int T, int C) {
#pragma omp parallel for if ((size_t)T * C >= PAR_MIN)
    for (int t = 0; t < T; t++)
        memcpy(out + (size_t)t * C, wte + (size_t)ids[t] * C, sizeof(float) * (size_t)C);
}

void op_embedding_bwd(float *dwte, const float *dout, const int *ids, int T, int C) {
    /* Sequential over tokens: the same id may appear twice, and rows are short. */
    for (int t = 0; t < T; t++) {
        float *d = dwte + (size_t)ids[t] * C;
        const float *g = dout + (size_t)t * C;
        for (int i = 0; i < C; i++) d[i] += g[i];
    }
}

/* ---- RMSNorm --------------------------------------------------------------- */

void op_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, int T, int C,
                    float eps) {
#pragma omp parallel for if ((size_t)T * C >= PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *x = inp + (size_t)t * C;
        float *o = out + (size_t)t * C;
        float ss = 0.0f;
        for (int i = 0; i < C; i++) ss += x[i] * x[i];
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        for (int i = 0; i < C; i++) o[i] = x[i] * r * w[i];
        rstd[t] = r;
    }
}

void op_rmsnorm_bwd(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                    const float *rstd, int T, int C) {
    /* dx_i = r (w_i g_i - x_i r^2 mean_j(w_j g_j x_j)),  dw_i += g_i x_i r */
#pragma omp parallel for if ((size_t)T * C >= PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *x = inp + (size_t)t * C, *g = dout + (size_t)t * C;
        float *dx = dinp + (size_t)t * C, r = rstd[t], dot = 0.0f;
        for (int i = 0; i < C; i++) dot += w[i] * g[i] * x[i];
        float c = r * r * dot / (float)C;
        for (int i = 0; i < C; i++) dx[i] += r * (w[i] * g[i] - x[i] * c);
    }
    /* dw is a reduction over tokens: parallelise over channels instead. */
#pragma omp parallel for if ((size_t)T * C >= PAR_MIN)
    for (int i = 0; i < C; i++) {
        float s = 0.0f;
        for (int t = 0; t < T; t++) s += dout[(size_t)t * C + i] * inp[(size_t)t * C + i] * rstd[t];
        dw[i] += s;
    }
}

/* ---- RoPE ------------------------------------------------------------------ */

void op_rope_table(float *cos_t, float *sin_t, const float *inv_freq, int n_pos, int hd) {
    int half = hd / 2;
    for (int p = 0; p < n_pos; p++)
        for (int i = 0; i < half; i++) {
            /* The angle in float32 as Hugging Face computes it, the cosine in double. */
            float a = (float)p * inv_freq[i];
            cos_t[(size_t)p * half + i] = (float)cos((double)a);
            sin_t[(size_t)p * half + i] = (float)sin((double)a);
        }
}

static void rope_rotate(float *x, int ld, const int *pos, const float *cos_t, const float *sin_t,
                        int T, int nh, int hd, float sign) {
    int half = hd / 2;
#pragma omp parallel for if ((size_t)T * nh * hd >= PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *c = cos_t + (size_t)pos[t] * half, *s = sin_t + (size_t)pos[t] * half;
        for (int h = 0; h < nh; h++) {
            float *a = x + (size_t)t * ld + (size_t)h * hd, *b = a + half;
            for (int i = 0; i < half; i++) {
                float x1 = a[i], x2 = b[i], sn = sign * s[i];
                a[i] = x1 * c[i] - x2 * sn;
                b[i] = x2 * c[i] + x1 * sn;
            }
        }
    }
}

void op_rope_fwd(float *x, int ld, const int *pos, const float *cos_t, const float *sin_t, int T,
                 int nh, int hd) {
    rope_rotate(x, ld, pos, cos_t, sin_t, T, nh, hd, 1.0f);
}

void op_rope_bwd(float *dx, int ld, const int *pos, const float *cos_t, const float *sin_t, int T,
                 int nh, int hd) {
    /* A rotation's transpose is the rotation by the opposite angle. */
    rope_rotate(dx, ld, pos, cos_t, sin_t, T, nh, hd, -1.0f);
}

/* ---- attention ------------------------------------------------------------- */

static int max_seq_len(const int *seq_start, int n_seqs) {
    int m = 0;
    for (int s = 0; s < n_seqs; s++)
        if (seq_start[s + 1] - seq_start[s] > m) m = seq_start[s + 1] - seq_start[s];
    return m;
}

/* S = scale * Q K^T for one (sequence, head), then the causal softmax in place;
 * writes the log-sum-exp of each row to lse (stride nh). */
static void attn_probs(float *S, float *lse, int lse_ld, const float *q, int ldq, const float *k,
                       int ldkv, int L, int hd, int have_lse) {
    float scale = 1.0f / sqrtf((float)hd);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hd, scale, q, ldq, k, ldkv, 0.0f, S,
                L);
    for (int i = 0; i < L; i++) {
        float *row = S + (size_t)i * L, m;
        if (have_lse) {
            m = lse[(size_t)i * lse_ld];
        } else {
            m = -INFINITY;
            for (int j = 0; j <= i; j++) m = row[j] > m ? row[j] : m;
            float sum = 0.0f;
            for (int j = 0; j <= i; j++) sum += expf(row[j] - m);
            m += logf(sum);
            lse[(size_t)i * lse_ld] = m;
        }
        for (int j = 0; j <= i; j++) row[j] = expf(row[j] - m);
        for (int j = i + 1; j < L; j++) row[j] = 0.0f;
    }
}

void op_attention_fwd(float *out, float *lse, const float *q, int ldq, const float *k,
                      const float *v, int ldkv, const int *seq_start, int n_seqs, int nh, int nkv,
                      int hd) {
    int maxL = max_seq_len(seq_start, n_seqs), group = nh / nkv, ldo = nh * hd;
#pragma omp parallel
    {
        float *S = NULL; /* L^2 scratch, only in threads that get a task */
#pragma omp for schedule(dynamic)
        for (int task = 0; task < n_seqs * nh; task++) {
            int s = task / nh, h = task % nh, g = h / group;
            int t0 = seq_start[s], L = seq_start[s + 1] - t0;
            if (L == 0) continue;
            if (!S) S = r1_falloc((size_t)maxL * maxL);
            const float *qh = q + (size_t)t0 * ldq + (size_t)h * hd;
            const float *kg = k + (size_t)t0 * ldkv + (size_t)g * hd;
            const float *vg = v + (size_t)t0 * ldkv + (size_t)g * hd;
            attn_probs(S, lse + (size_t)t0 * nh + h, nh, qh, ldq, kg, ldkv, L, hd, 0);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hd, L, 1.0f, S, L, vg, ldkv,
                        0.0f, out + (size_t)t0 * ldo + (size_t)h * hd, ldo);
        }
        free(S);
    }
}

void op_attention_bwd(float *dq, float *dk, float *dv, int ldd, const float *dout, const float *out,
                      const float *lse, const float *q, int ldq, const float *k, const float *v,
                      int ldkv, const int *seq_start, int n_seqs, int nh, int nkv, int hd) {
    int maxL = max_seq_len(seq_start, n_seqs), group = nh / nkv, ldo = nh * hd;
    float scale = 1.0f / sqrtf((float)hd);
    /* One task per (sequence, KV head): the query heads of a group all add into
     * the same dk/dv rows, so they must run in the same thread. */
#pragma omp parallel
    {
        float *P = NULL, *dP = NULL, *D = NULL; /* allocated by threads that get a task */
#pragma omp for schedule(dynamic)
        for (int task = 0; task < n_seqs * nkv; task++) {
            int s = task / nkv, g = task % nkv, t0 = seq_start[s], L = seq_start[s + 1] - t0;
            if (L == 0) continue;
            if (!P) {
                P = r1_falloc((size_t)maxL * maxL), dP = r1_falloc((size_t)maxL * maxL);
                D = r1_falloc((size_t)maxL);
            }
            const float *kg = k + (size_t)t0 * ldkv + (size_t)g * hd;
            const float *vg = v + (size_t)t0 * ldkv + (size_t)g * hd;
            float *dkg = dk + (size_t)t0 * ldd + (size_t)g * hd;
            float *dvg = dv + (size_t)t0 * ldd + (size_t)g * hd;
            for (int h = g * group; h < (g + 1) * group; h++) {
                const float *qh = q + (size_t)t0 * ldq + (size_t)h * hd;
                const float *oh = out + (size_t)t0 * ldo + (size_t)h * hd;
                const float *doh = dout + (size_t)t0 * ldo + (size_t)h * hd;
                float *dqh = dq + (size_t)t0 * ldd + (size_t)h * hd;
                attn_probs(P, (float *)lse + (size_t)t0 * nh + h, nh, qh, ldq, kg, ldkv, L, hd, 1);
                /* dV += P^T dO;  dP = dO V^T */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hd, L, 1.0f, P, L, doh, ldo,
                            1.0f, dvg, ldd);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hd, 1.0f, doh, ldo, vg,
                            ldkv, 0.0f, dP, L);
                /* dS = P (dP - rowsum(dO . O)), the softmax backward. */
                for (int i = 0; i < L; i++) {
                    float d = 0.0f;
                    for (int e = 0; e < hd; e++)
                        d += doh[(size_t)i * ldo + e] * oh[(size_t)i * ldo + e];
                    D[i] = d;
                }
                for (int i = 0; i < L; i++) {
                    float *pr = P + (size_t)i * L, *dpr = dP + (size_t)i * L;
                    for (int j = 0; j <= i; j++) dpr[j] = pr[j] * (dpr[j] - D[i]);
                    for (int j = i + 1; j < L; j++) dpr[j] = 0.0f;
                }
                /* dQ = scale dS K;  dK += scale dS^T Q */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hd, L, scale, dP, L, kg,
                            ldkv, 0.0f, dqh, ldd);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hd, L, scale, dP, L, qh,
                            ldq, 1.0f, dkg, ldd);
            }
        }
        free(P);
        free(dP);
        free(D);
    }
}

/* Scores of one query against rows [0, n) of k into S; returns their maximum. */
static float decode_scores(float *S, const float *q, const float *k, int ldkv, int n, int hd,
                           float scale, float mx) {
    for (int j = 0; j < n; j++) {
        S[j] = dot8(q, k + (size_t)j * ldkv, hd) * scale;
        mx = S[j] > mx ? S[j] : mx;
    }
    return mx;
}

/* o += sum_j S[j] v[j] over rows [0, n) of v. */
static void decode_mix(float *o, const float *S, const float *v, int ldkv, int n, int hd) {
    int i = 0;
    for (; i + 8 <= hd; i += 8) { /* eight outputs in a register across all rows */
        V8 acc = V8_LOAD(o + i);
        for (int j = 0; j < n; j++)
            acc = V8_FMA(V8_SET1(S[j]), V8_LOAD(v + (size_t)j * ldkv + i), acc);
        V8_STORE(o + i, acc);
    }
    for (; i < hd; i++)
        for (int j = 0; j < n; j++) o[i] = fmaf(S[j], v[(size_t)j * ldkv + i], o[i]);
}

void op_attention_decode(float *out, const float *q, int ldq, const float *const *kp,
                         const float *const *vp, const int *np, const float *const *ks,
                         const float *const *vs, const int *ns, int ldkv, int n, int nh, int nkv,
                         int hd) {
    int maxL = 0, group = nh / nkv;
    for (int i = 0; i < n; i++) maxL = np[i] + ns[i] > maxL ? np[i] + ns[i] : maxL;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel if ((size_t)n * nh * maxL * hd >= PAR_MIN)
    {
        float *S = NULL; /* scores of one row, only in threads that get a task */
#pragma omp for schedule(static)
        for (int task = 0; task < n * nh; task++) {
            int s = task / nh, h = task % nh, off = (h / group) * hd, P = np[s], N = ns[s];
            if (!S) S = r1_falloc((size_t)maxL);
            const float *qh = q + (size_t)s * ldq + (size_t)h * hd;
            float mx = decode_scores(S, qh, kp[s] + off, ldkv, P, hd, scale, -INFINITY);
            mx = decode_scores(S + P, qh, ks[s] + off, ldkv, N, hd, scale, mx);
            float sum = 0.0f;
            for (int j = 0; j < P + N; j++) sum += S[j] = expf(S[j] - mx);
            for (int j = 0; j < P + N; j++) S[j] /= sum;
            float *o = out + (size_t)s * nh * hd + (size_t)h * hd;
            memset(o, 0, sizeof(float) * (size_t)hd);
            decode_mix(o, S, vp[s] + off, ldkv, P, hd);
            decode_mix(o, S + P, vs[s] + off, ldkv, N, hd);
        }
        free(S);
    }
}

/* ---- SwiGLU ---------------------------------------------------------------- */

void op_swiglu_fwd(float *out, const float *gu, int T, int n_ff) {
#pragma omp parallel for if ((size_t)T * n_ff >= PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *g = gu + (size_t)t * 2 * n_ff, *u = g + n_ff;
        float *o = out + (size_t)t * n_ff;
        for (int i = 0; i < n_ff; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void op_swiglu_bwd(float *dgu, const float *dout, const float *gu, int T, int n_ff) {
#pragma omp parallel for if ((size_t)T * n_ff >= PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *g = gu + (size_t)t * 2 * n_ff, *u = g + n_ff, *d = dout + (size_t)t * n_ff;
        float *dg = dgu + (size_t)t * 2 * n_ff, *du = dg + n_ff;
        for (int i = 0; i < n_ff; i++) {
            float sg = 1.0f / (1.0f + expf(-g[i])), silu = g[i] * sg;
            dg[i] = d[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
            du[i] = d[i] * silu;
        }
    }
}

/* ---- log-probabilities ----------------------------------------------------- */

void op_logprob_fwd(float *logp, float *lse, const float *logits, const int *targets, int T, int V,
                    float s) {
#pragma omp parallel for if ((size_t)T * V >= PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *x = logits + (size_t)t * V;
        float m = -INFINITY;
        for (int j = 0; j < V; j++) m = s * x[j] > m ? s * x[j] : m;
        double sum = 0.0;
        for (int j = 0; j < V; j++) sum += expf(s * x[j] - m);
        lse[t] = m + (float)log(sum);
        logp[t] = targets[t] >= 0 ? s * x[targets[t]] - lse[t] : 0.0f;
    }
}

void op_logprob_bwd(float *dlogits, const float *logits, const float *lse, const int *targets,
                    const float *dlogp, int T, int V, float s) {
#pragma omp parallel for if ((size_t)T * V >= PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *x = logits + (size_t)t * V;
        float *d = dlogits + (size_t)t * V, g = s * dlogp[t];
        if (targets[t] < 0 || g == 0.0f) {
            memset(d, 0, sizeof(float) * (size_t)V);
            continue;
        }
        for (int j = 0; j < V; j++) d[j] = -g * expf(s * x[j] - lse[t]);
        d[targets[t]] += g;
    }
}
