/* test_cuda_ops.cu - every operation of cuda/cu_ops.h against its CPU float32
 * reference (core/ops_cpu.c, core/optim.c, core/sample.c, or a host loop here),
 * on fresh seeded random inputs, at several shapes including awkward ones:
 * widths that are multiples of 8 but not of 32 (vector paths) and odd widths
 * (scalar paths), T not a multiple of any tile, several sequences of different
 * lengths including 1, GQA groups of 2, 3 and 4, head sizes 32, 64 and 128.
 *
 * Method:
 *   - Inputs the GPU reads as bf16 are rounded to bf16 on the host first, and
 *     the CPU reference gets the SAME rounded values.
 *   - Every GPU output is poisoned (all bytes 0xFF: NaN) before the run, except
 *     outputs the operation accumulates into, which start from known random
 *     values that the CPU reference starts from too. A non-finite GPU value
 *     where the reference is finite is a failure (so an element an overwriting
 *     operation forgot to write fails, and so does a lost start value).
 *   - Metric: relative error ||gpu - ref||_2 / ||ref||_2 in double.
 *     Tolerances: float32-only ops 1e-5; ops whose output is bf16 1e-2
 *     (expected ~2e-3); attention backward and RMSNorm backward 1e-4; AdamW
 *     1e-6; sumsq 1e-12. Pure data movement and conversions must be
 *     bit-exact where the contract makes them exact.
 *     The tensor-core attention paths (hd 64, 128; R1_ATTN=wmma and mma, run
 *     besides R1_ATTN=simt): out 1e-2, lse 1e-3, dq/dk/dv 2e-2.
 *   - Determinism: every backward (and the attention forward) runs twice on
 *     the same inputs and must give bit-identical results.
 *
 * Output: one line per check ("ok   ..." / "FAIL ..."), then
 * "test_cuda_ops: N passed, M failed"; exit status 1 when anything failed.
 * Set R1_CUDA_SYNC=1 to locate an asynchronous fault at its kernel. */
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cu_common.h"
#include "cu_ops.h"

extern "C" {
#include "ops.h"
#include "optim.h"
#include "params.h"
#include "rng.h"
#include "sample.h"
}

typedef std::vector<float> VF;
typedef std::vector<uint16_t> VB; /* bf16 bit patterns on the host */
typedef std::vector<int> VI;

#define TOL_F32         1e-5 /* float32-only operations */
#define TOL_BF16        1e-2 /* outputs rounded to bf16 */
#define TOL_BWD         1e-4 /* attention backward, RMSNorm backward */
#define TOL_ADAM        1e-6
#define TOL_SUMSQ       1e-12
#define TOL_LOGPROB_ABS 1e-5 /* cu_sample's log-probabilities, absolute */
/* the tensor-core attention path (bf16 operands, float32 accumulation) */
#define TOL_TC_OUT 1e-2
#define TOL_TC_LSE 1e-3
#define TOL_TC_BWD 2e-2

static cudaStream_t g_st;
static R1Rng g_rng;
static int g_pass, g_fail;

/* ---- small host helpers ---------------------------------------------------- */

static std::string fmt(const char *f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return std::string(buf);
}

static std::string ints(const VI &v) {
    std::string s;
    for (size_t i = 0; i < v.size(); i++) s += fmt(i ? ",%d" : "%d", v[i]);
    return s;
}

static void seed(uint64_t s) {
    r1_rng_seed(&g_rng, s);
}

static int randint(int n) { /* [0, n) */
    return (int)(r1_rng_uniform(&g_rng) * n);
}

static VF randn(size_t n, float scale = 1.0f, float mean = 0.0f) {
    VF v(n);
    for (size_t i = 0; i < n; i++) v[i] = mean + scale * (float)r1_rng_normal(&g_rng);
    return v;
}

/* float -> bf16, round to nearest even (NaN kept quiet). */
static uint16_t bf16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float bf16_float(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static VB to_bf16(const VF &x) {
    VB b(x.size());
    for (size_t i = 0; i < x.size(); i++) b[i] = bf16_bits(x[i]);
    return b;
}

static VF from_bf16(const VB &b) {
    VF x(b.size());
    for (size_t i = 0; i < b.size(); i++) x[i] = bf16_float(b[i]);
    return x;
}

static VF round_bf16(const VF &x) {
    return from_bf16(to_bf16(x));
}

/* Columns [c0, c0 + w) of a [rows, ld] matrix. */
static VF cols(const VF &x, int rows, int ld, int c0, int w) {
    VF o((size_t)rows * w);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < w; c++) o[(size_t)r * w + c] = x[(size_t)r * ld + c0 + c];
    return o;
}

/* ---- device buffers ------------------------------------------------------------ */

template <typename T> struct Dev {
    T *p = nullptr;
    size_t n = 0;
    explicit Dev(size_t count) : n(count) {
        CU_CHECK(cudaMalloc((void **)&p, (n ? n : 1) * sizeof(T)));
    }
    template <typename H> explicit Dev(const std::vector<H> &h) : Dev(h.size()) { up(h); }
    Dev(const Dev &) = delete;
    Dev &operator=(const Dev &) = delete;
    ~Dev() {
        if (p) CU_CHECK(cudaFree(p));
    }
    size_t bytes() const { return n * sizeof(T); }
    template <typename H> void up(const std::vector<H> &h) {
        static_assert(sizeof(H) == sizeof(T), "host and device element sizes differ");
        if (h.size() != n) {
            fprintf(stderr, "test_cuda_ops: upload of %zu elements into a buffer of %zu\n",
                    h.size(), n);
            exit(2);
        }
        if (!n) return;
        CU_CHECK(cudaMemcpyAsync(p, h.data(), bytes(), cudaMemcpyHostToDevice, g_st));
        CU_CHECK(cudaStreamSynchronize(g_st));
    }
    /* All bytes 0xFF: NaN as float32, double and bf16. */
    void poison() {
        if (n) CU_CHECK(cudaMemsetAsync(p, 0xFF, bytes(), g_st));
    }
    template <typename H = T> std::vector<H> down() const {
        static_assert(sizeof(H) == sizeof(T), "host and device element sizes differ");
        std::vector<H> h(n);
        CU_CHECK(cudaStreamSynchronize(g_st));
        if (n) CU_CHECK(cudaMemcpyAsync(h.data(), p, bytes(), cudaMemcpyDeviceToHost, g_st));
        CU_CHECK(cudaStreamSynchronize(g_st));
        return h;
    }
};

/* ---- checks ----------------------------------------------------------------------- */

static bool verdict(bool ok, const std::string &line) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", line.c_str());
    fflush(stdout);
    if (ok)
        g_pass++;
    else
        g_fail++;
    return ok;
}

/* Relative L2 error of gpu against ref; a non-finite gpu value where ref is
 * finite fails whatever the norm says. */
