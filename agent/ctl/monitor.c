/* gnomonctl monitor: follows the agent (PropertiesChanged, ClockStepped, StepRefused, the
 * agent starting and stopping) and the helper's StepApproved, one line per change, until
 * SIGINT or SIGTERM. With --json, one JSON object per line. */
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "format.h"
#include "gnomon-dbus-generated.h"

struct monitor {
    struct ctl *ctl;
    GnomonAgent1 *agent;
    GHashTable *last; /* property name -> its last value seen (not boxed) */
    GMainLoop *loop;
};

/* ---- output --------------------------------------------------------------------------- */

static void print_line(const char *text)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *time = g_date_time_format(now, "%H:%M:%S");
    printf("%s %s\n", time, text);
    (void)fflush(stdout); /* a failure stays in stdout's error indicator: main() reports it */
}

G_GNUC_PRINTF(2, 3)
static void print_field(const char *label, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *value = g_strdup_vprintf(format, args);
    va_end(args);
    g_autofree char *line = g_strdup_printf("%s: %s", label, value);
    print_line(line);
}

/* Starts a JSON event object: {"time_usec": ..., "event": NAME, ... */
static JsonBuilder *json_event(const char *name)
{
    JsonBuilder *builder = json_builder_new();
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "time_usec");
    json_builder_add_int_value(builder, g_get_real_time());
    json_builder_set_member_name(builder, "event");
    json_builder_add_string_value(builder, name);
    return builder;
}

static void json_event_print(JsonBuilder *builder)
{
    json_builder_end_object(builder);
    ctl_json_print(builder, TRUE);
}

/* The values last seen as one a{sv}, to read with ctl_agent_state_parse. */
static GVariant *snapshot(struct monitor *m)
{
    GVariantBuilder dict;
    g_variant_builder_init(&dict, G_VARIANT_TYPE_VARDICT);
    GHashTableIter iter;
    gpointer name, value;
    g_hash_table_iter_init(&iter, m->last);
    while (g_hash_table_iter_next(&iter, &name, &value))
        g_variant_builder_add(&dict, "{sv}", (const char *)name, (GVariant *)value);
    return g_variant_ref_sink(g_variant_builder_end(&dict));
}

static const struct ctl_source *find_source(const struct ctl_source *sources, gsize n,
                                            const char *name)
{
    for (gsize i = 0; i < n; i++) {
        if (strcmp(sources[i].name, name) == 0)
            return &sources[i];
    }
    return NULL;
}

static struct ctl_source *parse_sources(GVariant *list, gsize *n)
{
    *n = list != NULL ? g_variant_n_children(list) : 0;
    struct ctl_source *sources = g_new0(struct ctl_source, *n + 1);
    for (gsize i = 0; i < *n; i++) {
        /* The children of a GVariant array stay valid as long as the array. */
        g_autoptr(GVariant) entry = g_variant_get_child_value(list, i);
        ctl_source_parse(entry, &sources[i]);
    }
    return sources;
}

/* One line per source whose Status or LastError changed, that appeared or went away; the
 * offsets and reach of every poll would drown everything else. */
static void print_source_changes(GVariant *before, GVariant *after, gboolean colour)
{
    gsize n_old, n_new;
    /* Freed by hand: scan-build does not see g_autofree (the cleanup attribute). */
    struct ctl_source *old = parse_sources(before, &n_old);
    struct ctl_source *new = parse_sources(after, &n_new);
    for (gsize i = 0; i < n_new; i++) {
        const struct ctl_source *s = &new[i];
        const struct ctl_source *was = find_source(old, n_old, s->name);
        if (was != NULL && strcmp(was->status, s->status) == 0 &&
            strcmp(was->last_error, s->last_error) == 0)
            continue;
        g_autofree char *status =
            ctl_colourize(s->status, ctl_colour_for_source_status(s->status), colour);
        g_autofree char *label = g_strdup_printf(_("Source %s"), s->name);
        if (s->last_error[0] != '\0')
            print_field(label, "%s (%s)", status, s->last_error);
        else
            print_field(label, "%s", status);
    }
    for (gsize i = 0; i < n_old; i++) {
        if (find_source(new, n_new, old[i].name) == NULL) {
            g_autofree char *label = g_strdup_printf(_("Source %s"), old[i].name);
            print_field(label, "%s", _("removed"));
        }
    }
    g_free(new);
    g_free(old);
}

