/*
 * pte_chain: the per-page list of PTE addresses of Rik van Riel's rmap (2.5.27–2.6.0), in
 * Andrew Morton's cache-line-block form (2.5.31 onwards), reused by objrmap for anonymous
 * pages (2.5.62-mm3 .. 2.6.6-mm).
 *
 * struct page holds a union (kernel: page->pte) selected by PG_direct:
 *   PageDirect  → pte.direct: the one pte_addr_t mapping the page
 *   !PageDirect → pte.chain:  a list of blocks, each one L1 cache line:
 *                   struct pte_chain { unsigned long next_and_idx; pte_addr_t ptes[NRPTE]; }
 *                 NRPTE = (L1_CACHE_BYTES − sizeof(long)) / sizeof(pte_addr_t)
 * List policy (as mm/rmap.c stated it):
 *   - free slots exist only in the head block, at its low indices: ptes[idx .. NRPTE-1] are
 *     used (idx is the low bits of next_and_idx); every later block is full (idx == 0);
 *   - add puts the new entry at ptes[idx − 1] of the head, or in a fresh head block;
 *   - remove searches every block, moves the head's ptes[idx] into the hole, and frees the
 *     head block when it empties;
 *   - a chain holds at least two entries: one entry is PG_direct. (2.6.0 collapsed a
 *     one-entry chain lazily, in page_referenced(); here remove collapses it at once, so
 *     that "chain ⇒ ≥ 2 entries" is an invariant check() can hold. Same shapes, earlier.)
 *
 * A pte_addr_t is a pointer to the PTE; the PTE page's struct page records its mm and base
 * address (kernel: ptep_to_mm(), ptep_to_address()), so here an entry is just (mm, addr).
 *
 * Sizes. The simulated block holds NRPTE entries whatever the ABI, so chain shapes do not
 * depend on it; the default NRPTE is the i386 value for a 64-byte line (Athlon/P4-era
 * X86_L1_CACHE_SHIFT 6): (64 − 4) / 4 = 15. ILP32 is charged that line; LP64 is charged what
 * the same 15 entries need with 8-byte pte_addr_t and next_and_idx, rounded up to the line
 * (8 + 15·8 = 128 bytes). x86_64 itself used NRPTE 7 per 64-byte line: the bytes per entry
 * are the same (8), it only needs twice the blocks. Rik's original node (2.5.27–2.5.30) was
 * { next, ptep }: 8 bytes per mapping PTE on i386, 16 on x86_64.
 */
import { assert } from "../assert.js";
import type { Kernel } from "../kernel.js";
import { findVma } from "../mmap.js";
import type { Slab, StructSize } from "../slab.js";
import { type GraphBuilder, pageNode } from "../snapshot.js";
import type { Mm, Page, Vma } from "../types.js";

/** kernel: pte_addr_t, resolved through the PTE page to (mm, virtual page). */
export interface PteAddr {
  readonly mm: Mm;
  readonly addr: number;
}

/** kernel: struct pte_chain. Slots below idx are free (null), idx .. nrpte-1 are used. */
export interface PteChain {
  next: PteChain | null;
  /** The low bits of next_and_idx: the lowest used slot. */
  idx: number;
  readonly ptes: (PteAddr | null)[];
}

/** kernel: the page->pte union; `direct` stands for PG_direct set. undefined = unmapped. */
export type PteRmap = { readonly direct: PteAddr } | { readonly chain: PteChain };

/** The pte union added to struct page: one pointer (seed 002: "4 bytes per struct page"). */
export const structPagePteUnion: StructSize = { ilp32: 4, lp64: 8 };

/** The slab kind of a pte_chain block. */
export const PTE_CHAIN = "pte_chain";

