// SPDX-License-Identifier: GPL-2.0
/*
 * i2cxfer: time I2C transfers from user space through /dev/i2c-N, as an
 * application reading a sensor would (the I2C benchmark).
 *
 *   i2cxfer DEV ADDRESS REGISTER LENGTH COUNT
 *
 * Each transfer writes the register pointer and reads LENGTH bytes (one
 * I2C_RDWR of two messages). Prints the last bytes read, then one line of
 * nanoseconds per transfer.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned char pointer, data[32];
	struct i2c_msg msgs[2];
	struct i2c_rdwr_ioctl_data xfer = { .msgs = msgs, .nmsgs = 2 };
	long long *took;
	int fd, count, length, i;

	if (argc != 6) {
		fprintf(stderr,
			"usage: i2cxfer DEV ADDRESS REGISTER LENGTH COUNT\n");
		return 2;
	}
	pointer = strtoul(argv[3], NULL, 0);
	length = atoi(argv[4]);
	count = atoi(argv[5]);
	if (length < 1 || length > (int)sizeof(data) || count < 1) {
		fprintf(stderr, "i2cxfer: LENGTH 1-32, COUNT 1 or more\n");
		return 2;
	}
	took = calloc(count, sizeof(*took));
	fd = open(argv[1], O_RDWR);
	if (fd < 0 || !took) {
		fprintf(stderr, "i2cxfer: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	msgs[0] = (struct i2c_msg){ .addr = strtoul(argv[2], NULL, 0),
				    .len = 1, .buf = &pointer };
	msgs[1] = (struct i2c_msg){ .addr = msgs[0].addr, .flags = I2C_M_RD,
				    .len = length, .buf = data };
	for (i = 0; i < count; i++) {
		long long began = now_ns();

		if (ioctl(fd, I2C_RDWR, &xfer) != 2) {
			fprintf(stderr, "i2cxfer: transfer %d: %s\n", i,
				strerror(errno));
			return 1;
		}
		took[i] = now_ns() - began;
	}
	for (i = 0; i < length; i++)
		printf("%02x", data[i]);
	printf("\n");
	for (i = 0; i < count; i++)
		printf("%lld%c", took[i], i == count - 1 ? '\n' : ' ');
	return 0;
}
