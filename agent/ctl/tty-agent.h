/* A polkit authentication agent on gnomonctl's terminal while a call may need a password,
 * the way systemctl does it: pkttyagent registered for this process, started before the
 * call and ended after it. */
#ifndef GNOMON_CTL_TTY_AGENT_H
#define GNOMON_CTL_TTY_AGENT_H

#include <glib.h>

/* Starts pkttyagent when stdin is a terminal and waits (bounded) until it has registered;
 * returns its PID, or 0 when none was started (no terminal, no pkttyagent). */
GPid ctl_tty_agent_start(void);

/* Ends the agent started above (by its PID) and reaps it; 0 does nothing. */
void ctl_tty_agent_stop(GPid pid);

#endif
