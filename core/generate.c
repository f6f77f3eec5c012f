/* generate.c - see generate.h. A small scheduler over a decoder: slots hold
 * running sequences, prefix entries hold prefilled prompts with a count of
 * their samples still to finish. Sequences start in (prompt, sample) order.
 * The decoder is one of two behind the Decoder interface below: decode.h's on
 * the CPU with sample.h's sampler, or gpu.h's, which keeps the logits on the
 * GPU and samples there. */
#define _GNU_SOURCE /* memmem */
#include "generate.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "gpu.h"

typedef struct {
    int q;       /* sequence index p * G + g; -1 when the slot is free */
    int pending; /* the token sampled last, to be fed next */
    R1Rng rng;
    R1TokStream stream;
    size_t text_cap;
} Slot;

typedef struct Gen Gen;

/* What the scheduler asks of a decoder. Logits never pass through the
 * scheduler: a decoder keeps the last logits of every prefix entry and the
 * rows of its last step, and sample() names a row as src: src >= 0 is row src
 * of the last step, src < 0 is prefix entry -1 - src. */
typedef struct {
    /* Runs prompts ids[i][0..lens[i]) into prefix entries entry[i]. */
    void (*prefill)(Gen *g, int n, const int *entry, const int *const *ids, const int *lens);
    /* Feeds g->act_tok[i] to the sequence in slot g->act_slot[i], which
     * continues entry g->act_prefix[i]; its logits become step row i. */
    void (*step)(Gen *g, int n);
    /* Draws tok[i] (log-probability lp[i]) from row src[i] for the sequence
     * in slot slot[i], with that slot's generator. */
    void (*sample)(Gen *g, int n, const int *src, const int *slot, int *tok, float *lp);
    /* Empties slot s (its sequence is done). */
    void (*reset)(Gen *g, int s);
} Decoder;

struct Gen {
    const Decoder *dec;
    const R1Model *m;
    const R1Tokenizer *tok;
    const R1GenRequest *r;
    const R1GenOpts *o;
    R1Completion *out;
    R1GenTokenFn fn;
    void *ctx;
    R1Decoder cpu;       /* the CPU decoder (gpu NULL) */
    R1GpuDec *gpu;       /* the GPU decoder */
    R1Sampler *samplers; /* one per thread, when sampling on the host */
    int n_samplers;
    Slot *slots;
    int n_slots, max_new, max_stop, next_q, n_done;
    int *entry_of;       /* [n_prompts] prefix entry, -1 when none */
    int *entry_left;     /* [n_slots] samples of the entry's prompt not yet finished */
    float *entry_logits; /* CPU: [n_slots, V] logits after each entry's prompt */
    float *step_logits;  /* CPU: [n_slots, V] the last step's; GPU: rows copied to sample */
    int *act_slot, *act_prefix, *act_tok, *act_src;
    float *act_lp, *act_u; /* [n_slots] log-probabilities; uniforms for the GPU's sampler */
    const float **act_row; /* [n_slots] host rows of logits to sample */
};

static int longest_prompt(const R1GenRequest *r, int *shortest) {
    int mx = 0, mn = r->n_prompts ? r->lens[0] : 0;
    for (int p = 0; p < r->n_prompts; p++) {
        mx = r->lens[p] > mx ? r->lens[p] : mx;
        mn = r->lens[p] < mn ? r->lens[p] : mn;
    }
    if (shortest) *shortest = mn;
    return mx;
}

/* Own tokens a slot can hold: M, or fewer when the context ends first. */
static int slot_capacity(const R1Config *c, const R1GenRequest *r, const R1GenOpts *o) {
    int shortest, room;
    longest_prompt(r, &shortest);
    room = c->max_pos - shortest;
    return o->max_new < room ? o->max_new : room;
}

static int n_slots_for(const R1GenRequest *r, const R1GenOpts *o) {
    long total = (long)r->n_prompts * r->group;
    int b = o->batch > 0 ? o->batch : 1;
    return total < b ? (int)total : b;
}

