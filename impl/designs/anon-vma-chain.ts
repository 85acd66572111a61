/*
 * anon-vma-chain — Linux 2.6.34 onwards (Rik van Riel), with its refinements: the root
 * anon_vma (2.6.36, Rik van Riel), the interval tree of chains (3.7, Michel Lespinasse), the
 * reuse of anon_vmas at fork (3.19, Konstantin Khlebnikov, 7a3ef208e662) and that reuse's fix
 * (6.0 / 5.19.7, Jann Horn, 2555283eb40d, CVE-2022-42703), and 6.16's vma merge rules
 * (Lorenzo Stoakes, 879bca0a2c4f; fixed by 61f67c230a5e, CVE-2026-23077). One file builds
 * both reuse rules and both merge rules:
 *
 *   "anon-vma-chain"       the 6.0 rule:  !dst->anon_vma && src->anon_vma &&
 *                          num_children < 2 && num_active_vmas == 0
 *   "anon-vma-chain-3.19"  the 3.19–5.19 rule: !dst->anon_vma && av != src->anon_vma &&
 *                          degree < 2   (degree = children + active vmas). Known broken (B1):
 *                          an anon_vma with no child but one active vma elsewhere has degree 1
 *                          and is "reused", so two vmas share an anon_vma with different
 *                          chains (I5); a merge then drops a chain (I6, I1) and an exit frees an
 *                          anon_vma that pages still point to (I4).
 *   "anon-vma-chain-6.16"  the 6.0 reuse rule with 6.16's is_mergeable_anon_vma() as fixed in
 *                          6.19 / 6.18.8: mremap's moved range, carrying an anon_vma, may merge
 *                          into a neighbour without one unless its source is a fork child, and
 *                          the neighbour adopts the source's chain (dup_anon_vma(target,
 *                          copied_from)). The 6.0 rule refuses such a merge (docs/merge-6.16.md).
 *
 * Structures (field = the equation it satisfies):
 *   anon_vma       {root = the fork tree's first anon_vma, parent = the anon_vma of the vma this
 *                   one's first vma was forked from (a root is its own parent),
 *                   refcount = 1 while its tree is non-empty + (root only) one per live
 *                   descendant anon_vma, num_children = live anon_vmas whose parent it is
 *                   (a root counts itself), num_active_vmas = vmas whose ->anon_vma it is
 *                   (3.19: degree = the sum of the two), rb_root = interval tree of chains}
 *   anon_vma_chain {vma, anon_vma, same_vma (vma.rmap: newest first, as list_add leaves it),
 *                   rb node + rb_subtree_last keyed [vm_pgoff, vm_pgoff + pages - 1]}
 *   vma.anonVma    the anon_vma this vma's new exclusive pages go to.
 *
 * How the walk finds the PTEs: an anon page's mapping is an anon_vma and its index the linear
 * page index; query that anon_vma's interval tree for the chains whose vma covers the index,
 * take vma_address and check the PTE's pfn. A file page: query file.iMmap the same way.
 *
 * Costs (charged through the Slab, sizes without lockdep/debug):
 *   anon_vma        6.0: root, rw_semaphore (5 words), refcount, num_children, num_active_vmas,
 *                   parent, rb_root_cached (2 words) = 52 bytes ILP32 / 96 LP64;
 *                   3.19: a single unsigned degree and a plain rb_root = 44 / 72.
 *   anon_vma_chain  vma, anon_vma, same_vma (2), rb node (3), rb_subtree_last = 32 / 64
 *                   (24 / 48 before 3.7's interval tree: we charge the tree node).
 *   The vma's own anon_vma pointer and anon_vma_chain list_head (3 words) are not charged.
 *   Fork: per private vma with an anon_vma, chain length + 1 chain objects and (unless one is
 *   reused) one anon_vma. First fault in a vma: one chain and at most one anon_vma. Walk:
 *   only the vmas that may hold the page (those on the page's anon_vma whose pgoff range
 *   covers its index), not the whole fork family.
 * Trade-offs: against 2.6.7's anon-vma, a walk no longer visits every vma of a long-lived
 * forking family, at the price of chain objects per fork; the chains grow with fork depth,
 * which is what the 3.19 reuse bounds, and that reuse is where the CVE lived.
 *
 * Invariants checked by check():
 *   I4  the anon_vma of every mapped or swap-cached anon page, and every anon_vma on a live
 *       vma's chain, is not freed;
 *   I5  V1.anonVma === V2.anonVma ⇒ chain(V1) and chain(V2) hold the same anon_vmas;
 *   I6  for every PTE (V, addr) mapping anon page X: X.mapping is on chain(V); and a vma's own
 *       anon_vma is on its chain;
 *   I7  X.index === linear_page_index(V, addr) for every PTE mapping X (anon and file);
 *   I8  num_children / num_active_vmas (6.0) or degree (3.19) and refcount equal their
 *       recomputation; every chain object sits in its anon_vma's tree and nowhere else;
 *   I11 every anon_vma's interval tree holds each chain under its vma's current pgoff range.
 *
 * Simplified: no locking (the root's rwsem is charged, never taken); no KSM, THP or hugetlb;
 * page_get_anon_vma's temporary references are not modelled (migration runs under the
 * kernel's single thread). is_mergeable_anon_vma needs to know which vma is the existing
 * neighbour (its chain must be singular) and which the range being merged: the interface's
 * anonMergeable(a, b) does not say, so for two linked vmas we accept whichever has the
 * anon_vma if its chain is singular, and vmaMerge's dup_anon_vma covers the case the kernel
 * would have refused (both outcomes are correct; only the vma layout differs).
 *
 * Mutants (6.0 rule): "b4-youngest-anon-vma" gives a non-exclusive swap-in page the vma's own
 * anon_vma instead of the root (primer B4, fixed by ea90002b0fa7); "b5-prepare-reuses-
 * nonsingular" lets anon_vma_prepare take a neighbour's anon_vma whose chain is not singular
 * (primer B5, fixed by d0e9fe1758f2).
 * Mutant (6.16 merge rule): "pre-61f67c230a5e" is 6.16.0–6.18.7: the moved range merges
 * even if its source is a fork child, and vma_expand() never duplicates the source's anon_vma
 * into the target, so unmapping the source frees an anon_vma under the moved pages
 * (CVE-2026-23077, catalogue H6).
 * Mutant (3.19 rule): "clone-before-assign" is 3.19-rc1..rc3's vma_adjust(), which called
 * anon_vma_clone(importer, exporter) before setting importer->anon_vma, so the clone took the
 * importer for a fork child: it could adopt an ancestor with degree < 2 and counted the degree
 * on whatever it adopted (or on nothing), then vma_adjust overwrote importer->anon_vma with
 * the exporter's. The exporter's anon_vma is one active vma short and later underflows
 * ("kernel BUG at mm/rmap.c:399", BUG_ON(anon_vma->degree) in unlink_anon_vmas); fixed by
 * b800c91a0517 "mm: fix corner case in anon_vma endless growing prevention" (Konstantin
 * Khlebnikov, 3.19-rc4), which assigns ->anon_vma first.
 */
