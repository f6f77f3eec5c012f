/* ops_rows512.h - the AVX-512 kernels of op_matmul_rows (internal to core/; see
 * ops_rows512.c). op_rows512_block computes weight rows [j0, j1) against every row with the
 * contract of ops.h's op_matmul_rows; call it only when op_rows512_available(), which is
 * true when the CPU has AVX-512F and the environment does not say R1_SIMD=avx2. */
#ifndef R1_OPS_ROWS512_H
#define R1_OPS_ROWS512_H

int op_rows512_available(void);
void op_rows512_block(float *out, const float *inp, const float *w, const float *bias, int T,
                      int IC, int OC, int accumulate, int j0, int j1);

#endif
