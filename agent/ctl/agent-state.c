/* The agent's properties as gnomonctl reads them (dbus/org.gnomon.Agent1.xml), for people
 * (structs) and for scripts (JSON with the key names of gnomon-agent --query --json). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

void ctl_agent_state_parse(GVariant *properties, struct ctl_agent_state *state)
{
    memset(state, 0, sizeof(*state));
    state->state = "";
    /* g_variant_lookup leaves a value alone when it is missing or of another type. */
    g_variant_lookup(properties, "Synchronized", "b", &state->synchronized);
    g_variant_lookup(properties, "State", "&s", &state->state);
    g_variant_lookup(properties, "Offset", "x", &state->offset_ns);
    g_variant_lookup(properties, "Uncertainty", "t", &state->uncertainty_ns);
    g_variant_lookup(properties, "LastSyncUSec", "t", &state->last_sync_usec);
    g_variant_lookup(properties, "PollIntervalUSec", "t", &state->poll_interval_usec);
    g_variant_lookup(properties, "Frequency", "d", &state->frequency_ppm);
    g_variant_lookup(properties, "AgreeingSources", "u", &state->agreeing);
    g_variant_lookup(properties, "MinAgreeingSources", "u", &state->min_agreeing);
    g_variant_lookup(properties, "Online", "b", &state->online);
    g_variant_lookup(properties, "PendingStep", "x", &state->pending_step_ns);
    state->sources = g_variant_lookup_value(properties, "Sources", G_VARIANT_TYPE("aa{sv}"));
    if (state->sources == NULL)
        state->sources = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("a{sv}"), NULL, 0));
}

void ctl_agent_state_clear(struct ctl_agent_state *state)
{
    g_clear_pointer(&state->sources, g_variant_unref);
}

void ctl_source_parse(GVariant *entry, struct ctl_source *source)
{
    memset(source, 0, sizeof(*source));
    source->name = source->host = source->address = source->operator_name = "";
    source->status = source->last_error = "";
    g_variant_lookup(entry, "Name", "&s", &source->name);
    g_variant_lookup(entry, "Host", "&s", &source->host);
    g_variant_lookup(entry, "Address", "&s", &source->address);
    g_variant_lookup(entry, "Port", "q", &source->port);
    g_variant_lookup(entry, "Operator", "&s", &source->operator_name);
    g_variant_lookup(entry, "Status", "&s", &source->status);
    g_variant_lookup(entry, "Offset", "x", &source->offset_ns);
    g_variant_lookup(entry, "Delay", "t", &source->delay_ns);
    g_variant_lookup(entry, "Dispersion", "t", &source->dispersion_ns);
    g_variant_lookup(entry, "Stratum", "y", &source->stratum);
    g_variant_lookup(entry, "Reach", "y", &source->reach);
    g_variant_lookup(entry, "Cookies", "u", &source->cookies);
    g_variant_lookup(entry, "LastError", "&s", &source->last_error);
}

/* ---- JSON ---------------------------------------------------------------------------- */

struct key_name {
    const char *dbus;
    const char *json;
};

static const struct key_name agent_keys[] = {
    {"Synchronized", "synchronized"},
    {"State", "state"},
    {"Offset", "offset_ns"},
    {"Uncertainty", "uncertainty_ns"},
    {"LastSyncUSec", "last_sync_usec"},
    {"PollIntervalUSec", "poll_interval_usec"},
    {"Frequency", "frequency_ppm"},
    {"AgreeingSources", "agreeing_sources"},
    {"MinAgreeingSources", "min_agreeing_sources"},
    {"Online", "online"},
    {"Sources", "sources"},
    {"PendingStep", "pending_step_ns"},
};

static const struct key_name source_keys[] = {
    {"Name", "name"},
    {"Host", "host"},
    {"Address", "address"},
    {"Port", "port"},
    {"Operator", "operator"},
    {"Status", "status"},
    {"Offset", "offset_ns"},
    {"Delay", "delay_ns"},
    {"Dispersion", "dispersion_ns"},
    {"Stratum", "stratum"},
    {"Reach", "reach"},
    {"Cookies", "cookies"},
    {"LastError", "last_error"},
};

