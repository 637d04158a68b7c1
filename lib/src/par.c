#include <stddef.h>
#include <pthread.h>

#include "oshirase/par.h"

typedef struct par_part {
        osh_par_fn fn;
        void *arg;
        int part, nparts;
} par_part_t;

static void *part_main(void *p)
{
        const par_part_t *q = p;

        q->fn(q->arg, q->part, q->nparts);
        return NULL;
}

void osh_par_run(osh_par_fn fn, void *arg, int nparts)
{
        par_part_t q[OSH_PAR_MAX];
        pthread_t th[OSH_PAR_MAX];
        int made[OSH_PAR_MAX] = {0};

        nparts = osh_par_parts(nparts);
        for (int p = 1; p < nparts; p++) {
                q[p] = (par_part_t){fn, arg, p, nparts};
                made[p] = !pthread_create(&th[p], NULL, part_main, &q[p]);
        }
        fn(arg, 0, nparts);
        for (int p = 1; p < nparts; p++) {
                if (made[p])
                        pthread_join(th[p], NULL);
                else
                        fn(arg, p, nparts);
        }
}
