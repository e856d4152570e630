/* A soak in simulated time (issue "life on a laptop or VM"): the agent's core — poll-schedule,
 * cookie-jar, nts-packet (real AES-SIV both ways), ntp-offset, sample-filter, select and
 * discipline — runs day after day against four simulated NTS servers and a simulated
 * drifting clock, with the helper's dry-run contract (a slew is applied at once). No wall
 * time passes: a day takes a fraction of a second. What it shows:
 * - at most one NTS-KE per source per day, and none but the first within the key lifetime;
 * - polls per source as the poll adaptation predicts, never two closer than 2 s;
 * - every cookie sent once;
 * - the clock kept within a millisecond, the frequency error learnt;
 * - the heap flat from the first hour to the last (no leak per packet or per round). */
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "check-main.h"
#include "cookie-jar.h"
#include "discipline.h"
#include "nanoseconds.h"
#include "ntp-offset.h"
#include "ntp-time.h"
#include "nts-packet.h"
#include "nts-reply-builder.h"
#include "poll-schedule.h"
#include "sample-filter.h"
#include "select.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_FROM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_FROM_ASAN 1
#endif
#endif
#ifdef HEAP_FROM_ASAN
/* From ASan's runtime (sanitizer/allocator_interface.h, which gcc does not install). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#define N_SERVERS     4
#define SEC           NS_PER_SEC
#define HOUR          (INT64_C(3600) * SEC)
#define DAY           (INT64_C(24) * HOUR)
#define MIN_SPACING   (2 * SEC) /* clock-policy.md: samples from one server >= 2 s apart */
#define NTP_ATTEMPTS  3         /* as the agent: a lost packet is retried twice */
#define START_UNIX_NS (INT64_C(1800000000) * SEC)

/* Deterministic noise: runs are reproducible. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

static void random_bytes(uint64_t *state, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)next_random(state);
}

/* A server: its keys with the client, the cookies it issued, its clock's own error. */
struct sim_server {
    uint8_t c2s[AES_SIV_KEY_LEN];
    uint8_t s2c[AES_SIV_KEY_LEN];
    uint64_t cookie_serial;  /* the next cookie's number */
    int64_t error_ns;        /* its clock minus true time */
    unsigned loss_per_mille; /* packets lost on the way, either direction */
};

/* The client's side of one source, as agent.c and net/source.c hold it. */
struct sim_source {
    struct poll_schedule schedule;
    struct cookie_jar jar;
    bool have_keys;
    int64_t key_time_unix;
    struct sample_filter filter;
    char address[16];
    char operator_name[16];
    /* What the soak counts. */
    unsigned key_exchanges; /* made */
    unsigned key_exchanges_tried;
    unsigned polls;
    unsigned packets;
    int64_t last_poll_ns; /* CLOCK_BOOTTIME of the last poll, 0: none */
    int64_t shortest_gap_ns;
    uint64_t last_cookie_sent; /* serial of the last cookie sent */
    bool cookie_reused;
};

struct sim {
    uint64_t rng;
    int64_t boot_ns;         /* simulated CLOCK_BOOTTIME */
    int64_t true_unix_ns;    /* true time */
    int64_t local_offset_ns; /* local clock minus true time */
    double drift_ppm;        /* the local oscillator's error: it gains this much */
    double frequency_ppm;    /* what the helper was asked to apply: -drift at best */
    struct sim_server servers[N_SERVERS];
    struct sim_source sources[N_SERVERS];
    struct discipline discipline;
    struct discipline_limits limits;
    unsigned rounds, slews, steps, refusals;
    uint64_t transmit_counter;
};

static int64_t local_now(const struct sim *s)
{
    return s->true_unix_ns + s->local_offset_ns;
}

/* Time passes: the local clock gains drift + frequency ppm (the helper's frequency, as the
 * kernel's, speeds the clock up when positive). */
static void advance(struct sim *s, int64_t ns)
{
    s->boot_ns += ns;
    s->true_unix_ns += ns;
    s->local_offset_ns += (int64_t)((s->drift_ppm + s->frequency_ppm) * 1e-6 * (double)ns);
}

/* Bytes the allocator has handed out and not got back. 0 where the allocator does not say
 * (valgrind's replacement): there memcheck's leak check at exit stands in. */
static size_t heap_in_use(void)
{
#ifdef HEAP_FROM_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
#endif
}

