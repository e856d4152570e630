/* The agent's configuration (interfaces.md "Configuration (GKeyFile)"): gnomon.conf and the
 * drop-ins in gnomon.conf.d, checked strictly (unknown, duplicate or contradictory settings are
 * errors naming FILE:LINE) into one plain struct. Loading touches nothing but the files. */
#ifndef GNOMON_DAEMON_CONFIG_H
#define GNOMON_DAEMON_CONFIG_H

#include <glib.h>

#define GNOMON_CONFIG_DEFAULT_NTS_KE_PORT 4460

/* Every error's message is one line a user can act on: "FILE:LINE: [Group] Key: problem". */
#define GNOMON_CONFIG_ERROR (gnomon_config_error_quark())
GQuark gnomon_config_error_quark(void);

enum gnomon_config_error {
    GNOMON_CONFIG_ERROR_READ,        /* a file or the drop-in directory cannot be read */
    GNOMON_CONFIG_ERROR_SYNTAX,      /* not a [group], key=value line or comment; not UTF-8 */
    GNOMON_CONFIG_ERROR_DUPLICATE,   /* a group, key, source name or host and port twice */
    GNOMON_CONFIG_ERROR_UNKNOWN,     /* a group or key gnomon does not know (a typo) */
    GNOMON_CONFIG_ERROR_VALUE,       /* a value that is malformed or out of range */
    GNOMON_CONFIG_ERROR_MISSING,     /* a required key (Host, Operator) or no source at all */
    GNOMON_CONFIG_ERROR_CONSISTENCY, /* values that contradict each other */
};

struct gnomon_source_config {
    char *name; /* the NAME of [Source NAME] */
    char *host; /* a DNS name or an IP address literal */
    guint16 port;
    char *operator_name;
    char *trusted_certificates; /* CA file; NULL = the [Agent] one */
};

/* Durations are nanoseconds; G_MAXINT64 stands for "inf". */
struct gnomon_config {
    guint min_agreeing_sources;
    guint min_operators;
    guint untrusted_clock_min_agreeing_sources;
    gint64 step_threshold_ns;
    gint64 startup_max_step_ns;
    gint64 max_step_ns;
    gint64 poll_min_ns;
    gint64 poll_max_ns;
    gint64 start_jitter_ns;
    char *trusted_certificates; /* CA file; NULL = the system trust store */
    char *state_directory;      /* never NULL */
    GPtrArray *sources;         /* of struct gnomon_source_config *, in file order; never empty */
    GPtrArray *warnings;        /* of char *: one line each (e.g. a file others can write) */
};

typedef struct gnomon_config GnomonConfig;

/* Loads PATH, then the files named NAME.conf in the directory PATH.d, in strcmp() order of
 * their names (a missing directory is fine; names starting with "." are skipped). Drop-ins may
 * override [Agent] keys (the last wins) and add sources, but not redefine one.
 * default_state_directory is used when no file sets StateDirectory. Returns NULL with a
 * GNOMON_CONFIG_ERROR on any problem. */
struct gnomon_config *gnomon_config_load(const char *path, const char *default_state_directory,
                                         GError **error);
/* One configuration file's name (for messages) and text, already read. */
struct gnomon_config_text {
    const char *name;
    const char *data; /* any bytes; need not end in NUL */
    gsize len;
};

/* The checks of gnomon_config_load() on text already read: TEXTS[0] is the main file,
 * the others its drop-ins in order. Nothing is read from disk, so no permission warnings.
 * gnomon_config_load() reads each file and then does just this. */
struct gnomon_config *gnomon_config_parse(const struct gnomon_config_text *texts, gsize n_texts,
                                          const char *default_state_directory, GError **error);
void gnomon_config_free(struct gnomon_config *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GnomonConfig, gnomon_config_free)

#endif
