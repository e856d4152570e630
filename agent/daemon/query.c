#include "query.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "local-clock.h"
#include "nanoseconds.h"
#include "select.h"
#include "source-store.h"
#include "source.h"
#include "state-store.h"
#include "tls-trust.h"

/* Bounds of one query: a key exchange, then NTP requests 2 s apart (clock-policy.md:
 * politeness), and a deadline over all of it. */
#define QUERY_KE_TIMEOUT_MS  5000
#define QUERY_NTP_TIMEOUT_MS 2000
#define QUERY_NTP_ATTEMPTS   2
#define QUERY_DEADLINE_MS    10000

struct query {
    const struct gnomon_config *config;
    const struct query_options *options;
    GMainLoop *loop;
    struct local_clock *clock;
    GPtrArray *sources; /* struct source* */
    GHashTable *trusts; /* CA path ("" = system) -> struct tls_trust* */
    StateStore *store;  /* NULL: cookies live in memory only */
    guint deadline;
    gint64 started_us;
};

static gboolean all_finished(const struct query *q)
{
    for (guint i = 0; i < q->sources->len; i++) {
        if (source_busy(g_ptr_array_index(q->sources, i)))
            return FALSE;
    }
    return TRUE;
}

static void on_sample(struct source *source, const struct sample *sample, gpointer user_data)
{
    struct query *q = user_data;
    if (q->options->verbose)
        g_printerr("%s: offset %+.6f s, delay %.6f s\n", source_name(source),
                   (double)sample->offset_ns / NS_PER_SEC, (double)sample->delay_ns / NS_PER_SEC);
    if (all_finished(q))
        g_main_loop_quit(q->loop);
}

static void on_failed(struct source *source, const GError *error, gpointer user_data)
{
    struct query *q = user_data;
    if (q->options->verbose)
        g_printerr("%s: %s\n", source_name(source), error->message);
    if (all_finished(q))
        g_main_loop_quit(q->loop);
}

static gboolean on_credentials_changed(struct source *source, gpointer user_data)
{
    struct query *q = user_data;
    return q->store == NULL || source_store_save(q->store, source);
}

static void open_store(struct query *q)
{
    g_autoptr(GError) error = NULL;
    q->store = state_store_open(q->options->state_directory, NULL, &error);
    if (q->store != NULL)
        return;
    /* interfaces.md: a directory locked by the running agent means an in-memory jar, so no
     * cookie is ever sent twice; any other problem is said and treated the same way. */
    if (g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_LOCKED))
        g_printerr("gnomon-agent: %s: using an in-memory cookie jar\n", error->message);
    else
        g_printerr("gnomon-agent: cannot use the state directory (%s): using an in-memory "
                   "cookie jar\n",
                   error->message);
}

static gboolean on_deadline(gpointer user_data)
{
    struct query *q = user_data;
    q->deadline = 0;
    g_main_loop_quit(q->loop);
    return G_SOURCE_REMOVE;
}

/* What the query reports of one source. */
struct verdict {
    const char *status;
    gboolean measured;
    struct sample sample;
};

