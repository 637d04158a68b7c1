/* Topic names and record headers shared by every service (docs/architecture.md §2). */
#ifndef OSHIRASE_TOPICS_H
#define OSHIRASE_TOPICS_H

#define OSH_TOPIC_RAW          "resident.raw.v1"
#define OSH_TOPIC_REJECTS      "resident.rejects.v1"
#define OSH_TOPIC_BATCH        "batch.control.v1"
#define OSH_TOPIC_ABSTRACTED   "resident.abstracted.v1"
#define OSH_TOPIC_PRIVACY      "privacy.report.v1"
#define OSH_TOPIC_DESTINATIONS "destinations.v1"
#define OSH_TOPIC_CAMPAIGNS    "campaign.requests.v1"
#define OSH_TOPIC_RESULTS      "campaign.results.v1"
#define OSH_TOPIC_DISPATCH     "notify.dispatch.v1"
#define OSH_TOPIC_STATUS       "notify.status.v1"
#define OSH_TOPIC_OPS          "ops.status.v1"
#define OSH_TOPIC_HEALTH       "ops.health.v1"
#define OSH_TOPIC_STAFF_AUDIT  "staff.audit.v1"

/* Record headers. Every record a service produces from a batch carries the
 * batch id, so consumers can replay from a batch without an index. */
#define OSH_HDR_BATCH_ID "osh.batch.id"
/* Set by every segment crossing (relay-bridge kafka mode, cloud-ingest):
 * where the record came from, "<cluster>/<topic>/<partition>/<offset>", for
 * downstream de-dup. One header, not four: see provenance.h. */
#define OSH_HDR_SRC "osh.src"
/* The older four-header form: no longer written, still read (provenance.h)
 * so recovery understands records written before the change. */
#define OSH_HDR_SRC_TOPIC     "osh.src.topic"
#define OSH_HDR_SRC_PARTITION "osh.src.partition"
#define OSH_HDR_SRC_OFFSET    "osh.src.offset"
#define OSH_HDR_SRC_CLUSTER   "osh.src.cluster"

#endif
