/* Test tool: stands in for logind on a private system bus just long enough to announce a
 * sleep or a resume: owns org.freedesktop.login1, emits
 * org.freedesktop.login1.Manager.PrepareForSleep(going_to_sleep) and exits. The agent
 * trusts that signal only from the owner of that name, so a test must own it too.
 *     fake-login1 true|false */
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "true") != 0 && strcmp(argv[1], "false") != 0)) {
        fprintf(stderr, "usage: fake-login1 true|false\n");
        return 2;
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
    if (bus == NULL) {
        fprintf(stderr, "fake-login1: %s\n", error->message);
        return 1;
    }
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
        g_variant_new("(su)", "org.freedesktop.login1", 4 /* DO_NOT_QUEUE */),
        G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
    guint32 result = 0;
    if (reply != NULL)
        g_variant_get(reply, "(u)", &result);
    if (reply == NULL || result != 1 /* PRIMARY_OWNER */) {
        fprintf(stderr, "fake-login1: cannot own org.freedesktop.login1: %s\n",
                error ? error->message : "name taken");
        return 1;
    }
    if (!g_dbus_connection_emit_signal(
            bus, NULL, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
            "PrepareForSleep", g_variant_new("(b)", strcmp(argv[1], "true") == 0), &error) ||
        !g_dbus_connection_flush_sync(bus, NULL, &error)) {
        fprintf(stderr, "fake-login1: %s\n", error->message);
        return 1;
    }
    return 0;
}
