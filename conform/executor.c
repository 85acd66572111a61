/*
 * rmapcheck host executor: runs a command list of the model's language on the real Linux
 * kernel, so the reference model can be compared with the real thing.
 *
 * Process structure. The controller (this process) reads the script on stdin, prints one
 * result line per command on stdout, and owns the temp files. Every simulated mm is a REAL
 * process that sits in a loop receiving requests on an AF_UNIX SOCK_SEQPACKET channel whose
 * other end only the controller holds. For `fork P C` the controller makes a fresh socketpair
 * and passes one end to P with SCM_RIGHTS; P forks, the child swaps its inherited channel for
 * the passed one, the parent closes the passed one. So every mm has exactly one channel,
 * reachable from the controller whatever the fork tree looks like, and EOF on a channel means
 * that process is gone (do_exit tears the mm down before it closes files: EOF = mm freed).
 *
 * Input protocol (one request per line; numbers are the model's small integers, pages):
 *   world VPNLIMIT MMAPBASE FILECOUNT FILEPAGES [SCALE THP]   first line, once
 *     SCALE (default 1): host pages per model page; every VPN, length, file offset and size
 *     of the protocol is in units of SCALE host pages; a read touches the first host page of
 *     its unit, a write stores the token there and rewrites every other host page of the
 *     unit with what it holds (conform/thp.ts: a 4-page folio of the model is one 2 MiB THP).
 *     THP (default 0): 1 = anonymous mappings get MADV_HUGEPAGE, 0 = every mapping gets
 *     MADV_NOHUGEPAGE (no large folio ever appears).
 *   mmap MM ADDR LEN anon|private-file|shared-file r|rw FIXED(0|1) FILE PGOFF
 *   munmap MM ADDR LEN          mprotect MM ADDR LEN r|rw     madvise MM ADDR LEN dontneed
 *   mlock MM ADDR LEN           munlock MM ADDR LEN
 *   mremap MM ADDR LEN NEWLEN MAYMOVE(0|1) FIXED(0|1) NEWADDR
 *   fork MM CHILD   exit MM   read MM ADDR   write MM ADDR TOKEN   truncate FILE SIZE
 *   swapout MM ADDR   migrate MM ADDR   reclaim PAGES   snapshot
 * Output: `ready 0xBASE` once, then per command exactly one of
 *   ok | addr VPN | value N | signal SIGSEGV|SIGBUS | errno ENAME | skip WHY | internal WHAT
 * and for `snapshot`: `snapshot-begin`, lines
 *   page MM VPN PRESENT PFN SWAPPED MAPCOUNT ZERO ANON LARGE THP HEAD PMD
 * (one per page of the window covered by a VMA, per live mm in id order, for the first host
 * page of the unit; THP = kpageflags KPF_THP, HEAD = the pfn of the folio's head page (the
 * pfn itself for a small folio), PMD = PAGEMAP_SCAN reports PAGE_IS_HUGE: mapped by a PMD),
 * `snapshot-end`.
 * A line `fatal ...` (exit status 2) means the executor itself broke.
 * `executor --selfcheck` checks that pagemap gives real PFNs and kpagecount is readable;
 * `executor --selfcheck-thp` that a MADV_HUGEPAGE write fault of an aligned 2 MiB range gets a
 * THP that kpageflags (KPF_THP) and PAGEMAP_SCAN (PAGE_IS_HUGE) both report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif

#define PAGE 4096UL
/* PAGEMAP_SCAN (Linux 6.7+, include/uapi/linux/fs.h), spelled out for older headers. */
#define RMC_PAGEMAP_SCAN _IOWR('f', 16, struct rmc_pm_scan_arg)
#define RMC_PAGE_IS_HUGE (1 << 6)
struct rmc_page_region { uint64_t start, end, categories; };
struct rmc_pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
      category_mask, category_anyof_mask, return_mask;
};
/* 16 TiB: far above a PIE image and its brk heap (0x55..), far below the top-down mmap area
 * and stack (0x7f..), so nothing libc does ever lands in the window by accident. */
#define BASE 0x100000000000UL
#define MAX_MM 1024
#define MAX_FILES 64
#define MAX_VPN 65536

enum { OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MREMAP, OP_MADVISE, OP_MLOCK, OP_MUNLOCK,
       OP_FORK, OP_EXIT, OP_READ, OP_WRITE, OP_SWAPOUT };
