// The real side of the differential suite: loads a BPF object with libbpf, ATTACHES one program
// (sk_msg to a sockmap, cgroup_sock_addr to a cgroup) and drives real sockets on loopback through
// it, then prints what the kernel did as one JSON line. It refuses to run anywhere but in a
// bpfunit guest (kernel command line token bpfunit.guest, set by `bpfunit vm`): attaching on the
// host would change the host's networking.
// Built by spec/differential/real.ts: gcc -O1 -Wall -o attach attach.c -lbpf
//
// usage: attach cookie
//          {"cookie":"N"}: the network namespace cookie of this process (SO_NETNS_COOKIE)
//        attach skmsg OBJ PROG [common] [--family 4|6] [--payload HEX] [--sockmap MAP] [--peer-key K]
//          a TCP connection on loopback; the sending socket goes in a sockmap (the object's MAP at
//          key 0, the peer's socket at key K when given; else a sockmap of its own) with PROG
//          attached as its msg verdict; one send of the payload, then the bytes the peer read
//          ("wire") and those that came back to the sender ("back")
//        attach sockaddr OBJ PROG TYPE [common] --op connect|sendmsg|recvmsg --proto tcp|udp
//               --to ADDR --port P [--listen ADDR:PORT] [--payload HEX]
//          TYPE: connect4 connect6 sendmsg4 recvmsg4 sockops egress; PROG attached to a fresh cgroup
//          this process moves into (TYPE tc_egress: a tc program, on the loopback device's egress
//          through tcx instead, kernel 6.6 or later: guests have no qdisc modules); connect: connect() to ADDR:P, then getpeername (and accept on the
//          listener); sendmsg: sendto ADDR:P, received on the UDP listener; recvmsg: a datagram from
//          the listener to the socket, whose recvfrom shows the source the program wrote
//        attach sock OBJ PROG TYPE [common] --op socket|bind|getsockopt|setsockopt --proto tcp|udp|raw
//               [--to ADDR --port P] [--level L --optname N [--optlen LEN] [--payload HEX]]
//          TYPE: sock_create post_bind4 getsockopt setsockopt, attached as above; socket: an IPv4
//          socket of that protocol, then its SO_MARK and SO_PRIORITY; bind: a socket bound to
//          ADDR:P; getsockopt: the option read into a zeroed buffer of LEN bytes; setsockopt: the
//          option set to the payload, then read back (4 bytes)
//        attach skskb OBJ VERDICT --parser PROG --sockmap MAP [--payload HEX]
//          a TCP connection on loopback; the accepting end goes in the object's MAP at key 0, with
//          PROG as its stream parser and VERDICT as its stream verdict; one send of the payload
//          from the connecting end, then the bytes each end read until it stayed quiet for 1 s:
//          the accepting end's ("wire") and the connecting end's ("back")
//   common: --set MAP:KEYHEX=VALUEHEX (before attaching), --storage MAP[:VALUEHEX] (sk storage of
//           the socket under test: set before the call when given, printed after), --dump MAP (every
//           entry after), --ringbuf MAP (every record after), --tail MAP:INDEX=OBJ:PROG (PROG of
//           another object, loaded and put in the program array MAP of this one)
// exit status: 0 ok, 1 failure (stderr says which step), 2 bad usage, 3 not in a bpfunit guest
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../support/hex.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#define MAX_ARGS 16
/* enum bpf_attach_type's BPF_TCX_EGRESS (kernel 6.6), newer than Debian 12's headers */
#define DIFF_TCX_EGRESS 47

