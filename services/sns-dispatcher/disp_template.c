#include "disp_template.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
        char *p;
        size_t len, cap;
} buf_t;

static int buf_add(buf_t *b, const char *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                size_t cap = (b->len + n + 1) * 2;
                char *np = realloc(b->p, cap);
                if (!np)
                        return -1;
                b->p = np;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
        return 0;
}

static int name_char(char c)
{
        return isalnum((unsigned char)c) || c == '_' || c == '.';
}

/* Parses the placeholder whose "{{" is at tpl+i; sets the name span and the
 * offset just past "}}". 0 / -1 with err. */
static int placeholder(const char *tpl, size_t len, size_t i, size_t *ns, size_t *nl, size_t *end,
                       char *err, size_t err_size)
{
        size_t j = i + 2;

        while (j < len && tpl[j] == ' ')
                j++;
        *ns = j;
        while (j < len && name_char(tpl[j]))
                j++;
        *nl = j - *ns;
        while (j < len && tpl[j] == ' ')
                j++;
        if (*nl == 0 || j + 1 >= len || tpl[j] != '}' || tpl[j + 1] != '}') {
                snprintf(err, err_size, "offset %zu: expected {{name}}", i);
                return -1;
        }
        *end = j + 2;
        return 0;
}

char *disp_template_render(const char *tpl, size_t len, disp_var_fn *fn, void *opaque, char *err,
                           size_t err_size)
{
        buf_t b = {0};
        size_t i = 0, lit = 0;

        if (buf_add(&b, "", 0) < 0)
                goto fail;
        while (i < len) {
                size_t ns, nl, end;
                const char *v;

                if (tpl[i] == '\0') {
                        snprintf(err, err_size, "offset %zu: NUL byte in template", i);
                        goto fail;
                }
                if (!(tpl[i] == '{' && i + 1 < len && tpl[i + 1] == '{')) {
                        i++;
                        continue;
                }
                if (buf_add(&b, tpl + lit, i - lit) < 0 ||
                    placeholder(tpl, len, i, &ns, &nl, &end, err, err_size) < 0)
                        goto fail;
                v = fn(opaque, tpl + ns, nl);
                if (!v) {
                        snprintf(err, err_size, "offset %zu: unknown variable '%.*s'", i,
                                 (int)(nl > 64 ? 64 : nl), tpl + ns);
                        goto fail;
                }
                if (buf_add(&b, v, strlen(v)) < 0)
                        goto fail;
                i = lit = end;
        }
        if (buf_add(&b, tpl + lit, len - lit) < 0)
                goto fail;
        return b.p;
fail:
        free(b.p);
        return NULL;
}

char *disp_template_load(const char *dir, const char *name, char *err, size_t err_size)
{
        char path[1024];
        FILE *fp = NULL;
        char *text = NULL;
        long n;

        for (const char *c = name; *c; c++)
                if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_' &&
                    *c != '-') {
                        snprintf(err, err_size, "bad template name");
                        goto fail;
                }
        snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
        fp = fopen(path, "rb");
        if (!fp || fseek(fp, 0, SEEK_END) < 0 || (n = ftell(fp)) < 0 ||
            fseek(fp, 0, SEEK_SET) < 0) {
                snprintf(err, err_size, "template %s: %s", name, strerror(errno));
                goto fail;
        }
        text = malloc((size_t)n + 1);
        if (!text || fread(text, 1, (size_t)n, fp) != (size_t)n) {
                snprintf(err, err_size, "template %s: read failed", name);
                goto fail;
        }
        text[n] = '\0';
        fclose(fp);
        return text;
fail:
        free(text);
        if (fp)
                fclose(fp);
        return NULL;
}
