// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The early takeover's steps (takeover.h).  The address goes in through
 * rtnetlink (libmnl), as `ip addr add` would put it; the mount is one
 * mount(2), with the options split the way mount(8) splits them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "takeover.h"

static int say(char *msg, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int say(char *msg, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int tk_mount_options(const char *opts, unsigned long *flags, char *data, size_t len)
{
	static const struct { const char *name; unsigned long set, clear; } known[] = {
		{ "ro", MS_RDONLY, 0 }, { "rw", 0, MS_RDONLY },
		{ "noatime", MS_NOATIME, 0 }, { "atime", 0, MS_NOATIME },
		{ "nodiratime", MS_NODIRATIME, 0 }, { "relatime", MS_RELATIME, 0 },
		{ "strictatime", MS_STRICTATIME, 0 },
		{ "nosuid", MS_NOSUID, 0 }, { "suid", 0, MS_NOSUID },
		{ "nodev", MS_NODEV, 0 }, { "dev", 0, MS_NODEV },
		{ "noexec", MS_NOEXEC, 0 }, { "exec", 0, MS_NOEXEC },
		{ "sync", MS_SYNCHRONOUS, 0 }, { "async", 0, MS_SYNCHRONOUS },
		{ "dirsync", MS_DIRSYNC, 0 }, { "lazytime", MS_LAZYTIME, 0 },
		{ "defaults", 0, 0 },
	};
	char copy[TK_PATH_MAX], *save = NULL;
	size_t used = 0;

	*flags = 0;
	if (len)
		data[0] = '\0';
	if (!opts || !*opts)
		return 0;
	if (strlen(opts) >= sizeof(copy))
		return -E2BIG;
	strcpy(copy, opts);
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		size_t i, n = sizeof(known) / sizeof(known[0]);

		for (i = 0; i < n && strcmp(o, known[i].name); i++)
			;
		if (i < n) {
			*flags = (*flags | known[i].set) & ~known[i].clear;
			continue;
		}
		/* mount(8)'s own options, not the filesystem's: refuse them. */
		if (!strcmp(o, "bind") || !strcmp(o, "rbind") || !strcmp(o, "remount") ||
		    !strncmp(o, "loop", 4) || !strcmp(o, "user") || !strcmp(o, "users") ||
		    !strcmp(o, "_netdev") || !strcmp(o, "nofail") || !strcmp(o, "auto") ||
		    !strcmp(o, "noauto"))
			return -EOPNOTSUPP;
		size_t ol = strlen(o);

		if (used + ol + 2 > len)
			return -E2BIG;
		if (used)
			data[used++] = ',';
		memcpy(data + used, o, ol + 1);
		used += ol;
	}
	return 0;
}

/* Is something mounted on @dir (as /proc/self/mounts lists it)? */
static bool mounted_on(const char *dir)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[1024], dev[512], mnt[512];
	bool yes = false;

	if (!f)
		return false;
	while (!yes && fgets(line, sizeof(line), f))
		yes = sscanf(line, "%511s %511s", dev, mnt) == 2 && !strcmp(mnt, dir);
	fclose(f);
	return yes;
}

int tk_mount(const struct tk_step *st, char *msg, size_t len)
{
	unsigned long flags;
	char data[TK_PATH_MAX];
	int rc;

	if (st->kind != TK_MOUNT)
		return -EINVAL;
	rc = tk_mount_options(st->u.mount.options, &flags, data, sizeof(data));
	if (rc)
		return say(msg, len, rc, "%s: options '%s': %s", st->rsc, st->u.mount.options,
			   strerror(-rc));
	if (mounted_on(st->u.mount.directory))
		return say(msg, len, 1, "%s: %s already mounted", st->rsc, st->u.mount.directory);
	if (mkdir(st->u.mount.directory, 0755) && errno != EEXIST)
		return say(msg, len, -errno, "%s: mkdir %s: %s", st->rsc, st->u.mount.directory,
			   strerror(errno));
	if (mount(st->u.mount.device, st->u.mount.directory, st->u.mount.fstype, flags,
		  data[0] ? data : NULL))
		return say(msg, len, -errno, "%s: mount %s on %s (%s): %s", st->rsc,
			   st->u.mount.device, st->u.mount.directory, st->u.mount.fstype,
			   strerror(errno));
	return say(msg, len, 0, "%s: %s mounted on %s", st->rsc, st->u.mount.device,
		   st->u.mount.directory);
}

