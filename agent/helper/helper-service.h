/* org.gnomon.ClockHelper1 on the system bus (dbus/org.gnomon.ClockHelper1.xml): an
 * asynchronous polkit check of every caller, then the rules of helper-policy.h, the
 * backend, the per-boot record, the journal, signals and properties. Exits when idle. */
#ifndef GNOMON_HELPER_SERVICE_H
#define GNOMON_HELPER_SERVICE_H

#include <glib.h>

#include "backend.h"
#include "helper-policy.h"
#include "helper-state.h"

#define HELPER_BUS_NAME    "org.gnomon.ClockHelper1"
#define HELPER_OBJECT_PATH "/org/gnomon/ClockHelper1"
#define HELPER_INTERFACE   "org.gnomon.ClockHelper1"

/* The org.gnomon.Error.* errors, registered with GDBus (codes: enum helper_error). */
#define HELPER_ERROR (helper_error_quark())
GQuark helper_error_quark(void);

struct helper_service_options {
    const char *timesync_directory; /* create "synchronized" here; NULL: never */
    guint idle_timeout_s;           /* 0: never exit when idle */
    guint answer_delay_ms;          /* dry-run only: answer changes this late (a lost answer) */
};

struct helper_service;

/* Takes backend and store. */
struct helper_service *helper_service_new(const struct helper_limits *limits,
                                          const struct helper_policy_state *state,
                                          struct backend *backend, struct helper_store *store,
                                          const struct helper_service_options *options,
                                          GError **error);
void helper_service_free(struct helper_service *service);

/* Owns the name, serves until idle or SIGTERM/SIGINT; returns the exit status. */
int helper_service_run(struct helper_service *service);

typedef struct helper_service GnomonHelperService;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GnomonHelperService, helper_service_free)

#endif
