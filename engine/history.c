/*
 * history.c — the history of features and the provenance of imports.
 *
 * kt_history keeps one row per change: the state after the change (JSON
 * of attributes and common columns, WKB in the store CRS) or NULL for a
 * deletion, with who, why and when. Any version can be brought back with
 * kt_feature_restore, which itself is a new version: history only grows.
 * kt_batches records each import: source, who, when and its report.
 */
#include "kt_engine_int.h"

#include <stdio.h>
#include <string.h>

int kt__feature_put(kt_ctx_t *ctx, const char *layer, kt_feature_t *f, const kt_actor_t *actor);

int kt__history_add(kt_ctx_t *ctx, const kt_layer_t *l, const kt_feature_t *f, const char *uid,
                    int64_t version, const char *op, const kt_actor_t *actor)
{
	int li = kt__layer_index(ctx->store, l->name);
	sqlite3_stmt *st;
	int rc = kt__stmt(ctx, li, KT_STMT_HISTORY, &st);
	if (rc)
		return rc;
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

/* Builds the entry of the current row; *state owned by the caller. */
static int entry_from_row(kt_ctx_t *ctx, const kt_layer_t *l, sqlite3_stmt *st, kt_history_entry_t *e,
                          kt_feature_t **state)
{
	memset(e, 0, sizeof *e);
	*state = NULL;
	e->id = sqlite3_column_int64(st, 0);
	e->uid = (const char *)sqlite3_column_text(st, 1);
	e->version = sqlite3_column_int64(st, 2);
	e->op = (const char *)sqlite3_column_text(st, 3);
	e->who = (const char *)sqlite3_column_text(st, 4);
	e->reason = (const char *)sqlite3_column_text(st, 5);
	e->at = (const char *)sqlite3_column_text(st, 6);
	const char *json = (const char *)sqlite3_column_text(st, 7);
	if (!json)
		return 0;
	int rc = kt__feature_from_json(l, json, sqlite3_column_blob(st, 8),
	                               (size_t)sqlite3_column_bytes(st, 8), sqlite3_column_int(st, 9), state);
	if (rc)
		return kt_ctx_error(ctx, rc, "kt_history_list: history entry %lld is unreadable",
		                    (long long)e->id);
	(*state)->version = e->version;
	kt_feature_set_string(&(*state)->uid, e->uid);
	kt_feature_set_string(&(*state)->updated_at, e->at);
	e->state = *state;
	return 0;
}

int kt_history_list(kt_ctx_t *ctx, const char *layer, const char *uid, kt_history_cb cb, void *data)
{
	const kt_layer_t *l = kt_store_layer(ctx->store, layer);
	if (!l)
		return kt_ctx_error(ctx, KT_ENOENT, "%s: no layer \"%s\" in this store", __func__, layer);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ctx->db, history_sql, -1, &st, NULL) != SQLITE_OK)
		return kt__sqlite_error(ctx, __func__);
	sqlite3_bind_text(st, 1, layer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, uid, -1, SQLITE_STATIC);
	int rc = 0, n = 0, step = SQLITE_DONE;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		kt_history_entry_t e;
		kt_feature_t *state;
		n++;
		if ((rc = entry_from_row(ctx, l, st, &e, &state)))
			break;
		if (cb(&e, data))
			rc = kt_ctx_error(ctx, KT_EABORT, "%s: stopped by the callback", __func__);
		kt_feature_free(state);
	}
	if (!rc && step != SQLITE_DONE)
		rc = kt__sqlite_error(ctx, __func__);
	sqlite3_finalize(st);
	if (!rc && n == 0)
		rc = kt_ctx_error(ctx, KT_ENOENT, "%s: no history for %s/%s", __func__, layer, uid);
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
