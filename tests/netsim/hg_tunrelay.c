/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * hg_tunrelay: a userspace link with delay and loss between two TUN devices,
 * because the test machines' kernel has no netem.
 *
 *   hg_tunrelay --a DEV_A --b DEV_B [--delay-us N] [--loss-ab PCT] [--loss-ba PCT]
 *               [--ctl FILE] [--stats FILE] [--seed N]
 *
 * Creates both devices (IFF_TUN | IFF_NO_PI), prints "ready" on stdout and
 * then copies packets A→B and B→A, each held --delay-us (one way) in a FIFO
 * and dropped with the given probability. The test moves the devices into
 * its namespaces with `ip link set DEV netns NS`; the fds keep working.
 *
 * SIGUSR1 re-reads FILE ("delay_us N", "loss_ab PCT", "loss_ba PCT" lines)
 * and writes the stats; SIGUSR2 writes the stats; SIGTERM/SIGINT write them
 * and exit. Stats count packets and ICMP/ICMPv6 echo requests per
 * direction, forwarded and dropped, so a test knows the loss the probes saw.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define QLEN    4096
#define PKT_MAX 2048

typedef struct {
	uint64_t due_ns;
	uint16_t len;
	uint8_t data[PKT_MAX];
} pkt_t;

typedef struct {
	pkt_t *q;
	size_t head, count;
	double loss; /* probability 0..1 */
	uint64_t pkts, dropped, overflow, echo, echo_dropped;
} dir_t;

static uint64_t rng_state = 88172645463325252ull;

static double rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / (double)(1ull << 53);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int tun_open(const char *name)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		perror("open /dev/net/tun");
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
		fprintf(stderr, "TUNSETIFF %s: %s\n", name, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* An ICMP echo request (v4 type 8, v6 type 128 without extension headers). */
static bool is_echo_request(const uint8_t *p, size_t len)
{
	if (len >= 20 && (p[0] >> 4) == 4 && p[9] == 1) {
		size_t ihl = (size_t)(p[0] & 0x0f) * 4;
		return len > ihl && p[ihl] == 8;
	}
	if (len >= 41 && (p[0] >> 4) == 6 && p[6] == 58) {
		return p[40] == 128;
	}
	return false;
}

static uint64_t delay_ns;

static void read_side(int fd, dir_t *d)
{
	for (;;) {
		pkt_t tmp;
		ssize_t n = read(fd, tmp.data, sizeof(tmp.data));
		if (n <= 0) {
			return;
		}
		bool echo = is_echo_request(tmp.data, (size_t)n);
		d->pkts++;
		d->echo += echo;
		if (d->loss > 0 && rnd() < d->loss) {
			d->dropped++;
			d->echo_dropped += echo;
			continue;
		}
		if (d->count == QLEN) {
			d->overflow++;
			continue;
		}
		pkt_t *slot = &d->q[(d->head + d->count) % QLEN];
		uint64_t due = now_ns() + delay_ns;
		/* FIFO: a delay lowered at runtime must not reorder packets. */
		if (d->count > 0) {
			uint64_t last = d->q[(d->head + d->count - 1) % QLEN].due_ns;
			if (due < last) {
				due = last;
			}
		}
		slot->due_ns = due;
		slot->len = (uint16_t)n;
		memcpy(slot->data, tmp.data, (size_t)n);
		d->count++;
	}
}

static void deliver(int fd, dir_t *d, uint64_t now)
{
	while (d->count > 0 && d->q[d->head].due_ns <= now) {
		pkt_t *p = &d->q[d->head];
		if (write(fd, p->data, p->len) < 0 && errno == EAGAIN) {
			return; /* retry on the next round */
		}
		d->head = (d->head + 1) % QLEN;
		d->count--;
	}
}

static void write_stats(const char *path, const dir_t *ab, const dir_t *ba)
{
	if (path == NULL) {
		return;
	}
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		return;
	}
	const dir_t *dirs[] = { ab, ba };
	const char *names[] = { "ab", "ba" };
	for (int i = 0; i < 2; i++) {
		fprintf(f,
		        "%s_pkts %llu\n%s_dropped %llu\n%s_overflow %llu\n%s_echo %llu\n"
		        "%s_echo_dropped %llu\n",
		        names[i], (unsigned long long)dirs[i]->pkts, names[i],
		        (unsigned long long)dirs[i]->dropped, names[i],
		        (unsigned long long)dirs[i]->overflow, names[i],
		        (unsigned long long)dirs[i]->echo, names[i],
		        (unsigned long long)dirs[i]->echo_dropped);
	}
	fprintf(f, "delay_us %llu\n", (unsigned long long)(delay_ns / 1000));
	fclose(f);
	rename(tmp, path);
}

