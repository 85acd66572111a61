/*
 * i_mmap as a plain list: Linux 2.4 to 2.6.6 (address_space's i_mmap and i_mmap_shared lists).
 * A query visits every vma on the file, whether or not it can cover the pgoff: the cost the
 * priority search tree (2.6.7) and interval tree (3.7) were built to remove.
 */
import { assert } from "../assert.js";
import type { IMmap, Vma } from "../types.js";

export class IMmapList implements IMmap {
  private readonly vmas: Vma[] = [];
  /** One list_head in the vma (shared.vm_set.list in 2.6.7): 2 pointers. */
  readonly nodeSize = { ilp32: 8, lp64: 16 };
  constructor(private readonly onVisit: () => void = () => {}) {}

  insert(vma: Vma): void {
    assert(!this.vmas.includes(vma), "KERNEL", () => `i_mmap: ${vma} inserted twice`);
    this.vmas.push(vma);
  }
  remove(vma: Vma): void {
    const i = this.vmas.indexOf(vma);
    assert(i >= 0, "KERNEL", () => `i_mmap: ${vma} removed but not present`);
    this.vmas.splice(i, 1);
  }
  adjust(_vma: Vma, change: () => void): void {
    change(); // a list has no keys to keep in order
  }
  query(first: number, last: number, visit: (vma: Vma) => boolean | undefined): void {
    for (const vma of [...this.vmas]) {
      this.onVisit();
      if (vma.vmPgoff > last || vma.lastPgoff < first) continue;
      if (visit(vma) === false) return;
    }
  }
  size(): number {
    return this.vmas.length;
  }
  items(): Vma[] {
    return [...this.vmas];
  }
  check(): void {}
}
