/* gnomonctl approve-step: an administrator's consent to the step the agent refused
 * (clock-policy.md, "Approving a refused step"). The agent's PendingStep names the offset;
 * the consent goes to the clock helper (ApproveStep, polkit org.gnomon.clock.approve-step,
 * auth_admin), never to the agent, so that neither can step beyond the limits alone. */
#include <glib/gi18n.h>
#include <stdio.h>
#include <unistd.h>

#include "ctl.h"
#include "format.h"

/* |ns| without overflow for G_MININT64. */
static guint64 magnitude(gint64 ns)
{
    return ns < 0 ? (guint64)(-(ns + 1)) + 1 : (guint64)ns;
}

int ctl_approve_step(struct ctl *ctl)
{
    int code;
    g_autoptr(GVariant) properties = ctl_agent_get_all(ctl, &code);
    if (properties == NULL)
        return code;
    gint64 pending = 0;
    g_variant_lookup(properties, "PendingStep", "x", &pending);
    if (pending == 0) {
        printf("%s\n", _("Nothing to approve: gnomon-agent has not refused a step."));
        return CTL_EXIT_OK;
    }
    g_autofree char *step = ctl_format_duration(pending, TRUE);
    g_autofree char *tolerance = ctl_format_duration(ctl->options.tolerance_ns, FALSE);
    if ((guint64)ctl->options.tolerance_ns >= magnitude(pending)) {
        ctl_message(_("the tolerance (%s) must be smaller than the step to approve (%s)"),
                    tolerance, step);
        return CTL_EXIT_USAGE;
    }
    if (!ctl->options.no_ask_password && isatty(STDIN_FILENO) && geteuid() != 0) {
        /* Before polkit asks for a password: what the password is for. */
        printf(_("Approving a step of %s (± %s).\n"), step, tolerance);
        (void)fflush(stdout); /* a failure stays in stdout's error indicator */
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply =
        ctl_call(ctl, TRUE, "ApproveStep",
                 g_variant_new("(xt)", pending, (guint64)ctl->options.tolerance_ns), &error);
    if (reply == NULL)
        return ctl_fail(error, _("cannot approve the step"), CTL_HELPER_NAME);
    printf(_("Approved a step of %s (± %s); gnomon-agent makes it once its sources agree on "
             "it again.\n"),
           step, tolerance);
    return CTL_EXIT_OK;
}
