#include "ntp-exchange.h"

#include <errno.h>
#include <glib-unix.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nanoseconds.h"
#include "net-error.h"
#include "ntp-time.h"

struct ntp_exchange {
    int fd;
    guint fd_watch;
    guint timeout_source;
    gboolean finished;
    gboolean in_callback;
    gboolean free_requested;
    char *server_text;
    struct local_clock *clock;
    guint8 s2c_key[AES_SIV_KEY_LEN];
    guint8 uid[NTS_UID_LEN];
    guint64 transmit_ts;
    gint64 t1_ns;
    /* What went wrong with the packets that came, reported if none authenticates. */
    enum nts_reply_error last_reject;
    unsigned rejected;
    gboolean nak_seen;
    GError *start_error;
    ntp_exchange_done_fn done;
    gpointer user_data;
};

static void release(struct ntp_exchange *ex)
{
    if (ex->fd_watch != 0) {
        g_source_remove(ex->fd_watch);
        ex->fd_watch = 0;
    }
    if (ex->timeout_source != 0) {
        g_source_remove(ex->timeout_source);
        ex->timeout_source = 0;
    }
    if (ex->fd >= 0) {
        close(ex->fd);
        ex->fd = -1;
    }
}

static void destroy(struct ntp_exchange *ex)
{
    release(ex);
    g_clear_error(&ex->start_error);
    explicit_bzero(ex->s2c_key, sizeof(ex->s2c_key));
    g_free(ex->server_text);
    g_free(ex);
}

static void finish(struct ntp_exchange *ex, const struct ntp_measurement *m, GError *error)
{
    ex->finished = TRUE;
    release(ex);
    ex->in_callback = TRUE;
    ex->done(m, error, ex->user_data);
    ex->in_callback = FALSE;
    g_clear_error(&error);
    if (ex->free_requested)
        destroy(ex);
}

static void fail(struct ntp_exchange *ex, enum gnomon_net_error code, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

static void fail(struct ntp_exchange *ex, enum gnomon_net_error code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *detail = g_strdup_vprintf(format, args);
    va_end(args);
    finish(ex, NULL,
           g_error_new(GNOMON_NET_ERROR, code, "NTP with %s: %s", ex->server_text, detail));
}

static gboolean on_timeout(gpointer data)
{
    struct ntp_exchange *ex = data;
    ex->timeout_source = 0;
    if (ex->nak_seen)
        fail(ex, GNOMON_NET_ERROR_NTP_NAK, "the server refused our cookie (NTS NAK)");
    else if (ex->rejected > 0)
        fail(ex, GNOMON_NET_ERROR_NTP_AUTH, "%u replies, none authenticated (last: %s)",
             ex->rejected, nts_reply_error_str(ex->last_reject));
    else
        fail(ex, GNOMON_NET_ERROR_TIMEOUT, "no reply");
    return G_SOURCE_REMOVE;
}

/* The kernel's receive timestamp (SO_TIMESTAMPNS) if there is one, else now. */
static gint64 receive_realtime_ns(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            return (gint64)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
        }
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (gint64)now.tv_sec * NS_PER_SEC + now.tv_nsec;
}

