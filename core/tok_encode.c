/* tok_encode.c - text to ids: added tokens, NFC, pre-tokenization, BPE.
 * See tokenizer.h for the contract. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok_hfnfc.h"
#include "tok_internal.h"

#define CACHE_MAX_PIECE   64     /* longer pieces are rare; caching them buys nothing */
#define CACHE_MAX_ENTRIES 200000 /* then the cache starts over */

void r1_ids_free(R1Ids *v) {
    free(v->ids);
    free(v->offsets);
    memset(v, 0, sizeof *v);
}

void r1_ids_push(R1Ids *v, int id, int offset) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->ids = r1_xrealloc(v->ids, sizeof(int) * (size_t)v->cap);
        v->offsets = r1_xrealloc(v->offsets, sizeof(int) * (size_t)v->cap);
    }
    v->ids[v->n] = id;
    v->offsets[v->n++] = offset;
}

/* Maps an offset in the text being worked on back to the input. The text
 * starts `shift` bytes into a stretch of norm_len bytes that normalization made
 * from orig_len input bytes at `base`; when the lengths differ, offsets inside
 * the stretch are scaled, which keeps them in order and inside it. */
typedef struct {
    size_t base, orig_len, norm_len, shift;
} OffsetMap;

static int map_offset(const OffsetMap *m, size_t off) {
    off += m->shift;
    if (m->orig_len == m->norm_len) return (int)(m->base + off);
    return (int)(m->base + off * m->orig_len / m->norm_len);
}

static OffsetMap shifted(const OffsetMap *m, size_t by) {
    OffsetMap r = *m;
    r.shift += by;
    return r;
}

/* ---- BPE ------------------------------------------------------------------- */

/* A min-heap of (rank << 32 | position): lowest rank first, leftmost on ties,
 * which is the order Hugging Face applies merges in. */
typedef struct {
    uint64_t *v;
    int n, cap;
} Heap;

static void heap_push(Heap *h, uint64_t x) {
    if (h->n == h->cap)
        h->v = r1_xrealloc(h->v, sizeof(uint64_t) * (size_t)(h->cap = h->cap * 2 + 16));
    int i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2] > x) h->v[i] = h->v[(i - 1) / 2], i = (i - 1) / 2;
    h->v[i] = x;
}

static uint64_t heap_pop(Heap *h) {
    uint64_t top = h->v[0], x = h->v[--h->n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->v[c + 1] < h->v[c]) c++;
        if (h->v[c] >= x) break;
        h->v[i] = h->v[c], i = c;
    }
    if (h->n > 0) h->v[i] = x;
    return top;
}

typedef struct {
    int *id, *len, *prev, *next;
} Symbols;

static void push_pair(const R1Tokenizer *t, Heap *h, const Symbols *s, int pos) {
    uint64_t v;
    int nx = s->next[pos];
    if (pos < 0 || nx < 0) return;
    if (r1_u64map_get(&t->merges, (uint64_t)s->id[pos] << 32 | (uint32_t)s->id[nx], &v))
        heap_push(h, (v & 0xFFFFFFFF00000000ULL) | (uint32_t)pos);
}

/* Merges the symbols of one piece in place; the survivors are linked by next. */
static void bpe_merge(const R1Tokenizer *t, Symbols *s, int n) {
    Heap h = {0};
    for (int i = 0; i + 1 < n; i++) push_pair(t, &h, s, i);
    while (h.n > 0) {
        uint64_t top = heap_pop(&h), v;
        int pos = (int)(uint32_t)top, nx = s->next[pos];
        /* Stale entries: the left symbol was absorbed or changed since it was pushed. */
        if (s->len[pos] == 0 || nx < 0) continue;
        if (!r1_u64map_get(&t->merges, (uint64_t)s->id[pos] << 32 | (uint32_t)s->id[nx], &v) ||
            (v >> 32) != (top >> 32))
            continue;
        s->id[pos] = (int)(uint32_t)v;
        s->len[pos] += s->len[nx];
        s->len[nx] = 0;
        s->next[pos] = s->next[nx];
        if (s->next[nx] >= 0) s->prev[s->next[nx]] = pos;
        push_pair(t, &h, s, s->prev[pos]);
        push_pair(t, &h, s, pos);
    }
    free(h.v);
}

