/* safetensors.h - reading and writing the safetensors format.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON mapping each
 * tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
 * relative to the end of the header), an optional "__metadata__" object of
 * string values, then the raw little-endian data.
 *
 * Contract: reading memory-maps the file and checks everything before any
 * tensor is handed out: the header length and JSON, each dtype, that
 * end - begin equals numel * element size, and that no offsets run past the end
 * of the file. Errors name the file and the tensor. Reading converts F32, BF16
 * and F16 to float32. Writing is atomic (temp file + rename). A checkpoint
 * directory may be one model.safetensors or shards listed by
 * model.safetensors.index.json; R1StDir hides the difference. */
#ifndef R1_SAFETENSORS_H
#define R1_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum { R1_F32 = 0, R1_BF16 = 1, R1_F16 = 2, R1_I32 = 3, R1_I64 = 4 } R1DType;

#define R1_MAX_DIMS 8

typedef struct {
    char *name;
    R1DType dtype;
    int ndim;
    int64_t shape[R1_MAX_DIMS];
    size_t numel;
    const uint8_t *data; /* points into the mapping */
    size_t nbytes;
} R1StTensor;

typedef struct {
    char *path;
    R1Map map;
    R1StTensor *tensors;
    int n_tensors;
    char **meta_keys, **meta_vals; /* __metadata__ */
    int n_meta;
} R1StFile;

int r1_st_open(R1StFile *f, const char *path, R1Err *err);
void r1_st_close(R1StFile *f);
const R1StTensor *r1_st_find(const R1StFile *f, const char *name);
const char *r1_st_meta(const R1StFile *f, const char *key); /* NULL if absent */

/* Converts any supported float dtype to float32; count must equal t->numel. */
int r1_st_to_f32(const R1StTensor *t, float *out, size_t count, const char *path, R1Err *err);
/* 0 if t has exactly shape[0..ndim); else -1 with "PATH: tensor NAME has shape
 * [..], expected [..]". */
int r1_st_check_shape(const R1StTensor *t, const int64_t *shape, int ndim, const char *path,
                      R1Err *err);
/* Reads `name` into out after checking its shape equals shape[0..ndim). */
int r1_st_read_f32(const R1StFile *f, const char *name, const int64_t *shape, int ndim, float *out,
                   R1Err *err);

size_t r1_dtype_size(R1DType d);
const char *r1_dtype_name(R1DType d);

/* Writing: describe tensors, then write them in one go. */
typedef struct {
    const char *name;
    R1DType dtype; /* R1_F32 or R1_BF16 (float32 data rounded to nearest even) */
    int ndim;
    int64_t shape[R1_MAX_DIMS];
    const float *data; /* float32 source, numel elements */
} R1StWriteTensor;

int r1_st_write(const char *path, const R1StWriteTensor *ts, int n, const char *const *meta_kv,
                int n_meta, R1Err *err);

/* A checkpoint directory: model.safetensors, or the shards an index names. */
typedef struct {
    char *dir;
    R1StFile *files;
    int n_files;
} R1StDir;

int r1_stdir_open(R1StDir *d, const char *dir, R1Err *err);
void r1_stdir_close(R1StDir *d);
/* Finds a tensor in any shard; *file gets the shard's path for error messages. */
const R1StTensor *r1_stdir_find(const R1StDir *d, const char *name, const char **file);

/* bf16/f16 <-> f32 */
float r1_bf16_to_f32(uint16_t h);
uint16_t r1_f32_to_bf16(float f);
float r1_f16_to_f32(uint16_t h);

#endif
