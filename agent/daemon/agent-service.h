/* org.gnomon.Agent1 on the system bus: the agent's status as properties (set from one
 * place, agent_service_update(), so PropertiesChanged goes out once per change and only
 * on a real change), its signals, and the three methods behind polkit checks. */
#ifndef GNOMON_DAEMON_AGENT_SERVICE_H
#define GNOMON_DAEMON_AGENT_SERVICE_H

#include <gio/gio.h>

#include "agent.h"

struct agent_service;

/* Exports the object on bus; the caller owns the name. config_path is what Reload reads. */
struct agent_service *agent_service_new(GDBusConnection *bus, struct agent *agent,
                                        const char *config_path, GError **error);
void agent_service_free(struct agent_service *service);

void agent_service_update(struct agent_service *service);
void agent_service_emit_clock_stepped(struct agent_service *service, gint64 offset_ns);
void agent_service_emit_step_refused(struct agent_service *service, gint64 offset_ns,
                                     const char *reason);

#endif
