/* db_schema.c - the run database's schema, as migrations. A reader in the sqlite3
 * shell sees exactly this; table and column names are a public interface, so
 * they change only by adding a migration, never by editing one that shipped.
 *
 *   prompts      questions with their gold final answer (dataset, split)
 *   rollouts     sampled completions, G per prompt per step, with token ids and
 *                the sampling log-probabilities (little-endian int32 / float32 BLOBs)
 *   rewards      one row per reward function per rollout, plus name = 'total'
 *   sft_samples  supervised samples: cold_start, reasoning, non_reasoning, distill
 *   metrics      every stage's numbers over time (stage, step, name, value)
 *   checkpoints  model directories written by the training stages
 * Version 2 adds rollouts.template and rollouts.prefill.
 * Views answer the usual questions: step_rewards, step_pass_rate, prompt_pass_rate,
 * dataset_counts, sft_counts. */
#include "db.h"

static const char V1[] =
    "CREATE TABLE prompts (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  dataset      TEXT NOT NULL,            -- gsm8k, math500, synth/arith, ...\n"
    "  split        TEXT NOT NULL,            -- train, test, ...\n"
    "  question     TEXT NOT NULL,\n"
    "  answer       TEXT,                     -- gold final answer as text; NULL if unknown\n"
    "  solution     TEXT,                     -- worked solution, when the source has one\n"
    "  meta         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(meta)),\n"
    "  source       TEXT,                     -- the file (or generator) it came from\n"
    "  content_hash TEXT NOT NULL,            -- of question and answer: imports are idempotent\n"
    "  created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),\n"
    "  UNIQUE (dataset, split, content_hash)\n"
    ") STRICT;\n"
    "CREATE INDEX prompts_by_split ON prompts (split, dataset);\n"
    "\n"
    "CREATE TABLE rollouts (\n"
    "  id             INTEGER PRIMARY KEY,\n"
    "  step           INTEGER NOT NULL,\n"
    "  prompt_id      INTEGER NOT NULL REFERENCES prompts (id),\n"
    "  sample         INTEGER NOT NULL,       -- 0 .. G-1 inside the prompt's group\n"
    "  prompt_ids     BLOB NOT NULL,          -- little-endian int32 token ids\n"
    "  completion_ids BLOB NOT NULL,          -- little-endian int32 token ids\n"
    "  logprobs       BLOB NOT NULL,          -- little-endian float32, one per completion token\n"
    "  text           TEXT NOT NULL,          -- the decoded completion\n"
    "  finish_reason  TEXT NOT NULL CHECK (finish_reason IN ('stop', 'length')),\n"
    "  n_tokens       INTEGER NOT NULL,       -- completion tokens\n"
    "  model          TEXT,                   -- the policy's directory\n"
    "  created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),\n"
    "  UNIQUE (step, prompt_id, sample)\n"
    ") STRICT;\n"
    "\n"
    "CREATE TABLE rewards (\n"
    "  rollout_id INTEGER NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,\n"
    "  name       TEXT NOT NULL,              -- accuracy, format, language, ..., total\n"
    "  value      REAL,                       -- NULL: undefined (e.g. unparsable gold answer)\n"
    "  PRIMARY KEY (rollout_id, name)\n"
    ") STRICT;\n"
    "CREATE INDEX rewards_by_name ON rewards (name);\n"
    "\n"
    "CREATE TABLE sft_samples (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  kind         TEXT NOT NULL CHECK (kind IN ('cold_start', 'reasoning', 'non_reasoning', "
    "'distill')),\n"
    "  prompt       TEXT NOT NULL,            -- the last user message\n"
    "  response     TEXT NOT NULL,            -- the last assistant message\n"
    "  messages     TEXT NOT NULL CHECK (json_valid(messages)),  -- [{\"role\", \"content\"}, "
    "...]\n"
    "  source       TEXT,\n"
    "  content_hash TEXT NOT NULL,\n"
    "  created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),\n"
    "  UNIQUE (kind, content_hash)\n"
    ") STRICT;\n"
    "\n"
    "CREATE TABLE metrics (\n"
    "  stage TEXT NOT NULL,                   -- rollout, reward, grpo, sft, eval, ...\n"
    "  step  INTEGER NOT NULL,\n"
    "  name  TEXT NOT NULL,                   -- e.g. reward/accuracy, loss, kl\n"
    "  value REAL,\n"
    "  time  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))\n"
    ") STRICT;\n"
    "CREATE INDEX metrics_by_name ON metrics (name, stage, step);\n"
    "\n"
    "CREATE TABLE checkpoints (\n"
    "  id         INTEGER PRIMARY KEY,\n"
    "  stage      TEXT NOT NULL,\n"
    "  step       INTEGER NOT NULL,\n"
    "  path       TEXT NOT NULL,\n"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))\n"
    ") STRICT;\n"
    "\n"
    "CREATE VIEW step_rewards AS\n"
    "  SELECT r.step, w.name, COUNT(w.value) AS n, AVG(w.value) AS mean,\n"
    "         MIN(w.value) AS min, MAX(w.value) AS max\n"
    "  FROM rollouts r JOIN rewards w ON w.rollout_id = r.id\n"
    "  GROUP BY r.step, w.name;\n"
    "CREATE VIEW step_pass_rate AS\n"
    "  SELECT r.step, COUNT(w.value) AS n, AVG(w.value = 1.0) AS pass_rate,\n"
    "         AVG(r.n_tokens) AS mean_tokens\n"
    "  FROM rollouts r JOIN rewards w ON w.rollout_id = r.id AND w.name = 'accuracy'\n"
    "  GROUP BY r.step;\n"
    "CREATE VIEW prompt_pass_rate AS\n"
    "  SELECT r.step, r.prompt_id, COUNT(w.value) AS samples, AVG(w.value = 1.0) AS pass_rate\n"
    "  FROM rollouts r JOIN rewards w ON w.rollout_id = r.id AND w.name = 'accuracy'\n"
    "  GROUP BY r.step, r.prompt_id;\n"
    "CREATE VIEW dataset_counts AS\n"
    "  SELECT dataset, split, COUNT(*) AS prompts, COUNT(answer) AS with_answer\n"
    "  FROM prompts GROUP BY dataset, split;\n"
    "CREATE VIEW sft_counts AS\n"
    "  SELECT kind, COUNT(*) AS samples, SUM(length(prompt) + length(response)) AS text_bytes\n"
    "  FROM sft_samples GROUP BY kind;\n";

/* Version 2 (rollout stage): how each rollout's prompt was rendered, so later
 * stages need not guess whether the template opened the think block. */
static const char V2[] =
    "ALTER TABLE rollouts ADD COLUMN template TEXT;  -- chat template of the prompt\n"
    "ALTER TABLE rollouts ADD COLUMN prefill TEXT;   -- what the prompt ended with inside the\n"
    "                                                -- assistant turn ('<think>\\n' for\n"
    "                                                -- deepseek-r1), which the completion\n"
    "                                                -- continues; NULL when not recorded\n";

const char *const r1_db_migrations[R1_DB_VERSION] = {V1, V2};
