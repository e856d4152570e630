/* The certificates an NTS-KE session trusts: the system store or one CA file, loaded
 * once and shared by every session that names the same trust (refcounted). */
#ifndef GNOMON_NET_TLS_TRUST_H
#define GNOMON_NET_TLS_TRUST_H

#include <glib.h>
#include <gnutls/gnutls.h>

struct tls_trust;

/* ca_file NULL or "" = the system trust store. */
struct tls_trust *tls_trust_new(const char *ca_file, GError **error);
struct tls_trust *tls_trust_ref(struct tls_trust *trust);
void tls_trust_unref(struct tls_trust *trust);
gnutls_certificate_credentials_t tls_trust_credentials(const struct tls_trust *trust);
const char *tls_trust_describe(const struct tls_trust *trust);

/* One trust per CA file (NULL or "" = the system store), loaded on first use. */
GHashTable *tls_trust_cache_new(void);
struct tls_trust *tls_trust_cache_get(GHashTable *cache, const char *ca_file, GError **error);

#endif
