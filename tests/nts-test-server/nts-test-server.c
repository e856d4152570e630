/* gnomon-test-nts-server: a real NTS server (NTS-KE over TLS 1.3 on TCP, NTS-protected
 * NTPv4 on UDP, loopback only) that misbehaves in one chosen way per run, for gnomon's
 * integration tests. It only reports time (CLOCK_REALTIME plus an optional fake offset);
 * it never sets any clock. Single-threaded poll() loop; KE connections are non-blocking
 * so that a stalled one never holds up NTP. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "behaviour.h"
#include "ke-conn.h"
#include "nanoseconds.h"
#include "ntp-response.h"
#include "nts-packet.h"
#include "request-parse.h"
#include "server-cookie.h"
#include "server-log.h"

#define MAX_KE_CONNS  32
/* |--offset-ns| bound: a century, so that now + offset cannot overflow int64. */
#define MAX_OFFSET_NS (INT64_C(100) * 366 * 86400 * NS_PER_SEC)

#define PRIORITY_TLS13 "NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define PRIORITY_TLS12 "NORMAL:-VERS-ALL:+VERS-TLS1.2"

struct options {
    const char *cert;
    const char *key;
    const char *address;
    uint16_t ke_port;
    uint16_t ntp_port;
    enum behaviour behaviour;
    int64_t offset_ns;
    bool quiet;
};

struct ntp_socket {
    int fd;
    bool serves; /* false: the advertised port that ke-other-port keeps silent */
};

struct server {
    struct options options;
    struct ke_config ke;
    int ke_listen_fd;
    struct ntp_socket ntp[2];
    size_t n_ntp;
    int signal_fd;
    struct ke_conn *conns[MAX_KE_CONNS];
    size_t n_conns;
    unsigned next_conn_id;
    uint64_t ntp_packets;
    /* replay: the first reply ever sent, sent again for every later request */
    uint8_t first_reply[NTS_PACKET_MAX_LEN];
    size_t first_reply_len;
};

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The time the server reports: the real clock (read, never set) plus the fake offset. */
static int64_t reported_time_ns(const struct server *server)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec + server->options.offset_ns;
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: gnomon-test-nts-server --cert FILE --key FILE [OPTIONS]\n"
                 "  --cert FILE         server certificate (PEM)\n"
                 "  --key FILE          its private key (PEM)\n"
                 "  --address ADDR      loopback address to listen on (default 127.0.0.1)\n"
                 "  --ke-port N         NTS-KE TCP port (default 0: a free one)\n"
                 "  --ntp-port N        NTP UDP port (default 0: a free one)\n"
                 "  --behaviour NAME    how to misbehave (default honest)\n"
                 "  --offset-ns N       add N ns to every time reported (needed by lie)\n"
                 "  --quiet             no log on stderr\n"
                 "Prints {\"ke_port\": N, \"ntp_port\": N, \"pid\": N} once listening (and\n"
                 "\"other_ntp_port\" with ke-other-port); runs until SIGTERM or SIGINT.\n"
                 "Behaviours:\n");
    for (int i = 0; i < BEHAVIOUR_COUNT; i++)
        fprintf(out, "  %-22s %s\n", behaviour_name((enum behaviour)i),
                behaviour_description((enum behaviour)i));
}

static bool parse_port(const char *text, uint16_t *out)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0 || value > 65535)
        return false;
    *out = (uint16_t)value;
    return true;
}

