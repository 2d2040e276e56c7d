/*
 * feature_select.c — every read of many features of a layer table: plain
 * queries (kt_features_query) and the filtered, sorted ones of the OGC
 * services (WFS with FES filters, OGC API Features).
 *
 * A select is a kt_query_t (bbox through the R*Tree index, output CRS,
 * limit, offset) plus a WHERE fragment with '?' placeholders and sort
 * keys. The fragment comes from a caller that built it from a validated
 * expression; every user value is bound from s->params, never spliced.
 * Sort keys are checked here against the layer (attribute or uid) and
 * quoted; the order always ends with fid so that pages never overlap.
 * The count ignores limit, offset and order, so numberMatched and the
 * page agree.
 *
 * Lean rows (s->lean, for the tiles) read only what a published feature
 * shows into one feature reused for every row, whose texts and geometry
 * point into SQLite's memory: no allocation per row. A bbox may be
 * index-only (s->bbox_index_only): the R*Tree candidates without the
 * exact ST_Intersects, which parses every geometry, for a caller that
 * clips to the bbox anyway.
 */
#include "kt_engine_int.h"

#include <math.h>
#include <string.h>

/* The WHERE clause: bbox (params ?1..?4 reserved when has_bbox) AND the
 * fragment. The fragment's '?' are numbered after them by SQLite. */
static char *where_sql(const kt_layer_t *l, const kt_select_t *s, int epsg)
{
	int bbox = s->q.has_bbox && l->geom_type != KT_GEOM_NONE;
	const char *frag = s->where && *s->where ? s->where : NULL;
	if (!bbox && !frag)
		return sqlite3_mprintf("");
	char *exact = bbox && !s->bbox_index_only
		? sqlite3_mprintf(" AND ST_Intersects(geom, BuildMbr(?1, ?2, ?3, ?4, %d))", epsg)
		: NULL;
	char *b = bbox ? sqlite3_mprintf("fid IN (SELECT pkid FROM \"idx_%w_geom\" WHERE xmin <= ?3 AND "
	                                 "xmax >= ?1 AND ymin <= ?4 AND ymax >= ?2)%s",
	                                 l->name, exact ? exact : "")
	               : NULL;
	sqlite3_free(exact);
	char *w = sqlite3_mprintf(" WHERE %s%s%s%s%s", b ? "(" : "", b ? b : "", b ? ")" : "",
	                          b && frag ? " AND " : "", frag ? "(" : "");
	sqlite3_free(b);
	if (w && frag) {
		char *w2 = sqlite3_mprintf("%s%s)", w, frag);
		sqlite3_free(w);
		w = w2;
	}
	return w;
}

static char *order_sql(kt_ctx_t *ctx, const kt_layer_t *l, const kt_select_t *s)
{
	char *o = sqlite3_mprintf(" ORDER BY ");
	for (size_t i = 0; o && i < s->n_sort; i++) {
		const char *a = s->sort[i].attr;
		if (!a || (strcmp(a, "uid") && kt_layer_attr_index(l, a) < 0)) {
			sqlite3_free(o);
			kt_ctx_error(ctx, KT_EINVAL, "%s: layer %s has no attribute \"%s\" to sort on",
			             "kt_features_select", l->name, a ? a : "");
			return NULL;
		}
		char *n = sqlite3_mprintf("%s\"%w\" %s, ", o, a, s->sort[i].desc ? "DESC" : "ASC");
		sqlite3_free(o);
		o = n;
	}
	if (o) {
		char *n = sqlite3_mprintf("%sfid", o);
		sqlite3_free(o);
		o = n;
	}
	return o;
}

