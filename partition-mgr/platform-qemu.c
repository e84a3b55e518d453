// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The qemu platform: every partition is a QEMU guest booted directly into
 * Debian's kernel (the kexec analog), on the host's installed system over
 * read-only 9p, with its RAM in a shared file (a dead partition's memory
 * stays readable until it is destroyed), an ivshmem doorbell for the link,
 * a virtio-serial channel to the controller, and a tap on the lab bridge.
 * Everything after boot goes through QMP.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <qb/qblog.h>

#include "platform.h"
#include "qmp.h"

#define MAX_PARTS 8
#define QMP_TIMEOUT_MS 3000

struct qpart {
	bool used;
	struct platform_boot boot;
	pid_t pid;
	enum platform_state st;
	struct qmp *qmp;
	unsigned int vcpus;
	unsigned int dimms;
	char qmp_path[PLATFORM_PATH_LEN];
	char ram_path[PLATFORM_PATH_LEN];
};

struct qplat {
	struct platform base;
	struct platform_qemu_config cfg;
	struct qpart part[MAX_PARTS];
};

static struct qplat *to_q(struct platform *p)
{
	return (struct qplat *)p;
}

static struct qpart *find(struct qplat *q, const char *name)
{
	for (int i = 0; i < MAX_PARTS; i++)
		if (q->part[i].used && !strcmp(q->part[i].boot.name, name))
			return &q->part[i];
	return NULL;
}

static int qmp_of(struct qpart *qp, struct qmp **out)
{
	if (!qp->qmp) {
		int rc = qmp_connect(qp->qmp_path, QMP_TIMEOUT_MS, &qp->qmp);

		if (rc)
			return rc;
	}
	*out = qp->qmp;
	return 0;
}

/* One QMP command; a broken connection is dropped so the next one retries. */
static int run(struct qpart *qp, const char *cmd, json_object *args, json_object **ret)
{
	char err[256];
	struct qmp *m;
	int rc = qmp_of(qp, &m);

	if (rc) {
		json_object_put(args);
		qb_log(LOG_ERR, "%s: QMP: cannot connect: %s", qp->boot.name, strerror(-rc));
		return rc;
	}
	rc = qmp_command(m, cmd, args, QMP_TIMEOUT_MS, ret, err, sizeof(err));
	if (rc == -EREMOTEIO)
		qb_log(LOG_ERR, "%s: QMP %s: %s", qp->boot.name, cmd, err);
	else if (rc) {
		qb_log(LOG_ERR, "%s: QMP %s: %s", qp->boot.name, cmd, strerror(-rc));
		qmp_close(qp->qmp);
		qp->qmp = NULL;
	}
	return rc;
}

/* argv builder: a fixed array is plenty for one QEMU command line. */
struct argv {
	int n;
	char *v[96];
};

static void add(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argv *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n >= (int)(sizeof(a->v) / sizeof(a->v[0])) - 1)
		return;
	va_start(ap, fmt);
	if (vasprintf(&a->v[a->n], fmt, ap) >= 0)
		a->n++;
	va_end(ap);
}

static void free_argv(struct argv *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
}

static int enter_netns(const char *name)
{
	char path[128];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		rc = -errno;
	close(fd);
	return rc;
}

