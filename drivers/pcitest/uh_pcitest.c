// SPDX-License-Identifier: GPL-2.0
/*
 * uh_pcitest - a generic PCI test driver for the device that
 * simulators/pcitest models, served over UML's virt-pci.
 *
 * It uses only standard PCI interfaces (pci_iomap, ioread/iowrite of every
 * width, memcpy_toio/fromio, memset_io, MSI and MSI-X vectors, coherent
 * DMA), so the PCI transport can be tested apart from any real driver. The
 * tests are sysfs attributes of the PCI device: writing one starts a test,
 * reading it shows the last result as one line.
 */

#include <linux/crc32.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/wait.h>

#define PT_ID			0x00
#define PT_VERSION		0x04
#define PT_SCRATCH8		0x08
#define PT_SCRATCH16		0x0a
#define PT_SCRATCH32		0x0c
#define PT_SCRATCH64		0x10
#define PT_ACCUM		0x18
#define PT_ACCUM_COUNT		0x1c
#define PT_IRQ_RAISE		0x20
#define PT_IRQ_STATUS		0x24
#define PT_DMA_ADDR_LO		0x28
#define PT_DMA_ADDR_HI		0x2c
#define PT_DMA_LEN		0x30
#define PT_DMA_CMD		0x34
#define PT_DMA_SEED		0x38
#define PT_DMA_CRC		0x3c
#define PT_DMA_STATUS		0x40
#define PT_WINDOW		0x100
#define PT_WINDOW_SIZE		0x100

#define PT_ID_VALUE		0x54504855	/* "UHPT" */
#define PT_DMA_TO_DEVICE	1
#define PT_DMA_FROM_DEVICE	2
#define PT_DMA_IRQ		BIT(31)
#define PT_DMA_MAX		SZ_1M
#define PT_VECTORS		4
#define PT_POSTED_MAX		1000000
#define PT_BENCH_MAX		100000
#define PT_IRQ_WAIT		HZ
#define PT_RESULT		160

struct pcitest {
	struct pci_dev *pdev;
	void __iomem *regs;
	struct mutex lock;		/* one test at a time; guards the results */
	wait_queue_head_t irq_wait;
	atomic_t irq_count[PT_VECTORS];
	int nvec;
	char posted[PT_RESULT];
	char dma[PT_RESULT];
	char bench[PT_RESULT];
};

static irqreturn_t pcitest_irq(int irq, void *data)
{
	struct pcitest *pt = data;
	u32 status = ioread32(pt->regs + PT_IRQ_STATUS);
	int bit;

	if (!status)
		return IRQ_NONE;
	iowrite32(status, pt->regs + PT_IRQ_STATUS);
	for (bit = 0; bit < PT_VECTORS; bit++)
		if (status & BIT(bit))
			atomic_inc(&pt->irq_count[bit]);
	wake_up(&pt->irq_wait);
	return IRQ_HANDLED;
}

/* Raise vector @vec through the device; 0 once its handler has counted it. */
static int pcitest_raise(struct pcitest *pt, unsigned int vec)
{
	int before = atomic_read(&pt->irq_count[vec]);

	iowrite32(vec, pt->regs + PT_IRQ_RAISE);
	if (!wait_event_timeout(pt->irq_wait,
				atomic_read(&pt->irq_count[vec]) != before,
				PT_IRQ_WAIT))
		return -ETIMEDOUT;
	return 0;
}

/* The stored result of the last test of a kind, at @offset in struct pcitest */
static ssize_t pcitest_show_result(struct device *dev, size_t offset, char *buf)
{
	struct pcitest *pt = dev_get_drvdata(dev);
	ssize_t len;

	mutex_lock(&pt->lock);
	len = sysfs_emit(buf, "%s", (const char *)pt + offset);
	mutex_unlock(&pt->lock);
	return len;
}

