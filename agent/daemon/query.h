/* gnomon-agent --query: key-exchange with and measure every configured source at once,
 * run the consensus, print the result and exit (interfaces.md). Never talks to the helper
 * or any bus. */
#ifndef GNOMON_DAEMON_QUERY_H
#define GNOMON_DAEMON_QUERY_H

#include <glib.h>

#include "config.h"

enum query_exit {
    QUERY_EXIT_CONSENSUS = 0,
    QUERY_EXIT_FAILURE = 1,
    QUERY_EXIT_BAD_CONFIG = 2,
    QUERY_EXIT_NO_CONSENSUS = 3,
};

struct query_options {
    gboolean json;
    gboolean verbose;
    const char *state_directory; /* NULL: no cookie store, fresh key exchanges */
    const char *virtual_clock;   /* NULL: the real clock */
};

enum query_exit query_run(const struct gnomon_config *config, const struct query_options *options);

#endif
