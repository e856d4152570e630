/* Tests agent/daemon/config.c: every setting, the drop-ins, and that every rejected file
 * gets the right error code and a message naming the file, line and key. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "check-main.h"
#include "config.h"

#define DEFAULT_STATE_DIRECTORY "/var/lib/gnomon"
#define NS                      G_GINT64_CONSTANT(1000000000)

/* Four sources from three operators: the defaults are satisfied and nothing is warned. */
#define FOUR_SOURCES                                                                               \
    "[Source a]\nHost=a.example.com\nOperator=A\n"                                                 \
    "[Source b]\nHost=b.example.net\nOperator=B\n"                                                 \
    "[Source c]\nHost=c.example.org\nOperator=C\n"                                                 \
    "[Source d]\nHost=d.example.org\nOperator=C\n"

static char *directory;
static char *main_path;

static void setup(void)
{
    directory = g_dir_make_tmp("gnomon-test-config-XXXXXX", NULL);
    ck_assert_ptr_nonnull(directory);
    main_path = g_build_filename(directory, "gnomon.conf", NULL);
}

/* NOLINTNEXTLINE(misc-no-recursion): only the test's own temporary directory */
static void remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir != NULL) {
        const char *name;
        while ((name = g_dir_read_name(dir)) != NULL) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            remove_tree(child);
        }
        g_dir_close(dir);
    }
    (void)g_remove(path); /* best effort: a leftover in /tmp fails no test */
}

static void teardown(void)
{
    remove_tree(directory);
    g_clear_pointer(&directory, g_free);
    g_clear_pointer(&main_path, g_free);
}

/* Writes NAME (relative to the test directory, sub-directories created) with mode 0644,
 * whatever the umask, and returns its path. */
static char *write_file(const char *name, const char *text)
{
    char *path = g_build_filename(directory, name, NULL);
    g_autofree char *parent = g_path_get_dirname(path);
    ck_assert_int_eq(g_mkdir_with_parents(parent, 0755), 0);
    ck_assert_int_eq(g_chmod(parent, 0755), 0);
    g_autoptr(GError) error = NULL;
    ck_assert_msg(g_file_set_contents(path, text, -1, &error), "%s", error ? error->message : "");
    ck_assert_int_eq(g_chmod(path, 0644), 0);
    return path;
}

static void put_file(const char *name, const char *text)
{
    g_free(write_file(name, text));
}

static void write_main(const char *text)
{
    put_file("gnomon.conf", text);
}

static struct gnomon_config *load_ok(void)
{
    g_autoptr(GError) error = NULL;
    struct gnomon_config *config = gnomon_config_load(main_path, DEFAULT_STATE_DIRECTORY, &error);
    ck_assert_msg(config != NULL, "unexpected error: %s", error ? error->message : "");
    ck_assert_ptr_null(error);
    return config;
}

/* Loads the main file, expects CODE and a message containing every fragment (NULL-ended);
 * "@" in a fragment stands for the main file's path. */
G_GNUC_NULL_TERMINATED
static void expect_error(int code, ...)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GnomonConfig) config = gnomon_config_load(main_path, DEFAULT_STATE_DIRECTORY, &error);
    ck_assert_ptr_null(config);
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(error->domain == GNOMON_CONFIG_ERROR, "wrong domain: %s", error->message);
    ck_assert_msg(error->code == code, "code %d, not %d: %s", error->code, code, error->message);
    ck_assert_msg(strchr(error->message, '\n') == NULL, "not one line: %s", error->message);
    va_list args;
    va_start(args, code);
    const char *fragment;
    while ((fragment = va_arg(args, const char *)) != NULL) {
        g_autoptr(GString) expected = g_string_new(fragment);
        g_string_replace(expected, "@", main_path, 0);
        ck_assert_msg(strstr(error->message, expected->str) != NULL, "\"%s\" not in: %s",
                      expected->str, error->message);
    }
    va_end(args);
}

static const struct gnomon_source_config *source_at(const struct gnomon_config *config, guint i)
{
    ck_assert_uint_lt(i, config->sources->len);
    return config->sources->pdata[i];
}

