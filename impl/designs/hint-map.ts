/*
 * hint-map — Linus Torvalds's proposal of 3 January 1998 (seed 001, for 2.1.x/2.2): a hint
 * in every struct page naming one of its mappers, trusted only for private unshared pages;
 * everything else falls back to scanning, as 2.2/2.4 did.
 *
 * What it models: one pointer per physical page (here page.rmap = the hint, a PTE address
 * (mm, addr), or nothing). A private (anonymous) page gets the hint when its first PTE is
 * set: fault, COW copy, swap-in. Fork does no rmap work at all (the hint simply stops being
 * trusted while the page is shared, and becomes trustworthy again once the sharers are
 * gone). The hint is cleared when its own PTE is zapped and follows it on mremap and
 * migration, so it never dangles into a freed page table (which would be a use-after-free
 * in the kernel). Page-cache pages are shared by nature and never carry a hint.
 *
 * How the walk finds the PTEs: if the page has a hint, page.mapcount == 1 (exclusive) and
 * the PTE at the hint maps the pfn, that PTE is the answer (a hit). Otherwise (no hint, a
 * shared page, or a stale hint) the walk scans every mm's page tables (a fallback: scan.ts's
 * walk). The design's contract is weaker than an exact rmap: a hint that claims "this is the
 * only PTE" must be right; anything else is the scan's business.
 *
 * Costs:
 *   memory  one pointer per struct page: 4 / 8 bytes × frames (fixedMemory()), proportional
 *           to physical memory, not to mappings; no allocations ever.
 *   fault   O(1) (store the hint); fork: nothing; zap: O(1) (compare and clear the hint);
 *           mremap: O(1) per moved PTE.
 *   walk    hit: one PTE checked; fallback: O(all PTEs of all mms). hintHits / hintFallbacks
 *           count the two outcomes.
 * Trade-offs: the cheapest design in memory and fork time; reclaim of private unshared pages
 * (the common case of anonymous memory in 1998) is O(1), but every shared or file page costs
 * a full scan, as in 2.4. It is the ancestor of PageDirect (pte-chain's PG_direct, the RFC's
 * direct vma pointer) without the chain.
 *
 * Invariants (check(), per page with a hint):
 *   HM1 (I6) only private (anonymous) pages carry a hint;
 *   HM2 (I4) the hint's mm is alive (it has not exited);
 *   HM3 (I2) the PTE at the hint is present and maps the page: a hint is never stale in this
 *       design (the walk still verifies it, as Linus required);
 *   HM4 (I6) hence a hint on an exclusive page (mapcount 1) names its only mapping;
 *   and a page is freed without a hint (I9).
 *
 * Simplified: Linus's "reverse page table the same size as the forward one" (a next pointer
 * threaded through the PTEs, 8 bytes per mapped PTE on i386) is the other half of the email
 * and is what pte-chain models; the hint is kept as (mm, addr) where the kernel would keep
 * a PTE pointer.
 *
 * Mutants:
 *   "trust-stale-hint": the walk uses the hint without verifying exclusivity (skips the
 *       mapcount test): after write; fork the walk returns only the parent's PTE (I1).
 *   "hint-not-cleared-at-zap": the hint outlives its PTE. The walk's pfn check still saves
 *       every answer (it falls back to the scan), so only the design's own contract sees it:
 *       HM3 (I2) once a sharer keeps the page mapped, or a page freed with a hint (I9).
 */
import { assert } from "../assert.js";
import { type DesignInfo, type RmapDesign, setVmaRange } from "../design.js";
import type { Kernel } from "../kernel.js";
import { findVma } from "../mmap.js";
import { type Memory, Slab, type StructSize } from "../slab.js";
import { type GraphBuilder, pageNode } from "../snapshot.js";
import { IMmapList } from "../structures/immap-list.js";
import type { IMmap, Mm, Page, Vma } from "../types.js";

/** The hint: the PTE of one mapper (kernel: a pte pointer, resolved to mm and address). */
export interface Hint {
  readonly mm: Mm;
  readonly addr: number;
}

/** One pointer added to struct page. */
export const structPageHint: StructSize = { ilp32: 4, lp64: 8 };

export class HintMap implements RmapDesign {
  /** No allocations: the hint lives in struct page (fixedMemory). */
  readonly slab = new Slab({});
  /** Walks answered by the hint alone. */
  hintHits = 0;
  /** Walks that fell back to scanning every mm. */
  hintFallbacks = 0;

  constructor(
    private readonly k: Kernel,
    private readonly mutant?: string,
  ) {}

  static hintOf(page: Page): Hint | undefined {
    return page.rmap as Hint | undefined;
  }

  fixedMemory(): Memory {
    const frames = this.k.frames.length;
    return { ilp32: frames * structPageHint.ilp32, lp64: frames * structPageHint.lp64 };
  }

  createIMmap(): IMmap {
    return new IMmapList(() => this.k.counters.vmasVisited++);
  }

  /** Each page's hint: the vma of the PTE it names (a stale hint names a PTE no vma covers). */
  snapshot(g: GraphBuilder): void {
    for (const page of this.k.frames) {
      const hint = page ? HintMap.hintOf(page) : undefined;
      if (!page || hint === undefined) continue;
      const at = `mm${hint.mm.id}:0x${hint.addr.toString(16)}`;
      const vma = findVma(hint.mm, hint.addr);
      const target = vma ? g.vma(vma) : g.node(`pte:${at}`, "freed", `stale hint ${at}`, "no vma covers the hinted PTE");
      const pte = hint.mm.pt.get(hint.addr); // not ptePointsTo: a snapshot counts no work
      const live = pte?.kind === "present" && pte.pfn === page.pfn;
      g.edge(pageNode(page), target, "hint", `${at}${live ? "" : " (stale)"}`);
    }
  }

