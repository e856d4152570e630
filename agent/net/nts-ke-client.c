#include "nts-ke-client.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net-error.h"
#include "nts-ke-keys.h"

#define KE_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"

enum ke_stage {
    STAGE_RESOLVE,
    STAGE_CONNECT,
    STAGE_HANDSHAKE,
    STAGE_SEND,
    STAGE_RECEIVE,
};

struct nts_ke_client {
    gint refs; /* the caller's, plus one while a resolver callback is pending */
    gboolean finished;
    char *host;
    guint16 port;
    struct tls_trust *trust;
    gboolean ignore_certificate_time;
    guint connect_timeout_ms;
    nts_ke_done_fn done;
    gpointer user_data;

    enum ke_stage stage;
    gint64 started_ns;
    GCancellable *cancellable;
    GList *addresses; /* of GInetAddress, owned */
    GList *next_address;
    GString *connect_errors;
    int fd;
    guint fd_watch;
    guint timeout_source;
    guint connect_timeout_source;
    gnutls_session_t session;
    GByteArray *received;
    guint8 request[64];
    size_t request_len;
    size_t request_sent;
    struct nts_ke_result result;
};

static const char *stage_name(enum ke_stage stage)
{
    switch (stage) {
    case STAGE_RESOLVE:
        return "resolving the host name";
    case STAGE_CONNECT:
        return "connecting";
    case STAGE_HANDSHAKE:
        return "in the TLS handshake";
    case STAGE_SEND:
        return "sending the request";
    case STAGE_RECEIVE:
        return "waiting for the response";
    }
    return "";
}

static void client_unref(struct nts_ke_client *ke)
{
    if (!g_atomic_int_dec_and_test(&ke->refs))
        return;
    g_list_free_full(ke->addresses, g_object_unref);
    if (ke->connect_errors != NULL)
        g_string_free(ke->connect_errors, TRUE);
    g_clear_object(&ke->cancellable);
    tls_trust_unref(ke->trust);
    g_free(ke->host);
    explicit_bzero(&ke->result, sizeof(ke->result));
    g_free(ke);
}

static void close_connection(struct nts_ke_client *ke)
{
    if (ke->fd_watch != 0) {
        g_source_remove(ke->fd_watch);
        ke->fd_watch = 0;
    }
    if (ke->connect_timeout_source != 0) {
        g_source_remove(ke->connect_timeout_source);
        ke->connect_timeout_source = 0;
    }
    if (ke->session != NULL) {
        gnutls_deinit(ke->session);
        ke->session = NULL;
    }
    if (ke->fd >= 0) {
        close(ke->fd);
        ke->fd = -1;
    }
    if (ke->received != NULL) {
        g_byte_array_free(ke->received, TRUE);
        ke->received = NULL;
    }
}

static void release_everything(struct nts_ke_client *ke)
{
    close_connection(ke);
    if (ke->timeout_source != 0) {
        g_source_remove(ke->timeout_source);
        ke->timeout_source = 0;
    }
    g_cancellable_cancel(ke->cancellable);
}

/* Ends the exchange: frees every resource first, then reports, since the callback may
 * free the client. */
static void finish(struct nts_ke_client *ke, GError *error)
{
    if (ke->finished) {
        g_clear_error(&error);
        return;
    }
    ke->finished = TRUE;
    release_everything(ke);
    ke->result.duration_ns = (g_get_monotonic_time() * 1000) - ke->started_ns;
    /* The callback may free the client: hold it until the callback returns. */
    g_atomic_int_inc(&ke->refs);
    ke->done(error == NULL ? &ke->result : NULL, error, ke->user_data);
    g_clear_error(&error);
    client_unref(ke);
}

