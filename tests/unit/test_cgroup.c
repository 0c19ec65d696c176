/* test_cgroup - the cgroup readers of daemon/memory.c (cgroup_dirs_at,
 * cgroup_memory, cgroup_oom_kills, cgroup_cpu_quota, cgroup_parse)
 * against fake v1, v2 and hybrid trees built in a temporary directory:
 * the machine's own cgroups are never read, so both versions are tested
 * wherever this runs. */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/memory.h"
#include "tests/unit/check.h"

static char root[256];

/* mkdir -p root/rel. */
static void
mkdirs(const char *rel)
{
	char path[1024];
	size_t i, n;

	n = (size_t)snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (i = strlen(root) + 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		(void)mkdir(path, 0700);
		if (i < n)
			path[i] = '/';
	}
}

/* Write text into root/rel (its directory made first). */
static void
put(const char *rel, const char *text)
{
	char path[1024], dir[1024], *slash;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", rel);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		mkdirs(dir);
	}
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static void
rm(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	(void)unlink(path);
}

static int
dirs(const char *text, struct cgroup_dirs *d)
{
	return cgroup_dirs_at(root, text, strlen(text), d);
}

/* The directory root/rel, as cgroup_dirs_at names it. */
static const char *
at(const char *rel)
{
	static char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return path;
}

static void
test_v1(void)
{
	static const char text[] = "12:pids:/user.slice\n"
				   "4:cpu,cpuacct:/svc\n"
				   "3:memory:/kube/pod1\n"
				   "1:name=systemd:/user.slice/x\n"
				   "0::/\n";
	struct cgroup_dirs d;
	uint64_t usage = 0, limit = 0, n = 0;
	bool has = true;
	double cores = 0;

	put("memory/kube/pod1/memory.usage_in_bytes", "52428800\n");
	put("memory/kube/pod1/memory.limit_in_bytes", "104857600\n");
	put("memory/kube/pod1/memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
	put("cpu/svc/cpu.cfs_quota_us", "200000\n");
	put("cpu/svc/cpu.cfs_period_us", "100000\n");

	CHECK_EQ_INT(dirs(text, &d), 0, "v1: resolved");
	CHECK_EQ_STR(d.mem, at("memory/kube/pod1"), "v1: memory directory");
	CHECK(!d.mem_v2, "v1: memory is v1");
	CHECK_EQ_STR(d.cpu, at("cpu/svc"), "v1: cpu directory");
	CHECK(!d.cpu_v2, "v1: cpu is v1");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), 0,
		     "v1: memory figures");
	CHECK_EQ_INT(usage, 52428800, "v1: usage");
	CHECK_EQ_INT(limit, 104857600, "v1: limit");
	CHECK(has, "v1: has a limit");
	CHECK_EQ_INT(cgroup_oom_kills(&d, &n), 0, "v1: oom_kill read");
	CHECK_EQ_INT(n, 3, "v1: oom_kill, not oom_kill_disable");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 0, "v1: a quota");
	CHECK(cores == 2.0, "v1: 200000 / 100000 us: 2 cores");

	/* no limit: the kernel's default, PAGE_COUNTER_MAX pages */
	put("memory/kube/pod1/memory.limit_in_bytes", "9223372036854771712\n");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), 0,
		     "v1 unlimited: figures");
	CHECK(!has, "v1 unlimited: no limit");
	put("cpu/svc/cpu.cfs_quota_us", "-1\n");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 1, "v1: quota -1 is none");
	put("cpu/svc/cpu.cfs_quota_us", "lots\n");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 1,
		     "v1: garbage quota is none");
	put("cpu/svc/cpu.cfs_quota_us", "50000\n");
	put("cpu/svc/cpu.cfs_period_us", "0\n");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 1,
		     "v1: zero period is none");
	put("cpu/svc/cpu.cfs_period_us", "100000\n");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 0, "v1: half a core");
	CHECK(cores == 0.5, "v1: 50000 / 100000 us: 0.5 core");

	/* garbage and missing files */
	put("memory/kube/pod1/memory.limit_in_bytes", "garbage\n");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), -ENOENT,
		     "v1: garbage limit");
	put("memory/kube/pod1/memory.limit_in_bytes", "");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), -ENOENT,
		     "v1: empty limit file");
	rm("memory/kube/pod1/memory.limit_in_bytes");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), -ENOENT,
		     "v1: no limit file");
	put("memory/kube/pod1/memory.oom_control", "under_oom 0\n");
	CHECK_EQ_INT(cgroup_oom_kills(&d, &n), -ENOENT,
		     "v1: oom_control without oom_kill (old kernel)");
	rm("memory/kube/pod1/memory.oom_control");
	CHECK_EQ_INT(cgroup_oom_kills(&d, &n), -ENOENT,
		     "v1: no oom_control");
	rm("cpu/svc/cpu.cfs_period_us");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 1, "v1: no period file");

	/* the cpu hierarchy without a "cpu" link: cpu,cpuacct */
	put("cpu,cpuacct/svc/cpu.cfs_quota_us", "100000\n");
	rm("cpu/svc/cpu.cfs_quota_us");
	CHECK_EQ_INT(dirs(text, &d), 0, "v1 cpu,cpuacct: resolved");
	CHECK_EQ_STR(d.cpu, at("cpu,cpuacct/svc"), "v1: cpu,cpuacct directory");
	put("cpu/svc/cpu.cfs_quota_us", "100000\n");
	rm("cpu,cpuacct/svc/cpu.cfs_quota_us");
	CHECK_EQ_INT(dirs(text, &d), 0, "v1: resolved again");

	/* a controller's directory without its files is not taken */
	rm("memory/kube/pod1/memory.usage_in_bytes");
	rm("cpu/svc/cpu.cfs_quota_us");
	CHECK_EQ_INT(dirs(text, &d), -ENOENT,
		     "v1: directories without the controllers' files");
	CHECK_EQ_STR(d.mem, "", "v1: no memory directory");
	CHECK_EQ_STR(d.cpu, "", "v1: no cpu directory");
}

