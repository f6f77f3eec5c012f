/* progress.c - see progress.h. */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "util.h"

void progress_init(Progress *p, const char *what, int quiet) {
    p->on = !quiet && isatty(2);
    p->last = 0;
    p->what = what;
}

void progress_update(Progress *p, long done, long total) {
    if (!p->on) return;
    double now = r1_now();
    if (now - p->last < 0.2) return;
    p->last = now;
    if (total > 0)
        fprintf(stderr, "\r%s: %ld / %ld (%.0f%%)", p->what, done, total, 100.0 * done / total);
    else
        fprintf(stderr, "\r%s: %ld", p->what, done);
}

void progress_done(Progress *p) {
    if (p->on) fprintf(stderr, "\r\033[K");
}
