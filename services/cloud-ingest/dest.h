/* POST /v1/destinations: staff upload SNS destinations as CSV (UTF-8):
 *
 *   利用者ID,channel,account id,categories[,active]
 *
 * - 利用者ID: 1-64 ASCII letters/digits (the pseudonymous id; spec: alphanumeric)
 * - channel: line | email | webhook | x | facebook | sms (case-insensitive)
 * - account id, checked by the channel's validator in oshirase/account.h
 *   (the same code sns-dispatcher runs before sending): LINE user id; e-mail
 *   addr-spec (no CR/LF, controls, spaces or angle brackets); https:// URL;
 *   X user id; Facebook page-scoped id; E.164 phone number
 * - categories: names from destinations.categories, separated by ';', '|' or
 *   spaces (a quoted field may also use ','); at least one
 * - active (optional): 1/0, true/false, yes/no, active/withdrawn
 * An optional header line (first field 利用者ID or user_id) and a UTF-8 BOM
 * are skipped. Good rows go to destinations.v1 keyed by 利用者ID; bad rows
 * are reported, never echoed (rows are validated, encoded and published
 * 8192 at a time, so a million-row upload needs one chunk of encoded rows
 * beside the body; the body itself is held whole because the HMAC token
 * signs its SHA-256): 200 {"accepted":n,"rejected":m,"errors":
 * [{"line":l,"reason":"..."}]} (at most 1000 errors listed, then
 * "errors_truncated":true), or 400 when no line has the shape of a row. */
#ifndef CI_DEST_H
#define CI_DEST_H

#include <stddef.h>

#include "ingest.h"
#include "oshirase/http_server.h"

#define CI_DEST_DEFAULT_CATEGORIES                                                                 \
        "childcare,single_parent,health_welfare,safety_disaster,benefits,checkups,vaccination"

typedef struct ci_dest ci_dest_t;

/* ingest (borrowed) publishes the rows; may be NULL for validation-only use
 * (tests, fuzzing). categories: comma-separated. NULL with errstr. */
ci_dest_t *ci_dest_new(ci_ingest_t *ingest, const char *categories, char *errstr,
                       size_t errstr_size);
void ci_dest_destroy(ci_dest_t *d); /* NULL ok */

/* Validates one row's fields; NULL when fine, else the reason (static). */
const char *ci_dest_check_row(const ci_dest_t *d, const char *const *fields, const size_t *lens,
                              size_t n);

/* Handles an authenticated text/csv body; fills rep. */
void ci_dest_upload(ci_dest_t *d, const uint8_t *body, size_t len, osh_http_reply_t *rep);

#endif
