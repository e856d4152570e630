/* gnomon-agent: command line, configuration, then the query or the daemon. */
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "build-config.h"
#include "config.h"
#include "daemon.h"
#include "query.h"

#define DEFAULT_CONFIG    SYSCONFDIR "/gnomon/gnomon.conf"
#define DEFAULT_STATE_DIR LOCALSTATEDIR "/lib/gnomon"

static gboolean verbose_logging;

/* One line per message, named like the program: under systemd stderr is the journal,
 * on a terminal it reads like any other tool's messages. */
static void log_line(const char *domain, GLogLevelFlags level, const char *message,
                     gpointer user_data)
{
    (void)domain, (void)user_data;
    const char *kind = (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) ? "error: "
                       : (level & G_LOG_LEVEL_WARNING)                      ? "warning: "
                                                                            : "";
    if ((level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) && !verbose_logging)
        return;
    fprintf(stderr, "gnomon-agent: %s%s\n", kind, message);
}

int main(int argc, char **argv)
{
    /* A locale that is not installed leaves the C locale: messages in English. */
    (void)setlocale(LC_ALL, "");
    /* GNOMON_LOCALEDIR: the build tree's catalogues, for tests (as gnomonctl). */
    const char *locale_dir = g_getenv("GNOMON_LOCALEDIR");
    bindtextdomain(GETTEXT_PACKAGE, locale_dir && locale_dir[0] ? locale_dir : LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);
    /* A peer closing a connection is an error to report, never a reason to die. (It cannot
     * fail: the signal and the handler are valid.) */
    (void)signal(SIGPIPE, SIG_IGN);
    g_autofree char *config_path = NULL;
    g_autofree char *state_directory = NULL;
    g_autofree char *virtual_clock = NULL;
    gboolean query = FALSE, json = FALSE, verbose = FALSE, version = FALSE;
    GOptionEntry entries[] = {
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_path, N_("Configuration file"), "FILE"},
        {"query", 0, 0, G_OPTION_ARG_NONE, &query,
         N_("Measure every source once, print the consensus and exit"), NULL},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("With --query: print one JSON object"), NULL},
        {"state-directory", 0, 0, G_OPTION_ARG_FILENAME, &state_directory,
         N_("State directory (overrides the configuration)"), "DIR"},
        {"virtual-clock", 0, 0, G_OPTION_ARG_FILENAME, &virtual_clock,
         N_("Tests: read local time through the dry-run helper's simulated clock"), "FILE"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Say what happens to each source"),
         NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) context = g_option_context_new(_("- NTS time synchronisation agent"));
    g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
    g_autofree char *description =
        g_strdup_printf(_("The configuration is read from %s (and %s.d/*.conf) unless --config "
                          "names another file."),
                        DEFAULT_CONFIG, DEFAULT_CONFIG);
    g_option_context_set_description(context, description);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        fprintf(stderr, _("gnomon-agent: %s (try --help)\n"), error->message);
        return QUERY_EXIT_BAD_CONFIG;
    }
    verbose_logging = verbose;
    g_log_set_default_handler(log_line, NULL);
    if (version) {
        printf("gnomon-agent %s\n", GNOMON_VERSION);
        return EXIT_SUCCESS;
    }
    if (argc > 1) {
        fprintf(stderr, _("gnomon-agent: unexpected argument \"%s\" (try --help)\n"), argv[1]);
        return QUERY_EXIT_BAD_CONFIG;
    }
    if (json && !query) {
        fprintf(stderr, _("gnomon-agent: --json goes with --query\n"));
        return QUERY_EXIT_BAD_CONFIG;
    }

    g_autoptr(GnomonConfig) config =
        gnomon_config_load(config_path ? config_path : DEFAULT_CONFIG, DEFAULT_STATE_DIR, &error);
    if (config == NULL) {
        fprintf(stderr, "gnomon-agent: %s\n", error->message);
        return QUERY_EXIT_BAD_CONFIG;
    }
    for (guint i = 0; i < config->warnings->len; i++)
        fprintf(stderr, "gnomon-agent: warning: %s\n", (const char *)config->warnings->pdata[i]);

    if (!query) {
        struct agent_options agent_options = {
            .state_directory = state_directory,
            .virtual_clock = virtual_clock,
            .verbose = verbose,
        };
        /* The daemon owns the configuration from here (Reload replaces it). */
        return daemon_run(g_steal_pointer(&config), config_path ? config_path : DEFAULT_CONFIG,
                          &agent_options);
    }
    struct query_options options = {
        .json = json,
        .verbose = verbose,
        .state_directory = state_directory,
        .virtual_clock = virtual_clock,
    };
    return query_run(config, &options);
}
