/* rng.c - see rng.h. */
#include "rng.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void r1_rng_seed(R1Rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t r1_rng_u64(R1Rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double r1_rng_uniform(R1Rng *r) {
    return (double)(r1_rng_u64(r) >> 11) * 0x1.0p-53;
}

double r1_rng_normal(R1Rng *r) {
    double u1 = 1.0 - r1_rng_uniform(r); /* (0, 1]: log stays finite */
    double u2 = r1_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void r1_rng_shuffle(R1Rng *r, void *base, size_t n, size_t size) {
    unsigned char *a = base, t[16];
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)(r1_rng_u64(r) % (uint64_t)(i + 1));
        memcpy(t, a + i * size, size);
        memcpy(a + i * size, a + j * size, size);
        memcpy(a + j * size, t, size);
    }
}
