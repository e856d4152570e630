#include "daemon.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "agent-service.h"
#include "helper-client.h"
#include "nanoseconds.h"

#define AGENT_BUS_NAME  "org.gnomon.Agent1"
/* sd_notify READY=1 after the first decision, or after this at the latest, so a machine
 * without network does not hold up boot. */
#define READY_TIMEOUT_S 30

struct daemon {
    GMainLoop *loop;
    struct agent *agent;
    struct agent_service *service;
    struct helper_client *helper;
    const char *config_path;
    gboolean ready;
    int exit_status;
    guint ready_timer;
    guint watchdog_timer;
};

static void notify_ready(struct daemon *d, const char *why)
{
    if (d->ready)
        return;
    d->ready = TRUE;
    if (d->ready_timer != 0) {
        g_source_remove(d->ready_timer);
        d->ready_timer = 0;
    }
    sd_notifyf(0, "READY=1\nSTATUS=%s", why);
}

static void on_status_changed(gpointer user_data)
{
    struct daemon *d = user_data;
    if (d->service != NULL)
        agent_service_update(d->service);
    const struct agent_status *st = agent_get_status(d->agent);
    sd_notifyf(0, "STATUS=%s: offset %+.6f s, %u of %u sources agree, poll %" G_GUINT64_FORMAT " s",
               agent_state_str(st->state), (double)st->offset_ns / NS_PER_SEC, st->agreeing,
               st->n_sources, st->poll_interval_usec / G_USEC_PER_SEC);
}

static void on_clock_stepped(gint64 offset_ns, gpointer user_data)
{
    struct daemon *d = user_data;
    if (d->service != NULL)
        agent_service_emit_clock_stepped(d->service, offset_ns);
}

static void on_step_refused(gint64 offset_ns, const char *reason, gpointer user_data)
{
    struct daemon *d = user_data;
    if (d->service != NULL)
        agent_service_emit_step_refused(d->service, offset_ns, reason);
}

static void on_first_decision(gpointer user_data)
{
    notify_ready(user_data, "first decision made");
}

static gboolean on_ready_timeout(gpointer user_data)
{
    struct daemon *d = user_data;
    d->ready_timer = 0;
    notify_ready(d, "no decision yet; running");
    return G_SOURCE_REMOVE;
}

static gboolean on_watchdog(gpointer user_data)
{
    (void)user_data;
    sd_notify(0, "WATCHDOG=1");
    return G_SOURCE_CONTINUE;
}

static gboolean on_sighup(gpointer user_data)
{
    struct daemon *d = user_data;
    g_autoptr(GError) error = NULL;
    if (agent_reload(d->agent, d->config_path, &error))
        g_message("configuration reloaded (SIGHUP)");
    else
        g_warning("configuration not reloaded, keeping the running one: %s", error->message);
    return G_SOURCE_CONTINUE;
}

static gboolean on_terminate(gpointer user_data)
{
    struct daemon *d = user_data;
    sd_notify(0, "STOPPING=1");
    g_main_loop_quit(d->loop);
    return G_SOURCE_CONTINUE;
}

static void on_step_approved(gint64 offset_ns, guint64 tolerance_ns, gpointer user_data)
{
    struct daemon *d = user_data;
    agent_step_approved(d->agent, offset_ns, tolerance_ns);
}

static void on_name_lost(GDBusConnection *bus, const char *name, gpointer user_data)
{
    struct daemon *d = user_data;
    (void)bus;
    fprintf(stderr,
            _("gnomon-agent: lost or could not own the bus name %s (another agent "
              "running, or the bus policy does not allow this user)\n"),
            name);
    d->exit_status = 1;
    g_main_loop_quit(d->loop);
}

static void on_name_acquired(GDBusConnection *bus, const char *name, gpointer user_data)
{
    struct daemon *d = user_data;
    (void)bus;
    g_message("owning %s", name);
    agent_start(d->agent);
}

int daemon_run(struct gnomon_config *config, const char *config_path,
               const struct agent_options *options)
{
    struct daemon d = {.config_path = config_path};
    g_autoptr(GError) error = NULL;
    g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
    if (bus == NULL) {
        fprintf(stderr, _("gnomon-agent: cannot connect to the system bus: %s\n"), error->message);
        gnomon_config_free(config);
        return 1;
    }
    d.helper = helper_client_new(bus, &error);
    if (d.helper == NULL) {
        fprintf(stderr, _("gnomon-agent: cannot reach the clock helper: %s\n"), error->message);
        gnomon_config_free(config);
        return 1;
    }
    /* clock-policy.md: a simulated reading must never steer the real clock. */
    if (options->virtual_clock != NULL) {
        g_autofree char *backend = helper_client_get_backend(d.helper, &error);
        if (backend == NULL || !g_str_equal(backend, "dry-run")) {
            if (backend != NULL)
                fprintf(stderr,
                        _("gnomon-agent: --virtual-clock needs the clock helper's dry-run "
                          "backend, and the helper has backend %s\n"),
                        backend);
            else
                fprintf(stderr,
                        _("gnomon-agent: --virtual-clock needs the clock helper's dry-run "
                          "backend, and the helper cannot tell its backend: %s\n"),
                        error->message);
            helper_client_free(d.helper);
            gnomon_config_free(config);
            return 1;
        }
    }
    struct clock_control clock = helper_client_clock_control(d.helper);
    d.agent = agent_new(config, options, &clock, &error);
    if (d.agent == NULL) {
        fprintf(stderr, "gnomon-agent: %s\n", error->message);
        helper_client_free(d.helper);
        return 1;
    }
    d.service = agent_service_new(bus, d.agent, config_path, &error);
    if (d.service == NULL) {
        fprintf(stderr, _("gnomon-agent: cannot export %s: %s\n"), AGENT_BUS_NAME, error->message);
        agent_free(d.agent);
        helper_client_free(d.helper);
        return 1;
    }
    if (!agent_watch_clock(d.agent, bus, &error)) {
        g_warning("%s", error->message);
        g_clear_error(&error);
    }
    static const struct agent_events events = {
        .status_changed = on_status_changed,
        .clock_stepped = on_clock_stepped,
        .step_refused = on_step_refused,
        .first_decision = on_first_decision,
    };
    agent_set_events(d.agent, &events, &d);
    helper_client_on_step_approved(d.helper, on_step_approved, &d);

    d.loop = g_main_loop_new(NULL, FALSE);
    guint sighup = g_unix_signal_add(SIGHUP, on_sighup, &d);
    guint sigterm = g_unix_signal_add(SIGTERM, on_terminate, &d);
    guint sigint = g_unix_signal_add(SIGINT, on_terminate, &d);
    guint64 watchdog_usec = 0;
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0)
        d.watchdog_timer = g_timeout_add((guint)(watchdog_usec / 2000), on_watchdog, &d);
    d.ready_timer = g_timeout_add_seconds(READY_TIMEOUT_S, on_ready_timeout, &d);
    guint owner =
        g_bus_own_name_on_connection(bus, AGENT_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                     on_name_acquired, on_name_lost, &d, NULL);
    g_main_loop_run(d.loop);

    g_bus_unown_name(owner);
    g_source_remove(sighup);
    g_source_remove(sigterm);
    g_source_remove(sigint);
    if (d.watchdog_timer != 0)
        g_source_remove(d.watchdog_timer);
    if (d.ready_timer != 0)
        g_source_remove(d.ready_timer);
    agent_service_free(d.service);
    agent_free(d.agent);
    helper_client_free(d.helper);
    g_main_loop_unref(d.loop);
    return d.exit_status;
}