static void
test_v2(void)
{
	static const char text[] = "0::/system.slice/app.service\n";
	struct cgroup_dirs d;
	uint64_t usage = 0, limit = 0, n = 0;
	bool has = true;
	double cores = 0;

	put("system.slice/app.service/memory.current", "1048576\n");
	put("system.slice/app.service/memory.max", "max\n");
	put("system.slice/app.service/memory.events",
	    "low 0\nhigh 0\nmax 40\noom 2\noom_kill 1\noom_group_kill 0\n");
	put("system.slice/app.service/cpu.max", "max 100000\n");

	CHECK_EQ_INT(dirs(text, &d), 0, "v2: resolved");
	CHECK_EQ_STR(d.mem, at("system.slice/app.service"),
		     "v2: memory directory");
	CHECK(d.mem_v2 && d.cpu_v2, "v2: both controllers are v2");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), 0,
		     "v2: memory figures");
	CHECK_EQ_INT(usage, 1048576, "v2: usage");
	CHECK(!has, "v2: memory.max 'max' is no limit");
	CHECK_EQ_INT(cgroup_oom_kills(&d, &n), 0, "v2: memory.events");
	CHECK_EQ_INT(n, 1, "v2: oom_kill, not oom or oom_group_kill");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 1,
		     "v2: cpu.max 'max' is no quota");

	put("system.slice/app.service/memory.max", "268435456\n");
	put("system.slice/app.service/cpu.max", "150000 100000\n");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), 0,
		     "v2: limited");
	CHECK(has && limit == 268435456, "v2: memory.max");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 0, "v2: a quota");
	CHECK(cores == 1.5, "v2: cpu.max 150000 100000: 1.5 cores");

	/* garbage and missing files */
	put("system.slice/app.service/memory.max", "a lot\n");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), -EINVAL,
		     "v2: garbage memory.max");
	rm("system.slice/app.service/memory.max");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), 0,
		     "v2: no memory.max");
	CHECK(!has, "v2: no memory.max is no limit");
	put("system.slice/app.service/cpu.max", "100000\n");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 1,
		     "v2: cpu.max without a period");
	put("system.slice/app.service/cpu.max", "0 100000\n");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 1,
		     "v2: a zero quota is none");
	put("system.slice/app.service/cpu.max", "junk junk\n");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 1, "v2: garbage cpu.max");
	put("system.slice/app.service/memory.events", "oom 2\n");
	CHECK_EQ_INT(cgroup_oom_kills(&d, &n), -ENOENT,
		     "v2: memory.events without oom_kill");
	rm("system.slice/app.service/memory.events");
	CHECK_EQ_INT(cgroup_oom_kills(&d, &n), -ENOENT,
		     "v2: no memory.events");
	put("system.slice/app.service/memory.current", "\n");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), -ENOENT,
		     "v2: empty memory.current");

	/* a v2 cgroup without the memory controller enabled: cpu only */
	rm("system.slice/app.service/memory.current");
	put("system.slice/app.service/cpu.max", "200000 100000\n");
	CHECK_EQ_INT(dirs(text, &d), 0, "v2, cpu only: resolved");
	CHECK_EQ_STR(d.mem, "", "v2, cpu only: no memory directory");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), -ENOENT,
		     "v2, cpu only: no memory figures");
	CHECK_EQ_INT(cgroup_oom_kills(&d, &n), -ENOENT,
		     "v2, cpu only: no oom_kill");

	/* the root cgroup is nobody's limit */
	put("memory.current", "999\n");
	CHECK_EQ_INT(dirs("0::/\n", &d), -ENOENT, "v2 root: not taken");
}

