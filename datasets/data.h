/* data.h - the subcommands of bin/r1-data and what they share.
 *
 * Each subcommand parses its own options (argv[0] is its name), opens the run
 * database with data_open, and returns the process exit status. */
#ifndef R1_DATA_H
#define R1_DATA_H

#include <stdio.h>

#include "db.h"
#include "progress.h"

int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_collect(int argc, char **argv);

/* Opens (creating and migrating) the database, printing the error on failure. */
int data_open(R1Db *db, const char *path);
/* The same for commands that only read: a missing file is an error, not a new database. */
int data_open_existing(R1Db *db, const char *path);

/* Inserts prompts, ignoring exact repeats (same dataset, split, question and
 * answer), inside the caller's transaction. */
typedef struct {
    R1Db *db;
    sqlite3_stmt *insert;
    long added, repeated;
} PromptWriter;

typedef struct {
    const char *dataset, *split, *question;
    const char *answer;   /* NULL when unknown */
    const char *solution; /* NULL when absent */
    const char *meta;     /* a JSON object, or NULL for {} */
    const char *source;
} PromptRow;

int prompt_writer_init(PromptWriter *w, R1Db *db, R1Err *err);

/* An SFT sample's messages column on one line, as export writes it and import reads
 * it: [{"role":"system","content":S} (when system is not NULL), {"role":"user",
 * "content":Q}, {"role":"assistant","content":R}]. Returns the malloc'd text, its
 * length in *len and the content hash of that text (import's) in hash. */
char *sft_messages(const char *system, const char *user, size_t user_len, const char *assistant,
                   size_t assistant_len, size_t *len, char hash[17]);
int prompt_writer_add(PromptWriter *w, const PromptRow *row, R1Err *err);
void prompt_writer_free(PromptWriter *w);

#endif
