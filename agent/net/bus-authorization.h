/* Who may call a D-Bus method: the caller's UID from the bus, then polkit, asynchronously
 * (power-profiles-daemon's blocking check is what style.md says to avoid). UID 0 passes
 * without asking when the caller allows it (interfaces.md: root can set the clock
 * anyway). Without a reachable polkitd, or one that does not answer in time, every other
 * check fails closed. Shared by the agent and the helper, which otherwise know nothing of
 * each other. */
#ifndef GNOMON_NET_BUS_AUTHORIZATION_H
#define GNOMON_NET_BUS_AUTHORIZATION_H

#include <gio/gio.h>

/* allowed, or a one-line reason why not. uid is the caller's (G_MAXUINT when the bus
 * would not say). */
typedef void (*bus_authorization_done_fn)(GDBusMethodInvocation *invocation, gboolean allowed,
                                          const char *reason, guint uid, gpointer user_data);

/* details: NULL, or key/value pairs a polkit rules.d file may read (action.lookup()),
 * given as a NULL-terminated list "key1", "value1", ... */
void bus_authorization_check(GDBusMethodInvocation *invocation, const char *action_id,
                             const char *const *details, gboolean root_passes,
                             bus_authorization_done_fn done, gpointer user_data);

#endif
