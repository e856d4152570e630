/* Tests agent/helper/kernel-backend.c through its seam: the exact struct timex it would pass
 * to clock_adjtime for a slew, a step, a frequency and the sync status, field by field; and
 * that the dry-run backend records the same values, keeps its simulated clock as
 * interfaces.md says, and refuses what the kernel would clamp. No clock is ever touched:
 * the seam is a recorder, and the dry-run backend has no seam at all. */
#include <check.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend.h"
#include "check-main.h"
#include "nanoseconds.h"

#define MAX_CALLS 8

static struct timex calls[MAX_CALLS];
static int n_calls;
static int kernel_status; /* what a read (modes 0) reports */
static int fail_errno;    /* non-zero: changes fail with this */

static int recorder(clockid_t clock, struct timex *tx)
{
    ck_assert_int_eq(clock, CLOCK_REALTIME);
    ck_assert_int_lt(n_calls, MAX_CALLS);
    calls[n_calls++] = *tx;
    if (tx->modes == 0) {
        tx->status = kernel_status;
        return TIME_OK;
    }
    if (fail_errno != 0) {
        errno = fail_errno;
        return -1;
    }
    return TIME_ERROR; /* "unsynchronised" is a state, not a failure */
}

static struct backend *backend;

static void setup(void)
{
    memset(calls, 0, sizeof calls);
    n_calls = 0;
    kernel_status = STA_UNSYNC | STA_NANO;
    fail_errno = 0;
    backend = backend_kernel_new(recorder);
}

static void teardown(void)
{
    backend_free(backend);
}

/* Every field the backend does not set must be zero. */
static void assert_rest_zero(const struct timex *tx, gboolean offset, gboolean freq,
                             gboolean status, gboolean errors, gboolean time)
{
    if (!offset) {
        ck_assert_int_eq(tx->offset, 0);
    }
    if (!freq) {
        ck_assert_int_eq(tx->freq, 0);
    }
    if (!status) {
        ck_assert_int_eq(tx->status, 0);
    }
    if (!errors) {
        ck_assert_int_eq(tx->maxerror, 0);
        ck_assert_int_eq(tx->esterror, 0);
    }
    if (!time) {
        ck_assert_int_eq(tx->time.tv_sec, 0);
        ck_assert_int_eq(tx->time.tv_usec, 0);
    }
    ck_assert_int_eq(tx->constant, 0);
    ck_assert_int_eq(tx->tick, 0);
}

static void check_step(gint64 offset_ns, time_t sec, suseconds_t nsec)
{
    n_calls = 0;
    ck_assert(backend_step(backend, offset_ns, NULL));
    ck_assert_int_eq(n_calls, 1);
    ck_assert_uint_eq(calls[0].modes, ADJ_SETOFFSET | ADJ_NANO);
    ck_assert_int_eq(calls[0].time.tv_sec, sec);
    ck_assert_int_eq(calls[0].time.tv_usec, nsec);
    ck_assert_int_ge(calls[0].time.tv_usec, 0);
    ck_assert_int_lt(calls[0].time.tv_usec, 1000000000);
    assert_rest_zero(&calls[0], FALSE, FALSE, FALSE, FALSE, TRUE);
}

START_TEST(test_step_positive)
{
    check_step(1500 * NS_PER_MS, 1, 500000000);
    check_step(1, 0, 1);
    check_step(NS_PER_SEC, 1, 0);
    check_step(INT64_C(315569520) * NS_PER_SEC + 7, 315569520, 7); /* ten years */
}
END_TEST

START_TEST(test_step_negative_normalized)
{
    check_step(-1250 * NS_PER_MS, -2, 750000000);
    check_step(-1, -1, 999999999);
    check_step(-NS_PER_SEC, -1, 0);
    check_step(-999999999, -1, 1);
    check_step(-7200 * NS_PER_SEC - 1, -7201, 999999999);
}
END_TEST

