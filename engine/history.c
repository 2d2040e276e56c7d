/*
 * history.c — the history of features and the provenance of imports.
 *
 * kt_history keeps one row per change, with who, why and when, and the
 * state the change replaced (JSON of attributes and common columns, WKB
 * in the store CRS): none for an insert (or the return of a deleted
 * feature), the previous version for an update, restore or delete. The
 * state after entry k is therefore the state replaced by entry k+1, or the
 * current row for the newest entry: kt_history_list puts them back in
 * that order. Inserts, the bulk of imports, write no copy at all.
 * Any version can be brought back with kt_feature_restore, which itself
 * is a new version: history only grows.
 * In a bulk transaction (bulk.c) the entries of inserts wait in the ctx
 * and go in KT_HISTORY_BATCH at a time, one statement each (the
 * per-statement work of SQLite, AUTOINCREMENT included, was a sixth of an
 * import); anything else written, read or committed flushes them first,
 * so ids keep the order of the changes.
 * kt_batches records each import: source, who, when and its report.
 */
#include "kt_engine_int.h"

#include <stdio.h>
#include <string.h>

int kt__feature_put(kt_ctx_t *ctx, const char *layer, kt_feature_t *f, const kt_actor_t *actor);

/* ---- writing: one entry, or a batch of inserts ------------------------- */

static int same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void bind_row(sqlite3_stmt *st, int p, const struct kt_history_row *r, const char *who,
                     const char *reason)
{
	sqlite3_bind_text(st, p, r->layer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, p + 1, r->uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, p + 2, r->version);
	sqlite3_bind_text(st, p + 3, r->op, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, p + 4, who ? who : "unknown", -1, SQLITE_STATIC);
	if (reason)
		sqlite3_bind_text(st, p + 5, reason, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, p + 5);
	sqlite3_bind_text(st, p + 6, r->at, -1, SQLITE_STATIC);
}

static int prepare_many(kt_ctx_t *ctx)
{
	if (ctx->hist.many)
		return 0;
	char sql[64 + KT_HISTORY_BATCH * 24] = "INSERT INTO kt_history (layer, uid, version, op, who, reason, at) VALUES ";
	for (int i = 0; i < KT_HISTORY_BATCH; i++)
		strcat(sql, i ? ", (?, ?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?, ?, ?)");
	if (sqlite3_prepare_v3(ctx->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &ctx->hist.many, NULL) != SQLITE_OK)
		return kt__sqlite_error(ctx, "kt__history_flush");
	return 0;
}

/* Writes the waiting entries, in order: a full batch with one statement,
 * a partial one row by row. */
int kt__history_flush(kt_ctx_t *ctx)
{
	struct kt_history_batch *b = &ctx->hist;
	if (b->n == 0)
		return 0;
	int rc = 0;
	if (b->n == KT_HISTORY_BATCH && !(rc = prepare_many(ctx))) {
		for (size_t i = 0; i < b->n; i++)
			bind_row(b->many, 1 + 7 * (int)i, &b->rows[i], b->who, b->reason);
		if (sqlite3_step(b->many) != SQLITE_DONE)
			rc = kt__sqlite_error(ctx, __func__);
		sqlite3_reset(b->many);
	}
	for (size_t i = 0; i < b->n && b->n < KT_HISTORY_BATCH && !rc; i++) {
		sqlite3_stmt *st;
		if ((rc = kt__stmt(ctx, kt__layer_index(ctx->store, b->rows[i].layer), KT_STMT_HISTORY, &st)))
			break;
		bind_row(st, 1, &b->rows[i], b->who, b->reason);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = kt__sqlite_error(ctx, __func__);
		sqlite3_reset(st);
	}
	kt__history_discard(ctx);
	if (rc && ctx->bulk.active) /* entries are lost: the transaction must not commit */
		ctx->bulk.failed = 1;
	return rc;
}

void kt__history_discard(kt_ctx_t *ctx)
{
	struct kt_history_batch *b = &ctx->hist;
	kt_free(b->who);
	kt_free(b->reason);
	b->who = b->reason = NULL;
	b->n = 0;
}

/* Buffers the entry of an insert (bulk transactions): one statement per
 * KT_HISTORY_BATCH rows instead of one each. */
static int batch_add(kt_ctx_t *ctx, const kt_layer_t *l, const char *uid, int64_t version, const char *op,
                     const kt_actor_t *actor)
{
	struct kt_history_batch *b = &ctx->hist;
	const char *who = actor ? actor->who : NULL, *reason = actor ? actor->reason : NULL;
	int rc = 0;
	if (b->n && (!same_text(who, b->who) || !same_text(reason, b->reason)) && (rc = kt__history_flush(ctx)))
		return rc;
	if (b->n == 0 && ((who && !(b->who = kt_strdup(who))) || (reason && !(b->reason = kt_strdup(reason))))) {
		kt__history_discard(ctx);
		return kt_ctx_error(ctx, KT_ENOMEM, "kt__history_add: out of memory");
	}
	struct kt_history_row *r = &b->rows[b->n++];
	r->layer = l->name;
	r->op = op;
	r->version = version;
	snprintf(r->uid, sizeof r->uid, "%s", uid);
	kt__ctx_now(ctx, r->at);
	return b->n == KT_HISTORY_BATCH ? kt__history_flush(ctx) : 0;
}

