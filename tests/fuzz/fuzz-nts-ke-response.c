/* libFuzzer target: the NTS-KE response parser (agent/core/nts-ke-records.c), which reads
 * whatever a TLS peer sends. It must never crash, read out of bounds or hang, and its
 * result must be self-consistent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-target.h"
#include "nts-ke-records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nts_ke_response response;
    enum nts_ke_error error = nts_ke_response_parse(data, size, &response);
    if (error == NTS_KE_OK) {
        /* What the parser promises on success. */
        if (response.n_cookies == 0 || response.n_cookies > NTS_MAX_COOKIES ||
            response.protocol != NTS_KE_PROTOCOL_NTPV4 ||
            response.aead != NTS_KE_AEAD_AES_SIV_CMAC_256)
            abort();
        for (size_t i = 0; i < response.n_cookies; i++) {
            if (response.cookies[i].len == 0 || response.cookies[i].len > NTS_COOKIE_MAX_LEN)
                abort();
        }
        if (response.has_server && strlen(response.server) > NTS_KE_MAX_SERVER_LEN)
            abort();
    }
    (void)nts_ke_error_str(error);
    /* Parsing every prefix must never report success before the whole message. */
    if (size > 0 && error == NTS_KE_OK &&
        nts_ke_response_parse(data, size - 1, &response) == NTS_KE_OK)
        abort();
    return 0;
}
