/* Who may call a D-Bus method: the caller's UID from the bus, then polkit, asynchronously
 * (power-profiles-daemon's blocking check is what style.md says to avoid). UID 0 passes
 * without asking when the caller allows it (interfaces.md: root can set the clock
 * anyway); without a reachable polkitd every other check fails closed. Shared by the
 * agent and the helper, which otherwise know nothing of each other. */
#ifndef GNOMON_NET_BUS_AUTHORIZATION_H
#define GNOMON_NET_BUS_AUTHORIZATION_H

#include <gio/gio.h>

/* allowed, or a one-line reason why not ("not authorized for org.gnomon.x", "polkit is
 * not reachable: ..."). uid is the caller's (G_MAXUINT when unknown). */
typedef void (*bus_authorization_done_fn)(GDBusMethodInvocation *invocation, gboolean allowed,
                                          const char *reason, guint uid, gpointer user_data);

void bus_authorization_check(GDBusMethodInvocation *invocation, const char *action_id,
                             gboolean root_passes, bus_authorization_done_fn done,
                             gpointer user_data);

#endif
