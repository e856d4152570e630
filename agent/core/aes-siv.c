#include "aes-siv.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

static enum aes_siv_error check_nonce(size_t nonce_len)
{
    /* GnuTLS 3.7.9 aborts the process (an assertion in nettle's SIV code) on an empty
     * nonce, and a server chooses the nonce length of its reply: refuse it here. */
    if (nonce_len < AES_SIV_NONCE_MIN_LEN || nonce_len > AES_SIV_NONCE_MAX_LEN)
        return AES_SIV_ERR_NONCE_LENGTH;
    return AES_SIV_OK;
}

static enum aes_siv_error open_cipher(const uint8_t key[AES_SIV_KEY_LEN],
                                      gnutls_aead_cipher_hd_t *handle)
{
    gnutls_datum_t key_datum = {(unsigned char *)key, AES_SIV_KEY_LEN};
    /* GNUTLS_CIPHER_AES_128_SIV is AEAD_AES_SIV_CMAC_256: the name counts one of the two
     * 128-bit keys, NTS's ID counts both. */
    if (gnutls_aead_cipher_init(handle, GNUTLS_CIPHER_AES_128_SIV, &key_datum) < 0)
        return AES_SIV_ERR_INTERNAL;
    return AES_SIV_OK;
}

enum aes_siv_error aes_siv_encrypt(const uint8_t key[AES_SIV_KEY_LEN], const uint8_t *nonce,
                                   size_t nonce_len, const uint8_t *ad, size_t ad_len,
                                   const uint8_t *plain, size_t plain_len, uint8_t *out)
{
    enum aes_siv_error error = check_nonce(nonce_len);
    if (error != AES_SIV_OK)
        return error;
    gnutls_aead_cipher_hd_t handle;
    error = open_cipher(key, &handle);
    if (error != AES_SIV_OK)
        return error;
    size_t out_len = plain_len + AES_SIV_TAG_LEN;
    int rc = gnutls_aead_cipher_encrypt(handle, nonce, nonce_len, ad, ad_len, AES_SIV_TAG_LEN,
                                        plain, plain_len, out, &out_len);
    gnutls_aead_cipher_deinit(handle);
    if (rc < 0 || out_len != plain_len + AES_SIV_TAG_LEN)
        return AES_SIV_ERR_INTERNAL;
    return AES_SIV_OK;
}

enum aes_siv_error aes_siv_decrypt(const uint8_t key[AES_SIV_KEY_LEN], const uint8_t *nonce,
                                   size_t nonce_len, const uint8_t *ad, size_t ad_len,
                                   const uint8_t *cipher, size_t cipher_len, uint8_t *out)
{
    enum aes_siv_error error = check_nonce(nonce_len);
    if (error != AES_SIV_OK)
        return error;
    if (cipher_len < AES_SIV_TAG_LEN)
        return AES_SIV_ERR_TOO_SHORT;
    gnutls_aead_cipher_hd_t handle;
    error = open_cipher(key, &handle);
    if (error != AES_SIV_OK)
        return error;
    size_t out_len = cipher_len - AES_SIV_TAG_LEN;
    int rc = gnutls_aead_cipher_decrypt(handle, nonce, nonce_len, ad, ad_len, AES_SIV_TAG_LEN,
                                        cipher, cipher_len, out, &out_len);
    gnutls_aead_cipher_deinit(handle);
    if (rc == GNUTLS_E_DECRYPTION_FAILED)
        return AES_SIV_ERR_AUTHENTICATION;
    if (rc < 0 || out_len != cipher_len - AES_SIV_TAG_LEN)
        return AES_SIV_ERR_INTERNAL;
    return AES_SIV_OK;
}

const char *aes_siv_error_str(enum aes_siv_error error)
{
    switch (error) {
    case AES_SIV_OK:
        return "no error";
    case AES_SIV_ERR_NONCE_LENGTH:
        return "AEAD nonce empty or too long";
    case AES_SIV_ERR_TOO_SHORT:
        return "AEAD ciphertext shorter than its tag";
    case AES_SIV_ERR_AUTHENTICATION:
        return "AEAD authentication failed";
    case AES_SIV_ERR_INTERNAL:
        return "AEAD cipher failed";
    }
    return "unknown AEAD error";
}