static ssize_t irq_mode_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct pcitest *pt = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s %d\n",
			  pt->pdev->msix_enabled ? "msix" : "msi", pt->nvec);
}
static DEVICE_ATTR_RO(irq_mode);

static ssize_t irq_counts_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct pcitest *pt = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d %d %d %d\n",
			  atomic_read(&pt->irq_count[0]),
			  atomic_read(&pt->irq_count[1]),
			  atomic_read(&pt->irq_count[2]),
			  atomic_read(&pt->irq_count[3]));
}
static DEVICE_ATTR_RO(irq_counts);

static ssize_t raise_irq_store(struct device *dev,
			       struct device_attribute *attr,
			       const char *buf, size_t count)
{
	struct pcitest *pt = dev_get_drvdata(dev);
	unsigned int vec;
	int ret;

	ret = kstrtouint(buf, 0, &vec);
	if (ret)
		return ret;
	if (vec >= PT_VECTORS)
		return -EINVAL;
	mutex_lock(&pt->lock);
	ret = pcitest_raise(pt, vec);
	mutex_unlock(&pt->lock);
	return ret ? ret : count;
}
static DEVICE_ATTR_WO(raise_irq);

static ssize_t scratch_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct pcitest *pt = dev_get_drvdata(dev);

	return sysfs_emit(buf, "0x%08x\n", ioread32(pt->regs + PT_SCRATCH32));
}

static ssize_t scratch_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t count)
{
	struct pcitest *pt = dev_get_drvdata(dev);
	u32 value;
	int ret;

	ret = kstrtou32(buf, 0, &value);
	if (ret)
		return ret;
	iowrite32(value, pt->regs + PT_SCRATCH32);
	return count;
}
static DEVICE_ATTR_RW(scratch);

/* Each width written and read back with its own accessor. */
static ssize_t widths_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct pcitest *pt = dev_get_drvdata(dev);
	void __iomem *regs = pt->regs;
	const u64 pattern = 0x8877665544332211ULL;
	int len = 0;
	u64 got;
	u32 id;

	mutex_lock(&pt->lock);
	id = ioread32(regs + PT_ID);
	len += sysfs_emit_at(buf, len, id == PT_ID_VALUE ? "id ok\n" :
			     "id FAIL 0x%08x\n", id);

	iowrite8(0xa5, regs + PT_SCRATCH8);
	got = ioread8(regs + PT_SCRATCH8);
	len += sysfs_emit_at(buf, len, got == 0xa5 ? "8 ok\n" :
			     "8 FAIL wrote 0xa5 read 0x%llx\n", got);

	iowrite16(0xbeef, regs + PT_SCRATCH16);
	got = ioread16(regs + PT_SCRATCH16);
	len += sysfs_emit_at(buf, len, got == 0xbeef ? "16 ok\n" :
			     "16 FAIL wrote 0xbeef read 0x%llx\n", got);

	iowrite32(0xdeadbeef, regs + PT_SCRATCH32);
	got = ioread32(regs + PT_SCRATCH32);
	len += sysfs_emit_at(buf, len, got == 0xdeadbeef ? "32 ok\n" :
			     "32 FAIL wrote 0xdeadbeef read 0x%llx\n", got);

	writeq(pattern, regs + PT_SCRATCH64);
	got = readq(regs + PT_SCRATCH64);
	len += sysfs_emit_at(buf, len, got == pattern ? "64 ok\n" :
			     "64 FAIL wrote 0x%llx read 0x%llx\n",
			     pattern, got);
	mutex_unlock(&pt->lock);
	return len;
}
static DEVICE_ATTR_RO(widths);

