/*
 * objrmap — Dave McCracken's object-based reverse map for file pages (posted for
 * 2.5.62-mm3, February 2003; carried in -mm and merged with 2.6.7, May 2004, where Hugh
 * Dickins's and Andrea Arcangeli's anon_vma replaced the pte_chains it kept for anonymous
 * pages). This is the stage in between, as in 2.6.5-mm's mm/rmap.c: object-based file pages,
 * pte_chains (impl/structures/pte-chain.ts) for anonymous ones.
 *
 * What it models: a file page records no PTEs. Its page.mapping is the file's address_space
 * and page.index its file offset, and every PTE mapping it through a vma V sits at
 * vma_address = V.vmStart + (index − V.vmPgoff). page.mapcount (kernel: page->pte.mapcount,
 * sharing the union with the chain pointer) counts the PTEs. Anonymous pages (PG_anon,
 * including COW copies of private file pages) keep PG_direct / pte_chain exactly as in
 * pte-chain.
 *
 * How the walk finds the PTEs: for a file page, every vma of the file's i_mmap whose pgoff
 * range may cover index (a list walk visits them all; prio-tree / interval-tree variants
 * only those that cover it); take vma_address, skip it if outside [vmStart, vmEnd), check
 * the PTE there maps the pfn (a private vma may have COW-replaced the page there), and stop
 * when as many PTEs as mapcount were found. For an anon page: the chain, as pte-chain.
 * VM_LOCKED: try_to_unmap_file() gave up (SWAP_FAIL) at the first locked vma; here the walk
 * reports every PTE and the simulated try_to_unmap fails when any of them is in a VM_LOCKED
 * vma, which has the same outcome and keeps the walk usable for page_referenced and checks.
 *
 * Costs:
 *   memory  nothing per file PTE; the struct page union word (4 / 8 bytes × frames); pte_chain
 *           blocks for anonymous pages shared after fork; the i_mmap node in each vma
 *           (list_head: 8 / 16 bytes, kept by the kernel).
 *   fault   file: none; anon: page_add_rmap as pte-chain.
 *   fork    file PTEs: nothing ("fork/exit ~50% better", Dave's posting); anon PTEs: one
 *           chain add each.
 *   walk    file: O(vmas on i_mmap) with a list, whether or not they can cover the page
 *           (the many-small-windows worst case: Ingo Molnar's ~16K vmas per process, 2004);
 *           O(log n + hits) with the prio tree (2.6.7) or interval tree (3.7+).
 * Trade-offs: memory scales with vmas, not PTEs, for file pages; the walk pays for vmas that
 * do not map the page (COWed private vmas, sparse mappings). Anonymous memory still pays
 * pte-chain's per-PTE price until anon_vma (2.6.7).
 *
 * Invariants (check()):
 *   OB1 (I8) a file page holds no rmap state: page.rmap is empty;
 *   OB2 (I4/I6) a file page's mapping is its file's address_space;
 *   OB3 (I6) every vma through which a PTE maps a file page maps that file and is on the
 *       file's i_mmap under a key covering page.index;
 *   OB4 (I7) page.index == linear_page_index(V, addr) for every such PTE (vma_address finds it);
 *   anon pages: PC1–PC4 of pte-chain (chain entries == mapcount, each maps the page, block
 *       shape, no stray block).
 *
 * Simplified: one i_mmap structure per file instead of 2.6.5's i_mmap (private) and
 * i_mmap_shared lists (the list variant visits them in link order); no trylocks (the kernel's
 * walk could skip an mm whose page_table_lock was busy); no nonlinear vmas
 * (remap_file_pages).
 *
 * Mutants:
 *   "no-pfn-check": trust vma_address without reading the PTE: a private vma that COWed the
 *       page is reported (I2), and, counted against mapcount, hides a real mapping (I1).
 *   "private-list-forgotten": walk only the shared vmas (2.6.5's i_mmap_shared) and forget
 *       the private list i_mmap: a read-only private mapping of a file page is missed (I1).
 */
