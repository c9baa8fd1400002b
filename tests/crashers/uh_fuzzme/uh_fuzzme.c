// SPDX-License-Identifier: GPL-2.0
/*
 * uh_fuzzme - trusts its device: /sys/devices/platform/uh_fuzzme/mode
 * names the mode in the MODE register (offset 4) by indexing a table with
 * it, unchecked. A device that shows a mode above 3 makes it read past the
 * table, which KASAN reports; the fuzzing tests find that and replay it.
 */
#include <linux/device.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/sysfs.h>

#include <uh_iomem.h>

#define FUZZME_MODE	4
#define FUZZME_SIZE	8

static const char * const fuzzme_modes[] = { "off", "slow", "fast", "burst" };

static struct uh_iomem_dev fuzzme_io;
static struct platform_device *fuzzme_pdev;

static ssize_t mode_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	u32 mode = uh_read32(&fuzzme_io, FUZZME_MODE);

	return sysfs_emit(buf, "%s\n", fuzzme_modes[mode]);
}
static DEVICE_ATTR_RO(mode);

static int __init fuzzme_init(void)
{
	int err = uh_iomem_map(&fuzzme_io, "fuzzme");

	if (err)
		return err;
	if (fuzzme_io.size < FUZZME_SIZE)
		return -EINVAL;
	fuzzme_pdev = platform_device_register_simple("uh_fuzzme",
						      PLATFORM_DEVID_NONE,
						      NULL, 0);
	if (IS_ERR(fuzzme_pdev))
		return PTR_ERR(fuzzme_pdev);
	err = device_create_file(&fuzzme_pdev->dev, &dev_attr_mode);
	if (err)
		platform_device_unregister(fuzzme_pdev);
	return err;
}

static void __exit fuzzme_exit(void)
{
	device_remove_file(&fuzzme_pdev->dev, &dev_attr_mode);
	platform_device_unregister(fuzzme_pdev);
}

module_init(fuzzme_init);
module_exit(fuzzme_exit);

MODULE_DESCRIPTION("umlharness test module: indexes a table with a register");
MODULE_LICENSE("GPL");
MODULE_ALIAS("iomem:fuzzme");