int kt__history_add(kt_ctx_t *ctx, const kt_layer_t *l, const kt_feature_t *before, const char *uid,
                    int64_t version, const char *op, const kt_actor_t *actor)
{
	if (ctx->bulk.active && !before && strlen(uid) < sizeof ctx->hist.rows[0].uid)
		return batch_add(ctx, l, uid, version, op, actor);
	int rc = kt__history_flush(ctx); /* entries stay in the order of the changes */
	if (rc)
		return rc;
	int li = kt__layer_index(ctx->store, l->name);
	sqlite3_stmt *st;
	if ((rc = kt__stmt(ctx, li, KT_STMT_HISTORY, &st)))
		return rc;
	const kt_feature_t *f = before;
	char *state = f ? kt__feature_to_json(l, f) : NULL;
	if (f && !state)
		return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
	char now[32];
	kt__ctx_now(ctx, now);
	sqlite3_bind_text(st, 1, l->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, version);
	sqlite3_bind_text(st, 4, op, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, actor && actor->who ? actor->who : "unknown", -1, SQLITE_STATIC);
	if (actor && actor->reason)
		sqlite3_bind_text(st, 6, actor->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, now, -1, SQLITE_TRANSIENT);
	if (state)
		sqlite3_bind_text(st, 8, state, -1, SQLITE_STATIC);
	if (f && f->wkb) {
		sqlite3_bind_blob(st, 9, f->wkb, (int)f->wkb_len, SQLITE_STATIC);
		sqlite3_bind_int(st, 10, f->epsg);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = kt__sqlite_error(ctx, __func__);
	sqlite3_reset(st);
	kt_free(state);
	return rc;
}

static const char history_sql[] =
	"SELECT id, uid, version, op, who, reason, at, state, geom, epsg FROM kt_history "
	"WHERE layer = ? AND uid = ? ORDER BY version, id";

struct entry {
	kt_history_entry_t e;
	kt_feature_t *before; /* the state this change replaced, or NULL */
	char *uid, *op, *who, *reason, *at;
};

static void entries_free(struct entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		kt_feature_free(v[i].before);
		kt_free(v[i].uid);
		kt_free(v[i].op);
		kt_free(v[i].who);
		kt_free(v[i].reason);
		kt_free(v[i].at);
	}
	kt_free(v);
}

static char *dup_col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? kt_strdup((const char *)t) : NULL;
}

/* Reads the entry at the current row. */
static int entry_read(kt_ctx_t *ctx, const kt_layer_t *l, sqlite3_stmt *st, struct entry *x)
{
	memset(x, 0, sizeof *x);
	x->e.id = sqlite3_column_int64(st, 0);
	x->e.version = sqlite3_column_int64(st, 2);
	x->uid = dup_col(st, 1);
	x->op = dup_col(st, 3);
	x->who = dup_col(st, 4);
	x->reason = dup_col(st, 5);
	x->at = dup_col(st, 6);
	if (!x->uid || !x->op || !x->at)
		return kt_ctx_error(ctx, KT_ENOMEM, "kt_history_list: out of memory");
	const char *json = (const char *)sqlite3_column_text(st, 7);
	if (!json)
		return 0;
	int rc = kt__feature_from_json(l, json, sqlite3_column_blob(st, 8),
	                               (size_t)sqlite3_column_bytes(st, 8), sqlite3_column_int(st, 9),
	                               &x->before);
	if (rc)
		return kt_ctx_error(ctx, rc, "kt_history_list: history entry %lld is unreadable",
		                    (long long)x->e.id);
	return 0;
}

/* Loads every entry of uid, oldest first. */
static int entries_load(kt_ctx_t *ctx, const kt_layer_t *l, const char *uid, struct entry **out,
                        size_t *n_out)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ctx->db, history_sql, -1, &st, NULL) != SQLITE_OK)
		return kt__sqlite_error(ctx, "kt_history_list");
	sqlite3_bind_text(st, 1, l->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, uid, -1, SQLITE_STATIC);
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0, step = SQLITE_DONE;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			struct entry *grown = kt_realloc(v, cap * sizeof *v);
			if (!grown) {
				rc = kt_ctx_error(ctx, KT_ENOMEM, "kt_history_list: out of memory");
				break;
			}
			v = grown;
		}
		rc = entry_read(ctx, l, st, &v[n++]);
	}
	if (!rc && step != SQLITE_DONE)
		rc = kt__sqlite_error(ctx, "kt_history_list");
	sqlite3_finalize(st);
	if (rc) {
		entries_free(v, n);
		return rc;
	}
	*out = v;
	*n_out = n;
	return 0;
}