/* A name gnomonctl does not know yet (a newer agent) keeps its D-Bus spelling. */
static const char *json_key(const struct key_name *keys, gsize n, const char *dbus)
{
    for (gsize i = 0; i < n; i++) {
        if (strcmp(keys[i].dbus, dbus) == 0)
            return keys[i].json;
    }
    return dbus;
}

static void add_value(JsonBuilder *builder, GVariant *boxed)
{
    /* Variants in variants unwrapped in a loop, not by recursion. */
    g_autoptr(GVariant) value = g_variant_ref(boxed);
    while (g_variant_is_of_type(value, G_VARIANT_TYPE_VARIANT)) {
        GVariant *inner = g_variant_get_variant(value);
        g_variant_unref(value);
        value = inner;
    }
    switch (g_variant_classify(value)) {
    case G_VARIANT_CLASS_BOOLEAN:
        json_builder_add_boolean_value(builder, g_variant_get_boolean(value));
        return;
    case G_VARIANT_CLASS_STRING:
        json_builder_add_string_value(builder, g_variant_get_string(value, NULL));
        return;
    case G_VARIANT_CLASS_INT64:
        json_builder_add_int_value(builder, g_variant_get_int64(value));
        return;
    case G_VARIANT_CLASS_UINT64:
        json_builder_add_int_value(builder,
                                   (gint64)MIN(g_variant_get_uint64(value), (guint64)G_MAXINT64));
        return;
    case G_VARIANT_CLASS_UINT32:
        json_builder_add_int_value(builder, g_variant_get_uint32(value));
        return;
    case G_VARIANT_CLASS_UINT16:
        json_builder_add_int_value(builder, g_variant_get_uint16(value));
        return;
    case G_VARIANT_CLASS_BYTE:
        json_builder_add_int_value(builder, g_variant_get_byte(value));
        return;
    case G_VARIANT_CLASS_DOUBLE:
        if (isfinite(g_variant_get_double(value)))
            json_builder_add_double_value(builder, g_variant_get_double(value));
        else
            json_builder_add_null_value(builder);
        return;
    default:
        json_builder_add_value(builder, json_gvariant_serialize(value));
        return;
    }
}

void ctl_json_add_source(JsonBuilder *builder, GVariant *entry)
{
    json_builder_begin_object(builder);
    GVariantIter iter;
    const char *key;
    GVariant *value;
    g_variant_iter_init(&iter, entry);
    while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
        json_builder_set_member_name(builder,
                                     json_key(source_keys, G_N_ELEMENTS(source_keys), key));
        add_value(builder, value);
    }
    json_builder_end_object(builder);
}

void ctl_json_add_property(JsonBuilder *builder, const char *name, GVariant *value)
{
    g_autoptr(GVariant) plain = g_variant_is_of_type(value, G_VARIANT_TYPE_VARIANT)
                                    ? g_variant_get_variant(value)
                                    : g_variant_ref(value);
    json_builder_set_member_name(builder, json_key(agent_keys, G_N_ELEMENTS(agent_keys), name));
    if (strcmp(name, "Sources") == 0 && g_variant_is_of_type(plain, G_VARIANT_TYPE("aa{sv}"))) {
        json_builder_begin_array(builder);
        for (gsize i = 0; i < g_variant_n_children(plain); i++) {
            g_autoptr(GVariant) entry = g_variant_get_child_value(plain, i);
            ctl_json_add_source(builder, entry);
        }
        json_builder_end_array(builder);
        return;
    }
    add_value(builder, plain);
}

void ctl_json_print(JsonBuilder *builder, gboolean one_line)
{
    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    g_autoptr(JsonGenerator) generator = json_generator_new();
    json_generator_set_root(generator, root);
    if (!one_line && isatty(STDOUT_FILENO)) {
        json_generator_set_pretty(generator, TRUE);
        json_generator_set_indent(generator, 2);
    }
    g_autofree char *text = json_generator_to_data(generator, NULL);
    printf("%s\n", text);
    (void)fflush(stdout); /* a failure stays in stdout's error indicator: main() reports it */
}