import { assert, fail, isFreed } from "../assert.js";
import type { AnonAdd, DesignInfo, RmapDesign } from "../design.js";
import type { Kernel } from "../kernel.js";
import { nextVma, prevVma } from "../mmap.js";
import { Slab } from "../slab.js";
import { type GraphBuilder, pageNode, vmaNode } from "../snapshot.js";
import { IMmapIntervalTree } from "../structures/immap-trees.js";
import { IntervalTree, type KeyOf } from "../structures/interval-tree.js";
import { type IMmap, type Page, VM_READ, VM_WRITE, type Vma, linearPageIndex, vmaAddress } from "../types.js";

/** Which reuse test anon_vma_clone applies at fork. */
export type ReuseRule = "6.0" | "3.19";

/**
 * Which is_mergeable_anon_vma() a moved range meets (docs/merge-6.16.md). "6.0": a range
 * copy_vma proposes with an anon_vma never merges into a neighbour without one (the target's
 * chain must be singular, and an unfaulted target's is empty). "6.16": it may (879bca0a2c4f),
 * unless its source was forked ("mm/vma: enforce VMA fork limit on unfaulted,faulted mremap
 * merge too"), and the target adopts the source's chain (61f67c230a5e).
 */
export type MergeRule = "6.0" | "6.16";

export interface AnonVma {
  readonly id: number;
  /** The fork tree's first anon_vma (itself for a root). */
  root: AnonVma;
  /** The anon_vma this one was forked from (itself for a root). */
  parent: AnonVma;
  refcount: number;
  /** 6.0: live anon_vmas whose parent this is (a root counts itself). */
  numChildren: number;
  /** 6.0: vmas whose anonVma this is. */
  numActiveVmas: number;
  /** 3.19–5.19: numChildren + numActiveVmas in one counter. */
  degree: number;
  /** kernel: rb_root: the chains of every vma that may map this anon_vma's pages. */
  readonly rbRoot: IntervalTree<AnonVmaChain>;
}

/** kernel: struct anon_vma_chain: one vma on one anon_vma (its tree node is the tree's). */
export class AnonVmaChain {
  constructor(
    readonly vma: Vma,
    readonly anonVma: AnonVma,
  ) {}
  toString(): string {
    return `anon_vma_chain(${this.vma} on anon_vma #${this.anonVma.id})`;
  }
}

/** The i_mmap structure a design variant uses; `onVisit` counts each vma examined. */
export type IMmapFactory = (onVisit: () => void) => IMmap;

const sizes = {
  "6.0": { anon_vma: { ilp32: 52, lp64: 96 }, anon_vma_chain: { ilp32: 32, lp64: 64 } },
  "3.19": { anon_vma: { ilp32: 44, lp64: 72 }, anon_vma_chain: { ilp32: 32, lp64: 64 } },
} as const;

/** kernel: VM_ACCESS_FLAGS: anon_vma_compatible() ignores them. */
const VM_ACCESS_FLAGS = VM_READ | VM_WRITE;

/** vma.rmap: the same_vma list, newest first (kernel: list_add in anon_vma_chain_link). */
function chainOf(vma: Vma): AnonVmaChain[] {
  const chain = vma.rmap as AnonVmaChain[] | undefined;
  assert(chain !== undefined, "KERNEL", () => `${vma} has no anon_vma_chain list (never linked)`, vma);
  return chain;
}

