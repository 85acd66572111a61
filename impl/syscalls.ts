/*
 * The syscalls of the simulated kernel (mm/mmap.c, mm/mprotect.c, mm/mremap.c, mm/madvise.c,
 * mm/mlock.c, kernel/fork.c, kernel/exit.c), with rmapcheck's argument rules: the same rules
 * the reference model states in model/semantic.ts (docs/semantics.md lists where they
 * deliberately differ from Linux, e.g. mprotect over a hole changes nothing).
 *
 * A failed allocation (impl/alloc.ts) unwinds to execSyscall, which returns -ENOMEM; what
 * each syscall leaves behind is docs/semantics.md's "Allocation failures": fork, mmap and
 * munmap change nothing, mprotect / mlock / munlock stop at the vma that failed.
 */
import { type Cmd, type Outcome, type Race, raceFault } from "../model/commands.js";
import { AllocFailure } from "./alloc.js";
import { assert, poison } from "./assert.js";
import type { Kernel } from "./kernel.js";
import { raceMremap, racesWith } from "./interleave.js";
import { sysExec, validExecArgs } from "./exec.js";
import { type ExecOps, raceExec } from "./interleave-exec.js";
import { raceMunmap } from "./interleave-munmap.js";
import { raceFork } from "./interleave-fork.js";
import { raceTruncate } from "./interleave-truncate.js";
import {
  absorb,
  adjustVma,
  findVma,
  insertVma,
  mergeNew,
  mergeable,
  modifyVma,
  nextVma,
  preallocVmi,
  prepareMerge,
  rangeFree,
  rangeMapped,
  removeVma,
  splitAround,
  unmappedArea,
  vmasIn,
} from "./mmap.js";
import { Mm, type Page, VM_LOCKED, VM_READ, VM_SHARED, VM_WRITE, Vma } from "./types.js";
import { migratePage, swapOutPage, reclaimOne, truncateFile } from "./vmscan.js";

const ok: Outcome = { kind: "ok" };
const errno = (e: "EINVAL" | "ENOMEM" | "EFAULT"): Outcome => ({ kind: "errno", errno: e });

export function execSyscall(k: Kernel, c: Cmd): Outcome {
  try {
    return dispatch(k, c);
  } catch (e) {
    if (e instanceof AllocFailure) return errno("ENOMEM");
    throw e;
  }
}

/**
 * A command whose racing fault (interleaving mode) does not run step-wise (the design races
 * nothing, the command carries a failure point, or the move is not one that races): the
 * command, then the fault, which comes after it.
 */
function faultAfter(k: Kernel, race: Race, run: () => Outcome): Outcome {
  const out = run();
  const fault = raceFault(race);
  if (!fault) return out;
  // The command's failure point is its own: the fault's allocations do not count towards it.
  const a = k.allocator;
  const saved = { failAt: a.failAt, count: a.count, fired: a.fired, stoppedAt: a.stoppedAt };
  a.begin(0);
  k.lastFault = { order: "after", outcome: dispatch(k, fault) };
  Object.assign(a, saved);
  return out;
}