static int parse_ip(const struct tk_step *st, struct in_addr *a, unsigned int *ifindex)
{
	if (st->kind != TK_ADDRESS || strlen(st->u.addr.nic) >= IFNAMSIZ ||
	    inet_pton(AF_INET, st->u.addr.ip, a) != 1 ||
	    st->u.addr.prefix < 1 || st->u.addr.prefix > 32)
		return -EINVAL;
	*ifindex = if_nametoindex(st->u.addr.nic);
	return *ifindex ? 0 : -ENODEV;
}

int tk_address(const struct tk_step *st, char *msg, size_t len)
{
	char buf[8192];	/* MNL_SOCKET_BUFFER_SIZE is a run-time value */
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	struct in_addr a;
	unsigned int ifindex, portid, seq = (unsigned int)time(NULL);
	int rc = parse_ip(st, &a, &ifindex);
	ssize_t n;

	if (rc)
		return say(msg, len, rc, "%s: %s/%u on %s: %s", st->rsc, st->u.addr.ip,
			   st->u.addr.prefix, st->u.addr.nic, strerror(-rc));
	uint32_t host_mask = st->u.addr.prefix == 32 ? 0 : 0xffffffffu >> st->u.addr.prefix;
	uint32_t brd = htonl(ntohl(a.s_addr) | host_mask);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)st->u.addr.prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, a.s_addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, a.s_addr);
	if (st->u.addr.prefix < 31)
		mnl_attr_put_u32(nlh, IFA_BROADCAST, brd);

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		if (nl)
			mnl_socket_close(nl);
		return say(msg, len, rc, "%s: rtnetlink: %s", st->rsc, strerror(-rc));
	}
	portid = mnl_socket_get_portid(nl);
	rc = 0;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		rc = -errno;
	while (!rc && (n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		int r = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);

		if (r == MNL_CB_STOP)
			break;
		if (r < 0)
			rc = -errno;
	}
	mnl_socket_close(nl);
	if (rc == -EEXIST)
		return say(msg, len, 1, "%s: %s/%u already on %s", st->rsc, st->u.addr.ip,
			   st->u.addr.prefix, st->u.addr.nic);
	if (rc)
		return say(msg, len, rc, "%s: add %s/%u to %s: %s", st->rsc, st->u.addr.ip,
			   st->u.addr.prefix, st->u.addr.nic, strerror(-rc));
	return say(msg, len, 0, "%s: %s/%u added to %s", st->rsc, st->u.addr.ip,
		   st->u.addr.prefix, st->u.addr.nic);
}

struct arp_ipv4 {
	struct arphdr h;
	unsigned char sha[ETH_ALEN], sip[4], tha[ETH_ALEN], tip[4];
} __attribute__((packed));