/** kernel: avc_start_pgoff() / avc_last_pgoff(): an avc is keyed by its vma's pgoff range. */
const avcKey: KeyOf<AnonVmaChain> = { first: (avc) => avc.vma.vmPgoff, last: (avc) => avc.vma.lastPgoff };

/** A PTE's place in check() messages. */
const where = (mm: { id: number }, addr: number): string => `(mm${mm.id}, ${addr})`;

/** Does the chain hold a chain object of av (before index `below`, if given)? */
function chainHas(chain: readonly AnonVmaChain[], av: AnonVma, below = chain.length): boolean {
  for (let i = 0; i < below; i++) if ((chain[i] as AnonVmaChain).anonVma === av) return true;
  return false;
}

/** check()'s recomputation of one anon_vma's counters (harness scratch, not kernel state). */
interface CheckTally {
  epoch: number;
  /** The first vma met with this anon_vma (I5 compares the others' chains with its chain). */
  first: Vma | null;
  children: number;
  active: number;
  descendants: number;
}

const avName = (av: AnonVma): string => (isFreed(av) ? "a freed anon_vma" : `anon_vma #${av.id}`);

class AnonVmaChainDesign implements RmapDesign {
  readonly slab: Slab;
  /** Every live anon_vma, for check() (the kernel keeps none: they hang off vmas and pages). */
  private readonly live = new Set<AnonVma>();
  /** check()'s scratch: per anon_vma, the first vma seen and the recomputed counters. */
  private readonly scratchAvcs: AnonVmaChain[] = [];
  private readonly tallies = new Map<AnonVma, CheckTally>();
  private checkEpoch = 0;
  private nextId = 1;

  constructor(
    private readonly k: Kernel,
    private readonly rule: ReuseRule,
    private readonly iMmapFactory: IMmapFactory,
    private readonly mutant?: string,
    private readonly merge: MergeRule = "6.0",
  ) {
    this.slab = new Slab(sizes[rule]);
  }

  createIMmap(): IMmap {
    return this.iMmapFactory(() => this.k.counters.vmasVisited++);
  }

  // --- anon_vma lifecycle (mm/rmap.c) ----------------------------------------------------

  /** kernel: anon_vma_alloc(): refcount 1, its own root and parent, counters zero. */
  private anonVmaAlloc(): AnonVma {
    this.slab.allocator.allocate("anon_vma"); // may fail (ENOMEM) before anything exists
    const av = {
      id: this.nextId++,
      refcount: 1,
      numChildren: 0,
      numActiveVmas: 0,
      degree: 0,
      rbRoot: new IntervalTree<AnonVmaChain>(avcKey, () => this.k.counters.vmasVisited++),
    } as AnonVma;
    av.root = av;
    av.parent = av;
    // 3.19's anon_vma_alloc() starts degree at 1 for the first vma or the self-parent link;
    // addChild/addActive below account for that link explicitly instead.
    this.live.add(av);
    return this.slab.charge("anon_vma", av);
  }

  private addChild(av: AnonVma, n: 1 | -1): void {
    if (this.rule === "6.0") av.numChildren += n;
    else av.degree += n;
  }
  private addActive(av: AnonVma, n: 1 | -1): void {
    if (this.rule === "6.0") av.numActiveVmas += n;
    else av.degree += n;
  }

  /** kernel: put_anon_vma() → __put_anon_vma(): a freed non-root drops its root's reference. */
  private putAnonVma(av: AnonVma, where: string): void {
    av.refcount--;
    assert(av.refcount >= 0, "I8", () => `${avName(av)}: refcount below zero at ${where}`, av);
    if (av.refcount > 0) return;
    const root = av.root;
    this.anonVmaFree(av, where);
    if (root !== av) {
      root.refcount--;
      if (root.refcount === 0) this.anonVmaFree(root, where);
    }
  }

  private anonVmaFree(av: AnonVma, where: string): void {
    assert(av.rbRoot.size() === 0, "I8", () => `${avName(av)} freed with ${av.rbRoot.size()} chain(s) on its tree`, av);
    this.live.delete(av);
    this.slab.free("anon_vma", av, where);
  }

  /** kernel: anon_vma_chain_alloc() then anon_vma_chain_link(): onto vma's list (newest first) and av's tree. */
  private chainLink(vma: Vma, av: AnonVma, avc = this.slab.alloc("anon_vma_chain", new AnonVmaChain(vma, av))): void {
    chainOf(vma).unshift(avc);
    av.rbRoot.insert(avc);
  }