function dispatch(k: Kernel, c: Cmd): Outcome {
  if (c.op === "truncate") {
    if (!c.race) return sysTruncate(k, c.file, c.size);
    const file = k.files[c.file];
    if (k.designInfo.interleave && file && Number.isInteger(c.size) && c.size >= 0 && c.size <= k.world.fileMaxPages) {
      raceTruncate(k, file, c.size, c.race);
      return ok;
    }
    const race = c.race;
    return faultAfter(k, race, () => sysTruncate(k, c.file, c.size));
  }
  if (c.op === "reclaim") {
    k.folio?.deferredSplitScan(); // the deferred split shrinker (impl/folio.ts)
    let freed = 0;
    while (freed < c.pages && reclaimOne(k)) freed++;
    return { kind: "internal", what: `reclaimed ${freed}` };
  }
  const mm = k.mms.get(c.mm);
  if (!mm) return { kind: "skip", why: `no mm${c.mm}` };
  switch (c.op) {
    case "mmap":
      return sysMmap(k, mm, c);
    case "munmap":
      if (!validRange(k, c.addr, c.len)) return errno("EINVAL");
      // Interleaving mode (impl/interleave-munmap.ts): step-wise against an rmap walker; a
      // munmap with a failure point runs sequentially.
      if (c.race && k.designInfo.interleave && c.failAlloc === undefined) raceMunmap(k, mm, c.addr, c.addr + c.len, c.race);
      else doMunmap(k, mm, c.addr, c.addr + c.len);
      return ok;
    case "mprotect":
      return changeFlags(k, mm, c.addr, c.len, VM_WRITE, c.prot === "rw" ? VM_WRITE : 0);
    case "mlock":
      return changeFlags(k, mm, c.addr, c.len, VM_LOCKED, VM_LOCKED);
    case "munlock":
      return changeFlags(k, mm, c.addr, c.len, VM_LOCKED, 0);
    case "mremap":
      return sysMremap(k, mm, c);
    case "madvise":
      return sysMadvise(k, mm, c.addr, c.len);
    case "fork":
      if (k.mms.has(c.child)) return { kind: "skip", why: `mm${c.child} exists` };
      if (c.race) {
        // Interleaving mode (impl/interleave-fork.ts): dup_mmap step-wise against a fault or a walker.
        if (k.designInfo.interleave && c.failAlloc === undefined) {
          raceFork(k, mm, c.child, c.race, {
            begin: () => forkBegin(k, mm, c.child),
            dupVma: (pv, child) => dupVmaStruct(k, pv, child),
            copyPte: (pv, cv, addr) => copyPte(k, pv, cv, addr),
          });
          return { kind: "ok" };
        }
        return faultAfter(k, c.race, () => {
          sysFork(k, mm, c.child);
          return { kind: "ok" };
        });
      }
      sysFork(k, mm, c.child);
      return { kind: "ok" };
    case "exit":
      sysExit(k, mm);
      return ok;
    case "exec":
      // impl/exec.ts; interleaving mode races the stack's move (impl/interleave-exec.ts).
      if (!validExecArgs(c.args)) return errno("EINVAL");
      if (c.race && k.designInfo.interleave) raceExec(k, mm, c.args, c.race, execOps(k));
      else sysExec(k, mm, c.args, (m) => sysExit(k, m), (m, from, to) => movePte(k, m, from, to));
      return ok;
    case "read": {
      const r = k.access(mm, c.addr, false);
      return typeof r === "number" ? { kind: "value", value: r } : { kind: "signal", signal: r as "SIGSEGV" | "SIGBUS" };
    }
    case "write": {
      const r = k.access(mm, c.addr, true, c.token);
      return r === undefined ? ok : { kind: "signal", signal: r as "SIGSEGV" | "SIGBUS" };
    }
    case "swapout":
    case "migrate": {
      const page = presentPage(k, mm, c.addr);
      if (!page) return { kind: "internal", what: "no page mapped there" };
      const done = c.op === "swapout" ? swapOutPage(k, page) : migratePage(k, page);
      return { kind: "internal", what: done ? (c.op === "swapout" ? "swapped out" : "migrated") : "failed" };
    }
  }
}

function presentPage(k: Kernel, mm: Mm, addr: number): Page | null {
  const pte = mm.pt.get(addr);
  return pte?.kind === "present" ? k.pageAt(pte.pfn) : null;
}

const validRange = (k: Kernel, addr: number, len: number): boolean =>
  Number.isInteger(addr) && Number.isInteger(len) && len >= 1 && addr >= 0 && addr + len <= k.world.vpnLimit;

