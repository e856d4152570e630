/* Tests agent/core/aes-siv.c against known answers from an independent implementation
 * (vectors/make-aes-siv-vectors.py), and its refusal of the nonces GnuTLS cannot take. */
#include <check.h>
#include <string.h>

#include "aes-siv.h"
#include "check-main.h"
#include "vectors/aes-siv-vectors.h"

#define N_VECTORS (sizeof(aes_siv_vectors) / sizeof(aes_siv_vectors[0]))

START_TEST(test_known_answers_encrypt)
{
    const struct aes_siv_vector *v = &aes_siv_vectors[_i];
    uint8_t out[sizeof(v->output)];
    ck_assert_int_eq(aes_siv_encrypt(v->key, v->nonce, v->nonce_len, v->ad, v->ad_len, v->plain,
                                     v->plain_len, out),
                     AES_SIV_OK);
    ck_assert_mem_eq(out, v->output, v->plain_len + AES_SIV_TAG_LEN);
}
END_TEST

START_TEST(test_known_answers_decrypt)
{
    const struct aes_siv_vector *v = &aes_siv_vectors[_i];
    uint8_t out[sizeof(v->plain) + 1];
    ck_assert_int_eq(aes_siv_decrypt(v->key, v->nonce, v->nonce_len, v->ad, v->ad_len, v->output,
                                     v->plain_len + AES_SIV_TAG_LEN, out),
                     AES_SIV_OK);
    if (v->plain_len > 0)
        ck_assert_mem_eq(out, v->plain, v->plain_len);
}
END_TEST

START_TEST(test_every_flipped_bit_rejected)
{
    const struct aes_siv_vector *v = &aes_siv_vectors[2]; /* 104-byte plaintext */
    size_t len = v->plain_len + AES_SIV_TAG_LEN;
    uint8_t cipher[sizeof(v->output)], ad[sizeof(v->ad)], out[sizeof(v->plain) + 1];
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(cipher, v->output, len);
        cipher[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_int_eq(
            aes_siv_decrypt(v->key, v->nonce, v->nonce_len, v->ad, v->ad_len, cipher, len, out),
            AES_SIV_ERR_AUTHENTICATION);
    }
    for (size_t bit = 0; bit < v->ad_len * 8; bit++) {
        memcpy(ad, v->ad, v->ad_len);
        ad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_int_eq(
            aes_siv_decrypt(v->key, v->nonce, v->nonce_len, ad, v->ad_len, v->output, len, out),
            AES_SIV_ERR_AUTHENTICATION);
    }
}
END_TEST

START_TEST(test_empty_nonce_refused_not_aborted)
{
    /* GnuTLS 3.7.9 aborts the process on this; the wrapper must stop it first. */
    const struct aes_siv_vector *v = &aes_siv_vectors[0];
    uint8_t out[64];
    ck_assert_int_eq(aes_siv_encrypt(v->key, v->nonce, 0, v->ad, v->ad_len, NULL, 0, out),
                     AES_SIV_ERR_NONCE_LENGTH);
    ck_assert_int_eq(
        aes_siv_decrypt(v->key, v->nonce, 0, v->ad, v->ad_len, v->output, AES_SIV_TAG_LEN, out),
        AES_SIV_ERR_NONCE_LENGTH);
}
END_TEST

START_TEST(test_huge_nonce_refused)
{
    static uint8_t nonce[AES_SIV_NONCE_MAX_LEN + 1];
    const struct aes_siv_vector *v = &aes_siv_vectors[0];
    uint8_t out[64];
    ck_assert_int_eq(aes_siv_decrypt(v->key, nonce, sizeof(nonce), v->ad, v->ad_len, v->output,
                                     AES_SIV_TAG_LEN, out),
                     AES_SIV_ERR_NONCE_LENGTH);
}
END_TEST

START_TEST(test_ciphertext_shorter_than_tag)
{
    const struct aes_siv_vector *v = &aes_siv_vectors[0];
    uint8_t out[64];
    ck_assert_int_eq(aes_siv_decrypt(v->key, v->nonce, v->nonce_len, v->ad, v->ad_len, v->output,
                                     AES_SIV_TAG_LEN - 1, out),
                     AES_SIV_ERR_TOO_SHORT);
}
END_TEST

START_TEST(test_wrong_key_rejected)
{
    const struct aes_siv_vector *v = &aes_siv_vectors[2];
    uint8_t key[AES_SIV_KEY_LEN], out[sizeof(v->plain)];
    memcpy(key, v->key, sizeof(key));
    key[31] ^= 1; /* the CTR half: S2V still fails since the plaintext changes */
    ck_assert_int_eq(aes_siv_decrypt(key, v->nonce, v->nonce_len, v->ad, v->ad_len, v->output,
                                     v->plain_len + AES_SIV_TAG_LEN, out),
                     AES_SIV_ERR_AUTHENTICATION);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("aes-siv");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_known_answers_encrypt, 0, (int)N_VECTORS);
    tcase_add_loop_test(tc, test_known_answers_decrypt, 0, (int)N_VECTORS);
    tcase_add_test(tc, test_every_flipped_bit_rejected);
    tcase_add_test(tc, test_empty_nonce_refused_not_aborted);
    tcase_add_test(tc, test_huge_nonce_refused);
    tcase_add_test(tc, test_ciphertext_shorter_than_tag);
    tcase_add_test(tc, test_wrong_key_rejected);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
