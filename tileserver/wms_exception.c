/*
 * wms_exception.c — WMS service exceptions in the three formats a client
 * may ask for with EXCEPTIONS:
 *   XML      a ServiceExceptionReport: WMS 1.3.0's (namespace
 *            http://www.opengis.net/ogc, exceptions_1_3_0.xsd, text/xml,
 *            with a locator) or WMS 1.1.1's (no namespace, its DTD,
 *            application/vnd.ogc.se_xml, no locator in the DTD);
 *   INIMAGE  for GetMap, an image of the requested size and format with
 *            the message written in it;
 *   BLANK    for GetMap, an image of the requested size and format
 *            holding only the background (transparent if asked).
 * An image needs a valid FORMAT, WIDTH and HEIGHT: when the error is in
 * one of those, the answer is XML.
 *
 * Statuses: XML reports answer 400 for a client error (OperationNot-
 * Supported 501, NoApplicableCode 500: kt_ows_exc_status), as the other
 * OGC services of kartenn do; images answer 200, since a client showing
 * them expects an image.
 */
#include <stdio.h>
#include <string.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#include "kt_wms_int.h"

static int respond_xml(kt_request_t *req, const kt_wms_req_t *w, const kt_ows_exc_t *e)
{
	kt_sbuf_t b = {0};
	int v130 = !w || w->v130;
	const char *code = e->code ? e->code : "NoApplicableCode";
	kt_sbuf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	if (v130) {
		kt_sbuf_puts(&b, "<ServiceExceptionReport version=\"1.3.0\" "
		                 "xmlns=\"http://www.opengis.net/ogc\" "
		                 "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
		                 "xsi:schemaLocation=\"http://www.opengis.net/ogc "
		                 "http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd\">\n");
	} else {
		kt_sbuf_puts(&b, "<!DOCTYPE ServiceExceptionReport SYSTEM "
		                 "\"http://schemas.opengis.net/wms/1.1.1/exception_1_1_1.dtd\">\n"
		                 "<ServiceExceptionReport version=\"1.1.1\">\n");
	}
	kt_sbuf_puts(&b, "  <ServiceException code=\"");
	kt_sbuf_xml(&b, code);
	kt_sbuf_puts(&b, "\"");
	if (v130 && e->locator) {
		kt_sbuf_puts(&b, " locator=\"");
		kt_sbuf_xml(&b, e->locator);
		kt_sbuf_puts(&b, "\"");
	}
	kt_sbuf_puts(&b, ">");
	kt_sbuf_xml(&b, e->text ? e->text : "");
	kt_sbuf_puts(&b, "</ServiceException>\n</ServiceExceptionReport>\n");
	size_t len;
	char *body = kt_sbuf_take(&b, &len);
	if (!body)
		return KT_ENOMEM;
	req->cache_control = "no-store";
	return kt_respond(req, kt_ows_exc_status(code),
	                  v130 ? "text/xml; charset=UTF-8" : "application/vnd.ogc.se_xml; charset=UTF-8",
	                  body, len, KT_BUF_KT_FREE);
}

/* The message in the image: dark red on a pale band, wrapped. */
static void write_message(cairo_t *cr, const kt_wms_req_t *w, const kt_ows_exc_t *e)
{
	PangoLayout *lay = pango_cairo_create_layout(cr);
	PangoFontDescription *fd = pango_font_description_from_string("DejaVu Sans 9");
	pango_layout_set_font_description(lay, fd);
	pango_font_description_free(fd);
	pango_layout_set_width(lay, (w->width > 16 ? w->width - 8 : w->width) * PANGO_SCALE);
	pango_layout_set_wrap(lay, PANGO_WRAP_WORD_CHAR);
	char msg[600];
	snprintf(msg, sizeof msg, "%s: %s", e->code ? e->code : "NoApplicableCode",
	         e->text ? e->text : "");
	pango_layout_set_text(lay, msg, -1);
	int tw, th;
	pango_layout_get_pixel_size(lay, &tw, &th);
	cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
	cairo_rectangle(cr, 0, 0, w->width, th + 8);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 0.6, 0, 0);
	cairo_move_to(cr, 4, 4);
	pango_cairo_show_layout(cr, lay);
	g_object_unref(lay);
}

static int respond_image(kt_request_t *req, const kt_wms_req_t *w, const kt_ows_exc_t *e)
{
	cairo_surface_t *s = cairo_image_surface_create(
		w->transparent ? CAIRO_FORMAT_ARGB32 : CAIRO_FORMAT_RGB24, w->width, w->height);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(s);
		return KT_ENOMEM;
	}
	cairo_t *cr = cairo_create(s);
	if (!w->transparent) {
		cairo_set_source_rgb(cr, w->bg[0], w->bg[1], w->bg[2]);
		cairo_paint(cr);
	}
	if (w->exc == KT_WMS_EXC_INIMAGE)
		write_message(cr, w, e);
	cairo_destroy(cr);
	int rc = kt_wms_respond_image(req, s, w->format);
	cairo_surface_destroy(s);
	return rc;
}

int kt_wms_respond_exc(kt_request_t *req, const kt_wms_req_t *w, const kt_ows_exc_t *e)
{
	if (w && w->exc != KT_WMS_EXC_XML && w->op == KT_WMS_GETMAP && w->format && w->width > 0 &&
	    w->height > 0)
		return respond_image(req, w, e);
	return respond_xml(req, w, e);
}
