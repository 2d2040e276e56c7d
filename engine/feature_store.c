/*
 * feature_store.c — reading and writing features in their layer table.
 *
 * Invariants kept here:
 *   - a feature's geometry is stored in the store CRS, conformed to its
 *     layer's type (kt_geom_conform), never rounded;
 *   - every write bumps the version and appends a kt_history entry in the
 *     same savepoint, so the table and its history never disagree. The
 *     entry keeps the state the change replaced (none for an insert: the
 *     row itself is the newest state), which keeps inserts cheap. In a
 *     bulk transaction (bulk.c) there is no savepoint: the caller rolls the
 *     whole transaction back instead, and a failed write stops its commit;
 *   - an update or delete names the version it saw: if the stored one
 *     differs, KT_ECONFLICT and nothing changes (optimistic locking).
 * Statements are prepared once per ctx and layer (kt__stmt).
 */
#include "kt_engine_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Common columns, in the order of every SELECT, INSERT and UPDATE. */
static const char common_cols[] =
	"source_id, batch_id, version, created_at, updated_at, ascol_ref, precision_xy_cm, "
	"precision_z_cm, transform_accuracy_m, dtdict_class, survey_date, survey_method, surveyor";
#define N_COMMON 13

char *kt__select_columns(const kt_layer_t *l)
{
	char *cols = sqlite3_mprintf("fid, uid, %s", common_cols);
	for (size_t i = 0; cols && i < l->n_attrs; i++) {
		char *next = sqlite3_mprintf("%s, \"%w\"", cols, l->attrs[i].name);
		sqlite3_free(cols);
		cols = next;
	}
	if (cols && l->geom_type != KT_GEOM_NONE) {
		char *next = sqlite3_mprintf("%s, AsBinary(geom)", cols);
		sqlite3_free(cols);
		cols = next;
	}
	return cols;
}

static char *insert_sql(const kt_layer_t *l, int epsg)
{
	char *cols = sqlite3_mprintf("uid, %s", common_cols);
	char *vals = sqlite3_mprintf("?");
	for (int i = 0; i < N_COMMON; i++) {
		char *v = sqlite3_mprintf("%s, ?", vals);
		sqlite3_free(vals);
		vals = v;
	}
	for (size_t i = 0; i < l->n_attrs; i++) {
		char *c = sqlite3_mprintf("%s, \"%w\"", cols, l->attrs[i].name);
		char *v = sqlite3_mprintf("%s, ?", vals);
		sqlite3_free(cols);
		sqlite3_free(vals);
		cols = c;
		vals = v;
	}
	char *sql = l->geom_type == KT_GEOM_NONE
		? sqlite3_mprintf("INSERT INTO \"%w\" (%s) VALUES (%s)", l->name, cols, vals)
		: sqlite3_mprintf("INSERT INTO \"%w\" (%s, geom) VALUES (%s, GeomFromWKB(?, %d))", l->name,
		                  cols, vals, epsg);
	sqlite3_free(cols);
	sqlite3_free(vals);
	return sql;
}

static char *update_sql(const kt_layer_t *l, int epsg)
{
	char *set = sqlite3_mprintf("source_id = ?2, batch_id = ?3, version = ?4, created_at = ?5, "
	                            "updated_at = ?6, ascol_ref = ?7, precision_xy_cm = ?8, "
	                            "precision_z_cm = ?9, transform_accuracy_m = ?10, dtdict_class = ?11, "
	                            "survey_date = ?12, survey_method = ?13, surveyor = ?14");
	int n = N_COMMON + 1;
	for (size_t i = 0; i < l->n_attrs; i++) {
		char *s = sqlite3_mprintf("%s, \"%w\" = ?%d", set, l->attrs[i].name, ++n);
		sqlite3_free(set);
		set = s;
	}
	if (l->geom_type != KT_GEOM_NONE) {
		char *s = sqlite3_mprintf("%s, geom = GeomFromWKB(?%d, %d)", set, ++n, epsg);
		sqlite3_free(set);
		set = s;
	}
	char *sql = sqlite3_mprintf("UPDATE \"%w\" SET %s WHERE uid = ?1 AND version = ?%d", l->name, set,
	                            n + 1);
	sqlite3_free(set);
	return sql;
}

