/* cmd_import.c - `r1-data import`: JSONL files into prompts or sft_samples.
 *
 * The whole import is one transaction: a bad line (without --skip-bad), a read
 * error or a kill leaves the database exactly as it was. Every line is first
 * checked by a strict JSON scanner of our own (RFC 8259 grammar, UTF-8, no NUL),
 * because cJSON accepts things SQLite's json_valid() and other readers do not
 * ("01", trailing text, raw control characters) and passes invalid UTF-8 through;
 * the same scan finds where the "messages" array lies in the line, so the SFT path
 * stores and hashes the original text instead of re-serialising it. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat.h"
#include "data.h"
#include "tok_internal.h" /* r1_utf8_len */

static const char usage[] =
    "usage: r1-data import --db DB --format gsm8k|math|jsonl|messages [options] FILE...\n"
    "Reads JSONL files (- is stdin) into the run database in one transaction: a bad\n"
    "line stops the import (\"FILE:LINE: what is wrong\", exit 1) and changes nothing.\n"
    "Lines already in the database are not added again.\n"
    "formats (prompts):\n"
    "  gsm8k     {\"question\", \"answer\"}: answer = the number after \"####\" without\n"
    "            thousands commas, solution = the text before it\n"
    "  math      {\"problem\" (or \"question\"), \"solution\"?, \"answer\"} (MATH-500, AIME,\n"
    "            AMC): a numeric answer is stored as text, 27.0 as \"27\"\n"
    "  jsonl     fields named by --question-field (default question), --answer-field\n"
    "            (default answer; null = unknown) and --solution-field (default:\n"
    "            \"solution\" when present). A string \"dataset\" or \"split\" field sets\n"
    "            the row's dataset or split unless --dataset/--split is given, and the\n"
    "            members of a \"meta\" object join meta: this reads `export --table\n"
    "            prompts` back unchanged.\n"
    "  every other field goes to the prompt's meta (a JSON object).\n"
    "format (sft_samples):\n"
    "  messages  {\"messages\": [{\"role\", \"content\"}, ...]} with --kind (cold_start,\n"
    "            reasoning, non_reasoning, distill; a \"kind\" field in the line is\n"
    "            ignored): prompt = last user message, response = last assistant one,\n"
    "            messages = the array's text as written in the line\n"
    "options:\n"
    "  --dataset NAME  default: gsm8k for gsm8k; else the file's folder name when the\n"
    "                  file is named train/test/validation/dev (math500/test.jsonl ->\n"
    "                  math500), else the file name without extension; stdin: the format\n"
    "  --split S       default: the file name without extension when it is train, test,\n"
    "                  validation or dev, else train\n"
    "  --skip-bad      skip bad lines and count them instead of stopping\n"
    "  --quiet         no summary (\"added N, already present M, skipped K bad lines\")\n"
    "  --bulk          for inputs of 64 MiB or more (regular files): write through a\n"
    "                  rollback journal instead of the WAL, about twice as fast, while\n"
    "                  other connections wait for the import to end (when one has the\n"
    "                  database open at the start, the import keeps the WAL)\n";

enum { FMT_GSM8K, FMT_MATH, FMT_JSONL, FMT_MESSAGES };
static const char *const format_names[] = {"gsm8k", "math", "jsonl", "messages", NULL};
static const char *const *const kinds = r1_sft_kinds;
static const char *const split_names[] = {"train", "test", "validation", "dev", NULL};

enum { LINE_OK = 0, LINE_BAD = 1, LINE_FATAL = -1 };
#define MAX_DEPTH      512 /* below cJSON's own nesting limit, so ours speaks first */
#define SHOW_SKIPPED   5   /* bad lines named on stderr under --skip-bad */
#define READ_CHUNK     (1 << 20)
#define BATCH_ROWS     512       /* chat samples handed from the parser thread at a time */
#define BATCH_BYTES    (4 << 20) /* (or fewer, when they are long) */
#define BATCHES        4
#define IMPORT_CACHE_K 65536        /* page cache in KiB (see prepare) */
#define BULK_BYTES     (64LL << 20) /* inputs from this size on bypass the WAL (bulk_begin) */

typedef struct {
    const char *db, *dataset, *split, *kind, *qfield, *afield, *sfield;
    int format, skip_bad, quiet, bulk;
    char **files;
    int n_files;
} ImportOpts;

static int lookup(const char *const *names, const char *s) {
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

static int parse_opts(ImportOpts *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    o->format = -1;
    o->files = r1_xcalloc((size_t)argc, sizeof(char *));
    const char *fmt = NULL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = !strcmp(f, "--db")               ? &o->db
                            : !strcmp(f, "--format")         ? &fmt
                            : !strcmp(f, "--split")          ? &o->split
                            : !strcmp(f, "--kind")           ? &o->kind
                            : !strcmp(f, "--dataset")        ? &o->dataset
                            : !strcmp(f, "--question-field") ? &o->qfield
                            : !strcmp(f, "--answer-field")   ? &o->afield
                            : !strcmp(f, "--solution-field") ? &o->sfield
                                                             : NULL;
        if (slot && v)
            *slot = v, i++;
        else if (slot)
            return fprintf(stderr, "r1-data import: %s needs a value\n", f), 1;
        else if (!strcmp(f, "--skip-bad"))
            o->skip_bad = 1;
        else if (!strcmp(f, "--bulk"))
            o->bulk = 1;
        else if (!strcmp(f, "--quiet"))
            o->quiet = 1;
        else if (!strcmp(f, "--help") || !strcmp(f, "-h"))
            return fputs(usage, stdout), -1;
        else if (f[0] == '-' && f[1]) {
            return fprintf(stderr, "r1-data import: unknown option %s\n%s", f, usage), 1;
        } else
            o->files[o->n_files++] = argv[i];
    }
    if (!fmt) return fprintf(stderr, "r1-data import: needs --format\n%s", usage), 1;
    if ((o->format = lookup(format_names, fmt)) < 0)
        return fprintf(stderr,
                       "r1-data import: unknown --format '%s' (gsm8k, math, jsonl, messages)\n",
                       fmt),
               1;
    return 0;
}

