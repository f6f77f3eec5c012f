/* svg.c - see svg.h. Coordinates are written with one decimal: enough for a 560 px
 * chart, and the page stays small. */
#include "svg.h"

#include <math.h>
#include <string.h>

#include "html.h"

const char *const svg_palette[SVG_PALETTE_N] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                "#9467bd", "#8c564b", "#e377c2", "#17becf"};

enum { W = 560, H = 300, TOP = 34, BOTTOM = 42, LEFT = 60, RIGHT = 12, MARKERS_UPTO = 40 };

typedef struct {
    double x0, x1, y0, y1; /* the plot area in pixels: x0 < x1, y0 (top) < y1 */
} Box;

typedef struct {
    double lo, hi, step; /* n ticks: lo, lo + step, ..., hi */
    int n;
} Axis;

/* Finite and far from overflow, so that ranges, paddings and scales stay finite. */
static int usable(double v) {
    return isfinite(v) && fabs(v) < 1e300;
}

/* ---- scales -------------------------------------------------------------------------------- */

/* A range without width (one point, a constant series) is padded, so the scale never
 * divides by zero; so is one too narrow for a double to divide. Whole numbers (steps)
 * get one more on each side, values 10% of themselves, zeros the range 0 to 1. */
static void widen(double *lo, double *hi, int whole) {
    if (*hi - *lo > 1e-300 * fmax(1, fabs(*lo))) return;
    if (!whole && *lo == 0) { /* all zero (a clip fraction, often): 0 to 1, no negatives */
        *hi = 1;
        return;
    }
    double pad = whole ? 1 : fabs(*lo) > 1e-300 ? fabs(*lo) * 0.1 : 1;
    *lo -= pad, *hi += pad;
}

/* Ticks at 1, 2 or 5 times a power of ten, about five intervals, covering [lo, hi]. */
static Axis axis_make(double lo, double hi, int whole) {
    widen(&lo, &hi, whole);
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double step = (f <= 1.000001 ? 1 : f <= 2.000001 ? 2 : f <= 5.000001 ? 5 : 10) * mag;
    if (whole && step < 1) step = 1;
    Axis a = {floor(lo / step) * step, ceil(hi / step) * step, step, 0};
    double k = (a.hi - a.lo) / step;
    if (!(k >= 1 && k <= 20)) return (Axis){lo, hi, hi - lo, 2}; /* rounding went wrong */
    a.n = (int)lround(k) + 1;
    return a;
}

/* v on the axis, in pixels from p0 (the axis' lo) to p1 (its hi); hi > lo always. */
static double scale(const Axis *a, double v, double p0, double p1) {
    return p0 + (v - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

static void tick_label(char *buf, size_t n, double v, double step) {
    snprintf(buf, n, "%.6g", fabs(v) < step * 1e-6 ? 0.0 : v); /* no "-1.1e-17" for 0 */
}

/* ---- pieces -------------------------------------------------------------------------------- */

static void text(FILE *f, double x, double y, const char *anchor, const char *attrs,
                 const char *s) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>", x, y, anchor, attrs);
    html_text(f, s);
    fputs("</text>\n", f);
}

static void open_svg(FILE *f, const char *title) {
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\" "
            "fill=\"#333\" role=\"img\">\n<title>",
            W, H, W, H);
    html_text(f, title);
    fprintf(f, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", W, H);
    text(f, W / 2.0, 20, "middle", " font-size=\"14\" font-weight=\"bold\" fill=\"#222\"", title);
}

static void line(FILE *f, double x1, double y1, double x2, double y2, const char *color) {
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", x1, y1,
            x2, y2, color);
}

