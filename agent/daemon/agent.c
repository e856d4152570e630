#include "agent.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "build-config.h"
#include "clock-events.h"
#include "discipline.h"
#include "local-clock.h"
#include "nanoseconds.h"
#include "net-error.h"
#include "poll-schedule.h"
#include "select.h"
#include "source-store.h"
#include "source.h"
#include "state-store.h"
#include "tls-trust.h"

G_DEFINE_QUARK(gnomon - clock - control - error - quark, gnomon_clock_control_error)

/* Journal message IDs of the agent's decisions (journalctl MESSAGE_ID=...). */
#define MESSAGE_ID_DECISION "a1d3f3a6c0b84c5e9f1e0c6b2d7f4e10"
#define MESSAGE_ID_REFUSED  "7c2e5b9d4a1f4e3b8d6c0a9f1e2b3c4d"

/* Bounds of one round: a key exchange, NTP requests 2 s apart, and a round deadline. */
#define ROUND_KE_TIMEOUT_MS  8000
#define ROUND_NTP_TIMEOUT_MS 2000
#define ROUND_NTP_ATTEMPTS   2
#define ROUND_DEADLINE_MS    15000
/* clock-policy.md: samples from one server at least 2 s apart. */
#define MIN_SPACING_MS       2000
/* FloorLagSeconds: the floor stays a day behind the last accepted change. */
#define FLOOR_LAG_NS         (INT64_C(86400) * NS_PER_SEC)

struct agent_source {
    struct agent *agent;
    struct source *source;
    guint start_timer; /* jittered first measurement */
    gboolean in_round;
    guint8 reach;
    const char *verdict; /* selected/candidate/falseticker of the last consensus */
    gboolean relaxed;    /* key exchanges skip the certificate's validity period */
    /* Politeness (clock-policy.md): consecutive failures back off; RATE slows down. */
    struct poll_schedule schedule;
};

struct agent {
    struct gnomon_config *config;
    struct agent_options options;
    struct clock_control clock;
    struct agent_events events;
    gpointer events_data;

    StateStore *store;
    struct local_clock *local;
    GHashTable *trusts; /* CA path ("" = system) -> struct tls_trust* */
    GPtrArray *sources; /* struct agent_source* */
    struct discipline_limits limits;
    struct discipline discipline;

    gboolean online;
    gboolean started;
    gboolean decided_once;
    gboolean round_active;
    gboolean first_round;
    gboolean request_in_flight;
    guint round_deadline;
    guint next_round;
    gint64 last_round_start_boot_ns;

    struct agent_status status;
    gboolean pending_refused; /* State step-refused */
    gboolean consensus;
    gboolean synced_this_boot; /* the untrusted-clock rule ends with the first sync */
    struct clock_events *clock_events;
    /* A large offset while synchronized: measured once more, afresh, before acting. */
    gboolean remeasured_offset;
};

static void schedule_round(struct agent *a, gint64 delay_ms);
static void start_round(struct agent *a);

static void clear_samples(struct agent *a)
{
    for (guint i = 0; i < a->sources->len; i++)
        source_clear_samples(((struct agent_source *)g_ptr_array_index(a->sources, i))->source);
}

/* ---- status ------------------------------------------------------------------------ */

const char *agent_state_str(enum agent_state state)
{
    switch (state) {
    case AGENT_STATE_STARTING:
        return "starting";
    case AGENT_STATE_KEY_EXCHANGE:
        return "key-exchange";
    case AGENT_STATE_MEASURING:
        return "measuring";
    case AGENT_STATE_SYNCHRONIZED:
        return "synchronized";
    case AGENT_STATE_NO_CONSENSUS:
        return "no-consensus";
    case AGENT_STATE_STEP_REFUSED:
        return "step-refused";
    case AGENT_STATE_OFFLINE:
        return "offline";
    }
    return "starting";
}

static void clear_source_status(struct agent_status *st)
{
    for (guint i = 0; i < st->n_sources; i++) {
        g_free(st->sources[i].name);
        g_free(st->sources[i].host);
        g_free(st->sources[i].address);
        g_free(st->sources[i].operator_name);
        g_free(st->sources[i].last_error);
    }
    g_free(st->sources);
    st->sources = NULL;
    st->n_sources = 0;
}

static enum agent_state current_state(const struct agent *a)
{
    if (!a->online)
        return AGENT_STATE_OFFLINE;
    if (a->pending_refused)
        return AGENT_STATE_STEP_REFUSED;
    /* "synchronized" only once the helper accepted a correction on this consensus; until
     * then the agent is still measuring and asking. */
    if (a->decided_once && !a->consensus)
        return AGENT_STATE_NO_CONSENSUS;
    if (a->decided_once && a->status.synchronized)
        return AGENT_STATE_SYNCHRONIZED;
    if (!a->started)
        return AGENT_STATE_STARTING;
    for (guint i = 0; i < a->sources->len; i++) {
        struct agent_source *as = g_ptr_array_index(a->sources, i);
        if (source_get_status(as->source) == SOURCE_STATUS_KEY_EXCHANGE)
            return AGENT_STATE_KEY_EXCHANGE;
    }
    return AGENT_STATE_MEASURING;
}

