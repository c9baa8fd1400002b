// SPDX-License-Identifier: GPL-2.0
/*
 * fpga_reader - the user-space end of uh_fpga: read reports from one or
 * more /dev/fpgaN, check them, send commands, and print a summary line per
 * device:
 *
 *   fpga0 reports=100000 bytes=6400000 lost=0 dup=0 crc_errors=0 malformed=0
 *         overflows=0 flagged=0 events=0 echo=ok seconds=0.52 reports_per_s=...
 *
 * and, with more than one device, their total over the time any of them
 * delivered: "all reports=... bytes=... seconds=... reports_per_s=...".
 *
 * lost: sequence numbers skipped; dup: sequence numbers seen again (or going
 * backwards); crc_errors: reports whose CRC-32 does not match (their
 * sequence numbers are not trusted); flagged: reports carrying
 * DROPPED_BEFORE; malformed and overflows: the driver's sysfs counters.
 *
 * Exit status: 0 when every device delivered --count reports (and the
 * echoes asked for) with nothing lost, duplicated or corrupted; 1 when it
 * stopped early (--idle, --timeout, SIGINT or SIGTERM, which still print
 * the summary); 2 on a usage or I/O error, or when the simulator died
 * (uh_fpga fails read() with ECONNRESET once the reports it left are read:
 * "fpga_reader: /dev/fpga0: the simulator died, after 1200 reports"); 3
 * when reports were lost, duplicated or corrupted.
 *
 * The formats are docs/icd.md (generated from simulators/fpga/icd.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "uh_crc32.h"

#define MAX_DEVICES	4
#define MAX_COMMANDS	16
#define HDR_SIZE	28
#define CMD_HDR_SIZE	20
#define MAGIC		0x46504741u
#define CMD_MAGIC	0x46434d44u
#define ICD_VERSION	1
#define MAX_CMD_PAYLOAD	4096

enum report_type { SAMPLES = 1, STATUS = 2, EVENT = 3, ECHO = 4 };
enum opcode { OP_RESET = 1, OP_START, OP_STOP, OP_SET_RATE, OP_SET_PARAM, OP_ECHO };
#define FLAG_DROPPED_BEFORE 0x01

struct device {
	const char *path;
	char name[32];
	int fd;
	uint64_t reports, bytes, lost, dup, crc_errors, flagged, events;
	uint64_t malformed, overflows;	/* sysfs, at the end */
	uint32_t expected;		/* next sequence number */
	int have_sequence;
	uint32_t echo_tag;		/* of the last ECHO sent */
	int echoes_wanted, echoes_ok, echoes_bad;
	double first, last;		/* times of the first and last report */
};

struct command {
	uint8_t opcode;
	uint8_t payload[MAX_CMD_PAYLOAD];
	size_t len;
};

static struct device devices[MAX_DEVICES];
static int ndevices;
static struct command commands[MAX_COMMANDS];
static int ncommands;
static uint32_t next_tag = 1;
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* --- CRC-32 as zlib computes it: uh_crc32.h, and pclmul on x86-64 -------- */

#ifdef __x86_64__
#include <immintrin.h>

static int use_clmul;

/*
 * The CRC register (not inverted) after @len bytes, @len a multiple of 16
 * and at least 64: carry-less multiplication folds 64 bytes a step, as in
 * "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
 * Instruction" (Gopal et al., Intel, 2009); the constants are those of
 * Linux's arch/x86/crypto/crc32-pclmul_asm.S. Table lookups alone would
 * cap a reader at about 1.5 GB/s.
 */
