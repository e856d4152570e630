#include "bus-authorization.h"

#include <polkit/polkit.h>

#define BUS_CALL_TIMEOUT_MS          10000
/* polkitd answers a plain check at once; an interactive one waits for a person. */
#define POLKIT_TIMEOUT_S             30
#define POLKIT_INTERACTIVE_TIMEOUT_S 300

struct check {
    GDBusMethodInvocation *invocation;
    char *action_id;
    char **details;
    gboolean root_passes;
    guint uid;
    GCancellable *cancellable;
    guint timeout_source;
    bus_authorization_done_fn done;
    gpointer user_data;
};

static void finish(struct check *c, gboolean allowed, const char *reason)
{
    g_clear_handle_id(&c->timeout_source, g_source_remove);
    c->done(c->invocation, allowed, reason, c->uid, c->user_data);
    g_clear_object(&c->cancellable);
    g_object_unref(c->invocation);
    g_strfreev(c->details);
    g_free(c->action_id);
    g_free(c);
}

static void fail_unreachable(struct check *c, const char *why)
{
    g_autofree char *reason = g_strdup_printf(
        "not authorized: polkit is unreachable (%s), so %s is refused to everyone but root", why,
        c->action_id);
    finish(c, FALSE, reason);
}

static gboolean on_timeout(gpointer user_data)
{
    struct check *c = user_data;
    c->timeout_source = 0;
    g_cancellable_cancel(c->cancellable);
    return G_SOURCE_REMOVE;
}

static void on_polkit_result(GObject *source, GAsyncResult *res, gpointer user_data)
{
    struct check *c = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(PolkitAuthorizationResult) result =
        polkit_authority_check_authorization_finish(POLKIT_AUTHORITY(source), res, &error);
    if (result == NULL) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_autofree char *reason = g_strdup_printf(
                "not authorized: polkit did not answer in time for %s", c->action_id);
            finish(c, FALSE, reason);
        } else {
            g_dbus_error_strip_remote_error(error);
            fail_unreachable(c, error->message);
        }
        return;
    }
    if (polkit_authorization_result_get_is_authorized(result)) {
        finish(c, TRUE, NULL);
        return;
    }
    g_autofree char *reason = g_strdup_printf(
        "not authorized: polkit does not allow uid %u %s%s", c->uid, c->action_id,
        polkit_authorization_result_get_is_challenge(result)
            ? " without authentication (call again allowing interactive authorization)"
            : "");
    finish(c, FALSE, reason);
}

static void on_authority(GObject *source, GAsyncResult *res, gpointer user_data)
{
    struct check *c = user_data;
    (void)source;
    g_autoptr(GError) error = NULL;
    /* libpolkit keeps one authority per process: getting it again costs nothing. */
    g_autoptr(PolkitAuthority) authority = polkit_authority_get_finish(res, &error);
    if (authority == NULL) {
        fail_unreachable(c, error->message);
        return;
    }
    g_autoptr(PolkitSubject) subject =
        polkit_system_bus_name_new(g_dbus_method_invocation_get_sender(c->invocation));
    g_autoptr(PolkitDetails) details = polkit_details_new();
    for (char **d = c->details; d != NULL && d[0] != NULL && d[1] != NULL; d += 2)
        polkit_details_insert(details, d[0], d[1]);
    GDBusMessage *message = g_dbus_method_invocation_get_message(c->invocation);
    gboolean interactive = (g_dbus_message_get_flags(message) &
                            G_DBUS_MESSAGE_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION) != 0;
    c->cancellable = g_cancellable_new();
    c->timeout_source = g_timeout_add_seconds(
        interactive ? POLKIT_INTERACTIVE_TIMEOUT_S : POLKIT_TIMEOUT_S, on_timeout, c);
    polkit_authority_check_authorization(
        authority, subject, c->action_id, details,
        interactive ? POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION
                    : POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE,
        c->cancellable, on_polkit_result, c);
}

static void on_caller_uid(GObject *source, GAsyncResult *res, gpointer user_data)
{
    struct check *c = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply =
        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
    if (reply == NULL) {
        g_autofree char *reason = g_strdup_printf(
            "not authorized: the bus does not say who the caller is (%s)", error->message);
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
                             const char *const *details, gboolean root_passes,
                             bus_authorization_done_fn done, gpointer user_data)
{
    struct check *c = g_new0(struct check, 1);
    c->invocation = g_object_ref(invocation);
    c->action_id = g_strdup(action_id);
    c->details = g_strdupv((char **)details);
    c->root_passes = root_passes;
    c->uid = G_MAXUINT;
    c->done = done;
    c->user_data = user_data;
    g_dbus_connection_call(
        g_dbus_method_invocation_get_connection(invocation), "org.freedesktop.DBus",
        "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixUser",
        g_variant_new("(s)", g_dbus_method_invocation_get_sender(invocation)),
        G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, BUS_CALL_TIMEOUT_MS, NULL, on_caller_uid, c);
}