static void print_json(const struct query *q, const struct select_result *r,
                       const struct verdict *verdicts, gint64 elapsed_ms)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "consensus");
    json_builder_add_boolean_value(b, r->verdict == SELECT_CONSENSUS);
    json_builder_set_member_name(b, "offset_ns");
    json_builder_add_int_value(b, r->verdict == SELECT_CONSENSUS ? r->offset_ns : 0);
    json_builder_set_member_name(b, "uncertainty_ns");
    json_builder_add_int_value(b, r->verdict == SELECT_CONSENSUS ? r->uncertainty_ns : 0);
    json_builder_set_member_name(b, "agreeing");
    json_builder_add_int_value(b, r->agreeing);
    json_builder_set_member_name(b, "required");
    json_builder_add_int_value(b, q->config->min_agreeing_sources);
    json_builder_set_member_name(b, "verdict");
    json_builder_add_string_value(b, select_verdict_str(r->verdict));
    json_builder_set_member_name(b, "elapsed_ms");
    json_builder_add_int_value(b, elapsed_ms);
    json_builder_set_member_name(b, "sources");
    json_builder_begin_array(b);
    for (guint i = 0; i < q->sources->len; i++) {
        struct source *s = g_ptr_array_index(q->sources, i);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, source_name(s));
        json_builder_set_member_name(b, "host");
        json_builder_add_string_value(b, source_host(s));
        json_builder_set_member_name(b, "port");
        json_builder_add_int_value(b, source_port(s));
        json_builder_set_member_name(b, "operator");
        json_builder_add_string_value(b, source_operator(s));
        json_builder_set_member_name(b, "address");
        json_builder_add_string_value(b, source_ntp_address(s));
        json_builder_set_member_name(b, "status");
        json_builder_add_string_value(b, verdicts[i].status);
        json_builder_set_member_name(b, "offset_ns");
        if (verdicts[i].measured)
            json_builder_add_int_value(b, verdicts[i].sample.offset_ns);
        else
            json_builder_add_null_value(b);
        json_builder_set_member_name(b, "delay_ns");
        if (verdicts[i].measured)
            json_builder_add_int_value(b, verdicts[i].sample.delay_ns);
        else
            json_builder_add_null_value(b);
        json_builder_set_member_name(b, "key_exchanges");
        json_builder_add_int_value(b, source_key_exchanges(s));
        json_builder_set_member_name(b, "requests");
        json_builder_add_int_value(b, source_requests_sent(s));
        json_builder_set_member_name(b, "error");
        if (source_last_error(s)[0] != '\0')
            json_builder_add_string_value(b, source_last_error(s));
        else
            json_builder_add_null_value(b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    g_autoptr(JsonGenerator) generator = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    json_generator_set_root(generator, root);
    g_autofree char *text = json_generator_to_data(generator, NULL);
    printf("%s\n", text);
}

static void print_text(const struct query *q, const struct select_result *r,
                       const struct verdict *verdicts, gint64 elapsed_ms)
{
    if (r->verdict == SELECT_CONSENSUS)
        printf(_("Consensus: true time - local clock = %+.9f s (uncertainty %.6f s)\n"),
               (double)r->offset_ns / NS_PER_SEC, (double)r->uncertainty_ns / NS_PER_SEC);
    else
        printf(_("No consensus: %s\n"), select_verdict_str(r->verdict));
    printf(_("Agreeing sources: %u of %u measured (%u required, %u operators required), %u ms\n\n"),
           r->agreeing, r->voters, q->config->min_agreeing_sources, q->config->min_operators,
           (unsigned)MIN(elapsed_ms, (gint64)G_MAXUINT));
    printf("%-16s %-24s %-14s %-15s %14s %10s  %s\n", _("NAME"), _("NTP ADDRESS"), _("OPERATOR"),
           _("STATUS"), _("OFFSET"), _("DELAY"), _("ERROR"));
    for (guint i = 0; i < q->sources->len; i++) {
        struct source *s = g_ptr_array_index(q->sources, i);
        char offset[32] = "-", delay[32] = "-";
        if (verdicts[i].measured) {
            g_snprintf(offset, sizeof(offset), "%+.6f s",
                       (double)verdicts[i].sample.offset_ns / NS_PER_SEC);
            g_snprintf(delay, sizeof(delay), "%.3f ms",
                       (double)verdicts[i].sample.delay_ns / NS_PER_MS);
        }
        printf("%-16s %-24s %-14s %-15s %14s %10s  %s\n", source_name(s),
               source_ntp_address(s)[0] ? source_ntp_address(s) : source_host(s),
               source_operator(s), verdicts[i].status, offset, delay, source_last_error(s));
    }
}

static enum query_exit decide(struct query *q)
{
    guint n = q->sources->len;
    /* Freed by hand: scan-build does not see g_autofree (the cleanup attribute). */
    struct verdict *verdicts = g_new0(struct verdict, n);
    struct select_candidate *candidates = g_new0(struct select_candidate, n);
    guint *candidate_source = g_new0(guint, n);
    g_autofree enum select_status *statuses = g_new0(enum select_status, n);
    g_autoptr(GPtrArray) folded = g_ptr_array_new_with_free_func(g_free);
    gint64 now = local_clock_boottime_ns();
    size_t m = 0;
    for (guint i = 0; i < n; i++) {
        struct source *s = g_ptr_array_index(q->sources, i);
        enum source_status status = source_get_status(s);
        verdicts[i].status = source_busy(s) ? "pending" : source_status_str(status);
        if (status != SOURCE_STATUS_OK)
            continue;
        verdicts[i].measured = source_select_candidate(s, now, folded, &candidates[m]);
        if (!verdicts[i].measured)
            continue;
        verdicts[i].sample = candidates[m].sample;
        candidate_source[m] = i;
        m++;
    }
    struct select_params params = {
        .min_agreeing_sources = q->config->min_agreeing_sources,
        .min_operators = q->config->min_operators,
        .now_ns = now,
    };
    struct select_result r = select_run(candidates, m, &params, statuses);
    for (size_t j = 0; j < m; j++)
        verdicts[candidate_source[j]].status = select_status_str(statuses[j]);

