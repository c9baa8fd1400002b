/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uh_iomem.h - a device simulated on the host, as a UML driver sees it.
 *
 * The device's registers are an iomem region: a host file that UML maps
 * (iomem=NAME,FILE on the kernel command line) and a simulator on the host
 * maps too. Its interrupt line is a unix datagram socket the driver creates
 * in the instance's umid directory, named after the region: the simulator
 * raises the interrupt by sending a datagram to it.
 *
 * The registers are plain shared memory, so they have no side effects: a
 * driver acknowledges an interrupt by clearing the status bits it handled
 * (uh_iomem_clear8(), uh_iomem_clear16()), where real hardware would take
 * write-1-to-clear.
 *
 * This header is installed with umlharness, which puts it on the include
 * path of every driver it builds: include it as <uh_iomem.h>, do not copy it.
 */
#ifndef UH_IOMEM_H
#define UH_IOMEM_H

/* Bumped when the interface below changes. */
#define UH_IOMEM_VERSION 2

/*
 * The harness builds with -DUH_IOMEM_HARNESS_VERSION: a copy of this header
 * from another release is caught here rather than misbehaving at run time.
 */
#if defined(UH_IOMEM_HARNESS_VERSION) && UH_IOMEM_HARNESS_VERSION != UH_IOMEM_VERSION
#error "this uh_iomem.h is not the one of the installed umlharness: include <uh_iomem.h> and delete the copy"
#endif

#include <linux/atomic.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/interrupt.h>
#include <linux/types.h>
#include <asm/byteorder.h>

#define UH_SOCKET_PATH_MAX 108	/* sizeof(sockaddr_un.sun_path) */

struct uh_iomem_dev {
	const char *name;	/* the region's name; also its socket's name */
	void *base;		/* the region, mapped by UML */
	unsigned long size;
	int fd;			/* the interrupt socket */
	int irq;
	char socket_path[UH_SOCKET_PATH_MAX];
};

/*
 * Setting up and tearing down the region and its interrupt is done by the
 * uh_core module, which the harness builds with every driver and modprobe
 * loads before any driver that uses it.
 */

/* Find the iomem region @name given on the kernel command line. */
int uh_iomem_map(struct uh_iomem_dev *dev, const char *name);

/*
 * Create the interrupt socket <umid dir>/<region name> and request an
 * interrupt on it. The socket is non-blocking, so the handler can drain it.
 */
int uh_iomem_request_irq(struct uh_iomem_dev *dev, irq_handler_t handler,
			 void *data);

/* Read every pending datagram; returns how many there were. */
unsigned int uh_iomem_drain(struct uh_iomem_dev *dev);

/* Free the interrupt, close the socket and remove its file. */
void uh_iomem_free_irq(struct uh_iomem_dev *dev, void *data);

/* Little-endian register accessors, as the device's register map is. */
static inline u8 uh_read8(struct uh_iomem_dev *dev, unsigned int off)
{
	return READ_ONCE(*(u8 *)(dev->base + off));
}

static inline u16 uh_read16(struct uh_iomem_dev *dev, unsigned int off)
{
	return le16_to_cpu(READ_ONCE(*(__le16 *)(dev->base + off)));
}

static inline u32 uh_read32(struct uh_iomem_dev *dev, unsigned int off)
{
	return le32_to_cpu(READ_ONCE(*(__le32 *)(dev->base + off)));
}

static inline void uh_write8(struct uh_iomem_dev *dev, unsigned int off, u8 val)
{
	WRITE_ONCE(*(u8 *)(dev->base + off), val);
}

static inline void uh_write16(struct uh_iomem_dev *dev, unsigned int off,
			      u16 val)
{
	WRITE_ONCE(*(__le16 *)(dev->base + off), cpu_to_le16(val));
}

static inline void uh_write32(struct uh_iomem_dev *dev, unsigned int off,
			      u32 val)
{
	WRITE_ONCE(*(__le32 *)(dev->base + off), cpu_to_le32(val));
}

/*
 * Clear bits of a register atomically, so that bits the simulator sets at
 * the same moment are not lost. UML is a uniprocessor kernel, where
 * cmpxchg() and smp_mb() lose their lock prefix and fence, but the
 * simulator writes the register from another host CPU: sync_cmpxchg() and
 * virt_mb() keep them (they exist for memory shared with a hypervisor,
 * which this is too). The barriers order the status read before the ack
 * and the state reads after it. @lebits is in the register's byte order.
 */
#define uh_iomem_clear(reg, lebits)					\
	do {								\
		typeof(*(reg)) _uh_old, _uh_seen;			\
									\
		virt_mb();	/* status read before the ack */	\
		_uh_old = READ_ONCE(*(reg));				\
		for (;;) {						\
			_uh_seen = sync_cmpxchg((reg), _uh_old,		\
					      _uh_old & ~(lebits));	\
			if (_uh_seen == _uh_old)			\
				break;					\
			_uh_old = _uh_seen;				\
		}							\
		virt_mb();	/* state reads after it */		\
	} while (0)

static inline void uh_iomem_clear8(struct uh_iomem_dev *dev, unsigned int off,
				   u8 bits)
{
	uh_iomem_clear((u8 *)(dev->base + off), bits);
}

static inline void uh_iomem_clear16(struct uh_iomem_dev *dev, unsigned int off,
				    u16 bits)
{
	uh_iomem_clear((u16 *)(dev->base + off), (u16)cpu_to_le16(bits));
}

static inline void uh_iomem_clear32(struct uh_iomem_dev *dev, unsigned int off,
				    u32 bits)
{
	uh_iomem_clear((u32 *)(dev->base + off), (u32)cpu_to_le32(bits));
}

/*
 * Ring indices shared with the simulator: the producer writes the data,
 * then the index with release semantics; the consumer reads the index with
 * acquire semantics, then the data. These are smp_load_acquire() and
 * smp_store_release() that stay barriers in a uniprocessor kernel (the
 * virt_ variants), since the other side runs on another host CPU.
 */
static inline u32 uh_load_acquire32(struct uh_iomem_dev *dev, unsigned int off)
{
	/* the data the index covers is read after it */
	return le32_to_cpu(virt_load_acquire((__le32 *)(dev->base + off)));
}

static inline void uh_store_release32(struct uh_iomem_dev *dev,
				      unsigned int off, u32 val)
{
	/* the data (or our reads of it) come before the index */
	virt_store_release((__le32 *)(dev->base + off), cpu_to_le32(val));
}

#endif /* UH_IOMEM_H */
