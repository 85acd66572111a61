/*
 * mm/mmap.c and mm/vma.c of the simulated kernel: vma insertion, removal, split, merge and
 * range modification, by the rules of Linux 6.x's vma_merge_new_range() and
 * vma_merge_existing_range() (mm/vma.c at 01c373e9a5ce): which struct survives a merge
 * matters to designs that point at vmas (anon-vma-rfc's PageDirect), so it follows Linux:
 * the lower vma survives, except that a range merging only with `next` expands next down.
 *
 * Allocation failures (impl/alloc.ts): a split allocates the new vma, the maple-tree nodes
 * (6.1+) and the design's clone of the anon_vma chain; a merge does the design's
 * dup_anon_vma() and the maple-tree nodes. Both do every allocation before they change
 * anything, and on ENOMEM leave the vmas as they were, with every object the failed step
 * allocated freed again (I9, asserted here because no later check could tell).
 */
import { AllocFailure } from "./alloc.js";
import { assert, poison } from "./assert.js";
import type { Kernel } from "./kernel.js";
import { type Mm, VM_SHARED, Vma } from "./types.js";

/** kernel: find_vma() restricted to a vma that contains addr. */
export function findVma(mm: Mm, addr: number): Vma | undefined {
  const vmas = mm.vmas;
  let lo = 0;
  let hi = vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const vma = vmas[mid] as Vma;
    if (addr < vma.vmStart) hi = mid - 1;
    else if (addr >= vma.vmEnd) lo = mid + 1;
    else return vma;
  }
  return undefined;
}

/** The vmas overlapping [start, end), in address order. */
export function vmasIn(mm: Mm, start: number, end: number): Vma[] {
  const out: Vma[] = [];
  for (const v of mm.vmas) {
    if (v.vmStart >= end) break;
    if (v.vmEnd > start) out.push(v);
  }
  return out;
}

export function prevVma(mm: Mm, vma: Vma): Vma | undefined {
  const i = mm.vmas.indexOf(vma);
  return i > 0 ? mm.vmas[i - 1] : undefined;
}

export function nextVma(mm: Mm, vma: Vma): Vma | undefined {
  const i = mm.vmas.indexOf(vma);
  return i >= 0 ? mm.vmas[i + 1] : undefined;
}

/** Is every page of [start, end) inside some vma? */
export function rangeMapped(mm: Mm, start: number, end: number): boolean {
  let at = start;
  for (const vma of mm.vmas) {
    if (vma.vmEnd <= at) continue;
    if (vma.vmStart > at) return false;
    at = vma.vmEnd;
    if (at >= end) return true;
  }
  return at >= end;
}

export function rangeFree(mm: Mm, start: number, end: number): boolean {
  return vmasIn(mm, start, end).length === 0;
}

/**
 * kernel: get_unmapped_area(), bottom-up: the hint if [hint, hint+len) is free and in range,
 * else the lowest free gap at or above mmapBase.
 */
export function unmappedArea(k: Kernel, mm: Mm, hint: number, len: number): number | undefined {
  const { mmapBase, vpnLimit } = k.world;
  if (hint >= mmapBase && hint + len <= vpnLimit && rangeFree(mm, hint, hint + len)) return hint;
  let at = mmapBase;
  for (const vma of mm.vmas) {
    if (vma.vmEnd <= at) continue;
    if (vma.vmStart >= at + len) break;
    at = vma.vmEnd;
  }
  return at + len <= vpnLimit ? at : undefined;
}

/** kernel: vma_link(): into the mm's sorted set, the file's i_mmap, and the design. */
export function insertVma(k: Kernel, vma: Vma): void {
  const vmas = vma.mm.vmas;
  let i = 0;
  while (i < vmas.length && (vmas[i] as Vma).vmStart < vma.vmStart) i++;
  vmas.splice(i, 0, vma);
  if (vma.vmFile) vma.vmFile.iMmap.insert(vma);
  k.design.vmaLink(vma);
}