START_TEST(test_slew_pll)
{
    ck_assert(backend_slew(backend, 250 * NS_PER_MS, NULL));
    ck_assert_int_eq(n_calls, 2);
    /* First a read of the status (modes 0), then the PLL offset with STA_PLL added. */
    ck_assert_uint_eq(calls[0].modes, 0);
    ck_assert_uint_eq(calls[1].modes, ADJ_OFFSET | ADJ_NANO | ADJ_STATUS);
    ck_assert_int_eq(calls[1].offset, 250000000);
    ck_assert_int_eq(calls[1].status, STA_UNSYNC | STA_NANO | STA_PLL);
    assert_rest_zero(&calls[1], TRUE, FALSE, TRUE, FALSE, FALSE);

    n_calls = 0;
    kernel_status = STA_PLL | STA_NANO | STA_INS;
    ck_assert(backend_slew(backend, -500 * NS_PER_MS, NULL));
    ck_assert_int_eq(calls[1].offset, -500000000);
    ck_assert_int_eq(calls[1].status, STA_PLL | STA_NANO | STA_INS);
}
END_TEST

START_TEST(test_frequency)
{
    ck_assert(backend_set_frequency(backend, 12.5, NULL));
    ck_assert_int_eq(n_calls, 1);
    ck_assert_uint_eq(calls[0].modes, ADJ_FREQUENCY);
    ck_assert_int_eq(calls[0].freq, 819200); /* 12.5 * 65536 */
    assert_rest_zero(&calls[0], FALSE, TRUE, FALSE, FALSE, FALSE);
    struct timex tx;
    backend_timex_frequency(&tx, -500.0);
    ck_assert_int_eq(tx.freq, -32768000);
    backend_timex_frequency(&tx, 0.00001); /* 0.655 -> 1 */
    ck_assert_int_eq(tx.freq, 1);
    backend_timex_frequency(&tx, -0.00001);
    ck_assert_int_eq(tx.freq, -1);
    backend_timex_frequency(&tx, 0.000007); /* 0.459 -> 0 */
    ck_assert_int_eq(tx.freq, 0);
    backend_timex_frequency(&tx, 1e9); /* a bug, clamped to the kernel's 500 ppm */
    ck_assert_int_eq(tx.freq, 32768000);
}
END_TEST

START_TEST(test_sync_status)
{
    kernel_status = STA_UNSYNC | STA_PLL | STA_NANO | STA_INS;
    ck_assert(backend_set_sync_status(backend, 1500, NULL));
    ck_assert_int_eq(n_calls, 2);
    ck_assert_uint_eq(calls[0].modes, 0);
    ck_assert_uint_eq(calls[1].modes, ADJ_MAXERROR | ADJ_ESTERROR | ADJ_STATUS);
    ck_assert_int_eq(calls[1].maxerror, 2); /* 1.5 us, rounded up */
    ck_assert_int_eq(calls[1].esterror, 2);
    ck_assert_int_eq(calls[1].status, STA_PLL | STA_NANO | STA_INS); /* STA_UNSYNC cleared */
    assert_rest_zero(&calls[1], FALSE, FALSE, TRUE, TRUE, FALSE);

    struct timex tx;
    backend_timex_sync_status(&tx, 1000, 0);
    ck_assert_int_eq(tx.maxerror, 1);
    backend_timex_sync_status(&tx, 0, STA_UNSYNC);
    ck_assert_int_eq(tx.maxerror, 0);
    ck_assert_int_eq(tx.status, 0);
    backend_timex_sync_status(&tx, 20 * NS_PER_SEC, 0);
    ck_assert_int_eq(tx.maxerror, BACKEND_MAX_ERROR_US);
    ck_assert_int_eq(tx.esterror, BACKEND_MAX_ERROR_US);
    backend_timex_sync_status(&tx, G_MAXUINT64, 0);
    ck_assert_int_eq(tx.maxerror, BACKEND_MAX_ERROR_US);
}
END_TEST

START_TEST(test_failure_reported)
{
    fail_errno = EPERM;
    g_autoptr(GError) error = NULL;
    ck_assert(!backend_step(backend, NS_PER_SEC, &error));
    ck_assert(g_error_matches(error, BACKEND_ERROR, BACKEND_ERROR_CLOCK));
    ck_assert_ptr_nonnull(strstr(error->message, g_strerror(EPERM)));
    g_clear_error(&error);
    ck_assert(!backend_slew(backend, NS_PER_MS, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "slew"));
}
END_TEST