enum { K_ANON, K_PRIVATE_FILE, K_SHARED_FILE };
struct req { int op; long a[7]; };
struct rep { long pid; char text[120]; };

static long vpn_limit, mmap_base, file_count, file_pages;
static long scale = 1;  /* host pages per model page */
static int thp_mode;    /* anonymous mappings get MADV_HUGEPAGE */
#define SPAN ((unsigned long)scale * PAGE)
static int file_fd[MAX_FILES];
static char tmpdir[256];
static char file_path[MAX_FILES][300];
static int mm_sock[MAX_MM];  /* controller side; -1 = no such mm */
static pid_t mm_pid[MAX_MM];
static int kpagecount_fd = -1, kpageflags_fd = -1;

static char *va(long vpn) { return (char *)(BASE + (unsigned long)vpn * SPAN); }

static const char *ename(int e) {
  static char buf[16];
  switch (e) {
  case EINVAL: return "EINVAL"; case ENOMEM: return "ENOMEM"; case EFAULT: return "EFAULT";
  case EEXIST: return "EEXIST"; case EAGAIN: return "EAGAIN"; case EPERM: return "EPERM";
  case EACCES: return "EACCES"; case EBUSY: return "EBUSY"; case EBADF: return "EBADF";
  case ENODEV: return "ENODEV"; case EOVERFLOW: return "EOVERFLOW"; case EFBIG: return "EFBIG";
  }
  snprintf(buf, sizeof buf, "E%d", e);
  return buf;
}

static void cleanup_files(void) {
  /* async-signal-safe: also called from the SIGTERM handler */
  for (long f = 0; f < file_count; f++)
    if (file_path[f][0]) unlink(file_path[f]);
  if (tmpdir[0]) rmdir(tmpdir);
}

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Which pages of the window [0, vpn_limit) some VMA covers, read from the kernel itself
 * (/proc/PID/maps) rather than a shadow bitmap kept by hand: fork copies VMAs, so this is
 * the "bitmap copied on fork", and it can never drift from what the host really has. */
