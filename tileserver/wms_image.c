/*
 * wms_image.c — encodes a rendered cairo image surface as the answer of a
 * GetMap, GetLegendGraphic or an INIMAGE/BLANK exception: PNG through
 * cairo (RGB for an opaque ARGB32 or RGB24 surface, RGBA when
 * transparent), JPEG through libjpeg (quality 85, the surface's pixels
 * composited on nothing: JPEG has no alpha, the caller paints a
 * background first).
 *
 * The encoded bytes grow in a kt_sbuf and are handed to the response
 * (KT_BUF_KT_FREE): nothing is copied twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <jpeglib.h>

#include "kt_wms_int.h"

static cairo_status_t png_write(void *data, const unsigned char *bytes, unsigned int len)
{
	kt_sbuf_t *b = data;
	kt_sbuf_put(b, (const char *)bytes, len);
	return b->oom ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

static int encode_jpeg(cairo_surface_t *s, kt_sbuf_t *out)
{
	int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
	int stride = cairo_image_surface_get_stride(s);
	const unsigned char *px = cairo_image_surface_get_data(s);
	unsigned char *row = kt_malloc((size_t)w * 3);
	if (!row)
		return KT_ENOMEM;
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	unsigned char *mem = NULL;
	unsigned long len = 0;
	c.err = jpeg_std_error(&err);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &mem, &len);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 85, TRUE);
	jpeg_start_compress(&c, TRUE);
	for (int y = 0; y < h; y++) {
		const uint32_t *src = (const uint32_t *)(const void *)(px + (size_t)y * stride);
		for (int x = 0; x < w; x++) {
			row[3 * x] = (unsigned char)(src[x] >> 16);
			row[3 * x + 1] = (unsigned char)(src[x] >> 8);
			row[3 * x + 2] = (unsigned char)src[x];
		}
		JSAMPROW rp = row;
		jpeg_write_scanlines(&c, &rp, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	kt_free(row);
	kt_sbuf_put(out, (const char *)mem, len);
	free(mem);
	return out->oom ? KT_ENOMEM : 0;
}

int kt_wms_respond_image(kt_request_t *req, void *surface, kt_wms_img_t fmt)
{
	cairo_surface_t *s = surface;
	kt_sbuf_t b = {0};
	int rc = 0;
	cairo_surface_flush(s);
	if (fmt == KT_WMS_JPEG)
		rc = encode_jpeg(s, &b);
	else if (cairo_surface_write_to_png_stream(s, png_write, &b) != CAIRO_STATUS_SUCCESS)
		rc = KT_ENOMEM;
	size_t len;
	char *body = rc ? NULL : kt_sbuf_take(&b, &len);
	kt_sbuf_release(&b);
	if (!body)
		return rc ? rc : KT_ENOMEM;
	req->cache_control = "no-cache";
	return kt_respond(req, 200, fmt == KT_WMS_JPEG ? "image/jpeg" : "image/png", body, len,
	                  KT_BUF_KT_FREE);
}
