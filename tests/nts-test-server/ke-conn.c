#include "ke-conn.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ke-response.h"
#include "nts-ke-keys.h"
#include "nts-ke-records.h"
#include "request-parse.h"
#include "server-log.h"

/* Handshake and request, then response and close, each within this. */
#define SESSION_TIMEOUT_MS 10000
/* A stalling behaviour holds the connection this long at most (or until the client gives
 * up): far beyond any client's KE timeout (chrony's is 16 s), yet bounded. */
#define STALL_TIMEOUT_MS   120000
/* After our close_notify and FIN, how long we read what the client still sends, so that
 * closing never resets the connection under data it has not read yet. */
#define DRAIN_TIMEOUT_MS   2000
/* GnuTLS sends at most this much per record. */
#define WRITE_CHUNK        16384

enum state {
    ST_STALL_HELLO, /* stall-handshake: read the ClientHello, never answer */
    ST_HANDSHAKE,
    ST_READ,
    ST_WRITE,
    ST_BYE,
    ST_DRAIN,
    ST_STALL, /* stall-after-handshake */
    ST_DONE,
};

struct ke_conn {
    int fd;
    unsigned id;
    const struct ke_config *config;
    gnutls_session_t session;
    enum state state;
    bool want_write;
    int64_t deadline_ms;
    size_t stalled_bytes;
    uint8_t in[REQUEST_KE_MAX_LEN + 1];
    size_t in_len;
    uint8_t *out;
    size_t out_len;
    size_t out_pos;
};

static const char *state_name(enum state state)
{
    switch (state) {
    case ST_STALL_HELLO:
        return "stalled in the handshake";
    case ST_HANDSHAKE:
        return "in the handshake";
    case ST_READ:
        return "reading the request";
    case ST_WRITE:
        return "writing the response";
    case ST_BYE:
        return "closing";
    case ST_DRAIN:
        return "draining";
    case ST_STALL:
        return "stalled after the handshake";
    case ST_DONE:
        return "done";
    }
    return "?";
}

static void finish(struct ke_conn *conn)
{
    conn->state = ST_DONE;
}

static void fail(struct ke_conn *conn, const char *what, int rc)
{
    server_log("ke#%u: %s: %s", conn->id, what, gnutls_strerror(rc));
    finish(conn);
}

struct ke_conn *ke_conn_new(int fd, unsigned id, const struct ke_config *config, int64_t now_ms)
{
    struct ke_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        close(fd);
        return NULL;
    }
    conn->fd = fd;
    conn->id = id;
    conn->config = config;
    conn->deadline_ms = now_ms + SESSION_TIMEOUT_MS;
    if (config->behaviour == BEHAVIOUR_STALL_HANDSHAKE) {
        conn->state = ST_STALL_HELLO;
        conn->deadline_ms = now_ms + STALL_TIMEOUT_MS;
        return conn;
    }

    conn->state = ST_HANDSHAKE;
    int rc = gnutls_init(&conn->session, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS);
    if (rc < 0) {
        conn->session = NULL;
        server_log("ke#%u: gnutls_init: %s", id, gnutls_strerror(rc));
        ke_conn_free(conn);
        return NULL;
    }
    /* wrong-alpn: the server knows only http/1.1 and does not insist, so the handshake
     * with an ntske/1 client completes with no protocol negotiated. */
    const bool wrong_alpn = config->behaviour == BEHAVIOUR_WRONG_ALPN;
    const char *alpn = wrong_alpn ? "http/1.1" : NTS_KE_ALPN;
    gnutls_datum_t alpn_datum = {(unsigned char *)alpn, (unsigned)strlen(alpn)};
    rc = gnutls_priority_set(conn->session, config->priority);
    if (rc >= 0)
        rc = gnutls_credentials_set(conn->session, GNUTLS_CRD_CERTIFICATE, config->credentials);
    if (rc >= 0)
        rc = gnutls_alpn_set_protocols(conn->session, &alpn_datum, 1,
                                       wrong_alpn ? 0 : GNUTLS_ALPN_MANDATORY);
    if (rc < 0) {
        server_log("ke#%u: TLS setup: %s", id, gnutls_strerror(rc));
        ke_conn_free(conn);
        return NULL;
    }
    gnutls_transport_set_int(conn->session, fd);
    return conn;
}

