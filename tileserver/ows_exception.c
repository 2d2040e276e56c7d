/*
 * ows_exception.c — the OWS ExceptionReport every OGC service of kartenn
 * answers a bad request with, and the HTTP status of each exception code.
 *
 * WFS 2.0 uses OWS Common 1.1 (namespace ows/1.1, version "2.0.0"); WFS
 * 1.1.0 uses OWS 1.0 (namespace ows, version "1.1.0"). Statuses follow OWS
 * Common 2.0 table 28 and WFS 2.0 (with its corrigendum's NotFound → 404):
 * client errors 400, unsupported operations and options 501, server-side
 * failures 500. The report is written with the request's text escaped:
 * an exception can quote what the client sent.
 */
#include <stdio.h>
#include <string.h>

#include "kt_ows_int.h"

int kt_ows_fail(kt_ows_exc_t *e, kt_arena_t *a, const char *code, const char *locator,
                const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = kt_arena_vprintf(a, fmt, ap);
	va_end(ap);
	e->code = code;
	e->locator = locator;
	e->text = text ? text : "out of memory";
	return KT_EINVAL;
}

static const struct {
	const char *code;
	unsigned status;
} statuses[] = {
	{"MissingParameterValue", 400},  {"InvalidParameterValue", 400},
	{"VersionNegotiationFailed", 400}, {"InvalidUpdateSequence", 400},
	{"OperationParsingFailed", 400}, {"OperationNotSupported", 501},
	{"OptionNotSupported", 501},     {"NotFound", 404},
	{"OperationProcessingFailed", 500}, {"NoApplicableCode", 500},
};

unsigned kt_ows_exc_status(const char *code)
{
	for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
		if (!strcmp(statuses[i].code, code))
			return statuses[i].status;
	return 400;
}

int kt_ows_respond_exc(kt_request_t *req, const char *version, const kt_ows_exc_t *e)
{
	int v11 = version && !strcmp(version, "1.1.0");
	kt_sbuf_t b = {0};
	kt_sbuf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ows:ExceptionReport xmlns:ows=\"");
	kt_sbuf_puts(&b, v11 ? "http://www.opengis.net/ows\"" : "http://www.opengis.net/ows/1.1\"");
	kt_sbuf_puts(&b, " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"");
	kt_sbuf_puts(&b, v11 ? "http://www.opengis.net/ows "
	                       "http://schemas.opengis.net/ows/1.0.0/owsExceptionReport.xsd\""
	                     : "http://www.opengis.net/ows/1.1 "
	                       "http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd\"");
	/* OWS 1.0 has no xml:lang on the report */
	kt_sbuf_printf(&b, " version=\"%s\"%s>\n  <ows:Exception exceptionCode=\"",
	               v11 ? "1.1.0" : "2.0.0", v11 ? "" : " xml:lang=\"en\"");
	kt_sbuf_xml(&b, e->code ? e->code : "NoApplicableCode");
	kt_sbuf_puts(&b, "\"");
	if (e->locator) {
		kt_sbuf_puts(&b, " locator=\"");
		kt_sbuf_xml(&b, e->locator);
		kt_sbuf_puts(&b, "\"");
	}
	kt_sbuf_puts(&b, ">\n    <ows:ExceptionText>");
	kt_sbuf_xml(&b, e->text ? e->text : "");
	kt_sbuf_puts(&b, "</ows:ExceptionText>\n  </ows:Exception>\n</ows:ExceptionReport>\n");
	size_t len;
	char *body = kt_sbuf_take(&b, &len);
	if (!body)
		return KT_ENOMEM;
	req->cache_control = "no-store";
	return kt_respond(req, kt_ows_exc_status(e->code ? e->code : "NoApplicableCode"),
	                  "application/xml; charset=UTF-8", body, len, KT_BUF_KT_FREE);
}