static void sim_init(struct sim *s, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->rng = seed;
    s->boot_ns = 10 * SEC;
    s->true_unix_ns = START_UNIX_NS;
    s->local_offset_ns = 40 * NS_PER_MS; /* ahead: slewed, below the step threshold */
    s->drift_ppm = 17.0;
    s->limits = (struct discipline_limits){
        .step_threshold_ns = 125 * NS_PER_MS,
        .startup_max_step_ns = INT64_MAX,
        .max_step_ns = 600 * SEC,
        .poll_min_ns = 32 * SEC,
        .poll_max_ns = 2048 * SEC,
        .max_frequency_ppm = 500.0,
    };
    discipline_init(&s->discipline, &s->limits, true, 0.0, START_UNIX_NS - DAY);
    for (unsigned i = 0; i < N_SERVERS; i++) {
        s->servers[i].error_ns = (int64_t)(next_random(&s->rng) % 40000) - 20000; /* +-20 us */
        s->servers[i].loss_per_mille = 20;
        struct sim_source *src = &s->sources[i];
        poll_schedule_init(&src->schedule);
        cookie_jar_init(&src->jar);
        sample_filter_init(&src->filter);
        snprintf(src->address, sizeof(src->address), "127.0.0.%u", i + 1);
        snprintf(src->operator_name, sizeof(src->operator_name), "operator-%u", i + 1);
        src->shortest_gap_ns = INT64_MAX;
    }
}

static struct nts_cookie server_cookie(struct sim_server *server)
{
    struct nts_cookie cookie;
    memset(&cookie, 0, sizeof(cookie));
    cookie.len = 100;
    uint64_t serial = ++server->cookie_serial;
    memcpy(cookie.data, &serial, sizeof(serial));
    return cookie;
}

/* An NTS-KE: fresh keys and eight cookies (RFC 8915 §4); false if the server is gone. */
static bool key_exchange(struct sim *s, unsigned i)
{
    struct sim_server *server = &s->servers[i];
    struct sim_source *src = &s->sources[i];
    src->key_exchanges_tried++;
    if (server->loss_per_mille >= 1000)
        return false;
    random_bytes(&s->rng, server->c2s, sizeof(server->c2s));
    random_bytes(&s->rng, server->s2c, sizeof(server->s2c));
    cookie_jar_clear(&src->jar);
    for (unsigned k = 0; k < NTS_MAX_COOKIES; k++) {
        struct nts_cookie cookie = server_cookie(server);
        cookie_jar_add(&src->jar, &cookie);
    }
    src->have_keys = true;
    src->key_time_unix = local_now(s) / SEC;
    src->key_exchanges++;
    return true;
}

static bool lost(struct sim *s, const struct sim_server *server)
{
    return next_random(&s->rng) % 1000 < server->loss_per_mille;
}

