/* Template parser and text pipeline on hostile input: render with a lookup
 * that knows a few names, normalise, split. Must never crash or leak, and a
 * split must only produce parts within the limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disp_template.h"
#include "disp_text.h"

static const char *lookup(void *opaque, const char *name, size_t len)
{
        (void)opaque;
        if (len == 1 && name[0] == 'a')
                return "１２３{{a}}";
        if (len == 4 && !memcmp(name, "date", 4))
                return "\n\n";
        return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char err[256], *out, *norm;
        disp_parts_t parts;
        size_t limit = size ? (size_t)(data[0] % 40) + 1 : 1;

        out = disp_template_render((const char *)data, size, lookup, NULL, err, sizeof(err));
        if (!out)
                return 0;
        norm = disp_text_normalise(out, size && (data[0] & 1));
        if (norm && disp_text_split(norm, limit, 1000, &parts, err, sizeof(err)) == 0)
                for (size_t i = 0; i < parts.n; i++)
                        if (disp_text_chars(parts.part[i]) > limit)
                                abort();
        disp_parts_free(&parts);
        free(norm);
        free(out);
        return 0;
}