  // --- the walk -------------------------------------------------------------------------------

  walk(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    const hint = HintMap.hintOf(page);
    const exclusive = page.mapcount === 1 || this.mutant === "trust-stale-hint";
    if (hint !== undefined && exclusive && this.k.ptePointsTo(hint.mm, hint.addr, page.pfn)) {
      const vma = findVma(hint.mm, hint.addr);
      if (vma !== undefined) {
        this.hintHits++;
        visit(vma, hint.addr);
        return;
      }
    }
    this.hintFallbacks++;
    this.scan(page, visit);
  }

  /** The 2.4 way (scan.ts): every mm, every PTE. */
  private scan(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    for (const mm of this.k.mms.values()) {
      this.k.counters.mmsVisited++;
      for (const [addr, pte] of mm.pt) {
        this.k.counters.ptesChecked++;
        if (pte.kind !== "present" || pte.pfn !== page.pfn) continue;
        const vma = findVma(mm, addr);
        if (vma && !visit(vma, addr)) return;
      }
    }
  }

  // --- page hooks ---------------------------------------------------------------------------

  /** The first PTE of a private page becomes its hint. */
  pageAddAnon(page: Page, vma: Vma, addr: number): void {
    if (page.mapcount === 0) page.rmap = { mm: vma.mm, addr } satisfies Hint;
  }
  pageAddFile(): void {}
  /** Fork: nothing. The parent's hint stays; mapcount 2 keeps the walk from trusting it. */
  pageDupAtFork(): void {}
  /** The hint's own PTE goes: clear it (the remaining sharers, if any, are found by scan). */
  pageRemove(page: Page, vma: Vma, addr: number): void {
    const hint = HintMap.hintOf(page);
    if (this.mutant === "hint-not-cleared-at-zap") return;
    if (hint !== undefined && hint.mm === vma.mm && hint.addr === addr) page.rmap = undefined;
  }
  pageReuse(): void {}
  /** The hint follows its PTE (mremap stays in one mm; oldVma may already be merged away). */
  pageMove(page: Page, _oldVma: Vma, oldAddr: number, newVma: Vma, newAddr: number): "moved" {
    const hint = HintMap.hintOf(page);
    if (hint !== undefined && hint.mm === newVma.mm && hint.addr === oldAddr) page.rmap = { mm: newVma.mm, addr: newAddr } satisfies Hint;
    return "moved";
  }
  swapinMustCopy(): boolean {
    return false;
  }
  pageMigrate(oldPage: Page, newPage: Page): void {
    newPage.rmap = oldPage.rmap;
    oldPage.rmap = undefined;
  }
  pageFree(page: Page): void {
    assert(page.rmap === undefined, "I9", () => `${page} freed with a hint left`, page);
  }

  // --- nothing per mm or per vma ---------------------------------------------------------------

  mmInit(): void {}
  mmFork(): void {}
  mmExit(): void {}
  vmaLink(): void {}
  vmaUnlink(): void {}
  vmaAdjust(vma: Vma, start: number, end: number, pgoff: number): void {
    setVmaRange(vma, start, end, pgoff);
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

  // --- checks -----------------------------------------------------------------------------------

  /** HM1–HM4 for every page with a hint. */
  check(): void {
    for (const page of this.k.pages()) {
      const hint = HintMap.hintOf(page);
      if (hint === undefined) continue;
      const at = () => `(mm${hint.mm.id}, ${hint.addr})`;
      assert(page.anon, "I6", () => `HM1: ${page} is not private but has a hint ${at()}`, page);
      assert(this.k.mms.get(hint.mm.id) === hint.mm, "I4", () => `HM2: ${page}'s hint ${at()} names an exited mm`, page);
      const pte = hint.mm.pt.get(hint.addr);
      assert(pte?.kind === "present" && pte.pfn === page.pfn, "I2", () => `HM3: ${page}'s hint ${at()} is stale`, page);
      if (page.mapcount === 1) assert(findVma(hint.mm, hint.addr) !== undefined, "I6", () => `HM4: ${page}'s hint ${at()} is outside every vma`, page);
    }
  }

  explain(page: Page, vma: Vma, addr: number): string {
    const hint = HintMap.hintOf(page);
    if (hint === undefined) return `${page} has no hint: the walk scans every mm`;
    const exclusive = page.mapcount === 1 ? "exclusive" : `shared (mapcount ${page.mapcount})`;
    return `${page} hints (mm${hint.mm.id}, ${hint.addr}), ${exclusive}; (mm${vma.mm.id}, ${addr}) is ${hint.mm === vma.mm && hint.addr === addr ? "the hint" : "not the hint"}`;
  }
}

export const hintMap: DesignInfo = {
  name: "hint-map",
  era: "1998 (proposal)",
  summary: "one hint per struct page, trusted only for exclusive private pages; otherwise scan every mm",
  mutants: ["trust-stale-hint", "hint-not-cleared-at-zap"],
  create: (k, mutant) => new HintMap(k, mutant),
};