int tk_announce(const struct tk_step *st, char *msg, size_t len)
{
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP), .sll_halen = ETH_ALEN,
	};
	struct arp_ipv4 p = {
		.h = { .ar_hrd = htons(ARPHRD_ETHER), .ar_pro = htons(ETH_P_IP),
		       .ar_hln = ETH_ALEN, .ar_pln = 4 },
	};
	struct ifreq ifr = { 0 };
	struct in_addr a;
	unsigned int ifindex;
	int rc = parse_ip(st, &a, &ifindex), fd;

	if (rc)
		return say(msg, len, rc, "%s: announce: %s", st->rsc, strerror(-rc));
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0)
		return say(msg, len, -errno, "%s: packet socket: %s", st->rsc, strerror(errno));
	/* parse_ip found the interface, so its name fits. */
	memcpy(ifr.ifr_name, st->u.addr.nic, strnlen(st->u.addr.nic, sizeof(ifr.ifr_name) - 1));
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		rc = -errno;
		close(fd);
		return say(msg, len, rc, "%s: %s's address: %s", st->rsc, st->u.addr.nic,
			   strerror(-rc));
	}
	to.sll_ifindex = (int)ifindex;
	memset(to.sll_addr, 0xff, ETH_ALEN);
	memcpy(p.sha, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	memcpy(p.sip, &a, 4);
	memcpy(p.tip, &a, 4);
	/* Both forms, as IPaddr2's send_arp does: some stacks heed only one. */
	p.h.ar_op = htons(ARPOP_REQUEST);
	if (sendto(fd, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		rc = -errno;
	p.h.ar_op = htons(ARPOP_REPLY);
	memset(p.tha, 0xff, ETH_ALEN);
	if (!rc && sendto(fd, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		rc = -errno;
	close(fd);
	if (rc)
		return say(msg, len, rc, "%s: gratuitous ARP on %s: %s", st->rsc, st->u.addr.nic,
			   strerror(-rc));
	return say(msg, len, 0, "%s: gratuitous ARP for %s on %s", st->rsc, st->u.addr.ip,
		   st->u.addr.nic);
}

static int write_text(const char *path, const char *text)
{
	char tmp[TK_PATH_MAX + 16];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fputs(text, f);
	if (fclose(f) || rename(tmp, path))
		return -errno;
	return 0;
}

static int pidfile_path(const struct tk_step *st, const char *rundir, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/orthros-protected-%s.pid", rundir, st->rsc);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static pid_t running_pid(const char *path)
{
	FILE *f = fopen(path, "re");
	long p = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld", &p) != 1 || p <= 1 || kill((pid_t)p, 0))
		p = 0;
	fclose(f);
	return (pid_t)p;
}

int tk_service_adopt(const struct tk_step *st, const char *rundir, pid_t pid)
{
	char path[TK_PATH_MAX];
	int rc = pidfile_path(st, rundir, path, sizeof(path));

	if (rc)
		return rc;
	if (mkdir(rundir, 0755) && errno != EEXIST)
		return -errno;
	char line[32];

	snprintf(line, sizeof(line), "%d\n", (int)pid);
	return write_text(path, line);
}

int tk_service_record(const struct tk_step *st, const char *rundir, const char *protect_dir,
		      pid_t pid, const char *how)
{
	char path[TK_PATH_MAX + 8], line[64];
	int rc = pidfile_path(st, rundir, path, sizeof(path) - 8);

	if (rc)
		return rc;
	strcat(path, ".how");
	snprintf(line, sizeof(line), "%s\n", how);
	rc = write_text(path, line);
	if (rc || !st->u.svc.group[0])
		return rc;
	if (mkdir(protect_dir, 0755) && errno != EEXIST)
		return -errno;
	if (snprintf(path, sizeof(path), "%s/%s.pid", protect_dir, st->u.svc.group) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	snprintf(line, sizeof(line), "%d\n", (int)pid);
	return write_text(path, line);
}

/*
 * Where the agent's cold start would put the group: the cgroup2 hierarchy
 * (the first of /sys/fs/cgroup and /sys/fs/cgroup/unified that is one;
 * ORTHROS_CGROUP_ROOT names it outright, as for the agent) joined with the
 * step's cgroup.  0 with @dir empty: no cgroup (none asked, or auto
 * without a hierarchy); -ENOENT: one named and no hierarchy to put it in.
 */
static int cgroup_dir(const struct tk_step *st, char *dir, size_t len, char *msg, size_t mlen)
{
	const char *env = getenv("ORTHROS_CGROUP_ROOT");
	const char *roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	struct statfs sf;

	dir[0] = '\0';
	if (!st->u.svc.cgroup[0])
		return 0;
	for (size_t i = 0; i < (env && *env ? 1 : 2); i++) {
		const char *root = env && *env ? env : roots[i];

		if (statfs(root, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC)
			continue;
		if ((size_t)snprintf(dir, len, "%s/%s", root, st->u.svc.cgroup) >= len)
			return say(msg, mlen, -ENAMETOOLONG, "%s: cgroup path too long", st->rsc);
		return 0;
	}
	if (st->u.svc.cgroup_auto)
		return 0;
	return say(msg, mlen, -ENOENT, "%s: cgroup %s: no cgroup2 hierarchy is mounted here",
		   st->rsc, st->u.svc.cgroup);
}

/* mkdir -p @dir, whose root exists (a cgroup2 mount: cgroup_dir found it). */
static int make_dirs(const char *dir)
{
	char path[TK_PATH_MAX];
	size_t len = strlen(dir);

	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		if (i < len)
			path[i] = '/';
	}
	return 0;
}

/*
 * Fork and exec @av as the agent starts a group: stdin /dev/null, stdout
 * and stderr to the resource's log file; @own_session: a session of its
 * own (a group without a namespace; orthros-init makes its own); @cgroup:
 * a cgroup directory the child joins before it becomes the command, so
 * nothing of the group is born outside it ("" none).  The child's pid, or
 * -errno.
 */
static pid_t spawn(const struct tk_step *st, char **av, bool own_session, const char *cgroup)
{
	int sync[2];
	char c;
	pid_t p;

	/* Closed by the exec (or the child's exit): then it has joined. */
	if (pipe2(sync, O_CLOEXEC) < 0)
		return -errno;
	p = fork();
	if (p < 0) {
		int err = -errno;

		close(sync[0]);
		close(sync[1]);
		return err;
	}
	if (p == 0) {
		/* close-on-exec: only the dup2 copies reach the command */
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int out = open(st->u.svc.logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

		if (own_session)
			setsid();
		if (cgroup[0]) {
			char procs[TK_PATH_MAX + 16], line[16];
			int fd, n = snprintf(line, sizeof(line), "%d\n", (int)getpid());

			snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroup);
			fd = open(procs, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, line, (size_t)n) != n)
				_exit(126);
			close(fd);
		}
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		/* a command is an absolute path; orthros-init may be found on PATH */
		execvp(av[0], av);
		_exit(127);
	}
	close(sync[1]);
	while (read(sync[0], &c, 1) < 0 && errno == EINTR)
		;
	close(sync[0]);
	return p;
}

/*
 * orthros-init beside this program (both are installed in sbin), else on
 * PATH; ORTHROS_INIT names it outright (the tests).
 */
static void init_path(char *buf, size_t len)
{
	const char *env = getenv("ORTHROS_INIT");
	char self[TK_PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(buf, len, "%s/orthros-init", self) < len &&
			    !access(buf, X_OK))
				return;
		}
	}
	snprintf(buf, len, "orthros-init");
}

/*
 * The agent's cold start with pid_namespace on: orthros-init runs the
 * command under an init of its own pid namespace and writes the init's
 * pid to the agent's pid file once the command runs.
 */
static int start_in_pidns(const struct tk_step *st, char **argv, int argc, const char *rundir,
			  const char *pidfile, char *cgroup, pid_t *pid, char *msg, size_t len)
{
	static char opt_pidfile[] = "--pidfile", opt_cgroup[] = "--cgroup", end_of_options[] = "--";
	char init[TK_PATH_MAX], pf[TK_PATH_MAX], line[32], *av[42];
	int n = 0, status, fd;
	ssize_t got;
	pid_t p;

	if (mkdir(rundir, 0755) && errno != EEXIST)
		return say(msg, len, -errno, "%s: %s: %s", st->rsc, rundir, strerror(errno));
	init_path(init, sizeof(init));
	snprintf(pf, sizeof(pf), "%s", pidfile);
	av[n++] = init;
	av[n++] = opt_pidfile;
	av[n++] = pf;
	if (cgroup[0]) {
		av[n++] = opt_cgroup;
		av[n++] = cgroup;
	}
	av[n++] = end_of_options;
	for (int i = 0; i < argc; i++)
		av[n++] = argv[i];
	av[n] = NULL;
	p = spawn(st, av, false, "");
	if (p < 0)
		return say(msg, len, (int)p, "%s: fork: %s", st->rsc, strerror((int)-p));
	while (waitpid(p, &status, 0) < 0)
		if (errno != EINTR)
			return say(msg, len, -errno, "%s: waiting for %s: %s", st->rsc, init, strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return say(msg, len, -EIO, "%s: %s could not start the command (status %d; see %s)",
			   st->rsc, init, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
			   st->u.svc.logfile);
	fd = open(pidfile, O_RDONLY | O_CLOEXEC);
	got = fd < 0 ? -1 : read(fd, line, sizeof(line) - 1);
	if (fd >= 0)
		close(fd);
	if (got <= 0 || (line[got] = '\0', (*pid = (pid_t)atoi(line)) <= 0))
		return say(msg, len, -EIO, "%s: %s wrote no pid to %s", st->rsc, init, pidfile);
	return say(msg, len, 0, "%s: started cold in its own pid namespace%s%s (init pid %d)", st->rsc,
		   cgroup[0] ? " and cgroup " : "", cgroup, (int)*pid);
}

int tk_service_start(const struct tk_step *st, const char *rundir, pid_t *pid,
		     char *msg, size_t len)
{
	char path[TK_PATH_MAX], words[sizeof(st->u.svc.command)], *argv[33], *save = NULL;
	char cgroup[TK_PATH_MAX];
	int argc = 0, rc;
	pid_t p;

	if (st->kind != TK_SERVICE)
		return -EINVAL;
	rc = pidfile_path(st, rundir, path, sizeof(path));
	if (rc)
		return say(msg, len, rc, "%s: pid file path too long", st->rsc);
	p = running_pid(path);
	if (p) {
		*pid = p;
		return say(msg, len, 1, "%s: already running (pid %d)", st->rsc, (int)p);
	}
	/* Split on blanks, as the agent's unquoted $command is. */
	strcpy(words, st->u.svc.command);
	for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (argc == 32)
			return say(msg, len, -E2BIG, "%s: more than 32 words", st->rsc);
		argv[argc++] = w;
	}
	argv[argc] = NULL;
	if (!argc || argv[0][0] != '/')
		return say(msg, len, -EINVAL, "%s: command must start with an absolute path",
			   st->rsc);
	if (access(argv[0], X_OK))
		return say(msg, len, -errno, "%s: %s: %s", st->rsc, argv[0], strerror(errno));
	rc = cgroup_dir(st, cgroup, sizeof(cgroup), msg, len);
	if (rc)
		return rc;
	if (st->u.svc.pidns)
		return start_in_pidns(st, argv, argc, rundir, path, cgroup, pid, msg, len);
	if (cgroup[0] && (rc = make_dirs(cgroup)))
		return say(msg, len, rc, "%s: cgroup %s: %s", st->rsc, cgroup, strerror(-rc));
	p = spawn(st, argv, true, cgroup);
	if (p < 0)
		return say(msg, len, (int)p, "%s: fork: %s", st->rsc, strerror((int)-p));
	*pid = p;
	if (mkdir(rundir, 0755) && errno != EEXIST)
		rc = -errno;
	if (!rc) {
		char line[32];

		snprintf(line, sizeof(line), "%d\n", (int)p);
		rc = write_text(path, line);
	}
	if (rc)
		return say(msg, len, rc, "%s: started (pid %d) but %s: %s", st->rsc, (int)p, path,
			   strerror(-rc));
	return say(msg, len, 0, "%s: started cold%s%s (pid %d)", st->rsc,
		   cgroup[0] ? " in cgroup " : "", cgroup, (int)p);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool accepts(unsigned int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr = { htonl(INADDR_LOOPBACK) } };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return ok;
}

int tk_service_wait(const struct tk_step *st, pid_t pid, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;
	char ports[sizeof(st->u.svc.ports)];

	for (;;) {
		char *save = NULL;
		bool all = true;

		int status;

		/* Ours (a cold start) can be a zombie, which kill() finds alive. */
		if (kill(pid, 0) || waitpid(pid, &status, WNOHANG) == pid)
			return -ESRCH;
		strcpy(ports, st->u.svc.ports);
		for (char *w = strtok_r(ports, " \t", &save); all && w;
		     w = strtok_r(NULL, " \t", &save)) {
			char *end;
			unsigned long port = strtoul(w, &end, 10);

			all = !*end && port && port < 65536 && accepts((unsigned int)port);
		}
		if (all)
			return 0;
		if (mono_ms() >= deadline)
			return -ETIMEDOUT;
		poll(NULL, 0, 20);
	}
}

int tk_run_services(const struct tk_plan *plan, int (*run)(const struct tk_step *st, const void *arg),
		    const void *arg)
{
	pid_t child[TK_MAX_STEPS] = { 0 };
	uint32_t want = 0, started = 0, done = 0;
	unsigned int n = plan->n < TK_MAX_STEPS ? plan->n : TK_MAX_STEPS, running = 0, bad = 0;
	bool failed = false;

	for (unsigned int i = 0; i < n; i++)
		if (plan->step[i].kind == TK_SERVICE)
			want |= 1u << i;
	for (;;) {
		for (unsigned int i = 0; i < n && !failed; i++) {
			uint32_t bit = 1u << i;
			pid_t pid;

			if (!(want & bit) || (started & bit) || (plan->step[i].after & want & ~done))
				continue;
			/* What stdio holds would be written twice, by both. */
			fflush(stdout);
			fflush(stderr);
			started |= bit;
			pid = fork();
			if (pid == 0) {
				int rc = run(&plan->step[i], arg);

				fflush(stdout);
				fflush(stderr);
				_exit(rc ? 1 : 0);
			}
			if (pid < 0) {
				/* No process to spare: here, then. */
				if (run(&plan->step[i], arg))
					failed = true, bad++;
				else
					done |= bit;
				continue;
			}
			child[i] = pid;
			running++;
		}
		if (!running)
			break;
		/*
		 * Each child by its pid: the caller's other children (a
		 * checkpoint standby) are not ours to reap.
		 */
		for (unsigned int i = 0; i < n; i++) {
			int status;

			if (!child[i] || waitpid(child[i], &status, WNOHANG) != child[i])
				continue;
			child[i] = 0;
			running--;
			if (WIFEXITED(status) && !WEXITSTATUS(status)) {
				done |= 1u << i;
			} else {
				failed = true;
				bad++;
			}
		}
		poll(NULL, 0, 5);
	}
	/* Not started: waiting for a failed one, or after a failure. */
	for (unsigned int i = 0; i < n; i++)
		if ((want & (1u << i)) && !(started & (1u << i)))
			bad++;
	return (int)bad;
}