static bool check_rel_d(const std::string &name, const double *gpu, const double *ref, size_t n,
                        double tol) {
    size_t bad = 0, first_bad = 0, worst_i = 0;
    double num = 0.0, den = 0.0, worst = -1.0;
    for (size_t i = 0; i < n; i++) {
        double g = gpu[i], r = ref[i];
        if (!std::isfinite(r)) {
            /* never produced by these tests' references; equal bits required */
            if (!(std::isnan(r) ? std::isnan(g) : g == r)) {
                if (!bad++) first_bad = i;
            }
            continue;
        }
        if (!std::isfinite(g)) {
            if (!bad++) first_bad = i;
            continue;
        }
        double d = g - r;
        num += d * d;
        den += r * r;
        if (fabs(d) > worst) worst = fabs(d), worst_i = i;
    }
    double rel = den > 0.0 ? sqrt(num) / sqrt(den) : sqrt(num);
    bool ok = bad == 0 && rel <= tol;
    std::string line = fmt("%s relerr=%.3e (tol %.0e)", name.c_str(), rel, tol);
    if (!ok) {
        if (bad)
            line +=
                fmt(" non-finite/mismatched-special=%zu of %zu, first at [%zu]: gpu=%.9g ref=%.9g",
                    bad, n, first_bad, gpu[first_bad], ref[first_bad]);
        if (worst >= 0.0)
            line += fmt(" worst |diff| at [%zu]: gpu=%.9g ref=%.9g", worst_i, gpu[worst_i],
                        ref[worst_i]);
        if (den == 0.0) line += " (reference all zero: absolute L2 shown)";
    }
    return verdict(ok, line);
}

static bool check_rel(const std::string &name, const VF &gpu, const VF &ref, double tol) {
    if (gpu.size() != ref.size())
        return verdict(false,
                       fmt("%s size mismatch %zu vs %zu", name.c_str(), gpu.size(), ref.size()));
    std::vector<double> g(gpu.begin(), gpu.end()), r(ref.begin(), ref.end());
    return check_rel_d(name, g.data(), r.data(), g.size(), tol);
}

/* Bit equality of two arrays of n elements of size es. */
static bool check_bits(const std::string &name, const void *a, const void *b, size_t n, size_t es) {
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    size_t diff = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(x + i * es, y + i * es, es)) {
            if (!diff++) first = i;
        }
    std::string line = fmt("%s bit-identical (%zu elements)", name.c_str(), n);
    if (diff)
        line = fmt("%s: %zu of %zu elements differ (first at [%zu])", name.c_str(), diff, n, first);
    return verdict(diff == 0, line);
}

template <typename H>
static bool check_same(const std::string &name, const std::vector<H> &a, const std::vector<H> &b) {
    if (a.size() != b.size())
        return verdict(false, fmt("%s size mismatch %zu vs %zu", name.c_str(), a.size(), b.size()));
    return check_bits(name, a.data(), b.data(), a.size(), sizeof(H));
}

/* ---- conversions, scale, sumsq --------------------------------------------------- */

static void test_conversions(void) {
    const size_t sizes[] = {1, 7, 100003};
    for (size_t n : sizes) {
        seed(100 + n);
        VF src = randn(n);
        for (size_t i = 0; i < n; i++) src[i] *= ldexpf(1.0f, randint(40) - 20);
        /* exact ties (low 16 bits 0x8000) with even and odd upper halves, and signed zeros */
        for (size_t i = 0; i < n && i < 64; i++) {
            uint32_t u;
            memcpy(&u, &src[i], 4);
            u = (u & 0xffff0000u) | 0x8000u;
            memcpy(&src[i], &u, 4);
        }
        if (n > 65) src[64] = 0.0f, src[65] = -0.0f;
        Dev<float> dsrc(src);
        Dev<bf16> dbf(n);
        dbf.poison();
        cu_f32_to_bf16(dbf.p, dsrc.p, n, g_st);
        VB got = dbf.down<uint16_t>();
        check_same(fmt("f32_to_bf16 n=%zu vs host round-to-nearest-even (incl. exact ties)", n),
                   got, to_bf16(src));
        check_rel(fmt("f32_to_bf16 n=%zu vs the float input", n), from_bf16(got), src, TOL_BF16);

        VB b = to_bf16(randn(n, 3.0f));
        Dev<bf16> db(b);
        Dev<float> df(n);
        df.poison();
        cu_bf16_to_f32(df.p, db.p, n, g_st);
        check_same(fmt("bf16_to_f32 n=%zu exact", n), df.down(), from_bf16(b));
    }
}

static void test_scale(void) {
    const size_t sizes[] = {1, 100003};
    for (size_t n : sizes) {
        seed(200 + n);
        VF x = randn(n), ref(n);
        float s = 0.37f;
        for (size_t i = 0; i < n; i++) ref[i] = x[i] * s;
        Dev<float> dx(x);
        cu_scale(dx.p, n, s, g_st);
        check_rel(fmt("scale n=%zu s=0.37 (in place)", n), dx.down(), ref, TOL_F32);
    }
}

static void test_sumsq(void) {
    const size_t sizes[] = {1, 777, 1000003};
    for (size_t n : sizes) {
        seed(300 + n);
        VF x = randn(n, 2.0f);
        double ref = 0.0;
        for (size_t i = 0; i < n; i++) ref += (double)x[i] * (double)x[i];
        Dev<float> dx(x);
        size_t ns = cu_sumsq_scratch(n);
        Dev<double> out(1), scratch(ns);
        std::vector<double> got[2];
        for (int rep = 0; rep < 2; rep++) {
            out.poison();
            scratch.poison();
            cu_sumsq(out.p, dx.p, n, scratch.p, g_st);
            got[rep] = out.down();
        }
        check_rel_d(fmt("sumsq n=%zu vs host double sum (scratch %zu doubles)", n, ns),
                    got[0].data(), &ref, 1, TOL_SUMSQ);
        check_same(fmt("sumsq n=%zu deterministic", n), got[0], got[1]);
    }
}

/* ---- row gather / scatter, bias -------------------------------------------------- */