/* true when the call should be retried once the socket is ready. */
static bool again(struct ke_conn *conn, int rc)
{
    if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED)
        return false;
    conn->want_write = gnutls_record_get_direction(conn->session) == 1;
    return true;
}

static bool export_key(struct ke_conn *conn, enum nts_key_direction direction, uint8_t *key)
{
    uint8_t context[NTS_KE_KEY_CONTEXT_LEN];
    nts_ke_key_context(NTS_KE_PROTOCOL_NTPV4, NTS_KE_AEAD_AES_SIV_CMAC_256, direction, context);
    int rc =
        gnutls_prf_rfc5705(conn->session, strlen(NTS_KE_EXPORTER_LABEL), NTS_KE_EXPORTER_LABEL,
                           sizeof(context), (const char *)context, AES_SIV_KEY_LEN, (char *)key);
    if (rc < 0) {
        fail(conn, "key export", rc);
        return false;
    }
    return true;
}

static void handshake_done(struct ke_conn *conn)
{
    gnutls_datum_t selected = {NULL, 0};
    bool have_alpn = gnutls_alpn_get_selected_protocol(conn->session, &selected) == 0;
    const char *version = gnutls_protocol_get_name(gnutls_protocol_get_version(conn->session));
    server_log("ke#%u: handshake done (%s, ALPN %.*s)", conn->id, version ? version : "?",
               have_alpn ? (int)selected.size : 4,
               have_alpn ? (const char *)selected.data : "none");
    if (conn->config->behaviour != BEHAVIOUR_WRONG_ALPN &&
        (!have_alpn || selected.size != strlen(NTS_KE_ALPN) ||
         memcmp(selected.data, NTS_KE_ALPN, selected.size) != 0)) {
        server_log("ke#%u: no ntske/1 ALPN: closing", conn->id);
        finish(conn);
        return;
    }
    conn->state = ST_READ;
}

static void request_done(struct ke_conn *conn, enum request_ke_result result,
                         const struct request_ke *request, int64_t now_ms)
{
    if (result == REQUEST_KE_OK)
        server_log("ke#%u: request of %zu bytes (NTPv4 %s, AES-SIV %s)", conn->id, request->len,
                   request->ntpv4_offered ? "offered" : "not offered",
                   request->aes_siv_offered ? "offered" : "not offered");
    else
        server_log("ke#%u: bad request (record type %u: %s)", conn->id,
                   (unsigned)request->record_type, request->detail ? request->detail : "?");

    if (conn->config->behaviour == BEHAVIOUR_STALL_AFTER_HANDSHAKE) {
        server_log("ke#%u: stall-after-handshake: never responding", conn->id);
        conn->state = ST_STALL;
        conn->deadline_ms = now_ms + STALL_TIMEOUT_MS;
        return;
    }

    struct server_keys keys;
    memset(&keys, 0, sizeof(keys));
    if (result == REQUEST_KE_OK && request->ntpv4_offered && request->aes_siv_offered &&
        (!export_key(conn, NTS_KEY_C2S, keys.c2s) || !export_key(conn, NTS_KEY_S2C, keys.s2c)))
        return;
    struct ke_response_params params = {
        .behaviour = conn->config->behaviour,
        .result = result,
        .request = request,
        .keys = &keys,
        .port = conn->config->port_record,
    };
    conn->out = malloc(KE_RESPONSE_MAX_LEN);
    if (conn->out != NULL)
        conn->out_len = ke_response_build(&params, conn->out, KE_RESPONSE_MAX_LEN);
    memset(&keys, 0, sizeof(keys));
    if (conn->out_len == 0) {
        server_log("ke#%u: could not build the response", conn->id);
        finish(conn);
        return;
    }
    server_log("ke#%u: %s: sending %zu bytes", conn->id, behaviour_name(conn->config->behaviour),
               conn->out_len);
    conn->state = ST_WRITE;
    conn->deadline_ms = now_ms + SESSION_TIMEOUT_MS;
}

