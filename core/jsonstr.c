/* jsonstr.c - see jsonstr.h. */
#include "jsonstr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h" /* r1_utf8_put, r1_utf8_len */

static int hex4(const char *s, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'                 ? c - '0'
                : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10
                                                     : -1;
        if (d < 0) return -1;
        *v = *v << 4 | (unsigned)d;
    }
    return 0;
}

/* Decodes the escape at s[i] (just after the backslash) into out; returns the
 * count of input bytes it used, or -1. */
static int unescape(const char *s, size_t n, size_t i, char *out, int *out_len) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *k = i < n ? strchr(from, s[i]) : NULL;
    if (k && s[i]) return out[0] = to[k - from], *out_len = 1, 1;
    unsigned cp, lo;
    if (i + 5 > n || s[i] != 'u' || hex4(s + i + 1, &cp)) return -1;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return -1; /* a low surrogate alone */
    if (cp >= 0xD800 && cp <= 0xDBFF) {          /* needs its low half right after */
        if (i + 11 > n || s[i + 5] != '\\' || s[i + 6] != 'u' || hex4(s + i + 7, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF)
            return -1;
        *out_len = r1_utf8_put(out, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
        return 11;
    }
    *out_len = r1_utf8_put(out, cp);
    return 5;
}

char *r1_json_string_parse(const char *s, size_t n, size_t *len, R1Err *err) {
    size_t i = 0, k = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
    if (i >= n || s[i] != '"') {
        r1_seterr(err, "column %zu: expected a JSON string (starting with '\"')", i + 1);
        return NULL;
    }
    char *out = r1_xmalloc(n + 1);
    for (i++; i < n && s[i] != '"';) {
        if ((unsigned char)s[i] < 0x20) goto bad;
        if (s[i] != '\\') {
            out[k++] = s[i++];
            continue;
        }
        int used, olen;
        if ((used = unescape(s, n, i + 1, out + k, &olen)) < 0) goto bad;
        k += (size_t)olen;
        i += 1 + (size_t)used;
    }
    if (i >= n) {
        r1_seterr(err, "column %zu: the string has no closing quote", n);
        free(out);
        return NULL;
    }
    for (size_t j = i + 1; j < n; j++)
        if (s[j] != ' ' && s[j] != '\t' && s[j] != '\r' && s[j] != '\n') {
            r1_seterr(err, "column %zu: text after the closing quote", j + 1);
            free(out);
            return NULL;
        }
    out[k] = 0;
    *len = k;
    return out;
bad:
    r1_seterr(err,
              "column %zu: invalid character or escape in a JSON string "
              "(lone surrogates cannot be UTF-8)",
              i + 1);
    free(out);
    return NULL;
}

static void put(char **out, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n + 1 > *cap) *out = r1_xrealloc(*out, *cap = (*len + n + 1) * 2);
    memcpy(*out + *len, s, n);
    *len += n;
    (*out)[*len] = 0;
}

/* Bytes of the invalid sequence at s: the "maximal subpart" that Unicode (and
 * Rust's from_utf8_lossy, which Hugging Face uses) replaces with one U+FFFD. */
static size_t invalid_run(const unsigned char *s, size_t n) {
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t want = c >= 0xC2 && c <= 0xDF   ? 2
                  : c >= 0xE0 && c <= 0xEF ? 3
                  : c >= 0xF0 && c <= 0xF4 ? 4
                                           : 1;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    size_t k = 1;
    while (k < want && k < n && s[k] >= lo && s[k] <= hi) k++, lo = 0x80, hi = 0xBF;
    return k;
}

void r1_json_string_write(const char *p, size_t n, char **out, size_t *len, size_t *cap) {
    put(out, len, cap, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            put(out, len, cap, esc, 2), i++;
        } else if (c < 0x20) {
            const char *short_esc = c == '\n'   ? "\\n"
                                    : c == '\t' ? "\\t"
                                    : c == '\r' ? "\\r"
                                                : NULL;
            if (short_esc)
                put(out, len, cap, short_esc, 2);
            else
                snprintf(esc, sizeof esc, "\\u%04x", c), put(out, len, cap, esc, 6);
            i++;
        } else {
            int k = r1_utf8_len((const unsigned char *)p + i, n - i);
            if (k)
                put(out, len, cap, p + i, (size_t)k), i += (size_t)k;
            else
                put(out, len, cap, "\xEF\xBF\xBD", 3),
                    i += invalid_run((const unsigned char *)p + i, n - i);
        }
    }
    put(out, len, cap, "\"", 1);
}