/* Rebuilds the status snapshot and tells the service, which emits what changed. */
static void publish(struct agent *a)
{
    struct agent_status *st = &a->status;
    clear_source_status(st);
    st->state = current_state(a);
    st->online = a->online;
    st->poll_interval_usec = (guint64)(a->discipline.poll_ns / NS_PER_US);
    st->frequency_ppm = a->discipline.frequency_ppm;
    st->min_agreeing = a->config->min_agreeing_sources;
    st->pending_step_ns = a->discipline.pending ? a->discipline.pending_offset_ns : 0;
    st->n_sources = a->sources->len;
    st->sources = g_new0(struct agent_source_status, st->n_sources);
    gint64 now = local_clock_boottime_ns();
    for (guint i = 0; i < a->sources->len; i++) {
        struct agent_source *as = g_ptr_array_index(a->sources, i);
        struct source *s = as->source;
        struct agent_source_status *out = &st->sources[i];
        out->name = g_strdup(source_name(s));
        out->host = g_strdup(source_host(s));
        out->address = g_strdup(source_ntp_address(s));
        out->port = source_port(s);
        out->operator_name = g_strdup(source_operator(s));
        out->last_error = g_strdup(source_last_error(s));
        out->reach = as->reach;
        out->cookies = (guint)source_get_credentials(s)->jar.count;
        out->key_exchanges = source_key_exchanges(s);
        out->requests = source_requests_sent(s);
        enum source_status status = source_get_status(s);
        if (source_busy(s) || status == SOURCE_STATUS_PENDING)
            out->status = "pending";
        else if (status != SOURCE_STATUS_OK)
            out->status = source_status_str(status);
        else
            out->status = as->verdict != NULL ? as->verdict : "candidate";
        struct sample sample;
        if (sample_filter_best(source_filter(s), now, &sample)) {
            out->offset_ns = sample.offset_ns;
            out->delay_ns = (guint64)sample.delay_ns;
            out->dispersion_ns = (guint64)(sample.dispersion_ns + sample.root_dispersion_ns);
            out->stratum = sample.stratum;
        }
    }
    if (a->events.status_changed != NULL)
        a->events.status_changed(a->events_data);
}

const struct agent_status *agent_get_status(struct agent *a)
{
    return &a->status;
}

/* ---- persistence ------------------------------------------------------------------- */

static void save_agent_state(struct agent *a)
{
    if (a->store == NULL)
        return;
    struct state_agent st = {
        .frequency_ppm = a->discipline.frequency_ppm,
        .time_floor_unix = a->discipline.time_floor_unix_ns / NS_PER_SEC,
        .last_sync_unix = (gint64)(a->status.last_sync_usec / G_USEC_PER_SEC),
        .boot_window_closed = !a->discipline.boot_window_open,
        .synced_this_boot = a->synced_this_boot,
    };
    g_autoptr(GError) error = NULL;
    if (!state_store_save_agent(a->store, &st, &error))
        g_warning("%s", error->message);
}

static gboolean on_credentials_changed(struct source *source, gpointer user_data)
{
    struct agent_source *as = user_data;
    StateStore *store = as->agent->store;
    if (store == NULL)
        return TRUE;
    /* Keys from a key exchange that skipped the certificate's validity period live in
     * memory only: a restart must not take them for checked ones. */
    if (source_keys_time_unverified(source)) {
        g_autoptr(GError) error = NULL;
        return state_store_forget_source(store, source_name(source), &error) ||
               g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_NOT_FOUND);
    }
    return source_store_save(store, source);
}

/* ---- rounds ------------------------------------------------------------------------ */

static void note_success(struct agent_source *as)
{
    poll_schedule_success(&as->schedule, as->agent->discipline.poll_ns, local_clock_boottime_ns());
}

static void note_failure(struct agent_source *as, const GError *error)
{
    gint64 now = local_clock_boottime_ns();
    if (g_error_matches(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_NTP_KISS) &&
        strstr(error->message, "RATE") != NULL) {
        gint64 interval = poll_schedule_rate(&as->schedule, as->agent->discipline.poll_ns, now);
        g_message("%s: asked to slow down (RATE): polling it every %" G_GINT64_FORMAT " s",
                  source_name(as->source), interval / NS_PER_SEC);
        return;
    }
    poll_schedule_failure(&as->schedule, now);
}

static gboolean round_finished(const struct agent *a)
{
    for (guint i = 0; i < a->sources->len; i++) {
        const struct agent_source *as = g_ptr_array_index(a->sources, i);
        if (as->start_timer != 0 || source_busy(as->source))
            return FALSE;
    }
    return TRUE;
}

static void decide(struct agent *a);

static void maybe_finish_round(struct agent *a)
{
    if (a->round_active && round_finished(a))
        decide(a);
    else
        publish(a);
}

static void on_sample(struct source *source, const struct sample *sample, gpointer user_data)
{
    struct agent_source *as = user_data;
    as->reach = (guint8)((as->reach << 1) | 1);
    as->in_round = FALSE;
    note_success(as);
    if (as->agent->options.verbose)
        g_message("%s: offset %+.6f s, delay %.6f s", source_name(source),
                  (double)sample->offset_ns / NS_PER_SEC, (double)sample->delay_ns / NS_PER_SEC);
    maybe_finish_round(as->agent);
}

