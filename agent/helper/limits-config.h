/* The helper's own limits: the [Limits] group of clock-helper.conf (clock-policy.md), read
 * strictly (unknown, duplicate or malformed settings are errors naming FILE:LINE and the
 * key). The file holds what a compromised agent must not exceed, so one that others could
 * rewrite is refused too. */
#ifndef GNOMON_HELPER_LIMITS_CONFIG_H
#define GNOMON_HELPER_LIMITS_CONFIG_H

#include <glib.h>

#include "helper-policy.h"

#define LIMITS_CONFIG_ERROR (limits_config_error_quark())
GQuark limits_config_error_quark(void);

enum limits_config_error {
    LIMITS_CONFIG_ERROR_READ,        /* missing (when required), unreadable, too large */
    LIMITS_CONFIG_ERROR_PERMISSIONS, /* writable by group or others, or owned by another user */
    LIMITS_CONFIG_ERROR_SYNTAX,      /* not a [group], key=value line or comment; not UTF-8 */
    LIMITS_CONFIG_ERROR_DUPLICATE,   /* a group or key twice */
    LIMITS_CONFIG_ERROR_UNKNOWN,     /* a group or key the helper does not know */
    LIMITS_CONFIG_ERROR_VALUE,       /* malformed or out of range */
};

/* Sets *limits to the defaults of clock-policy.md, then to what PATH says. A missing file
 * leaves the defaults when missing_ok, and is an error otherwise. */
gboolean limits_config_load(const char *path, gboolean missing_ok, struct helper_limits *limits,
                            GError **error);
/* The same for text already read: sets *limits to the defaults, then to what TEXT (LEN
 * bytes, any content) says; PATH names it in messages. limits_config_load() checks the
 * file, reads it and calls this. */
gboolean limits_config_parse(const char *path, const char *text, gsize len,
                             struct helper_limits *limits, GError **error);

/* "0.5", "1000", "inf": seconds as the configuration file writes them. */
char *limits_config_format_seconds(gint64 ns);

#endif