  /**
   * kernel: anon_vma_clone(): give dst a chain object on every anon_vma of src's chain, oldest
   * first; a dst without an anon_vma (fork) may adopt one of them. Returns the objects made.
   */
  private anonVmaClone(dst: Vma, src: Vma): number {
    const chain = chainOf(src);
    try {
      for (let i = chain.length - 1; i >= 0; i--) {
        const av = (chain[i] as AnonVmaChain).anonVma;
        this.chainLink(dst, av);
        if (dst.anonVma === null && this.reusable(av, src)) dst.anonVma = av;
      }
    } catch (e) {
      // kernel: enomem_failure. dst->anon_vma (reused above, or copied by the caller) was never
      // counted active, so it is dropped before unlink_anon_vmas() uncounts it: 3fe89b3e2a7b
      // (Leon Yu, 4.0) fixed the degree underflow of forgetting that (B2).
      if (this.mutant !== "b2-clone-error-keeps-anon-vma") dst.anonVma = null;
      this.unlinkAnonVmas(dst, "anon_vma_clone (ENOMEM)");
      throw e;
    }
    if (dst.anonVma !== null) this.addActive(dst.anonVma as AnonVma, 1);
    return chain.length;
  }

  /** The fork-time reuse test of anon_vma_clone() (3.19 onwards). */
  private reusable(av: AnonVma, src: Vma): boolean {
    if (this.rule === "3.19") return av !== src.anonVma && av.degree < 2;
    return src.anonVma !== null && av.numChildren < 2 && av.numActiveVmas === 0;
  }

  /** kernel: unlink_anon_vmas(): drop every chain; free anon_vmas whose tree empties. */
  private unlinkAnonVmas(vma: Vma, where: string): void {
    const chain = chainOf(vma);
    const emptied: AnonVmaChain[] = [];
    for (const avc of chain) {
      const av = avc.anonVma;
      av.rbRoot.remove(avc);
      if (av.rbRoot.size() === 0) {
        this.addChild(av.parent, -1);
        emptied.push(avc);
        continue;
      }
      this.slab.free("anon_vma_chain", avc, where);
    }
    if (vma.anonVma !== null) this.addActive(vma.anonVma as AnonVma, -1);
    // Newest to oldest, so that the root goes last.
    for (const avc of emptied) {
      const av = avc.anonVma;
      this.slab.free("anon_vma_chain", avc, where);
      this.putAnonVma(av, where);
    }
    chain.length = 0;
  }

  // --- hooks -------------------------------------------------------------------------------

  mmInit(): void {}
  mmFork(): void {}
  mmExit(): void {}

  vmaLink(vma: Vma): void {
    if (vma.rmap === undefined) vma.rmap = [];
  }

  vmaUnlink(vma: Vma, where: string): void {
    this.unlinkAnonVmas(vma, where);
    vma.anonVma = null;
  }

  /** kernel: anon_vma_interval_tree_pre_update_vma() / post_update_vma() around the change. */
  vmaAdjust(vma: Vma, start: number, end: number, pgoff: number): void {
    const chain = (vma.rmap as AnonVmaChain[] | undefined) ?? [];
    for (const avc of chain) avc.anonVma.rbRoot.remove(avc);
    vma.vmStart = start;
    vma.vmEnd = end;
    vma.vmPgoff = pgoff;
    for (const avc of chain) avc.anonVma.rbRoot.insert(avc);
  }

  /** kernel: __split_vma() → anon_vma_clone(new, vma); new already holds vma's anon_vma. */
  vmaSplit(vma: Vma, nw: Vma): void {
    nw.rmap = [];
    this.anonVmaClone(nw, vma);
  }

  /** kernel: copy_vma() → anon_vma_clone(new_vma, vma) for mremap. */
  vmaCopy(src: Vma, dst: Vma): void {
    dst.rmap = [];
    this.anonVmaClone(dst, src);
  }

  /**
   * kernel: dup_anon_vma() when keep had no anon_vma; otherwise anon_vma_merge() assumes equal
   * anon_vmas mean equal chains (I5) and the vmaUnlink(gone) that follows drops gone's chain.
   * `copied`: gone is mremap's source and keep the neighbour that took the moved range.
   */
  vmaMerge(keep: Vma, gone: Vma, copied?: boolean): void {
    if (gone.anonVma === null) return;
    // CVE-2026-23077: 6.16.0–6.18.7's vma_expand() duplicated anon_vma state only from a
    // `next` it removed, never from the copied-from vma (fixed by 61f67c230a5e).
    if (copied && this.mutant === "pre-61f67c230a5e") return;
    if (keep.anonVma === null) {
      if (this.mutant === "clone-before-assign") {
        this.anonVmaClone(keep, gone);
        keep.anonVma = gone.anonVma;
        return;
      }
      keep.anonVma = gone.anonVma;
      try {
        this.anonVmaClone(keep, gone);
      } catch (e) {
        // B12, its sequential part: ->anon_vma was set before the clone could fail, and a page
        // faulted into keep in that window kept it; d8ab9f7b644a (Jann Horn, 6.5) write-locks
        // the vma first. The mutant leaves the assignment as the racing fault saw it.
        if (this.mutant === "b12-dup-keeps-anon-vma") keep.anonVma = gone.anonVma;
        throw e;
      }
      return;
    }
    assert(keep.anonVma === gone.anonVma, "KERNEL", () => `merge of ${keep} and ${gone} with different anon_vmas`, keep, gone);
  }

  /** kernel: the unlink_anon_vmas(anon_dup) of vma_merge()'s error path (824135c46b00). */
  vmaMergeAbort(keep: Vma): void {
    this.vmaUnlink(keep, "vma_merge (ENOMEM)");
  }

