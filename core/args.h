/* args.h - number options of the command-line tools.
 *
 * Contract: a value is accepted only when the whole string is a number inside
 * [lo, hi] (and, for r1_arg_long, a whole one); otherwise the function prints
 * "WHO: FLAG VALUE: expected ..." on stderr and returns -1, leaving *out. */
#ifndef R1_ARGS_H
#define R1_ARGS_H

int r1_arg_double(const char *who, const char *flag, const char *v, double lo, double hi,
                  double *out);
int r1_arg_long(const char *who, const char *flag, const char *v, long lo, long hi, long *out);
/* A seed: a whole number in [0, 2^53] (what a double holds exactly, so JSON
 * and Python reproduce it). */
int r1_arg_seed(const char *who, const char *flag, const char *v, unsigned long long *out);

#endif
