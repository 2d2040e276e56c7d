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
 * kt_batches records each import: source, who, when and its report.
 */
#include "kt_engine_int.h"

#include <stdio.h>
#include <string.h>

int kt__feature_put(kt_ctx_t *ctx, const char *layer, kt_feature_t *f, const kt_actor_t *actor);

int kt__history_add(kt_ctx_t *ctx, const kt_layer_t *l, const kt_feature_t *before, const char *uid,
                    int64_t version, const char *op, const kt_actor_t *actor)
{
	int li = kt__layer_index(ctx->store, l->name);
	sqlite3_stmt *st;
	int rc = kt__stmt(ctx, li, KT_STMT_HISTORY, &st);
	if (rc)
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
	int rc = entries_load(ctx, l, uid, &v, &n);
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
