/*
 * rtree_load.c — filling a layer's R*Tree in one pass (bulk transactions).
 *
 * SQLite's R*Tree module inserts an entry by walking down the tree,
 * choosing a leaf, splitting full nodes, and writing every node it changed
 * back to its shadow table: about 6 µs an entry, a fifth of an import of
 * points. When the index is empty, kt__rtree_fill instead packs the boxes
 * of every geometry of the layer with Sort-Tile-Recursive (Leutenegger,
 * Lopez and Edgington, 1997) and writes the shadow tables itself, in the
 * module's format (the comment at the top of SQLite's ext/rtree/rtree.c):
 *   <idx>_node(nodeno, data)      node 1 is the root. data is node_size
 *                                 bytes: the tree depth (2 bytes, root
 *                                 only), the cell count (2 bytes), then
 *                                 cells of an 8-byte id (row or child
 *                                 node) and 4 float32 (xmin, xmax, ymin,
 *                                 ymax), all big-endian, zeros after;
 *   <idx>_rowid(rowid, nodeno)    the leaf that holds each row;
 *   <idx>_parent(nodeno, parentnode) every node but the root.
 * What it keeps true, as the module would:
 *  - a row's box is its geometry's MBR rounded outward to float32 the way
 *    the module rounds (rtreeValueDown/Up), and an inner cell's box is the
 *    union of its child's cells;
 *  - a node holds at most (node_size - 4) / 24 cells (node_size read from
 *    the root the module created) and, but for the root, at least half of
 *    that (the module only needs a third); every leaf is at the same depth.
 * The module keeps no node in memory between statements unless it wrote
 * in the current transaction, so writing its tables underneath it is safe
 * only for an index that this transaction has not written through it:
 * the caller says so (untouched), and the index must be exactly the empty
 * one the module made (one empty root, no rows); otherwise the entries go
 * in through the module, row by row. The tests check the packed tree with
 * the module's own rtreecheck().
 */
#include "kt_engine_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One cell: a row (leaf level) or a child node and its box. */
struct cell {
	int64_t id;
	float box[4]; /* xmin, xmax, ymin, ymax: the module's column order */
};

#define CELL_BYTES 24 /* 8-byte id + 4 float32 */

/* Rounding of the module (rtree.c): a double box edge to the float32 at
 * or beyond it. */
#define RND_TOWARDS (1.0 - 1.0 / 8388608.0)
#define RND_AWAY (1.0 + 1.0 / 8388608.0)

static float round_down(double d)
{
	float f = (float)d;
	if (f > d)
		f = (float)(d * (d < 0 ? RND_AWAY : RND_TOWARDS));
	return f;
}

static float round_up(double d)
{
	float f = (float)d;
	if (f < d)
		f = (float)(d * (d < 0 ? RND_TOWARDS : RND_AWAY));
	return f;
}

/* ---- reading --------------------------------------------------------- */

/* The boxes of every geometry of l, as the gii_ trigger would enter them. */
static int read_boxes(kt_ctx_t *ctx, const kt_layer_t *l, struct cell **out, size_t *n_out)
{
	char *sql = sqlite3_mprintf("SELECT fid, MbrMinX(geom), MbrMaxX(geom), MbrMinY(geom), MbrMaxY(geom) "
	                            "FROM \"%w\" WHERE geom IS NOT NULL", l->name);
	sqlite3_stmt *st = NULL;
	if (!sql || sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		return kt__sqlite_error(ctx, "kt_tx_commit (reading boxes)");
	}
	sqlite3_free(sql);
	struct cell *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0, step;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			struct cell *grown = kt_realloc(v, cap * sizeof *v);
			if (!grown) {
				rc = kt_ctx_error(ctx, KT_ENOMEM, "kt_tx_commit: out of memory");
				break;
			}
			v = grown;
		}
		struct cell *c = &v[n++];
		c->id = sqlite3_column_int64(st, 0);
		c->box[0] = round_down(sqlite3_column_double(st, 1));
		c->box[1] = round_up(sqlite3_column_double(st, 2));
		c->box[2] = round_down(sqlite3_column_double(st, 3));
		c->box[3] = round_up(sqlite3_column_double(st, 4));
	}
	if (!rc && step != SQLITE_DONE)
		rc = kt__sqlite_error(ctx, "kt_tx_commit (reading boxes)");
	sqlite3_finalize(st);
	if (rc) {
		kt_free(v);
		return rc;
	}
	*out = v;
	*n_out = n;
	return 0;
}

/* Node size of idx when it is the empty tree the module made (one root
 * without cells, no row, no parent); 0 otherwise. */