size_t r1_generate_cache_bytes(const R1Config *c, const R1GenRequest *r, const R1GenOpts *o) {
    int n = n_slots_for(r, o);
    return r1_dec_cache_bytes(c, n, n, longest_prompt(r, NULL), slot_capacity(c, r, o));
}

void r1_completion_free(R1Completion *c) {
    free(c->ids), free(c->logprobs), free(c->text);
    memset(c, 0, sizeof *c);
}

/* Appends token id's text to the completion (special and unknown ids add none). */
static void append_text(Gen *g, Slot *s, R1Completion *c, int id) {
    if (!g->tok || r1_tok_is_special(g->tok, id)) return;
    size_t unused;
    if (!r1_tok_piece(g->tok, id, &unused)) return;
    r1_tok_stream_push(g->tok, &s->stream, id, &c->text, &c->text_len, &s->text_cap, NULL);
}

static int hits_stop(const Gen *g, const R1Completion *c, size_t old_len) {
    size_t from = old_len > (size_t)g->max_stop ? old_len - (size_t)g->max_stop : 0;
    for (int i = 0; i < g->o->n_stop; i++) {
        size_t n = strlen(g->o->stop[i]);
        if (n && c->text_len - from >= n &&
            memmem(c->text + from, c->text_len - from, g->o->stop[i], n))
            return 1;
    }
    return 0;
}

static int is_eos(const R1GenOpts *o, int id) {
    for (int i = 0; i < o->n_eos; i++)
        if (o->eos[i] == id) return 1;
    return 0;
}

/* ---- the decoders ------------------------------------------------------------------------- */

/* Draws with sample.h from host rows row[i]. Sampling is independent per
 * sequence (its own generator), so it runs in parallel with one sampler's
 * scratch per thread. */
static void host_sample(Gen *g, int n, const float *const *row, const int *slot, int *tok,
                        float *lp) {
#pragma omp parallel for schedule(dynamic) if (n > 1)
    for (int i = 0; i < n; i++)
        tok[i] = r1_sample(&g->samplers[omp_get_thread_num()], row[i], &g->o->sample,
                           &g->slots[slot[i]].rng, &lp[i]);
}

/* The CPU: decode.h's decoder; the logits of the entries and of the last step
 * in host arrays, sampled by sample.h. */
static void cpu_prefill(Gen *g, int n, const int *entry, const int *const *ids, const int *lens) {
    size_t V = (size_t)g->m->cfg.vocab;
    r1_dec_prefill(&g->cpu, n, entry, ids, lens, g->step_logits);
    for (int i = 0; i < n; i++)
        memcpy(g->entry_logits + (size_t)entry[i] * V, g->step_logits + (size_t)i * V,
               sizeof(float) * V);
}

static void cpu_step(Gen *g, int n) {
    r1_dec_step(&g->cpu, n, g->act_slot, g->act_prefix, g->act_tok, g->step_logits);
}

static void cpu_sample(Gen *g, int n, const int *src, const int *slot, int *tok, float *lp) {
    size_t V = (size_t)g->m->cfg.vocab;
    for (int i = 0; i < n; i++)
        g->act_row[i] = src[i] >= 0 ? g->step_logits + (size_t)src[i] * V
                                    : g->entry_logits + (size_t)(-1 - src[i]) * V;
    host_sample(g, n, g->act_row, slot, tok, lp);
}

static void cpu_reset(Gen *g, int s) {
    r1_dec_reset_slot(&g->cpu, s);
}

static const Decoder CPU_DECODER = {cpu_prefill, cpu_step, cpu_sample, cpu_reset};

/* The GPU: gpu.h's decoder, which keeps every row of logits on the GPU. Without
 * a top-k / top-p cut the GPU samples too (the same rule as sample.h's, one
 * uniform per token from the sequence's generator when temperature > 0, none
 * when greedy, as on the CPU); with one, the rows come to the host for
 * sample.h. */
static int host_cut(const R1GenOpts *o, int V) {
    return !((o->sample.top_k <= 0 || o->sample.top_k >= V) && o->sample.top_p >= 1.0f);
}

