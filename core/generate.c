/* generate.c - see generate.h. A small scheduler over decode.h: slots hold
 * running sequences, prefix entries hold prefilled prompts with a count of
 * their samples still to finish. Sequences start in (prompt, sample) order. */
#define _GNU_SOURCE /* memmem */
#include "generate.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

typedef struct {
    int q;       /* sequence index p * G + g; -1 when the slot is free */
    int pending; /* the token sampled last, to be fed next */
    R1Rng rng;
    R1TokStream stream;
    size_t text_cap;
} Slot;

typedef struct {
    const R1Model *m;
    const R1Tokenizer *tok;
    const R1GenRequest *r;
    const R1GenOpts *o;
    R1Completion *out;
    R1GenTokenFn fn;
    void *ctx;
    R1Decoder dec;
    R1Sampler *samplers; /* one per thread */
    int n_samplers;
    Slot *slots;
    int n_slots, max_new, max_stop, next_q, n_done;
    int *entry_of;       /* [n_prompts] prefix entry, -1 when none */
    int *entry_left;     /* [n_slots] samples of the entry's prompt not yet finished */
    float *entry_logits; /* [n_slots, V] logits after each entry's prompt */
    float *step_logits;  /* [n_slots, V] */
    int *act_slot, *act_prefix, *act_tok;
    float *act_lp;
} Gen;

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

/* Samples the next token of the sequence in slot s from logits; returns 1 when
 * the sequence is finished (the slot is then free), 0 to go on, -1 on error. */
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
    r1_dec_reset_slot(&g->dec, s);
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

/* Runs prefill calls for the prompts listed, then files each prompt's logits
 * under its entry. */
static void prefill_run(Gen *g, int n, const int *entry, const int **ids, const int *lens) {
    size_t V = (size_t)g->m->cfg.vocab;
    r1_dec_prefill(&g->dec, n, entry, ids, lens, g->step_logits);
    for (int i = 0; i < n; i++)
        memcpy(g->entry_logits + (size_t)entry[i] * V, g->step_logits + (size_t)i * V,
               sizeof(float) * V);
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
            prefill_run(g, n, entry, ids, lens);
            n = 0, tokens = 0;
        }
        int e = free_entry(g);
        g->entry_of[p] = e, g->entry_left[e] = G;
        entry[n] = e, ids[n] = g->r->ids[p], lens[n] = len, n++, tokens += len;
    }
    if (n > 0) prefill_run(g, n, entry, ids, lens);
    free(entry), free(lens), free(ids);
}

/* Puts waiting sequences into free slots (prefilling their prompts) and draws
 * their first tokens; repeats while a sequence ends at its first token. */
static int start_sequences(Gen *g, R1Err *err) {
    int total = g->r->n_prompts * g->r->group, G = g->r->group;
    for (;;) {
        int n_free = 0;
        for (int s = 0; s < g->n_slots; s++) n_free += g->slots[s].q < 0;
        int from = g->next_q, to = from + n_free < total ? from + n_free : total;
        if (from == to) return 0;
        prefill_for(g, from, to);
        size_t V = (size_t)g->m->cfg.vocab;
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
            float lp;
            int id = r1_sample(&g->samplers[0], g->entry_logits + (size_t)g->entry_of[p] * V,
                               &g->o->sample, &sl->rng, &lp);
            if (advance(g, s, id, lp, err) < 0) return -1;
        }
        g->next_q = to;
    }
}

/* One decode step of every running sequence. */
static int decode_step(Gen *g, R1Err *err) {
    int n = 0;
    for (int s = 0; s < g->n_slots; s++) {
        Slot *sl = &g->slots[s];
        if (sl->q < 0) continue;
        g->act_slot[n] = s, g->act_tok[n] = sl->pending;
        g->act_prefix[n++] = g->entry_of[g->out[sl->q].prompt];
    }
    if (n == 0) return 0;
    r1_dec_step(&g->dec, n, g->act_slot, g->act_prefix, g->act_tok, g->step_logits);
    size_t V = (size_t)g->m->cfg.vocab;
    /* Sampling is independent per sequence (its own generator), so it runs in
     * parallel with one sampler's scratch per thread; the rest is in order. */
#pragma omp parallel for schedule(dynamic) if (n > 1)
    for (int i = 0; i < n; i++)
        g->act_tok[i] =
            r1_sample(&g->samplers[omp_get_thread_num()], g->step_logits + (size_t)i * V,
                      &g->o->sample, &g->slots[g->act_slot[i]].rng, &g->act_lp[i]);
    for (int i = 0; i < n; i++)
        if (advance(g, g->act_slot[i], g->act_tok[i], g->act_lp[i], err) < 0) return -1;
    return 0;
}

static void gen_init(Gen *g, const R1Model *m, const R1Tokenizer *tok, const R1GenRequest *r,
                     const R1GenOpts *o) {
    memset(g, 0, sizeof *g);
    g->m = m, g->tok = tok, g->r = r, g->o = o;
    g->n_slots = n_slots_for(r, o);
    g->max_new = slot_capacity(&m->cfg, r, o);
    for (int i = 0; i < o->n_stop; i++) {
        int n = (int)strlen(o->stop[i]);
        g->max_stop = n > g->max_stop ? n : g->max_stop;
    }
    r1_dec_init(&g->dec, m, g->n_slots, g->n_slots, longest_prompt(r, NULL), g->max_new);
    g->n_samplers = omp_get_max_threads();
    g->samplers = r1_xcalloc((size_t)g->n_samplers, sizeof *g->samplers);
    for (int i = 0; i < g->n_samplers; i++) r1_sampler_init(&g->samplers[i], m->cfg.vocab);
    g->slots = r1_xcalloc((size_t)g->n_slots, sizeof(Slot));
    for (int s = 0; s < g->n_slots; s++) g->slots[s].q = -1;
    g->entry_of = r1_xmalloc(sizeof(int) * (size_t)r->n_prompts);
    for (int p = 0; p < r->n_prompts; p++) g->entry_of[p] = -1;
    g->entry_left = r1_xcalloc((size_t)g->n_slots, sizeof(int));
    g->entry_logits = r1_falloc((size_t)g->n_slots * m->cfg.vocab);
    g->step_logits = r1_falloc((size_t)g->n_slots * m->cfg.vocab);
    g->act_slot = r1_xmalloc(sizeof(int) * (size_t)g->n_slots);
    g->act_prefix = r1_xmalloc(sizeof(int) * (size_t)g->n_slots);
    g->act_tok = r1_xmalloc(sizeof(int) * (size_t)g->n_slots);
    g->act_lp = r1_xmalloc(sizeof(float) * (size_t)g->n_slots);
}

static void gen_free(Gen *g) {
    r1_dec_free(&g->dec);
    for (int i = 0; i < g->n_samplers; i++) r1_sampler_free(&g->samplers[i]);
    free(g->samplers), free(g->act_lp);
    free(g->slots), free(g->entry_of), free(g->entry_left), free(g->entry_logits);
    free(g->step_logits), free(g->act_slot), free(g->act_prefix), free(g->act_tok);
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
    gen_init(&g, m, tok, r, o);
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
