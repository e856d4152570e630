/* The libFuzzer entry point every target defines; the standalone driver (fuzz-replay.c)
 * calls it too, so the corpus replays as a regression test in builds without libFuzzer. */
#ifndef GNOMON_TESTS_FUZZ_TARGET_H
#define GNOMON_TESTS_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
