/*
 * report.c — the import report: what was read, inserted, updated, left
 * unchanged, repaired and rejected, each rejection and repair with its
 * reason, the mapping used and the CRS transformation with its accuracy.
 * The same report is printed for a human, written as JSON with --report,
 * and stored with the import batch for provenance. The report owns every
 * string it holds.
 */
#include "import_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void kt_import_opts_init(kt_import_opts_t *opts)
{
	memset(opts, 0, sizeof *opts);
	opts->precision_xy_cm = NAN;
	opts->precision_z_cm = NAN;
}

int kt__report_set(char **slot, const char *s)
{
	kt_free(*slot);
	*slot = NULL;
	if (!s)
		return 0;
	*slot = kt_strdup(s);
	return *slot ? 0 : KT_ENOMEM;
}

kt_import_report_t *kt__report_new(const kt_import_opts_t *opts)
{
	kt_import_report_t *r = kt_calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->transform_accuracy_m = NAN;
	r->dry_run = opts->dry_run;
	if (kt__report_set(&r->source, opts->source) || kt__report_set(&r->layer, opts->layer)) {
		kt_import_report_free(r);
		return NULL;
	}
	return r;
}

int kt__report_issue(kt_import_issue_t **list, size_t *n, int64_t index, int64_t fid,
                     const char *source_id, const char *reason)
{
	if ((*n & (*n - 1)) == 0) { /* grow at powers of two */
		size_t cap = *n ? *n * 2 : 8;
		kt_import_issue_t *l = kt_realloc(*list, cap * sizeof *l);
		if (!l)
			return KT_ENOMEM;
		*list = l;
	}
	kt_import_issue_t *it = &(*list)[*n];
	memset(it, 0, sizeof *it);
	it->index = index;
	it->fid = fid;
	if (kt__report_set(&it->source_id, source_id) || kt__report_set(&it->reason, reason)) {
		kt_free(it->source_id);
		return KT_ENOMEM;
	}
	(*n)++;
	return 0;
}

static void issues_free(kt_import_issue_t *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		kt_free(l[i].source_id);
		kt_free(l[i].reason);
	}
	kt_free(l);
}

void kt_import_report_free(kt_import_report_t *r)
{
	if (!r)
		return;
	kt_free(r->source);
	kt_free(r->source_layer);
	kt_free(r->layer);
	kt_free(r->source_crs);
	kt_free(r->source_crs_name);
	kt_free(r->transform_name);
	kt_free(r->error);
	issues_free(r->rejections, r->n_rejections);
	issues_free(r->repairs, r->n_repairs);
	for (size_t i = 0; i < 2 * r->n_mapping; i++)
		kt_free(r->mapping[i]);
	kt_free(r->mapping);
	for (size_t i = 0; i < r->n_unmapped; i++)
		kt_free(r->unmapped[i]);
	kt_free(r->unmapped);
	kt_free(r);
}

static json_t *issues_json(const kt_import_issue_t *l, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:I, s:I, s:s?, s:s}", "index", (json_int_t)l[i].index,
		                                   "fid", (json_int_t)l[i].fid, "source_id", l[i].source_id,
		                                   "reason", l[i].reason));
	return a;
}

static json_t *number_or_null(double d)
{
	return isfinite(d) ? json_real(d) : json_null();
}

