/* gnomonctl on the bus: reading the agent, calling the agent and the helper, and what a
 * failed call means for the exit code. */
#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "tty-agent.h"

/* A read or a call that cannot ask anybody anything. */
#define CALL_TIMEOUT_MS        25000
/* A call that may wait for a person typing a password: longer than the services' own
 * limit for an interactive polkit check (300 s), so their answer is the one seen. */
#define INTERACTIVE_TIMEOUT_MS 330000

void ctl_message(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *message = g_strdup_vprintf(format, args);
    va_end(args);
    /* stdout first, so the two streams keep their order on a terminal; a failed write
     * stays in stdout's error indicator, which main() reports. */
    (void)fflush(stdout);
    fprintf(stderr, "gnomonctl: %s\n", message);
}

static gboolean is_one_of(const char *name, const char *const *names)
{
    for (; *names != NULL; names++) {
        if (strcmp(name, *names) == 0)
            return TRUE;
    }
    return FALSE;
}

static int exit_code_for(const char *remote)
{
    static const char *const absent[] = {"org.freedesktop.DBus.Error.ServiceUnknown",
                                         "org.freedesktop.DBus.Error.NameHasNoOwner", NULL};
    static const char *const denied[] = {
        "org.gnomon.Error.NotAuthorized",
        "org.freedesktop.DBus.Error.AccessDenied",
        "org.freedesktop.DBus.Error.AuthFailed",
        "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
        NULL,
    };
    if (remote == NULL)
        return CTL_EXIT_FAILURE;
    if (is_one_of(remote, absent) || g_str_has_prefix(remote, "org.freedesktop.DBus.Error.Spawn."))
        return CTL_EXIT_NOT_RUNNING;
    if (is_one_of(remote, denied))
        return CTL_EXIT_NOT_AUTHORIZED;
    if (g_str_has_prefix(remote, "org.gnomon.Error."))
        return CTL_EXIT_REFUSED;
    return CTL_EXIT_FAILURE;
}

int ctl_fail(const GError *error, const char *what, const char *service)
{
    g_autofree char *remote = g_dbus_error_get_remote_error(error);
    g_autoptr(GError) stripped = g_error_copy(error);
    g_dbus_error_strip_remote_error(stripped);
    int code = exit_code_for(remote);
    gboolean agent = strcmp(service, CTL_AGENT_NAME) == 0;
    if (code == CTL_EXIT_NOT_RUNNING && agent) {
        ctl_message(_("%s: gnomon-agent is not running (%s has no owner on the system bus)"), what,
                    CTL_AGENT_NAME);
    } else if (code == CTL_EXIT_NOT_RUNNING) {
        ctl_message(_("%s: the clock helper cannot be started (%s)"), what, stripped->message);
    } else if (code == CTL_EXIT_REFUSED) {
        /* The services' messages name the numbers and the limit; the error name says
         * which rule, for a search in clock-policy.md. */
        ctl_message("%s: %s (%s)", what, stripped->message, remote);
    } else {
        ctl_message("%s: %s", what, stripped->message);
    }
    return code;
}

GVariant *ctl_agent_get_all(struct ctl *ctl, int *exit_code)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        ctl->bus, CTL_AGENT_NAME, CTL_AGENT_PATH, "org.freedesktop.DBus.Properties", "GetAll",
        g_variant_new("(s)", CTL_AGENT_INTERFACE), G_VARIANT_TYPE("(a{sv})"),
        G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS, NULL, &error);
    if (reply == NULL) {
        *exit_code = ctl_fail(error, _("cannot read the state of gnomon-agent"), CTL_AGENT_NAME);
        return NULL;
    }
    *exit_code = CTL_EXIT_OK;
    return g_variant_get_child_value(reply, 0);
}

GVariant *ctl_call(struct ctl *ctl, gboolean helper, const char *method, GVariant *parameters,
                   GError **error)
{
    gboolean ask = !ctl->options.no_ask_password;
    /* Root passes the agent's and the helper's checks without polkit (interfaces.md). */
    GPid tty_agent = ask && geteuid() != 0 ? ctl_tty_agent_start() : 0;
    GDBusCallFlags flags = helper ? G_DBUS_CALL_FLAGS_NONE : G_DBUS_CALL_FLAGS_NO_AUTO_START;
    if (ask)
        flags |= G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION;
    GVariant *reply = g_dbus_connection_call_sync(
        ctl->bus, helper ? CTL_HELPER_NAME : CTL_AGENT_NAME,
        helper ? CTL_HELPER_PATH : CTL_AGENT_PATH, helper ? CTL_HELPER_NAME : CTL_AGENT_INTERFACE,
        method, parameters, NULL, flags, ask ? INTERACTIVE_TIMEOUT_MS : CALL_TIMEOUT_MS, NULL,
        error);
    ctl_tty_agent_stop(tty_agent);
    return reply;
}