/** kernel: remove_vma() after unmap: out of the mm, i_mmap and the design; then freed. */
export function removeVma(k: Kernel, vma: Vma, where: string): void {
  const vmas = vma.mm.vmas;
  vmas.splice(vmas.indexOf(vma), 1);
  if (vma.vmFile) vma.vmFile.iMmap.remove(vma);
  k.design.vmaUnlink(vma, where);
  poison(vma, "vm_area_struct", where);
}

/** kernel: vma_adjust() / vma_set_range() under vma_prepare(): i_mmap remove + re-insert. */
export function adjustVma(k: Kernel, vma: Vma, start: number, end: number, pgoff: number): void {
  const change = () => k.design.vmaAdjust(vma, start, end, pgoff);
  if (vma.vmFile) vma.vmFile.iMmap.adjust(vma, change);
  else change();
}

/** kernel: vma_iter_prealloc(): maple-tree nodes for a split or merge, in eras that have them. */
export function preallocVmi(k: Kernel): void {
  if (k.vmaPrealloc) k.allocator.allocate("maple_node");
}

/** Design objects live now, when a failure point is armed (the I9 check of a failed step). */
const liveIfArmed = (k: Kernel): number => (k.allocator.armed ? k.design.slab.liveCount() : 0);

/** I9 after a failed split or merge: it freed everything it allocated. */
function assertNothingLeft(k: Kernel, e: unknown, live: number, where: string): void {
  if (!(e instanceof AllocFailure)) return;
  const now = k.design.slab.liveCount();
  assert(now === live, "I9", () => `${where} failed (ENOMEM) and left ${now - live} rmap object(s) allocated`);
}

/**
 * kernel: __split_vma(vma, addr, new_below). The new struct takes [vmStart, addr) when
 * newBelow, else [addr, vmEnd); the original keeps the rest. Returns the new vma.
 */
export function splitVma(k: Kernel, vma: Vma, addr: number, newBelow: boolean): Vma {
  const { vmStart: start, vmEnd: end, vmPgoff: pgoff } = vma;
  k.allocator.allocate("vm_area_struct"); // kernel: vm_area_dup()
  const nw = newBelow
    ? new Vma(vma.mm, start, addr, pgoff, vma.vmFlags, vma.vmFile)
    : new Vma(vma.mm, addr, end, pgoff + (addr - start), vma.vmFlags, vma.vmFile);
  nw.anonVma = vma.anonVma; // vm_area_dup() copies the pointer; the design clones the rest
  const live = liveIfArmed(k);
  try {
    preallocVmi(k);
    k.design.vmaSplit(vma, nw); // kernel: anon_vma_clone(new, vma), which unwinds itself
  } catch (e) {
    // kernel: out_free_vmi / out_free_vma: the new struct is freed, vma is untouched.
    poison(nw, "vm_area_struct", "__split_vma (ENOMEM)");
    assertNothingLeft(k, e, live, "__split_vma");
    throw e;
  }
  k.counters.vmaSplits++;
  if (newBelow) adjustVma(k, vma, addr, end, pgoff + (addr - start));
  else adjustVma(k, vma, start, addr, pgoff);
  insertVma(k, nw);
  return nw;
}

/**
 * Same flags, same file, contiguous pgoff, compatible anon objects: kernel can_vma_merge_*().
 * `copiedFrom`: mremap's source vma when one of the two is the range copy_vma proposes.
 */
export function mergeable(k: Kernel, lower: Vma, upper: Vma, copiedFrom?: Vma): boolean {
  return (
    lower.vmEnd === upper.vmStart &&
    lower.vmFlags === upper.vmFlags &&
    lower.vmFile === upper.vmFile &&
    lower.vmPgoff + lower.pages === upper.vmPgoff &&
    k.design.anonMergeable(lower, upper, copiedFrom)
  );
}

/**
 * The half of a merge that can fail, done before anything changes (kernel: dup_anon_vma(),
 * then vma_iter_prealloc() in vma_expand() / commit_merge()): keep adopts the anon object of
 * the vmas whose pages it takes (`from`, in order) if it has none. If the preallocation fails,
 * that adoption is undone (unlink_anon_vmas(anon_dup): Liam Howlett's 824135c46b00, 6.6, B13)
 * and the vmas are as they were; quirk "merge-abort-keeps-dup" is the error path before it.
 */
