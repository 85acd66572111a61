/*
 * The one allocator: every allocation the simulated kernel or a design makes (mm_struct,
 * vm_area_struct, the maple-tree preallocation of a split or merge, page frames, anon_vma,
 * anon_vma_chain, anonmm, pte_chain blocks) calls allocate() first, so that a command's n-th
 * allocation can be made to fail, as fault injection does in the kernel (failslab,
 * fail_page_alloc, syzkaller's fail_nth). The failure point is part of the command's data
 * (`failAlloc: n`, model/commands.ts): generated, shrunk, printed and replayed like any
 * argument. Off (failAt 0), an allocation costs one increment and one compare.
 *
 * A failed allocation throws AllocFailure; each kernel function with an error path catches it
 * where the kernel has its `goto out_...` label, undoes what it did, and rethrows, until the
 * syscall returns -ENOMEM or the fault returns VM_FAULT_OOM (docs/semantics.md).
 */

/** kernel: an allocation that returned NULL. */
export class AllocFailure extends Error {
  constructor(
    /** What was being allocated (a slab cache, "page", "maple_node"). */
    readonly kind: string,
    /** Its place among the command's allocations (1-based). */
    readonly nth: number,
  ) {
    super(`allocation ${nth} (${kind}) failed`);
    this.name = "AllocFailure";
  }
}

export class Allocator {
  /** The allocation of the current command that fails (1-based); 0: none. */
  failAt = 0;
  /** Allocations the current command has made so far. */
  count = 0;
  /** The current command's failure point was reached (its allocation failed). */
  fired = false;
  /**
   * For mprotect / mlock / munlock that failed part-way: the first page they did not change
   * (Linux changes vma after vma and stops at the one whose split or merge failed).
   */
  stoppedAt = -1;

  /** Arm for one command: its `failAt`-th allocation fails (0: none does). */
  begin(failAt: number): void {
    this.failAt = failAt;
    this.count = 0;
    this.fired = false;
    this.stoppedAt = -1;
  }

  /** Is a failure point set for the current command (fired or not)? */
  get armed(): boolean {
    return this.failAt !== 0;
  }

  /** kernel: kmem_cache_alloc() / alloc_pages() / mas_preallocate(): may return NULL. */
  allocate(kind: string): void {
    if (++this.count === this.failAt) {
      this.fired = true;
      throw new AllocFailure(kind, this.count);
    }
  }
}

/** The allocator of a Slab used outside a kernel (tests): counts, never fails. */
export const neverFails = new Allocator();
