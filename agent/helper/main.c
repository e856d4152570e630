/* gnomon-clock-helper: command line (interfaces.md, "gnomon-clock-helper options"), limits,
 * the remembered state, a backend, then the D-Bus service until idle. */
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "backend.h"
#include "build-config.h"
#include "helper-service.h"
#include "helper-state.h"
#include "limits-config.h"

#define DEFAULT_CONFIG       SYSCONFDIR "/gnomon/clock-helper.conf"
#define DEFAULT_RUNTIME_DIR  "/run/gnomon-clock-helper"
#define DEFAULT_STATE_DIR    LOCALSTATEDIR "/lib/gnomon-clock-helper"
#define DEFAULT_TIMESYNC_DIR "/run/systemd/timesync"
#define DEFAULT_IDLE_TIMEOUT 60
#define EXIT_USAGE           2

/* The build date (build-config.h, from SOURCE_DATE_EPOCH or the last commit): the floor
 * no clock is ever set before. */
#define BUILD_DATE_NS ((gint64)(GNOMON_BUILD_DATE_UNIX)*NS_PER_SEC)

G_GNUC_PRINTF(1, 2)
static int usage_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *message = g_strdup_vprintf(format, args);
    va_end(args);
    fprintf(stderr, "gnomon-clock-helper: %s (try --help)\n", message);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    /* A locale that is not installed leaves the C locale: messages in English. */
    (void)setlocale(LC_ALL, "");
    /* GNOMON_LOCALEDIR: the build tree's catalogues, for tests (as the agent and gnomonctl). */
    const char *locale_dir = g_getenv("GNOMON_LOCALEDIR");
    bindtextdomain(GETTEXT_PACKAGE, locale_dir && locale_dir[0] ? locale_dir : LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);
    g_autofree char *backend_option = NULL;
    g_autofree char *record = NULL;
    g_autofree char *virtual_clock = NULL;
    g_autofree char *config_path = NULL;
    g_autofree char *runtime_directory = NULL;
    g_autofree char *state_directory = NULL;
    g_autofree char *timesync_directory = NULL;
    gint idle_timeout = DEFAULT_IDLE_TIMEOUT;
    gint answer_delay_ms = 0;
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        {"backend", 0, 0, G_OPTION_ARG_STRING, &backend_option,
         "kernel (default) or dry-run (tests: change no clock)", "kernel|dry-run"},
        {"record", 0, 0, G_OPTION_ARG_FILENAME, &record,
         "dry-run: append one JSON line per request to FILE", "FILE"},
        {"virtual-clock", 0, 0, G_OPTION_ARG_FILENAME, &virtual_clock,
         "dry-run: apply accepted changes to the simulated clock in FILE", "FILE"},
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
         "Limits (default " DEFAULT_CONFIG "; missing: the built-in defaults)", "FILE"},
        {"runtime-directory", 0, 0, G_OPTION_ARG_FILENAME, &runtime_directory,
         "This boot's record (default " DEFAULT_RUNTIME_DIR ")", "DIR"},
        {"state-directory", 0, 0, G_OPTION_ARG_FILENAME, &state_directory,
         "The time floor (default " DEFAULT_STATE_DIR ")", "DIR"},
        {"timesync-directory", 0, 0, G_OPTION_ARG_FILENAME, &timesync_directory,
         "Where to create \"synchronized\" (default " DEFAULT_TIMESYNC_DIR
         "; with dry-run only when given)",
         "DIR"},
        {"idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout,
         "Exit after SECONDS without a call (default 60; 0: never)", "SECONDS"},
        {"answer-delay", 0, 0, G_OPTION_ARG_INT, &answer_delay_ms,
         "dry-run: answer clock changes MS late, after making them (tests: a lost answer)", "MS"},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) context =
        g_option_context_new("- gnomon's clock helper (D-Bus activated, root)");
    g_option_context_add_main_entries(context, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        return usage_error("%s", error->message);
    }
    if (version) {
        printf("gnomon-clock-helper %s\n", GNOMON_VERSION);
        return EXIT_SUCCESS;
    }
    if (argc > 1) {
        return usage_error("unexpected argument \"%s\"", argv[1]);
    }
    const char *backend_kind = backend_option != NULL ? backend_option : "kernel";
    gboolean dry_run = strcmp(backend_kind, "dry-run") == 0;
    if (!dry_run && strcmp(backend_kind, "kernel") != 0) {
        return usage_error("--backend is kernel or dry-run, not \"%s\"", backend_kind);
    }
    /* clock-policy.md, "Test seams are not a way in". */
    if (!dry_run && (virtual_clock != NULL || record != NULL || answer_delay_ms != 0)) {
        return usage_error("%s goes only with --backend dry-run: the kernel backend sets the "
                           "real clock",
                           virtual_clock != NULL ? "--virtual-clock"
                           : record != NULL      ? "--record"
                                                 : "--answer-delay");
    }
    if (answer_delay_ms < 0) {
        return usage_error("%s", "--answer-delay must be 0 or more milliseconds");
    }
    /* A dry run must not share the real helper's floor and boot record: a simulated step
     * would move the real floor and close the real boot window. */
    if (dry_run && (runtime_directory == NULL || state_directory == NULL)) {
        return usage_error("%s", "--backend dry-run needs --runtime-directory and "
                                 "--state-directory of its own");
    }
    if (idle_timeout < 0) {
        return usage_error("%s", "--idle-timeout must be 0 (never) or more seconds");
    }
    if (!dry_run && timesync_directory == NULL) {
        timesync_directory = g_strdup(DEFAULT_TIMESYNC_DIR);
    }

    struct helper_limits limits;
    if (!limits_config_load(config_path != NULL ? config_path : DEFAULT_CONFIG, config_path == NULL,
                            &limits, &error)) {
        fprintf(stderr, "gnomon-clock-helper: %s\n", error->message);
        return EXIT_USAGE;
    }
    g_autoptr(GnomonHelperStore) store =
        helper_store_new(runtime_directory != NULL ? runtime_directory : DEFAULT_RUNTIME_DIR,
                         state_directory != NULL ? state_directory : DEFAULT_STATE_DIR, &error);
    if (store == NULL) {
        fprintf(stderr, "gnomon-clock-helper: %s\n", error->message);
        return EXIT_FAILURE;
    }
    struct helper_policy_state state;
    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    helper_store_load(store, &state, BUILD_DATE_NS, warnings);
    for (guint i = 0; i < warnings->len; i++) {
        fprintf(stderr, "gnomon-clock-helper: warning: %s\n", (const char *)warnings->pdata[i]);
    }
    g_autoptr(GnomonBackend) backend =
        dry_run ? backend_dry_run_new(record, virtual_clock, &error) : backend_kernel_new(NULL);
    if (backend == NULL) {
        fprintf(stderr, "gnomon-clock-helper: %s\n", error->message);
        return EXIT_FAILURE;
    }
    struct helper_service_options options = {
        .timesync_directory = timesync_directory,
        .idle_timeout_s = (guint)idle_timeout,
        .answer_delay_ms = (guint)answer_delay_ms,
    };
    g_autoptr(GnomonHelperService) service = helper_service_new(
        &limits, &state, g_steal_pointer(&backend), g_steal_pointer(&store), &options, &error);
    if (service == NULL) {
        fprintf(stderr, "gnomon-clock-helper: %s\n", error->message);
        return EXIT_FAILURE;
    }
    return helper_service_run(service);
}
