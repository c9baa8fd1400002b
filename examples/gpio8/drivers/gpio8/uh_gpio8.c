// SPDX-License-Identifier: GPL-2.0
/*
 * uh_gpio8 - an 8-pin input controller simulated on the host.
 *
 * The controller (gpio8_model) reports the levels of eight input pins and
 * raises its interrupt when an enabled pin changes. The driver shows it on
 * a platform device:
 *
 *   /sys/devices/platform/uh_gpio8/value     the pin levels (IN), in hex
 *   /sys/devices/platform/uh_gpio8/irq_mask  the pins that interrupt (IE),
 *                                            writable
 *   /sys/devices/platform/uh_gpio8/changes   change interrupts handled
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/sysfs.h>

#include <uh_iomem.h>
#include "gpio8_regs.h"	/* generated from gpio8_model/regs.py */

#define GPIO8_REGION	"gpio8"
#define GPIO8_ALL_PINS	GENMASK(GPIO8_PINS - 1, 0)

struct gpio8 {
	struct uh_iomem_dev io;
	struct platform_device *pdev;
	atomic_t changes;	/* change interrupts handled */
};

static struct gpio8 gpio8;

static irqreturn_t gpio8_interrupt(int irq, void *data)
{
	struct gpio8 *gp = data;
	u8 changed;

	uh_iomem_drain(&gp->io);
	smp_rmb();	/* the datagram follows the model's register writes */
	changed = uh_read8(&gp->io, GPIO8_CHANGED) & uh_read8(&gp->io, GPIO8_IE);
	if (!changed)
		return IRQ_NONE;
	/* Clearing the bits is the acknowledgement: there is no W1C on iomem. */
	uh_iomem_clear8(&gp->io, GPIO8_CHANGED, changed);
	atomic_inc(&gp->changes);
	return IRQ_HANDLED;
}

static ssize_t value_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct gpio8 *gp = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%#04x\n", uh_read8(&gp->io, GPIO8_IN));
}
static DEVICE_ATTR_RO(value);

static ssize_t irq_mask_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct gpio8 *gp = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%#04x\n", uh_read8(&gp->io, GPIO8_IE));
}

static ssize_t irq_mask_store(struct device *dev,
			      struct device_attribute *attr, const char *buf,
			      size_t count)
{
	struct gpio8 *gp = dev_get_drvdata(dev);
	u8 mask;
	int err;

	err = kstrtou8(buf, 0, &mask);
	if (err)
		return err;
	uh_write8(&gp->io, GPIO8_IE, mask);
	return count;
}
static DEVICE_ATTR_RW(irq_mask);

static ssize_t changes_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct gpio8 *gp = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n", atomic_read(&gp->changes));
}
static DEVICE_ATTR_RO(changes);

static struct attribute *gpio8_attrs[] = {
	&dev_attr_value.attr,
	&dev_attr_irq_mask.attr,
	&dev_attr_changes.attr,
	NULL
};
ATTRIBUTE_GROUPS(gpio8);

static int __init gpio8_init(void)
{
	struct gpio8 *gp = &gpio8;
	u32 id;
	int err;

	err = uh_iomem_map(&gp->io, GPIO8_REGION);
	if (err) {
		pr_err("no iomem region '%s'\n", GPIO8_REGION);
		return err;
	}
	if (gp->io.size < GPIO8_REGS_SIZE) {
		pr_err("iomem region '%s' is %lu bytes, needs %d\n",
		       GPIO8_REGION, gp->io.size, GPIO8_REGS_SIZE);
		return -EINVAL;
	}
	/* The driver loads at boot, before the model attaches and sets the
	 * ID: a zeroed region is a controller not reset yet.
	 */
	id = uh_read32(&gp->io, GPIO8_ID);
	if (id && id != GPIO8_ID_VALUE) {
		pr_err("iomem region '%s' holds device ID %#010x, not %#010x\n",
		       GPIO8_REGION, id, GPIO8_ID_VALUE);
		return -ENODEV;
	}

	err = uh_iomem_request_irq(&gp->io, gpio8_interrupt, gp);
	if (err) {
		pr_err("cannot set up the interrupt for '%s' (%d)\n",
		       GPIO8_REGION, err);
		return err;
	}
	gp->pdev = platform_device_register_simple("uh_gpio8",
						   PLATFORM_DEVID_NONE, NULL, 0);
	if (IS_ERR(gp->pdev)) {
		err = PTR_ERR(gp->pdev);
		goto out_irq;
	}
	platform_set_drvdata(gp->pdev, gp);
	err = device_add_groups(&gp->pdev->dev, gpio8_groups);
	if (err)
		goto out_pdev;

	/* Changes from an earlier load are not this load's to count. */
	uh_iomem_clear8(&gp->io, GPIO8_CHANGED, GPIO8_ALL_PINS);
	uh_write8(&gp->io, GPIO8_IE, GPIO8_ALL_PINS);
	pr_info("%d pins on iomem '%s', irq %d\n", GPIO8_PINS, GPIO8_REGION,
		gp->io.irq);
	return 0;

out_pdev:
	platform_device_unregister(gp->pdev);
out_irq:
	uh_iomem_free_irq(&gp->io, gp);
	return err;
}

static void __exit gpio8_exit(void)
{
	struct gpio8 *gp = &gpio8;

	/* Mask every pin first: the model interrupts nobody after this. */
	uh_write8(&gp->io, GPIO8_IE, 0);
	device_remove_groups(&gp->pdev->dev, gpio8_groups);
	platform_device_unregister(gp->pdev);
	uh_iomem_free_irq(&gp->io, gp);
}

module_init(gpio8_init);
module_exit(gpio8_exit);

MODULE_DESCRIPTION("8-pin input controller on a host-simulated device");
MODULE_LICENSE("GPL");
/* Loaded by the guest's init for an iomem region of this name. */
MODULE_ALIAS("iomem:gpio8");
