/* The insides of a batch, shared by the files that do its four jobs:
 * extract_open.c (finding, opening and hashing the files), extract_plan.c
 * (cutting them into chunks for the scanning threads), extract_join.c (the
 * join per 宛名番号) and extract_avro.c (encoding records and rejects). */
#ifndef EXTRACTOR_EXTRACT_INT_H
#define EXTRACTOR_EXTRACT_INT_H

#include <stdint.h>

#include "oshirase/avro_bin.h"
#include "oshirase/serde.h"
#include "oshirase/sha256.h"
#include "extract.h"
#include "keyidx.h"
#include "pool.h"
#include "scan.h"

typedef struct ext_ftype {
        const char *type, *file; /* manifest type, fixed file name */
        ext_type_t t;
        const char *header;
} ext_ftype_t;

typedef struct ext_xfile {
        const ext_ftype_t *ft;
        int ext; /* 0..19 for extension files */
        char name[64];
        size_t name_len;
        char path[EXT_PATH_MAX];
        char sha[OSH_SHA256_HEX_LEN + 1];
        int64_t manifest_rows; /* -1: no manifest */
        char *buf;
        size_t len;
        int fd; /* open while the batch is: the hash reads it; -1 none */
        int hash_failed;
        size_t released;                      /* pages of buf below this were given back */
        uint64_t enc_rejected;                /* lines rejected for their encoding */
        char got_sha[OSH_SHA256_HEX_LEN + 1]; /* by a worker */
        ext_scan_file_t scan;
        ext_file_stats_t st;
        /* the join's place in the file */
        size_t next;      /* where the next accepted chunk must start */
        size_t line_base; /* physical line number at next */
        int header_seen, any, last_terminated;
} ext_xfile_t;

typedef struct ext_person {
        uint64_t atena, setai;
        int32_t birth;
        uint8_t rel;
        int32_t next; /* next member of the household, -1 */
        int32_t app;  /* consenting applicant index, -1 */
        uint32_t hh;  /* household index (after the register) */
} ext_person_t;

typedef struct ext_applicant {
        uint64_t atena;
        int32_t person;
        uint32_t file;
        uint64_t line;
        const char *raw;
        size_t raw_len;
        char user_id[33];
        uint8_t cats, sex;
        int64_t applied_ms;
        size_t s_name, s_kana, s_acode, s_atext; /* offsets into the arena */
        char rel_code[3];
        uint8_t tax[3]; /* 0 unknown, 1 taxed, 2 not taxed */
        uint8_t nhi, koki, ca, cr, pa;
        char ext[20];   /* 0 none, else the exported value's first byte */
        uint32_t files; /* bitmask of contributing files */
} ext_applicant_t;

struct ext_batch {
        ext_opts_t o;
        char dir[EXT_DIR_MAX];
        int have_manifest, enc_set;
        osh_textenc_t enc;
        osh_date_t ref;
        int32_t ref_days;
        int fy;
        char batch_id[64];
        ext_xfile_t files[EXT_MAX_FILES];
        size_t nfiles;
        /* parse state */
        ext_person_t *persons;
        size_t np, pcap;
        ext_keyidx_t by_atena, by_setai, apps_by_atena; /* by_setai -> household */
        int32_t *hfirst;                                /* household -> first person */
        size_t nh;
        size_t cur_atena, cur_app, cur_setai; /* last hits: search hints */
        ext_chunk_t *chunks;
        size_t nchunks;
        ext_pool_t *pool;
        uint8_t *seen; /* per person or household: rows of the current file */
        ext_applicant_t *apps;
        size_t napps, acap;
        uint32_t *order; /* emitted applicants, ascending 宛名番号 */
        size_t norder;
        char *arena;
        size_t alen, acap_bytes;
        ext_reject_t *rejects;
        size_t nrej, rcap;
        uint64_t gaiji;
        const osh_schema_t *raw_schema, *rej_schema;
        char keybuf[16];
        int verified; /* 1 the files are the manifest's, -1 not (verify_err) */
        char verify_err[200];
        osh_avro_buf_t wbuf; /* reused: one record at a time */
        osh_sha256_t *hasher;
        size_t nslices;
};

/* extract_open.c: a worker's task, the file's SHA-256 into got_sha. */
void ext_hash_file(ext_xfile_t *f);
/* extract_open.c: gives back the mapped pages of f below upto (an offset
 * in f->buf) once the join has passed them (it copies what it keeps). */
void ext_release(ext_xfile_t *f, size_t upto);
/* extract_plan.c: chunks for every file, then the threads that hash and
 * scan them. 0 / -1 (out of memory or threads). */
int ext_plan_chunks(ext_batch_t *b);
int ext_start_workers(ext_batch_t *b);

#endif