static int q_start(struct platform *p, const struct platform_boot *b)
{
	struct qplat *q = to_q(p);
	struct qpart *qp = find(q, b->name);
	struct argv a = { 0 };
	const char *dir = q->cfg.run_dir;
	pid_t pid;

	if (qp && qp->st != PLATFORM_GONE)
		return -EEXIST;
	if (!qp)
		for (int i = 0; i < MAX_PARTS && !qp; i++)
			if (!q->part[i].used)
				qp = &q->part[i];
	if (!qp)
		return -ENOSPC;
	memset(qp, 0, sizeof(*qp));
	qp->used = true;
	qp->boot = *b;
	qp->vcpus = b->vcpus;
	snprintf(qp->qmp_path, sizeof(qp->qmp_path), "%s/%s.qmp", dir, b->name);
	snprintf(qp->ram_path, sizeof(qp->ram_path), "%s/%s.ram", dir, b->name);
	unlink(qp->qmp_path);

	add(&a, "qemu-system-x86_64");
	add(&a, "-name");
	add(&a, "%s,debug-threads=on", b->name);
	add(&a, "-nodefaults");
	add(&a, "-no-user-config");
	add(&a, "-display");
	add(&a, "none");
	add(&a, "-no-reboot");
	add(&a, "-accel");
	/*
	 * Multi-threaded TCG gives each vCPU thread one of max_cpus * 8
	 * regions of its code buffer (QEMU 7.2, tcg/region.c) and flushes only
	 * once the regions in use fill up; a vCPU hot-added while every region
	 * is taken aborts QEMU ("tcg_region_initial_alloc__locked: assertion
	 * failed").  Partitions fill the buffer in minutes (a lab Active that
	 * checkpoints with CRIU: 15 of 16 regions in 7 minutes), and the
	 * BackupOS grown at a PANIC died that way in 2 of 2 lab runs
	 * (2026-12-06).  One TCG thread per partition translates for every
	 * vCPU from one region, so a hot-added vCPU allocates none; on the
	 * lab's two host cores a partition never had more than one core's
	 * worth anyway.  The largest buffer an x86-64 host allows means fewer
	 * flushes.
	 */
	if (!strcmp(q->cfg.accel, "tcg"))
		add(&a, "tcg,thread=single,tb-size=2048");
	else
		add(&a, "%s", q->cfg.accel);
	/* RAM in a shared file: readable from the host after the guest died. */
	add(&a, "-object");
	add(&a, "memory-backend-file,id=ram0,mem-path=%s,size=%" PRIu64 ",share=on",
	    qp->ram_path, b->memory);
	add(&a, "-machine");
	add(&a, "pc,memory-backend=ram0");
	add(&a, "-m");
	if (b->max_memory > b->memory)	/* room for pc-dimm hot-add */
		add(&a, "%" PRIu64 "M,slots=8,maxmem=%" PRIu64 "M", b->memory >> 20,
		    b->max_memory >> 20);
	else
		add(&a, "%" PRIu64 "M", b->memory >> 20);
	add(&a, "-smp");
	add(&a, "%u,maxcpus=%u", b->vcpus, b->max_vcpus > b->vcpus ? b->max_vcpus : b->vcpus);
	add(&a, "-kernel");
	add(&a, "%s", q->cfg.kernel);
	add(&a, "-initrd");
	add(&a, "%s", q->cfg.initrd);
	add(&a, "-fsdev");
	add(&a, "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap");
	add(&a, "-device");
	add(&a, "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot");
	if (q->cfg.shared_dir) {
		add(&a, "-fsdev");
		add(&a, "local,id=rw,path=%s,security_model=none,multidevs=remap", q->cfg.shared_dir);
		add(&a, "-device");
		add(&a, "virtio-9p-pci,fsdev=rw,mount_tag=orthrosrw");
	}
	add(&a, "-chardev");
	add(&a, "socket,path=%s,id=doorbell", q->cfg.doorbell_socket);
	add(&a, "-device");
	add(&a, "ivshmem-doorbell,chardev=doorbell,vectors=2");
	add(&a, "-qmp");
	add(&a, "unix:%s,server=on,wait=off", qp->qmp_path);
	/* The partition's channel to the controller (its identity is the port). */
	add(&a, "-chardev");
	add(&a, "socket,id=chan,path=%s/%s.chan,server=on,wait=off", dir, b->name);
	add(&a, "-device");
	add(&a, "virtio-serial-pci");
	add(&a, "-device");
	add(&a, "virtserialport,chardev=chan,name=org.orthros.controller");
	if (q->cfg.bridge_ifup) {
		add(&a, "-netdev");
		add(&a, "tap,id=n0,ifname=%s,script=%s,downscript=no", b->name, q->cfg.bridge_ifup);
		add(&a, "-device");
		add(&a, "virtio-net-pci,netdev=n0,mac=%s", b->mac);
	}
	if (q->cfg.data_disk) {
		add(&a, "-drive");
		add(&a, "file=%s,if=none,id=data,format=raw,cache=none,aio=threads,file.locking=off",
		    q->cfg.data_disk);
		add(&a, "-device");
		add(&a, "virtio-blk-pci,drive=data,share-rw=on,serial=orthros-data");
	}
	if (q->cfg.store) {
		add(&a, "-object");
		add(&a, "memory-backend-file,id=ckptstore,share=on,mem-path=%s,size=%" PRIu64,
		    q->cfg.store, q->cfg.store_size);
		add(&a, "-device");
		add(&a, "ivshmem-plain,memdev=ckptstore");
	}
	add(&a, "-serial");
	add(&a, "file:%s/%s.console", dir, b->name);
	add(&a, "-append");
	add(&a, "console=ttyS0 panic=-1 reboot=t quiet tsc=reliable no_timer_check "
	    "cryptomgr.notests mitigations=off random.trust_cpu=on unknown_nmi_panic "
	    "orthros.name=%s orthros.gen=%u orthros.role=%u orthros.run=%s%s%s %s",
	    b->name, b->generation, b->role, b->payload,
	    q->cfg.shared_dir ? " orthros.rw=" : "",
	    q->cfg.shared_dir ? q->cfg.shared_dir : "", b->append);
	a.v[a.n] = NULL;

	pid = fork();
	if (pid < 0) {
		int e = -errno;

		free_argv(&a);
		qp->used = false;
		return e;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		setpgid(0, 0);
		if (q->cfg.netns && enter_netns(q->cfg.netns))
			_exit(126);
		if (q->cfg.nice)
			setpriority(PRIO_PROCESS, 0, q->cfg.nice);
		execvp(a.v[0], a.v);
		_exit(127);
	}
	free_argv(&a);
	qp->pid = pid;
	qp->st = PLATFORM_RUNNING;
	qb_log(LOG_INFO, "%s: generation %u booting (pid %d, %u vCPU, %" PRIu64 " MiB, %s)",
	       b->name, b->generation, (int)pid, b->vcpus, b->memory >> 20, q->cfg.accel);
	return 0;
}

