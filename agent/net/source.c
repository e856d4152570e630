#include "source.h"

#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>

#include "nanoseconds.h"
#include "net-error.h"
#include "nts-ke-client.h"
#include "ntp-exchange.h"
#include "ntp-packet.h"
#include "ntp-time.h"
#include "poll-schedule.h"

#define NTP_DEFAULT_PORT   123
/* What we assume of our own clock reading: a microsecond (RFC 5905 rho). */
#define LOCAL_PRECISION_NS NS_PER_US
#define PHI_PPM            15

struct source {
    char *name;
    char *host;
    guint16 port;
    char *operator_name;
    struct tls_trust *trust;
    struct local_clock *clock;
    gboolean ignore_certificate_time;
    guint ke_timeout_ms;
    guint ntp_timeout_ms;
    unsigned ntp_attempts;
    struct source_events events;
    gpointer user_data;

    struct source_credentials creds;
    int ke_family;
    GSocketAddress *ntp_address; /* resolved from creds.ntp_server */
    GList *ntp_candidates;       /* the other addresses it resolved to, to try in turn */
    char ntp_address_text[80];

    enum source_status status;
    char *last_error;
    GString *round_errors; /* distinct failures of this measurement, "; "-separated */
    gboolean busy;
    unsigned attempts;      /* NTP requests in this measurement */
    gboolean ke_this_round; /* a key exchange already ran in this measurement */
    struct nts_ke_client *ke;
    struct ntp_exchange *exchange;
    GCancellable *resolving;
    struct sample_filter filter;
    guint key_exchanges;
    guint requests_sent;
    gint64 cert_not_before;
    gint64 cert_not_after;
    gboolean keys_time_unverified;
};

static void start_key_exchange(struct source *s);
static void start_request(struct source *s);
static void use_ntp_address(struct source *s, GInetAddress *address);

static void set_error(struct source *s, const char *message)
{
    g_free(s->last_error);
    s->last_error = g_strdup(message);
}

/* Remembers a failure of this measurement (each address or attempt may fail differently). */
static void note_error(struct source *s, const char *message)
{
    if (strstr(s->round_errors->str, message) != NULL)
        return;
    if (s->round_errors->len > 0)
        g_string_append(s->round_errors, "; ");
    g_string_append(s->round_errors, message);
}

static void end_with_error(struct source *s, enum source_status status, const GError *error)
{
    s->busy = FALSE;
    s->status = status;
    note_error(s, error->message);
    set_error(s, s->round_errors->str);
    if (s->events.failed != NULL) {
        g_autoptr(GError) all = g_error_new_literal(error->domain, error->code, s->last_error);
        s->events.failed(s, all, s->user_data);
    }
}

static gboolean credentials_changed(struct source *s)
{
    return s->events.credentials_changed == NULL || s->events.credentials_changed(s, s->user_data);
}

static void forget_credentials(struct source *s)
{
    explicit_bzero(&s->creds, sizeof(s->creds));
    g_list_free_full(g_steal_pointer(&s->ntp_candidates), g_object_unref);
    g_clear_object(&s->ntp_address);
    s->ntp_address_text[0] = '\0';
}

static struct sample make_sample(const struct ntp_measurement *m)
{
    struct sample sample;
    memset(&sample, 0, sizeof(sample));
    sample.offset_ns = m->offset.offset_ns;
    /* A negative delay means a broken server clock or a reordering: count it as none and
     * let the minimum dispersion of the root distance cover the path. */
    sample.delay_ns = m->offset.delay_ns > 0 ? m->offset.delay_ns : 0;
    /* RFC 5905 §8: epsilon = rho_server + rho_local + PHI * (T4 - T1). */
    int precision = m->reply.header.precision;
    gint64 server_precision_ns = precision <= -31 ? 1
                                 : precision >= 0 ? NS_PER_SEC
                                                  : (gint64)(NS_PER_SEC >> -precision);
    gint64 elapsed = m->t4_ns - m->t1_ns;
    sample.dispersion_ns = server_precision_ns + LOCAL_PRECISION_NS +
                           (elapsed > 0 ? elapsed / NS_PER_SEC * PHI_PPM * NS_PER_US +
                                              elapsed % NS_PER_SEC * PHI_PPM / 1000000
                                        : 0);
    sample.root_delay_ns = ntp_short_to_ns(m->reply.header.root_delay);
    sample.root_dispersion_ns = ntp_short_to_ns(m->reply.header.root_dispersion);
    sample.taken_ns = m->received_boottime_ns;
    sample.stratum = m->reply.header.stratum;
    sample.leap = m->reply.header.leap;
    return sample;
}

