/*
 * kt_engine_int.h — private structures of the engine. Only the engine .c files
 * include this; everything else goes through kt_engine.h.
 *
 * A kt_store is immutable once kt_store_open returns, so threads share it
 * without locks. A kt_ctx is owned by one thread at a time: its SQLite
 * connection, its SpatiaLite cache, GEOS and PROJ contexts, its cached
 * statements and transformations, and its last error message.
 */
#ifndef KT_ENGINE_INT_H
#define KT_ENGINE_INT_H

#include "kt_engine.h"

#include <sqlite3.h>

struct kt_transform_cache;

struct kt_store {
	char *path;
	int epsg;
	kt_catalogue_t *cat;
};

/* Prepared statements cached per layer, indexed by enum stmt_kind. */
enum kt_stmt_kind {
	KT_STMT_INSERT,
	KT_STMT_UPDATE,
	KT_STMT_BY_UID,
	KT_STMT_BY_SOURCE,
	KT_STMT_DELETE,
	KT_STMT_HISTORY,
	KT_STMT_TILE_SELECT, /* feature_select.c: the lean, index-only bbox
	                      * select of the tiles, prepared there */
	KT_STMT_COUNT_
};

/* A bulk transaction (kt_tx_begin_bulk, bulk.c). While active, writes
 * run without their own savepoint: a failed write sets failed, and
 * kt_tx_commit then refuses. When the layer held no feature at begin, its
 * geometry insert triggers (R*Tree entry, SpatiaLite type check) are
 * dropped for the transaction and their work is done once, in bulk, by
 * kt__bulk_finish before COMMIT; triggers[] keeps their SQL to re-create
 * them. */
struct kt_bulk {
	int active;
	int failed;
	int layer;          /* index of the deferred layer, -1 when none */
	int touched;        /* its R*Tree was written row by row (update, delete) */
	char *triggers[2];  /* CREATE TRIGGER text of the dropped triggers */
};

/* History entries of inserts, written KT_HISTORY_BATCH at a time by one
 * statement during a bulk transaction (history.c). */
#define KT_HISTORY_BATCH 32
struct kt_history_row {
	const char *layer;  /* the catalogue's name: lives as long as the store */
	const char *op;     /* a string literal */
	char uid[40];
	int64_t version;
	char at[32];
};
struct kt_history_batch {
	size_t n;
	char *who, *reason; /* the actor of every buffered row */
	struct kt_history_row rows[KT_HISTORY_BATCH];
	sqlite3_stmt *many; /* INSERT of KT_HISTORY_BATCH rows */
};

/* Random bytes for uids, drawn from the kernel a block at a time. */
struct kt_uid_pool {
	unsigned char bytes[4096];
	size_t used;        /* == sizeof bytes: empty */
};

struct kt_ctx {
	kt_store_t *store;
	sqlite3 *db;
	void *spatialite_cache;
	void *geos;       /* GEOSContextHandle_t */
	void *proj;       /* PJ_CONTEXT * */
	struct kt_transform_cache *tcache;
	sqlite3_stmt **stmts; /* n_layers * KT_STMT_COUNT_ */
	int in_tx;
	sqlite3_stmt *changes_last; /* kt_changes_last */
	sqlite3_stmt *sp_stmts[3]; /* SAVEPOINT, RELEASE, ROLLBACK TO: kt__savepoint */
	char fixed_time[32]; /* empty: use the clock */
	long long now_second; /* kt__ctx_now: now_text is the clock's text of this second */
	char now_text[32];
	struct kt_bulk bulk;
	struct kt_history_batch hist;
	struct kt_uid_pool uids;
	/* The last output of kt_geom_conform and what it was conformed to: a
	 * write whose geometry is these very bytes skips conforming again. */
	unsigned char *conformed;
	size_t conformed_len, conformed_cap;
	int conformed_type, conformed_z;
	char errmsg[1024];
};