export interface PteChainGeometry {
  readonly nrpte: number;
  readonly size: StructSize;
  /** L1_CACHE_BYTES the block is aligned to. */
  readonly lineBytes: number;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/**
 * The block for an i386 L1 line of `lineBytes` (default 64: NRPTE 15). An explicit `nrpte`
 * (tests use 2 to force multi-block chains) keeps the ____cacheline_aligned rounding.
 */
export function pteChainGeometry(opts: { lineBytes?: number; nrpte?: number } = {}): PteChainGeometry {
  const lineBytes = opts.lineBytes ?? 64;
  const nrpte = opts.nrpte ?? (lineBytes - 4) / 4;
  assert(Number.isInteger(nrpte) && nrpte >= 2, "KERNEL", () => `pte_chain: NRPTE ${nrpte} (need an integer ≥ 2)`);
  return { nrpte, lineBytes, size: { ilp32: roundUp(4 + 4 * nrpte, lineBytes), lp64: roundUp(8 + 8 * nrpte, lineBytes) } };
}

const same = (a: PteAddr, mm: Mm, addr: number) => a.mm === mm && a.addr === addr;

/** Who pays for an allocation (Counters.objectsAllocatedAtFork / AtFault). */
export type ChainCause = "fork" | "fault" | "other";

/**
 * The pte_chain store: add / remove / walk over page.rmap. The owner (a design) passes its
 * slab, which must know PTE_CHAIN; `mutant` plants "lose-old-entry-on-direct-to-chain".
 */
export class PteChainStore {
  readonly nrpte: number;
  constructor(
    private readonly k: Kernel,
    private readonly slab: Slab,
    geometry: PteChainGeometry,
    private readonly mutant?: string,
  ) {
    this.nrpte = geometry.nrpte;
  }

  static rmapOf(page: Page): PteRmap | undefined {
    return page.rmap as PteRmap | undefined;
  }

  /** kernel: page_add_rmap() */
  add(page: Page, mm: Mm, addr: number, cause: ChainCause): void {
    if (cause === "fork") this.k.counters.forkRmapOps++;
    const pte: PteAddr = { mm, addr };
    const r = PteChainStore.rmapOf(page);
    if (r === undefined) {
      page.rmap = { direct: pte };
      return;
    }
    if ("direct" in r) {
      // Convert a direct pointer into a one-block chain holding both.
      const pc = this.allocBlock(cause);
      // D3 (mutant): the old direct entry is overwritten by the new one instead of kept.
      pc.ptes[this.nrpte - 1] = this.mutant === "lose-old-entry-on-direct-to-chain" ? pte : r.direct;
      pc.ptes[this.nrpte - 2] = pte;
      pc.idx = this.nrpte - 2;
      page.rmap = { chain: pc };
      return;
    }
    const head = r.chain;
    if (head.idx === 0) {
      const pc = this.allocBlock(cause);
      pc.next = head;
      pc.idx = this.nrpte - 1;
      pc.ptes[this.nrpte - 1] = pte;
      page.rmap = { chain: pc };
      return;
    }
    head.idx--;
    head.ptes[head.idx] = pte;
  }

  /** kernel: page_remove_rmap(). The entry must be there: a missing one is a kernel bug. */
  remove(page: Page, mm: Mm, addr: number): void {
    const r = PteChainStore.rmapOf(page);
    assert(r !== undefined, "I1", () => `page_remove_rmap: ${page} has no rmap, but (mm${mm.id}, ${addr}) maps it`, page);
    if ("direct" in r) {
      this.k.counters.ptesChecked++;
      assert(same(r.direct, mm, addr), "I1", () => `page_remove_rmap: ${page} is direct to (mm${r.direct.mm.id}, ${r.direct.addr}), not (mm${mm.id}, ${addr})`, page);
      page.rmap = undefined;
      return;
    }
    const start = r.chain;
    for (let pc: PteChain | null = start; pc !== null; pc = pc.next) {
      for (let i = pc.idx; i < this.nrpte; i++) {
        this.k.counters.ptesChecked++;
        const pa = pc.ptes[i] as PteAddr;
        if (!same(pa, mm, addr)) continue;
        // Fill the hole from the head block's lowest used slot.
        pc.ptes[i] = start.ptes[start.idx] as PteAddr;
        start.ptes[start.idx] = null;
        start.idx++;
        if (start.idx === this.nrpte) {
          page.rmap = start.next === null ? undefined : { chain: start.next };
          this.slab.free(PTE_CHAIN, start, "page_remove_rmap (emptied head block)");
        }
        this.collapseSingleton(page);
        return;
      }
    }
    assert(false, "I1", () => `page_remove_rmap: (mm${mm.id}, ${addr}) not on the pte_chain of ${page}`, page);
  }