START_TEST(test_defaults)
{
    write_main(FOUR_SOURCES);
    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_uint_eq(config->min_agreeing_sources, 3);
    ck_assert_uint_eq(config->min_operators, 2);
    ck_assert_uint_eq(config->untrusted_clock_min_agreeing_sources, 4);
    ck_assert_int_eq(config->step_threshold_ns, 400000000);
    ck_assert_int_eq(config->startup_max_step_ns, G_MAXINT64);
    ck_assert_int_eq(config->max_step_ns, 1000 * NS);
    ck_assert_int_eq(config->poll_min_ns, 32 * NS);
    ck_assert_int_eq(config->poll_max_ns, 2048 * NS);
    ck_assert_int_eq(config->start_jitter_ns, 1 * NS);
    ck_assert_ptr_null(config->trusted_certificates);
    ck_assert_str_eq(config->state_directory, DEFAULT_STATE_DIRECTORY);
    ck_assert_uint_eq(config->sources->len, 4);
    const struct gnomon_source_config *a = source_at(config, 0);
    ck_assert_str_eq(a->name, "a");
    ck_assert_str_eq(a->host, "a.example.com");
    ck_assert_uint_eq(a->port, 4460);
    ck_assert_str_eq(a->operator_name, "A");
    ck_assert_ptr_null(a->trusted_certificates);
    ck_assert_str_eq(source_at(config, 3)->name, "d");
    ck_assert_uint_eq(config->warnings->len, 0);
}
END_TEST

START_TEST(test_every_key)
{
    write_main("[Agent]\n"
               "MinAgreeingSources=2\n"
               "MinOperators=1\n"
               "StepThresholdSeconds=0.125\n"
               "StartupMaxStepSeconds=86400\n"
               "MaxStepSeconds=inf\n"
               "UntrustedClockMinAgreeingSources=2\n"
               "PollMinSeconds=0.5\n"
               "PollMaxSeconds=1e3\n"
               "StartJitterSeconds=0\n"
               "TrustedCertificates=/etc/ssl/gnomon.pem\n"
               "StateDirectory=/tmp/state\n"
               "[Source x]\n"
               "Host=192.0.2.1\n"
               "Port=123\n"
               "Operator=  Example Org  \n"
               "TrustedCertificates=/etc/ssl/x.pem\n"
               "[Source y]\n"
               "Host=2001:db8::1\n"
               "Operator=Other\n");
    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_uint_eq(config->min_agreeing_sources, 2);
    ck_assert_uint_eq(config->min_operators, 1);
    ck_assert_uint_eq(config->untrusted_clock_min_agreeing_sources, 2);
    ck_assert_int_eq(config->step_threshold_ns, 125000000);
    ck_assert_int_eq(config->startup_max_step_ns, 86400 * NS);
    ck_assert_int_eq(config->max_step_ns, G_MAXINT64);
    ck_assert_int_eq(config->poll_min_ns, 500000000);
    ck_assert_int_eq(config->poll_max_ns, 1000 * NS);
    ck_assert_int_eq(config->start_jitter_ns, 0);
    ck_assert_str_eq(config->trusted_certificates, "/etc/ssl/gnomon.pem");
    ck_assert_str_eq(config->state_directory, "/tmp/state");
    ck_assert_uint_eq(config->sources->len, 2);
    const struct gnomon_source_config *x = source_at(config, 0);
    ck_assert_str_eq(x->host, "192.0.2.1");
    ck_assert_uint_eq(x->port, 123);
    ck_assert_str_eq(x->operator_name, "Example Org");
    ck_assert_str_eq(x->trusted_certificates, "/etc/ssl/x.pem");
    ck_assert_str_eq(source_at(config, 1)->host, "2001:db8::1");
    ck_assert_uint_eq(config->warnings->len, 0);
}
END_TEST

START_TEST(test_empty_values_mean_defaults)
{
    write_main("[Agent]\nTrustedCertificates=\nStateDirectory=\n" FOUR_SOURCES
               "[Source e]\nHost=e.example.com\nOperator=E\nTrustedCertificates=\n");
    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_ptr_null(config->trusted_certificates);
    ck_assert_str_eq(config->state_directory, DEFAULT_STATE_DIRECTORY);
    ck_assert_ptr_null(source_at(config, 4)->trusted_certificates);
}
END_TEST