static gboolean in(const char *name, const char *const *names)
{
    return g_strv_contains(names, name);
}

static void print_changes(struct monitor *m, const char *const *changed, GVariant *old_sources)
{
    g_autoptr(GVariant) now = snapshot(m);
    struct ctl_agent_state st;
    ctl_agent_state_parse(now, &st);
    gboolean colour = m->ctl->options.colour;
    if (in("Synchronized", changed))
        print_field(_("Synchronized"), "%s", st.synchronized ? _("yes") : _("no"));
    if (in("State", changed)) {
        g_autofree char *state = ctl_colourize(st.state, ctl_colour_for_state(st.state), colour);
        print_field(_("State"), "%s", state);
    }
    if (in("Online", changed))
        print_field(_("Online"), "%s", st.online ? _("yes") : _("no"));
    if (in("Offset", changed) || in("Uncertainty", changed)) {
        g_autofree char *offset = ctl_offset_text(&st);
        print_field(_("Offset"), "%s", offset);
    }
    if (in("AgreeingSources", changed) || in("MinAgreeingSources", changed))
        print_field(_("Agreeing sources"), _("%u of %u required"), st.agreeing, st.min_agreeing);
    if (in("PollIntervalUSec", changed)) {
        g_autofree char *interval = ctl_format_interval(st.poll_interval_usec);
        print_field(_("Poll interval"), "%s", interval);
    }
    if (in("Frequency", changed)) {
        g_autofree char *ppm = ctl_format_ppm(st.frequency_ppm);
        print_field(_("Frequency"), "%s", ppm);
    }
    if (in("LastSyncUSec", changed) && st.last_sync_usec != 0) {
        g_autoptr(GDateTime) when = g_date_time_new_from_unix_local(
            (gint64)MIN(st.last_sync_usec / G_USEC_PER_SEC, (guint64)G_MAXINT64));
        g_autofree char *text =
            when != NULL ? g_date_time_format(when, "%Y-%m-%d %H:%M:%S %Z") : g_strdup(_("n/a"));
        print_field(_("Last sync"), "%s", text);
    }
    if (in("PendingStep", changed)) {
        g_autofree char *step = ctl_format_duration(st.pending_step_ns, TRUE);
        if (st.pending_step_ns != 0)
            print_field(_("Pending step"), _("%s (run \"gnomonctl approve-step\")"), step);
        else
            print_field(_("Pending step"), "%s", _("none"));
    }
    if (in("Sources", changed))
        print_source_changes(old_sources, st.sources, colour);
    ctl_agent_state_clear(&st);
}

/* ---- events --------------------------------------------------------------------------- */

static void on_properties_changed(GDBusProxy *proxy, GVariant *changed,
                                  const char *const *invalidated, gpointer user_data)
{
    struct monitor *m = user_data;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GVariant) old_sources = NULL;
    g_autoptr(JsonBuilder) json = m->ctl->options.json ? json_event("PropertiesChanged") : NULL;
    if (json != NULL) {
        json_builder_set_member_name(json, "changed");
        json_builder_begin_object(json);
    }
    GVariantIter iter;
    const char *name;
    GVariant *value;
    g_variant_iter_init(&iter, changed);
    while (g_variant_iter_loop(&iter, "{&sv}", &name, &value)) {
        GVariant *before = g_hash_table_lookup(m->last, name);
        if (before != NULL && g_variant_equal(before, value))
            continue;
        if (strcmp(name, "Sources") == 0 && before != NULL)
            old_sources = g_variant_ref(before);
        g_ptr_array_add(names, g_strdup(name));
        g_hash_table_replace(m->last, g_strdup(name), g_variant_ref(value));
        if (json != NULL)
            ctl_json_add_property(json, name, value);
    }
    g_ptr_array_add(names, NULL);
    if (names->len == 1)
        return; /* nothing new, e.g. the same values again after a restart */
    if (json != NULL) {
        json_builder_end_object(json);
        json_event_print(json);
        return;
    }
    print_changes(m, (const char *const *)names->pdata, old_sources);
}

