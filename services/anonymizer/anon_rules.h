/* The anonymizer's versioned rule file (Table 21 layout, Table 50 rules).
 *
 * The rule file is data: it says which transform fills which attribute of
 * the dictionary, which raw fields are dropped, and the privacy parameters.
 * Positions come only from the attribute dictionary, never from the file.
 * Format: UTF-8 lines, '#' comments, blank lines ignored:
 *
 *   version     = <text>              required; goes into every output
 *   layout      = <N>                 must equal the dictionary's @layout
 *   extreme_age = <N>                 birth year-month removed at age >= N (0: off)
 *   k_floor     = <N>                 QI groups smaller than N are acted on (<= 1: off)
 *   k_action    = suppress | generalise <yearmonth attr> | hierarchy
 *                                     generalise: month dropped (YYYY00) first,
 *                                     records still below k are suppressed;
 *                                     hierarchy: local recoding along the
 *                                     `generalise` lines (anon_kanon.h)
 *   quasi       = <attr> ...          quasi-identifiers (1..12): value attributes,
 *                                     or a household_age attribute (name###) as
 *                                     one identifier; risk is measured over all
 *   generalise <quasi> = <step>:<cost> ...
 *                                     hierarchy of one quasi-identifier, finest
 *                                     first; each step nests in the next:
 *                                     yearmonth: quarter half year years5 years10 any
 *                                     code/int:  div10 div100 div1000 any
 *                                     household_age: band5 band10 band20 any
 *                                     cost: how much targeting loses by the step
 *   protect <yearmonth quasi> = <from>..<to> ... x<weight>
 *                                     steps cost weight times more for a value
 *                                     aged from..to months at the reference
 *                                     date (the ages campaigns target)
 *   user_id     = registered_or_hmac | hmac
 *   truthy      = <text> ...          extension values that mean 1
 *   keep        = <raw field> ...     raw fields used for framing only
 *   drop        = <raw field> ...     raw fields deleted
 *   attr <name> = <transform> [args]  name may end in ### (3-digit expansion)
 *
 * Transforms (raw fields read → dictionary type):
 *   sex_code                      sex → code/int (1 male, 2 female, 3 unknown)
 *   birth_yearmonth               birth_date → yearmonth (extreme ages removed)
 *   address_digits FIRST LAST     address_code → code (1-based, inclusive)
 *   household_has REL...          relationship, household_members → flag
 *   household_age FROM TO         household_members → one flag per age
 *                                 (name must end in ###; TO means TO or older)
 *   child_yearmonth N REL...      household_members → yearmonth of the N-th
 *                                 member with one of REL, eldest first
 *   tax FIELD                     TaxStatus FIELD → flag (TAXED = 1)
 *   bool FIELD                    boolean FIELD → flag
 *   extension KEY                 extensions[KEY] in truthy → flag
 *
 * Every top-level field of resident.raw.v1 must be read by a transform, by
 * the user_id rule, kept or dropped: a new raw field is refused until the
 * rule file says what happens to it. */
#ifndef ANON_RULES_H
#define ANON_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/dictionary.h"

#define ANON_MAX_QUASI  12
#define ANON_MAX_STEPS  6
#define ANON_MAX_RELS   4
#define ANON_MAX_TRUTHY 8

typedef enum {
        ANON_X_SEX = 0,
        ANON_X_BIRTH_YM,
        ANON_X_ADDRESS,
        ANON_X_HH_HAS,
        ANON_X_HH_AGE,
        ANON_X_CHILD_YM,
        ANON_X_TAX,
        ANON_X_BOOL,
        ANON_X_EXT,
} anon_xform_kind_t;

typedef enum {
        ANON_K_SUPPRESS = 0,
        ANON_K_GENERALISE,
        ANON_K_HIERARCHY,
} anon_k_action_t;

/* A quasi-identifier: a values position, or a group of flags (household ages). */
typedef enum { ANON_D_YM = 0, ANON_D_CODE, ANON_D_FLAGS } anon_dim_kind_t;

/* One generalisation step: span in months (YM), divisor (CODE), band width
 * in ages (FLAGS); 0 = any value. */
typedef struct anon_step {
        int span;
        int cost;
} anon_step_t;

typedef struct anon_dim {
        char name[32];
        anon_dim_kind_t kind;
        int pos;         /* YM/CODE: values index */
        const int *bits; /* FLAGS: flag bit per age, borrowed from the op */
        int nbits;
        anon_step_t steps[ANON_MAX_STEPS];
        int nsteps;
        int prot[ANON_MAX_STEPS][2]; /* protected ages in months, inclusive */
        int nprot, weight;
} anon_dim_t;

typedef enum {
        ANON_UID_REGISTERED_OR_HMAC = 0,
        ANON_UID_HMAC,
} anon_uid_rule_t;

/* One attribute assignment. For ANON_X_HH_AGE, pos is the position of the
 * FROM age's flag and pos_list holds one flag bit per age FROM..TO. */
typedef struct anon_op {
        anon_xform_kind_t kind;
        int pos;                 /* flag bit or values index */
        int a, b;                /* address digits, ages, child ordinal */
        int *age_bits;           /* HH_AGE: b - a + 1 bits */
        char field[48];          /* TAX/BOOL raw field, EXT key */
        int fidx;                /* TAX/BOOL: index of field in resident.raw.v1 */
        int rels[ANON_MAX_RELS]; /* HH_HAS/CHILD_YM: Relationship enum indexes */
        int nrels;
        int line;
} anon_op_t;

/* Field indexes of resident.raw.v1 (and of its nested records) the
 * transforms read, resolved once at parse: the per-record path never looks
 * a field up by name. */
typedef struct anon_raw_idx {
        int atena_no, batch_id, reference_date, sex, birth_date, address_code, relationship;
        int household_members, extensions, applicant;
        int member_relationship, member_birth_date; /* in HouseholdMember */
        int applicant_user_id;                      /* in Applicant */
} anon_raw_idx_t;

typedef struct anon_rules {
        char version[64];
        int layout;
        int extreme_age;
        int k_floor;
        int threads; /* judging threads: anon.threads, not from the file */
        anon_k_action_t k_action;
        int generalise_pos;        /* values index of the generalised yearmonth */
        int quasi[ANON_MAX_QUASI]; /* values indexes of the value quasi-identifiers */
        char quasi_name[ANON_MAX_QUASI][32];
        int nquasi;
        anon_dim_t dims[ANON_MAX_QUASI]; /* every quasi-identifier, in file order */
        int ndims;
        anon_uid_rule_t uid_rule;
        char truthy[ANON_MAX_TRUTHY][16];
        int ntruthy;
        anon_op_t *ops;
        size_t nops;
        size_t flag_bytes;  /* from the dictionary */
        size_t value_count; /* from the dictionary */
        anon_raw_idx_t raw;
} anon_rules_t;

/* Parses rule text against the dictionary d (borrowed during the call).
 * origin names the file in messages ("rules-v1.conf:12: ..."). Returns a
 * rule set the caller frees with anon_rules_destroy(), or NULL with errstr. */
anon_rules_t *anon_rules_parse(const char *text, size_t len, const char *origin,
                               const osh_dict_t *d, char *errstr, size_t errstr_size);
/* Reads path and parses it. */
anon_rules_t *anon_rules_load(const char *path, const osh_dict_t *d, char *errstr,
                              size_t errstr_size);
void anon_rules_destroy(anon_rules_t *r); /* NULL ok */

#endif