START_TEST(test_drop_ins_in_name_order)
{
    write_main("[Agent]\nMinAgreeingSources=2\nPollMinSeconds=16\n"
               "[Source a]\nHost=a.example.com\nOperator=A\n"
               "[Source b]\nHost=b.example.com\nOperator=B\n");
    put_file("gnomon.conf.d/20-late.conf",
             "[Agent]\nMinAgreeingSources=4\n[Source d]\nHost=d.example.com\nOperator=D\n");
    put_file("gnomon.conf.d/10-early.conf",
             "[Agent]\nMinAgreeingSources=3\nMaxStepSeconds=5\n[Source c]\nHost=c.example.com\n"
             "Operator=C\n");
    /* Not drop-ins: they would break the load if they were read. */
    put_file("gnomon.conf.d/README", "not a key file\n");
    put_file("gnomon.conf.d/.15-hidden.conf", "not a key file\n");
    put_file("gnomon.conf.d/30-old.conf~", "not a key file\n");

    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_uint_eq(config->min_agreeing_sources, 4); /* 20-late wins */
    ck_assert_int_eq(config->max_step_ns, 5 * NS);      /* 10-early, not overridden */
    ck_assert_int_eq(config->poll_min_ns, 16 * NS);     /* the main file */
    ck_assert_uint_eq(config->sources->len, 4);
    ck_assert_str_eq(source_at(config, 0)->name, "a");
    ck_assert_str_eq(source_at(config, 1)->name, "b");
    ck_assert_str_eq(source_at(config, 2)->name, "c");
    ck_assert_str_eq(source_at(config, 3)->name, "d");
}
END_TEST

START_TEST(test_drop_in_error_names_drop_in)
{
    write_main(FOUR_SOURCES);
    g_autofree char *drop_in =
        write_file("gnomon.conf.d/50-bad.conf", "# tuning\n[Agent]\nMaxStepSeconds=lots\n");
    g_autofree char *where = g_strdup_printf("%s:3: [Agent] MaxStepSeconds:", drop_in);
    expect_error(GNOMON_CONFIG_ERROR_VALUE, where, "\"lots\" is not a number", NULL);
}
END_TEST

START_TEST(test_missing_file)
{
    expect_error(GNOMON_CONFIG_ERROR_READ, "cannot read @: No such file or directory", NULL);
}
END_TEST

START_TEST(test_syntax_error)
{
    write_main("[Agent]\nMinOperators=2\nthis line means nothing\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_SYNTAX, "@:3: ", "\"this line means nothing\"", NULL);
}
END_TEST

START_TEST(test_syntax_key_before_group)
{
    write_main("# first a comment\nHost=a.example.com\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_SYNTAX, "@:2: key \"Host\" comes before the first [group]",
                 NULL);
}
END_TEST

START_TEST(test_syntax_bad_group_header)
{
    write_main(FOUR_SOURCES "[Source e\nHost=e.example.com\n");
    expect_error(GNOMON_CONFIG_ERROR_SYNTAX, "@:13: \"[Source e\" is not a group header", NULL);
}
END_TEST

START_TEST(test_not_utf8)
{
    write_main(FOUR_SOURCES "[Source e]\nHost=e.example.com\nOperator=\xff\xfe\n");
    expect_error(GNOMON_CONFIG_ERROR_SYNTAX, "@:15: not valid UTF-8", NULL);
}
END_TEST

START_TEST(test_unknown_key)
{
    write_main(FOUR_SOURCES "[Source x]\nHots=x.example.com\nOperator=X\n");
    expect_error(GNOMON_CONFIG_ERROR_UNKNOWN, "@:14: unknown key \"Hots\" in [Source x]", NULL);
}
END_TEST

START_TEST(test_unknown_agent_key_and_locale_key)
{
    write_main("[Agent]\nMinAgreeingSource=3\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_UNKNOWN, "@:2: unknown key \"MinAgreeingSource\" in [Agent]",
                 NULL);
    write_main(FOUR_SOURCES "[Source x]\nHost=x.example.com\nHost[de]=x.example.de\n");
    expect_error(GNOMON_CONFIG_ERROR_UNKNOWN, "@:15: unknown key \"Host[de]\" in [Source x]", NULL);
}
END_TEST

