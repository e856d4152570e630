#include "agent-service.h"

#include "bus-authorization.h"
#include "gnomon-dbus-generated.h"

#define AGENT_PATH "/org/gnomon/Agent1"

struct agent_service {
    GDBusConnection *bus;
    GnomonAgent1 *skeleton;
    struct agent *agent;
    char *config_path;
};

static GVariant *sources_variant(const struct agent_status *st)
{
    GVariantBuilder list;
    g_variant_builder_init(&list, G_VARIANT_TYPE("aa{sv}"));
    for (guint i = 0; i < st->n_sources; i++) {
        const struct agent_source_status *s = &st->sources[i];
        GVariantBuilder d;
        g_variant_builder_init(&d, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&d, "{sv}", "Name", g_variant_new_string(s->name));
        g_variant_builder_add(&d, "{sv}", "Host", g_variant_new_string(s->host));
        g_variant_builder_add(&d, "{sv}", "Address", g_variant_new_string(s->address));
        g_variant_builder_add(&d, "{sv}", "Port", g_variant_new_uint16(s->port));
        g_variant_builder_add(&d, "{sv}", "Operator", g_variant_new_string(s->operator_name));
        g_variant_builder_add(&d, "{sv}", "Status", g_variant_new_string(s->status));
        g_variant_builder_add(&d, "{sv}", "Offset", g_variant_new_int64(s->offset_ns));
        g_variant_builder_add(&d, "{sv}", "Delay", g_variant_new_uint64(s->delay_ns));
        g_variant_builder_add(&d, "{sv}", "Dispersion", g_variant_new_uint64(s->dispersion_ns));
        g_variant_builder_add(&d, "{sv}", "Stratum", g_variant_new_byte(s->stratum));
        g_variant_builder_add(&d, "{sv}", "Reach", g_variant_new_byte(s->reach));
        g_variant_builder_add(&d, "{sv}", "Cookies", g_variant_new_uint32(s->cookies));
        g_variant_builder_add(&d, "{sv}", "LastError", g_variant_new_string(s->last_error));
        g_variant_builder_add_value(&list, g_variant_builder_end(&d));
    }
    return g_variant_builder_end(&list);
}

void agent_service_update(struct agent_service *service)
{
    const struct agent_status *st = agent_get_status(service->agent);
    GnomonAgent1 *o = service->skeleton;
    /* The generated setters notify only when a value really changes, and the skeleton
     * gathers the changes of one main-loop turn into one PropertiesChanged. */
    gnomon_agent1_set_synchronized(o, st->synchronized);
    gnomon_agent1_set_state(o, agent_state_str(st->state));
    gnomon_agent1_set_offset(o, st->offset_ns);
    gnomon_agent1_set_uncertainty(o, st->uncertainty_ns);
    gnomon_agent1_set_last_sync_usec(o, st->last_sync_usec);
    gnomon_agent1_set_poll_interval_usec(o, st->poll_interval_usec);
    gnomon_agent1_set_frequency(o, st->frequency_ppm);
    gnomon_agent1_set_agreeing_sources(o, st->agreeing);
    gnomon_agent1_set_min_agreeing_sources(o, st->min_agreeing);
    gnomon_agent1_set_online(o, st->online);
    gnomon_agent1_set_pending_step(o, st->pending_step_ns);
    GVariant *sources = g_variant_ref_sink(sources_variant(st));
    GVariant *current = gnomon_agent1_get_sources(o);
    if (current == NULL || !g_variant_equal(current, sources))
        gnomon_agent1_set_sources(o, sources);
    g_variant_unref(sources);
}

void agent_service_emit_clock_stepped(struct agent_service *service, gint64 offset_ns)
{
    gnomon_agent1_emit_clock_stepped(service->skeleton, offset_ns);
}

void agent_service_emit_step_refused(struct agent_service *service, gint64 offset_ns,
                                     const char *reason)
{
    gnomon_agent1_emit_step_refused(service->skeleton, offset_ns, reason);
}

/* ---- methods, each behind its polkit action (interfaces.md) ------------------------ */

static void deny(GDBusMethodInvocation *invocation, const char *reason)
{
    g_dbus_method_invocation_return_dbus_error(invocation, "org.gnomon.Error.NotAuthorized",
                                               reason);
}