static void on_failed(struct source *source, const GError *error, gpointer user_data)
{
    struct agent_source *as = user_data;
    struct agent *a = as->agent;
    g_message("%s: %s", source_name(source), error->message);
    /* clock-policy.md, boot with a bad clock: a certificate wrong only on its validity
     * period, before any sync this boot, may be our clock's fault. Try again without the
     * time check; the consensus then has to meet the untrusted-clock rule. */
    if (g_error_matches(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_CERTIFICATE_TIME) &&
        !a->synced_this_boot && !as->relaxed) {
        g_message("%s: retrying without the certificate's validity period (untrusted-clock "
                  "rule: %u sources from as many operators will be needed)",
                  source_name(source), a->config->untrusted_clock_min_agreeing_sources);
        as->relaxed = TRUE;
        source_set_ignore_certificate_time(source, TRUE);
        source_measure(source);
        return;
    }
    as->reach = (guint8)(as->reach << 1);
    as->in_round = FALSE;
    note_failure(as, error);
    maybe_finish_round(a);
}

static gboolean on_jitter_elapsed(gpointer user_data)
{
    struct agent_source *as = user_data;
    as->start_timer = 0;
    source_measure(as->source);
    return G_SOURCE_REMOVE;
}

static gboolean on_round_deadline(gpointer user_data)
{
    struct agent *a = user_data;
    a->round_deadline = 0;
    for (guint i = 0; i < a->sources->len; i++) {
        struct agent_source *as = g_ptr_array_index(a->sources, i);
        if (as->start_timer != 0) {
            g_source_remove(as->start_timer);
            as->start_timer = 0;
        }
        if (source_busy(as->source)) {
            source_cancel(as->source);
            as->reach = (guint8)(as->reach << 1);
        }
    }
    decide(a);
    return G_SOURCE_REMOVE;
}

static gboolean on_next_round(gpointer user_data)
{
    struct agent *a = user_data;
    a->next_round = 0;
    start_round(a);
    return G_SOURCE_REMOVE;
}

static void schedule_round(struct agent *a, gint64 delay_ms)
{
    if (a->next_round != 0)
        g_source_remove(a->next_round);
    a->next_round = 0;
    if (!a->online)
        return;
    /* Never two samples from one server closer than MIN_SPACING_MS (politeness). */
    gint64 since_ms = (local_clock_boottime_ns() - a->last_round_start_boot_ns) / NS_PER_MS;
    if (a->last_round_start_boot_ns != 0 && delay_ms < MIN_SPACING_MS - since_ms)
        delay_ms = MIN_SPACING_MS - since_ms;
    if (delay_ms < 0)
        delay_ms = 0;
    a->next_round = g_timeout_add((guint)MIN(delay_ms, (gint64)G_MAXUINT), on_next_round, a);
}

static guint jitter_ms(const struct agent *a)
{
    guint64 max_ms = (guint64)(a->config->start_jitter_ns / NS_PER_MS);
    if (max_ms == 0)
        return 0;
    guint32 r = 0;
    gnutls_rnd(GNUTLS_RND_NONCE, &r, sizeof(r));
    return (guint)(r % (max_ms + 1));
}

static void start_round(struct agent *a)
{
    if (!a->online || a->round_active || a->request_in_flight)
        return;
    if (a->clock_events != NULL)
        clock_events_check_sleep(a->clock_events); /* may start this round afresh itself */
    if (a->round_active)
        return;
    a->round_active = TRUE;
    a->last_round_start_boot_ns = local_clock_boottime_ns();
    gint64 now = a->last_round_start_boot_ns;
    for (guint i = 0; i < a->sources->len; i++) {
        struct agent_source *as = g_ptr_array_index(a->sources, i);
        /* A source backing off (or slowed by RATE) sits this round out: it counts as
         * not heard from, so its reach runs out like any silent source's. */
        if (!poll_schedule_may_poll(&as->schedule, now)) {
            as->reach = (guint8)(as->reach << 1);
            continue;
        }
        as->in_round = TRUE;
        /* clock-policy.md: start jitter only for a source without stored cookies, on the
         * daemon's first round (VM fleets boot together); everything else starts at once. */
        gboolean needs_ke = source_get_credentials(as->source)->jar.count == 0;
        guint delay = a->first_round && needs_ke ? jitter_ms(a) : 0;
        if (delay > 0)
            as->start_timer = g_timeout_add(delay, on_jitter_elapsed, as);
        else
            source_measure(as->source);
    }
    a->first_round = FALSE;
    a->round_deadline = g_timeout_add(
        ROUND_DEADLINE_MS + (guint)(a->config->start_jitter_ns / NS_PER_MS), on_round_deadline, a);
    maybe_finish_round(a);
}

/* ---- decisions and requests -------------------------------------------------------- */

struct pending_request {
    struct agent *agent;
    struct discipline_decision decision;
    char *request_id;
};

/* The sources the last consensus selected, "name, name, ...", for the journal. */
static char *selected_sources(const struct agent *a)
{
    GString *names = g_string_new(NULL);
    for (guint i = 0; i < a->sources->len; i++) {
        const struct agent_source *as = g_ptr_array_index(a->sources, i);
        if (g_strcmp0(as->verdict, "selected") != 0)
            continue;
        if (names->len > 0)
            g_string_append(names, ", ");
        g_string_append(names, source_name(as->source));
    }
    return g_string_free(names, FALSE);
}

