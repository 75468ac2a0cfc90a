/* CRC-32C over a byte string. */
#ifndef MCREG_CRC32C_H
#define MCREG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of buf[0..len): "123456789" gives 0xE3069283. */
uint32_t mcreg__crc32c(const uint8_t *buf, size_t len);

#endif
