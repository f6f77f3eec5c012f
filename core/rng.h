/* rng.h - a small seeded random generator (xoshiro256**, seeded by splitmix64).
 *
 * Contract: the state lives in the caller's R1Rng; the same seed gives the same
 * stream on every machine. No hidden global generator exists in r1c. */
#ifndef R1_RNG_H
#define R1_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} R1Rng;

void r1_rng_seed(R1Rng *r, uint64_t seed);
uint64_t r1_rng_u64(R1Rng *r);
double r1_rng_uniform(R1Rng *r); /* [0, 1) with 53 random bits */
double r1_rng_normal(R1Rng *r);  /* standard normal (Box-Muller, no cached pair) */
/* Fisher-Yates shuffle of n elements of `size` bytes (at most 16): for i from
 * n - 1 down, swap i with u64 % (i + 1). */
void r1_rng_shuffle(R1Rng *r, void *base, size_t n, size_t size);

#endif
