/* params.h - the table of named parameters laid out in one float buffer.
 *
 * Contract: a model's parameters (and, with the same table, its gradients and
 * optimizer moments) live in one contiguous float32 buffer; each R1Param names
 * a slice of it by its Hugging Face name, shape, offset and element count.
 * `decay` says whether AdamW's weight decay applies (matrices yes; norms,
 * biases no). The order of the table is the order tensors are written in. */
#ifndef R1_PARAMS_H
#define R1_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define R1_PARAM_NAME 96

typedef struct {
    char name[R1_PARAM_NAME];
    int ndim;
    int64_t shape[2];
    size_t offset; /* in floats from the start of the buffer */
    size_t numel;
    int decay;
} R1Param;

typedef struct {
    R1Param *p;
    int n;
    size_t total; /* floats in the whole buffer */
} R1ParamTable;

#endif
