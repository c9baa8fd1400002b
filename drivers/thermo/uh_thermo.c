// SPDX-License-Identifier: GPL-2.0
/*
 * uh_thermo - a temperature sensor simulated on the host.
 *
 * The sensor (simulators/thermo) measures the temperature in hundredths of
 * a degree Celsius and raises its interrupt when a reading rises above the
 * alert threshold, which the driver programs. The driver shows the sensor
 * on a platform device, in millidegrees Celsius as hwmon does:
 *
 *   /sys/devices/platform/uh_thermo/temp       the last reading
 *   /sys/devices/platform/uh_thermo/threshold  the alert threshold (writable)
 *   /sys/devices/platform/uh_thermo/alert      1 from an alert until a reading
 *                                              at or below the threshold
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>

#include <uh_iomem.h>
#include <uh/thermo_regs.h>	/* generated from simulators/thermo/regs.py */

#define THERMO_REGION		"thermo"
/* What THRESHOLD (s16, hundredths of a degree) holds, in millidegrees */
#define THERMO_MIN_MC		(S16_MIN * 10)
#define THERMO_MAX_MC		(S16_MAX * 10)
#define THERMO_CENTI_LEN	sizeof("-327.68")

static int threshold = 80000;
module_param(threshold, int, 0444);
MODULE_PARM_DESC(threshold,
		 "alert threshold in millidegrees Celsius (default: 80000)");

struct thermo {
	struct uh_iomem_dev io;
	struct platform_device *pdev;
	spinlock_t lock;	/* protects alert */
	bool alert;
};

static struct thermo thermo;

/* TEMP or THRESHOLD: hundredths of a degree Celsius, signed */
static s16 thermo_read_centi(struct thermo *th, unsigned int reg)
{
	return (s16)uh_read16(&th->io, reg);
}

static bool thermo_over(struct thermo *th)
{
	return thermo_read_centi(th, THERMO_TEMP) >
	       thermo_read_centi(th, THERMO_THRESHOLD);
}

/* "81.23", "-0.50": hundredths of a degree, in degrees */
static const char *thermo_format(char *buf, s16 centi)
{
	snprintf(buf, THERMO_CENTI_LEN, "%s%d.%02d", centi < 0 ? "-" : "",
		 abs(centi) / 100, abs(centi) % 100);
	return buf;
}

static int thermo_set_threshold(struct thermo *th, int millidegrees)
{
	if (millidegrees < THERMO_MIN_MC || millidegrees > THERMO_MAX_MC)
		return -ERANGE;
	uh_write16(&th->io, THERMO_THRESHOLD,
		   (u16)DIV_ROUND_CLOSEST(millidegrees, 10));
	return 0;
}

static irqreturn_t thermo_interrupt(int irq, void *data)
{
	char temp_str[THERMO_CENTI_LEN], limit_str[THERMO_CENTI_LEN];
	struct thermo *th = data;
	s16 temp, limit;
	u8 status;

	uh_iomem_drain(&th->io);
	smp_rmb();	/* the datagram follows the simulator's register writes */
	status = uh_read8(&th->io, THERMO_STATUS) & THERMO_ALERT;
	if (!status)
		return IRQ_NONE;
	/* Acknowledge first, then read TEMP, as uh_rtl8111 does: the reading
	 * seen here is never older than the alert acknowledged, and an alert
	 * raised after the ack interrupts again.
	 */
	uh_iomem_clear8(&th->io, THERMO_STATUS, status);
	spin_lock(&th->lock);
	temp = thermo_read_centi(th, THERMO_TEMP);
	limit = thermo_read_centi(th, THERMO_THRESHOLD);
	/* A reading back at the threshold or below supersedes the alert. */
	th->alert = temp > limit;
	spin_unlock(&th->lock);
	if (temp > limit)
		pr_info("temperature %s C over %s C\n",
			thermo_format(temp_str, temp),
			thermo_format(limit_str, limit));
	return IRQ_HANDLED;
}

static ssize_t temp_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct thermo *th = dev_get_drvdata(dev);

	if (!(uh_read8(&th->io, THERMO_STATUS) & THERMO_DATA_READY))
		return -ENODATA;
	smp_rmb();	/* the sensor writes TEMP before it sets DATA_READY */
	return sysfs_emit(buf, "%d\n", thermo_read_centi(th, THERMO_TEMP) * 10);
}
static DEVICE_ATTR_RO(temp);

static ssize_t threshold_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	struct thermo *th = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n",
			  thermo_read_centi(th, THERMO_THRESHOLD) * 10);
}