static int bind_params(sqlite3_stmt *st, const kt_select_t *s, int first)
{
	for (size_t i = 0; i < s->n_params; i++) {
		const kt_sql_value_t *v = &s->params[i];
		int k = first + (int)i, rc;
		switch (v->type) {
		case KT_SQL_INT: rc = sqlite3_bind_int64(st, k, v->i); break;
		case KT_SQL_REAL: rc = sqlite3_bind_double(st, k, v->d); break;
		case KT_SQL_TEXT: rc = sqlite3_bind_text(st, k, v->s, -1, SQLITE_STATIC); break;
		case KT_SQL_BLOB: rc = sqlite3_bind_blob(st, k, v->blob, (int)v->len, SQLITE_STATIC); break;
		default: rc = sqlite3_bind_null(st, k);
		}
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* The bbox in the store CRS. */
static int store_bbox(kt_ctx_t *ctx, const kt_query_t *q, double bbox[4])
{
	memcpy(bbox, q->bbox, 4 * sizeof *bbox);
	if (q->bbox_epsg && q->bbox_epsg != ctx->store->epsg) {
		kt_transform_t *t;
		int rc = kt_ctx_transform(ctx, q->bbox_epsg, ctx->store->epsg, &t);
		if (rc || (rc = kt_transform_bbox(ctx, t, q->bbox, bbox)))
			return rc;
	}
	if (!(bbox[0] <= bbox[2] && bbox[1] <= bbox[3]))
		return kt_ctx_error(ctx, KT_EINVAL, "kt_features_select: bbox min must not exceed max");
	return 0;
}

/* ---- lean rows ------------------------------------------------------------ */

/* 1 when a lean row reads attribute i: public, or the publication rule's. */
static int lean_reads(const kt_layer_t *l, size_t i)
{
	return l->attrs[i].is_public || (l->publish_attr && !strcmp(l->publish_attr, l->attrs[i].name));
}

/* "fid, dtdict_class, <attribute or NULL for each>, AsBinary(geom)": the
 * columns are at the same positions whatever the layer shows. Each name
 * is qualified with the table alias t. */
static char *lean_columns(const kt_layer_t *l)
{
	char *cols = sqlite3_mprintf("t.fid, t.dtdict_class");
	for (size_t i = 0; cols && i < l->n_attrs; i++) {
		char *next = lean_reads(l, i) ? sqlite3_mprintf("%s, t.\"%w\"", cols, l->attrs[i].name)
		                              : sqlite3_mprintf("%s, NULL", cols);
		sqlite3_free(cols);
		cols = next;
	}
	if (cols && l->geom_type != KT_GEOM_NONE) {
		char *next = sqlite3_mprintf("%s, AsBinary(t.geom)", cols);
		sqlite3_free(cols);
		cols = next;
	}
	return cols;
}

/* The lean select with only an index-only bbox (WMS drawing) may walk
 * the R*Tree and looks each candidate up by rowid. "fid IN (SELECT pkid
 * …)" would first copy the candidates into a temporary b-tree (a tenth
 * of a GetMap). Rows then come in R*Tree order, which depends on the
 * history of edits and not only on the content: only for callers that
 * say order makes no difference to them (s->any_order). Tiles do not:
 * the same content must give the same bytes (and ETag). */
static int index_walk(const kt_select_t *s, int bbox_on, int counting)
{
	return !counting && bbox_on && s->any_order && s->lean && s->bbox_index_only &&
	       !(s->where && *s->where) &&
	       !s->n_sort && !s->n_params && s->q.limit <= 0 && s->q.offset <= 0;
}

static char *index_walk_sql(const kt_layer_t *l, const char *cols)
{
	return sqlite3_mprintf("SELECT %s FROM \"idx_%w_geom\" AS r CROSS JOIN \"%w\" AS t "
	                       "ON t.fid = r.pkid WHERE r.xmin <= ?3 AND r.xmax >= ?1 AND "
	                       "r.ymin <= ?4 AND r.ymax >= ?2 LIMIT ? OFFSET ?",
	                       cols, l->name, l->name);
}

/* The one feature of a lean select, reused for every row. Its geometry
 * is SQLite's blob, or a copy in wkb_buf when it must be reprojected
 * (kt_transform_wkb works in place). */
typedef struct lean {
	kt_feature_t f;
	unsigned char *wkb_buf;
	size_t wkb_cap;
} lean_t;

static int lean_init(kt_ctx_t *ctx, const kt_layer_t *l, lean_t *r)
{
	memset(r, 0, sizeof *r);
	r->f.n_values = l->n_attrs;
	r->f.values = l->n_attrs ? kt_calloc(l->n_attrs, sizeof *r->f.values) : NULL;
	if (l->n_attrs && !r->f.values)
		return kt_ctx_error(ctx, KT_ENOMEM, "kt_features_select: out of memory");
	for (size_t i = 0; i < l->n_attrs; i++)
		r->f.values[i].type = l->attrs[i].type;
	return 0;
}

static void lean_release(lean_t *r)
{
	kt_free(r->f.values);
	kt_free(r->wkb_buf);
}

/* The geometry of the row at column c, in out_epsg. */
static int lean_geometry(kt_ctx_t *ctx, sqlite3_stmt *st, int c, int out_epsg, lean_t *r)
{
	const unsigned char *blob = sqlite3_column_blob(st, c);
	size_t n = (size_t)sqlite3_column_bytes(st, c);
	r->f.epsg = ctx->store->epsg;
	r->f.wkb_len = blob ? n : 0;
	r->f.wkb = (unsigned char *)blob; /* borrowed: the callback sees it const */
	if (!blob || !out_epsg || out_epsg == r->f.epsg)
		return 0;
	if (n > r->wkb_cap) {
		unsigned char *p = kt_realloc(r->wkb_buf, n);
		if (!p)
			return kt_ctx_error(ctx, KT_ENOMEM, "kt_features_select: out of memory");
		r->wkb_buf = p;
		r->wkb_cap = n;
	}
	memcpy(r->wkb_buf, blob, n);
	r->f.wkb = r->wkb_buf;
	return kt__feature_reproject(ctx, &r->f, out_epsg);
}

/* Fills r->f from the current row of a select of lean_columns. */
static int lean_row(kt_ctx_t *ctx, const kt_layer_t *l, sqlite3_stmt *st, int out_epsg, lean_t *r)
{
	r->f.fid = sqlite3_column_int64(st, 0);
	const unsigned char *cls = sqlite3_column_text(st, 1);
	r->f.precision.dtdict_class = cls ? (char)cls[0] : 0;
	r->f.precision.xy_cm = r->f.precision.z_cm = r->f.precision.transform_m = NAN;
	int c = 2;
	for (size_t i = 0; i < l->n_attrs; i++, c++) {
		kt_value_t *v = &r->f.values[i];
		v->is_null = sqlite3_column_type(st, c) == SQLITE_NULL;
		v->s = NULL;
		if (v->is_null)
			continue;
		switch (v->type) {
		case KT_ATTR_INTEGER:
		case KT_ATTR_BOOLEAN: v->i = sqlite3_column_int64(st, c); break;
		case KT_ATTR_REAL: v->d = sqlite3_column_double(st, c); break;
		default: v->s = (char *)sqlite3_column_text(st, c); /* borrowed */
		}
	}
	return l->geom_type != KT_GEOM_NONE ? lean_geometry(ctx, st, c, out_epsg, r) : 0;
}

static int select_lean(kt_ctx_t *ctx, const kt_select_t *s, const kt_layer_t *l, sqlite3_stmt *st,
                       kt_feature_cb cb, void *data)
{
	lean_t r;
	int rc = lean_init(ctx, l, &r), step = SQLITE_DONE;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		rc = lean_row(ctx, l, st, s->q.out_epsg, &r);
		if (!rc && cb(&r.f, data))
			rc = kt_ctx_error(ctx, KT_EABORT, "%s: stopped by the callback", "kt_features_select");
	}
	if (!rc && step != SQLITE_DONE)
		rc = kt__sqlite_error(ctx, "kt_features_select");
	lean_release(&r);
	return rc;
}

/* ---- selects ------------------------------------------------------------- */

/* Binds the bbox (?1..?4), the fragment's params, then limit and offset. */
static int bind_all(kt_ctx_t *ctx, const kt_select_t *s, int bbox_on, const double bbox[4],
                    int counting, sqlite3_stmt *st)
{
	int k = 1;
	if (bbox_on)
		for (; k <= 4; k++)
			sqlite3_bind_double(st, k, bbox[k - 1]);
	if (bind_params(st, s, k) != SQLITE_OK)
		return kt__sqlite_error(ctx, "kt_features_select");
	k += (int)s->n_params;
	if (!counting) {
		sqlite3_bind_int64(st, k, s->q.limit > 0 ? s->q.limit : -1);
		sqlite3_bind_int64(st, k + 1, s->q.offset > 0 ? s->q.offset : 0);
	}
	return 0;
}

/* Done with a statement of prepare. */
static void release(sqlite3_stmt *st, int cached)
{
	if (cached) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else {
		sqlite3_finalize(st);
	}
}

/* The tiles' select (lean, index-only bbox, no fragment, no sort) has
 * the same text for every tile of a layer: it is prepared once per ctx
 * and layer, in the ctx's statement slot KT_STMT_TILE_SELECT. */
static int cacheable(const kt_select_t *s)
{
	return s->lean && s->bbox_index_only && s->q.has_bbox && !(s->where && *s->where) &&
	       !s->n_sort && !s->n_params;
}

/* Prepares "SELECT <what> FROM layer WHERE … [ORDER … LIMIT …]" and binds.
 * *cached: the statement is the ctx's, to be reset rather than finalized. */
static int prepare(kt_ctx_t *ctx, const kt_select_t *s, int counting, const kt_layer_t **lp,
                   sqlite3_stmt **out, int *cached)
{
	int li = kt__layer_index(ctx->store, s->q.layer);
	if (li < 0)
		return kt_ctx_error(ctx, KT_ENOENT, "kt_features_select: no layer \"%s\"",
		                    s->q.layer ? s->q.layer : "");
	const kt_layer_t *l = ctx->store->cat->layers[li];
	*lp = l;
	double bbox[4];
	int bbox_on = s->q.has_bbox && l->geom_type != KT_GEOM_NONE;
	int rc = bbox_on ? store_bbox(ctx, &s->q, bbox) : 0;
	if (rc)
		return rc;
	sqlite3_stmt **slot = NULL;
	*cached = !counting && bbox_on && cacheable(s);
	if (*cached) {
		slot = &ctx->stmts[(size_t)li * KT_STMT_COUNT_ + KT_STMT_TILE_SELECT];
		if (*slot && sqlite3_stmt_busy(*slot)) {
			/* a callback selecting again, within the select: its own */
			*cached = 0;
			slot = NULL;
		} else if (*slot) {
			*out = *slot;
			if ((rc = bind_all(ctx, s, bbox_on, bbox, counting, *out)))
				release(*out, 1);
			return rc;
		}
	}
	char *cols = counting ? sqlite3_mprintf("count(*)")
	             : s->lean ? lean_columns(l)
	                       : kt__select_columns(l);
	char *where = where_sql(l, s, ctx->store->epsg);
	char *order = counting ? sqlite3_mprintf("") : order_sql(ctx, l, s);
	char *sql = !(cols && where && order) ? NULL
	            : index_walk(s, bbox_on, counting)
	                ? index_walk_sql(l, cols)
	                : sqlite3_mprintf("SELECT %s FROM \"%w\" AS t%s%s%s", cols, l->name, where,
	                                  order, counting ? "" : " LIMIT ? OFFSET ?");
	sqlite3_free(cols);
	sqlite3_free(where);
	if (!order)
		return KT_EINVAL; /* message set by order_sql */
	sqlite3_free(order);
	if (!sql)
		return kt_ctx_error(ctx, KT_ENOMEM, "kt_features_select: out of memory");
	rc = sqlite3_prepare_v3(ctx->db, sql, -1, *cached ? SQLITE_PREPARE_PERSISTENT : 0, out, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK) {
		kt__sqlite_error(ctx, "kt_features_select");
		return KT_EINVAL;
	}
	if (slot)
		*slot = *out;
	if ((rc = bind_all(ctx, s, bbox_on, bbox, counting, *out)))
		release(*out, *cached);
	return rc;
}

int kt_features_select(kt_ctx_t *ctx, const kt_select_t *s, kt_feature_cb cb, void *data)
{
	const kt_layer_t *l;
	sqlite3_stmt *st;
	int cached;
	int rc = prepare(ctx, s, 0, &l, &st, &cached);
	if (rc)
		return rc;
	if (s->lean) {
		rc = select_lean(ctx, s, l, st, cb, data);
		release(st, cached);
		return rc;
	}
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		kt_feature_t *f;
		if ((rc = kt__feature_from_row(ctx, l, st, &f)))
			break;
		rc = kt__feature_reproject(ctx, f, s->q.out_epsg);
		if (!rc && cb(f, data))
			rc = kt_ctx_error(ctx, KT_EABORT, "%s: stopped by the callback", __func__);
		kt_feature_free(f);
		if (rc)
			break;
	}
	if (!rc && step != SQLITE_DONE)
		rc = kt__sqlite_error(ctx, __func__);
	release(st, cached);
	return rc;
}

