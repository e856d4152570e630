/* libFuzzer target: the agent's configuration loader (agent/daemon/config.c) on text, through
 * gnomon_config_parse(), which gnomon_config_load() calls after reading each file. The input
 * is the main file and its drop-ins, separated by lines "%%" (a line no configuration file
 * may hold, so nothing is lost by splitting there), so the rules across files (overrides,
 * sources defined twice) are reached too. A loaded configuration must satisfy every
 * consistency rule; a refused one must come with one line of message. */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz-target.h"

#define MAX_TEXTS 8
#define SEPARATOR "\n%%\n"

static void check_config(const struct gnomon_config *config)
{
    guint n_sources = config->sources->len;
    if (n_sources == 0 || config->min_agreeing_sources == 0 ||
        config->min_agreeing_sources > n_sources ||
        config->min_operators > config->min_agreeing_sources ||
        config->untrusted_clock_min_agreeing_sources < config->min_agreeing_sources)
        abort();
    if (config->step_threshold_ns < 0 || config->startup_max_step_ns < 0 ||
        config->max_step_ns < 0 || config->start_jitter_ns < 0 || config->poll_min_ns <= 0 ||
        config->poll_min_ns > config->poll_max_ns || config->poll_max_ns == G_MAXINT64)
        abort();
    if (config->state_directory == NULL || !g_path_is_absolute(config->state_directory))
        abort();
    if (config->trusted_certificates != NULL && !g_path_is_absolute(config->trusted_certificates))
        abort();
    GHashTable *names = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTable *operators = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < n_sources; i++) {
        const struct gnomon_source_config *source = config->sources->pdata[i];
        if (source->name == NULL || source->host == NULL || *source->host == '\0' ||
            source->operator_name == NULL || *source->operator_name == '\0' || source->port == 0 ||
            !g_utf8_validate(source->name, -1, NULL))
            abort();
        if (!g_hash_table_add(names, source->name))
            abort(); /* a source defined twice */
        g_hash_table_add(operators, g_utf8_casefold(source->operator_name, -1));
    }
    if (config->min_operators == 0 || config->min_operators > g_hash_table_size(operators))
        abort();
    g_hash_table_unref(names);
    g_hash_table_unref(operators);
    for (guint i = 0; i < config->warnings->len; i++) {
        if (strchr(config->warnings->pdata[i], '\n') != NULL)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[MAX_TEXTS] = {
        "/etc/gnomon/gnomon.conf",
        "/etc/gnomon/gnomon.conf.d/10-a.conf",
        "/etc/gnomon/gnomon.conf.d/20-b.conf",
        "/etc/gnomon/gnomon.conf.d/30-c.conf",
        "/etc/gnomon/gnomon.conf.d/40-d.conf",
        "/etc/gnomon/gnomon.conf.d/50-e.conf",
        "/etc/gnomon/gnomon.conf.d/60-f.conf",
        "/etc/gnomon/gnomon.conf.d/70-g.conf",
    };
    struct gnomon_config_text texts[MAX_TEXTS];
    size_t n = 0;
    const char *p = (const char *)data;
    size_t left = size;
    for (;;) {
        const char *sep = n + 1 < MAX_TEXTS ? g_strstr_len(p, (gssize)left, SEPARATOR) : NULL;
        /* g_strstr_len() stops at a NUL byte; a NUL is the scanner's to refuse. */
        if (sep != NULL && memchr(p, '\0', (size_t)(sep - p)) != NULL)
            sep = NULL;
        size_t len = sep != NULL ? (size_t)(sep - p) : left;
        texts[n] = (struct gnomon_config_text){.name = names[n], .data = p, .len = len};
        n++;
        if (sep == NULL)
            break;
        p = sep + strlen(SEPARATOR);
        left -= len + strlen(SEPARATOR);
    }

    GError *error = NULL;
    struct gnomon_config *config = gnomon_config_parse(texts, n, "/var/lib/gnomon", &error);
    if (config != NULL) {
        if (error != NULL)
            abort();
        check_config(config);
        gnomon_config_free(config);
    } else {
        if (error == NULL || error->domain != GNOMON_CONFIG_ERROR ||
            strchr(error->message, '\n') != NULL)
            abort();
        g_error_free(error);
    }
    return 0;
}