  /** kernel: anon_vma_fork(child, parent). */
  vmaFork(parent: Vma, child: Vma): void {
    child.rmap = [];
    child.anonVma = null; // "Drop inherited anon_vma, we'll reuse existing or allocate new."
    if (parent.anonVma === null) return;
    const pav = parent.anonVma as AnonVma;
    const c = this.k.counters;
    const cloned = this.anonVmaClone(child, parent);
    c.objectsAllocatedAtFork += cloned;
    c.forkRmapOps += cloned; // one chain object linked per anon_vma of the parent's chain
    if (child.anonVma !== null) return; // an existing anon_vma was reused
    c.forkRmapOps++;
    let av: AnonVma;
    try {
      av = this.anonVmaAlloc();
    } catch (e) {
      this.forkOutError(child); // kernel: out_error
      throw e;
    }
    this.addActive(av, 1);
    try {
      this.slab.allocator.allocate("anon_vma_chain");
    } catch (e) {
      this.putAnonVma(av, "anon_vma_fork (ENOMEM)"); // kernel: out_error_free_anon_vma
      this.forkOutError(child);
      throw e;
    }
    const avc = this.slab.charge("anon_vma_chain", new AnonVmaChain(child, av));
    av.root = pav.root;
    av.parent = pav;
    av.root.refcount++; // kernel: get_anon_vma(anon_vma->root)
    child.anonVma = av;
    this.chainLink(child, av, avc);
    this.addChild(pav, 1);
    c.objectsAllocatedAtFork += 2;
  }

  /**
   * anon_vma_fork()'s out_error: the chain the clone gave the child is unlinked, since
   * dup_mmap frees the vma without unlink_anon_vmas(). The mutant "fork-error-keeps-chain"
   * (rmapcheck's own, H5) forgets it: the chain objects stay on the anon_vmas' trees,
   * pointing at a freed vma.
   */
  private forkOutError(child: Vma): void {
    if (this.mutant !== "fork-error-keeps-chain") this.unlinkAnonVmas(child, "anon_vma_fork (ENOMEM)");
  }

  /**
   * kernel: is_mergeable_anon_vma(). Equal anon_vmas merge; two without merge; when only one
   * has an anon_vma and it is linked, its chain must be singular (not a fork child). An
   * unlinked proposed range carrying one (only mremap's copy_vma proposes such a range) joins a
   * neighbour without one only under the 6.16 rule, and only if its source is no fork child.
   */
  anonMergeable(a: Vma, b: Vma, copiedFrom?: Vma): boolean {
    if (a.anonVma !== null && b.anonVma !== null) return a.anonVma === b.anonVma;
    if (a.anonVma === null && b.anonVma === null) return true;
    if (a.vmEnd !== b.vmStart) return true; // are_anon_vmas_compatible(prev, next)
    const withAnon = a.anonVma !== null ? a : b;
    if (withAnon.rmap === undefined) return this.copyMergeable(copiedFrom);
    return chainOf(withAnon).length === 1;
  }

  /**
   * May mremap's moved range, carrying copiedFrom's anon_vma, merge into a neighbour that has
   * none? 6.0: no (is_mergeable_anon_vma(vmg->anon_vma, NULL, tgt) wants tgt's chain singular,
   * and an unfaulted tgt's chain is empty). 6.16 (879bca0a2c4f): case 1, "we will
   * dup_anon_vma() from src into tgt", and for a new range src is NULL, so yes; the fix series
   * of 6.19 / 6.18.8 adds vma_is_fork_child(vmg->copied_from) to the test.
   */
  private copyMergeable(copiedFrom: Vma | undefined): boolean {
    if (this.merge === "6.0") return false;
    if (this.mutant === "pre-61f67c230a5e") return true;
    assert(copiedFrom !== undefined, "KERNEL", () => "a proposed range with an anon_vma but no copied-from vma (only copy_vma proposes one)");
    return chainOf(copiedFrom).length === 1;
  }

  hasAnonObject(vma: Vma): boolean {
    return vma.anonVma !== null;
  }

  /** kernel: anon_vma_prepare(): reuse a mergeable neighbour's anon_vma, else a new root. */
  anonPrepare(vma: Vma): void {
    if (vma.anonVma !== null) return;
    const c = this.k.counters;
    // The chain object is allocated first, then the anon_vma; when that fails the chain
    // object is freed (kernel: out_enomem_free_avc; here it was never charged) and the fault
    // returns VM_FAULT_OOM.
    this.slab.allocator.allocate("anon_vma_chain");
    let av = this.findMergeableAnonVma(vma);
    if (av === undefined) {
      av = this.anonVmaAlloc();
      this.addChild(av, 1); // self-parent link for a new root
      c.objectsAllocatedAtFault++;
    }
    vma.anonVma = av;
    this.chainLink(vma, av, this.slab.charge("anon_vma_chain", new AnonVmaChain(vma, av)));
    this.addActive(av, 1);
    c.objectsAllocatedAtFault++;
  }

