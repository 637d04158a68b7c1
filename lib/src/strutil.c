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
