/* gnomonctl status: the agent's state, laid out like timedatectl status, or as JSON. */
#include <glib/gi18n.h>
#include <stdio.h>

#include "ctl.h"
#include "format.h"

static const char *yes_no(gboolean value)
{
    return value ? _("yes") : _("no");
}

static int status_json(GVariant *properties)
{
    g_autoptr(JsonBuilder) builder = json_builder_new();
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "local_time_usec");
    json_builder_add_int_value(builder, g_get_real_time());
    GVariantIter iter;
    const char *name;
    GVariant *value;
    g_variant_iter_init(&iter, properties);
    while (g_variant_iter_loop(&iter, "{&sv}", &name, &value))
        ctl_json_add_property(builder, name, value);
    json_builder_end_object(builder);
    ctl_json_print(builder, FALSE);
    return CTL_EXIT_OK;
}

struct field {
    const char *label;
    char *value; /* owned */
};

static void add(GArray *fields, const char *label, char *value)
{
    struct field f = {label, value};
    g_array_append_val(fields, f);
}

char *ctl_offset_text(const struct ctl_agent_state *st)
{
    if (st->offset_ns == 0 && st->uncertainty_ns == 0)
        return g_strdup(_("n/a"));
    g_autofree char *offset = ctl_format_duration(st->offset_ns, TRUE);
    g_autofree char *uncertainty =
        ctl_format_duration((gint64)MIN(st->uncertainty_ns, (guint64)G_MAXINT64), FALSE);
    return g_strdup_printf("%s (± %s)", offset, uncertainty);
}

static void print_status(const struct ctl_agent_state *st, gboolean colour)
{
    g_autoptr(GArray) fields = g_array_new(FALSE, FALSE, sizeof(struct field));
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    add(fields, _("Local time"), g_date_time_format(now, "%a %Y-%m-%d %H:%M:%S %Z"));
    add(fields, _("Synchronized"), g_strdup(yes_no(st->synchronized)));
    add(fields, _("State"), ctl_colourize(st->state, ctl_colour_for_state(st->state), colour));
    add(fields, _("Online"), g_strdup(yes_no(st->online)));
    add(fields, _("Offset"), ctl_offset_text(st));
    add(fields, _("Agreeing sources"),
        /* TRANSLATORS: sources in the last consensus, then the quorum it needs. */
        g_strdup_printf(_("%u of %u required"), st->agreeing, st->min_agreeing));
    add(fields, _("Poll interval"),
        st->poll_interval_usec == 0 ? g_strdup(_("n/a"))
                                    : ctl_format_interval(st->poll_interval_usec));
    add(fields, _("Frequency"), ctl_format_ppm(st->frequency_ppm));
    add(fields, _("Last sync"),
        st->last_sync_usec == 0
            ? g_strdup(_("never"))
            : ctl_format_age(g_get_real_time(),
                             (gint64)MIN(st->last_sync_usec, (guint64)G_MAXINT64)));
    if (st->pending_step_ns != 0) {
        g_autofree char *step = ctl_format_duration(st->pending_step_ns, TRUE);
        /* TRANSLATORS: %s is an offset such as "+2 h 0 min"; keep the command as it is. */
        g_autofree char *text = g_strdup_printf(_("%s (run \"gnomonctl approve-step\")"), step);
        add(fields, _("Pending step"), ctl_colourize(text, CTL_COLOUR_YELLOW, colour));
    }

    gsize width = 0;
    for (guint i = 0; i < fields->len; i++)
        width = MAX(width, ctl_display_width(g_array_index(fields, struct field, i).label));
    for (guint i = 0; i < fields->len; i++) {
        struct field *f = &g_array_index(fields, struct field, i);
        g_autofree char *line = ctl_format_field(f->label, width, f->value);
        printf("%s\n", line);
        g_free(f->value);
    }
}

int ctl_status(struct ctl *ctl)
{
    int code;
    g_autoptr(GVariant) properties = ctl_agent_get_all(ctl, &code);
    if (properties == NULL)
        return code;
    if (ctl->options.json)
        return status_json(properties);
    struct ctl_agent_state st;
    ctl_agent_state_parse(properties, &st);
    print_status(&st, ctl->options.colour);
    ctl_agent_state_clear(&st);
    return CTL_EXIT_OK;
}
