#include "nts-ke-keys.h"

#include "byte-order.h"

void nts_ke_key_context(uint16_t protocol, uint16_t aead, enum nts_key_direction direction,
                        uint8_t out[NTS_KE_KEY_CONTEXT_LEN])
{
    write_be16(out, protocol);
    write_be16(out + 2, aead);
    out[4] = direction == NTS_KEY_S2C ? 1 : 0;
}