static void on_clock_stepped(GnomonAgent1 *agent, gint64 offset_ns, gpointer user_data)
{
    struct monitor *m = user_data;
    if (m->ctl->options.json) {
        g_autoptr(JsonBuilder) json = json_event("ClockStepped");
        json_builder_set_member_name(json, "offset_ns");
        json_builder_add_int_value(json, offset_ns);
        json_event_print(json);
        return;
    }
    g_autofree char *offset = ctl_format_duration(offset_ns, TRUE);
    g_autofree char *line = g_strdup_printf(_("Clock stepped by %s"), offset);
    print_line(line);
}

static void on_step_refused(GnomonAgent1 *agent, gint64 offset_ns, const char *reason,
                            gpointer user_data)
{
    struct monitor *m = user_data;
    if (m->ctl->options.json) {
        g_autoptr(JsonBuilder) json = json_event("StepRefused");
        json_builder_set_member_name(json, "offset_ns");
        json_builder_add_int_value(json, offset_ns);
        json_builder_set_member_name(json, "reason");
        json_builder_add_string_value(json, reason);
        json_event_print(json);
        return;
    }
    g_autofree char *offset = ctl_format_duration(offset_ns, TRUE);
    g_autofree char *text = g_strdup_printf(_("Step of %s refused: %s"), offset, reason);
    g_autofree char *line = ctl_colourize(text, CTL_COLOUR_YELLOW, m->ctl->options.colour);
    print_line(line);
}

static void on_step_approved(GDBusConnection *bus, const char *sender, const char *path,
                             const char *interface, const char *signal, GVariant *parameters,
                             gpointer user_data)
{
    struct monitor *m = user_data;
    if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("(xt)")))
        return;
    gint64 offset_ns;
    guint64 tolerance_ns;
    g_variant_get(parameters, "(xt)", &offset_ns, &tolerance_ns);
    if (m->ctl->options.json) {
        g_autoptr(JsonBuilder) json = json_event("StepApproved");
        json_builder_set_member_name(json, "offset_ns");
        json_builder_add_int_value(json, offset_ns);
        json_builder_set_member_name(json, "tolerance_ns");
        json_builder_add_int_value(json, (gint64)MIN(tolerance_ns, (guint64)G_MAXINT64));
        json_event_print(json);
        return;
    }
    g_autofree char *offset = ctl_format_duration(offset_ns, TRUE);
    g_autofree char *tolerance =
        ctl_format_duration((gint64)MIN(tolerance_ns, (guint64)G_MAXINT64), FALSE);
    g_autofree char *line = g_strdup_printf(_("Step of %s (± %s) approved"), offset, tolerance);
    print_line(line);
}

static void print_running(struct monitor *m, gboolean running)
{
    if (m->ctl->options.json) {
        g_autoptr(JsonBuilder) json = json_event(running ? "AgentStarted" : "AgentStopped");
        json_event_print(json);
        return;
    }
    print_line(running ? _("gnomon-agent started") : _("gnomon-agent stopped"));
}

static void on_name_owner(GObject *object, GParamSpec *pspec, gpointer user_data)
{
    struct monitor *m = user_data;
    g_autofree char *owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(object));
    print_running(m, owner != NULL);
}