__attribute__((target("pclmul,sse4.1")))
static uint32_t crc32_clmul(uint32_t crc, const uint8_t *buf, size_t len)
{
	const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
	const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
	const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);
	const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
	const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);
	__m128i x1, x2, x3, x4, t1, t2, t3, t4;

	x1 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
	x2 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
	x3 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
	x4 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
	x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
	buf += 64;
	len -= 64;
	while (len >= 64) {	/* fold four lanes of 16 bytes in parallel */
		t1 = _mm_clmulepi64_si128(x1, k1k2, 0x00);
		t2 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
		t3 = _mm_clmulepi64_si128(x3, k1k2, 0x00);
		t4 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
		x1 = _mm_clmulepi64_si128(x1, k1k2, 0x11);
		x2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
		x3 = _mm_clmulepi64_si128(x3, k1k2, 0x11);
		x4 = _mm_clmulepi64_si128(x4, k1k2, 0x11);
		x1 = _mm_xor_si128(_mm_xor_si128(x1, t1),
				   _mm_loadu_si128((const __m128i *)(buf + 0x00)));
		x2 = _mm_xor_si128(_mm_xor_si128(x2, t2),
				   _mm_loadu_si128((const __m128i *)(buf + 0x10)));
		x3 = _mm_xor_si128(_mm_xor_si128(x3, t3),
				   _mm_loadu_si128((const __m128i *)(buf + 0x20)));
		x4 = _mm_xor_si128(_mm_xor_si128(x4, t4),
				   _mm_loadu_si128((const __m128i *)(buf + 0x30)));
		buf += 64;
		len -= 64;
	}
	/* Fold the four lanes into one, then the rest 16 bytes at a time. */
	t1 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
	x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), x2), t1);
	t1 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
	x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), x3), t1);
	t1 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
	x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), x4), t1);
	while (len >= 16) {
		t1 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
		x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11),
						 _mm_loadu_si128((const __m128i *)buf)), t1);
		buf += 16;
		len -= 16;
	}
	/* 128 bits to 64, then Barrett reduction to 32. */
	x2 = _mm_clmulepi64_si128(x1, k3k4, 0x10);
	x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
	x2 = _mm_srli_si128(x1, 4);
	x1 = _mm_and_si128(x1, low32);
	x1 = _mm_xor_si128(_mm_clmulepi64_si128(x1, k5, 0x00), x2);
	x2 = _mm_and_si128(x1, low32);
	x2 = _mm_clmulepi64_si128(x2, poly, 0x10);
	x2 = _mm_and_si128(x2, low32);
	x2 = _mm_clmulepi64_si128(x2, poly, 0x00);
	x1 = _mm_xor_si128(x1, x2);
	return (uint32_t)_mm_extract_epi32(x1, 1);
}
#endif

/* Continue a zlib CRC-32 (0 to start) over @len bytes. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t len)
{
#ifdef __x86_64__
	if (use_clmul && len >= 64) {
		size_t bulk = len & ~(size_t)15;

		crc = ~crc32_clmul(~crc, p, bulk);
		p += bulk;
		len -= bulk;
	}
#endif
	return uh_crc32_update(crc, p, len);
}

static void crc_init(void)
{
	uh_crc32_init();
#ifdef __x86_64__
	/*
	 * Use the fast path only where it exists and agrees with the tables;
	 * FPGA_READER_CRC=table turns it off (to test the tables alone).
	 */
	const char *impl = getenv("FPGA_READER_CRC");

	if (__builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1") &&
	    !(impl && !strcmp(impl, "table"))) {
		static const size_t lengths[] = { 64, 80, 999, 1000 };
		uint8_t probe[1000];

		for (size_t i = 0; i < sizeof(probe); i++)
			probe[i] = (uint8_t)(i * 131 + 7);
		use_clmul = 1;
		for (int i = 0; i < 4; i++) {
			uint32_t want = uh_crc32_update(0x1234, probe, lengths[i]);

			if (crc32_update(0x1234, probe, lengths[i]) != want)
				use_clmul = 0;
		}
	}
#endif
}