/* Reads and discards raw bytes; false once the peer closed or failed (connection done). */
static bool discard_input(struct ke_conn *conn)
{
    uint8_t sink[4096];
    for (;;) {
        ssize_t n = recv(conn->fd, sink, sizeof(sink), 0);
        if (n > 0) {
            conn->stalled_bytes += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return true;
        if (conn->state != ST_DRAIN)
            server_log("ke#%u: client closed (%s, %zu bytes read)", conn->id,
                       state_name(conn->state), conn->stalled_bytes);
        finish(conn);
        return false;
    }
}

void ke_conn_step(struct ke_conn *conn, int64_t now_ms)
{
    for (;;) {
        int rc;
        switch (conn->state) {
        case ST_STALL_HELLO:
        case ST_STALL:
        case ST_DRAIN: {
            size_t before = conn->stalled_bytes;
            discard_input(conn);
            if (conn->state == ST_STALL_HELLO && before == 0 && conn->stalled_bytes > 0)
                server_log("ke#%u: stall-handshake: read %zu bytes of ClientHello, not answering",
                           conn->id, conn->stalled_bytes);
            return;
        }
        case ST_HANDSHAKE:
            rc = gnutls_handshake(conn->session);
            if (rc == 0) {
                handshake_done(conn);
                break;
            }
            if (again(conn, rc))
                return;
            if (!gnutls_error_is_fatal(rc))
                break;
            /* Tell the client why, as a real server would (e.g. protocol_version for a
             * TLS 1.3-only client of tls12-only); one try, it may not get through. */
            gnutls_alert_send_appropriate(conn->session, rc);
            fail(conn, "handshake failed", rc);
            return;
        case ST_READ: {
            ssize_t n = gnutls_record_recv(conn->session, conn->in + conn->in_len,
                                           sizeof(conn->in) - conn->in_len);
            if (n == 0) {
                server_log("ke#%u: client closed before End of Message", conn->id);
                finish(conn);
                return;
            }
            if (n < 0) {
                if (again(conn, (int)n))
                    return;
                if (!gnutls_error_is_fatal((int)n))
                    break;
                fail(conn, "reading request", (int)n);
                return;
            }
            conn->in_len += (size_t)n;
            struct request_ke request;
            enum request_ke_result result = request_parse_ke(conn->in, conn->in_len, &request);
            if (result != REQUEST_KE_INCOMPLETE)
                request_done(conn, result, &request, now_ms);
            break;
        }
        case ST_WRITE: {
            size_t left = conn->out_len - conn->out_pos;
            ssize_t n = gnutls_record_send(conn->session, conn->out + conn->out_pos,
                                           left < WRITE_CHUNK ? left : WRITE_CHUNK);
            if (n < 0) {
                if (again(conn, (int)n))
                    return;
                fail(conn, "writing response", (int)n);
                return;
            }
            conn->out_pos += (size_t)n;
            if (conn->out_pos == conn->out_len)
                conn->state = ST_BYE;
            break;
        }
        case ST_BYE:
            rc = gnutls_bye(conn->session, GNUTLS_SHUT_WR);
            if (again(conn, rc))
                return;
            shutdown(conn->fd, SHUT_WR);
            server_log("ke#%u: response sent, closed", conn->id);
            conn->state = ST_DRAIN;
            conn->deadline_ms = now_ms + DRAIN_TIMEOUT_MS;
            break;
        case ST_DONE:
            return;
        }
    }
}

void ke_conn_check_deadline(struct ke_conn *conn, int64_t now_ms)
{
    if (conn->state == ST_DONE || now_ms < conn->deadline_ms)
        return;
    if (conn->state != ST_DRAIN)
        server_log("ke#%u: timed out (%s)", conn->id, state_name(conn->state));
    finish(conn);
}

int ke_conn_fd(const struct ke_conn *conn)
{
    return conn->fd;
}

short ke_conn_events(const struct ke_conn *conn)
{
    switch (conn->state) {
    case ST_HANDSHAKE:
    case ST_READ:
    case ST_WRITE:
    case ST_BYE:
        return conn->want_write ? POLLOUT : POLLIN;
    default:
        return POLLIN;
    }
}

int64_t ke_conn_deadline(const struct ke_conn *conn)
{
    return conn->deadline_ms;
}

bool ke_conn_done(const struct ke_conn *conn)
{
    return conn->state == ST_DONE;
}

void ke_conn_free(struct ke_conn *conn)
{
    if (conn == NULL)
        return;
    if (conn->session != NULL)
        gnutls_deinit(conn->session);
    close(conn->fd);
    free(conn->out);
    free(conn);
}
