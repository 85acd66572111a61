/*
 * pte-chain — Rik van Riel's reverse map, Linux 2.5.27 to 2.6.0 (with Andrew Morton's
 * cache-line pte_chain blocks and PG_direct, and Dave McCracken's fixes).
 *
 * What it models: every PTE that maps a page, file or anonymous, is recorded on the page
 * itself. struct page gains one word, a union (kernel: page->pte): with PG_direct set it is
 * the address of the single PTE mapping the page; otherwise it points to a chain of
 * cache-line blocks of PTE addresses (impl/structures/pte-chain.ts has the block layout
 * and the add/remove policy).
 *
 * How the walk finds the PTEs: it reads them off the chain: for each entry (mm, addr), the
 * PTE is checked to map the pfn and its vma is looked up (try_to_unmap_one: find_vma). Exact
 * by construction; it copes with mremap, COW and nonlinear mappings for free, because it
 * never computes an address.
 *
 * Costs:
 *   memory  one word in every struct page (4 / 8 bytes × frames: fixedMemory()), plus one
 *           pte_chain block (64 bytes ILP32, 128 LP64 at the default NRPTE 15) per NRPTE
 *           PTEs of every page mapped more than once, in lowmem. The original 2.5.27 node
 *           { next, ptep } cost 8 bytes (i386) / 16 (x86_64) per mapping PTE.
 *   fault   page_add_rmap: O(1); a block allocated on the first sharing and every NRPTE.
 *   fork    one page_add_rmap per present PTE copied: O(PTEs) ("fork slowed significantly",
 *           seed 000), with block allocations at fork.
 *   zap     page_remove_rmap searches the chain: O(chain length); exit of N sharers of a
 *           page is O(N²) for that page. Counted as ptesChecked.
 *   walk    O(chain length), every entry a real mapping: no wasted candidates.
 * Trade-offs: the only exact design without address arithmetic; it pays per PTE in memory
 * and fork time what objrmap and anon_vma pay per vma. 1000 processes sharing 1 GiB of shm
 * need ~1 GiB of chains on i386 (seeds 002, 004): more than lowmem.
 *
 * Invariants (check(), per page):
 *   PC1 (I3) the chain holds exactly page.mapcount entries (2.6.0 had no separate count:
 *       page_mapped() was "pte.direct != 0");
 *   PC2 (I2) every entry is a present PTE mapping the page, and none appears twice;
 *   PC3 (I8) block shape: the head's free slots are its low slots, later blocks are full;
 *       a chain holds ≥ 2 entries (one entry is PG_direct);
 *   PC4 (I9) every live pte_chain block is reachable from some page;
 *   and at free time a page holds no rmap (I9).
 * Removing an entry that is not on the chain is a kernel bug: asserted as I1 (the rmap lost a
 * PTE that still mapped the page).
 *
 * Simplified: pte_chain_alloc() preallocation outside the page_table_lock is an allocation
 * at the add; PG_maplock is not modelled; the one-entry collapse happens at remove instead
 * of lazily in page_referenced(); anon vm_pgoff follows the modern rules like every design
 * here (2.6.0 anon vmas had no meaningful pgoff); HIGHPTE's 8-byte pte_addr_t on PAE is not
 * modelled.
 *
 * Mutants:
 *   "lose-old-entry-on-direct-to-chain" (primer D3): converting PG_direct to a chain writes
 *       the new entry over the old one: write; fork; swapout → I1.
 *   "no-rmap-at-fork": copy_page_range copies the PTE but skips page_add_rmap (the shortcut
 *       that would have saved fork its cost): I1 at the first fork of a mapped page.
 */
import { assert } from "../assert.js";
import { type DesignInfo, type RmapDesign, setVmaRange } from "../design.js";
import type { Kernel } from "../kernel.js";
import { type Memory, Slab } from "../slab.js";
import type { GraphBuilder } from "../snapshot.js";
import { IMmapList } from "../structures/immap-list.js";
import { PTE_CHAIN, PteChainStore, pteChainGeometry, structPagePteUnion } from "../structures/pte-chain.js";
import type { IMmap, Page, Vma } from "../types.js";

export interface PteChainOptions {
  /** i386 L1_CACHE_BYTES; NRPTE = (line − 4) / 4. Default 64 (NRPTE 15). */
  readonly lineBytes?: number;
  /** Override NRPTE (tests use 2 to exercise multi-block chains). */
  readonly nrpte?: number;
  readonly name?: string;
}