static void on_exchange_done(const struct ntp_measurement *m, const GError *error,
                             gpointer user_data)
{
    struct source *s = user_data;
    ntp_exchange_free(s->exchange);
    s->exchange = NULL;

    if (error == NULL) {
        for (size_t i = 0; i < m->reply.n_cookies; i++)
            cookie_jar_add(&s->creds.jar, &m->reply.cookies[i]);
        credentials_changed(s);
        struct sample sample = make_sample(m);
        sample_filter_add(&s->filter, &sample);
        s->busy = FALSE;
        s->status = SOURCE_STATUS_OK;
        set_error(s, "");
        if (s->events.sample != NULL)
            s->events.sample(s, &sample, s->user_data);
        return;
    }

    note_error(s, error->message);
    /* A NAK: the server no longer knows our cookies (its keys rotated). It proves nothing
     * by itself, so old keys stay until a new key exchange has succeeded. */
    if (g_error_matches(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_NTP_NAK) && !s->ke_this_round) {
        start_key_exchange(s);
        return;
    }
    gboolean unreachable = g_error_matches(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_TIMEOUT);
    /* The name resolved to several addresses (e.g. ::1 and 127.0.0.1): the next one may
     * answer where this one did not. It does not count as a retry of the same address. */
    if (unreachable && s->ntp_candidates != NULL) {
        GInetAddress *next = s->ntp_candidates->data;
        s->ntp_candidates = g_list_delete_link(s->ntp_candidates, s->ntp_candidates);
        use_ntp_address(s, next);
        g_object_unref(next);
        start_request(s);
        return;
    }
    gboolean retry =
        unreachable || g_error_matches(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_NTP_AUTH);
    if (retry && s->attempts < s->ntp_attempts) {
        start_request(s);
        return;
    }
    enum source_status status = SOURCE_STATUS_UNREACHABLE;
    if (g_error_matches(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_NTP_AUTH) ||
        g_error_matches(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_NTP_NAK))
        status = SOURCE_STATUS_NTS_AUTH_FAILED;
    end_with_error(s, status, error);
}

static void start_request(struct source *s)
{
    struct nts_cookie cookie;
    if (!cookie_jar_take(&s->creds.jar, &cookie)) {
        if (!s->ke_this_round) {
            start_key_exchange(s);
            return;
        }
        g_autoptr(GError) error = g_error_new(GNOMON_NET_ERROR, GNOMON_NET_ERROR_NO_COOKIES,
                                              "%s: no NTS cookies left", s->name);
        end_with_error(s, SOURCE_STATUS_NTS_AUTH_FAILED, error);
        return;
    }
    /* The cookie leaves the jar, and whoever persists the jar learns so, before it is
     * sent: a crash after this point can lose it, never send it again. */
    if (!credentials_changed(s)) {
        explicit_bzero(&cookie, sizeof(cookie));
        g_autoptr(GError) error =
            g_error_new(GNOMON_NET_ERROR, GNOMON_NET_ERROR_NO_COOKIES,
                        "%s: cannot record the cookie store, so no cookie is sent", s->name);
        end_with_error(s, SOURCE_STATUS_NTS_AUTH_FAILED, error);
        return;
    }
    s->attempts++;
    s->requests_sent++;
    s->status = SOURCE_STATUS_MEASURING;
    struct ntp_exchange_options options = {
        .server = s->ntp_address,
        .c2s_key = s->creds.c2s_key,
        .s2c_key = s->creds.s2c_key,
        .cookie = &cookie,
        .placeholders = cookie_jar_placeholders(&s->creds.jar),
        .timeout_ms = s->ntp_timeout_ms,
        .clock = s->clock,
    };
    s->exchange = ntp_exchange_start(&options, on_exchange_done, s);
    explicit_bzero(&cookie, sizeof(cookie));
}

static void use_ntp_address(struct source *s, GInetAddress *address)
{
    g_clear_object(&s->ntp_address);
    s->ntp_address = g_inet_socket_address_new(address, s->creds.ntp_port);
    g_autofree char *ip = g_inet_address_to_string(address);
    g_snprintf(s->ntp_address_text, sizeof(s->ntp_address_text),
               g_inet_address_get_family(address) == G_SOCKET_FAMILY_IPV6 ? "[%s]:%u" : "%s:%u", ip,
               s->creds.ntp_port);
}