/* One NTS-protected exchange; true with a sample added to the source's filter. */
static bool exchange(struct sim *s, unsigned i)
{
    struct sim_server *server = &s->servers[i];
    struct sim_source *src = &s->sources[i];
    struct nts_cookie cookie;
    ck_assert(cookie_jar_take(&src->jar, &cookie));
    uint64_t serial;
    memcpy(&serial, cookie.data, sizeof(serial));
    if (serial <= src->last_cookie_sent)
        src->cookie_reused = true;
    src->last_cookie_sent = serial;

    uint8_t uid[NTS_UID_LEN], nonce[NTS_NONCE_LEN];
    random_bytes(&s->rng, uid, sizeof(uid));
    random_bytes(&s->rng, nonce, sizeof(nonce));
    uint64_t transmit_ts = ++s->transmit_counter * UINT64_C(0x9E3779B97F4A7C15);
    struct nts_request_params params = {
        .c2s_key = server->c2s,
        .uid = uid,
        .nonce = nonce,
        .cookie = &cookie,
        .placeholders = cookie_jar_placeholders(&src->jar),
        .transmit_ts = transmit_ts,
        .poll = 6,
    };
    uint8_t request[NTS_REQUEST_MAX_LEN];
    size_t request_len = 0;
    unsigned placeholders_sent = 0;
    ck_assert_int_eq(
        nts_request_build(&params, request, sizeof(request), &request_len, &placeholders_sent),
        NTS_REQUEST_OK);
    src->packets++;

    int64_t t1 = local_now(s);
    int64_t out_delay = (int64_t)(1000000 + next_random(&s->rng) % 2000000); /* 1..3 ms */
    int64_t back_delay = (int64_t)(1000000 + next_random(&s->rng) % 2000000);
    if (lost(s, server)) {
        advance(s, SEC); /* the agent's wait for a reply */
        return false;
    }
    advance(s, out_delay);
    int64_t t2 = s->true_unix_ns + server->error_ns;
    int64_t t3 = t2 + 20000;

    /* The server: one new cookie per cookie field of the request (RFC 8915 §5.7). */
    struct nts_cookie fresh[NTS_MAX_COOKIES];
    size_t n_fresh = 1 + placeholders_sent;
    for (size_t k = 0; k < n_fresh; k++)
        fresh[k] = server_cookie(server);
    uint8_t server_nonce[NTS_NONCE_LEN];
    random_bytes(&s->rng, server_nonce, sizeof(server_nonce));
    struct nts_reply_builder builder = {
        .s2c_key = server->s2c,
        .uid = uid,
        .uid_len = sizeof(uid),
        .nonce = server_nonce,
        .nonce_len = sizeof(server_nonce),
        .cookies = fresh,
        .n_cookies = n_fresh,
    };
    nts_reply_builder_default_header(&builder.header, transmit_ts, ntp_time_from_unix_ns(t2));
    builder.header.transmit_ts = ntp_time_from_unix_ns(t3);
    uint8_t reply[NTS_PACKET_MAX_LEN];
    size_t reply_len = nts_reply_builder_build(&builder, reply, sizeof(reply));
    ck_assert_uint_gt(reply_len, 0);
    if (lost(s, server)) {
        advance(s, SEC - out_delay);
        return false;
    }
    advance(s, 20000 + back_delay);
    int64_t t4 = local_now(s);

    struct nts_reply parsed;
    struct nts_reply_status status =
        nts_reply_parse(reply, reply_len, server->s2c, uid, transmit_ts, &parsed);
    ck_assert_int_eq(status.error, NTS_REPLY_OK);
    for (size_t k = 0; k < parsed.n_cookies; k++)
        cookie_jar_add(&src->jar, &parsed.cookies[k]);

    int64_t pivot = local_now(s);
    struct ntp_offset o =
        ntp_offset_compute(t1, ntp_time_to_unix_ns(parsed.header.receive_ts, pivot),
                           ntp_time_to_unix_ns(parsed.header.transmit_ts, pivot), t4);
    struct sample sample = {
        .offset_ns = o.offset_ns,
        .delay_ns = o.delay_ns > 0 ? o.delay_ns : 0,
        .dispersion_ns = NS_PER_US + (INT64_C(1) << 10), /* rho local + server 2^-20 s */
        .root_delay_ns = ntp_short_to_ns(parsed.header.root_delay),
        .root_dispersion_ns = ntp_short_to_ns(parsed.header.root_dispersion),
        .taken_ns = s->boot_ns,
        .stratum = parsed.header.stratum,
        .leap = parsed.header.leap,
    };
    sample_filter_add(&src->filter, &sample);
    return true;
}

/* One poll of one source, as net/source.c does it: keys first when needed, then up to
 * NTP_ATTEMPTS packets. */
static void poll_source(struct sim *s, unsigned i)
{
    struct sim_source *src = &s->sources[i];
    if (src->last_poll_ns != 0 && s->boot_ns - src->last_poll_ns < src->shortest_gap_ns)
        src->shortest_gap_ns = s->boot_ns - src->last_poll_ns;
    src->last_poll_ns = s->boot_ns;
    src->polls++;
    bool ok = true;
    if (poll_schedule_needs_key_exchange(src->have_keys, src->jar.count, src->key_time_unix,
                                         local_now(s) / SEC))
        ok = key_exchange(s, i);
    for (unsigned attempt = 0; ok && attempt < NTP_ATTEMPTS; attempt++) {
        if (src->jar.count == 0 && !key_exchange(s, i))
            break;
        if (exchange(s, i)) {
            poll_schedule_success(&src->schedule, s->discipline.poll_ns, s->boot_ns);
            return;
        }
    }
    poll_schedule_failure(&src->schedule, s->boot_ns);
}