function sysMmap(k: Kernel, mm: Mm, c: Extract<Cmd, { op: "mmap" }>): Outcome {
  if (!Number.isInteger(c.len) || c.len < 1 || c.len > k.world.vpnLimit) return errno("EINVAL");
  const file = c.kind === "anon" ? null : k.files[c.file ?? -1];
  if (file === undefined) return errno("EINVAL");
  const pgoff = c.pgoff ?? 0;
  if (file && (!Number.isInteger(pgoff) || pgoff < 0)) return errno("EINVAL");
  let addr: number;
  let replaced: Vma[] = [];
  if (c.fixed) {
    if (c.addr < k.world.mmapBase || c.addr + c.len > k.world.vpnLimit) return errno("EINVAL");
    addr = c.addr;
    // kernel: vms_gather_munmap_vmas(): split at the edges; the old vmas stay mapped until
    // the new one is in place, so a failure below (vms_abort_munmap_vmas) leaves them (6.12).
    replaced = splitAround(k, mm, addr, addr + c.len);
  } else {
    const found = unmappedArea(k, mm, c.addr, c.len);
    if (found === undefined) return errno("ENOMEM");
    addr = found;
  }
  const flags = VM_READ | (c.prot === "rw" ? VM_WRITE : 0) | (c.kind === "shared-file" ? VM_SHARED : 0);
  // A fresh anon vma's pgoff is its start (kernel: do_mmap, pgoff = addr >> PAGE_SHIFT).
  const nw = new Vma(mm, addr, addr + c.len, file ? pgoff : addr, flags, file);
  if (!mergeNew(k, nw)) {
    k.allocator.allocate("vm_area_struct"); // kernel: __mmap_new_vma() → vm_area_alloc()
    preallocVmi(k);
    insertVma(k, nw);
  }
  // kernel: vms_complete_munmap_vmas(): now the old mappings go.
  for (const old of replaced) {
    k.zapRange(old, old.vmStart, old.vmEnd, "mmap(MAP_FIXED)");
    removeVma(k, old, "mmap(MAP_FIXED)");
  }
  return { kind: "addr", addr };
}

/** kernel: do_vmi_munmap(): split at the edges, zap, remove. */
export function doMunmap(k: Kernel, mm: Mm, start: number, end: number): void {
  for (const vma of splitAround(k, mm, start, end)) {
    k.zapRange(vma, vma.vmStart, vma.vmEnd, "munmap");
    removeVma(k, vma, "munmap");
  }
}

/** mprotect / mlock / munlock: set `mask` bits to `bits` on every vma of the range. */
function changeFlags(k: Kernel, mm: Mm, addr: number, len: number, mask: number, bits: number): Outcome {
  if (!validRange(k, addr, len)) return errno("EINVAL");
  const end = addr + len;
  if (!rangeMapped(mm, addr, end)) return errno("ENOMEM");
  let at = addr;
  // The parts whose protection changed (mprotect_fixup() returns early where the flags stay
  // as they are, and only mprotect calls change_protection(): mlock_fixup() does not).
  const changed: [number, number][] = [];
  try {
    while (at < end) {
      const vma = findVma(mm, at) as Vma;
      const upto = Math.min(end, vma.vmEnd);
      const flags = (vma.vmFlags & ~mask) | bits;
      const protChange = mask === VM_WRITE && flags !== vma.vmFlags;
      modifyVma(k, vma, at, upto, flags);
      if (protChange) changed.push([at, upto]);
      at = upto;
    }
  } catch (e) {
    // Linux changes the range vma by vma (mprotect_fixup, mlock_fixup) and stops at the
    // first that fails: [addr, at) keeps its new flags. The model takes `at` from here.
    if (e instanceof AllocFailure) k.allocator.stoppedAt = at;
    throw e;
  } finally {
    if (k.folio) for (const [from, to] of changed) k.folio.changeProtection(mm, from, to); // change_pmd_range() splits a partly covered PMD
    if (mask === VM_WRITE && bits === 0) {
      // kernel: change_protection(): existing PTEs of the changed part lose write permission.
      for (let a = addr; a < at; a++) {
        const pte = mm.pt.get(a);
        if (pte?.kind === "present") pte.writable = false;
      }
    }
  }
  return ok;
}

