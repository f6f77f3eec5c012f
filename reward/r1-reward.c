/* r1-reward - the rule-based rewards of DeepSeek-R1 over the run database.
 *
 *   r1-reward --db DB --step N [--rewards accuracy=1,format=1,language=0.1] ...
 *   r1-reward match [--why]             GOLD<TAB>PREDICTION lines -> 1 / 0 / U
 *   r1-reward explain --gold G --completion C [--lang L] ...
 * Each prints its own --help. What every reward means is in core/reward.h. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *usage =
    "usage: r1-reward --db DB --step N [options]   score a step's rollouts (--help for options)\n"
    "       r1-reward match [--why] < LINES         GOLD<TAB>PREDICTION -> 1, 0 or U per line\n"
    "       r1-reward explain --gold G --completion C [options]\n"
    "                                               one completion's answer, verdict, rewards\n";

int main(int argc, char **argv) {
    if (argc < 2) return fputs(usage, stderr), 2;
    if (!strcmp(argv[1], "match")) return cmd_match(argc - 1, argv + 1);
    if (!strcmp(argv[1], "explain")) return cmd_explain(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) fputs(usage, stdout);
    if (argv[1][0] == '-') return cmd_score(argc, argv); /* its options, or its --help */
    fprintf(stderr, "r1-reward: unknown command '%s'\n%s", argv[1], usage);
    return 2;
}
