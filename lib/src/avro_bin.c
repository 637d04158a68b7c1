/* Direct Avro binary writes and bounds-checked reads (see avro_bin.h). */
#include "oshirase/avro_bin.h"

#include <stdlib.h>
#include <string.h>

void osh_avro_buf_reset(osh_avro_buf_t *b)
{
        b->len = 0;
        b->oom = 0;
}

void osh_avro_buf_free(osh_avro_buf_t *b)
{
        free(b->p);
        memset(b, 0, sizeof(*b));
}

void *osh_avro_buf_take(osh_avro_buf_t *b, size_t *len)
{
        void *p = b->oom ? NULL : b->p;

        *len = b->oom ? 0 : b->len;
        if (b->oom)
                free(b->p);
        memset(b, 0, sizeof(*b));
        return p;
}

/* Room for n more bytes; 0 / -1 (sticky). */
static int room(osh_avro_buf_t *b, size_t n)
{
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *p;

        if (b->oom)
                return -1;
        if (b->len + n <= b->cap)
                return 0;
        while (cap < b->len + n)
                cap *= 2;
        if (!(p = realloc(b->p, cap))) {
                b->oom = 1;
                return -1;
        }
        b->p = p;
        b->cap = cap;
        return 0;
}

void osh_avro_put_fixed(osh_avro_buf_t *b, const void *p, size_t n)
{
        if (n && !room(b, n)) {
                memcpy(b->p + b->len, p, n);
                b->len += n;
        }
}

void osh_avro_put_header(osh_avro_buf_t *b, const osh_schema_t *s)
{
        uint8_t h[OSH_SERDE_HEADER_LEN] = {OSH_SERDE_MAGIC0, OSH_SERDE_MAGIC1};

        for (int i = 0; i < 8; i++)
                h[2 + i] = (uint8_t)(s->fingerprint >> (8 * i));
        osh_avro_put_fixed(b, h, sizeof(h));
}

void osh_avro_put_long(osh_avro_buf_t *b, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

        if (room(b, 10))
                return;
        while (z > 0x7f) {
                b->p[b->len++] = (uint8_t)(z | 0x80);
                z >>= 7;
        }
        b->p[b->len++] = (uint8_t)z;
}

void osh_avro_put_bool(osh_avro_buf_t *b, int v)
{
        uint8_t c = v ? 1 : 0;

        osh_avro_put_fixed(b, &c, 1);
}

void osh_avro_put_double(osh_avro_buf_t *b, double v)
{
        uint64_t u;
        uint8_t le[8];

        memcpy(&u, &v, sizeof(u));
        for (int i = 0; i < 8; i++)
                le[i] = (uint8_t)(u >> (8 * i));
        osh_avro_put_fixed(b, le, sizeof(le));
}

void osh_avro_put_bytes(osh_avro_buf_t *b, const void *p, size_t n)
{
        osh_avro_put_long(b, (int64_t)n);
        osh_avro_put_fixed(b, p, n);
}

void osh_avro_put_str(osh_avro_buf_t *b, const char *s)
{
        osh_avro_put_bytes(b, s, strlen(s));
}

/* ---- reading ---- */

void osh_avro_in_init(osh_avro_in_t *r, const void *buf, size_t len)
{
        r->p = buf;
        r->end = r->p + len;
        r->err = 0;
}

int64_t osh_avro_get_long(osh_avro_in_t *r)
{
        uint64_t z = 0;

        for (int shift = 0; !r->err && r->p < r->end; shift += 7) {
                uint8_t c = *r->p++;
                /* the tenth byte holds bit 63 only */
                if (shift == 63 && c > 1)
                        break;
                z |= (uint64_t)(c & 0x7f) << shift;
                if (!(c & 0x80))
                        return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
        }
        r->err = 1;
        return 0;
}

int32_t osh_avro_get_int(osh_avro_in_t *r)
{
        int64_t v = osh_avro_get_long(r);

        if (v < INT32_MIN || v > INT32_MAX) {
                r->err = 1;
                return 0;
        }
        return (int32_t)v;
}

int osh_avro_get_bool(osh_avro_in_t *r)
{
        if (r->err || r->p >= r->end || *r->p > 1) {
                r->err = 1;
                return 0;
        }
        return *r->p++;
}

double osh_avro_get_double(osh_avro_in_t *r)
{
        const uint8_t *le = osh_avro_get_fixed(r, 8);
        uint64_t u = 0;
        double v = 0;

        for (int i = 7; le && i >= 0; i--)
                u = (u << 8) | le[i];
        memcpy(&v, &u, sizeof(v));
        return v;
}

const void *osh_avro_get_fixed(osh_avro_in_t *r, size_t n)
{
        const uint8_t *p = r->p;

        if (r->err || (size_t)(r->end - r->p) < n) {
                r->err = 1;
                return NULL;
        }
        r->p += n;
        return p;
}

const char *osh_avro_get_bytes(osh_avro_in_t *r, size_t *len)
{
        int64_t n = osh_avro_get_long(r);
        const char *p;

        *len = 0;
        if (n < 0) {
                r->err = 1;
                return NULL;
        }
        if ((p = osh_avro_get_fixed(r, (size_t)n)))
                *len = (size_t)n;
        return p;
}

int osh_avro_get_index(osh_avro_in_t *r, int n)
{
        int64_t v = osh_avro_get_long(r);

        if (r->err || v < 0 || v >= n) {
                r->err = 1;
                return -1;
        }
        return (int)v;
}

int64_t osh_avro_get_block(osh_avro_in_t *r, int64_t max)
{
        int64_t n = osh_avro_get_long(r);

        if (n < 0 && n != INT64_MIN) {
                n = -n;
                if (osh_avro_get_long(r) < 0)
                        r->err = 1;
        }
        if (r->err || n < 0 || n > max) {
                r->err = 1;
                return 0;
        }
        return n;
}
