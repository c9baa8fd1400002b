/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gpio8_regs.h - the gpio8 input controller's registers
 *
 * Generated from gpio8_model/regs.py,
 * do not edit; regenerate with:
 *	sim header gpio8_model.regs:C_HEADER -o drivers/gpio8/gpio8_regs.h
 */
#ifndef GPIO8_REGS_H
#define GPIO8_REGS_H

#include <linux/bits.h>

#define GPIO8_REGS_SIZE	0x10
#define GPIO8_ID_VALUE	0x4750494f	/* "GPIO" */
#define GPIO8_PINS	8

/* Registers: offsets in the map */
#define GPIO8_ID	0x00		/* u32 */
#define GPIO8_IN	0x04		/* u8 */
#define GPIO8_IE	0x05		/* u8 */
#define GPIO8_CHANGED	0x06		/* u8 */

#endif /* GPIO8_REGS_H */