static gboolean on_stop_signal(gpointer user_data)
{
    g_main_loop_quit(user_data);
    return G_SOURCE_CONTINUE;
}

/* ---- the start ------------------------------------------------------------------------ */

static void print_start(struct monitor *m, gboolean running)
{
    g_auto(GStrv) names = g_dbus_proxy_get_cached_property_names(G_DBUS_PROXY(m->agent));
    for (char **n = names; n != NULL && *n != NULL; n++) {
        GVariant *value = g_dbus_proxy_get_cached_property(G_DBUS_PROXY(m->agent), *n);
        if (value != NULL)
            g_hash_table_replace(m->last, g_strdup(*n), value);
    }
    if (m->ctl->options.json) {
        if (!running) {
            print_running(m, FALSE);
            return;
        }
        g_autoptr(JsonBuilder) json = json_event("Properties");
        json_builder_set_member_name(json, "properties");
        json_builder_begin_object(json);
        GHashTableIter iter;
        gpointer name, value;
        g_hash_table_iter_init(&iter, m->last);
        while (g_hash_table_iter_next(&iter, &name, &value))
            ctl_json_add_property(json, name, value);
        json_builder_end_object(json);
        json_event_print(json);
        return;
    }
    if (!running) {
        print_line(_("gnomon-agent is not running; waiting for it. Ctrl+C stops."));
        return;
    }
    g_autoptr(GVariant) now = snapshot(m);
    struct ctl_agent_state st;
    ctl_agent_state_parse(now, &st);
    g_autofree char *state =
        ctl_colourize(st.state, ctl_colour_for_state(st.state), m->ctl->options.colour);
    g_autofree char *line =
        g_strdup_printf(_("Following gnomon-agent (State: %s, Online: %s). Ctrl+C stops."), state,
                        st.online ? _("yes") : _("no"));
    print_line(line);
    ctl_agent_state_clear(&st);
}

int ctl_monitor(struct ctl *ctl)
{
    g_autoptr(GError) error = NULL;
    struct monitor m = {.ctl = ctl};
    /* Signals first, properties second: a change between the two is not lost. */
    m.agent = gnomon_agent1_proxy_new_sync(ctl->bus, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                           CTL_AGENT_NAME, CTL_AGENT_PATH, NULL, &error);
    if (m.agent == NULL)
        return ctl_fail(error, _("cannot follow gnomon-agent"), CTL_AGENT_NAME);
    m.last =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
    m.loop = g_main_loop_new(NULL, FALSE);
    g_signal_connect(m.agent, "g-properties-changed", G_CALLBACK(on_properties_changed), &m);
    g_signal_connect(m.agent, "clock-stepped", G_CALLBACK(on_clock_stepped), &m);
    g_signal_connect(m.agent, "step-refused", G_CALLBACK(on_step_refused), &m);
    g_signal_connect(m.agent, "notify::g-name-owner", G_CALLBACK(on_name_owner), &m);
    guint approved = g_dbus_connection_signal_subscribe(
        ctl->bus, CTL_HELPER_NAME, CTL_HELPER_NAME, "StepApproved", CTL_HELPER_PATH, NULL,
        G_DBUS_SIGNAL_FLAGS_NONE, on_step_approved, &m, NULL);
    guint sigint = g_unix_signal_add(SIGINT, on_stop_signal, m.loop);
    guint sigterm = g_unix_signal_add(SIGTERM, on_stop_signal, m.loop);

    g_autofree char *owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(m.agent));
    print_start(&m, owner != NULL);
    g_main_loop_run(m.loop);

    g_source_remove(sigint);
    g_source_remove(sigterm);
    g_dbus_connection_signal_unsubscribe(ctl->bus, approved);
    g_signal_handlers_disconnect_by_data(m.agent, &m);
    g_object_unref(m.agent);
    g_main_loop_unref(m.loop);
    g_hash_table_unref(m.last);
    return CTL_EXIT_OK;
}