import { assert } from "../assert.js";
import { type DesignInfo, type RmapDesign, setVmaRange } from "../design.js";
import type { Kernel } from "../kernel.js";
import { findVma } from "../mmap.js";
import { type Memory, Slab } from "../slab.js";
import type { GraphBuilder } from "../snapshot.js";
import { IMmapList } from "../structures/immap-list.js";
import { PTE_CHAIN, PteChainStore, pteChainGeometry, structPagePteUnion } from "../structures/pte-chain.js";
import { type File, type IMmap, type Page, type Vma, VM_SHARED, linearPageIndex, vmaAddress } from "../types.js";

/**
 * Builds the i_mmap structure of one file; it closes over the kernel's counters. `mutant` is
 * the design's mutant, for structures that plant their own (immap-trees' D4).
 */
export type IMmapFactory = (k: Kernel, mutant?: string) => IMmap;

/** 2.6.5's i_mmap lists; every vma visited is counted. */
export const iMmapList: IMmapFactory = (k) => new IMmapList(() => k.counters.vmasVisited++);

class Objrmap implements RmapDesign {
  readonly slab: Slab;
  private readonly chains: PteChainStore;
  constructor(
    private readonly k: Kernel,
    private readonly iMmapFactory: IMmapFactory,
    private readonly mutant?: string,
  ) {
    const geometry = pteChainGeometry();
    this.slab = new Slab({ [PTE_CHAIN]: geometry.size });
    this.chains = new PteChainStore(k, this.slab, geometry);
  }

  /** The pte union in struct page (chain pointer or file mapcount), over every frame. */
  fixedMemory(): Memory {
    const frames = this.k.frames.length;
    return { ilp32: frames * structPagePteUnion.ilp32, lp64: frames * structPagePteUnion.lp64 };
  }

  createIMmap(): IMmap {
    return this.iMmapFactory(this.k, this.mutant);
  }

  /** Anon pages keep 2.5's pte_chains; file pages are found through i_mmap (the kernel's graph). */
  snapshot(g: GraphBuilder): void {
    this.chains.snapshot(g, this.k.frames);
  }

  // --- the walk -------------------------------------------------------------------------------

  walk(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    if (page.anon) this.chains.walk(page, visit);
    else this.walkFile(page, visit);
  }

  /** kernel: try_to_unmap_file() / page_referenced_file() */
  private walkFile(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    let mapcount = page.mapcount;
    if (mapcount === 0) return; // kernel: page_mapped() tested by the callers
    const file = page.mapping as File;
    file.iMmap.query(page.index, page.index, (vma) => {
      if (this.mutant === "private-list-forgotten" && (vma.vmFlags & VM_SHARED) === 0) return true;
      const addr = vmaAddress(page, vma);
      if (addr === undefined) return true; // kernel: vma_address() == -EFAULT
      const maps = this.k.ptePointsTo(vma.mm, addr, page.pfn);
      if (!maps && this.mutant !== "no-pfn-check") return true; // COWed in this private vma
      mapcount--;
      if (!visit(vma, addr)) return false;
      return mapcount > 0;
    });
  }

  // --- page hooks: anon pages keep pte_chains; file pages only count -------------------------

  pageAddAnon(page: Page, vma: Vma, addr: number): void {
    this.chains.add(page, vma.mm, addr, "fault");
  }
  /** kernel: page_add_file_rmap(): mapcount only (the kernel keeps it). */
  pageAddFile(page: Page): void {
    assert(!page.anon, "KERNEL", () => `page_add_file_rmap of anonymous ${page}`, page);
  }
  pageDupAtFork(page: Page, _parentVma: Vma, childVma: Vma, addr: number): void {
    if (page.anon) this.chains.add(page, childVma.mm, addr, "fork");
  }
  pageRemove(page: Page, vma: Vma, addr: number): void {
    if (page.anon) this.chains.remove(page, vma.mm, addr);
  }
  pageReuse(): void {}
  /**
   * mremap: a file PTE needs nothing (copy_vma gave the new vma the pgoff that keeps
   * vma_address pointing at it); an anon PTE moves on its chain. oldVma is not read: copy_vma
   * may already have merged it away.
   */
  pageMove(page: Page, _oldVma: Vma, oldAddr: number, newVma: Vma, newAddr: number): "moved" {
    if (page.anon) {
      this.chains.remove(page, newVma.mm, oldAddr);
      this.chains.add(page, newVma.mm, newAddr, "other");
    }
    return "moved";
  }
  swapinMustCopy(): boolean {
    return false;
  }
  pageMigrate(oldPage: Page, newPage: Page): void {
    if (oldPage.anon) this.chains.migrate(oldPage, newPage);
  }
  pageFree(page: Page): void {
    assert(page.rmap === undefined, "I9", () => `${page} freed with rmap entries left`, page);
  }