/* TRUE when the exchange ended (reply accepted or a final error). */
static gboolean take_packet(struct ntp_exchange *ex, const guint8 *buf, size_t len, gint64 t4_ns,
                            gint64 boottime_ns)
{
    struct ntp_measurement m;
    memset(&m, 0, sizeof(m));
    struct nts_reply_status status =
        nts_reply_parse(buf, len, ex->s2c_key, ex->uid, ex->transmit_ts, &m.reply);
    switch (status.error) {
    case NTS_REPLY_OK:
        break;
    case NTS_REPLY_ERR_NAK:
        /* Unauthenticated: note it, keep waiting for a valid reply (nts-notes.md). */
        ex->nak_seen = TRUE;
        return FALSE;
    case NTS_REPLY_ERR_KISS: {
        char code[5];
        guint32 id = m.reply.header.reference_id;
        for (int i = 0; i < 4; i++) {
            char c = (char)(id >> (24 - 8 * i));
            code[i] = g_ascii_isprint(c) ? c : '?';
        }
        code[4] = '\0';
        fail(ex, GNOMON_NET_ERROR_NTP_KISS, "authenticated kiss code %s", code);
        return TRUE;
    }
    case NTS_REPLY_ERR_NO_COOKIES:
        fail(ex, GNOMON_NET_ERROR_NTP_AUTH, "%s", nts_reply_error_str(status.error));
        return TRUE;
    case NTS_REPLY_ERR_HEADER:
        if (status.header_error != NTP_PACKET_ERR_TRUNCATED) {
            /* Only reached after authentication: the server itself says this. */
            fail(ex, GNOMON_NET_ERROR_NTP_BAD_REPLY, "%s",
                 ntp_packet_error_str(status.header_error));
            return TRUE;
        }
        G_GNUC_FALLTHROUGH;
    default:
        ex->rejected++;
        ex->last_reject = status.error;
        return FALSE;
    }
    /* Era: the one nearest our own send time. */
    m.t1_ns = ex->t1_ns;
    m.t2_ns = ntp_time_to_unix_ns(m.reply.header.receive_ts, ex->t1_ns);
    m.t3_ns = ntp_time_to_unix_ns(m.reply.header.transmit_ts, ex->t1_ns);
    m.t4_ns = t4_ns;
    m.received_boottime_ns = boottime_ns;
    m.offset = ntp_offset_compute(m.t1_ns, m.t2_ns, m.t3_ns, m.t4_ns);
    finish(ex, &m, NULL);
    return TRUE;
}

static gboolean on_readable(gint fd, GIOCondition condition, gpointer data)
{
    struct ntp_exchange *ex = data;
    (void)condition;
    /* While this runs the watch is not ex->fd_watch: whatever ends the exchange in here
     * leaves the source for this function's return value to remove. */
    guint watch = ex->fd_watch;
    ex->fd_watch = 0;
    for (int i = 0; i < 16; i++) { /* drain what is queued, boundedly */
        guint8 buf[NTS_PACKET_MAX_LEN + 1];
        union {
            char buf[CMSG_SPACE(sizeof(struct timespec)) * 2];
            struct cmsghdr align;
        } control;
        struct iovec iov = {buf, sizeof(buf)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf)};
        ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            /* ICMP port unreachable and the like, reported on a connected socket. */
            fail(ex, GNOMON_NET_ERROR_TIMEOUT, "unreachable (%s)", g_strerror(errno));
            return G_SOURCE_REMOVE;
        }
        gint64 boottime = local_clock_boottime_ns();
        gint64 t4 = local_clock_from_realtime_ns(ex->clock, receive_realtime_ns(&msg));
        if ((msg.msg_flags & MSG_TRUNC) || (size_t)n > NTS_PACKET_MAX_LEN) {
            ex->rejected++;
            ex->last_reject = NTS_REPLY_ERR_EXTENSION;
            continue;
        }
        if (take_packet(ex, buf, (size_t)n, t4, boottime))
            return G_SOURCE_REMOVE;
    }
    ex->fd_watch = watch;
    return G_SOURCE_CONTINUE;
}

static gboolean on_start_failed(gpointer data)
{
    struct ntp_exchange *ex = data;
    GError *error = g_steal_pointer(&ex->start_error);
    finish(ex, NULL, error);
    return G_SOURCE_REMOVE;
}

/* Reports a failure to start from the main loop, so callers always hear back
 * asynchronously and never inside ntp_exchange_start(). */
static struct ntp_exchange *fail_later(struct ntp_exchange *ex, enum gnomon_net_error code,
                                       const char *what)
{
    ex->start_error = g_error_new(GNOMON_NET_ERROR, code, "NTP with %s: %s", ex->server_text, what);
    release(ex);
    ex->timeout_source = g_idle_add(on_start_failed, ex);
    return ex;
}