static int empty_node_size(kt_ctx_t *ctx, const char *idx, int *node_size)
{
	char *sql = sqlite3_mprintf(
		"SELECT (SELECT count(*) FROM \"%w_node\"), (SELECT count(*) FROM \"%w_rowid\"),"
		" (SELECT count(*) FROM \"%w_parent\"), (SELECT data FROM \"%w_node\" WHERE nodeno = 1)",
		idx, idx, idx, idx);
	sqlite3_stmt *st = NULL;
	*node_size = 0;
	if (!sql || sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_free(sql);
		sqlite3_finalize(st);
		return kt__sqlite_error(ctx, "kt_tx_commit (spatial index)");
	}
	sqlite3_free(sql);
	const unsigned char *root = sqlite3_column_blob(st, 3);
	int len = sqlite3_column_bytes(st, 3);
	if (sqlite3_column_int64(st, 0) == 1 && sqlite3_column_int64(st, 1) == 0 &&
	    sqlite3_column_int64(st, 2) == 0 && root && len >= 4 + 3 * CELL_BYTES && root[0] == 0 &&
	    root[1] == 0 && root[2] == 0 && root[3] == 0)
		*node_size = len;
	sqlite3_finalize(st);
	return 0;
}

/* ---- packing --------------------------------------------------------- */

static int by_x(const void *a, const void *b)
{
	const float *p = ((const struct cell *)a)->box, *q = ((const struct cell *)b)->box;
	double u = (double)p[0] + p[1], v = (double)q[0] + q[1];
	return (u > v) - (u < v);
}

static int by_y(const void *a, const void *b)
{
	const float *p = ((const struct cell *)a)->box, *q = ((const struct cell *)b)->box;
	double u = (double)p[2] + p[3], v = (double)q[2] + q[3];
	return (u > v) - (u < v);
}

/* First cell of node i when n cells go into k nodes of near-equal size
 * (so that each holds at least n / k, more than half of a full node). */
static size_t node_start(size_t i, size_t n, size_t k)
{
	return i * n / k;
}

/* Orders c[0..n) for k nodes: by x centre, then in ceil(sqrt(k)) vertical
 * slices made of whole nodes, each by y centre. */
static void str_order(struct cell *c, size_t n, size_t k)
{
	qsort(c, n, sizeof *c, by_x);
	size_t slices = (size_t)ceil(sqrt((double)k));
	for (size_t s = 0; s < slices; s++) {
		size_t a = node_start(s * k / slices, n, k), b = node_start((s + 1) * k / slices, n, k);
		qsort(c + a, b - a, sizeof *c, by_y);
	}
}

static void put_u16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (24 - 8 * i));
}

static void put_i64(unsigned char *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(u >> (56 - 8 * i));
}

/* Writes cells c[0..n) into a zeroed node image; returns their union. */
static struct cell node_image(unsigned char *data, int node_size, unsigned depth, const struct cell *c,
                              size_t n)
{
	struct cell u = {0, {c[0].box[0], c[0].box[1], c[0].box[2], c[0].box[3]}};
	memset(data, 0, (size_t)node_size);
	put_u16(data, depth);
	put_u16(data + 2, (unsigned)n);
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = data + 4 + i * CELL_BYTES;
		put_i64(p, c[i].id);
		for (int k = 0; k < 4; k++) {
			uint32_t bits;
			memcpy(&bits, &c[i].box[k], 4);
			put_u32(p + 8 + 4 * k, bits);
		}
		u.box[0] = fminf(u.box[0], c[i].box[0]);
		u.box[1] = fmaxf(u.box[1], c[i].box[1]);
		u.box[2] = fminf(u.box[2], c[i].box[2]);
		u.box[3] = fmaxf(u.box[3], c[i].box[3]);
	}
	return u;
}

/* The three insert statements of one index, and a node buffer. */
struct writer {
	kt_ctx_t *ctx;
	sqlite3_stmt *node, *root, *rowid, *parent;
	unsigned char *data;
	int node_size;
	int64_t next_node; /* node numbers 2, 3… (1 is the root) */
};

static int step_pair(struct writer *w, sqlite3_stmt *st, int64_t a, int64_t b)
{
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : kt__sqlite_error(w->ctx, "kt_tx_commit (spatial index)");
	sqlite3_reset(st);
	return rc;
}

/* Writes node number no holding c[0..n) (rows when leaf, else nodes). */
static int write_node(struct writer *w, int64_t no, unsigned depth, int leaf, const struct cell *c,
                      size_t n, struct cell *uni)
{
	*uni = node_image(w->data, w->node_size, no == 1 ? depth : 0, c, n);
	uni->id = no;
	sqlite3_stmt *st = no == 1 ? w->root : w->node;
	sqlite3_bind_blob(st, 1, w->data, w->node_size, SQLITE_STATIC);
	if (no != 1)
		sqlite3_bind_int64(st, 2, no);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : kt__sqlite_error(w->ctx, "kt_tx_commit (spatial index)");
	sqlite3_reset(st);
	for (size_t i = 0; i < n && !rc; i++)
		rc = leaf ? step_pair(w, w->rowid, c[i].id, no) : step_pair(w, w->parent, c[i].id, no);
	return rc;
}

