/* gnomon-agent as a daemon: the system bus, the org.gnomon.Agent1 name, the helper
 * client, the agent, signals (SIGHUP reloads), and systemd's notify protocol. */
#ifndef GNOMON_DAEMON_DAEMON_H
#define GNOMON_DAEMON_DAEMON_H

#include "agent.h"
#include "config.h"

/* Runs until SIGTERM/SIGINT or the bus name is lost; returns the exit status. */
int daemon_run(struct gnomon_config *config, const char *config_path,
               const struct agent_options *options);

#endif
