/* Keys for NTS from the TLS session (RFC 8915 §5.1): the exporter label and the context
 * that tells the client-to-server key from the server-to-client one. */
#ifndef GNOMON_CORE_NTS_KE_KEYS_H
#define GNOMON_CORE_NTS_KE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define NTS_KE_EXPORTER_LABEL  "EXPORTER-network-time-security"
#define NTS_KE_KEY_CONTEXT_LEN 5

enum nts_key_direction {
    NTS_KEY_C2S = 0,
    NTS_KEY_S2C = 1,
};

/* protocol ID (2 bytes) || AEAD ID (2 bytes) || direction (1 byte), big-endian. */
void nts_ke_key_context(uint16_t protocol, uint16_t aead, enum nts_key_direction direction,
                        uint8_t out[NTS_KE_KEY_CONTEXT_LEN]);

#endif