/* Formats an error into an err struct; returns code. */
int kt__err(kt_err_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets the ctx message from SQLite's, prefixed by what; returns KT_EIO. */
int kt__sqlite_error(kt_ctx_t *ctx, const char *what);
/* Runs SQL without results. */
int kt__exec(kt_ctx_t *ctx, const char *sql);
/* Opens a SQLite connection with SpatiaLite loaded. */
int kt__db_open(const char *path, int create, sqlite3 **db, void **cache, kt_err_t *err);
void kt__db_close(sqlite3 *db, void *cache);
/* Index of a layer in the store catalogue, or -1. */
int kt__layer_index(const kt_store_t *store, const char *name);
const char *kt__sql_type(kt_attr_type_t t);
/* Reads the feature at the current row of a SELECT built by
 * kt__select_columns (columns in that order). */
int kt__feature_from_row(kt_ctx_t *ctx, const kt_layer_t *layer, sqlite3_stmt *st, kt_feature_t **out);
/* The column list "fid, uid, …, AsBinary(geom)" for a layer (sqlite3_free). */
char *kt__select_columns(const kt_layer_t *layer);
/* Feature to/from JSON text for the history (sqlite3_free / kt_feature_free). */
char *kt__feature_to_json(const kt_layer_t *layer, const kt_feature_t *f);
int kt__feature_from_json(const kt_layer_t *layer, const char *json, const void *wkb, size_t wkb_len,
                          int epsg, kt_feature_t **out);
/* Appends a history entry (op a string literal). In a bulk transaction
 * an insert's entry may wait in ctx->hist: kt__history_flush writes what
 * waits, and runs before anything reads kt_history or commits. */
int kt__history_add(kt_ctx_t *ctx, const kt_layer_t *layer, const kt_feature_t *before, const char *uid,
                    int64_t version, const char *op, const kt_actor_t *actor);
int kt__history_flush(kt_ctx_t *ctx);
/* Forgets the waiting entries (rollback) and frees the batch. */
void kt__history_discard(kt_ctx_t *ctx);
/* Reprojects f's geometry in place to out_epsg (0: leave it). */
int kt__feature_reproject(kt_ctx_t *ctx, kt_feature_t *f, int out_epsg);
/* The time to stamp changes with (fixed time or the clock). */
void kt__ctx_now(kt_ctx_t *ctx, char out[32]);
/* Runs the cached savepoint statement i (0 SAVEPOINT, 1 RELEASE,
 * 2 ROLLBACK TO) of the write savepoint "kt_write". */
int kt__savepoint(kt_ctx_t *ctx, int i);
/* Cached statement for a layer; prepared on first use. */
int kt__stmt(kt_ctx_t *ctx, int layer_index, enum kt_stmt_kind kind, sqlite3_stmt **out);

/* Bulk transactions (bulk.c). _begin runs right after BEGIN; _finish
 * right before COMMIT (it does the deferred work); _end after COMMIT or
 * ROLLBACK, whatever happened. */
int kt__bulk_begin(kt_ctx_t *ctx, const char *layer);
int kt__bulk_finish(kt_ctx_t *ctx);
void kt__bulk_end(kt_ctx_t *ctx);
/* Enters every geometry of layer l in its R*Tree (rtree_load.c): packed
 * in one pass when the index is the module's empty one and untouched in
 * this transaction, else through the module, row by row. */
int kt__rtree_fill(kt_ctx_t *ctx, const kt_layer_t *l, int untouched);
/* Records that out (len bytes) is kt_geom_conform's output for (type, z). */
void kt__conformed_note(kt_ctx_t *ctx, const unsigned char *out, size_t len, int type, int z);
/* 1 when wkb is exactly the last conformed output for (type, z). */
int kt__conformed_is(const kt_ctx_t *ctx, const unsigned char *wkb, size_t len, int type, int z);
/* A new UUID v7 text from the ctx's random pool. */
int kt__uid_make(kt_ctx_t *ctx, char out[37]);
/* Formats a UUID v7 from 16 random bytes (util.c; kt_uid_new). */
void kt__uid_format(const unsigned char random[16], char out[37]);

#endif
