/*
 * routes.c — the server's route table: every endpoint of kartenn, in one
 * place, first match wins. An endpoint family (a file) adds its lines
 * here and declares its handlers in kt_server_int.h; nothing else in the
 * server changes. GET routes answer HEAD too (without a body). A path
 * that matches a pattern but not its methods gets 405 with Allow; one
 * that matches nothing gets the last entry, the JSON 404.
 *
 * Planned entries (issues 3 and 4) show the shapes the matcher handles:
 *   GET  /tiles/{tileset}/{z}/{x}/{y}.mvt   tiles.c
 *   GET  /tiles/{tileset}.json              tiles.c (TileJSON)
 *   GET  /styles/{name}.json                styles.c
 *   GET  /ows, /wms, /wfs; POST /ows, /wfs  ows.c
 *   GET  /ogcapi/collections/{id}/items/{fid}  ogcapi.c
 *   GET  /static/{path*}                    static.c
 */
#include "kt_server_int.h"

const kt_route_t kt_server_routes[] = {
	{KT_M_GET, "/healthz", kt_health_get},
	{KT_M_GET, "/metrics", kt_metrics_get},
	{KT_M_GET, "/api/layers", kt_catalogue_list},
	{KT_M_GET, "/api/layers/{name}", kt_catalogue_layer},
	{KT_M_GET, "/api/features/{layer}/{uid}", kt_catalogue_feature},
	{KT_M_GET, "/tiles/{tileset}/{z}/{x}/{y}.mvt", kt_tiles_get},
	{KT_M_GET, "/tiles/{tileset}.json", kt_tilejson_get},
	{KT_M_GET, "/styles/{name}.json", kt_styles_get},
	{KT_M_GET, "/", kt_static_page},
	{KT_M_GET, "/static/maplibre-gl/{path*}", kt_static_maplibre},
	{KT_M_GET, "/static/fonts/{path*}", kt_static_fonts},
	{KT_M_GET, "/static/{path*}", kt_static_web},
	{KT_M_GET | KT_M_POST, "/ows", kt_ows_handle},
	{KT_M_GET | KT_M_POST, "/wfs", kt_ows_wfs},
	{KT_M_GET | KT_M_POST, "/wms", kt_ows_wms},
	{KT_M_GET, "/ogcapi", kt_ogcapi_landing},
	{KT_M_GET, "/ogcapi/", kt_ogcapi_landing},
	{KT_M_GET, "/ogcapi/conformance", kt_ogcapi_conformance},
	{KT_M_GET, "/ogcapi/api", kt_ogcapi_api},
	{KT_M_GET, "/ogcapi/collections", kt_ogcapi_collections},
	{KT_M_GET, "/ogcapi/collections/{id}", kt_ogcapi_collection},
	{KT_M_GET, "/ogcapi/collections/{id}/items", kt_ogcapi_items},
	{KT_M_GET, "/ogcapi/collections/{id}/items/{fid}", kt_ogcapi_item},
	{0, NULL, kt_not_found},
};

int kt_not_found(kt_request_t *req)
{
	return kt_respond_problem(req, 404, "no resource at this path");
}