static void fail(struct nts_ke_client *ke, enum gnomon_net_error code, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

static void fail(struct nts_ke_client *ke, enum gnomon_net_error code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *detail = g_strdup_vprintf(format, args);
    va_end(args);
    GError *error =
        g_error_new(GNOMON_NET_ERROR, code, "NTS-KE with %s:%u: %s", ke->host, ke->port, detail);
    finish(ke, error);
}

static gboolean on_timeout(gpointer data)
{
    struct nts_ke_client *ke = data;
    ke->timeout_source = 0;
    fail(ke, GNOMON_NET_ERROR_TIMEOUT, "no answer in time (%s)", stage_name(ke->stage));
    return G_SOURCE_REMOVE;
}

static void try_next_address(struct nts_ke_client *ke);
static void drive(struct nts_ke_client *ke);

static gboolean on_fd_ready(gint fd, GIOCondition condition, gpointer data)
{
    struct nts_ke_client *ke = data;
    (void)fd;
    (void)condition;
    ke->fd_watch = 0;
    drive(ke);
    return G_SOURCE_REMOVE;
}

static void wait_for(struct nts_ke_client *ke, GIOCondition condition)
{
    ke->fd_watch = g_unix_fd_add(ke->fd, condition | G_IO_ERR | G_IO_HUP, on_fd_ready, ke);
}

static void wait_for_tls(struct nts_ke_client *ke)
{
    wait_for(ke, gnutls_record_get_direction(ke->session) ? G_IO_OUT : G_IO_IN);
}

static gboolean on_connect_timeout(gpointer data)
{
    struct nts_ke_client *ke = data;
    ke->connect_timeout_source = 0;
    g_string_append_printf(ke->connect_errors, "%s%s: timed out",
                           ke->connect_errors->len ? "; " : "", ke->result.address);
    close_connection(ke);
    try_next_address(ke);
    return G_SOURCE_REMOVE;
}

static gboolean start_tls(struct nts_ke_client *ke)
{
    /* GNUTLS_NO_SIGNAL: a peer that closes first must not kill us with SIGPIPE. */
    int rc = gnutls_init(&ke->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
    const char *where = NULL;
    if (rc >= 0)
        rc = gnutls_priority_set_direct(ke->session, KE_PRIORITY, &where);
    if (rc >= 0)
        rc = gnutls_credentials_set(ke->session, GNUTLS_CRD_CERTIFICATE,
                                    tls_trust_credentials(ke->trust));
    /* SNI carries names only (RFC 6066 §3); an address literal is verified all the same. */
    if (rc >= 0 && !g_hostname_is_ip_address(ke->host))
        rc = gnutls_server_name_set(ke->session, GNUTLS_NAME_DNS, ke->host, strlen(ke->host));
    if (rc >= 0) {
        unsigned flags = 0;
        if (ke->ignore_certificate_time)
            flags |= GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS;
        gnutls_session_set_verify_cert(ke->session, ke->host, flags);
        gnutls_datum_t alpn = {(unsigned char *)NTS_KE_ALPN, sizeof(NTS_KE_ALPN) - 1};
        rc = gnutls_alpn_set_protocols(ke->session, &alpn, 1, GNUTLS_ALPN_MANDATORY);
    }
    if (rc < 0) {
        fail(ke, GNOMON_NET_ERROR_TLS, "cannot set up TLS: %s", gnutls_strerror(rc));
        return FALSE;
    }
    gnutls_transport_set_int(ke->session, ke->fd);
    ke->request_len = nts_ke_request_build(ke->request, sizeof(ke->request));
    ke->request_sent = 0;
    ke->received = g_byte_array_new();
    ke->stage = STAGE_HANDSHAKE;
    return TRUE;
}

/* TRUE once connected with TLS set up (STAGE_HANDSHAKE): drive() goes on; FALSE while
 * waiting, after moving on to the next address, or on failure. */
static gboolean finish_connect(struct nts_ke_client *ke)
{
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (getsockopt(ke->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
        so_error = errno;
    if (so_error == EINPROGRESS) {
        wait_for(ke, G_IO_OUT);
        return FALSE;
    }
    if (so_error != 0) {
        g_string_append_printf(ke->connect_errors, "%s%s: %s", ke->connect_errors->len ? "; " : "",
                               ke->result.address, g_strerror(so_error));
        close_connection(ke);
        try_next_address(ke);
        return FALSE;
    }
    if (ke->connect_timeout_source != 0) {
        g_source_remove(ke->connect_timeout_source);
        ke->connect_timeout_source = 0;
    }
    return start_tls(ke);
}

static void try_next_address(struct nts_ke_client *ke)
{
    while (ke->next_address != NULL) {
        GInetAddress *address = ke->next_address->data;
        ke->next_address = ke->next_address->next;
        g_autoptr(GSocketAddress) socket_address = g_inet_socket_address_new(address, ke->port);
        struct sockaddr_storage native;
        if (!g_socket_address_to_native(socket_address, &native, sizeof(native), NULL))
            continue;
        g_autofree char *text = g_inet_address_to_string(address);
        g_strlcpy(ke->result.address, text, sizeof(ke->result.address));
        ke->result.family = native.ss_family;

        ke->fd = socket(native.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ke->fd < 0) {
            g_string_append_printf(ke->connect_errors, "%s%s: %s",
                                   ke->connect_errors->len ? "; " : "", text, g_strerror(errno));
            continue;
        }
        /* nts-notes.md: without it Nagle holds the request back ~40 ms on loopback. */
        int one = 1;
        setsockopt(ke->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(ke->fd, (struct sockaddr *)&native,
                    (socklen_t)g_socket_address_get_native_size(socket_address)) != 0 &&
            errno != EINPROGRESS) {
            g_string_append_printf(ke->connect_errors, "%s%s: %s",
                                   ke->connect_errors->len ? "; " : "", text, g_strerror(errno));
            close(ke->fd);
            ke->fd = -1;
            continue;
        }
        ke->stage = STAGE_CONNECT;
        ke->connect_timeout_source = g_timeout_add(ke->connect_timeout_ms, on_connect_timeout, ke);
        wait_for(ke, G_IO_OUT);
        return;
    }
    fail(ke, GNOMON_NET_ERROR_CONNECT, "cannot connect (%s)",
         ke->connect_errors->len ? ke->connect_errors->str : "no usable address");
}

static void on_resolved(GObject *source, GAsyncResult *res, gpointer data)
{
    struct nts_ke_client *ke = data;
    g_autoptr(GError) error = NULL;
    GList *addresses = g_resolver_lookup_by_name_finish(G_RESOLVER(source), res, &error);
    if (!ke->finished) {
        if (addresses == NULL) {
            fail(ke, GNOMON_NET_ERROR_RESOLVE, "cannot resolve the host name: %s", error->message);
        } else {
            ke->addresses = addresses;
            addresses = NULL;
            ke->next_address = ke->addresses;
            try_next_address(ke);
        }
    }
    g_list_free_full(addresses, g_object_unref);
    client_unref(ke); /* the resolver's reference */
}

static void fail_handshake(struct nts_ke_client *ke, int rc)
{
    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        unsigned status = gnutls_session_get_verify_cert_status(ke->session);
        gnutls_datum_t text = {NULL, 0};
        gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0);
        /* Only the validity period wrong: the local clock may be the one to blame, which
         * the untrusted-clock rule can deal with (clock-policy.md). */
        unsigned time_only = GNUTLS_CERT_INVALID | GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED;
        gboolean time_problem = (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED)) &&
                                (status & ~time_only) == 0;
        g_autofree char *message = g_strdup(text.data ? (const char *)text.data : "rejected");
        gnutls_free(text.data);
        fail(ke, time_problem ? GNOMON_NET_ERROR_CERTIFICATE_TIME : GNOMON_NET_ERROR_CERTIFICATE,
             "certificate of %s not accepted: %s", ke->result.address, message);
        return;
    }
    if (rc == GNUTLS_E_NO_APPLICATION_PROTOCOL) {
        fail(ke, GNOMON_NET_ERROR_ALPN, "server at %s does not speak ntske/1 (ALPN)",
             ke->result.address);
        return;
    }
    if (rc == GNUTLS_E_PREMATURE_TERMINATION || rc == GNUTLS_E_PUSH_ERROR ||
        rc == GNUTLS_E_PULL_ERROR) {
        fail(ke, GNOMON_NET_ERROR_CLOSED, "connection to %s closed during the TLS handshake",
             ke->result.address);
        return;
    }
    fail(ke, GNOMON_NET_ERROR_TLS, "TLS 1.3 handshake with %s failed: %s", ke->result.address,
         gnutls_strerror(rc));
}

static void read_peer_certificate_validity(struct nts_ke_client *ke)
{
    unsigned count = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(ke->session, &count);
    gnutls_x509_crt_t crt;
    if (chain == NULL || count == 0 || gnutls_x509_crt_init(&crt) < 0)
        return;
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) >= 0) {
        ke->result.certificate_not_before_unix = gnutls_x509_crt_get_activation_time(crt);
        ke->result.certificate_not_after_unix = gnutls_x509_crt_get_expiration_time(crt);
    }
    gnutls_x509_crt_deinit(crt);
}