static bool parse_options(int argc, char **argv, struct options *o)
{
    enum {
        OPT_CERT = 1,
        OPT_KEY,
        OPT_ADDRESS,
        OPT_KE_PORT,
        OPT_NTP_PORT,
        OPT_BEHAVIOUR,
        OPT_OFFSET,
        OPT_QUIET,
        OPT_HELP
    };
    static const struct option longopts[] = {
        {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY},
        {"address", required_argument, NULL, OPT_ADDRESS},
        {"ke-port", required_argument, NULL, OPT_KE_PORT},
        {"ntp-port", required_argument, NULL, OPT_NTP_PORT},
        {"behaviour", required_argument, NULL, OPT_BEHAVIOUR},
        {"behavior", required_argument, NULL, OPT_BEHAVIOUR},
        {"offset-ns", required_argument, NULL, OPT_OFFSET},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->address = "127.0.0.1";
    o->behaviour = BEHAVIOUR_HONEST;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case OPT_CERT:
            o->cert = optarg;
            break;
        case OPT_KEY:
            o->key = optarg;
            break;
        case OPT_ADDRESS:
            o->address = optarg;
            break;
        case OPT_KE_PORT:
        case OPT_NTP_PORT:
            if (!parse_port(optarg, c == OPT_KE_PORT ? &o->ke_port : &o->ntp_port)) {
                fprintf(stderr, "gnomon-test-nts-server: bad port '%s'\n", optarg);
                return false;
            }
            break;
        case OPT_BEHAVIOUR:
            if (!behaviour_from_name(optarg, &o->behaviour)) {
                fprintf(stderr, "gnomon-test-nts-server: unknown behaviour '%s'\n", optarg);
                usage(stderr);
                return false;
            }
            break;
        case OPT_OFFSET: {
            errno = 0;
            long long value = strtoll(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || value > MAX_OFFSET_NS ||
                value < -MAX_OFFSET_NS) {
                fprintf(stderr, "gnomon-test-nts-server: bad --offset-ns '%s'\n", optarg);
                return false;
            }
            o->offset_ns = (int64_t)value;
            break;
        }
        case OPT_QUIET:
            o->quiet = true;
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
    }
    if (optind != argc || o->cert == NULL || o->key == NULL) {
        usage(stderr);
        return false;
    }
    if (o->behaviour == BEHAVIOUR_LIE && o->offset_ns == 0) {
        fprintf(stderr, "gnomon-test-nts-server: lie needs a non-zero --offset-ns\n");
        return false;
    }
    return true;
}

/* Loopback only: this server is for tests on this machine. */
static bool parse_address(const char *text, struct sockaddr_storage *out, socklen_t *out_len)
{
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *in4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
        if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127)
            return false;
        in4->sin_family = AF_INET;
        *out_len = sizeof(*in4);
        return true;
    }
    if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return false;
        in6->sin6_family = AF_INET6;
        *out_len = sizeof(*in6);
        return true;
    }
    return false;
}

static void set_port(struct sockaddr_storage *addr, uint16_t port)
{
    if (addr->ss_family == AF_INET)
        ((struct sockaddr_in *)addr)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)addr)->sin6_port = htons(port);
}

/* A bound (and for TCP listening) non-blocking socket; *port gets the port chosen. */
static int open_socket(const struct sockaddr_storage *address, socklen_t address_len, int type,
                       uint16_t *port)
{
    struct sockaddr_storage addr = *address;
    set_port(&addr, *port);
    int fd = socket(addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("gnomon-test-nts-server: socket");
        return -1;
    }
    int one = 1;
    if (type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, address_len) < 0 ||
        (type == SOCK_STREAM && listen(fd, 16) < 0)) {
        fprintf(stderr, "gnomon-test-nts-server: bind %s port %u: %s\n",
                type == SOCK_STREAM ? "TCP" : "UDP", (unsigned)*port, strerror(errno));
        close(fd);
        return -1;
    }
    socklen_t len = sizeof(addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(addr.ss_family == AF_INET ? ((struct sockaddr_in *)&addr)->sin_port
                                            : ((struct sockaddr_in6 *)&addr)->sin6_port);
    return fd;
}