function sysMadvise(k: Kernel, mm: Mm, addr: number, len: number): Outcome {
  if (!validRange(k, addr, len)) return errno("EINVAL");
  const end = addr + len;
  if (!rangeMapped(mm, addr, end)) return errno("ENOMEM");
  const vmas = vmasIn(mm, addr, end);
  if (vmas.some((v) => v.vmFlags & VM_LOCKED)) return errno("EINVAL");
  // kernel: madvise_dontneed_single_vma() → zap_page_range_single()
  for (const vma of vmas) k.zapRange(vma, Math.max(addr, vma.vmStart), Math.min(end, vma.vmEnd), "madvise(DONTNEED)");
  return ok;
}

function sysMremap(k: Kernel, mm: Mm, c: Extract<Cmd, { op: "mremap" }>): Outcome {
  const { addr, newLen } = c;
  let len = c.len;
  if (!validRange(k, addr, len) || !Number.isInteger(newLen) || newLen < 1) return errno("EINVAL");
  if (c.fixed) {
    const na = c.newAddr;
    if (!c.maymove || na === undefined || na < k.world.mmapBase || na + newLen > k.world.vpnLimit) return errno("EINVAL");
    if (na < addr + len && addr < na + newLen) return errno("EINVAL");
    // Interleaving mode (impl/interleave.ts): the same move, step-wise against an rmap walker.
    if (c.race && k.designInfo.interleave && racesWith(k, addr, len, newLen, na)) return raceMremap(k, mm, addr, len, na, c.race, {
        movePte: (from, to) => movePte(k, mm, from, to),
        munmap: (start, end) => doMunmap(k, mm, start, end),
      });
    if (c.race && raceFault(c.race)) {
      const race = c.race;
      return faultAfter(k, race, () => sysMremap(k, mm, { ...c, race: undefined }));
    }
    if (!rangeMapped(mm, addr, addr + len)) return errno("EFAULT");
    doMunmap(k, mm, na, na + newLen);
    if (newLen < len) {
      doMunmap(k, mm, addr + newLen, addr + len);
      len = newLen;
    }
    moveRange(k, mm, addr, len, na);
    if (newLen > len) growLast(k, mm, na + len, newLen - len);
    return { kind: "addr", addr: na };
  }
  if (!rangeMapped(mm, addr, addr + len)) return errno("EFAULT");
  if (newLen <= len) {
    if (newLen < len) doMunmap(k, mm, addr + newLen, addr + len);
    return { kind: "addr", addr };
  }
  if (addr + newLen <= k.world.vpnLimit && rangeFree(mm, addr + len, addr + newLen)) {
    growLast(k, mm, addr + len, newLen - len);
    return { kind: "addr", addr };
  }
  if (!c.maymove) return errno("ENOMEM");
  const na = unmappedArea(k, mm, -1, newLen);
  if (na === undefined) return errno("ENOMEM");
  moveRange(k, mm, addr, len, na);
  growLast(k, mm, na + len, newLen - len);
  return { kind: "addr", addr: na };
}

/**
 * kernel: move_vma() for each vma of [addr, addr+len) (Linux 6.17+ moves a range spanning
 * several vmas the same way): copy_vma() at the destination, move_page_tables(), then unmap
 * the source range.
 */