export function prepareMerge(k: Kernel, keep: Vma, from: readonly Vma[], copiedFrom?: Vma): void {
  const hadAnon = keep.anonVma !== null;
  const live = liveIfArmed(k);
  let dupped = false; // kernel: anon_dup, set only once dup_anon_vma() succeeded
  try {
    // A failure inside dup_anon_vma() is unwound by anon_vma_clone() itself.
    for (const src of from) if (!importSkipped(k, keep, src)) k.design.vmaMerge(keep, src, src === copiedFrom);
    dupped = !hadAnon && keep.anonVma !== null;
    preallocVmi(k);
  } catch (e) {
    if (e instanceof AllocFailure && dupped && !k.quirks.has("merge-abort-keeps-dup")) k.design.vmaMergeAbort?.(keep);
    assertNothingLeft(k, e, live, "vma_merge");
    throw e;
  }
}

/**
 * keep absorbs its neighbour gone (kernel: commit_merge() + anon_vma_merge() + remove); the
 * caller ran prepareMerge(k, keep, [gone, ...]) first, so nothing here can fail.
 */
export function absorb(k: Kernel, keep: Vma, gone: Vma, where: string): void {
  k.counters.vmaMerges++;
  if (gone.vmStart >= keep.vmEnd) adjustVma(k, keep, keep.vmStart, gone.vmEnd, keep.vmPgoff);
  else adjustVma(k, keep, gone.vmStart, keep.vmEnd, gone.vmPgoff);
  removeVma(k, gone, where);
}

/**
 * Quirk "merge-import-from-vma-only" (2.6.34-rc1..rc3): vma_adjust() gave an importer without
 * an anon_vma only `vma`'s own anon_vma, so a lower vma that expanded over pages of the next
 * one (remove_next, or mprotect shifting the boundary up) never joined next's anon_vma chain.
 * Fixed by Linus Torvalds's "vma_adjust: fix the copying of anon_vma chains" (287d97ac0321,
 * 2.6.34-rc4), which names the exporter; the hunt for it is LWN's "The case of the overly
 * anonymous anon_vma" (April 2010).
 */
function importSkipped(k: Kernel, keep: Vma, gone: Vma): boolean {
  return k.quirks.has("merge-import-from-vma-only") && gone.vmStart > keep.vmStart && keep.anonVma === null && gone.anonVma !== null;
}

/**
 * kernel: vma_merge_new_range() for a range not yet linked (mmap, copy_vma), described by the
 * unlinked vma `nw`. Returns prev or next expanded over it, or undefined if neither merges
 * (the caller then links nw). For copy_vma, `copiedFrom` is the source vma whose pages the
 * expanded neighbour now receives (kernel: vma_merge_copied_range()): the design decides
 * whether the moved range may merge (anonMergeable with copiedFrom) and hears
 * vmaMerge(target, copiedFrom, true), as vma_expand() calls dup_anon_vma(target,
 * vmg->copied_from) since 61f67c230a5e (6.19, 6.18.8). 6.16.0–6.18.7 let the range merge into
 * an unfaulted neighbour (879bca0a2c4f) without that dup: CVE-2026-23077, planted as the
 * quirk "copy-merge-without-dup" (H1) and as anon-vma-chain-6.16/pre-61f67c230a5e (H6);
 * docs/merge-6.16.md.
 */