  /** kernel: find_mergeable_anon_vma(): next first, then prev. */
  private findMergeableAnonVma(vma: Vma): AnonVma | undefined {
    const next = nextVma(vma.mm, vma);
    const fromNext = next && this.reusableAnonVma(next, vma, next);
    if (fromNext) return fromNext;
    const prev = prevVma(vma.mm, vma);
    return prev && this.reusableAnonVma(prev, prev, vma);
  }

  /** kernel: reusable_anon_vma(old, a, b): only a neighbour that never forked (B5). */
  private reusableAnonVma(old: Vma, a: Vma, b: Vma): AnonVma | undefined {
    const compatible =
      a.vmEnd === b.vmStart &&
      a.vmFile === b.vmFile &&
      ((a.vmFlags ^ b.vmFlags) & ~VM_ACCESS_FLAGS) === 0 &&
      b.vmPgoff === a.vmPgoff + (b.vmStart - a.vmStart);
    if (!compatible || old.anonVma === null) return undefined;
    if (this.mutant === "b5-prepare-reuses-nonsingular") return old.anonVma as AnonVma;
    return chainOf(old).length === 1 ? (old.anonVma as AnonVma) : undefined;
  }

  /** kernel: __page_set_anon_rmap() via page_add_new_anon_rmap() / page_add_anon_rmap(). */
  pageAddAnon(page: Page, vma: Vma, addr: number, how: AnonAdd): void {
    assert(vma.anonVma !== null, "KERNEL", () => `anon page added to ${vma} without anon_vma_prepare`, vma);
    if (how !== "new" && (page.mapcount > 0 || page.mapping !== null)) return; // not first, or PageAnon already
    let av = vma.anonVma as AnonVma;
    // A page other mms may map (their swap PTEs) must get the oldest anon_vma (B4).
    if (how === "swapin-shared" && this.mutant !== "b4-youngest-anon-vma") av = av.root;
    page.mapping = av;
    page.index = linearPageIndex(vma, addr);
  }

  pageAddFile(): void {}
  pageDupAtFork(): void {}
  pageRemove(): void {}

  /** kernel: page_move_anon_rmap(): an exclusive page reused by do_wp_page moves to vma's anon_vma. */
  pageReuse(page: Page, vma: Vma): void {
    assert(vma.anonVma !== null, "KERNEL", () => `COW reuse in ${vma} without anon_vma`, vma);
    page.mapping = vma.anonVma;
  }

  pageMove(): "moved" {
    return "moved"; // mremap keeps vm_pgoff, so index stays valid
  }
  swapinMustCopy(): boolean {
    return false;
  }
  pageMigrate(): void {}
  pageFree(): void {}

  // --- the walk (rmap_walk_anon / rmap_walk_file) --------------------------------------------

  walk(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    // kernel: the walk stops once every mapping is found — try_to_unmap's rwc->done is
    // folio_not_mapped(), folio_referenced_one() returns false when pra->mapcount reaches 0.
    let mapcount = page.mapcount;
    const one = (vma: Vma): boolean => {
      const addr = vmaAddress(page, vma);
      if (addr === undefined || !this.k.ptePointsTo(vma.mm, addr, page.pfn)) return true;
      if (!visit(vma, addr)) return false;
      return --mapcount > 0;
    };
    if (mapcount === 0) return; // callers test folio_mapped() first
    if (!page.anon) {
      page.file?.iMmap.query(page.index, page.index, (vma) => one(vma));
      return;
    }
    // kernel: folio_lock_anon_vma_read() gives up on an unmapped page: its mapping may be stale.
    if (page.mapping === null) return;
    const av = page.mapping as AnonVma;
    av.rbRoot.query(page.index, page.index, (avc) => one(avc.vma));
  }

  // --- checks ----------------------------------------------------------------------------------

  check(): void {
    this.checkEpoch++;
    this.checkPages();
    const chains = this.checkVmas();
    this.checkAnonVmas(chains);
  }

  /** av's scratch tally for this check (reset when first touched in a new check). */
  private tally(av: AnonVma): CheckTally {
    const epoch = this.checkEpoch;
    let t = this.tallies.get(av);
    if (!t) {
      t = { epoch, first: null, children: 0, active: 0, descendants: 0 };
      this.tallies.set(av, t);
    } else if (t.epoch !== epoch) {
      t.epoch = epoch;
      t.first = null;
      t.children = t.active = t.descendants = 0;
    }
    return t;
  }

  /*
   * The checks run after every step, so they allocate nothing per object and format a message
   * only when they fail (`if (!cond) fail(...)`); the order of the tests is the order of the
   * assertions they replaced, so the first failure and its message are the same.
   */

