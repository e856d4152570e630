/* The agent's state directory (interfaces.md "Files", security.md "Files"): per source its NTS
 * keys and unused cookies, and the agent's drift, time floor and boot window, as JSON files
 * 0600 in a 0700 directory, written atomically, locked against a second agent and tied to the
 * machine ID so a cloned image never reuses another machine's cookies. */
#ifndef GNOMON_DAEMON_STATE_STORE_H
#define GNOMON_DAEMON_STATE_STORE_H

#include <glib.h>

#include "nts-cookie.h"

#define STATE_STORE_KEY_LEN              32    /* AEAD_AES_SIV_CMAC_256 (RFC 8915 §5.1) */
#define STATE_STORE_MAX_FILE_SIZE        65536 /* 64 KiB */
#define STATE_STORE_MAX_FREQUENCY_PPM    500.0 /* the kernel's limit (MAXFREQ) */
#define STATE_STORE_DEFAULT_MACHINE_ID   "/etc/machine-id"
#define STATE_STORE_DEFAULT_BOOT_ID      "/proc/sys/kernel/random/boot_id"
#define STATE_STORE_MAX_SOURCE_NAME_FILE 200 /* bytes of a source's escaped name */

/* Every message names the directory or file and the problem, on one line. */
#define STATE_STORE_ERROR (state_store_error_quark())
GQuark state_store_error_quark(void);

/* Any error from a load means "nothing usable here": the caller logs it and carries on
 * without (a key exchange, default drift); the next save replaces the file. */
enum state_store_error {
    STATE_STORE_ERROR_IO,               /* a system call failed; the message names it */
    STATE_STORE_ERROR_SYSTEM_ID,        /* the machine ID or boot ID is unreadable or malformed */
    STATE_STORE_ERROR_LOCKED,           /* another gnomon-agent holds the state directory */
    STATE_STORE_ERROR_INVALID_ARGUMENT, /* a source name or a struct that could not load back */
    STATE_STORE_ERROR_NOT_FOUND,        /* no such file; or no cookie left to take */
    STATE_STORE_ERROR_NOT_REGULAR,      /* a symbolic link, FIFO, directory... (or, for the
                                           state directory, not a directory) */
    STATE_STORE_ERROR_OWNER,            /* the file or directory belongs to another user */
    STATE_STORE_ERROR_PERMISSIONS,      /* a file others may read or write; a directory others
                                           may write */
    STATE_STORE_ERROR_TOO_LARGE,        /* larger than STATE_STORE_MAX_FILE_SIZE */
    STATE_STORE_ERROR_TRUNCATED,        /* empty, or ends inside a JSON string, object or array */
    STATE_STORE_ERROR_SYNTAX,           /* not JSON (or not UTF-8) */
    STATE_STORE_ERROR_TYPE,             /* not an object, or a member missing or of a wrong type */
    STATE_STORE_ERROR_VERSION,          /* "version" is not 1 */
    STATE_STORE_ERROR_FOREIGN_MACHINE,  /* written on a machine with another machine ID */
    STATE_STORE_ERROR_BASE64,           /* a key or cookie that is not strict base64 */
    STATE_STORE_ERROR_KEY_LENGTH,       /* a key that is not STATE_STORE_KEY_LEN bytes */
    STATE_STORE_ERROR_TOO_MANY_COOKIES, /* more than NTS_MAX_COOKIES */
    STATE_STORE_ERROR_COOKIE_LENGTH,    /* a cookie not 1..NTS_COOKIE_MAX_LEN, multiple of 4 */
    STATE_STORE_ERROR_VALUE,            /* any other value out of range (port, AEAD, time,
                                           frequency, boot ID, a cookie twice) */
    STATE_STORE_ERROR_HOST_CHANGED,     /* keys for another host or port than configured */
};

/* The keys and unused cookies of one source, from its last NTS-KE (RFC 8915 §4, §5.1). */
struct state_source {
    char *host; /* host and NTS-KE port as configured: both must match for a load */
    guint16 port;
    guint8 c2s_key[STATE_STORE_KEY_LEN];
    guint8 s2c_key[STATE_STORE_KEY_LEN];
    char *ntp_server; /* from the NTS-KE response (or the host when it named none) */
    guint16 ntp_port;
    gint64 key_exchange_time_unix; /* seconds */
    size_t n_cookies;              /* cookies[0] is the oldest, the next one taken */
    struct nts_cookie cookies[NTS_MAX_COOKIES];
};