static void cache_put(R1Tokenizer *t, const char *p, size_t n, const int *ids, int k) {
    TokCache *c = &t->cache;
    if (c->index.n >= CACHE_MAX_ENTRIES) r1_strmap_clear(&c->index), c->n_ids = 0;
    if (c->n_ids + (size_t)k + 1 > c->cap_ids) {
        c->cap_ids = (c->n_ids + (size_t)k + 1) * 2;
        c->ids = r1_xrealloc(c->ids, sizeof(int) * c->cap_ids);
    }
    r1_strmap_put(&c->index, p, n, (int)c->n_ids);
    c->ids[c->n_ids++] = k;
    memcpy(c->ids + c->n_ids, ids, sizeof(int) * (size_t)k);
    c->n_ids += (size_t)k;
}

/* Pushes ids with offsets from off, each token as long as its bytes. */
static void push_run(const R1Tokenizer *t, const int *ids, int k, const OffsetMap *m, size_t off,
                     R1Ids *out) {
    for (int i = 0; i < k; i++) {
        r1_ids_push(out, ids[i], map_offset(m, off));
        off += t->piece_len[ids[i]];
    }
}

/* A piece with bytes the vocabulary has no token for: Hugging Face's BPE drops those
 * characters before merging (with no unk_token), so their neighbours become adjacent. */
static void bpe_piece_sparse(const R1Tokenizer *t, const char *p, size_t n, const OffsetMap *m,
                             size_t off, R1Ids *out) {
    int *buf = r1_xmalloc(sizeof(int) * 5 * n), k = 0;
    Symbols s = {buf, buf + n, buf + 2 * n, buf + 3 * n};
    int *at = buf + 4 * n; /* where each kept byte is in the piece */
    for (size_t i = 0; i < n; i++) {
        int id = t->byte_id[(unsigned char)p[i]];
        if (id < 0) continue;
        s.id[k] = id, s.len[k] = 1, s.prev[k] = k - 1, s.next[k] = k + 1, at[k++] = (int)i;
    }
    if (k > 0) {
        s.next[k - 1] = -1;
        bpe_merge(t, &s, k);
        for (int i = 0; i >= 0; i = s.next[i])
            r1_ids_push(out, s.id[i], map_offset(m, off + (size_t)at[i]));
    }
    free(buf);
}

static int has_missing_byte(const R1Tokenizer *t, const char *p, size_t n) {
    for (size_t i = 0; t->missing_bytes && i < n; i++)
        if (t->byte_id[(unsigned char)p[i]] < 0) return 1;
    return 0;
}

static void bpe_piece(R1Tokenizer *t, const char *p, size_t n, const OffsetMap *m, size_t off,
                      R1Ids *out) {
    int whole = -1;
    if (n == 1)
        whole = t->byte_id[(unsigned char)p[0]];
    else if (t->ignore_merges)
        whole = r1_strmap_get(&t->by_bytes, p, n);
    if (whole >= 0) return r1_ids_push(out, whole, map_offset(m, off));
    if (has_missing_byte(t, p, n)) return bpe_piece_sparse(t, p, n, m, off, out);
    int at = n <= CACHE_MAX_PIECE ? r1_strmap_get(&t->cache.index, p, n) : -1;
    if (at >= 0) return push_run(t, t->cache.ids + at + 1, t->cache.ids[at], m, off, out);
    int *buf = r1_xmalloc(sizeof(int) * 5 * n), k = 0;
    Symbols s = {buf, buf + n, buf + 2 * n, buf + 3 * n};
    for (size_t i = 0; i < n; i++) {
        s.id[i] = t->byte_id[(unsigned char)p[i]];
        s.len[i] = 1, s.prev[i] = (int)i - 1, s.next[i] = i + 1 < n ? (int)i + 1 : -1;
    }
    bpe_merge(t, &s, (int)n);
    int *ids = buf + 4 * n;
    for (int i = 0; i >= 0; i = s.next[i]) ids[k++] = s.id[i];
    if (n <= CACHE_MAX_PIECE) cache_put(t, p, n, ids, k);
    push_run(t, ids, k, m, off, out);
    free(buf);
}

/* ---- pre-tokenization ------------------------------------------------------ */

typedef struct {
    size_t *start, *end;
    int n, cap;
} Pieces;

static void piece_add(Pieces *p, size_t s, size_t e) {
    if (s >= e) return;
    if (p->n == p->cap) {
        p->cap = p->cap * 2 + 16;
        p->start = r1_xrealloc(p->start, sizeof(size_t) * (size_t)p->cap);
        p->end = r1_xrealloc(p->end, sizeof(size_t) * (size_t)p->cap);
    }
    p->start[p->n] = s, p->end[p->n++] = e;
}

/* Next match of step in s[from..n) (absolute offsets); 0 when none. Empty
 * matches are skipped, as the Hugging Face splitter never yields empty pieces. */
