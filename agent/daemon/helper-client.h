/* The agent's client of gnomon-clock-helper (org.gnomon.ClockHelper1 on the system bus):
 * clock_control over D-Bus, the helper's StepApproved signal, and its Backend. Errors the
 * helper names (org.gnomon.Error.*) are refusals; a missing answer is "lost". */
#ifndef GNOMON_DAEMON_HELPER_CLIENT_H
#define GNOMON_DAEMON_HELPER_CLIENT_H

#include <gio/gio.h>

#include "clock-control.h"

struct helper_client;

typedef void (*helper_client_approved_fn)(gint64 offset_ns, guint64 tolerance_ns,
                                          gpointer user_data);

struct helper_client *helper_client_new(GDBusConnection *bus, GError **error);
void helper_client_free(struct helper_client *client);

/* The clock_control to hand the agent; valid while the client lives. */
struct clock_control helper_client_clock_control(struct helper_client *client);

void helper_client_on_step_approved(struct helper_client *client, helper_client_approved_fn fn,
                                    gpointer user_data);

/* The helper's Backend property ("kernel", "dry-run"), starting it if needed; NULL with
 * error when it cannot be asked. Synchronous: used once at start. */
char *helper_client_get_backend(struct helper_client *client, GError **error);

#endif
