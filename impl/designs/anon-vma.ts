/*
 * anon-vma — object-based reverse mapping for anonymous pages as merged in Linux 2.6.7
 * (May 2004: Andrea Arcangeli's anon_vma, reworked by Hugh Dickins: no PageDirect, one
 * anon_vma per fork family, anon_vma_prepare at a vma's first anonymous fault), together with
 * Dave McCracken's objrmap for file pages, merged in the same release.
 *
 * Structures (field = the equation it satisfies):
 *   anon_vma        {lock, head}: head = every vma V with V.anonVma === this (I8), newest
 *                   first (anon_vma_link's list_add).
 *   vma.anonVma     the anon_vma every anonymous page this vma maps points to (I6); null until
 *                   the vma's first anonymous page (anon_vma_prepare).
 *   vma.rmap        the vma's anon_vma_node (list_head) and anon_vma pointer, charged here.
 *   page.mapping    file page: its File; anon page: vma.anonVma of the vma that first mapped it
 *                   (kernel: anon_vma + PAGE_MAPPING_ANON; PG_anon is the tag bit). Left stale
 *                   when mapcount drops to 0 (only a swap-cache page may then be mapped again).
 *   page.index      linear_page_index(vma, addr) of every PTE mapping it (I7): file pgoff for a
 *                   file page; for an anon page vm_pgoff-relative, and mremap keeps vm_pgoff.
 *
 * How the walk finds the PTEs (kernel: page_referenced_anon / try_to_unmap_anon): an anon page
 * → its anon_vma → every vma on head → vma_address(page, vma), inside [vm_start, vm_end) → the
 * PTE there, which must map this pfn (a vma of the family may have COW-replaced it). A file
 * page (page_referenced_file / try_to_unmap_file) → file.iMmap.query(index, index) → the same
 * vma_address + pfn check. Both stop once they have found page.mapcount PTEs.
 *
 * Costs (sizes without spinlock debugging; an SMP spinlock_t is 4 bytes):
 *   anon_vma            spinlock_t lock (4) + list_head head (2 pointers)
 *                       = 12 bytes ILP32 / 24 LP64 (4 + 4 padding + 16).
 *   vma anon_vma fields list_head anon_vma_node (2 pointers) + struct anon_vma *anon_vma
 *                       = 12 / 24 in every vm_area_struct, anonymous or not.
 *   So a vma costs "the extra 24 bytes (maximum, on 32-bit)" over anonmm (seed 003): its own
 *   12 bytes plus at most one 12-byte anon_vma, which its fork family and mergeable
 *   neighbours share. Nothing per page (mapping and index already exist), nothing per PTE.
 *   Fault: the first anonymous page of a vma runs anon_vma_prepare (a neighbour lookup, at most
 *   one allocation: objectsAllocatedAtFault); later faults store two words in the page.
 *   Fork: one list_add per vma; a copied PTE only bumps the mapcount. mremap: nothing per page.
 *   Walk: every vma of the family, including children that COW-replaced the page (AIM7's
 *   1000-children forking server walks ~1000 vmas per page); file pages: i_mmap.
 * Trade-offs: against pte-chains, no lowmem per mapping and O(vmas) fork; against anonmm
 * (Hugh's rmap 10–11), 24 more bytes per vma but mremap needs no COW-break, and a walk visits
 * vmas of one family rather than every mm of it; against anon-vma-chain (2.6.34), walks are
 * longer for long-lived forking parents but there are no per-fork chain objects.
 *
 * Invariants checked by check():
 *   I4  the anon_vma of every live vma, and of every mapped or swap-cached anon page, is live;
 *   I6  (2.6.7 form) for every PTE (V, addr) mapping an anon page X: X.mapping === V.anonVma;
 *   I7  X.index === linear_page_index(V, addr) for every PTE (V, addr) mapping X;
 *   I8  each anon_vma's head is exactly the set of vmas whose anonVma it is, without repeats.
 * page_add_anon_rmap's BUG_ONs (a later mapping must agree with the first) assert I6/I7 too.
 *
 * Simplified: no locking; one i_mmap structure per file (2.6.7 kept i_mmap and
 * i_mmap_shared, both priority search trees: the structure is a parameter, makeAnonVma, and
 * defaults to the list of 2.6.6). The simulated kernel merges and splits vmas by Linux 6.x's
 * rules, so vmaMerge is 6.x's dup_anon_vma (keep adopts gone's anon_vma), which 2.6.7's
 * vma_adjust did only when the whole of `next` was removed (anon_vma_merge). When mremap's
 * copy merges into a neighbour without an anon_vma, the kernel calls vmaMerge(neighbour,
 * source, true) as vma_expand() does since 61f67c230a5e (dup_anon_vma of copied_from, the
 * fix of CVE-2026-23077, docs/merge-6.16.md); as we read 2.6's
 * vma_adjust, its "importer" covered only mprotect's boundary shifts, so 2.6.7 itself likely
 * had this gap. Nonlinear vmas (remap_file_pages) are not modelled.
 *
 * Mutants: "no-join-at-fork" (the child vma is not put on the parent's anon_vma: I1 at the
 * first fork of a mapped page); "free-anon-vma-early" (an off-by-one in the GC: the anon_vma
 * is freed when one vma is still queued on it: I4); "index-is-address" (a new anon page's
 * index is its virtual address, anonmm's rule, not the linear index: I1 at the first COW
 * copy in a private file vma, whose vm_pgoff is a file offset, or after mremap has given an
 * anon vma a foreign vm_pgoff).
 */