function moveRange(k: Kernel, mm: Mm, addr: number, len: number, na: number): void {
  const pieces = splitAround(k, mm, addr, addr + len).map((vma) => ({ vma, start: vma.vmStart, pages: vma.pages }));
  for (const { vma, start, pages } of pieces) {
    const dst = na + (start - addr);
    // kernel: copy_vma(): an anon vma that never faulted is re-based at its new address.
    const pgoff = !vma.vmFile && !k.design.hasAnonObject(vma) ? dst : vma.vmPgoff + (start - vma.vmStart);
    const nw = new Vma(mm, dst, dst + pages, pgoff, vma.vmFlags, vma.vmFile);
    nw.anonVma = vma.anonVma;
    if (mergeNew(k, nw, vma)) k.counters.mremapMergesAtDest++;
    else {
      k.design.vmaCopy(vma, nw);
      insertVma(k, nw);
    }
    // The source may itself have been merged into the destination vma (kernel: copy_vma's
    // `*vmap = vma = new_vma`), so each PTE's old vma is looked up afresh.
    for (let i = 0; i < pages; i++) movePte(k, mm, start + i, dst + i);
  }
  doMunmap(k, mm, addr, addr + len);
}

/** What exec's race needs of the syscalls: exit_mmap() of the old mm, move_ptes() for one PTE. */
const execOps = (k: Kernel): ExecOps => ({
  exitMm: (m) => sysExit(k, m),
  movePte: (m, from, to) => movePte(k, m, from, to),
});

/** kernel: move_ptes() for one PTE (anonmm may demand a COW break first). */
function movePte(k: Kernel, mm: Mm, from: number, to: number): void {
  const pte = mm.pt.get(from);
  if (!pte) return;
  const oldVma = findVma(mm, from);
  const newVma = findVma(mm, to);
  assert(oldVma !== undefined, "KERNEL", () => `mremap: no vma at source ${from}`);
  assert(newVma !== undefined, "KERNEL", () => `mremap: no vma at destination ${to}`);
  if (pte.kind === "swap" && (k.swap.get(pte.slot)?.count ?? 0) > 1) k.counters.mremapMovesShared++;
  if (pte.kind === "present") {
    const page = k.pageAt(pte.pfn) as Page;
    if (page.mapcount > 1) k.counters.mremapMovesShared++;
    if (k.design.pageMove(page, oldVma, from, newVma, to) === "copy") {
      k.counters.forcedCopies++;
      k.cowCopy(newVma, to, page, false);
      k.zapPte(oldVma, from, "mremap COW break");
      return;
    }
  }
  mm.pt.delete(from);
  mm.pt.set(to, pte);
}

/** kernel: vma_merge_extend(): the vma ending at `at` grows by `by` pages, merging with next. */
function growLast(k: Kernel, mm: Mm, at: number, by: number): void {
  const vma = findVma(mm, at - 1);
  assert(vma !== undefined && vma.vmEnd === at, "KERNEL", () => `mremap: no vma ends at ${at}`);
  adjustVma(k, vma, vma.vmStart, vma.vmEnd + by, vma.vmPgoff);
  const next = nextVma(mm, vma);
  if (next && mergeable(k, vma, next)) {
    prepareMerge(k, vma, [next]);
    absorb(k, vma, next, "mremap expand");
  }
}

/**
 * kernel: dup_mm() → dup_mmap() + copy_page_range(). The child's vmas lose VM_LOCKED. On
 * ENOMEM the half-built child is torn down as exit_mmap() would (dup_mmap's error path, then
 * mmput()); the parent keeps its PTEs write-protected, which no process can observe.
 */
function sysFork(k: Kernel, parent: Mm, childId: number): void {
  const child = forkBegin(k, parent, childId);
  try {
    for (const pv of parent.vmas) dupVma(k, pv, child);
  } catch (e) {
    if (e instanceof AllocFailure) sysExit(k, child);
    throw e;
  }
}