static void accept_connections(struct server *server, int64_t now_ms)
{
    for (;;) {
        /* cppcheck-suppress nullPointer ; gnu.cfg wrongly wants accept4's addrlen non-NULL */
        int fd = accept4(server->ke_listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                server_log("ke: accept: %s", strerror(errno));
            return;
        }
        unsigned id = ++server->next_conn_id;
        if (server->n_conns == MAX_KE_CONNS) {
            /* Make room by dropping the oldest (the array keeps accept order), so every
             * new connection still sees the chosen behaviour. */
            server_log("ke#%u: %d connections open: closing the oldest", id, MAX_KE_CONNS);
            ke_conn_free(server->conns[0]);
            memmove(server->conns, server->conns + 1,
                    (MAX_KE_CONNS - 1) * sizeof(server->conns[0]));
            server->n_conns--;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        server_log("ke#%u: connection accepted", id);
        struct ke_conn *conn = ke_conn_new(fd, id, &server->ke, now_ms);
        if (conn == NULL)
            continue;
        server->conns[server->n_conns++] = conn;
        ke_conn_step(conn, now_ms);
    }
}

static void send_reply(int fd, const uint8_t *reply, size_t len,
                       const struct sockaddr_storage *peer, socklen_t peer_len)
{
    if (sendto(fd, reply, len, 0, (const struct sockaddr *)peer, peer_len) < 0)
        server_log("ntp: sendto: %s", strerror(errno));
}

static void handle_ntp_packet(struct server *server, const struct ntp_socket *sock,
                              const uint8_t *buf, size_t len, const struct sockaddr_storage *peer,
                              socklen_t peer_len, int64_t receive_ns)
{
    const enum behaviour b = server->options.behaviour;
    uint64_t n = ++server->ntp_packets;
    if (!sock->serves) {
        server_log("ntp#%" PRIu64 ": %zu bytes on the advertised port: ke-other-port keeps it "
                   "silent",
                   n, len);
        return;
    }
    struct request_ntp request;
    enum request_ntp_error error = request_parse_ntp(buf, len, &request);
    if (error != REQUEST_NTP_OK) {
        server_log("ntp#%" PRIu64 ": dropping %zu bytes: %s", n, len, request_ntp_error_str(error));
        return;
    }
    struct server_keys keys;
    if (!server_cookie_open(request.cookie, request.cookie_len, &keys)) {
        server_log("ntp#%" PRIu64 ": dropping: cookie (%zu bytes) is not one of ours", n,
                   request.cookie_len);
        return;
    }
    enum aes_siv_error aead = request_verify_ntp(&request, buf, keys.c2s);
    if (aead != AES_SIV_OK) {
        server_log("ntp#%" PRIu64 ": dropping: request authenticator: %s", n,
                   aes_siv_error_str(aead));
        return;
    }
    if (b == BEHAVIOUR_SILENT) {
        server_log("ntp#%" PRIu64 ": valid request; silent: not answering", n);
        return;
    }
    if (b == BEHAVIOUR_REPLAY && server->first_reply_len > 0) {
        server_log("ntp#%" PRIu64 ": valid request; replay: sending the first reply again", n);
        send_reply(sock->fd, server->first_reply, server->first_reply_len, peer, peer_len);
        return;
    }

    uint8_t reply[NTS_PACKET_MAX_LEN];
    struct ntp_response_params params = {
        .behaviour = b,
        .request = &request,
        .keys = &keys,
        .receive_ns = receive_ns,
        .transmit_ns = reported_time_ns(server),
    };
    size_t reply_len = ntp_response_build(&params, reply, sizeof(reply));
    memset(&keys, 0, sizeof(keys));
    if (reply_len == 0) {
        server_log("ntp#%" PRIu64 ": could not build a reply", n);
        return;
    }
    server_log("ntp#%" PRIu64 ": valid request (%zu bytes, %u placeholders); %s reply of %zu bytes",
               n, len, request.placeholders, behaviour_name(b), reply_len);
    send_reply(sock->fd, reply, reply_len, peer, peer_len);
    if (b == BEHAVIOUR_REPLAY) {
        memcpy(server->first_reply, reply, reply_len);
        server->first_reply_len = reply_len;
    }
}

static void read_ntp(struct server *server, const struct ntp_socket *sock)
{
    /* One more than the largest packet we take, to see truncation. */
    uint8_t buf[NTS_PACKET_MAX_LEN + 1];
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        ssize_t n =
            recvfrom(sock->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&peer, &peer_len);
        int64_t receive_ns = reported_time_ns(server);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                server_log("ntp: recvfrom: %s", strerror(errno));
            return;
        }
        if ((size_t)n > NTS_PACKET_MAX_LEN) {
            server_log("ntp: dropping a %zd-byte datagram (too long)", n);
            continue;
        }
        handle_ntp_packet(server, sock, buf, (size_t)n, &peer, peer_len, receive_ns);
    }
}

