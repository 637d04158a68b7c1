/* Small string helpers shared by the line-oriented parsers (rule files, key
 * files, allow-lists). */
#ifndef OSHIRASE_STRUTIL_H
#define OSHIRASE_STRUTIL_H

/* Strips leading and trailing ASCII white space in place; returns the first
 * non-space character of s (inside s, not a copy). */
char *osh_str_trim(char *s);
/* FNV-1a hash of a NUL-terminated string (hash tables keyed by ids). */
unsigned long long osh_str_hash(const char *s);

#endif