static int window_map(pid_t pid, unsigned char *used) {
  static char buf[1 << 18];
  char path[64];
  snprintf(path, sizeof path, pid ? "/proc/%d/maps" : "/proc/self/maps", (int)pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  size_t n = 0;
  ssize_t r;
  while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
  close(fd);
  if (r < 0 || n >= sizeof buf - 1) return -1;
  buf[n] = 0;
  memset(used, 0, (size_t)vpn_limit);
  for (char *line = buf; line; line = strchr(line, '\n')) {
    unsigned long s, e;
    if (*line == '\n') line++;
    if (sscanf(line, "%lx-%lx", &s, &e) != 2) continue;
    for (long v = 0; v < vpn_limit; v++)
      if ((unsigned long)va(v) >= s && (unsigned long)va(v) < e) used[v] = 1;
  }
  return 0;
}

static int range_free(const unsigned char *used, long a, long len) {
  for (long v = a; v < a + len; v++)
    if (used[v]) return 0;
  return 1;
}

/* rmapcheck's deterministic get_unmapped_area: lowest a >= mmapBase that fits in the world. */
static long lowest_gap(const unsigned char *used, long len) {
  for (long a = mmap_base; a + len <= vpn_limit; a++)
    if (range_free(used, a, len)) return a;
  return -1;
}

/* ---------------------------------------------------------------- mm process side */

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_armed;

static void on_fault(int sig) {
  /* A fault outside an armed access is an executor bug: die of it so the controller sees EOF. */
  if (!fault_armed) { signal(sig, SIG_DFL); raise(sig); return; }
  siglongjmp(fault_jmp, sig);
}

static void reply_errno(char *out, int e) { snprintf(out, 120, "errno %s", ename(e)); }

static void do_mmap(const long *a, char *out) {
  long addr = a[0], len = a[1], kind = a[2], file = a[5];
  int prot = a[3] ? PROT_READ | PROT_WRITE : PROT_READ;
  int flags = kind == K_SHARED_FILE ? MAP_SHARED : MAP_PRIVATE;
  int fd = -1;
  if (kind == K_ANON) flags |= MAP_ANONYMOUS;
  else fd = file_fd[file];
  if (a[4]) {
    flags |= MAP_FIXED;
  } else {
    flags |= MAP_FIXED_NOREPLACE;  /* we choose the address; never let the kernel replace */
    static unsigned char used[MAX_VPN];
    if (len > 0) {  /* len 0: let the kernel give its own EINVAL at the hint */
      if (window_map(0, used) < 0) { snprintf(out, 120, "internal maps-unreadable"); return; }
      if (!(addr >= mmap_base && addr + len <= vpn_limit && range_free(used, addr, len)))
        addr = lowest_gap(used, len);
      if (addr < 0) { reply_errno(out, ENOMEM); return; }
    }
  }
  void *p = mmap(va(addr), (size_t)len * SPAN, prot, flags, fd, (off_t)a[6] * (off_t)SPAN);
  if (p == MAP_FAILED) { reply_errno(out, errno); return; }
  /* Keep THP (incl. mTHP) out of the way, or in THP mode ask for it on anonymous memory. */
  madvise(p, (size_t)len * SPAN, thp_mode && kind == K_ANON ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  snprintf(out, 120, "addr %ld", (long)(((unsigned long)p - BASE) / SPAN));
}

static void do_mremap(const long *a, char *out) {
  long addr = a[0], len = a[1], newlen = a[2], maymove = a[3], fixed = a[4];
  void *p;
  if (fixed) {
    /* Pass MREMAP_FIXED without MAYMOVE through as is: the kernel's EINVAL is the answer. */
    p = mremap(va(addr), (size_t)len * SPAN, (size_t)newlen * SPAN,
               MREMAP_FIXED | (maymove ? MREMAP_MAYMOVE : 0), va(a[5]));
  } else {
    /* In place first: shrinking, or growing into free space; the guard page above the window
     * makes growth past vpnLimit fail like the world's end. */
    p = mremap(va(addr), (size_t)len * SPAN, (size_t)newlen * SPAN, 0);
    if (p == MAP_FAILED && errno == ENOMEM && maymove && newlen > len) {
      /* The kernel would pick its own (top-down) spot; rmapcheck's rule is the lowest gap,
       * with the old range still occupied while we search. */
      static unsigned char used[MAX_VPN];
      if (window_map(0, used) < 0) { snprintf(out, 120, "internal maps-unreadable"); return; }
      long to = lowest_gap(used, newlen);
      if (to < 0) { reply_errno(out, ENOMEM); return; }
      p = mremap(va(addr), (size_t)len * SPAN, (size_t)newlen * SPAN,
                 MREMAP_MAYMOVE | MREMAP_FIXED, va(to));
    }
  }
  if (p == MAP_FAILED) { reply_errno(out, errno); return; }
  /* The moved or grown vma keeps its flags (VM_HUGEPAGE in THP mode). */
  if (!thp_mode) madvise(p, (size_t)newlen * SPAN, MADV_NOHUGEPAGE);
  snprintf(out, 120, "addr %ld", (long)(((unsigned long)p - BASE) / SPAN));
}

static void do_access(const long *a, int is_write, char *out) {
  volatile int32_t *p = (volatile int32_t *)va(a[0]);
  int sig = sigsetjmp(fault_jmp, 1);
  if (sig == 0) {
    fault_armed = 1;
    if (is_write) {
      *p = (int32_t)a[1];
      /* A model page is `scale` host pages and a model write makes the whole page private
       * (COW copies it, a fresh fault fills it): write-fault every host page of the unit,
       * each with what it holds, so the host does the same to all of them. */
      for (long i = 1; i < scale; i++) {
        volatile int32_t *q = (volatile int32_t *)((char *)p + i * PAGE);
        *q = *q;
      }
      fault_armed = 0;
      snprintf(out, 120, "ok");
    } else {
      int32_t v = *p;
      fault_armed = 0;
      snprintf(out, 120, "value %d", v);
    }
  } else {
    fault_armed = 0;
    snprintf(out, 120, "signal %s", sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
  }
}

static uint64_t pagemap_entry(int fd, unsigned long addr) {
  uint64_t e = 0;
  if (pread(fd, &e, 8, (off_t)(addr / PAGE * 8)) != 8) return 0;
  return e;
}

static void do_swapout(const long *a, char *out) {
  /* No swap device is required: the result only says what the host did (never compared). */
  if (madvise(va(a[0]), PAGE, MADV_PAGEOUT) != 0) {
    snprintf(out, 120, "internal pageout-errno %s", ename(errno));
    return;
  }
  int fd = open("/proc/self/pagemap", O_RDONLY);
  uint64_t e = fd >= 0 ? pagemap_entry(fd, (unsigned long)va(a[0])) : 0;
  if (fd >= 0) close(fd);
  snprintf(out, 120, "internal pageout %s",
           e >> 63 & 1 ? "still-present" : e >> 62 & 1 ? "swapped" : "not-present");
}

static void do_op(const struct req *rq, char *out) {
  const long *a = rq->a;
  size_t len = (size_t)a[1] * SPAN;
  int prot = a[2] ? PROT_READ | PROT_WRITE : PROT_READ;
  int r;
  switch (rq->op) {
  case OP_MMAP: do_mmap(a, out); return;
  case OP_MREMAP: do_mremap(a, out); return;
  case OP_READ: do_access(a, 0, out); return;
  case OP_WRITE: do_access(a, 1, out); return;
  case OP_SWAPOUT: do_swapout(a, out); return;
  case OP_MUNMAP: r = munmap(va(a[0]), len); break;
  case OP_MPROTECT: r = mprotect(va(a[0]), len, prot); break;
  case OP_MADVISE: r = madvise(va(a[0]), len, MADV_DONTNEED); break;
  case OP_MLOCK: r = mlock(va(a[0]), len); break;
  case OP_MUNLOCK: r = munlock(va(a[0]), len); break;
  default: snprintf(out, 120, "internal bad-op %d", rq->op); return;
  }
  if (r != 0) reply_errno(out, errno);
  else snprintf(out, 120, "ok");
}

static ssize_t recv_req(int chan, struct req *rq, int *passed) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = { rq, sizeof *rq };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf };
  ssize_t n = recvmsg(chan, &mh, 0);
  struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
  *passed = -1;
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
    memcpy(passed, CMSG_DATA(c), sizeof(int));
  return n;
}

static void mm_loop(int chan) {
  for (;;) {
    struct req rq;
    int passed;
    if (recv_req(chan, &rq, &passed) <= 0) _exit(0);  /* controller gone: nothing to serve */
    struct rep rp = { 0, "" };
    if (rq.op == OP_EXIT) _exit(0);
    if (rq.op == OP_FORK) {
      if (passed < 0) { snprintf(rp.text, sizeof rp.text, "internal fork-without-channel"); }
      else {
        pid_t p = fork();
        if (p == 0) {  /* the child: serve on the passed channel only, never the parent's */
          close(chan);
          chan = passed;
          continue;
        }
        close(passed);
        if (p < 0) reply_errno(rp.text, errno);
        else { rp.pid = p; snprintf(rp.text, sizeof rp.text, "ok"); }
      }
    } else {
      do_op(&rq, rp.text);
    }
    if (send(chan, &rp, sizeof rp, 0) != (ssize_t)sizeof rp) _exit(1);
  }
}

static void mm1_main(int chan) {
  int dn = open("/dev/null", O_RDWR);
  dup2(dn, 0); dup2(dn, 1);  /* only the controller talks on stdout; stderr kept for bugs */
  close(dn);
  signal(SIGTERM, SIG_DFL); signal(SIGINT, SIG_DFL); signal(SIGHUP, SIG_DFL);
  struct sigaction sa = { 0 };
  sa.sa_handler = on_fault;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  struct rep rp = { getpid(), "ok" };
  /* One PROT_NONE page right above the window: the world ends there, so in-place growth
   * past vpnLimit fails the way growth into an occupied range does. */
  static unsigned char used[MAX_VPN];
  if (mmap(va(vpn_limit), PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
           -1, 0) == MAP_FAILED)
    snprintf(rp.text, sizeof rp.text, "guard page mmap failed: %s", ename(errno));
  else if (window_map(0, used) < 0 || !range_free(used, 0, vpn_limit))
    snprintf(rp.text, sizeof rp.text, "window not free in mm1");
  send(chan, &rp, sizeof rp, 0);
  mm_loop(chan);
}

/* ---------------------------------------------------------------- controller side */

static void kill_all(void) {
  for (int m = 0; m < MAX_MM; m++)
    if (mm_sock[m] >= 0) { kill(mm_pid[m], SIGKILL); close(mm_sock[m]); mm_sock[m] = -1; }
}

static void fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("fatal ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
  kill_all();
  cleanup_files();
  exit(2);
}

static void on_term(int sig) {
  (void)sig;
  cleanup_files();  /* mm processes see EOF on their channels and exit by themselves */
  _exit(130);
}

/* Send a request, wait for the reply. An mm that dies mid-request is an executor failure. */
static void call_mm(int m, struct req *rq, int passfd, struct rep *rp) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = { rq, sizeof *rq };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  if (passfd >= 0) {
    memset(cbuf, 0, sizeof cbuf);
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &passfd, sizeof(int));
  }
  if (sendmsg(mm_sock[m], &mh, MSG_NOSIGNAL) < 0) fatal("mm%d unreachable: %s", m, strerror(errno));
  if (rq->op == OP_EXIT) {
    /* Wait for EOF: the last copy of the channel closes only after the mm is torn down. */
    char c;
    while (recv(mm_sock[m], &c, 1, 0) > 0) {}
    return;
  }
  ssize_t n = recv(mm_sock[m], rp, sizeof *rp, 0);
  if (n != (ssize_t)sizeof *rp) fatal("mm%d (pid %d) died unexpectedly (op %d)", m, (int)mm_pid[m], rq->op);
  rp->text[sizeof rp->text - 1] = 0;
}