START_TEST(test_unknown_group)
{
    write_main(FOUR_SOURCES "\n[Sauce x]\nHost=x.example.com\n");
    expect_error(GNOMON_CONFIG_ERROR_UNKNOWN, "@:14: unknown group [Sauce x]", NULL);
    write_main("[Source]\nHost=x.example.com\n");
    expect_error(GNOMON_CONFIG_ERROR_UNKNOWN, "@:1: group [Source] needs a name", NULL);
}
END_TEST

START_TEST(test_bad_number)
{
    write_main("[Agent]\nMinOperators=two\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE,
                 "@:2: [Agent] MinOperators: \"two\" is not a whole number", NULL);
    write_main("[Agent]\nMinAgreeingSources=0\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE, "@:2: [Agent] MinAgreeingSources: 0 is too small",
                 NULL);
    write_main("[Agent]\nMinAgreeingSources=-3\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE, "@:2: [Agent] MinAgreeingSources: -3 is too small",
                 NULL);
    write_main("[Agent]\nMinAgreeingSources=2.5\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE,
                 "@:2: [Agent] MinAgreeingSources: \"2.5\" is not a whole", NULL);
}
END_TEST

START_TEST(test_inf_where_allowed)
{
    write_main("[Agent]\nStartupMaxStepSeconds=Infinity\nMaxStepSeconds=inf\n" FOUR_SOURCES);
    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_int_eq(config->startup_max_step_ns, G_MAXINT64);
    ck_assert_int_eq(config->max_step_ns, G_MAXINT64);
}
END_TEST

START_TEST(test_inf_where_not_allowed)
{
    write_main("[Agent]\nPollMaxSeconds=inf\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE,
                 "@:2: [Agent] PollMaxSeconds: \"inf\" is not allowed here: only "
                 "StartupMaxStepSeconds and MaxStepSeconds may be \"inf\"",
                 NULL);
    write_main("[Agent]\n\nStepThresholdSeconds=inf\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE,
                 "@:3: [Agent] StepThresholdSeconds:", "not allowed here", NULL);
    write_main("[Agent]\nMaxStepSeconds=-inf\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE, "@:2: [Agent] MaxStepSeconds: \"-inf\" is negative",
                 NULL);
}
END_TEST

START_TEST(test_bad_seconds)
{
    write_main("[Agent]\nStepThresholdSeconds=-0.1\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE,
                 "@:2: [Agent] StepThresholdSeconds: \"-0.1\" is negative", NULL);
    write_main("[Agent]\nStartJitterSeconds=nan\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE,
                 "@:2: [Agent] StartJitterSeconds: \"nan\" is not a number", NULL);
    write_main("[Agent]\nMaxStepSeconds=1e10\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE, "@:2: [Agent] MaxStepSeconds: \"1e10\" is too large",
                 NULL);
    write_main("[Agent]\nPollMinSeconds=0\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE,
                 "@:2: [Agent] PollMinSeconds: \"0\" must be more than 0", NULL);
    write_main("[Agent]\nPollMinSeconds=0x20\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE, "@:2: [Agent] PollMinSeconds: \"0x20\" is not a number",
                 NULL);
    write_main("[Agent]\nPollMinSeconds=\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE, "@:2: [Agent] PollMinSeconds: \"\" is not a number",
                 NULL);
}
END_TEST

START_TEST(test_largest_finite_seconds)
{
    write_main("[Agent]\nMaxStepSeconds=9223372036\n" FOUR_SOURCES);
    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_int_eq(config->max_step_ns, 9223372036 * NS);
    ck_assert_int_lt(config->max_step_ns, G_MAXINT64);
}
END_TEST

START_TEST(test_duplicate_group)
{
    write_main("[Agent]\nMinOperators=2\n" FOUR_SOURCES "[Agent]\nMinOperators=1\n");
    expect_error(GNOMON_CONFIG_ERROR_DUPLICATE, "@:15: duplicate group [Agent] (first at line 1)",
                 NULL);
    write_main(FOUR_SOURCES "[Source b]\nHost=z.example.com\nOperator=Z\n");
    expect_error(GNOMON_CONFIG_ERROR_DUPLICATE,
                 "@:13: duplicate group [Source b] (first at line 4)", NULL);
}
END_TEST