START_TEST(test_kernel_name_and_now)
{
    ck_assert_str_eq(backend_name(backend), "kernel");
    gint64 now = 0;
    ck_assert(backend_now(backend, &now, NULL));
    ck_assert_int_lt(g_get_real_time() * NS_PER_US - now, NS_PER_SEC);
    /* Recording is the journal's business for the kernel backend. */
    ck_assert(backend_record(backend, json_object_new(), NULL));
    ck_assert_int_eq(n_calls, 0);
}
END_TEST

/* --- dry-run --- */

static char *directory;

static void dry_setup(void)
{
    directory = g_dir_make_tmp("gnomon-test-backend-XXXXXX", NULL);
    ck_assert_ptr_nonnull(directory);
}

static void dry_teardown(void)
{
    GDir *dir = g_dir_open(directory, 0, NULL);
    const char *name;
    while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
        g_autofree char *path = g_build_filename(directory, name, NULL);
        g_unlink(path);
    }
    if (dir != NULL) {
        g_dir_close(dir);
    }
    g_rmdir(directory);
    g_free(directory);
}

static JsonObject *read_json(const char *path, JsonParser *parser)
{
    g_autoptr(GError) error = NULL;
    ck_assert_msg(json_parser_load_from_file(parser, path, &error), "%s",
                  error ? error->message : "");
    return json_node_get_object(json_parser_get_root(parser));
}

static void assert_timex_equal(JsonObject *recorded, const struct timex *tx)
{
    ck_assert_int_eq(json_object_get_int_member(recorded, "modes"), tx->modes);
    ck_assert_int_eq(json_object_get_int_member(recorded, "offset"), tx->offset);
    ck_assert_int_eq(json_object_get_int_member(recorded, "freq"), tx->freq);
    ck_assert_int_eq(json_object_get_int_member(recorded, "status"), tx->status);
    ck_assert_int_eq(json_object_get_int_member(recorded, "maxerror"), tx->maxerror);
    ck_assert_int_eq(json_object_get_int_member(recorded, "esterror"), tx->esterror);
    ck_assert_int_eq(json_object_get_int_member(recorded, "time_sec"), tx->time.tv_sec);
    ck_assert_int_eq(json_object_get_int_member(recorded, "time_usec"), tx->time.tv_usec);
}

START_TEST(test_dry_run_records_kernel_timex)
{
    g_autofree char *record = g_build_filename(directory, "record.jsonl", NULL);
    g_autoptr(GnomonBackend) dry = backend_dry_run_new(record, NULL, NULL);
    ck_assert_ptr_nonnull(dry);
    ck_assert_str_eq(backend_name(dry), "dry-run");
    ck_assert(backend_step(dry, -1250 * NS_PER_MS, NULL));
    ck_assert(backend_set_sync_status(dry, 1500, NULL));
    JsonObject *entry = json_object_new();
    json_object_set_string_member(entry, "method", "Step");
    ck_assert(backend_record(dry, entry, NULL));
    ck_assert(backend_slew(dry, 100 * NS_PER_MS, NULL));
    ck_assert(backend_record(dry, json_object_new(), NULL));

    g_autofree char *text = NULL;
    ck_assert(g_file_get_contents(record, &text, NULL, NULL));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    ck_assert_uint_eq(g_strv_length(lines), 3); /* two lines and the empty rest */
    ck_assert_str_eq(lines[2], "");
    g_autoptr(JsonParser) parser = json_parser_new();
    ck_assert(json_parser_load_from_data(parser, lines[0], -1, NULL));
    JsonObject *first = json_node_get_object(json_parser_get_root(parser));
    ck_assert_str_eq(json_object_get_string_member(first, "method"), "Step");
    JsonArray *timex = json_object_get_array_member(first, "timex");
    ck_assert_uint_eq(json_array_get_length(timex), 2);
    struct timex expected;
    backend_timex_step(&expected, -1250 * NS_PER_MS);
    assert_timex_equal(json_array_get_object_element(timex, 0), &expected);
    ck_assert_str_eq(
        json_object_get_string_member(json_array_get_object_element(timex, 0), "modes_text"),
        "ADJ_SETOFFSET|ADJ_NANO");
    /* The simulated kernel starts unsynchronised; ADJ_NANO set STA_NANO. */
    backend_timex_sync_status(&expected, 1500, STA_UNSYNC | STA_NANO);
    assert_timex_equal(json_array_get_object_element(timex, 1), &expected);

    ck_assert(json_parser_load_from_data(parser, lines[1], -1, NULL));
    JsonObject *second = json_node_get_object(json_parser_get_root(parser));
    timex = json_object_get_array_member(second, "timex");
    ck_assert_uint_eq(json_array_get_length(timex), 1);
    backend_timex_slew(&expected, 100 * NS_PER_MS, STA_NANO);
    assert_timex_equal(json_array_get_object_element(timex, 0), &expected);
}
END_TEST