static void die(const char *what)
{
	fprintf(stderr, "attach: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int in_guest(void)
{
	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n"))
		if (!strcmp(t, "bpfunit.guest"))
			return 1;
	return 0;
}

struct opts {
	const char *set[MAX_ARGS], *dump[MAX_ARGS], *ringbuf[MAX_ARGS], *tail[MAX_ARGS];
	int nset, ndump, nringbuf, ntail;
	const char *storage, *payload, *sockmap, *op, *proto, *to, *listen, *parser;
	int family, port, peer_key, level, optname, optlen;
};

static struct bpf_map *map_named(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	if (!m) {
		fprintf(stderr, "attach: no map %s\n", name);
		exit(2);
	}
	return m;
}

static void set_entries(struct bpf_object *obj, struct opts *o)
{
	for (int i = 0; i < o->nset; i++) {
		char *spec = strdup(o->set[i]), *colon = strchr(spec, ':'), *eq = colon ? strchr(colon, '=') : NULL;
		__u32 klen, vlen;

		if (!eq) {
			fprintf(stderr, "attach: --set MAP:KEY=VALUE, got %s\n", o->set[i]);
			exit(2);
		}
		*colon = *eq = 0;
		unsigned char *k = unhex(colon + 1, &klen), *v = unhex(eq + 1, &vlen);
		if (bpf_map_update_elem(bpf_map__fd(map_named(obj, spec)), k, v, BPF_ANY))
			die(o->set[i]);
	}
}

static struct bpf_object *load(const char *path, const char *prog_name, const char *also_name,
			       struct bpf_program **prog, struct bpf_program **also);

/* "MAP:INDEX=OBJ:PROG": a program of another object in a program array of this one */
static void set_tails(struct bpf_object *obj, struct opts *o)
{
	for (int i = 0; i < o->ntail; i++) {
		char *s = strdup(o->tail[i]), *colon = strchr(s, ':'), *eq = colon ? strchr(colon, '=') : NULL;
		char *pcolon = eq ? strrchr(eq, ':') : NULL;
		struct bpf_program *p;

		if (!pcolon) {
			fprintf(stderr, "attach: --tail MAP:INDEX=OBJ:PROG, got %s\n", o->tail[i]);
			exit(2);
		}
		*colon = *eq = *pcolon = 0;
		int index = atoi(colon + 1);
		load(eq + 1, pcolon + 1, NULL, &p, NULL);
		int fd = bpf_program__fd(p);
		if (bpf_map_update_elem(bpf_map__fd(map_named(obj, s)), &index, &fd, BPF_ANY))
			die(o->tail[i]);
	}
}

/* sk storage of socket fd in MAP, from "MAP:VALUEHEX" ("MAP" alone: nothing set) */
static void set_storage(struct bpf_object *obj, const char *spec, int fd)
{
	char *s = strdup(spec), *colon = strchr(s, ':');
	__u32 vlen;

	if (!colon)
		return;
	*colon = 0;
	unsigned char *v = unhex(colon + 1, &vlen);
	if (bpf_map_update_elem(bpf_map__fd(map_named(obj, s)), &fd, v, BPF_NOEXIST))
		die("sk storage update");
}

static void print_storage(struct bpf_object *obj, const char *spec, int fd)
{
	char *s = strdup(spec), *colon = strchr(s, ':');
	if (colon)
		*colon = 0;
	struct bpf_map *m = map_named(obj, s);
	unsigned char *v = calloc(1, bpf_map__value_size(m));

	printf(",\"storage\":");
	if (bpf_map_lookup_elem(bpf_map__fd(m), &fd, v))
		printf("null");
	else
		puthex_string(v, bpf_map__value_size(m));
}

static void print_dumps(struct bpf_object *obj, struct opts *o)
{
	printf(",\"maps\":{");
	for (int i = 0; i < o->ndump; i++) {
		struct bpf_map *m = map_named(obj, o->dump[i]);
		__u32 ks = bpf_map__key_size(m), vs = bpf_map__value_size(m);
		unsigned char *k = calloc(1, ks), *next = calloc(1, ks), *v = calloc(1, vs);
		int first = 1;

		printf("%s\"%s\":{", i ? "," : "", o->dump[i]);
		for (void *prev = NULL; !bpf_map_get_next_key(bpf_map__fd(m), prev, next); prev = k) {
			memcpy(k, next, ks);
			if (bpf_map_lookup_elem(bpf_map__fd(m), k, v))
				continue;
			printf("%s", first ? "" : ",");
			puthex_string(k, ks);
			printf(":");
			puthex_string(v, vs);
			first = 0;
		}
		printf("}");
	}
	printf("}");
}

static int ringbuf_first;
static int on_record(void *ctx, void *data, size_t size)
{
	printf("%s", ringbuf_first ? "" : ",");
	puthex_string(data, size);
	ringbuf_first = 0;
	return 0;
}

static void print_ringbufs(struct bpf_object *obj, struct opts *o)
{
	printf(",\"ringbufs\":{");
	for (int i = 0; i < o->nringbuf; i++) {
		struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(map_named(obj, o->ringbuf[i])), on_record, NULL, NULL);

		if (!rb)
			die("ring_buffer__new");
		printf("%s\"%s\":[", i ? "," : "", o->ringbuf[i]);
		ringbuf_first = 1;
		if (ring_buffer__consume(rb) < 0)
			die("ring_buffer__consume");
		printf("]");
		ring_buffer__free(rb);
	}
	printf("}");
}

/* PROG (and ALSO, when named) of the object at path; its other programs are not loaded */
static struct bpf_object *load(const char *path, const char *prog_name, const char *also_name,
			       struct bpf_program **prog, struct bpf_program **also)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *p;

	if (!obj)
		die(path);
	*prog = NULL;
	bpf_object__for_each_program(p, obj) {
		int it = !strcmp(bpf_program__name(p), prog_name);
		int other = also_name && !strcmp(bpf_program__name(p), also_name);
		bpf_program__set_autoload(p, it || other);
		if (it)
			*prog = p;
		if (other)
			*also = p;
	}
	if (!*prog || (also_name && !*also)) {
		fprintf(stderr, "attach: no program %s in %s\n", *prog ? also_name : prog_name, path);
		exit(2);
	}
	if (bpf_object__load(obj))
		die("load");
	return obj;
}

