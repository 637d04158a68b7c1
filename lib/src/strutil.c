#include "oshirase/strutil.h"

#include <ctype.h>
#include <string.h>

char *osh_str_trim(char *s)
{
        char *e;

        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

unsigned long long osh_str_hash(const char *s)
{
        unsigned long long h = 1469598103934665603ULL;

        while (*s)
                h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
        return h;
}