/* N back-to-back posted writes: the device must see every one. */
static ssize_t posted_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t count)
{
	struct pcitest *pt = dev_get_drvdata(dev);
	u32 writes, i, seen, sum, expected = 0;
	int ret;

	ret = kstrtou32(buf, 0, &writes);
	if (ret)
		return ret;
	if (!writes || writes > PT_POSTED_MAX)
		return -EINVAL;
	mutex_lock(&pt->lock);
	iowrite32(0, pt->regs + PT_ACCUM_COUNT);
	for (i = 0; i < writes; i++) {
		iowrite32(i + 1, pt->regs + PT_ACCUM);
		expected += i + 1;
	}
	seen = ioread32(pt->regs + PT_ACCUM_COUNT);
	sum = ioread32(pt->regs + PT_ACCUM);
	scnprintf(pt->posted, sizeof(pt->posted),
		  "writes %u count %u sum %u expected %u\n",
		  writes, seen, sum, expected);
	mutex_unlock(&pt->lock);
	return count;
}

static ssize_t posted_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return pcitest_show_result(dev, offsetof(struct pcitest, posted), buf);
}
static DEVICE_ATTR_RW(posted);

static u8 window_byte(unsigned int i)
{
	return (i * 13 + 1) & 0xff;
}

/* memcpy_toio/fromio through WINDOW, then a memset_io over part of it. */
static ssize_t window_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct pcitest *pt = dev_get_drvdata(dev);
	void __iomem *window = pt->regs + PT_WINDOW;
	unsigned int i, bad_copy = PT_WINDOW_SIZE, bad_set = PT_WINDOW_SIZE;
	u8 *data;
	int len;

	/* Not on the stack: the device reaches only linear-map memory. */
	data = kmalloc(PT_WINDOW_SIZE, GFP_KERNEL);
	if (!data)
		return -ENOMEM;
	mutex_lock(&pt->lock);
	for (i = 0; i < PT_WINDOW_SIZE; i++)
		data[i] = window_byte(i);
	memcpy_toio(window, data, PT_WINDOW_SIZE);
	memset(data, 0, PT_WINDOW_SIZE);
	memcpy_fromio(data, window, PT_WINDOW_SIZE);
	for (i = 0; i < PT_WINDOW_SIZE && bad_copy == PT_WINDOW_SIZE; i++)
		if (data[i] != window_byte(i))
			bad_copy = i;

	memset_io(window, 0xa5, 64);
	memcpy_fromio(data, window, 64);
	for (i = 0; i < 64 && bad_set == PT_WINDOW_SIZE; i++)
		if (data[i] != 0xa5)
			bad_set = i;
	if (bad_set == PT_WINDOW_SIZE && ioread8(window + 64) != window_byte(64))
		bad_set = 64;
	mutex_unlock(&pt->lock);
	kfree(data);

	if (bad_copy == PT_WINDOW_SIZE)
		len = sysfs_emit(buf, "copy ok\n");
	else
		len = sysfs_emit(buf, "copy FAIL at %u\n", bad_copy);
	if (bad_set == PT_WINDOW_SIZE)
		len += sysfs_emit_at(buf, len, "memset ok\n");
	else
		len += sysfs_emit_at(buf, len, "memset FAIL at %u\n", bad_set);
	return len;
}
static DEVICE_ATTR_RO(window);

static u32 pcitest_crc(const u8 *data, size_t len)
{
	return crc32_le(~0, data, len) ^ ~0;	/* zlib's crc32 */
}

