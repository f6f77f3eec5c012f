/* gguf.h - GGUF files (llama.cpp's model format, versions 2 and 3): read, dequantize, write.
 *
 * Layout: "GGUF", u32 version, u64 tensor count, u64 key/value count, the key/values
 * (u64-length strings, u32 value type, value; arrays are u32 element type + u64 count +
 * elements), the tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64
 * offset), padding to `general.alignment` (default 32), then the tensor data, each
 * tensor at its offset from the start of that data section. Everything is little-endian.
 * Dimensions are in ggml order: ne[0] is the innermost (contiguous) one, so a PyTorch
 * weight of shape [out, in] is stored with ne = {in, out}.
 *
 * Contract (reading): r1_gguf_open memory-maps the file and checks all of it before
 * anything is handed out: the magic and version (2 or 3), every length against the end
 * of the file, each value type, each tensor's ggml type (an unknown one is refused with
 * the tensor named), that ne[0] is a whole number of blocks, that offsets are aligned
 * and that no tensor runs past the end of the file. Errors name the file and the key or
 * tensor. Nothing is copied but the keys, names and a per-array index; values and data
 * point into the mapping, valid until r1_gguf_close.
 *
 * Dequantization is the ggml reference (ggml-quants.c, dequantize_row_*) and gives
 * bit-identical float32 for F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K.
 *
 * Writing: R1GgufWriter collects key/values and tensors (data referenced, not copied:
 * it must stay valid until r1_gguf_write returns) and writes a version 3 file atomically
 * (temp name + rename). */
#ifndef R1_GGUF_H
#define R1_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Value types of the key/value section (numbers as in the format). */
typedef enum {
    R1_GV_U8 = 0,
    R1_GV_I8 = 1,
    R1_GV_U16 = 2,
    R1_GV_I16 = 3,
    R1_GV_U32 = 4,
    R1_GV_I32 = 5,
    R1_GV_F32 = 6,
    R1_GV_BOOL = 7,
    R1_GV_STR = 8,
    R1_GV_ARRAY = 9,
    R1_GV_U64 = 10,
    R1_GV_I64 = 11,
    R1_GV_F64 = 12
} R1GgufVType;

/* ggml tensor types (numbers as in ggml.h); the ones r1c can read are listed in
 * r1_ggml_type_known. */
typedef enum {
    R1_GGML_F32 = 0,
    R1_GGML_F16 = 1,
    R1_GGML_Q4_0 = 2,
    R1_GGML_Q4_1 = 3,
    R1_GGML_Q5_0 = 6,
    R1_GGML_Q5_1 = 7,
    R1_GGML_Q8_0 = 8,
    R1_GGML_Q4_K = 12,
    R1_GGML_Q5_K = 13,
    R1_GGML_Q6_K = 14,
    R1_GGML_BF16 = 30
} R1GgmlType;

typedef struct {
    const char *ptr; /* into the mapping; NOT NUL-terminated */
    uint64_t len;
} R1GgufStr;

typedef struct {
    char *key;            /* NUL-terminated copy */
    R1GgufVType type;     /* R1_GV_ARRAY for arrays */
    R1GgufVType etype;    /* element type of an array (== type for scalars) */
    uint64_t n;           /* array length; 1 for a scalar */
    const uint8_t *data;  /* scalar value, or the first element, in the mapping */
    const uint8_t **elem; /* string arrays: start of each element's u64 length; else NULL */
} R1GgufKV;

typedef struct {
    char *name;
    R1GgmlType type;
    int ndim;      /* 1..4 */
    int64_t ne[4]; /* ggml order; unused dims are 1 */
    int64_t numel;
    uint64_t offset; /* from the start of the data section */
    const uint8_t *data;
    size_t nbytes;
} R1GgufTensor;

typedef struct {
    char *path;
    R1Map map;
    uint32_t version;
    uint64_t alignment;
    R1GgufKV *kv;
    int64_t n_kv;
    R1GgufTensor *tensors;
    int64_t n_tensors;
    struct R1GgufIndex *index; /* private: the key and tensor name lookups */
} R1Gguf;

int r1_gguf_open(R1Gguf *g, const char *path, R1Err *err);
void r1_gguf_close(R1Gguf *g);

/* "u8", "i8", ..., "str", "array", "u64", "i64", "f64"; "?" for another number. */
const char *r1_gguf_vtype_name(int type);

/* Lookups (hashed): NULL when absent. */
const R1GgufKV *r1_gguf_find(const R1Gguf *g, const char *key);
const R1GgufTensor *r1_gguf_tensor(const R1Gguf *g, const char *name);

