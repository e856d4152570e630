/* The test server's cookies (RFC 8915 §6): the session's two keys sealed with AES-SIV under
 * a master key made at start, so any cookie the process made opens again without state.
 * cookie = nonce (16) || SIV tag (16) || encrypted C2S key || encrypted S2C key. */
#ifndef GNOMON_TEST_SERVER_COOKIE_H
#define GNOMON_TEST_SERVER_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aes-siv.h"
#include "nts-cookie.h"

#define SERVER_COOKIE_NONCE_LEN 16
#define SERVER_COOKIE_LEN       (SERVER_COOKIE_NONCE_LEN + AES_SIV_TAG_LEN + 2 * AES_SIV_KEY_LEN)

struct server_keys {
    uint8_t c2s[AES_SIV_KEY_LEN];
    uint8_t s2c[AES_SIV_KEY_LEN];
};

/* Draws the master key; false if the random generator failed. */
bool server_cookie_init(void);

/* Seals keys into a fresh cookie (random nonce). */
bool server_cookie_seal(const struct server_keys *keys, struct nts_cookie *out);

/* Opens a cookie this process made; false for anything else. */
bool server_cookie_open(const uint8_t *cookie, size_t len, struct server_keys *out);

/* Random bytes for nonces and the like (GnuTLS's generator); false on failure. */
bool server_random(void *buf, size_t len);

#endif
