/*
 * store.c — the SpatiaLite store: creation and migration from the layer
 * definitions, opening, per-thread contexts, metadata and transactions.
 *
 * A store is one SQLite file in WAL mode with SpatiaLite metadata and:
 *   kt_meta     key/value: epsg, format, created_at, fictional…
 *   kt_layers   the definition (JSON) of every layer, as applied
 *   kt_batches  one row per import: source, who, when, report
 *   kt_history  every state of every feature (JSON + WKB), with who/when
 *   <layer>     one table per layer: common columns, typed attributes,
 *               a SpatiaLite geometry column with its R*Tree index
 * Migration only ever adds (layers, attributes); anything that would lose
 * or reinterpret data is refused before a single change is made, and the
 * whole migration runs in one transaction.
 * kt_tx_commit finishes a bulk transaction's deferred work (bulk.c) before
 * COMMIT; kt_tx_rollback forgets it.
 */
#include "kt_engine_int.h"
#include "kt_crs_int.h"

#include <geos_c.h>
#include <proj.h>
#include <spatialite.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KT_STORE_FORMAT "1"

int kt__db_open(const char *path, int create, sqlite3 **db, void **cache, kt_err_t *err)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	*db = NULL;
	*cache = NULL;
	if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
		kt__err(err, KT_EIO, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "cannot open");
		sqlite3_close(*db);
		*db = NULL;
		return KT_EIO;
	}
	*cache = spatialite_alloc_connection();
	spatialite_init_ex(*db, *cache, 0);
	sqlite3_busy_timeout(*db, 10000);
	char *msg = NULL;
	/* a large import is one transaction: room for its dirty pages (64 MiB
	 * at most, taken only when used) and statement journals in memory */
	if (sqlite3_exec(*db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"
	                      "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;", NULL, NULL, &msg) !=
	    SQLITE_OK) {
		kt__err(err, KT_EIO, "%s: %s", path, msg ? msg : "cannot configure");
		sqlite3_free(msg);
		kt__db_close(*db, *cache);
		return KT_EIO;
	}
	return 0;
}

void kt__db_close(sqlite3 *db, void *cache)
{
	if (db)
		sqlite3_close_v2(db);
	if (cache)
		spatialite_cleanup_ex(cache);
}

static int db_exec(sqlite3 *db, kt_err_t *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	if (!sql)
		return kt__err(err, KT_ENOMEM, "out of memory");
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		kt__err(err, KT_EIO, "%s (in: %.200s)", msg ? msg : sqlite3_errstr(rc), sql);
	sqlite3_free(msg);
	sqlite3_free(sql);
	return rc == SQLITE_OK ? 0 : KT_EIO;
}

const char *kt__sql_type(kt_attr_type_t t)
{
	switch (t) {
	case KT_ATTR_INTEGER:
	case KT_ATTR_BOOLEAN: return "INTEGER";
	case KT_ATTR_REAL: return "REAL";
	default: return "TEXT";
	}
}

static const char base_schema[] =
	"CREATE TABLE IF NOT EXISTS kt_meta (key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS kt_layers (name TEXT PRIMARY KEY, definition TEXT NOT NULL,"
	" created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS kt_batches (id INTEGER PRIMARY KEY AUTOINCREMENT, layer TEXT NOT NULL,"
	" source TEXT, who TEXT, started_at TEXT NOT NULL, finished_at TEXT, report TEXT);"
	"CREATE TABLE IF NOT EXISTS kt_history (id INTEGER PRIMARY KEY AUTOINCREMENT, layer TEXT NOT NULL,"
	" uid TEXT NOT NULL, version INTEGER NOT NULL, op TEXT NOT NULL, who TEXT, reason TEXT,"
	" at TEXT NOT NULL, state TEXT, geom BLOB, epsg INTEGER);"
	"CREATE INDEX IF NOT EXISTS kt_history_uid ON kt_history (layer, uid, version);";