static int next_match(R1Tokenizer *t, const TokPre *st, const char *s, size_t n, size_t from,
                      size_t *ms, size_t *me) {
    if (st->literal) {
        if (st->literal_len > n - from) return 0;
        const char *hit = memmem(s + from, n - from, st->literal, st->literal_len);
        if (!hit) return 0;
        *ms = (size_t)(hit - s), *me = *ms + st->literal_len;
        return 1;
    }
    while (from <= n) {
        int rc = pcre2_match(st->re, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, t->md, NULL);
        if (rc < 0) return 0;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
        if (ov[1] > ov[0]) return *ms = ov[0], *me = ov[1], 1;
        if (ov[0] >= n) return 0;
        int len = r1_utf8_len((const unsigned char *)s + ov[0], n - ov[0]);
        from = ov[0] + (size_t)(len ? len : 1);
    }
    return 0;
}

/* Splits each piece by the step's pattern: matches and the gaps between them
 * become pieces (Isolated); with Removed the matches are dropped; with invert
 * the roles of matches and gaps swap. Each piece is matched on its own, so
 * look-arounds do not see past its ends. */
static void split_step(R1Tokenizer *t, const TokPre *st, const char *s, const Pieces *in,
                       Pieces *out) {
    for (int i = 0; i < in->n; i++) {
        const char *sub = s + in->start[i];
        size_t n = in->end[i] - in->start[i], at = 0, ms, me, base = in->start[i];
        while (next_match(t, st, sub, n, at, &ms, &me)) {
            if (!(st->invert && st->removed)) piece_add(out, base + at, base + ms);
            if (!(!st->invert && st->removed)) piece_add(out, base + ms, base + me);
            at = me;
        }
        if (!(st->invert && st->removed)) piece_add(out, base + at, base + n);
    }
}

static void encode_pretokenized(R1Tokenizer *t, const char *s, size_t n, const OffsetMap *m,
                                R1Ids *out) {
    Pieces a = {0}, b = {0};
    char *spaced = NULL;
    OffsetMap sm = *m;
    if (t->n_pre > 0 && t->pre[0].add_prefix_space && s[0] != ' ') {
        /* ByteLevel's prefix space: it belongs to the first token, offset 0. */
        spaced = r1_xmalloc(n + 1);
        spaced[0] = ' ';
        memcpy(spaced + 1, s, n);
        s = spaced, n++;
        sm.shift = sm.shift > 0 ? sm.shift - 1 : 0;
    }
    m = &sm;
    piece_add(&a, 0, n);
    for (int k = 0; k < t->n_pre; k++) {
        if (t->pre[k].kind != PT_SPLIT) continue;
        b.n = 0;
        split_step(t, &t->pre[k], s, &a, &b);
        Pieces tmp = a;
        a = b, b = tmp;
    }
    for (int i = 0; i < a.n; i++)
        bpe_piece(t, s + a.start[i], a.end[i] - a.start[i], m, a.start[i], out);
    free(a.start), free(a.end), free(b.start), free(b.end), free(spaced);
}

/* ---- added tokens, normalization ------------------------------------------- */

static int is_word_byte(unsigned char c) {
    return c >= 0x80 || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}
static int is_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* The longest added token (of the wanted normalized kind) starting at s[i]; -1 if none. */
static int added_at(const R1Tokenizer *t, const char *s, size_t n, size_t i, int normalized) {
    const int *cand = t->added_first[(unsigned char)s[i]];
    for (int k = 0; cand && cand[k] >= 0; k++) {
        const TokAdded *a = &t->added[cand[k]];
        if (a->normalized != normalized || a->len > n - i || memcmp(s + i, a->content, a->len))
            continue;
        if (a->single_word && ((i > 0 && is_word_byte((unsigned char)s[i - 1])) ||
                               (i + a->len < n && is_word_byte((unsigned char)s[i + a->len]))))
            continue;
        return cand[k];
    }
    return -1;
}

typedef void (*GapFn)(R1Tokenizer *t, const char *s, size_t n, const OffsetMap *m, R1Ids *out);

/* Emits the added tokens found in s (leftmost, then longest) and hands the
 * text between them to gap(). lstrip/rstrip tokens absorb the whitespace beside them. */
