/* gnomonctl sync / online / offline: the agent's SyncNow and SetOnline, each behind its
 * polkit action (org.gnomon.agent.sync, org.gnomon.agent.set-online). Quiet on success. */
#include <glib/gi18n.h>

#include "ctl.h"

int ctl_sync(struct ctl *ctl)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = ctl_call(ctl, FALSE, "SyncNow", NULL, &error);
    if (reply == NULL)
        return ctl_fail(error, _("cannot start a synchronisation"), CTL_AGENT_NAME);
    return CTL_EXIT_OK;
}

int ctl_set_online(struct ctl *ctl, gboolean online)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply =
        ctl_call(ctl, FALSE, "SetOnline", g_variant_new("(b)", online), &error);
    if (reply == NULL) {
        return ctl_fail(error,
                        online ? _("cannot switch gnomon-agent online")
                               : _("cannot switch gnomon-agent offline"),
                        CTL_AGENT_NAME);
    }
    return CTL_EXIT_OK;
}