/* "ADDR" (v4 or v6) and port into a sockaddr_storage; returns its length */
static socklen_t sockaddr_of(const char *addr, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1)
			goto bad;
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &a->sin_addr) != 1)
		goto bad;
	return sizeof(*a);
bad:
	fprintf(stderr, "attach: bad address %s\n", addr);
	exit(2);
}

/* "ADDR:PORT", the address possibly in brackets ([::1]:80) */
static socklen_t parse_endpoint(const char *text, struct sockaddr_storage *ss)
{
	char *s = strdup(text), *colon = strrchr(s, ':');

	if (!colon)
		goto bad;
	*colon = 0;
	if (*s == '[') {
		s++;
		s[strlen(s) - 1] = 0;
	}
	return sockaddr_of(s, atoi(colon + 1), ss);
bad:
	fprintf(stderr, "attach: ADDR:PORT expected, got %s\n", text);
	exit(2);
}

static void print_sockaddr(const char *key, struct sockaddr_storage *ss)
{
	char text[INET6_ADDRSTRLEN] = "";
	int port;

	if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
		port = ntohs(a->sin6_port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
		port = ntohs(a->sin_port);
	}
	printf(",\"%s\":{\"address\":\"%s\",\"port\":%d}", key, text, port);
}

/* Every blocking call gives up after 20 s (a guest under emulation is slow, never that slow). */
static void timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 20 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int sock(int family, int type)
{
	int fd = socket(family, type, 0), one = 1;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	timeouts(fd);
	return fd;
}

/* everything fd receives until end of stream (or the 20 s timeout) */
static unsigned char *drain(int fd, size_t *got)
{
	unsigned char *buf = malloc(1 << 16);

	*got = 0;
	for (ssize_t n; *got < (1 << 16) && (n = recv(fd, buf + *got, (1 << 16) - *got, 0)) > 0; *got += n)
		;
	return buf;
}

/* a client socket connected over loopback TCP and the accepted peer */
static void tcp_pair(int family, int *cfd, int *pfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(family == AF_INET6 ? "::1" : "127.0.0.1", 0, &ss);
	int lfd = sock(family, SOCK_STREAM);

	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&ss, &len))
		die("listen");
	*cfd = sock(family, SOCK_STREAM);
	if (connect(*cfd, (struct sockaddr *)&ss, len))
		die("connect");
	*pfd = accept(lfd, NULL, NULL);
	if (*pfd < 0)
		die("accept");
	timeouts(*pfd);
}

