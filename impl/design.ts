/*
 * The RmapDesign interface: the hook points where Linux's mm/ calls into its reverse map.
 *
 * The simulated kernel (impl/kernel.ts) owns mms, vmas, page tables, pages, the page cache,
 * swap and mapcounts; a design owns only its reverse-map structures. Each hook is named after
 * the kernel function that calls it. See docs/designs.md for a walk-through of writing one.
 *
 * Calling conventions:
 * - Page hooks run *before* the kernel changes page.mapcount, so a design sees the old value
 *   (page.mapcount === 0 in pageAddAnon means "first mapping", as atomic_inc_and_test does).
 * - vmaAdjust must assign vma.vmStart / vmEnd / vmPgoff itself (setVmaRange), so that a design
 *   with an anon interval tree can remove the vma before and re-insert it after.
 * - walk() calls visit(vma, addr) for every PTE it finds that maps the page (after checking
 *   the PTE's pfn: kernel.ptePointsTo); it stops when visit returns false. The checker
 *   compares the visited set with the brute-force Ref(X) (I1, I2).
 */
import type { Kernel } from "./kernel.js";
import type { GraphBuilder } from "./snapshot.js";
import type { Memory, Slab } from "./slab.js";
import type { World } from "../model/world.js";
import type { IMmap, Mm, Page, Vma } from "./types.js";

/** How a new anonymous rmap is being added (kernel: page_add_new_anon_rmap vs page_add_anon_rmap). */
export type AnonAdd =
  /** A new page only this PTE maps: anonymous fault, COW copy (page_add_new_anon_rmap). */
  | "new"
  /** Swap-in of a page no other PTE can map (RMAP_EXCLUSIVE). */
  | "swapin-exclusive"
  /** Swap-in of a page other PTEs (other mms' swap entries) may also map later. */
  | "swapin-shared";

export interface RmapDesign {
  /** The structure this design keeps i_mmap in (kernel 2.4 onwards always has one). */
  createIMmap(): IMmap;

  // --- mm lifecycle ---
  /** kernel: mm_alloc() for the first process. */
  mmInit(mm: Mm): void;
  /** kernel: dup_mm(), before the vmas are copied. */
  mmFork(parent: Mm, child: Mm): void;
  /** kernel: exit_mmap(), after every vma is gone. */
  mmExit(mm: Mm): void;

  // --- vma lifecycle (mm/mmap.c) ---
  /** A new vma enters its mm (mmap, the new half of a split, copy_vma). */
  vmaLink(vma: Vma): void;
  /** kernel: unlink_anon_vmas(): the vma leaves its mm (munmap, exit, merged away). */
  vmaUnlink(vma: Vma, where: string): void;
  /** kernel: vma_adjust(): change a vma's range; must assign the fields (setVmaRange). */
  vmaAdjust(vma: Vma, start: number, end: number, pgoff: number): void;
  /** kernel: __split_vma() → anon_vma_clone(nw, vma): nw is a fresh copy of vma. */
  vmaSplit(vma: Vma, nw: Vma): void;
  /**
   * kernel: anon_vma_merge() / dup_anon_vma(): keep takes over gone's range, or the part of it
   * a boundary shift moved (mprotect). When gone disappears entirely vmaUnlink(gone) follows.
   * With `copied`, gone is not a neighbour but mremap's source (vmg->copied_from): keep was
   * expanded over the moved range and is about to receive gone's PTEs (vma_expand()'s
   * dup_anon_vma(target, copied_from), 61f67c230a5e, 6.19 / 6.18.8).
   */
  vmaMerge(keep: Vma, gone: Vma, copied?: boolean): void;
  /**
   * Optional: a merge whose vmaMerge(keep, ·) gave keep an anon object failed later (its
   * maple-tree preallocation): undo the adoption (kernel: unlink_anon_vmas(anon_dup) in
   * vma_merge()'s error path, 824135c46b00). Only designs whose vmaMerge allocates need it.
   */
  vmaMergeAbort?(keep: Vma): void;
  /** kernel: anon_vma_fork() / dup_mmap(): child is the fork copy of parent. */
  vmaFork(parent: Vma, child: Vma): void;
  /** kernel: copy_vma() for mremap: dst is a new vma receiving src's pages. */
  vmaCopy(src: Vma, dst: Vma): void;
  /**
   * kernel: is_mergeable_anon_vma(): may a and b (adjacent, same flags, contiguous) merge?
   * One of them may be a proposed range not yet linked (mmap, mremap's copy_vma); for mremap
   * `copiedFrom` is the source vma whose pages the range will receive (vmg->copied_from).
   */
  anonMergeable(a: Vma, b: Vma, copiedFrom?: Vma): boolean;
  /** kernel: the `vma->anon_vma` test copy_vma uses to decide if a moved anon vma keeps pgoff. */
  hasAnonObject(vma: Vma): boolean;
  /** kernel: anon_vma_prepare(): before the first anonymous page of a vma. */
  anonPrepare(vma: Vma): void;

