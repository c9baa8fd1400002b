// SPDX-License-Identifier: GPL-2.0
/*
 * tmp42: the Acme TMP42 I2C temperature sensor, as hwmon temp1_input.
 *
 * Registers (SMBus, big-endian words): 0x00 temperature in 1/16 degree
 * steps (signed), 0x01 configuration (bit 0: shutdown), 0x0f chip ID 0x42.
 */
#include <linux/hwmon.h>
#include <linux/i2c.h>
#include <linux/module.h>
#include <linux/mod_devicetable.h>

#include "tmp42_compat.h"

#define TMP42_TEMP	0x00
#define TMP42_CONFIG	0x01
#define TMP42_ID	0x0f
#define TMP42_ID_VALUE	0x42

static int tmp42_read(struct device *dev, enum hwmon_sensor_types type,
		      u32 attr, int channel, long *val)
{
	struct i2c_client *client = dev_get_drvdata(dev);
	s32 raw = i2c_smbus_read_word_swapped(client, TMP42_TEMP);

	if (raw < 0)
		return raw;
	*val = (s16)raw * 1000 / 16;
	return 0;
}

static umode_t tmp42_is_visible(const void *data,
				enum hwmon_sensor_types type, u32 attr,
				int channel)
{
	return 0444;
}

static const struct hwmon_channel_info *tmp42_info[] = {
	HWMON_CHANNEL_INFO(temp, HWMON_T_INPUT),
	NULL
};

static const struct hwmon_ops tmp42_ops = {
	.is_visible = tmp42_is_visible,
	.read = tmp42_read,
};

static const struct hwmon_chip_info tmp42_chip = {
	.ops = &tmp42_ops,
	.info = tmp42_info,
};

static int tmp42_probe(struct i2c_client *client)
{
	struct device *hwmon;
	s32 id = i2c_smbus_read_byte_data(client, TMP42_ID);

	if (id < 0)
		return id;
	if (id != TMP42_ID_VALUE) {
		dev_err(&client->dev, "unexpected chip ID 0x%02x\n", id);
		return -ENODEV;
	}
	/* Out of shutdown: the chip converts from now on. */
	i2c_smbus_write_byte_data(client, TMP42_CONFIG, 0);
	hwmon = devm_hwmon_device_register_with_info(&client->dev, "tmp42",
						     client, &tmp42_chip,
						     NULL);
	return PTR_ERR_OR_ZERO(hwmon);
}

static const struct of_device_id tmp42_of_match[] = {
	{ .compatible = "acme,tmp42" },
	{ }
};
MODULE_DEVICE_TABLE(of, tmp42_of_match);

static struct i2c_driver tmp42_driver = {
	.driver = {
		.name = "tmp42",
		.of_match_table = tmp42_of_match,
	},
	.TMP42_PROBE = tmp42_probe,
};
module_i2c_driver(tmp42_driver);

MODULE_DESCRIPTION("Acme TMP42 temperature sensor");
MODULE_LICENSE("GPL");
