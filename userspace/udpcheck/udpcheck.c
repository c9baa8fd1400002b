// SPDX-License-Identifier: GPL-2.0
/*
 * udpcheck - send and receive numbered, checksummed UDP frames and count
 * what went missing, came twice, came corrupted or came out of order
 * (busybox has no such tool):
 *
 *   udpcheck send HOST PORT --count N --size BYTES [--stream ID] [--rate FRAMES_PER_S]
 *   udpcheck recv PORT --count N [--stream ID] [--timeout SECONDS] [--size BYTES]
 *
 * The sender prints one line at the end:
 *
 *   sent N frames of BYTES bytes in S s: F frames/s, M Mbit/s
 *
 * and the receiver one line:
 *
 *   received R of N frames: lost L, duplicated D, corrupted C, reordered O,
 *   other streams X; S s, F frames/s, M Mbit/s
 *
 * (a single line; M counts UDP payload bytes). R is the number of distinct
 * sequence numbers of the stream that arrived and L = N - R. D counts
 * frames whose sequence number had arrived before, C frames that are too
 * short, have a bad magic, a bad CRC, a wrong filler, a sequence number not
 * below their count (or not below the receiver's --count) or, with --size,
 * another size; O counts first arrivals of a sequence number lower than the
 * highest seen; X valid-looking frames (magic "UHCK") of another stream,
 * which are otherwise ignored. S runs from the first to the last frame of
 * the stream. Without --stream the receiver takes the stream of the first
 * valid frame.
 *
 * The sender never skips a frame: a sendto() failing with ENOBUFS or EAGAIN
 * is retried after a short sleep. It sets IP_RECVERR, without which Linux
 * reports a frame that a full device queue dropped as sent.
 *
 * Exit status: 0 when the receiver got N distinct frames with none
 * duplicated or corrupted (the sender: when all were sent); 1 when frames
 * were lost, duplicated or corrupted (or the run was interrupted by SIGINT
 * or SIGTERM, which still print the line); 2 on bad usage (one line on
 * stderr) or a system error.
 *
 * The payload (integers big-endian), shared with simulators/net/udpcheck.py:
 *
 *   0  magic "UHCK"
 *   4  stream id, u32
 *   8  seq, u32: 0 .. count-1
 *   12 count, u32: the frames the run sends
 *   16 crc32, u32: zlib's CRC-32 (IEEE 802.3, initial value 0) of bytes 20..
 *   20 filler: byte i (from 20) = (seq + i) & 0xff
 *
 * `udpcheck frame SEQ --count N --size BYTES --stream ID` prints the payload
 * the sender would send for SEQ, in hex, to compare with other
 * implementations.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "uh_crc32.h"

#define PROG		"udpcheck"
#define HDR_SIZE	20
#define MIN_SIZE	HDR_SIZE
#define MAX_SIZE	65507		/* the largest UDP payload over IPv4 */
#define RCVBUF		(4 << 20)
#define BATCH		32		/* frames per recvmmsg() */
#define BUF_SIZE	65536		/* more than any UDP payload */
#define RETRY_NS	200000		/* the pause before retrying a full queue */

static const uint8_t magic[4] = { 'U', 'H', 'C', 'K' };

/* pattern[j] = j & 0xff: the filler of seq is pattern + (seq & 0xff). */
static uint8_t pattern[MAX_SIZE + 256];
static volatile sig_atomic_t interrupted;

/* --- helpers -------------------------------------------------------------- */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static double seconds_of(const struct timespec *ts)
{
	return ts->tv_sec + ts->tv_nsec / 1e9;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return seconds_of(&ts);
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* SIGINT and SIGTERM end the run early (the summary is still printed). */
static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: interrupt the wait */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* One line on stderr about the command line; exit status 2. */
__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see " PROG " --help)\n");
	return 2;
}

