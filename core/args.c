/* args.c - see args.h. */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int r1_arg_double(const char *who, const char *flag, const char *v, double lo, double hi,
                  double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "%s: %s %s: expected a number in [%g, %g]\n", who, flag, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int r1_arg_long(const char *who, const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "%s: %s %s: expected a whole number in [%ld, %ld]\n", who, flag, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int r1_arg_seed(const char *who, const char *flag, const char *v, unsigned long long *out) {
    long s;
    if (r1_arg_long(who, flag, v, 0, 9007199254740992L, &s)) return -1;
    *out = (unsigned long long)s;
    return 0;
}
