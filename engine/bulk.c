/*
 * bulk.c — bulk transactions: loading many features into one layer.
 *
 * kt_tx_begin_bulk opens a transaction as kt_tx_begin does, for a caller
 * that rolls the whole transaction back when any write fails (an import).
 * Two costs of writing row by row then go away:
 *  - the savepoint each write takes so that, inside the caller's
 *    transaction, it lands whole or not at all: while one is open SQLite
 *    copies every page the write touches into a sub-journal. Without it a
 *    failed write may leave part of itself behind, so it marks the
 *    transaction failed and kt_tx_commit refuses it: only kt_tx_rollback
 *    remains.
 *  - when the layer holds no feature yet, the two insert triggers of its
 *    geometry column (ggi_: SpatiaLite's type and SRID check; gii_: the
 *    R*Tree entry, see store.c lean_triggers) are dropped inside the
 *    transaction, and their work is done once for the whole layer just
 *    before COMMIT: one check of every geometry, one packed R*Tree
 *    (rtree_load.c). Then the triggers are re-created from the SQL they
 *    had. DDL is transactional in SQLite, so a rollback, a failed commit
 *    or a kill -9 brings them back with the rest: no committed state of
 *    the store ever lacks them.
 * Until the commit, a bbox query on that layer in this transaction does
 * not see the features written in it.
 */
#include "kt_engine_int.h"

#include <stdio.h>
#include <string.h>

/* The insert triggers whose work is deferred, as named by SpatiaLite. */
static const char *const deferred[2] = {"ggi", "gii"};

static int layer_is_empty(kt_ctx_t *ctx, const kt_layer_t *l, int *empty)
{
	char *sql = sqlite3_mprintf("SELECT NOT EXISTS (SELECT 1 FROM \"%w\")", l->name);
	sqlite3_stmt *st = NULL;
	int rc = sql && sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL) == SQLITE_OK &&
	                 sqlite3_step(st) == SQLITE_ROW
	                 ? 0
	                 : kt__sqlite_error(ctx, "kt_tx_begin_bulk");
	if (!rc)
		*empty = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return rc;
}

/* The CREATE TRIGGER text of trigger name, NULL (and 0) when there is none. */
static int trigger_sql(kt_ctx_t *ctx, const char *name, char **out)
{
	sqlite3_stmt *st;
	*out = NULL;
	if (sqlite3_prepare_v2(ctx->db, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		return kt__sqlite_error(ctx, "kt_tx_begin_bulk");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = 0;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
	    !(*out = kt_strdup((const char *)sqlite3_column_text(st, 0))))
		rc = kt_ctx_error(ctx, KT_ENOMEM, "kt_tx_begin_bulk: out of memory");
	sqlite3_finalize(st);
	return rc;
}

/* Keeps the SQL of both insert triggers and drops them; leaves them alone
 * when either is missing (a store whose triggers are not the ones this
 * file knows how to stand in for). */
static int defer_triggers(kt_ctx_t *ctx, int li, const kt_layer_t *l)
{
	char *sql[2] = {NULL, NULL}, name[2][300];
	int rc = 0;
	for (int i = 0; i < 2 && !rc; i++) {
		snprintf(name[i], sizeof name[i], "%s_%s_geom", deferred[i], l->name);
		rc = trigger_sql(ctx, name[i], &sql[i]);
	}
	if (rc || !sql[0] || !sql[1]) {
		kt_free(sql[0]);
		kt_free(sql[1]);
		return rc;
	}
	for (int i = 0; i < 2 && !rc; i++) {
		char *drop = sqlite3_mprintf("DROP TRIGGER \"%w\"", name[i]);
		rc = drop ? kt__exec(ctx, drop) : kt_ctx_error(ctx, KT_ENOMEM, "kt_tx_begin_bulk: out of memory");
		sqlite3_free(drop);
	}
	ctx->bulk.triggers[0] = sql[0];
	ctx->bulk.triggers[1] = sql[1];
	if (!rc)
		ctx->bulk.layer = li;
	return rc;
}

int kt__bulk_begin(kt_ctx_t *ctx, const char *layer)
{
	kt__bulk_end(ctx);
	ctx->bulk.active = 1;
	if (!layer)
		return 0;
	int li = kt__layer_index(ctx->store, layer);
	if (li < 0)
		return kt_ctx_error(ctx, KT_ENOENT, "kt_tx_begin_bulk: no layer \"%s\" in this store", layer);
	const kt_layer_t *l = ctx->store->cat->layers[li];
	int empty = 0;
	if (l->geom_type == KT_GEOM_NONE)
		return 0;
	int rc = layer_is_empty(ctx, l, &empty);
	return rc || !empty ? rc : defer_triggers(ctx, li, l);
}

/* What ggi_ would have refused, row by row: a geometry of another type,
 * dimension or SRID than the column's. */
static int check_geometries(kt_ctx_t *ctx, const kt_layer_t *l)
{
	char *sql = sqlite3_mprintf(
		"SELECT count(*) FROM \"%w\" t, geometry_columns g WHERE g.f_table_name = Lower('%q') AND "
		"g.f_geometry_column = 'geom' AND t.geom IS NOT NULL AND "
		"GeometryConstraints(t.geom, g.geometry_type, g.srid) IS NOT 1",
		l->name, l->name);
	sqlite3_stmt *st = NULL;
	int rc = sql && sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL) == SQLITE_OK &&
	                 sqlite3_step(st) == SQLITE_ROW
	                 ? 0
	                 : kt__sqlite_error(ctx, "kt_tx_commit");
	if (!rc && sqlite3_column_int64(st, 0))
		rc = kt_ctx_error(ctx, KT_EINTERNAL, "kt_tx_commit: %s.geom violates Geometry constraint "
		                  "[geom-type or SRID not allowed] in %lld rows", l->name,
		                  (long long)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return rc;
}

int kt__bulk_finish(kt_ctx_t *ctx)
{
	struct kt_bulk *b = &ctx->bulk;
	if (!b->active)
		return 0;
	int rc = b->failed ? 0 : kt__history_flush(ctx);
	if (rc)
		return rc;
	if (b->failed)
		return kt_ctx_error(ctx, KT_EINVAL, "kt_tx_commit: a write of this bulk transaction failed "
		                    "half-way; it can only be rolled back");
	if (b->layer < 0)
		return 0;
	const kt_layer_t *l = ctx->store->cat->layers[b->layer];
	rc = check_geometries(ctx, l);
	if (!rc)
		rc = kt__rtree_fill(ctx, l, !b->touched);
	for (int i = 0; i < 2 && !rc; i++)
		rc = kt__exec(ctx, b->triggers[i]);
	if (!rc) { /* done: a retried commit must not do it twice */
		b->layer = -1;
		for (int i = 0; i < 2; i++) {
			kt_free(b->triggers[i]);
			b->triggers[i] = NULL;
		}
	}
	return rc;
}

void kt__bulk_end(kt_ctx_t *ctx)
{
	kt__history_discard(ctx); /* empty after a commit; forgotten with a rollback */
	for (int i = 0; i < 2; i++)
		kt_free(ctx->bulk.triggers[i]);
	memset(&ctx->bulk, 0, sizeof ctx->bulk);
	ctx->bulk.layer = -1;
}