/* One round: poll, select, decide, and the dry-run helper's answer. */
static void round_once(struct sim *s)
{
    s->rounds++;
    int64_t round_start = s->boot_ns;
    for (unsigned i = 0; i < N_SERVERS; i++) {
        if (poll_schedule_may_poll(&s->sources[i].schedule, s->boot_ns))
            poll_source(s, i);
    }
    struct select_candidate candidates[N_SERVERS];
    size_t n = 0;
    for (unsigned i = 0; i < N_SERVERS; i++) {
        struct sim_source *src = &s->sources[i];
        struct sample best;
        if (!sample_filter_best(&src->filter, s->boot_ns, &best))
            continue;
        candidates[n++] = (struct select_candidate){
            .operator_name = src->operator_name,
            .address = src->address,
            .sample = best,
            .jitter_ns = sample_filter_jitter_ns(&src->filter, s->boot_ns),
        };
    }
    struct select_params params = {
        .min_agreeing_sources = 3, .min_operators = 3, .now_ns = s->boot_ns};
    struct select_result r = select_run(candidates, n, &params, NULL);
    struct discipline_decision d =
        discipline_decide(&s->discipline, &s->limits, r.verdict == SELECT_CONSENSUS, r.offset_ns,
                          r.uncertainty_ns, local_now(s), s->boot_ns);
    if (d.verdict == DISCIPLINE_SLEW) {
        if (d.set_frequency)
            s->frequency_ppm = d.frequency_ppm;
        /* offset = true - local: the helper moves the local clock by it. */
        s->local_offset_ns += d.offset_ns;
        for (unsigned i = 0; i < N_SERVERS; i++)
            sample_filter_shift(&s->sources[i].filter, d.offset_ns);
        s->slews++;
        discipline_applied(&s->discipline, &d, true, s->boot_ns);
    } else if (d.verdict == DISCIPLINE_STEP) {
        s->local_offset_ns += d.offset_ns;
        for (unsigned i = 0; i < N_SERVERS; i++)
            sample_filter_clear(&s->sources[i].filter);
        s->steps++;
        discipline_applied(&s->discipline, &d, true, s->boot_ns);
    } else if (d.verdict == DISCIPLINE_REFUSED) {
        s->refusals++;
    }
    /* The next round one poll interval after this one started, never sooner than 2 s. */
    int64_t next = round_start + s->discipline.poll_ns;
    if (next < s->boot_ns + MIN_SPACING)
        next = s->boot_ns + MIN_SPACING;
    advance(s, next - s->boot_ns);
}

static void run_until(struct sim *s, int64_t boot_ns)
{
    while (s->boot_ns < boot_ns)
        round_once(s);
}

static int64_t abs64(int64_t v)
{
    return v < 0 ? -v : v;
}

START_TEST(test_soak_one_day)
{
    struct sim *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    sim_init(s, 0x5eed0001);
    int64_t start = s->boot_ns;
    run_until(s, start + HOUR);
    size_t heap_hour_one = heap_in_use();
    unsigned rounds_hour_one = s->rounds;
    run_until(s, start + DAY);
    size_t heap_day_end = heap_in_use();

    /* Polls as expected: the interval doubles after two quiet polls from 32 s to 2048 s
     * (about 4000 s and a dozen rounds), then one round every 2048 s. */
    ck_assert_int_eq(s->discipline.poll_ns, s->limits.poll_max_ns);
    unsigned steady = (unsigned)((DAY - 4064 * SEC) / s->limits.poll_max_ns);
    fprintf(stderr,
            "# soak 24 h: %u rounds (%u in the first hour), %u slews, %u steps, frequency "
            "%.3f ppm (drift %.1f), offset %+.3f ms, heap %zu -> %zu bytes\n",
            s->rounds, rounds_hour_one, s->slews, s->steps, s->frequency_ppm, s->drift_ppm,
            (double)s->local_offset_ns / NS_PER_MS, heap_hour_one, heap_day_end);
    ck_assert_uint_ge(s->rounds, steady + 10);
    ck_assert_uint_le(s->rounds, steady + 20);
    for (unsigned i = 0; i < N_SERVERS; i++) {
        const struct sim_source *src = &s->sources[i];
        fprintf(stderr, "# source %u: %u NTS-KE, %u polls, %u NTP packets, shortest gap %.0f s\n",
                i, src->key_exchanges, src->polls, src->packets,
                (double)src->shortest_gap_ns / NS_PER_SEC);
        ck_assert_uint_eq(src->key_exchanges, 1);
        ck_assert_uint_eq(src->polls, s->rounds);
        ck_assert_uint_ge(src->packets, src->polls);
        ck_assert_uint_le(src->packets, src->polls * 11 / 10);
        ck_assert_int_ge(src->shortest_gap_ns, MIN_SPACING);
        ck_assert(!src->cookie_reused);
        ck_assert_uint_gt(src->jar.count, 0);
    }
    ck_assert_uint_eq(s->steps, 0);
    ck_assert_uint_eq(s->refusals, 0);
    ck_assert_int_lt(abs64(s->local_offset_ns), NS_PER_MS);
    ck_assert_double_eq_tol(s->frequency_ppm, -s->drift_ppm, 1.0);
    /* Flat: not one byte more in use after 23 more hours of rounds. */
    ck_assert_uint_le(heap_day_end, heap_hour_one);
    free(s);
}
END_TEST