static char *stmt_sql(const kt_layer_t *l, enum kt_stmt_kind kind, int epsg)
{
	char *cols, *sql = NULL;
	switch (kind) {
	case KT_STMT_INSERT: return insert_sql(l, epsg);
	case KT_STMT_UPDATE: return update_sql(l, epsg);
	case KT_STMT_BY_UID:
	case KT_STMT_BY_SOURCE:
		cols = kt__select_columns(l);
		sql = sqlite3_mprintf("SELECT %s FROM \"%w\" WHERE %s = ?", cols, l->name,
		                      kind == KT_STMT_BY_UID ? "uid" : "source_id");
		sqlite3_free(cols);
		return sql;
	case KT_STMT_DELETE:
		return sqlite3_mprintf("DELETE FROM \"%w\" WHERE uid = ? AND version = ?", l->name);
	case KT_STMT_HISTORY:
		return sqlite3_mprintf("INSERT INTO kt_history (layer, uid, version, op, who, reason, at, "
		                       "state, geom, epsg) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	default: return NULL;
	}
}

int kt__stmt(kt_ctx_t *ctx, int li, enum kt_stmt_kind kind, sqlite3_stmt **out)
{
	sqlite3_stmt **slot = &ctx->stmts[(size_t)li * KT_STMT_COUNT_ + kind];
	if (!*slot) {
		char *sql = stmt_sql(ctx->store->cat->layers[li], kind, ctx->store->epsg);
		if (!sql)
			return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
		int rc = sqlite3_prepare_v3(ctx->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
		sqlite3_free(sql);
		if (rc != SQLITE_OK)
			return kt__sqlite_error(ctx, __func__);
	}
	sqlite3_reset(*slot);
	sqlite3_clear_bindings(*slot);
	*out = *slot;
	return 0;
}

static int layer_lookup(kt_ctx_t *ctx, const char *name, const char *fn, const kt_layer_t **l)
{
	int li = kt__layer_index(ctx->store, name);
	if (li < 0)
		return kt_ctx_error(ctx, KT_ENOENT, "%s: no layer \"%s\" in this store", fn, name ? name : "");
	*l = ctx->store->cat->layers[li];
	return li;
}

/* ---- rows → features --------------------------------------------------- */

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? kt_strdup((const char *)t) : NULL;
}

static double col_real(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int kt__feature_from_row(kt_ctx_t *ctx, const kt_layer_t *l, sqlite3_stmt *st, kt_feature_t **out)
{
	kt_feature_t *f = kt_feature_new(l);
	if (!f)
		return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
	f->fid = sqlite3_column_int64(st, 0);
	f->uid = col_text(st, 1);
	f->source_id = col_text(st, 2);
	f->batch_id = sqlite3_column_int64(st, 3);
	f->version = sqlite3_column_int64(st, 4);
	f->created_at = col_text(st, 5);
	f->updated_at = col_text(st, 6);
	f->ascol_ref = col_text(st, 7);
	f->precision.xy_cm = col_real(st, 8);
	f->precision.z_cm = col_real(st, 9);
	f->precision.transform_m = col_real(st, 10);
	const unsigned char *cls = sqlite3_column_text(st, 11);
	f->precision.dtdict_class = cls ? (char)cls[0] : 0;
	f->precision.survey_date = col_text(st, 12);
	f->precision.survey_method = col_text(st, 13);
	f->precision.surveyor = col_text(st, 14);
	int rc = 0, c = 15;
	for (size_t i = 0; !rc && i < l->n_attrs; i++, c++) {
		if (sqlite3_column_type(st, c) == SQLITE_NULL)
			continue;
		switch (l->attrs[i].type) {
		case KT_ATTR_INTEGER:
		case KT_ATTR_BOOLEAN: rc = kt_feature_set_int(f, i, sqlite3_column_int64(st, c)); break;
		case KT_ATTR_REAL: rc = kt_feature_set_real(f, i, sqlite3_column_double(st, c)); break;
		default: rc = kt_feature_set_text(f, i, (const char *)sqlite3_column_text(st, c));
		}
	}
	if (!rc && l->geom_type != KT_GEOM_NONE)
		rc = kt_feature_set_wkb(f, sqlite3_column_blob(st, c), (size_t)sqlite3_column_bytes(st, c),
		                        ctx->store->epsg);
	if (rc || !f->uid) {
		kt_feature_free(f);
		return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
	}
	*out = f;
	return 0;
}

/* Reprojects f's geometry in place from store CRS to out_epsg. */
int kt__feature_reproject(kt_ctx_t *ctx, kt_feature_t *f, int out_epsg)
{
	if (!f->wkb || !out_epsg || out_epsg == f->epsg)
		return 0;
	kt_transform_t *t;
	int rc = kt_ctx_transform(ctx, f->epsg, out_epsg, &t);
	if (!rc)
		rc = kt_transform_wkb(ctx, t, f->wkb, f->wkb_len);
	if (!rc)
		f->epsg = out_epsg;
	return rc;
}

static int get_one(kt_ctx_t *ctx, const char *layer, const char *key, enum kt_stmt_kind kind,
                   int out_epsg, kt_feature_t **out, const char *fn)
{
	const kt_layer_t *l;
	int li = layer_lookup(ctx, layer, fn, &l);
	if (li < 0)
		return li;
	sqlite3_stmt *st;
	int rc = kt__stmt(ctx, li, kind, &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = kt__feature_from_row(ctx, l, st, out);
	else if (step == SQLITE_DONE)
		rc = kt_ctx_error(ctx, KT_ENOENT, "%s: layer %s has no feature %s \"%s\"", fn, layer,
		                  kind == KT_STMT_BY_UID ? "uid" : "with source id", key);
	else
		rc = kt__sqlite_error(ctx, fn);
	sqlite3_reset(st);
	if (!rc && (rc = kt__feature_reproject(ctx, *out, out_epsg))) {
		kt_feature_free(*out);
		*out = NULL;
	}
	return rc;
}

int kt_feature_get(kt_ctx_t *ctx, const char *layer, const char *uid, int out_epsg, kt_feature_t **out)
{
	return get_one(ctx, layer, uid, KT_STMT_BY_UID, out_epsg, out, __func__);
}

int kt_feature_get_by_source(kt_ctx_t *ctx, const char *layer, const char *source_id,
                             kt_feature_t **out)
{
	return get_one(ctx, layer, source_id, KT_STMT_BY_SOURCE, 0, out, __func__);
}

/* ---- features → rows --------------------------------------------------- */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void bind_real(sqlite3_stmt *st, int i, double d)
{
	if (isnan(d))
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, d);
}

/* Binds uid, the common columns and the attributes from parameter 1. */
static void bind_feature(sqlite3_stmt *st, const kt_layer_t *l, const kt_feature_t *f)
{
	char cls[2] = {f->precision.dtdict_class, 0};
	bind_text(st, 1, f->uid);
	bind_text(st, 2, f->source_id);
	if (f->batch_id)
		sqlite3_bind_int64(st, 3, f->batch_id);
	sqlite3_bind_int64(st, 4, f->version);
	bind_text(st, 5, f->created_at);
	bind_text(st, 6, f->updated_at);
	bind_text(st, 7, f->ascol_ref);
	bind_real(st, 8, f->precision.xy_cm);
	bind_real(st, 9, f->precision.z_cm);
	bind_real(st, 10, f->precision.transform_m);
	if (cls[0]) /* cls lives on this stack frame: SQLite copies it */
		sqlite3_bind_text(st, 11, cls, 1, SQLITE_TRANSIENT);
	bind_text(st, 12, f->precision.survey_date);
	bind_text(st, 13, f->precision.survey_method);
	bind_text(st, 14, f->precision.surveyor);
	int p = 15;
	for (size_t i = 0; i < l->n_attrs; i++, p++) {
		const kt_value_t *v = &f->values[i];
		if (v->is_null)
			sqlite3_bind_null(st, p);
		else if (v->type == KT_ATTR_INTEGER || v->type == KT_ATTR_BOOLEAN)
			sqlite3_bind_int64(st, p, v->i);
		else if (v->type == KT_ATTR_REAL)
			bind_real(st, p, v->d);
		else
			bind_text(st, p, v->s);
	}
	if (l->geom_type != KT_GEOM_NONE)
		sqlite3_bind_blob(st, p, f->wkb, (int)f->wkb_len, SQLITE_STATIC);
}

/* Checks f fits l, reprojects and conforms its geometry into the store
 * CRS. On success f->wkb holds the conformed geometry. */
static int prepare_geometry(kt_ctx_t *ctx, const kt_layer_t *l, kt_feature_t *f, const char *fn)
{
	if (f->n_values != l->n_attrs)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: feature has %zu values, layer %s has %zu attributes",
		                    fn, f->n_values, l->name, l->n_attrs);
	for (size_t i = 0; i < l->n_attrs; i++)
		if (f->values[i].type != l->attrs[i].type)
			return kt_ctx_error(ctx, KT_EINVAL, "%s: value %zu is %s, attribute %s.%s is %s", fn, i,
			                    kt_attr_type_name(f->values[i].type), l->name, l->attrs[i].name,
			                    kt_attr_type_name(l->attrs[i].type));
		else if (l->attrs[i].required && f->values[i].is_null)
			return kt_ctx_error(ctx, KT_EINVAL, "%s: attribute %s.%s is required", fn, l->name,
			                    l->attrs[i].name);
	if (l->geom_type == KT_GEOM_NONE) {
		if (f->wkb)
			return kt_ctx_error(ctx, KT_EGEOM, "%s: layer %s has no geometry", fn, l->name);
		return 0;
	}
	if (!f->wkb)
		return kt_ctx_error(ctx, KT_EGEOM, "%s: layer %s needs a geometry", fn, l->name);
	int rc = 0;
	if (f->epsg && f->epsg != ctx->store->epsg) {
		kt_transform_t *t;
		rc = kt_ctx_transform(ctx, f->epsg, ctx->store->epsg, &t);
		if (!rc)
			rc = kt_transform_wkb(ctx, t, f->wkb, f->wkb_len);
		if (rc)
			return rc;
	}
	f->epsg = ctx->store->epsg;
	if (kt__conformed_is(ctx, f->wkb, f->wkb_len, (int)l->geom_type, l->has_z))
		return 0; /* the caller just conformed it (an import reports what it repaired) */
	unsigned char *wkb;
	size_t len;
	kt_geom_fix_t fix;
	rc = kt_geom_conform(ctx, f->wkb, f->wkb_len, l->geom_type, l->has_z, &wkb, &len, &fix, NULL, 0);
	if (rc)
		return rc;
	kt_free(f->wkb);
	f->wkb = wkb;
	f->wkb_len = len;
	return 0;
}

/* A write runs in a savepoint of the caller's transaction, or in its own
 * immediate transaction (taking the write lock first: a deferred one could
 * fail with SQLITE_BUSY when another thread writes between read and write). */
static int savepoint(kt_ctx_t *ctx)
{
	if (ctx->bulk.active) /* the caller rolls everything back (bulk.c) */
		return 0;
	return ctx->in_tx ? kt__savepoint(ctx, 0) : kt__exec(ctx, "BEGIN IMMEDIATE");
}

static int release(kt_ctx_t *ctx, int rc)
{
	if (ctx->bulk.active) {
		if (rc) /* part of the write may have landed: commit is refused */
			ctx->bulk.failed = 1;
		return rc;
	}
	if (!ctx->in_tx) {
		if (rc || kt__exec(ctx, "COMMIT")) {
			sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
			return rc ? rc : KT_EIO;
		}
		return 0;
	}
	if (rc)
		kt__savepoint(ctx, 2);
	kt__savepoint(ctx, 1);
	return rc;
}

static int do_insert(kt_ctx_t *ctx, int li, const kt_layer_t *l, kt_feature_t *f, const char *op,
                     const kt_actor_t *actor)
{
	sqlite3_stmt *st;
	int rc = kt__stmt(ctx, li, KT_STMT_INSERT, &st);
	if (rc)
		return rc;
	bind_feature(st, l, f);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = kt__sqlite_error(ctx, "kt_feature_insert");
		if (sqlite3_extended_errcode(ctx->db) == SQLITE_CONSTRAINT_UNIQUE)
			rc = kt_ctx_error(ctx, KT_EEXIST, "kt_feature_insert: uid %s already in layer %s", f->uid,
			                  l->name);
	}
	sqlite3_reset(st);
	if (!rc) {
		f->fid = sqlite3_last_insert_rowid(ctx->db);
		rc = kt__history_add(ctx, l, NULL, f->uid, f->version, op, actor);
	}
	return rc;
}