static void help(void)
{
	printf("usage: " PROG " send HOST PORT --count N --size BYTES [--stream ID]"
	       " [--rate FRAMES_PER_S]\n"
	       "       " PROG " recv PORT --count N [--stream ID] [--timeout SECONDS]"
	       " [--size BYTES]\n"
	       "       " PROG " frame SEQ --count N --size BYTES --stream ID\n"
	       "\n"
	       "send: send frames 0..N-1 of BYTES bytes (%d..%d) of UDP payload to\n"
	       "  HOST:PORT (IPv4), as fast as possible or FRAMES_PER_S a second; a full\n"
	       "  queue (ENOBUFS, EAGAIN) is waited out, no frame is skipped. The stream\n"
	       "  id defaults to one made of the time and the process id.\n"
	       "recv: receive on PORT until N distinct frames of the stream arrived, or\n"
	       "  for SECONDS (default 10) no frame did (nor a first one); count lost,\n"
	       "  duplicated, corrupted (with --size: also of another size), reordered\n"
	       "  frames and those of other streams. Without --stream, the stream of the\n"
	       "  first valid frame. Exit 0 when none was lost, duplicated or corrupted,\n"
	       "  1 otherwise, 2 on bad usage.\n"
	       "frame: print the payload of frame SEQ in hex, as send builds it.\n"
	       "\n"
	       "payload (big-endian): \"UHCK\", stream u32, seq u32, count u32,\n"
	       "  crc32 u32 (zlib's, of the bytes from 20), filler byte i = (seq + i) & 0xff\n",
	       MIN_SIZE, MAX_SIZE);
}

/* An unsigned decimal (or, with @base 0, also 0x hex) in [min, max]. */
static int parse_uint(const char *text, unsigned long long min, unsigned long long max,
		      int base, unsigned long long *value)
{
	char *end;

	if (*text < '0' || *text > '9')	/* no sign, no blanks */
		return -1;
	errno = 0;
	*value = strtoull(text, &end, base);
	if (errno || *end || *value < min || *value > max)
		return -1;
	return 0;
}

/* A positive, finite number of seconds or frames a second. */
static int parse_positive(const char *text, double *value)
{
	char *end;

	if (!*text)
		return -1;
	errno = 0;
	*value = strtod(text, &end);
	if (errno || *end || !(*value > 0 && *value <= 1e9))	/* NaN fails too */
		return -1;
	return 0;
}

/* The stream id when none is given: the time and the process id, mixed. */
static uint32_t default_stream(void)
{
	struct timespec ts;
	uint64_t x;

	clock_gettime(CLOCK_REALTIME, &ts);
	x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	x ^= (uint64_t)getpid() << 40;
	/* splitmix64's finaliser: every input bit moves the result */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	x ^= x >> 31;
	return (uint32_t)(x ^ (x >> 32));
}

/* Build frame @seq in @frame (@size bytes). */
static void build_frame(uint8_t *frame, size_t size, uint32_t stream, uint32_t seq,
			uint32_t count)
{
	memcpy(frame, magic, 4);
	put32(frame + 4, stream);
	put32(frame + 8, seq);
	put32(frame + 12, count);
	memcpy(frame + HDR_SIZE, pattern + (seq & 0xff), size - HDR_SIZE);
	put32(frame + 16, uh_crc32_update(0, frame + HDR_SIZE, size - HDR_SIZE));
}

static void init_tables(void)
{
	uh_crc32_init();
	for (size_t j = 0; j < sizeof(pattern); j++)
		pattern[j] = j & 0xff;
}

static double rate_of(double amount, double secs)
{
	return secs > 0 ? amount / secs : 0;
}

/* --- options -------------------------------------------------------------- */

struct args {
	const char *mode;
	const char *positional[3];
	int npositional;
	unsigned long long count, size, stream;
	double rate, timeout;
	int have_count, have_size, have_stream;
};

enum { OPT_COUNT = 'c', OPT_SIZE = 's', OPT_STREAM = 'S', OPT_RATE = 'r',
       OPT_TIMEOUT = 't', OPT_HELP = 'h' };

/*
 * Parse argv[2..] for @mode with @options; positional arguments may come
 * anywhere. Returns 0, or the exit status to end with (help: 0, else 2).
 */