/* Thirty days: keys are made anew once they are four weeks old, not before. */
START_TEST(test_soak_thirty_days_renews_keys_once)
{
    struct sim *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    sim_init(s, 0x5eed0002);
    int64_t start = s->boot_ns;
    run_until(s, start + DAY);
    size_t heap_day_one = heap_in_use();
    for (int day = 1; day < 30; day++) {
        run_until(s, start + (day + 1) * DAY);
        for (unsigned i = 0; i < N_SERVERS; i++) {
            unsigned expected = day < 28 ? 1 : 2;
            ck_assert_msg(s->sources[i].key_exchanges == expected,
                          "day %d, source %u: %u key exchanges, %u expected", day + 1, i,
                          s->sources[i].key_exchanges, expected);
        }
    }
    size_t heap_day_thirty = heap_in_use();
    fprintf(stderr, "# soak 30 d: %u rounds, NTS-KE per source %u, heap %zu -> %zu bytes\n",
            s->rounds, s->sources[0].key_exchanges, heap_day_one, heap_day_thirty);
    ck_assert_int_lt(abs64(s->local_offset_ns), NS_PER_MS);
    ck_assert_uint_le(heap_day_thirty, heap_day_one);
    free(s);
}
END_TEST

/* A day with an outage: one server is unreachable for an hour. The quorum of three keeps
 * deciding; the absent server is asked once a round (NTP_ATTEMPTS packets), not more; its
 * cookies outlast the hour, so no new key exchange follows. A longer outage uses the
 * cookies up: then one key exchange when it is back, tried at the back-off pace. */
START_TEST(test_soak_one_day_with_outages)
{
    struct sim *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    sim_init(s, 0x5eed0003);
    int64_t start = s->boot_ns;
    run_until(s, start + 6 * HOUR);
    struct sim_source *absent = &s->sources[3];
    unsigned packets_before = absent->packets;
    unsigned slews_before = s->slews;
    s->servers[3].loss_per_mille = 1000;
    run_until(s, start + 7 * HOUR);
    unsigned short_outage_packets = absent->packets - packets_before;
    s->servers[3].loss_per_mille = 20;
    run_until(s, start + 12 * HOUR);
    ck_assert_uint_eq(absent->key_exchanges, 1);
    ck_assert_uint_gt(s->slews - slews_before, 2);

    /* Six hours away: the cookies run out, key exchanges fail until it is back. */
    s->servers[3].loss_per_mille = 1000;
    unsigned rounds_before = s->rounds;
    run_until(s, start + 18 * HOUR);
    unsigned long_outage_rounds = s->rounds - rounds_before;
    unsigned tried = absent->key_exchanges_tried;
    s->servers[3].loss_per_mille = 20;
    run_until(s, start + DAY);
    fprintf(stderr,
            "# soak outages: 1 h: %u packets to the absent server; 6 h: %u rounds, %u key "
            "exchanges tried, %u made in all\n",
            short_outage_packets, long_outage_rounds, tried, absent->key_exchanges);
    const unsigned most_packets = 2 * NTP_ATTEMPTS;
    ck_assert_uint_le(short_outage_packets, most_packets);
    ck_assert_uint_le(tried - 1, long_outage_rounds);
    ck_assert_uint_eq(absent->key_exchanges, 2);
    for (unsigned i = 0; i < 3; i++)
        ck_assert_uint_eq(s->sources[i].key_exchanges, 1);
    ck_assert_int_lt(abs64(s->local_offset_ns), NS_PER_MS);
    free(s);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("soak");
    TCase *tc = tcase_create("simulated");
    tcase_set_timeout(tc, 120); /* valgrind: each AES-SIV is slow there */
    tcase_add_test(tc, test_soak_one_day);
    tcase_add_test(tc, test_soak_thirty_days_renews_keys_once);
    tcase_add_test(tc, test_soak_one_day_with_outages);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