/* A uid as kt_uid_new makes it, with the random bits taken from a
 * per-ctx pool: one getrandom call per 256 uids instead of one each. */
int kt__uid_make(kt_ctx_t *ctx, char out[37])
{
	struct kt_uid_pool *p = &ctx->uids;
	if (p->used + 16 > sizeof p->bytes) {
		if (getrandom(p->bytes, sizeof p->bytes, 0) != (ssize_t)sizeof p->bytes)
			return KT_EIO;
		p->used = 0;
	}
	kt__uid_format(p->bytes + p->used, out);
	p->used += 16;
	return 0;
}

int kt_feature_insert(kt_ctx_t *ctx, const char *layer, kt_feature_t *f, const kt_actor_t *actor)
{
	const kt_layer_t *l;
	int li = layer_lookup(ctx, layer, __func__, &l);
	if (li < 0)
		return li;
	int rc = prepare_geometry(ctx, l, f, __func__);
	if (rc)
		return rc;
	if (!f->uid) {
		char uid[37];
		if ((rc = kt__uid_make(ctx, uid)) || (rc = kt_feature_set_string(&f->uid, uid)))
			return kt_ctx_error(ctx, rc, "%s: cannot make a uid", __func__);
	}
	char now[32];
	kt__ctx_now(ctx, now);
	if (kt_feature_set_string(&f->created_at, now) || kt_feature_set_string(&f->updated_at, now))
		return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
	f->version = 1;
	if ((rc = savepoint(ctx)))
		return rc;
	return release(ctx, do_insert(ctx, li, l, f, "insert", actor));
}