static void no_data(FILE *f, Box b) {
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#ddd\"/>\n",
            b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
    text(f, (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2, "middle", " font-size=\"14\" fill=\"#888\"",
         "no data");
}

/* Grid lines and labels of the y axis, and the axis line. */
static void y_axis(FILE *f, const Axis *a, Box b) {
    char buf[32];
    for (int i = 0; i < a->n; i++) {
        double v = a->lo + i * a->step, y = scale(a, v, b.y1, b.y0);
        line(f, b.x0, y, b.x1, y, "#e6e6e6");
        tick_label(buf, sizeof buf, v, a->step);
        text(f, b.x0 - 6, y + 4, "end", "", buf);
    }
    line(f, b.x0, b.y0, b.x0, b.y1, "#999");
}

static void x_axis(FILE *f, const Axis *a, Box b, const char *label) {
    char buf[32];
    for (int i = 0; i < a->n; i++) {
        double v = a->lo + i * a->step, x = scale(a, v, b.x0, b.x1);
        line(f, x, b.y1, x, b.y1 + 4, "#999");
        tick_label(buf, sizeof buf, v, a->step);
        text(f, x, b.y1 + 16, "middle", "", buf);
    }
    line(f, b.x0, b.y1, b.x1, b.y1, "#999");
    if (label) text(f, (b.x0 + b.x1) / 2, H - 8, "middle", " fill=\"#555\"", label);
}

static int imax(int a, int b) {
    return a > b ? a : b;
}

/* Characters (not bytes) of a UTF-8 string. */
static int chars(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Legend width for names of up to max_chars characters (about 6.2 px each at 11 px),
 * capped so a long name cannot squeeze the plot away; 0 without names. */
static double legend_width(int max_chars) {
    return max_chars ? fmin(24 + 6.2 * max_chars, 180) : 0;
}

static void legend_item(FILE *f, int i, double x, const char *name, int empty) {
    double y = TOP + 4 + 17 * i;
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x, y,
            svg_palette[i % SVG_PALETTE_N]);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"%s>", x + 17, y + 10, empty ? " fill=\"#999\"" : "");
    html_text(f, name);
    fputs(empty ? " (no data)</text>\n" : "</text>\n", f);
}

/* ---- line charts --------------------------------------------------------------------------- */

static int point_ok(const SvgSeries *s, int i) {
    return i >= 0 && i < s->n && usable(s->x[i]) && usable(s->y[i]);
}

static int points(const SvgSeries *s) {
    int n = 0;
    for (int i = 0; i < s->n; i++) n += point_ok(s, i);
    return n;
}

/* The extent of every usable point; 0 when there is none. */
static int extent(const SvgLineChart *c, double *x0, double *x1, double *y0, double *y1) {
    int any = 0;
    *x0 = *y0 = INFINITY, *x1 = *y1 = -INFINITY;
    for (int k = 0; k < c->n_series; k++)
        for (int i = 0; i < c->series[k].n; i++) {
            const SvgSeries *s = &c->series[k];
            if (!point_ok(s, i)) continue;
            *x0 = fmin(*x0, s->x[i]), *x1 = fmax(*x1, s->x[i]);
            *y0 = fmin(*y0, s->y[i]), *y1 = fmax(*y1, s->y[i]);
            any = 1;
        }
    return any;
}

/* One polyline per run of usable points; markers on every point of a short series and
 * on isolated points of a long one (a path of one point draws nothing). */
static void draw_series(FILE *f, const SvgSeries *s, const char *color, const Axis *ax,
                        const Axis *ay, Box b) {
    int n = points(s), pen = 0;
    if (n == 0) return;
    fprintf(f,
            "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" d=\"",
            color);
    for (int i = 0; i < s->n; i++) {
        if (!point_ok(s, i)) {
            pen = 0;
            continue;
        }
        fprintf(f, "%c%.1f %.1f", pen ? 'L' : 'M', scale(ax, s->x[i], b.x0, b.x1),
                scale(ay, s->y[i], b.y1, b.y0));
        pen = 1;
    }
    fputs("\"/>\n", f);
    for (int i = 0; i < s->n; i++)
        if (point_ok(s, i) && (n <= MARKERS_UPTO || (!point_ok(s, i - 1) && !point_ok(s, i + 1))))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                    scale(ax, s->x[i], b.x0, b.x1), scale(ay, s->y[i], b.y1, b.y0), color);
}