static void log_decision(struct agent *a, const struct discipline_decision *d, const char *outcome)
{
    g_autofree char *sources = selected_sources(a);
    sd_journal_send("MESSAGE=clock decision: %s, offset %+.9f s (+- %.6f s): %s",
                    discipline_rule_str(d->rule), (double)d->offset_ns / NS_PER_SEC,
                    (double)d->uncertainty_ns / NS_PER_SEC, outcome,
                    "MESSAGE_ID=" MESSAGE_ID_DECISION, "PRIORITY=%d", 6, "GNOMON_DECISION=%s",
                    discipline_rule_str(d->rule), "GNOMON_OFFSET_NS=%" G_GINT64_FORMAT,
                    d->offset_ns, "GNOMON_UNCERTAINTY_NS=%" G_GINT64_FORMAT, d->uncertainty_ns,
                    "GNOMON_AGREEING=%u", a->status.agreeing, "GNOMON_SOURCES=%s", sources, NULL);
    if (a->options.verbose)
        g_message("decision: %s, offset %+.9f s (sources: %s): %s", discipline_rule_str(d->rule),
                  (double)d->offset_ns / NS_PER_SEC, sources, outcome);
}

/* After the first sync the clock can be trusted again: key exchanges check certificates
 * fully, and keys made without that check are dropped (the next round makes new ones). */
static void resume_full_certificate_checks(struct agent *a)
{
    for (guint i = 0; i < a->sources->len; i++) {
        struct agent_source *as = g_ptr_array_index(a->sources, i);
        if (!as->relaxed)
            continue;
        as->relaxed = FALSE;
        source_set_ignore_certificate_time(as->source, FALSE);
        struct source_credentials none = {0};
        source_set_credentials(as->source, &none);
        g_message("%s: the clock is synchronized: its certificate will be checked fully again",
                  source_name(as->source));
    }
}

static void request_done(struct pending_request *req, gboolean accepted)
{
    struct agent *a = req->agent;
    gint64 now = local_clock_boottime_ns();
    a->request_in_flight = FALSE;
    if (a->clock_events != NULL)
        clock_events_request_done(a->clock_events);
    discipline_applied(&a->discipline, &req->decision, accepted, now);
    if (accepted) {
        a->status.last_sync_usec = (guint64)(g_get_real_time());
        a->status.synchronized = TRUE;
        if (!a->synced_this_boot)
            resume_full_certificate_checks(a);
        a->synced_this_boot = TRUE;
        gint64 floor = local_clock_now_ns(a->local) - FLOOR_LAG_NS;
        if (floor > a->discipline.time_floor_unix_ns)
            a->discipline.time_floor_unix_ns = floor;
        save_agent_state(a);
    }
    if (req->decision.verdict == DISCIPLINE_SLEW && accepted) {
        /* The helper's slew is applied at once (the dry-run contract, and what the kernel
         * PLL converges to): samples kept from before must not ask for it again. */
        for (guint i = 0; i < a->sources->len; i++)
            source_shift_samples(((struct agent_source *)g_ptr_array_index(a->sources, i))->source,
                                 req->decision.offset_ns);
    }
    if (req->decision.verdict == DISCIPLINE_STEP && accepted) {
        /* Samples from before the step measure a clock that no longer exists. */
        clear_samples(a);
        if (a->events.clock_stepped != NULL)
            a->events.clock_stepped(req->decision.offset_ns, a->events_data);
        schedule_round(a, MIN_SPACING_MS);
    } else {
        schedule_round(a, a->discipline.poll_ns / NS_PER_MS);
    }
    g_free(req->request_id);
    g_free(req);
    publish(a);
}

static void on_last_request(const char *request_id, const char *verdict, const GError *error,
                            gpointer user_data)
{
    struct pending_request *req = user_data;
    struct agent *a = req->agent;
    gboolean known = error == NULL && g_strcmp0(request_id, req->request_id) == 0;
    gboolean accepted = known && g_str_has_prefix(verdict, "accepted");
    log_decision(a, &req->decision,
                 known ? (accepted ? "answer lost; the helper says it was accepted"
                                   : "answer lost; the helper says it was refused")
                       : "answer lost and unknown to the helper: measuring again, not resending");
    if (!known)
        clear_samples(a); /* nobody knows whether the clock moved: start over */
    request_done(req, accepted);
}

static void on_request_answer(const GError *error, gpointer user_data)
{
    struct pending_request *req = user_data;
    struct agent *a = req->agent;
    if (error == NULL) {
        log_decision(a, &req->decision, "accepted by the helper");
        request_done(req, TRUE);
        return;
    }
    if (g_error_matches(error, GNOMON_CLOCK_CONTROL_ERROR, GNOMON_CLOCK_CONTROL_ERROR_LOST) &&
        req->decision.verdict == DISCIPLINE_STEP && a->clock.ops->last_request != NULL) {
        /* clock-policy.md: a lost reply never becomes two steps. Ask what happened. */
        a->clock.ops->last_request(a->clock.self, on_last_request, req);
        return;
    }
    g_autofree char *outcome = g_strdup_printf("not applied: %s", error->message);
    log_decision(a, &req->decision, outcome);
    request_done(req, FALSE);
}