/* Reads the stored state of uid: KT_ENOENT when absent. */
static int stored_feature(kt_ctx_t *ctx, int li, const kt_layer_t *l, const char *uid,
                          kt_feature_t **out, const char *fn)
{
	sqlite3_stmt *st;
	int rc = kt__stmt(ctx, li, KT_STMT_BY_UID, &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = kt__feature_from_row(ctx, l, st, out);
	else if (step == SQLITE_DONE)
		rc = kt_ctx_error(ctx, KT_ENOENT, "%s: layer %s has no feature uid \"%s\"", fn, l->name, uid);
	else
		rc = kt__sqlite_error(ctx, fn);
	sqlite3_reset(st);
	return rc;
}

/* Replaces the stored state before (version before->version) by f. */
static int do_update(kt_ctx_t *ctx, int li, const kt_layer_t *l, kt_feature_t *f,
                     const kt_feature_t *before, const char *op, const kt_actor_t *actor)
{
	char now[32];
	kt__ctx_now(ctx, now);
	if (kt_feature_set_string(&f->updated_at, now) ||
	    kt_feature_set_string(&f->created_at, before->created_at))
		return kt_ctx_error(ctx, KT_ENOMEM, "kt_feature_update: out of memory");
	sqlite3_stmt *st;
	int rc = kt__stmt(ctx, li, KT_STMT_UPDATE, &st);
	if (rc)
		return rc;
	if (ctx->bulk.layer == li) /* its R*Tree trigger runs: no packing at commit */
		ctx->bulk.touched = 1;
	f->version = before->version + 1;
	bind_feature(st, l, f);
	sqlite3_bind_int64(st, N_COMMON + 2 + (int)l->n_attrs + (l->geom_type != KT_GEOM_NONE),
	                   before->version);
	if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(ctx->db) != 1)
		rc = kt__sqlite_error(ctx, "kt_feature_update");
	sqlite3_reset(st);
	if (!rc)
		rc = kt__history_add(ctx, l, before, f->uid, f->version, op, actor);
	if (rc)
		f->version = before->version;
	return rc;
}