  // --- page hooks (mm/memory.c, mm/rmap.c) ---
  /** kernel: page_add_new_anon_rmap() / page_add_anon_rmap() */
  pageAddAnon(page: Page, vma: Vma, addr: number, how: AnonAdd): void;
  /** kernel: page_add_file_rmap() */
  pageAddFile(page: Page, vma: Vma, addr: number): void;
  /** kernel: copy_one_pte() at fork: the child's PTE at addr maps the same page. */
  pageDupAtFork(page: Page, parentVma: Vma, childVma: Vma, addr: number): void;
  /** kernel: page_remove_rmap(): the PTE (vma, addr) no longer maps page. */
  pageRemove(page: Page, vma: Vma, addr: number): void;
  /** kernel: do_wp_page() reusing an exclusive anon page (page_move_anon_rmap). */
  pageReuse(page: Page, vma: Vma, addr: number): void;
  /**
   * kernel: move_ptes() in mremap. Return "copy" to make the kernel break COW first (give the
   * mover a private copy), as anonmm does for a shared page.
   */
  pageMove(page: Page, oldVma: Vma, oldAddr: number, newVma: Vma, newAddr: number): "moved" | "copy";
  /** May the swap-cache page be mapped at (vma, addr)? anonmm says no for a different address. */
  swapinMustCopy(page: Page, vma: Vma, addr: number): boolean;
  /** kernel: migrate_page_move_mapping(): newPage takes over oldPage's rmap. */
  pageMigrate(oldPage: Page, newPage: Page): void;
  /** kernel: __free_pages() of a page the design may hold state for. */
  pageFree(page: Page): void;

  // --- the walk (rmap_walk / try_to_unmap / page_referenced) ---
  walk(page: Page, visit: (vma: Vma, addr: number) => boolean): void;

  // --- accounting and checks ---
  /** The design's structures (memory per kind, live counts). */
  readonly slab: Slab;
  /**
   * Optional: memory the design adds to every struct page whatever is mapped (a pte_chain
   * union or hint pointer per frame; seed 002's "4 bytes in struct page is 1 MB per GB").
   */
  fixedMemory?(): Memory;
  /** Structural invariants of the design (I5–I8, I11 in the design's own form). */
  check(): void;
  /**
   * Optional: why the walk of `page` cannot reach the PTE at (vma, addr), in the design's
   * terms ("vma is not on anon_vma #4's list"), for shrink reports.
   */
  explain?(page: Page, vma: Vma, addr: number): string;
  /**
   * Optional: the design's structures as nodes and edges (impl/snapshot.ts), added to the
   * graph of mms, vmas, pages and i_mmap the kernel already put in `g`; for `rmapcheck view`.
   * Must not throw on a broken state (point at freed objects through g.pointer) and must not
   * change anything.
   */
  snapshot?(g: GraphBuilder): void;
}

