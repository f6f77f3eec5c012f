/* zero.h - ZeRO-1: the AdamW state split across the ranks of a data-parallel
 * job (dist.h). Rank r keeps the moments of the flat parameters
 * [bounds[r], bounds[r + 1]) only; after the gradients are reduce-scattered it
 * updates that shard, and the shards are all-gathered into every rank's
 * weights (trainer.h does both).
 *
 * Contract:
 *   - r1_zero_bounds: the even split of `total` floats, bounds sized size + 1.
 *   - r1_zero_opt_init / r1_zero_opt_load: this rank's shard of a fresh or a
 *     saved (whole, optimizer.safetensors) state; the file is read whole and
 *     its errors are r1_adamw_load's.
 *   - r1_zero_opt_gather is collective: afterwards rank 0's *whole holds the
 *     complete state (for a checkpoint; free it with r1_adamw_free); on other
 *     ranks *whole is zeroed and holds nothing (r1_adamw_free is harmless). */
#ifndef R1_ZERO_H
#define R1_ZERO_H

#include "dist.h"
#include "optim.h"

void r1_zero_bounds(const R1Dist *d, size_t total, size_t *bounds);
void r1_zero_opt_init(const R1Dist *d, R1AdamW *o, const R1ParamTable *table, float beta1,
                      float beta2, float eps, float weight_decay);
int r1_zero_opt_load(R1AdamW *o, const char *path, R1Err *err);
void r1_zero_opt_gather(R1Dist *d, const R1AdamW *shard, R1AdamW *whole);

#endif
