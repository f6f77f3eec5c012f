/* util.h - error reporting, checked allocation and small file helpers.
 *
 * Contract: functions that can fail return 0 on success and -1 on failure and
 * fill an R1Err the caller owns; nothing here keeps global state. Allocation
 * failure is not recoverable in r1c (the tools are batch programs), so the
 * r1_xmalloc family prints a message and exits. */
#ifndef R1_UTIL_H
#define R1_UTIL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char msg[1024];
} R1Err;

/* printf-style: sets err->msg (if err is not NULL) and returns -1. */
int r1_seterr(R1Err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void *r1_xmalloc(size_t n);
void *r1_xcalloc(size_t count, size_t size);
void *r1_xrealloc(void *p, size_t n);
char *r1_xstrdup(const char *s);
/* 64-byte aligned, zero-filled; release with free(). */
float *r1_falloc(size_t count);

/* Reads a whole file into a NUL-terminated buffer (caller frees). */
char *r1_read_file(const char *path, size_t *len, R1Err *err);
/* Writes data to path atomically: path.tmp.PID, fsync, rename. */
int r1_write_file_atomic(const char *path, const void *data, size_t len, R1Err *err);
/* mkdir -p */
int r1_mkdirs(const char *path, R1Err *err);
/* dir + "/" + name into a fresh string (caller frees). */
char *r1_path_join(const char *dir, const char *name);

/* A read-only memory map of a whole file. */
typedef struct {
    const uint8_t *data;
    size_t len;
} R1Map;
int r1_map_file(R1Map *m, const char *path, R1Err *err);
void r1_unmap(R1Map *m);

double r1_now(void); /* monotonic seconds */

/* s[0..n) as valid UTF-8 in a fresh NUL-terminated buffer (caller frees; *out_n
 * its length): each maximal ill-formed subsequence becomes U+FFFD, the
 * practice of Unicode ch. 3, Python's errors="replace" and Rust's
 * from_utf8_lossy (what Hugging Face tokenizers' decode returns). */
char *r1_utf8_lossy(const char *s, size_t n, size_t *out_n);
/* Memory the kernel says can be allocated without swapping (MemAvailable), in
 * bytes; 0 when unknown. */
size_t r1_mem_available(void);

#endif
