/* The console's own state: destination sets and templates (named,
 * versioned: each save appends a version) and the sends it knows of (those
 * awaiting approval included). One JSON file, rewritten atomically
 * (temporary file 0600, fsync, rename) after every change, so a restart
 * keeps pending approvals. Nothing here is resident data.
 *
 *   {"sets": {name: [{version, condition, include_possible, by, at}, ...]},
 *    "templates": {name: [{version, title, body, items, links, by, at}, ...]},
 *    "campaigns": {id: {id, state, author, approver, audience, request, ...}}} */
#ifndef CON_STORE_H
#define CON_STORE_H

#include <jansson.h>
#include <stddef.h>

typedef struct con_store con_store_t;

/* Loads path (a missing file is an empty store). NULL with errstr. */
con_store_t *con_store_open(const char *path, char *errstr, size_t errstr_size);
void con_store_destroy(con_store_t *s); /* NULL ok */

/* Locks the store and returns its root (borrowed until unlock). */
json_t *con_store_lock(con_store_t *s);
/* Unlocks; with save, writes the file first. 0 / -1 (logged). */
int con_store_unlock(con_store_t *s, int save);
/* Appends a version of kind ("sets"/"templates") name; returns its number. */
int con_store_add_version(json_t *root, const char *kind, const char *name, json_t *version);
/* A deep copy of root[kind] (new reference). */
json_t *con_store_copy(con_store_t *s, const char *kind);

#endif