static void on_ntp_resolved(GObject *resolver, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    GList *addresses = g_resolver_lookup_by_name_finish(G_RESOLVER(resolver), result, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_list_free_full(addresses, g_object_unref);
        return; /* the source is gone */
    }
    struct source *s = user_data;
    g_clear_object(&s->resolving);
    if (addresses == NULL) {
        g_autoptr(GError) failure =
            g_error_new(GNOMON_NET_ERROR, GNOMON_NET_ERROR_RESOLVE,
                        "cannot resolve NTP server %s: %s", s->creds.ntp_server, error->message);
        end_with_error(s, SOURCE_STATUS_UNREACHABLE, failure);
        return;
    }
    /* nts-notes.md: prefer the address family the key exchange used. */
    GInetAddress *chosen = addresses->data;
    for (GList *l = addresses; l != NULL; l = l->next) {
        GSocketFamily family = g_inet_address_get_family(l->data);
        if ((s->ke_family == AF_INET6 && family == G_SOCKET_FAMILY_IPV6) ||
            (s->ke_family == AF_INET && family == G_SOCKET_FAMILY_IPV4)) {
            chosen = l->data;
            break;
        }
    }
    use_ntp_address(s, chosen);
    addresses = g_list_remove(addresses, chosen);
    g_object_unref(chosen);
    g_list_free_full(s->ntp_candidates, g_object_unref);
    s->ntp_candidates = addresses;
    start_request(s);
}

/* Resolves the NTP server the key exchange named (or the KE host), then measures. */
static void start_ntp(struct source *s)
{
    if (s->ntp_address != NULL) {
        start_request(s);
        return;
    }
    GInetAddress *literal = g_inet_address_new_from_string(s->creds.ntp_server);
    if (literal != NULL) {
        use_ntp_address(s, literal);
        g_object_unref(literal);
        start_request(s);
        return;
    }
    s->resolving = g_cancellable_new();
    g_resolver_lookup_by_name_async(g_resolver_get_default(), s->creds.ntp_server, s->resolving,
                                    on_ntp_resolved, s);
}

static void on_key_exchange_done(const struct nts_ke_result *result, const GError *error,
                                 gpointer user_data)
{
    struct source *s = user_data;
    nts_ke_client_free(s->ke);
    s->ke = NULL;
    s->key_exchanges++;
    if (error != NULL) {
        end_with_error(s, SOURCE_STATUS_NTS_KE_FAILED, error);
        return;
    }
    forget_credentials(s);
    memcpy(s->creds.c2s_key, result->c2s_key, AES_SIV_KEY_LEN);
    memcpy(s->creds.s2c_key, result->s2c_key, AES_SIV_KEY_LEN);
    cookie_jar_init(&s->creds.jar);
    for (size_t i = 0; i < result->response.n_cookies; i++)
        cookie_jar_add(&s->creds.jar, &result->response.cookies[i]);
    /* RFC 8915 §4.1.7-8: use the negotiated server and port, else the KE host and 123. */
    g_strlcpy(s->creds.ntp_server, result->response.has_server ? result->response.server : s->host,
              sizeof(s->creds.ntp_server));
    s->creds.ntp_port = result->response.has_port ? result->response.port : NTP_DEFAULT_PORT;
    s->creds.key_exchange_time_unix = g_get_real_time() / G_USEC_PER_SEC;
    s->creds.valid = TRUE;
    s->ke_family = result->family;
    s->cert_not_before = result->certificate_not_before_unix;
    s->cert_not_after = result->certificate_not_after_unix;
    s->keys_time_unverified = s->ignore_certificate_time;
    credentials_changed(s);
    /* A KE address literal names the NTP server too: reuse it rather than resolve. */
    if (!result->response.has_server)
        s->ke_family = result->family;
    start_ntp(s);
}

static void start_key_exchange(struct source *s)
{
    s->ke_this_round = TRUE;
    s->status = SOURCE_STATUS_KEY_EXCHANGE;
    struct nts_ke_options options = {
        .host = s->host,
        .port = s->port,
        .trust = s->trust,
        .ignore_certificate_time = s->ignore_certificate_time,
        .timeout_ms = s->ke_timeout_ms,
    };
    s->ke = nts_ke_client_start(&options, on_key_exchange_done, s);
}

struct source *source_new(const struct source_settings *settings,
                          const struct source_events *events, gpointer user_data)
{
    struct source *s = g_new0(struct source, 1);
    s->name = g_strdup(settings->name);
    s->host = g_strdup(settings->host);
    s->port = settings->port;
    s->operator_name = g_strdup(settings->operator_name);
    s->trust = tls_trust_ref(settings->trust);
    s->clock = settings->clock;
    s->ignore_certificate_time = settings->ignore_certificate_time;
    s->ke_timeout_ms = settings->ke_timeout_ms;
    s->ntp_timeout_ms = settings->ntp_timeout_ms;
    s->ntp_attempts = settings->ntp_attempts ? settings->ntp_attempts : 1;
    s->events = *events;
    s->user_data = user_data;
    s->last_error = g_strdup("");
    s->round_errors = g_string_new(NULL);
    sample_filter_init(&s->filter);
    return s;
}