/* Hybrid: v1 hierarchies and v2 at unified/. The memory controller is on
 * v1 when both name it; cpu.max under unified/ counts when v1 has no cpu
 * cgroup for the process. */
static void
test_hybrid(void)
{
	static const char text[] = "9:name=systemd:/h.scope\n"
				   "4:memory:/h\n"
				   "2:cpu,cpuacct:/\n"
				   "0::/h.scope\n";
	struct cgroup_dirs d;
	uint64_t usage = 0, limit = 0;
	bool has = false;
	double cores = 0;

	put("memory/h/memory.usage_in_bytes", "4096\n");
	put("memory/h/memory.limit_in_bytes", "8192\n");
	put("unified/h.scope/memory.current", "1\n");
	put("unified/h.scope/cpu.max", "300000 100000\n");

	CHECK_EQ_INT(dirs(text, &d), 0, "hybrid: resolved");
	CHECK_EQ_STR(d.mem, at("memory/h"), "hybrid: memory on v1");
	CHECK(!d.mem_v2, "hybrid: memory is v1");
	CHECK_EQ_STR(d.cpu, at("unified/h.scope"),
		     "hybrid: cpu.max under unified/");
	CHECK(d.cpu_v2, "hybrid: cpu is v2");
	CHECK_EQ_INT(cgroup_memory(&d, &usage, &limit, &has), 0,
		     "hybrid: memory figures");
	CHECK(usage == 4096 && limit == 8192 && has, "hybrid: v1's figures");
	CHECK_EQ_INT(cgroup_cpu_quota(&d, &cores), 0, "hybrid: a quota");
	CHECK(cores == 3.0, "hybrid: 3 cores");

	/* v1 memory hierarchy without the process's directory: v2's */
	rm("memory/h/memory.usage_in_bytes");
	CHECK_EQ_INT(dirs(text, &d), 0, "hybrid, no v1 memory: resolved");
	CHECK_EQ_STR(d.mem, at("unified/h.scope"),
		     "hybrid, no v1 memory: unified/'s");
	CHECK(d.mem_v2, "hybrid, no v1 memory: memory is v2");
}

/* /proc/PID/cgroup text: what the parser takes and leaves. */
static void
test_parse(void)
{
	struct cgroup_paths cg;
	static const char hybrid[] = "10:cpuset:/\n"
				     "5:cpu,cpuacct:/c\n"
				     "4:memory:/m\n"
				     "1:name=systemd:/s\n"
				     "0::/u\n";
	static const char garbage[] = "no colons here\n"
				      ":\n"
				      "::\n"
				      "4:memory\n"
				      "5:cpu:\n"
				      "\n";

	CHECK_EQ_INT(cgroup_parse(hybrid, sizeof(hybrid) - 1, &cg), 0,
		     "parse hybrid");
	CHECK_EQ_STR(cg.v1_memory, "/m", "hybrid: v1 memory");
	CHECK_EQ_STR(cg.v1_cpu, "/c", "hybrid: v1 cpu");
	CHECK_EQ_STR(cg.v2, "/u", "hybrid: v2");
	CHECK_EQ_INT(cgroup_parse("2:cpu:/only\n", 12, &cg), 0,
		     "a cpu cgroup alone is one");
	CHECK_EQ_STR(cg.v1_cpu, "/only", "v1 cpu alone");
	CHECK_EQ_INT(cgroup_parse(garbage, sizeof(garbage) - 1, &cg), -ENOENT,
		     "garbage: no path");
	CHECK_EQ_INT(cgroup_parse("", 0, &cg), -ENOENT, "empty");
	CHECK_EQ_INT(cgroup_parse("0::/a/./b\n", 10, &cg), -ENOENT,
		     "a '.' component is left out");
	CHECK_EQ_INT(cgroup_parse("0::/a\x01" "b\n", 7, &cg), -ENOENT,
		     "a control character is left out");
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove the test's own temporary tree (made by mkdtemp in main). */
static void
rm_tree(const char *dir)
{
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(root, sizeof(root), "%s/test_cgroup.XXXXXX",
		 tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	test_v1();
	rm_tree(root);
	(void)mkdir(root, 0700);
	test_v2();
	rm_tree(root);
	(void)mkdir(root, 0700);
	test_hybrid();
	test_parse();
	rm_tree(root);
	return check_report();
}
