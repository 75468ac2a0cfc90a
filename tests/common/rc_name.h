/* The short name of a return code, for the messages of the randomized
 * tests ("NOT_FOUND" reads better in a long line than mcreg_strerror's
 * sentence). Header-only. */
#ifndef MCREG_TEST_RC_NAME_H
#define MCREG_TEST_RC_NAME_H

#include "mcreg.h"

static inline const char *test_rc_name(int rc)
{
    switch (rc) {
    case MCREG_OK: return "OK";
    case MCREG_ERR_INVALID: return "INVALID";
    case MCREG_ERR_NOMEM: return "NOMEM";
    case MCREG_ERR_NOT_FOUND: return "NOT_FOUND";
    case MCREG_ERR_LIMIT: return "LIMIT";
    case MCREG_ERR_STALE: return "STALE";
    case MCREG_ERR_BUSY: return "BUSY";
    case MCREG_ERR_FORMAT: return "FORMAT";
    case MCREG_ERR_VERSION: return "VERSION";
    case MCREG_ERR_MISUSE: return "MISUSE";
    default: return "?";
    }
}

#endif
