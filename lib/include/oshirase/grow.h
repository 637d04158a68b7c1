/* Growable arrays: the realloc-doubling every table of records needs. */
#ifndef OSHIRASE_GROW_H
#define OSHIRASE_GROW_H

#include <stddef.h>

/* Makes room for element n of the array *arrp (a pointer to the array's
 * pointer, any element type) holding *cap elements of elem bytes: when n
 * is past the end it grows to double, or to first if empty. The array is
 * unchanged on failure. 0 / -1 (out of memory). */
int osh_grow(void *arrp, size_t *cap, size_t n, size_t elem, size_t first);

#endif
