/* tok_unicode.c - see tok_unicode.h. */
#include "tok_unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok_internal.h"

static const char MAJORS[] = "CLMNPSZ";

static int major_index(utf8proc_category_t c) {
    switch (c) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return 1;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return 2;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 3;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return 4;
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
        return 5;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
        return 6;
    default:
        return 0;
    }
}

typedef struct {
    char *s;
    size_t n, cap;
    long run_start, run_end; /* the open range, -1 when none */
} RangeText;

static void flush_range(RangeText *r) {
    if (r->run_start < 0) return;
    char buf[40];
    int k = r->run_start == r->run_end
                ? snprintf(buf, sizeof buf, "\\x{%lX}", r->run_start)
                : snprintf(buf, sizeof buf, "\\x{%lX}-\\x{%lX}", r->run_start, r->run_end);
    if (r->n + (size_t)k + 1 > r->cap)
        r->s = r1_xrealloc(r->s, r->cap = (r->n + (size_t)k + 1) * 2);
    memcpy(r->s + r->n, buf, (size_t)k + 1);
    r->n += (size_t)k;
    r->run_start = -1;
}

static void add_cp(RangeText *r, long cp) {
    if (r->run_start >= 0 && cp == r->run_end + 1) {
        r->run_end = cp;
        return;
    }
    flush_range(r);
    r->run_start = r->run_end = cp;
}

void r1_unipatch_init(R1UniPatch *u) {
    int code;
    PCRE2_SIZE off;
    pcre2_code *cn = pcre2_compile((PCRE2_SPTR) "^\\p{Cn}", PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
    pcre2_jit_compile(cn, PCRE2_JIT_COMPLETE);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    RangeText r[7];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 7; i++) r[i].run_start = -1;
    for (long cp = 0x370; cp <= 0x10FFFF; cp++) {
        utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
        if (c == UTF8PROC_CATEGORY_CN || c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CS)
            continue;
        char buf[4];
        int n = r1_utf8_put(buf, (unsigned)cp);
        if (pcre2_match(cn, (PCRE2_SPTR)buf, (size_t)n, 0, 0, md, NULL) > 0)
            add_cp(&r[major_index(c)], cp);
    }
    for (int i = 0; i < 7; i++) flush_range(&r[i]), u->extra[i] = r[i].s;
    pcre2_match_data_free(md);
    pcre2_code_free(cn);
}

void r1_unipatch_free(R1UniPatch *u) {
    for (int i = 0; i < 7; i++) free(u->extra[i]);
}

static void put(char **o, size_t *n, size_t *cap, const char *s, size_t k) {
    if (*n + k + 1 > *cap) *o = r1_xrealloc(*o, *cap = (*n + k + 1) * 2);
    memcpy(*o + *n, s, k);
    *n += k;
    (*o)[*n] = 0;
}

/* Copies the pattern, widening \p{X} (X one major category letter, optionally
 * followed by a subcategory letter we then cannot widen safely, so leave it). */
char *r1_unipatch_apply(const R1UniPatch *u, const char *p, size_t len, size_t *out_len) {
    char *o = NULL;
    size_t n = 0, cap = 0;
    int in_class = 0;
    put(&o, &n, &cap, "", 0);
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\\' && i + 4 < len && p[i + 1] == 'p' && p[i + 2] == '{' && p[i + 4] == '}') {
            const char *m = strchr(MAJORS, p[i + 3]);
            const char *extra = m && p[i + 3] ? u->extra[m - MAJORS] : NULL;
            if (extra && *extra) {
                if (!in_class) put(&o, &n, &cap, "[", 1);
                put(&o, &n, &cap, p + i, 5);
                put(&o, &n, &cap, extra, strlen(extra));
                if (!in_class) put(&o, &n, &cap, "]", 1);
                i += 4;
                continue;
            }
        }
        if (p[i] == '\\' && i + 1 < len) { /* any other escape: copy both, never a class edge */
            put(&o, &n, &cap, p + i, 2);
            i++;
            continue;
        }
        if (p[i] == '[' && !in_class) {
            in_class = 1;
            put(&o, &n, &cap, p + i, 1);
            if (i + 1 < len && p[i + 1] == '^') put(&o, &n, &cap, p + ++i, 1);
            if (i + 1 < len && p[i + 1] == ']') put(&o, &n, &cap, p + ++i, 1); /* literal ] */
            continue;
        }
        if (p[i] == ']' && in_class) in_class = 0;
        put(&o, &n, &cap, p + i, 1);
    }
    *out_len = n;
    return o;
}
