/* One NTS key exchange (RFC 8915 §4) as an asynchronous job in the GLib main loop:
 * resolve the host, connect (TCP_NODELAY, each address in turn), TLS 1.3 with ALPN
 * ntske/1 and host-name verification, send the request in one write, read records until
 * End of Message (bounded), export the two keys. Record meaning is core/nts-ke-records. */
#ifndef GNOMON_NET_NTS_KE_CLIENT_H
#define GNOMON_NET_NTS_KE_CLIENT_H

#include <glib.h>

#include "aes-siv.h"
#include "nts-ke-records.h"
#include "tls-trust.h"

struct nts_ke_options {
    const char *host;
    guint16 port;
    struct tls_trust *trust;
    /* The untrusted-clock rule (clock-policy.md): accept a certificate outside its
     * validity period. The result then carries the period for the caller to judge. */
    gboolean ignore_certificate_time;
    guint timeout_ms;         /* the whole exchange */
    guint connect_timeout_ms; /* each address */
};

struct nts_ke_result {
    guint8 c2s_key[AES_SIV_KEY_LEN];
    guint8 s2c_key[AES_SIV_KEY_LEN];
    struct nts_ke_response response;
    char address[64]; /* the address that answered */
    int family;       /* its address family */
    gint64 certificate_not_before_unix;
    gint64 certificate_not_after_unix;
    gint64 duration_ns;
};

/* Called once, with either result or error set. The client may be freed inside. */
typedef void (*nts_ke_done_fn)(const struct nts_ke_result *result, const GError *error,
                               gpointer user_data);

struct nts_ke_client;

struct nts_ke_client *nts_ke_client_start(const struct nts_ke_options *options, nts_ke_done_fn done,
                                          gpointer user_data);

/* Cancels a running exchange (no callback follows) and frees the client. */
void nts_ke_client_free(struct nts_ke_client *client);

#endif