/* Checks the version f was made on, then updates. */
static int checked_update(kt_ctx_t *ctx, int li, const kt_layer_t *l, kt_feature_t *f,
                          const kt_actor_t *actor)
{
	kt_feature_t *before = NULL;
	int rc = stored_feature(ctx, li, l, f->uid, &before, "kt_feature_update");
	if (!rc && before->version != f->version)
		rc = kt_ctx_error(ctx, KT_ECONFLICT, "kt_feature_update: %s/%s is at version %lld, the change "
		                  "was made on version %lld — reload and retry", l->name, f->uid,
		                  (long long)before->version, (long long)f->version);
	if (!rc)
		rc = do_update(ctx, li, l, f, before, "update", actor);
	kt_feature_free(before);
	return rc;
}

int kt_feature_update(kt_ctx_t *ctx, const char *layer, kt_feature_t *f, const kt_actor_t *actor)
{
	const kt_layer_t *l;
	int li = layer_lookup(ctx, layer, __func__, &l);
	if (li < 0)
		return li;
	if (!f->uid)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: the feature has no uid", __func__);
	int rc = prepare_geometry(ctx, l, f, __func__);
	if (rc || (rc = savepoint(ctx)))
		return rc;
	return release(ctx, checked_update(ctx, li, l, f, actor));
}

