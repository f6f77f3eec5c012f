/* data.c - SFT samples: read, rendered with the chat template, tokenized with
 * the assistant mask, turned into next-token targets, and planned into batches. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sample.h"
#include "stage.h"

/* messages JSON -> R1Message array (pointing into the cJSON tree). */
static int parse_messages(cJSON *root, R1Message **out, int *n, int64_t id, R1Err *err) {
    if (!cJSON_IsArray(root))
        return r1_seterr(err, "sft sample %lld: messages is not a JSON array", (long long)id);
    int k = cJSON_GetArraySize(root), i = 0;
    R1Message *m = r1_xcalloc((size_t)(k > 0 ? k : 1), sizeof *m);
    for (cJSON *e = root->child; e; e = e->next, i++) {
        cJSON *role = cJSON_GetObjectItemCaseSensitive(e, "role");
        cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        int r = cJSON_IsString(role) ? r1_role_parse(role->valuestring) : -1;
        if (r < 0 || !cJSON_IsString(content)) {
            free(m);
            return r1_seterr(err,
                             "sft sample %lld: message %d needs a role (system, user, assistant) "
                             "and a string content",
                             (long long)id, i);
        }
        m[i].role = (R1Role)r, m[i].content = content->valuestring;
    }
    *out = m, *n = k;
    return 0;
}

/* Tokens and targets of one sample. */
static int prepare(const SftArgs *a, R1Policy *pol, int64_t id, const char *json, SftSample *s,
                   R1Err *err) {
    cJSON *root = cJSON_Parse(json);
    R1Message *msgs = NULL;
    int n_msgs = 0,
        rc = root ? parse_messages(root, &msgs, &n_msgs, id, err)
                  : r1_seterr(err, "sft sample %lld: messages is not JSON", (long long)id);
    const char *bos = NULL, *eos = NULL;
    size_t len;
    if (r1_tok_bos(pol->tok) >= 0) bos = r1_tok_piece(pol->tok, r1_tok_bos(pol->tok), &len);
    if (r1_tok_eos(pol->tok) >= 0) eos = r1_tok_piece(pol->tok, r1_tok_eos(pol->tok), &len);
    R1Chat chat = {0};
    R1Ids ids = {0};
    unsigned char *mask = NULL;
    if (rc == 0)
        rc = r1_chat_render_sys(pol->tpl, pol->default_system, msgs, n_msgs, 0, bos, eos, &chat,
                                err);
    if (rc == 0 && !a->loss_all && chat.n_assistant == 0)
        rc = r1_seterr(err, "sft sample %lld has no assistant turn to train on", (long long)id);
    if (rc == 0) rc = r1_chat_encode(pol->tok, &chat, &ids, &mask, err);
    if (rc == 0) {
        int n = ids.n < a->max_len ? ids.n : (int)a->max_len;
        s->id = id, s->n = n, s->truncated = ids.n > n;
        s->tok = r1_xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
        s->tgt = r1_xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
        for (int t = 0; t < n; t++) {
            s->tok[t] = ids.ids[t];
            s->tgt[t] = t + 1 < n && (a->loss_all || mask[t + 1]) ? ids.ids[t + 1] : -1;
            s->n_targets += s->tgt[t] >= 0;
        }
    }
    free(mask), free(msgs);
    r1_ids_free(&ids);
    r1_chat_free(&chat);
    cJSON_Delete(root);
    return rc;
}

/* "cold_start,reasoning" -> an SQL IN list of quoted kinds, checked. */
static int kinds_sql(const char *kinds, char *out, size_t cap, R1Err *err) {
    size_t o = 0;
    out[0] = 0;
    for (const char *p = kinds; *p;) {
        size_t n = strcspn(p, ",");
        int ok = 0;
        for (int i = 0; r1_sft_kinds[i]; i++)
            ok |= strlen(r1_sft_kinds[i]) == n && !strncmp(p, r1_sft_kinds[i], n);
        if (!ok || o + n + 4 >= cap)
            return r1_seterr(err,
                             "--kind: '%.*s' is not one of cold_start, reasoning, "
                             "non_reasoning, distill, pretrain",
                             (int)n, p);
        o += (size_t)snprintf(out + o, cap - o, "%s'%.*s'", o ? "," : "", (int)n, p);
        p += n + (p[n] == ',');
    }
    return o ? 0 : r1_seterr(err, "--kind needs at least one kind");
}

