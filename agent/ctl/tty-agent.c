#include "tty-agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PKTTYAGENT          "/usr/bin/pkttyagent"
/* How long pkttyagent may take to register before the call goes ahead without it. */
#define REGISTER_TIMEOUT_MS 10000
/* How long it may take to end after SIGTERM before SIGKILL. */
#define STOP_TIMEOUT_MS     2000
/* The descriptor number pkttyagent closes once registered (--notify-fd). */
#define NOTIFY_FD           3

/* Field 22 of /proc/self/stat: polkit's start time, so a recycled PID is never mistaken
 * for this process (pkttyagent(1) asks for "pid,pid-start-time"). */
static char *process_argument(void)
{
    g_autofree char *stat = NULL;
    if (g_file_get_contents("/proc/self/stat", &stat, NULL, NULL)) {
        const char *after_name = strrchr(stat, ')');
        if (after_name != NULL) {
            g_auto(GStrv) fields = g_strsplit(after_name + 2, " ", 21);
            /* fields[0] is field 3 (state), so field 22 is fields[19]. */
            if (g_strv_length(fields) >= 21)
                return g_strdup_printf("%d,%s", (int)getpid(), fields[19]);
        }
    }
    return g_strdup_printf("%d", (int)getpid());
}

static void wait_for_registration(int fd)
{
    gint64 deadline = g_get_monotonic_time() + REGISTER_TIMEOUT_MS * G_GINT64_CONSTANT(1000);
    for (;;) {
        gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
        if (left_ms <= 0)
            return;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, (int)left_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        char byte;
        ssize_t got = read(fd, &byte, 1);
        if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
            return; /* closed: registered (or pkttyagent gave up; the call decides) */
    }
}

GPid ctl_tty_agent_start(void)
{
    if (!isatty(STDIN_FILENO) || access(PKTTYAGENT, X_OK) != 0)
        return 0;
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0)
        return 0;
    g_autofree char *process = process_argument();
    g_autofree char *notify_fd = g_strdup_printf("%d", NOTIFY_FD);
    const char *argv[] = {PKTTYAGENT,  "--notify-fd", notify_fd, "--fallback",
                          "--process", process,       NULL};
    int source_fds[] = {pipe_fds[1]};
    int target_fds[] = {NOTIFY_FD};
    GPid pid = 0;
    g_autoptr(GError) error = NULL;
    gboolean started = g_spawn_async_with_pipes_and_fds(
        NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, -1,
        -1, -1, source_fds, target_fds, G_N_ELEMENTS(source_fds), &pid, NULL, NULL, NULL, &error);
    close(pipe_fds[1]);
    if (!started) {
        close(pipe_fds[0]);
        return 0;
    }
    wait_for_registration(pipe_fds[0]);
    close(pipe_fds[0]);
    return pid;
}

/* TRUE once pid has been reaped. */
static gboolean reap_within(GPid pid, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return TRUE;
        if (waited >= timeout_ms)
            return FALSE;
        g_usleep(20 * G_TIME_SPAN_MILLISECOND);
    }
}

void ctl_tty_agent_stop(GPid pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    if (!reap_within(pid, STOP_TIMEOUT_MS)) {
        kill(pid, SIGKILL);
        reap_within(pid, STOP_TIMEOUT_MS);
    }
    g_spawn_close_pid(pid);
}
