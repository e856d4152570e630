/* libFuzzer target: the readers of the files gnomon keeps between runs, on bytes, through the
 * parse halves their loaders call after reading a file. The first input byte picks one:
 *   0: the agent's agent.json        (agent/daemon/state-store.c, state_store_parse_agent)
 *   1: a source's source-NAME.json   (state_store_parse_source: keys and cookies)
 *   2: the helper's boot.json        (agent/helper/helper-state.c, helper_store_parse_boot)
 *   3: the helper's floor file       (helper_store_parse_floor)
 * What loads must satisfy what the readers promise; a boot record that loads is then fed to
 * the helper's rules (helper-policy.c), which must cope with any state a file can give. */
#include <glib.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-target.h"
#include "helper-policy.h"
#include "helper-state.h"
#include "state-store.h"

#define MACHINE_ID    "0123456789abcdef0123456789abcdef"
#define BOOT_ID       "01234567-89ab-cdef-0123-456789abcdef"
#define HOST          "nts.example.net"
#define PORT          4460
#define MAX_UNIX_TIME INT64_C(253402300799)
#define BUILD_DATE_NS (INT64_C(1764000000) * NS_PER_SEC)

static void check_message(const GError *error)
{
    if (error == NULL || error->domain != STATE_STORE_ERROR || strchr(error->message, '\n'))
        abort();
}

static void fuzz_agent(const char *data, size_t size)
{
    struct state_agent agent;
    GError *error = NULL;
    if (!state_store_parse_agent("agent.json", data, size, MACHINE_ID, BOOT_ID, &agent, &error)) {
        check_message(error);
        g_error_free(error);
        if (agent.boot_id != NULL)
            abort(); /* cleared on failure */
        return;
    }
    if (!isfinite(agent.frequency_ppm) || fabs(agent.frequency_ppm) > 500.0 ||
        agent.time_floor_unix < 0 || agent.time_floor_unix > MAX_UNIX_TIME ||
        agent.last_sync_unix < 0 || agent.last_sync_unix > MAX_UNIX_TIME || agent.boot_id == NULL ||
        strlen(agent.boot_id) != strlen(BOOT_ID) ||
        (agent.boot_window_closed && strcmp(agent.boot_id, BOOT_ID) != 0))
        abort();
    state_agent_clear(&agent);
}

static void fuzz_source(const char *data, size_t size)
{
    struct state_source source;
    GError *error = NULL;
    if (!state_store_parse_source("source-a.json", data, size, MACHINE_ID, HOST, PORT, &source,
                                  &error)) {
        check_message(error);
        g_error_free(error);
        if (source.host != NULL || source.ntp_server != NULL || source.n_cookies != 0)
            abort();
        return;
    }
    if (source.host == NULL || g_ascii_strcasecmp(source.host, HOST) != 0 || source.port != PORT ||
        source.ntp_server == NULL || *source.ntp_server == '\0' || source.ntp_port == 0 ||
        source.key_exchange_time_unix < 0 || source.key_exchange_time_unix > MAX_UNIX_TIME ||
        source.n_cookies > NTS_MAX_COOKIES)
        abort();
    for (size_t i = 0; i < source.n_cookies; i++) {
        size_t len = source.cookies[i].len;
        if (len == 0 || len > NTS_COOKIE_MAX_LEN || len % 4 != 0)
            abort();
        for (size_t j = 0; j < i; j++) {
            if (source.cookies[j].len == len &&
                memcmp(source.cookies[j].data, source.cookies[i].data, len) == 0)
                abort(); /* a cookie twice would be sent twice */
        }
    }
    state_source_clear(&source);
}

static void check_warnings(const GPtrArray *warnings)
{
    for (guint i = 0; i < warnings->len; i++) {
        if (strchr(warnings->pdata[i], '\n') != NULL)
            abort();
    }
}

