/* tmpdir.h - a scratch folder for one cmocka test file: define TMPDIR_TEMPLATE
 * (a mkdtemp template) before including; make_tmpdir and remove_tmpdir are the
 * group's setup and teardown; tpath(name) is tmpdir/name in one of four
 * rotating static buffers; write_bytes writes a whole file. Include after
 * cmocka.h. */
#ifndef R1_TEST_TMPDIR_H
#define R1_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[64];

static inline int make_tmpdir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s", TMPDIR_TEMPLATE);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static inline int remove_tmpdir(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static inline const char *tpath(const char *name) {
    static char buf[4][256];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", tmpdir, name);
    return buf[slot];
}

static inline void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

#endif
