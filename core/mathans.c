/* mathans.c - see mathans.h. The rules, where the header leaves a choice:
 *
 * Extraction
 *   - Region: the text after the last "</think>", or all of it when there is none.
 *   - \boxed{...} / \fbox{...}: the last one (by start) whose braces balance, with \{ \}
 *     and \\ not counting; "\boxed 5" (a space, then one token) counts too; an empty box
 *     is skipped. Found in one backward pass: a box that does not close stops the scan
 *     of every box before it, so 1 MB of "\boxed{" stays linear.
 *   - <answer>...</answer>: the last closing tag and the last opening tag before it.
 *   - "#### X": the rest of the line after the last "####", when it starts like a number
 *     (a digit, sign, "$", "." or "\"), so markdown headings are not answers.
 *   - Phrases (opts->phrase): the last "answer is", "answer:" (any case), "答案是" or
 *     "答案为"; the value runs to the end of the line or sentence (". ", "。"), a trailing
 *     period is dropped and $...$, \(...\) around it are taken as the whole value.
 *   - Last number (opts->last_number): digits with at most one decimal point, thousands
 *     separators when every group after a comma has three digits (removed in the
 *     output), a sign when "-" or "−" is not glued to a preceding letter or digit.
 *
 * Equivalence (r1_math_equal): the first rule that decides wins.
 *   1. Both sides are cleaned: $ \( \) \[ \] go, Unicode math (− × ÷ · ° π ∞ √ ≤ ≥ ± ∪
 *      ² ³, full-width % , ( ) :) becomes LaTeX, and "1\,234", "1,\!234", "1{,}234" lose
 *      their spacing / braces. A case-sensitive "key" then drops whitespace (as TeX
 *      does), \left \right \, \! \quad..., unwraps \text{} \textbf{} \mathrm{} \boxed{}
 *      and drops trailing dots. Equal keys are equal answers, parsable or not.
 *   2. Two plain integers (optional sign, thousands separators) are compared as digit
 *      strings, so 1000-digit answers are exact.
 *   3. A gold that is one capital letter, "(B)", "B)" or "B." is a multiple-choice
 *      answer: the prediction must name the same letter ("B", "(B)", "\text{(B)}",
 *      "B) 12", "(b)") and no other ("(B) or (C)" is a hedge, not equal).
 *   4. Otherwise both sides are parsed (mathexpr.h). A gold that does not parse gives
 *      R1_EQ_UNDEFINED; a prediction that does not parse is not equal. Answers made of
 *      words only ("\text{Monday}", "no solution", "No") are compared as lower-case words.
 *   Parsing rules: words and units next to a value are dropped ("5 cm", "18\text{
 *   dollars}", "3 apples"): a word is anything in \text{}, a run of 3+ letters not glued
 *   to a number, or a known unit (cm, km, kg, ... also glued: "12km"); a lone letter stays
 *   a variable, so "5 m" is 5*m. "and"/"or" separate elements; degrees (^\circ, °) are
 *   dropped, not converted; a trailing % marks a percentage; variables are case-sensitive
 *   and i is one of them (no complex numbers); e is Euler's number wherever it is a lone
 *   letter, and "1.5e3" / "2e-3" are scientific notation; "2^10" is 2^{10}; \log is
 *   base 10 (as in math-verify), \ln base e; "1,234,567" is one number outside brackets
 *   (groups of exactly three digits), "(1,234)" a tuple; "0.1\overline{6}" is the
 *   repeating decimal 1/6 (exact); "2\frac{1}{2}" and "2 1/2" are mixed numbers (an
 *   integer then a proper fraction of integers, and nothing else in the term); other
 *   bare numbers side by side ("2 3") are refused as ambiguous (TeX prints 23).
 *   5. Comparison:
 *   - numbers: exact rationals - decimal literals are exact, 0.5 is 1/2 - compare
 *     exactly, so 1000001/1000000 is not 1; a value from an inexact operation (pi,
 *     \sqrt2, \sin, a result past int64) compares with relative tolerance R1_MATH_RTOL
 *     (absolute 1e-9 near zero); a decimal literal with 6+ fraction digits also matches
 *     any value that rounds to it (0.333333 = 1/3). Infinities equal only themselves.
 *   - percent: "50%" equals 50 and 0.5 (either reading), in both directions.
 *   - decimal comma: a prediction "3,5" (one comma, not three digits after it) is also
 *     3.5, but only against a single gold number; a gold "3,5" is the list {3, 5}.
 *   - free variables: both sides are evaluated at NPTS seeded points (positive ones and
 *     ones of either sign); points where either side is not finite are skipped, at least
 *     MIN_POINTS must remain and all must agree (within the tolerance above).
 *   - \pm: "1 \pm \sqrt2" is the set {1+√2, 1-√2}.
 *   - sets \{..\} and bare lists are compared as sets (order and repeats ignored);
 *     tuples and intervals in order, brackets included; "(a, b)" also equals the bare
 *     list "a, b" in order; a set or list of one element equals that element; a set is
 *     never a tuple.
 *   - x = 5: an assignment (one variable on the left) equals its right-hand side, and
 *     another assignment only with the same variable. Two equations that are not both
 *     assignments are equal when lhs - rhs of one is a constant non-zero multiple of the
 *     other's at every point (2x+2y=2 equals y=1-x); a prediction equation against a
 *     gold value compares its last side, and every other side but a lone variable must
 *     equal it ("2\cdot30 = 60" is 60, "61 = 60" is not). Inequalities compare
 *     side by side (also flipped: x > 3 is 3 < x), and a one-variable inequality equals
 *     the matching interval (x \ge 3 is [3, \infty)).
 *   Limits: MX_MAX_TOKENS tokens, MX_MAX_DEPTH nesting, MX_MAX_ITEMS elements (past one
 *   the side does not parse); sets whose elements are not numbers compare at most 4096
 *   pairs (past that: not equal). */
#include "mathans.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mathexpr.h"
#include "rng.h"
#include "util.h"

#define NONE       SIZE_MAX
#define NPTS       10
#define MIN_POINTS 3
#define POINT_SEED 0x5eedULL

/* ------------------------------------------------------------------ text helpers */