import { assert, isFreed } from "../assert.js";
import { type AnonAdd, type DesignInfo, type RmapDesign, setVmaRange } from "../design.js";
import type { Kernel } from "../kernel.js";
import { findVma, nextVma, prevVma } from "../mmap.js";
import { Slab } from "../slab.js";
import { type GraphBuilder, anonVmaHeads, pageNode } from "../snapshot.js";
import { IMmapList } from "../structures/immap-list.js";
import {
  type File,
  type IMmap,
  PG_swapcache,
  type Page,
  VM_READ,
  VM_WRITE,
  type Vma,
  linearPageIndex,
  vmaAddress,
} from "../types.js";

/** kernel: struct anon_vma (2.6.7). */
export interface AnonVma {
  readonly id: number;
  /** kernel: anon_vma->head: the vmas whose anon_vma this is, newest first. */
  readonly head: Vma[];
}

/** The i_mmap structure a variant uses; `onVisit` counts each vma examined. */
export type IMmapFactory = (onVisit: () => void) => IMmap;

const sizes = {
  anon_vma: { ilp32: 12, lp64: 24 },
  "vma anon_vma fields": { ilp32: 12, lp64: 24 },
} as const;

/** find_mergeable_anon_vma: "only mprotect tries to remerge vmas": ignore what it changes. */
const VM_MPROTECT_FLAGS = VM_READ | VM_WRITE;

const avName = (av: AnonVma): string => (isFreed(av) ? "a freed anon_vma" : `anon_vma #${av.id}`);

class AnonVmaDesign implements RmapDesign {
  readonly slab = new Slab(sizes);
  /** Every live anon_vma, for check() only (the kernel reaches them from vmas and pages). */
  private readonly live = new Set<AnonVma>();
  private nextId = 1;

  constructor(
    private readonly k: Kernel,
    private readonly iMmapFactory: IMmapFactory,
    private readonly mutant?: string,
  ) {}

  createIMmap(): IMmap {
    return this.iMmapFactory(() => this.k.counters.vmasVisited++);
  }

  // --- anon_vma lifecycle (mm/rmap.c) ----------------------------------------------------

  /** kernel: anon_vma_alloc() */
  private anonVmaAlloc(): AnonVma {
    const av: AnonVma = this.slab.alloc("anon_vma", { id: this.nextId++, head: [] });
    this.live.add(av);
    return av;
  }

  /** kernel: anon_vma_link() / __anon_vma_link(): list_add(&vma->anon_vma_node, &anon_vma->head). */
  private anonVmaLink(vma: Vma, av: AnonVma): void {
    assert(!av.head.includes(vma), "I8", () => `${vma} queued twice on ${avName(av)}`, vma, av);
    vma.anonVma = av;
    av.head.unshift(vma);
  }

