/* Worker threads that run numbered tasks in order, at most `ahead` tasks
 * past what the consumer has taken, so a producer of big results (scanned
 * chunks) never runs away from the thread that consumes them in order. */
#ifndef EXTRACTOR_POOL_H
#define EXTRACTOR_POOL_H

#include <stddef.h>

typedef struct ext_pool ext_pool_t;
/* Runs task i; tasks share nothing, so it needs no lock. */
typedef void ext_task_fn(void *ctx, size_t i);

/* Starts nthreads (>= 1) workers over tasks [0, ntasks); tasks below
 * `free_below` do not count against `ahead`. NULL on failure. */
ext_pool_t *ext_pool_start(size_t ntasks, size_t nthreads, size_t free_below, size_t ahead,
                           ext_task_fn *fn, void *ctx);
/* Blocks until task i has run. */
void ext_pool_wait(ext_pool_t *p, size_t i);
/* The consumer is done with tasks [0, n): workers may run up to n + ahead. */
void ext_pool_consumed(ext_pool_t *p, size_t n);
/* Stops the workers (tasks not started never run) and frees p. NULL ok. */
void ext_pool_stop(ext_pool_t *p);

#endif
