/* Brief per-connection and per-packet log lines on stderr, silenced by --quiet. */
#ifndef GNOMON_TEST_SERVER_LOG_H
#define GNOMON_TEST_SERVER_LOG_H

#include <stdbool.h>

void server_log_set_quiet(bool value);

__attribute__((format(printf, 1, 2))) void server_log(const char *format, ...);

#endif
