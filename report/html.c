/* html.c - see html.h. */
#include "html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The entity for a byte, or NULL when the byte stands for itself. */
static const char *entity(unsigned char c) {
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    case '\t':
    case '\n':
    case '\r':
        return NULL;
    default:
        return c < 0x20 || c == 0x7f ? "\xEF\xBF\xBD" : NULL;
    }
}

void html_text(FILE *f, const char *s) {
    if (!s) return;
    size_t n;
    char *u = r1_utf8_lossy(s, strlen(s), &n);
    for (size_t i = 0; i < n; i++) {
        const char *e = entity((unsigned char)u[i]);
        if (e)
            fputs(e, f);
        else
            fputc(u[i], f);
    }
    free(u);
}

void html_num(FILE *f, const char *fmt, double v) {
    if (isnan(v))
        fputs("\xE2\x80\x93", f);
    else
        fprintf(f, fmt, v);
}

/* Plain and printable: no scripts, fonts or images from anywhere. The charts are
 * 560 px wide, two to a row on a wide screen. */
static const char STYLE[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;"
    "max-width:1160px;margin:20px auto;padding:0 16px}\n"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;"
    "border-bottom:1px solid #ccc;padding-bottom:3px}h3{font-size:16px;margin:18px 0 6px}\n"
    "table{border-collapse:collapse;margin:6px 0 10px}th,td{border:1px solid #d8d8d8;"
    "padding:2px 8px;text-align:right;vertical-align:top}th{background:#f3f3f3}\n"
    ".l{text-align:left}.meta{color:#555;font-size:13px;margin:2px 0}\n"
    ".charts{display:flex;flex-wrap:wrap;gap:12px;margin:6px 0}\n"
    ".chart{border:1px solid #e0e0e0;background:#fff}\n"
    ".sample{border-left:3px solid #bbb;padding:2px 0 2px 12px;margin:12px 0}\n"
    "pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f7f7;border:1px solid #e4e4e4;"
    "padding:8px;margin:6px 0;font-size:12.5px}\n"
    ".q{white-space:pre-wrap;margin:4px "
    "0}.prefill{color:#888}.ok{color:#0b5d1e;font-weight:bold}.bad{color:#8b0000;font-weight:bold}"
    "\n"
    "code{background:#f3f3f3;padding:0 3px}\n";

void html_begin(FILE *f, const char *title) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    html_text(f, title);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", STYLE);
}

void html_end(FILE *f) {
    fputs("<p class=\"meta\">Written by r1-report from the run database; charts are inline "
          "SVG.</p>\n</body>\n</html>\n",
          f);
}