static gboolean check_session(struct nts_ke_client *ke)
{
    gnutls_datum_t selected = {NULL, 0};
    if (gnutls_alpn_get_selected_protocol(ke->session, &selected) < 0 ||
        selected.size != sizeof(NTS_KE_ALPN) - 1 ||
        memcmp(selected.data, NTS_KE_ALPN, selected.size) != 0) {
        fail(ke, GNOMON_NET_ERROR_ALPN, "server at %s did not select ntske/1 (ALPN)",
             ke->result.address);
        return FALSE;
    }
    if (gnutls_protocol_get_version(ke->session) != GNUTLS_TLS1_3) {
        fail(ke, GNOMON_NET_ERROR_TLS, "server at %s negotiated a TLS version below 1.3",
             ke->result.address);
        return FALSE;
    }
    read_peer_certificate_validity(ke);
    return TRUE;
}

static gboolean export_keys(struct nts_ke_client *ke)
{
    guint8 context[NTS_KE_KEY_CONTEXT_LEN];
    const size_t label_len = sizeof(NTS_KE_EXPORTER_LABEL) - 1;
    nts_ke_key_context(NTS_KE_PROTOCOL_NTPV4, NTS_KE_AEAD_AES_SIV_CMAC_256, NTS_KEY_C2S, context);
    int rc = gnutls_prf_rfc5705(ke->session, label_len, NTS_KE_EXPORTER_LABEL, sizeof(context),
                                (const char *)context, AES_SIV_KEY_LEN, (char *)ke->result.c2s_key);
    if (rc >= 0) {
        nts_ke_key_context(NTS_KE_PROTOCOL_NTPV4, NTS_KE_AEAD_AES_SIV_CMAC_256, NTS_KEY_S2C,
                           context);
        rc = gnutls_prf_rfc5705(ke->session, label_len, NTS_KE_EXPORTER_LABEL, sizeof(context),
                                (const char *)context, AES_SIV_KEY_LEN, (char *)ke->result.s2c_key);
    }
    if (rc < 0) {
        fail(ke, GNOMON_NET_ERROR_TLS, "cannot export NTS keys: %s", gnutls_strerror(rc));
        return FALSE;
    }
    return TRUE;
}