/* opens the JSON line: what send() returned (or -errno), what the peer read, what came back */
static void print_exchange(ssize_t sent, const unsigned char *wire, size_t got, const unsigned char *back, size_t back_len)
{
	printf("{\"sent\":%zd", sent);
	printf(",\"wire\":");
	puthex_string(wire, got);
	printf(",\"back\":");
	puthex_string(back, back_len);
}

static int skmsg(struct bpf_object *obj, struct bpf_program *prog, struct opts *o)
{
	int cfd, pfd, map_fd, zero = 0;
	__u32 plen = 0;
	unsigned char *payload = o->payload ? unhex(o->payload, &plen) : (unsigned char *)"";

	tcp_pair(o->family == 6 ? AF_INET6 : AF_INET, &cfd, &pfd);
	set_entries(obj, o);
	if (o->storage)
		set_storage(obj, o->storage, cfd);
	map_fd = o->sockmap ? bpf_map__fd(map_named(obj, o->sockmap))
			    : bpf_map_create(BPF_MAP_TYPE_SOCKMAP, "diff_sockmap", 4, 4, 2, NULL);
	if (map_fd < 0)
		die("sockmap");
	if (bpf_prog_attach(bpf_program__fd(prog), map_fd, BPF_SK_MSG_VERDICT, 0))
		die("attach sk_msg");
	if (bpf_map_update_elem(map_fd, &zero, &cfd, BPF_ANY))
		die("sockmap update");
	if (o->peer_key >= 0 && bpf_map_update_elem(map_fd, &o->peer_key, &pfd, BPF_ANY))
		die("sockmap update (peer)");

	ssize_t sent = send(cfd, payload, plen, 0);
	int send_errno = errno;
	/* each side reads until the other shuts down: what reached the peer, then what came back */
	shutdown(cfd, SHUT_WR);
	size_t got = 0, back = 0;
	unsigned char *wire = drain(pfd, &got);
	shutdown(pfd, SHUT_WR);
	unsigned char *returned = drain(cfd, &back);
	print_exchange(sent < 0 ? -(ssize_t)send_errno : sent, wire, got, returned, back);
	if (o->storage)
		print_storage(obj, o->storage, cfd);
	print_dumps(obj, o);
	print_ringbufs(obj, o);
	printf("}\n");
	bpf_prog_detach2(bpf_program__fd(prog), map_fd, BPF_SK_MSG_VERDICT);
	return 0;
}

static enum bpf_attach_type sockaddr_type(const char *name)
{
	if (!strcmp(name, "connect4"))
		return BPF_CGROUP_INET4_CONNECT;
	if (!strcmp(name, "connect6"))
		return BPF_CGROUP_INET6_CONNECT;
	if (!strcmp(name, "sendmsg4"))
		return BPF_CGROUP_UDP4_SENDMSG;
	if (!strcmp(name, "recvmsg4"))
		return BPF_CGROUP_UDP4_RECVMSG;
	if (!strcmp(name, "sockops"))
		return BPF_CGROUP_SOCK_OPS;
	if (!strcmp(name, "egress"))
		return BPF_CGROUP_INET_EGRESS;
	if (!strcmp(name, "sock_create"))
		return BPF_CGROUP_INET_SOCK_CREATE;
	if (!strcmp(name, "post_bind4"))
		return BPF_CGROUP_INET4_POST_BIND;
	if (!strcmp(name, "getsockopt"))
		return BPF_CGROUP_GETSOCKOPT;
	if (!strcmp(name, "setsockopt"))
		return BPF_CGROUP_SETSOCKOPT;
	fprintf(stderr, "attach: unknown attach type %s\n", name);
	exit(2);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		die(path);
	close(fd);
}

/* the operations of `attach sock`: on a socket the test does not connect */
static int sock_op(const char *op)
{
	return !strcmp(op, "socket") || !strcmp(op, "bind") || !strcmp(op, "getsockopt") || !strcmp(op, "setsockopt");
}