static int parse_args(int argc, char **argv, const struct option *options,
		      int npositional, struct args *a, int *done)
{
	int opt;

	*done = 0;
	a->mode = argv[1];
	opterr = 0;
	optind = 1;
	/* getopt sees the mode as the program name: the operands follow it */
	while ((opt = getopt_long(argc - 1, argv + 1, ":h", options, NULL)) != -1) {
		/* the argument getopt just took: argv + 1 is what it parses */
		const char *arg = argv[optind];

		switch (opt) {
		case OPT_HELP:
			help();
			*done = 1;
			return 0;
		case OPT_COUNT:
			if (parse_uint(optarg, 1, UINT32_MAX, 10, &a->count))
				return usage_error("%s: --count must be 1..%" PRIu32 ", not '%s'",
						   a->mode, UINT32_MAX, optarg);
			a->have_count = 1;
			break;
		case OPT_SIZE:
			if (parse_uint(optarg, MIN_SIZE, MAX_SIZE, 10, &a->size))
				return usage_error("%s: --size must be %d..%d bytes, not '%s'",
						   a->mode, MIN_SIZE, MAX_SIZE, optarg);
			a->have_size = 1;
			break;
		case OPT_STREAM:
			if (parse_uint(optarg, 0, UINT32_MAX, 0, &a->stream))
				return usage_error("%s: --stream must be 0..%" PRIu32 ", not '%s'",
						   a->mode, UINT32_MAX, optarg);
			a->have_stream = 1;
			break;
		case OPT_RATE:
			if (parse_positive(optarg, &a->rate))
				return usage_error("%s: --rate must be a positive number of "
						   "frames a second, not '%s'", a->mode, optarg);
			break;
		case OPT_TIMEOUT:
			if (parse_positive(optarg, &a->timeout))
				return usage_error("%s: --timeout must be a positive number of "
						   "seconds, not '%s'", a->mode, optarg);
			break;
		case ':':
			return usage_error("%s: %s needs a value", a->mode, arg);
		default:
			if (optopt && optopt < 128 && optopt != OPT_HELP)
				return usage_error("%s: unknown option '-%c'", a->mode, optopt);
			return usage_error("%s: unknown option '%s'", a->mode, arg);
		}
	}
	for (int i = optind + 1; i < argc; i++) {
		if (a->npositional == npositional)
			return usage_error("%s: unexpected argument '%s'", a->mode, argv[i]);
		a->positional[a->npositional++] = argv[i];
	}
	return 0;
}

/* --- send ----------------------------------------------------------------- */

static void sleep_until(double when)
{
	struct timespec ts;

	ts.tv_sec = (time_t)when;
	ts.tv_nsec = (long)((when - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
	       !interrupted)
		;
}

static int do_send(int argc, char **argv)
{
	static const struct option options[] = {
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "stream", required_argument, NULL, OPT_STREAM },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static uint8_t frame[MAX_SIZE];
	const struct timespec pause = { 0, RETRY_NS };
	struct args a = { 0 };
	struct sockaddr_in to = { .sin_family = AF_INET };
	unsigned long long port;
	uint32_t stream, count, sent = 0;
	size_t size;
	double start, secs;
	int done, status, fd, one = 1;

	status = parse_args(argc, argv, options, 2, &a, &done);
	if (status || done)
		return status;
	if (a.npositional < 2)
		return usage_error("send needs HOST and PORT");
	if (inet_pton(AF_INET, a.positional[0], &to.sin_addr) != 1)
		return usage_error("send: HOST must be an IPv4 address (a.b.c.d), not '%s'",
				   a.positional[0]);
	if (parse_uint(a.positional[1], 1, 65535, 10, &port))
		return usage_error("send: PORT must be 1..65535, not '%s'", a.positional[1]);
	if (!a.have_count || !a.have_size)
		return usage_error("send needs --count N and --size BYTES");
	to.sin_port = htons((uint16_t)port);
	stream = a.have_stream ? (uint32_t)a.stream : default_stream();
	count = (uint32_t)a.count;
	size = (size_t)a.size;

	init_tables();
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		return 2;
	}
	if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one))) {
		fprintf(stderr, PROG ": IP_RECVERR: %s\n", strerror(errno));
		close(fd);
		return 2;
	}
	catch_signals();
	start = now();
	while (sent < count && !interrupted) {
		ssize_t n;

		if (a.rate > 0) {
			double due = start + sent / a.rate;

			if (now() < due)
				sleep_until(due);
			if (interrupted)
				break;
		}
		build_frame(frame, size, stream, sent, count);
		for (;;) {
			n = sendto(fd, frame, size, 0, (struct sockaddr *)&to, sizeof(to));
			if (n >= 0 || interrupted)
				break;
			if (errno == ENOBUFS || errno == EAGAIN)
				nanosleep(&pause, NULL);	/* a full queue: wait, resend */
			else if (errno != EINTR)
				break;
		}
		if (n < 0 && interrupted)
			break;
		if (n < 0) {
			fprintf(stderr, PROG ": sendto %s:%llu: %s (after %" PRIu32 " of %"
				PRIu32 " frames)\n", a.positional[0], port, strerror(errno),
				sent, count);
			close(fd);
			return 2;
		}
		if (n != (ssize_t)size) {
			fprintf(stderr, PROG ": sendto %s:%llu sent %zd of %zu bytes\n",
				a.positional[0], port, n, size);
			close(fd);
			return 2;
		}
		sent++;
	}
	secs = now() - start;
	close(fd);
	printf("sent %" PRIu32 " frames of %zu bytes in %.6f s: %.0f frames/s, %.2f Mbit/s\n",
	       sent, size, secs, rate_of(sent, secs), rate_of(sent * (double)size * 8 / 1e6, secs));
	return sent == count ? 0 : 1;
}

