/* The one way the registrar includes uthash: a failed allocation in a
 * table add rolls the add back and sets table_oom (uthash would exit). */
#ifndef MCREG_REGISTRAR_TABLE_H
#define MCREG_REGISTRAR_TABLE_H

extern int table_oom;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (table_oom = 1)
#include <uthash.h>

#endif
