/* AEAD_AES_SIV_CMAC_256 (RFC 5297, NTS's mandatory AEAD, ID 15) through GnuTLS.
 * The wrapper exists so that no caller can hand GnuTLS an empty nonce: GnuTLS 3.7.9
 * aborts the whole process on one (nts-notes.md), and a server chooses a reply's nonce.
 * Output layout is NTS's: the 16-byte SIV tag, then the ciphertext. */
#ifndef GNOMON_CORE_AES_SIV_H
#define GNOMON_CORE_AES_SIV_H

#include <stddef.h>
#include <stdint.h>

#define AES_SIV_KEY_LEN       32
#define AES_SIV_TAG_LEN       16
/* Nonce bounds we accept: at least one byte (see above); at most what fits a packet. */
#define AES_SIV_NONCE_MIN_LEN 1
#define AES_SIV_NONCE_MAX_LEN 1024

enum aes_siv_error {
    AES_SIV_OK = 0,
    AES_SIV_ERR_NONCE_LENGTH,   /* empty or over AES_SIV_NONCE_MAX_LEN */
    AES_SIV_ERR_TOO_SHORT,      /* ciphertext shorter than the tag */
    AES_SIV_ERR_AUTHENTICATION, /* tag does not verify: forged or corrupted */
    AES_SIV_ERR_INTERNAL,       /* GnuTLS refused (out of memory, bad key) */
};

/* out must hold plain_len + AES_SIV_TAG_LEN bytes. */
enum aes_siv_error aes_siv_encrypt(const uint8_t key[AES_SIV_KEY_LEN], const uint8_t *nonce,
                                   size_t nonce_len, const uint8_t *ad, size_t ad_len,
                                   const uint8_t *plain, size_t plain_len, uint8_t *out);

/* out must hold cipher_len - AES_SIV_TAG_LEN bytes; on error nothing in out is valid. */
enum aes_siv_error aes_siv_decrypt(const uint8_t key[AES_SIV_KEY_LEN], const uint8_t *nonce,
                                   size_t nonce_len, const uint8_t *ad, size_t ad_len,
                                   const uint8_t *cipher, size_t cipher_len, uint8_t *out);

const char *aes_siv_error_str(enum aes_siv_error error);

#endif
