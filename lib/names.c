#include "mcreg.h"

const char *mcreg_strerror(int err)
{
    switch (err) {
    case MCREG_OK:
        return "success";
    case MCREG_ERR_INVALID:
        return "invalid argument";
    case MCREG_ERR_NOMEM:
        return "out of memory";
    case MCREG_ERR_NOT_FOUND:
        return "not found";
    case MCREG_ERR_LIMIT:
        return "user at its UE limit";
    case MCREG_ERR_STALE:
        return "stale request: same Call-ID, CSeq not greater";
    case MCREG_ERR_BUSY:
        return "mutating call from inside a callback";
    case MCREG_ERR_FORMAT:
        return "malformed snapshot";
    case MCREG_ERR_VERSION:
        return "unsupported snapshot format version";
    case MCREG_ERR_MISUSE:
        return "misuse: a NULL registry, binding or output pointer";
    case MCREG_ERR_CLOCK:
        return "version stamp past the clock's bounds";
    default:
        return "unknown error";
    }
}

const char *mcreg_event_name(mcreg_event_type type)
{
    static const char *const names[] = {
        "CREATED", "REFRESHED", "SHORTENED", "DEREGISTERED", "EXPIRED",
        "EVICTED", "REPLACED",  "REJECTED",  "NOTIFY_LOGON", "NOTIFY_LOGOFF",
    };
    unsigned i = (unsigned)type;
    return i < sizeof(names) / sizeof(names[0]) ? names[i] : "UNKNOWN";
}

const char *mcreg_version(void)
{
    return MCREG_VERSION_STRING;
}

unsigned mcreg_version_number(void)
{
    return MCREG_VERSION_NUMBER;
}
