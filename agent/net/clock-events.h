/* When measurements may no longer describe the clock: someone set it (a timerfd armed with
 * TFD_TIMER_CANCEL_ON_SET reads ECANCELED), or the machine slept (CLOCK_BOOTTIME ran ahead
 * of CLOCK_MONOTONIC; logind's PrepareForSleep(false) says so at once when it runs). Each
 * calls for a fresh round of measurements; none reopens the boot window (clock-policy.md). */
#ifndef GNOMON_NET_CLOCK_EVENTS_H
#define GNOMON_NET_CLOCK_EVENTS_H

#include <gio/gio.h>

enum clock_event {
    CLOCK_EVENT_SET,     /* the real-time clock was set (by anyone, us included) */
    CLOCK_EVENT_RESUMED, /* the machine slept and woke */
};

typedef void (*clock_events_fn)(enum clock_event event, gint64 slept_ns, gpointer user_data);

struct clock_events;

/* bus: the system bus for logind's PrepareForSleep, or NULL. */
struct clock_events *clock_events_new(GDBusConnection *bus, clock_events_fn fn, gpointer user_data,
                                      GError **error);
void clock_events_free(struct clock_events *events);

/* Checks for a sleep without waiting for logind (e.g. at the start of every round):
 * reports CLOCK_EVENT_RESUMED when BOOTTIME ran ahead of MONOTONIC since the last look. */
void clock_events_check_sleep(struct clock_events *events);

/* A request of ours may change the clock (the helper's step sets it, and a simulated clock
 * changes on every request): changes from now until clock_events_request_done() and a
 * second after it are ours, not someone else's. */
void clock_events_expect_set(struct clock_events *events);
void clock_events_request_done(struct clock_events *events);

/* Tests (--virtual-clock): the simulated clock's file changing outside our own requests
 * is someone else setting the clock. */
void clock_events_watch_file(struct clock_events *events, const char *path);

#endif