struct ntp_exchange *ntp_exchange_start(const struct ntp_exchange_options *options,
                                        ntp_exchange_done_fn done, gpointer user_data)
{
    struct ntp_exchange *ex = g_new0(struct ntp_exchange, 1);
    ex->fd = -1;
    ex->done = done;
    ex->user_data = user_data;
    ex->clock = options->clock;
    memcpy(ex->s2c_key, options->s2c_key, AES_SIV_KEY_LEN);
    GInetSocketAddress *server = G_INET_SOCKET_ADDRESS(options->server);
    GInetAddress *inet = g_inet_socket_address_get_address(server);
    g_autofree char *ip = g_inet_address_to_string(inet);
    ex->server_text = g_strdup_printf(
        g_inet_address_get_family(inet) == G_SOCKET_FAMILY_IPV6 ? "[%s]:%u" : "%s:%u", ip,
        g_inet_socket_address_get_port(server));

    /* Fresh randomness per request: UID and nonce (RFC 8915 §5.3), and the transmit
     * timestamp, which is random rather than our clock (RFC 9109). */
    guint8 nonce[NTS_NONCE_LEN];
    if (gnutls_rnd(GNUTLS_RND_NONCE, ex->uid, sizeof(ex->uid)) < 0 ||
        gnutls_rnd(GNUTLS_RND_NONCE, nonce, sizeof(nonce)) < 0 ||
        gnutls_rnd(GNUTLS_RND_NONCE, &ex->transmit_ts, sizeof(ex->transmit_ts)) < 0)
        return fail_later(ex, GNOMON_NET_ERROR_SOCKET, "no random numbers");

    struct nts_request_params params = {
        .c2s_key = options->c2s_key,
        .uid = ex->uid,
        .nonce = nonce,
        .cookie = options->cookie,
        .placeholders = options->placeholders,
        .transmit_ts = ex->transmit_ts,
        .poll = 6,
    };
    guint8 packet[NTS_REQUEST_MAX_LEN];
    size_t len = 0;
    enum nts_request_error request_error =
        nts_request_build(&params, packet, sizeof(packet), &len, NULL);
    if (request_error != NTS_REQUEST_OK)
        return fail_later(ex, GNOMON_NET_ERROR_SOCKET, nts_request_error_str(request_error));

    struct sockaddr_storage native;
    if (!g_socket_address_to_native(options->server, &native, sizeof(native), NULL))
        return fail_later(ex, GNOMON_NET_ERROR_SOCKET, "bad server address");
    ex->fd = socket(native.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ex->fd < 0)
        return fail_later(ex, GNOMON_NET_ERROR_SOCKET, g_strerror(errno));
    int one = 1;
    setsockopt(ex->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    /* Connected: the kernel drops datagrams from anyone but the server. */
    if (connect(ex->fd, (struct sockaddr *)&native,
                (socklen_t)g_socket_address_get_native_size(options->server)) != 0)
        return fail_later(ex, GNOMON_NET_ERROR_SOCKET, g_strerror(errno));

    ex->t1_ns = local_clock_now_ns(ex->clock);
    ssize_t sent = send(ex->fd, packet, len, 0);
    if (sent != (ssize_t)len)
        return fail_later(ex, GNOMON_NET_ERROR_SOCKET, sent < 0 ? g_strerror(errno) : "short send");
    ex->fd_watch = g_unix_fd_add(ex->fd, G_IO_IN | G_IO_ERR, on_readable, ex);
    ex->timeout_source =
        g_timeout_add(options->timeout_ms ? options->timeout_ms : 2000, on_timeout, ex);
    return ex;
}

void ntp_exchange_free(struct ntp_exchange *exchange)
{
    if (exchange == NULL)
        return;
    if (exchange->in_callback) {
        exchange->free_requested = TRUE;
        return;
    }
    destroy(exchange);
}
