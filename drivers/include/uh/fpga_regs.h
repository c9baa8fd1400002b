/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uh/fpga_regs.h - the FPGA's registers, reports and commands (docs/icd.md)
 *
 * Generated from simulators/fpga/regs.py and simulators/fpga/icd.py,
 * do not edit; regenerate with:
 *	python -m simulators.cheader simulators.fpga.regs
 */
#ifndef UH_FPGA_REGS_H
#define UH_FPGA_REGS_H

#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/types.h>

#define FPGA_REGS_SIZE			0x1000
#define FPGA_ID_VALUE			0x46504741	/* "FPGA" */
#define FPGA_CMD_RING_OFFSET		0x10000
#define FPGA_CMD_RING_BYTES		0x10000
#define FPGA_REPORT_RING_OFFSET		0x20000
#define FPGA_MIN_REPORT_RING		0x20000
#define FPGA_MAGIC			0x46504741	/* "FPGA" */
#define FPGA_CMD_MAGIC			0x46434d44	/* "FCMD" */
#define FPGA_ICD_VERSION		1
#define FPGA_MAX_CMD_PAYLOAD		0x1000

/* Registers: offsets in the map */
#define FPGA_ID				0x00		/* u32 */
#define FPGA_VERSION			0x04		/* u32 */
#define FPGA_CTRL			0x08		/* u32 */
#define FPGA_STATUS			0x0c		/* u32 */
#define FPGA_INTR_STATUS		0x10		/* u32 */
#define FPGA_INTR_MASK			0x14		/* u32 */
#define FPGA_REPORT_RING_BASE		0x20		/* u32 */
#define FPGA_REPORT_RING_SIZE		0x24		/* u32 */
#define FPGA_REPORT_RING_HEAD		0x28		/* u32 */
#define FPGA_REPORT_RING_TAIL		0x2c		/* u32 */
#define FPGA_CMD_RING_BASE		0x30		/* u32 */
#define FPGA_CMD_RING_SIZE		0x34		/* u32 */
#define FPGA_CMD_RING_HEAD		0x38		/* u32 */
#define FPGA_CMD_RING_TAIL		0x3c		/* u32 */
#define FPGA_REPORTS_PRODUCED		0x40		/* u32 */
#define FPGA_REPORTS_DROPPED		0x44		/* u32 */
#define FPGA_COMMANDS_CONSUMED		0x48		/* u32 */
#define FPGA_COMMAND_ERRORS		0x4c		/* u32 */
#define FPGA_RATE			0x50		/* u32 */
#define FPGA_BYTES_PRODUCED		0x58		/* u64 */

/* VERSION bits */
#define FPGA_VERSION_MAJOR		GENMASK(31, 24)
#define FPGA_VERSION_MINOR		GENMASK(23, 16)
#define FPGA_VERSION_ICD		GENMASK(7, 0)

/* CTRL bits */
#define FPGA_CTRL_IRQ_EN		BIT(1)
#define FPGA_CTRL_ENABLE		BIT(0)

/* STATUS bits */
#define FPGA_STATUS_ERROR		BIT(2)
#define FPGA_STATUS_OVERFLOW		BIT(1)
#define FPGA_STATUS_RUNNING		BIT(0)

/* INTR_STATUS, INTR_MASK bits */
#define FPGA_INTR_CMD_DONE		BIT(2)
#define FPGA_INTR_OVERFLOW		BIT(1)
#define FPGA_INTR_REPORT_READY		BIT(0)

/* What a report carries (header field `type`) */
#define FPGA_REPORT_SAMPLES		1
#define FPGA_REPORT_STATUS		2
#define FPGA_REPORT_EVENT		3
#define FPGA_REPORT_ECHO		4

/* Header field `flags`: bit masks */
#define FPGA_REPORT_FLAG_DROPPED_BEFORE	1

/* EVENT report codes */
#define FPGA_EVENT_BAD_COMMAND		1
#define FPGA_EVENT_UNKNOWN_OPCODE	2
#define FPGA_EVENT_BAD_ARGUMENT		3
#define FPGA_EVENT_TICK			4

/* What a command asks for (command header field `opcode`) */
#define FPGA_OP_RESET			1
#define FPGA_OP_START			2
#define FPGA_OP_STOP			3
#define FPGA_OP_SET_RATE		4
#define FPGA_OP_SET_PARAM		5
#define FPGA_OP_ECHO			6

/* SET_PARAM parameter ids */
#define FPGA_PARAM_REPORT_TYPE		1
#define FPGA_PARAM_REPORT_SIZE		2
#define FPGA_PARAM_STATUS_PERIOD	3

struct fpga_report_hdr {
	__le32 magic;
	u8 version;
	u8 type;
	u8 flags;
	u8 reserved0;
	__le32 sequence;
	__le64 timestamp_ns;
	__le16 payload_len;
	__le16 reserved1;
	__le32 crc32;
} __packed;

static_assert(sizeof(struct fpga_report_hdr) == 28);

struct fpga_cmd_hdr {
	__le32 magic;
	u8 version;
	u8 opcode;
	u8 flags;
	u8 reserved0;
	__le32 tag;
	__le16 payload_len;
	__le16 reserved1;
	__le32 crc32;
} __packed;

static_assert(sizeof(struct fpga_cmd_hdr) == 20);

#endif /* UH_FPGA_REGS_H */