/* The ICD CRC: the header with its crc32 field (at @crc_at) zeroed, then the payload. */
static uint32_t icd_crc(const uint8_t *msg, size_t hdr_len, size_t crc_at, size_t len)
{
	uint8_t hdr[HDR_SIZE];
	uint32_t crc;

	memcpy(hdr, msg, hdr_len);
	memset(hdr + crc_at, 0, 4);
	crc = crc32_update(0, hdr, hdr_len);
	return crc32_update(crc, msg + hdr_len, len - hdr_len);
}

/* --- little-endian fields ------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A read() or write() on @dev failed with errno: say why, in one line. */
static void io_error(const struct device *dev, const char *call)
{
	if (errno == ECONNRESET)
		fprintf(stderr, "fpga_reader: %s: the simulator died, after %" PRIu64
			" reports\n", dev->path, dev->reports);
	else
		fprintf(stderr, "fpga_reader: %s: %s: %s\n", dev->path, call,
			strerror(errno));
}

/* --- commands ------------------------------------------------------------- */

/* Write one command; blocks (in poll) while the command ring is full. */
static int send_command(struct device *dev, uint8_t opcode, uint32_t tag,
			const uint8_t *payload, size_t len)
{
	uint8_t msg[CMD_HDR_SIZE + MAX_CMD_PAYLOAD] = { 0 };
	size_t total = CMD_HDR_SIZE + len;

	put32(msg, CMD_MAGIC);
	msg[4] = ICD_VERSION;
	msg[5] = opcode;
	put32(msg + 8, tag);
	put16(msg + 12, (uint16_t)len);
	memcpy(msg + CMD_HDR_SIZE, payload, len);
	put32(msg + 16, icd_crc(msg, CMD_HDR_SIZE, 16, total));
	for (;;) {
		ssize_t n = write(dev->fd, msg, total);
		struct pollfd pfd = { .fd = dev->fd, .events = POLLOUT };

		if (n == (ssize_t)total)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			io_error(dev, "write");
			return -1;
		}
		poll(&pfd, 1, 100);
	}
}

static int send_echo(struct device *dev, const char *text)
{
	dev->echo_tag = next_tag++;
	return send_command(dev, OP_ECHO, dev->echo_tag, (const uint8_t *)text,
			    strlen(text));
}

/* --cmd NAME[=ARG]: reset, start, stop, rate=R, param=ID:VALUE, raw=OPCODE */
static int parse_command(const char *spec)
{
	struct command *cmd = &commands[ncommands];
	const char *arg = strchr(spec, '=');
	size_t name_len = arg ? (size_t)(arg - spec) : strlen(spec);
	unsigned long a = 0, b = 0;

	if (ncommands == MAX_COMMANDS)
		return -1;
	if (arg)
		arg++;
	cmd->len = 0;
	if (!strncmp(spec, "reset", name_len) && name_len == 5) {
		cmd->opcode = OP_RESET;
	} else if (!strncmp(spec, "start", name_len) && name_len == 5) {
		cmd->opcode = OP_START;
	} else if (!strncmp(spec, "stop", name_len) && name_len == 4) {
		cmd->opcode = OP_STOP;
	} else if (!strncmp(spec, "rate", name_len) && name_len == 4 && arg) {
		cmd->opcode = OP_SET_RATE;
		put32(cmd->payload, (uint32_t)strtoul(arg, NULL, 0));
		cmd->len = 4;
	} else if (!strncmp(spec, "param", name_len) && name_len == 5 && arg &&
		   sscanf(arg, "%lu:%lu", &a, &b) == 2) {
		cmd->opcode = OP_SET_PARAM;
		memset(cmd->payload, 0, 8);
		put16(cmd->payload, (uint16_t)a);
		put32(cmd->payload + 4, (uint32_t)b);
		cmd->len = 8;
	} else if (!strncmp(spec, "raw", name_len) && name_len == 3 && arg) {
		cmd->opcode = (uint8_t)strtoul(arg, NULL, 0);
	} else {
		return -1;
	}
	ncommands++;
	return 0;
}

/* --- reports -------------------------------------------------------------- */