/* SpatiaLite's own triggers keep the R*Tree with RTreeAlign(), which
 * prepares a statement per row, stamp geometry_columns_time on every
 * write, and look the column's type up in geometry_columns (with Lower()
 * on both sides) for each row they check: together most of an import's
 * time. They are replaced by plain SQL triggers of the same names (so
 * SpatiaLite's tools still find them) that SQLite compiles once with the
 * statement that fires them, with the type and SRID written in. SQLite's
 * R*Tree rounds stored boxes outward, as RTreeAlign did. */
static int lean_triggers(sqlite3 *db, const char *t, kt_err_t *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT geometry_type, srid FROM geometry_columns WHERE "
	                           "f_table_name = ? AND f_geometry_column = 'geom'", -1, &st, NULL))
		return kt__err(err, KT_EIO, "%s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
	int type = -1, srid = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		type = sqlite3_column_int(st, 0);
		srid = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	if (type < 0)
		return kt__err(err, KT_EIO, "layer %s: no geometry column registered", t);
	static const char check[] =
		"SELECT RAISE(ROLLBACK, '%q.geom violates Geometry constraint [geom-type or SRID not allowed]')"
		" WHERE GeometryConstraints(NEW.geom, %d, %d) IS NOT 1;";
	char *ins = sqlite3_mprintf(check, t, type, srid);
	int rc = db_exec(db, err,
		"DROP TRIGGER IF EXISTS \"tmi_%w_geom\"; DROP TRIGGER IF EXISTS \"tmu_%w_geom\";"
		"DROP TRIGGER IF EXISTS \"tmd_%w_geom\"; DROP TRIGGER IF EXISTS \"gii_%w_geom\";"
		"DROP TRIGGER IF EXISTS \"giu_%w_geom\"; DROP TRIGGER IF EXISTS \"ggi_%w_geom\";"
		"DROP TRIGGER IF EXISTS \"ggu_%w_geom\";"
		"CREATE TRIGGER \"ggi_%w_geom\" BEFORE INSERT ON \"%w\" FOR EACH ROW BEGIN %s END;"
		"CREATE TRIGGER \"ggu_%w_geom\" BEFORE UPDATE OF geom ON \"%w\" FOR EACH ROW BEGIN %s END;"
		"CREATE TRIGGER \"gii_%w_geom\" AFTER INSERT ON \"%w\" FOR EACH ROW"
		" WHEN NEW.geom IS NOT NULL BEGIN"
		" INSERT OR REPLACE INTO \"idx_%w_geom\" (pkid, xmin, xmax, ymin, ymax) VALUES (NEW.ROWID,"
		" MbrMinX(NEW.geom), MbrMaxX(NEW.geom), MbrMinY(NEW.geom), MbrMaxY(NEW.geom)); END;"
		"CREATE TRIGGER \"giu_%w_geom\" AFTER UPDATE OF geom ON \"%w\" FOR EACH ROW BEGIN"
		" DELETE FROM \"idx_%w_geom\" WHERE pkid = OLD.ROWID;"
		" INSERT INTO \"idx_%w_geom\" (pkid, xmin, xmax, ymin, ymax) SELECT NEW.ROWID,"
		" MbrMinX(NEW.geom), MbrMaxX(NEW.geom), MbrMinY(NEW.geom), MbrMaxY(NEW.geom)"
		" WHERE NEW.geom IS NOT NULL; END;",
		t, t, t, t, t, t, t, t, t, ins, t, t, ins, t, t, t, t, t, t, t);
	sqlite3_free(ins);
	return rc;
}

/* The class check is spelt with OR rather than IN ('A','B','C'): SQLite
 * 3.40 codes a CHECK's IN list as an ephemeral table built afresh for
 * every row written, a b-tree opened and filled per insert (the same
 * NULL-accepting constraint, at a fraction of the cost). */