/* --- recv ----------------------------------------------------------------- */

struct receiver {
	uint32_t count;			/* --count */
	size_t size;			/* --size, or 0: any */
	uint32_t stream;
	int have_stream;
	uint8_t *seen;			/* a bit per sequence number */
	uint64_t distinct, duplicated, corrupted, reordered, other, bytes;
	uint32_t highest;
	int have_highest;
	double first, last;		/* arrivals of the first and last frame of the stream */
};

/* A control buffer per message, for the kernel's arrival time stamp. */
union stamp_buf {
	char buf[CMSG_SPACE(sizeof(struct timespec))];
	struct cmsghdr align;
};

/*
 * When the kernel received the frame of @msg (SO_TIMESTAMPNS, CLOCK_REALTIME):
 * a batch that arrived while the receiver waited for the CPU is then timed
 * as it arrived, not as it was read. Else now, on the same clock.
 */
static double arrival(struct msghdr *msg)
{
	struct timespec ts;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			return seconds_of(&ts);
		}
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return seconds_of(&ts);
}

/* Whether the payload of @len bytes is a good frame (of any stream). */
static int frame_ok(const struct receiver *r, const uint8_t *p, size_t len)
{
	uint32_t seq = get32(p + 8);

	if (r->size && len != r->size)
		return 0;
	if (seq >= get32(p + 12) || seq >= r->count)
		return 0;
	if (memcmp(p + HDR_SIZE, pattern + (seq & 0xff), len - HDR_SIZE))
		return 0;
	return uh_crc32_update(0, p + HDR_SIZE, len - HDR_SIZE) == get32(p + 16);
}

/* Count one payload; returns 0 if it is of another stream (ignored), else 1. */
static int on_frame(struct receiver *r, const uint8_t *p, size_t len, double t)
{
	uint32_t seq;

	if (len < HDR_SIZE || memcmp(p, magic, 4)) {
		r->corrupted++;
		return 1;
	}
	if (r->have_stream && get32(p + 4) != r->stream) {
		r->other++;
		return 0;
	}
	if (!frame_ok(r, p, len)) {
		r->corrupted++;
		return 1;
	}
	if (!r->have_stream) {
		r->stream = get32(p + 4);
		r->have_stream = 1;
	}
	if (!r->distinct && !r->duplicated)
		r->first = t;
	r->last = t;
	seq = get32(p + 8);
	if (r->seen[seq / 8] & (1u << (seq % 8))) {
		r->duplicated++;
		return 1;
	}
	r->seen[seq / 8] |= 1u << (seq % 8);
	r->distinct++;
	r->bytes += len;
	if (r->have_highest && seq < r->highest)
		r->reordered++;
	if (!r->have_highest || seq > r->highest)
		r->highest = seq;
	r->have_highest = 1;
	return 1;
}