export class PteChainRmap implements RmapDesign {
  readonly slab: Slab;
  readonly chains: PteChainStore;
  constructor(
    private readonly k: Kernel,
    opts: PteChainOptions,
    private readonly mutant?: string,
  ) {
    const geometry = pteChainGeometry(opts);
    this.slab = new Slab({ [PTE_CHAIN]: geometry.size });
    this.chains = new PteChainStore(k, this.slab, geometry, mutant);
  }

  /** Bytes struct page grows by across every frame (not a slab object: it never leaks). */
  fixedMemory(): Memory {
    const frames = this.k.frames.length;
    return { ilp32: frames * structPagePteUnion.ilp32, lp64: frames * structPagePteUnion.lp64 };
  }

  createIMmap(): IMmap {
    return new IMmapList(() => this.k.counters.vmasVisited++);
  }

  /** Every mapped page's pte_chain (or PageDirect entry). */
  snapshot(g: GraphBuilder): void {
    this.chains.snapshot(g, this.k.frames);
  }

  // --- the walk -------------------------------------------------------------------------------

  /** kernel: try_to_unmap() / page_referenced(): every entry of page->pte. */
  walk(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    this.chains.walk(page, visit);
  }

  // --- page hooks: every PTE set or cleared is an add or a remove -----------------------------

  /** kernel: page_add_rmap() from do_anonymous_page / do_wp_page / do_swap_page. */
  pageAddAnon(page: Page, vma: Vma, addr: number): void {
    this.chains.add(page, vma.mm, addr, "fault");
  }
  /** kernel: page_add_rmap() from do_no_page. */
  pageAddFile(page: Page, vma: Vma, addr: number): void {
    this.chains.add(page, vma.mm, addr, "fault");
  }
  /** kernel: copy_page_range() → page_add_rmap() for the child's PTE. */
  pageDupAtFork(page: Page, _parentVma: Vma, childVma: Vma, addr: number): void {
    if (this.mutant === "no-rmap-at-fork") return;
    this.chains.add(page, childVma.mm, addr, "fork");
  }
  /** kernel: page_remove_rmap() */
  pageRemove(page: Page, vma: Vma, addr: number): void {
    this.chains.remove(page, vma.mm, addr);
  }
  /** COW reuse keeps the same PTE: its chain entry is unchanged. */
  pageReuse(): void {}
  /**
   * kernel: move_one_page() in 2.5/2.6.0 mremap: page_remove_rmap + page_add_rmap. mremap
   * stays in one mm; oldVma is not read (copy_vma may already have merged it away).
   */
  pageMove(page: Page, _oldVma: Vma, oldAddr: number, newVma: Vma, newAddr: number): "moved" {
    this.chains.remove(page, newVma.mm, oldAddr);
    this.chains.add(page, newVma.mm, newAddr, "other");
    return "moved";
  }
  swapinMustCopy(): boolean {
    return false;
  }
  /** The new page takes over the union; the kernel then repoints the PTEs. */
  pageMigrate(oldPage: Page, newPage: Page): void {
    this.chains.migrate(oldPage, newPage);
  }
  pageFree(page: Page): void {
    assert(page.rmap === undefined, "I9", () => `${page} freed with rmap entries left`, page);
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

  /** PC1–PC4 for every page. */
  check(): void {
    this.chains.check(this.k.pages());
  }

  explain(page: Page, vma: Vma, addr: number): string {
    if (this.chains.has(page, vma.mm, addr)) return `(mm${vma.mm.id}, ${addr}) is on ${page}'s rmap`;
    const n = this.chains.entries(page);
    return `(mm${vma.mm.id}, ${addr}) is not on ${page}'s ${n === 1 ? "PG_direct entry" : `pte_chain (${n} entries)`}`;
  }
}

/** A pte-chain design with the given block geometry (the registry uses the default). */
export function makePteChain(opts: PteChainOptions = {}): DesignInfo {
  return {
    name: opts.name ?? "pte-chain",
    era: "2.5.27–2.6.0",
    summary: "every PTE recorded on its page: PG_direct for one, else a chain of cache-line pte_chain blocks",
    mutants: ["lose-old-entry-on-direct-to-chain", "no-rmap-at-fork"],
    create: (k, mutant) => new PteChainRmap(k, opts, mutant),
  };
}

export const pteChain: DesignInfo = makePteChain();
