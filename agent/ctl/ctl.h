/* gnomonctl: what its commands share — exit codes, the options, the bus and the agent's
 * state as read from org.gnomon.Agent1 (dbus/org.gnomon.Agent1.xml), and turning a D-Bus
 * error into one line on stderr and an exit code. */
#ifndef GNOMON_CTL_H
#define GNOMON_CTL_H

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#define CTL_AGENT_NAME      "org.gnomon.Agent1"
#define CTL_AGENT_PATH      "/org/gnomon/Agent1"
#define CTL_AGENT_INTERFACE "org.gnomon.Agent1"
#define CTL_HELPER_NAME     "org.gnomon.ClockHelper1"
#define CTL_HELPER_PATH     "/org/gnomon/ClockHelper1"

/* Documented in --help; scripts rely on them. */
enum ctl_exit {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAILURE = 1,
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_NOT_RUNNING = 3,
    CTL_EXIT_NOT_AUTHORIZED = 4,
    CTL_EXIT_REFUSED = 5,
};

struct ctl_options {
    gboolean json;
    gboolean no_ask_password;
    gint64 tolerance_ns;
    gboolean colour; /* stdout is a terminal and NO_COLOR is unset */
};

struct ctl {
    GDBusConnection *bus;
    struct ctl_options options;
};

/* The agent's properties; strings borrow from the dictionary they came from, sources is
 * owned (ctl_agent_state_clear). */
struct ctl_agent_state {
    gboolean synchronized;
    const char *state;
    gint64 offset_ns;
    guint64 uncertainty_ns;
    guint64 last_sync_usec;
    guint64 poll_interval_usec;
    double frequency_ppm;
    guint32 agreeing;
    guint32 min_agreeing;
    gboolean online;
    GVariant *sources; /* aa{sv}, never NULL */
    gint64 pending_step_ns;
};

/* One entry of Sources; strings borrow from the entry. */
struct ctl_source {
    const char *name;
    const char *host;
    const char *address;
    guint16 port;
    const char *operator_name;
    const char *status;
    gint64 offset_ns;
    guint64 delay_ns;
    guint64 dispersion_ns;
    guint8 stratum;
    guint8 reach;
    guint32 cookies;
    const char *last_error;
};

/* Messages: "gnomonctl: " and one line on stderr. */
G_GNUC_PRINTF(1, 2) void ctl_message(const char *format, ...);

/* The exit code for a failed call to service (CTL_AGENT_NAME or CTL_HELPER_NAME): 3 the
 * name has no owner and cannot be started, 4 not authorized, 5 refused (another
 * org.gnomon.Error), 1 otherwise; after one line on stderr: "gnomonctl: WHAT: why". */
int ctl_fail(const GError *error, const char *what, const char *service);

/* Properties.GetAll of the agent: the a{sv} (caller unrefs), or NULL with an exit code
 * reported (ctl_fail). */
GVariant *ctl_agent_get_all(struct ctl *ctl, int *exit_code);

/* Reads the dictionary into state; missing or mistyped entries stay zero ("" for State). */
void ctl_agent_state_parse(GVariant *properties, struct ctl_agent_state *state);
void ctl_agent_state_clear(struct ctl_agent_state *state);
void ctl_source_parse(GVariant *entry, struct ctl_source *source);

/* Calls a method of the agent (or, with helper TRUE, the clock helper), allowing polkit to
 * ask for a password: through a text agent on this terminal unless --no-ask-password. */
GVariant *ctl_call(struct ctl *ctl, gboolean helper, const char *method, GVariant *parameters,
                   GError **error);

/* JSON: one property of Agent1 / one source, under gnomonctl's key names ("offset_ns"). */
void ctl_json_add_property(JsonBuilder *builder, const char *name, GVariant *value);
void ctl_json_add_source(JsonBuilder *builder, GVariant *entry);
/* Prints the builder's root on stdout, indented on a terminal, one line otherwise. */
void ctl_json_print(JsonBuilder *builder, gboolean one_line);

/* "+123 µs (± 5.0 ms)", or "n/a" before any consensus. */
char *ctl_offset_text(const struct ctl_agent_state *state);

/* The commands; each returns an exit code. */
int ctl_status(struct ctl *ctl);
int ctl_sources(struct ctl *ctl);
int ctl_sync(struct ctl *ctl);
int ctl_set_online(struct ctl *ctl, gboolean online);
int ctl_approve_step(struct ctl *ctl);
int ctl_monitor(struct ctl *ctl);

#endif
