#include "bus-authorization.h"

#include <polkit/polkit.h>

struct check {
    GDBusMethodInvocation *invocation;
    char *action_id;
    gboolean root_passes;
    guint uid;
    bus_authorization_done_fn done;
    gpointer user_data;
};

static void finish(struct check *c, gboolean allowed, const char *reason)
{
    c->done(c->invocation, allowed, reason, c->uid, c->user_data);
    g_object_unref(c->invocation);
    g_free(c->action_id);
    g_free(c);
}

static void on_polkit_result(GObject *source, GAsyncResult *res, gpointer user_data)
{
    struct check *c = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(PolkitAuthorizationResult) result =
        polkit_authority_check_authorization_finish(POLKIT_AUTHORITY(source), res, &error);
    if (result == NULL) {
        g_autofree char *reason = g_strdup_printf("polkit is not reachable: %s", error->message);
        finish(c, FALSE, reason);
        return;
    }
    if (polkit_authorization_result_get_is_authorized(result)) {
        finish(c, TRUE, NULL);
        return;
    }
    g_autofree char *reason =
        g_strdup_printf(polkit_authorization_result_get_is_challenge(result)
                            ? "not authorized for %s (authentication required)"
                            : "not authorized for %s",
                        c->action_id);
    finish(c, FALSE, reason);
}

static void on_authority(GObject *source, GAsyncResult *res, gpointer user_data)
{
    struct check *c = user_data;
    (void)source;
    g_autoptr(GError) error = NULL;
    g_autoptr(PolkitAuthority) authority = polkit_authority_get_finish(res, &error);
    if (authority == NULL) {
        g_autofree char *reason = g_strdup_printf("polkit is not reachable: %s", error->message);
        finish(c, FALSE, reason);
        return;
    }
    /* Without polkitd (or one that cannot be activated) the check itself fails: closed. */
    g_autoptr(PolkitSubject) subject =
        polkit_system_bus_name_new(g_dbus_method_invocation_get_sender(c->invocation));
    GDBusMessage *message = g_dbus_method_invocation_get_message(c->invocation);
    PolkitCheckAuthorizationFlags flags = POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE;
    if (g_dbus_message_get_flags(message) & G_DBUS_MESSAGE_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION)
        flags |= POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION;
    polkit_authority_check_authorization(authority, subject, c->action_id, NULL, flags, NULL,
                                         on_polkit_result, c);
}

static void on_caller_uid(GObject *source, GAsyncResult *res, gpointer user_data)
{
    struct check *c = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply =
        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
    if (reply == NULL) {
        g_autofree char *reason = g_strdup_printf("cannot tell who is calling: %s", error->message);
        finish(c, FALSE, reason);
        return;
    }
    g_variant_get(reply, "(u)", &c->uid);
    if (c->uid == 0 && c->root_passes) {
        finish(c, TRUE, NULL);
        return;
    }
    polkit_authority_get_async(NULL, on_authority, c);
}

void bus_authorization_check(GDBusMethodInvocation *invocation, const char *action_id,
                             gboolean root_passes, bus_authorization_done_fn done,
                             gpointer user_data)
{
    struct check *c = g_new0(struct check, 1);
    c->invocation = g_object_ref(invocation);
    c->action_id = g_strdup(action_id);
    c->root_passes = root_passes;
    c->uid = G_MAXUINT;
    c->done = done;
    c->user_data = user_data;
    g_dbus_connection_call(
        g_dbus_method_invocation_get_connection(invocation), "org.freedesktop.DBus",
        "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixUser",
        g_variant_new("(s)", g_dbus_method_invocation_get_sender(invocation)),
        G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, on_caller_uid, c);
}