static void print_option(const char *key, int fd, int level, int optname, socklen_t len)
{
	unsigned char *buf = calloc(1, len + 1);

	if (getsockopt(fd, level, optname, buf, &len))
		printf(",\"%s\":%d", key, -errno);
	else {
		printf(",\"%s\":", key);
		puthex_string(buf, len);
	}
	free(buf);
}

static void sock_call(struct opts *o, struct sockaddr_storage *to, socklen_t to_len)
{
	int raw = o->proto && !strcmp(o->proto, "raw"), udp = o->proto && !strcmp(o->proto, "udp");
	int type = raw ? SOCK_RAW : udp ? SOCK_DGRAM : SOCK_STREAM;
	int fd = socket(AF_INET, type, raw ? IPPROTO_ICMP : 0);

	if (!strcmp(o->op, "socket")) {
		printf("\"socket\":%d", fd < 0 ? -errno : 0);
		if (fd >= 0) {
			print_option("mark", fd, SOL_SOCKET, SO_MARK, 4);
			print_option("priority", fd, SOL_SOCKET, SO_PRIORITY, 4);
		}
	} else if (fd < 0) {
		die("socket");
	} else if (!strcmp(o->op, "bind")) {
		printf("\"bind\":%d", bind(fd, (struct sockaddr *)to, to_len) ? -errno : 0);
	} else if (!strcmp(o->op, "getsockopt")) {
		socklen_t len = o->optlen;
		unsigned char *buf = calloc(1, len + 1);
		int ret = getsockopt(fd, o->level, o->optname, buf, &len);

		printf("\"ret\":%d", ret ? -errno : 0);
		if (!ret) {
			printf(",\"optlen\":%u,\"optval\":", len);
			puthex_string(buf, len);
		}
	} else {
		__u32 plen = 0;
		unsigned char *value = o->payload ? unhex(o->payload, &plen) : NULL;

		printf("\"ret\":%d", setsockopt(fd, o->level, o->optname, value, plen) ? -errno : 0);
		print_option("after", fd, o->level, o->optname, 4);
	}
	if (fd >= 0)
		close(fd);
}

/* everything fd receives until it stays quiet for 1 s (or ends) */
static unsigned char *drain_quiet(int fd, size_t *got)
{
	unsigned char *buf = malloc(1 << 16);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	*got = 0;
	while (*got < (1 << 16) && poll(&p, 1, 1000) == 1) {
		n = recv(fd, buf + *got, (1 << 16) - *got, MSG_DONTWAIT);
		if (n <= 0)
			break;
		*got += n;
	}
	return buf;
}

static int skskb(struct bpf_object *obj, struct bpf_program *verdict, struct bpf_program *parser, struct opts *o)
{
	int cfd, pfd, map_fd, zero = 0;
	__u32 plen = 0;
	unsigned char *payload = o->payload ? unhex(o->payload, &plen) : (unsigned char *)"";

	tcp_pair(AF_INET, &cfd, &pfd);
	map_fd = bpf_map__fd(map_named(obj, o->sockmap));
	if (bpf_prog_attach(bpf_program__fd(parser), map_fd, BPF_SK_SKB_STREAM_PARSER, 0))
		die("attach stream parser");
	if (bpf_prog_attach(bpf_program__fd(verdict), map_fd, BPF_SK_SKB_STREAM_VERDICT, 0))
		die("attach stream verdict");
	if (bpf_map_update_elem(map_fd, &zero, &pfd, BPF_ANY))
		die("sockmap update");

	ssize_t sent = send(cfd, payload, plen, 0);
	int send_errno = errno;
	size_t got = 0, back = 0;
	unsigned char *wire = drain_quiet(pfd, &got);
	unsigned char *returned = drain_quiet(cfd, &back);
	print_exchange(sent < 0 ? -(ssize_t)send_errno : sent, wire, got, returned, back);
	printf("}\n");
	bpf_prog_detach2(bpf_program__fd(verdict), map_fd, BPF_SK_SKB_STREAM_VERDICT);
	bpf_prog_detach2(bpf_program__fd(parser), map_fd, BPF_SK_SKB_STREAM_PARSER);
	return 0;
}

