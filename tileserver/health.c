/*
 * health.c — GET /healthz: is this server able to answer from its store?
 *
 * The worker's context runs one trivial query (a metadata read: a missing
 * key is an answer too); any failure, opening the context included, is a
 * 503 problem so that a load balancer takes the server out. The answer is
 * never cached.
 */
#include "kt_server_int.h"

int kt_health_get(kt_request_t *req)
{
	const char *why = NULL;
	kt_ctx_t *ctx = kt_req_ctx(req, &why);
	if (!ctx)
		return kt_respond_problem(req, 503, "the store cannot be opened: %s", why);
	char *value = NULL;
	int rc = kt_meta_get(ctx, "format", &value);
	kt_free(value);
	if (rc && rc != KT_ENOENT)
		return kt_respond_problem(req, 503, "the store does not answer: %s (%s)",
		                          kt_errmsg(ctx), kt_strerror(rc));
	const kt_catalogue_t *cat = kt_store_catalogue(req->srv->store);
	json_t *j = json_pack("{s:s, s:s, s:i, s:I, s:s, s:f}", "status", "ok", "store", "ok",
	                      "epsg", kt_store_epsg(req->srv->store), "layers",
	                      (json_int_t)(cat ? cat->n_layers : 0), "version", KT_VERSION,
	                      "uptime_s", kt_monotonic_s() - req->srv->started);
	req->cache_control = "no-store";
	return kt_respond_json(req, 200, j);
}
