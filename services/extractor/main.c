/* extractor: 統合DB exports → resident.raw.v1 (+ rejects, batch markers)
 * on the core cluster. One-shot (`extractor --input DIR`) or --watch. */
#include "extractor.h"

int main(int argc, char **argv)
{
        return osh_service_main(&ext_service_app, argc, argv);
}