START_TEST(test_duplicate_key)
{
    write_main("[Source a]\n"
               "# the server\n"
               "Host=a.example.com\n"
               "Host = b.example.com\n"
               "Operator=A\n");
    expect_error(GNOMON_CONFIG_ERROR_DUPLICATE,
                 "@:4: duplicate key \"Host\" in [Source a] (first at line 3)", NULL);
}
END_TEST

START_TEST(test_duplicate_source_across_files)
{
    write_main(FOUR_SOURCES);
    g_autofree char *drop_in = write_file("gnomon.conf.d/local.conf",
                                          "\n[Source c]\nHost=other.example.com\nOperator=O\n");
    g_autofree char *expected =
        g_strdup_printf("%s:2: source \"c\" is already defined (%s:7)", drop_in, main_path);
    expect_error(GNOMON_CONFIG_ERROR_DUPLICATE, expected, NULL);
}
END_TEST

START_TEST(test_same_host_and_port)
{
    write_main(FOUR_SOURCES "[Source e]\nHost=A.Example.COM\nPort=4460\nOperator=E\n");
    expect_error(GNOMON_CONFIG_ERROR_DUPLICATE,
                 "@:13: source \"e\" has the same host and port as source \"a\" (line 1)", NULL);

    /* Across files the earlier one is named with its file. */
    write_main(FOUR_SOURCES);
    g_autofree char *drop_in =
        write_file("gnomon.conf.d/x.conf", "[Source e]\nHost=b.example.net\nOperator=E\n");
    g_autofree char *expected = g_strdup_printf(
        "%s:1: source \"e\" has the same host and port as source \"b\" (%s:4)", drop_in, main_path);
    expect_error(GNOMON_CONFIG_ERROR_DUPLICATE, expected, NULL);
}
END_TEST

START_TEST(test_same_host_other_port)
{
    write_main(FOUR_SOURCES "[Source e]\nHost=a.example.com\nPort=4461\nOperator=E\n");
    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_uint_eq(source_at(config, 4)->port, 4461);
}
END_TEST

START_TEST(test_no_sources)
{
    write_main("# nothing yet\n[Agent]\nMinAgreeingSources=1\n");
    expect_error(GNOMON_CONFIG_ERROR_MISSING, "@: no sources configured", NULL);
    write_main("");
    expect_error(GNOMON_CONFIG_ERROR_MISSING, "@: no sources configured", NULL);
}
END_TEST

START_TEST(test_quorum_larger_than_sources)
{
    write_main("[Agent]\nMinAgreeingSources=5\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_CONSISTENCY,
                 "@:2: [Agent] MinAgreeingSources=5 but only 4 sources are configured", NULL);
    write_main("[Source a]\nHost=a.example.com\nOperator=A\n"
               "[Source b]\nHost=b.example.com\nOperator=B\n");
    expect_error(GNOMON_CONFIG_ERROR_CONSISTENCY,
                 "@: [Agent] MinAgreeingSources=3 (the default) but only 2 sources are configured",
                 NULL);
}
END_TEST

START_TEST(test_missing_operator)
{
    write_main(FOUR_SOURCES "[Source e]\nHost=e.example.com\nPort=4460\n");
    expect_error(GNOMON_CONFIG_ERROR_MISSING, "@:13: [Source e] has no Operator:", "MinOperators",
                 NULL);
    write_main(FOUR_SOURCES "[Source e]\nHost=e.example.com\nOperator=   \n");
    expect_error(GNOMON_CONFIG_ERROR_VALUE, "@:15: [Source e] Operator: empty", NULL);
}
END_TEST

START_TEST(test_missing_host)
{
    write_main(FOUR_SOURCES "[Source e]\nOperator=E\n");
    expect_error(GNOMON_CONFIG_ERROR_MISSING, "@:13: [Source e] has no Host", NULL);
    write_main(FOUR_SOURCES "[Source e]\nHost=\nOperator=E\n");
    expect_error(GNOMON_CONFIG_ERROR_VALUE, "@:14: [Source e] Host: empty", NULL);
}
END_TEST

