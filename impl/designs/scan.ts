/*
 * scan — Linux 2.4: no reverse map at all.
 *
 * What it models: the 2.4 VM (swap_out() → swap_out_mm() → swap_out_vma()), where reclaim
 * walked each process's page tables in turn and there was no way to go from a page to the
 * PTEs that map it. Here the walk for one page is the brute-force search: every mm, every PTE.
 *
 * How the walk finds the PTEs: for each mm, for each present PTE, compare the pfn.
 * Costs: no memory, no work at fault, fork, zap or mremap; a walk is O(all PTEs of all mms).
 * Trade-offs: complete by construction (it is the oracle's own method), so it is the null
 * design against which every other design's memory and fork cost is measured; 2.4 itself
 * never did a per-page walk (it freed a shared page only after every mm's scan reached it).
 * Invariants: I1–I3 hold trivially; it has no structures (I4–I8 are vacuous, I9 is the
 * kernel's own page and swap accounting).
 * Simplified: 2.4's mapping of anonymous memory (no vm_pgoff for anon) is replaced by the
 * modern anon pgoff rules so that vma merging is the same for every design.
 *
 * Mutant "skip-newest-mm": the walk skips the most recently created mm (a planted bug the
 * harness must find: I1 once a child maps a page).
 */
import type { DesignInfo, RmapDesign } from "../design.js";
import type { Kernel } from "../kernel.js";
import { Slab } from "../slab.js";
import type { GraphBuilder } from "../snapshot.js";
import { IMmapList } from "../structures/immap-list.js";
import { findVma } from "../mmap.js";
import type { IMmap, Mm, Page, Vma } from "../types.js";

class Scan implements RmapDesign {
  readonly slab = new Slab({});
  constructor(
    private readonly k: Kernel,
    private readonly mutant?: string,
  ) {}

  createIMmap(): IMmap {
    return new IMmapList(() => this.k.counters.vmasVisited++);
  }

  /** No reverse map: nothing beyond the kernel's own mms, vmas, pages and i_mmap. */
  snapshot(_g: GraphBuilder): void {}

  walk(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    const mms = [...this.k.mms.values()];
    if (this.mutant === "skip-newest-mm" && mms.length > 1) mms.pop();
    for (const mm of mms) {
      this.k.counters.mmsVisited++;
      if (!this.scanMm(mm, page, visit)) return;
    }
  }

  private scanMm(mm: Mm, page: Page, visit: (vma: Vma, addr: number) => boolean): boolean {
    for (const [addr, pte] of mm.pt) {
      this.k.counters.ptesChecked++;
      if (pte.kind !== "present" || pte.pfn !== page.pfn) continue;
      const vma = findVma(mm, addr);
      if (vma && !visit(vma, addr)) return false;
    }
    return true;
  }

  mmInit(): void {}
  mmFork(): void {}
  mmExit(): void {}
  vmaLink(): void {}
  vmaUnlink(): void {}
  vmaAdjust(vma: Vma, start: number, end: number, pgoff: number): void {
    vma.vmStart = start;
    vma.vmEnd = end;
    vma.vmPgoff = pgoff;
  }
  vmaSplit(): void {}
  vmaMerge(): void {}
  vmaFork(): void {}
  vmaCopy(): void {}
  anonMergeable(): boolean {
    return true;
  }
  hasAnonObject(): boolean {
    return false;
  }
  anonPrepare(): void {}
  pageAddAnon(page: Page, _vma: Vma, addr: number): void {
    page.index = addr;
  }
  pageAddFile(): void {}
  pageDupAtFork(): void {}
  pageRemove(): void {}
  pageReuse(): void {}
  pageMove(): "moved" {
    return "moved";
  }
  swapinMustCopy(): boolean {
    return false;
  }
  pageMigrate(): void {}
  pageFree(): void {}
  check(): void {}
}

export const scan: DesignInfo = {
  name: "scan",
  era: "2.4",
  summary: "no reverse map: the walk scans every mm's page tables (the null design)",
  mutants: ["skip-newest-mm"],
  create: (k, mutant) => new Scan(k, mutant),
};
