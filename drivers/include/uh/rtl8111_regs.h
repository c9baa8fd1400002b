/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uh/rtl8111_regs.h - the RTL8111's registers, with r8169's names
 *
 * Generated from simulators/rtl8111/regs.py,
 * do not edit; regenerate with:
 *	python -m simulators.cheader simulators.rtl8111.regs
 */
#ifndef UH_RTL8111_REGS_H
#define UH_RTL8111_REGS_H

#include <linux/bits.h>

#define RTL_REGS_SIZE		0x100

/* Registers: offsets in the map */
#define MAC0			0x00	/* u8 */
#define MAC1			0x01	/* u8 */
#define MAC2			0x02	/* u8 */
#define MAC3			0x03	/* u8 */
#define MAC4			0x04	/* u8 */
#define MAC5			0x05	/* u8 */
#define MAR0			0x08	/* u64 */
#define CounterAddrLow		0x10	/* u32 */
#define CounterAddrHigh		0x14	/* u32 */
#define TxDescStartAddrLow	0x20	/* u32 */
#define TxDescStartAddrHigh	0x24	/* u32 */
#define TxHDescStartAddrLow	0x28	/* u32 */
#define TxHDescStartAddrHigh	0x2c	/* u32 */
#define ChipCmd			0x37	/* u8 */
#define TxPoll			0x38	/* u8 */
#define IntrMask		0x3c	/* u16 */
#define IntrStatus		0x3e	/* u16 */
#define TxConfig		0x40	/* u32 */
#define RxConfig		0x44	/* u32 */
#define Cfg9346			0x50	/* u8 */
#define Config0			0x51	/* u8 */
#define Config1			0x52	/* u8 */
#define Config2			0x53	/* u8 */
#define Config3			0x54	/* u8 */
#define Config4			0x55	/* u8 */
#define Config5			0x56	/* u8 */
#define PHYAR			0x60	/* u32 */
#define CSIDR			0x64	/* u32 */
#define CSIAR			0x68	/* u32 */
#define PHYstatus		0x6c	/* u8 */
#define ERIDR			0x70	/* u32 */
#define ERIAR			0x74	/* u32 */
#define EPHYAR			0x80	/* u32 */
#define OCPDR			0xb0	/* u32 */
#define OCPAR			0xb4	/* u32 */
#define GPHY_OCP		0xb8	/* u32 */
#define RxMaxSize		0xda	/* u16 */
#define CPlusCmd		0xe0	/* u16 */
#define IntrMitigate		0xe2	/* u16 */
#define RxDescAddrLow		0xe4	/* u32 */
#define RxDescAddrHigh		0xe8	/* u32 */

/* IntrMask, IntrStatus bits */
#define SYSErr			BIT(15)
#define PCSTimeout		BIT(14)
#define SWInt			BIT(8)
#define TxDescUnavail		BIT(7)
#define RxFIFOOver		BIT(6)
#define LinkChg			BIT(5)
#define RxOverflow		BIT(4)
#define TxErr			BIT(3)
#define TxOK			BIT(2)
#define RxErr			BIT(1)
#define RxOK			BIT(0)

/* PHYstatus bits */
#define TBI_Enable		BIT(7)
#define TxFlowCtrl		BIT(6)
#define RxFlowCtrl		BIT(5)
#define _1000bpsF		BIT(4)
#define _100bps			BIT(3)
#define _10bps			BIT(2)
#define LinkStatus		BIT(1)
#define FullDup			BIT(0)

/* ChipCmd bits (r8169 `ChipCmdBits`) */
#define StopReq			BIT(7)
#define CmdReset		BIT(4)
#define CmdRxEnb		BIT(3)
#define CmdTxEnb		BIT(2)
#define RxBufEmpty		BIT(0)

#endif /* UH_RTL8111_REGS_H */
