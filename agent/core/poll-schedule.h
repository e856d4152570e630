/* Politeness towards one server (clock-policy.md, "politeness"): when it may be asked again
 * after a success, a failure (RFC 8915 §4.1.1 back-off) or a RATE kiss (RFC 5905 §7.4), and
 * when its NTS keys must be made anew. Times are passed in: CLOCK_BOOTTIME nanoseconds for
 * intervals, Unix seconds for the age of keys. */
#ifndef GNOMON_CORE_POLL_SCHEDULE_H
#define GNOMON_CORE_POLL_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanoseconds.h"

/* RFC 8915 §4.1.1: at least 10 * 1.5^(n-1) s after the n-th failure in a row... */
#define POLL_SCHEDULE_BACKOFF_FIRST_NS (INT64_C(10) * NS_PER_SEC)
/* ...and never more than five days, so a server that comes back is found again. */
#define POLL_SCHEDULE_BACKOFF_MAX_NS   (INT64_C(432000) * NS_PER_SEC)
/* Each RATE kiss doubles the source's interval, up to 2^6 times the poll. */
#define POLL_SCHEDULE_MAX_RATE_SHIFT   6u
/* Failures are counted up to this; the back-off reached its cap long before. */
#define POLL_SCHEDULE_MAX_FAILURES     1000u
/* nts-notes.md: keys are made anew when four weeks old, so in steady state a source sees
 * at most one key exchange a day (with cookies from each reply, usually one a month). */
#define POLL_SCHEDULE_KEY_LIFETIME_S   (INT64_C(28) * 86400)

struct poll_schedule {
    unsigned failures;       /* in a row */
    unsigned rate_shift;     /* the source is polled every poll * 2^rate_shift */
    int64_t next_allowed_ns; /* CLOCK_BOOTTIME; not asked before (0: at once) */
};

void poll_schedule_init(struct poll_schedule *s);

/* The least wait after the failures-th failure in a row (failures >= 1). */
int64_t poll_schedule_backoff_ns(unsigned failures);

/* A sample arrived at now_ns; poll_ns is the agent's poll interval. */
void poll_schedule_success(struct poll_schedule *s, int64_t poll_ns, int64_t now_ns);

/* An exchange failed at now_ns (not a RATE kiss): back off. */
void poll_schedule_failure(struct poll_schedule *s, int64_t now_ns);

/* The server sent RATE at now_ns: double the interval; returns the new one. */
int64_t poll_schedule_rate(struct poll_schedule *s, int64_t poll_ns, int64_t now_ns);

/* Whether the source takes part in a round starting at now_ns. */
bool poll_schedule_may_poll(const struct poll_schedule *s, int64_t now_ns);

/* The network came back: failures seen while it was down say nothing now. */
void poll_schedule_forget_failures(struct poll_schedule *s);

/* Whether the next exchange must start with a key exchange: no keys, no cookie left, or
 * keys made more than POLL_SCHEDULE_KEY_LIFETIME_S before now_unix (key_time_unix 0:
 * unknown age, kept). */
bool poll_schedule_needs_key_exchange(bool have_keys, size_t cookies, int64_t key_time_unix,
                                      int64_t now_unix);

#endif
