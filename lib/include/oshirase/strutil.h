/* Small string helpers shared by the line-oriented parsers (rule files, key
 * files, allow-lists). */
#ifndef OSHIRASE_STRUTIL_H
#define OSHIRASE_STRUTIL_H

/* Strips leading and trailing ASCII white space in place; returns the first
 * non-space character of s (inside s, not a copy). */
char *osh_str_trim(char *s);

#endif