void source_free(struct source *s)
{
    if (s == NULL)
        return;
    nts_ke_client_free(s->ke);
    ntp_exchange_free(s->exchange);
    if (s->resolving != NULL) {
        g_cancellable_cancel(s->resolving);
        g_clear_object(&s->resolving);
    }
    explicit_bzero(&s->creds, sizeof(s->creds));
    g_list_free_full(s->ntp_candidates, g_object_unref);
    g_clear_object(&s->ntp_address);
    tls_trust_unref(s->trust);
    g_free(s->name);
    g_free(s->host);
    g_free(s->operator_name);
    g_free(s->last_error);
    g_string_free(s->round_errors, TRUE);
    g_free(s);
}

void source_measure(struct source *s)
{
    if (s->busy)
        return;
    s->busy = TRUE;
    s->attempts = 0;
    g_string_truncate(s->round_errors, 0);
    s->ke_this_round = FALSE;
    if (poll_schedule_needs_key_exchange(s->creds.valid, s->creds.jar.count,
                                         s->creds.key_exchange_time_unix,
                                         g_get_real_time() / G_USEC_PER_SEC))
        start_key_exchange(s);
    else
        start_ntp(s);
}

gboolean source_busy(const struct source *s)
{
    return s->busy;
}

void source_cancel(struct source *s)
{
    nts_ke_client_free(s->ke);
    s->ke = NULL;
    ntp_exchange_free(s->exchange);
    s->exchange = NULL;
    if (s->resolving != NULL) {
        g_cancellable_cancel(s->resolving);
        g_clear_object(&s->resolving);
    }
    if (s->busy) {
        s->busy = FALSE;
        s->status = SOURCE_STATUS_PENDING;
    }
}

void source_clear_samples(struct source *s)
{
    sample_filter_clear(&s->filter);
}

void source_shift_samples(struct source *s, gint64 correction_ns)
{
    sample_filter_shift(&s->filter, correction_ns);
}

void source_set_credentials(struct source *s, const struct source_credentials *creds)
{
    s->creds = *creds;
    s->keys_time_unverified = FALSE; /* stored keys were verified when they were made */
    g_list_free_full(g_steal_pointer(&s->ntp_candidates), g_object_unref);
    g_clear_object(&s->ntp_address);
    s->ntp_address_text[0] = '\0';
}

const struct source_credentials *source_get_credentials(const struct source *s)
{
    return &s->creds;
}

const char *source_name(const struct source *s)
{
    return s->name;
}

const char *source_host(const struct source *s)
{
    return s->host;
}

guint16 source_port(const struct source *s)
{
    return s->port;
}

const char *source_operator(const struct source *s)
{
    return s->operator_name;
}

enum source_status source_get_status(const struct source *s)
{
    return s->status;
}

const char *source_status_str(enum source_status status)
{
    switch (status) {
    case SOURCE_STATUS_PENDING:
        return "pending";
    case SOURCE_STATUS_KEY_EXCHANGE:
        return "key-exchange";
    case SOURCE_STATUS_MEASURING:
        return "measuring";
    case SOURCE_STATUS_OK:
        return "ok";
    case SOURCE_STATUS_UNREACHABLE:
        return "unreachable";
    case SOURCE_STATUS_NTS_KE_FAILED:
        return "nts-ke-failed";
    case SOURCE_STATUS_NTS_AUTH_FAILED:
        return "nts-auth-failed";
    }
    return "unknown";
}

const char *source_last_error(const struct source *s)
{
    return s->last_error;
}

const char *source_ntp_address(const struct source *s)
{
    return s->ntp_address_text;
}

const struct sample_filter *source_filter(const struct source *s)
{
    return &s->filter;
}

gboolean source_select_candidate(const struct source *s, gint64 now_ns, GPtrArray *strings,
                                 struct select_candidate *out)
{
    struct sample sample;
    if (!sample_filter_best(&s->filter, now_ns, &sample))
        return FALSE;
    char *folded = g_utf8_casefold(s->operator_name, -1);
    g_ptr_array_add(strings, folded);
    *out = (struct select_candidate){
        .operator_name = folded,
        .address = s->ntp_address_text,
        .sample = sample,
        .jitter_ns = sample_filter_jitter_ns(&s->filter, now_ns),
    };
    return TRUE;
}

guint source_key_exchanges(const struct source *s)
{
    return s->key_exchanges;
}

guint source_requests_sent(const struct source *s)
{
    return s->requests_sent;
}

void source_set_ignore_certificate_time(struct source *s, gboolean ignore)
{
    s->ignore_certificate_time = ignore;
}

gboolean source_keys_time_unverified(const struct source *s)
{
    return s->creds.valid && s->keys_time_unverified;
}

void source_certificate_validity(const struct source *s, gint64 *not_before, gint64 *not_after)
{
    *not_before = s->cert_not_before;
    *not_after = s->cert_not_after;
}