static void test_rows(void) {
    struct {
        int R, n, C;
    } cases[] = {{50, 13, 344}, {8, 1, 96}, {300, 64, 104}, {20, 5, 37}};
    for (auto &c : cases) {
        seed(400 + c.C + c.n);
        /* gather (rows may repeat) */
        VB src = to_bf16(randn((size_t)c.R * c.C));
        VI rows(c.n);
        for (int i = 0; i < c.n; i++) rows[i] = randint(c.R);
        VB want((size_t)c.n * c.C);
        for (int i = 0; i < c.n; i++)
            memcpy(&want[(size_t)i * c.C], &src[(size_t)rows[i] * c.C], sizeof(uint16_t) * c.C);
        Dev<bf16> dsrc(src), ddst((size_t)c.n * c.C);
        Dev<int> drows(rows);
        ddst.poison();
        cu_gather_rows_bf16(ddst.p, dsrc.p, drows.p, c.n, c.C, g_st);
        check_same(fmt("gather_rows_bf16 R=%d n=%d C=%d exact", c.R, c.n, c.C),
                   ddst.down<uint16_t>(), want);

        /* scatter (distinct rows; the others must stay as they were) */
        VI perm(c.R);
        for (int i = 0; i < c.R; i++) perm[i] = i;
        for (int i = c.R - 1; i > 0; i--) std::swap(perm[i], perm[randint(i + 1)]);
        VI srows(perm.begin(), perm.begin() + c.n);
        VF start = randn((size_t)c.R * c.C), fsrc = randn((size_t)c.n * c.C), ref = start;
        for (int i = 0; i < c.n; i++)
            memcpy(&ref[(size_t)srows[i] * c.C], &fsrc[(size_t)i * c.C], sizeof(float) * c.C);
        Dev<float> dst(start), dfs(fsrc);
        Dev<int> dsr(srows);
        cu_scatter_rows(dst.p, dfs.p, dsr.p, c.n, c.C, g_st);
        check_rel(fmt("scatter_rows R=%d n=%d C=%d (other rows untouched)", c.R, c.n, c.C),
                  dst.down(), ref, TOL_F32);
    }
}

static void test_bias(void) {
    struct {
        int T, OC;
    } cases[] = {{37, 344}, {1, 104}, {1000, 96}, {5, 37}};
    for (auto &c : cases) {
        seed(500 + c.T + c.OC);
        VF bias = round_bf16(randn(c.OC));
        VF start = randn((size_t)c.T * c.OC), ref = start;
        for (int t = 0; t < c.T; t++)
            for (int j = 0; j < c.OC; j++) ref[(size_t)t * c.OC + j] += bias[j];
        Dev<bf16> dbias(to_bf16(bias));
        Dev<float> dout(start);
        cu_add_bias(dout.p, dbias.p, c.T, c.OC, g_st);
        check_rel(fmt("add_bias T=%d OC=%d (accumulated onto random start)", c.T, c.OC),
                  dout.down(), ref, TOL_F32);

        VF dO = round_bf16(randn((size_t)c.T * c.OC));
        VF db0 = randn(c.OC, 3.0f), dbref(c.OC);
        for (int j = 0; j < c.OC; j++) {
            double s = db0[j];
            for (int t = 0; t < c.T; t++) s += dO[(size_t)t * c.OC + j];
            dbref[j] = (float)s;
        }
        Dev<bf16> ddO(to_bf16(dO));
        Dev<float> ddb(c.OC);
        VF got[2];
        for (int rep = 0; rep < 2; rep++) {
            ddb.up(db0);
            cu_bias_bwd(ddb.p, ddO.p, c.T, c.OC, g_st);
            got[rep] = ddb.down();
        }
        check_rel(fmt("bias_bwd T=%d OC=%d (accumulated onto random start)", c.T, c.OC), got[0],
                  dbref, TOL_F32);
        check_same(fmt("bias_bwd T=%d OC=%d deterministic", c.T, c.OC), got[0], got[1]);
    }
}

/* ---- embedding --------------------------------------------------------------------- */

static void test_embedding(void) {
    struct {
        int T, V, C;
    } cases[] = {{1, 768, 96}, {300, 50, 104}, {513, 768, 576}, {9, 40, 77}};
    for (auto &c : cases) {
        seed(600 + c.T);
        VF wte = round_bf16(randn((size_t)c.V * c.C));
        VI ids(c.T);
        for (int t = 0; t < c.T; t++) ids[t] = randint(c.V);
        if (c.T > 3) ids[3] = ids[0] = c.V - 1, ids[1] = 0; /* repeats and the two ends */
        VF ref((size_t)c.T * c.C);
        op_embedding_fwd(ref.data(), ids.data(), wte.data(), c.T, c.C);
        Dev<bf16> dwte(to_bf16(wte));
        Dev<int> dids(ids);
        Dev<float> dout((size_t)c.T * c.C);
        dout.poison();
        cu_embedding_fwd(dout.p, dids.p, dwte.p, c.T, c.C, g_st);
        check_rel(fmt("embedding_fwd T=%d V=%d C=%d", c.T, c.V, c.C), dout.down(), ref, TOL_F32);

        /* backward: the host plan (positions sorted by token, stable) */
        VF dO = randn((size_t)c.T * c.C), start = randn((size_t)c.V * c.C), dref = start;
        op_embedding_bwd(dref.data(), dO.data(), ids.data(), c.T, c.C);
        VI order(c.T), uniq, ustart;
        for (int t = 0; t < c.T; t++) order[t] = t;
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return ids[a] < ids[b]; });
        for (int k = 0; k < c.T; k++)
            if (k == 0 || ids[order[k]] != ids[order[k - 1]]) {
                uniq.push_back(ids[order[k]]);
                ustart.push_back(k);
            }
        ustart.push_back(c.T);
        int n_uniq = (int)uniq.size();
        Dev<float> ddO(dO), ddw((size_t)c.V * c.C);
        Dev<int> dorder(order), duniq(uniq), dustart(ustart);
        VF got[2];
        for (int rep = 0; rep < 2; rep++) {
            ddw.up(start);
            cu_embedding_bwd(ddw.p, ddO.p, dorder.p, duniq.p, dustart.p, n_uniq, c.C, g_st);
            got[rep] = ddw.down();
        }
        check_rel(fmt("embedding_bwd T=%d V=%d C=%d n_uniq=%d (repeated tokens, accumulated)", c.T,
                      c.V, c.C, n_uniq),
                  got[0], dref, TOL_F32);
        check_same(fmt("embedding_bwd T=%d C=%d deterministic", c.T, c.C), got[0], got[1]);
    }
}

/* ---- RMSNorm --------------------------------------------------------------------- */