START_TEST(test_dry_run_refuses_what_the_kernel_would_clamp)
{
    g_autoptr(GnomonBackend) dry = backend_dry_run_new(NULL, NULL, NULL);
    g_autoptr(GError) error = NULL;
    ck_assert(backend_slew(dry, 500 * NS_PER_MS, NULL));
    ck_assert(!backend_slew(dry, 500 * NS_PER_MS + 1, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "0.5 s"));
    ck_assert(backend_set_frequency(dry, 500.0, NULL));
    ck_assert(backend_set_frequency(dry, -500.0, NULL));
    ck_assert(backend_record(dry, json_object_new(), NULL));
}
END_TEST

START_TEST(test_dry_run_virtual_clock)
{
    g_autofree char *path = g_build_filename(directory, "clock.json", NULL);
    g_autoptr(GnomonBackend) dry = backend_dry_run_new(NULL, path, NULL);
    ck_assert_ptr_nonnull(dry);
    /* Missing file: the real clock. */
    gint64 now = 0;
    ck_assert(backend_now(dry, &now, NULL));
    ck_assert_int_lt(ABS(g_get_real_time() * NS_PER_US - now), NS_PER_SEC);
    ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));

    /* A test sets it 3 hours behind. */
    ck_assert(g_file_set_contents(path,
                                  "{\"offset_ns\": -10800000000000, \"frequency_ppm\": 0, "
                                  "\"since_boottime_ns\": 0}",
                                  -1, NULL));
    ck_assert(backend_now(dry, &now, NULL));
    gint64 behind = g_get_real_time() * NS_PER_US - now;
    ck_assert_int_gt(behind, 10800 * NS_PER_SEC - NS_PER_SEC);
    ck_assert_int_lt(behind, 10800 * NS_PER_SEC + NS_PER_SEC);

    /* A step adds to offset_ns, and so does a whole slew. */
    ck_assert(backend_step(dry, 10800 * NS_PER_SEC, NULL));
    ck_assert(backend_slew(dry, 250 * NS_PER_MS, NULL));
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *clock = read_json(path, parser);
    ck_assert_int_eq(json_object_get_int_member(clock, "offset_ns"), 250 * NS_PER_MS);
    ck_assert_int_eq(json_object_get_int_member(clock, "since_boottime_ns"), 0);

    /* SetFrequency re-bases: since_boottime_ns becomes now, the drift so far (none: the
     * frequency was 0) goes into offset_ns. */
    gint64 before = backend_clock_ns(CLOCK_BOOTTIME);
    ck_assert(backend_set_frequency(dry, 100.0, NULL));
    gint64 after = backend_clock_ns(CLOCK_BOOTTIME);
    clock = read_json(path, parser);
    ck_assert_int_eq(json_object_get_int_member(clock, "offset_ns"), 250 * NS_PER_MS);
    ck_assert(json_object_get_double_member(clock, "frequency_ppm") == 100.0);
    gint64 since = json_object_get_int_member(clock, "since_boottime_ns");
    ck_assert_int_ge(since, before);
    ck_assert_int_le(since, after);

    /* With 100 ppm since a second ago (written by hand), a re-base adds about 100 us. */
    g_autofree char *text = g_strdup_printf(
        "{\"offset_ns\": 0, \"frequency_ppm\": 100.0, \"since_boottime_ns\": %" G_GINT64_FORMAT "}",
        backend_clock_ns(CLOCK_BOOTTIME) - NS_PER_SEC);
    ck_assert(g_file_set_contents(path, text, -1, NULL));
    ck_assert(backend_set_frequency(dry, 0.0, NULL));
    clock = read_json(path, parser);
    gint64 offset = json_object_get_int_member(clock, "offset_ns");
    ck_assert_int_ge(offset, 100 * NS_PER_US);
    ck_assert_int_lt(offset, 110 * NS_PER_US);
    ck_assert(backend_record(dry, json_object_new(), NULL));
}
END_TEST

