/* gnomonctl: the command line for gnomon-agent (interfaces.md, "gnomonctl"). Options,
 * translations, the bus, then one command. */
#include <glib/gi18n.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "ctl.h"
#include "format.h"

#define DEFAULT_TOLERANCE_NS (5 * G_GINT64_CONSTANT(1000000000))
/* ApproveStep takes the tolerance in ns as a uint64; far beyond any useful tolerance. */
#define MAX_TOLERANCE_S      1e9

enum command_flags {
    READS = 1 << 0,    /* takes --json */
    APPROVES = 1 << 1, /* takes --tolerance */
};

struct command {
    const char *name;
    int (*run)(struct ctl *ctl);
    unsigned flags;
};

static int run_online(struct ctl *ctl)
{
    return ctl_set_online(ctl, TRUE);
}

static int run_offline(struct ctl *ctl)
{
    return ctl_set_online(ctl, FALSE);
}

static const struct command commands[] = {
    {.name = "status", .run = ctl_status, .flags = READS},
    {.name = "sources", .run = ctl_sources, .flags = READS},
    {.name = "sync", .run = ctl_sync},
    {.name = "online", .run = run_online},
    {.name = "offline", .run = run_offline},
    {.name = "approve-step", .run = ctl_approve_step, .flags = APPROVES},
    {.name = "monitor", .run = ctl_monitor, .flags = READS},
};

G_GNUC_PRINTF(1, 2)
static int usage_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *message = g_strdup_vprintf(format, args);
    va_end(args);
    /* TRANSLATORS: %s is a complete message about the command line. */
    ctl_message(_("%s (try --help)"), message);
    return CTL_EXIT_USAGE;
}

static gboolean parse_tolerance(const char *text, gint64 *ns)
{
    char *end = NULL;
    double seconds = g_ascii_strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(seconds) || seconds <= 0 ||
        seconds > MAX_TOLERANCE_S)
        return FALSE;
    *ns = (gint64)llround(seconds * 1e9);
    return *ns > 0;
}

/* The build tree's catalogues for tests (po/ there is laid out like LOCALEDIR); an
 * installed gnomonctl uses LOCALEDIR. Only a path for message catalogues: nothing
 * gnomonctl does depends on it. */
static void init_translations(void)
{
    /* A locale that is not installed leaves the C locale: messages in English. */
    (void)setlocale(LC_ALL, "");
    const char *dir = g_getenv("GNOMON_LOCALEDIR");
    bindtextdomain(GETTEXT_PACKAGE, dir != NULL && dir[0] != '\0' ? dir : LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);
}

static GOptionContext *option_context(gboolean *json, gboolean *no_ask_password, char **tolerance,
                                      gboolean *system, gboolean *version, gboolean *help)
{
    GOptionEntry entries[] = {
        {"json", 0, 0, G_OPTION_ARG_NONE, json,
         N_("Print JSON (status, sources; monitor: one object per line)"), NULL},
        {"no-ask-password", 0, 0, G_OPTION_ARG_NONE, no_ask_password,
         N_("Do not ask for a password when polkit wants one"), NULL},
        {"tolerance", 0, 0, G_OPTION_ARG_STRING, tolerance,
         N_("approve-step: how far the step may differ (default 5)"), N_("SECONDS")},
        {"system", 0, 0, G_OPTION_ARG_NONE, system,
         N_("Talk to gnomon-agent on the system bus (the default)"), NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, version, N_("Print the version and exit"), NULL},
        {"help", 'h', 0, G_OPTION_ARG_NONE, help, N_("Show this help and exit"), NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *context = g_option_context_new(_("[COMMAND]"));
    g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
    g_option_context_set_help_enabled(context, FALSE);
    g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
    g_option_context_set_summary(
        context, _("Show and control gnomon-agent, the NTS time synchronisation agent.\n"
                   "\n"
                   "Commands:\n"
                   "  status         the state of synchronisation (the default)\n"
                   "  sources        the time sources and how each one fares\n"
                   "  sync           measure every source now\n"
                   "  online         allow network traffic again\n"
                   "  offline        send no packets until \"online\"\n"
                   "  approve-step   approve the clock step gnomon-agent refused\n"
                   "                 (administrators; the clock helper checks it)\n"
                   "  monitor        print one line per change until interrupted"));
    g_option_context_set_description(
        context, _("Exit status:\n"
                   "  0  success\n"
                   "  1  failure (e.g. no system bus)\n"
                   "  2  invalid command line\n"
                   "  3  gnomon-agent is not running (approve-step: or the clock helper\n"
                   "     cannot be started)\n"
                   "  4  not authorized (polkit said no, or no password was given)\n"
                   "  5  refused: the clock helper's limits or rules said no\n"
                   "\n"
                   "Colour only on a terminal and when NO_COLOR is unset. The system bus is\n"
                   "the one in DBUS_SYSTEM_BUS_ADDRESS, if set."));
    return context;
}

static int run(int argc, char **argv)
{
    gboolean json = FALSE, no_ask_password = FALSE, system = FALSE, version = FALSE;
    gboolean help = FALSE;
    g_autofree char *tolerance = NULL;
    g_autoptr(GOptionContext) context =
        option_context(&json, &no_ask_password, &tolerance, &system, &version, &help);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, &argc, &argv, &error))
        return usage_error("%s", error->message);
    if (help) {
        g_autofree char *text = g_option_context_get_help(context, TRUE, NULL);
        printf("%s%s", text, g_str_has_suffix(text, "\n") ? "" : "\n");
        return CTL_EXIT_OK;
    }
    if (version) {
        printf("gnomonctl %s\n", GNOMON_VERSION);
        return CTL_EXIT_OK;
    }

    const char *name = argc > 1 ? argv[1] : "status";
    const struct command *command = NULL;
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (strcmp(commands[i].name, name) == 0)
            command = &commands[i];
    }
    if (command == NULL)
        return usage_error(_("unknown command \"%s\""), name);
    if (argc > 2)
        return usage_error(_("unexpected argument \"%s\""), argv[2]);
    if (json && !(command->flags & READS))
        return usage_error(_("--json goes with status, sources or monitor, not %s"), name);
    struct ctl ctl = {
        .options =
            {
                .json = json,
                .no_ask_password = no_ask_password,
                .tolerance_ns = DEFAULT_TOLERANCE_NS,
                .colour = ctl_colour_wanted(isatty(STDOUT_FILENO), g_getenv("NO_COLOR"),
                                            g_getenv("TERM")),
            },
    };
    if (tolerance != NULL && !(command->flags & APPROVES))
        return usage_error(_("--tolerance goes with approve-step, not %s"), name);
    if (tolerance != NULL && !parse_tolerance(tolerance, &ctl.options.tolerance_ns))
        return usage_error(_("--tolerance wants a number of seconds greater than 0, not \"%s\""),
                           tolerance);

    ctl.bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
    if (ctl.bus == NULL) {
        ctl_message(_("cannot connect to the system bus: %s"), error->message);
        return CTL_EXIT_FAILURE;
    }
    int code = command->run(&ctl);
    g_object_unref(ctl.bus);
    return code;
}

int main(int argc, char **argv)
{
    init_translations();
    int code = run(argc, argv);
    /* Output that did not arrive (a full disk, a closed pipe) is a failure, not success:
     * stdout's error indicator keeps any failed write, the flush does the last one. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ctl_message(_("cannot write to standard output"));
        if (code == CTL_EXIT_OK)
            code = CTL_EXIT_FAILURE;
    }
    return code;
}