/* The state after entry k: the state entry k+1 replaced, or the current
 * row for the newest entry (none after a delete). Owned by the caller. */
static int state_after(kt_ctx_t *ctx, const kt_layer_t *l, struct entry *v, size_t n, size_t k,
                       kt_feature_t **out)
{
	*out = NULL;
	if (!strcmp(v[k].op, "delete"))
		return 0;
	if (k + 1 < n) {
		if (v[k + 1].before && !(*out = kt_feature_clone_deep(v[k + 1].before)))
			return kt_ctx_error(ctx, KT_ENOMEM, "kt_history_list: out of memory");
	} else {
		int rc = kt_feature_get(ctx, l->name, v[k].uid, 0, out);
		if (rc)
			return rc;
	}
	if (*out) {
		(*out)->version = v[k].e.version;
		if (kt_feature_set_string(&(*out)->uid, v[k].uid) ||
		    kt_feature_set_string(&(*out)->updated_at, v[k].at))
			return kt_ctx_error(ctx, KT_ENOMEM, "kt_history_list: out of memory");
	}
	return 0;
}

int kt_history_list(kt_ctx_t *ctx, const char *layer, const char *uid, kt_history_cb cb, void *data)
{
	const kt_layer_t *l = kt_store_layer(ctx->store, layer);
	if (!l)
		return kt_ctx_error(ctx, KT_ENOENT, "%s: no layer \"%s\" in this store", __func__, layer);
	struct entry *v = NULL;
	size_t n = 0;
	int rc = kt__history_flush(ctx);
	if (!rc)
		rc = entries_load(ctx, l, uid, &v, &n);
	if (!rc && n == 0)
		rc = kt_ctx_error(ctx, KT_ENOENT, "%s: no history for %s/%s", __func__, layer, uid);
	for (size_t k = 0; !rc && k < n; k++) {
		kt_feature_t *after = NULL;
		if ((rc = state_after(ctx, l, v, n, k, &after))) {
			kt_feature_free(after);
			break;
		}
		kt_history_entry_t e = v[k].e;
		e.uid = v[k].uid;
		e.op = v[k].op;
		e.who = v[k].who;
		e.reason = v[k].reason;
		e.at = v[k].at;
		e.state = after;
		if (cb(&e, data))
			rc = kt_ctx_error(ctx, KT_EABORT, "%s: stopped by the callback", __func__);
		kt_feature_free(after);
	}
	entries_free(v, n);
	return rc;
}

struct restore_find {
	int64_t version;
	int64_t last_version;
	kt_feature_t *found;
};

static int find_version(const kt_history_entry_t *e, void *data)
{
	struct restore_find *r = data;
	r->last_version = e->version;
	if (e->version == r->version && e->state) {
		kt_feature_free(r->found);
		r->found = kt_feature_clone_deep(e->state);
	}
	return 0;
}

int kt_feature_restore(kt_ctx_t *ctx, const char *layer, const char *uid, int64_t version,
                       const kt_actor_t *actor)
{
	struct restore_find r = {.version = version};
	int rc = kt_history_list(ctx, layer, uid, find_version, &r);
	if (rc)
		return rc;
	if (!r.found)
		return kt_ctx_error(ctx, KT_ENOENT, "%s: %s/%s has no restorable version %lld", __func__, layer,
		                    uid, (long long)version);
	r.found->version = r.last_version + 1; /* used when the feature was deleted */
	rc = kt__feature_put(ctx, layer, r.found, actor);
	kt_feature_free(r.found);
	return rc;
}

int kt_batch_begin(kt_ctx_t *ctx, const char *layer, const char *source, const char *who,
                   int64_t *batch_id)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ctx->db, "INSERT INTO kt_batches (layer, source, who, started_at) "
	                                "VALUES (?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		return kt__sqlite_error(ctx, __func__);
	char now[32];
	kt__ctx_now(ctx, now);
	sqlite3_bind_text(st, 1, layer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, who, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : kt__sqlite_error(ctx, __func__);
	sqlite3_finalize(st);
	if (!rc)
		*batch_id = sqlite3_last_insert_rowid(ctx->db);
	return rc;
}

int kt_batch_finish(kt_ctx_t *ctx, int64_t batch_id, const char *report_json)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ctx->db, "UPDATE kt_batches SET finished_at = ?, report = ? WHERE id = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		return kt__sqlite_error(ctx, __func__);
	char now[32];
	kt__ctx_now(ctx, now);
	sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, report_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, batch_id);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : kt__sqlite_error(ctx, __func__);
	if (!rc && sqlite3_changes(ctx->db) != 1)
		rc = kt_ctx_error(ctx, KT_ENOENT, "%s: no batch %lld", __func__, (long long)batch_id);
	sqlite3_finalize(st);
	return rc;
}
