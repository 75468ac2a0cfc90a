/* A registry's state: emptying it, and freeing it with the registry. */
#ifndef MCREG_STATE_H
#define MCREG_STATE_H

#include "registry.h"

/* Free every record, user, index and buffer of reg->st and empty it; the
 * registry itself stays. */
void mcreg__state_clear(mcreg_registry *reg);

/* Free reg's state, then reg itself, whatever the busy depth (see
 * mcreg_registry_free). */
void mcreg__state_destroy(mcreg_registry *reg);

#endif