void svg_line_chart(FILE *f, const SvgLineChart *c) {
    int longest = 0;
    for (int k = 0; k < c->n_series; k++)
        longest = imax(longest, chars(c->series[k].name) + (points(&c->series[k]) ? 0 : 10));
    Box b = {LEFT, W - RIGHT - legend_width(longest), TOP, H - BOTTOM};
    double x0, x1, y0, y1;
    open_svg(f, c->title);
    if (!extent(c, &x0, &x1, &y0, &y1)) {
        no_data(f, b);
    } else {
        Axis ax = axis_make(x0, x1, c->x_whole), ay = axis_make(y0, y1, 0);
        y_axis(f, &ay, b);
        x_axis(f, &ax, b, c->xlabel);
        for (int k = 0; k < c->n_series; k++)
            draw_series(f, &c->series[k], svg_palette[k % SVG_PALETTE_N], &ax, &ay, b);
    }
    for (int k = 0; k < c->n_series; k++)
        legend_item(f, k, b.x1 + 12, c->series[k].name, points(&c->series[k]) == 0);
    fputs("</svg>\n", f);
}

/* ---- grouped bar charts -------------------------------------------------------------------- */

/* The y range: from 0 (or below) to ymax_atleast (or above); 0 when no value is usable. */
static int bar_extent(const SvgBarChart *c, double *lo, double *hi) {
    int any = 0;
    *lo = 0, *hi = usable(c->ymax_atleast) ? fmax(0, c->ymax_atleast) : 0;
    for (int i = 0; i < c->n_groups * c->n_bars; i++)
        if (usable(c->v[i])) *lo = fmin(*lo, c->v[i]), *hi = fmax(*hi, c->v[i]), any = 1;
    return any;
}

/* One bar from the zero line to v, labelled with its value when it is wide enough. */
static void bar(FILE *f, double v, double x, double w, double base, int k, const Axis *ay, Box b) {
    if (!usable(v)) {
        text(f, x + w / 2, base - 4, "middle", " font-size=\"9\" fill=\"#999\"", "n/a");
        return;
    }
    double y = scale(ay, v, b.y1, b.y0), top = fmin(y, base);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x + 1,
            top, fmax(w - 2, 1), fmax(fabs(y - base), 1), svg_palette[k % SVG_PALETTE_N]);
    if (w < 22) return;
    char buf[32];
    snprintf(buf, sizeof buf, "%.3g", v);
    text(f, x + w / 2, top - 3, "middle", " font-size=\"10\"", buf);
}

static void draw_bars(FILE *f, const SvgBarChart *c, const Axis *ay, Box b) {
    double gw = (b.x1 - b.x0) / c->n_groups, bw = gw * 0.8 / c->n_bars;
    double base = scale(ay, 0, b.y1, b.y0);
    for (int g = 0; g < c->n_groups; g++) {
        double x = b.x0 + g * gw + gw * 0.1;
        for (int k = 0; k < c->n_bars; k++)
            bar(f, c->v[g * c->n_bars + k], x + k * bw, bw, base, k, ay, b);
        /* many groups: labels on two staggered rows, so neighbours do not overlap */
        double dy = c->n_groups > 5 && g % 2 ? 13 : 0;
        text(f, b.x0 + (g + 0.5) * gw, b.y1 + 15 + dy, "middle", " font-size=\"10\"", c->groups[g]);
    }
    line(f, b.x0, base, b.x1, base, "#999");
}

void svg_bar_chart(FILE *f, const SvgBarChart *c) {
    int longest = 0;
    for (int k = 0; k < c->n_bars; k++) longest = imax(longest, chars(c->bars[k]));
    Box b = {LEFT, W - RIGHT - legend_width(longest), TOP, H - BOTTOM};
    double lo, hi;
    open_svg(f, c->title);
    if (c->n_groups <= 0 || c->n_bars <= 0 || !bar_extent(c, &lo, &hi)) {
        no_data(f, b);
    } else {
        Axis ay = axis_make(lo, hi, 0);
        y_axis(f, &ay, b);
        draw_bars(f, c, &ay, b);
    }
    for (int k = 0; k < c->n_bars; k++) legend_item(f, k, b.x1 + 12, c->bars[k], 0);
    fputs("</svg>\n", f);
}