static void on_frequency_answer(const GError *error, gpointer user_data)
{
    struct pending_request *req = user_data;
    if (error != NULL) {
        g_message("frequency %.3f ppm not applied: %s", req->decision.frequency_ppm,
                  error->message);
        req->decision.set_frequency = FALSE;
    }
    /* The slew itself is next; its answer ends the request. */
    struct agent *a = req->agent;
    a->clock.ops->slew(a->clock.self, req->decision.offset_ns,
                       (guint64)req->decision.uncertainty_ns, on_request_answer, req);
}

static void send_request(struct agent *a, const struct discipline_decision *d,
                         gint64 consensus_boot_ns)
{
    struct pending_request *req = g_new0(struct pending_request, 1);
    req->agent = a;
    req->decision = *d;
    a->request_in_flight = TRUE;
    /* The helper's step sets the clock before its answer comes back (and a simulated
     * clock changes with every request): those changes are ours. */
    if (a->clock_events != NULL)
        clock_events_expect_set(a->clock_events);
    if (d->verdict == DISCIPLINE_SLEW) {
        if (d->set_frequency)
            a->clock.ops->set_frequency(a->clock.self, d->frequency_ppm, on_frequency_answer, req);
        else
            a->clock.ops->slew(a->clock.self, d->offset_ns, (guint64)d->uncertainty_ns,
                               on_request_answer, req);
        return;
    }
    /* One decision, one request: a fresh ID the helper remembers (idempotent). */
    req->request_id = g_uuid_string_random();

    g_message("asking the clock helper to step by %+.6f s (request %s)",
              (double)d->offset_ns / NS_PER_SEC, req->request_id);
    a->clock.ops->step(a->clock.self, d->offset_ns, (guint64)d->uncertainty_ns,
                       (guint64)consensus_boot_ns, req->request_id, on_request_answer, req);
}

/* clock-policy.md: keys made without the certificates' validity check count only when
 * UntrustedClockMinAgreeingSources sources from as many operators agree, and the time they
 * agree on makes every such certificate valid. */
static gboolean untrusted_clock_rule_holds(struct agent *a, const struct select_result *r)
{
    gboolean any = FALSE;
    gint64 agreed_unix = (local_clock_now_ns(a->local) + r->offset_ns) / NS_PER_SEC;
    for (guint i = 0; i < a->sources->len; i++) {
        struct agent_source *as = g_ptr_array_index(a->sources, i);
        if (!source_keys_time_unverified(as->source) || as->verdict == NULL)
            continue;
        any = TRUE;
        gint64 not_before, not_after;
        source_certificate_validity(as->source, &not_before, &not_after);
        if (agreed_unix < not_before || agreed_unix > not_after) {
            g_message("untrusted-clock rule: the agreed time is outside the validity period of "
                      "%s's certificate: no decision",
                      source_name(as->source));
            return FALSE;
        }
    }
    guint needed = a->config->untrusted_clock_min_agreeing_sources;
    if (any && (r->agreeing < needed || r->operators < needed)) {
        g_message("untrusted-clock rule: %u sources from %u operators agree, %u of each needed "
                  "while certificates cannot be checked against the clock: no decision",
                  r->agreeing, r->operators, needed);
        return FALSE;
    }
    if (any)
        g_message("untrusted-clock rule met: %u sources from %u operators agree, and the agreed "
                  "time makes every certificate accepted without its time check valid",
                  r->agreeing, r->operators);
    return TRUE;
}

/* The selection over the sources heard from lately; gives each voter its verdict. The
 * arrays are freed by hand: scan-build does not see g_autofree (the cleanup attribute). */
static struct select_result select_sources(struct agent *a, gint64 now)
{
    guint n = a->sources->len;
    struct select_candidate *candidates = g_new0(struct select_candidate, n);
    struct agent_source **owners = g_new0(struct agent_source *, n);
    enum select_status *statuses = g_new0(enum select_status, n);
    g_autoptr(GPtrArray) folded = g_ptr_array_new_with_free_func(g_free);
    size_t m = 0;
    for (guint i = 0; i < n; i++) {
        struct agent_source *as = g_ptr_array_index(a->sources, i);
        as->verdict = NULL;
        /* RFC 5905: a source not heard from in its last eight polls does not vote, however
         * young its last sample looks. */
        if (as->reach == 0 || !source_select_candidate(as->source, now, folded, &candidates[m]))
            continue;
        owners[m++] = as;
    }
    struct select_params params = {
        .min_agreeing_sources = a->config->min_agreeing_sources,
        .min_operators = a->config->min_operators,
        .now_ns = now,
    };
    struct select_result r = select_run(candidates, m, &params, statuses);
    for (size_t j = 0; j < m; j++)
        owners[j]->verdict = select_status_str(statuses[j]);
    g_free(statuses);
    g_free(owners);
    g_free(candidates);
    return r;
}