static void split_added(R1Tokenizer *t, const char *s, size_t n, const OffsetMap *m, int normalized,
                        GapFn gap, R1Ids *out) {
    size_t gap_start = 0;
    for (size_t i = 0; i < n;) {
        int k = t->n_added ? added_at(t, s, n, i, normalized) : -1;
        if (k < 0) {
            i++;
            continue;
        }
        const TokAdded *a = &t->added[k];
        size_t ms = i, me = i + a->len;
        while (a->lstrip && ms > gap_start && is_space((unsigned char)s[ms - 1])) ms--;
        while (a->rstrip && me < n && is_space((unsigned char)s[me])) me++;
        OffsetMap sub = shifted(m, gap_start);
        if (ms > gap_start) gap(t, s + gap_start, ms - gap_start, &sub, out);
        r1_ids_push(out, a->id, map_offset(m, ms));
        gap_start = i = me;
    }
    if (n > gap_start) {
        OffsetMap sub = shifted(m, gap_start);
        gap(t, s + gap_start, n - gap_start, &sub, out);
    }
}

static void normalized_gap(R1Tokenizer *t, const char *s, size_t n, const OffsetMap *m,
                           R1Ids *out) {
    encode_pretokenized(t, s, n, m, out);
}

/* Code points below U+0300 never change under NFC, so text made only of them
 * (all of ASCII and Latin-1, for example) skips the normalizer. */
static int nfc_stable(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0xCC) return 0;
    return 1;
}

/* The code point at s (n bytes left, valid UTF-8) and its length. */
static unsigned cp_at(const char *s, size_t n, int *len) {
    const unsigned char *u = (const unsigned char *)s;
    *len = r1_utf8_len(u, n);
    if (*len == 1) return u[0];
    if (*len == 2) return (u[0] & 0x1Fu) << 6 | (u[1] & 0x3Fu);
    if (*len == 3) return (u[0] & 0x0Fu) << 12 | (u[1] & 0x3Fu) << 6 | (u[2] & 0x3Fu);
    return (u[0] & 0x07u) << 18 | (u[1] & 0x3Fu) << 12 | (u[2] & 0x3Fu) << 6 | (u[3] & 0x3Fu);
}

/* Code points that split NFC into independent pieces and are kept verbatim:
 * those Hugging Face's older tables do not know (see tok_hfnfc.h), and U+11A7,
 * which utf8proc 2.8 wrongly composes into a preceding Hangul LV syllable (and
 * loses) although it is no trailing consonant. Neither composes with anything
 * in the reference, so normalizing around them is exact. */
static int nfc_barrier(unsigned cp) {
    return cp == 0x11A7 || r1_hf_nfc_inert(cp);
}

/* NFC of s[0..n) into a fresh buffer, piece by piece between barriers. */
static char *nfc(const char *s, size_t n, size_t *out_len) {
    size_t k = 0, cap = n + 16;
    char *out = r1_xmalloc(cap);
    for (size_t start = 0, i = 0; start < n; start = i) {
        int cl;
        if (nfc_barrier(cp_at(s + start, n - start, &cl))) { /* copied as it is */
            if (k + (size_t)cl > cap) out = r1_xrealloc(out, cap = 2 * (k + (size_t)cl));
            memcpy(out + k, s + start, (size_t)cl), k += (size_t)cl;
            i = start + (size_t)cl;
            continue;
        }
        for (i = start + (size_t)cl; i < n && !nfc_barrier(cp_at(s + i, n - i, &cl));)
            i += (size_t)cl;
        utf8proc_uint8_t *norm = NULL;
        utf8proc_ssize_t len =
            utf8proc_map((const utf8proc_uint8_t *)s + start, (utf8proc_ssize_t)(i - start), &norm,
                         UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        const char *piece = len >= 0 ? (const char *)norm : s + start; /* (never fails on UTF-8) */
        size_t plen = len >= 0 ? (size_t)len : i - start;
        if (k + plen > cap) out = r1_xrealloc(out, cap = 2 * (k + plen));
        memcpy(out + k, piece, plen), k += plen;
        free(norm);
    }
    *out_len = k;
    return out;
}

static void raw_gap(R1Tokenizer *t, const char *s, size_t n, const OffsetMap *m, R1Ids *out) {
    char *norm = NULL;
    OffsetMap nm = *m;
    if (t->nfc && !nfc_stable(s, n)) {
        size_t len;
        norm = nfc(s, n, &len);
        nm = (OffsetMap){(size_t)map_offset(m, 0), n, len, 0};
        s = norm, n = len;
    }
    split_added(t, s, n, &nm, 1, normalized_gap, out);
    free(norm);
}

int r1_tok_encode(R1Tokenizer *t, const char *text, size_t len, R1Ids *out, R1Err *err) {
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        int k = r1_utf8_len(u + i, len - i);
        if (k == 0) return r1_seterr(err, "invalid UTF-8 at byte %zu of the text", i);
        i += (size_t)k;
    }
    OffsetMap m = {0, len, len, 0};
    split_added(t, text, len, &m, 0, raw_gap, out);
    return 0;
}
