#include "source-store.h"

#include <string.h>

static gboolean forget(StateStore *store, struct source *source)
{
    g_autoptr(GError) error = NULL;
    if (state_store_forget_source(store, source_name(source), &error) ||
        g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_NOT_FOUND))
        return TRUE;
    g_warning("%s", error->message);
    return FALSE;
}

gboolean source_store_save(StateStore *store, struct source *source)
{
    const struct source_credentials *creds = source_get_credentials(source);
    if (!creds->valid || creds->jar.count == 0)
        return forget(store, source);
    struct state_source st = {
        .host = (char *)source_host(source),
        .port = source_port(source),
        .ntp_server = (char *)creds->ntp_server,
        .ntp_port = creds->ntp_port,
        .key_exchange_time_unix = creds->key_exchange_time_unix,
        .n_cookies = creds->jar.count,
    };
    memcpy(st.c2s_key, creds->c2s_key, sizeof(st.c2s_key));
    memcpy(st.s2c_key, creds->s2c_key, sizeof(st.s2c_key));
    memcpy(st.cookies, creds->jar.cookies, sizeof(st.cookies));
    g_autoptr(GError) error = NULL;
    gboolean ok = state_store_save_source(store, source_name(source), &st, &error);
    explicit_bzero(&st, sizeof(st));
    if (ok)
        return TRUE;
    g_warning("%s", error->message);
    /* Without a current file no stored cookie can be sent twice either. */
    return forget(store, source);
}

gboolean source_store_load(StateStore *store, struct source *source)
{
    struct state_source st = {0};
    g_autoptr(GError) error = NULL;
    if (!state_store_load_source(store, source_name(source), source_host(source),
                                 source_port(source), &st, &error)) {
        if (!g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_NOT_FOUND))
            g_warning("ignoring stored keys: %s", error->message);
        return FALSE;
    }
    struct source_credentials creds = {
        .valid = TRUE,
        .ntp_port = st.ntp_port,
        .key_exchange_time_unix = st.key_exchange_time_unix,
    };
    memcpy(creds.c2s_key, st.c2s_key, sizeof(creds.c2s_key));
    memcpy(creds.s2c_key, st.s2c_key, sizeof(creds.s2c_key));
    g_strlcpy(creds.ntp_server, st.ntp_server ? st.ntp_server : source_host(source),
              sizeof(creds.ntp_server));
    cookie_jar_init(&creds.jar);
    for (size_t i = 0; i < st.n_cookies; i++)
        cookie_jar_add(&creds.jar, &st.cookies[i]);
    gboolean usable = creds.jar.count > 0;
    source_set_credentials(source, &creds);
    explicit_bzero(&creds, sizeof(creds));
    state_source_clear(&st);
    return usable;
}