/* The pfn of the head page of the folio holding `pfn`: walk back over compound tails. */
static uint64_t folio_head(uint64_t pfn, uint64_t flags) {
  for (int i = 0; i < 1 << 18 && (flags >> 16 & 1) && pfn > 0; i++) {
    pfn--;
    if (pread(kpageflags_fd, &flags, 8, (off_t)(pfn * 8)) != 8) return pfn;
  }
  return pfn;
}

/* PAGEMAP_SCAN's PAGE_IS_HUGE for one page: mapped by a PMD (a THP or hugetlb). -1: no ioctl. */
static int pmd_mapped(int fd, unsigned long addr) {
  struct rmc_page_region r[2];
  struct rmc_pm_scan_arg a = { .size = sizeof a, .start = addr, .end = addr + PAGE,
                               .vec = (uintptr_t)r, .vec_len = 2, .return_mask = RMC_PAGE_IS_HUGE };
  long n = ioctl(fd, RMC_PAGEMAP_SCAN, &a);
  if (n < 0) return -1;
  return n > 0 && (r[0].categories & RMC_PAGE_IS_HUGE) ? 1 : 0;
}

static void snapshot(void) {
  static unsigned char used[MAX_VPN];
  printf("snapshot-begin\n");
  for (int m = 0; m < MAX_MM; m++) {
    if (mm_sock[m] < 0) continue;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)mm_pid[m]);
    int fd = open(path, O_RDONLY);
    if (fd < 0 || window_map(mm_pid[m], used) < 0) fatal("cannot read pagemap/maps of mm%d", m);
    for (long v = 0; v < vpn_limit; v++) {
      if (!used[v]) continue;
      uint64_t e = pagemap_entry(fd, (unsigned long)va(v));
      int present = (int)(e >> 63 & 1), swapped = (int)(e >> 62 & 1);
      uint64_t pfn = present ? e & ((1ULL << 55) - 1) : 0;
      int64_t count = 0;
      uint64_t flags = 0;
      if (present && kpagecount_fd >= 0 && pread(kpagecount_fd, &count, 8, (off_t)(pfn * 8)) != 8) count = -1;
      if (present && kpageflags_fd >= 0 && pread(kpageflags_fd, &flags, 8, (off_t)(pfn * 8)) != 8) flags = 0;
      /* kpageflags bits: 24 ZERO_PAGE, 12 ANON, 15/16 COMPOUND_HEAD/TAIL (a large folio), 22 THP */
      int large = (int)((flags >> 15 | flags >> 16) & 1);
      uint64_t head = large ? folio_head(pfn, flags) : pfn;
      int pmd = present && thp_mode ? pmd_mapped(fd, (unsigned long)va(v)) : 0;
      if (pmd < 0) fatal("PAGEMAP_SCAN failed: %s", strerror(errno));
      printf("page %d %ld %d %llu %d %lld %d %d %d %d %llu %d\n", m, v, present, (unsigned long long)pfn,
             swapped, (long long)count, (int)(flags >> 24 & 1), (int)(flags >> 12 & 1), large,
             (int)(flags >> 22 & 1), (unsigned long long)head, pmd);
    }
    close(fd);
  }
  printf("snapshot-end\n");
}