char *kt_import_report_json(const kt_import_report_t *r)
{
	json_t *mapping = json_object();
	for (size_t i = 0; i < r->n_mapping; i++)
		json_object_set_new(mapping, r->mapping[2 * i], json_string(r->mapping[2 * i + 1]));
	json_t *unmapped = json_array();
	for (size_t i = 0; i < r->n_unmapped; i++)
		json_array_append_new(unmapped, json_string(r->unmapped[i]));
	json_t *root = json_pack(
	        "{s:s?, s:s?, s:s?, s:b, s:b, s:I, s:s?, s:{s:s?, s:s?, s:i}, "
	        "s:{s:s?, s:o}, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:o, s:o, s:o, s:f}",
	        "source", r->source, "source_layer", r->source_layer, "layer", r->layer, "dry_run",
	        r->dry_run, "committed", r->committed, "batch_id", (json_int_t)r->batch_id, "error",
	        r->error, "crs", "source", r->source_crs_name, "source_definition", r->source_crs,
	        "store_epsg", r->store_epsg, "transformation", "name", r->transform_name, "accuracy_m",
	        number_or_null(r->transform_accuracy_m), "counts", "read", (json_int_t)r->read,
	        "inserted", (json_int_t)r->inserted, "updated", (json_int_t)r->updated, "unchanged",
	        (json_int_t)r->unchanged, "repaired", (json_int_t)r->repaired, "rejected",
	        (json_int_t)r->rejected, "rejections", issues_json(r->rejections, r->n_rejections),
	        "repairs", issues_json(r->repairs, r->n_repairs), "mapping", mapping,
	        "unmapped_fields", unmapped, "seconds", r->seconds);
	if (!root)
		return NULL;
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return NULL;
	char *out = kt_strdup(text); /* kt_free for the caller, not free */
	free(text);
	return out;
}

int kt_import_report_write(const kt_import_report_t *r, const char *path, kt_err_t *err)
{
	char *text = kt_import_report_json(r);
	if (!text) {
		err->code = KT_ENOMEM;
		snprintf(err->msg, sizeof err->msg, "%s: out of memory", path);
		return KT_ENOMEM;
	}
	FILE *f = fopen(path, "w");
	int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
	if (f && fclose(f) != 0)
		ok = 0;
	kt_free(text);
	if (!ok) {
		err->code = KT_EIO;
		snprintf(err->msg, sizeof err->msg, "%s: cannot write the report", path);
		return KT_EIO;
	}
	return 0;
}

static void print_issues(FILE *out, const char *what, const kt_import_issue_t *l, size_t n, size_t max)
{
	for (size_t i = 0; i < n && (max == 0 || i < max); i++)
		fprintf(out, "  %s feature #%lld (fid %lld%s%s): %s\n", what, (long long)l[i].index,
		        (long long)l[i].fid, l[i].source_id ? ", id " : "", l[i].source_id ? l[i].source_id : "",
		        l[i].reason);
	if (max && n > max)
		fprintf(out, "  … and %zu more %s (all of them in --report)\n", n - max, what);
}

void kt_import_report_print(const kt_import_report_t *r, FILE *out, size_t max_issues)
{
	fprintf(out, "%s → layer %s%s\n", r->source, r->layer,
	        r->dry_run ? " (dry run: nothing written)" : "");
	if (r->source_layer)
		fprintf(out, "  source layer: %s\n", r->source_layer);
	if (r->source_crs_name || r->transform_name) {
		fprintf(out, "  CRS: %s → EPSG:%d, ", r->source_crs_name ? r->source_crs_name : "?", r->store_epsg);
		if (isfinite(r->transform_accuracy_m))
			fprintf(out, "accuracy %.3g m", r->transform_accuracy_m);
		else
			fprintf(out, "accuracy unknown");
		fprintf(out, " (%s)\n", r->transform_name ? r->transform_name : "?");
	}
	fprintf(out, "  read %lld, inserted %lld, updated %lld, unchanged %lld, repaired %lld, rejected %lld\n",
	        (long long)r->read, (long long)r->inserted, (long long)r->updated, (long long)r->unchanged,
	        (long long)r->repaired, (long long)r->rejected);
	print_issues(out, "repaired", r->repairs, r->n_repairs, max_issues);
	print_issues(out, "rejected", r->rejections, r->n_rejections, max_issues);
	if (r->committed)
		fprintf(out, "  committed as batch %lld in %.2f s\n", (long long)r->batch_id, r->seconds);
	else if (r->dry_run && !r->error)
		fprintf(out, "  dry run: would commit (%.2f s)\n", r->seconds);
	else
		fprintf(out, "  nothing written%s%s\n", r->error ? ": " : "", r->error ? r->error : "");
}
