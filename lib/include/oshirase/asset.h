/* Files compiled into a binary by lib/cmake/embed_files.cmake (as the
 * schemas are): a table ending with a NULL name. */
#ifndef OSHIRASE_ASSET_H
#define OSHIRASE_ASSET_H

#include <stddef.h>
#include <string.h>

struct osh_asset {
        const char *name; /* file name without its directory */
        const char *text; /* its bytes, NUL-terminated */
        size_t len;
};

/* The entry called name in table, or NULL. */
static inline const struct osh_asset *osh_asset_find(const struct osh_asset *table,
                                                     const char *name)
{
        for (; table->name; table++)
                if (!strcmp(table->name, name))
                        return table;
        return NULL;
}

#endif
