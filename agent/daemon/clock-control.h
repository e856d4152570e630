/* How the agent asks for clock changes: an interface the D-Bus client of the helper
 * (helper-client.c) implements, so agent.c holds no D-Bus code and never touches a clock.
 * Every call answers exactly once through its callback; error is NULL when accepted. */
#ifndef GNOMON_DAEMON_CLOCK_CONTROL_H
#define GNOMON_DAEMON_CLOCK_CONTROL_H

#include <glib.h>

/* How a request failed: the helper refused it (the message names the rule), or its
 * answer never came (the helper died, the bus timed out): then nobody knows whether the
 * clock changed, and the agent must ask LastRequest or measure again, never resend. */
#define GNOMON_CLOCK_CONTROL_ERROR (gnomon_clock_control_error_quark())
GQuark gnomon_clock_control_error_quark(void);
enum gnomon_clock_control_error {
    GNOMON_CLOCK_CONTROL_ERROR_REFUSED,
    GNOMON_CLOCK_CONTROL_ERROR_LOST,
    GNOMON_CLOCK_CONTROL_ERROR_UNAVAILABLE, /* not sent: no helper, not authorized */
};

typedef void (*clock_control_done_fn)(const GError *error, gpointer user_data);
typedef void (*clock_control_last_request_fn)(const char *request_id, const char *verdict,
                                              const GError *error, gpointer user_data);

struct clock_control_ops {
    void (*slew)(gpointer self, gint64 offset_ns, guint64 uncertainty_ns,
                 clock_control_done_fn done, gpointer user_data);
    void (*set_frequency)(gpointer self, double ppm, clock_control_done_fn done,
                          gpointer user_data);
    void (*step)(gpointer self, gint64 offset_ns, guint64 uncertainty_ns,
                 guint64 measured_boottime_ns, const char *request_id, clock_control_done_fn done,
                 gpointer user_data);
    void (*step_to_floor)(gpointer self, clock_control_done_fn done, gpointer user_data);
    /* The helper's LastRequest: what became of a request whose answer was lost. */
    void (*last_request)(gpointer self, clock_control_last_request_fn done, gpointer user_data);
};

struct clock_control {
    const struct clock_control_ops *ops;
    gpointer self;
};

#endif