START_TEST(test_dry_run_bad_virtual_file)
{
    g_autofree char *path = g_build_filename(directory, "clock.json", NULL);
    ck_assert(g_file_set_contents(path, "{\"offset_ns\": \"soon\"}", -1, NULL));
    g_autoptr(GError) error = NULL;
    struct backend *dry = backend_dry_run_new(NULL, path, &error);
    ck_assert_ptr_null(dry);
    ck_assert(g_error_matches(error, BACKEND_ERROR, BACKEND_ERROR_VIRTUAL_FILE));
    ck_assert_ptr_nonnull(strstr(error->message, "offset_ns"));
    ck_assert(g_file_set_contents(path, "[1, 2]", -1, NULL));
    g_clear_error(&error);
    ck_assert_ptr_null(backend_dry_run_new(NULL, path, &error));
}
END_TEST

/* Belt and braces (testing.md): this process gives up CAP_SYS_TIME before any test, so a
 * mistake that reached the real clock_adjtime would fail with EPERM. */
static void drop_sys_time(void)
{
    (void)prctl(PR_CAPBSET_DROP, CAP_SYS_TIME, 0, 0, 0); /* fails harmlessly unprivileged */
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) == 0) {
        data[0].effective &= ~(1U << CAP_SYS_TIME);
        data[0].permitted &= ~(1U << CAP_SYS_TIME);
        data[0].inheritable &= ~(1U << CAP_SYS_TIME);
        if (syscall(SYS_capset, &header, data) != 0) {
            perror("capset");
            exit(EXIT_FAILURE);
        }
    }
}

START_TEST(test_no_sys_time)
{
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2];
    ck_assert_int_eq(syscall(SYS_capget, &header, data), 0);
    ck_assert_uint_eq(data[0].effective & (1U << CAP_SYS_TIME), 0);
    ck_assert_uint_eq(data[0].permitted & (1U << CAP_SYS_TIME), 0);
}
END_TEST

static Suite *kernel_backend_suite(void)
{
    drop_sys_time();
    Suite *s = suite_create("kernel-backend");
    TCase *tc = tcase_create("seam");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_no_sys_time);
    tcase_add_test(tc, test_step_positive);
    tcase_add_test(tc, test_step_negative_normalized);
    tcase_add_test(tc, test_slew_pll);
    tcase_add_test(tc, test_frequency);
    tcase_add_test(tc, test_sync_status);
    tcase_add_test(tc, test_failure_reported);
    tcase_add_test(tc, test_kernel_name_and_now);
    suite_add_tcase(s, tc);
    TCase *dry = tcase_create("dry-run");
    tcase_add_checked_fixture(dry, dry_setup, dry_teardown);
    tcase_add_test(dry, test_dry_run_records_kernel_timex);
    tcase_add_test(dry, test_dry_run_refuses_what_the_kernel_would_clamp);
    tcase_add_test(dry, test_dry_run_virtual_clock);
    tcase_add_test(dry, test_dry_run_bad_virtual_file);
    suite_add_tcase(s, dry);
    return s;
}

GNOMON_CHECK_MAIN(kernel_backend_suite)
