/* Runs a fuzz target over files or directories of inputs without libFuzzer: the seed corpus
 * (and any crash reproducer) becomes a plain regression test under gcc, ASan or valgrind.
 * Prints TAP, one case per directory or file given. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz-target.h"

#define REPLAY_MAX_INPUT_LEN (1024 * 1024)

static int replay_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    static uint8_t buf[REPLAY_MAX_INPUT_LEN];
    size_t n = fread(buf, 1, sizeof(buf), f);
    (void)fclose(f); /* read only: nothing to lose */
    /* A private copy of exactly n bytes, so ASan sees any read past the input. */
    uint8_t *copy = malloc(n > 0 ? n : 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, buf, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    (*count)++;
    return 0;
}

static int replay_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "cannot stat %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path, count);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return -1;
    struct dirent *entry;
    int rc = 0;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char child[4096];
        snprintf(child, sizeof(child), "%s/%s", path, entry->d_name);
        if (replay_file(child, count) != 0)
            rc = -1;
    }
    closedir(dir);
    return rc;
}

int main(int argc, char **argv)
{
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        size_t count = 0;
        int rc = replay_path(argv[i], &count);
        /* An empty corpus proves nothing: count it as a failure. */
        if (rc != 0 || count == 0) {
            failed++;
            printf("not ok %d - %s: %zu inputs replayed\n", i, argv[i], count);
        } else {
            printf("ok %d - %s: %zu inputs replayed without a crash\n", i, argv[i], count);
        }
    }
    printf("1..%d\n", argc - 1);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
