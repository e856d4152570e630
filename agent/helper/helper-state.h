/* What the helper keeps between its runs (interfaces.md, "Files"):
 * - RUNTIME_DIR/boot.json: this boot's record (steps, slews, approval, request IDs and
 *   their answers, the last request), tied to the kernel boot ID so that one left from
 *   another boot is discarded; kept across idle exits and D-Bus re-activation.
 * - STATE_DIR/floor: the helper's own time floor, one line of decimal Unix seconds.
 * Both are written atomically (temporary file, fsync, rename). */
#ifndef GNOMON_HELPER_STATE_H
#define GNOMON_HELPER_STATE_H

#include <glib.h>

#include "helper-policy.h"

#define HELPER_STATE_ERROR (helper_state_error_quark())
GQuark helper_state_error_quark(void);

enum helper_state_error {
    HELPER_STATE_ERROR_IO,
    HELPER_STATE_ERROR_BOOT_ID,
};

#define HELPER_STATE_BOOT_FILE  "boot.json"
#define HELPER_STATE_FLOOR_FILE "floor"
#define HELPER_STATE_BOOT_ID    "/proc/sys/kernel/random/boot_id"

struct helper_store;

/* Creates the directories (0755) when missing and reads the boot ID. */
struct helper_store *helper_store_new(const char *runtime_dir, const char *state_dir,
                                      GError **error);
void helper_store_free(struct helper_store *store);

const char *helper_store_boot_id(const struct helper_store *store);

/* Fills state: a fresh boot (helper_policy_state_init) with the floor file's floor, then
 * this boot's record when there is one. Problems that do not stop the helper are added to
 * warnings: an unreadable floor file (ignored: the build date still holds), a record from
 * another boot (discarded), or a damaged record of this boot (discarded, and the boot
 * window is then taken as closed: failing closed). */
void helper_store_load(struct helper_store *store, struct helper_policy_state *state,
                       gint64 build_date_ns, GPtrArray *warnings);

/* The parse halves of helper_store_load(), for a file's text already read (LEN bytes, any
 * content); PATH names it in warnings. The floor file: TRUE with *floor_ns, or FALSE with a
 * warning. This boot's record: STATE (a fresh boot's, with the floor) is replaced by the
 * record when it is of BOOT_ID and intact, and otherwise left, with a warning (a damaged
 * one also closes the boot window). */
gboolean helper_store_parse_floor(const char *path, const char *data, gsize len, gint64 *floor_ns,
                                  GPtrArray *warnings);
void helper_store_parse_boot(const char *path, const char *boot_id, const char *text, gsize len,
                             struct helper_policy_state *state, GPtrArray *warnings);

gboolean helper_store_save_boot(struct helper_store *store, const struct helper_policy_state *state,
                                GError **error);
gboolean helper_store_save_floor(struct helper_store *store, gint64 floor_ns, GError **error);

typedef struct helper_store GnomonHelperStore;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GnomonHelperStore, helper_store_free)

#endif
