/*
 * kt_ogcapi_int.h — what the OGC API Features files share (ogcapi.c:
 * landing, conformance, collections; ogcapi_items.c: features;
 * ogcapi_html.c: HTML pages from the JSON documents).
 */
#ifndef KT_OGCAPI_INT_H
#define KT_OGCAPI_INT_H

#include "kt_ows_int.h"

/* 1 when the answer should be HTML (f=html, or Accept prefers it). */
int kt_ogcapi_wants_html(kt_request_t *req);
/* Answers 400 for an unknown f (then req->resp is set); returns 0. */
int kt_ogcapi_check_f(kt_request_t *req);
json_t *kt_ogcapi_link(const char *href, const char *rel, const char *type, const char *title);
/* "http://host/ogcapi" */
const char *kt_ogcapi_base(kt_request_t *req);
/* Answers doc as JSON or HTML (takes the reference). */
int kt_ogcapi_answer(kt_request_t *req, json_t *doc, const char *content_type, const char *title);
/* The collection document of a public layer. */
json_t *kt_ogcapi_collection_json(kt_request_t *req, kt_ctx_t *ctx, const kt_layer_t *l);
/* "http://www.opengis.net/def/crs/EPSG/0/n", or CRS84 for 0. */
const char *kt_ogcapi_crs_uri(kt_arena_t *a, int epsg);
/* 1 when EPSG:epsg is one the collections list. */
int kt_ogcapi_crs_ok(int epsg, int store_epsg);
/* An HTML page from a JSON document (links, collections, features). */
int kt_ogcapi_html(kt_request_t *req, json_t *doc, const char *title);

#endif /* KT_OGCAPI_INT_H */
