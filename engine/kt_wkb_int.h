/*
 * kt_wkb_int.h — private to the engine: a bounds-checked walker over WKB
 * (ISO and EWKB, both byte orders), shared by crs.c (rewriting coordinates
 * in place) and geom.c (checking bytes before GEOS sees them, adding Z).
 *
 * Accepted: types 1-12 and 15-17 (Point … GeometryCollection, the curve
 * types, PolyhedralSurface, TIN, Triangle), plain 2D, ISO Z/M/ZM (+1000,
 * +2000, +3000) and EWKB flags (0x80000000 Z, 0x40000000 M, 0x20000000
 * SRID, followed by a 4-byte SRID). Nesting deeper than KT_WKB_MAX_DEPTH,
 * a count larger than the bytes left can hold, an unknown type or byte
 * order, a truncated buffer or trailing bytes give KT_EINVAL; nothing is
 * ever read outside [wkb, wkb + len).
 */
#ifndef KT_WKB_INT_H
#define KT_WKB_INT_H

#include <stddef.h>
#include <stdint.h>

#define KT_WKB_MAX_DEPTH 32

/* A run of n points starting at byte offset off: each point is dims
 * doubles (x, y, then z if has_z, then m if has_m), stored in the other
 * byte order than the host's when swap. Returns 0 or a negative KT_E*
 * code, which stops the walk and is returned by kt__wkb_walk. */
typedef int (*kt__wkb_points_cb)(size_t off, uint32_t n, int dims, int has_z, int has_m,
                                 int swap, void *data);

/* Checks the whole of wkb[0..len) and calls cb (may be NULL) for each run
 * of points in document order. Returns 0, KT_EINVAL for malformed bytes,
 * or the callback's code. When cb is NULL, *has_z_out (may be NULL)
 * tells whether the outermost geometry declares Z. */
int kt__wkb_walk(const unsigned char *wkb, size_t len, kt__wkb_points_cb cb, void *data,
                 int *has_z_out);

/* Reads/writes one double at p in the given swap state. */
double kt__wkb_get_double(const unsigned char *p, int swap);
void kt__wkb_put_double(unsigned char *p, double v, int swap);

/* Re-encodes a well-formed WKB as ISO little-endian XYZ: types get their
 * Z variant, M is dropped, an EWKB SRID is dropped, and a z that is
 * missing or not finite becomes 0. *out is allocated with kt_malloc. */
int kt__wkb_force_z(const unsigned char *wkb, size_t len, unsigned char **out,
                    size_t *out_len);

#endif