static void decide(struct agent *a)
{
    a->round_active = FALSE;
    if (a->round_deadline != 0) {
        g_source_remove(a->round_deadline);
        a->round_deadline = 0;
    }
    gint64 now = local_clock_boottime_ns();
    struct select_result r = select_sources(a, now);

    a->consensus = r.verdict == SELECT_CONSENSUS && untrusted_clock_rule_holds(a, &r);
    a->status.agreeing = r.agreeing;
    if (a->consensus) {
        a->status.offset_ns = r.offset_ns;
        a->status.uncertainty_ns = (guint64)r.uncertainty_ns;
    } else {
        a->status.synchronized = FALSE;
    }
    gboolean first = !a->decided_once;
    a->decided_once = TRUE;

    /* A large offset out of a synchronized state (a VM paused, restored or migrated)
     * only starts a fresh burst of measurements; the running limits then decide. */
    if (a->consensus && a->status.synchronized && !a->remeasured_offset &&
        (r.offset_ns >= a->limits.step_threshold_ns ||
         r.offset_ns <= -a->limits.step_threshold_ns)) {
        g_message("unexplained offset of %+.3f s while synchronized: measuring afresh",
                  (double)r.offset_ns / NS_PER_SEC);
        a->remeasured_offset = TRUE;
        clear_samples(a);
        discipline_restart_measuring(&a->discipline);
        schedule_round(a, MIN_SPACING_MS);
        publish(a);
        return;
    }
    a->remeasured_offset = FALSE;

    struct discipline_decision d =
        discipline_decide(&a->discipline, &a->limits, a->consensus, r.offset_ns, r.uncertainty_ns,
                          local_clock_now_ns(a->local), now);
    a->pending_refused = a->discipline.pending;
    if (d.verdict == DISCIPLINE_REFUSED) {
        a->status.synchronized = FALSE;
        sd_journal_send("MESSAGE=step of %+.3f s refused: %s; waiting for an administrator "
                        "(gnomonctl approve-step)",
                        (double)d.offset_ns / NS_PER_SEC, discipline_rule_str(d.rule),
                        "MESSAGE_ID=" MESSAGE_ID_REFUSED, "PRIORITY=%d", 4,
                        "GNOMON_OFFSET_NS=%" G_GINT64_FORMAT, d.offset_ns, "GNOMON_RULE=%s",
                        discipline_rule_str(d.rule), NULL);
        g_message("step of %+.3f s refused: %s", (double)d.offset_ns / NS_PER_SEC,
                  discipline_rule_str(d.rule));
        if (a->events.step_refused != NULL)
            a->events.step_refused(d.offset_ns, discipline_rule_str(d.rule), a->events_data);
    }
    if (first && a->events.first_decision != NULL)
        a->events.first_decision(a->events_data);

    if (d.verdict == DISCIPLINE_SLEW || d.verdict == DISCIPLINE_STEP) {
        send_request(a, &d, now);
        publish(a);
        return;
    }
    if (d.verdict == DISCIPLINE_NOTHING && a->consensus && a->discipline.approval_live &&
        !a->discipline.pending)
        discipline_approval_lapsed(&a->discipline);
    schedule_round(a, a->discipline.poll_ns / NS_PER_MS);
    publish(a);
}

/* ---- life cycle -------------------------------------------------------------------- */

static void free_agent_source(gpointer data)
{
    struct agent_source *as = data;
    if (as->start_timer != 0)
        g_source_remove(as->start_timer);
    source_free(as->source);
    g_free(as);
}

/* One source of config, with its stored keys and cookies; NULL if its trust anchors fail. */
static struct agent_source *new_agent_source(struct agent *a, const struct gnomon_config *config,
                                             const struct gnomon_source_config *sc, GError **error)
{
    static const struct source_events events = {
        .sample = on_sample,
        .failed = on_failed,
        .credentials_changed = on_credentials_changed,
    };
    const char *ca =
        sc->trusted_certificates ? sc->trusted_certificates : config->trusted_certificates;
    struct tls_trust *trust = tls_trust_cache_get(a->trusts, ca, error);
    if (trust == NULL) {
        g_prefix_error(error, "source %s: ", sc->name);
        return NULL;
    }
    struct agent_source *as = g_new0(struct agent_source, 1);
    as->agent = a;
    poll_schedule_init(&as->schedule);
    struct source_settings settings = {
        .name = sc->name,
        .host = sc->host,
        .port = sc->port,
        .operator_name = sc->operator_name,
        .trust = trust,
        .clock = a->local,
        .ke_timeout_ms = ROUND_KE_TIMEOUT_MS,
        .ntp_timeout_ms = ROUND_NTP_TIMEOUT_MS,
        .ntp_attempts = ROUND_NTP_ATTEMPTS,
    };
    as->source = source_new(&settings, &events, as);
    if (a->store != NULL)
        source_store_load(a->store, as->source);
    return as;
}

static gboolean add_sources(struct agent *a, GError **error)
{
    for (guint i = 0; i < a->config->sources->len; i++) {
        struct agent_source *as =
            new_agent_source(a, a->config, g_ptr_array_index(a->config->sources, i), error);
        if (as == NULL)
            return FALSE;
        g_ptr_array_add(a->sources, as);
    }
    return TRUE;
}

static void set_limits(struct agent *a)
{
    a->limits = (struct discipline_limits){
        .step_threshold_ns = a->config->step_threshold_ns,
        .startup_max_step_ns = a->config->startup_max_step_ns,
        .max_step_ns = a->config->max_step_ns,
        .poll_min_ns = a->config->poll_min_ns,
        .poll_max_ns = a->config->poll_max_ns,
        .max_frequency_ppm = 500.0,
    };
}