/* Packs c[0..n) (one level, n > max) into nodes; c is replaced by their
 * cells, one level up. */
static int pack_level(struct writer *w, int leaf, struct cell *c, size_t *n, size_t max)
{
	size_t k = (*n + max - 1) / max;
	str_order(c, *n, k);
	int rc = 0;
	for (size_t i = 0; i < k && !rc; i++) {
		size_t a = node_start(i, *n, k), b = node_start(i + 1, *n, k);
		struct cell u;
		rc = write_node(w, w->next_node++, 0, leaf, c + a, b - a, &u);
		c[i] = u; /* i <= a: the cells of node i are read before this */
	}
	*n = k;
	return rc;
}

static int prepare_writer(struct writer *w, const char *idx)
{
	char *sql[4] = {
		sqlite3_mprintf("INSERT INTO \"%w_node\" (data, nodeno) VALUES (?, ?)", idx),
		sqlite3_mprintf("UPDATE \"%w_node\" SET data = ? WHERE nodeno = 1", idx),
		sqlite3_mprintf("INSERT INTO \"%w_rowid\" (rowid, nodeno) VALUES (?, ?)", idx),
		sqlite3_mprintf("INSERT INTO \"%w_parent\" (nodeno, parentnode) VALUES (?, ?)", idx),
	};
	sqlite3_stmt **st[4] = {&w->node, &w->root, &w->rowid, &w->parent};
	int rc = 0;
	for (int i = 0; i < 4; i++) {
		if (!rc && (!sql[i] || sqlite3_prepare_v2(w->ctx->db, sql[i], -1, st[i], NULL) != SQLITE_OK))
			rc = kt__sqlite_error(w->ctx, "kt_tx_commit (spatial index)");
		sqlite3_free(sql[i]);
	}
	if (!rc && !(w->data = kt_malloc((size_t)w->node_size)))
		rc = kt_ctx_error(w->ctx, KT_ENOMEM, "kt_tx_commit: out of memory");
	return rc;
}

static void writer_free(struct writer *w)
{
	sqlite3_finalize(w->node);
	sqlite3_finalize(w->root);
	sqlite3_finalize(w->rowid);
	sqlite3_finalize(w->parent);
	kt_free(w->data);
}

/* Packs the boxes c[0..n) into the empty index idx. */
static int pack(kt_ctx_t *ctx, const char *idx, int node_size, struct cell *c, size_t n)
{
	struct writer w = {.ctx = ctx, .node_size = node_size, .next_node = 2};
	size_t max = (size_t)(node_size - 4) / CELL_BYTES;
	int rc = prepare_writer(&w, idx);
	unsigned depth = 0;
	for (; !rc && n > max; depth++)
		rc = pack_level(&w, depth == 0, c, &n, max);
	struct cell root;
	if (!rc && n > 0)
		rc = write_node(&w, 1, depth, depth == 0, c, n, &root);
	writer_free(&w);
	return rc;
}

/* Enters every geometry of l through the R*Tree module (any state). */
static int fill_through_module(kt_ctx_t *ctx, const kt_layer_t *l)
{
	char *sql = sqlite3_mprintf(
		"INSERT OR REPLACE INTO \"idx_%w_geom\" (pkid, xmin, xmax, ymin, ymax) SELECT fid, MbrMinX(geom),"
		" MbrMaxX(geom), MbrMinY(geom), MbrMaxY(geom) FROM \"%w\" WHERE geom IS NOT NULL",
		l->name, l->name);
	int rc = sql ? kt__exec(ctx, sql) : kt_ctx_error(ctx, KT_ENOMEM, "kt_tx_commit: out of memory");
	sqlite3_free(sql);
	return rc;
}

int kt__rtree_fill(kt_ctx_t *ctx, const kt_layer_t *l, int untouched)
{
	char idx[300];
	snprintf(idx, sizeof idx, "idx_%s_geom", l->name);
	int node_size = 0, rc = 0;
	if (untouched && (rc = empty_node_size(ctx, idx, &node_size)))
		return rc;
	if (node_size == 0)
		return fill_through_module(ctx, l);
	struct cell *c = NULL;
	size_t n = 0;
	if (!(rc = read_boxes(ctx, l, &c, &n)) && n > 0)
		rc = pack(ctx, idx, node_size, c, n);
	kt_free(c);
	return rc;
}
