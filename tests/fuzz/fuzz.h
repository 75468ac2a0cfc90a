/* What the libFuzzer targets share: the entry point's prototype and an
 * assertion that survives NDEBUG and aborts, so that libFuzzer keeps the
 * input. */
#ifndef MCREG_FUZZ_H
#define MCREG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(cond)                                                                       \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#endif