static void test_rmsnorm(void) {
    struct {
        int T, C;
    } cases[] = {{1, 576}, {37, 104}, {259, 96}, {4, 5000}, {6, 77}};
    const float eps = 1e-6f;
    for (auto &c : cases) {
        seed(700 + c.T * 7 + c.C);
        size_t TC = (size_t)c.T * c.C;
        VF inp = randn(TC, 1.5f);
        for (int t = 0; t < c.T; t++) /* rows of different scales */
            for (int i = 0; i < c.C; i++) inp[(size_t)t * c.C + i] *= 0.2f + (float)(t % 5);
        VF w = round_bf16(randn(c.C, 0.3f, 1.0f));
        VF out_ref(TC), rstd_ref(c.T);
        op_rmsnorm_fwd(out_ref.data(), rstd_ref.data(), inp.data(), w.data(), c.T, c.C, eps);
        Dev<float> dinp(inp), drstd(c.T);
        Dev<bf16> dw(to_bf16(w)), dout(TC);
        dout.poison();
        drstd.poison();
        cu_rmsnorm_fwd(dout.p, drstd.p, dinp.p, dw.p, c.T, c.C, eps, g_st);
        check_rel(fmt("rmsnorm_fwd T=%d C=%d out (bf16)", c.T, c.C),
                  from_bf16(dout.down<uint16_t>()), out_ref, TOL_BF16);
        check_rel(fmt("rmsnorm_fwd T=%d C=%d rstd", c.T, c.C), drstd.down(), rstd_ref, TOL_F32);

        /* backward, from the CPU forward's rstd for both sides */
        VF dO = randn(TC), dinp0 = randn(TC), dw0 = randn(c.C, 5.0f);
        VF dinp_ref = dinp0, dw_ref = dw0;
        op_rmsnorm_bwd(dinp_ref.data(), dw_ref.data(), dO.data(), inp.data(), w.data(),
                       rstd_ref.data(), c.T, c.C);
        Dev<float> ddO(dO), drs(rstd_ref), ddinp(TC), ddw(c.C);
        size_t ns = cu_rmsnorm_bwd_scratch(c.T, c.C);
        Dev<float> scratch(ns);
        VF gi[2], gw[2];
        for (int rep = 0; rep < 2; rep++) {
            ddinp.up(dinp0);
            ddw.up(dw0);
            scratch.poison();
            cu_rmsnorm_bwd(ddinp.p, ddw.p, ddO.p, dinp.p, dw.p, drs.p, c.T, c.C, scratch.p, g_st);
            gi[rep] = ddinp.down();
            gw[rep] = ddw.down();
        }
        check_rel(fmt("rmsnorm_bwd T=%d C=%d dinp (accumulated onto random start)", c.T, c.C),
                  gi[0], dinp_ref, TOL_BWD);
        check_rel(fmt("rmsnorm_bwd T=%d C=%d dw (accumulated onto random start)", c.T, c.C), gw[0],
                  dw_ref, TOL_BWD);
        check_same(fmt("rmsnorm_bwd T=%d C=%d dinp deterministic", c.T, c.C), gi[0], gi[1]);
        check_same(fmt("rmsnorm_bwd T=%d C=%d dw deterministic", c.T, c.C), gw[0], gw[1]);
    }
}

/* ---- SwiGLU ------------------------------------------------------------------------ */

static void test_swiglu(void) {
    struct {
        int T, n_ff;
    } cases[] = {{1, 1536}, {33, 344}, {130, 104}, {3, 77}};
    for (auto &c : cases) {
        seed(800 + c.T + c.n_ff);
        size_t Tn = (size_t)c.T * c.n_ff;
        VF gu = round_bf16(randn(2 * Tn, 2.0f));
        VF out_ref(Tn);
        op_swiglu_fwd(out_ref.data(), gu.data(), c.T, c.n_ff);
        Dev<bf16> dgu(to_bf16(gu)), dout(Tn);
        dout.poison();
        cu_swiglu_fwd(dout.p, dgu.p, c.T, c.n_ff, g_st);
        check_rel(fmt("swiglu_fwd T=%d n_ff=%d (bf16 out)", c.T, c.n_ff),
                  from_bf16(dout.down<uint16_t>()), out_ref, TOL_BF16);

        VF dO = randn(Tn), dgu_ref(2 * Tn);
        op_swiglu_bwd(dgu_ref.data(), dO.data(), gu.data(), c.T, c.n_ff);
        Dev<float> ddO(dO);
        Dev<bf16> ddgu(2 * Tn);
        VB got[2];
        for (int rep = 0; rep < 2; rep++) {
            ddgu.poison(); /* OVERWRITTEN: every element must be written */
            cu_swiglu_bwd(ddgu.p, ddO.p, dgu.p, c.T, c.n_ff, g_st);
            got[rep] = ddgu.down<uint16_t>();
        }
        check_rel(fmt("swiglu_bwd T=%d n_ff=%d dgu (bf16, overwritten over NaN)", c.T, c.n_ff),
                  from_bf16(got[0]), dgu_ref, TOL_BF16);
        check_same(fmt("swiglu_bwd T=%d n_ff=%d deterministic", c.T, c.n_ff), got[0], got[1]);
    }
}

/* ---- RoPE and attention ------------------------------------------------------------ */

struct AttnCfg {
    int nh, nkv, hd;
    VI lens;
};

static const int N_POS = 4096;

static void rope_tables(int hd, VF &cos_t, VF &sin_t) {
    int half = hd / 2;
    VF inv(half);
    for (int i = 0; i < half; i++) inv[i] = (float)pow(10000.0, -2.0 * i / hd);
    cos_t.assign((size_t)N_POS * half, 0.0f);
    sin_t.assign((size_t)N_POS * half, 0.0f);
    op_rope_table(cos_t.data(), sin_t.data(), inv.data(), N_POS, hd);
}

static void test_rope(const AttnCfg &a, uint64_t sd) {
    seed(sd);
    int T = 0;
    for (int L : a.lens) T += L;
    int ld = (a.nh + 2 * a.nkv) * a.hd;
    VI pos(T);
    for (int s = 0, t = 0; s < (int)a.lens.size(); s++) {
        int off = randint(N_POS - 400);
        for (int i = 0; i < a.lens[s]; i++) pos[t++] = off + i;
    }
    VF cos_t, sin_t;
    rope_tables(a.hd, cos_t, sin_t);
    Dev<float> dcos(cos_t), dsin(sin_t);
    Dev<int> dpos(pos);
    std::string shape = fmt("T=%d nh=%d nkv=%d hd=%d ld=%d", T, a.nh, a.nkv, a.hd, ld);
    for (int bwd = 0; bwd < 2; bwd++) {
        VF x = randn((size_t)T * ld), ref = x;
        /* q heads at column 0, k heads at nh*hd; v must stay untouched */
        auto cpu = bwd ? op_rope_bwd : op_rope_fwd;
        cpu(ref.data(), ld, pos.data(), cos_t.data(), sin_t.data(), T, a.nh, a.hd);
        cpu(ref.data() + a.nh * a.hd, ld, pos.data(), cos_t.data(), sin_t.data(), T, a.nkv, a.hd);
        Dev<float> dx(x);
        auto gpu = bwd ? cu_rope_bwd : cu_rope_fwd;
        gpu(dx.p, ld, dpos.p, dcos.p, dsin.p, T, a.nh, a.hd, g_st);
        gpu(dx.p + a.nh * a.hd, ld, dpos.p, dcos.p, dsin.p, T, a.nkv, a.hd, g_st);
        check_rel(fmt("rope_%s %s (q and k in a fused qkv row, v untouched)", bwd ? "bwd" : "fwd",
                      shape.c_str()),
                  dx.down(), ref, TOL_F32);
    }
}

