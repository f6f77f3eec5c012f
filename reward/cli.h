/* cli.h - the subcommands of bin/r1-reward and what they share.
 *
 * Each subcommand parses its own options (argv[0] is its name) and returns the
 * process exit status: 0 done, 1 failed (the message on stderr), 2 bad usage. */
#ifndef R1_REWARD_CLI_H
#define R1_REWARD_CLI_H

#include <stddef.h>

#include "reward.h"
#include "progress.h"

int cmd_score(int argc, char **argv);
int cmd_match(int argc, char **argv);
int cmd_explain(int argc, char **argv);

/* Options every subcommand that scores shares (--rewards, --lang, ...). */
typedef struct {
    R1RewardOpts opts;
    const char *spec; /* --rewards, or NULL for the defaults */
    int prefilled;    /* --prefilled-think: force it on every completion */
} ScoreFlags;

void score_flags_init(ScoreFlags *f);
/* Consumes argv[*i] (and its value) when it is a scoring option: returns 1 when it
 * was one, 0 when it is not, -1 (message printed, prefixed by who) when its value
 * is bad. */
int score_flags_take(ScoreFlags *f, int argc, char **argv, int *i, const char *who);
/* Applies --rewards and builds the rewarder (NULL and a message on failure). */
R1Rewarder *score_flags_rewarder(ScoreFlags *f, const char *who);

/* Rows without a recorded prefill (written before schema version 2 or by other
 * tools) are judged by r1_reward_looks_prefilled (core/reward.h); --prefilled-think
 * forces it. */

/* Parses a whole decimal integer in [lo, hi]; prints "who: FLAG ..." when not. */
int parse_long(const char *s, long lo, long hi, long *out, const char *who, const char *flag);

#endif
