/*
 * kt_engine.h — the public interface of kartenn's spatial store.
 *
 * The engine holds the layer catalogue, the SpatiaLite storage, CRS work
 * (PROJ), geometry work (GEOS), DT-DICT precision grading and the history
 * of every feature. It knows nothing of HTTP or GDAL.
 *
 * Two kinds of handle:
 *   kt_store_t  what is shared between threads: the path and the catalogue
 *               of layers, read once at open and immutable afterwards.
 *   kt_ctx_t    what a thread owns: its SQLite connection (WAL), its GEOS
 *               context, its PROJ context, its last error message. A ctx is
 *               used by one thread at a time; open one per worker thread.
 *
 * Conventions: every function returning int returns 0 or a negative KT_E*
 * code (kt_strerror() names it); the human message is on the ctx
 * (kt_errmsg()). Functions that run before a ctx exists take a kt_err_t.
 * The caller that opens or allocates closes or frees.
 */
#ifndef KT_ENGINE_H
#define KT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---------------------------------------------------------- */

enum {
	KT_OK = 0,
	KT_ENOMEM = -1,     /* allocation failed */
	KT_EINVAL = -2,     /* bad argument or bad input data */
	KT_ENOENT = -3,     /* no such layer, feature, file */
	KT_EIO = -4,        /* read/write failure, SQLite error */
	KT_ECONFLICT = -5,  /* stale version (optimistic locking) */
	KT_ESCHEMA = -6,    /* layer definitions incompatible with the store */
	KT_ECRS = -7,       /* unknown CRS or no acceptable transformation */
	KT_EGEOM = -8,      /* geometry invalid, empty or of the wrong type */
	KT_EEXIST = -9,     /* already exists */
	KT_EABORT = -10,    /* stopped by a callback or by the user */
	KT_EINTERNAL = -11, /* a bug: an invariant did not hold */
};

const char *kt_strerror(int code);

/* An error message for calls that have no ctx yet. */
typedef struct kt_err {
	int code;
	char msg[512];
} kt_err_t;

/* ---- allocation hook ---------------------------------------------------
 * Every engine allocation goes through these, so tests can make the Nth
 * one fail. kt_alloc_fail_after(n) makes the allocation n+1 from now fail
 * (n < 0 turns failure injection off). Not for use in production code. */
void *kt_malloc(size_t n);
void *kt_calloc(size_t count, size_t size);
void *kt_realloc(void *p, size_t n);
char *kt_strdup(const char *s);
void kt_free(void *p);
void kt_alloc_fail_after(long n);

/* ---- the layer catalogue --------------------------------------------- */

struct kt_feature;

typedef enum kt_attr_type {
	KT_ATTR_TEXT = 1,
	KT_ATTR_INTEGER,
	KT_ATTR_REAL,
	KT_ATTR_BOOLEAN,
	KT_ATTR_DATE,     /* ISO 8601 date, YYYY-MM-DD, stored as text */
	KT_ATTR_DATETIME, /* ISO 8601 date-time, stored as text */
} kt_attr_type_t;

typedef enum kt_geom_type {
	KT_GEOM_NONE = 0, /* a table without geometry (interventions, deceased) */
	KT_GEOM_POINT = 1,
	KT_GEOM_LINESTRING = 2,
	KT_GEOM_POLYGON = 3,
	KT_GEOM_MULTIPOINT = 4,
	KT_GEOM_MULTILINESTRING = 5,
	KT_GEOM_MULTIPOLYGON = 6,
} kt_geom_type_t;

typedef enum kt_network_kind {
	KT_NETWORK_NONE = 0, /* not a network: no DT-DICT class */
	KT_NETWORK_RIGID,    /* class A needs <= 40 cm */
	KT_NETWORK_FLEXIBLE, /* class A needs <= 50 cm */
} kt_network_kind_t;

typedef struct kt_attr_def {
	char *name;   /* column name: [a-z][a-z0-9_]* */
	char *title;  /* human title (French) */
	kt_attr_type_t type;
	int is_public;   /* may appear in tiles, WMS/WFS, open data */
	int required;    /* NOT NULL on import */
} kt_attr_def_t;