START_TEST(test_invalid_host)
{
    static const char *const hosts[] = {"time server.example", "a_b.example",   "-a.example",
                                        "a..example",          "a.example.",    "tïme.example",
                                        "a.example/x",         "a.example:4460"};
    for (gsize i = 0; i < G_N_ELEMENTS(hosts); i++) {
        g_autofree char *text =
            g_strdup_printf(FOUR_SOURCES "[Source e]\nHost=%s\nOperator=E\n", hosts[i]);
        write_main(text);
        g_autofree char *expected =
            g_strdup_printf("@:14: [Source e] Host: \"%s\" is not a host name", hosts[i]);
        expect_error(GNOMON_CONFIG_ERROR_VALUE, expected, NULL);
    }
}
END_TEST

START_TEST(test_port_out_of_range)
{
    static const char *const ports[] = {"0", "65536", "-1", "99999999999999999999"};
    for (gsize i = 0; i < G_N_ELEMENTS(ports); i++) {
        g_autofree char *text = g_strdup_printf(
            FOUR_SOURCES "[Source e]\nHost=e.example.com\nPort=%s\nOperator=E\n", ports[i]);
        write_main(text);
        expect_error(GNOMON_CONFIG_ERROR_VALUE, "@:15: [Source e] Port: ", "is too", NULL);
    }
    write_main(FOUR_SOURCES "[Source e]\nHost=e.example.com\nPort=65536\nOperator=E\n");
    expect_error(GNOMON_CONFIG_ERROR_VALUE,
                 "@:15: [Source e] Port: 65536 is too large: the most is 65535", NULL);
    write_main(FOUR_SOURCES "[Source e]\nHost=e.example.com\nPort=65535\nOperator=E\n");
    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_uint_eq(source_at(config, 4)->port, 65535);
}
END_TEST

START_TEST(test_poll_min_above_max)
{
    write_main("[Agent]\nPollMaxSeconds=64\nPollMinSeconds=128\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_CONSISTENCY,
                 "@:3: [Agent] PollMinSeconds=128 is more than PollMaxSeconds=64", NULL);
    write_main("[Agent]\nPollMinSeconds=4096\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_CONSISTENCY,
                 "@:2: [Agent] PollMinSeconds=4096 is more than PollMaxSeconds=2048 (the default)",
                 NULL);
}
END_TEST

START_TEST(test_min_operators_above_min_agreeing)
{
    write_main("[Agent]\nMinAgreeingSources=2\nUntrustedClockMinAgreeingSources=3\n"
               "MinOperators=3\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_CONSISTENCY,
                 "@:4: [Agent] MinOperators=3 is more than MinAgreeingSources=2", NULL);
}
END_TEST

START_TEST(test_min_operators_above_distinct_operators)
{
    write_main("[Agent]\nMinOperators=2\n"
               "[Source a]\nHost=a.example.com\nOperator=Same\n"
               "[Source b]\nHost=b.example.com\nOperator=same\n"
               "[Source c]\nHost=c.example.com\nOperator=SAME\n");
    expect_error(GNOMON_CONFIG_ERROR_CONSISTENCY,
                 "@:2: [Agent] MinOperators=2 but the sources name only 1 distinct operator", NULL);
}
END_TEST

START_TEST(test_untrusted_quorum_below_quorum)
{
    write_main("[Agent]\nUntrustedClockMinAgreeingSources=2\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_CONSISTENCY,
                 "@:2: [Agent] UntrustedClockMinAgreeingSources=2 is less than "
                 "MinAgreeingSources=3 (the default)",
                 NULL);
}
END_TEST

START_TEST(test_untrusted_quorum_above_sources_warns)
{
    write_main("[Source a]\nHost=a.example.com\nOperator=A\n"
               "[Source b]\nHost=b.example.com\nOperator=B\n"
               "[Source c]\nHost=c.example.com\nOperator=C\n");
    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_uint_eq(config->warnings->len, 1);
    g_autofree char *expected = g_strdup_printf(
        "%s: [Agent] UntrustedClockMinAgreeingSources=4 (the default) but only 3 sources",
        main_path);
    ck_assert_msg(g_str_has_prefix(config->warnings->pdata[0], expected), "%s",
                  (char *)config->warnings->pdata[0]);
}
END_TEST