/* Options that belong to one format are refused elsewhere rather than ignored. */
static int check_opts(const ImportOpts *o) {
    const char *why = NULL;
    int msg = o->format == FMT_MESSAGES;
    if (msg && !o->kind)
        why = "--format messages needs --kind (cold_start, reasoning, non_reasoning, distill, "
              "pretrain)";
    else if (msg && lookup(kinds, o->kind) < 0)
        why = "--kind must be cold_start, reasoning, non_reasoning, distill or pretrain";
    else if (!msg && o->kind)
        why = "--kind is only for --format messages";
    else if (msg && (o->dataset || o->split))
        why = "--dataset and --split are for prompts, not --format messages";
    else if (o->format != FMT_JSONL && (o->qfield || o->afield || o->sfield))
        why = "--question-field, --answer-field and --solution-field are for --format jsonl";
    else if (o->n_files == 0)
        why = "needs at least one FILE (- for stdin)";
    if (why) fprintf(stderr, "r1-data import: %s\n", why);
    return why ? 1 : 0;
}

/* ---- the strict JSON scan ------------------------------------------------ */

typedef struct {
    const unsigned char *s;
    size_t n, i;
    const char *key; /* a top-level member whose value's span to record, or NULL */
    size_t key_len, at, len;
    int found;
    const char *why; /* what is wrong at byte i */
} JScan;

static int js_fail(JScan *c, size_t i, const char *why) {
    c->i = i;
    c->why = why;
    return -1;
}

static void js_ws(JScan *c) {
    while (c->i < c->n &&
           (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\r' || c->s[c->i] == '\n'))
        c->i++;
}

static int hex4(const unsigned char *s, unsigned *v) {
    *v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char h = s[k];
        int d = h >= '0' && h <= '9'                 ? h - '0'
                : (h | 32) >= 'a' && (h | 32) <= 'f' ? (h | 32) - 'a' + 10
                                                     : -1;
        if (d < 0) return -1;
        *v = *v << 4 | (unsigned)d;
    }
    return 0;
}

/* The escape at s[i] == '\\'; returns its length, or -1 with c->why set. NUL and
 * lone surrogates are refused: cJSON keeps strings NUL-terminated and SQLite's
 * text would be cut there. */
static int js_escape(JScan *c, size_t i) {
    const unsigned char *s = c->s;
    if (i + 1 >= c->n) return js_fail(c, i, "unterminated string");
    if (strchr("\"\\/bfnrt", s[i + 1]) && s[i + 1]) return 2;
    unsigned cp, lo;
    if (s[i + 1] != 'u' || i + 6 > c->n || hex4(s + i + 2, &cp))
        return js_fail(c, i, "bad escape in a string");
    if (cp == 0) return js_fail(c, i, "\\u0000 (NUL) in a string is not supported");
    if (cp >= 0xDC00 && cp <= 0xDFFF) return js_fail(c, i, "lone low surrogate in a string");
    if (cp < 0xD800 || cp > 0xDBFF) return 6;
    if (i + 12 > c->n || s[i + 6] != '\\' || s[i + 7] != 'u' || hex4(s + i + 8, &lo) ||
        lo < 0xDC00 || lo > 0xDFFF)
        return js_fail(c, i, "high surrogate without its low half in a string");
    return 12;
}

/* Whether a byte of v is zero (the classic bit trick: exact, no false positives). */
#define HAS_ZERO(v) (((v)-0x0101010101010101ULL) & ~(v)&0x8080808080808080ULL)

/* Skips printable ASCII other than '"' and '\\' (most of any text) 8 bytes at a
 * time; returns the index of the first byte that needs a look. */
static size_t plain_run(const unsigned char *s, size_t i, size_t n) {
    const uint64_t ones = 0x0101010101010101ULL;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        uint64_t ctrl = (v - 0x20 * ones) & ~v & 0x80 * ones; /* a byte < 0x20 (or >= 0x80) */
        if ((v & 0x80 * ones) | ctrl | HAS_ZERO(v ^ '"' * ones) | HAS_ZERO(v ^ '\\' * ones)) break;
    }
    while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\') i++;
    return i;
}

/* A string at c->i (its opening quote); *escaped says whether it had escapes. */
static int js_string(JScan *c, int *escaped) {
    const unsigned char *s = c->s;
    size_t i = c->i + 1, n = c->n;
    *escaped = 0;
    for (;;) {
        i = plain_run(s, i, n);
        if (i >= n) return js_fail(c, c->i, "unterminated string");
        int k;
        if (s[i] == '"') return c->i = i + 1, 0;
        if (s[i] == '\\')
            k = js_escape(c, i), *escaped = 1;
        else if (s[i] < 0x20)
            return js_fail(c, i, "control character in a string (escape it)");
        else if (!(k = r1_utf8_len(s + i, n - i)))
            return js_fail(c, i, "invalid UTF-8 in a string");
        if (k < 0) return -1;
        i += (size_t)k;
    }
}

