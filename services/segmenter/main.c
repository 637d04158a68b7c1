/* segmenter: targeting over the abstracted population (docs/architecture.md §6). */
#include "segmenter.h"

int main(int argc, char **argv)
{
        return osh_service_main(&seg_app, argc, argv);
}