static int do_recv(int argc, char **argv)
{
	static const struct option options[] = {
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "stream", required_argument, NULL, OPT_STREAM },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static uint8_t bufs[BATCH][BUF_SIZE];
	static union stamp_buf stamps[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iovs[BATCH];
	struct receiver r = { 0 };
	struct args a = { 0 };
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	unsigned long long port;
	double timeout, deadline, secs;
	int done, status, fd, one = 1, rcvbuf = RCVBUF;

	status = parse_args(argc, argv, options, 1, &a, &done);
	if (status || done)
		return status;
	if (a.npositional < 1)
		return usage_error("recv needs PORT");
	if (parse_uint(a.positional[0], 1, 65535, 10, &port))
		return usage_error("recv: PORT must be 1..65535, not '%s'", a.positional[0]);
	if (!a.have_count)
		return usage_error("recv needs --count N");
	addr.sin_port = htons((uint16_t)port);
	timeout = a.timeout ? a.timeout : 10;
	r.count = (uint32_t)a.count;
	r.size = a.have_size ? (size_t)a.size : 0;
	r.stream = (uint32_t)a.stream;
	r.have_stream = a.have_stream;
	r.seen = calloc(r.count / 8 + 1, 1);
	if (!r.seen) {
		fprintf(stderr, PROG ": no memory for %" PRIu32 " sequence numbers\n", r.count);
		return 2;
	}

	init_tables();
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		return 2;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Past net.core.rmem_max if allowed (root), else as far as it goes. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		fprintf(stderr, PROG ": bind to port %llu: %s\n", port, strerror(errno));
		return 2;
	}
	for (int i = 0; i < BATCH; i++) {
		iovs[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = BUF_SIZE };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iovs[i], .msg_iovlen = 1 } };
	}
	catch_signals();
	deadline = now() + timeout;
	while (r.distinct < r.count && !interrupted) {
		double t;
		int n;

		for (int i = 0; i < BATCH; i++) {
			msgs[i].msg_hdr.msg_control = stamps[i].buf;
			msgs[i].msg_hdr.msg_controllen = sizeof(stamps[i].buf);
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			double left;

			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				fprintf(stderr, PROG ": recvmmsg: %s\n", strerror(errno));
				return 2;
			}
			left = deadline - now();
			if (left <= 0)
				break;
			/* at most a second at a time: the deadline is checked above */
			if (poll(&pfd, 1, left < 1 ? (int)(left * 1000) + 1 : 1000) < 0 &&
			    errno != EINTR) {
				fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
				return 2;
			}
			continue;
		}
		t = now();
		for (int i = 0; i < n; i++) {
			size_t len = msgs[i].msg_len;

			/* a payload over BUF_SIZE cannot be: count it corrupted */
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				len = 0;
			if (on_frame(&r, bufs[i], len, arrival(&msgs[i].msg_hdr)))
				deadline = t + timeout;
		}
	}
	close(fd);
	secs = r.last - r.first;
	printf("received %" PRIu64 " of %" PRIu32 " frames: lost %" PRIu64 ", duplicated %"
	       PRIu64 ", corrupted %" PRIu64 ", reordered %" PRIu64 ", other streams %"
	       PRIu64 "; %.6f s, %.0f frames/s, %.2f Mbit/s\n",
	       r.distinct, r.count, r.count - r.distinct, r.duplicated, r.corrupted,
	       r.reordered, r.other, secs, rate_of(r.distinct, secs),
	       rate_of(r.bytes * 8 / 1e6, secs));
	free(r.seen);
	return r.distinct == r.count && !r.duplicated && !r.corrupted ? 0 : 1;
}

/* --- frame ---------------------------------------------------------------- */

static int do_frame(int argc, char **argv)
{
	static const struct option options[] = {
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "stream", required_argument, NULL, OPT_STREAM },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static uint8_t frame[MAX_SIZE];
	struct args a = { 0 };
	unsigned long long seq;
	int done, status;

	status = parse_args(argc, argv, options, 1, &a, &done);
	if (status || done)
		return status;
	if (a.npositional < 1)
		return usage_error("frame needs SEQ");
	if (parse_uint(a.positional[0], 0, UINT32_MAX, 10, &seq))
		return usage_error("frame: SEQ must be 0..%" PRIu32 ", not '%s'", UINT32_MAX,
				   a.positional[0]);
	if (!a.have_count || !a.have_size || !a.have_stream)
		return usage_error("frame needs --count N, --size BYTES and --stream ID");
	init_tables();
	build_frame(frame, (size_t)a.size, (uint32_t)a.stream, (uint32_t)seq, (uint32_t)a.count);
	for (size_t i = 0; i < a.size; i++)
		printf("%02x", frame[i]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : NULL;

	if (!mode)
		return usage_error("needs send, recv or frame");
	if (!strcmp(mode, "--help") || !strcmp(mode, "-h") || !strcmp(mode, "help")) {
		help();
		return 0;
	}
	if (!strcmp(mode, "send"))
		return do_send(argc, argv);
	if (!strcmp(mode, "recv"))
		return do_recv(argc, argv);
	if (!strcmp(mode, "frame"))
		return do_frame(argc, argv);
	return usage_error("unknown command '%s': send, recv or frame", mode);
}