static void gpu_prefill(Gen *g, int n, const int *entry, const int *const *ids, const int *lens) {
    r1_gpu_dec_prefill(g->gpu, n, entry, ids, lens);
}

static void gpu_step(Gen *g, int n) {
    r1_gpu_dec_step(g->gpu, n, g->act_slot, g->act_prefix, g->act_tok);
}

static void gpu_sample(Gen *g, int n, const int *src, const int *slot, int *tok, float *lp) {
    int V = g->m->cfg.vocab;
    if (host_cut(g->o, V)) {
        r1_gpu_dec_logits(g->gpu, n, src, g->step_logits);
        for (int i = 0; i < n; i++) g->act_row[i] = g->step_logits + (size_t)i * (size_t)V;
        host_sample(g, n, g->act_row, slot, tok, lp);
        return;
    }
    float t = g->o->sample.temperature;
    for (int i = 0; i < n; i++)
        g->act_u[i] = t > 0.0f ? (float)r1_rng_uniform(&g->slots[slot[i]].rng) : 0.0f;
    r1_gpu_dec_sample(g->gpu, n, src, t, g->act_u, tok, lp);
}

static void gpu_reset(Gen *g, int s) {
    r1_gpu_dec_reset_slot(g->gpu, s);
}

static const Decoder GPU_DECODER = {gpu_prefill, gpu_step, gpu_sample, gpu_reset};

/* ---- the scheduler ------------------------------------------------------------------------ */

/* Appends token id (log-probability lp) to the sequence in slot s; returns 1
 * when the sequence is finished (the slot is then free), 0 to go on, -1 on
 * error. */
static int advance(Gen *g, int s, int id, float lp, R1Err *err) {
    Slot *sl = &g->slots[s];
    R1Completion *c = &g->out[sl->q];
    if (!isfinite(lp))
        return r1_seterr(err, "prompt %d, sample %d, token %d: the model's logits are not finite",
                         c->prompt, c->sample, c->n);
    c->ids[c->n] = id, c->logprobs[c->n] = lp, c->n++;
    size_t old = c->text_len;
    append_text(g, sl, c, id);
    int prompt_len = g->r->lens[c->prompt];
    int stop = is_eos(g->o, id) || hits_stop(g, c, old);
    int full = c->n >= g->max_new || prompt_len + c->n >= g->m->cfg.max_pos;
    if ((stop || full) && g->tok)
        r1_tok_stream_finish(&sl->stream, &c->text, &c->text_len, &sl->text_cap);
    if (g->fn) g->fn(g->ctx, c, c->text + old, c->text_len - old, stop || full);
    if (stop || full) { /* the database keeps valid UTF-8, as tokenizers' decode gives it */
        char *clean = r1_utf8_lossy(c->text, c->text_len, &c->text_len);
        free(c->text);
        c->text = clean;
    }
    if (!stop && !full) {
        sl->pending = id;
        return 0;
    }
    c->stopped = stop;
    int e = g->entry_of[c->prompt];
    if (--g->entry_left[e] == 0) g->entry_of[c->prompt] = -1;
    sl->q = -1;
    g->dec->reset(g, s);
    g->n_done++;
    return 1;
}

/* An entry is in use while its prompt has samples left (entry_left > 0).
 * Prompts start in order, so every prompt holding an entry has a running
 * sequence, except the newest, whose samples are still starting; when a new
 * entry is needed the newest has started them all, so in-use entries <= running
 * sequences < n_slots (one slot is free) and one entry is always free. */
static int free_entry(const Gen *g) {
    for (int e = 0; e < g->n_slots; e++)
        if (g->entry_left[e] == 0) return e;
    return -1;
}

/* Prefills the prompts of sequences [from, to) that have no entry yet, in
 * calls of at most prefill_tokens prompt tokens (and at least one prompt). */
