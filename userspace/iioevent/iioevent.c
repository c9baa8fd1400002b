// SPDX-License-Identifier: GPL-2.0
/*
 * iioevent: wait for IIO events of one device, as an application would.
 *
 *   iioevent DEV [COUNT [SECONDS]]
 *
 * DEV is /dev/iio:deviceN. Prints "ready" once it listens, then a line per
 * event: "TYPE DIRECTION" (thresh rising, say); COUNT events (default 1)
 * within SECONDS (default 10), else exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/iio/events.h>
#include <linux/iio/types.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char *type_name(int type)
{
	return type == IIO_EV_TYPE_THRESH ? "thresh" : "other";
}

static const char *direction_name(int direction)
{
	switch (direction) {
	case IIO_EV_DIR_RISING:
		return "rising";
	case IIO_EV_DIR_FALLING:
		return "falling";
	case IIO_EV_DIR_EITHER:
		return "either";
	default:
		return "none";
	}
}

int main(int argc, char **argv)
{
	struct iio_event_data event;
	struct pollfd pfd = { .events = POLLIN };
	int fd, count, seconds, seen = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: iioevent DEV [COUNT [SECONDS]]\n");
		return 2;
	}
	count = argc > 2 ? atoi(argv[2]) : 1;
	seconds = argc > 3 ? atoi(argv[3]) : 10;
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || ioctl(fd, IIO_GET_EVENT_FD_IOCTL, &pfd.fd) < 0) {
		fprintf(stderr, "iioevent: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	while (seen < count) {
		int ready = poll(&pfd, 1, seconds * 1000);

		if (ready <= 0) {
			fprintf(stderr, "iioevent: %d of %d events in %d s\n", seen,
				count, seconds);
			return 1;
		}
		if (read(pfd.fd, &event, sizeof(event)) != sizeof(event)) {
			fprintf(stderr, "iioevent: read: %s\n", strerror(errno));
			return 2;
		}
		printf("%s %s\n", type_name(IIO_EVENT_CODE_EXTRACT_TYPE(event.id)),
		       direction_name(IIO_EVENT_CODE_EXTRACT_DIR(event.id)));
		fflush(stdout);
		seen++;
	}
	return 0;
}