static void setup_files(void) {
  const char *t = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/rmapcheck-exec-XXXXXX", t && *t ? t : "/tmp");
  if (!mkdtemp(tmpdir)) { tmpdir[0] = 0; fatal("mkdtemp: %s", strerror(errno)); }
  static char page[PAGE];
  for (long f = 0; f < file_count; f++) {
    snprintf(file_path[f], sizeof file_path[f], "%s/file%ld", tmpdir, f);
    file_fd[f] = open(file_path[f], O_RDWR | O_CREAT | O_EXCL, 0600);
    if (file_fd[f] < 0) fatal("create %s: %s", file_path[f], strerror(errno));
    /* One page per write(): a bigger write could make the page cache use a large folio.
     * Model page pg is host pages [pg * scale, (pg + 1) * scale): its token is in the first. */
    for (long hp = 0; hp < file_pages * scale; hp++) {
      int32_t tok = hp % scale == 0 ? (int32_t)-(1000 * (f + 1) + hp / scale) : 0;
      memcpy(page, &tok, sizeof tok);
      if (pwrite(file_fd[f], page, PAGE, (off_t)(hp * PAGE)) != (ssize_t)PAGE) fatal("write file%ld", f);
    }
  }
}

static int selfcheck(void) {
  volatile char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { printf("selfcheck fail: mmap\n"); return 1; }
  p[0] = 1;
  int fd = open("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) { printf("selfcheck fail: /proc/self/pagemap: %s\n", strerror(errno)); return 1; }
  uint64_t e = pagemap_entry(fd, (unsigned long)p), pfn = e & ((1ULL << 55) - 1);
  if (!(e >> 63 & 1) || pfn == 0) { printf("selfcheck fail: pagemap hides PFNs (needs CAP_SYS_ADMIN)\n"); return 1; }
  int kc = open("/proc/kpagecount", O_RDONLY);
  int64_t count = 0;
  if (kc < 0 || pread(kc, &count, 8, (off_t)(pfn * 8)) != 8) { printf("selfcheck fail: /proc/kpagecount unreadable\n"); return 1; }
  if (count != 1) { printf("selfcheck fail: kpagecount of a private page is %lld\n", (long long)count); return 1; }
  printf("selfcheck ok\n");
  return 0;
}

/* A MADV_HUGEPAGE write fault of an aligned 2 MiB range: a THP, seen by kpageflags and PAGEMAP_SCAN. */
static int selfcheck_thp(void) {
  const unsigned long huge = 2UL << 20;
  char *raw = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) { printf("selfcheck-thp fail: mmap\n"); return 1; }
  char *p = (char *)(((uintptr_t)raw + huge - 1) & ~(huge - 1));
  if (madvise(p, huge, MADV_HUGEPAGE) != 0) { printf("selfcheck-thp fail: madvise(MADV_HUGEPAGE): %s\n", strerror(errno)); return 1; }
  p[0] = 1;
  int fd = open("/proc/self/pagemap", O_RDONLY);
  int kf = open("/proc/kpageflags", O_RDONLY);
  if (fd < 0 || kf < 0) { printf("selfcheck-thp fail: /proc/self/pagemap or /proc/kpageflags unreadable\n"); return 1; }
  uint64_t e = pagemap_entry(fd, (unsigned long)p), pfn = e & ((1ULL << 55) - 1), flags = 0;
  if (!(e >> 63 & 1) || pfn == 0) { printf("selfcheck-thp fail: pagemap hides PFNs\n"); return 1; }
  if (pread(kf, &flags, 8, (off_t)(pfn * 8)) != 8) { printf("selfcheck-thp fail: /proc/kpageflags unreadable\n"); return 1; }
  if (!(flags >> 22 & 1)) { printf("selfcheck-thp fail: a MADV_HUGEPAGE write fault of an aligned 2 MiB range got no THP (allocation fell back?)\n"); return 1; }
  int pmd = pmd_mapped(fd, (unsigned long)p);
  if (pmd < 0) { printf("selfcheck-thp fail: no PAGEMAP_SCAN ioctl (Linux 6.7+): %s\n", strerror(errno)); return 1; }
  if (pmd == 0) { printf("selfcheck-thp fail: PAGEMAP_SCAN does not report the THP as PMD-mapped\n"); return 1; }
  printf("selfcheck-thp ok\n");
  return 0;
}