  /** I4, I6, I7 for every PTE; I4 for swap-cache pages. */
  private checkPages(): void {
    for (const mm of this.k.mms.values()) {
      for (const vma of mm.vmas) {
        for (let addr = vma.vmStart; addr < vma.vmEnd; addr++) {
          const pte = mm.pt.get(addr);
          if (pte?.kind !== "present") continue;
          const page = this.k.pageAt(pte.pfn);
          if (!page) continue; // the kernel's checker reports PTEs to free frames
          if (page.index !== linearPageIndex(vma, addr)) fail("I7", `${page} at ${where(mm, addr)}: index ${page.index} ≠ linear_page_index ${linearPageIndex(vma, addr)}`, page, vma);
          if (!page.anon) continue;
          const av = page.mapping as AnonVma | null;
          if (av === null) fail("I6", `${page} mapped at ${where(mm, addr)} has no anon_vma`, page);
          if (isFreed(av)) fail("I4", `${page} mapped at ${where(mm, addr)}: its anon_vma was freed`, page);
          if (!chainHas(chainOf(vma), av)) fail("I6", `${page} mapped at ${where(mm, addr)}: its ${avName(av)} is not on ${vma}'s chain`, page, vma);
        }
      }
    }
    for (const page of this.k.swapCache.values()) {
      if (page.mapping !== null && page.anon && isFreed(page.mapping as object)) fail("I4", `swap-cache ${page}: its anon_vma was freed`, page);
    }
  }

  /** I4 and I6 for the chains, I5 between vmas sharing an anon_vma; returns the chain count. */
  private checkVmas(): number {
    let chains = 0;
    for (const mm of this.k.mms.values()) {
      for (const vma of mm.vmas) {
        const chain = chainOf(vma);
        chains += chain.length;
        for (let i = 0; i < chain.length; i++) {
          const avc = chain[i] as AnonVmaChain;
          if (isFreed(avc)) fail("I4", `${vma}'s chain holds a freed anon_vma_chain`, vma);
          if (!this.live.has(avc.anonVma) || isFreed(avc.anonVma)) fail("I4", `${vma}'s chain holds a freed anon_vma`, vma);
          if (avc.vma !== vma) fail("I8", `${vma}'s chain holds a chain object of ${avc.vma}`, vma);
          if (chainHas(chain, avc.anonVma, i)) fail("I8", `${vma}'s chain holds ${avName(avc.anonVma)} twice`, vma);
        }
        if (vma.anonVma === null) {
          if (chain.length !== 0) fail("I8", `${vma} has a chain but no anon_vma`, vma);
          continue;
        }
        const av = vma.anonVma as AnonVma;
        if (!chainHas(chain, av)) fail("I6", `${vma}'s own ${avName(av)} is not on its chain`, vma);
        const t = this.tally(av);
        const first = t.first;
        if (first === null) {
          t.first = vma;
          continue;
        }
        // Neither chain holds an anon_vma twice (checked above), so equal sets = same length
        // and every anon_vma of one on the other.
        const firstChain = chainOf(first);
        let same = firstChain.length === chain.length;
        for (let i = 0; same && i < chain.length; i++) same = chainHas(firstChain, (chain[i] as AnonVmaChain).anonVma);
        if (!same) {
          const ids = (c: AnonVmaChain[]) => c.map((x) => `#${x.anonVma.id}`).join(",");
          fail("I5", `${first} and ${vma} share ${avName(av)} but their chains differ: {${ids(firstChain)}} vs {${ids(chain)}}`, first, vma);
        }
      }
    }
    return chains;
  }

  /** I8 (counters, refcounts, chain placement) and I11 (tree keys). */
  private checkAnonVmas(chains: number): void {
    // Recomputed counters, per anon_vma, in scratch tallies stamped with this check's epoch.
    for (const mm of this.k.mms.values()) for (const vma of mm.vmas) if (vma.anonVma !== null) this.tally(vma.anonVma as AnonVma).active++;
    let inTrees = 0;
    for (const av of this.live) {
      av.rbRoot.check();
      const n = av.rbRoot.size();
      inTrees += n;
      const onTree = av.rbRoot.collect(this.scratchAvcs);
      for (let i = 0; i < onTree.length; i++) {
        const avc = onTree[i] as AnonVmaChain;
        if (avc.anonVma !== av) fail("I8", `chain of ${avc.vma} on #${av.id}'s tree belongs to #${avc.anonVma.id}`);
        if (isFreed(avc.vma)) fail("I4", `#${av.id}'s tree holds a chain of a freed vma`);
      }
      onTree.length = 0;
      if (n > 0) this.tally(av.parent).children++;
      if (av.root !== av) this.tally(av.root).descendants++;
      if (!this.live.has(av.root)) fail("I4", `anon_vma #${av.id}'s root was freed`);
    }
    if (inTrees !== chains) fail("I8", `${inTrees} chain objects on anon_vma trees, ${chains} on vma chains`);
    for (const av of this.live) {
      const t = this.tally(av);
      const ch = t.children;
      const ac = t.active;
      if (this.rule === "6.0") {
        if (av.numChildren !== ch) fail("I8", `anon_vma #${av.id}: num_children ${av.numChildren}, recomputed ${ch}`, av);
        if (av.numActiveVmas !== ac) fail("I8", `anon_vma #${av.id}: num_active_vmas ${av.numActiveVmas}, recomputed ${ac}`, av);
      } else if (av.degree !== ch + ac) {
        fail("I8", `anon_vma #${av.id}: degree ${av.degree}, recomputed ${ch} children + ${ac} vmas`, av);
      }
      const refs = (av.rbRoot.size() > 0 ? 1 : 0) + (av.root === av ? t.descendants : 0);
      if (av.refcount !== refs) fail("I8", `anon_vma #${av.id}: refcount ${av.refcount}, recomputed ${refs}`, av);
      if (refs <= 0) fail("I9", `anon_vma #${av.id} is unreferenced but not freed`, av);
    }
  }

