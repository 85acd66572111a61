/*
 * i_mmap as a tree: the priority search tree of Linux 2.6.7–3.6 and the interval tree of 3.7+.
 * Both key a vma by its closed file range [vm_pgoff, vm_pgoff + pages - 1] (kernel:
 * vma_start_pgoff() / vma_last_pgoff(), RADIX_INDEX / HEAP_INDEX), so a walk for the page at
 * pgoff only examines vmas that can map it, plus O(log n) on the way: the fix for the "many small
 * windows onto one big file" worst case of the 2.6.6 list (impl/structures/immap-list.ts).
 *
 * The key lives in the vma, so any change of vm_start / vm_end / vm_pgoff must take the vma out
 * of the tree first and put it back after (kernel: vma_adjust() of 2.6.7 unlinks with
 * __vma_prio_tree_remove() and relinks with __vma_prio_tree_insert(); 3.7+ vma_prepare() /
 * vma_complete() call vma_interval_tree_remove() / _insert()). `adjust` does exactly that.
 *
 * Memory (nodeSize: the linkage inside each vma; no separate allocation in either tree):
 *   interval tree  vma->shared = { struct rb_node rb (__rb_parent_color, rb_right, rb_left);
 *                  unsigned long rb_subtree_last }          4 words = 16 ILP32 / 32 LP64
 *   prio tree      vma->shared = union { struct { struct list_head list; void *parent;
 *                  struct vm_area_struct *head } vm_set; struct prio_tree_node { left, right,
 *                  parent } }: the union's larger arm, vm_set, 4 words = 16 ILP32 / 32 LP64.
 *                  A vma sharing a node with identical-range vmas costs nothing more: it sits
 *                  on the node vma's vm_set list through the same union.
 * Per file the root is one pointer (rb_root) or a pointer + index_bits (prio_tree_root); not
 * counted here.
 *
 * Simplified: 2.6.7 kept two prio trees per file (i_mmap for private, i_mmap_shared for shared
 * vmas) and a plain list for nonlinear vmas (i_mmap_nonlinear); here one tree holds every vma of
 * the file, as from 2.6.8 onwards (shared vmas counted by i_mmap_writable), and there are no
 * nonlinear vmas.
 *
 * Mutant "no-reinsert-on-adjust" (primer D4): adjust rewrites the range in place without the
 * remove / insert. The tree's cached key then disagrees with the vma: check() reports I11 (and a
 * walk can miss the vma: I1).
 */
import type { IMmap, Vma } from "../types.js";
import { type Interval, IntervalTree, type KeyOf, type Visit } from "./interval-tree.js";
import { PrioTree } from "./prio-tree.js";

export const iMmapTreeMutants = ["no-reinsert-on-adjust"] as const;
export type IMmapTreeMutant = (typeof iMmapTreeMutants)[number];

export interface IMmapTreeOptions {
  readonly mutant?: IMmapTreeMutant;
}

/** kernel: vma_start_pgoff() / vma_last_pgoff() */
export const vmaPgoffRange = (vma: Vma): Interval => ({ first: vma.vmPgoff, last: vma.lastPgoff });
/** The same key, read without allocating (the interval tree's form). */
const vmaPgoffKey: KeyOf<Vma> = { first: (vma) => vma.vmPgoff, last: (vma) => vma.lastPgoff };

/** What both trees offer; the two IMmap classes differ only in the tree and its node size. */
interface VmaTree {
  insert(vma: Vma): void;
  remove(vma: Vma): void;
  query(first: number, last: number, visit: Visit<Vma>): void;
  size(): number;
  items(): Vma[];
  check(): void;
}

abstract class IMmapTree implements IMmap {
  abstract readonly nodeSize: { ilp32: number; lp64: number };
  protected constructor(
    protected readonly tree: VmaTree,
    private readonly mutant: IMmapTreeMutant | undefined,
  ) {}

  insert(vma: Vma): void {
    this.tree.insert(vma);
  }
  remove(vma: Vma): void {
    this.tree.remove(vma);
  }
  adjust(vma: Vma, change: () => void): void {
    if (this.mutant === "no-reinsert-on-adjust") {
      change(); // BUG (mutant, primer D4): the range changes under the tree's feet
      return;
    }
    this.tree.remove(vma);
    change();
    this.tree.insert(vma);
  }
  query(first: number, last: number, visit: (vma: Vma) => boolean | undefined): void {
    this.tree.query(first, last, visit);
  }
  size(): number {
    return this.tree.size();
  }
  items(): Vma[] {
    return this.tree.items();
  }
  check(): void {
    this.tree.check();
  }
}

/** i_mmap of 3.7+: vma_interval_tree (mm/interval_tree.c). */
export class IMmapIntervalTree extends IMmapTree {
  /** rb_node (3 words) + rb_subtree_last (1 word) in vma->shared. */
  readonly nodeSize = { ilp32: 16, lp64: 32 };
  constructor(onVisit: () => void = () => {}, options: IMmapTreeOptions = {}) {
    super(new IntervalTree<Vma>(vmaPgoffKey, onVisit), options.mutant);
  }
}

/** i_mmap of 2.6.7–3.6: vma_prio_tree (mm/prio_tree.c), identical ranges sharing a node. */
export class IMmapPrioTree extends IMmapTree {
  /** union { vm_set (list_head + parent + head: 4 words); prio_tree_node (3 words) } in vma->shared. */
  readonly nodeSize = { ilp32: 16, lp64: 32 };
  private readonly prio: PrioTree<Vma>;
  constructor(onVisit: () => void = () => {}, options: IMmapTreeOptions = {}) {
    const prio = new PrioTree<Vma>(vmaPgoffRange, onVisit);
    super(prio, options.mutant);
    this.prio = prio;
  }
  /** Tree nodes: vmas with identical ranges share one (vm_set). */
  nodeCount(): number {
    return this.prio.nodeCount();
  }
}
