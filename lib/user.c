#include "user.h"

#include <string.h>

int mcreg__user_cmp(const mcreg_user *a, const mcreg_user *b)
{
    return strcmp(a->id, b->id);
}

int mcreg__user_order(const void *a, const void *b)
{
    return mcreg__user_cmp(a, b);
}

void mcreg__user_free(mcreg_alloc *a, mcreg_user *u)
{
    if (u)
        mcreg__alloc_free(a, u, mcreg__user_size(u));
}

mcreg_user *mcreg__user_new(mcreg_alloc *a, const char *id, size_t id_len)
{
    mcreg_user *u = mcreg__alloc_malloc(a, offsetof(mcreg_user, id) + id_len + 1);
    if (!u)
        return NULL;
    memset(u, 0, offsetof(mcreg_user, id));
    u->hh.key = u->id;
    u->hh.keylen = (unsigned)id_len;
    memcpy(u->id, id, id_len + 1);
    return u;
}