  // --- nothing per mm or per vma beyond i_mmap (which the kernel maintains) -------------------

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

  check(): void {
    this.chains.check(this.k.pages(), (page) => !page.anon);
    for (const page of this.k.pages()) {
      if (page.anon || !page.file) continue;
      assert(page.rmap === undefined, "I8", () => `OB1: file ${page} holds rmap state`, page);
      assert(page.mapping === page.file, "I6", () => `OB2: ${page}'s mapping is not its file's address_space`, page);
    }
    // OB3, OB4 over every PTE that maps a file page. i_mmap queries here are not walk work.
    const visited = this.k.counters.vmasVisited;
    for (const mm of this.k.mms.values()) {
      for (const [addr, pte] of mm.pt) {
        if (pte.kind !== "present") continue;
        const page = this.k.pageAt(pte.pfn);
        if (page === null || page.anon) continue;
        const vma = findVma(mm, addr);
        assert(vma !== undefined && vma.vmFile === page.file, "I6", () => `OB3: (mm${mm.id}, ${addr}) maps file ${page} outside a vma of its file`, page);
        assert(linearPageIndex(vma, addr) === page.index, "I7", () => `OB4: ${page} at (mm${mm.id}, ${addr}) in ${vma}: linear index ${linearPageIndex(vma, addr)}`, page, vma);
        assert(this.onIMmap(page, vma), "I6", () => `OB3: ${vma} maps ${page} but i_mmap does not return it for index ${page.index}`, page, vma);
      }
    }
    this.k.counters.vmasVisited = visited;
  }

  private onIMmap(page: Page, vma: Vma): boolean {
    let found = false;
    (page.file as File).iMmap.query(page.index, page.index, (v) => {
      found = v === vma;
      return !found;
    });
    return found;
  }

  explain(page: Page, vma: Vma, addr: number): string {
    if (page.anon) {
      return this.chains.has(page, vma.mm, addr) ? `(mm${vma.mm.id}, ${addr}) is on ${page}'s pte_chain` : `(mm${vma.mm.id}, ${addr}) is not on ${page}'s pte_chain`;
    }
    if (!this.onIMmap(page, vma)) return `${vma} is not on file${page.file?.id}'s i_mmap for index ${page.index}`;
    const at = vmaAddress(page, vma);
    if (at !== addr) return `vma_address(${page}, ${vma}) = ${at ?? "-EFAULT"}, not ${addr}`;
    return `${vma} is on i_mmap and vma_address gives ${addr}`;
  }
}

export interface ObjrmapOptions {
  readonly era?: string;
  /** Mutants the i_mmap structure plants (passed to the factory), e.g. iMmapTreeMutants. */
  readonly iMmapMutants?: readonly string[];
}

/**
 * An objrmap design over the given i_mmap structure, e.g.
 *   makeObjrmap("objrmap-prio-tree", (k, m) => new IMmapPrioTree(() => k.counters.vmasVisited++,
 *     { mutant: m === "no-reinsert-on-adjust" ? m : undefined }), { iMmapMutants: iMmapTreeMutants })
 */
export function makeObjrmap(name: string, createIMmap: IMmapFactory, opts: ObjrmapOptions = {}): DesignInfo {
  return {
    name,
    era: opts.era ?? "2.6.7 (objrmap: 2.5.62-mm3)",
    summary: "file pages found through i_mmap and vma_address (no per-PTE memory); anonymous pages keep pte_chains",
    mutants: ["no-pfn-check", "private-list-forgotten", ...(opts.iMmapMutants ?? [])],
    create: (k, mutant) => new Objrmap(k, createIMmap, mutant),
  };
}

export const objrmap: DesignInfo = makeObjrmap("objrmap", iMmapList);