static const char *need_mm(long m) {
  return m >= 0 && m < MAX_MM && mm_sock[m] >= 0 ? NULL : "no such mm";
}

static int in_window(long addr, long len) { return addr >= 0 && len >= 0 && addr + len <= vpn_limit; }

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--selfcheck") == 0) return selfcheck();
  if (argc > 1 && strcmp(argv[1], "--selfcheck-thp") == 0) return selfcheck_thp();
  setvbuf(stdout, NULL, _IOLBF, 0);  /* a crash must not swallow results already produced */
  for (int m = 0; m < MAX_MM; m++) mm_sock[m] = -1;
  static char line[1024];
  long thp_word = 0;
  int words = fgets(line, sizeof line, stdin) ? sscanf(line, "world %ld %ld %ld %ld %ld %ld", &vpn_limit,
                                                       &mmap_base, &file_count, &file_pages, &scale, &thp_word) : 0;
  if (words != 4 && words != 6) fatal("first line must be: world VPNLIMIT MMAPBASE FILECOUNT FILEPAGES [SCALE THP]");
  thp_mode = thp_word != 0;
  if (vpn_limit < 1 || vpn_limit > MAX_VPN || scale < 1 || scale > 4096 || vpn_limit * scale > MAX_VPN * 64L || mmap_base < 0 ||
      file_count < 0 || file_count > MAX_FILES || file_pages < 0 || file_pages * scale > 1 << 20)
    fatal("world out of the executor's bounds");
  signal(SIGTERM, on_term); signal(SIGINT, on_term); signal(SIGHUP, on_term);
  setup_files();
  kpagecount_fd = open("/proc/kpagecount", O_RDONLY);
  kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
  /* Inherited by every mm: mlock must not fail on the default 8 MiB limit. */
  struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
  setrlimit(RLIMIT_MEMLOCK, &rl);
  /* Orphans (an mm whose parent mm exited) come back to us and are reaped automatically. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal(SIGCHLD, SIG_IGN);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) fatal("socketpair: %s", strerror(errno));
  pid_t p = fork();
  if (p < 0) fatal("fork: %s", strerror(errno));
  if (p == 0) { close(sv[0]); mm1_main(sv[1]); }
  close(sv[1]);
  mm_sock[1] = sv[0];
  mm_pid[1] = p;
  struct rep rp;
  struct req rq = { 0, { 0 } };
  if (recv(sv[0], &rp, sizeof rp, 0) != (ssize_t)sizeof rp) fatal("mm1 did not start");
  if (strcmp(rp.text, "ok") != 0) fatal("mm1: %s", rp.text);
  printf("ready 0x%lx\n", BASE);

  while (fgets(line, sizeof line, stdin)) {
    char op[32], s1[32], s2[32];
    long n[8] = { 0 };
    const char *why;
    memset(&rq, 0, sizeof rq);
    if (sscanf(line, "%31s", op) != 1) continue;  /* blank line */
    if (strcmp(op, "snapshot") == 0) { snapshot(); continue; }
    if (strcmp(op, "migrate") == 0 || strcmp(op, "reclaim") == 0) {
      printf("internal skipped-on-host\n");
      continue;
    }
    if (strcmp(op, "truncate") == 0) {
      if (sscanf(line, "%*s %ld %ld", &n[0], &n[1]) != 2) fatal("bad line: %s", line);
      if (n[0] < 0 || n[0] >= file_count) { printf("skip no such file\n"); continue; }
      if (ftruncate(file_fd[n[0]], (off_t)n[1] * (off_t)SPAN) != 0) printf("errno %s\n", ename(errno));
      else printf("ok\n");
      continue;
    }
    if (strcmp(op, "mmap") == 0) {
      if (sscanf(line, "%*s %ld %ld %ld %31s %31s %ld %ld %ld", &n[0], &n[1], &n[2], s1, s2,
                 &n[3], &n[4], &n[5]) != 8)
        fatal("bad line: %s", line);
      rq.op = OP_MMAP;
      long kind = strcmp(s1, "anon") == 0 ? K_ANON : strcmp(s1, "private-file") == 0 ? K_PRIVATE_FILE
                : strcmp(s1, "shared-file") == 0 ? K_SHARED_FILE : -1;
      if (kind < 0 || (strcmp(s2, "r") && strcmp(s2, "rw"))) fatal("bad line: %s", line);
      long a[7] = { n[1], n[2], kind, strcmp(s2, "rw") == 0, n[3], n[4], n[5] };
      memcpy(rq.a, a, sizeof a);
      if (kind != K_ANON && (n[4] < 0 || n[4] >= file_count)) { printf("skip no such file\n"); continue; }
      /* A fixed mapping must stay inside the window; a hint is free to be anything. */
      if (n[3] && !in_window(n[1], n[2])) { printf("skip range outside the host window\n"); continue; }
      if (!n[3] && (n[2] < 0 || n[2] > vpn_limit)) { printf("errno ENOMEM\n"); continue; }
      if (!n[3] && !in_window(n[1], 0)) rq.a[0] = -1;  /* a hint off the window is no hint */
    } else if (strcmp(op, "mremap") == 0) {
      if (sscanf(line, "%*s %ld %ld %ld %ld %ld %ld %ld", &n[0], &n[1], &n[2], &n[3], &n[4],
                 &n[5], &n[6]) != 7)
        fatal("bad line: %s", line);
      rq.op = OP_MREMAP;
      memcpy(rq.a, &n[1], 6 * sizeof(long));
      if (!in_window(n[1], n[2]) || (n[5] && !in_window(n[6], n[3]))) {
        printf("skip range outside the host window\n");
        continue;
      }
    } else if (strcmp(op, "fork") == 0 || strcmp(op, "exit") == 0 || strcmp(op, "read") == 0 ||
               strcmp(op, "write") == 0 || strcmp(op, "swapout") == 0) {
      int got = sscanf(line, "%*s %ld %ld %ld", &n[0], &n[1], &n[2]);
      rq.op = op[0] == 'f' ? OP_FORK : op[0] == 'e' ? OP_EXIT : op[0] == 'r' ? OP_READ
            : op[0] == 'w' ? OP_WRITE : OP_SWAPOUT;
      if (got != (rq.op == OP_EXIT ? 1 : rq.op == OP_WRITE ? 3 : 2)) fatal("bad line: %s", line);
      if (rq.op != OP_FORK && rq.op != OP_EXIT && !in_window(n[1], 1)) {
        printf("skip address outside the host window\n");
        continue;
      }
      rq.a[0] = n[1];
      rq.a[1] = n[2];
    } else {
      static const char *names[] = { "munmap", "mprotect", "madvise", "mlock", "munlock" };
      static const int ops[] = { OP_MUNMAP, OP_MPROTECT, OP_MADVISE, OP_MLOCK, OP_MUNLOCK };
      int i = 0;
      while (i < 5 && strcmp(op, names[i]) != 0) i++;
      if (i == 5) fatal("unknown command: %s", op);
      s1[0] = 0;
      if (sscanf(line, "%*s %ld %ld %ld %31s", &n[0], &n[1], &n[2], s1) < 3) fatal("bad line: %s", line);
      if ((ops[i] == OP_MPROTECT && strcmp(s1, "r") && strcmp(s1, "rw")) ||
          (ops[i] == OP_MADVISE && strcmp(s1, "dontneed")))
        fatal("bad line: %s", line);
      rq.op = ops[i];
      rq.a[0] = n[1];
      rq.a[1] = n[2];
      rq.a[2] = strcmp(s1, "rw") == 0;
      if (!in_window(n[1], n[2])) { printf("skip range outside the host window\n"); continue; }
    }
    if ((why = need_mm(n[0]))) { printf("skip %s\n", why); continue; }

    if (rq.op == OP_FORK) {
      long c = n[1];
      if (c < 0 || c >= MAX_MM || mm_sock[c] >= 0) { printf("skip child mm exists or is out of range\n"); continue; }
      int pv[2];
      if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pv) < 0) fatal("socketpair: %s", strerror(errno));
      call_mm((int)n[0], &rq, pv[1], &rp);
      close(pv[1]);  /* only the new child may hold the other end, or its EOF never comes */
      if (strcmp(rp.text, "ok") == 0) { mm_sock[c] = pv[0]; mm_pid[c] = (pid_t)rp.pid; }
      else close(pv[0]);
      printf("%s\n", rp.text);
    } else if (rq.op == OP_EXIT) {
      call_mm((int)n[0], &rq, -1, &rp);
      close(mm_sock[n[0]]);
      mm_sock[n[0]] = -1;
      printf("ok\n");
    } else {
      call_mm((int)n[0], &rq, -1, &rp);
      printf("%s\n", rp.text);
    }
  }
  /* Orderly end: exit every mm (waiting for each to be torn down), then drop the files. */
  for (int m = 0; m < MAX_MM; m++) {
    if (mm_sock[m] < 0) continue;
    rq.op = OP_EXIT;
    call_mm(m, &rq, -1, &rp);
    close(mm_sock[m]);
    mm_sock[m] = -1;
  }
  cleanup_files();
  return 0;
}
