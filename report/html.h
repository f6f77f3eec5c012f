/* html.h - the report's HTML text: escaping, numbers, and the page around the sections.
 *
 * Contract:
 *   - html_text writes s with & < > " ' escaped, so the result is safe both as element
 *     content and inside a quoted attribute (SVG text included). Invalid UTF-8 and C0
 *     control characters other than tab, newline and carriage return become U+FFFD: text
 *     from the database (model completions above all) may hold anything, and the page
 *     stays valid UTF-8. NULL writes nothing.
 *   - html_num writes a number with a printf format, or an en dash for NaN (a NULL in
 *     the database: undefined, not zero).
 *   - Writers ignore stdio errors: the page goes to one stream that is checked once, at
 *     the end (ferror), which is where a short write is noticed. */
#ifndef R1_REPORT_HTML_H
#define R1_REPORT_HTML_H

#include <stdio.h>

void html_text(FILE *f, const char *s);
void html_num(FILE *f, const char *fmt, double v);
/* <!doctype html> through <body>, with the inline style sheet. */
void html_begin(FILE *f, const char *title);
void html_end(FILE *f);

#endif
