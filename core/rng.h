/* rng.h - a small seeded random generator (xoshiro256**, seeded by splitmix64).
 *
 * Contract: the state lives in the caller's R1Rng; the same seed gives the same
 * stream on every machine. No hidden global generator exists in r1c. */
#ifndef R1_RNG_H
#define R1_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} R1Rng;

void r1_rng_seed(R1Rng *r, uint64_t seed);
uint64_t r1_rng_u64(R1Rng *r);
double r1_rng_uniform(R1Rng *r); /* [0, 1) with 53 random bits */
double r1_rng_normal(R1Rng *r);  /* standard normal (Box-Muller, no cached pair) */

#endif