  /** kernel: anon_vma_unlink(): off the list; the last vma out frees the anon_vma. */
  private anonVmaUnlink(vma: Vma, where: string): void {
    const av = vma.anonVma as AnonVma | null;
    if (av === null) return;
    const i = av.head.indexOf(vma);
    assert(i >= 0, "I8", () => `${vma} unlinked from ${avName(av)} but not on its list`, vma, av);
    av.head.splice(i, 1);
    // The GC rule: for a page to point to an anon_vma there must be a vma still queued on it.
    if (av.head.length <= (this.mutant === "free-anon-vma-early" ? 1 : 0)) {
      this.live.delete(av);
      this.slab.free("anon_vma", av, where);
    }
  }

  /** kernel: find_mergeable_anon_vma(): the anon_vma of a neighbour vma could merge with. */
  private findMergeableAnonVma(vma: Vma): AnonVma | null {
    const sameKind = (near: Vma) =>
      (near.vmFlags & ~VM_MPROTECT_FLAGS) === (vma.vmFlags & ~VM_MPROTECT_FLAGS) && near.vmFile === vma.vmFile;
    const next = nextVma(vma.mm, vma);
    if (next && next.anonVma !== null && sameKind(next) && vma.vmEnd === next.vmStart && vma.vmPgoff + vma.pages === next.vmPgoff) {
      return next.anonVma as AnonVma;
    }
    const prev = prevVma(vma.mm, vma);
    if (prev && prev.anonVma !== null && sameKind(prev) && prev.vmEnd === vma.vmStart && prev.vmPgoff + prev.pages === vma.vmPgoff) {
      return prev.anonVma as AnonVma;
    }
    return null;
  }

  /** kernel: anon_vma_prepare(): before the first anonymous page of a vma. */
  anonPrepare(vma: Vma): void {
    if (vma.anonVma !== null) return;
    let av = this.findMergeableAnonVma(vma);
    if (av === null) {
      av = this.anonVmaAlloc();
      this.k.counters.objectsAllocatedAtFault++;
    }
    this.anonVmaLink(vma, av);
  }

  // --- vma hooks (mm/mmap.c, kernel/fork.c) ----------------------------------------------

  /** The vma's anon_vma_node + anon_vma fields, charged for every vma that exists. */
  private chargeVmaFields(vma: Vma): void {
    vma.rmap = this.slab.charge("vma anon_vma fields", { vma: vma.oid });
  }

  mmInit(): void {}
  mmFork(): void {}
  mmExit(): void {}

  /** kernel: vma_link() → __anon_vma_link(): a split piece or copy_vma's copy joins its anon_vma. */
  vmaLink(vma: Vma): void {
    this.chargeVmaFields(vma);
    const av = vma.anonVma as AnonVma | null;
    if (av !== null) this.anonVmaLink(vma, av);
  }

  vmaUnlink(vma: Vma, where: string): void {
    this.anonVmaUnlink(vma, where);
    this.slab.free("vma anon_vma fields", vma.rmap as object, where);
  }

  vmaAdjust(vma: Vma, start: number, end: number, pgoff: number): void {
    setVmaRange(vma, start, end, pgoff);
  }

  /** kernel: split_vma(): vm_area_dup copied anon_vma; the new piece joins in vmaLink. */
  vmaSplit(vma: Vma, nw: Vma): void {
    assert(nw.anonVma === vma.anonVma, "KERNEL", () => `split: ${nw} does not share ${vma}'s anon_vma`);
  }

  /** kernel: anon_vma_merge() (6.x: dup_anon_vma): a keep without an anon_vma adopts gone's. */
  vmaMerge(keep: Vma, gone: Vma): void {
    if (keep.anonVma === null && gone.anonVma !== null) this.anonVmaLink(keep, gone.anonVma as AnonVma);
  }

  /** kernel: dup_mmap() → anon_vma_link(tmp): the child joins the parent's anon_vma. */
  vmaFork(parent: Vma, child: Vma): void {
    this.chargeVmaFields(child);
    const av = parent.anonVma as AnonVma | null;
    if (av !== null && this.mutant !== "no-join-at-fork") {
      this.anonVmaLink(child, av);
      this.k.counters.forkRmapOps++;
    }
  }

