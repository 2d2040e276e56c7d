/*
 * wms_image.c — encodes a rendered cairo image surface as the answer of a
 * GetMap, GetLegendGraphic or an INIMAGE/BLANK exception: PNG through
 * libpng (RGB when every pixel is opaque, RGBA with the alpha
 * un-premultiplied otherwise; zlib level 2 without row filters, which for
 * flat map colours is about as small as cairo's own writer at level 6 and
 * much cheaper: that writer took a third of a GetMap), JPEG through libjpeg (quality 85, the surface's pixels
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
#include <png.h>

#include "kt_wms_int.h"

static void png_put(png_structp png, png_bytep bytes, size_t len)
{
	kt_sbuf_t *b = png_get_io_ptr(png);
	kt_sbuf_put(b, (const char *)bytes, len);
	if (b->oom)
		png_error(png, "out of memory");
}

static void png_flush(png_structp png)
{
	(void)png;
}

/* 1 when some pixel of an ARGB32 surface is not opaque. */
static int has_alpha(cairo_surface_t *s)
{
	if (cairo_image_surface_get_format(s) != CAIRO_FORMAT_ARGB32)
		return 0;
	int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
	int stride = cairo_image_surface_get_stride(s);
	const unsigned char *px = cairo_image_surface_get_data(s);
	for (int y = 0; y < h; y++) {
		const uint32_t *src = (const uint32_t *)(const void *)(px + (size_t)y * stride);
		for (int x = 0; x < w; x++)
			if ((src[x] >> 24) != 0xff)
				return 1;
	}
	return 0;
}

/* One row of cairo's native-endian premultiplied ARGB as RGB or RGBA. */
static void convert_row(const uint32_t *src, int w, int alpha, unsigned char *row)
{
	for (int x = 0; x < w; x++) {
		uint32_t p = src[x];
		unsigned a = p >> 24, r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
		if (alpha) {
			if (a && a != 0xff) {
				r = (r * 255 + a / 2) / a;
				g = (g * 255 + a / 2) / a;
				b = (b * 255 + a / 2) / a;
			}
			unsigned char *o = row + 4 * x;
			o[0] = (unsigned char)r, o[1] = (unsigned char)g, o[2] = (unsigned char)b;
			o[3] = (unsigned char)a;
		} else {
			unsigned char *o = row + 3 * x;
			o[0] = (unsigned char)r, o[1] = (unsigned char)g, o[2] = (unsigned char)b;
		}
	}
}

static int encode_png(cairo_surface_t *s, kt_sbuf_t *out)
{
	int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
	int stride = cairo_image_surface_get_stride(s);
	const unsigned char *px = cairo_image_surface_get_data(s);
	int alpha = has_alpha(s);
	unsigned char *row = kt_malloc((size_t)w * 4);
	png_structp png = row ? png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL) : NULL;
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!info) {
		png_destroy_write_struct(png ? &png : NULL, NULL);
		kt_free(row);
		return KT_ENOMEM;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		kt_free(row);
		return KT_ENOMEM;
	}
	png_set_write_fn(png, out, png_put, png_flush);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
	             alpha ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
	             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_set_compression_level(png, 2);
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
	png_write_info(png, info);
	for (int y = 0; y < h; y++) {
		convert_row((const uint32_t *)(const void *)(px + (size_t)y * stride), w, alpha, row);
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	kt_free(row);
	return out->oom ? KT_ENOMEM : 0;
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
	else
		rc = encode_png(s, &b);
	size_t len;
	char *body = rc ? NULL : kt_sbuf_take(&b, &len);
	kt_sbuf_release(&b);
	if (!body)
		return rc ? rc : KT_ENOMEM;
	req->cache_control = "no-cache";
	return kt_respond(req, 200, fmt == KT_WMS_JPEG ? "image/jpeg" : "image/png", body, len,
	                  KT_BUF_KT_FREE);
}