/* What the last run left: frequency, floor, last sync, and whether this boot's window is
 * already closed. Anything unusable is said and ignored. */
static void restore_state(struct agent *a)
{
    struct state_agent saved = {0};
    g_autoptr(GError) load_error = NULL;
    gboolean have_saved = state_store_load_agent(a->store, &saved, &load_error);
    if (!have_saved && !g_error_matches(load_error, STATE_STORE_ERROR, STATE_STORE_ERROR_NOT_FOUND))
        g_warning("ignoring agent state: %s", load_error->message);
    /* The floor: the later of the build date and a day before the last accepted change. */
    gint64 floor = (gint64)GNOMON_BUILD_DATE_UNIX * NS_PER_SEC;
    if (have_saved && saved.time_floor_unix * NS_PER_SEC > floor)
        floor = saved.time_floor_unix * NS_PER_SEC;
    set_limits(a);
    /* The boot window stays closed across restarts of the agent within one boot. */
    discipline_init(&a->discipline, &a->limits, !(have_saved && saved.boot_window_closed),
                    have_saved ? saved.frequency_ppm : 0.0, floor);
    if (have_saved)
        a->status.last_sync_usec = (guint64)saved.last_sync_unix * G_USEC_PER_SEC;
    /* The untrusted-clock rule ends with the boot's first sync, not with this process. */
    a->synced_this_boot = have_saved && saved.synced_this_boot;
    state_agent_clear(&saved);
}

/* With --virtual-clock, certificates are judged by the simulated time too, as they would be
 * by a machine whose clock reads that (clock-policy.md: boot with a bad clock). GnuTLS
 * takes one time function per process; the agent is the only user of TLS in it. */
static struct local_clock *tls_clock;

static time_t tls_time(time_t *t)
{
    time_t now = (time_t)(local_clock_now_ns(tls_clock) / NS_PER_SEC);
    if (t != NULL)
        *t = now;
    return now;
}

struct agent *agent_new(struct gnomon_config *config, const struct agent_options *options,
                        const struct clock_control *clock, GError **error)
{
    struct agent *a = g_new0(struct agent, 1);
    a->config = config;
    a->options = *options;
    a->clock = *clock;
    a->online = TRUE;
    a->first_round = TRUE;
    a->trusts = tls_trust_cache_new();
    a->sources = g_ptr_array_new_with_free_func(free_agent_source);
    a->local = local_clock_new(options->virtual_clock, error);
    if (a->local == NULL)
        goto fail;
    if (local_clock_is_virtual(a->local)) {
        tls_clock = a->local;
        gnutls_global_set_time_function(tls_time);
    }
    const char *dir = options->state_directory ? options->state_directory : config->state_directory;
    a->store = state_store_open(dir, NULL, error);
    if (a->store == NULL)
        goto fail;

    restore_state(a);

    if (!add_sources(a, error))
        goto fail;
    publish(a);
    return a;

fail:
    agent_free(a);
    return NULL;
}

void agent_free(struct agent *a)
{
    if (a == NULL)
        return;
    if (a->round_deadline != 0)
        g_source_remove(a->round_deadline);
    if (a->next_round != 0)
        g_source_remove(a->next_round);
    clock_events_free(a->clock_events);
    if (tls_clock == a->local) {
        gnutls_global_set_time_function(NULL);
        tls_clock = NULL;
    }
    g_ptr_array_free(a->sources, TRUE);
    g_hash_table_destroy(a->trusts);
    clear_source_status(&a->status);
    state_store_close(a->store);
    local_clock_free(a->local);
    gnomon_config_free(a->config);
    g_free(a);
}

void agent_set_events(struct agent *a, const struct agent_events *events, gpointer user_data)
{
    a->events = *events;
    a->events_data = user_data;
}

static void on_floor_answer(const GError *error, gpointer user_data)
{
    struct agent *a = user_data;
    if (error != NULL)
        g_warning("the clock reads before the time floor, and StepToFloor failed: %s",
                  error->message);
    a->request_in_flight = FALSE;
    if (a->clock_events != NULL)
        clock_events_request_done(a->clock_events);
    start_round(a);
}

void agent_start(struct agent *a)
{
    a->started = TRUE;
    /* clock-policy.md, boot with a bad clock: before any TLS, bring the clock up to the
     * floor, or no certificate can be checked. */
    if (local_clock_now_ns(a->local) < a->discipline.time_floor_unix_ns) {
        g_message("the clock reads before the time floor: asking the helper to step to it");
        a->request_in_flight = TRUE;
        if (a->clock_events != NULL)
            clock_events_expect_set(a->clock_events);
        a->clock.ops->step_to_floor(a->clock.self, on_floor_answer, a);
        publish(a);
        return;
    }
    start_round(a);
}