static int sockaddr_run(struct bpf_object *obj, struct bpf_program *prog, const char *type_name, struct opts *o)
{
	int tc = !strcmp(type_name, "tc_egress");
	enum bpf_attach_type type = tc ? 0 : sockaddr_type(type_name);
	int udp = o->proto && !strcmp(o->proto, "udp");
	struct sockaddr_storage to, lst, peer;
	socklen_t to_len, lst_len = 0, peer_len = sizeof(peer);
	int family, fd, lfd = -1, cg, ret, err = 0;
	char cgdir[64], procs[96], pid[16];
	__u32 plen = 1;
	unsigned char *payload = o->payload ? unhex(o->payload, &plen) : (unsigned char *)"x";

	if (!o->op || (!o->to && !sock_op(o->op))) {
		fprintf(stderr, "attach: sockaddr needs --op and --to\n");
		exit(2);
	}
	to_len = sockaddr_of(o->to ? o->to : "127.0.0.1", o->port, &to);
	family = to.ss_family;
	set_entries(obj, o);
	set_tails(obj, o);

	snprintf(cgdir, sizeof(cgdir), "/sys/fs/cgroup/bpfunit-diff-%d", getpid());
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgdir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (mkdir(cgdir, 0755))
		die(cgdir);
	cg = open(cgdir, O_RDONLY | O_DIRECTORY);
	if (cg < 0)
		die(cgdir);
	write_file(procs, pid);
	if (tc) {
		/* the guest's lo is ifindex 1 */
		if (bpf_prog_attach(bpf_program__fd(prog), 1, DIFF_TCX_EGRESS, 0))
			die("attach to lo egress");
	} else if (bpf_prog_attach(bpf_program__fd(prog), cg, type, 0)) {
		die("attach to the cgroup");
	}
	/* after moving into the cgroup: a socket belongs to the cgroup it was created in (recvmsg4
	 * runs for the receiving socket) */
	if (o->listen) {
		lst_len = parse_endpoint(o->listen, &lst);
		lfd = sock(lst.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM);
		if (bind(lfd, (struct sockaddr *)&lst, lst_len) || (!udp && listen(lfd, 1)))
			die("listener");
	}

	printf("{");
	if (sock_op(o->op)) {
		sock_call(o, &to, to_len);
	} else if (!strcmp(o->op, "recvmsg")) {
		/* the socket under test is the listener; a datagram comes to it from another socket */
		if (lfd < 0)
			die("recvmsg needs --listen");
		if (o->storage)
			set_storage(obj, o->storage, lfd);
		fd = sock(lst.ss_family, SOCK_DGRAM);
		if (sendto(fd, payload, plen, 0, (struct sockaddr *)&lst, lst_len) < 0)
			die("sendto");
		unsigned char buf[512];
		ssize_t n = recvfrom(lfd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &peer_len);
		printf("\"received\":");
		if (n < 0)
			printf("-%d", errno);
		else
			puthex_string(buf, n);
		if (n >= 0)
			print_sockaddr("from", &peer);
		if (o->storage)
			print_storage(obj, o->storage, lfd);
	} else {
		fd = sock(family, udp ? SOCK_DGRAM : SOCK_STREAM);
		if (o->storage)
			set_storage(obj, o->storage, fd);
		if (!strcmp(o->op, "connect")) {
			ret = connect(fd, (struct sockaddr *)&to, to_len);
			err = ret ? errno : 0;
			printf("\"connect\":%d", -err);
			if (!ret && !getpeername(fd, (struct sockaddr *)&peer, &peer_len))
				print_sockaddr("peer", &peer);
			if (!ret && lfd >= 0 && !udp) {
				int afd = accept(lfd, NULL, NULL);
				printf(",\"accepted\":%s", afd >= 0 ? "true" : "false");
			}
		} else {
			ssize_t n = sendto(fd, payload, plen, 0, (struct sockaddr *)&to, to_len);
			printf("\"sent\":%zd", n < 0 ? -(ssize_t)errno : n);
			if (n >= 0 && lfd >= 0) {
				unsigned char buf[512];
				ssize_t r = recv(lfd, buf, sizeof(buf), 0);
				printf(",\"received\":");
				if (r < 0)
					printf("-%d", errno);
				else
					puthex_string(buf, r);
			}
		}
		if (o->storage)
			print_storage(obj, o->storage, fd);
	}
	print_dumps(obj, o);
	print_ringbufs(obj, o);
	printf("}\n");
	if (tc)
		bpf_prog_detach2(bpf_program__fd(prog), 1, DIFF_TCX_EGRESS);
	else
		bpf_prog_detach2(bpf_program__fd(prog), cg, type);
	write_file("/sys/fs/cgroup/cgroup.procs", pid);
	rmdir(cgdir);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .peer_key = -1 };
	struct bpf_program *prog;
	struct bpf_object *obj;
	int first;

	if (argc < 2)
		return 2;
	if (!in_guest()) {
		fprintf(stderr, "attach: refusing to attach outside a bpfunit guest (no bpfunit.guest in /proc/cmdline)\n");
		return 3;
	}
	if (!strcmp(argv[1], "cookie")) {
		__u64 cookie = 0;
		socklen_t len = sizeof(cookie);
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
			die("SO_NETNS_COOKIE");
		printf("{\"cookie\":\"%llu\"}\n", (unsigned long long)cookie);
		return 0;
	}
	first = !strcmp(argv[1], "skmsg") || !strcmp(argv[1], "skskb") ? 4 :
		!strcmp(argv[1], "sockaddr") || !strcmp(argv[1], "sock") ? 5 : 0;
	if (!first || argc < first)
		return 2;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return 2;
		i++;
		if (!strcmp(a, "--set") && o.nset < MAX_ARGS)
			o.set[o.nset++] = v;
		else if (!strcmp(a, "--dump") && o.ndump < MAX_ARGS)
			o.dump[o.ndump++] = v;
		else if (!strcmp(a, "--ringbuf") && o.nringbuf < MAX_ARGS)
			o.ringbuf[o.nringbuf++] = v;
		else if (!strcmp(a, "--tail") && o.ntail < MAX_ARGS)
			o.tail[o.ntail++] = v;
		else if (!strcmp(a, "--storage"))
			o.storage = v;
		else if (!strcmp(a, "--payload"))
			o.payload = v;
		else if (!strcmp(a, "--sockmap"))
			o.sockmap = v;
		else if (!strcmp(a, "--peer-key"))
			o.peer_key = atoi(v);
		else if (!strcmp(a, "--family"))
			o.family = atoi(v);
		else if (!strcmp(a, "--op"))
			o.op = v;
		else if (!strcmp(a, "--proto"))
			o.proto = v;
		else if (!strcmp(a, "--to"))
			o.to = v;
		else if (!strcmp(a, "--port"))
			o.port = atoi(v);
		else if (!strcmp(a, "--listen"))
			o.listen = v;
		else if (!strcmp(a, "--parser"))
			o.parser = v;
		else if (!strcmp(a, "--level"))
			o.level = atoi(v);
		else if (!strcmp(a, "--optname"))
			o.optname = atoi(v);
		else if (!strcmp(a, "--optlen"))
			o.optlen = atoi(v);
		else
			return 2;
	}
	if (!strcmp(argv[1], "skskb")) {
		struct bpf_program *parser;

		if (!o.parser || !o.sockmap)
			return 2;
		obj = load(argv[2], argv[3], o.parser, &prog, &parser);
		setvbuf(stdout, NULL, _IOFBF, 1 << 20);
		return skskb(obj, prog, parser, &o);
	}
	obj = load(argv[2], argv[3], NULL, &prog, NULL);
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	return first == 4 ? skmsg(obj, prog, &o) : sockaddr_run(obj, prog, argv[4], &o);
}
