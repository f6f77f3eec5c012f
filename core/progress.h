/* progress.h - progress of long work on stderr, for people at a terminal.
 *
 * Contract: prints only when stderr is a terminal and the caller was not asked
 * to be quiet, at most every 0.2 s, overwriting one line; scripts and CI logs
 * see nothing. progress_done clears the line. */
#ifndef R1_PROGRESS_H
#define R1_PROGRESS_H

typedef struct {
    int on;
    double last;
    const char *what;
} Progress;

void progress_init(Progress *p, const char *what, int quiet);
void progress_update(Progress *p, long done, long total); /* total <= 0: unknown */
void progress_done(Progress *p);

#endif
