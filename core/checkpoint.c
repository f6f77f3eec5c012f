/* checkpoint.c - see checkpoint.h. */
#include "checkpoint.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int r1_copy_tokenizer(const char *from, const char *to, R1Err *err) {
    const char *names[] = {"tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        char *src = r1_path_join(from, names[i]), *dst = r1_path_join(to, names[i]);
        size_t len;
        char *data = r1_read_file(src, &len, i == 0 ? err : NULL);
        int rc = data ? r1_write_file_atomic(dst, data, len, err) : (i == 0 ? -1 : 0);
        free(data), free(src), free(dst);
        if (rc) return -1;
    }
    return 0;
}

void r1_remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char *p = r1_path_join(dir, e->d_name);
                unlink(p);
                free(p);
            }
        closedir(d);
    }
    rmdir(dir);
}

static int write_all(const R1Model *m, const R1AdamW *opt, const char *tmp, const char *tok_dir,
                     const char *state_json, R1Err *err) {
    if (r1_model_save(m, tmp, R1_F32, err)) return -1;
    if (opt) {
        char *p = r1_path_join(tmp, "optimizer.safetensors");
        int rc = r1_adamw_save(opt, p, err);
        free(p);
        if (rc) return -1;
    }
    if (tok_dir) {
        char *probe = r1_path_join(tok_dir, "tokenizer.json");
        int has = access(probe, F_OK) == 0;
        free(probe);
        if (has && r1_copy_tokenizer(tok_dir, tmp, err)) return -1;
    }
    if (state_json) {
        char *p = r1_path_join(tmp, "trainer_state.json");
        int rc = r1_write_file_atomic(p, state_json, strlen(state_json), err);
        free(p);
        if (rc) return -1;
    }
    return 0;
}

int r1_checkpoint_save(const R1Model *m, const R1AdamW *opt, const char *dir, const char *tok_dir,
                       const char *state_json, R1Err *err) {
    size_t n = strlen(dir) + 32;
    char *tmp = r1_xmalloc(n), *old = r1_xmalloc(n);
    snprintf(tmp, n, "%s.tmp-%ld", dir, (long)getpid());
    snprintf(old, n, "%s.old-%ld", dir, (long)getpid());
    r1_remove_dir(tmp);
    int rc = write_all(m, opt, tmp, tok_dir, state_json, err);
    int had_old = rc == 0 && access(dir, F_OK) == 0;
    if (rc == 0 && had_old && rename(dir, old) != 0)
        rc = r1_seterr(err, "%s: cannot move the previous checkpoint aside", dir);
    if (rc == 0 && rename(tmp, dir) != 0) {
        rc = r1_seterr(err, "%s: cannot rename %s into place", dir, tmp);
        if (had_old) rename(old, dir);
    }
    if (rc)
        r1_remove_dir(tmp);
    else if (had_old)
        r1_remove_dir(old);
    free(tmp), free(old);
    return rc;
}