int sft_load(R1Db *db, const SftArgs *a, R1Policy *pol, SftData *d, R1Err *err) {
    memset(d, 0, sizeof *d);
    char in[256], sql[512];
    if (kinds_sql(a->kinds, in, sizeof in, err)) return -1;
    snprintf(sql, sizeof sql, "SELECT id, messages FROM sft_samples WHERE kind IN (%s) ORDER BY id",
             in);
    sqlite3_stmt *st = r1_db_prepare(db, sql, err);
    if (!st) return -1;
    int cap = 0, rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (d->n == cap)
            d->s = r1_xrealloc(d->s, sizeof *d->s * (size_t)(cap = cap ? 2 * cap : 256));
        SftSample *s = &d->s[d->n];
        memset(s, 0, sizeof *s);
        rc = prepare(a, pol, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                     s, err);
        if (rc) break;
        d->n++;
        if (s->n_targets == 0) { /* all its assistant tokens lie beyond --max-len */
            free(s->tok), free(s->tgt), d->n--, d->truncated++;
            continue;
        }
        d->truncated += s->truncated;
        /* held out: a fixed fraction chosen by a hash of (seed, id), stable across runs */
        uint64_t h = r1_seq_seed(a->seed, (uint64_t)s->id, 0x6576616cULL, 0);
        s->eval = a->eval_frac > 0 && (double)(h >> 11) * 0x1.0p-53 < a->eval_frac;
        if (s->eval)
            d->n_eval++;
        else
            d->n_train++, d->train_tokens += s->n;
    }
    sqlite3_finalize(st);
    if (rc) return -1;
    if (d->n_train == 0)
        return r1_seterr(err, "%s: no sft_samples of kind %s to train on%s", db->path, a->kinds,
                         d->n ? " (all held out or beyond --max-len)" : "");
    return 0;
}

void sft_data_free(SftData *d) {
    for (int i = 0; i < d->n; i++) free(d->s[i].tok), free(d->s[i].tgt);
    free(d->s);
    memset(d, 0, sizeof *d);
}

/* Without packing, windows of the shuffled order are sorted by length so a
 * batch holds samples of similar length (r1c never pads, so this changes only
 * how many samples share a batch, not the loss of any). */
static void sort_windows(int *v, int n, const SftData *d) {
    const int W = 64;
    for (int a = 0; a < n; a += W) {
        int b = a + W < n ? a + W : n;
        for (int i = a + 1; i < b; i++)
            for (int j = i; j > a && d->s[v[j - 1]].n > d->s[v[j]].n; j--) {
                int t = v[j];
                v[j] = v[j - 1], v[j - 1] = t;
            }
    }
}

void sft_plan(const SftArgs *a, const SftData *d, SftPlan *p) {
    int per = d->n_train;
    p->idx = r1_xmalloc(sizeof(int) * (size_t)per * a->epochs);
    p->start = r1_xmalloc(sizeof(int) * ((size_t)per * a->epochs + 1));
    p->n_batches = 0;
    int k = 0;
    for (long e = 0; e < a->epochs; e++) {
        int *v = p->idx + k, m = 0;
        for (int i = 0; i < d->n; i++)
            if (!d->s[i].eval) v[m++] = i;
        R1Rng rng;
        r1_rng_seed(&rng, r1_seq_seed(a->seed, (uint64_t)e, 0x736674ULL, 0));
        r1_rng_shuffle(&rng, v, (size_t)m, sizeof *v);
        if (!a->pack) sort_windows(v, m, d);
        long tokens = 0;
        for (int i = 0; i < m; i++) {
            if (i == 0 || tokens + d->s[v[i]].n > a->batch_tokens) {
                p->start[p->n_batches++] = k + i;
                tokens = 0;
            }
            tokens += d->s[v[i]].n;
        }
        k += m;
    }
    p->start[p->n_batches] = k;
}

void sft_plan_free(SftPlan *p) {
    free(p->idx), free(p->start);
    memset(p, 0, sizeof *p);
}
