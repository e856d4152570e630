/* One NTS-protected NTP request and its reply over UDP (RFC 8915 §5): a fresh socket
 * (a new source port per request, RFC 9109), random UID, nonce and transmit timestamp,
 * the real send time kept locally, the kernel's receive timestamp, and replies checked
 * by core/nts-packet until one authenticates or the timeout passes. Forged or stray
 * packets do not end the wait: an attacker cannot cancel a measurement by spraying. */
#ifndef GNOMON_NET_NTP_EXCHANGE_H
#define GNOMON_NET_NTP_EXCHANGE_H

#include <gio/gio.h>
#include <glib.h>

#include "aes-siv.h"
#include "local-clock.h"
#include "ntp-offset.h"
#include "nts-cookie.h"
#include "nts-packet.h"

struct ntp_exchange_options {
    GSocketAddress *server;
    const guint8 *c2s_key;
    const guint8 *s2c_key;
    const struct nts_cookie *cookie;
    unsigned placeholders;
    guint timeout_ms;
    struct local_clock *clock;
};

struct ntp_measurement {
    gint64 t1_ns, t2_ns, t3_ns, t4_ns; /* Unix ns: local send, server receive/send, local receive */
    struct ntp_offset offset;
    gint64 received_boottime_ns;
    struct nts_reply reply; /* header and new cookies */
};

typedef void (*ntp_exchange_done_fn)(const struct ntp_measurement *measurement, const GError *error,
                                     gpointer user_data);

struct ntp_exchange;

struct ntp_exchange *ntp_exchange_start(const struct ntp_exchange_options *options,
                                        ntp_exchange_done_fn done, gpointer user_data);

/* Cancels (no callback follows) and frees. Safe inside the callback. */
void ntp_exchange_free(struct ntp_exchange *exchange);

#endif