static void check_sequence(struct device *dev, uint32_t seq)
{
	uint32_t gap = seq - dev->expected;

	if (!dev->have_sequence || gap == 0) {
		dev->have_sequence = 1;
		dev->expected = seq + 1;
	} else if (gap < 0x80000000u) {
		dev->lost += gap;
		dev->expected = seq + 1;
	} else {
		dev->dup++;	/* seen before, or out of order: expected stays */
	}
}

static void on_echo(struct device *dev, const uint8_t *payload, size_t len,
		    const char *want)
{
	if (len < 4 || get32(payload) != dev->echo_tag)
		return;		/* someone else's echo */
	if (want && len - 4 == strlen(want) && !memcmp(payload + 4, want, len - 4))
		dev->echoes_ok++;
	else
		dev->echoes_bad++;
	dev->echo_tag = 0;
}

/* Check the whole reports the driver returned in @buf. */
static void on_reports(struct device *dev, const uint8_t *buf, size_t len,
		       int check_crc, const char *echo_text)
{
	size_t off = 0;
	double t = now();

	if (!dev->reports)
		dev->first = t;
	dev->last = t;
	dev->bytes += len;
	while (off + HDR_SIZE <= len) {
		const uint8_t *r = buf + off;
		size_t size = HDR_SIZE + get16(r + 20);

		if (get32(r) != MAGIC || off + size > len) {
			/* The driver hands out whole reports only. */
			fprintf(stderr, "fpga_reader: %s: torn report at %zu\n",
				dev->path, off);
			dev->crc_errors++;
			return;
		}
		dev->reports++;
		off += size;
		if (check_crc && icd_crc(r, HDR_SIZE, 24, size) != get32(r + 24)) {
			dev->crc_errors++;
			continue;
		}
		check_sequence(dev, get32(r + 8));
		if (r[6] & FLAG_DROPPED_BEFORE)
			dev->flagged++;
		if (r[5] == EVENT)
			dev->events++;
		else if (r[5] == ECHO)
			on_echo(dev, r + HDR_SIZE, size - HDR_SIZE, echo_text);
	}
}

static uint64_t sysfs_counter(const struct device *dev, const char *name)
{
	char path[128];
	unsigned long long value = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/fpga/%s/%s", dev->name, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &value) != 1)
		value = 0;
	fclose(f);
	return value;
}

/* --- round trips ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* @n ECHO round trips on @dev, one at a time; prints their latency. */
static int measure_rtt(struct device *dev, int n, uint8_t *buf, size_t bufsize,
		       int check_crc)
{
	double *samples = calloc(n, sizeof(*samples));
	const char *text = "rtt";

	if (!samples)
		return -1;
	for (int i = 0; i < n; i++) {
		double start = now(), deadline = start + 5;
		int before = dev->echoes_ok;

		if (send_echo(dev, text)) {
			free(samples);
			return -1;
		}
		while (dev->echoes_ok == before) {
			struct pollfd pfd = { .fd = dev->fd, .events = POLLIN };
			ssize_t got;

			if (now() > deadline) {
				fprintf(stderr, "fpga_reader: %s: no echo in 5 s\n", dev->path);
				free(samples);
				return -1;
			}
			if (poll(&pfd, 1, 100) <= 0)
				continue;
			got = read(dev->fd, buf, bufsize);
			if (got < 0 && errno != EAGAIN && errno != EINTR) {
				io_error(dev, "read");
				free(samples);
				return -1;
			}
			if (got > 0)
				on_reports(dev, buf, (size_t)got, check_crc, text);
		}
		samples[i] = (now() - start) * 1e6;
	}
	qsort(samples, n, sizeof(*samples), cmp_double);
	printf("%s rtt_us median=%.1f p99=%.1f min=%.1f max=%.1f n=%d\n", dev->name,
	       samples[n / 2], samples[(int)((n - 1) * 0.99)], samples[0],
	       samples[n - 1], n);
	free(samples);
	return 0;
}

/* --- main ----------------------------------------------------------------- */