static void prefill_for(Gen *g, int from, int to) {
    int G = g->r->group, budget = g->o->prefill_tokens > 0 ? g->o->prefill_tokens : 4096;
    int n = 0, tokens = 0, cap = to - from;
    int *entry = r1_xmalloc(sizeof(int) * (size_t)cap);
    int *lens = r1_xmalloc(sizeof(int) * (size_t)cap);
    const int **ids = r1_xmalloc(sizeof(int *) * (size_t)cap);
    for (int q = from; q < to; q++) {
        int p = q / G, len = g->r->lens[p];
        if (g->entry_of[p] >= 0) continue;
        if (n > 0 && tokens + len > budget) {
            g->dec->prefill(g, n, entry, ids, lens);
            n = 0, tokens = 0;
        }
        int e = free_entry(g);
        g->entry_of[p] = e, g->entry_left[e] = G;
        entry[n] = e, ids[n] = g->r->ids[p], lens[n] = len, n++, tokens += len;
    }
    if (n > 0) g->dec->prefill(g, n, entry, ids, lens);
    free(entry), free(lens), free(ids);
}

/* Puts waiting sequences into free slots (prefilling their prompts) and draws
 * their first tokens from their entries' logits; repeats while a sequence ends
 * at its first token. */
static int start_sequences(Gen *g, R1Err *err) {
    int total = g->r->n_prompts * g->r->group, G = g->r->group;
    for (;;) {
        int n_free = 0;
        for (int s = 0; s < g->n_slots; s++) n_free += g->slots[s].q < 0;
        int from = g->next_q, to = from + n_free < total ? from + n_free : total;
        if (from == to) return 0;
        prefill_for(g, from, to);
        int n = 0;
        for (int s = 0, q = from; s < g->n_slots && q < to; s++) {
            Slot *sl = &g->slots[s];
            if (sl->q >= 0) continue;
            int p = q / G;
            R1Completion *c = &g->out[q];
            c->prompt = p, c->sample = q % G;
            c->ids = r1_xmalloc(sizeof(int) * (size_t)g->max_new);
            c->logprobs = r1_xmalloc(sizeof(float) * (size_t)g->max_new);
            c->text = r1_xstrdup(""), sl->text_cap = 1;
            sl->q = q++;
            r1_rng_seed(&sl->rng, r1_seq_seed(g->o->seed, (uint64_t)g->o->step,
                                              (uint64_t)g->r->keys[p], (uint64_t)c->sample));
            r1_tok_stream_init(&sl->stream);
            g->act_slot[n] = s, g->act_src[n++] = -1 - g->entry_of[p];
        }
        g->dec->sample(g, n, g->act_src, g->act_slot, g->act_tok, g->act_lp);
        for (int i = 0; i < n; i++)
            if (advance(g, g->act_slot[i], g->act_tok[i], g->act_lp[i], err) < 0) return -1;
        g->next_q = to;
    }
}

/* One decode step of every running sequence. */
static int decode_step(Gen *g, R1Err *err) {
    int n = 0;
    for (int s = 0; s < g->n_slots; s++) {
        Slot *sl = &g->slots[s];
        if (sl->q < 0) continue;
        g->act_slot[n] = s, g->act_tok[n] = sl->pending, g->act_src[n] = n;
        g->act_prefix[n++] = g->entry_of[g->out[sl->q].prompt];
    }
    if (n == 0) return 0;
    g->dec->step(g, n);
    g->dec->sample(g, n, g->act_src, g->act_slot, g->act_tok, g->act_lp);
    for (int i = 0; i < n; i++)
        if (advance(g, g->act_slot[i], g->act_tok[i], g->act_lp[i], err) < 0) return -1;
    return 0;
}

static void gen_free(Gen *g) {
    if (g->gpu)
        r1_gpu_dec_free(g->gpu);
    else
        r1_dec_free(&g->cpu);
    for (int i = 0; i < g->n_samplers; i++) r1_sampler_free(&g->samplers[i]);
    free(g->samplers), free(g->act_lp), free(g->act_u), free(g->act_row);
    free(g->slots), free(g->entry_of), free(g->entry_left), free(g->entry_logits);
    free(g->step_logits), free(g->act_slot), free(g->act_prefix), free(g->act_tok);
    free(g->act_src);
}