static int create_layer_table(sqlite3 *db, const kt_layer_t *l, int epsg, kt_err_t *err)
{
	int rc = db_exec(db, err,
	                 "CREATE TABLE \"%w\" (fid INTEGER PRIMARY KEY AUTOINCREMENT,"
	                 " uid TEXT NOT NULL UNIQUE, source_id TEXT, batch_id INTEGER, version INTEGER NOT NULL,"
	                 " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, ascol_ref TEXT,"
	                 " precision_xy_cm REAL, precision_z_cm REAL, transform_accuracy_m REAL,"
	                 " dtdict_class TEXT CHECK (dtdict_class = 'A' OR dtdict_class = 'B' OR dtdict_class = 'C'),"
	                 " survey_date TEXT, survey_method TEXT, surveyor TEXT)",
	                 l->name);
	for (size_t i = 0; !rc && i < l->n_attrs; i++)
		rc = db_exec(db, err, "ALTER TABLE \"%w\" ADD COLUMN \"%w\" %s", l->name, l->attrs[i].name,
		             kt__sql_type(l->attrs[i].type));
	if (!rc)
		rc = db_exec(db, err, "CREATE INDEX \"%w_source_id\" ON \"%w\" (source_id)", l->name, l->name);
	if (!rc)
		rc = db_exec(db, err, "CREATE INDEX \"%w_ascol_ref\" ON \"%w\" (ascol_ref)", l->name, l->name);
	if (!rc && l->geom_type != KT_GEOM_NONE) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, "SELECT AddGeometryColumn(?, 'geom', ?, ?, ?, 0)", -1, &st, NULL) !=
		    SQLITE_OK)
			return kt__err(err, KT_EIO, "%s", sqlite3_errmsg(db));
		sqlite3_bind_text(st, 1, l->name, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, epsg);
		sqlite3_bind_text(st, 3, kt_geom_type_name(l->geom_type), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, l->has_z ? "XYZ" : "XY", -1, SQLITE_STATIC);
		int ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
		sqlite3_finalize(st);
		if (!ok)
			return kt__err(err, KT_EIO, "layer %s: SpatiaLite refused the geometry column "
			               "(EPSG:%d, %s)", l->name, epsg, kt_geom_type_name(l->geom_type));
		rc = db_exec(db, err, "SELECT CreateSpatialIndex('%q', 'geom')", l->name);
		if (!rc)
			rc = lean_triggers(db, l->name, err);
	}
	return rc;
}

/* Compares a stored definition with a new one. Returns 0 when the new one
 * only adds; fills *n_added with attributes to add (indexes in new). */
static int compare_layer(const kt_layer_t *old, const kt_layer_t *nw, kt_err_t *err)
{
	if (old->geom_type != nw->geom_type)
		return kt__err(err, KT_ESCHEMA, "layer %s: geometry %s in the store, %s in the definition; "
		               "changing it would reinterpret stored features — refused",
		               nw->name, kt_geom_type_name(old->geom_type), kt_geom_type_name(nw->geom_type));
	if (old->has_z != nw->has_z)
		return kt__err(err, KT_ESCHEMA, "layer %s: \"z\" changed (%s to %s) — refused", nw->name,
		               old->has_z ? "true" : "false", nw->has_z ? "true" : "false");
	for (size_t i = 0; i < old->n_attrs; i++) {
		const kt_attr_def_t *a = &old->attrs[i];
		const kt_attr_def_t *b = kt_layer_attr(nw, a->name);
		if (!b)
			return kt__err(err, KT_ESCHEMA, "layer %s: attribute \"%s\" is in the store but not in the "
			               "definition; removing it would drop data — refused", nw->name, a->name);
		if (a->type != b->type)
			return kt__err(err, KT_ESCHEMA, "layer %s: attribute \"%s\" is %s in the store, %s in the "
			               "definition — refused", nw->name, a->name, kt_attr_type_name(a->type),
			               kt_attr_type_name(b->type));
	}
	return 0;
}

static void note(const kt_init_opts_t *o, const char *fmt, ...)
{
	if (!o->on_change)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	o->on_change(buf, o->data);
}

/* Reads the stored definition of a layer; *out NULL when none. */
static int stored_layer(sqlite3 *db, const char *name, kt_layer_t **out, kt_err_t *err)
{
	sqlite3_stmt *st;
	*out = NULL;
	if (sqlite3_prepare_v2(db, "SELECT definition FROM kt_layers WHERE name = ?", -1, &st, NULL))
		return kt__err(err, KT_EIO, "%s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = kt_layer_parse((const char *)sqlite3_column_text(st, 0), name, err);
		if (!*out)
			rc = err ? err->code : KT_EINVAL;
	}
	sqlite3_finalize(st);
	return rc;
}

