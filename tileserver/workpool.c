/*
 * workpool.c — a few threads for slow work, so that a slow request does
 * not hold the other connections of its libmicrohttpd worker.
 *
 * libmicrohttpd serves each connection from one worker thread (epoll);
 * a handler that takes 250 ms (a low-zoom tile) would stall every other
 * connection of that worker for as long, cache hits included. Instead the
 * handler calls kt_req_defer: the connection is suspended
 * (MHD_suspend_connection), the job goes to a FIFO queue, and the worker
 * returns to its other connections. A pool thread, with its own kt_ctx_t
 * (opened when the thread starts, closed when it ends: the same one
 * kt_req_ctx answers on that thread), runs the job,
 * which leaves its answer on the request, then resumes the connection;
 * the worker queues the answer on its next call (server.c).
 *
 * Invariants: a job's request is touched by its pool thread only, from
 * the moment it is queued until MHD_resume_connection — and never after.
 * Every queued job is resumed exactly once: run, or answered 503 when the
 * pool stops. `stopping` is set under the lock that kt_req_defer takes
 * before it suspends, so no job is queued after the threads are told to
 * stop; jobs deferred after that run inline. libmicrohttpd must find no
 * suspended connection at MHD_stop_daemon: kt_server_stop stops the pool
 * first.
 */
#include <stdio.h>
#include <string.h>

#include <microhttpd.h>

#include "kt_server_int.h"

typedef struct job {
	struct job *next;
	kt_request_t *req;
	kt_job_fn fn;
	void *data;
} job_t;

struct kt_workpool {
	kt_server_t *srv;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	job_t *head, *tail;  /* FIFO: the oldest request first */
	int stopping;
	int stopped;         /* threads joined */
	unsigned n_threads;
	pthread_t *threads;
};

/* Leaves an answer on the request whatever happened, then resumes it. */
static void job_finish(job_t *j, int rc)
{
	kt_request_t *req = j->req;
	if (rc < 0)
		kt_respond_problem(req, rc == KT_ENOMEM ? MHD_HTTP_SERVICE_UNAVAILABLE
		                                        : MHD_HTTP_INTERNAL_SERVER_ERROR,
		                   "%s", kt_strerror(rc));
	/* without a response (out of memory), server.c's finish answers */
	MHD_resume_connection(req->conn); /* req is not ours any more */
}

/* The oldest job, waiting for one; NULL when the pool stops and the
 * queue is empty. *stopping tells whether the pool is stopping. */
static job_t *job_pop(struct kt_workpool *p, int *stopping)
{
	pthread_mutex_lock(&p->lock);
	while (!p->head && !p->stopping)
		pthread_cond_wait(&p->wake, &p->lock);
	job_t *j = p->head;
	if (j) {
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
	}
	*stopping = p->stopping;
	pthread_mutex_unlock(&p->lock);
	return j;
}

static void *pool_thread(void *arg)
{
	struct kt_workpool *p = arg;
	kt_err_t err = {0};
	/* the thread's context, the one kt_req_ctx gives a job that asks for
	 * it; closed when the thread ends. NULL: every job gets the reason (503) */
	kt_ctx_t *ctx = kt_server_thread_ctx(p->srv, &err);
	job_t *j;
	int stopping;
	while ((j = job_pop(p, &stopping))) {
		int rc;
		if (!ctx)
			rc = kt_respond_problem(j->req, MHD_HTTP_SERVICE_UNAVAILABLE,
			                        "the store cannot be opened: %s",
			                        err.msg[0] ? err.msg : "unknown error");
		else if (stopping)
			rc = kt_respond_problem(j->req, MHD_HTTP_SERVICE_UNAVAILABLE,
			                        "the server is stopping");
		else
			rc = j->fn(j->req, ctx, j->data);
		job_finish(j, rc);
	}
	return NULL;
}

int kt_workpool_start(kt_server_t *srv, unsigned threads, kt_err_t *err)
{
	struct kt_workpool *p = kt_calloc(1, sizeof *p);
	pthread_t *tids = threads ? kt_calloc(threads, sizeof *tids) : NULL;
	if (!p || (threads && !tids)) {
		kt_free(p);
		kt_free(tids);
		if (err) {
			err->code = KT_ENOMEM;
			snprintf(err->msg, sizeof err->msg, "%s: out of memory", __func__);
		}
		return KT_ENOMEM;
	}
	p->srv = srv;
	p->threads = tids;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	srv->pool = p;
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_thread, p)) {
			kt_workpool_free(srv); /* stops and joins the ones started */
			if (err) {
				err->code = KT_EIO;
				snprintf(err->msg, sizeof err->msg, "%s: cannot start thread %u of %u",
				         __func__, i + 1, threads);
			}
			return KT_EIO;
		}
		p->n_threads++;
	}
	return 0;
}

void kt_workpool_stop(kt_server_t *srv)
{
	struct kt_workpool *p = srv->pool;
	if (!p || p->stopped)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	/* the threads empty the queue (503 for each) before they end */
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	p->stopped = 1;
}

void kt_workpool_free(kt_server_t *srv)
{
	struct kt_workpool *p = srv->pool;
	if (!p)
		return;
	kt_workpool_stop(srv);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	kt_free(p->threads);
	kt_free(p);
	srv->pool = NULL;
}

/* Runs the job on the calling thread, with its own context. */
static int run_inline(kt_request_t *req, kt_job_fn fn, void *data)
{
	const char *why = NULL;
	kt_ctx_t *ctx = kt_req_ctx(req, &why);
	if (!ctx)
		return kt_respond_problem(req, MHD_HTTP_SERVICE_UNAVAILABLE,
		                          "the store cannot be opened: %s", why);
	return fn(req, ctx, data);
}

int kt_req_defer(kt_request_t *req, kt_job_fn fn, void *data)
{
	struct kt_workpool *p = req->srv->pool;
	if (!p || !p->n_threads)
		return run_inline(req, fn, data);
	job_t *j = kt_arena_alloc(&req->arena, sizeof *j);
	if (!j)
		return KT_ENOMEM;
	*j = (job_t){.req = req, .fn = fn, .data = data};
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		return run_inline(req, fn, data);
	}
	/* from here the request belongs to the pool thread that pops it */
	req->deferred = 1;
	MHD_suspend_connection(req->conn);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return 0;
}