static void on_clock_event(enum clock_event event, gint64 slept_ns, gpointer user_data)
{
    struct agent *a = user_data;
    if (event == CLOCK_EVENT_SET)
        g_message("someone else set the clock: measuring afresh");
    else
        g_message("resumed after sleeping %.0f s: measuring afresh", (double)slept_ns / NS_PER_SEC);
    /* clock-policy.md: a fresh round at once; the boot window stays as it is. */
    clear_samples(a);
    discipline_restart_measuring(&a->discipline);
    a->round_active = FALSE;
    if (a->round_deadline != 0) {
        g_source_remove(a->round_deadline);
        a->round_deadline = 0;
    }
    for (guint i = 0; i < a->sources->len; i++)
        source_cancel(((struct agent_source *)g_ptr_array_index(a->sources, i))->source);
    schedule_round(a, 0);
}

gboolean agent_watch_clock(struct agent *a, GDBusConnection *bus, GError **error)
{
    a->clock_events = clock_events_new(bus, on_clock_event, a, error);
    if (a->clock_events != NULL && a->options.virtual_clock != NULL)
        clock_events_watch_file(a->clock_events, a->options.virtual_clock);
    return a->clock_events != NULL;
}

void agent_sync_now(struct agent *a)
{
    if (!a->round_active)
        schedule_round(a, 0);
}

void agent_set_online(struct agent *a, gboolean online)
{
    if (a->online == online)
        return;
    a->online = online;
    if (!online) {
        /* No packets while offline: stop everything under way. */
        if (a->next_round != 0) {
            g_source_remove(a->next_round);
            a->next_round = 0;
        }
        if (a->round_deadline != 0) {
            g_source_remove(a->round_deadline);
            a->round_deadline = 0;
        }
        for (guint i = 0; i < a->sources->len; i++) {
            struct agent_source *as = g_ptr_array_index(a->sources, i);
            if (as->start_timer != 0) {
                g_source_remove(as->start_timer);
                as->start_timer = 0;
            }
            source_cancel(as->source);
        }
        a->round_active = FALSE;
    } else {
        /* Back online: failures seen while the network was down say nothing now. */
        for (guint i = 0; i < a->sources->len; i++) {
            struct agent_source *as = g_ptr_array_index(a->sources, i);
            poll_schedule_forget_failures(&as->schedule);
        }
        schedule_round(a, 0);
    }
    publish(a);
}

/* The running source that sc describes unchanged (name, host, port, operator), or -1. */
static gint find_unchanged_source(GPtrArray *sources, const struct gnomon_source_config *sc)
{
    for (guint i = 0; i < sources->len; i++) {
        const struct agent_source *as = g_ptr_array_index(sources, i);
        if (g_strcmp0(source_name(as->source), sc->name) == 0 &&
            g_ascii_strcasecmp(source_host(as->source), sc->host) == 0 &&
            source_port(as->source) == sc->port &&
            g_strcmp0(source_operator(as->source), sc->operator_name) == 0)
            return (gint)i;
    }
    return -1;
}

gboolean agent_reload(struct agent *a, const char *config_path, GError **error)
{
    struct gnomon_config *fresh =
        gnomon_config_load(config_path, a->config->state_directory, error);
    if (fresh == NULL)
        return FALSE;
    for (guint i = 0; i < fresh->warnings->len; i++)
        g_warning("%s", (const char *)fresh->warnings->pdata[i]);
    /* The new list is built aside: until it is whole, the running one is untouched. Sources
     * that stay keep their keys, cookies, samples and reach; new ones start from the store. */
    GPtrArray *next = g_ptr_array_new_with_free_func(free_agent_source);
    for (guint i = 0; i < fresh->sources->len; i++) {
        const struct gnomon_source_config *sc = g_ptr_array_index(fresh->sources, i);
        struct agent_source *as = NULL;
        if (find_unchanged_source(a->sources, sc) < 0) {
            as = new_agent_source(a, fresh, sc, error);
            if (as == NULL) {
                g_ptr_array_free(next, TRUE);
                gnomon_config_free(fresh);
                return FALSE;
            }
        }
        g_ptr_array_add(next, as); /* NULL: taken from the running list below */
    }
    guint added = 0, kept = 0;
    for (guint i = 0; i < fresh->sources->len; i++) {
        if (next->pdata[i] != NULL) {
            added++;
            continue;
        }
        gint j = find_unchanged_source(a->sources, g_ptr_array_index(fresh->sources, i));
        next->pdata[i] = g_ptr_array_steal_index(a->sources, (guint)j);
        kept++;
    }
    g_message("configuration reloaded: %u sources kept, %u added, %u removed", kept, added,
              a->sources->len);
    g_ptr_array_free(a->sources, TRUE); /* the removed ones */
    a->sources = next;
    gnomon_config_free(a->config);
    a->config = fresh;
    set_limits(a);
    a->round_active = FALSE;
    if (a->round_deadline != 0) {
        g_source_remove(a->round_deadline);
        a->round_deadline = 0;
    }
    schedule_round(a, 0);
    publish(a);
    return TRUE;
}

void agent_step_approved(struct agent *a, gint64 offset_ns, guint64 tolerance_ns)
{
    g_message("an administrator approved a step of %+.3f s (+- %.3f s): measuring afresh",
              (double)offset_ns / NS_PER_SEC, (double)tolerance_ns / NS_PER_SEC);
    discipline_approve(&a->discipline, offset_ns,
                       tolerance_ns > (guint64)G_MAXINT64 ? G_MAXINT64 : (gint64)tolerance_ns);
    schedule_round(a, 0);
}
