/* The running agent: rounds of measurements over every source, the consensus, the
 * discipline's one request per decision to the helper (through clock-control.h), the
 * state that survives restarts, and the status the D-Bus service shows. Data flows one
 * way: sources -> select -> discipline -> helper. */
#ifndef GNOMON_DAEMON_AGENT_H
#define GNOMON_DAEMON_AGENT_H

#include <gio/gio.h>
#include <glib.h>

#include "clock-control.h"
#include "config.h"

enum agent_state {
    AGENT_STATE_STARTING,
    AGENT_STATE_KEY_EXCHANGE,
    AGENT_STATE_MEASURING,
    AGENT_STATE_SYNCHRONIZED,
    AGENT_STATE_NO_CONSENSUS,
    AGENT_STATE_STEP_REFUSED,
    AGENT_STATE_OFFLINE,
};

struct agent_source_status {
    char *name;
    char *host;
    char *address; /* NTP address in use, "" before one */
    guint16 port;
    char *operator_name;
    const char *status; /* static string */
    gint64 offset_ns;
    guint64 delay_ns;
    guint64 dispersion_ns;
    guint8 stratum;
    guint8 reach;
    guint cookies;
    char *last_error;
    guint key_exchanges;
    guint requests;
};

struct agent_status {
    gboolean synchronized;
    enum agent_state state;
    gint64 offset_ns;
    guint64 uncertainty_ns;
    guint64 last_sync_usec;
    guint64 poll_interval_usec;
    double frequency_ppm;
    guint agreeing;
    guint min_agreeing;
    gboolean online;
    gint64 pending_step_ns;
    guint n_sources;
    struct agent_source_status *sources;
};

struct agent_events {
    void (*status_changed)(gpointer user_data);
    void (*clock_stepped)(gint64 offset_ns, gpointer user_data);
    void (*step_refused)(gint64 offset_ns, const char *reason, gpointer user_data);
    void (*first_decision)(gpointer user_data); /* sd_notify READY=1 */
};

struct agent_options {
    const char *state_directory; /* overrides the configuration's */
    const char *virtual_clock;   /* tests: simulated local time */
    gboolean verbose;
};

struct agent;

/* Takes the configuration. Fails when the state directory is in use by another agent. */
struct agent *agent_new(struct gnomon_config *config, const struct agent_options *options,
                        const struct clock_control *clock, GError **error);
void agent_free(struct agent *agent);

void agent_set_events(struct agent *agent, const struct agent_events *events, gpointer user_data);

/* Starts the first round (after StepToFloor when the clock reads before the floor). */
void agent_start(struct agent *agent);

/* Watches for sets of the clock and for sleep (logind on bus, if given). */
gboolean agent_watch_clock(struct agent *agent, GDBusConnection *bus, GError **error);

void agent_sync_now(struct agent *agent);
void agent_set_online(struct agent *agent, gboolean online);
/* Validates the file first; keeps the running configuration when it is bad. */
gboolean agent_reload(struct agent *agent, const char *config_path, GError **error);
/* The helper's StepApproved. */
void agent_step_approved(struct agent *agent, gint64 offset_ns, guint64 tolerance_ns);

const struct agent_status *agent_get_status(struct agent *agent);
const char *agent_state_str(enum agent_state state);

#endif
