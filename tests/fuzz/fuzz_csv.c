/* libFuzzer target for the CSV reader: any bytes, small limits so the
 * length checks are reached; every field must lie inside the input or the
 * scratch buffer and the reader must always make progress. Each record's
 * fields then go through the UTF-8 and CP932 decoders. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "oshirase/csv.h"
#include "oshirase/textenc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        osh_csv_opts_t o = {.max_field = 64, .max_fields = 8, .max_record = 256};
        osh_csv_reader_t *r = osh_csv_reader_new((const char *)data, size, &o);
        osh_textdec_t *u = osh_textdec_new(OSH_TEXTENC_UTF8, NULL);
        osh_textdec_t *c = osh_textdec_new(OSH_TEXTENC_CP932, OSH_TEXTENC_REPL_GETA);
        osh_csv_record_t rec;
        size_t last = 0;
        uint64_t gaiji = 0;

        if (!r || !u || !c)
                goto out;
        while (osh_csv_next(r, &rec) == 1) {
                if (osh_csv_offset(r) <= last && size)
                        __builtin_trap(); /* no progress */
                last = osh_csv_offset(r);
                if (rec.raw < (const char *)data ||
                    rec.raw + rec.raw_len > (const char *)data + size)
                        __builtin_trap();
                if (rec.error)
                        continue;
                for (size_t i = 0; i < rec.nfields; i++) {
                        const char *out;
                        size_t len;
                        if (rec.fields[i].len > o.max_field)
                                __builtin_trap();
                        if (!osh_textdec_decode(u, rec.fields[i].ptr, rec.fields[i].len, &out, &len,
                                                &gaiji) &&
                            strlen(out) != len)
                                __builtin_trap();
                        osh_textdec_decode(c, rec.fields[i].ptr, rec.fields[i].len, &out, &len,
                                           &gaiji);
                }
        }
        osh_textenc_detect(data, size, NULL);
out:
        osh_csv_reader_destroy(r);
        osh_textdec_destroy(u);
        osh_textdec_destroy(c);
        return 0;
}
