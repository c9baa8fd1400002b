/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uh_crc32.h - zlib's CRC-32 (IEEE 802.3, reflected polynomial 0xedb88320)
 * for the guest programs, by table lookups eight bytes a step ("slicing by
 * 8"). uh_crc32_update(0, p, len) equals zlib's crc32(0, p, len), and
 * uh_crc32_update(uh_crc32_update(0, a, n), b, m) the CRC of a then b.
 * Call uh_crc32_init() once before the first uh_crc32_update().
 *
 * Header only: each program that includes it gets its own static copy.
 */
#ifndef UH_CRC32_H
#define UH_CRC32_H

#include <stddef.h>
#include <stdint.h>

static uint32_t uh_crc32_table[8][256];

static void uh_crc32_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
		uh_crc32_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			uh_crc32_table[t][i] = (uh_crc32_table[t - 1][i] >> 8) ^
					       uh_crc32_table[0][uh_crc32_table[t - 1][i] & 0xff];
}

/* Continue a zlib CRC-32 (0 to start) over @len bytes, eight bytes a step. */
static uint32_t uh_crc32_update(uint32_t crc, const uint8_t *p, size_t len)
{
	uint32_t (*t)[256] = uh_crc32_table;

	crc = ~crc;
	while (len >= 8) {
		/* Little-endian loads, whatever the host's byte order. */
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
				     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);

		crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^
		      t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
		      t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#endif /* UH_CRC32_H */