/* mode: the R1_ATTN path under test: "simt" (the float32 SIMT kernels, their
 * own tolerances), "wmma" (cuda/attention_tc.cu) or "mma" (cuda/attention_mma.cu),
 * the tensor-core paths with bf16 tolerances where they support the shape (hd
 * 64 and 128), else falling back to SIMT. */
static void test_attention(const AttnCfg &a, uint64_t sd, const char *mode) {
    seed(sd);
    setenv("R1_ATTN", mode, 1);
    const bool tc = strcmp(mode, "simt") != 0;
    const bool tc_path = tc && (a.hd == 64 || a.hd == 128);
    const std::string path = tc ? fmt(tc_path ? "[%s]" : "[%s->simt]", mode) : "[simt]";
    const double tol_out = tc_path ? TOL_TC_OUT : TOL_F32; /* out is float32 */
    const double tol_lse = tc_path ? TOL_TC_LSE : TOL_F32;
    const double tol_bwd = tc_path ? TOL_TC_BWD : TOL_BWD;
    int nseq = (int)a.lens.size(), T = 0, max_len = 0;
    VI start(1, 0);
    for (int L : a.lens) {
        T += L;
        start.push_back(T);
        max_len = L > max_len ? L : max_len;
    }
    int nh = a.nh, nkv = a.nkv, hd = a.hd;
    int ld = (nh + 2 * nkv) * hd, ldo = nh * hd, kvd = nkv * hd, koff = nh * hd, voff = koff + kvd;
    std::string shape = fmt("%s T=%d seqs=[%s] nh=%d nkv=%d hd=%d", path.c_str(), T,
                            ints(a.lens).c_str(), nh, nkv, hd);

    VF qkv = randn((size_t)T * ld);
    VF out_ref((size_t)T * ldo), lse_ref((size_t)T * nh);
    op_attention_fwd(out_ref.data(), lse_ref.data(), qkv.data(), ld, qkv.data() + koff,
                     qkv.data() + voff, ld, start.data(), nseq, nh, nkv, hd);

    Dev<float> dqkv(qkv);
    Dev<int> dstart(start);
    CuSeqs s;
    s.n_seqs = nseq, s.T = T, s.max_len = max_len, s.start = dstart.p;
    const float *q = dqkv.p, *k = dqkv.p + koff, *v = dqkv.p + voff;

    /* forward, twice */
    Dev<float> dout((size_t)T * ldo);
    Dev<float> dlse((size_t)T * nh);
    VF out[2];
    VF lse[2];
    for (int rep = 0; rep < 2; rep++) {
        dout.poison();
        dlse.poison();
        cu_attention_fwd(dout.p, dlse.p, q, ld, k, v, ld, s, nh, nkv, hd, g_st);
        out[rep] = dout.down();
        lse[rep] = dlse.down();
    }
    check_rel(fmt("attention_fwd %s out", shape.c_str()), out[0], out_ref, tol_out);
    check_rel(fmt("attention_fwd %s lse", shape.c_str()), lse[0], lse_ref, tol_lse);
    check_same(fmt("attention_fwd %s out deterministic", shape.c_str()), out[0], out[1]);
    check_same(fmt("attention_fwd %s lse deterministic", shape.c_str()), lse[0], lse[1]);

    /* backward: out = the CPU's out and lse = the CPU's lse, the same for both
     * sides; dq, dk, dv in one fused [T, ld] buffer (ldd = ld) */
    VF dO = randn((size_t)T * ldo);
    VF outr = out_ref;
    VF start_d = randn((size_t)T * ld), dref = start_d;
    for (int t = 0; t < T; t++)
        for (int c = 0; c < ldo; c++) dref[(size_t)t * ld + c] = 0.0f; /* dq is overwritten */
    op_attention_bwd(dref.data(), dref.data() + koff, dref.data() + voff, ld, dO.data(),
                     outr.data(), lse_ref.data(), qkv.data(), ld, qkv.data() + koff,
                     qkv.data() + voff, ld, start.data(), nseq, nh, nkv, hd);
    Dev<float> ddO(dO), dlse_ref(lse_ref), dd((size_t)T * ld);
    Dev<float> doutb(outr);
    Dev<float> scratch(cu_attention_bwd_scratch(T, nh));
    VF g[2];
    for (int rep = 0; rep < 2; rep++) {
        dd.up(start_d);
        /* dq columns: NaN (must be overwritten); dk, dv columns: random start (accumulated) */
        CU_CHECK(cudaMemset2DAsync(dd.p, sizeof(float) * ld, 0xFF, sizeof(float) * ldo, T, g_st));
        scratch.poison();
        cu_attention_bwd(dd.p, dd.p + koff, dd.p + voff, ld, ddO.p, doutb.p, dlse_ref.p, q, ld, k,
                         v, ld, s, nh, nkv, hd, scratch.p, g_st);
        g[rep] = dd.down();
    }
    check_rel(fmt("attention_bwd %s dq (overwritten over NaN)", shape.c_str()),
              cols(g[0], T, ld, 0, ldo), cols(dref, T, ld, 0, ldo), tol_bwd);
    check_rel(fmt("attention_bwd %s dk (accumulated onto random start)", shape.c_str()),
              cols(g[0], T, ld, koff, kvd), cols(dref, T, ld, koff, kvd), tol_bwd);
    check_rel(fmt("attention_bwd %s dv (accumulated onto random start)", shape.c_str()),
              cols(g[0], T, ld, voff, kvd), cols(dref, T, ld, voff, kvd), tol_bwd);
    check_same(fmt("attention_bwd %s dq|dk|dv deterministic", shape.c_str()), g[0], g[1]);
}

struct DecQuery {
    int prow, np, srow, ns;
};

struct DecCfg {
    int nh, nkv, hd, pad, rows;
    std::vector<DecQuery> qs;
};

