#define _GNU_SOURCE /* pthread_setname_np */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

struct ext_pool {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        size_t ntasks, next, consumed, free_below, ahead;
        unsigned char *done;
        int stop;
        ext_task_fn *fn;
        void *ctx;
        pthread_t *th;
        size_t nth;
};

/* Under p->mu: may a worker start task p->next now? */
static int may_start(const ext_pool_t *p)
{
        return p->next < p->ntasks && (p->next < p->free_below || p->next < p->consumed + p->ahead);
}

static void *worker(void *arg)
{
        ext_pool_t *p = arg;

        pthread_setname_np(pthread_self(), "ext:scan"); /* for top and perf */
        pthread_mutex_lock(&p->mu);
        for (;;) {
                size_t i;
                while (!p->stop && p->next < p->ntasks && !may_start(p))
                        pthread_cond_wait(&p->cv, &p->mu);
                if (p->stop || p->next >= p->ntasks)
                        break;
                i = p->next++;
                pthread_mutex_unlock(&p->mu);
                p->fn(p->ctx, i);
                pthread_mutex_lock(&p->mu);
                p->done[i] = 1;
                pthread_cond_broadcast(&p->cv);
        }
        pthread_mutex_unlock(&p->mu);
        return NULL;
}

ext_pool_t *ext_pool_start(size_t ntasks, size_t nthreads, size_t free_below, size_t ahead,
                           ext_task_fn *fn, void *ctx)
{
        ext_pool_t *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        p->ntasks = ntasks;
        p->free_below = free_below;
        p->consumed = free_below; /* the window starts after the free tasks */
        p->ahead = ahead ? ahead : 1;
        p->fn = fn;
        p->ctx = ctx;
        p->done = calloc(ntasks + 1, 1);
        p->th = calloc(nthreads ? nthreads : 1, sizeof(*p->th));
        if (!p->done || !p->th) {
                ext_pool_stop(p);
                return NULL;
        }
        for (size_t i = 0; i < (nthreads ? nthreads : 1); i++) {
                if (pthread_create(&p->th[i], NULL, worker, p)) {
                        ext_pool_stop(p);
                        return NULL;
                }
                p->nth++;
        }
        return p;
}

void ext_pool_wait(ext_pool_t *p, size_t i)
{
        pthread_mutex_lock(&p->mu);
        while (!p->done[i])
                pthread_cond_wait(&p->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
}

void ext_pool_consumed(ext_pool_t *p, size_t n)
{
        pthread_mutex_lock(&p->mu);
        if (n > p->consumed)
                p->consumed = n;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
}

void ext_pool_stop(ext_pool_t *p)
{
        if (!p)
                return;
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < p->nth; i++)
                pthread_join(p->th[i], NULL);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p->done);
        free(p->th);
        free(p);
}
