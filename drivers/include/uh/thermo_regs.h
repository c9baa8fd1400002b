/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uh/thermo_regs.h - the uh_thermo temperature sensor's registers
 *
 * Generated from simulators/thermo/regs.py,
 * do not edit; regenerate with:
 *	python -m simulators.cheader simulators.thermo.regs
 */
#ifndef UH_THERMO_REGS_H
#define UH_THERMO_REGS_H

#include <linux/bits.h>

#define THERMO_REGS_SIZE	0x40
#define THERMO_ID_VALUE		0x54484d4f	/* "THMO" */

/* Registers: offsets in the map */
#define THERMO_ID		0x00		/* u32 */
#define THERMO_CTRL		0x04		/* u8 */
#define THERMO_STATUS		0x05		/* u8 */
#define THERMO_TEMP		0x08		/* s16 */
#define THERMO_THRESHOLD	0x0a		/* s16 */

/* CTRL bits */
#define THERMO_ALERT_IE		BIT(1)
#define THERMO_ENABLE		BIT(0)

/* STATUS bits */
#define THERMO_ALERT		BIT(1)
#define THERMO_DATA_READY	BIT(0)

#endif /* UH_THERMO_REGS_H */
