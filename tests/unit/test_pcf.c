/* Parsing Canonical Form and CRC-64-AVRO against the Avro project's
 * published vectors (tests/unit/data/avro-schema-tests.txt), plus cases the
 * vectors do not cover. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oshirase/serde.h"

#define VECTORS OSH_SOURCE_DIR "/tests/unit/data/avro-schema-tests.txt"

typedef struct {
        char input[4096];
        char canonical[4096];
        int has_fp;
        int64_t fp;
} vec_t;

static void chomp(char *s)
{
        size_t n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
                s[--n] = '\0';
}

/* Reads the next vector; 1 when one was read, 0 at end of file. */
static int next_vector(FILE *fp, vec_t *v)
{
        char line[4096];
        int have_input = 0;

        memset(v, 0, sizeof(*v));
        while (fgets(line, sizeof(line), fp)) {
                chomp(line);
                if (!strcmp(line, "<<INPUT")) {
                        while (fgets(line, sizeof(line), fp)) {
                                chomp(line);
                                if (!strcmp(line, "INPUT"))
                                        break;
                                strncat(v->input, line, sizeof(v->input) - strlen(v->input) - 2);
                                strcat(v->input, "\n");
                        }
                        have_input = 1;
                } else if (!strncmp(line, "<<INPUT ", 8)) {
                        snprintf(v->input, sizeof(v->input), "%s", line + 8);
                        have_input = 1;
                } else if (!strncmp(line, "<<canonical ", 12)) {
                        snprintf(v->canonical, sizeof(v->canonical), "%s", line + 12);
                } else if (!strncmp(line, "<<fingerprint ", 14)) {
                        v->fp = strtoll(line + 14, NULL, 10);
                        v->has_fp = 1;
                } else if (line[0] == '\0' && have_input && v->canonical[0]) {
                        return 1;
                }
        }
        return have_input && v->canonical[0];
}

static void test_crc_empty(void **state)
{
        assert_true(osh_avro_crc64(NULL, 0) == OSH_CRC64_EMPTY);
        assert_true(osh_avro_crc64("", 0) == 0xc15d213aa4d7a795ULL);
        /* Different inputs of the same length must differ. */
        assert_true(osh_avro_crc64("ab", 2) != osh_avro_crc64("ba", 2));
}

static void test_published_vectors(void **state)
{
        FILE *fp = fopen(VECTORS, "r");
        vec_t v;
        int cases = 0, fps = 0;
        char err[256];

        assert_non_null(fp);
        while (next_vector(fp, &v)) {
                char *pcf = osh_avro_pcf(v.input, strlen(v.input), err, sizeof(err));
                if (!pcf)
                        fail_msg("vector %d: %s", cases, err);
                if (strcmp(pcf, v.canonical) != 0)
                        fail_msg("vector %d: got %s want %s", cases, pcf, v.canonical);
                if (v.has_fp) {
                        uint64_t got = osh_avro_crc64(pcf, strlen(pcf));
                        assert_true((int64_t)got == v.fp);
                        fps++;
                }
                free(pcf);
                cases++;
        }
        fclose(fp);
        assert_int_equal(cases, 34);
        assert_int_equal(fps, 26);
}

static void expect_pcf(const char *in, const char *want)
{
        char err[256];
        char *pcf = osh_avro_pcf(in, strlen(in), err, sizeof(err));

        if (!pcf)
                fail_msg("%s: %s", in, err);
        if (strcmp(pcf, want) != 0)
                fail_msg("pcf of %s\n got %s\nwant %s", in, pcf, want);
        free(pcf);
}

static void test_namespace_inheritance(void **state)
{
        /* Nested definitions and references inherit the enclosing namespace;
         * a dotted name resets it; "" is the null namespace. */
        expect_pcf(
            "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"fields\":["
            "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"]}},"
            "{\"name\":\"e2\",\"type\":\"E\"},"
            "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"c.d.S\",\"fields\":["
            "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}}]}},"
            "{\"name\":\"g\",\"type\":\"c.d.F\"},"
            "{\"name\":\"h\",\"type\":{\"type\":\"enum\",\"name\":\"G\",\"namespace\":\"\","
            "\"symbols\":[\"Y\"]}}]}",
            "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":["
            "{\"name\":\"e\",\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\",\"symbols\":[\"X\"]}},"
            "{\"name\":\"e2\",\"type\":\"a.b.E\"},"
            "{\"name\":\"r\",\"type\":{\"name\":\"c.d.S\",\"type\":\"record\",\"fields\":["
            "{\"name\":\"f\",\"type\":{\"name\":\"c.d.F\",\"type\":\"fixed\",\"size\":2}}]}},"
            "{\"name\":\"g\",\"type\":\"c.d.F\"},"
            "{\"name\":\"h\",\"type\":{\"name\":\"G\",\"type\":\"enum\",\"symbols\":[\"Y\"]}}]}");
}

