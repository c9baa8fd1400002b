// SPDX-License-Identifier: GPL-2.0
/*
 * gpioline: get, set and watch one GPIO line through the character device
 * (the v2 uAPI), as an application would; busybox has no GPIO tools.
 *
 *   gpioline get CHIP LINE
 *   gpioline set CHIP LINE VALUE [SECONDS]   holds the value SECONDS (default 0)
 *   gpioline watch CHIP LINE [COUNT [SECONDS]]
 *                prints "LINE rising|falling" per edge, COUNT edges (default 1)
 *                within SECONDS (default 10); exits 1 on timeout
 *   gpioline echo CHIP IN OUT COUNT
 *                drives OUT to the level of each of COUNT edges on IN, as soon
 *                as its interrupt arrives (the GPIO round-trip benchmark)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int request_line(const char *chip, unsigned int line, __u64 flags,
			int value)
{
	struct gpio_v2_line_request req;
	int fd, err;

	fd = open(chip, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "gpioline: %s: %s\n", chip, strerror(errno));
		exit(2);
	}
	memset(&req, 0, sizeof(req));
	req.offsets[0] = line;
	req.num_lines = 1;
	req.config.flags = flags;
	if (flags & GPIO_V2_LINE_FLAG_OUTPUT) {
		req.config.num_attrs = 1;
		req.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
		req.config.attrs[0].attr.values = value ? 1 : 0;
		req.config.attrs[0].mask = 1;
	}
	snprintf(req.consumer, sizeof(req.consumer), "gpioline");
	err = ioctl(fd, GPIO_V2_GET_LINE_IOCTL, &req);
	close(fd);
	if (err < 0) {
		fprintf(stderr, "gpioline: line %u of %s: %s\n", line, chip,
			strerror(errno));
		exit(2);
	}
	return req.fd;
}

static int get(const char *chip, unsigned int line)
{
	struct gpio_v2_line_values values = { .mask = 1 };
	int fd = request_line(chip, line, GPIO_V2_LINE_FLAG_INPUT, 0);

	if (ioctl(fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &values) < 0) {
		fprintf(stderr, "gpioline: get: %s\n", strerror(errno));
		return 2;
	}
	printf("%d\n", (int)(values.bits & 1));
	return 0;
}

static int set(const char *chip, unsigned int line, int value, int seconds)
{
	request_line(chip, line, GPIO_V2_LINE_FLAG_OUTPUT, value);
	if (seconds > 0)
		sleep(seconds);
	return 0;
}

static int watch(const char *chip, unsigned int line, int count, int seconds)
{
	__u64 flags = GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_EDGE_RISING |
		      GPIO_V2_LINE_FLAG_EDGE_FALLING;
	struct pollfd pfd = { .events = POLLIN };
	struct gpio_v2_line_event event;
	int seen = 0;

	pfd.fd = request_line(chip, line, flags, 0);
	/* Ready to see edges: a test waiting for this may now make one. */
	printf("watching %u\n", line);
	fflush(stdout);
	while (seen < count) {
		int ready = poll(&pfd, 1, seconds * 1000);

		if (ready < 0) {
			fprintf(stderr, "gpioline: poll: %s\n", strerror(errno));
			return 2;
		}
		if (ready == 0) {
			fprintf(stderr, "gpioline: %d of %d edges in %d s\n",
				seen, count, seconds);
			return 1;
		}
		if (read(pfd.fd, &event, sizeof(event)) != sizeof(event)) {
			fprintf(stderr, "gpioline: read: %s\n", strerror(errno));
			return 2;
		}
		printf("%u %s\n", event.offset,
		       event.id == GPIO_V2_LINE_EVENT_RISING_EDGE ?
		       "rising" : "falling");
		fflush(stdout);
		seen++;
	}
	return 0;
}

static int echo(const char *chip, unsigned int in, unsigned int out, int count)
{
	__u64 flags = GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_EDGE_RISING |
		      GPIO_V2_LINE_FLAG_EDGE_FALLING;
	struct gpio_v2_line_values values = { .mask = 1 };
	struct gpio_v2_line_event event;
	int in_fd = request_line(chip, in, flags, 0);
	int out_fd = request_line(chip, out, GPIO_V2_LINE_FLAG_OUTPUT, 0);
	int seen;

	printf("echoing %u to %u\n", in, out);
	fflush(stdout);
	for (seen = 0; seen < count; seen++) {
		if (read(in_fd, &event, sizeof(event)) != sizeof(event)) {
			fprintf(stderr, "gpioline: read: %s\n", strerror(errno));
			return 2;
		}
		values.bits = event.id == GPIO_V2_LINE_EVENT_RISING_EDGE;
		if (ioctl(out_fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &values) < 0) {
			fprintf(stderr, "gpioline: set: %s\n", strerror(errno));
			return 2;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "get"))
		return get(argv[2], atoi(argv[3]));
	if (argc >= 5 && !strcmp(argv[1], "set"))
		return set(argv[2], atoi(argv[3]), atoi(argv[4]),
			   argc > 5 ? atoi(argv[5]) : 0);
	if (argc >= 4 && !strcmp(argv[1], "watch"))
		return watch(argv[2], atoi(argv[3]),
			     argc > 4 ? atoi(argv[4]) : 1,
			     argc > 5 ? atoi(argv[5]) : 10);
	if (argc >= 6 && !strcmp(argv[1], "echo"))
		return echo(argv[2], atoi(argv[3]), atoi(argv[4]),
			    atoi(argv[5]));
	fprintf(stderr,
		"usage: gpioline get CHIP LINE | set CHIP LINE VALUE [SECONDS] | watch CHIP LINE [COUNT [SECONDS]] | echo CHIP IN OUT COUNT\n");
	return 2;
}
