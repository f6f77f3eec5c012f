/* hashmap.h - two small open-addressing hash maps used by the tokenizer.
 *
 * R1StrMap maps byte strings (any bytes, explicit length) to ints; it copies
 * keys into an arena it owns. R1U64Map maps 64-bit keys to 64-bit values.
 * Both grow by doubling at 50% load, never shrink, and are not thread-safe. */
#ifndef R1_HASHMAP_H
#define R1_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *hash;   /* 0 = empty slot (real hashes are forced non-zero) */
    uint32_t *key_at; /* key offset in arena */
    uint32_t *key_len;
    int *val;
    size_t cap, n;
    char *arena;
    size_t arena_len, arena_cap;
} R1StrMap;

void r1_strmap_init(R1StrMap *m);
void r1_strmap_free(R1StrMap *m);
void r1_strmap_clear(R1StrMap *m);
/* Inserts or overwrites. */
void r1_strmap_put(R1StrMap *m, const char *key, size_t len, int val);
/* The value, or -1 when absent. */
int r1_strmap_get(const R1StrMap *m, const char *key, size_t len);
uint64_t r1_hash_bytes(const void *p, size_t len);

typedef struct {
    uint64_t *keys; /* stored as key + 1 so that 0 marks an empty slot */
    uint64_t *vals;
    size_t cap, n;
} R1U64Map;

void r1_u64map_init(R1U64Map *m);
void r1_u64map_free(R1U64Map *m);
void r1_u64map_put(R1U64Map *m, uint64_t key, uint64_t val);
/* 1 and *val set when present, else 0. Keys must not be UINT64_MAX. */
int r1_u64map_get(const R1U64Map *m, uint64_t key, uint64_t *val);

#endif