  /** kernel: copy_vma(): the kernel copied src's anon_vma into dst; dst joins it in vmaLink. */
  vmaCopy(src: Vma, dst: Vma): void {
    assert(dst.anonVma === src.anonVma, "KERNEL", () => `copy_vma: ${dst} does not carry ${src}'s anon_vma`);
  }

  /**
   * kernel: is_mergeable_anon_vma() (2.6.7): equal, or one of them has none yet; the survivor
   * then adopts the other's (vmaMerge). Workaround: when mremap's copy_vma merges the moved
   * range into a neighbour (mmap.ts mergeNew), the simulated kernel calls no design hook, so a
   * neighbour without an anon_vma would take the moved pages without joining their anon_vma
   * (the moved-from vma then leaves it, it is freed: I4). Linux 6.16 does dup_anon_vma(target,
   * copied_from) there (vma_merge_copied_range); until the kernel says so, refuse that one
   * merge: the vma with the anon_vma is the not-yet-linked copy. Only the layout differs.
   */
  anonMergeable(a: Vma, b: Vma): boolean {
    if (a.anonVma === b.anonVma) return true;
    return a.anonVma === null || b.anonVma === null;
  }

  hasAnonObject(vma: Vma): boolean {
    return vma.anonVma !== null;
  }

  // --- page hooks (mm/rmap.c) -------------------------------------------------------------

  /** kernel: page_add_anon_rmap(): only the first mapping sets mapping and index. */
  pageAddAnon(page: Page, vma: Vma, addr: number, _how: AnonAdd): void {
    const av = vma.anonVma as AnonVma | null;
    assert(av !== null, "I6", () => `${page} mapped at ${vma}:${addr}, which has no anon_vma (anon_vma_prepare not run)`, vma);
    const index = this.mutant === "index-is-address" ? addr : linearPageIndex(vma, addr);
    if (page.mapcount === 0) {
      page.mapping = av;
      page.index = index;
      return;
    }
    // The BUG_ONs of 2.6.7: a later mapping (swap-in by a sharer) must agree with the first.
    assert(page.mapping === av, "I6", () => `${page} already on ${this.describeMapping(page)}, mapped again from ${vma} on ${avName(av)}`, page, vma);
    assert(page.index === index, "I7", () => `${page} index ${page.index}, mapped again at ${vma}:${addr} (linear index ${index})`, page, vma);
  }

  pageAddFile(): void {}
  pageDupAtFork(): void {}
  pageRemove(): void {}
  /** do_wp_page's reuse: the page stays on the family's anon_vma, which this vma is on. */
  pageReuse(): void {}

  /** kernel: move_ptes(): vm_pgoff travels with the vma, so index and anon_vma stay valid. */
  pageMove(): "moved" {
    return "moved";
  }
  swapinMustCopy(): boolean {
    return false;
  }
  pageMigrate(): void {}
  pageFree(): void {}

  // --- the walk (mm/rmap.c) ---------------------------------------------------------------

  walk(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    if (page.mapcount === 0) return; // kernel: page_mapped() is tested before the walk
    let mapcount = page.mapcount;
    const one = (vma: Vma): boolean => {
      const addr = vmaAddress(page, vma);
      if (addr === undefined || !this.k.ptePointsTo(vma.mm, addr, page.pfn)) return true;
      if (!visit(vma, addr)) return false;
      return --mapcount > 0;
    };
    if (!page.anon) {
      // kernel: page_referenced_file() / try_to_unmap_file()
      (page.mapping as File).iMmap.query(page.index, page.index, one);
      return;
    }
    // kernel: page_referenced_anon() / try_to_unmap_anon()
    const av = page.mapping as AnonVma;
    for (const vma of [...av.head]) {
      this.k.counters.vmasVisited++;
      if (!one(vma)) return;
    }
  }

  /** Each anon_vma with its head list of vmas; each anon page's mapping. */
  snapshot(g: GraphBuilder): void {
    const avNode = anonVmaHeads(g, this.live, this.k);
    for (const page of this.k.frames) {
      if (page?.anon && page.mapping !== null) g.edge(pageNode(page), avNode(page.mapping as AnonVma), "mapping");
    }
  }