struct state_agent {
    double frequency_ppm;
    gint64 time_floor_unix;
    gint64 last_sync_unix; /* 0 = never */
    /* On load: TRUE only when the file says so AND was written during the current boot (same
     * boot ID), so a restarted agent does not reopen the boot window and a reboot does. */
    gboolean boot_window_closed;
    /* The same for "a correction was accepted this boot": until then the untrusted-clock
     * rule may apply (clock-policy.md); a restarted agent must not apply it again. */
    gboolean synced_this_boot;
    /* On load: the boot ID the file was written in (for messages). Ignored on save: the
     * store always writes the current boot ID. */
    char *boot_id;
};

/* Where the machine ID and boot ID come from; tests inject fixed ones. A NULL struct or member
 * means the system's. A value wins over a path. */
struct state_store_ids {
    const char *machine_id;      /* 32 hex digits */
    const char *boot_id;         /* a UUID, e.g. "0a1b2c3d-...-..." */
    const char *machine_id_path; /* NULL = STATE_STORE_DEFAULT_MACHINE_ID */
    const char *boot_id_path;    /* NULL = STATE_STORE_DEFAULT_BOOT_ID */
};

typedef struct state_store StateStore;

/* Opens DIR (created 0700 with its parents if missing), refusing one that is not ours or that
 * others can write, and takes its lock (flock on DIR/lock, never blocking): when another
 * process holds it, fails with STATE_STORE_ERROR_LOCKED (then --query falls back to an
 * in-memory jar and says so). Removes temporary files a crash left behind. */
struct state_store *state_store_open(const char *dir, const struct state_store_ids *ids,
                                     GError **error);
/* Releases the lock. NULL is fine. */
void state_store_close(struct state_store *store);

const char *state_store_get_directory(const struct state_store *store);
const char *state_store_get_machine_id(const struct state_store *store);
const char *state_store_get_boot_id(const struct state_store *store);

/* Source NAME's file is "source-NAME.json" with every byte outside [A-Za-z0-9._-] written
 * %XX, so no name leaves the directory. Returns the file name (not the path), or NULL with
 * STATE_STORE_ERROR_INVALID_ARGUMENT for an empty or too long name. */
char *state_store_source_file_name(const char *source_name, GError **error);

/* Fills OUT (whatever it held is overwritten, not freed) with the saved keys and cookies of
 * SOURCE_NAME if they were saved on this machine for HOST and PORT (host compared without
 * case). On FALSE, OUT is zeroed. Free with state_source_clear(). */
gboolean state_store_load_source(struct state_store *store, const char *source_name,
                                 const char *host, guint16 port, struct state_source *out,
                                 GError **error);
/* The parse half of state_store_load_source(), for a file's text already read (LEN bytes,
 * any content): MACHINE_ID is this machine's (state_store_get_machine_id()), PATH names the
 * text in messages. The same checks and errors, but none about the file itself. */
gboolean state_store_parse_source(const char *path, const char *data, size_t len,
                                  const char *machine_id, const char *host, guint16 port,
                                  struct state_source *out, GError **error);
/* Replaces SOURCE_NAME's file atomically with SRC. */
gboolean state_store_save_source(struct state_store *store, const char *source_name,
                                 const struct state_source *src, GError **error);
/* Moves SRC's oldest cookie to OUT, and before that rewrites SOURCE_NAME's file without it,
 * so a cookie that was on disk is never sent twice, even after a crash. On FALSE nothing is
 * taken (SRC unchanged): with STATE_STORE_ERROR_NOT_FOUND when SRC has no cookie left;
 * after a failed write the file has also been removed where possible, so a restart cannot
 * reuse cookies the caller may still hand out from memory. */
gboolean state_store_take_cookie(struct state_store *store, const char *source_name,
                                 struct state_source *src, struct nts_cookie *out, GError **error);
/* Removes SOURCE_NAME's file; a missing file is fine. */
gboolean state_store_forget_source(struct state_store *store, const char *source_name,
                                   GError **error);

/* Like state_store_load_source() for agent.json. Free with state_agent_clear(). */
gboolean state_store_load_agent(struct state_store *store, struct state_agent *out, GError **error);
/* The parse half of state_store_load_agent(), as state_store_parse_source(); BOOT_ID is
 * the current boot's (state_store_get_boot_id()). */
gboolean state_store_parse_agent(const char *path, const char *data, size_t len,
                                 const char *machine_id, const char *boot_id,
                                 struct state_agent *out, GError **error);
/* Frequencies below 1e-4 ppm are written as 0 (json-glib 1.6 writes exponents as "1e-05.0",
 * which no parser reads back). */
gboolean state_store_save_agent(struct state_store *store, const struct state_agent *agent,
                                GError **error);

/* Free the strings and wipe keys and cookies; the struct is left zeroed. NULL is fine. */
void state_source_clear(struct state_source *source);
void state_agent_clear(struct state_agent *agent);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(StateStore, state_store_close)

#endif