/* Typed scalar reads. Return 1 when found and of a compatible type (any integer type
 * for _int, F32/F64 and integers for _f64), 0 when absent; -1 with err set (file and
 * key named) when present with another type or an integer out of range. */
int r1_gguf_int(const R1Gguf *g, const char *key, int64_t *out, R1Err *err);
int r1_gguf_f64(const R1Gguf *g, const char *key, double *out, R1Err *err);
int r1_gguf_bool(const R1Gguf *g, const char *key, int *out, R1Err *err);
int r1_gguf_str(const R1Gguf *g, const char *key, R1GgufStr *out, R1Err *err);
/* A fresh NUL-terminated copy of a string value (caller frees); NULL if absent or not
 * a string. */
char *r1_gguf_strdup(const R1Gguf *g, const char *key);

/* Array elements (i < kv->n; the element type must match the accessor: strings for
 * _str, any integer type for _int, F32/F64 for _f64). Out of range or another type
 * gives {NULL, 0} / 0. r1_gguf_arr_str(kv, 0) of a scalar string is its value. */
R1GgufStr r1_gguf_arr_str(const R1GgufKV *kv, uint64_t i);
int64_t r1_gguf_arr_int(const R1GgufKV *kv, uint64_t i);
double r1_gguf_arr_f64(const R1GgufKV *kv, uint64_t i);

/* ggml types: 1 when r1c reads the type; its block size in elements and bytes. */
int r1_ggml_type_known(int type);
/* "Q4_K", ... for every type of ggml.h (also those r1c does not read, such as "Q2_K"),
 * "unknown" for another number. */
const char *r1_ggml_type_name(int type);
int r1_ggml_block(int type, int *elems, size_t *bytes); /* -1 when unknown */

/* Dequantizes n elements (a whole number of blocks) of `type` from src into dst. */
void r1_ggml_dequant(R1GgmlType type, const void *src, float *dst, int64_t n);
/* The whole tensor as float32 (numel floats, ggml order = row-major PyTorch order). */
int r1_gguf_tensor_f32(const R1Gguf *g, const R1GgufTensor *t, float *dst, R1Err *err);
/* Quantizes n floats to F32, F16, BF16 or Q8_0 (the ggml reference rounding);
 * returns the bytes written, 0 for another type. dst holds r1_ggml_nbytes(type, n). */
size_t r1_ggml_quant(R1GgmlType type, const float *src, void *dst, int64_t n);
/* 0 for an unknown type or n not a whole number of blocks. */
size_t r1_ggml_nbytes(R1GgmlType type, int64_t n);

/* Writing. Keys are written in the order first put; putting a key again replaces its
 * value in place. A misuse (empty key, bad type) is reported by r1_gguf_write. */
typedef struct R1GgufWriter R1GgufWriter;
R1GgufWriter *r1_gguf_writer_new(void);
void r1_gguf_writer_free(R1GgufWriter *w);
void r1_gguf_put_str(R1GgufWriter *w, const char *key, const char *val);
void r1_gguf_put_u32(R1GgufWriter *w, const char *key, uint32_t val);
void r1_gguf_put_i32(R1GgufWriter *w, const char *key, int32_t val);
void r1_gguf_put_f32(R1GgufWriter *w, const char *key, float val);
void r1_gguf_put_bool(R1GgufWriter *w, const char *key, int val);
/* Arrays are copied. Strings of an array may hold any bytes (lens given). */
void r1_gguf_put_str_arr(R1GgufWriter *w, const char *key, const char *const *vals,
                         const size_t *lens, uint64_t n);
void r1_gguf_put_i32_arr(R1GgufWriter *w, const char *key, const int32_t *vals, uint64_t n);
void r1_gguf_put_u64(R1GgufWriter *w, const char *key, uint64_t val);
/* Any fixed-size scalar type (not STR/ARRAY); val points at its little-endian bytes. */
void r1_gguf_put_value(R1GgufWriter *w, const char *key, R1GgufVType type, const void *val);
/* An array of any fixed-size element type; vals holds n packed elements. */
void r1_gguf_put_arr(R1GgufWriter *w, const char *key, R1GgufVType etype, const void *vals,
                     uint64_t n);
/* ne in ggml order; data holds r1_ggml_nbytes(type, numel) bytes. */
void r1_gguf_add_tensor(R1GgufWriter *w, const char *name, R1GgmlType type, int ndim,
                        const int64_t *ne, const void *data);
/* Version 3, alignment 32 (written as general.alignment only if put by the caller; a
 * general.alignment put as a u32 power of two is the alignment used). Each tensor's data
 * is padded to the alignment. Temp file PATH.tmp.PID in the same directory, fsync,
 * rename. */
int r1_gguf_write(R1GgufWriter *w, const char *path, R1Err *err);

#endif