static int gen_init(Gen *g, const R1Model *m, const R1Tokenizer *tok, const R1GenRequest *r,
                    const R1GenOpts *o, R1Err *err) {
    memset(g, 0, sizeof *g);
    g->m = m, g->tok = tok, g->r = r, g->o = o;
    g->n_slots = n_slots_for(r, o);
    g->max_new = slot_capacity(&m->cfg, r, o);
    for (int i = 0; i < o->n_stop; i++) {
        int n = (int)strlen(o->stop[i]);
        g->max_stop = n > g->max_stop ? n : g->max_stop;
    }
    size_t rows = (size_t)g->n_slots * (size_t)m->cfg.vocab;
    int on_host = 1; /* sampling with sample.h */
    if (o->gpu) {
        g->dec = &GPU_DECODER;
        g->gpu = r1_gpu_dec_new(o->gpu, g->n_slots, g->n_slots, longest_prompt(r, NULL), g->max_new,
                                err);
        if (!g->gpu) return -1;
        on_host = host_cut(o, m->cfg.vocab);
        if (on_host) g->step_logits = r1_falloc(rows);
    } else {
        g->dec = &CPU_DECODER;
        r1_dec_init(&g->cpu, m, g->n_slots, g->n_slots, longest_prompt(r, NULL), g->max_new);
        g->entry_logits = r1_falloc(rows);
        g->step_logits = r1_falloc(rows);
    }
    if (on_host) {
        g->n_samplers = omp_get_max_threads();
        g->samplers = r1_xcalloc((size_t)g->n_samplers, sizeof *g->samplers);
        for (int i = 0; i < g->n_samplers; i++) r1_sampler_init(&g->samplers[i], m->cfg.vocab);
    }
    g->slots = r1_xcalloc((size_t)g->n_slots, sizeof(Slot));
    for (int s = 0; s < g->n_slots; s++) g->slots[s].q = -1;
    g->entry_of = r1_xmalloc(sizeof(int) * (size_t)r->n_prompts);
    for (int p = 0; p < r->n_prompts; p++) g->entry_of[p] = -1;
    g->entry_left = r1_xcalloc((size_t)g->n_slots, sizeof(int));
    g->act_slot = r1_xmalloc(sizeof(int) * (size_t)g->n_slots);
    g->act_prefix = r1_xmalloc(sizeof(int) * (size_t)g->n_slots);
    g->act_tok = r1_xmalloc(sizeof(int) * (size_t)g->n_slots);
    g->act_src = r1_xmalloc(sizeof(int) * (size_t)g->n_slots);
    g->act_lp = r1_xmalloc(sizeof(float) * (size_t)g->n_slots);
    g->act_u = r1_xmalloc(sizeof(float) * (size_t)g->n_slots);
    g->act_row = r1_xmalloc(sizeof(float *) * (size_t)g->n_slots);
    return 0;
}

int r1_generate(const R1Model *m, const R1Tokenizer *tok, const R1GenRequest *r, const R1GenOpts *o,
                R1Completion *out, R1GenTokenFn fn, void *ctx, R1Err *err) {
    int total = r->n_prompts * r->group;
    memset(out, 0, sizeof *out * (size_t)total);
    if (total == 0) return 0;
    for (int p = 0; p < r->n_prompts; p++)
        if (r->lens[p] < 1 || r->lens[p] >= m->cfg.max_pos)
            return r1_seterr(err,
                             "prompt %d has %d tokens; it must have 1 to %d (the context, "
                             "max_position_embeddings %d, less one token to generate)",
                             p, r->lens[p], m->cfg.max_pos - 1, m->cfg.max_pos);
    if (o->max_new < 1) return r1_seterr(err, "max new tokens must be at least 1");
    Gen g;
    if (gen_init(&g, m, tok, r, o, err)) return -1;
    g.out = out, g.fn = fn, g.ctx = ctx;
    int rc = 0;
    while (rc == 0 && g.n_done < total) {
        rc = start_sequences(&g, err);
        if (rc == 0) rc = decode_step(&g, err);
    }
    gen_free(&g);
    if (rc) {
        for (int q = 0; q < total; q++) r1_completion_free(&out[q]);
    }
    return rc;
}
