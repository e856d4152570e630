#include "server-log.h"

#include <stdarg.h>
#include <stdio.h>

static bool quiet;

void server_log_set_quiet(bool value)
{
    quiet = value;
}

void server_log(const char *format, ...)
{
    if (quiet)
        return;
    va_list args;
    va_start(args, format);
    /* Nowhere to report a failure to write to stderr. */
    (void)fputs("gnomon-test-nts-server: ", stderr);
    (void)vfprintf(stderr, format, args);
    (void)fputc('\n', stderr);
    va_end(args);
}
