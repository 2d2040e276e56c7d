/*
 * tile_build.c — one vector tile of a tileset, from the store.
 *
 * A tileset is a public layer with a geometry, or the composite
 * KT_TILE_COMPOSITE ("lanester": every such layer, each its own MVT
 * layer, in catalogue order). For each layer whose zoom range holds z, the
 * features intersecting the buffered tile are read from the store in
 * EPSG:3857 (the query bbox is first cut down to the layer's extent, so an
 * empty area costs no query and a low-zoom tile never asks PROJ to
 * transform half the planet into a conic projection), encoded by
 * tile_geom.c and given their properties.
 *
 * Privacy: a feature's properties are its uid, the attributes its layer
 * marks public — never another one — and, for network layers, its
 * DT-DICT class; a collaborative contribution appears only once
 * published (the layer's publish_when rule, kt_layer_feature_published). Feature
 * ids are the store's fid.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kt_tiles_int.h"

size_t kt_tileset_layers(const kt_store_t *store, const char *tileset,
                         const kt_layer_t **layers, size_t max)
{
	const kt_catalogue_t *cat = kt_store_catalogue(store);
	size_t n = 0;
	if (!tileset || !cat)
		return 0;
	if (!strcmp(tileset, KT_TILE_COMPOSITE)) {
		for (size_t i = 0; i < cat->n_layers; i++) {
			const kt_layer_t *l = cat->layers[i];
			if (l->is_public && l->geom_type != KT_GEOM_NONE && n < max)
				layers[n++] = l;
		}
		return n;
	}
	const kt_layer_t *l = kt_store_layer(store, tileset);
	if (!l || !l->is_public || l->geom_type == KT_GEOM_NONE || max < 1)
		return 0;
	layers[0] = l;
	return 1;
}

struct build {
	kt_ctx_t *ctx;
	const kt_layer_t *layer;
	kt_mvt_t *mvt;
	kt_tile_xf_t xf;
	kt_tgeom_t g;
	kt_tile_stats_t *stats;
	int rc; /* why the query was stopped */
};

static int feature_props(kt_mvt_t *mvt, const kt_layer_t *l, const kt_feature_t *f)
{
	int rc = f->uid ? kt_mvt_prop_text(mvt, "uid", f->uid) : 0;
	for (size_t i = 0; !rc && i < l->n_attrs && i < f->n_values; i++)
		if (l->attrs[i].is_public)
			rc = kt_mvt_prop(mvt, l->attrs[i].name, &f->values[i]);
	if (!rc && l->network != KT_NETWORK_NONE && f->precision.dtdict_class) {
		char cls[2] = {f->precision.dtdict_class, 0};
		rc = kt_mvt_prop_text(mvt, "dtdict_class", cls);
	}
	return rc;
}

static int on_feature(const kt_feature_t *f, void *data)
{
	struct build *b = data;
	if (!f->wkb || !kt_layer_feature_published(b->layer, f))
		return 0;
	int rc = kt_tile_geom_encode(kt_ctx_geos(b->ctx), &b->xf, f->wkb, f->wkb_len, &b->g);
	if (b->g.repaired > 0)
		b->stats->repaired++;
	if (rc == KT_ENOMEM) {
		b->rc = rc;
		return 1;
	}
	if (rc < 0 || b->g.repaired < 0) {
		/* one unreadable geometry must not take the tile down with it */
		b->stats->invalid++;
		dprintf(STDERR_FILENO, "kartenn: tiles: %s/%s (fid %lld) left out of z%d: %s\n",
		        b->layer->name, f->uid, (long long)f->fid, b->xf.z,
		        rc < 0 ? "geometry unreadable" : "invalid after quantisation, not repairable");
		return 0;
	}
	if (rc == 0)
		return 0;
	rc = kt_mvt_feature(b->mvt, (uint64_t)f->fid, &b->g);
	if (!rc)
		rc = feature_props(b->mvt, b->layer, f);
	if (rc) {
		b->rc = rc;
		return 1;
	}
	return 0;
}

/* The query bbox: the buffered tile cut to the layer's extent. 0: none. */
static int query_box(kt_ctx_t *ctx, kt_tiles_t *tiles, const kt_layer_t *l, const double tb[4],
                     double q[4], int *rc)
{
	double merc[4];
	int empty = 0;
	*rc = kt_tiles_extent(tiles, ctx, l, merc, NULL, &empty);
	if (*rc || empty)
		return 0;
	const double pad = 1.0; /* a metre: the extent is computed through PROJ */
	q[0] = tb[0] > merc[0] - pad ? tb[0] : merc[0] - pad;
	q[1] = tb[1] > merc[1] - pad ? tb[1] : merc[1] - pad;
	q[2] = tb[2] < merc[2] + pad ? tb[2] : merc[2] + pad;
	q[3] = tb[3] < merc[3] + pad ? tb[3] : merc[3] + pad;
	return q[0] <= q[2] && q[1] <= q[3];
}

static int build_layer(struct build *b, kt_tiles_t *tiles, const double tb[4])
{
	double q[4];
	int rc = 0;
	if (!query_box(b->ctx, tiles, b->layer, tb, q, &rc))
		return rc;
	rc = kt_mvt_layer(b->mvt, b->layer->name);
	if (rc)
		return rc;
	kt_query_t query = {.layer = b->layer->name, .has_bbox = 1, .bbox_epsg = 3857,
	                    .out_epsg = 3857};
	memcpy(query.bbox, q, sizeof q);
	b->rc = 0;
	rc = kt_features_query(b->ctx, &query, on_feature, b);
	return rc == KT_EABORT && b->rc ? b->rc : rc;
}

int kt_tile_build(kt_ctx_t *ctx, kt_tiles_t *tiles, const kt_layer_t *const *layers,
                  size_t n_layers, int z, uint32_t x, uint32_t y, unsigned char **out,
                  size_t *len, kt_tile_stats_t *stats)
{
	kt_tile_stats_t local;
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof *stats);
	*out = NULL;
	*len = 0;
	struct build b = {.ctx = ctx, .stats = stats};
	b.mvt = kt_mvt_new(KT_TILE_EXTENT);
	if (!b.mvt)
		return KT_ENOMEM;
	kt_tile_xf_init(&b.xf, z, x, y);
	double tb[4];
	kt_tile_bounds(z, x, y, KT_TILE_BUFFER, tb);
	int rc = 0;
	for (size_t i = 0; !rc && i < n_layers; i++) {
		b.layer = layers[i];
		if (z < layers[i]->minzoom || z > layers[i]->maxzoom)
			continue;
		rc = build_layer(&b, tiles, tb);
	}
	if (!rc)
		rc = kt_mvt_serialize(b.mvt, tiles->opts.max_tile_bytes, out, len, &stats->dropped);
	if (!rc)
		stats->features = kt_mvt_feature_count(b.mvt) - stats->dropped;
	kt_tgeom_release(&b.g);
	kt_mvt_free(b.mvt);
	return rc;
}