static void sync_now_checked(GDBusMethodInvocation *invocation, gboolean allowed,
                             const char *reason, guint uid, gpointer user_data)
{
    struct agent_service *service = user_data;
    if (!allowed) {
        deny(invocation, reason);
        return;
    }
    g_message("SyncNow by uid %u", uid);
    agent_sync_now(service->agent);
    gnomon_agent1_complete_sync_now(service->skeleton, invocation);
}

static gboolean on_sync_now(GnomonAgent1 *skeleton, GDBusMethodInvocation *invocation,
                            gpointer user_data)
{
    (void)skeleton;
    bus_authorization_check(invocation, "org.gnomon.agent.sync", NULL, TRUE, sync_now_checked,
                            user_data);
    return TRUE;
}

struct set_online_call {
    struct agent_service *service;
    gboolean online;
};

static void set_online_checked(GDBusMethodInvocation *invocation, gboolean allowed,
                               const char *reason, guint uid, gpointer user_data)
{
    struct set_online_call *call = user_data;
    if (!allowed) {
        deny(invocation, reason);
    } else {
        g_message("SetOnline(%s) by uid %u", call->online ? "true" : "false", uid);
        agent_set_online(call->service->agent, call->online);
        gnomon_agent1_complete_set_online(call->service->skeleton, invocation);
    }
    g_free(call);
}

static gboolean on_set_online(GnomonAgent1 *skeleton, GDBusMethodInvocation *invocation,
                              gboolean online, gpointer user_data)
{
    (void)skeleton;
    struct set_online_call *call = g_new0(struct set_online_call, 1);
    call->service = user_data;
    call->online = online;
    /* security.md: an ordinary user must not switch synchronisation off. */
    bus_authorization_check(invocation, "org.gnomon.agent.set-online", NULL, TRUE,
                            set_online_checked, call);
    return TRUE;
}

static void reload_checked(GDBusMethodInvocation *invocation, gboolean allowed, const char *reason,
                           guint uid, gpointer user_data)
{
    struct agent_service *service = user_data;
    if (!allowed) {
        deny(invocation, reason);
        return;
    }
    g_autoptr(GError) error = NULL;
    if (!agent_reload(service->agent, service->config_path, &error)) {
        g_message("Reload by uid %u refused: %s", uid, error->message);
        g_dbus_method_invocation_return_dbus_error(invocation, "org.gnomon.Error.InvalidArgument",
                                                   error->message);
        return;
    }
    g_message("configuration reloaded (uid %u)", uid);
    gnomon_agent1_complete_reload(service->skeleton, invocation);
}

static gboolean on_reload(GnomonAgent1 *skeleton, GDBusMethodInvocation *invocation,
                          gpointer user_data)
{
    (void)skeleton;
    bus_authorization_check(invocation, "org.gnomon.agent.configure", NULL, TRUE, reload_checked,
                            user_data);
    return TRUE;
}

struct agent_service *agent_service_new(GDBusConnection *bus, struct agent *agent,
                                        const char *config_path, GError **error)
{
    struct agent_service *service = g_new0(struct agent_service, 1);
    service->bus = g_object_ref(bus);
    service->agent = agent;
    service->config_path = g_strdup(config_path);
    service->skeleton = gnomon_agent1_skeleton_new();
    g_signal_connect(service->skeleton, "handle-sync-now", G_CALLBACK(on_sync_now), service);
    g_signal_connect(service->skeleton, "handle-set-online", G_CALLBACK(on_set_online), service);
    g_signal_connect(service->skeleton, "handle-reload", G_CALLBACK(on_reload), service);
    agent_service_update(service);
    if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(service->skeleton), bus,
                                          AGENT_PATH, error)) {
        agent_service_free(service);
        return NULL;
    }
    return service;
}

void agent_service_free(struct agent_service *service)
{
    if (service == NULL)
        return;
    if (g_dbus_interface_skeleton_has_connection(G_DBUS_INTERFACE_SKELETON(service->skeleton),
                                                 service->bus))
        g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(service->skeleton));
    g_object_unref(service->skeleton);
    g_object_unref(service->bus);
    g_free(service->config_path);
    g_free(service);
}
