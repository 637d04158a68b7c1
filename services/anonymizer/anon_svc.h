/* The anonymizer service: consumes resident.raw.v1 + batch.control.v1 on
 * the processing cluster, buffers each batch in abstracted form, and when
 * the batch is complete (END seen, count and checksum match) releases
 * resident.abstracted.v1 framed by its own START/END (same batch id), a
 * privacy report, and dead letters for records of bad shape.
 *
 * Crash safety: consumer offsets are stored only up to the first record of
 * the oldest batch not yet released, and a batch counts as released only
 * after its records, report and END were acknowledged. A kill -9 therefore
 * makes the restart re-read whole batches; before releasing one it reads
 * back what an earlier run already wrote of it (anon_resume.h) and writes
 * only the rest, so each record is on the topics once and the END's count +
 * checksum equal those of a clean run. */
#ifndef ANON_SVC_H
#define ANON_SVC_H

#include <stddef.h>

#include "oshirase/config.h"
#include "oshirase/service.h"

#define ANON_HDR_RULES "osh.anon.rules" /* rule-file version, on every abstracted record */

extern const osh_cfg_entry_t anon_config_table[];
extern const size_t anon_config_table_len;

/* The service: configure loads the rules, dictionary and key (so --check
 * refuses what the run would), open connects, run consumes until shutdown. */
extern const osh_service_app_t anon_app;

#endif
