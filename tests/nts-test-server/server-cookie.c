#include "server-cookie.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "nts-ke-records.h"

static uint8_t master_key[AES_SIV_KEY_LEN];
static bool have_master_key;

/* Binds a cookie to the AEAD its keys are for. */
static const uint8_t cookie_ad[] = {0x00, NTS_KE_AEAD_AES_SIV_CMAC_256};

bool server_random(void *buf, size_t len)
{
    return gnutls_rnd(GNUTLS_RND_RANDOM, buf, len) == 0;
}

bool server_cookie_init(void)
{
    have_master_key = gnutls_rnd(GNUTLS_RND_KEY, master_key, sizeof(master_key)) == 0;
    return have_master_key;
}

bool server_cookie_seal(const struct server_keys *keys, struct nts_cookie *out)
{
    if (!have_master_key)
        return false;
    uint8_t plain[2 * AES_SIV_KEY_LEN];
    memcpy(plain, keys->c2s, AES_SIV_KEY_LEN);
    memcpy(plain + AES_SIV_KEY_LEN, keys->s2c, AES_SIV_KEY_LEN);
    if (!server_random(out->data, SERVER_COOKIE_NONCE_LEN))
        return false;
    if (aes_siv_encrypt(master_key, out->data, SERVER_COOKIE_NONCE_LEN, cookie_ad,
                        sizeof(cookie_ad), plain, sizeof(plain),
                        out->data + SERVER_COOKIE_NONCE_LEN) != AES_SIV_OK)
        return false;
    out->len = SERVER_COOKIE_LEN;
    return true;
}

bool server_cookie_open(const uint8_t *cookie, size_t len, struct server_keys *out)
{
    if (!have_master_key || len != SERVER_COOKIE_LEN)
        return false;
    uint8_t plain[2 * AES_SIV_KEY_LEN];
    if (aes_siv_decrypt(master_key, cookie, SERVER_COOKIE_NONCE_LEN, cookie_ad, sizeof(cookie_ad),
                        cookie + SERVER_COOKIE_NONCE_LEN, len - SERVER_COOKIE_NONCE_LEN,
                        plain) != AES_SIV_OK)
        return false;
    memcpy(out->c2s, plain, AES_SIV_KEY_LEN);
    memcpy(out->s2c, plain + AES_SIV_KEY_LEN, AES_SIV_KEY_LEN);
    return true;
}