  /**
   * The anon_vma forest: each anon_vma with its counters, its parent and root; each vma's
   * same_vma chain as "avc" edges (one per anon_vma_chain object) and its own anon_vma; each
   * anon page's mapping.
   */
  snapshot(g: GraphBuilder): void {
    const avNode = (av: AnonVma): string =>
      g.pointer(av, (a) => {
        const counters = this.rule === "3.19" ? `degree ${a.degree}` : `num_children ${a.numChildren}, num_active_vmas ${a.numActiveVmas}`;
        // 3.19's one counter is the story of CVE-2022-42703: it goes in the label.
        const label = this.rule === "3.19" ? `anon_vma #${a.id} · degree ${a.degree}` : `anon_vma #${a.id}`;
        return g.node(`anon_vma:${a.id}`, "anon_vma", label, `${counters}, refcount ${a.refcount}, ${a.rbRoot.size()} chains in its tree`);
      }, "anon_vma");
    for (const av of this.live) {
      const me = avNode(av);
      if (isFreed(av)) continue;
      if (av.parent !== av) g.edge(me, avNode(av.parent), "parent");
      if (av.root !== av && av.root !== av.parent) g.edge(me, avNode(av.root), "root");
    }
    for (const mm of this.k.mms.values()) {
      for (const vma of mm.vmas) {
        const chain = (vma.rmap as AnonVmaChain[] | undefined) ?? [];
        for (const avc of chain) g.edge(vmaNode(vma), isFreed(avc) ? g.pointer(avc, () => "", "anon_vma_chain") : avNode(avc.anonVma), "avc");
        if (vma.anonVma !== null) g.edge(vmaNode(vma), avNode(vma.anonVma as AnonVma), "anon_vma");
      }
    }
    for (const page of this.k.frames) {
      if (page?.anon && page.mapping !== null) g.edge(pageNode(page), avNode(page.mapping as AnonVma), "mapping");
    }
  }

  explain(page: Page, vma: Vma, addr: number): string {
    if (!page.anon) return `${vma} is not on file${page.file?.id}'s i_mmap under index ${page.index}`;
    const av = page.mapping as AnonVma | null;
    if (av === null) return `${page} has no anon_vma`;
    if (isFreed(av)) return `${page}'s anon_vma was freed`;
    const chain = (vma.rmap as AnonVmaChain[] | undefined) ?? [];
    if (!chain.some((avc) => avc.anonVma === av)) {
      return `${vma}'s chain {${chain.map((c) => `#${c.anonVma.id}`).join(",")}} lacks the page's anon_vma #${av.id}`;
    }
    if (page.index !== linearPageIndex(vma, addr)) return `index ${page.index} ≠ linear_page_index ${linearPageIndex(vma, addr)} at ${addr}`;
    return `anon_vma #${av.id}'s tree does not return ${vma} for index ${page.index}`;
  }
}

/**
 * Build a variant: its name, its reuse rule, the i_mmap structure its files use, and the merge
 * rule a moved range meets.
 */
export function makeAnonVmaChain(
  name: string,
  rule: ReuseRule,
  createIMmap: IMmapFactory = (onVisit) => new IMmapIntervalTree(onVisit),
  merge: MergeRule = "6.0",
): DesignInfo {
  if (merge === "6.16") {
    return {
      name,
      era: "6.16+ (merge rules as fixed in 6.19)",
      summary: "anon-vma-chain with 6.16's vma merging: a moved range merges into an unfaulted neighbour, which adopts its chain",
      mutants: ["pre-61f67c230a5e"],
      interleave: true,
      perVmaLock: true,
      create: (k, mutant) => new AnonVmaChainDesign(k, rule, createIMmap, mutant, merge),
    };
  }
  return {
    name,
    era: rule === "6.0" ? "2.6.34+ (6.0 rules)" : "3.19–5.19",
    summary:
      rule === "6.0"
        ? "anon_vma per forking vma, chains of anon_vmas per vma, interval trees; 6.0 reuse rule"
        : "anon-vma-chain with the 3.19–5.19 degree-based reuse at fork (CVE-2022-42703)",
    mutants:
      rule === "6.0"
        ? ["b4-youngest-anon-vma", "b5-prepare-reuses-nonsingular", "b12-dup-keeps-anon-vma", "fork-error-keeps-chain"]
        : ["clone-before-assign", "b2-clone-error-keeps-anon-vma"],
    vmaPrealloc: rule === "6.0",
    interleave: true,
    // 6.0 rules stand for today's kernel (maple tree, 6.1+); per-VMA locks are 6.4+.
    perVmaLock: rule === "6.0",
    create: (k, mutant) => new AnonVmaChainDesign(k, rule, createIMmap, mutant),
  };
}

export const anonVmaChain = makeAnonVmaChain("anon-vma-chain", "6.0");
export const anonVmaChain319 = makeAnonVmaChain("anon-vma-chain-3.19", "3.19");
export const anonVmaChain616 = makeAnonVmaChain("anon-vma-chain-6.16", "6.0", undefined, "6.16");