static int q_freeze(struct platform *p, const char *name)
{
	struct qpart *qp = find(to_q(p), name);

	if (!qp || qp->st == PLATFORM_GONE)
		return -ENOENT;
	if (qp->st == PLATFORM_PAUSED)
		return 0;
	/*
	 * QMP stop freezes the vCPUs and keeps the memory; if QEMU itself does
	 * not answer, the process is killed: fencing must not depend on the
	 * victim's emulator being healthy.
	 */
	if (run(qp, "stop", NULL, NULL)) {
		qb_log(LOG_WARNING, "%s: QMP stop failed, killing pid %d", name, (int)qp->pid);
		kill(qp->pid, SIGKILL);
		qp->st = PLATFORM_GONE;
		return 0;
	}
	qp->st = PLATFORM_PAUSED;
	return 0;
}

static int q_destroy(struct platform *p, const char *name)
{
	struct qpart *qp = find(to_q(p), name);

	if (!qp)
		return -ENOENT;
	if (qp->st != PLATFORM_GONE) {
		if (run(qp, "quit", NULL, NULL))
			kill(qp->pid, SIGKILL);
		/* The reaper marks it GONE; give QEMU a moment to exit cleanly. */
		for (int i = 0; i < 100 && kill(qp->pid, 0) == 0; i++) {
			int status;

			if (waitpid(qp->pid, &status, WNOHANG) == qp->pid)
				break;
			usleep(20000);
		}
		kill(qp->pid, SIGKILL);
		qp->st = PLATFORM_GONE;
	}
	qmp_close(qp->qmp);
	qp->qmp = NULL;
	unlink(qp->ram_path);
	qp->used = false;
	return 0;
}

static int q_state(struct platform *p, const char *name, enum platform_state *st)
{
	struct qpart *qp = find(to_q(p), name);

	*st = qp ? qp->st : PLATFORM_ABSENT;
	return 0;
}