export interface DesignInfo {
  readonly name: string;
  /** Kernel era, e.g. "2.4". */
  readonly era: string;
  readonly summary: string;
  /**
   * The planted one-line bugs this design can be built with (the mutant catalogue names them
   * as "design/mutant"). Each is guarded by `mutant === name` at the line it changes.
   */
  readonly mutants?: readonly string[];
  /**
   * The era's vma code preallocates maple-tree nodes before a split, a merge and a fork's
   * copy (6.1+: vma_iter_prealloc(), __mt_dup()): one more allocation that can fail there.
   */
  readonly vmaPrealloc?: boolean;
  /**
   * The design's walk follows an object the kernel locks for it (an anon_vma's rwsem, the
   * file's i_mmap_rwsem), so interleaving mode races its walks against mremap under those
   * locks (impl/interleave.ts). Designs whose walk follows per-page state (pte_chain_lock)
   * are not modelled there: their races run sequentially.
   */
  readonly interleave?: boolean;
  /**
   * The era has per-VMA locks (Suren Baghdasaryan, 6.4+: a page fault takes the vma's lock
   * through lock_vma_under_rcu(), not mmap_lock; every vma modifier calls vma_start_write()
   * under mmap_write_lock). Interleaving mode models them (impl/interleave.ts); without them
   * a racing fault takes mmap_lock for reading.
   */
  readonly perVmaLock?: boolean;
  /** The world the design runs in when the caller names none (the folio designs set folioOrder). */
  readonly world?: World;
  create(kernel: Kernel, mutant?: string): RmapDesign;
}

export type { Memory };

/** Work counters every design and the kernel bump (reported by run --stats and compare). */
export class Counters {
  walks = 0;
  vmasVisited = 0;
  ptesChecked = 0;
  mmsVisited = 0;
  /**
   * rmap structure updates at fork: i_mmap insertions of file vmas (every design), plus the
   * design's own (pte_chain entries per PTE, anon_vma links, anon_vma_chain objects, anonmm
   * family joins).
   */
  forkRmapOps = 0;
  objectsAllocatedAtFork = 0;
  objectsAllocatedAtFault = 0;
  forcedCopies = 0;
  pagesReclaimed = 0;
  swapouts = 0;
  swapins = 0;
  migrations = 0;
  unmapFailures = 0;
  emergencyFrames = 0;
  /** Injected allocation failures that fired (impl/alloc.ts). */
  allocFailures = 0;
  /** Faults that returned VM_FAULT_OOM and were retried (docs/semantics.md). */
  faultOomRetries = 0;
  // Events the coverage marks (properties/coverage.ts) are made of.
  vmaSplits = 0;
  vmaMerges = 0;
  /** COW copies of a page another PTE still maps (a COW break after fork). */
  cowBreaksShared = 0;
  /** mremap moved a PTE of a page (or swap slot) another mm also maps. */
  mremapMovesShared = 0;
  /** mremap's new vma merged with a neighbour at the destination (copy_vma → vma_merge). */
  mremapMergesAtDest = 0;
  /** Reclaim run by an allocation that found no free frame. */
  pressureReclaims = 0;
  /** A swap-in by an mm other than the one whose swapout command unmapped the page. */
  swapinsByOtherMm = 0;
  /** PTEs zapped by truncate. */
  truncateZaps = 0;
  /** Interleaving mode: commands (mremap moves, forks, truncates) raced by a walker or a fault (impl/interleave.ts). */
  races = 0;
  /** Of those, copy_vma merges into a neighbour that the walk visits first (need_rmap_locks). */
  racesNeedingRmapLocks = 0;
}

/** Assign a vma's range; the default body of vmaAdjust. */
export function setVmaRange(vma: Vma, start: number, end: number, pgoff: number): void {
  vma.vmStart = start;
  vma.vmEnd = end;
  vma.vmPgoff = pgoff;
}