/* "to N [irq]": the device reads N bytes; "from N SEED [irq]": it writes them. */
static ssize_t dma_store(struct device *dev, struct device_attribute *attr,
			 const char *buf, size_t count)
{
	struct pcitest *pt = dev_get_drvdata(dev);
	char dir[8], arg[12] = "", irq[8] = "";
	u32 len, seed = 0, cmd, crc_dev, crc_drv, status, i;
	bool pattern_ok = true, irq_ok = true;
	int fields, before;
	dma_addr_t addr;
	u64 start, ns;
	u8 *data;

	fields = sscanf(buf, "%7s %u %11s %7s", dir, &len, arg, irq);
	if (fields < 2 || !len || len > PT_DMA_MAX)
		return -EINVAL;
	if (!strcmp(dir, "to")) {
		cmd = PT_DMA_TO_DEVICE;
		if (fields > 3)
			return -EINVAL;
		strscpy(irq, arg, sizeof(irq));	/* "to N [irq]" */
	} else if (!strcmp(dir, "from")) {
		cmd = PT_DMA_FROM_DEVICE;	/* "from N SEED [irq]" */
		if (fields < 3 || kstrtou32(arg, 0, &seed))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (irq[0] && strcmp(irq, "irq"))
		return -EINVAL;
	if (irq[0])
		cmd |= PT_DMA_IRQ;

	data = dma_alloc_coherent(&pt->pdev->dev, len, &addr, GFP_KERNEL);
	if (!data)
		return -ENOMEM;
	mutex_lock(&pt->lock);
	for (i = 0; i < len; i++)
		data[i] = cmd & PT_DMA_TO_DEVICE ? (i * 7 + 3) & 0xff : 0;
	iowrite32(lower_32_bits(addr), pt->regs + PT_DMA_ADDR_LO);
	iowrite32(upper_32_bits(addr), pt->regs + PT_DMA_ADDR_HI);
	iowrite32(len, pt->regs + PT_DMA_LEN);
	iowrite32(seed, pt->regs + PT_DMA_SEED);
	before = atomic_read(&pt->irq_count[0]);
	start = ktime_get_ns();
	iowrite32(cmd, pt->regs + PT_DMA_CMD);
	/*
	 * The write is posted; the device carries the command out before it
	 * answers any later access, so this read returns once it is done.
	 */
	status = ioread32(pt->regs + PT_DMA_STATUS);
	ns = ktime_get_ns() - start;
	if (cmd & PT_DMA_IRQ)
		irq_ok = wait_event_timeout(pt->irq_wait,
					    atomic_read(&pt->irq_count[0]) != before,
					    PT_IRQ_WAIT);
	crc_dev = ioread32(pt->regs + PT_DMA_CRC);
	crc_drv = pcitest_crc(data, len);
	if (!(cmd & PT_DMA_TO_DEVICE))
		for (i = 0; i < len && pattern_ok; i++)
			pattern_ok = data[i] == ((i * 31 + seed) & 0xff);

	scnprintf(pt->dma, sizeof(pt->dma),
		  "%s %u status %u crc_dev 0x%08x crc_drv 0x%08x%s ns %llu%s\n",
		  dir, len, status, crc_dev, crc_drv,
		  cmd & PT_DMA_TO_DEVICE ? "" :
		  pattern_ok ? " pattern ok" : " pattern FAIL",
		  ns, cmd & PT_DMA_IRQ ? (irq_ok ? " irq ok" : " irq timeout") : "");
	mutex_unlock(&pt->lock);
	dma_free_coherent(&pt->pdev->dev, len, data, addr);
	return count;
}

static ssize_t dma_show(struct device *dev, struct device_attribute *attr,
			char *buf)
{
	return pcitest_show_result(dev, offsetof(struct pcitest, dma), buf);
}
static DEVICE_ATTR_RW(dma);

static int cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Latency of the transport, as this driver sees it: "read N" times N MMIO
 * reads one by one, "irq N" the time from an IRQ_RAISE write to its
 * handler. Medians and 99th percentiles, in nanoseconds.
 */
static ssize_t bench_store(struct device *dev, struct device_attribute *attr,
			   const char *buf, size_t count)
{
	struct pcitest *pt = dev_get_drvdata(dev);
	u32 runs, i, timeouts = 0;
	u64 start, total;
	char what[8];
	u32 *ns;

	if (sscanf(buf, "%7s %u", what, &runs) != 2 || !runs ||
	    runs > PT_BENCH_MAX)
		return -EINVAL;
	if (strcmp(what, "read") && strcmp(what, "irq"))
		return -EINVAL;
	ns = kvmalloc_array(runs, sizeof(*ns), GFP_KERNEL);
	if (!ns)
		return -ENOMEM;
	mutex_lock(&pt->lock);
	total = ktime_get_ns();
	for (i = 0; i < runs; i++) {
		start = ktime_get_ns();
		if (what[0] == 'r')
			ioread32(pt->regs + PT_SCRATCH32);
		else if (pcitest_raise(pt, 0))
			timeouts++;
		ns[i] = ktime_get_ns() - start;
	}
	total = ktime_get_ns() - total;
	sort(ns, runs, sizeof(*ns), cmp_u32, NULL);
	scnprintf(pt->bench, sizeof(pt->bench),
		  "%s %u median_ns %u p99_ns %u total_ns %llu timeouts %u\n",
		  what, runs, ns[runs / 2], ns[runs * 99 / 100], total, timeouts);
	mutex_unlock(&pt->lock);
	kvfree(ns);
	return count;
}

static ssize_t bench_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return pcitest_show_result(dev, offsetof(struct pcitest, bench), buf);
}
static DEVICE_ATTR_RW(bench);

