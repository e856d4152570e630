/* The one way a gnomon-test-nts-server run misbehaves (--behaviour NAME), and which side of
 * the protocol (NTS-KE or NTP) each behaviour touches. */
#ifndef GNOMON_TEST_SERVER_BEHAVIOUR_H
#define GNOMON_TEST_SERVER_BEHAVIOUR_H

#include <stdbool.h>

enum behaviour {
    BEHAVIOUR_HONEST = 0,
    BEHAVIOUR_LIE,
    /* NTP side */
    BEHAVIOUR_WRONG_UID,
    BEHAVIOUR_BAD_TAG,
    BEHAVIOUR_ZERO_NONCE,
    BEHAVIOUR_SHORT_NONCE_UNPADDED,
    BEHAVIOUR_REPLAY,
    BEHAVIOUR_NAK,
    BEHAVIOUR_NO_COOKIES,
    BEHAVIOUR_RATE,
    BEHAVIOUR_UNSYNCHRONIZED,
    BEHAVIOUR_SILENT,
    /* NTS-KE side */
    BEHAVIOUR_KE_NO_COOKIES,
    BEHAVIOUR_KE_MALFORMED,
    BEHAVIOUR_KE_OVERSIZED,
    BEHAVIOUR_KE_ERROR,
    BEHAVIOUR_KE_UNKNOWN_CRITICAL,
    BEHAVIOUR_KE_WRONG_AEAD,
    BEHAVIOUR_TLS12_ONLY,
    BEHAVIOUR_WRONG_ALPN,
    BEHAVIOUR_STALL_HANDSHAKE,
    BEHAVIOUR_STALL_AFTER_HANDSHAKE,
    BEHAVIOUR_KE_OTHER_PORT,
    BEHAVIOUR_COUNT,
};

/* false when name is not a behaviour. */
bool behaviour_from_name(const char *name, enum behaviour *out);

const char *behaviour_name(enum behaviour behaviour);

/* One line per behaviour, for --help. */
const char *behaviour_description(enum behaviour behaviour);

#endif