static void test_decode(const DecCfg &c, uint64_t sd) {
    seed(sd);
    int n = (int)c.qs.size(), nh = c.nh, nkv = c.nkv, hd = c.hd;
    int ldkv = nkv * hd + c.pad, ldq = (nh + 2 * nkv) * hd, max_ctx = 0;
    VB kc = to_bf16(randn((size_t)c.rows * ldkv)), vc = to_bf16(randn((size_t)c.rows * ldkv));
    VF kcf = from_bf16(kc), vcf = from_bf16(vc);
    VF q = randn((size_t)n * ldq, 1.5f);
    VI prow(n), np(n), srow(n), ns(n);
    std::vector<const float *> kp(n), vp(n), ks(n), vs(n);
    std::string desc;
    for (int i = 0; i < n; i++) {
        const DecQuery &d = c.qs[i];
        prow[i] = d.prow, np[i] = d.np, srow[i] = d.srow, ns[i] = d.ns;
        kp[i] = kcf.data() + (size_t)d.prow * ldkv, vp[i] = vcf.data() + (size_t)d.prow * ldkv;
        ks[i] = kcf.data() + (size_t)d.srow * ldkv, vs[i] = vcf.data() + (size_t)d.srow * ldkv;
        max_ctx = d.np + d.ns > max_ctx ? d.np + d.ns : max_ctx;
        desc += fmt("%s%d+%d", i ? "," : "", d.np, d.ns);
    }
    VF ref((size_t)n * nh * hd);
    op_attention_decode(ref.data(), q.data(), ldq, kp.data(), vp.data(), np.data(), ks.data(),
                        vs.data(), ns.data(), ldkv, n, nh, nkv, hd);
    Dev<bf16> dkc(kc), dvc(vc), dout((size_t)n * nh * hd);
    Dev<float> dq(q);
    Dev<int> dprow(prow), dnp(np), dsrow(srow), dns(ns);
    VB got[2];
    for (int rep = 0; rep < 2; rep++) {
        dout.poison();
        cu_attention_decode(dout.p, dq.p, ldq, dkc.p, dvc.p, ldkv, dprow.p, dnp.p, dsrow.p, dns.p,
                            n, max_ctx, nh, nkv, hd, g_st);
        got[rep] = dout.down<uint16_t>();
    }
    std::string shape = fmt("n=%d ctx(prefix+own)=[%s] nh=%d nkv=%d hd=%d ldkv=%d", n, desc.c_str(),
                            nh, nkv, hd, ldkv);
    check_rel(fmt("attention_decode %s (bf16 out)", shape.c_str()), from_bf16(got[0]), ref,
              TOL_BF16);
    check_same(fmt("attention_decode %s deterministic", shape.c_str()), got[0], got[1]);
}

static void test_kv_store(void) {
    struct {
        int nh, nkv, hd, pad, R;
        VI rows;
    } cases[] = {{4, 2, 32, 8, 50, {17, 3, 49, 20, 0}},
                 {8, 2, 64, 0, 300, {123}},
                 {6, 3, 128, 0, 40, {39, 1, 2, 30, 31, 5, 6}}};
    for (auto &c : cases) {
        seed(900 + c.hd + c.R);
        int n = (int)c.rows.size(), kvd = c.nkv * c.hd, ldkv = kvd + c.pad;
        int ld = (c.nh + 2 * c.nkv) * c.hd, koff = c.nh * c.hd, voff = koff + kvd;
        VF qkv = randn((size_t)n * ld);
        VB kc = to_bf16(randn((size_t)c.R * ldkv)), vc = to_bf16(randn((size_t)c.R * ldkv));
        VB kwant = kc, vwant = vc;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < kvd; j++) {
                kwant[(size_t)c.rows[i] * ldkv + j] = bf16_bits(qkv[(size_t)i * ld + koff + j]);
                vwant[(size_t)c.rows[i] * ldkv + j] = bf16_bits(qkv[(size_t)i * ld + voff + j]);
            }
        Dev<bf16> dkc(kc), dvc(vc);
        Dev<float> dqkv(qkv);
        Dev<int> drows(c.rows);
        cu_kv_store(dkc.p, dvc.p, ldkv, dqkv.p, ld, koff, voff, drows.p, n, kvd, g_st);
        std::string shape =
            fmt("n=%d rows=[%s] kvd=%d ldkv=%d ld=%d", n, ints(c.rows).c_str(), kvd, ldkv, ld);
        check_same(fmt("kv_store %s k cache exact (other rows untouched)", shape.c_str()),
                   dkc.down<uint16_t>(), kwant);
        check_same(fmt("kv_store %s v cache exact (other rows untouched)", shape.c_str()),
                   dvc.down<uint16_t>(), vwant);
    }
}

/* ---- output layer in vocabulary chunks ------------------------------------------- */

static void test_head(int n, int V, int chunk, float s, const VI &targets, uint64_t sd) {
    seed(sd);
    VF logits = randn((size_t)n * V, 3.0f);
    for (int j = 0; j < V; j++) {
        /* a peaked row and a shifted row (moderate: the contract's ent = lse - sy/se
         * cancels, losing ~|lse| * 6e-8 absolute, inherent to float32) */
        if (n > 1) logits[(size_t)1 * V + j] *= 3.0f;
        if (n > 2) logits[(size_t)2 * V + j] += 15.0f;
    }
    VF dlogp = randn(n);
    if (n > 3) dlogp[3] = 0.0f;
    VF logp_ref(n), lse_ref(n), ent_ref(n);
    op_logprob_fwd(logp_ref.data(), lse_ref.data(), logits.data(), targets.data(), n, V, s);
    for (int r = 0; r < n; r++) { /* entropy of softmax(s logits) in double */
        const float *x = logits.data() + (size_t)r * V;
        double m = -INFINITY, z = 0.0, zy = 0.0;
        for (int j = 0; j < V; j++) m = fmax(m, (double)s * x[j]);
        for (int j = 0; j < V; j++) {
            double y = (double)s * x[j], e = exp(y - m);
            z += e, zy += e * y;
        }
        ent_ref[r] = (float)(m + log(z) - zy / z);
    }
    std::string shape = fmt("n=%d V=%d chunks of %d (last %d) s=%.4g targets=[%s]", n, V, chunk,
                            V % chunk ? V % chunk : chunk, s, ints(targets).c_str());

    Dev<float> dlog(logits), dmx(n), dse(n), dsy(n), dzt(n), dlp(n), dlse(n), dent(n);
    Dev<int> dtg(targets);
    for (auto *b : {&dmx, &dse, &dsy, &dzt, &dlp, &dlse, &dent}) b->poison();
    cu_head_stats_init(dmx.p, dse.p, dsy.p, dzt.p, n, g_st);
    for (int v0 = 0; v0 < V; v0 += chunk) {
        int Vc = V - v0 < chunk ? V - v0 : chunk;
        cu_head_stats_chunk(dmx.p, dse.p, dsy.p, dzt.p, dlog.p + v0, V, n, Vc, v0, dtg.p, s, g_st);
    }
    cu_head_stats_finish(dlp.p, dlse.p, dent.p, dmx.p, dse.p, dsy.p, dzt.p, n, s, g_st);
    check_rel(fmt("head_stats %s logp vs op_logprob_fwd", shape.c_str()), dlp.down(), logp_ref,
              TOL_F32);
    check_rel(fmt("head_stats %s lse vs op_logprob_fwd", shape.c_str()), dlse.down(), lse_ref,
              TOL_F32);
    check_rel(fmt("head_stats %s entropy vs host double", shape.c_str()), dent.down(), ent_ref,
              TOL_F32);

    /* dlogits chunk by chunk, from the CPU lse; all rows have targets, one has dlogp 0 */
    VF dref((size_t)n * V);
    op_logprob_bwd(dref.data(), logits.data(), lse_ref.data(), targets.data(), dlogp.data(), n, V,
                   s);
    Dev<float> dl(lse_ref), ddlp(dlogp);
    Dev<bf16> dd((size_t)n * V);
    VB got[2];
    for (int rep = 0; rep < 2; rep++) {
        dd.poison();
        for (int v0 = 0; v0 < V; v0 += chunk) {
            int Vc = V - v0 < chunk ? V - v0 : chunk;
            cu_head_dlogits(dd.p + v0, dlog.p + v0, V, n, Vc, v0, dtg.p, dl.p, ddlp.p, s, g_st);
        }
        got[rep] = dd.down<uint16_t>();
    }
    check_rel(fmt("head_dlogits %s vs op_logprob_bwd (bf16, overwritten over NaN)", shape.c_str()),
              from_bf16(got[0]), dref, TOL_BF16);
    check_same(fmt("head_dlogits %s deterministic", shape.c_str()), got[0], got[1]);
}

