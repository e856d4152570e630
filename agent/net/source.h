/* One time source: its NTS-KE keys and cookie jar, its NTP address, its sample filter,
 * and the steps of one measurement (key exchange when there are no cookies, then NTP
 * requests with retries). When to measure is the caller's (query, or the daemon's poll
 * scheduler); what a measurement means is core/'s. */
#ifndef GNOMON_NET_SOURCE_H
#define GNOMON_NET_SOURCE_H

#include <glib.h>

#include "aes-siv.h"
#include "cookie-jar.h"
#include "local-clock.h"
#include "sample-filter.h"
#include "select.h"
#include "tls-trust.h"

enum source_status {
    SOURCE_STATUS_PENDING,
    SOURCE_STATUS_KEY_EXCHANGE,
    SOURCE_STATUS_MEASURING,
    SOURCE_STATUS_OK,
    SOURCE_STATUS_UNREACHABLE,
    SOURCE_STATUS_NTS_KE_FAILED,
    SOURCE_STATUS_NTS_AUTH_FAILED,
};

struct source_settings {
    const char *name;
    const char *host;
    guint16 port;
    const char *operator_name;
    struct tls_trust *trust;
    struct local_clock *clock;
    gboolean ignore_certificate_time;
    guint ke_timeout_ms;
    guint ntp_timeout_ms;
    unsigned ntp_attempts; /* requests per measurement before giving up */
};

/* What survives a restart: keys, where to send NTP, and the unused cookies. */
struct source_credentials {
    gboolean valid;
    guint8 c2s_key[AES_SIV_KEY_LEN];
    guint8 s2c_key[AES_SIV_KEY_LEN];
    char ntp_server[256];
    guint16 ntp_port;
    gint64 key_exchange_time_unix;
    struct cookie_jar jar;
};

struct source;

struct source_events {
    void (*sample)(struct source *source, const struct sample *sample, gpointer user_data);
    void (*failed)(struct source *source, const GError *error, gpointer user_data);
    /* After every change of the credentials and before a cookie taken from them is sent:
     * whoever persists them must do it here, so a cookie is never sent twice. FALSE (could
     * not persist) stops the measurement before anything is sent. */
    gboolean (*credentials_changed)(struct source *source, gpointer user_data);
};

struct source *source_new(const struct source_settings *settings,
                          const struct source_events *events, gpointer user_data);
void source_free(struct source *source);

/* Starts one measurement (a no-op while one is under way). */
void source_measure(struct source *source);
gboolean source_busy(const struct source *source);
/* Stops a measurement under way (going offline): no callback follows. */
void source_cancel(struct source *source);
/* Forgets every sample: after a step they measure a clock that no longer exists. */
void source_clear_samples(struct source *source);
/* The clock was slewed by correction_ns: the stored samples follow it. */
void source_shift_samples(struct source *source, gint64 correction_ns);

void source_set_credentials(struct source *source, const struct source_credentials *creds);
const struct source_credentials *source_get_credentials(const struct source *source);

const char *source_name(const struct source *source);
const char *source_host(const struct source *source);
guint16 source_port(const struct source *source);
const char *source_operator(const struct source *source);
enum source_status source_get_status(const struct source *source);
const char *source_status_str(enum source_status status);
const char *source_last_error(const struct source *source); /* "" when none */
/* "ip:port" of the NTP server last used, "" before: one vote per address. */
const char *source_ntp_address(const struct source *source);
const struct sample_filter *source_filter(const struct source *source);
/* The source as a vote in core/select: its best sample, jitter, NTP address and operator
 * (folded to compare without case, as the configuration does; the folded copy goes into
 * strings, which must outlive the candidate). FALSE when it has no usable sample. */
gboolean source_select_candidate(const struct source *source, gint64 now_ns, GPtrArray *strings,
                                 struct select_candidate *out);
guint source_key_exchanges(const struct source *source);
guint source_requests_sent(const struct source *source);
/* The untrusted-clock rule (clock-policy.md): key exchanges from now on skip the
 * certificate's validity period (or check it again). */
void source_set_ignore_certificate_time(struct source *source, gboolean ignore);
/* Whether the keys in use came from a key exchange that skipped the validity period. */
gboolean source_keys_time_unverified(const struct source *source);
/* Validity period of the certificate of the last key exchange (Unix seconds). */
void source_certificate_validity(const struct source *source, gint64 *not_before,
                                 gint64 *not_after);

#endif