typedef struct kt_layer {
	char *name;      /* table-safe name: [a-z][a-z0-9_]* */
	char *title;
	char *abstract;
	char *theme;     /* e.g. "ELECECL" for street lighting (CNIG StaR-DT) */
	kt_geom_type_t geom_type;
	int has_z;       /* geometry stored XYZ */
	kt_network_kind_t network;
	int is_public;   /* the layer itself is published */
	/* Feature-level publication rule ("publish_when" in the definition):
	 * when publish_attr is set, only features whose text attribute
	 * publish_attr equals publish_value are published (collaborative maps
	 * publish moderated contributions only). NULL: every feature. */
	char *publish_attr;
	char *publish_value;
	char *publish_sql;  /* the rule as SQL (kt_layer_publish_sql) */
	int minzoom, maxzoom;
	char *licence;   /* e.g. "Licence Ouverte 2.0" */
	char *attribution;
	kt_attr_def_t *attrs;
	size_t n_attrs;
	char *definition_json; /* the source definition, as stored */
} kt_layer_t;

/* Parses one layer definition (JSON text). On error returns NULL and fills
 * err (with the file name given as origin, and the key at fault). */
kt_layer_t *kt_layer_parse(const char *json, const char *origin, kt_err_t *err);
void kt_layer_free(kt_layer_t *layer);
const kt_attr_def_t *kt_layer_attr(const kt_layer_t *layer, const char *name);
/* 1 when f may leave the server under the layer's publication rule (the
 * layer's own is_public and attribute flags are the caller's to apply). */
int kt_layer_feature_published(const kt_layer_t *layer, const struct kt_feature *f);
/* The same rule as an SQL condition over the layer table, for queries
 * that filter in SQL ("\"etat\" = 'published'"), or NULL when the layer
 * publishes every feature. Owned by the layer. */
const char *kt_layer_publish_sql(const kt_layer_t *layer);
int kt_layer_attr_index(const kt_layer_t *layer, const char *name);
const char *kt_geom_type_name(kt_geom_type_t t);   /* "POINT", ... */
const char *kt_attr_type_name(kt_attr_type_t t);   /* "text", ... */

/* Loads every *.json of a directory, sorted by file name. */
typedef struct kt_catalogue {
	kt_layer_t **layers;
	size_t n_layers;
} kt_catalogue_t;

int kt_catalogue_load_dir(const char *dir, kt_catalogue_t **out, kt_err_t *err);
void kt_catalogue_free(kt_catalogue_t *cat);
const kt_layer_t *kt_catalogue_find(const kt_catalogue_t *cat, const char *name);

/* ---- store and contexts ---------------------------------------------- */

typedef struct kt_store kt_store_t;
typedef struct kt_ctx kt_ctx_t;

typedef struct kt_init_opts {
	const char *layers_dir; /* definitions to create or migrate to */
	int epsg;               /* store CRS for a new store; 0 = 3948. On an
	                         * existing store it must match or be 0. */
	int dry_run;            /* report what would change, change nothing */
	/* Called once per change applied (or planned, with dry_run). */
	void (*on_change)(const char *what, void *data);
	void *data;
} kt_init_opts_t;

/* Creates a store, or migrates an existing one to the definitions: new
 * layers are created, new attributes added. A change that would lose data
 * (removed attribute or layer, changed type or geometry) is refused with
 * KT_ESCHEMA and a message naming the layer and attribute; nothing is
 * changed then. */
int kt_store_init(const char *path, const kt_init_opts_t *opts, kt_err_t *err);

/* Opens an existing store; reads the catalogue from it. */
int kt_store_open(const char *path, kt_store_t **out, kt_err_t *err);
void kt_store_close(kt_store_t *store);
const kt_catalogue_t *kt_store_catalogue(const kt_store_t *store);
const kt_layer_t *kt_store_layer(const kt_store_t *store, const char *name);
int kt_store_epsg(const kt_store_t *store);
const char *kt_store_path(const kt_store_t *store);

