/* One NTS-KE connection of the test server: a non-blocking TLS session driven from the
 * poll loop (handshake, request, response, close), so a stalled client or a stalling
 * behaviour never holds up the NTP service or other connections. */
#ifndef GNOMON_TEST_SERVER_KE_CONN_H
#define GNOMON_TEST_SERVER_KE_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include "behaviour.h"

struct ke_config {
    enum behaviour behaviour;
    gnutls_certificate_credentials_t credentials;
    gnutls_priority_t priority;
    uint16_t port_record; /* NTPv4 Port record to send, 0 for none */
};

struct ke_conn;

/* Takes ownership of fd (connected, non-blocking). NULL when out of memory or TLS setup
 * failed (fd is closed then). now_ms: CLOCK_MONOTONIC milliseconds. */
struct ke_conn *ke_conn_new(int fd, unsigned id, const struct ke_config *config, int64_t now_ms);

/* Runs the connection as far as it goes without blocking. */
void ke_conn_step(struct ke_conn *conn, int64_t now_ms);

/* Ends the connection if its deadline passed. */
void ke_conn_check_deadline(struct ke_conn *conn, int64_t now_ms);

int ke_conn_fd(const struct ke_conn *conn);
short ke_conn_events(const struct ke_conn *conn); /* POLLIN or POLLOUT */
int64_t ke_conn_deadline(const struct ke_conn *conn);
bool ke_conn_done(const struct ke_conn *conn);

void ke_conn_free(struct ke_conn *conn);

#endif
