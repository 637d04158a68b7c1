#include "oshirase/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int osh_grow(void *arrp, size_t *cap, size_t n, size_t elem, size_t first)
{
        size_t ncap = *cap ? *cap : (first ? first : 1);
        void *arr, *grown;

        if (n < *cap)
                return 0;
        if (n >= SIZE_MAX / 2)
                return -1;
        while (ncap <= n)
                ncap *= 2;
        if (!elem || ncap > SIZE_MAX / elem)
                return -1;
        /* memcpy: arrp points at a T *, whatever T is */
        memcpy(&arr, arrp, sizeof(arr));
        if (!(grown = realloc(arr, ncap * elem)))
                return -1;
        memcpy(arrp, &grown, sizeof(grown));
        *cap = ncap;
        return 0;
}