int kt_feature_delete(kt_ctx_t *ctx, const char *layer, const char *uid, int64_t expected_version,
                      const kt_actor_t *actor)
{
	const kt_layer_t *l;
	int li = layer_lookup(ctx, layer, __func__, &l);
	if (li < 0)
		return li;
	int rc = savepoint(ctx);
	if (rc)
		return rc;
	kt_feature_t *before = NULL;
	rc = stored_feature(ctx, li, l, uid, &before, __func__);
	if (!rc && before->version != expected_version)
		rc = kt_ctx_error(ctx, KT_ECONFLICT, "%s: %s/%s is at version %lld, not %lld", __func__, layer,
		                  uid, (long long)before->version, (long long)expected_version);
	sqlite3_stmt *st;
	if (ctx->bulk.layer == li)
		ctx->bulk.touched = 1;
	if (!rc && !(rc = kt__stmt(ctx, li, KT_STMT_DELETE, &st))) {
		sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, before->version);
		if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(ctx->db) != 1)
			rc = kt__sqlite_error(ctx, __func__);
		sqlite3_reset(st);
	}
	if (!rc)
		rc = kt__history_add(ctx, l, before, uid, before->version + 1, "delete", actor);
	kt_feature_free(before);
	return release(ctx, rc);
}

/* Restores: called by history.c with the state to bring back. f->version
 * is the version after the last history entry (used when the feature was
 * deleted and comes back). */
int kt__feature_put(kt_ctx_t *ctx, const char *layer, kt_feature_t *f, const kt_actor_t *actor);
int kt__feature_put(kt_ctx_t *ctx, const char *layer, kt_feature_t *f, const kt_actor_t *actor)
{
	const kt_layer_t *l;
	int li = layer_lookup(ctx, layer, __func__, &l);
	if (li < 0)
		return li;
	int rc = prepare_geometry(ctx, l, f, __func__);
	if (rc || (rc = savepoint(ctx)))
		return rc;
	kt_feature_t *before = NULL;
	rc = stored_feature(ctx, li, l, f->uid, &before, __func__);
	if (!rc) {
		rc = do_update(ctx, li, l, f, before, "restore", actor);
	} else if (rc == KT_ENOENT) {
		/* a deleted feature comes back under its own uid */
		char now[32];
		kt__ctx_now(ctx, now);
		rc = kt_feature_set_string(&f->updated_at, now);
		if (!rc)
			rc = do_insert(ctx, li, l, f, "restore", actor);
	}
	kt_feature_free(before);
	return release(ctx, rc);
}

/* ---- queries ------------------------------------------------------------ */

/* A plain query is a select without condition or sort (feature_select.c
 * holds the one implementation of bbox filtering and paging). */
int kt_features_query(kt_ctx_t *ctx, const kt_query_t *q, kt_feature_cb cb, void *data)
{
	kt_select_t s = {.q = *q};
	return kt_features_select(ctx, &s, cb, data);
}

int kt_features_count(kt_ctx_t *ctx, const char *layer, int64_t *count)
{
	const kt_layer_t *l;
	if (layer_lookup(ctx, layer, __func__, &l) < 0)
		return KT_ENOENT;
	char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", l->name);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return kt__sqlite_error(ctx, __func__);
	rc = sqlite3_step(st) == SQLITE_ROW ? 0 : kt__sqlite_error(ctx, __func__);
	*count = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc;
}