static size_t js_digits(JScan *c, size_t i) {
    while (i < c->n && c->s[i] >= '0' && c->s[i] <= '9') i++;
    return i;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int js_number(JScan *c) {
    size_t i = c->i + (c->s[c->i] == '-'), j;
    if (i >= c->n || !(c->s[i] >= '0' && c->s[i] <= '9')) return js_fail(c, c->i, "bad number");
    i = c->s[i] == '0' ? i + 1 : js_digits(c, i);
    if (i < c->n && c->s[i] == '.') {
        if ((j = js_digits(c, i + 1)) == i + 1) return js_fail(c, i, "bad number");
        i = j;
    }
    if (i < c->n && (c->s[i] | 32) == 'e') {
        i += 1 + (i + 1 < c->n && (c->s[i + 1] == '+' || c->s[i + 1] == '-'));
        if ((j = js_digits(c, i)) == i) return js_fail(c, i, "bad number");
        i = j;
    }
    c->i = i;
    return 0;
}

static int js_value(JScan *c, int depth);

static int js_array(JScan *c, int depth) {
    c->i++;
    js_ws(c);
    if (c->i < c->n && c->s[c->i] == ']') return c->i++, 0;
    for (;;) {
        if (js_value(c, depth + 1)) return -1;
        js_ws(c);
        if (c->i < c->n && c->s[c->i] == ']') return c->i++, 0;
        if (c->i >= c->n || c->s[c->i] != ',') return js_fail(c, c->i, "expected ',' or ']'");
        c->i++;
    }
}

/* A member's key; at depth 1 (the line's object) it may be the one to locate. */
static int js_key(JScan *c, int depth, int *wanted) {
    size_t start = c->i + 1;
    int escaped;
    if (c->i >= c->n || c->s[c->i] != '"') return js_fail(c, c->i, "expected a string key");
    if (js_string(c, &escaped)) return -1;
    *wanted = depth == 1 && c->key && !c->found && !escaped && c->i - 1 - start == c->key_len &&
              !memcmp(c->s + start, c->key, c->key_len);
    js_ws(c);
    if (c->i >= c->n || c->s[c->i] != ':') return js_fail(c, c->i, "expected ':'");
    c->i++;
    js_ws(c);
    return 0;
}

static int js_object(JScan *c, int depth) {
    c->i++;
    js_ws(c);
    if (c->i < c->n && c->s[c->i] == '}') return c->i++, 0;
    for (;;) {
        int wanted;
        if (js_key(c, depth + 1, &wanted)) return -1;
        size_t at = c->i;
        if (js_value(c, depth + 1)) return -1;
        if (wanted) c->found = 1, c->at = at, c->len = c->i - at;
        js_ws(c);
        if (c->i < c->n && c->s[c->i] == '}') return c->i++, 0;
        if (c->i >= c->n || c->s[c->i] != ',') return js_fail(c, c->i, "expected ',' or '}'");
        c->i++;
        js_ws(c);
    }
}

static int js_literal(JScan *c, const char *word) {
    size_t k = strlen(word);
    if (c->n - c->i < k || memcmp(c->s + c->i, word, k))
        return js_fail(c, c->i, "unexpected character");
    c->i += k;
    return 0;
}

static int js_value(JScan *c, int depth) {
    int escaped;
    js_ws(c);
    if (depth > MAX_DEPTH) return js_fail(c, c->i, "nested too deeply");
    if (c->i >= c->n) return js_fail(c, c->i, "unexpected end of line");
    switch (c->s[c->i]) {
    case '{':
        return js_object(c, depth);
    case '[':
        return js_array(c, depth);
    case '"':
        return js_string(c, &escaped);
    case 't':
        return js_literal(c, "true");
    case 'f':
        return js_literal(c, "false");
    case 'n':
        return js_literal(c, "null");
    default:
        return js_number(c);
    }
}

/* Checks that line[0..n) is one JSON object and nothing else; with key, records
 * the span of that top-level member's value (c->found, c->at, c->len). */
static int check_line(JScan *c, const char *line, size_t n, const char *key, R1Err *err) {
    *c = (JScan){
        .s = (const unsigned char *)line, .n = n, .key = key, .key_len = key ? strlen(key) : 0};
    js_ws(c);
    if (c->i >= c->n || c->s[c->i] != '{')
        js_fail(c, c->i, "a line must be a JSON object");
    else if (js_value(c, 0) == 0) {
        js_ws(c);
        if (c->i == c->n) return 0;
        js_fail(c, c->i, "text after the JSON object");
    }
    return r1_seterr(err, "column %zu: %s", c->i + 1, c->why);
}

/* ---- reading lines ------------------------------------------------------- */

typedef struct {
    int fd;
    const char *name; /* the path, or "stdin" (in messages and the source column) */
    char *buf;
    size_t cap, lo, hi, scanned; /* unread bytes: buf[lo, hi); no '\n' in [lo, scanned) */
    int eof;
    long lineno;
} Reader;

static int reader_open(Reader *r, const char *path, R1Err *err) {
    memset(r, 0, sizeof *r);
    r->name = strcmp(path, "-") ? path : "stdin";
    r->fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
    if (r->fd < 0) return r1_seterr(err, "%s: cannot open: %s", path, strerror(errno));
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    r->cap = READ_CHUNK;
    r->buf = r1_xmalloc(r->cap);
    return 0;
}

static void reader_close(Reader *r) {
    if (r->fd > 0) close(r->fd);
    free(r->buf);
    r->buf = NULL;
}

/* Moves the unread bytes to the front and makes room for another chunk. */
static void reader_make_room(Reader *r) {
    if (r->lo) {
        memmove(r->buf, r->buf + r->lo, r->hi - r->lo);
        r->hi -= r->lo, r->scanned -= r->lo, r->lo = 0;
    }
    if (r->cap - r->hi < READ_CHUNK / 2) r->buf = r1_xrealloc(r->buf, r->cap *= 2);
}

/* The next line, without "\n" or "\r\n", NUL-terminated in place (valid until the
 * next call). Returns 1, 0 at the end, -1 on a read error. */
static int reader_line(Reader *r, char **line, size_t *len, R1Err *err) {
    for (;;) {
        char *nl = memchr(r->buf + r->scanned, '\n', r->hi - r->scanned);
        if (nl || (r->eof && r->hi > r->lo)) {
            char *s = r->buf + r->lo;
            size_t n = nl ? (size_t)(nl - s) : r->hi - r->lo;
            r->lo = r->scanned = r->lo + n + (nl != NULL);
            if (n && s[n - 1] == '\r') n--;
            s[n] = 0; /* the '\n', or the spare byte read() leaves */
            r->lineno++;
            /* A UTF-8 byte order mark (some Windows editors write one) is no text. */
            if (r->lineno == 1 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) s += 3, n -= 3;
            *line = s, *len = n;
            return 1;
        }
        if (r->eof) return 0;
        r->scanned = r->hi;
        reader_make_room(r);
        ssize_t k = read(r->fd, r->buf + r->hi, r->cap - r->hi - 1);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return r1_seterr(err, "%s: read error: %s", r->name, strerror(errno));
        if (k == 0) r->eof = 1;
        r->hi += (size_t)k;
    }
}

/* ---- the import ---------------------------------------------------------- */

/* A growing NUL-terminated byte buffer, reused line after line. */
typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static void buf_put(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) b->p = r1_xrealloc(b->p, b->cap = (b->len + n + 1) * 2);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

typedef struct {
    const ImportOpts *o;
    R1Db db;
    PromptWriter pw;
    sqlite3_stmt *sft;
    const char *dataset, *split; /* this file's defaults */
    char dataset_buf[256], split_buf[256], num[40];
    const char *source; /* the file being read: its path, or "stdin" */
    long added, present, bad;
    int bulk; /* in a rollback journal for this import (bulk_begin) */
    Progress prog;
} Import;

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

/* The file name without folder and extension, and its folder's name. */
static void file_names(const char *path, char *stem, size_t stem_cap, char *dir, size_t dir_cap) {
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(stem, stem_cap, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    /* The folder as written (not resolved: a symlinked file keeps its name's folder),
     * or the current directory's name for a bare file name. */
    char folder[PATH_MAX];
    dir[0] = 0;
    if (strrchr(path, '/'))
        snprintf(folder, sizeof folder, "%.*s", (int)(strrchr(path, '/') - path), path);
    else if (!getcwd(folder, sizeof folder))
        return;
    const char *slash = strrchr(folder, '/'), *name = slash ? slash + 1 : folder;
    size_t len = strlen(name) < dir_cap ? strlen(name) : dir_cap - 1;
    memcpy(dir, name, len);
    dir[len] = 0;
}

/* The defaults documented in usage for --dataset and --split. */
static void file_defaults(Import *im, const char *path) {
    const ImportOpts *o = im->o;
    char stem[256], dir[256];
    int stdin_ = !strcmp(path, "-");
    file_names(stdin_ ? "stdin" : path, stem, sizeof stem, dir, sizeof dir);
    int split_stem = !stdin_ && lookup(split_names, stem) >= 0;
    snprintf(im->split_buf, sizeof im->split_buf, "%s", split_stem ? stem : "train");
    const char *ds = o->format == FMT_GSM8K || stdin_ ? format_names[o->format]
                     : split_stem && dir[0]           ? dir
                                                      : stem;
    snprintf(im->dataset_buf, sizeof im->dataset_buf, "%s", ds);
    im->dataset = o->dataset ? o->dataset : im->dataset_buf;
    im->split = o->split ? o->split : im->split_buf;
}

/* Integral values print without ".0" (AMC's 27.0 -> "27"); others with the fewest
 * digits that read back as the same double. */
static const char *format_number(double v, char out[40]) {
    if (fabs(v) < 9007199254740992.0 && v == (double)(long long)v)
        snprintf(out, 40, "%lld", (long long)v);
    else
        for (int p = 15; p <= 17; p++)
            if (snprintf(out, 40, "%.*g", p, v), strtod(out, NULL) == v) break;
    return out;
}

/* A JSON number is read as a double: past 2^53 an integer is no longer exact
 * (12345678901234567890 would become 1.2345678901234567e+19), so such gold
 * answers are refused rather than stored wrong; as strings they are kept. */
static int exact_number(double v) {
    return isfinite(v) && fabs(v) < 9007199254740992.0;
}

/* Detaches root's member key into taken (deleted with it later); NULL if absent. */
static cJSON *take(cJSON *root, const char *key, cJSON *taken) {
    cJSON *it = key ? cJSON_DetachItemFromObjectCaseSensitive(root, key) : NULL;
    if (it) cJSON_AddItemToArray(taken, it);
    return it;
}

/* A required string field; NULL with err set when absent or not a string. */
static const char *need_string(cJSON *root, const char *key, cJSON *taken, R1Err *err) {
    cJSON *it = take(root, key, taken);
    if (cJSON_IsString(it)) return it->valuestring;
    r1_seterr(err, it ? "\"%s\" is not a string" : "no \"%s\" field", key);
    return NULL;
}

/* An answer: a string, a number (as text), or null (unknown: *out = NULL). */
static int answer_field(Import *im, cJSON *root, const char *key, cJSON *taken, const char **out,
                        R1Err *err) {
    cJSON *it = take(root, key, taken);
    *out = NULL;
    if (cJSON_IsString(it))
        *out = it->valuestring;
    else if (cJSON_IsNumber(it) && !exact_number(it->valuedouble))
        return r1_seterr(err, "\"%s\" is a number too large to be exact; write it as a string",
                         key);
    else if (cJSON_IsNumber(it))
        *out = format_number(it->valuedouble, im->num);
    else if (!cJSON_IsNull(it))
        return r1_seterr(err, it ? "\"%s\" is not a string or a number" : "no \"%s\" field", key);
    return 0;
}

static void trim_end(char *s, char *end) {
    while (end > s && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *end = 0;
}

/* "...worked solution...\n#### 1,234" -> solution "...worked solution...", answer
 * "1234"; both are cut from the answer string in place (the answer moves left
 * over the "###" it no longer needs, so it never overlaps the solution). */
static int gsm8k_row(Import *im, cJSON *root, cJSON *taken, PromptRow *r, R1Err *err) {
    (void)im;
    if (!(r->question = need_string(root, "question", taken, err))) return -1;
    char *a = (char *)need_string(root, "answer", taken, err), *mark = NULL;
    if (!a) return -1;
    for (char *p = a; (p = strstr(p, "####")); p += 4) mark = p; /* the last one */
    if (!mark) return r1_seterr(err, "the answer has no \"#### N\" final line");
    char *w = mark + 1, *q = mark + 4;
    while (*q == ' ' || *q == '\t') q++;
    for (; *q; q++)
        if (*q != ',') *w++ = *q;
    trim_end(mark + 1, w);
    if (!mark[1]) return r1_seterr(err, "nothing after \"####\" in the answer");
    r->answer = mark + 1;
    trim_end(a, mark);
    r->solution = *a ? a : NULL;
    return 0;
}

static int math_row(Import *im, cJSON *root, cJSON *taken, PromptRow *r, R1Err *err) {
    cJSON *problem = take(root, "problem", taken),
          *question = cJSON_GetObjectItemCaseSensitive(root, "question");
    if (!problem)
        problem = take(root, "question", taken);
    else if (cJSON_IsString(question) && cJSON_IsString(problem) &&
             !strcmp(question->valuestring, problem->valuestring))
        take(root, "question", taken); /* AIME/AMC repeat the problem as "question" */
    if (!cJSON_IsString(problem))
        return r1_seterr(err, problem ? "\"problem\" is not a string" : "no \"problem\" field");
    r->question = problem->valuestring;
    cJSON *sol = take(root, "solution", taken);
    if (sol && !cJSON_IsString(sol) && !cJSON_IsNull(sol))
        return r1_seterr(err, "\"solution\" is not a string");
    r->solution = cJSON_IsString(sol) ? sol->valuestring : NULL;
    if (!cJSON_GetObjectItemCaseSensitive(root, "answer"))
        return r1_seterr(err, "no \"answer\" field");
    return answer_field(im, root, "answer", taken, &r->answer, err);
}

static int jsonl_row(Import *im, cJSON *root, cJSON *taken, PromptRow *r, R1Err *err) {
    const ImportOpts *o = im->o;
    const char *qf = o->qfield ? o->qfield : "question", *af = o->afield ? o->afield : "answer";
    if (!(r->question = need_string(root, qf, taken, err))) return -1;
    if (answer_field(im, root, af, taken, &r->answer, err)) return -1;
    cJSON *sol = take(root, o->sfield ? o->sfield : "solution", taken);
    if (o->sfield && !sol) return r1_seterr(err, "no \"%s\" field", o->sfield);
    if (sol && !cJSON_IsString(sol) && !cJSON_IsNull(sol))
        return r1_seterr(err, "the solution is not a string");
    r->solution = cJSON_IsString(sol) ? sol->valuestring : NULL;
    /* the fields `export --table prompts` writes */
    cJSON *ds = cJSON_GetObjectItemCaseSensitive(root, "dataset"),
          *sp = cJSON_GetObjectItemCaseSensitive(root, "split");
    if (!o->dataset && cJSON_IsString(ds)) r->dataset = take(root, "dataset", taken)->valuestring;
    if (!o->split && cJSON_IsString(sp)) r->split = take(root, "split", taken)->valuestring;
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");
    if (cJSON_IsObject(meta)) {
        take(root, "meta", taken);
        while (meta->child) {
            cJSON *m = cJSON_DetachItemViaPointer(meta, meta->child);
            cJSON_AddItemToObject(root, m->string, m);
        }
    }
    return 0;
}

typedef int (*RowFn)(Import *im, cJSON *root, cJSON *taken, PromptRow *r, R1Err *err);

/* One prompt line: the format's fields, then whatever is left as meta. */
static int prompt_line(Import *im, char *line, size_t n, R1Err *err) {
    static const RowFn rows[] = {gsm8k_row, math_row, jsonl_row};
    JScan c;
    if (check_line(&c, line, n, NULL, err)) return LINE_BAD;
    cJSON *root = cJSON_ParseWithLength(line, n), *taken = cJSON_CreateArray();
    PromptRow r = {.dataset = im->dataset, .split = im->split, .source = im->source};
    int rc = LINE_BAD;
    char *meta = NULL;
    if (!root)
        r1_seterr(err, "cJSON cannot parse the line");
    else if (rows[im->o->format](im, root, taken, &r, err) == 0) {
        if (!*r.question)
            r1_seterr(err, "the question is empty");
        else
            rc = LINE_OK;
    }
    if (rc == LINE_OK && root->child) r.meta = meta = cJSON_PrintUnformatted(root);
    if (rc == LINE_OK && prompt_writer_add(&im->pw, &r, err)) rc = LINE_FATAL;
    cJSON_free(meta);
    cJSON_Delete(taken);
    cJSON_Delete(root);
    return rc;
}

/* ---- the messages array, walked in place ---------------------------------
 * The line has passed the strict scan, so these walkers can trust the grammar;
 * they replace a cJSON tree (a dozen allocations a line) on the hot path. */

static size_t skip_ws(const char *s, size_t i) {
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') i++;
    return i;
}

/* Past the string literal at s[i]: its closing quote is the first '"' after an
 * even run of backslashes (strchr is vectorised; strings are most of a line). */
static size_t skip_string(const char *s, size_t i) {
    for (const char *q = s + i + 1;; q++) {
        q = strchr(q, '"');
        size_t k = 0;
        while (q[-1 - (ptrdiff_t)k] == '\\') k++;
        if (k % 2 == 0) return (size_t)(q - s) + 1;
    }
}

/* The index just past the (valid) JSON value at s[i]. */
static size_t skip_value(const char *s, size_t i) {
    if (s[i] == '"') return skip_string(s, i);
    if (s[i] != '[' && s[i] != '{') {
        while (s[i] && !strchr(",]} \t\r\n", s[i])) i++;
        return i;
    }
    int depth = 0;
    do {
        if (s[i] == '"')
            i = skip_string(s, i);
        else
            depth += (s[i] == '[' || s[i] == '{') - (s[i] == ']' || s[i] == '}'), i++;
    } while (depth);
    return i;
}

typedef struct {
    size_t role, content; /* where the values start; 0: absent (never 0 inside an array) */
} Msg;

/* The first "role" and "content" members (as cJSON would pick) of the object at
 * s[i]; returns the index past it. */
static size_t message_members(const char *s, size_t i, Msg *m) {
    *m = (Msg){0, 0};
    for (i = skip_ws(s, i + 1); s[i] != '}';) {
        size_t key = i + 1;
        i = skip_string(s, i);
        size_t klen = i - 1 - key, v = skip_ws(s, skip_ws(s, i) + 1);
        size_t *slot = klen == 4 && !memcmp(s + key, "role", 4)      ? &m->role
                       : klen == 7 && !memcmp(s + key, "content", 7) ? &m->content
                                                                     : NULL;
        if (slot && !*slot) *slot = v;
        i = skip_ws(s, skip_value(s, v));
        if (s[i] == ',') i = skip_ws(s, i + 1);
    }
    return i + 1;
}

/* Appends the bytes of the (valid, NUL-free) string literal at s[0] == '"' and a
 * NUL to b; returns where they start. */
static size_t decode_string(const char *s, Buf *b) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    size_t start = b->len;
    buf_put(b, "", 0);
    for (s++;;) {
        size_t run = strcspn(s, "\"\\");
        buf_put(b, s, run);
        s += run;
        if (*s == '"') return b->len++, start; /* keep the NUL */
        if (s[1] != 'u') {
            buf_put(b, to + (strchr(from, s[1]) - from), 1), s += 2;
            continue;
        }
        unsigned cp, lo;
        hex4((const unsigned char *)s + 2, &cp), s += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) /* the scan saw its low half */
            hex4((const unsigned char *)s + 2, &lo), s += 6,
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        char u[4];
        buf_put(b, u, (size_t)r1_utf8_put(u, cp));
    }
}

/* A message's role (system, user, assistant), or -1. */
static int message_role(const char *s, const Msg *m, Buf *scratch) {
    if (!m->role || s[m->role] != '"') return -1;
    scratch->len = 0;
    decode_string(s + m->role, scratch);
    return r1_role_parse(scratch->p);
}

/* ---- chat samples, parsed on a second thread ------------------------------
 * Reading, the strict scan, decoding and hashing are a third of the work of a
 * chat import; a parser thread does them batch by batch while the main thread
 * feeds SQLite, which only the main thread touches. */

typedef struct {
    size_t msgs, prompt, response; /* offsets in Batch.text (NUL-terminated) */
    size_t msgs_len, prompt_len, response_len;
    const char *file; /* the path, or "stdin" */
    long lineno;
    char hash[17];
    int bad; /* its .msgs text says what is wrong */
} Sample;

typedef struct {
    Sample rows[BATCH_ROWS];
    int n, last; /* last: no batch follows */
    int failed;  /* reading stopped with err (and last is set) */
    R1Err err;
    Buf text;
} Batch;

typedef struct {
    const ImportOpts *o;
    Batch b[BATCHES];
    long filled, drained; /* batches handed over and given back; slot = count % BATCHES */
    int stop;             /* the main thread gave up: the parser ends too */
    pthread_mutex_t mu;
    pthread_cond_t cond;
} Pipe;

/* The parser's next empty batch, once the main thread has drained it; NULL when
 * the main thread has stopped. */
static Batch *pipe_next_free(Pipe *p) {
    pthread_mutex_lock(&p->mu);
    while (!p->stop && p->filled - p->drained >= BATCHES) pthread_cond_wait(&p->cond, &p->mu);
    Batch *b = p->stop ? NULL : &p->b[p->filled % BATCHES];
    pthread_mutex_unlock(&p->mu);
    if (b) b->n = b->last = b->failed = 0, b->text.len = 0;
    return b;
}

/* The parser hands its batch over. */
static void pipe_hand_over(Pipe *p) {
    pthread_mutex_lock(&p->mu);
    p->filled++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

/* The main thread's next full batch. */
static Batch *pipe_next_full(Pipe *p) {
    pthread_mutex_lock(&p->mu);
    while (p->filled == p->drained) pthread_cond_wait(&p->cond, &p->mu);
    Batch *b = &p->b[p->drained % BATCHES];
    pthread_mutex_unlock(&p->mu);
    return b;
}

/* The main thread gives the batch back, or stops the parser. */
static void pipe_give_back(Pipe *p, int stop) {
    pthread_mutex_lock(&p->mu);
    if (stop)
        p->stop = 1;
    else
        p->drained++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

/* The contents of the last user and the last assistant message of the array at
 * s, decoded into b->text. */
static int last_turns(const char *s, Batch *b, Sample *row, Buf *scratch, R1Err *err) {
    size_t i = skip_ws(s, 0), user = 0, assistant = 0;
    if (s[i] != '[') return r1_seterr(err, "\"messages\" is not an array");
    Msg m;
    i = skip_ws(s, i + 1);
    for (int k = 0; s[i] != ']'; k++) {
        if (s[i] != '{') return r1_seterr(err, "message %d is not an object", k);
        i = message_members(s, i, &m);
        int r = message_role(s, &m, scratch);
        if (r < 0)
            return r1_seterr(err, "message %d: needs a \"role\" of system, user or assistant", k);
        if (!m.content || s[m.content] != '"')
            return r1_seterr(err, "message %d: needs a string \"content\"", k);
        /* The pair is the last assistant reply and the user turn it answers: a
         * user turn after the reply would pair a question with an older answer. */
        if (r == R1_ROLE_USER) user = m.content, assistant = 0;
        if (r == R1_ROLE_ASSISTANT) assistant = m.content;
        i = skip_ws(s, i);
        if (s[i] == ',') i = skip_ws(s, i + 1);
    }
    if (!user) return r1_seterr(err, "no user message");
    if (!assistant) return r1_seterr(err, "no assistant message after the last user message");
    row->prompt = decode_string(s + user, &b->text);
    row->prompt_len = b->text.len - 1 - row->prompt;
    row->response = decode_string(s + assistant, &b->text);
    row->response_len = b->text.len - 1 - row->response;
    return 0;
}

/* One line into row: the sample, or (bad) what is wrong with it. */
static void parse_sample(Batch *b, Sample *row, const char *line, size_t n, Buf *scratch) {
    JScan c;
    R1Err why;
    size_t start = b->text.len;
    int rc = check_line(&c, line, n, "messages", &why);
    if (rc == 0 && !c.found) rc = r1_seterr(&why, "no \"messages\" field");
    if (rc == 0 && c.len > INT_MAX) rc = r1_seterr(&why, "\"messages\" is over 2 GB");
    if (rc == 0) rc = last_turns(line + c.at, b, row, scratch, &why);
    row->bad = rc != 0;
    if (rc) b->text.len = start; /* drop what the row had decoded */
    row->msgs = b->text.len;
    row->msgs_len = rc ? strlen(why.msg) : c.len;
    buf_put(&b->text, rc ? why.msg : line + c.at, row->msgs_len);
    b->text.len++; /* keep the NUL */
    if (!rc) r1_db_hash_hex(line + c.at, c.len, row->hash);
}

/* Parses one file into batches; returns the batch being filled (NULL: stopped). */
static Batch *parse_file(Pipe *p, Batch *b, const char *path, Buf *scratch) {
    Reader rd;
    if (reader_open(&rd, path, &b->err)) return b->failed = 1, b;
    char *line = NULL;
    size_t n = 0;
    int got;
    while (b && (got = reader_line(&rd, &line, &n, &b->err)) > 0) {
        if (is_blank(line, n)) continue;
        Sample *row = &b->rows[b->n++];
        row->file = rd.name, row->lineno = rd.lineno;
        parse_sample(b, row, line, n, scratch);
        if (b->n == BATCH_ROWS || b->text.len >= BATCH_BYTES) {
            pipe_hand_over(p);
            b = pipe_next_free(p);
        }
    }
    if (b && got < 0) b->failed = 1;
    reader_close(&rd);
    return b;
}

static void *parser_main(void *arg) {
    Pipe *p = arg;
    Buf scratch = {0};
    Batch *b = pipe_next_free(p);
    for (int f = 0; b && !b->failed && f < p->o->n_files; f++)
        b = parse_file(p, b, p->o->files[f], &scratch);
    if (b) b->last = 1, pipe_hand_over(p);
    free(scratch.p);
    return NULL;
}

/* Inserts one parsed sample; kind (1) is bound once, source (5) per file. */
static int insert_sample(Import *im, const Batch *b, const Sample *row, R1Err *err) {
    sqlite3_stmt *st = im->sft;
    sqlite3_bind_text(st, 2, b->text.p + row->prompt, (int)row->prompt_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, b->text.p + row->response, (int)row->response_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, b->text.p + row->msgs, (int)row->msgs_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, row->hash, 16, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return sqlite3_changes(im->db.h) ? im->added++ : im->present++, LINE_OK;
    if (rc == SQLITE_CONSTRAINT) /* a CHECK the scan let through; only this row is undone */
        return r1_seterr(err, "the database refuses it: %s", sqlite3_errmsg(im->db.h)), LINE_BAD;
    return r1_db_fail(&im->db, "inserting a sample", err), LINE_FATAL;
}

/* A line that failed: stops the import, or is counted (and the first few named). */
static int bad_line(Import *im, const char *file, long lineno, const char *why, R1Err *err) {
    if (!im->o->skip_bad) return r1_seterr(err, "%s:%ld: %s", file, lineno, why);
    if (++im->bad <= SHOW_SKIPPED && !im->o->quiet)
        fprintf(stderr, "r1-data import: %s:%ld: %s (skipped)\n", file, lineno, why);
    return 0;
}

static int store_sample(Import *im, const Batch *b, const Sample *row, const char **file,
                        R1Err *err) {
    R1Err why;
    if (row->file != *file) sqlite3_bind_text(im->sft, 5, *file = row->file, -1, SQLITE_STATIC);
    int rc = row->bad ? LINE_BAD : insert_sample(im, b, row, &why);
    const char *what = row->bad ? b->text.p + row->msgs : why.msg;
    if (rc == LINE_FATAL) return r1_seterr(err, "%s:%ld: %s", row->file, row->lineno, what);
    return rc == LINE_BAD ? bad_line(im, row->file, row->lineno, what, err) : 0;
}

static int import_samples(Import *im, R1Err *err) {
    Pipe p = {.o = im->o};
    pthread_t parser;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cond, NULL);
    int started = pthread_create(&parser, NULL, parser_main, &p) == 0;
    int rc = started ? 0 : r1_seterr(err, "cannot start the parser thread");
    long lines = 0;
    const char *file = NULL;
    for (int last = rc; !last;) {
        Batch *b = pipe_next_full(&p);
        for (int i = 0; rc == 0 && i < b->n; i++) rc = store_sample(im, b, &b->rows[i], &file, err);
        if (rc == 0 && b->failed) rc = r1_seterr(err, "%s", b->err.msg);
        last = b->last || rc;
        progress_update(&im->prog, lines += b->n, -1);
        pipe_give_back(&p, rc != 0);
    }
    if (started) pthread_join(parser, NULL);
    for (int i = 0; i < BATCHES; i++) free(p.b[i].text.p);
    pthread_cond_destroy(&p.cond);
    pthread_mutex_destroy(&p.mu);
    return rc;
}

/* ---- prompts, on one thread (small files) --------------------------------- */

static int import_lines(Import *im, Reader *rd, long *lines, R1Err *err) {
    char *line = NULL;
    size_t n = 0;
    int got;
    while ((got = reader_line(rd, &line, &n, err)) > 0) {
        if (is_blank(line, n)) continue;
        R1Err why;
        int rc = prompt_line(im, line, n, &why);
        if (rc == LINE_FATAL) return r1_seterr(err, "%s:%ld: %s", rd->name, rd->lineno, why.msg);
        if (rc == LINE_BAD && bad_line(im, rd->name, rd->lineno, why.msg, err)) return -1;
        if ((++*lines & 1023) == 0) progress_update(&im->prog, *lines, -1);
    }
    return got;
}

static int import_prompts(Import *im, R1Err *err) {
    long lines = 0;
    for (int i = 0; i < im->o->n_files; i++) {
        Reader rd;
        const char *path = im->o->files[i];
        if (reader_open(&rd, path, err)) return -1;
        file_defaults(im, path);
        im->source = rd.name;
        int rc = import_lines(im, &rd, &lines, err);
        reader_close(&rd);
        if (rc) return -1;
    }
    return 0;
}

static int prepare(Import *im, R1Err *err) {
    /* One big transaction: a 64 MiB page cache keeps the content_hash index (about
     * 40 bytes a sample, inserted in random order) in memory instead of evicting
     * and re-reading it (2000 pages by default; 256 MiB measured no faster). */
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%d", IMPORT_CACHE_K);
    if (r1_db_exec(&im->db, pragma, err)) return -1;
    if (im->o->format != FMT_MESSAGES) return prompt_writer_init(&im->pw, &im->db, err);
    /* ON CONFLICT names the unique key so that a failed CHECK is an error, not a
     * silently ignored row (as INSERT OR IGNORE would make it). */
    im->sft = r1_db_prepare(&im->db,
                            "INSERT INTO sft_samples (kind, prompt, response, messages, source, "
                            "content_hash) VALUES (?, ?, ?, ?, ?, ?) "
                            "ON CONFLICT (kind, content_hash) DO NOTHING",
                            err);
    if (!im->sft) return -1;
    sqlite3_bind_text(im->sft, 1, im->o->kind, -1, SQLITE_STATIC);
    return 0;
}

/* The bytes the inputs hold, as far as they are regular files (stdin from a pipe
 * counts 0). */
/* The size of the inputs that are regular files (a pipe counts 0: unknown). */
static long long input_bytes(const ImportOpts *o) {
    long long total = 0;
    struct stat st;
    for (int i = 0; i < o->n_files; i++)
        if ((strcmp(o->files[i], "-") ? stat(o->files[i], &st) : fstat(0, &st)) == 0 &&
            S_ISREG(st.st_mode))
            total += st.st_size;
    return total;
}

/* Sets the journal mode and says whether it is now `mode` (SQLite answers with the
 * mode in force, and refuses quietly or with BUSY while another connection needs
 * the WAL). */
static int journal_mode(R1Db *db, const char *mode) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode = %s", mode);
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW &&
             !strcmp((const char *)sqlite3_column_text(st, 0), mode);
    sqlite3_finalize(st);
    return ok;
}

/* A large import writes its one transaction through a rollback journal instead of
 * the WAL. In WAL mode every page is written twice (to the WAL, then copied into
 * the database by the checkpoint at commit), and SQLite's search of a WAL of
 * hundreds of thousands of frames grows with it: 800K chat samples took twice as
 * long (14.3 s against 6.8 s with 16 KiB pages). A rollback journal holds only the few pages that
 * existed before, new pages go straight to the file, and a killed import is still undone (the hot
 * journal is rolled back by the next opener). The price: readers wait for the import's lock instead
 * of reading the last commit. When another connection has the database open, SQLite keeps the WAL
 * and so does the import. */
static void bulk_begin(Import *im) {
    if (!im->o->bulk || input_bytes(im->o) < BULK_BYTES) return;
    im->bulk = journal_mode(&im->db, "truncate");
    /* FULL: a rollback journal must reach the disk before the pages it protects */
    if (im->bulk) r1_db_exec(&im->db, "PRAGMA synchronous = FULL", NULL);
}

static void bulk_end(Import *im) {
    if (!im->bulk) return;
    r1_db_exec(&im->db, "PRAGMA synchronous = NORMAL", NULL);
    if (!journal_mode(&im->db, "wal"))
        fprintf(stderr,
                "r1-data import: %s: could not return to WAL mode (the next r1c "
                "stage to open it will)\n",
                im->db.path);
}

static int import_all(Import *im, R1Err *err) {
    int rc = prepare(im, err) ? -1 : 0;
    if (rc == 0) bulk_begin(im), rc = r1_db_begin(&im->db, err);
    if (rc == 0)
        rc = im->o->format == FMT_MESSAGES ? import_samples(im, err) : import_prompts(im, err);
    progress_done(&im->prog);
    if (rc == 0) rc = r1_db_commit(&im->db, err);
    if (rc) r1_db_rollback(&im->db);
    bulk_end(im);
    if (im->o->format != FMT_MESSAGES) {
        im->added = im->pw.added, im->present = im->pw.repeated;
        prompt_writer_free(&im->pw);
    }
    sqlite3_finalize(im->sft);
    return rc;
}

int cmd_import(int argc, char **argv) {
    ImportOpts o;
    int rc = parse_opts(&o, argc, argv);
    if (rc == 0) rc = check_opts(&o);
    Import im = {.o = &o};
    /* Only this thread uses SQLite (the parser thread never does), so its
     * per-call mutexes and memory statistics are pure cost: 5% of a chat import.
     * This must precede the first connection; if it comes too late, it is refused
     * and SQLite stays serialized, which is fine too. */
    sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (rc || data_open(&im.db, o.db)) {
        free(o.files);
        return rc < 0 ? 0 : rc ? 2 : 1; /* --help, usage error, no database */
    }
    R1Err err;
    progress_init(&im.prog, "import: lines", o.quiet);
    if (import_all(&im, &err)) {
        fprintf(stderr, "r1-data import: %s\n", err.msg);
        rc = 1;
    } else if (!o.quiet) {
        fprintf(stderr, "r1-data import: added %ld, already present %ld, skipped %ld bad lines\n",
                im.added, im.present, im.bad);
    }
    r1_db_close(&im.db);
    free(o.files);
    return rc;
}