/* ---- AdamW ------------------------------------------------------------------------ */

static void test_adamw(void) {
    seed(1100);
    R1Param ps[2];
    memset(ps, 0, sizeof ps);
    snprintf(ps[0].name, R1_PARAM_NAME, "w");
    ps[0].ndim = 2, ps[0].shape[0] = 67, ps[0].shape[1] = 75;
    ps[0].offset = 0, ps[0].numel = 67 * 75, ps[0].decay = 1;
    snprintf(ps[1].name, R1_PARAM_NAME, "b");
    ps[1].ndim = 1, ps[1].shape[0] = 75;
    ps[1].offset = 67 * 75, ps[1].numel = 75, ps[1].decay = 0;
    R1ParamTable tb;
    tb.p = ps, tb.n = 2, tb.total = 67 * 75 + 75;
    const float b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    const float lrs[3] = {1e-2f, 5e-3f, 1e-3f};
    size_t N = tb.total;

    R1AdamW o;
    r1_adamw_init(&o, &tb, b1, b2, eps, wd);
    VF p = randn(N, 0.5f), pref = p;
    Dev<float> dp(p), dg(N), dm(N), dv(N);
    Dev<bf16> dp16(N);
    dm.up(VF(N, 0.0f));
    dv.up(VF(N, 0.0f));
    dp16.poison();
    for (int step = 1; step <= 3; step++) {
        VF g = randn(N, 0.1f);
        if (step == 2) g[5] = 0.0f; /* a zero gradient */
        r1_adamw_step(&o, pref.data(), g.data(), lrs[step - 1]);
        dg.up(g);
        float bc1 = (float)(1.0 - pow((double)b1, step)),
              bc2 = (float)(1.0 - pow((double)b2, step));
        for (int i = 0; i < tb.n; i++) {
            const R1Param &q = tb.p[i];
            cu_adamw(dp.p + q.offset, dp16.p + q.offset, dg.p + q.offset, dm.p + q.offset,
                     dv.p + q.offset, q.numel, lrs[step - 1], b1, b2, eps, q.decay ? wd : 0.0f, bc1,
                     bc2, g_st);
        }
    }
    VF gp = dp.down(), gm = dm.down(), gv = dv.down();
    VB g16 = dp16.down<uint16_t>();
    VF ref_m(o.m, o.m + N), ref_v(o.v, o.v + N);
    for (int i = 0; i < tb.n; i++) {
        const R1Param &q = tb.p[i];
        size_t a = q.offset, b = q.offset + q.numel;
        std::string shape = fmt("tensor '%s' (%zu elements, decay %s) after 3 steps", q.name,
                                q.numel, q.decay ? "0.1" : "off");
        check_rel(fmt("adamw %s p", shape.c_str()), VF(gp.begin() + a, gp.begin() + b),
                  VF(pref.begin() + a, pref.begin() + b), TOL_ADAM);
        check_rel(fmt("adamw %s m", shape.c_str()), VF(gm.begin() + a, gm.begin() + b),
                  VF(ref_m.begin() + a, ref_m.begin() + b), TOL_ADAM);
        check_rel(fmt("adamw %s v", shape.c_str()), VF(gv.begin() + a, gv.begin() + b),
                  VF(ref_v.begin() + a, ref_v.begin() + b), TOL_ADAM);
        check_same(fmt("adamw %s p16 == bf16(p)", shape.c_str()),
                   VB(g16.begin() + a, g16.begin() + b),
                   to_bf16(VF(gp.begin() + a, gp.begin() + b)));
    }
    r1_adamw_free(&o);
}

/* ---- sampling ---------------------------------------------------------------------- */

