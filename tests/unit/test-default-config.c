/* Tests data/gnomon.conf, the configuration gnomon installs as /etc/gnomon/gnomon.conf,
 * with the agent's own loader (agent/daemon/config.c): it loads without errors or warnings
 * (other than about the permissions of the source tree's copy), names at least five public
 * NTS servers of five different operators on the NTS-KE port, and every commented [Agent]
 * setting in it is the loader's default, so the comments tell the truth. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "check-main.h"
#include "config.h"

#define DEFAULT_CONFIG          GNOMON_SOURCE_ROOT "/data/gnomon.conf"
#define DEFAULT_STATE_DIRECTORY "/var/lib/gnomon"
#define MIN_SOURCES             5
#define MIN_OPERATORS           5

static struct gnomon_config *load(const char *path)
{
    g_autoptr(GError) error = NULL;
    struct gnomon_config *config = gnomon_config_load(path, DEFAULT_STATE_DIRECTORY, &error);
    ck_assert_msg(config != NULL, "%s does not load: %s", path, error ? error->message : "");
    return config;
}

/* The source tree's copy may be group-writable or owned by whoever checked it out; the
 * installed file is root's, 0644. Any other warning is a mistake in the file. */
static gboolean about_permissions(const char *warning)
{
    return strstr(warning, " is writable by ") != NULL ||
           strstr(warning, " is owned by uid ") != NULL;
}

START_TEST(test_loads_without_warnings)
{
    g_autoptr(GnomonConfig) config = load(DEFAULT_CONFIG);
    for (guint i = 0; i < config->warnings->len; i++) {
        const char *warning = config->warnings->pdata[i];
        ck_assert_msg(about_permissions(warning), "warning: %s", warning);
    }
}
END_TEST

START_TEST(test_sources_and_operators)
{
    g_autoptr(GnomonConfig) config = load(DEFAULT_CONFIG);
    ck_assert_msg(config->sources->len >= MIN_SOURCES, "only %u sources", config->sources->len);
    g_autoptr(GHashTable) operators = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) hosts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < config->sources->len; i++) {
        const struct gnomon_source_config *source = config->sources->pdata[i];
        /* Public NTS servers' certificates carry DNS names only (nts-notes.md). */
        ck_assert_msg(!g_hostname_is_ip_address(source->host), "[Source %s] Host=%s is an address",
                      source->name, source->host);
        ck_assert_msg(strchr(source->host, '.') != NULL, "[Source %s] Host=%s is not a FQDN",
                      source->name, source->host);
        ck_assert_uint_eq(source->port, GNOMON_CONFIG_DEFAULT_NTS_KE_PORT);
        ck_assert_ptr_null(source->trusted_certificates);
        ck_assert_msg(g_hash_table_add(hosts, g_ascii_strdown(source->host, -1)), "host %s twice",
                      source->host);
        g_hash_table_add(operators, g_utf8_casefold(source->operator_name, -1));
    }
    ck_assert_msg(g_hash_table_size(operators) >= MIN_OPERATORS, "only %u operators",
                  g_hash_table_size(operators));
    /* One source per operator: no operator counts twice towards any quorum. */
    ck_assert_uint_eq(g_hash_table_size(operators), config->sources->len);
    /* The quorum for a clock too wrong for certificate checks can be met. */
    ck_assert_uint_le(config->untrusted_clock_min_agreeing_sources, config->sources->len);
    ck_assert_ptr_null(config->trusted_certificates);
    ck_assert_str_eq(config->state_directory, DEFAULT_STATE_DIRECTORY);
}
END_TEST

/* The file with every "#Key=value" line of [Agent] uncommented loads to the same settings
 * as the file itself: the commented values are the defaults. */
START_TEST(test_commented_agent_keys_are_the_defaults)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    ck_assert_msg(g_file_get_contents(DEFAULT_CONFIG, &text, NULL, &error), "%s",
                  error ? error->message : "");
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GString) uncommented = g_string_new(NULL);
    gboolean in_agent = FALSE;
    guint keys = 0;
    for (guint i = 0; lines[i] != NULL; i++) {
        const char *line = lines[i];
        if (line[0] == '[') {
            in_agent = strcmp(line, "[Agent]") == 0;
        } else if (in_agent && line[0] == '#' && g_ascii_isupper(line[1]) &&
                   strchr(line, '=') != NULL && strchr(line, ' ') == NULL) {
            line++;
            keys++;
        }
        g_string_append_printf(uncommented, "%s\n", line);
    }
    ck_assert_msg(keys >= 10, "only %u commented [Agent] keys", keys);

    g_autofree char *directory = g_dir_make_tmp("gnomon-test-default-config-XXXXXX", NULL);
    ck_assert_ptr_nonnull(directory);
    g_autofree char *path = g_build_filename(directory, "gnomon.conf", NULL);
    ck_assert(g_file_set_contents(path, uncommented->str, -1, NULL));
    ck_assert_int_eq(g_chmod(path, 0644), 0);
    g_autoptr(GnomonConfig) defaults = load(DEFAULT_CONFIG);
    g_autoptr(GnomonConfig) explicit = load(path);
    ck_assert_int_eq(g_remove(path), 0);
    ck_assert_int_eq(g_rmdir(directory), 0);

    ck_assert_uint_eq(explicit->min_agreeing_sources, defaults->min_agreeing_sources);
    ck_assert_uint_eq(explicit->min_operators, defaults->min_operators);
    ck_assert_uint_eq(explicit->untrusted_clock_min_agreeing_sources,
                      defaults->untrusted_clock_min_agreeing_sources);
    ck_assert_int_eq(explicit->step_threshold_ns, defaults->step_threshold_ns);
    ck_assert_int_eq(explicit->startup_max_step_ns, defaults->startup_max_step_ns);
    ck_assert_int_eq(explicit->max_step_ns, defaults->max_step_ns);
    ck_assert_int_eq(explicit->poll_min_ns, defaults->poll_min_ns);
    ck_assert_int_eq(explicit->poll_max_ns, defaults->poll_max_ns);
    ck_assert_int_eq(explicit->start_jitter_ns, defaults->start_jitter_ns);
    ck_assert_ptr_null(explicit->trusted_certificates);
    ck_assert_str_eq(explicit->state_directory, defaults->state_directory);
    ck_assert_uint_eq(explicit->warnings->len, 0);
}
END_TEST

static Suite *default_config_suite(void)
{
    Suite *suite = suite_create("default-config");
    TCase *tc = tcase_create("default-config");
    tcase_add_test(tc, test_loads_without_warnings);
    tcase_add_test(tc, test_sources_and_operators);
    tcase_add_test(tc, test_commented_agent_keys_are_the_defaults);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(default_config_suite)
