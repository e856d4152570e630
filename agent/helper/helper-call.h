/* A ClockHelper1 method call's name and arguments as a helper_request, and the polkit
 * action it needs: the one step between D-Bus and the rules (helper-policy.h). Kept apart
 * from the service so the fuzz target (tests/fuzz/fuzz-helper-args.c) runs exactly it. */
#ifndef GNOMON_HELPER_CALL_H
#define GNOMON_HELPER_CALL_H

#include <glib.h>

#include "helper-policy.h"

#define HELPER_ACTION_ADJUST       "org.gnomon.clock.adjust"
#define HELPER_ACTION_STEP         "org.gnomon.clock.step"
#define HELPER_ACTION_APPROVE_STEP "org.gnomon.clock.approve-step"

/* Fills REQUEST from METHOD's PARAMETERS (a tuple of the method's in-arguments, as
 * dbus/org.gnomon.ClockHelper1.xml gives them) and sets *ACTION. For Step, *REQUEST_ID is
 * a copy of the request ID (free it) and request->request_id points to it; otherwise it is
 * NULL. FALSE, changing nothing, for an unknown method or arguments of another type. The
 * values themselves are judged by helper_policy_decide(). */
gboolean helper_call_parse(const char *method, GVariant *parameters, struct helper_request *request,
                           char **request_id, const char **action);

#endif