/* Every request kind against STATE: the rules must neither crash nor overflow. */
static void exercise_policy(const struct helper_policy_state *loaded)
{
    const struct helper_limits limits = helper_limits_default();
    const struct helper_now now = {.time_ns = BUILD_DATE_NS + 1000 * NS_PER_SEC,
                                   .boottime_ns = 7200 * NS_PER_SEC};
    const struct helper_request requests[] = {
        {.method = HELPER_METHOD_SLEW, .offset_ns = NS_PER_SEC / 10},
        {.method = HELPER_METHOD_STEP,
         .offset_ns = 5 * NS_PER_SEC,
         .measured_boottime_ns = 7199 * NS_PER_SEC,
         .request_id = "fuzz-1"},
        {.method = HELPER_METHOD_SET_FREQUENCY, .ppm = 12.5},
        {.method = HELPER_METHOD_STEP_TO_FLOOR},
        {.method = HELPER_METHOD_APPROVE_STEP, .offset_ns = -3600 * NS_PER_SEC},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(requests); i++) {
        struct helper_policy_state state = *loaded;
        (void)helper_policy_floor_ns(&state);
        (void)helper_policy_ceiling_ns(&state, &limits);
        helper_policy_expire(&state, now.boottime_ns);
        struct helper_decision d = helper_policy_decide(&limits, &state, &requests[i], &now);
        if ((unsigned)d.rule >= HELPER_N_RULES)
            abort();
        helper_policy_commit(&state, &limits, &requests[i], &d, &now);
        if (state.n_steps > HELPER_POLICY_MAX_STEPS || state.n_slews > HELPER_POLICY_MAX_SLEWS ||
            state.n_requests > HELPER_POLICY_MAX_REQUESTS ||
            state.next_request >= HELPER_POLICY_MAX_REQUESTS)
            abort();
    }
}

static void fuzz_boot(const char *data, size_t size)
{
    struct helper_policy_state state;
    helper_policy_state_init(&state, BUILD_DATE_NS, INT64_MIN);
    GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
    helper_store_parse_boot("/run/gnomon-helper/boot.json", BOOT_ID, data, size, &state, warnings);
    check_warnings(warnings);
    if (state.n_steps > HELPER_POLICY_MAX_STEPS || state.n_slews > HELPER_POLICY_MAX_SLEWS ||
        state.n_requests > HELPER_POLICY_MAX_REQUESTS ||
        state.next_request >= HELPER_POLICY_MAX_REQUESTS || state.build_date_ns != BUILD_DATE_NS ||
        state.own_floor_ns != INT64_MIN)
        abort();
    for (size_t i = 0; i < state.n_requests; i++) {
        if (!helper_request_id_is_valid(state.requests[i].id) ||
            (unsigned)state.requests[i].rule >= HELPER_N_RULES)
            abort();
    }
    if (state.has_last_request && !helper_request_id_is_valid(state.last_request.id))
        abort();
    /* At most one warning; a damaged record closes the boot window (failing closed). */
    if (warnings->len > 1 ||
        (warnings->len == 1 && strstr(warnings->pdata[0], "damaged") && state.boot_window_open))
        abort();
    g_ptr_array_unref(warnings);
    exercise_policy(&state);
}

static void fuzz_floor(const char *data, size_t size)
{
    GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
    gint64 floor_ns = 0;
    gboolean ok =
        helper_store_parse_floor("/var/lib/gnomon-helper/floor", data, size, &floor_ns, warnings);
    check_warnings(warnings);
    if (ok ? warnings->len != 0 || floor_ns % NS_PER_SEC != 0 : warnings->len != 1)
        abort();
    g_ptr_array_unref(warnings);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size--;
    switch (data[0] % 4) {
    case 0:
        fuzz_agent(text, size);
        break;
    case 1:
        fuzz_source(text, size);
        break;
    case 2:
        fuzz_boot(text, size);
        break;
    default:
        fuzz_floor(text, size);
        break;
    }
    return 0;
}
