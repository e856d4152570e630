/* gnomonctl sources: one line per configured source, like chronyc sources, or as JSON. */
#include <glib/gi18n.h>
#include <stdio.h>

#include "ctl.h"
#include "format.h"

/* LAST ERROR is cut here; --json has it whole. */
#define LAST_ERROR_WIDTH 40

enum {
    COLUMN_NAME,
    COLUMN_OPERATOR,
    COLUMN_ADDRESS,
    COLUMN_STATUS,
    COLUMN_OFFSET,
    COLUMN_DELAY,
    COLUMN_REACH,
    COLUMN_COOKIES,
    COLUMN_LAST_ERROR,
    N_COLUMNS
};

static int sources_json(GVariant *sources)
{
    g_autoptr(JsonBuilder) builder = json_builder_new();
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "sources");
    json_builder_begin_array(builder);
    for (gsize i = 0; i < g_variant_n_children(sources); i++) {
        g_autoptr(GVariant) entry = g_variant_get_child_value(sources, i);
        ctl_json_add_source(builder, entry);
    }
    json_builder_end_array(builder);
    json_builder_end_object(builder);
    ctl_json_print(builder, FALSE);
    return CTL_EXIT_OK;
}

/* A source never measured has no offset or delay to show. */
static gboolean measured(const struct ctl_source *s)
{
    return s->offset_ns != 0 || s->delay_ns != 0;
}

static void add_row(CtlTable *table, const struct ctl_source *s)
{
    g_autofree char *offset = measured(s) ? ctl_format_duration(s->offset_ns, TRUE) : NULL;
    g_autofree char *delay =
        measured(s) ? ctl_format_duration((gint64)MIN(s->delay_ns, (guint64)G_MAXINT64), FALSE)
                    : NULL;
    g_autofree char *reach = ctl_format_reach(s->reach);
    g_autofree char *cookies = g_strdup_printf("%u", s->cookies);
    g_autofree char *error = ctl_truncate(s->last_error, LAST_ERROR_WIDTH);
    const char *cells[N_COLUMNS] = {
        [COLUMN_NAME] = s->name,
        [COLUMN_OPERATOR] = s->operator_name,
        /* Before its first NTP address is known, the host it will be asked for. */
        [COLUMN_ADDRESS] = s->address[0] != '\0' ? s->address : s->host,
        [COLUMN_STATUS] = s->status,
        [COLUMN_OFFSET] = offset != NULL ? offset : "-",
        [COLUMN_DELAY] = delay != NULL ? delay : "-",
        [COLUMN_REACH] = reach,
        [COLUMN_COOKIES] = cookies,
        [COLUMN_LAST_ERROR] = s->last_error[0] != '\0' ? error : "-",
    };
    const char *colours[N_COLUMNS] = {
        [COLUMN_STATUS] = ctl_colour_for_source_status(s->status),
    };
    ctl_table_add_row(table, cells, colours);
}

int ctl_sources(struct ctl *ctl)
{
    int code;
    g_autoptr(GVariant) properties = ctl_agent_get_all(ctl, &code);
    if (properties == NULL)
        return code;
    struct ctl_agent_state st;
    ctl_agent_state_parse(properties, &st);
    if (ctl->options.json) {
        code = sources_json(st.sources);
        ctl_agent_state_clear(&st);
        return code;
    }
    if (g_variant_n_children(st.sources) == 0) {
        printf("%s\n", _("No sources are configured."));
        ctl_agent_state_clear(&st);
        return CTL_EXIT_OK;
    }
    const char *headers[N_COLUMNS] = {
        [COLUMN_NAME] = _("NAME"),
        [COLUMN_OPERATOR] = _("OPERATOR"),
        [COLUMN_ADDRESS] = _("ADDRESS"),
        [COLUMN_STATUS] = _("STATUS"),
        [COLUMN_OFFSET] = _("OFFSET"),
        [COLUMN_DELAY] = _("DELAY"),
        /* TRANSLATORS: the reach register (the last eight polls, in octal), as chronyc. */
        [COLUMN_REACH] = _("REACH"),
        /* TRANSLATORS: unused NTS cookies held for the source. */
        [COLUMN_COOKIES] = _("COOKIES"),
        [COLUMN_LAST_ERROR] = _("LAST ERROR"),
    };
    const gboolean right[N_COLUMNS] = {
        [COLUMN_OFFSET] = TRUE,
        [COLUMN_DELAY] = TRUE,
        [COLUMN_REACH] = TRUE,
        [COLUMN_COOKIES] = TRUE,
    };
    g_autoptr(CtlTable) table = ctl_table_new(N_COLUMNS, headers, right);
    for (gsize i = 0; i < g_variant_n_children(st.sources); i++) {
        g_autoptr(GVariant) entry = g_variant_get_child_value(st.sources, i);
        struct ctl_source source;
        ctl_source_parse(entry, &source);
        add_row(table, &source);
    }
    g_autofree char *text = ctl_table_render(table, ctl->options.colour);
    (void)fputs(text, stdout); /* a failure stays in stdout's error indicator */
    ctl_agent_state_clear(&st);
    return CTL_EXIT_OK;
}
