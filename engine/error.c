/*
 * error.c — error codes and messages. A code says what kind of failure it
 * was (kt_strerror), the message on the ctx or in a kt_err_t says what
 * exactly, prefixed by the function that found it.
 */
#include "kt_engine_int.h"

#include <stdarg.h>
#include <stdio.h>

const char *kt_strerror(int code)
{
	switch (code) {
	case KT_OK: return "success";
	case KT_ENOMEM: return "out of memory";
	case KT_EINVAL: return "invalid argument or data";
	case KT_ENOENT: return "not found";
	case KT_EIO: return "input/output error";
	case KT_ECONFLICT: return "version conflict";
	case KT_ESCHEMA: return "incompatible layer definitions";
	case KT_ECRS: return "coordinate reference system error";
	case KT_EGEOM: return "geometry error";
	case KT_EEXIST: return "already exists";
	case KT_EABORT: return "aborted";
	case KT_EINTERNAL: return "internal error";
	}
	return "unknown error";
}

int kt__err(kt_err_t *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->code = code;
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return code;
}

int kt_ctx_error(kt_ctx_t *ctx, int code, const char *fmt, ...)
{
	if (ctx) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
		va_end(ap);
	}
	return code;
}

const char *kt_errmsg(const kt_ctx_t *ctx)
{
	return ctx ? ctx->errmsg : "no context";
}

int kt__sqlite_error(kt_ctx_t *ctx, const char *what)
{
	int code = KT_EIO;
	int rc = sqlite3_errcode(ctx->db);
	if (rc == SQLITE_NOMEM)
		code = KT_ENOMEM;
	else if (rc == SQLITE_CONSTRAINT)
		code = KT_EINVAL;
	return kt_ctx_error(ctx, code, "%s: %s", what, sqlite3_errmsg(ctx->db));
}
