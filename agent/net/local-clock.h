/* How the agent reads "local time": CLOCK_REALTIME, or (tests, --virtual-clock FILE)
 * CLOCK_REALTIME plus the simulated offset and frequency the dry-run helper keeps in FILE
 * (interfaces.md gives the format). Nothing here can change a clock. */
#ifndef GNOMON_NET_LOCAL_CLOCK_H
#define GNOMON_NET_LOCAL_CLOCK_H

#include <glib.h>

struct local_clock;

/* virtual_file NULL: the real clock. A virtual file that is missing reads as offset 0
 * (the helper creates it on its first change); one that cannot be parsed is an error. */
struct local_clock *local_clock_new(const char *virtual_file, GError **error);
void local_clock_free(struct local_clock *clock);

gboolean local_clock_is_virtual(const struct local_clock *clock);

/* Local time now, Unix nanoseconds. */
gint64 local_clock_now_ns(struct local_clock *clock);

/* A CLOCK_REALTIME reading taken elsewhere (a kernel receive timestamp) as local time. */
gint64 local_clock_from_realtime_ns(struct local_clock *clock, gint64 realtime_ns);

/* CLOCK_BOOTTIME now, nanoseconds: ages, and the clock shared with the helper. */
gint64 local_clock_boottime_ns(void);

#endif
