/* r1-data - the run database from the shell: create it, fill it, look into it.
 *
 *   r1-data init   --db DB
 *   r1-data stats  --db DB [--json]
 *   r1-data sample --db DB --table prompts|sft|rollouts [--n 5] [filters]
 *   r1-data import --db DB --format gsm8k|math|jsonl|messages ... FILE...
 *   r1-data export --db DB --table prompts|sft|rollouts [filters]
 *   r1-data synth  --db DB --task arith|countdown|chain --n N --seed S ...
 *   r1-data collect --db DB --kind KIND [--stage S] [--filter LIST] ...
 * Each subcommand prints its own --help. */
#include <stdio.h>
#include <string.h>

#include "data.h"

static const char *usage =
    "usage: r1-data COMMAND --db DB [options]     (r1-data COMMAND --help for details)\n"
    "  init     create the run database (or bring an older one up to date)\n"
    "  stats    counts per table, dataset, split, kind and step\n"
    "  sample   print a few rows for a person to read\n"
    "  import   add prompts (gsm8k, math, jsonl) or SFT samples (messages) from JSONL files\n"
    "  export   write prompts, SFT samples or rollouts as JSONL to stdout\n"
    "  synth    generate tasks with exact answers (arithmetic, countdown, chain; en/zh),\n"
    "           or worked cold-start samples for them (--kind)\n"
    "  collect  turn rollouts that pass filters (correct, format, ...) into SFT samples\n"
    "The database is SQLite (WAL mode); inspect it with: sqlite3 DB '.tables'\n";

static int cmd_init(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return puts("usage: r1-data init --db DB   (creates DB, or migrates an older one)"), 0;
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            path = argv[++i];
        else
            return fprintf(stderr, "r1-data init: unknown option %s\n", argv[i]), 2;
    }
    R1Db db;
    if (data_open(&db, path)) return 1;
    printf("%s: schema version %d\n", path, r1_db_version(&db));
    r1_db_close(&db);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"init", cmd_init},      {"stats", cmd_stats},   {"sample", cmd_sample},
                {"import", cmd_import},  {"export", cmd_export}, {"synth", cmd_synth},
                {"collect", cmd_collect}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "r1-data: unknown command '%s'\n%s", argv[1], usage);
    return 2;
}