/* A per-thread context on an open store. */
int kt_ctx_open(kt_store_t *store, kt_ctx_t **out, kt_err_t *err);
void kt_ctx_close(kt_ctx_t *ctx);
const char *kt_errmsg(const kt_ctx_t *ctx);
kt_store_t *kt_ctx_store(kt_ctx_t *ctx);
/* The thread's handles, for modules that build on the engine. */
void *kt_ctx_sqlite(kt_ctx_t *ctx);  /* sqlite3 * */
void *kt_ctx_geos(kt_ctx_t *ctx);    /* GEOSContextHandle_t */
void *kt_ctx_proj(kt_ctx_t *ctx);    /* PJ_CONTEXT * */
/* Sets the ctx message (printf-style) and returns code. */
int kt_ctx_error(kt_ctx_t *ctx, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Makes the ctx stamp every change with this UTC time instead of the
 * clock (deterministic demo data, tests); NULL returns to the clock. */
int kt_ctx_set_fixed_time(kt_ctx_t *ctx, const char *iso);

/* Store metadata (kt_meta table): key/value text. */
int kt_meta_get(kt_ctx_t *ctx, const char *key, char **value); /* kt_free */
int kt_meta_set(kt_ctx_t *ctx, const char *key, const char *value);

/* Transactions. Nested begin is refused. Every write below runs inside
 * the caller's transaction if one is open, else in its own. */
int kt_tx_begin(kt_ctx_t *ctx);
int kt_tx_commit(kt_ctx_t *ctx);
int kt_tx_rollback(kt_ctx_t *ctx);
/* A transaction for loading many features into layer (an import), for a
 * caller that rolls it all back when a write fails. As kt_tx_begin, and:
 *  - writes take no savepoint of their own, so a write that fails may
 *    leave part of itself: the transaction is then marked failed,
 *    kt_tx_commit refuses it (KT_EINVAL) and only kt_tx_rollback remains;
 *  - when layer holds no feature yet, the check of its geometries and its
 *    spatial index are done once by kt_tx_commit instead of row by row: a
 *    bbox query on layer inside this transaction does not see the
 *    features written in it.
 * layer may be NULL (only the first point applies). */
int kt_tx_begin_bulk(kt_ctx_t *ctx, const char *layer);

/* ---- features -------------------------------------------------------- */

typedef struct kt_value {
	kt_attr_type_t type; /* of the layer attribute */
	int is_null;
	int64_t i;  /* INTEGER, BOOLEAN */
	double d;   /* REAL */
	char *s;    /* TEXT, DATE, DATETIME (owned by the feature) */
} kt_value_t;

/* Survey precision of a network object. NAN for unknown. */
typedef struct kt_precision {
	double xy_cm;
	double z_cm;
	double transform_m;   /* accuracy of the CRS transformations passed */
	char dtdict_class;    /* 'A', 'B', 'C', or 0 when not a network layer */
	char *survey_date;    /* owned */
	char *survey_method;  /* owned */
	char *surveyor;       /* owned */
} kt_precision_t;

typedef struct kt_feature {
	int64_t fid;          /* row id: not stable across stores */
	char *uid;            /* stable identifier, never reused */
	char *source_id;      /* identifier in the source (upsert key) */
	int64_t batch_id;     /* import batch, 0 when edited by hand */
	int64_t version;      /* 1 at creation, +1 per change */
	char *created_at;     /* ISO 8601 UTC */
	char *updated_at;
	char *ascol_ref;      /* ASCOL asset reference */
	unsigned char *wkb;   /* ISO WKB, NULL for a layer without geometry */
	size_t wkb_len;
	int epsg;             /* CRS of wkb */
	kt_value_t *values;   /* n_values == layer->n_attrs, in layer order */
	size_t n_values;
	kt_precision_t precision;
} kt_feature_t;

/* A fresh feature with n_values null values typed after the layer. */
kt_feature_t *kt_feature_new(const kt_layer_t *layer);
void kt_feature_free(kt_feature_t *f);
kt_feature_t *kt_feature_clone_deep(const kt_feature_t *f);
/* Setters copy their argument. */
int kt_feature_set_text(kt_feature_t *f, size_t i, const char *s);
int kt_feature_set_int(kt_feature_t *f, size_t i, int64_t v);
int kt_feature_set_real(kt_feature_t *f, size_t i, double v);
int kt_feature_set_null(kt_feature_t *f, size_t i);
int kt_feature_set_wkb(kt_feature_t *f, const unsigned char *wkb, size_t len, int epsg);
int kt_feature_set_string(char **slot, const char *s); /* for uid, source_id… */
/* 1 when a and b hold the same content: values, geometry bytes, ascol_ref,
 * precision (not uid, version, timestamps, batch). */
int kt_feature_same(const kt_feature_t *a, const kt_feature_t *b);

/* Who makes a change, for the history. */
typedef struct kt_actor {
	const char *who;     /* user name or "import" */
	const char *reason;  /* free text, may be NULL */
} kt_actor_t;

/* Reads one feature by uid; out_epsg 0 = store CRS. KT_ENOENT if none. */
int kt_feature_get(kt_ctx_t *ctx, const char *layer, const char *uid,
                   int out_epsg, kt_feature_t **out);
/* Looks a feature up by its source identifier. */
int kt_feature_get_by_source(kt_ctx_t *ctx, const char *layer,
                             const char *source_id, kt_feature_t **out);

/* Inserts f (geometry in f->epsg, reprojected to the store CRS if needed).
 * Assigns uid when f->uid is NULL, sets version 1 and timestamps, writes
 * fid/uid/version back into f. */
int kt_feature_insert(kt_ctx_t *ctx, const char *layer, kt_feature_t *f,
                      const kt_actor_t *actor);
/* Replaces the feature f->uid. f->version must be the stored version,
 * else KT_ECONFLICT and nothing changes. On success f->version is the new
 * version. The previous state goes to the history. */
int kt_feature_update(kt_ctx_t *ctx, const char *layer, kt_feature_t *f,
                      const kt_actor_t *actor);
/* Deletes uid if its version is expected_version (KT_ECONFLICT else). The
 * uid is never reused; the feature stays in the history. */
int kt_feature_delete(kt_ctx_t *ctx, const char *layer, const char *uid,
                      int64_t expected_version, const kt_actor_t *actor);

/* Called for each feature; return non-zero to stop (the query then
 * returns KT_EABORT). The feature is borrowed for the call only. */
typedef int (*kt_feature_cb)(const kt_feature_t *f, void *data);

typedef struct kt_query {
	const char *layer;
	int has_bbox;
	double bbox[4];    /* minx, miny, maxx, maxy in bbox_epsg (x = easting
	                    * or longitude: traditional GIS order) */
	int bbox_epsg;     /* 0 = store CRS */
	int out_epsg;      /* 0 = store CRS */
	int64_t limit;     /* 0 = no limit */
	int64_t offset;
} kt_query_t;

int kt_features_query(kt_ctx_t *ctx, const kt_query_t *q, kt_feature_cb cb,
                      void *data);
int kt_features_count(kt_ctx_t *ctx, const char *layer, int64_t *count);

/* ---- history --------------------------------------------------------- */

typedef struct kt_history_entry {
	int64_t id;
	const char *uid;
	int64_t version;     /* the version this entry produced (0 = deleted) */
	const char *op;      /* "insert", "update", "delete", "restore" */
	const char *who;
	const char *reason;
	const char *at;
	const kt_feature_t *state; /* the feature as it was after op (NULL for delete) */
} kt_history_entry_t;

typedef int (*kt_history_cb)(const kt_history_entry_t *e, void *data);

int kt_history_list(kt_ctx_t *ctx, const char *layer, const char *uid,
                    kt_history_cb cb, void *data);
/* Makes the state of uid at version the current one (a new version), or
 * recreates a deleted feature. */
int kt_feature_restore(kt_ctx_t *ctx, const char *layer, const char *uid,
                       int64_t version, const kt_actor_t *actor);

/* ---- changes ----------------------------------------------------------
 * Every write (insert, update, delete, restore), by this process or any
 * other on the same store, has an increasing change id. A watcher (the
 * tile cache) asks cheaply for the last id, then lists the changes after
 * the last one it applied, each with the bounding box of the feature's
 * geometry before and after the change, in the store CRS. */
typedef struct kt_change {
	int64_t id;
	const char *layer;
	const char *uid;
	const char *op;        /* "insert", "update", "delete", "restore" */
	int has_before;        /* the feature had a geometry before */
	double before[4];      /* minx, miny, maxx, maxy */
	int has_after;         /* and after (0 when deleted since) */
	double after[4];
} kt_change_t;

typedef int (*kt_change_cb)(const kt_change_t *c, void *data);

/* The id of the latest change, 0 when none (one indexed read, statement
 * cached on the ctx). */
int kt_changes_last(kt_ctx_t *ctx, int64_t *id);
/* Calls cb for every change with after < id <= upto, oldest first. The
 * "after" box is the geometry the feature got from the change: the one
 * the next change replaced, or its current one. */
int kt_changes_list(kt_ctx_t *ctx, int64_t after, int64_t upto, kt_change_cb cb, void *data);

/* ---- import batches (provenance) -------------------------------------- */

int kt_batch_begin(kt_ctx_t *ctx, const char *layer, const char *source,
                   const char *who, int64_t *batch_id);
int kt_batch_finish(kt_ctx_t *ctx, int64_t batch_id, const char *report_json);

/* ---- CRS (PROJ) ------------------------------------------------------ */

typedef struct kt_transform kt_transform_t;

/* A transformation between two CRS given as "EPSG:n", WKT or PROJ string.
 * Refuses a ballpark transformation (KT_ECRS) unless allow_ballpark.
 * accuracy_m is the accuracy PROJ reports for the operation it uses; 0 for
 * a pure conversion, NAN when unknown. */
int kt_transform_new(kt_ctx_t *ctx, const char *src, const char *dst,
                     int allow_ballpark, kt_transform_t **out);
void kt_transform_free(kt_transform_t *t);
double kt_transform_accuracy(const kt_transform_t *t);
const char *kt_transform_name(const kt_transform_t *t);
/* Transforms the coordinates of an ISO WKB geometry in place. */
int kt_transform_wkb(kt_ctx_t *ctx, kt_transform_t *t, unsigned char *wkb,
                     size_t len);
int kt_transform_point(kt_ctx_t *ctx, kt_transform_t *t, double *x, double *y,
                       double *z);
/* Transforms a bbox (densified edges) to an enclosing bbox. */
int kt_transform_bbox(kt_ctx_t *ctx, kt_transform_t *t, const double in[4],
                      double out[4]);
/* A cached transformation EPSG:from -> EPSG:to owned by ctx (do not free). */
int kt_ctx_transform(kt_ctx_t *ctx, int from_epsg, int to_epsg,
                     kt_transform_t **out);

/* ---- geometry (GEOS) ------------------------------------------------- */

typedef enum kt_geom_fix {
	KT_GEOM_VALID = 0,    /* valid as given */
	KT_GEOM_REPAIRED = 1, /* repaired by make-valid, same type */
	KT_GEOM_PROMOTED = 2, /* single promoted to multi, or 1-part multi demoted */
} kt_geom_fix_t;

/* Checks an ISO WKB geometry against a layer geometry type: rejects empty
 * geometries and wrong types (KT_EGEOM, reason on ctx), repairs invalid
 * ones with make-valid (rejecting when repair changes the type), promotes
 * single to multi as the layer asks. On success *out is a new WKB
 * (kt_free) and *fix says what was done; reason (may be NULL) receives
 * GEOS's invalidity reason when repaired. */
int kt_geom_conform(kt_ctx_t *ctx, const unsigned char *wkb, size_t len,
                    kt_geom_type_t want, int want_z, unsigned char **out,
                    size_t *out_len, kt_geom_fix_t *fix, char *reason,
                    size_t reason_size);

/* ---- DT-DICT precision ------------------------------------------------ */

/* Class of a network object from its survey XY precision (cm, NAN for
 * unknown) and the accuracy of the transformations it went through (m,
 * NAN for unknown): the worst-case sum is compared with 40/50 cm (A)
 * and 150 cm (B). Returns 'A', 'B' or 'C'; 0 when kind is NONE. */
char kt_dtdict_class(kt_network_kind_t kind, double xy_cm, double transform_m);

/* ---- utilities ------------------------------------------------------- */

/* A new uid: UUID version 7 text (time-ordered, random), 36 chars + NUL. */
int kt_uid_new(char out[37]);
/* Current UTC time as ISO 8601 "YYYY-MM-DDTHH:MM:SSZ". */
void kt_now_iso(char out[32]);


/* ---- filtered queries (WFS/FES, OGC API) — added for issue 4 ----------
 * kt_features_select runs a kt_query_t (layer, bbox, out_epsg, limit,
 * offset) with, in addition, a WHERE fragment and sort keys.
 *
 * The fragment is a SQL boolean expression over the layer table: the
 * attribute columns (named after the layer attributes, quoted "name"),
 * uid, fid, geom (in the store CRS) and SpatiaLite functions. User values
 * never appear in it: they are '?' placeholders bound, in order, from
 * params. The caller builds it from a validated expression (only the
 * columns it means to expose); the engine does not parse it.
 * Sort keys name layer attributes or "uid"; the order always ends with
 * fid, so paging is stable. */
typedef enum kt_sql_type {
	KT_SQL_NULL = 0,
	KT_SQL_INT,
	KT_SQL_REAL,
	KT_SQL_TEXT,
	KT_SQL_BLOB,
} kt_sql_type_t;

typedef struct kt_sql_value {
	kt_sql_type_t type;
	int64_t i;
	double d;
	const char *s;        /* TEXT, NUL-terminated (borrowed) */
	const void *blob;     /* BLOB (borrowed) */
	size_t len;
} kt_sql_value_t;

typedef struct kt_sort_key {
	const char *attr;     /* a layer attribute name, or "uid" */
	int desc;
} kt_sort_key_t;

typedef struct kt_select {
	kt_query_t q;
	const char *where;            /* NULL: no condition */
	const kt_sql_value_t *params;
	size_t n_params;
	const kt_sort_key_t *sort;
	size_t n_sort;
	/* Added for the vector tiles (issue 3), both off by default: */
	int bbox_index_only;  /* the bbox selects the features whose indexed
	                       * bounding box (R*Tree, float-rounded outward)
	                       * meets it, without the exact ST_Intersects
	                       * test: for a caller that clips anyway */
	int lean;             /* lean rows: see below */
	int any_order;        /* with lean and bbox_index_only, and no where,
	                       * sort or paging: rows may come in the spatial
	                       * index's order instead of fid order (cheaper;
	                       * for a caller to whom order makes no difference,
	                       * e.g. drawing features of one constant paint) */
} kt_select_t;

/* Lean rows (s->lean): the callback's feature is borrowed from the
 * statement and valid for the call only — texts and geometry point into
 * SQLite's memory and nothing is allocated per row. Only fid, the public
 * attributes, the attribute of the layer's publication rule (so that
 * kt_layer_feature_published works), dtdict_class and the geometry are
 * filled; uid, source_id, timestamps, ascol_ref, the survey fields and
 * the private attributes are NULL (precision numbers NAN, version 0).
 * Meant for readers that publish (tiles); a feature to keep must be
 * copied with kt_feature_clone_deep. */

/* Like kt_features_query, with s->where, params and sort. KT_EINVAL (and
 * a message) for an unknown sort key or a fragment SQLite refuses. */
int kt_features_select(kt_ctx_t *ctx, const kt_select_t *s, kt_feature_cb cb, void *data);
/* The number of features s matches, ignoring limit, offset and sort. */
int kt_features_select_count(kt_ctx_t *ctx, const kt_select_t *s, int64_t *count);
/* The extent (minx, miny, maxx, maxy, store CRS) of what s matches,
 * ignoring limit, offset and sort; KT_ENOENT when nothing has a geometry.
 * Without bbox and fragment it is read from the spatial index (float
 * rounding outward). */
int kt_features_select_extent(kt_ctx_t *ctx, const kt_select_t *s, double out[4]);

#ifdef __cplusplus
}
#endif
#endif /* KT_ENGINE_H */
