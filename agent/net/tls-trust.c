#include "tls-trust.h"

#include "net-error.h"

struct tls_trust {
    gint refs;
    gnutls_certificate_credentials_t credentials;
    char *description;
};

struct tls_trust *tls_trust_new(const char *ca_file, GError **error)
{
    gnutls_certificate_credentials_t credentials;
    int rc = gnutls_certificate_allocate_credentials(&credentials);
    if (rc < 0) {
        g_set_error(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_TLS,
                    "cannot allocate TLS credentials: %s", gnutls_strerror(rc));
        return NULL;
    }
    if (ca_file == NULL || ca_file[0] == '\0') {
        rc = gnutls_certificate_set_x509_system_trust(credentials);
        if (rc <= 0) {
            g_set_error(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_CERTIFICATE,
                        "the system trust store has no certificates%s%s", rc < 0 ? ": " : "",
                        rc < 0 ? gnutls_strerror(rc) : "");
            gnutls_certificate_free_credentials(credentials);
            return NULL;
        }
    } else {
        rc = gnutls_certificate_set_x509_trust_file(credentials, ca_file, GNUTLS_X509_FMT_PEM);
        if (rc <= 0) {
            g_set_error(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_CERTIFICATE,
                        "cannot load trusted certificates from %s: %s", ca_file,
                        rc < 0 ? gnutls_strerror(rc) : "no certificate in the file");
            gnutls_certificate_free_credentials(credentials);
            return NULL;
        }
    }
    struct tls_trust *trust = g_new0(struct tls_trust, 1);
    trust->refs = 1;
    trust->credentials = credentials;
    trust->description = g_strdup(ca_file && ca_file[0] ? ca_file : "the system trust store");
    return trust;
}

struct tls_trust *tls_trust_ref(struct tls_trust *trust)
{
    g_atomic_int_inc(&trust->refs);
    return trust;
}

void tls_trust_unref(struct tls_trust *trust)
{
    if (trust == NULL || !g_atomic_int_dec_and_test(&trust->refs))
        return;
    gnutls_certificate_free_credentials(trust->credentials);
    g_free(trust->description);
    g_free(trust);
}

gnutls_certificate_credentials_t tls_trust_credentials(const struct tls_trust *trust)
{
    return trust->credentials;
}

const char *tls_trust_describe(const struct tls_trust *trust)
{
    return trust->description;
}

GHashTable *tls_trust_cache_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)tls_trust_unref);
}

struct tls_trust *tls_trust_cache_get(GHashTable *cache, const char *ca_file, GError **error)
{
    const char *key = ca_file ? ca_file : "";
    struct tls_trust *trust = g_hash_table_lookup(cache, key);
    if (trust == NULL) {
        trust = tls_trust_new(ca_file, error);
        if (trust == NULL)
            return NULL;
        g_hash_table_insert(cache, g_strdup(key), trust);
    }
    return trust;
}