static int save_definition(sqlite3 *db, const kt_layer_t *l, kt_err_t *err)
{
	char now[32];
	kt_now_iso(now);
	return db_exec(db, err,
	               "INSERT INTO kt_layers (name, definition, created_at, updated_at) VALUES ('%q', '%q', '%q', '%q')"
	               " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition,"
	               " updated_at = excluded.updated_at WHERE definition <> excluded.definition",
	               l->name, l->definition_json, now, now);
}

static int migrate_layer(sqlite3 *db, const kt_layer_t *l, int epsg, const kt_init_opts_t *o,
                         kt_err_t *err)
{
	kt_layer_t *old;
	int rc = stored_layer(db, l->name, &old, err);
	if (rc)
		return rc;
	if (!old) {
		rc = create_layer_table(db, l, epsg, err);
		note(o, "layer %s: created (%s, %zu attributes)", l->name, kt_geom_type_name(l->geom_type),
		     l->n_attrs);
	} else {
		rc = compare_layer(old, l, err);
		for (size_t i = 0; !rc && i < l->n_attrs; i++) {
			if (kt_layer_attr(old, l->attrs[i].name))
				continue;
			rc = db_exec(db, err, "ALTER TABLE \"%w\" ADD COLUMN \"%w\" %s", l->name, l->attrs[i].name,
			             kt__sql_type(l->attrs[i].type));
			note(o, "layer %s: attribute %s added (%s)", l->name, l->attrs[i].name,
			     kt_attr_type_name(l->attrs[i].type));
		}
		if (!rc && strcmp(old->definition_json, l->definition_json))
			note(o, "layer %s: definition updated", l->name);
		kt_layer_free(old);
	}
	return rc ? rc : save_definition(db, l, err);
}