static void read_ctl(const char *path, dir_t *ab, dir_t *ba)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	if (f == NULL) {
		return;
	}
	char key[64];
	double val;
	while (fscanf(f, "%63s %lf", key, &val) == 2) {
		if (strcmp(key, "delay_us") == 0) {
			delay_ns = (uint64_t)(val * 1000.0);
		} else if (strcmp(key, "loss_ab") == 0) {
			ab->loss = val / 100.0;
		} else if (strcmp(key, "loss_ba") == 0) {
			ba->loss = val / 100.0;
		} else if (strcmp(key, "reset") == 0 && val != 0) {
			ab->pkts = ab->dropped = ab->overflow = ab->echo = ab->echo_dropped = 0;
			ba->pkts = ba->dropped = ba->overflow = ba->echo = ba->echo_dropped = 0;
		}
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "a", required_argument, NULL, 'a' },
		{ "b", required_argument, NULL, 'b' },
		{ "delay-us", required_argument, NULL, 'd' },
		{ "loss-ab", required_argument, NULL, 'x' },
		{ "loss-ba", required_argument, NULL, 'y' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "stats", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *a = NULL, *b = NULL, *ctl = NULL, *stats = NULL;
	static dir_t ab, ba;
	int opt, ret = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': a = optarg; break;
		case 'b': b = optarg; break;
		case 'd': delay_ns = strtoull(optarg, NULL, 10) * 1000ull; break;
		case 'x': ab.loss = atof(optarg) / 100.0; break;
		case 'y': ba.loss = atof(optarg) / 100.0; break;
		case 'c': ctl = optarg; break;
		case 's': stats = optarg; break;
		case 'r': rng_state = strtoull(optarg, NULL, 10) | 1; break;
		default:
			fprintf(stderr,
			        "usage: %s --a DEV --b DEV [--delay-us N] [--loss-ab PCT] "
			        "[--loss-ba PCT] [--ctl FILE] [--stats FILE] [--seed N]\n",
			        argv[0]);
			return 2;
		}
	}
	if (a == NULL || b == NULL) {
		fprintf(stderr, "%s: --a and --b are required\n", argv[0]);
		return 2;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	int fa = tun_open(a), fb = tun_open(b);
	ab.q = calloc(QLEN, sizeof(pkt_t));
	ba.q = calloc(QLEN, sizeof(pkt_t));
	if (sfd < 0 || fa < 0 || fb < 0 || ab.q == NULL || ba.q == NULL) {
		goto cleanup;
	}
	read_ctl(ctl, &ab, &ba);
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = fa, .events = POLLIN },
			{ .fd = fb, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		uint64_t now = now_ns(), next = UINT64_MAX;
		if (ab.count) {
			next = ab.q[ab.head].due_ns;
		}
		if (ba.count && ba.q[ba.head].due_ns < next) {
			next = ba.q[ba.head].due_ns;
		}
		struct timespec ts, *tsp = NULL;
		if (next != UINT64_MAX) {
			uint64_t wait = next > now ? next - now : 0;
			ts.tv_sec = (time_t)(wait / 1000000000ull);
			ts.tv_nsec = (long)(wait % 1000000000ull);
			tsp = &ts; /* ns precision: a ms poll timeout would add jitter */
		}
		if (ppoll(pfd, 3, tsp, NULL) < 0 && errno != EINTR) {
			perror("ppoll");
			goto cleanup;
		}
		if (pfd[0].revents & POLLIN) {
			read_side(fa, &ab);
		}
		if (pfd[1].revents & POLLIN) {
			read_side(fb, &ba);
		}
		if (pfd[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGUSR1) {
					read_ctl(ctl, &ab, &ba);
				} else if (si.ssi_signo != SIGUSR2) {
					write_stats(stats, &ab, &ba);
					ret = 0;
					goto cleanup;
				}
				write_stats(stats, &ab, &ba);
			}
		}
		now = now_ns();
		deliver(fb, &ab, now);
		deliver(fa, &ba, now);
	}
cleanup:
	free(ab.q);
	free(ba.q);
	if (fa >= 0) {
		close(fa);
	}
	if (fb >= 0) {
		close(fb);
	}
	if (sfd >= 0) {
		close(sfd);
	}
	return ret;
}
