/* Data-parallel parts: one CPU-bound job split over a few threads. */
#ifndef OSHIRASE_PAR_H
#define OSHIRASE_PAR_H

#include <stddef.h>

#define OSH_PAR_MAX 8

/* Part `part` of `nparts` of a job; parts must not depend on each other. */
typedef void (*osh_par_fn)(void *arg, int part, int nparts);

/* Runs fn(arg, p, nparts) for every p in [0, nparts), part 0 on the calling
 * thread and the others each on a thread of their own, and returns when all
 * are done. A thread that cannot be made leaves its part to the caller, so
 * the job always completes with the same split (nparts is clamped to
 * 1..OSH_PAR_MAX). */
void osh_par_run(osh_par_fn fn, void *arg, int nparts);

/* n as a part count: 1..OSH_PAR_MAX. */
static inline int osh_par_parts(int n)
{
        return n < 1 ? 1 : n > OSH_PAR_MAX ? OSH_PAR_MAX : n;
}

/* The start of part p's share of n items: parts [cut(p), cut(p + 1)). */
static inline size_t osh_par_cut(size_t n, int part, int nparts)
{
        size_t np = (size_t)nparts, p = (size_t)part;

        return n / np * p + n % np * p / np; /* floor(n * p / np), no overflow */
}

#endif