  /** A one-entry chain goes back to PG_direct (2.6.0: in page_referenced()). */
  private collapseSingleton(page: Page): void {
    const r = PteChainStore.rmapOf(page);
    if (r === undefined || "direct" in r) return;
    const head = r.chain;
    if (head.next !== null || head.idx !== this.nrpte - 1) return;
    page.rmap = { direct: head.ptes[this.nrpte - 1] as PteAddr };
    this.slab.free(PTE_CHAIN, head, "page_referenced (collapse to PageDirect)");
  }

  /**
   * For `rmapcheck view`: a PageDirect page points at its one PTE's vma; a chained page at a
   * pte_chain node (its blocks and entries in the label) that points at each entry's vma. An
   * entry no vma covers (a stale one) gets a node of its own.
   */
  snapshot(g: GraphBuilder, pages: Iterable<Page | null>): void {
    const target = (pte: PteAddr): string => {
      const vma = findVma(pte.mm, pte.addr);
      return vma ? g.vma(vma) : g.node(`pte:mm${pte.mm.id}:0x${pte.addr.toString(16)}`, "freed", `stale PTE mm${pte.mm.id}:0x${pte.addr.toString(16)}`, "no vma covers this pte_chain entry");
    };
    for (const page of pages) {
      const r = page ? PteChainStore.rmapOf(page) : undefined;
      if (!page || r === undefined) continue;
      const label = (pte: PteAddr) => `mm${pte.mm.id}:0x${pte.addr.toString(16)}`;
      if ("direct" in r) {
        g.edge(pageNode(page), target(r.direct), "pte", `direct ${label(r.direct)}`);
        continue;
      }
      const id = g.node(`pte_chain:${page.pfn}`, "pte_chain", `pte_chain of pfn ${page.pfn}`, `${this.entries(page)} PTEs in ${this.blocks(page)} blocks of ${this.nrpte}`);
      g.edge(pageNode(page), id, "pte");
      this.forEach(page, (pte) => {
        g.edge(id, target(pte), "pte", label(pte));
        return true;
      });
    }
  }

  /** Every entry, head block first; stops when fn returns false. */
  forEach(page: Page, fn: (pte: PteAddr) => boolean): void {
    const r = PteChainStore.rmapOf(page);
    if (r === undefined) return;
    if ("direct" in r) {
      fn(r.direct);
      return;
    }
    for (let pc: PteChain | null = r.chain; pc !== null; pc = pc.next) {
      for (let i = pc.idx; i < this.nrpte; i++) if (!fn(pc.ptes[i] as PteAddr)) return;
    }
  }

  /**
   * kernel: try_to_unmap() / page_referenced() over the chain: every entry, pfn-checked
   * (kernel: the PTE is read through rmap_ptep_map()), its vma found as try_to_unmap_one did
   * (find_vma(mm, address)).
   */
  walk(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    this.forEach(page, ({ mm, addr }) => {
      if (!this.k.ptePointsTo(mm, addr, page.pfn)) return true;
      const vma = findVma(mm, addr);
      return vma === undefined || visit(vma, addr);
    });
  }