int kt_features_select_count(kt_ctx_t *ctx, const kt_select_t *s, int64_t *count)
{
	const kt_layer_t *l;
	sqlite3_stmt *st;
	int cached;
	int rc = prepare(ctx, s, 1, &l, &st, &cached);
	if (rc)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW)
		*count = sqlite3_column_int64(st, 0);
	else
		rc = kt__sqlite_error(ctx, __func__);
	sqlite3_finalize(st);
	return rc;
}

int kt_features_select_extent(kt_ctx_t *ctx, const kt_select_t *s, double out[4])
{
	int li = kt__layer_index(ctx->store, s->q.layer);
	if (li < 0)
		return kt_ctx_error(ctx, KT_ENOENT, "%s: no layer \"%s\"", __func__,
		                    s->q.layer ? s->q.layer : "");
	const kt_layer_t *l = ctx->store->cat->layers[li];
	if (l->geom_type == KT_GEOM_NONE)
		return KT_ENOENT;
	int plain = !s->q.has_bbox && !(s->where && *s->where);
	char *where = plain ? sqlite3_mprintf("") : where_sql(l, s, ctx->store->epsg);
	char *sql = !where ? NULL
		: plain ? sqlite3_mprintf("SELECT min(xmin), min(ymin), max(xmax), max(ymax) FROM "
		                          "\"idx_%w_geom\"", l->name)
		        : sqlite3_mprintf("SELECT min(MbrMinX(geom)), min(MbrMinY(geom)), "
		                          "max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM \"%w\"%s",
		                          l->name, where);
	sqlite3_free(where);
	if (!sql)
		return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return kt__sqlite_error(ctx, __func__);
	double bbox[4];
	int k = 1;
	rc = 0;
	if (!plain && s->q.has_bbox) {
		if ((rc = store_bbox(ctx, &s->q, bbox))) {
			sqlite3_finalize(st);
			return rc;
		}
		for (; k <= 4; k++)
			sqlite3_bind_double(st, k, bbox[k - 1]);
	}
	if (!plain)
		bind_params(st, s, k);
	if (sqlite3_step(st) != SQLITE_ROW)
		rc = kt__sqlite_error(ctx, __func__);
	else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		rc = KT_ENOENT;
	else
		for (int i = 0; i < 4; i++)
			out[i] = sqlite3_column_double(st, i);
	sqlite3_finalize(st);
	return rc;
}
