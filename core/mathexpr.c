/* mathexpr.c - see mathexpr.h. Four parts: exact numbers, the lexer (LaTeX commands,
 * units, thousands separators), the parser (recursive descent with a depth limit) and
 * the evaluator. */
#include "mathexpr.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef __int128 i128;
typedef unsigned __int128 u128;

/* ------------------------------------------------------------------ numbers */

static u128 gcd128(u128 a, u128 b) {
    while (b) {
        u128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* p/q reduced with q > 0. Exact only when both halves fit in int64 (p never INT64_MIN,
 * so negation stays defined); otherwise the double is all that is kept. Callers keep
 * |p|, |q| below 2^127 (products of two int64 and sums of two such products). */
static MxNum num_frac(i128 p, i128 q) {
    MxNum r = {0, 1, 0, 0};
    if (q == 0) {
        r.d = p == 0 ? NAN : (p > 0 ? INFINITY : -INFINITY);
        return r;
    }
    if (q < 0) p = -p, q = -q;
    u128 g = gcd128(p < 0 ? -(u128)p : (u128)p, (u128)q);
    if (g > 1) p /= (i128)g, q /= (i128)g;
    r.d = (double)p / (double)q;
    if (p >= -(i128)INT64_MAX && p <= (i128)INT64_MAX && q <= (i128)INT64_MAX) {
        r.exact = 1;
        r.p = (int64_t)p;
        r.q = (int64_t)q;
    }
    return r;
}

MxNum mx_int(int64_t v) {
    return num_frac(v, 1);
}

MxNum mx_real(double d) {
    MxNum r = {0, 1, d, 0};
    return r;
}

MxNum mx_add(MxNum a, MxNum b) {
    if (a.exact && b.exact) return num_frac((i128)a.p * b.q + (i128)b.p * a.q, (i128)a.q * b.q);
    return mx_real(a.d + b.d);
}

MxNum mx_neg(MxNum a) {
    a.p = -a.p; /* |p| <= INT64_MAX, see num_frac */
    a.d = -a.d;
    return a;
}

MxNum mx_sub(MxNum a, MxNum b) {
    return mx_add(a, mx_neg(b));
}

MxNum mx_mul(MxNum a, MxNum b) {
    if (a.exact && b.exact) return num_frac((i128)a.p * b.p, (i128)a.q * b.q);
    return mx_real(a.d * b.d);
}

MxNum mx_div(MxNum a, MxNum b) {
    if (a.exact && b.exact) return num_frac((i128)a.p * b.q, (i128)a.q * b.p);
    return mx_real(a.d / b.d);
}

/* base^e for e >= 0 while |result| fits in int64; 0 on overflow. */
static int ipow64(int64_t base, int64_t e, int64_t *out) {
    i128 r = 1, b = base;
    while (e > 0) {
        if (e & 1) {
            r *= b;
            if (r > INT64_MAX || r < -INT64_MAX) return 0;
        }
        e >>= 1;
        if (e) {
            b *= b;
            if (b > INT64_MAX) return 0;
        }
    }
    *out = (int64_t)r;
    return 1;
}

/* The exact n-th root of v >= 0, or -1. */
static int64_t iroot(int64_t v, int64_t n) {
    if (n == 1 || v < 2) return v;
    int64_t r = (int64_t)llround(pow((double)v, 1.0 / (double)n));
    for (int64_t c = r > 0 ? r - 1 : 0; c <= r + 1; c++) {
        int64_t x;
        if (ipow64(c, n, &x) && x == v) return c;
    }
    return -1;
}

/* a^e for an exact a and an integer e, exact when it fits. */
static MxNum pow_int(MxNum a, int64_t e) {
    int64_t p, q, ae = e < 0 ? -e : e;
    if (e == INT64_MIN || !ipow64(a.p, ae, &p) || !ipow64(a.q, ae, &q))
        return mx_real(pow(a.d, (double)e));
    return e >= 0 ? num_frac(p, q) : num_frac(q, p);
}

/* a^(m/n) for exact a and exact m/n: exact when a is a perfect n-th power. The real
 * (negative) root is used for negative bases and odd n, as a calculator would. */
static MxNum pow_ratio(MxNum a, MxNum b) {
    int neg = a.p < 0;
    if (b.q <= 64 && (!neg || (b.q & 1))) {
        int64_t rp = iroot(neg ? -a.p : a.p, b.q), rq = iroot(a.q, b.q);
        if (rp >= 0 && rq > 0) return pow_int(num_frac(neg ? -rp : rp, rq), b.p);
    }
    if (neg && (b.q & 1)) {
        double r = pow(-a.d, b.d);
        return mx_real((b.p & 1) ? -r : r);
    }
    return mx_real(pow(a.d, b.d));
}

static MxNum mx_pow_any(MxNum a, MxNum b) {
    if (a.exact && b.exact && b.q == 1) return pow_int(a, b.p);
    if (a.exact && b.exact) return pow_ratio(a, b);
    return mx_real(pow(a.d, b.d));
}

/* A power of finite numbers that overflows is no infinity: 10^{400} and 10^{500}
 * must not compare equal (as two infinities would), so the result is NaN, which
 * compares with nothing. */
MxNum mx_pow(MxNum a, MxNum b) {
    MxNum r = mx_pow_any(a, b);
    if (isinf(r.d) && isfinite(a.d) && isfinite(b.d)) r = mx_real(NAN);
    return r;
}

void mx_num_str(MxNum a, char *buf, size_t len) {
    if (a.exact && a.q == 1)
        snprintf(buf, len, "%lld", (long long)a.p);
    else if (a.exact && a.q <= 1000000)
        snprintf(buf, len, "%lld/%lld", (long long)a.p, (long long)a.q);
    else
        snprintf(buf, len, "%.10g", a.d);
}

/* ------------------------------------------------------------------ lexer */

enum {
    TK_NUM = 1,
    TK_VAR,   /* pos/len: the name (one letter, or a Greek command without "\") */
    TK_CONST, /* sub: 'p' pi, 'e' e, 'i' infinity */
    TK_FUNC,  /* sub: MxFn */
    TK_OP,    /* sub: + - * / ^ _ ! %, 'p' \pm, 'm' \mp */
    TK_REL,   /* sub: see MxNode.rel */
    TK_OPEN,  /* sub: ( [ { (group), 's' \{, 'M' matrix, 'f' floor, 'c' ceil */
    TK_CLOSE, /* sub: ) ] } 's' 'M' 'f' 'c' */
    TK_BAR,
    TK_COMMA,
    TK_WORD, /* a word or unit: dropped next to a value, kept in text answers */
    TK_DEG,
    TK_CUP,
    TK_EMPTY,
    TK_DOT,
    TK_BAD
};

typedef struct {
    uint8_t type, sub;
    uint8_t space; /* whitespace before it */
    uint8_t isint; /* NUM: a plain digit run */
    int8_t fd;     /* NUM: fraction digits, -1 without a decimal point */
    int32_t pos, len;
    MxNum num;
} Tok;

enum { MODE_MATH, MODE_TEXT, MODE_ROMAN };

typedef struct {
    const char *s;
    size_t n;
    Tok *tok;
    int nt, cap;
    int depth; /* ( [ \{ nesting: thousands separators only outside brackets */
    int mat;   /* inside \begin{pmatrix}: & and \\ separate elements */
    int space;
    int rdepth; /* \text{...} recursion */
    const char *err;
} Lx;

static Tok *emit(Lx *L, int type, int sub, size_t pos, size_t len) {
    if (L->nt >= MX_MAX_TOKENS) {
        L->err = "too many tokens";
        return NULL;
    }
    if (L->nt == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 32;
        L->tok = r1_xrealloc(L->tok, (size_t)L->cap * sizeof(Tok));
    }
    Tok *t = &L->tok[L->nt++];
    memset(t, 0, sizeof *t);
    t->type = (uint8_t)type;
    t->sub = (uint8_t)sub;
    t->space = (uint8_t)L->space;
    t->fd = -1;
    t->pos = (int32_t)pos;
    t->len = (int32_t)len;
    L->space = 0;
    if (type == TK_OPEN && sub != '{' && sub != 'f' && sub != 'c') L->depth++;
    if (type == TK_CLOSE && sub != '}' && sub != 'f' && sub != 'c' && L->depth > 0) L->depth--;
    return t;
}

static int isdig(int c) {
    return c >= '0' && c <= '9';
}
static int isalph(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static size_t digits_end(const char *s, size_t i, size_t end) {
    while (i < end && isdig(s[i])) i++;
    return i;
}

/* "1,234,567": the digit run s[i..j) is extended over ",ddd" groups when it has 1-3
 * digits, stands outside brackets, is not itself an element of a comma list ("5,1,234")
 * and every group has exactly three digits ("1,234,5" is a list). Inside brackets
 * "(1,234)" stays a tuple. */
static size_t thousands_end(const Lx *L, size_t i, size_t j, size_t end) {
    const char *s = L->s;
    if (L->depth || j - i > 3 || s[i] == '0' || (i >= 2 && s[i - 1] == ',' && isdig(s[i - 2])))
        return j;
    size_t k = j;
    while (k + 3 < end && s[k] == ',' && isdig(s[k + 1]) && isdig(s[k + 2]) && isdig(s[k + 3]) &&
           (k + 4 >= end || !isdig(s[k + 4])))
        k += 4;
    if (k + 1 < end && s[k] == ',' && isdig(s[k + 1])) return j;
    return k;
}

/* Appends the significant digits of s[a..b) (commas skipped) to dig: at most 18 are
 * kept, the rest only counted in *dropped. */
static void collect_digits(const char *s, size_t a, size_t b, char *dig, int *nd, long *dropped) {
    for (size_t k = a; k < b; k++) {
        if (!isdig(s[k]) || (*nd == 0 && s[k] == '0')) continue;
        if (*nd < 18)
            dig[(*nd)++] = s[k];
        else
            (*dropped)++;
    }
}

/* The value of digits s[a..b) . s[fa..fb) times 10^ex: exact while it has at most 18
 * significant digits and a small scale, else a double. */
static MxNum num_from_digits(const char *s, size_t a, size_t b, size_t fa, size_t fb, long ex) {
    char dig[24];
    int nd = 0;
    long dropped = 0;
    collect_digits(s, a, b, dig, &nd, &dropped);
    collect_digits(s, fa, fb, dig, &nd, &dropped);
    dig[nd] = 0;
    long scale = ex - (long)(fb - fa) + dropped;
    if (nd == 0) return mx_int(0);
    if (!dropped && scale >= -18 && scale <= 18) {
        i128 p = strtoll(dig, NULL, 10), q = 1, *m = scale < 0 ? &q : &p;
        for (long k = 0; k < (scale < 0 ? -scale : scale); k++) *m *= 10;
        return num_frac(p, q);
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%se%ld", dig, scale);
    return mx_real(strtod(buf, NULL));
}

/* Scientific notation: e/E, an optional sign and digits. Returns the end, or k. */
static size_t exponent_end(const char *s, size_t k, size_t end, long *ex) {
    if (k >= end || (s[k] != 'e' && s[k] != 'E')) return k;
    size_t m = k + 1;
    int neg = 0;
    if (m < end && (s[m] == '+' || s[m] == '-')) neg = s[m++] == '-';
    if (m >= end || !isdig(s[m])) return k;
    long v = 0;
    for (; m < end && isdig(s[m]); m++) v = v < 1000000 ? v * 10 + (s[m] - '0') : v;
    *ex = neg ? -v : v;
    return m;
}

/* "0.1\overline{6}": the digits under the bar repeat forever. s[k] is just past the
 * decimal point or the f fraction digits, *v the value so far; returns the end of the
 * bar group with *v exact, or k. */
static size_t overline_end(const char *s, size_t k, size_t end, size_t f, MxNum *v) {
    static const char bar[] = "\\overline{";
    size_t m = sizeof bar - 1, r = k + m;
    if (k + m > end || memcmp(s + k, bar, m) || !v->exact || f > 9) return k;
    size_t re = digits_end(s, r, end);
    if (re == r || re >= end || s[re] != '}' || re - r > 9) return k;
    int64_t rep = 0, nines = 0, ten_f = 1;
    for (size_t j = r; j < re; j++) rep = rep * 10 + (s[j] - '0'), nines = nines * 10 + 9;
    while (f--) ten_f *= 10;
    *v = mx_add(*v, num_frac(rep, (i128)nines * ten_f)); /* + rep / (99..9 * 10^f) */
    return re + 1;
}

/* A repeating decimal "I.F\overline{R}" at s[i..k): its token, or 0 when there is none. */
static size_t lex_repeating(Lx *L, size_t i, size_t k, size_t end, size_t fa, size_t fb) {
    const char *s = L->s;
    size_t ko = k + (k < end && s[k] == '.' && fb == fa);
    MxNum v = num_from_digits(s, i, fa > i ? fa - 1 : fa, fa, fb, 0);
    if (fb == fa) v = num_from_digits(s, i, k, k, k, 0);
    size_t kb = overline_end(s, ko, end, fb - fa, &v);
    if (kb == ko) return 0;
    Tok *t = emit(L, TK_NUM, 0, i, kb - i);
    if (t) t->num = v;
    return t ? kb : end;
}

static size_t lex_number(Lx *L, size_t i, size_t end) {
    const char *s = L->s;
    size_t j = digits_end(s, i, end), ie = j > i ? thousands_end(L, i, j, end) : j;
    size_t fa = ie, fb = ie, k = ie;
    long ex = 0;
    if (k + 1 < end && s[k] == '.' && isdig(s[k + 1]))
        fa = k + 1, fb = k = digits_end(s, k + 1, end);
    size_t kr = lex_repeating(L, i, k, end, fa, fb);
    if (kr) return kr;
    size_t ke = exponent_end(s, k, end, &ex);
    Tok *t = emit(L, TK_NUM, 0, i, ke - i);
    if (!t) return end;
    t->num = num_from_digits(s, i, ie, fa, fb, ex);
    t->isint = ie == j && fb == fa && ke == k;
    t->fd = fb > fa ? (int8_t)(fb - fa > 100 ? 100 : fb - fa) : -1;
    return ke;
}

typedef struct {
    const char *name;
    uint8_t type, sub;
} Named;

/* Letter runs understood without a backslash ("sqrt(2)", "pi"). */
static const Named plain_funcs[] = {{"sin", TK_FUNC, MX_FN_SIN},
                                    {"cos", TK_FUNC, MX_FN_COS},
                                    {"tan", TK_FUNC, MX_FN_TAN},
                                    {"cot", TK_FUNC, MX_FN_COT},
                                    {"sec", TK_FUNC, MX_FN_SEC},
                                    {"csc", TK_FUNC, MX_FN_CSC},
                                    {"arcsin", TK_FUNC, MX_FN_ASIN},
                                    {"arccos", TK_FUNC, MX_FN_ACOS},
                                    {"arctan", TK_FUNC, MX_FN_ATAN},
                                    {"sinh", TK_FUNC, MX_FN_SINH},
                                    {"cosh", TK_FUNC, MX_FN_COSH},
                                    {"tanh", TK_FUNC, MX_FN_TANH},
                                    {"ln", TK_FUNC, MX_FN_LN},
                                    {"log", TK_FUNC, MX_FN_LOG10},
                                    {"lg", TK_FUNC, MX_FN_LOG10},
                                    {"exp", TK_FUNC, MX_FN_EXP},
                                    {"sqrt", TK_FUNC, MX_FN_SQRT},
                                    {"pi", TK_CONST, 'p'},
                                    {NULL, 0, 0}};

/* Short words that are units or glue, never a product of one-letter variables. */
static const char *const short_words[] = {
    "cm", "mm", "km", "kg",  "mg",  "ml",  "ft",  "lb",  "oz",    "hr", "yd", "mi",
    "sq", "cu", "in", "or",  "of",  "is",  "to",  "at",  "by",    "on", "as", "an",
    "am", "pm", "no", "lbs", "mph", "hrs", "min", "sec", "cents", NULL};

static const Named *find_named(const Named *tab, const char *s, size_t len) {
    for (; tab->name; tab++)
        if (strlen(tab->name) == len && !memcmp(tab->name, s, len)) return tab;
    return NULL;
}

static int is_short_word(const char *s, size_t len) {
    for (const char *const *w = short_words; *w; w++)
        if (strlen(*w) == len && !memcmp(*w, s, len)) return 1;
    return 0;
}

static void emit_letter(Lx *L, size_t i) {
    if (L->s[i] == 'e')
        emit(L, TK_CONST, 'e', i, 1);
    else
        emit(L, TK_VAR, 0, i, 1);
}

/* A letter run. One letter is a variable (e is Euler's number); in \text every run is a
 * word; in math a known function name is a function, a unit or a run of three or more
 * letters not glued to what precedes it ("5 apples", "Monday") is a word, and any other
 * run is a product of one-letter variables ("2xy"). */
static size_t lex_letters(Lx *L, size_t i, size_t end, int mode) {
    const char *s = L->s;
    size_t j = i;
    while (j < end && isalph(s[j])) j++;
    size_t len = j - i;
    const Named *f;
    int glued =
        i > 0 && (isalnum((unsigned char)s[i - 1]) || (s[i - 1] && strchr(")}_^", s[i - 1])));
    if (mode == MODE_TEXT || (len > 1 && mode == MODE_ROMAN))
        emit(L, TK_WORD, 0, i, len);
    else if (len == 1)
        emit_letter(L, i);
    else if ((f = find_named(plain_funcs, s + i, len)))
        emit(L, f->type, f->sub, i, len);
    else if (is_short_word(s + i, len) || (len >= 3 && !glued))
        emit(L, TK_WORD, 0, i, len);
    else
        for (size_t k = i; k < j; k++) emit_letter(L, k);
    return j;
}

enum { K_IGNORE, K_LEFTRIGHT, K_SKIPARG, K_TEXT, K_ROMAN, K_TOK, K_BEGIN, K_END, K_ROWSEP };

typedef struct {
    const char *name;
    uint8_t kind, type, sub;
} Cmd;

static const Cmd commands[] = {{",", K_IGNORE, 0, 0},
                               {";", K_IGNORE, 0, 0},
                               {":", K_IGNORE, 0, 0},
                               {"!", K_IGNORE, 0, 0},
                               {" ", K_IGNORE, 0, 0},
                               {"$", K_IGNORE, 0, 0},
                               {"&", K_IGNORE, 0, 0},
                               {"quad", K_IGNORE, 0, 0},
                               {"qquad", K_IGNORE, 0, 0},
                               {"displaystyle", K_IGNORE, 0, 0},
                               {"textstyle", K_IGNORE, 0, 0},
                               {"limits", K_IGNORE, 0, 0},
                               {"big", K_IGNORE, 0, 0},
                               {"Big", K_IGNORE, 0, 0},
                               {"bigg", K_IGNORE, 0, 0},
                               {"Bigg", K_IGNORE, 0, 0},
                               {"bigl", K_IGNORE, 0, 0},
                               {"bigr", K_IGNORE, 0, 0},
                               {"Bigl", K_IGNORE, 0, 0},
                               {"Bigr", K_IGNORE, 0, 0},
                               {"biggl", K_IGNORE, 0, 0},
                               {"biggr", K_IGNORE, 0, 0},
                               {"boxed", K_IGNORE, 0, 0},
                               {"fbox", K_IGNORE, 0, 0},
                               {"mathbf", K_IGNORE, 0, 0},
                               {"mathit", K_IGNORE, 0, 0},
                               {"bm", K_IGNORE, 0, 0},
                               {"boldsymbol", K_IGNORE, 0, 0},
                               {"left", K_LEFTRIGHT, 0, 0},
                               {"right", K_LEFTRIGHT, 0, 0},
                               {"hspace", K_SKIPARG, 0, 0},
                               {"vspace", K_SKIPARG, 0, 0},
                               {"phantom", K_SKIPARG, 0, 0},
                               {"label", K_SKIPARG, 0, 0},
                               {"text", K_TEXT, 0, 0},
                               {"textbf", K_TEXT, 0, 0},
                               {"textit", K_TEXT, 0, 0},
                               {"textrm", K_TEXT, 0, 0},
                               {"textsf", K_TEXT, 0, 0},
                               {"texttt", K_TEXT, 0, 0},
                               {"textnormal", K_TEXT, 0, 0},
                               {"mbox", K_TEXT, 0, 0},
                               {"emph", K_TEXT, 0, 0},
                               {"mathbb", K_TEXT, 0, 0},
                               {"mathrm", K_ROMAN, 0, 0},
                               {"operatorname", K_ROMAN, 0, 0},
                               {"begin", K_BEGIN, 0, 0},
                               {"end", K_END, 0, 0},
                               {"\\", K_ROWSEP, 0, 0},
                               {"cdot", K_TOK, TK_OP, '*'},
                               {"times", K_TOK, TK_OP, '*'},
                               {"ast", K_TOK, TK_OP, '*'},
                               {"div", K_TOK, TK_OP, '/'},
                               {"pm", K_TOK, TK_OP, 'p'},
                               {"mp", K_TOK, TK_OP, 'm'},
                               {"%", K_TOK, TK_OP, '%'},
                               {"le", K_TOK, TK_REL, 'l'},
                               {"leq", K_TOK, TK_REL, 'l'},
                               {"leqslant", K_TOK, TK_REL, 'l'},
                               {"ge", K_TOK, TK_REL, 'g'},
                               {"geq", K_TOK, TK_REL, 'g'},
                               {"geqslant", K_TOK, TK_REL, 'g'},
                               {"ne", K_TOK, TK_REL, 'n'},
                               {"neq", K_TOK, TK_REL, 'n'},
                               {"lt", K_TOK, TK_REL, '<'},
                               {"gt", K_TOK, TK_REL, '>'},
                               {"in", K_TOK, TK_REL, 'i'},
                               {"approx", K_TOK, TK_REL, '='},
                               {"{", K_TOK, TK_OPEN, 's'},
                               {"}", K_TOK, TK_CLOSE, 's'},
                               {"lbrace", K_TOK, TK_OPEN, 's'},
                               {"rbrace", K_TOK, TK_CLOSE, 's'},
                               {"langle", K_TOK, TK_OPEN, '('},
                               {"rangle", K_TOK, TK_CLOSE, ')'},
                               {"lfloor", K_TOK, TK_OPEN, 'f'},
                               {"rfloor", K_TOK, TK_CLOSE, 'f'},
                               {"lceil", K_TOK, TK_OPEN, 'c'},
                               {"rceil", K_TOK, TK_CLOSE, 'c'},
                               {"vert", K_TOK, TK_BAR, 0},
                               {"lvert", K_TOK, TK_BAR, 0},
                               {"rvert", K_TOK, TK_BAR, 0},
                               {"circ", K_TOK, TK_DEG, 0},
                               {"degree", K_TOK, TK_DEG, 0},
                               {"infty", K_TOK, TK_CONST, 'i'},
                               {"pi", K_TOK, TK_CONST, 'p'},
                               {"cup", K_TOK, TK_CUP, 0},
                               {"emptyset", K_TOK, TK_EMPTY, 0},
                               {"varnothing", K_TOK, TK_EMPTY, 0},
                               {"frac", K_TOK, TK_FUNC, MX_FN_FRAC},
                               {"dfrac", K_TOK, TK_FUNC, MX_FN_FRAC},
                               {"tfrac", K_TOK, TK_FUNC, MX_FN_FRAC},
                               {"cfrac", K_TOK, TK_FUNC, MX_FN_FRAC},
                               {"sqrt", K_TOK, TK_FUNC, MX_FN_SQRT},
                               {"binom", K_TOK, TK_FUNC, MX_FN_BINOM},
                               {"dbinom", K_TOK, TK_FUNC, MX_FN_BINOM},
                               {"tbinom", K_TOK, TK_FUNC, MX_FN_BINOM},
                               {"sin", K_TOK, TK_FUNC, MX_FN_SIN},
                               {"cos", K_TOK, TK_FUNC, MX_FN_COS},
                               {"tan", K_TOK, TK_FUNC, MX_FN_TAN},
                               {"cot", K_TOK, TK_FUNC, MX_FN_COT},
                               {"sec", K_TOK, TK_FUNC, MX_FN_SEC},
                               {"csc", K_TOK, TK_FUNC, MX_FN_CSC},
                               {"arcsin", K_TOK, TK_FUNC, MX_FN_ASIN},
                               {"arccos", K_TOK, TK_FUNC, MX_FN_ACOS},
                               {"arctan", K_TOK, TK_FUNC, MX_FN_ATAN},
                               {"sinh", K_TOK, TK_FUNC, MX_FN_SINH},
                               {"cosh", K_TOK, TK_FUNC, MX_FN_COSH},
                               {"tanh", K_TOK, TK_FUNC, MX_FN_TANH},
                               {"ln", K_TOK, TK_FUNC, MX_FN_LN},
                               {"log", K_TOK, TK_FUNC, MX_FN_LOG10},
                               {"lg", K_TOK, TK_FUNC, MX_FN_LOG10},
                               {"exp", K_TOK, TK_FUNC, MX_FN_EXP},
                               {NULL, 0, 0, 0}};

static const char *const greek[] = {
    "alpha",    "beta",    "gamma", "delta",  "epsilon", "varepsilon", "zeta",  "eta",   "theta",
    "vartheta", "iota",    "kappa", "lambda", "mu",      "nu",         "xi",    "rho",   "sigma",
    "tau",      "upsilon", "phi",   "varphi", "chi",     "psi",        "omega", "Gamma", "Delta",
    "Theta",    "Lambda",  "Xi",    "Pi",     "Sigma",   "Phi",        "Psi",   "Omega", NULL};

static const Cmd *find_cmd(const char *s, size_t len) {
    for (const Cmd *c = commands; c->name; c++)
        if (strlen(c->name) == len && !memcmp(c->name, s, len)) return c;
    return NULL;
}

static int is_greek(const char *s, size_t len) {
    for (const char *const *g = greek; *g; g++)
        if (strlen(*g) == len && !memcmp(*g, s, len)) return 1;
    return 0;
}

static size_t skip_spaces(const char *s, size_t i, size_t end) {
    while (i < end && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* s[i] == '{': the index of its matching '}' (escaped braces skipped), or end. */
static size_t match_brace(const char *s, size_t i, size_t end) {
    size_t depth = 0;
    for (; i < end; i++) {
        if (s[i] == '\\') {
            i++;
        } else if (s[i] == '{') {
            depth++;
        } else if (s[i] == '}' && --depth == 0) {
            return i;
        }
    }
    return end;
}

static size_t lex_span(Lx *L, size_t i, size_t end, int mode);

/* \text{...} and friends: the argument is lexed again in text (or roman) mode. */
static size_t lex_text_arg(Lx *L, size_t i, size_t end, int mode) {
    i = skip_spaces(L->s, i, end);
    if (i >= end || L->s[i] != '{') {
        L->err = "\\text without {argument}";
        return end;
    }
    size_t close = match_brace(L->s, i, end);
    if (close >= end) {
        L->err = "unbalanced braces";
        return end;
    }
    if (++L->rdepth > MX_MAX_DEPTH) {
        L->err = "nesting too deep";
        return end;
    }
    lex_span(L, i + 1, close, mode);
    L->rdepth--;
    return close + 1;
}

/* \begin{pmatrix} / \end{pmatrix}: matrices become tuples; other environments
 * (aligned, cases, ...) are transparent. */
static size_t lex_env(Lx *L, size_t i, size_t end, int begin) {
    const char *s = L->s;
    i = skip_spaces(s, i, end);
    if (i >= end || s[i] != '{') return i;
    size_t close = match_brace(s, i, end);
    if (close >= end) {
        L->err = "unbalanced braces";
        return end;
    }
    const char *nm = s + i + 1;
    size_t len = close - i - 1;
    int matrix =
        (len >= 6 && !memcmp(nm + len - 6, "matrix", 6)) || (len == 5 && !memcmp(nm, "array", 5));
    i = close + 1;
    if (!matrix) return i;
    emit(L, begin ? TK_OPEN : TK_CLOSE, 'M', i, 0);
    L->mat += begin ? 1 : (L->mat > 0 ? -1 : 0);
    size_t j = skip_spaces(s, i, end);
    if (begin && len == 5 && j < end && s[j] == '{') i = match_brace(s, j, end) + 1; /* {cc} */
    return i < end ? i : end;
}

static size_t lex_command(Lx *L, size_t i, size_t end, int mode) {
    const char *s = L->s;
    size_t a = i + 1, j = a;
    while (j < end && isalph(s[j])) j++;
    if (j == a && j < end) j++; /* one non-letter: \{ \, \% */
    const Cmd *c = find_cmd(s + a, j - a);
    if (!c) {
        if (is_greek(s + a, j - a))
            emit(L, TK_VAR, 0, a, j - a);
        else
            emit(L, TK_BAD, 0, i, j - i);
        return j;
    }
    switch (c->kind) {
    case K_LEFTRIGHT:
        return (j < end && s[j] == '.') ? j + 1 : j;
    case K_SKIPARG: {
        size_t k = skip_spaces(s, j, end),
               close = k < end && s[k] == '{' ? match_brace(s, k, end) : j;
        if (close >= end) L->err = "unbalanced braces";
        return close >= end ? end : (close == j ? j : close + 1);
    }
    case K_TEXT:
        return lex_text_arg(L, j, end, MODE_TEXT);
    case K_ROMAN:
        return lex_text_arg(L, j, end, mode == MODE_TEXT ? MODE_TEXT : MODE_ROMAN);
    case K_BEGIN:
    case K_END:
        return lex_env(L, j, end, c->kind == K_BEGIN);
    case K_ROWSEP:
        if (L->mat) emit(L, TK_COMMA, ';', i, 2);
        return j;
    case K_TOK:
        emit(L, c->type, c->sub, i, j - i);
        return j;
    default:
        return j;
    }
}

static const char single_ops[] = "+-*/^_!%";

static size_t lex_char(Lx *L, size_t i, size_t end) {
    const char *s = L->s;
    char c = s[i];
    if (c == '<' || c == '>') {
        int eq = i + 1 < end && s[i + 1] == '=';
        emit(L, TK_REL, eq ? (c == '<' ? 'l' : 'g') : c, i, 1 + (size_t)eq);
        return i + 1 + (size_t)eq;
    }
    if (c == '!' && i + 1 < end && s[i + 1] == '=') {
        emit(L, TK_REL, 'n', i, 2);
        return i + 2;
    }
    if (c && strchr(single_ops, c))
        emit(L, TK_OP, c, i, 1);
    else if (c == '=')
        emit(L, TK_REL, '=', i, 1);
    else if (c == '(' || c == '[' || c == '{')
        emit(L, TK_OPEN, c, i, 1);
    else if (c == ')' || c == ']' || c == '}')
        emit(L, TK_CLOSE, c, i, 1);
    else if (c == ',' || c == ';')
        emit(L, TK_COMMA, c, i, 1);
    else if (c == '|')
        emit(L, TK_BAR, 0, i, 1);
    else if (c == '&') {
        if (L->mat) emit(L, TK_COMMA, ',', i, 1);
    } else if (c == '.')
        emit(L, TK_DOT, 0, i, 1);
    else
        emit(L, TK_BAD, 0, i, 1);
    return i + 1;
}

static size_t lex_span(Lx *L, size_t i, size_t end, int mode) {
    const char *s = L->s;
    while (i < end && !L->err) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '~') {
            L->space = 1;
            i++;
        } else if (isdig(c) || (c == '.' && i + 1 < end && isdig(s[i + 1]))) {
            i = lex_number(L, i, end);
        } else if (isalph(c)) {
            i = lex_letters(L, i, end, mode);
        } else if (c == '\\') {
            i = lex_command(L, i, end, mode);
        } else {
            i = lex_char(L, i, end);
        }
    }
    return i;
}

/* ------------------------------------------------------------------ token clean-up */

static int tok_is(const Tok *t, int type, int sub) {
    return t->type == type && (sub < 0 || t->sub == sub);
}

/* Degrees are dropped: "30^\circ", "30^{\circ}", "30\circ" all read 30. */
static int drop_degrees(Tok *t, int n) {
    int o = 0;
    for (int i = 0; i < n; i++) {
        if (tok_is(&t[i], TK_OP, '^') && i + 1 < n && t[i + 1].type == TK_DEG) {
            i++;
        } else if (tok_is(&t[i], TK_OP, '^') && i + 3 < n && tok_is(&t[i + 1], TK_OPEN, '{') &&
                   t[i + 2].type == TK_DEG && tok_is(&t[i + 3], TK_CLOSE, '}')) {
            i += 3;
        } else if (t[i].type != TK_DEG) {
            t[o++] = t[i];
        }
    }
    return o;
}

/* After a dropped unit: its exponent ("cm^2", "\text{m}^{3}"). Returns the next index. */
static int skip_unit_power(const Tok *t, int n, int i) {
    if (i + 1 >= n || !tok_is(&t[i], TK_OP, '^')) return i;
    if (t[i + 1].type == TK_NUM) return i + 2;
    if (!tok_is(&t[i + 1], TK_OPEN, '{')) return i;
    for (int k = i + 2; k < n; k++) {
        if (tok_is(&t[k], TK_CLOSE, '}')) return k + 1;
        if (t[k].type != TK_NUM) return i;
    }
    return i;
}

static int word_is(const char *s, const Tok *t, const char *w) {
    size_t len = strlen(w);
    if ((size_t)t->len != len) return 0;
    for (size_t k = 0; k < len; k++)
        if (tolower((unsigned char)s[t->pos + k]) != w[k]) return 0;
    return 1;
}

/* Words next to a value are units or prose ("5 apples", "18\text{ dollars}") and go;
 * "and" / "or" between values separate elements; a word before "(" is left in place
 * (an unknown function, a parse error). */
/* Words that change what the number next to them means ("not 60", "60 thousand",
 * "at least 60"): dropping them as units would turn a wrong or hedged answer into
 * a right one, so an answer holding one is not understood at all. */
static int meaning_word(const char *s, const Tok *t) {
    static const char *const words[] = {
        "not",      "no",        "than",     "less",          "more",    "least",    "most",
        "fewer",    "greater",   "thousand", "thousands",     "million", "millions", "billion",
        "billions", "trillion",  "hundred",  "hundreds",      "dozen",   "dozens",   "half",
        "twice",    "thrice",    "double",   "triple",        "squared", "cubed",    "except",
        "wrong",    "incorrect", "false",    "approximately", "approx",  "about",    "around",
        "nearly",   "almost",    "over",     "under",         "below",   "above",    "between",
        "plus",     "minus",     "times"};
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (word_is(s, t, words[k])) return 1;
    return 0;
}

static int drop_words(const char *s, Tok *t, int n) {
    int o = 0;
    for (int i = 0; i < n; i++) {
        if (t[i].type != TK_WORD || (i + 1 < n && tok_is(&t[i + 1], TK_OPEN, '('))) {
            t[o++] = t[i];
            continue;
        }
        if (meaning_word(s, &t[i])) return 0;
        if ((word_is(s, &t[i], "and") || word_is(s, &t[i], "or")) && o > 0 && i + 1 < n) {
            t[i].type = TK_COMMA;
            t[o++] = t[i];
            continue;
        }
        i = skip_unit_power(t, n, i + 1) - 1;
    }
    return o;
}

static int is_text_only(const Tok *t, int n) {
    int words = 0;
    for (int i = 0; i < n; i++) {
        if (t[i].type == TK_WORD)
            words++;
        else if (t[i].type != TK_COMMA && t[i].type != TK_DOT && !tok_is(&t[i], TK_OPEN, '(') &&
                 !tok_is(&t[i], TK_CLOSE, ')') && !tok_is(&t[i], TK_OPEN, '{') &&
                 !tok_is(&t[i], TK_CLOSE, '}'))
            return 0;
    }
    return words > 0;
}

/* Text answers keep their words, lower-cased, one space apart. */
static void keep_words(const char *s, const Tok *t, int n, MxTree *T) {
    size_t len = 1;
    for (int i = 0; i < n; i++) len += (size_t)t[i].len + 1;
    char *w = r1_xmalloc(len), *p = w;
    for (int i = 0; i < n; i++) {
        if (t[i].type != TK_WORD) continue;
        if (p > w) *p++ = ' ';
        for (int k = 0; k < t[i].len; k++) *p++ = (char)tolower((unsigned char)s[t[i].pos + k]);
    }
    *p = 0;
    T->words = w;
    T->text = 1;
}

static int value_end(const Tok *t) {
    return t->type == TK_NUM || t->type == TK_VAR || t->type == TK_CONST || t->type == TK_CLOSE ||
           t->type == TK_BAR || tok_is(t, TK_OP, '!');
}

/* Trailing dots and commas go; a trailing % sets the percent flag; a leading "=" goes. */
static int trim_ends(Tok *t, int n, MxTree *T) {
    while (n > 0 && (t[n - 1].type == TK_DOT || t[n - 1].type == TK_COMMA)) n--;
    if (n > 1 && tok_is(&t[n - 1], TK_OP, '%') && value_end(&t[n - 2])) {
        T->pct = 1;
        n--;
    }
    if (n > 1 && tok_is(&t[0], TK_REL, '=')) memmove(t, t + 1, (size_t)--n * sizeof *t);
    return n;
}

/* ------------------------------------------------------------------ parser */

typedef struct {
    const char *s;
    Tok *tok;
    int nt, i;
    MxTree *t;
    MxVars *vars;
    int depth, abs_depth;
    const char *err;
} Ps;

static Tok *peek(Ps *P) {
    return P->i < P->nt ? &P->tok[P->i] : NULL;
}

static int at(Ps *P, int type, int sub) {
    Tok *k = peek(P);
    return k && tok_is(k, type, sub);
}

static int fail(Ps *P, const char *msg) {
    if (!P->err) P->err = msg;
    return -1;
}

static int new_node(Ps *P, int op) {
    MxTree *t = P->t;
    if (t->n >= t->cap) return fail(P, "expression too large");
    MxNode *nd = &t->nodes[t->n];
    memset(nd, 0, sizeof *nd);
    nd->op = (uint8_t)op;
    nd->kid = nd->next = -1;
    nd->fd = -1;
    return t->n++;
}

static MxNode *N(Ps *P, int i) {
    return &P->t->nodes[i];
}

/* A node with kids a (and b). */
static int node2(Ps *P, int op, int a, int b) {
    if (a < 0 || P->err) return -1;
    int r = new_node(P, op);
    if (r < 0) return -1;
    N(P, r)->kid = a;
    N(P, a)->next = b;
    return r;
}

/* A number node; plain: written as a bare digit run (mixed numbers need those). */
static int num_node(Ps *P, MxNum v, int fd, int plain) {
    int r = new_node(P, MX_NUM);
    if (r >= 0) N(P, r)->num = v, N(P, r)->fd = (int8_t)fd, N(P, r)->plain = (uint8_t)plain;
    return r;
}

static int func_node(Ps *P, int fn, int a, int b) {
    int r = node2(P, MX_FUNC, a, b);
    if (r >= 0) N(P, r)->fn = (uint8_t)fn;
    return r;
}

/* Appends kid to parent's list; *last tracks the tail. */
static void append(Ps *P, int parent, int *last, int kid) {
    if (*last < 0)
        N(P, parent)->kid = kid;
    else
        N(P, *last)->next = kid;
    N(P, kid)->next = -1;
    *last = kid;
}

static int parse_union(Ps *P);
static int parse_sum(Ps *P);
static int parse_unary(Ps *P);
static int parse_power(Ps *P);
static int parse_atom(Ps *P);
static int parse_group(Ps *P);

static int enter(Ps *P) {
    return ++P->depth > MX_MAX_DEPTH ? fail(P, "nesting too deep") : 0;
}

/* item (, item)*: returns the count and the first item (linked through next). */
static int parse_items(Ps *P, int *first) {
    int n = 0, last = -1;
    *first = -1;
    for (;;) {
        int it = parse_union(P);
        if (it < 0) return -1;
        if (last < 0)
            *first = it;
        else
            N(P, last)->next = it;
        last = it;
        if (++n > MX_MAX_ITEMS) return fail(P, "too many elements");
        if (!at(P, TK_COMMA, -1)) return n;
        P->i++;
    }
}

static int parse_union(Ps *P) {
    int a = parse_sum(P);
    if (a < 0 || (!at(P, TK_REL, -1) && !at(P, TK_CUP, -1))) return a;
    int op = at(P, TK_CUP, -1) ? MX_UNION : MX_REL, r = new_node(P, op), last = -1;
    if (r < 0) return -1;
    append(P, r, &last, a);
    while (at(P, op == MX_UNION ? TK_CUP : TK_REL, -1)) {
        int rel = peek(P)->sub;
        P->i++;
        int b = parse_sum(P);
        if (b < 0) return -1;
        append(P, r, &last, b);
        N(P, b)->rel = (uint8_t)rel;
    }
    if (at(P, TK_REL, -1) || at(P, TK_CUP, -1)) return fail(P, "mixed relations and unions");
    return r;
}

static int sum_sign(const Tok *k) {
    if (!k || k->type != TK_OP) return -1;
    switch (k->sub) {
    case '+':
        return 0;
    case '-':
        return 1;
    case 'p':
        return 2;
    case 'm':
        return 3;
    default:
        return -1;
    }
}

static int parse_term(Ps *P);

static int parse_sum(Ps *P) {
    int a = parse_term(P);
    if (a < 0 || sum_sign(peek(P)) < 0) return a;
    int r = new_node(P, MX_SUM), last = -1;
    if (r < 0) return -1;
    append(P, r, &last, a);
    for (int sg; (sg = sum_sign(peek(P))) >= 0;) {
        P->i++;
        int b = parse_term(P);
        if (b < 0) return -1;
        append(P, r, &last, b);
        N(P, b)->sg = (uint8_t)sg;
    }
    return r;
}

static int starts_atom(Ps *P, const Tok *k) {
    switch (k->type) {
    case TK_NUM:
    case TK_VAR:
    case TK_CONST:
    case TK_FUNC:
    case TK_OPEN:
        return 1;
    case TK_BAR:
        return P->abs_depth == 0;
    default:
        return 0;
    }
}

typedef struct {
    int node, implicit, space, div;
} Factor;

/* An integer literal node, possibly negated: its value, sign in *neg, or 0. */
static int int_literal(Ps *P, int i, int *neg, int *lit) {
    *neg = 0;
    if (N(P, i)->op == MX_NEG) *neg = 1, i = N(P, i)->kid;
    MxNode *nd = N(P, i);
    *lit = i;
    return nd->op == MX_NUM && nd->plain;
}

static int proper_frac(Ps *P, int num, int den) {
    MxNode *a = N(P, num), *b = N(P, den);
    return a->op == MX_NUM && b->op == MX_NUM && a->plain && b->plain && a->num.p > 0 &&
           a->num.p < b->num.p;
}

/* Mixed numbers: "2\frac{1}{2}" (an integer directly followed by a proper \frac of two
 * integers) and "2 1/2" (integer, space, proper integer fraction) are 2 + 1/2, but only
 * when that is the whole term; "2\frac{x}{2}" and "2 \cdot 1/2" stay products. */
static int mixed_number(Ps *P, int prod, const Factor *f, int nf) {
    int neg, lit;
    if (!int_literal(P, f[0].node, &neg, &lit)) return -1;
    int frac = -1;
    if (nf == 2 && f[1].implicit && N(P, f[1].node)->fn == MX_FN_FRAC) {
        int a = N(P, f[1].node)->kid;
        if (proper_frac(P, a, N(P, a)->next)) frac = f[1].node;
    } else if (nf == 3 && f[1].implicit && f[1].space && f[2].div &&
               proper_frac(P, f[1].node, f[2].node)) {
        N(P, prod)->kid = f[1].node;
        frac = prod;
    }
    if (frac < 0) return -1;
    int sum = new_node(P, MX_SUM), last = -1;
    if (sum < 0) return -2;
    append(P, sum, &last, lit);
    append(P, sum, &last, frac);
    return neg ? node2(P, MX_NEG, sum, -1) : sum;
}

/* Factors joined by * / or juxtaposition. Two bare numbers side by side ("2 3", "2^3 4")
 * are refused unless they make a mixed number: TeX would print them as one number. */
static int parse_term(Ps *P) {
    int a = parse_unary(P), prod = -1, last = -1, nf = 1, num_num = 0;
    if (a < 0) return -1;
    Factor f[3] = {{a, 0, 0, 0}};
    for (;;) {
        Tok *k = peek(P);
        Factor x = {-1, 0, 0, 0};
        if (k && k->type == TK_OP && (k->sub == '*' || k->sub == '/')) {
            x.div = k->sub == '/';
            P->i++;
            x.node = parse_unary(P);
        } else if (k && starts_atom(P, k)) {
            x.implicit = 1;
            x.space = k->space;
            num_num |= k->type == TK_NUM && P->tok[P->i - 1].type == TK_NUM;
            x.node = parse_power(P);
        } else {
            break;
        }
        if (x.node < 0) return -1;
        if (prod < 0) {
            if ((prod = new_node(P, MX_PROD)) < 0) return -1;
            append(P, prod, &last, a);
        }
        append(P, prod, &last, x.node);
        N(P, x.node)->sg = (uint8_t)x.div;
        if (nf < 3) f[nf] = x;
        nf++;
    }
    if (prod < 0) return a;
    int m = mixed_number(P, prod, f, nf);
    if (m == -1 && num_num) return fail(P, "two numbers side by side");
    return m == -1 ? prod : m;
}

static int parse_unary(Ps *P) {
    int r = -1, sg = sum_sign(peek(P));
    if (sg < 0) return parse_power(P);
    if (enter(P) < 0) return -1;
    if (sg == 1) {
        P->i++;
        r = node2(P, MX_NEG, parse_unary(P), -1);
    } else if (sg == 0) {
        P->i++;
        r = parse_unary(P);
    } else {
        P->i++;
        int a = parse_unary(P);
        r = a < 0 ? -1 : node2(P, MX_SUM, a, -1);
        if (r >= 0) N(P, a)->sg = (uint8_t)sg;
    }
    P->depth--;
    return r;
}

/* The exponent after ^: a {group}, a whole number ("2^10" is 1024, as people mean it),
 * a signed exponent, or one atom; "a^b^c" is a^(b^c). */
static int parse_exponent(Ps *P) {
    if (enter(P) < 0) return -1;
    Tok *k = peek(P);
    int e;
    if (!k) return fail(P, "missing exponent");
    if (k->type == TK_NUM) {
        P->i++;
        e = num_node(P, k->num, k->fd, k->isint && k->num.exact);
    } else if (tok_is(k, TK_OP, '-') || tok_is(k, TK_OP, '+')) {
        P->i++;
        e = parse_exponent(P);
        if (k->sub == '-') e = node2(P, MX_NEG, e, -1);
    } else {
        e = parse_atom(P);
    }
    if (e >= 0 && at(P, TK_OP, '^')) {
        P->i++;
        e = node2(P, MX_POW, e, parse_exponent(P));
    }
    P->depth--;
    return e;
}

static int parse_power(Ps *P) {
    int b = parse_atom(P);
    while (b >= 0 && (at(P, TK_OP, '!') || at(P, TK_OP, '%'))) {
        int fn = peek(P)->sub == '!' ? MX_FN_FACT : MX_FN_PCT;
        P->i++;
        b = func_node(P, fn, b, -1);
    }
    if (b < 0 || !at(P, TK_OP, '^')) return b;
    P->i++;
    return node2(P, MX_POW, b, parse_exponent(P));
}

static int lookup_var(Ps *P, const char *name) {
    MxVars *v = P->vars;
    for (int k = 0; k < v->n; k++)
        if (!strcmp(v->name[k], name)) return k;
    if (v->n >= MX_MAX_VARS) return fail(P, "too many variables");
    snprintf(v->name[v->n], MX_NAME_LEN, "%s", name);
    return v->n++;
}

/* Appends the source text of tokens [a, b) to name (spaces dropped). */
static int name_add(Ps *P, char *name, size_t *len, int a, int b) {
    for (int k = a; k < b; k++) {
        const Tok *t = &P->tok[k];
        if (*len + (size_t)t->len + 1 >= MX_NAME_LEN) return fail(P, "variable name too long");
        memcpy(name + *len, P->s + t->pos, (size_t)t->len);
        *len += (size_t)t->len;
    }
    name[*len] = 0;
    return 0;
}

/* The subscript of a variable: a {group} (its text, spaces dropped) or one token. */
static int parse_subscript(Ps *P, char *name, size_t *len) {
    if (*len + 2 >= MX_NAME_LEN) return fail(P, "variable name too long");
    name[(*len)++] = '_';
    if (at(P, TK_NUM, -1) || at(P, TK_VAR, -1) || at(P, TK_CONST, -1)) {
        P->i++;
        return name_add(P, name, len, P->i - 1, P->i);
    }
    if (!at(P, TK_OPEN, '{')) return fail(P, "bad subscript");
    int open = P->i, b, d = 0;
    for (b = open; b < P->nt; b++) {
        d += tok_is(&P->tok[b], TK_OPEN, '{') - tok_is(&P->tok[b], TK_CLOSE, '}');
        if (d == 0) break;
    }
    if (b >= P->nt) return fail(P, "unbalanced subscript");
    P->i = b + 1;
    return name_add(P, name, len, open + 1, b);
}

/* x, \alpha, x_1, x_{12}, a_{n+1}: the subscript's text is part of the name. */
static int parse_var(Ps *P) {
    char name[MX_NAME_LEN];
    size_t len = 0;
    if (name_add(P, name, &len, P->i, P->i + 1) < 0) return -1;
    P->i++;
    if (at(P, TK_OP, '_')) {
        P->i++;
        if (parse_subscript(P, name, &len) < 0) return -1;
    }
    int v = lookup_var(P, name), r = v < 0 ? -1 : new_node(P, MX_VAR);
    if (r >= 0) N(P, r)->var = (int16_t)v;
    return r;
}

/* One argument of \frac, \sqrt, \binom, \log_: a {group}, or a single token - and a
 * single digit of a longer number, as TeX reads "\frac12". */
static int parse_arg(Ps *P) {
    Tok *k = peek(P);
    if (!k) return fail(P, "missing argument");
    if (k->type == TK_NUM && k->isint && k->len > 1) {
        int r = num_node(P, mx_int(P->s[k->pos] - '0'), -1, 1);
        k->pos++;
        k->len--;
        k->space = 0;
        k->num = num_from_digits(P->s, (size_t)k->pos, (size_t)(k->pos + k->len), 0, 0, 0);
        return r;
    }
    if (k->type == TK_OPEN && k->sub == '[') return fail(P, "bad argument");
    return parse_atom(P);
}

static int parse_frac(Ps *P) {
    int a = parse_arg(P);
    int b = a < 0 ? -1 : parse_arg(P);
    int r = node2(P, MX_PROD, a, b);
    if (r >= 0) N(P, b)->sg = 1, N(P, r)->fn = MX_FN_FRAC;
    return r;
}

static int parse_sqrt(Ps *P) {
    int idx = -1;
    if (at(P, TK_OPEN, '[')) {
        P->i++;
        idx = parse_sum(P);
        if (idx < 0 || !at(P, TK_CLOSE, ']')) return fail(P, "bad \\sqrt[n]");
        P->i++;
    }
    int a = parse_arg(P);
    return idx < 0 ? func_node(P, MX_FN_SQRT, a, -1) : func_node(P, MX_FN_ROOT, a, idx);
}

/* The argument of \sin, \log, ...: a bracketed group, or a run of plain factors
 * ("\sin 2x" is sin(2x), "\sin x \cos x" stops at \cos). */
static int simple_factor(const Tok *k) {
    return k && (k->type == TK_NUM || k->type == TK_VAR || k->type == TK_CONST);
}

static int parse_func_arg(Ps *P) {
    Tok *k = peek(P);
    if (k && (k->type == TK_OPEN || k->type == TK_FUNC)) return parse_atom(P);
    if (!simple_factor(k)) return fail(P, "function without argument");
    int f = parse_power(P), last = -1;
    if (f < 0 || !simple_factor(peek(P))) return f;
    int r = new_node(P, MX_PROD);
    if (r < 0) return -1;
    append(P, r, &last, f);
    while (simple_factor(peek(P))) {
        if ((f = parse_power(P)) < 0) return -1;
        append(P, r, &last, f);
    }
    return r;
}

static int is_minus_one(Ps *P, int e) {
    return e >= 0 && N(P, e)->op == MX_NEG && N(P, N(P, e)->kid)->op == MX_NUM &&
           N(P, N(P, e)->kid)->num.exact && N(P, N(P, e)->kid)->num.p == 1 &&
           N(P, N(P, e)->kid)->num.q == 1;
}

/* \sin^2 x, \sin^{-1} x (arcsin), \log_2 8, \ln(x). */
static int parse_named_func(Ps *P, int fn) {
    int pw = -1, base = -1;
    for (int k = 0; k < 2; k++) {
        if (at(P, TK_OP, '^') && pw < 0) {
            P->i++;
            if ((pw = parse_exponent(P)) < 0) return -1;
        } else if (at(P, TK_OP, '_') && base < 0 && (fn == MX_FN_LOG10 || fn == MX_FN_LN)) {
            P->i++;
            if ((base = parse_arg(P)) < 0) return -1;
        }
    }
    if (is_minus_one(P, pw) && fn >= MX_FN_SIN && fn <= MX_FN_TAN) {
        fn += MX_FN_ASIN - MX_FN_SIN;
        pw = -1;
    }
    int a = parse_func_arg(P);
    int r = base >= 0 ? func_node(P, MX_FN_LOGB, a, base) : func_node(P, fn, a, -1);
    return pw >= 0 ? node2(P, MX_POW, r, pw) : r;
}

static int parse_func(Ps *P) {
    int fn = peek(P)->sub;
    P->i++;
    if (enter(P) < 0) return -1;
    int r;
    if (fn == MX_FN_FRAC) {
        r = parse_frac(P);
    } else if (fn == MX_FN_SQRT) {
        r = parse_sqrt(P);
    } else if (fn == MX_FN_BINOM) {
        int a = parse_arg(P);
        r = func_node(P, MX_FN_BINOM, a, a < 0 ? -1 : parse_arg(P));
    } else {
        r = parse_named_func(P, fn);
    }
    P->depth--;
    return r;
}

static int parse_abs(Ps *P) {
    P->i++;
    if (enter(P) < 0) return -1;
    P->abs_depth++;
    int e = parse_sum(P);
    P->abs_depth--;
    P->depth--;
    if (e < 0 || !at(P, TK_BAR, -1)) return fail(P, "unbalanced |");
    P->i++;
    return func_node(P, MX_FN_ABS, e, -1);
}

static int parse_atom(Ps *P) {
    Tok *k = peek(P);
    if (!k) return fail(P, "unexpected end");
    switch (k->type) {
    case TK_NUM:
        P->i++;
        return num_node(P, k->num, k->fd, k->isint && k->num.exact);
    case TK_VAR:
        return parse_var(P);
    case TK_CONST:
        P->i++;
        return num_node(P, mx_real(k->sub == 'p' ? M_PI : k->sub == 'e' ? M_E : INFINITY), -1, 0);
    case TK_FUNC:
        return parse_func(P);
    case TK_OPEN:
        return parse_group(P);
    case TK_BAR:
        return parse_abs(P);
    case TK_EMPTY:
        P->i++;
        return new_node(P, MX_SET);
    case TK_WORD:
        return fail(P, "unexpected word");
    case TK_BAD:
        return fail(P, "unknown symbol or command");
    default:
        return fail(P, "unexpected symbol");
    }
}

/* Builds a collection node over items already linked from first. */
static int collection(Ps *P, int op, int first, char open, char close) {
    int r = new_node(P, op);
    if (r < 0) return -1;
    N(P, r)->kid = first;
    N(P, r)->open = open;
    N(P, r)->close = close;
    return r;
}

static int close_of(int open) {
    switch (open) {
    case '(':
        return ')';
    case '[':
        return ']';
    case '{':
        return '}';
    default:
        return open; /* s M f c close with the same letter */
    }
}

/* ( [ { \{ matrix \lfloor \lceil: one item in ( ) [ ] { } is just grouping; two or more
 * make a tuple (or interval: "[1, 2)" keeps both brackets); \{ \} is always a set. */
static int parse_bracketed(Ps *P, int open) {
    int first = -1, n = 0;
    if (!(open == 's' && at(P, TK_CLOSE, 's')) && (n = parse_items(P, &first)) < 0) return -1;
    Tok *k = peek(P);
    int interval = (open == '(' || open == '[') && n >= 2;
    if (!k || k->type != TK_CLOSE ||
        (k->sub != close_of(open) && !(interval && (k->sub == ')' || k->sub == ']'))))
        return fail(P, "unbalanced brackets");
    P->i++;
    if (open == 's') return collection(P, MX_SET, first, '{', '}');
    if (open == 'M') return collection(P, MX_TUPLE, first, 'M', 'M');
    if (open == 'f' || open == 'c') {
        if (n != 1) return fail(P, "bad floor/ceiling");
        return func_node(P, open == 'f' ? MX_FN_FLOOR : MX_FN_CEIL, first, -1);
    }
    if (n == 1) return first;
    if (open == '{') return collection(P, MX_LIST, first, 0, 0);
    return collection(P, MX_TUPLE, first, (char)open, (char)k->sub);
}

static int parse_group(Ps *P) {
    int open = peek(P)->sub;
    P->i++;
    if (enter(P) < 0) return -1;
    int saved = P->abs_depth;
    P->abs_depth = 0;
    int r = parse_bracketed(P, open);
    P->abs_depth = saved;
    P->depth--;
    return r;
}

/* Arithmetic takes scalars only; a union joins tuples and sets. */
static int validate(Ps *P) {
    for (int i = 0; i < P->t->n; i++) {
        MxNode *nd = N(P, i);
        int arith = nd->op >= MX_SUM && nd->op <= MX_FUNC;
        for (int k = nd->kid; k >= 0 && (arith || nd->op == MX_UNION); k = N(P, k)->next) {
            int kop = N(P, k)->op;
            if (arith && !mx_is_scalar(P->t, k)) return fail(P, "arithmetic on a tuple or set");
            if (nd->op == MX_UNION && kop != MX_TUPLE && kop != MX_SET)
                return fail(P, "union of non-sets");
        }
    }
    return 0;
}

static int parse_tokens(Ps *P) {
    MxTree *t = P->t;
    t->cap = 4 * P->nt + 16;
    t->nodes = r1_xmalloc((size_t)t->cap * sizeof(MxNode));
    int first, n = parse_items(P, &first);
    if (n < 0) return -1;
    if (P->i < P->nt) return fail(P, "unexpected symbol");
    t->root = n == 1 ? first : collection(P, MX_LIST, first, 0, 0);
    if (t->root < 0) return -1;
    return validate(P);
}

/* Letters, spaces and sentence punctuation only, with a word of three or more letters,
 * or one short word: prose ("No solution", "I don't know", "No"), read as words even
 * without \text. */
static int prose_only(const char *s, size_t n) {
    char low[4] = {0};
    if (n == 2 && isalph(s[0]) && isalph(s[1])) { /* "No" */
        low[0] = (char)tolower((unsigned char)s[0]), low[1] = (char)tolower((unsigned char)s[1]);
        return is_short_word(low, 2);
    }
    size_t run = 0, longest = 0;
    for (size_t i = 0; i < n; i++) {
        if (isalph(s[i])) {
            if (++run > longest) longest = run;
            continue;
        }
        run = 0;
        if (!strchr(" ,.'!?", s[i]) || !s[i]) return 0;
    }
    return longest >= 3;
}

int mx_parse(const char *s, size_t n, MxVars *vars, MxTree *t) {
    memset(t, 0, sizeof *t);
    t->root = -1;
    Lx L = {.s = s, .n = n};
    lex_span(&L, 0, n, prose_only(s, n) ? MODE_TEXT : MODE_MATH);
    int nt = L.err ? 0 : drop_degrees(L.tok, L.nt), rc = -1;
    if (L.err) {
        snprintf(t->err, sizeof t->err, "%s", L.err);
    } else if (is_text_only(L.tok, nt)) {
        keep_words(s, L.tok, nt, t);
        rc = 0;
    } else if ((nt = trim_ends(L.tok, drop_words(s, L.tok, nt), t)) == 0) {
        snprintf(t->err, sizeof t->err, "empty");
    } else {
        Ps P = {.s = s, .tok = L.tok, .nt = nt, .t = t, .vars = vars};
        rc = parse_tokens(&P) < 0 ? -1 : 0;
        if (rc) snprintf(t->err, sizeof t->err, "%s", P.err ? P.err : "parse error");
    }
    free(L.tok);
    return rc;
}

void mx_tree_free(MxTree *t) {
    free(t->nodes);
    free(t->words);
    t->nodes = NULL;
    t->words = NULL;
}

/* ------------------------------------------------------------------ evaluation */

int mx_kid(const MxTree *t, int node, int k) {
    int c = t->nodes[node].kid;
    while (c >= 0 && k-- > 0) c = t->nodes[c].next;
    return c;
}

int mx_nkids(const MxTree *t, int node) {
    int n = 0;
    for (int c = t->nodes[node].kid; c >= 0; c = t->nodes[c].next) n++;
    return n;
}

int mx_is_scalar(const MxTree *t, int node) {
    return t->nodes[node].op <= MX_FUNC;
}

/* Subtrees are at most a few times MX_MAX_DEPTH deep (sums and products are n-ary),
 * so these walks recurse safely. */
int mx_has_vars(const MxTree *t, int node) {
    const MxNode *nd = &t->nodes[node];
    if (nd->op == MX_VAR) return 1;
    for (int c = nd->kid; c >= 0; c = t->nodes[c].next)
        if (mx_has_vars(t, c)) return 1;
    return 0;
}

int mx_has_pm(const MxTree *t, int node) {
    const MxNode *nd = &t->nodes[node];
    for (int c = nd->kid; c >= 0; c = t->nodes[c].next)
        if ((nd->op == MX_SUM && t->nodes[c].sg >= 2) || mx_has_pm(t, c)) return 1;
    return 0;
}

static MxNum eval_sum(const MxTree *t, const MxNode *nd, const double *vals, int pm) {
    MxNum acc = mx_int(0);
    for (int c = nd->kid; c >= 0; c = t->nodes[c].next) {
        MxNum v = mx_eval(t, c, vals, pm);
        int sg = t->nodes[c].sg, minus = sg == 1 || (sg == 2 && pm < 0) || (sg == 3 && pm >= 0);
        acc = minus ? mx_sub(acc, v) : mx_add(acc, v);
    }
    return acc;
}

static MxNum eval_prod(const MxTree *t, const MxNode *nd, const double *vals, int pm) {
    MxNum acc = mx_int(1);
    for (int c = nd->kid; c >= 0; c = t->nodes[c].next) {
        MxNum v = mx_eval(t, c, vals, pm);
        acc = t->nodes[c].sg ? mx_div(acc, v) : mx_mul(acc, v);
    }
    return acc;
}

static MxNum fact(MxNum a) {
    if (a.exact && a.q == 1 && a.p >= 0 && a.p <= 20) {
        int64_t r = 1;
        for (int64_t k = 2; k <= a.p; k++) r *= k;
        return mx_int(r);
    }
    return mx_real(tgamma(a.d + 1));
}

static MxNum binom(MxNum n, MxNum k) {
    if (n.exact && k.exact && n.q == 1 && k.q == 1 && n.p >= 0 && k.p >= 0 && k.p <= n.p) {
        i128 r = 1;
        int64_t kk = k.p < n.p - k.p ? k.p : n.p - k.p;
        for (int64_t j = 1; j <= kk && r <= INT64_MAX; j++) r = r * (n.p - kk + j) / j;
        if (r <= INT64_MAX) return mx_int((int64_t)r);
    }
    return mx_real(tgamma(n.d + 1) / (tgamma(k.d + 1) * tgamma(n.d - k.d + 1)));
}

static MxNum floor_ceil(MxNum a, int ceil_) {
    if (!a.exact) return mx_real(ceil_ ? ceil(a.d) : floor(a.d));
    int64_t f = a.p / a.q - (a.p % a.q != 0 && a.p < 0);
    return mx_int(f + (ceil_ && a.p % a.q != 0));
}

static double trig(int fn, double x) {
    switch (fn) {
    case MX_FN_SIN:
        return sin(x);
    case MX_FN_COS:
        return cos(x);
    case MX_FN_TAN:
        return tan(x);
    case MX_FN_COT:
        return 1 / tan(x);
    case MX_FN_SEC:
        return 1 / cos(x);
    case MX_FN_CSC:
        return 1 / sin(x);
    case MX_FN_ASIN:
        return asin(x);
    case MX_FN_ACOS:
        return acos(x);
    case MX_FN_ATAN:
        return atan(x);
    case MX_FN_SINH:
        return sinh(x);
    case MX_FN_COSH:
        return cosh(x);
    case MX_FN_TANH:
        return tanh(x);
    case MX_FN_LN:
        return log(x);
    case MX_FN_LOG10:
        return log10(x);
    default:
        return exp(x);
    }
}

static MxNum eval_func(const MxTree *t, const MxNode *nd, const double *vals, int pm) {
    MxNum a = mx_eval(t, nd->kid, vals, pm), b = mx_int(0);
    if (t->nodes[nd->kid].next >= 0) b = mx_eval(t, t->nodes[nd->kid].next, vals, pm);
    switch (nd->fn) {
    case MX_FN_SQRT:
        return mx_pow(a, num_frac(1, 2));
    case MX_FN_ROOT:
        return mx_pow(a, mx_div(mx_int(1), b));
    case MX_FN_LOGB:
        return mx_real(log(a.d) / log(b.d));
    case MX_FN_ABS:
        return a.d < 0 ? mx_neg(a) : a;
    case MX_FN_FLOOR:
    case MX_FN_CEIL:
        return floor_ceil(a, nd->fn == MX_FN_CEIL);
    case MX_FN_FACT:
        return fact(a);
    case MX_FN_BINOM:
        return binom(a, b);
    case MX_FN_PCT:
        return mx_div(a, mx_int(100));
    default:
        return mx_real(trig(nd->fn, a.d));
    }
}

MxNum mx_eval(const MxTree *t, int node, const double *vals, int pm) {
    const MxNode *nd = &t->nodes[node];
    switch (nd->op) {
    case MX_NUM:
        return nd->num;
    case MX_VAR:
        return mx_real(vals ? vals[nd->var] : NAN);
    case MX_SUM:
        return eval_sum(t, nd, vals, pm);
    case MX_PROD:
        return eval_prod(t, nd, vals, pm);
    case MX_POW:
        return mx_pow(mx_eval(t, nd->kid, vals, pm), mx_eval(t, t->nodes[nd->kid].next, vals, pm));
    case MX_NEG:
        return mx_neg(mx_eval(t, nd->kid, vals, pm));
    case MX_FUNC:
        return eval_func(t, nd, vals, pm);
    default:
        return mx_real(NAN);
    }
}
