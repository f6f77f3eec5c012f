/* hashmap.c - see hashmap.h. Linear probing over power-of-two tables. */
#include "hashmap.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

uint64_t r1_hash_bytes(const void *p, size_t len) {
    /* FNV-1a, then a final mix so that the low bits used for the slot are good. */
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ s[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h ? h : 1;
}

void r1_strmap_init(R1StrMap *m) {
    memset(m, 0, sizeof *m);
}

void r1_strmap_free(R1StrMap *m) {
    free(m->hash);
    free(m->key_at);
    free(m->key_len);
    free(m->val);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

void r1_strmap_clear(R1StrMap *m) {
    if (m->hash) memset(m->hash, 0, sizeof(uint64_t) * m->cap);
    m->n = 0;
    m->arena_len = 0;
}

static size_t strmap_slot(const R1StrMap *m, uint64_t h, const char *key, size_t len) {
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->hash[i] && !(m->hash[i] == h && m->key_len[i] == len &&
                           memcmp(m->arena + m->key_at[i], key, len) == 0))
        i = (i + 1) & mask;
    return i;
}

static void strmap_grow(R1StrMap *m) {
    R1StrMap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->hash = r1_xcalloc(m->cap, sizeof(uint64_t));
    m->key_at = r1_xmalloc(sizeof(uint32_t) * m->cap);
    m->key_len = r1_xmalloc(sizeof(uint32_t) * m->cap);
    m->val = r1_xmalloc(sizeof(int) * m->cap);
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.hash[i]) continue;
        size_t j = strmap_slot(m, old.hash[i], old.arena + old.key_at[i], old.key_len[i]);
        m->hash[j] = old.hash[i];
        m->key_at[j] = old.key_at[i];
        m->key_len[j] = old.key_len[i];
        m->val[j] = old.val[i];
    }
    free(old.hash);
    free(old.key_at);
    free(old.key_len);
    free(old.val);
}

void r1_strmap_put(R1StrMap *m, const char *key, size_t len, int val) {
    if (2 * (m->n + 1) > m->cap) strmap_grow(m);
    uint64_t h = r1_hash_bytes(key, len);
    size_t i = strmap_slot(m, h, key, len);
    if (!m->hash[i]) {
        if (m->arena_len + len > m->arena_cap) {
            m->arena_cap = (m->arena_len + len) * 2 + 4096;
            m->arena = r1_xrealloc(m->arena, m->arena_cap);
        }
        memcpy(m->arena + m->arena_len, key, len);
        m->hash[i] = h;
        m->key_at[i] = (uint32_t)m->arena_len;
        m->key_len[i] = (uint32_t)len;
        m->arena_len += len;
        m->n++;
    }
    m->val[i] = val;
}

int r1_strmap_get(const R1StrMap *m, const char *key, size_t len) {
    if (!m->cap) return -1;
    size_t i = strmap_slot(m, r1_hash_bytes(key, len), key, len);
    return m->hash[i] ? m->val[i] : -1;
}

void r1_u64map_init(R1U64Map *m) {
    memset(m, 0, sizeof *m);
}

void r1_u64map_free(R1U64Map *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t u64_slot(const R1U64Map *m, uint64_t stored) {
    uint64_t h = stored * 0x9e3779b97f4a7c15ULL;
    size_t mask = m->cap - 1, i = (size_t)(h >> 20) & mask;
    while (m->keys[i] && m->keys[i] != stored) i = (i + 1) & mask;
    return i;
}

void r1_u64map_put(R1U64Map *m, uint64_t key, uint64_t val) {
    if (2 * (m->n + 1) > m->cap) {
        R1U64Map old = *m;
        m->cap = old.cap ? old.cap * 2 : 64;
        m->keys = r1_xcalloc(m->cap, sizeof(uint64_t));
        m->vals = r1_xmalloc(sizeof(uint64_t) * m->cap);
        for (size_t i = 0; i < old.cap; i++) {
            if (!old.keys[i]) continue;
            size_t j = u64_slot(m, old.keys[i]);
            m->keys[j] = old.keys[i];
            m->vals[j] = old.vals[i];
        }
        free(old.keys);
        free(old.vals);
    }
    size_t i = u64_slot(m, key + 1);
    if (!m->keys[i]) m->n++;
    m->keys[i] = key + 1;
    m->vals[i] = val;
}

int r1_u64map_get(const R1U64Map *m, uint64_t key, uint64_t *val) {
    if (!m->cap) return 0;
    size_t i = u64_slot(m, key + 1);
    if (!m->keys[i]) return 0;
    *val = m->vals[i];
    return 1;
}