/* --crc FILE: the CRC-32 of FILE and the code that computed it, to test both. */
static int print_crc(const char *path)
{
	static uint8_t data[1 << 20];
	FILE *f = fopen(path, "rb");
	size_t len;

	if (!f) {
		perror(path);
		return 2;
	}
	len = fread(data, 1, sizeof(data), f);
	fclose(f);
	crc_init();
#ifdef __x86_64__
	printf("%08x %s\n", crc32_update(0, data, len), use_clmul ? "clmul" : "table");
#else
	printf("%08x table\n", crc32_update(0, data, len));
#endif
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fpga_reader --dev /dev/fpgaN [--dev ...] [--count N] [--echo TEXT]\n"
		"       [--cmd reset|start|stop|rate=R|param=ID:VALUE|raw=OPCODE]...\n"
		"       [--rtt N] [--idle S] [--timeout S] [--bufsize BYTES] [--no-crc]\n"
		"       [--pause-after N --pause S]\n"
		"       fpga_reader --crc FILE\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' },
		{ "echo", required_argument, NULL, 'e' },
		{ "cmd", required_argument, NULL, 'C' },
		{ "rtt", required_argument, NULL, 'r' },
		{ "idle", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "bufsize", required_argument, NULL, 'b' },
		{ "no-crc", no_argument, NULL, 'n' },
		{ "pause-after", required_argument, NULL, 'p' },
		{ "pause", required_argument, NULL, 'P' },
		{ "crc", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t count = 0, pause_after = 0, total_reports = 0, total_bytes = 0;
	double first = 0, last = 0;
	double idle = 10, timeout = 0, pause = 0, start, last_data;
	size_t bufsize = 1 << 20;
	const char *echo_text = NULL;
	int check_crc = 1, rtt = 0, opt, status = 0, paused = 0, busy = 0, ready;
	struct pollfd pfds[MAX_DEVICES];
	uint8_t *buf;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (ndevices == MAX_DEVICES) {
				usage();
				return 2;
			}
			devices[ndevices++].path = optarg;
			break;
		case 'c':
			count = strtoull(optarg, NULL, 0);
			break;
		case 'e':
			echo_text = optarg;
			break;
		case 'C':
			if (parse_command(optarg)) {
				fprintf(stderr, "fpga_reader: bad --cmd %s\n", optarg);
				return 2;
			}
			break;
		case 'r':
			rtt = atoi(optarg);
			break;
		case 'i':
			idle = atof(optarg);
			break;
		case 't':
			timeout = atof(optarg);
			break;
		case 'b':
			bufsize = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			check_crc = 0;
			break;
		case 'p':
			pause_after = strtoull(optarg, NULL, 0);
			break;
		case 'P':
			pause = atof(optarg);
			break;
		case 'k':
			return print_crc(optarg);
		default:
			usage();
			return 2;
		}
	}
	if (!ndevices || optind != argc || !bufsize ||
	    (echo_text && strlen(echo_text) > MAX_CMD_PAYLOAD)) {
		usage();
		return 2;
	}
	crc_init();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	buf = malloc(bufsize);
	if (!buf)
		return 2;
	for (int i = 0; i < ndevices; i++) {
		struct device *dev = &devices[i];
		const char *base = strrchr(dev->path, '/');

		snprintf(dev->name, sizeof(dev->name), "%s", base ? base + 1 : dev->path);
		dev->fd = open(dev->path, O_RDWR | O_NONBLOCK);
		if (dev->fd < 0) {
			fprintf(stderr, "fpga_reader: %s: %s\n", dev->path, strerror(errno));
			return 2;
		}
		pfds[i] = (struct pollfd){ .fd = dev->fd, .events = POLLIN };
		for (int c = 0; c < ncommands; c++)
			if (send_command(dev, commands[c].opcode, next_tag++,
					 commands[c].payload, commands[c].len))
				return 2;
		if (echo_text) {
			dev->echoes_wanted = 1;
			if (send_echo(dev, echo_text))
				return 2;
		}
	}
	if (rtt > 0 && measure_rtt(&devices[0], rtt, buf, bufsize, check_crc))
		return 2;

	start = last_data = now();
	for (;;) {
		int done = 1;
		double t = now();

		for (int i = 0; i < ndevices; i++) {
			struct device *dev = &devices[i];

			if (dev->reports < count || dev->echoes_ok + dev->echoes_bad <
			    dev->echoes_wanted)
				done = 0;
		}
		if (done)
			break;
		if (interrupted || t - last_data > idle ||
		    (timeout && t - start > timeout)) {
			status = 1;
			break;
		}
		/*
		 * Sleep in poll() only once a round of reads found nothing: while
		 * data flows, each device gets one read a round, and a poll() per
		 * read would double the system calls.
		 */
		if (!busy) {
			ready = poll(pfds, ndevices, 100);
			if (ready < 0 && errno != EINTR) {
				perror("fpga_reader: poll");
				return 2;
			}
		}
		busy = 0;
		for (int i = 0; i < ndevices; i++) {
			struct device *dev = &devices[i];
			ssize_t got;

			got = read(dev->fd, buf, bufsize);
			if (got < 0 && errno != EAGAIN && errno != EINTR) {
				io_error(dev, "read");
				return 2;
			}
			if (got > 0) {
				on_reports(dev, buf, (size_t)got, check_crc, echo_text);
				last_data = now();
				busy = 1;
			}
		}
		if (pause_after && !paused && devices[0].reports >= pause_after) {
			/* Stop reading, as a stalled application would. */
			paused = 1;
			usleep((useconds_t)(pause * 1e6));
			last_data = now();
		}
	}
	for (int i = 0; i < ndevices; i++) {
		struct device *dev = &devices[i];

		if (!dev->reports)
			continue;
		total_reports += dev->reports;
		total_bytes += dev->bytes;
		if (!first || dev->first < first)
			first = dev->first;
		if (dev->last > last)
			last = dev->last;
	}
	for (int i = 0; i < ndevices; i++) {
		struct device *dev = &devices[i];
		double secs = dev->last > dev->first ? dev->last - dev->first : 0;
		const char *echo = "none";

		dev->malformed = sysfs_counter(dev, "malformed");
		dev->overflows = sysfs_counter(dev, "overflows");
		if (dev->echoes_wanted)
			echo = dev->echoes_ok ? "ok" : dev->echoes_bad ? "bad" : "missing";
		printf("%s reports=%" PRIu64 " bytes=%" PRIu64 " lost=%" PRIu64
		       " dup=%" PRIu64 " crc_errors=%" PRIu64 " malformed=%" PRIu64
		       " overflows=%" PRIu64 " flagged=%" PRIu64 " events=%" PRIu64
		       " echo=%s seconds=%.3f reports_per_s=%.0f MB_per_s=%.1f\n",
		       dev->name, dev->reports, dev->bytes, dev->lost, dev->dup,
		       dev->crc_errors, dev->malformed, dev->overflows, dev->flagged,
		       dev->events, echo, secs, secs ? dev->reports / secs : 0,
		       secs ? dev->bytes / secs / 1e6 : 0);
		if (!status && (dev->lost || dev->dup || dev->crc_errors ||
				(dev->echoes_wanted && !dev->echoes_ok)))
			status = 3;
		close(dev->fd);
	}
	if (ndevices > 1) {
		/* All devices together, over the time any of them was delivering. */
		double secs = last > first ? last - first : 0;

		printf("all reports=%" PRIu64 " bytes=%" PRIu64
		       " seconds=%.3f reports_per_s=%.0f MB_per_s=%.1f\n",
		       total_reports, total_bytes, secs,
		       secs ? total_reports / secs : 0, secs ? total_bytes / secs / 1e6 : 0);
	}
	free(buf);
	return status;
}