/* Reads what TLS has; TRUE when the response is complete and valid (result filled). */
static gboolean receive_response(struct nts_ke_client *ke)
{
    for (;;) {
        guint8 buf[4096];
        ssize_t n = gnutls_record_recv(ke->session, buf, sizeof(buf));
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            wait_for_tls(ke);
            return FALSE;
        }
        if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
            fail(ke, GNOMON_NET_ERROR_CLOSED,
                 "%s closed the connection before End of Message (%u bytes received)",
                 ke->result.address, ke->received->len);
            return FALSE;
        }
        if (n < 0) {
            fail(ke, GNOMON_NET_ERROR_TLS, "reading from %s failed: %s", ke->result.address,
                 gnutls_strerror((int)n));
            return FALSE;
        }
        /* Bound what we keep before parsing: the parser refuses over 16 KiB anyway. */
        size_t room = NTS_KE_MAX_RESPONSE_LEN + 1 - ke->received->len;
        g_byte_array_append(ke->received, buf, (guint)MIN((size_t)n, room));

        enum nts_ke_error error =
            nts_ke_response_parse(ke->received->data, ke->received->len, &ke->result.response);
        if (error == NTS_KE_INCOMPLETE)
            continue;
        if (error == NTS_KE_OK)
            return TRUE;
        if (error == NTS_KE_ERR_SERVER_ERROR)
            fail(ke, GNOMON_NET_ERROR_KE_SERVER, "server sent Error record, code %u%s",
                 ke->result.response.error_code,
                 nts_ke_error_is_transient(error, &ke->result.response) ? " (internal server error)"
                                                                        : "");
        else if (error == NTS_KE_ERR_SERVER_WARNING)
            fail(ke, GNOMON_NET_ERROR_KE_SERVER, "server sent Warning record, code %u",
                 ke->result.response.warning_code);
        else if (error == NTS_KE_ERR_UNKNOWN_CRITICAL)
            fail(ke, GNOMON_NET_ERROR_KE_PROTOCOL, "%s (type %u)", nts_ke_error_str(error),
                 ke->result.response.record_type);
        else
            fail(ke, GNOMON_NET_ERROR_KE_PROTOCOL, "%s", nts_ke_error_str(error));
        return FALSE;
    }
}