static void test_strip_and_strings(void **state)
{
        /* logicalType, defaults, doc, order go; \u escapes become UTF-8;
         * key order and whitespace are normalised; nested arrays/maps. */
        expect_pcf("{ \"fields\" : [ {\"default\":null, \"type\": [\"null\", {\"type\":\"long\","
                   "\"logicalType\":\"timestamp-millis\"}], \"name\":\"t\"},"
                   "{\"name\":\"m\",\"type\":{\"values\":{\"type\":\"array\",\"items\":\"int\"},"
                   "\"type\":\"map\"}}],"
                   " \"name\" : \"\\u0052ec\", \"type\" : \"record\", \"doc\": \"\\u304a\" }",
                   "{\"name\":\"Rec\",\"type\":\"record\",\"fields\":["
                   "{\"name\":\"t\",\"type\":[\"null\",\"long\"]},"
                   "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":"
                   "{\"type\":\"array\",\"items\":\"int\"}}}]}");
        /* Non-ASCII names survive as UTF-8, not as escapes. */
        expect_pcf("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"\\u00e9\"]}",
                   "{\"name\":\"E\",\"type\":\"enum\",\"symbols\":[\"\xc3\xa9\"]}");
}

static void test_pcf_errors(void **state)
{
        const char *bad[] = {
            "{\"type\":",                          /* invalid JSON */
            "{\"name\":\"x\"}",                    /* no type */
            "{\"type\":\"fixed\",\"name\":\"f\"}", /* fixed without size */
            "{\"type\":\"fixed\",\"name\":\"f\",\"size\":-1}",
            "{\"type\":\"record\",\"name\":\"r\"}", /* no fields */
            "{\"type\":\"record\",\"fields\":[]}",  /* no name */
            "{\"type\":\"enum\",\"name\":\"e\",\"symbols\":[1]}",
            "{\"type\":\"array\"}",
            "42",
        };
        char err[256];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = '\0';
                char *pcf = osh_avro_pcf(bad[i], strlen(bad[i]), err, sizeof(err));
                if (pcf)
                        fail_msg("accepted %s as %s", bad[i], pcf);
                assert_true(err[0] != '\0');
        }
}

static void test_deep_nesting_rejected(void **state)
{
        char buf[2048] = "";
        char err[128];

        for (int i = 0; i < 200; i++)
                strcat(buf, "[");
        for (int i = 0; i < 200; i++)
                strcat(buf, "]");
        assert_null(osh_avro_pcf(buf, strlen(buf), err, sizeof(err)));
}

static void test_compiled_schemas_fingerprints(void **state)
{
        char err[256];

        assert_int_equal(osh_serde_init(err, sizeof(err)), 0);
        for (size_t i = 0; i < osh_schema_count(); i++) {
                const osh_schema_t *s = osh_schema_at(i);
                assert_true(s->fingerprint == osh_avro_crc64(s->pcf, strlen(s->pcf)));
                /* PCF is a fixed point. */
                char *again = osh_avro_pcf(s->pcf, strlen(s->pcf), err, sizeof(err));
                assert_non_null(again);
                assert_string_equal(again, s->pcf);
                free(again);
                assert_non_null(strstr(s->pcf, "\"name\":\"jp.oshirase."));
                assert_null(strstr(s->pcf, "logicalType"));
                assert_null(strstr(s->pcf, "default"));
        }
        osh_serde_shutdown();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_crc_empty),
            cmocka_unit_test(test_published_vectors),
            cmocka_unit_test(test_namespace_inheritance),
            cmocka_unit_test(test_strip_and_strings),
            cmocka_unit_test(test_pcf_errors),
            cmocka_unit_test(test_deep_nesting_rejected),
            cmocka_unit_test(test_compiled_schemas_fingerprints),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
