/*
 * changes.c — the feed of changes for watchers (kt_changes_*).
 *
 * The feed is kt_history itself: its ids increase with every write and it
 * is written in the same transaction as the change, so a watcher that
 * applied every id up to N has seen exactly the committed changes up to
 * N. A history row keeps the state its change replaced (history.c), so
 * the geometry a change produced is the one the next change of the same
 * feature replaced, or the feature's current row. Boxes are read with
 * SpatiaLite from the stored WKB, in the store CRS.
 */
#include "kt_engine_int.h"

#include <string.h>

int kt_changes_last(kt_ctx_t *ctx, int64_t *id)
{
	int rc = kt__history_flush(ctx);
	if (rc)
		return rc;
	if (!ctx->changes_last &&
	    sqlite3_prepare_v3(ctx->db, "SELECT coalesce(max(id), 0) FROM kt_history", -1,
	                       SQLITE_PREPARE_PERSISTENT, &ctx->changes_last, NULL) != SQLITE_OK)
		return kt__sqlite_error(ctx, __func__);
	rc = sqlite3_step(ctx->changes_last) == SQLITE_ROW ? 0 : kt__sqlite_error(ctx, __func__);
	*id = sqlite3_column_int64(ctx->changes_last, 0);
	sqlite3_reset(ctx->changes_last);
	return rc;
}

#define BOX_OF(g) "MbrMinX(" g "), MbrMinY(" g "), MbrMaxX(" g "), MbrMaxY(" g ")"

static const char rows_sql[] =
	"SELECT id, layer, uid, op, " BOX_OF("GeomFromWKB(geom)") " FROM kt_history "
	"WHERE id > ? AND id <= ? ORDER BY id";
static const char next_sql[] =
	"SELECT " BOX_OF("GeomFromWKB(geom)") ", geom IS NOT NULL FROM kt_history "
	"WHERE layer = ? AND uid = ? AND id > ? ORDER BY id LIMIT 1";

/* Reads a box at columns i..i+3; 0 when null. */
static int read_box(sqlite3_stmt *st, int i, double b[4])
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return 0;
	for (int k = 0; k < 4; k++)
		b[k] = sqlite3_column_double(st, i + k);
	return 1;
}

/* The box of the feature's current geometry, if it still exists. */
static int current_box(kt_ctx_t *ctx, const kt_layer_t *l, const char *uid, kt_change_t *c)
{
	char *sql = sqlite3_mprintf("SELECT " BOX_OF("geom") " FROM \"%w\" WHERE uid = ?", l->name);
	sqlite3_stmt *st;
	int rc = sql && sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL) == SQLITE_OK ? 0 : KT_EIO;
	sqlite3_free(sql);
	if (rc)
		return kt__sqlite_error(ctx, "kt_changes_list");
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		c->has_after = read_box(st, 0, c->after);
	else if (step != SQLITE_DONE)
		rc = kt__sqlite_error(ctx, "kt_changes_list");
	sqlite3_finalize(st);
	return rc;
}

static int after_box(kt_ctx_t *ctx, sqlite3_stmt *next, const kt_layer_t *l, kt_change_t *c)
{
	if (!strcmp(c->op, "delete"))
		return 0;
	sqlite3_bind_text(next, 1, c->layer, -1, SQLITE_STATIC);
	sqlite3_bind_text(next, 2, c->uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(next, 3, c->id);
	int step = sqlite3_step(next), rc = 0;
	if (step == SQLITE_ROW)
		c->has_after = read_box(next, 0, c->after);
	else if (step == SQLITE_DONE)
		rc = l->geom_type == KT_GEOM_NONE ? 0 : current_box(ctx, l, c->uid, c);
	else
		rc = kt__sqlite_error(ctx, "kt_changes_list");
	sqlite3_reset(next);
	return rc;
}

int kt_changes_list(kt_ctx_t *ctx, int64_t after, int64_t upto, kt_change_cb cb, void *data)
{
	int flushed = kt__history_flush(ctx);
	if (flushed)
		return flushed;
	sqlite3_stmt *rows = NULL, *next = NULL;
	if (sqlite3_prepare_v2(ctx->db, rows_sql, -1, &rows, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ctx->db, next_sql, -1, &next, NULL) != SQLITE_OK) {
		int rc = kt__sqlite_error(ctx, __func__);
		sqlite3_finalize(rows);
		return rc;
	}
	sqlite3_bind_int64(rows, 1, after);
	sqlite3_bind_int64(rows, 2, upto);
	int rc = 0, step = SQLITE_DONE;
	while (!rc && (step = sqlite3_step(rows)) == SQLITE_ROW) {
		kt_change_t c = {
			.id = sqlite3_column_int64(rows, 0),
			.layer = (const char *)sqlite3_column_text(rows, 1),
			.uid = (const char *)sqlite3_column_text(rows, 2),
			.op = (const char *)sqlite3_column_text(rows, 3),
		};
		const kt_layer_t *l = c.layer ? kt_store_layer(ctx->store, c.layer) : NULL;
		if (!l || !c.uid || !c.op)
			continue; /* a layer this store no longer defines */
		c.has_before = read_box(rows, 4, c.before);
		rc = after_box(ctx, next, l, &c);
		if (!rc && cb(&c, data))
			rc = kt_ctx_error(ctx, KT_EABORT, "%s: stopped by the callback", __func__);
	}
	if (!rc && step != SQLITE_DONE)
		rc = kt__sqlite_error(ctx, __func__);
	sqlite3_finalize(rows);
	sqlite3_finalize(next);
	return rc;
}
