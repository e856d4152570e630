#include "behaviour.h"

#include <string.h>

static const struct {
    const char *name;
    const char *description;
} behaviours[BEHAVIOUR_COUNT] = {
    [BEHAVIOUR_HONEST] = {"honest", "a correct NTS server"},
    [BEHAVIOUR_LIE] = {"lie", "correct, but reports the time shifted by --offset-ns"},
    [BEHAVIOUR_WRONG_UID] = {"wrong-uid", "authenticated reply echoing a different UID"},
    [BEHAVIOUR_BAD_TAG] = {"bad-tag", "reply whose SIV tag has one bit flipped"},
    [BEHAVIOUR_ZERO_NONCE] = {"zero-nonce", "reply whose authenticator nonce length is 0"},
    [BEHAVIOUR_SHORT_NONCE_UNPADDED] = {"short-nonce-unpadded",
                                        "12-byte reply nonce without Additional Padding"},
    [BEHAVIOUR_REPLAY] = {"replay", "answers every request with the first reply it sent"},
    [BEHAVIOUR_NAK] = {"nak", "answers every request with an NTS NAK"},
    [BEHAVIOUR_NO_COOKIES] = {"no-cookies", "authenticated reply without new cookies"},
    [BEHAVIOUR_RATE] = {"rate", "authenticated RATE kiss-o'-death"},
    [BEHAVIOUR_UNSYNCHRONIZED] = {"unsynchronized", "authenticated reply with leap indicator 3"},
    [BEHAVIOUR_SILENT] = {"silent", "never answers NTP requests"},
    [BEHAVIOUR_KE_NO_COOKIES] = {"ke-no-cookies", "NTS-KE response without New Cookie records"},
    [BEHAVIOUR_KE_MALFORMED] = {"ke-malformed",
                                "NTS-KE record whose length runs past the end, then close"},
    [BEHAVIOUR_KE_OVERSIZED] = {"ke-oversized",
                                "over 64 KiB of NTS-KE records without End of Message"},
    [BEHAVIOUR_KE_ERROR] = {"ke-error", "NTS-KE Error record, code 1 (bad request)"},
    [BEHAVIOUR_KE_UNKNOWN_CRITICAL] = {"ke-unknown-critical",
                                       "NTS-KE response with an unknown critical record"},
    [BEHAVIOUR_KE_WRONG_AEAD] = {"ke-wrong-aead", "NTS-KE response choosing AEAD 30, not offered"},
    [BEHAVIOUR_TLS12_ONLY] = {"tls12-only", "TLS server offering only TLS 1.2"},
    [BEHAVIOUR_WRONG_ALPN] = {"wrong-alpn",
                              "TLS server speaking http/1.1 only: no ALPN is negotiated"},
    [BEHAVIOUR_STALL_HANDSHAKE] = {"stall-handshake", "reads the ClientHello and never answers it"},
    [BEHAVIOUR_STALL_AFTER_HANDSHAKE] = {"stall-after-handshake",
                                         "completes TLS, reads the request, never responds"},
    [BEHAVIOUR_KE_OTHER_PORT] = {"ke-other-port",
                                 "NTS-KE names a second NTP port; the first stays silent"},
};

bool behaviour_from_name(const char *name, enum behaviour *out)
{
    for (int i = 0; i < BEHAVIOUR_COUNT; i++) {
        if (strcmp(name, behaviours[i].name) == 0) {
            *out = (enum behaviour)i;
            return true;
        }
    }
    return false;
}

const char *behaviour_name(enum behaviour behaviour)
{
    if ((unsigned)behaviour >= BEHAVIOUR_COUNT)
        return "?";
    return behaviours[behaviour].name;
}

const char *behaviour_description(enum behaviour behaviour)
{
    if ((unsigned)behaviour >= BEHAVIOUR_COUNT)
        return "?";
    return behaviours[behaviour].description;
}
