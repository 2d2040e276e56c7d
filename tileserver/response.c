/*
 * response.c — the helpers every handler answers with: a body with its
 * owner flag, a JSON document, an RFC 9457 problem. They build the
 * libmicrohttpd response and leave it on the request; server.c adds the
 * common headers (CORS, Cache-Control, nosniff) and queues it, so a
 * handler never touches MHD_queue_response.
 *
 * Invariants: a body handed over with KT_BUF_FREE or KT_BUF_KT_FREE is
 * freed exactly once, also when the response cannot be created; at most
 * one response is pending per request (a second kt_respond replaces the
 * first, so an error found late wins over a partial answer). A shared
 * response (kt_respond_shared) is never changed nor destroyed here: it
 * belongs to its maker, and other requests may be sending it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "kt_server_int.h"

static void free_with_kt(void *p)
{
	kt_free(p);
}

static struct MHD_Response *make_response(void *body, size_t len,
                                          kt_buf_owner_t owner)
{
	struct MHD_Response *r = NULL;
	switch (owner) {
	case KT_BUF_STATIC:
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
		break;
	case KT_BUF_COPY:
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
		break;
	case KT_BUF_FREE:
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		if (!r)
			free(body);
		break;
	case KT_BUF_KT_FREE:
		r = MHD_create_response_from_buffer_with_free_callback(len, body,
		                                                       free_with_kt);
		if (!r)
			kt_free(body);
		break;
	}
	return r;
}

/* Makes r the pending response, dropping the one it replaces. */
static void set_pending(kt_request_t *req, struct MHD_Response *r, int shared,
                        unsigned status, size_t len)
{
	if (req->resp && !req->resp_shared)
		MHD_destroy_response(req->resp);
	req->resp = r;
	req->resp_shared = shared;
	req->status = status;
	req->body_bytes = len;
}

int kt_respond_shared(kt_request_t *req, unsigned status, struct MHD_Response *r,
                      size_t body_len)
{
	if (!r)
		return KT_EINVAL;
	set_pending(req, r, 1, status, body_len);
	return 0;
}

int kt_response_common_headers(const kt_server_t *srv, struct MHD_Response *r,
                               const char *cache_control)
{
	int ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
	                                 cache_control ? cache_control : "no-store") == MHD_YES &&
	         MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") == MHD_YES;
	if (ok && srv->cors_origin) {
		ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN,
		                             srv->cors_origin) == MHD_YES &&
		     MHD_add_response_header(r, "Access-Control-Expose-Headers",
		                             "ETag, Content-Length") == MHD_YES;
		if (ok && strcmp(srv->cors_origin, "*"))
			ok = MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Origin") == MHD_YES;
	}
	return ok ? 0 : KT_ENOMEM;
}

int kt_respond(kt_request_t *req, unsigned status, const char *content_type,
               void *body, size_t len, kt_buf_owner_t owner)
{
	if (!body)
		len = 0;
	struct MHD_Response *r = make_response(body ? body : (void *)"", len,
	                                       body ? owner : KT_BUF_STATIC);
	if (!r)
		return KT_ENOMEM;
	if (content_type &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
		MHD_destroy_response(r);
		return KT_ENOMEM;
	}
	set_pending(req, r, 0, status, len);
	return 0;
}

int kt_respond_fd(kt_request_t *req, unsigned status, const char *content_type,
                  int fd, uint64_t size)
{
	struct MHD_Response *r = MHD_create_response_from_fd64(size, fd);
	if (!r) {
		close(fd);
		return KT_ENOMEM;
	}
	if (content_type &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
		MHD_destroy_response(r); /* closes fd */
		return KT_ENOMEM;
	}
	set_pending(req, r, 0, status, (size_t)size);
	return 0;
}

int kt_respond_header(kt_request_t *req, const char *name, const char *value)
{
	if (!req->resp || req->resp_shared)
		return KT_EINTERNAL;
	return MHD_add_response_header(req->resp, name, value) == MHD_YES ? 0 : KT_ENOMEM;
}

int kt_respond_json(kt_request_t *req, unsigned status, json_t *json)
{
	if (!json)
		return KT_ENOMEM;
	char *text = json_dumps(json, KT_JSON_FLAGS);
	json_decref(json);
	if (!text)
		return KT_ENOMEM;
	/* jansson allocates with malloc unless told otherwise */
	return kt_respond(req, status, "application/json", text, strlen(text),
	                  KT_BUF_FREE);
}

/* detail may quote bytes a client sent: bad UTF-8 becomes '?' rather
 * than failing the answer. */
static json_t *detail_string(const char *detail)
{
	json_t *s = json_string(detail);
	if (s)
		return s;
	char safe[1024];
	size_t i = 0;
	for (; detail[i] && i + 1 < sizeof safe; i++)
		safe[i] = (unsigned char)detail[i] < 0x80 ? detail[i] : '?';
	safe[i] = 0;
	return json_string(safe);
}

char *kt_problem_body(unsigned status, const char *type, const char *title,
                      const char *detail, size_t *len)
{
	if (!title)
		title = MHD_get_reason_phrase_for(status);
	if (!title || !*title)
		title = "Error";
	json_t *j = json_pack("{s:s, s:s, s:i}", "type", type ? type : "about:blank",
	                      "title", title, "status", (int)status);
	if (!j)
		return NULL;
	if (detail && json_object_set_new(j, "detail", detail_string(detail))) {
		json_decref(j);
		return NULL;
	}
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
	if (text && len)
		*len = strlen(text);
	return text;
}

int kt_respond_problem(kt_request_t *req, unsigned status, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	size_t len = 0;
	char *body = kt_problem_body(status, NULL, NULL, detail, &len);
	if (!body)
		return KT_ENOMEM;
	req->cache_control = "no-store";
	return kt_respond(req, status, "application/problem+json", body, len,
	                  KT_BUF_FREE);
}