static int is_space(int c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_digit(int c) {
    return c >= '0' && c <= '9';
}

/* The last start of pat in s[a..n), or NONE. */
static size_t find_last(const char *s, size_t a, size_t n, const char *pat, int nocase) {
    size_t m = strlen(pat);
    if (n < a + m) return NONE;
    for (size_t i = n - m + 1; i-- > a;) {
        size_t k = 0;
        while (k < m && (nocase ? tolower((unsigned char)s[i + k]) == (unsigned char)pat[k]
                                : s[i + k] == pat[k]))
            k++;
        if (k == m) return i;
    }
    return NONE;
}

typedef struct {
    size_t a, b;
} Span;

static void trim(const char *s, Span *sp) {
    while (sp->a < sp->b && is_space(s[sp->a])) sp->a++;
    while (sp->b > sp->a && is_space(s[sp->b - 1])) sp->b--;
}

/* Trailing sentence punctuation and markdown bold go from phrase / #### answers. */
static void trim_tail(const char *s, Span *sp) {
    for (;;) {
        trim(s, sp);
        if (sp->b > sp->a && s[sp->b - 1] == '.')
            sp->b--;
        else if (sp->b >= sp->a + 2 && s[sp->b - 1] == '*' && s[sp->b - 2] == '*')
            sp->b -= 2;
        else
            return;
    }
}

static char *dup_span(const char *s, Span sp) {
    char *o = r1_xmalloc(sp.b - sp.a + 1);
    memcpy(o, s + sp.a, sp.b - sp.a);
    o[sp.b - sp.a] = 0;
    return o;
}

/* ------------------------------------------------------------------ extraction */

/* Length of "\boxed" / "\fbox" at s[i] (not followed by a letter), else 0. */
static size_t boxed_keyword(const char *s, size_t i, size_t n) {
    static const char *const kw[] = {"\\boxed", "\\fbox"};
    for (int k = 0; k < 2; k++) {
        size_t m = strlen(kw[k]);
        if (i + m <= n && !memcmp(s + i, kw[k], m) &&
            (i + m == n || !isalpha((unsigned char)s[i + m])))
            return m;
    }
    return 0;
}

/* The '}' closing the '{' at s[j], searched before limit; NONE if it does not close. */
static size_t close_brace(const char *s, size_t j, size_t limit) {
    size_t depth = 0;
    for (size_t k = j; k < limit; k++) {
        if (s[k] == '\\')
            k++;
        else if (s[k] == '{')
            depth++;
        else if (s[k] == '}' && --depth == 0)
            return k;
    }
    return NONE;
}

/* The box whose keyword ends at j. A brace that does not close before *limit cannot
 * close at all (every later unclosed box failed the same way), so it becomes the limit
 * for the boxes before it. */
static int boxed_at(const char *s, size_t j, size_t n, size_t *limit, Span *out) {
    size_t k = j;
    while (k < n && (s[k] == ' ' || s[k] == '\t')) k++;
    if (k < n && s[k] == '{') {
        size_t c = close_brace(s, k, *limit);
        if (c == NONE) {
            *limit = k;
            return 0;
        }
        *out = (Span){k + 1, c};
    } else if (k > j || (k < n && is_digit(s[k]))) {
        size_t e = k;
        while (e < n && !is_space(s[e]) && s[e] != '$') e++;
        *out = (Span){k, e};
    } else {
        return 0;
    }
    trim(s, out);
    return out->b > out->a;
}

static int find_boxed(const char *s, size_t a, size_t n, Span *out) {
    size_t limit = n;
    for (size_t i = n; i-- > a;) {
        if (s[i] != '\\') continue;
        size_t kw = boxed_keyword(s, i, n);
        if (kw && boxed_at(s, i + kw, n, &limit, out)) return 1;
    }
    return 0;
}

static int find_answer_tag(const char *s, size_t a, size_t n, Span *out) {
    size_t c = find_last(s, a, n, "</answer>", 0);
    size_t o = c == NONE ? NONE : find_last(s, a, c, "<answer>", 0);
    if (o == NONE) return 0;
    *out = (Span){o + 8, c};
    trim(s, out);
    return out->b > out->a;
}

static size_t line_end(const char *s, size_t i, size_t n) {
    while (i < n && s[i] != '\n') i++;
    return i;
}

static int find_hashes(const char *s, size_t a, size_t n, Span *out) {
    size_t h = find_last(s, a, n, "####", 0);
    if (h == NONE) return 0;
    size_t i = h + 4;
    while (i < n && (s[i] == '#' || s[i] == ' ' || s[i] == '\t')) i++;
    *out = (Span){i, line_end(s, i, n)};
    trim_tail(s, out);
    char c = out->b > out->a ? s[out->a] : 0;
    return c && (is_digit(c) || strchr("-+$.\\", c));
}

/* "$...$", "$$...$$", "\(...\)", "\[...\]" starting at s[i]: the inside. */
static int delimited(const char *s, size_t i, size_t n, Span *out) {
    static const char *const open[] = {"$$", "$", "\\(", "\\["};
    static const char *const close[] = {"$$", "$", "\\)", "\\]"};
    for (int k = 0; k < 4; k++) {
        size_t m = strlen(open[k]);
        if (i + m > n || memcmp(s + i, open[k], m)) continue;
        for (size_t e = i + m; e + strlen(close[k]) <= n; e++)
            if (!memcmp(s + e, close[k], strlen(close[k]))) {
                *out = (Span){i + m, e};
                trim(s, out);
                return out->b > out->a;
            }
        return 0;
    }
    return 0;
}

static int phrase_value(const char *s, size_t i, size_t n, Span *out) {
    for (;;) {
        if (i < n && (is_space(s[i]) || s[i] == ':' || s[i] == '*'))
            i++;
        else if (i + 3 <= n && !memcmp(s + i, "\xEF\xBC\x9A", 3)) /* full-width colon */
            i += 3;
        else
            break;
    }
    if (delimited(s, i, n, out)) return 1;
    size_t e = i;
    while (e < n && s[e] != '\n' && !(s[e] == '.' && (e + 1 == n || is_space(s[e + 1]))) &&
           !(e + 3 <= n && !memcmp(s + e, "\xE3\x80\x82", 3)))
        e++;
    *out = (Span){i, e};
    trim_tail(s, out);
    return out->b > out->a;
}

static int find_phrase(const char *s, size_t a, size_t n, Span *out) {
    static const char *const pats[] = {"answer is",
                                       "answer:", "\xE7\xAD\x94\xE6\xA1\x88\xE6\x98\xAF",
                                       "\xE7\xAD\x94\xE6\xA1\x88\xE4\xB8\xBA"};
    size_t best = NONE, end = 0;
    for (int k = 0; k < 4; k++) {
        size_t p = find_last(s, a, n, pats[k], 1);
        if (p != NONE && (best == NONE || p > best)) best = p, end = p + strlen(pats[k]);
    }
    return best != NONE && phrase_value(s, end, n, out);
}

/* Digits after a comma at s[i] up to the next non-digit: exactly three? */
static int three_digits(const char *s, size_t i, size_t n) {
    size_t k = i + 1;
    while (k < n && is_digit(s[k])) k++;
    return k - i - 1 == 3;
}

static char *number_copy(const char *s, size_t b, size_t e, int neg) {
    char *o = r1_xmalloc(e - b + 2), *p = o;
    if (neg) *p++ = '-';
    for (size_t k = b; k < e; k++)
        if (s[k] != ',') *p++ = s[k];
    *p = 0;
    return o;
}

static char *last_number(const char *s, size_t a, size_t n) {
    size_t e = n;
    while (e > a && !is_digit(s[e - 1])) e--;
    if (e == a) return NULL;
    size_t b = e;
    int dot = 0, comma = 0;
    while (b > a) {
        char c = s[b - 1];
        int after_digit = b - 1 > a && is_digit(s[b - 2]);
        if (is_digit(c))
            b--;
        else if (c == '.' && !dot && !comma && after_digit)
            b--, dot = 1;
        else if (c == ',' && after_digit && three_digits(s, b - 1, e))
            b--, comma = 1;
        else
            break;
    }
    if (!dot && !comma && b > a && s[b - 1] == '.' && (b - 1 == a || !is_digit(s[b - 2]))) b--;
    int neg = 0;
    if (b > a && s[b - 1] == '-')
        neg = b - 1 == a || !isalnum((unsigned char)s[b - 2]);
    else if (b >= a + 3 && !memcmp(s + b - 3, "\xE2\x88\x92", 3))
        neg = 1;
    return number_copy(s, b, e, neg);
}

R1AnswerSource r1_answer_extract(const char *text, size_t n, const R1ExtractOpts *o, char **out) {
    if (out) *out = NULL;
    if (!text) return R1_SRC_NONE;
    size_t t = find_last(text, 0, n, "</think>", 0), a = t == NONE ? 0 : t + 8;
    /* A think block that never closes holds only reasoning: nothing in it counts. */
    size_t open = find_last(text, 0, n, "<think>", 0);
    if (open != NONE && (t == NONE || t < open)) return R1_SRC_NONE;
    Span sp, tag;
    R1AnswerSource src = R1_SRC_NONE;
    char *val = NULL;
    /* With an <answer> block, that block is the answer: a box is looked for only
     * inside it, and text after </answer> cannot override it. */
    int has_tag = find_answer_tag(text, a, n, &tag);
    if (find_boxed(text, has_tag ? tag.a : a, has_tag ? tag.b : n, &sp))
        src = R1_SRC_BOXED;
    else if (has_tag)
        sp = tag, src = R1_SRC_ANSWER_TAG;
    else if (find_hashes(text, a, n, &sp))
        src = R1_SRC_HASHES;
    else if (o && o->phrase && find_phrase(text, a, n, &sp))
        src = R1_SRC_PHRASE;
    else if (o && o->last_number && (val = last_number(text, a, n)))
        src = R1_SRC_LAST_NUMBER;
    if (src != R1_SRC_NONE && !val) val = dup_span(text, sp);
    if (out)
        *out = val;
    else
        free(val);
    return src;
}

const char *r1_answer_source_name(R1AnswerSource s) {
    static const char *const names[] = {"none",   "boxed",  "answer_tag",
                                        "hashes", "phrase", "last_number"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

/* ------------------------------------------------------------------ cleaning */

typedef struct {
    const char *from, *to;
} Subst;

static const Subst unicode_math[] = {{"\xE2\x88\x92", "-"},
                                     {"\xE2\x80\x93", "-"},
                                     {"\xC3\x97", "\\times "},
                                     {"\xC3\xB7", "\\div "},
                                     {"\xC2\xB7", "\\cdot "},
                                     {"\xE2\x8B\x85", "\\cdot "},
                                     {"\xC2\xB0", "^\\circ "},
                                     {"\xCF\x80", "\\pi "},
                                     {"\xE2\x88\x9E", "\\infty "},
                                     {"\xE2\x88\x9A", "\\sqrt "},
                                     {"\xE2\x89\xA4", "\\le "},
                                     {"\xE2\x89\xA5", "\\ge "},
                                     {"\xE2\x89\xA0", "\\ne "},
                                     {"\xC2\xB1", "\\pm "},
                                     {"\xE2\x88\xAA", "\\cup "},
                                     {"\xE2\x88\x85", "\\emptyset "},
                                     {"\xC2\xB2", "^2"},
                                     {"\xC2\xB3", "^3"},
                                     {"\xC2\xA0", " "},
                                     {"\xE2\x80\x89", ""},
                                     {"\xE2\x80\xAF", ""},
                                     {"\xEF\xBC\x85", "%"},
                                     {"\xEF\xBC\x8C", ","},
                                     {"\xEF\xBC\x88", "("},
                                     {"\xEF\xBC\x89", ")"},
                                     {"\xEF\xBC\x9A", ":"},
                                     {"\xE3\x80\x82", "."},
                                     {NULL, NULL}};

/* Copies s[0..n) without $, \( \) \[ \] and \$, with Unicode math spelled in LaTeX.
 * The longest replacement is 7 bytes for 2, so 4n + 1 bytes are enough. */
static char *clean_answer(const char *s, size_t n, size_t *len) {
    char *o = r1_xmalloc(4 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        const Subst *u = unicode_math;
        if (s[i] == '$') {
            i++;
        } else if (i + 3 <= n && !memcmp(s + i, "{,}", 3)) { /* 1{,}234 */
            o[k++] = ',';
            i += 3;
        } else if (s[i] == '\\' && i + 2 < n && (s[i + 1] == ',' || s[i + 1] == '!') && k > 0 &&
                   (is_digit(o[k - 1]) || (o[k - 1] == ',' && k > 1 && is_digit(o[k - 2]))) &&
                   is_digit(s[i + 2])) { /* 1\,234 and 1,\!234: spacing inside a number */
            i += 2;
        } else if (s[i] == '\\' && i + 1 < n && strchr("()[]$", s[i + 1])) {
            o[k++] = ' ';
            i += 2;
        } else if (s[i] == '\\' && i + 1 < n) {
            o[k++] = s[i++];
            o[k++] = s[i++];
        } else if ((unsigned char)s[i] >= 0x80) {
            while (u->from && (i + strlen(u->from) > n || memcmp(s + i, u->from, strlen(u->from))))
                u++;
            if (u->from) {
                memcpy(o + k, u->to, strlen(u->to));
                k += strlen(u->to);
                i += strlen(u->from);
            } else {
                o[k++] = s[i++];
            }
        } else {
            o[k++] = s[i++];
        }
    }
    Span sp = {0, k};
    trim(o, &sp);
    memmove(o, o + sp.a, sp.b - sp.a);
    o[sp.b - sp.a] = 0;
    *len = sp.b - sp.a;
    return o;
}

static int name_in(const char *s, size_t len, const char *const *list) {
    for (; *list; list++)
        if (strlen(*list) == len && !memcmp(*list, s, len)) return 1;
    return 0;
}

static const char *const key_ignored[] = {
    "left", "right", "big", "Big", "bigg", "Bigg", "bigl",  "bigr",         "Bigl",      "Bigr",
    ",",    ";",     ":",   "!",   " ",    "quad", "qquad", "displaystyle", "textstyle", NULL};
static const char *const key_unwrapped[] = {"text",   "textbf",     "textit", "textrm", "textsf",
                                            "texttt", "textnormal", "mbox",   "mathrm", "mathbf",
                                            "boxed",  "fbox",       "emph",   NULL};
static const char *const key_fracs[] = {"dfrac", "tfrac", "cfrac", NULL};

typedef struct {
    char *o;
    size_t k;
    uint64_t drop; /* per brace level: does its '}' go (an unwrapped \text{) */
    int depth, unbalanced;
} Key;

static void key_brace(Key *K, char c, int drop) {
    if (c == '{') {
        if (K->depth < 64) K->drop = (K->drop << 1) | (uint64_t)drop;
        K->depth++;
        if (!drop) K->o[K->k++] = c;
        return;
    }
    if (K->depth == 0) K->unbalanced = 1;
    int dropped = K->depth > 0 && K->depth <= 64 && (K->drop & 1);
    if (K->depth > 0 && K->depth-- <= 64) K->drop >>= 1;
    if (!dropped) K->o[K->k++] = c;
}

static size_t key_command(Key *K, const char *s, size_t i, size_t n) {
    size_t a = i + 1, j = a;
    while (j < n && isalpha((unsigned char)s[j])) j++;
    if (j == a && j < n) j++;
    size_t len = j - a, nx = j;
    while (nx < n && is_space(s[nx])) nx++;
    int sized = (len == 4 && !memcmp(s + a, "left", 4)) || (len == 5 && !memcmp(s + a, "right", 5));
    if (name_in(s + a, len, key_ignored)) return (sized && j < n && s[j] == '.') ? j + 1 : j;
    if (name_in(s + a, len, key_unwrapped) && nx < n && s[nx] == '{') {
        key_brace(K, '{', 1);
        return nx + 1;
    }
    if (name_in(s + a, len, key_fracs)) a += 1, len -= 1; /* \dfrac -> \frac */
    K->o[K->k++] = '\\';
    memcpy(K->o + K->k, s + a, len);
    K->k += len;
    if (len && isalpha((unsigned char)s[a]) && nx < n && isalpha((unsigned char)s[nx]))
        K->o[K->k++] = ' ';
    return j;
}

/* "52_{8}" -> "52_8": a one-character subscript means the same with or without
 * braces (number bases in MATH answers are written both ways). */
static void unbrace_subscripts(char *k) {
    size_t o = 0;
    for (size_t i = 0; k[i];) {
        if (k[i] == '_' && k[i + 1] == '{' && k[i + 2] && k[i + 2] != '}' && k[i + 3] == '}') {
            k[o++] = '_', k[o++] = k[i + 2];
            i += 4;
        } else {
            k[o++] = k[i++];
        }
    }
    k[o] = 0;
}

/* The comparison key: no spaces, no sizing or spacing commands, \text-like wrappers
 * unwrapped (with their closing braces), \dfrac as \frac, no trailing dots. */
static char *make_key(const char *s, size_t n) {
    Key K = {r1_xmalloc(2 * n + 1), 0, 0, 0, 0};
    for (size_t i = 0; i < n;) {
        if (is_space(s[i]) || s[i] == '~') {
            i++;
        } else if (s[i] == '\\') {
            i = key_command(&K, s, i, n);
        } else if (s[i] == '{' || s[i] == '}') {
            key_brace(&K, s[i++], 0);
        } else {
            K.o[K.k++] = s[i++];
        }
    }
    while (K.k > 0 && K.o[K.k - 1] == '.') K.k--;
    K.o[K.k] = 0;
    if (K.depth != 0 || K.unbalanced) { /* unwrapping needs balanced braces: keep them all */
        K.k = 0;
        for (size_t i = 0; i < n; i++)
            if (!is_space(s[i])) K.o[K.k++] = s[i];
        K.o[K.k] = 0;
    }
    unbrace_subscripts(K.o);
    return K.o;
}

/* ------------------------------------------------------------------ quick rules */

/* A plain integer key: [+-]digits, or digits in thousands groups. Sets the digits span
 * (commas included) and the sign. */
static int plain_int(const char *k, Span *d, int *neg) {
    size_t i = 0;
    *neg = k[0] == '-';
    if (k[0] == '-' || k[0] == '+') i++;
    size_t a = i;
    while (is_digit(k[i])) i++;
    if (i == a) return 0;
    if (k[i] == ',' && i - a <= 3) {
        while (k[i] == ',' && is_digit(k[i + 1]) && is_digit(k[i + 2]) && is_digit(k[i + 3]))
            i += 4;
    }
    *d = (Span){a, i};
    return k[i] == 0;
}

/* More than 15 significant digits in a digit run (commas skipped)? */
static int big_digits(const char *k, Span d) {
    int n = 0;
    for (size_t i = d.a; i < d.b; i++)
        if (is_digit(k[i]) && (n || k[i] != '0')) n++;
    return n > 15;
}

/* Compares two digit runs (commas skipped) as integers: 1 equal, 0 not. */
static int same_digits(const char *x, Span a, int na, const char *y, Span b, int nb) {
    while (a.a < a.b && (x[a.a] == '0' || x[a.a] == ',')) a.a++;
    while (b.a < b.b && (y[b.a] == '0' || y[b.a] == ',')) b.a++;
    if (a.a == a.b || b.a == b.b) return a.a == a.b && b.a == b.b; /* zero, any sign */
    if (na != nb) return 0;
    for (;;) {
        while (a.a < a.b && x[a.a] == ',') a.a++;
        while (b.a < b.b && y[b.a] == ',') b.a++;
        if (a.a == a.b || b.a == b.b) return a.a == a.b && b.a == b.b;
        if (x[a.a++] != y[b.a++]) return 0;
    }
}

/* Multiple choice: the letter, or 0. A gold is "B", "(B)", "B)"; a prediction may
 * add text after "(B)", "B)", "B:" or "B." and may write "(b)". */
static int choice_letter(const char *k, int gold) {
    size_t n = strlen(k);
    if (n >= 3 && k[0] == '(' && isalpha((unsigned char)k[1]) && k[2] == ')') {
        if (gold && (n != 3 || !isupper((unsigned char)k[1]))) return 0;
        return toupper((unsigned char)k[1]);
    }
    if (n == 0 || !isupper((unsigned char)k[0])) return 0;
    if (n == 1) return k[0];
    if (k[1] == ')' || (!gold && (k[1] == ':' || k[1] == '.'))) return gold && n != 2 ? 0 : k[0];
    return 0;
}

/* "(B) or (C)", "B. C. D.", "B: or C": a second standalone capital letter
 * makes a multiple-choice answer a hedge. */
static int names_two_choices(const char *k) {
    int seen = 0;
    for (size_t i = 0; k[i]; i++)
        if (isupper((unsigned char)k[i]) && !isalpha((unsigned char)k[i + 1]) &&
            (i == 0 || !isalpha((unsigned char)k[i - 1])))
            seen++;
    return seen > 1;
}

/* "3,5": one comma, digits around it, not three after it - also read as 3.5. */
static int decimal_comma(const char *k, MxNum *v, int *fd) {
    const char *c = strchr(k, ',');
    size_t i = (k[0] == '-' || k[0] == '+') ? 1 : 0;
    if (!c || c == k + i || strchr(c + 1, ',') || c[1] == 0) return 0;
    for (const char *p = k + i; *p; p++)
        if (p != c && !is_digit(*p)) return 0;
    if (strlen(c + 1) == 3) return 0;
    if (strlen(k) > 19) return 0; /* 18 digits fit an int64 exactly */
    int64_t digits = 0, scale = 1;
    for (const char *p = k + i; *p; p++)
        if (p != c) digits = digits * 10 + (*p - '0');
    for (const char *p = c + 1; *p; p++) scale *= 10;
    *v = mx_div(mx_int(k[0] == '-' ? -digits : digits), mx_int(scale));
    *fd = (int)strlen(c + 1);
    return 1;
}

/* ------------------------------------------------------------------ comparison */

typedef struct {
    MxVars vars;
    double pts[NPTS][MX_MAX_VARS];
} Ctx;

typedef struct {
    const MxTree *t;
    int n, pm; /* node; for \pm: +1 / -1, 0 = not expanded */
} Ref;

enum { K_SCALAR, K_TUPLE, K_SET, K_LIST, K_UNION, K_REL };

static int kind(Ref r) {
    switch (r.t->nodes[r.n].op) {
    case MX_TUPLE:
        return K_TUPLE;
    case MX_SET:
        return K_SET;
    case MX_LIST:
        return K_LIST;
    case MX_UNION:
        return K_UNION;
    case MX_REL:
        return K_REL;
    default:
        return K_SCALAR;
    }
}

static Ref kid(Ref r, int k) {
    return (Ref){r.t, mx_kid(r.t, r.n, k), 0};
}

/* A scalar's signature: its value when it has no variables, else its values at the
 * points; fd is the fraction digits when it is a bare decimal literal. */
typedef struct {
    MxNum c;
    int cst, fd;
    double v[NPTS];
} Sig;

static void sig_of(const Ctx *C, Ref r, Sig *s) {
    const MxNode *nd = &r.t->nodes[r.n];
    if (nd->op == MX_NEG) nd = &r.t->nodes[nd->kid];
    s->fd = nd->op == MX_NUM ? nd->fd : -1;
    s->cst = !mx_has_vars(r.t, r.n);
    int pm = r.pm ? r.pm : 1;
    if (s->cst) {
        s->c = mx_eval(r.t, r.n, NULL, pm);
        return;
    }
    for (int k = 0; k < NPTS; k++) s->v[k] = mx_eval(r.t, r.n, C->pts[k], pm).d;
}

static int close_enough(double a, double b) {
    double d = fabs(a - b);
    return d <= 1e-9 || d <= R1_MATH_RTOL * fmax(fabs(a), fabs(b));
}

/* x is within half a unit of the last digit of a decimal literal with fd >= 6 digits. */
static int rounds_to(double x, double lit, int fd) {
    return fd >= 6 && fabs(x - lit) <= 0.5 * pow(10, -fd) * (1 + 1e-9);
}

static int num_equal(MxNum a, MxNum b, int fda, int fdb) {
    if (!isfinite(a.d) || !isfinite(b.d)) return a.d == b.d;
    if (a.exact && b.exact && a.p == b.p && a.q == b.q) return 1;
    if (rounds_to(a.d, b.d, fdb) || rounds_to(b.d, a.d, fda)) return 1;
    return !(a.exact && b.exact) && close_enough(a.d, b.d);
}

static int sig_equal(const Sig *a, const Sig *b) {
    if (a->cst && b->cst) return num_equal(a->c, b->c, a->fd, b->fd);
    int valid = 0;
    for (int k = 0; k < NPTS; k++) {
        double x = a->cst ? a->c.d : a->v[k], y = b->cst ? b->c.d : b->v[k];
        if (!isfinite(x) || !isfinite(y)) continue;
        if (!close_enough(x, y)) return 0;
        valid++;
    }
    return valid >= MIN_POINTS;
}

static int same(const Ctx *C, Ref g, Ref p, int depth);

/* The elements of a set / list (or a lone scalar), each \pm scalar counted twice. */
static int gather(Ref r, Ref *out, int max) {
    int n = 0, k = kind(r);
    for (int c = (k == K_SCALAR ? r.n : r.t->nodes[r.n].kid); c >= 0 && n + 2 <= max;
         c = (k == K_SCALAR ? -1 : r.t->nodes[c].next)) {
        Ref e = {r.t, c, 0};
        if (kind(e) == K_SCALAR && mx_has_pm(r.t, c)) {
            out[n++] = (Ref){r.t, c, 1};
            out[n++] = (Ref){r.t, c, -1};
        } else {
            out[n++] = e;
        }
    }
    return n;
}

static int all_scalar(const Ref *x, int n) {
    for (int i = 0; i < n; i++)
        if (kind(x[i]) != K_SCALAR) return 0;
    return 1;
}

/* Set equality of scalars through precomputed signatures: every element of each side
 * has an equal one on the other. */
static int match_scalars(const Ctx *C, const Ref *a, int na, const Ref *b, int nb) {
    Sig *sa = r1_xmalloc((size_t)(na + nb) * sizeof(Sig)), *sb = sa + na;
    char *hit = r1_xcalloc((size_t)nb, 1);
    int ok = 1;
    for (int i = 0; i < na; i++) sig_of(C, a[i], &sa[i]);
    for (int j = 0; j < nb; j++) sig_of(C, b[j], &sb[j]);
    for (int i = 0; i < na && ok; i++) {
        int found = 0;
        for (int j = 0; j < nb; j++)
            if ((!found || !hit[j]) && sig_equal(&sa[i], &sb[j])) found = hit[j] = 1;
        ok = found;
    }
    for (int j = 0; j < nb && ok; j++)
        for (int i = 0; i < na && !hit[j]; i++) hit[j] = (char)sig_equal(&sa[i], &sb[j]);
    for (int j = 0; j < nb && ok; j++) ok = hit[j];
    free(sa);
    free(hit);
    return ok;
}

static int match_any(const Ctx *C, const Ref *a, int na, const Ref *b, int nb, int depth) {
    if ((long)na * nb > 4096) return 0;
    for (int i = 0; i < na; i++) {
        int found = 0;
        for (int j = 0; j < nb && !found; j++) found = same(C, a[i], b[j], depth + 1);
        if (!found) return 0;
    }
    for (int j = 0; j < nb; j++) {
        int found = 0;
        for (int i = 0; i < na && !found; i++) found = same(C, a[i], b[j], depth + 1);
        if (!found) return 0;
    }
    return 1;
}

static int same_as_sets(const Ctx *C, Ref g, Ref p, int depth) {
    Ref *a = r1_xmalloc(4 * MX_MAX_ITEMS * sizeof(Ref)), *b = a + 2 * MX_MAX_ITEMS;
    int na = gather(g, a, 2 * MX_MAX_ITEMS), nb = gather(p, b, 2 * MX_MAX_ITEMS), ok;
    if (na == 0 || nb == 0)
        ok = na == nb;
    else if (all_scalar(a, na) && all_scalar(b, nb))
        ok = match_scalars(C, a, na, b, nb);
    else
        ok = match_any(C, a, na, b, nb, depth);
    free(a);
    return ok;
}

static int same_in_order(const Ctx *C, Ref g, Ref p, int depth) {
    int n = mx_nkids(g.t, g.n);
    if (n != mx_nkids(p.t, p.n)) return 0;
    for (int k = 0; k < n; k++)
        if (!same(C, kid(g, k), kid(p, k), depth + 1)) return 0;
    return 1;
}

static int is_paren_tuple(Ref r) {
    const MxNode *nd = &r.t->nodes[r.n];
    return nd->op == MX_TUPLE && nd->open == '(' && nd->close == ')';
}

static int same_collection(const Ctx *C, Ref g, Ref p, int depth) {
    int gk = kind(g), pk = kind(p);
    int gs = gk == K_SET || gk == K_LIST || gk == K_SCALAR,
        ps = pk == K_SET || pk == K_LIST || pk == K_SCALAR;
    if (gk == K_UNION || pk == K_UNION) return gk == pk && same_as_sets(C, g, p, depth);
    if (gs && ps) return same_as_sets(C, g, p, depth);
    if (gk == K_TUPLE && pk == K_TUPLE) {
        const MxNode *a = &g.t->nodes[g.n], *b = &p.t->nodes[p.n];
        return a->open == b->open && a->close == b->close && same_in_order(C, g, p, depth);
    }
    if ((is_paren_tuple(g) && pk == K_LIST) || (gk == K_LIST && is_paren_tuple(p)))
        return same_in_order(C, g, p, depth);
    return 0;
}

/* ---- relations */

static int all_equals(Ref r) {
    for (int c = mx_kid(r.t, r.n, 1); c >= 0; c = r.t->nodes[c].next)
        if (r.t->nodes[c].rel != '=' && r.t->nodes[c].rel != 'i') return 0;
    return 1;
}

/* "x = ... = rhs" (also x \in S): the last side, with the variable in *var; else -1. */
static int assignment(Ref r, int *var) {
    if (kind(r) != K_REL || !all_equals(r)) return -1;
    const MxNode *lhs = &r.t->nodes[mx_kid(r.t, r.n, 0)];
    if (lhs->op != MX_VAR) return -1;
    *var = lhs->var;
    return mx_kid(r.t, r.n, mx_nkids(r.t, r.n) - 1);
}

static double value_at(const Ctx *C, Ref r, int k) {
    return mx_eval(r.t, r.n, C->pts[k], 1).d;
}

/* lhs - rhs of one equation a constant non-zero multiple of the other's. */
static int same_equations(const Ctx *C, Ref g, Ref p, int depth) {
    Ref gl = kid(g, 0), gr = kid(g, mx_nkids(g.t, g.n) - 1);
    Ref pl = kid(p, 0), pr = kid(p, mx_nkids(p.t, p.n) - 1);
    if (!mx_has_vars(g.t, g.n) && !mx_has_vars(p.t, p.n)) return same(C, gr, pr, depth + 1);
    double r0 = 0;
    int valid = 0;
    for (int k = 0; k < NPTS; k++) {
        double a = value_at(C, gl, k), b = value_at(C, gr, k), c = value_at(C, pl, k),
               d = value_at(C, pr, k);
        double fg = a - b, fp = c - d;
        if (!isfinite(fg) || !isfinite(fp)) continue;
        int zg = fabs(fg) <= 1e-9 * (1 + fabs(a) + fabs(b)),
            zp = fabs(fp) <= 1e-9 * (1 + fabs(c) + fabs(d));
        if (zg || zp) {
            if (zg != zp) return 0;
            continue;
        }
        if (valid++ == 0)
            r0 = fg / fp;
        else if (!close_enough(fg / fp, r0))
            return 0;
    }
    return valid >= MIN_POINTS;
}

static int flip_rel(int r) {
    switch (r) {
    case '<':
        return '>';
    case '>':
        return '<';
    case 'l':
        return 'g';
    case 'g':
        return 'l';
    default:
        return r;
    }
}

/* a < b < c side by side, or flipped (c > b > a). */
static int same_inequalities(const Ctx *C, Ref g, Ref p, int depth) {
    int n = mx_nkids(g.t, g.n), direct = 1, flipped = 1;
    if (n != mx_nkids(p.t, p.n)) return 0;
    for (int k = 0; k < n && (direct || flipped); k++) {
        const MxNode *a = &g.t->nodes[mx_kid(g.t, g.n, k)];
        if (k > 0 && a->rel != p.t->nodes[mx_kid(p.t, p.n, k)].rel) direct = 0;
        if (k > 0 && a->rel != flip_rel(p.t->nodes[mx_kid(p.t, p.n, n - k)].rel)) flipped = 0;
        direct = direct && same(C, kid(g, k), kid(p, k), depth + 1);
        flipped = flipped && same(C, kid(g, k), kid(p, n - 1 - k), depth + 1);
    }
    return direct || flipped;
}

typedef struct {
    Ref lo, hi; /* n < 0: -infinity / +infinity */
    char open, close;
} Ivl;

static int lt_like(int r) {
    return r == '<' || r == 'l';
}
static int gt_like(int r) {
    return r == '>' || r == 'g';
}

/* A one-variable inequality as an interval: x < a, a \le x, a < x \le b, b > x > a. */
static int as_interval(Ref r, Ivl *iv) {
    int n = mx_nkids(r.t, r.n);
    Ref s[3];
    int op[3] = {0, 0, 0};
    if (n < 2 || n > 3) return 0;
    for (int k = 0; k < n; k++) s[k] = kid(r, k), op[k] = r.t->nodes[s[k].n].rel;
    if (n == 3 && gt_like(op[1]) && gt_like(op[2])) {
        Ref t = s[0];
        s[0] = s[2], s[2] = t;
        int o = op[1];
        op[1] = flip_rel(op[2]), op[2] = flip_rel(o);
    }
    Ref none = {r.t, -1, 0};
    int var0 = r.t->nodes[s[0].n].op == MX_VAR, var1 = r.t->nodes[s[1].n].op == MX_VAR;
    if (n == 3 && var1 && lt_like(op[1]) && lt_like(op[2])) {
        *iv = (Ivl){s[0], s[2], op[1] == '<' ? '(' : '[', op[2] == '<' ? ')' : ']'};
    } else if (n == 2 && (var0 || var1) && !(var0 && var1) && (lt_like(op[1]) || gt_like(op[1]))) {
        int up = var0 ? gt_like(op[1]) : lt_like(op[1]), strict = op[1] == '<' || op[1] == '>';
        Ref e = var0 ? s[1] : s[0];
        *iv =
            up ? (Ivl){e, none, strict ? '(' : '[', ')'} : (Ivl){none, e, '(', strict ? ')' : ']'};
    } else {
        return 0;
    }
    return 1;
}

static int endpoint_equal(const Ctx *C, Ref a, Ref b, double inf, int depth) {
    if (a.n >= 0) return same(C, a, b, depth + 1);
    Sig s;
    sig_of(C, b, &s);
    return s.cst && s.c.d == inf;
}

static int inequality_vs_interval(const Ctx *C, Ref rel, Ref tup, int depth) {
    Ivl iv;
    const MxNode *t = &tup.t->nodes[tup.n];
    if (t->op != MX_TUPLE || t->open == 'M' || mx_nkids(tup.t, tup.n) != 2 ||
        !as_interval(rel, &iv))
        return 0;
    return iv.open == t->open && iv.close == t->close &&
           endpoint_equal(C, iv.lo, kid(tup, 0), -INFINITY, depth) &&
           endpoint_equal(C, iv.hi, kid(tup, 1), INFINITY, depth);
}

/* "a = b = ... = z" answering a value: its last side is the answer, and every other
 * side but a lone variable must equal it ("2 \cdot 30 = 60" yes, "61 = 60" no). */
static int chain_consistent(const Ctx *C, Ref p, int depth) {
    int n = mx_nkids(p.t, p.n);
    Ref last = kid(p, n - 1);
    for (int i = 0; i + 1 < n; i++) {
        Ref side = kid(p, i);
        if (p.t->nodes[side.n].op != MX_VAR && !same(C, side, last, depth + 1)) return 0;
    }
    return 1;
}

static int same_relation(const Ctx *C, Ref g, Ref p, int depth) {
    int gr = kind(g) == K_REL, pr = kind(p) == K_REL, gv = -1, pv = -1;
    int ga = assignment(g, &gv), pa = assignment(p, &pv);
    if (gr && pr) {
        if (ga >= 0 && pa >= 0)
            return gv == pv && same(C, (Ref){g.t, ga, 0}, (Ref){p.t, pa, 0}, depth + 1);
        /* "x \in [-2, 7]" against "-2 \le x \le 7", either way round */
        if (ga >= 0 && !all_equals(p))
            return inequality_vs_interval(C, p, (Ref){g.t, ga, 0}, depth);
        if (pa >= 0 && !all_equals(g))
            return inequality_vs_interval(C, g, (Ref){p.t, pa, 0}, depth);
        if (all_equals(g) && all_equals(p)) return same_equations(C, g, p, depth);
        if (!all_equals(g) && !all_equals(p)) return same_inequalities(C, g, p, depth);
        return 0;
    }
    if (gr) {
        if (ga >= 0) return same(C, (Ref){g.t, ga, 0}, p, depth + 1);
        return inequality_vs_interval(C, g, p, depth);
    }
    if (all_equals(p))
        return chain_consistent(C, p, depth) &&
               same(C, g, kid(p, mx_nkids(p.t, p.n) - 1), depth + 1);
    return inequality_vs_interval(C, p, g, depth);
}

static int same(const Ctx *C, Ref g, Ref p, int depth) {
    if (depth > MX_MAX_DEPTH) return 0;
    int gk = kind(g), pk = kind(p);
    if (gk == K_REL || pk == K_REL) return same_relation(C, g, p, depth);
    if (gk != K_SCALAR || pk != K_SCALAR) return same_collection(C, g, p, depth);
    if ((!g.pm && mx_has_pm(g.t, g.n)) || (!p.pm && mx_has_pm(p.t, p.n)))
        return same_as_sets(C, g, p, depth);
    Sig a, b;
    sig_of(C, g, &a);
    sig_of(C, p, &b);
    return sig_equal(&a, &b);
}

/* ------------------------------------------------------------------ judging */

typedef struct {
    char *clean, *key;
    size_t len;
    MxTree t;
} Side;

static void side_init(Side *s, const char *text) {
    memset(s, 0, sizeof *s);
    s->clean = clean_answer(text, strlen(text), &s->len);
    s->key = make_key(s->clean, s->len);
}

static void side_free(Side *s) {
    free(s->clean);
    free(s->key);
    mx_tree_free(&s->t);
}

static R1Eq say(R1Eq v, char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static R1Eq say(R1Eq v, char *why, size_t len, const char *fmt, ...) {
    if (why && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return v;
}

static void make_points(Ctx *C) {
    R1Rng r;
    r1_rng_seed(&r, POINT_SEED);
    for (int k = 0; k < NPTS; k++)
        for (int v = 0; v < C->vars.n; v++) {
            double u = r1_rng_uniform(&r), w = r1_rng_uniform(&r);
            /* half the points positive (domains of sqrt and log), half of either sign */
            C->pts[k][v] = k < NPTS / 2 ? 0.25 + 2.5 * u : (w < 0.5 ? -1 : 1) * (0.3 + 3 * u);
        }
}

/* A trailing % reads either way: 50% is 50 or 0.5. */
static int same_percent(const Ctx *C, const Side *G, const Side *P) {
    Ref g = {&G->t, G->t.root, 0}, p = {&P->t, P->t.root, 0};
    if (kind(g) != K_SCALAR || kind(p) != K_SCALAR || (!G->t.pct && !P->t.pct)) return 0;
    Sig a, b;
    sig_of(C, g, &a);
    sig_of(C, p, &b);
    Sig *s = G->t.pct ? &a : &b;
    s->c = mx_div(s->c, mx_int(100));
    for (int k = 0; k < NPTS; k++) s->v[k] /= 100;
    s->fd = -1;
    return sig_equal(&a, &b);
}

static int same_decimal_comma(const Ctx *C, const Side *A, const Side *B) {
    Sig a = {0}, b;
    if (kind((Ref){&B->t, B->t.root, 0}) != K_SCALAR || !decimal_comma(A->key, &a.c, &a.fd))
        return 0;
    a.cst = 1;
    sig_of(C, (Ref){&B->t, B->t.root, 0}, &b);
    return sig_equal(&a, &b);
}

static void describe(const Side *S, char *buf, size_t len) {
    Ref r = {&S->t, S->t.root, 0};
    if (kind(r) == K_SCALAR && !mx_has_vars(r.t, r.n)) {
        mx_num_str(mx_eval(r.t, r.n, NULL, 1), buf, len);
        return;
    }
    snprintf(buf, len, "%.40s", S->key);
}

static R1Eq judge_parsed(Ctx *C, Side *G, Side *P, char *why, size_t wl) {
    char a[64], b[64];
    if (G->t.text || P->t.text) {
        int eq = G->t.text && P->t.text && !strcmp(G->t.words, P->t.words);
        return say(eq ? R1_EQ_YES : R1_EQ_NO, why, wl, "%s: words \"%.40s\" vs \"%.40s\"",
                   eq ? "equal" : "not equal", G->t.text ? G->t.words : G->key,
                   P->t.text ? P->t.words : P->key);
    }
    if (C->vars.n) make_points(C);
    Ref g = {&G->t, G->t.root, 0}, p = {&P->t, P->t.root, 0};
    int eq = same(C, g, p, 0) || same_percent(C, G, P) || same_decimal_comma(C, P, G);
    describe(G, a, sizeof a);
    describe(P, b, sizeof b);
    return say(eq ? R1_EQ_YES : R1_EQ_NO, why, wl, "%s: %s vs %s%s", eq ? "equal" : "not equal", a,
               b, C->vars.n ? " (at sample points)" : "");
}

static R1Eq judge(Side *G, Side *P, char *why, size_t wl) {
    Span dg, dp;
    int ng, np;
    if (!*G->key) return say(R1_EQ_UNDEFINED, why, wl, "undefined: the gold answer is empty");
    if (!strcmp(G->key, P->key))
        return say(R1_EQ_YES, why, wl, "equal: same text after normalisation");
    int gint = plain_int(G->key, &dg, &ng);
    if (gint && plain_int(P->key, &dp, &np)) {
        int eq = same_digits(G->key, dg, ng, P->key, dp, np);
        return say(eq ? R1_EQ_YES : R1_EQ_NO, why, wl, "%s: integers %.30s vs %.30s",
                   eq ? "equal" : "not equal", G->key, P->key);
    }
    /* Past 15 digits a double cannot tell integers apart, and the tolerance would
     * accept 1.2345678 \times 10^{19} for 12345678901234567890: a big integer gold
     * answer needs its exact digits. */
    if (gint && big_digits(G->key, dg))
        return say(R1_EQ_NO, why, wl, "not equal: %.30s needs its exact digits, not %.30s", G->key,
                   P->key);
    int gl = choice_letter(G->key, 1);
    if (gl) {
        int pl = names_two_choices(P->clean) ? 0 : choice_letter(P->key, 0);
        return say(pl == gl ? R1_EQ_YES : R1_EQ_NO, why, wl, "%s: choice %c vs %.30s",
                   pl == gl ? "equal" : "not equal", gl, P->key);
    }
    Ctx *C = r1_xcalloc(1, sizeof *C);
    R1Eq r;
    if (mx_parse(G->clean, G->len, &C->vars, &G->t) < 0)
        r = say(R1_EQ_UNDEFINED, why, wl, "undefined: gold answer not understood (%s)", G->t.err);
    else if (mx_parse(P->clean, P->len, &C->vars, &P->t) < 0)
        r = say(R1_EQ_NO, why, wl, "not equal: prediction not understood (%s)", P->t.err);
    else
        r = judge_parsed(C, G, P, why, wl);
    free(C);
    return r;
}

R1Eq r1_math_equal(const char *gold, const char *pred, char *why, size_t why_len) {
    if (why && why_len) why[0] = 0;
    if (!gold) return say(R1_EQ_UNDEFINED, why, why_len, "undefined: no gold answer");
    Side G, P;
    side_init(&G, gold);
    side_init(&P, pred ? pred : "");
    R1Eq r = judge(&G, &P, why, why_len);
    side_free(&G);
    side_free(&P);
    return r;
}

/* ------------------------------------------------------------------ countdown */

#define CD_MAX_NUMBERS 64
#define CD_MAX_LEN     4096

typedef struct {
    const char *s;
    size_t i, n;
    long used[CD_MAX_NUMBERS];
    int nused, depth;
    const char *err;
} Cd;

static void cd_space(Cd *c) {
    while (c->i < c->n && is_space(c->s[c->i])) c->i++;
}

/* The operator at the cursor among ops ("+-" or "*x"), with × ÷ \times \cdot \div; 0 if none. */
static int cd_op(Cd *c, int mul) {
    static const struct {
        const char *text;
        char op;
        int mul;
    } ops[] = {{"+", '+', 0},       {"-", '-', 0},        {"*", '*', 1},
               {"/", '/', 1},       {"\xC3\x97", '*', 1}, {"\xC3\xB7", '/', 1},
               {"\\times", '*', 1}, {"\\cdot", '*', 1},   {"\\div", '/', 1}};
    cd_space(c);
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        size_t m = strlen(ops[k].text);
        if (ops[k].mul == mul && c->i + m <= c->n && !memcmp(c->s + c->i, ops[k].text, m)) {
            c->i += m;
            return ops[k].op;
        }
    }
    return 0;
}

static MxNum cd_fail(Cd *c, const char *msg) {
    if (!c->err) c->err = msg;
    return mx_real(NAN);
}

static MxNum cd_expr(Cd *c);

static MxNum cd_number(Cd *c) {
    long v = 0;
    size_t a = c->i;
    while (c->i < c->n && is_digit(c->s[c->i])) {
        if (c->i - a >= 15) return cd_fail(c, "number too long");
        v = v * 10 + (c->s[c->i++] - '0');
    }
    if (c->i < c->n && c->s[c->i] == '.') return cd_fail(c, "decimals are not allowed");
    if (c->nused >= CD_MAX_NUMBERS) return cd_fail(c, "too many numbers");
    c->used[c->nused++] = v;
    return mx_int(v);
}

static MxNum cd_factor(Cd *c) {
    cd_space(c);
    if (c->err || c->i >= c->n) return cd_fail(c, "unexpected end");
    if (++c->depth > MX_MAX_DEPTH) return cd_fail(c, "nesting too deep");
    MxNum v;
    char ch = c->s[c->i];
    if (ch == '-') {
        c->i++;
        v = mx_neg(cd_factor(c));
    } else if (ch == '(') {
        c->i++;
        v = cd_expr(c);
        cd_space(c);
        if (c->i >= c->n || c->s[c->i] != ')') return cd_fail(c, "unbalanced parentheses");
        c->i++;
    } else if (is_digit(ch)) {
        v = cd_number(c);
    } else {
        return cd_fail(c, "unexpected character");
    }
    c->depth--;
    return v;
}

static MxNum cd_apply(Cd *c, MxNum a, int op, MxNum b) {
    if (op == '/' && b.exact && b.p == 0) return cd_fail(c, "division by zero");
    MxNum r = op == '+'   ? mx_add(a, b)
              : op == '-' ? mx_sub(a, b)
              : op == '*' ? mx_mul(a, b)
                          : mx_div(a, b);
    if (!r.exact && !c->err) return cd_fail(c, "overflow");
    return r;
}

static MxNum cd_term(Cd *c) {
    MxNum v = cd_factor(c);
    for (int op; !c->err && (op = cd_op(c, 1));) v = cd_apply(c, v, op, cd_factor(c));
    return v;
}

static MxNum cd_expr(Cd *c) {
    MxNum v = cd_term(c);
    for (int op; !c->err && (op = cd_op(c, 0));) v = cd_apply(c, v, op, cd_term(c));
    return v;
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Each given number used exactly once: sorted multisets equal. */
static int same_multiset(long *used, int nu, const long *numbers, int n) {
    if (nu != n) return 0;
    long given[CD_MAX_NUMBERS];
    memcpy(given, numbers, (size_t)n * sizeof(long));
    qsort(given, (size_t)n, sizeof(long), cmp_long);
    qsort(used, (size_t)nu, sizeof(long), cmp_long);
    return !memcmp(given, used, (size_t)n * sizeof(long));
}

/* An optional "= target" at the end. */
static int cd_rhs(Cd *c, long target) {
    cd_space(c);
    if (c->i >= c->n) return 1;
    if (c->s[c->i] != '=') return 0;
    c->i++;
    cd_space(c);
    int neg = c->i < c->n && c->s[c->i] == '-';
    c->i += (size_t)neg;
    long v = 0;
    size_t a = c->i;
    while (c->i < c->n && is_digit(c->s[c->i]) && c->i - a < 15) v = v * 10 + (c->s[c->i++] - '0');
    cd_space(c);
    return c->i > a && c->i == c->n && (neg ? -v : v) == target;
}

int r1_countdown_check(const char *equation, const long *numbers, int n, long target, char *why,
                       size_t why_len) {
    if (why && why_len) why[0] = 0;
    if (!equation || !numbers || n < 0 || n > CD_MAX_NUMBERS)
        return (int)say(0, why, why_len, "no equation or bad numbers");
    size_t len = strlen(equation);
    if (len > CD_MAX_LEN) return (int)say(0, why, why_len, "equation too long");
    Cd c = {.s = equation, .n = len};
    while (c.n > 0 && (is_space(c.s[c.n - 1]) || c.s[c.n - 1] == '$')) c.n--;
    while (c.i < c.n && (is_space(c.s[c.i]) || c.s[c.i] == '$')) c.i++;
    MxNum v = cd_expr(&c);
    if (!c.err && !cd_rhs(&c, target)) c.err = "trailing text or a wrong \"= target\"";
    if (c.err) return (int)say(0, why, why_len, "invalid equation: %s", c.err);
    if (!same_multiset(c.used, c.nused, numbers, n))
        return (int)say(0, why, why_len, "the numbers used are not exactly the given ones");
    if (!(v.exact && v.q == 1 && v.p == target)) {
        char buf[48];
        mx_num_str(v, buf, sizeof buf);
        return (int)say(0, why, why_len, "evaluates to %s, not %ld", buf, target);
    }
    return (int)say(1, why, why_len, "correct: %ld", target);
}