static struct attribute *pcitest_attrs[] = {
	&dev_attr_irq_mode.attr,
	&dev_attr_irq_counts.attr,
	&dev_attr_raise_irq.attr,
	&dev_attr_scratch.attr,
	&dev_attr_widths.attr,
	&dev_attr_posted.attr,
	&dev_attr_window.attr,
	&dev_attr_dma.attr,
	&dev_attr_bench.attr,
	NULL,
};
ATTRIBUTE_GROUPS(pcitest);

static void pcitest_free_vectors(void *pdev)
{
	pci_free_irq_vectors(pdev);
}

static int pcitest_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct pcitest *pt;
	int ret, vec;

	pt = devm_kzalloc(dev, sizeof(*pt), GFP_KERNEL);
	if (!pt)
		return -ENOMEM;
	pt->pdev = pdev;
	mutex_init(&pt->lock);
	init_waitqueue_head(&pt->irq_wait);

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);
	if (ret)
		return ret;
	pt->regs = pcim_iomap_table(pdev)[0];
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret)
		ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32));
	if (ret)
		return ret;

	/* No INTx: UML's virt-pci (6.1, 6.12) cannot deliver it. */
	pt->nvec = pci_alloc_irq_vectors(pdev, 1, PT_VECTORS,
					 PCI_IRQ_MSIX | PCI_IRQ_MSI);
	if (pt->nvec < 0)
		return pt->nvec;
	/* Vectors go after the handlers that use them (devm runs in reverse). */
	ret = devm_add_action_or_reset(dev, pcitest_free_vectors, pdev);
	if (ret)
		return ret;
	for (vec = 0; vec < pt->nvec; vec++) {
		ret = devm_request_irq(dev, pci_irq_vector(pdev, vec), pcitest_irq,
				       0, KBUILD_MODNAME, pt);
		if (ret)
			return ret;
	}
	pci_set_drvdata(pdev, pt);
	dev_info(dev, "ID %08x, %s with %d vectors\n",
		 ioread32(pt->regs + PT_ID),
		 pdev->msix_enabled ? "MSI-X" : "MSI", pt->nvec);
	return 0;
}

static const struct pci_device_id pcitest_ids[] = {
	{ PCI_DEVICE(0x5548, 0x7401) },
	{ }
};
MODULE_DEVICE_TABLE(pci, pcitest_ids);

static struct pci_driver pcitest_driver = {
	.name = KBUILD_MODNAME,
	.id_table = pcitest_ids,
	.probe = pcitest_probe,
	.dev_groups = pcitest_groups,
};
module_pci_driver(pcitest_driver);

MODULE_DESCRIPTION("umlharness: generic PCI test driver (MMIO, MSI/MSI-X, DMA)");
MODULE_LICENSE("GPL");
