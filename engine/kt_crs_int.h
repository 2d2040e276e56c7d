/*
 * kt_crs_int.h — private to the engine: the per-ctx cache of EPSG -> EPSG
 * transformations behind kt_ctx_transform (crs.c).
 *
 * The ctx owns one `struct kt_transform_cache *` slot, NULL when the ctx
 * opens. ctx.c gives crs.c access to it through kt__ctx_tcache() and frees
 * it at close with kt__transform_cache_free() (before the PROJ context is
 * destroyed: the cached PJ objects belong to it).
 */
#ifndef KT_CRS_INT_H
#define KT_CRS_INT_H

#include "kt_engine.h"

struct kt_transform_cache;

/* The transformation EPSG:from -> EPSG:to, created on first use (ballpark
 * refused) and kept in *slot (which it allocates when NULL). *out stays
 * owned by the cache. A failure is not cached: the next call tries again
 * and sets the ctx message again. */
int kt__transform_cache_get(struct kt_transform_cache **slot, kt_ctx_t *ctx, int from_epsg,
                            int to_epsg, kt_transform_t **out);
/* Frees the cache and every transformation in it; NULL is fine. */
void kt__transform_cache_free(struct kt_transform_cache *cache);

/* Implemented by ctx.c: the ctx's cache slot (never NULL for a valid ctx). */
struct kt_transform_cache **kt__ctx_tcache(kt_ctx_t *ctx);

#endif