START_TEST(test_world_writable_warns)
{
    write_main(FOUR_SOURCES);
    ck_assert_int_eq(g_chmod(main_path, 0666), 0);
    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_uint_eq(config->warnings->len, 1);
    g_autofree char *expected =
        g_strdup_printf("%s is writable by others: anyone could redirect time sources", main_path);
    ck_assert_str_eq(config->warnings->pdata[0], expected);
}
END_TEST

START_TEST(test_group_writable_warns)
{
    write_main(FOUR_SOURCES);
    g_autofree char *drop_in = write_file("gnomon.conf.d/a.conf", "[Agent]\n");
    ck_assert_int_eq(g_chmod(drop_in, 0664), 0);
    g_autofree char *drop_in_dir = g_path_get_dirname(drop_in);
    ck_assert_int_eq(g_chmod(drop_in_dir, 0777), 0);
    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_uint_eq(config->warnings->len, 2);
    g_autofree char *dir_warning =
        g_strdup_printf("%s is writable by others: anyone could add time sources", drop_in_dir);
    ck_assert_str_eq(config->warnings->pdata[0], dir_warning);
    g_autofree char *file_warning = g_strdup_printf("%s is writable by its group", drop_in);
    ck_assert_msg(g_str_has_prefix(config->warnings->pdata[1], file_warning), "%s",
                  (char *)config->warnings->pdata[1]);
}
END_TEST

START_TEST(test_comments_and_blank_lines)
{
    write_main("# gnomon configuration\r\n"
               "\r\n"
               "   ; an indented comment in the other style\n"
               "[Agent]  \n"
               "\t# MinAgreeingSources=9 is commented out\n"
               "  MinAgreeingSources = 2  \r\n"
               "\n"
               "[Source a]\n"
               "Host = a.example.com\n"
               ";Operator=Wrong\n"
               "Operator = A  \n"
               "\n\n"
               "[Source b]\n"
               "Host=b.example.com\n"
               "Operator=B\n"
               "# trailing comment without a newline");
    g_autoptr(GnomonConfig) config = load_ok();
    ck_assert_uint_eq(config->min_agreeing_sources, 2);
    ck_assert_uint_eq(config->sources->len, 2);
    ck_assert_str_eq(source_at(config, 0)->host, "a.example.com");
    ck_assert_str_eq(source_at(config, 0)->operator_name, "A");
    ck_assert_str_eq(source_at(config, 1)->operator_name, "B");
}
END_TEST

START_TEST(test_relative_paths_rejected)
{
    write_main("[Agent]\nTrustedCertificates=certs/ca.pem\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE,
                 "@:2: [Agent] TrustedCertificates: \"certs/ca.pem\" is not an absolute path",
                 NULL);
    write_main(FOUR_SOURCES "[Source e]\nHost=e.example.com\nOperator=E\nTrustedCertificates=ca\n");
    expect_error(GNOMON_CONFIG_ERROR_VALUE, "@:16: [Source e] TrustedCertificates: \"ca\" is not",
                 NULL);
    write_main("[Agent]\nStateDirectory=var/lib/gnomon\n" FOUR_SOURCES);
    expect_error(GNOMON_CONFIG_ERROR_VALUE, "@:2: [Agent] StateDirectory:", NULL);
}
END_TEST

START_TEST(test_drop_in_directory_unreadable)
{
    write_main(FOUR_SOURCES);
    /* A file where the directory should be: reported, not skipped. */
    g_autofree char *not_dir = write_file("gnomon.conf.d", "");
    g_autofree char *expected = g_strdup_printf("cannot read %s: Not a directory", not_dir);
    expect_error(GNOMON_CONFIG_ERROR_READ, expected, NULL);
}
END_TEST

/* Text already read goes through the same checks: the drop-ins' rules, and messages naming
 * each text by the name given. The caller's text is left as it was. */
