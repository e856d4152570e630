/* The main() every unit test program shares: runs one Check suite and reports in TAP on
 * stdout, which meson reads case by case (protocol : 'tap'). */
#ifndef GNOMON_TESTS_CHECK_MAIN_H
#define GNOMON_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define GNOMON_CHECK_MAIN(make_suite)                                                              \
    int main(void)                                                                                 \
    {                                                                                              \
        SRunner *runner = srunner_create(make_suite());                                            \
        srunner_set_tap(runner, "-");                                                              \
        srunner_run_all(runner, CK_SILENT);                                                        \
        int failed = srunner_ntests_failed(runner);                                                \
        srunner_free(runner);                                                                      \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                                          \
    }

#endif