export function mergeNew(k: Kernel, nw: Vma, copiedFrom?: Vma): Vma | undefined {
  const mm = nw.mm;
  let prev: Vma | undefined;
  let next: Vma | undefined;
  for (const v of mm.vmas) {
    if (v.vmEnd <= nw.vmStart) prev = v;
    else if (v.vmStart >= nw.vmEnd) {
      next = v;
      break;
    }
  }
  const left = prev !== undefined && mergeable(k, prev, nw, copiedFrom);
  const right = next !== undefined && mergeable(k, nw, next, copiedFrom) && (!left || k.design.anonMergeable(prev as Vma, next));
  const copied = copiedFrom && !k.quirks.has("copy-merge-without-dup") ? [copiedFrom] : [];
  if (left && prev) {
    prepareMerge(k, prev, right && next ? [...copied, next] : copied, copiedFrom);
    if (!right) k.counters.vmaMerges++; // prev+next counts in absorb()
    adjustVma(k, prev, prev.vmStart, nw.vmEnd, prev.vmPgoff);
    if (right && next) absorb(k, prev, next, "vma_merge_new_range (prev+next)");
    return prev;
  }
  if (right && next) {
    prepareMerge(k, next, copied, copiedFrom);
    k.counters.vmaMerges++;
    adjustVma(k, next, nw.vmStart, next.vmEnd, k.quirks.has("merge-next-keeps-pgoff") ? next.vmPgoff : nw.vmPgoff);
    return next;
  }
  return undefined;
}

/**
 * kernel: vma_modify_flags() → vma_merge_existing_range(), else split_vma(): give
 * [start, end) ⊆ vma the flags `flags` (mprotect, mlock). Returns the vma now covering it.
 */
export function modifyVma(k: Kernel, vma: Vma, start: number, end: number, flags: number): Vma {
  if (flags === vma.vmFlags) return vma;
  const mm = vma.mm;
  const prev = prevVma(mm, vma);
  const next = nextVma(mm, vma);
  const pgoffStart = vma.vmPgoff + (start - vma.vmStart);
  // Proposed: the range as it would be, flags changed.
  const proposed = { vmFlags: flags, vmFile: vma.vmFile };
  const same = (other: Vma) => other.vmFlags === proposed.vmFlags && other.vmFile === proposed.vmFile;
  const left =
    prev !== undefined &&
    start === vma.vmStart &&
    prev.vmEnd === start &&
    same(prev) &&
    prev.vmPgoff + prev.pages === pgoffStart &&
    k.design.anonMergeable(prev, vma);
  const right =
    next !== undefined &&
    end === vma.vmEnd &&
    next.vmStart === end &&
    same(next) &&
    next.vmPgoff === pgoffStart + (end - start) &&
    k.design.anonMergeable(vma, next) &&
    (!left || k.design.anonMergeable(prev as Vma, next));
  const where = "vma_merge_existing_range";
  if (left && prev) {
    prepareMerge(k, prev, right && next ? [vma, next] : [vma]);
    if (end === vma.vmEnd) {
      absorb(k, prev, vma, where);
      if (right && next) absorb(k, prev, next, where);
    } else {
      // prev expands over the lower part; vma keeps the rest.
      k.counters.vmaMerges++;
      adjustVma(k, vma, end, vma.vmEnd, vma.vmPgoff + (end - vma.vmStart));
      adjustVma(k, prev, prev.vmStart, end, prev.vmPgoff);
    }
    return prev;
  }
  if (right && next) {
    prepareMerge(k, next, [vma]);
    if (start === vma.vmStart) {
      absorb(k, next, vma, where);
    } else {
      // next expands down over the upper part; vma keeps the rest.
      k.counters.vmaMerges++;
      adjustVma(k, vma, vma.vmStart, start, vma.vmPgoff);
      adjustVma(k, next, start, next.vmEnd, pgoffStart);
    }
    return next;
  }
  if (start > vma.vmStart) splitVma(k, vma, start, true);
  if (end < vma.vmEnd) splitVma(k, vma, end, false);
  vma.vmFlags = flags;
  return vma;
}

/** Split so that no vma straddles start or end (the first half of do_vmi_munmap()). */
export function splitAround(k: Kernel, mm: Mm, start: number, end: number): Vma[] {
  for (const vma of vmasIn(mm, start, end)) {
    if (vma.vmStart < start) splitVma(k, vma, start, true);
  }
  for (const vma of vmasIn(mm, start, end)) {
    if (vma.vmEnd > end) splitVma(k, vma, end, false);
  }
  return vmasIn(mm, start, end);
}

export const isShared = (vma: Vma): boolean => (vma.vmFlags & VM_SHARED) !== 0;