static void reap_connections(struct server *server)
{
    size_t kept = 0;
    for (size_t i = 0; i < server->n_conns; i++) {
        if (ke_conn_done(server->conns[i]))
            ke_conn_free(server->conns[i]);
        else
            server->conns[kept++] = server->conns[i];
    }
    server->n_conns = kept;
}

static int run(struct server *server)
{
    /* listener, signals, up to two NTP sockets, connections */
    struct pollfd fds[4 + MAX_KE_CONNS];
    for (;;) {
        int64_t now_ms = monotonic_ms();
        int timeout = -1;
        size_t n = 0;
        fds[n++] = (struct pollfd){.fd = server->signal_fd, .events = POLLIN};
        fds[n++] = (struct pollfd){.fd = server->ke_listen_fd, .events = POLLIN};
        for (size_t i = 0; i < server->n_ntp; i++)
            fds[n++] = (struct pollfd){.fd = server->ntp[i].fd, .events = POLLIN};
        const size_t first_conn = n;
        for (size_t i = 0; i < server->n_conns; i++) {
            struct ke_conn *conn = server->conns[i];
            fds[n++] = (struct pollfd){.fd = ke_conn_fd(conn), .events = ke_conn_events(conn)};
            int64_t wait = ke_conn_deadline(conn) - now_ms;
            if (wait < 0)
                wait = 0;
            if (timeout < 0 || wait < timeout)
                timeout = (int)wait;
        }
        if (poll(fds, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            perror("gnomon-test-nts-server: poll");
            return 1;
        }
        now_ms = monotonic_ms();
        if (fds[0].revents != 0) {
            struct signalfd_siginfo info;
            if (read(server->signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
                server_log("signal %u: exiting", info.ssi_signo);
                return 0;
            }
        }
        for (size_t i = 0; i < server->n_ntp; i++) {
            if (fds[2 + i].revents != 0)
                read_ntp(server, &server->ntp[i]);
        }
        for (size_t i = 0; i < server->n_conns; i++) {
            struct ke_conn *conn = server->conns[i];
            if (fds[first_conn + i].revents != 0)
                ke_conn_step(conn, now_ms);
            ke_conn_check_deadline(conn, now_ms);
        }
        reap_connections(server);
        if (fds[1].revents != 0)
            accept_connections(server, now_ms);
    }
}

static bool setup_tls(struct server *server)
{
    const struct options *o = &server->options;
    int rc = gnutls_certificate_allocate_credentials(&server->ke.credentials);
    if (rc < 0) {
        fprintf(stderr, "gnomon-test-nts-server: credentials: %s\n", gnutls_strerror(rc));
        return false;
    }
    rc = gnutls_certificate_set_x509_key_file(server->ke.credentials, o->cert, o->key,
                                              GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        fprintf(stderr, "gnomon-test-nts-server: loading %s and %s: %s\n", o->cert, o->key,
                gnutls_strerror(rc));
        return false;
    }
    const char *priority = o->behaviour == BEHAVIOUR_TLS12_ONLY ? PRIORITY_TLS12 : PRIORITY_TLS13;
    rc = gnutls_priority_init(&server->ke.priority, priority, NULL);
    if (rc < 0) {
        fprintf(stderr, "gnomon-test-nts-server: priority %s: %s\n", priority, gnutls_strerror(rc));
        return false;
    }
    return true;
}

static bool setup_sockets(struct server *server, uint16_t *ke_port, uint16_t *ntp_port,
                          uint16_t *other_port)
{
    struct sockaddr_storage address;
    socklen_t address_len;
    if (!parse_address(server->options.address, &address, &address_len)) {
        fprintf(stderr, "gnomon-test-nts-server: --address must be a loopback address, not %s\n",
                server->options.address);
        return false;
    }
    *ke_port = server->options.ke_port;
    *ntp_port = server->options.ntp_port;
    server->ke_listen_fd = open_socket(&address, address_len, SOCK_STREAM, ke_port);
    if (server->ke_listen_fd < 0)
        return false;
    server->ntp[0].fd = open_socket(&address, address_len, SOCK_DGRAM, ntp_port);
    if (server->ntp[0].fd < 0)
        return false;
    server->ntp[0].serves = true;
    server->n_ntp = 1;
    /* RFC 8915 §4.1.7: without a Port record a client uses 123, so a server on any other
     * port must name it, as chrony does. */
    server->ke.port_record = *ntp_port == 123 ? 0 : *ntp_port;
    *other_port = 0;
    if (server->options.behaviour == BEHAVIOUR_KE_OTHER_PORT) {
        server->ntp[1].fd = open_socket(&address, address_len, SOCK_DGRAM, other_port);
        if (server->ntp[1].fd < 0)
            return false;
        server->ntp[0].serves = false;
        server->ntp[1].serves = true;
        server->n_ntp = 2;
        server->ke.port_record = *other_port;
    }
    return true;
}

static int setup_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    (void)signal(SIGPIPE, SIG_IGN); /* cannot fail: a valid signal and handler */
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void cleanup(struct server *server)
{
    for (size_t i = 0; i < server->n_conns; i++)
        ke_conn_free(server->conns[i]);
    server->n_conns = 0;
    for (size_t i = 0; i < server->n_ntp; i++)
        close(server->ntp[i].fd);
    if (server->ke_listen_fd >= 0)
        close(server->ke_listen_fd);
    if (server->signal_fd >= 0)
        close(server->signal_fd);
    if (server->ke.priority != NULL)
        gnutls_priority_deinit(server->ke.priority);
    if (server->ke.credentials != NULL)
        gnutls_certificate_free_credentials(server->ke.credentials);
    gnutls_global_deinit();
}

int main(int argc, char **argv)
{
    static struct server server;
    server.ke_listen_fd = -1;
    server.signal_fd = -1;
    if (!parse_options(argc, argv, &server.options))
        return 2;
    server_log_set_quiet(server.options.quiet);
    server.ke.behaviour = server.options.behaviour;

    int status = 1;
    uint16_t ke_port, ntp_port, other_port;
    if (gnutls_global_init() < 0) {
        fprintf(stderr, "gnomon-test-nts-server: gnutls_global_init failed\n");
        return 1;
    }
    server.signal_fd = setup_signals();
    if (server.signal_fd < 0) {
        perror("gnomon-test-nts-server: signals");
        goto out;
    }
    if (!server_cookie_init()) {
        fprintf(stderr, "gnomon-test-nts-server: no random master key\n");
        goto out;
    }
    if (!setup_tls(&server) || !setup_sockets(&server, &ke_port, &ntp_port, &other_port))
        goto out;

    if (other_port != 0)
        printf("{\"ke_port\": %u, \"ntp_port\": %u, \"pid\": %ld, \"other_ntp_port\": %u}\n",
               (unsigned)ke_port, (unsigned)ntp_port, (long)getpid(), (unsigned)other_port);
    else
        printf("{\"ke_port\": %u, \"ntp_port\": %u, \"pid\": %ld}\n", (unsigned)ke_port,
               (unsigned)ntp_port, (long)getpid());
    if (fflush(stdout) != 0) {
        perror("gnomon-test-nts-server: cannot write the ports");
        goto out;
    }
    server_log("%s on %s: NTS-KE TCP %u, NTP UDP %u%s, offset %" PRId64 " ns",
               behaviour_name(server.options.behaviour), server.options.address, (unsigned)ke_port,
               (unsigned)ntp_port, other_port != 0 ? " (silent)" : "", server.options.offset_ns);
    if (other_port != 0)
        server_log("ke-other-port: NTP served on UDP %u, named in the KE Port record",
                   (unsigned)other_port);
    status = run(&server);
out:
    cleanup(&server);
    return status;
}
