/* Errors of gnomon's network layer: one GError domain, one code per way a source can
 * fail, so status and tests can tell them apart. Messages name the host and the cause. */
#ifndef GNOMON_NET_ERROR_H
#define GNOMON_NET_ERROR_H

#include <glib.h>

#define GNOMON_NET_ERROR (gnomon_net_error_quark())
GQuark gnomon_net_error_quark(void);

enum gnomon_net_error {
    GNOMON_NET_ERROR_RESOLVE,          /* name resolution failed */
    GNOMON_NET_ERROR_CONNECT,          /* no address accepted a TCP connection */
    GNOMON_NET_ERROR_TLS,              /* TLS handshake or record layer failed */
    GNOMON_NET_ERROR_CERTIFICATE,      /* certificate not trusted or not for this host */
    GNOMON_NET_ERROR_CERTIFICATE_TIME, /* certificate failed only on its validity period */
    GNOMON_NET_ERROR_ALPN,             /* server did not agree to ntske/1 */
    GNOMON_NET_ERROR_TIMEOUT,          /* no answer in time */
    GNOMON_NET_ERROR_CLOSED,           /* connection closed before End of Message */
    GNOMON_NET_ERROR_KE_PROTOCOL,      /* NTS-KE response broke a rule */
    GNOMON_NET_ERROR_KE_SERVER,        /* the server sent an Error or Warning record */
    GNOMON_NET_ERROR_NTP_AUTH,         /* replies came, none authenticated */
    GNOMON_NET_ERROR_NTP_NAK,          /* the server refused our cookie (NTS NAK) */
    GNOMON_NET_ERROR_NTP_KISS,         /* an authenticated kiss code (RATE, DENY, ...) */
    GNOMON_NET_ERROR_NTP_BAD_REPLY,    /* authenticated, but the server has no good time */
    GNOMON_NET_ERROR_SOCKET,           /* a local socket call failed */
    GNOMON_NET_ERROR_NO_COOKIES,       /* the cookie jar is empty */
};

#endif