    gint64 elapsed_ms = (g_get_monotonic_time() - q->started_us) / 1000;
    if (q->options->json)
        print_json(q, &r, verdicts, elapsed_ms);
    else
        print_text(q, &r, verdicts, elapsed_ms);
    g_free(candidate_source);
    g_free(candidates);
    g_free(verdicts);
    /* A report that did not arrive (a full disk, a closed pipe) is no answer: stdout's error
     * indicator keeps any failed write, the flush does the last one. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        g_printerr("gnomon-agent: %s\n", _("cannot write the report to standard output"));
        return QUERY_EXIT_FAILURE;
    }
    return r.verdict == SELECT_CONSENSUS ? QUERY_EXIT_CONSENSUS : QUERY_EXIT_NO_CONSENSUS;
}

enum query_exit query_run(const struct gnomon_config *config, const struct query_options *options)
{
    struct query q = {.config = config, .options = options};
    enum query_exit result = QUERY_EXIT_FAILURE;
    g_autoptr(GError) error = NULL;
    q.trusts = tls_trust_cache_new();
    q.sources = g_ptr_array_new_with_free_func((GDestroyNotify)source_free);
    q.loop = g_main_loop_new(NULL, FALSE);
    q.clock = local_clock_new(options->virtual_clock, &error);
    if (q.clock == NULL) {
        g_printerr("gnomon-agent: %s\n", error->message);
        goto out;
    }
    static const struct source_events events = {
        .sample = on_sample,
        .failed = on_failed,
        .credentials_changed = on_credentials_changed,
    };
    if (options->state_directory != NULL)
        open_store(&q);
    for (guint i = 0; i < config->sources->len; i++) {
        const struct gnomon_source_config *sc = g_ptr_array_index(config->sources, i);
        const char *ca =
            sc->trusted_certificates ? sc->trusted_certificates : config->trusted_certificates;
        struct tls_trust *trust = tls_trust_cache_get(q.trusts, ca, &error);
        if (trust == NULL) {
            g_printerr("gnomon-agent: source %s: %s\n", sc->name, error->message);
            result = QUERY_EXIT_BAD_CONFIG;
            goto out;
        }
        struct source_settings settings = {
            .name = sc->name,
            .host = sc->host,
            .port = sc->port,
            .operator_name = sc->operator_name,
            .trust = trust,
            .clock = q.clock,
            .ke_timeout_ms = QUERY_KE_TIMEOUT_MS,
            .ntp_timeout_ms = QUERY_NTP_TIMEOUT_MS,
            .ntp_attempts = QUERY_NTP_ATTEMPTS,
        };
        struct source *source = source_new(&settings, &events, &q);
        g_ptr_array_add(q.sources, source);
        if (q.store != NULL)
            source_store_load(q.store, source);
    }

    q.started_us = g_get_monotonic_time();
    /* All at once and without start jitter (clock-policy.md: --query starts at once). */
    for (guint i = 0; i < q.sources->len; i++)
        source_measure(g_ptr_array_index(q.sources, i));
    q.deadline = g_timeout_add(QUERY_DEADLINE_MS, on_deadline, &q);
    if (!all_finished(&q))
        g_main_loop_run(q.loop);
    if (q.deadline != 0)
        g_source_remove(q.deadline);
    result = decide(&q);

out:
    g_ptr_array_free(q.sources, TRUE);
    state_store_close(q.store);
    g_hash_table_destroy(q.trusts);
    local_clock_free(q.clock);
    g_main_loop_unref(q.loop);
    return result;
}
