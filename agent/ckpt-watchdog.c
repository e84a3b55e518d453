// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The deadline on CRIU calls (ckpt-watchdog.h says why).  The caller's
 * children are read from /proc/self/task/TID/children rather than from a
 * pid libcriu would have to give out: libcriu keeps its swrk's pid to
 * itself.  The name check keeps the watchdog off anything else the
 * caller may have forked.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ckpt-watchdog.h"
#include "proc-tree.h"

#define NS_PER_S 1000000000ull
/* No criu among the caller's children at the deadline: look again then. */
#define RETRY_NS (NS_PER_S / 2)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static bool named(pid_t pid, const char *comm)
{
	char path[64], buf[32];
	FILE *f;
	bool yes = false;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		yes = !strcmp(buf, comm);
	}
	fclose(f);
	return yes;
}

unsigned int ckpt_watchdog_children(pid_t tid, const char *comm, pid_t *pids, unsigned int max)
{
	char path[64];
	unsigned int n = 0;
	FILE *f;
	int pid;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fscanf(f, "%d", &pid) == 1)
		if (pid > 0 && named(pid, comm)) {
			if (n < max)
				pids[n] = pid;
			n++;
		}
	fclose(f);
	return n;
}

static void expire(struct ckpt_watchdog *w)
{
	pid_t pids[CKPT_WATCHDOG_MAX_KILLED];
	unsigned int n = ckpt_watchdog_children(w->tid, w->comm, pids, CKPT_WATCHDOG_MAX_KILLED);

	if (n > CKPT_WATCHDOG_MAX_KILLED)
		n = CKPT_WATCHDOG_MAX_KILLED;
	/* With what it runs (an action script, iptables): all of it ends. */
	for (unsigned int i = 0; i < n; i++)
		if (proc_tree_signal(pids[i], SIGKILL) != -ESRCH && w->nkilled < CKPT_WATCHDOG_MAX_KILLED)
			w->killed[w->nkilled++] = pids[i];
	/* Until disarmed: a criu forked late, or one more, is met too. */
	w->deadline_ns = mono_ns() + RETRY_NS;
}

static void *run(void *arg)
{
	struct ckpt_watchdog *w = arg;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		if (!w->deadline_ns) {
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		if (mono_ns() >= w->deadline_ns) {
			expire(w);
			continue;
		}
		struct timespec ts = {
			.tv_sec = (time_t)(w->deadline_ns / NS_PER_S),
			.tv_nsec = (long)(w->deadline_ns % NS_PER_S),
		};
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int ckpt_watchdog_start(struct ckpt_watchdog *w, uint64_t timeout_ns)
{
	pthread_condattr_t ca;
	int rc;

	memset(w, 0, sizeof(*w));
	if (!timeout_ns)
		return -EINVAL;
	w->timeout_ns = timeout_ns;
	w->comm = "criu";
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	/* Deadlines are monotonic: a clock step must not fire or defer one. */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&w->thread, NULL, run, w);
	if (rc) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		w->timeout_ns = 0;
		return -rc;
	}
	return 0;
}

void ckpt_watchdog_arm(struct ckpt_watchdog *w)
{
	pthread_mutex_lock(&w->lock);
	w->tid = gettid();
	w->nkilled = 0;
	w->deadline_ns = mono_ns() + w->timeout_ns;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

unsigned int ckpt_watchdog_disarm(struct ckpt_watchdog *w, pid_t *first)
{
	unsigned int n;

	pthread_mutex_lock(&w->lock);
	w->deadline_ns = 0;
	n = w->nkilled;
	if (n && first)
		*first = w->killed[0];
	w->nkilled = 0;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return n;
}

void ckpt_watchdog_stop(struct ckpt_watchdog *w)
{
	if (!w->timeout_ns)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	w->timeout_ns = 0;
}