static int q_add_vcpus(struct platform *p, const char *name, unsigned int n)
{
	struct qpart *qp = find(to_q(p), name);
	json_object *list = NULL;
	unsigned int added = 0;
	int rc;

	if (!qp || qp->st != PLATFORM_RUNNING)
		return -ENOENT;
	rc = run(qp, "query-hotpluggable-cpus", NULL, &list);
	if (rc)
		return rc;
	/* QEMU lists the free sockets too: a slot without qom-path is free. */
	for (size_t i = json_object_array_length(list); i-- > 0 && added < n;) {
		json_object *c = json_object_array_get_idx(list, i), *v, *props, *args;

		if (json_object_object_get_ex(c, "qom-path", &v) ||
		    !json_object_object_get_ex(c, "type", &v) ||
		    !json_object_object_get_ex(c, "props", &props))
			continue;
		args = json_object_new_object();
		json_object_object_add(args, "driver", json_object_new_string(json_object_get_string(v)));
		char id[32];

		snprintf(id, sizeof(id), "cpu%u", qp->vcpus + added);
		json_object_object_add(args, "id", json_object_new_string(id));
		json_object_object_foreach(props, k, pv)
			json_object_object_add(args, k, json_object_get(pv));
		rc = run(qp, "device_add", args, NULL);
		if (rc)
			break;
		added++;
	}
	json_object_put(list);
	qp->vcpus += added;
	if (!rc && added < n)
		rc = -ENOSPC;
	return rc;
}

static int q_add_memory(struct platform *p, const char *name, uint64_t bytes)
{
	struct qpart *qp = find(to_q(p), name);
	json_object *args;
	char id[32], mem[32];
	int rc;

	if (!qp || qp->st != PLATFORM_RUNNING)
		return -ENOENT;
	snprintf(mem, sizeof(mem), "mem%u", qp->dimms);
	snprintf(id, sizeof(id), "dimm%u", qp->dimms);
	args = json_object_new_object();
	json_object_object_add(args, "qom-type", json_object_new_string("memory-backend-ram"));
	json_object_object_add(args, "id", json_object_new_string(mem));
	json_object_object_add(args, "size", json_object_new_uint64(bytes));
	rc = run(qp, "object-add", args, NULL);
	if (rc)
		return rc;
	args = json_object_new_object();
	json_object_object_add(args, "driver", json_object_new_string("pc-dimm"));
	json_object_object_add(args, "id", json_object_new_string(id));
	json_object_object_add(args, "memdev", json_object_new_string(mem));
	rc = run(qp, "device_add", args, NULL);
	if (!rc)
		qp->dimms++;
	return rc;
}

static int q_inject(struct platform *p, const char *name, const char *what)
{
	struct qpart *qp = find(to_q(p), name);

	if (!qp || qp->st != PLATFORM_RUNNING)
		return -ENOENT;
	if (!strcmp(what, "nmi"))
		return run(qp, "inject-nmi", NULL, NULL);
	/* SIGSTOP, not QMP stop: a hung kernel's QEMU does not answer either. */
	if (!strcmp(what, "hang"))
		return kill(qp->pid, SIGSTOP) ? -errno : 0;
	if (!strcmp(what, "resume"))
		return kill(qp->pid, SIGCONT) ? -errno : 0;
	return -EINVAL;
}

static void q_reaped(struct platform *p, pid_t pid, int status)
{
	struct qplat *q = to_q(p);

	for (int i = 0; i < MAX_PARTS; i++) {
		struct qpart *qp = &q->part[i];

		if (qp->used && qp->pid == pid) {
			qp->st = PLATFORM_GONE;
			qmp_close(qp->qmp);
			qp->qmp = NULL;
			qb_log(LOG_INFO, "%s: QEMU exited (%s %d)", qp->boot.name,
			       WIFEXITED(status) ? "status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		}
	}
}

static void q_close(struct platform *p)
{
	struct qplat *q = to_q(p);

	for (int i = 0; i < MAX_PARTS; i++)
		if (q->part[i].used)
			q_destroy(p, q->part[i].boot.name);
	free(q);
}

static const struct platform_ops qemu_ops = {
	.name = "qemu",
	.start = q_start,
	.freeze = q_freeze,
	.destroy = q_destroy,
	.state = q_state,
	.add_vcpus = q_add_vcpus,
	.add_memory = q_add_memory,
	.inject = q_inject,
	.reaped = q_reaped,
	.close = q_close,
};

int platform_qemu_create(const struct platform_qemu_config *cfg, struct platform **out)
{
	struct qplat *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->base.ops = &qemu_ops;
	q->cfg = *cfg;
	*out = &q->base;
	return 0;
}

const char *platform_state_name(enum platform_state st)
{
	switch (st) {
	case PLATFORM_ABSENT: return "absent";
	case PLATFORM_RUNNING: return "running";
	case PLATFORM_PAUSED: return "frozen";
	case PLATFORM_GONE: return "gone";
	}
	return "?";
}