/* Advances the exchange as far as the socket allows. */
static void drive(struct nts_ke_client *ke)
{
    if (ke->stage == STAGE_CONNECT && !finish_connect(ke))
        return;
    if (ke->stage == STAGE_HANDSHAKE) {
        int rc = gnutls_handshake(ke->session);
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
            wait_for_tls(ke);
            return;
        }
        if (rc < 0) {
            fail_handshake(ke, rc);
            return;
        }
        if (!check_session(ke))
            return;
        ke->stage = STAGE_SEND;
    }
    if (ke->stage == STAGE_SEND) {
        /* One write: NTPsec's server reads the request from a single segment. */
        while (ke->request_sent < ke->request_len) {
            ssize_t n = gnutls_record_send(ke->session, ke->request + ke->request_sent,
                                           ke->request_len - ke->request_sent);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                wait_for_tls(ke);
                return;
            }
            if (n < 0) {
                fail(ke, GNOMON_NET_ERROR_TLS, "sending to %s failed: %s", ke->result.address,
                     gnutls_strerror((int)n));
                return;
            }
            ke->request_sent += (size_t)n;
        }
        ke->stage = STAGE_RECEIVE;
    }
    if (ke->stage == STAGE_RECEIVE) {
        if (!receive_response(ke))
            return;
        if (!export_keys(ke))
            return;
        /* The message ends at End of Message: no need to wait for close_notify. */
        gnutls_bye(ke->session, GNUTLS_SHUT_WR);
        finish(ke, NULL);
    }
}

struct nts_ke_client *nts_ke_client_start(const struct nts_ke_options *options, nts_ke_done_fn done,
                                          gpointer user_data)
{
    struct nts_ke_client *ke = g_new0(struct nts_ke_client, 1);
    ke->refs = 1;
    ke->host = g_strdup(options->host);
    ke->port = options->port;
    ke->trust = tls_trust_ref(options->trust);
    ke->ignore_certificate_time = options->ignore_certificate_time;
    ke->connect_timeout_ms = options->connect_timeout_ms ? options->connect_timeout_ms : 3000;
    ke->done = done;
    ke->user_data = user_data;
    ke->fd = -1;
    ke->started_ns = g_get_monotonic_time() * 1000;
    ke->connect_errors = g_string_new(NULL);
    ke->cancellable = g_cancellable_new();
    ke->stage = STAGE_RESOLVE;
    ke->timeout_source =
        g_timeout_add(options->timeout_ms ? options->timeout_ms : 16000, on_timeout, ke);
    g_atomic_int_inc(&ke->refs); /* held by the pending lookup */
    g_resolver_lookup_by_name_async(g_resolver_get_default(), ke->host, ke->cancellable,
                                    on_resolved, ke);
    return ke;
}

void nts_ke_client_free(struct nts_ke_client *client)
{
    if (client == NULL)
        return;
    client->finished = TRUE;
    release_everything(client);
    client_unref(client);
}