/** dup_mm() up to the vma loop: allocate_mm(), the design's mm-level fork, __mt_dup(). */
function forkBegin(k: Kernel, parent: Mm, childId: number): Mm {
  k.allocator.allocate("mm_struct"); // kernel: allocate_mm()
  const child = new Mm(childId);
  k.mms.set(childId, child);
  try {
    k.design.mmFork(parent, child);
  } catch (e) {
    k.mms.delete(childId); // the design undid its own part (dup_rmap's failure)
    throw e;
  }
  try {
    if (k.vmaPrealloc) k.allocator.allocate("maple_node"); // kernel: __mt_dup() (6.8+)
  } catch (e) {
    if (e instanceof AllocFailure) sysExit(k, child);
    throw e;
  }
  return child;
}

/** One vma of dup_mmap(): vm_area_dup(), anon_vma_fork(), link, copy_page_range(). */
function dupVma(k: Kernel, pv: Vma, child: Mm): void {
  const cv = dupVmaStruct(k, pv, child);
  if (pv.vmFlags & VM_SHARED) return; // shared mappings refault from the page cache
  for (let addr = pv.vmStart; addr < pv.vmEnd; addr++) copyPte(k, pv, cv, addr);
}

/** dup_mmap() for one vma up to copy_page_range(): vm_area_dup(), i_mmap link, anon_vma_fork(). */
function dupVmaStruct(k: Kernel, pv: Vma, child: Mm): Vma {
  k.allocator.allocate("vm_area_struct"); // kernel: vm_area_dup()
  const cv = new Vma(child, pv.vmStart, pv.vmEnd, pv.vmPgoff, pv.vmFlags & ~VM_LOCKED, pv.vmFile);
  child.vmas.push(cv);
  if (cv.vmFile) {
    cv.vmFile.iMmap.insert(cv); // __vma_link_file(): every era keeps i_mmap (truncate uses it)
    k.counters.forkRmapOps++;
  }
  try {
    k.design.vmaFork(pv, cv);
  } catch (e) {
    // kernel: fail_nomem_anon_vma_fork: anon_vma_fork() unwound itself; the vma is freed
    // without unlink_anon_vmas().
    child.vmas.pop();
    if (cv.vmFile) cv.vmFile.iMmap.remove(cv);
    poison(cv, "vm_area_struct", "dup_mmap (ENOMEM)");
    throw e;
  }
  return cv;
}

/** copy_page_range() for one PTE: copy_present_pte() / copy_nonpresent_pte(). */
function copyPte(k: Kernel, pv: Vma, cv: Vma, addr: number): void {
  const pte = pv.mm.pt.get(addr);
  if (!pte) return;
  if (pte.kind === "swap") {
    const entry = k.swap.get(pte.slot);
    assert(entry !== undefined, "KERNEL", () => `fork: swap PTE to free slot ${pte.slot}`);
    entry.count++;
    cv.mm.pt.set(addr, { kind: "swap", slot: pte.slot });
    return;
  }
  if (k.folio?.fileFolios && k.folio.filePmdAt(pv.mm, addr)) return; // copy_huge_pmd(): a file PMD refaults
  const page = k.pageAt(pte.pfn) as Page;
  k.design.pageDupAtFork(page, pv, cv, addr);
  pte.writable = false; // both sides copy-on-write
  cv.mm.pt.set(addr, { kind: "present", pfn: pte.pfn, writable: false, dirty: pte.dirty, young: pte.young });
  page.mapcount++;
  page.count++;
}

/** kernel: exit_mmap(): zap everything, then free the vmas. */
function sysExit(k: Kernel, mm: Mm): void {
  const where = `exit(mm${mm.id})`;
  for (const vma of mm.vmas) k.zapRange(vma, vma.vmStart, vma.vmEnd, where);
  for (const vma of [...mm.vmas]) removeVma(k, vma, where);
  k.design.mmExit(mm);
  k.mms.delete(mm.id);
}

function sysTruncate(k: Kernel, fileId: number, size: number): Outcome {
  const file = k.files[fileId];
  if (!file || !Number.isInteger(size) || size < 0 || size > k.world.fileMaxPages) return errno("EINVAL");
  truncateFile(k, file, size);
  return ok;
}