static void test_sample(int V, uint64_t sd) {
    seed(sd);
    const long ld = V + 5;
    const int n = 6, R = 4 * n + 3;
    const float temp = 0.7f;
    VF logits((size_t)R * ld);
    for (auto &x : logits) x = 2.0f * (float)r1_rng_normal(&g_rng);
    /* greedy rows and temperature rows: separate, not contiguous, not from row 0 */
    VI rows[2] = {VI(n), VI(n)};
    for (int i = 0; i < n; i++) rows[0][i] = 2 * i + 1, rows[1][i] = 2 * n + 2 * i + 2;
    auto row = [&](int set, int i) { return logits.data() + (size_t)rows[set][i] * ld; };
    auto maxof = [&](const float *x, int j0, int j1, int *at) {
        float m = -INFINITY;
        for (int j = j0; j < j1; j++)
            if (x[j] > m) m = x[j], *at = j;
        return m;
    };
    int at;

    /* greedy: a tie (the lowest id must win), the max at id 0, at V-1, random rows */
    int tie_a = 1 + randint(V / 2 - 1), tie_b = V / 2 + randint(V / 2);
    {
        float m = maxof(row(0, 0), 0, V, &at) + 1.0f;
        row(0, 0)[tie_a] = m, row(0, 0)[tie_b] = m;
        row(0, 1)[0] = maxof(row(0, 1), 0, V, &at) + 0.5f;
        row(0, 2)[V - 1] = maxof(row(0, 2), 0, V, &at) + 0.5f;
    }

    /* temperature: u aimed at the middle of a chosen token's interval (in id
     * order), so float rounding of the cumulative sums cannot move the answer:
     * row 0 token 0, row 1 token V-1, row 2 a random token, row 3 a random token
     * after another boosted one (all boosted so their intervals are wide),
     * row 4 u = 0 (token 0), row 5 the likeliest token of the upper half, unboosted. */
    int tgt[n] = {0, V - 1, randint(V), 2 + randint(V - 3), 0, 0};
    for (int i = 0; i < 4; i++) row(1, i)[tgt[i]] = maxof(row(1, i), 0, V, &at) + 1.5f;
    row(1, 3)[randint(tgt[3])] = maxof(row(1, 3), 0, V, &at) + 0.2f;
    maxof(row(1, 5), V / 2, V, &tgt[5]);
    int want[n];
    float u[n];
    {
        double inv_t = 1.0 / (double)temp;
        std::vector<double> cum(V);
        for (int i = 0; i < n; i++) {
            const float *x = row(1, i);
            double mx = maxof(x, 0, V, &at) * inv_t, z = 0.0;
            for (int j = 0; j < V; j++) cum[j] = z += exp(x[j] * inv_t - mx);
            int k = tgt[i];
            double lo = k ? cum[k - 1] : 0.0;
            u[i] = i == 4 ? 0.0f : (float)((lo + 0.5 * (cum[k] - lo)) / z);
            double uz = (double)u[i] * z;
            want[i] = V - 1;
            for (int j = 0; j < V; j++)
                if (cum[j] > uz) {
                    want[i] = j;
                    break;
                }
            lo = want[i] ? cum[want[i] - 1] : 0.0;
            double margin = fmin(uz - lo, cum[want[i]] - uz) / z;
            if (i != 4 && margin < 1e-3)
                printf("note sample V=%d row %d: u=%.9g is only %.2e of the mass from a boundary\n",
                       V, rows[1][i], (double)u[i], margin);
        }
    }

    Dev<float> dlog(logits), du(VF(u, u + n)), dlp(n);
    Dev<int> dids(n);
    R1Sampler smp;
    r1_sampler_init(&smp, V);
    for (int set = 0; set < 2; set++) {
        int greedy = set == 0;
        float T = greedy ? 0.0f : temp;
        double inv_t = greedy ? 1.0 : 1.0 / (double)T;
        Dev<int> drows(rows[set]);
        dids.poison();
        dlp.poison();
        cu_sample(dids.p, dlp.p, dlog.p, ld, drows.p, du.p, n, V, T, g_st);
        VI ids = dids.down();
        VF lps = dlp.down();
        for (int i = 0; i < n; i++) {
            const float *x = row(set, i);
            int exp_id = greedy ? 0 : want[i];
            double mx = maxof(x, 0, V, greedy ? &exp_id : &at) * inv_t, z = 0.0;
            for (int j = 0; j < V; j++) z += exp(x[j] * inv_t - mx);
            int id = ids[i], lid = id >= 0 && id < V ? id : exp_id;
            double lp_ref = x[lid] * inv_t - mx - log(z);
            std::string what = greedy ? (i == 0 ? fmt("greedy, tie at ids %d and %d", tie_a, tie_b)
                                                : fmt("greedy"))
                                      : fmt("T=0.7 u=%.7g", (double)u[i]);
            verdict(id == exp_id, fmt("sample V=%d ld=%ld row %d (%s): id=%d expected %d", V, ld,
                                      rows[set][i], what.c_str(), id, exp_id));
            double lerr = fabs((double)lps[i] - lp_ref);
            verdict(
                std::isfinite(lps[i]) && lerr <= TOL_LOGPROB_ABS,
                fmt("sample V=%d row %d (%s) logprob=%.7g host double %.7g |diff|=%.2e (tol %.0e "
                    "absolute)",
                    V, rows[set][i], what.c_str(), (double)lps[i], lp_ref, lerr, TOL_LOGPROB_ABS));
            if (greedy) {
                R1SampleOpts so;
                so.temperature = 0.0f, so.top_p = 1.0f, so.top_k = 0;
                R1Rng rr;
                r1_rng_seed(&rr, 1);
                float lp_cpu = 0.0f;
                int cpu = r1_sample(&smp, x, &so, &rr, &lp_cpu);
                double d = fabs((double)lps[i] - (double)lp_cpu);
                verdict(
                    cpu == id && d <= TOL_LOGPROB_ABS,
                    fmt("sample V=%d row %d (%s) vs r1_sample: id %d vs %d, logprob |diff|=%.2e "
                        "(tol %.0e)",
                        V, rows[set][i], what.c_str(), id, cpu, d, TOL_LOGPROB_ABS));
            }
        }
    }
    r1_sampler_free(&smp);
}

/* ---- main -------------------------------------------------------------------------- */

int main(void) {
    int dev = 0;
    cudaDeviceProp prop;
    CU_CHECK(cudaGetDevice(&dev));
    CU_CHECK(cudaGetDeviceProperties(&prop, dev));
    printf("test_cuda_ops on %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    printf("relative error = ||gpu - ref||_2 / ||ref||_2; tolerances: float32 ops %.0e, "
           "bf16 outputs %.0e, attention/RMSNorm backward %.0e, AdamW %.0e, sumsq %.0e\n",
           TOL_F32, TOL_BF16, TOL_BWD, TOL_ADAM, TOL_SUMSQ);
    printf("outputs poisoned with NaN (0xFF bytes) before each run unless accumulated into; "
           "accumulated outputs start from random values given to the CPU reference too\n");
    CU_CHECK(cudaStreamCreate(&g_st));

    test_conversions();
    test_scale();
    test_sumsq();
    test_rows();
    test_bias();
    test_embedding();
    test_rmsnorm();
    test_swiglu();

    std::vector<AttnCfg> attn = {
        {4, 2, 32, {1, 37, 130, 5}},  /* GQA 2, hd 32 */
        {8, 2, 64, {200, 1, 67}},     /* GQA 4, hd 64 */
        {6, 3, 128, {129, 3, 1, 64}}, /* GQA 2, hd 128 */
        {3, 1, 32, {77, 1, 2}},       /* GQA 3 (configs/tiny-student), hd 32 */
    };
    for (size_t i = 0; i < attn.size(); i++) test_rope(attn[i], 1000 + i);
    for (const char *mode : {"simt", "wmma", "mma"}) /* every R1_ATTN path */
        for (size_t i = 0; i < attn.size(); i++) test_attention(attn[i], 1200 + i, mode);
    unsetenv("R1_ATTN");

    std::vector<DecCfg> dec = {
        /* ~3000 rows of context; two queries share one prompt prefix */
        {8, 2, 64, 0, 6000, {{123, 2900, 4000, 100}, {123, 2900, 5000, 1}, {3100, 17, 4200, 5}}},
        /* no prompt rows; one row of each */
        {4, 1, 128, 0, 1000, {{10, 0, 700, 3}, {0, 1, 800, 1}, {37, 500, 900, 33}}},
        /* padded cache rows (ldkv = kvd + 8) */
        {6, 3, 32, 8, 1500, {{5, 64, 300, 64}, {100, 1000, 1200, 7}, {5, 64, 1300, 129}}},
    };
    for (size_t i = 0; i < dec.size(); i++) test_decode(dec[i], 1300 + i);
    test_kv_store();

    test_head(7, 1000, 384, 1.0f / 0.7f, {0, 383, 384, 999, 500, 767, 768}, 1400);
    test_head(3, 771, 256, 1.0f, {0, 255, 770}, 1401); /* odd row stride, last chunk of 3 */

    test_adamw();

    test_sample(768, 1500);
    test_sample(32003, 1501);

    CU_CHECK(cudaStreamSynchronize(g_st));
    CU_CHECK(cudaStreamDestroy(g_st));
    printf("test_cuda_ops: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
