/* svg.h - the report's charts: small inline SVG line and grouped-bar charts.
 *
 * Contract:
 *   - Each call writes one self-contained <svg> element (560 x 300 px, white background,
 *     its colours in attributes, so it renders without the page's style sheet): a title,
 *     y grid lines with tick labels, x tick labels, and a legend at the right.
 *   - Series i (bar i of each group) is drawn in svg_palette[i % SVG_PALETTE_N], a fixed
 *     palette, so a colour means the same thing on every page and tests can look for it.
 *   - Values that are NaN or infinite are skipped: in a line they leave a gap (a NULL
 *     metric is undefined, not zero). A chart with no finite value says "no data"; one
 *     point, or a constant series, gets a padded range instead of a division by zero.
 *   - All text (titles, series and group names) is escaped (html.h). */
#ifndef R1_REPORT_SVG_H
#define R1_REPORT_SVG_H

#include <stdio.h>

#define SVG_PALETTE_N 8
extern const char *const svg_palette[SVG_PALETTE_N];

typedef struct {
    const char *name;    /* legend entry */
    const double *x, *y; /* n points, in drawing order (steps, ascending) */
    int n;
} SvgSeries;

typedef struct {
    const char *title, *xlabel;
    const SvgSeries *series;
    int n_series;
    int x_whole; /* x holds whole numbers (steps): no tick between two of them */
} SvgLineChart;

typedef struct {
    const char *title;
    const char *const *groups; /* the categories along x */
    int n_groups;
    const char *const *bars; /* the bars of each group, one colour each */
    int n_bars;
    const double *v;     /* v[group * n_bars + bar]; not finite: no bar */
    double ymax_atleast; /* the y axis reaches at least this (1 for rates) */
} SvgBarChart;

void svg_line_chart(FILE *f, const SvgLineChart *c);
void svg_bar_chart(FILE *f, const SvgBarChart *c);

#endif
