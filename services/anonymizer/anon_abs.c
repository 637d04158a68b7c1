#include "anon_abs.h"

/* Field order of resident.abstracted.v1: user_id, batch_id, reference_date,
 * layout_version, flags, values, ranges, unknown_flags. */
void anon_abs_encode(osh_avro_buf_t *b, const osh_schema_t *s, const anon_abs_t *r)
{
        osh_avro_put_header(b, s);
        osh_avro_put_str(b, r->uid);
        osh_avro_put_str(b, r->batch_id);
        osh_avro_put_long(b, r->reference_date);
        osh_avro_put_long(b, r->layout);
        osh_avro_put_bytes(b, r->flags, r->flag_bytes);
        if (r->nvalues) { /* one block, then the empty block that ends the array */
                osh_avro_put_long(b, (int64_t)r->nvalues);
                for (size_t i = 0; i < r->nvalues; i++)
                        osh_avro_put_long(b, r->values[i]);
        }
        osh_avro_put_long(b, 0);
        if (r->nranges) {
                osh_avro_put_long(b, (int64_t)r->nranges * 3);
                for (size_t i = 0; i < r->nranges * 3; i++)
                        osh_avro_put_long(b, r->ranges[i]);
        }
        osh_avro_put_long(b, 0);
        osh_avro_put_bytes(b, r->unknown ? (const void *)r->unknown : "",
                           r->unknown ? r->unknown_bytes : 0);
}