  /** Is (mm, addr) on page's rmap? For explain(). */
  has(page: Page, mm: Mm, addr: number): boolean {
    let found = false;
    this.forEach(page, (pa) => {
      found = same(pa, mm, addr);
      return !found;
    });
    return found;
  }

  /** kernel: migrate_page_move_mapping() for a chained page: newPage takes the union over. */
  migrate(oldPage: Page, newPage: Page): void {
    assert(newPage.rmap === undefined, "KERNEL", () => `migrate: ${newPage} already has an rmap`);
    newPage.rmap = oldPage.rmap;
    oldPage.rmap = undefined;
  }

  entries(page: Page): number {
    let n = 0;
    this.forEach(page, () => {
      n++;
      return true;
    });
    return n;
  }

  blocks(page: Page): number {
    const r = PteChainStore.rmapOf(page);
    let n = 0;
    if (r !== undefined && "chain" in r) for (let pc: PteChain | null = r.chain; pc !== null; pc = pc.next) n++;
    return n;
  }

  /**
   * The chain of one page (CONFIG_DEBUG_VM-style): block shape (I8), every entry maps the page
   * (I2), no entry twice (I2), entries == mapcount (I3, the 2.6.0 kernel had no other
   * count). Returns the number of blocks, for the slab total.
   */
  checkPage(page: Page): number {
    const r = PteChainStore.rmapOf(page);
    if (r === undefined) {
      assert(page.mapcount === 0, "I3", () => `${page}: mapcount ${page.mapcount} but no pte_chain and not direct`, page);
      return 0;
    }
    let blocks = 0;
    if ("chain" in r) {
      for (let pc: PteChain | null = r.chain; pc !== null; pc = pc.next) {
        blocks++;
        const head = pc === r.chain;
        assert(head ? pc.idx < this.nrpte : pc.idx === 0, "I8", () => `${page}: pte_chain block ${blocks} has idx ${pc.idx} (head: ${head})`, page);
        for (let i = 0; i < this.nrpte; i++) {
          assert((pc.ptes[i] !== null && pc.ptes[i] !== undefined) === i >= pc.idx, "I8", () => `${page}: pte_chain block ${blocks} slot ${i} vs idx ${pc.idx}`, page);
        }
      }
    }
    const seen = new Set<number>();
    this.forEach(page, ({ mm, addr }) => {
      const key = mm.id * 65536 + addr;
      assert(!seen.has(key), "I2", () => `${page}: (mm${mm.id}, ${addr}) twice on its pte_chain`, page);
      seen.add(key);
      const pte = mm.pt.get(addr);
      assert(pte?.kind === "present" && pte.pfn === page.pfn, "I2", () => `${page}: rmap entry (mm${mm.id}, ${addr}) does not map it`, page);
      return true;
    });
    if ("chain" in r) assert(seen.size >= 2, "I8", () => `${page}: a pte_chain with ${seen.size} entry should be PG_direct`, page);
    assert(seen.size === page.mapcount, "I3", () => `${page}: ${seen.size} rmap entries, mapcount ${page.mapcount}`, page);
    return blocks;
  }

  /** Every page's chain, and no block outside them (I9: a lost block is a leak). */
  check(pages: Iterable<Page>, skip: (page: Page) => boolean = () => false): void {
    let blocks = 0;
    for (const page of pages) if (!skip(page)) blocks += this.checkPage(page);
    const live = this.slab.liveCount(PTE_CHAIN);
    assert(blocks === live, "I9", () => `${live} pte_chain blocks live, ${blocks} reachable from pages`);
  }

  private allocBlock(cause: ChainCause): PteChain {
    if (cause === "fork") this.k.counters.objectsAllocatedAtFork++;
    else if (cause === "fault") this.k.counters.objectsAllocatedAtFault++;
    return this.slab.alloc(PTE_CHAIN, { next: null, idx: this.nrpte, ptes: new Array<PteAddr | null>(this.nrpte).fill(null) });
  }
}