static ssize_t threshold_store(struct device *dev,
			       struct device_attribute *attr, const char *buf,
			       size_t count)
{
	struct thermo *th = dev_get_drvdata(dev);
	int millidegrees, err;

	err = kstrtoint(buf, 10, &millidegrees);
	if (err)
		return err;
	err = thermo_set_threshold(th, millidegrees);
	return err ? err : count;
}
static DEVICE_ATTR_RW(threshold);

static ssize_t alert_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct thermo *th = dev_get_drvdata(dev);
	unsigned long flags;
	bool alert;

	spin_lock_irqsave(&th->lock, flags);
	/* The alert holds until a reading at or below the threshold. */
	if (!thermo_over(th))
		th->alert = false;
	alert = th->alert;
	spin_unlock_irqrestore(&th->lock, flags);
	return sysfs_emit(buf, "%d\n", alert);
}
static DEVICE_ATTR_RO(alert);

static struct attribute *thermo_attrs[] = {
	&dev_attr_temp.attr,
	&dev_attr_threshold.attr,
	&dev_attr_alert.attr,
	NULL
};
ATTRIBUTE_GROUPS(thermo);

static int __init thermo_init(void)
{
	char limit_str[THERMO_CENTI_LEN];
	struct thermo *th = &thermo;
	u32 id;
	int err;

	spin_lock_init(&th->lock);
	err = uh_iomem_map(&th->io, THERMO_REGION);
	if (err) {
		pr_err("no iomem region '%s'\n", THERMO_REGION);
		return err;
	}
	if (th->io.size < THERMO_REGS_SIZE) {
		pr_err("iomem region '%s' is %lu bytes, needs %d\n",
		       THERMO_REGION, th->io.size, THERMO_REGS_SIZE);
		return -EINVAL;
	}
	/* The harness loads the driver at boot, before a simulator attaches:
	 * a zeroed region is a sensor the simulator has not reset yet.
	 */
	id = uh_read32(&th->io, THERMO_ID);
	if (id && id != THERMO_ID_VALUE) {
		pr_err("iomem region '%s' holds device ID %#010x, not %#010x\n",
		       THERMO_REGION, id, THERMO_ID_VALUE);
		return -ENODEV;
	}
	err = thermo_set_threshold(th, threshold);
	if (err) {
		pr_err("threshold=%d is outside %d..%d\n", threshold,
		       THERMO_MIN_MC, THERMO_MAX_MC);
		return -EINVAL;
	}

	err = uh_iomem_request_irq(&th->io, thermo_interrupt, th);
	if (err) {
		pr_err("cannot set up the interrupt for '%s' (%d)\n",
		       THERMO_REGION, err);
		return err;
	}
	th->pdev = platform_device_register_simple("uh_thermo",
						   PLATFORM_DEVID_NONE, NULL, 0);
	if (IS_ERR(th->pdev)) {
		err = PTR_ERR(th->pdev);
		goto out_irq;
	}
	platform_set_drvdata(th->pdev, th);
	err = device_add_groups(&th->pdev->dev, thermo_groups);
	if (err)
		goto out_pdev;

	/* A stale alert from an earlier load must not look like a new one. */
	uh_iomem_clear8(&th->io, THERMO_STATUS, THERMO_ALERT);
	uh_write8(&th->io, THERMO_CTRL, THERMO_ENABLE | THERMO_ALERT_IE);
	pr_info("sensor on iomem '%s', threshold %s C, irq %d, socket %s\n",
		THERMO_REGION,
		thermo_format(limit_str, thermo_read_centi(th, THERMO_THRESHOLD)),
		th->io.irq, th->io.socket_path);
	return 0;

out_pdev:
	platform_device_unregister(th->pdev);
out_irq:
	uh_iomem_free_irq(&th->io, th);
	return err;
}

static void __exit thermo_exit(void)
{
	struct thermo *th = &thermo;

	/* Tell the simulator the sensor is off before the socket goes. */
	uh_write8(&th->io, THERMO_CTRL, 0);
	device_remove_groups(&th->pdev->dev, thermo_groups);
	platform_device_unregister(th->pdev);
	uh_iomem_free_irq(&th->io, th);
}

module_init(thermo_init);
module_exit(thermo_exit);

MODULE_DESCRIPTION("Temperature sensor on a host-simulated device");
MODULE_LICENSE("GPL");
/* Loaded by the guest's init for each iomem region of this name. */
MODULE_ALIAS("iomem:thermo");
