/* A source's keys and cookies in the state store: loaded at start, and mirrored after every
 * change, before any cookie of them is sent (nts-notes.md: no cookie is sent twice, even
 * across a crash). Shared by the daemon and --query. */
#ifndef GNOMON_DAEMON_SOURCE_STORE_H
#define GNOMON_DAEMON_SOURCE_STORE_H

#include <glib.h>

#include "source.h"
#include "state-store.h"

/* Gives the source what the store holds for it; FALSE (and a warning for anything but a
 * missing file) when nothing usable is stored. */
gboolean source_store_load(StateStore *store, struct source *source);

/* Writes the source's credentials, or removes its file when it has no cookie left or the
 * write fails. FALSE only when neither worked: then the source must not send. */
gboolean source_store_save(StateStore *store, struct source *source);

#endif
