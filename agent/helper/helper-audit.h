/* The helper's account of every answered request: the one-line message the caller gets,
 * one structured journal entry, and the record entry of the dry-run backend. */
#ifndef GNOMON_HELPER_AUDIT_H
#define GNOMON_HELPER_AUDIT_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "helper-policy.h"

/* Journal MESSAGE_IDs (journalctl MESSAGE_ID=...). */
#define HELPER_MESSAGE_CLOCK_CHANGED    "1b843ff9d454429cb6b091258fac41cb"
#define HELPER_MESSAGE_REQUEST_REFUSED  "b3b01387a82a40efa9c73dc390ae300d"
#define HELPER_MESSAGE_STEP_APPROVED    "6326e7afbf09401e94fe686f6f209540"
#define HELPER_MESSAGE_REQUEST_REPEATED "38a04e1ac2d04588a674ae15246ae0d5"

#define HELPER_UID_UNKNOWN G_MAXUINT32

struct helper_answer {
    const struct helper_request *request;
    struct helper_decision decision;
    guint32 caller_uid; /* HELPER_UID_UNKNOWN when the bus could not say */
    gint64 time_ns;     /* the time the rules judged (0 when not read) */
    gint64 boottime_ns; /* CLOCK_BOOTTIME when decided */
    const char *detail; /* polkit's or the backend's explanation, or NULL */
};

/* "accepted" or "refused". */
const char *helper_audit_verdict(const struct helper_answer *answer);

/* One line naming the numbers and the limit that decided. */
char *helper_audit_message(const struct helper_limits *limits, const struct helper_answer *answer);

/* One journal entry (MESSAGE_ID, METHOD, CALLER_UID, OFFSET_NS, VERDICT, RULE, ERROR,
 * REQUEST_ID, ...); to stderr instead when the journal cannot be reached. */
void helper_audit_journal(const struct helper_answer *answer, const char *message,
                          const char *backend_name);

/* The record line's fields (the backend adds what it passed to the kernel). */
JsonObject *helper_audit_record(const struct helper_answer *answer, const char *message);

#endif