  explain(page: Page, vma: Vma, addr: number): string {
    if (!page.anon) return `${vma} is not found by file${(page.mapping as File).id}'s i_mmap query at ${page.index}`;
    const av = page.mapping as AnonVma;
    if (isFreed(av)) return `${page} points to a freed anon_vma`;
    if (!av.head.includes(vma)) return `${vma} is not on ${avName(av)}'s list (its anon_vma: ${vma.anonVma ? avName(vma.anonVma as AnonVma) : "none"})`;
    const at = vmaAddress(page, vma);
    return `vma_address(index ${page.index}) in ${vma} is ${at ?? "outside it"}, not ${addr}`;
  }

  private describeMapping(page: Page): string {
    return avName(page.mapping as AnonVma);
  }

  // --- checks -----------------------------------------------------------------------------

  check(): void {
    let linked = 0;
    for (const mm of this.k.mms.values()) {
      for (const vma of mm.vmas) {
        const av = vma.anonVma as AnonVma | null;
        if (av === null) continue;
        linked++;
        assert(!isFreed(av), "I4", () => `${vma} points to a freed anon_vma`, vma);
        assert(this.live.has(av), "I8", () => `${vma} points to ${avName(av)}, which is not live`, vma);
        assert(av.head.includes(vma), "I8", () => `${vma} points to ${avName(av)} but is not on its list`, vma, av);
      }
    }
    let queued = 0;
    for (const av of this.live) {
      assert(av.head.length > 0, "I8", () => `${avName(av)} is live with an empty list (should have been freed)`, av);
      assert(new Set(av.head).size === av.head.length, "I8", () => `${avName(av)} lists a vma twice`, av);
      for (const vma of av.head) {
        assert(!isFreed(vma), "I4", () => `${avName(av)} lists a freed vma`, av);
        assert(vma.anonVma === av, "I8", () => `${vma} is on ${avName(av)}'s list but points elsewhere`, vma, av);
      }
      queued += av.head.length;
    }
    assert(queued === linked, "I8", () => `${queued} vmas queued on anon_vmas, ${linked} live vmas have one`);
    this.checkPages();
  }

  /** I4 for every anon page that can still be walked; I6 and I7 for every PTE. */
  private checkPages(): void {
    for (const page of this.k.pages()) {
      if (!page.anon || (page.mapcount === 0 && (page.flags & PG_swapcache) === 0)) continue;
      const av = page.mapping as AnonVma;
      assert(!isFreed(av), "I4", () => `${page} (mapcount ${page.mapcount}) points to a freed anon_vma`, page);
      assert(this.live.has(av), "I4", () => `${page} points to ${avName(av)}, which is not a live anon_vma`, page);
    }
    for (const mm of this.k.mms.values()) {
      for (const [addr, pte] of mm.pt) {
        if (pte.kind !== "present") continue;
        const page = this.k.pageAt(pte.pfn);
        const vma = findVma(mm, addr);
        if (page === null || vma === undefined) continue; // the checker reports these itself
        assert(page.index === linearPageIndex(vma, addr), "I7", () => `${page} index ${page.index} ≠ linear_page_index ${linearPageIndex(vma, addr)} at ${vma}:${addr}`, page, vma);
        if (!page.anon) continue;
        assert(page.mapping === vma.anonVma, "I6", () => `${page} is on ${this.describeMapping(page)}, mapped by ${vma} whose anon_vma is ${vma.anonVma ? avName(vma.anonVma as AnonVma) : "none"}`, page, vma);
      }
    }
  }
}

/**
 * Build the 2.6.7 design with a given i_mmap structure, so that the priority-search-tree
 * variant 2.6.7 really shipped is one line: makeAnonVma("anon-vma-prio", (v) => ...).
 */
export function makeAnonVma(name: string, createIMmap: IMmapFactory = (onVisit) => new IMmapList(onVisit)): DesignInfo {
  return {
    name,
    era: "2.6.7",
    summary: "anon_vma per fork family: a page points to its vma's anon_vma; the walk visits every vma on it",
    mutants: ["no-join-at-fork", "free-anon-vma-early", "index-is-address"],
    interleave: true,
    create: (k, mutant) => new AnonVmaDesign(k, createIMmap, mutant),
  };
}

export const anonVma = makeAnonVma("anon-vma");