static int meta_epsg(sqlite3 *db, int *epsg)
{
	sqlite3_stmt *st;
	*epsg = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM kt_meta WHERE key = 'epsg'", -1, &st, NULL))
		return KT_EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		*epsg = atoi((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return 0;
}

static int check_epsg(int epsg, kt_err_t *err)
{
	PJ_CONTEXT *pc = proj_context_create();
	char def[32];
	snprintf(def, sizeof def, "EPSG:%d", epsg);
	PJ *crs = proj_create(pc, def);
	int ok = crs && proj_get_type(crs) == PJ_TYPE_PROJECTED_CRS;
	proj_destroy(crs);
	proj_context_destroy(pc);
	if (!ok)
		return kt__err(err, KT_ECRS, "EPSG:%d is not a projected CRS PROJ knows: a store needs "
		               "metric coordinates (e.g. EPSG:3948, 2154)", epsg);
	return 0;
}

static int init_in_tx(sqlite3 *db, int fresh, const kt_catalogue_t *cat, const kt_init_opts_t *o,
                      kt_err_t *err)
{
	int rc = 0, epsg = o->epsg ? o->epsg : 3948;
	if (fresh) {
		rc = db_exec(db, err, "SELECT InitSpatialMetadata()");
		if (!rc)
			rc = db_exec(db, err, "%s", base_schema);
		char now[32];
		kt_now_iso(now);
		if (!rc)
			rc = db_exec(db, err, "INSERT INTO kt_meta VALUES ('epsg', '%d'), ('format', '%s'),"
			             " ('created_at', '%q')", epsg, KT_STORE_FORMAT, now);
		note(o, "store created in EPSG:%d", epsg);
	} else {
		int stored;
		if (meta_epsg(db, &stored) || !stored)
			return kt__err(err, KT_ESCHEMA, "this file is not a kartenn store (no kt_meta epsg)");
		if (o->epsg && o->epsg != stored)
			return kt__err(err, KT_ESCHEMA, "the store is in EPSG:%d, not EPSG:%d; a store's CRS "
			               "cannot change (export and import into a new store)", stored, o->epsg);
		epsg = stored;
	}
	for (size_t i = 0; !rc && i < cat->n_layers; i++)
		rc = migrate_layer(db, cat->layers[i], epsg, o, err);
	return rc;
}

int kt_store_init(const char *path, const kt_init_opts_t *opts, kt_err_t *err)
{
	kt_init_opts_t none = {0};
	const kt_init_opts_t *o = opts ? opts : &none;
	kt_catalogue_t *cat = NULL;
	int rc = kt_catalogue_load_dir(o->layers_dir ? o->layers_dir : KT_LAYERS_DIR, &cat, err);
	if (rc)
		return rc;
	if (o->epsg && (rc = check_epsg(o->epsg, err))) {
		kt_catalogue_free(cat);
		return rc;
	}
	int fresh = access(path, F_OK) != 0;
	if (fresh && o->dry_run) {
		note(o, "store would be created in EPSG:%d", o->epsg ? o->epsg : 3948);
		for (size_t i = 0; i < cat->n_layers; i++)
			note(o, "layer %s: would be created", cat->layers[i]->name);
		kt_catalogue_free(cat);
		return 0;
	}
	sqlite3 *db;
	void *cache;
	rc = kt__db_open(path, fresh, &db, &cache, err);
	if (!rc && fresh)
		rc = db_exec(db, err, "PRAGMA journal_mode=WAL");
	if (!rc)
		rc = db_exec(db, err, "BEGIN IMMEDIATE");
	if (!rc) {
		rc = init_in_tx(db, fresh, cat, o, err);
		if (!rc && !o->dry_run)
			rc = db_exec(db, err, "COMMIT");
		if (rc || o->dry_run)
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	kt__db_close(db, cache);
	if (rc && fresh) {
		/* a store that was never committed is removed whole */
		char side[4200];
		unlink(path);
		snprintf(side, sizeof side, "%s-wal", path);
		unlink(side);
		snprintf(side, sizeof side, "%s-shm", path);
		unlink(side);
	}
	kt_catalogue_free(cat);
	return rc;
}

static int load_catalogue(sqlite3 *db, kt_catalogue_t **out, kt_err_t *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT name, definition FROM kt_layers ORDER BY name", -1, &st, NULL))
		return kt__err(err, KT_ESCHEMA, "not a kartenn store: %s", sqlite3_errmsg(db));
	kt_catalogue_t *cat = kt_calloc(1, sizeof *cat);
	size_t cap = 0;
	int rc = cat ? 0 : KT_ENOMEM;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		if (cat->n_layers == cap) {
			cap = cap ? 2 * cap : 16;
			kt_layer_t **grown = kt_realloc(cat->layers, cap * sizeof *grown);
			if (!grown) {
				rc = KT_ENOMEM;
				break;
			}
			cat->layers = grown;
		}
		kt_layer_t *l = kt_layer_parse((const char *)sqlite3_column_text(st, 1),
		                               (const char *)sqlite3_column_text(st, 0), err);
		if (!l)
			rc = err ? err->code : KT_EINVAL;
		else
			cat->layers[cat->n_layers++] = l;
	}
	sqlite3_finalize(st);
	if (rc) {
		kt_catalogue_free(cat);
		return rc == KT_ENOMEM ? kt__err(err, rc, "out of memory") : rc;
	}
	*out = cat;
	return 0;
}

int kt_store_open(const char *path, kt_store_t **out, kt_err_t *err)
{
	if (access(path, F_OK) != 0)
		return kt__err(err, KT_ENOENT, "%s: no such store (create it with kartenn init)", path);
	sqlite3 *db;
	void *cache;
	int rc = kt__db_open(path, 0, &db, &cache, err);
	if (rc)
		return rc;
	kt_store_t *s = kt_calloc(1, sizeof *s);
	if (!s)
		rc = kt__err(err, KT_ENOMEM, "out of memory");
	if (!rc && (meta_epsg(db, &s->epsg) || !s->epsg))
		rc = kt__err(err, KT_ESCHEMA, "%s: not a kartenn store (no kt_meta)", path);
	if (!rc)
		rc = load_catalogue(db, &s->cat, err);
	if (!rc && !(s->path = kt_strdup(path)))
		rc = kt__err(err, KT_ENOMEM, "out of memory");
	kt__db_close(db, cache);
	if (rc) {
		kt_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void kt_store_close(kt_store_t *s)
{
	if (!s)
		return;
	kt_catalogue_free(s->cat);
	kt_free(s->path);
	kt_free(s);
}

const kt_catalogue_t *kt_store_catalogue(const kt_store_t *s) { return s->cat; }
int kt_store_epsg(const kt_store_t *s) { return s->epsg; }
const char *kt_store_path(const kt_store_t *s) { return s->path; }

const kt_layer_t *kt_store_layer(const kt_store_t *s, const char *name)
{
	return kt_catalogue_find(s->cat, name);
}

int kt__layer_index(const kt_store_t *s, const char *name)
{
	for (size_t i = 0; name && i < s->cat->n_layers; i++)
		if (!strcmp(s->cat->layers[i]->name, name))
			return (int)i;
	return -1;
}

static void geos_message(const char *msg, void *data)
{
	kt_ctx_t *ctx = data;
	snprintf(ctx->errmsg, sizeof ctx->errmsg, "GEOS: %s", msg);
}

int kt_ctx_open(kt_store_t *store, kt_ctx_t **out, kt_err_t *err)
{
	kt_ctx_t *c = kt_calloc(1, sizeof *c);
	if (!c)
		return kt__err(err, KT_ENOMEM, "out of memory");
	c->store = store;
	c->bulk.layer = -1;
	c->uids.used = sizeof c->uids.bytes;
	int rc = kt__db_open(store->path, 0, &c->db, &c->spatialite_cache, err);
	if (!rc && !(c->stmts = kt_calloc(store->cat->n_layers * KT_STMT_COUNT_ + 1, sizeof *c->stmts)))
		rc = kt__err(err, KT_ENOMEM, "out of memory");
	if (!rc && !(c->geos = GEOS_init_r()))
		rc = kt__err(err, KT_ENOMEM, "GEOS_init_r failed");
	if (!rc) {
		GEOSContext_setErrorMessageHandler_r(c->geos, geos_message, c);
		if (!(c->proj = proj_context_create()))
			rc = kt__err(err, KT_ENOMEM, "proj_context_create failed");
		else /* PROJ's own messages would go to stderr: ours go on the ctx */
			proj_log_level(c->proj, PJ_LOG_NONE);
	}
	if (rc) {
		kt_ctx_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void kt_ctx_close(kt_ctx_t *c)
{
	if (!c)
		return;
	if (c->stmts)
		for (size_t i = 0; i < c->store->cat->n_layers * KT_STMT_COUNT_; i++)
			sqlite3_finalize(c->stmts[i]);
	kt_free(c->stmts);
	for (int i = 0; i < 3; i++)
		sqlite3_finalize(c->sp_stmts[i]);
	sqlite3_finalize(c->changes_last);
	sqlite3_finalize(c->hist.many);
	if (c->in_tx)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	kt__bulk_end(c);
	kt_free(c->conformed);
	kt__transform_cache_free(c->tcache);
	c->tcache = NULL;
	kt__db_close(c->db, c->spatialite_cache);
	if (c->proj)
		proj_context_destroy(c->proj);
	if (c->geos)
		GEOS_finish_r(c->geos);
	kt_free(c);
}

kt_store_t *kt_ctx_store(kt_ctx_t *c) { return c->store; }
void *kt_ctx_sqlite(kt_ctx_t *c) { return c->db; }
void *kt_ctx_geos(kt_ctx_t *c) { return c->geos; }
void *kt_ctx_proj(kt_ctx_t *c) { return c->proj; }

int kt__exec(kt_ctx_t *ctx, const char *sql)
{
	if (sqlite3_exec(ctx->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return kt__sqlite_error(ctx, sql);
	return 0;
}

int kt_tx_begin(kt_ctx_t *ctx)
{
	if (ctx->in_tx)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: a transaction is already open", __func__);
	int rc = kt__exec(ctx, "BEGIN IMMEDIATE");
	if (!rc)
		ctx->in_tx = 1;
	return rc;
}

int kt_tx_begin_bulk(kt_ctx_t *ctx, const char *layer)
{
	int rc = kt_tx_begin(ctx);
	if (rc || !(rc = kt__bulk_begin(ctx, layer)))
		return rc;
	char keep[sizeof ctx->errmsg];
	memcpy(keep, ctx->errmsg, sizeof keep);
	kt_tx_rollback(ctx);
	memcpy(ctx->errmsg, keep, sizeof keep); /* the rollback must not hide why */
	return rc;
}

int kt_tx_commit(kt_ctx_t *ctx)
{
	if (!ctx->in_tx)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: no transaction is open", __func__);
	int rc = kt__bulk_finish(ctx);
	if (!rc)
		rc = kt__exec(ctx, "COMMIT");
	if (!rc) {
		ctx->in_tx = 0;
		kt__bulk_end(ctx);
	}
	return rc;
}

int kt_tx_rollback(kt_ctx_t *ctx)
{
	if (!ctx->in_tx)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: no transaction is open", __func__);
	ctx->in_tx = 0;
	kt__bulk_end(ctx);
	return kt__exec(ctx, "ROLLBACK");
}

int kt_meta_get(kt_ctx_t *ctx, const char *key, char **value)
{
	sqlite3_stmt *st;
	*value = NULL;
	if (sqlite3_prepare_v2(ctx->db, "SELECT value FROM kt_meta WHERE key = ?", -1, &st, NULL))
		return kt__sqlite_error(ctx, __func__);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = KT_ENOENT;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*value = kt_strdup((const char *)sqlite3_column_text(st, 0));
		rc = *value ? 0 : KT_ENOMEM;
	} else
		kt_ctx_error(ctx, KT_ENOENT, "%s: no metadata \"%s\"", __func__, key);
	sqlite3_finalize(st);
	return rc;
}

int kt_meta_set(kt_ctx_t *ctx, const char *key, const char *value)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ctx->db, "INSERT OR REPLACE INTO kt_meta (key, value) VALUES (?, ?)", -1,
	                       &st, NULL))
		return kt__sqlite_error(ctx, __func__);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : kt__sqlite_error(ctx, __func__);
	sqlite3_finalize(st);
	return rc;
}

int kt_ctx_set_fixed_time(kt_ctx_t *ctx, const char *iso)
{
	if (iso && strlen(iso) >= sizeof ctx->fixed_time)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: \"%s\" is not an ISO 8601 time", __func__, iso);
	snprintf(ctx->fixed_time, sizeof ctx->fixed_time, "%s", iso ? iso : "");
	return 0;
}

/* The clock's text is made once a second: an import stamps every feature
 * and every history entry, tens of thousands a second. */
void kt__ctx_now(kt_ctx_t *ctx, char out[32])
{
	if (ctx->fixed_time[0]) {
		memcpy(out, ctx->fixed_time, sizeof ctx->fixed_time);
		return;
	}
	time_t t = time(NULL);
	if (t != ctx->now_second || !ctx->now_text[0]) {
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(ctx->now_text, sizeof ctx->now_text, "%Y-%m-%dT%H:%M:%SZ", &tm);
		ctx->now_second = t;
	}
	memcpy(out, ctx->now_text, sizeof ctx->now_text);
}

struct kt_transform_cache **kt__ctx_tcache(kt_ctx_t *ctx)
{
	return &ctx->tcache;
}

int kt__savepoint(kt_ctx_t *ctx, int i)
{
	static const char *const sql[3] = {
		"SAVEPOINT kt_write", "RELEASE kt_write", "ROLLBACK TO kt_write",
	};
	sqlite3_stmt **st = &ctx->sp_stmts[i];
	if (!*st && sqlite3_prepare_v3(ctx->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, st, NULL))
		return kt__sqlite_error(ctx, sql[i]);
	int rc = sqlite3_step(*st);
	sqlite3_reset(*st);
	return rc == SQLITE_DONE ? 0 : kt__sqlite_error(ctx, sql[i]);
}