START_TEST(test_parse_texts)
{
    static const char main_text[] = "; tuned below\n[Agent]\nMinAgreeingSources=2\n"
                                    "[Source a]\nHost=a.example.com\nOperator=A\n"
                                    "[Source b]\nHost=b.example.com\nOperator=B\n";
    static const char drop_in[] = "[Agent]\nMinAgreeingSources=3\n"
                                  "[Source c]\nHost=c.example.com\nOperator=C\n"
                                  "not part of the text";
    const struct gnomon_config_text texts[] = {
        {"main.conf", main_text, strlen(main_text)},
        {"10-more.conf", drop_in, strlen(drop_in) - strlen("not part of the text")},
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(GnomonConfig) config =
        gnomon_config_parse(texts, G_N_ELEMENTS(texts), DEFAULT_STATE_DIRECTORY, &error);
    ck_assert_msg(config != NULL, "unexpected error: %s", error ? error->message : "");
    ck_assert_uint_eq(config->min_agreeing_sources, 3);
    ck_assert_uint_eq(config->sources->len, 3);
    ck_assert_str_eq(source_at(config, 2)->host, "c.example.com");
    ck_assert_str_eq(config->state_directory, DEFAULT_STATE_DIRECTORY);
    /* Only the warning about the files' content (UntrustedClockMinAgreeingSources=4), none
     * about permissions: nothing was read from disk. */
    ck_assert_uint_eq(config->warnings->len, 1);
    ck_assert(g_str_has_prefix(config->warnings->pdata[0], "main.conf: [Agent] Untrusted"));
    ck_assert_int_eq(main_text[0], ';');

    const struct gnomon_config_text again[] = {texts[0], {"20-again.conf", drop_in, 34}};
    g_autoptr(GnomonConfig) refused =
        gnomon_config_parse(again, G_N_ELEMENTS(again), DEFAULT_STATE_DIRECTORY, &error);
    ck_assert_ptr_null(refused);
    ck_assert_ptr_nonnull(error);
    ck_assert_int_eq(error->code, GNOMON_CONFIG_ERROR_SYNTAX);
    ck_assert_msg(g_str_has_prefix(error->message, "20-again.conf:3: "), "%s", error->message);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *suite = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_every_key);
    tcase_add_test(tc, test_empty_values_mean_defaults);
    tcase_add_test(tc, test_drop_ins_in_name_order);
    tcase_add_test(tc, test_drop_in_error_names_drop_in);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_syntax_error);
    tcase_add_test(tc, test_syntax_key_before_group);
    tcase_add_test(tc, test_syntax_bad_group_header);
    tcase_add_test(tc, test_not_utf8);
    tcase_add_test(tc, test_unknown_key);
    tcase_add_test(tc, test_unknown_agent_key_and_locale_key);
    tcase_add_test(tc, test_unknown_group);
    tcase_add_test(tc, test_bad_number);
    tcase_add_test(tc, test_inf_where_allowed);
    tcase_add_test(tc, test_inf_where_not_allowed);
    tcase_add_test(tc, test_bad_seconds);
    tcase_add_test(tc, test_largest_finite_seconds);
    tcase_add_test(tc, test_duplicate_group);
    tcase_add_test(tc, test_duplicate_key);
    tcase_add_test(tc, test_duplicate_source_across_files);
    tcase_add_test(tc, test_same_host_and_port);
    tcase_add_test(tc, test_same_host_other_port);
    tcase_add_test(tc, test_no_sources);
    tcase_add_test(tc, test_quorum_larger_than_sources);
    tcase_add_test(tc, test_missing_operator);
    tcase_add_test(tc, test_missing_host);
    tcase_add_test(tc, test_invalid_host);
    tcase_add_test(tc, test_port_out_of_range);
    tcase_add_test(tc, test_poll_min_above_max);
    tcase_add_test(tc, test_min_operators_above_min_agreeing);
    tcase_add_test(tc, test_min_operators_above_distinct_operators);
    tcase_add_test(tc, test_untrusted_quorum_below_quorum);
    tcase_add_test(tc, test_untrusted_quorum_above_sources_warns);
    tcase_add_test(tc, test_world_writable_warns);
    tcase_add_test(tc, test_group_writable_warns);
    tcase_add_test(tc, test_comments_and_blank_lines);
    tcase_add_test(tc, test_relative_paths_rejected);
    tcase_add_test(tc, test_drop_in_directory_unreadable);
    tcase_add_test(tc, test_parse_texts);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(config_suite)
