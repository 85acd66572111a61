/*
 * Large anonymous folios, PMD mappings and the two mapcount schemes of 6.x kernels
 * (docs/folios.md). A layer over the page-granular simulated kernel: every page of a folio
 * keeps its own PTE in mm.pt and its own page.mapcount / page.count (I3, I8, the walks and
 * the model see pages, as processes do); the layer adds what the kernel keeps per folio:
 *
 *   Folio   {order, pages, largeMapcount = PMD mappings + PTE mappings of its pages,
 *            entireMapcount = PMD mappings, pageMapcount[i] = PTE mappings of page i
 *            ("per-page" scheme only, 6.10–6.14), mmId[2] / mmIdMapcount[2] / shared (the
 *            MM-id slots and FOLIO_MM_IDS_SHARED_BIT, "no-page-mapcount" 6.15+),
 *            anonExclusive[i] = PageAnonExclusive of page i (5.19+), onDeferredList,
 *            partiallyMapped = folio_test_partially_mapped() (6.12+)}
 *   pmds    per mm: PMD index → folio, an aligned naturally sized range mapped at PMD level
 *            (its nr PTEs in mm.pt stand for the one PMD entry: the model stays page-granular)
 *
 * Order 2 (4 pages) stands in for PMD order in the 32-page world. The kernel text followed:
 * mm/rmap.c __folio_add_rmap(), __folio_remove_rmap(), folio_add_new_anon_rmap(),
 * __folio_try_dup_anon_rmap(); include/linux/rmap.h folio_add_return_large_mapcount() /
 * folio_sub_return_large_mapcount() (6.15, David Hildenbrand, "mm: stop maintaining the
 * per-page mapcount of large folios (CONFIG_NO_PAGE_MAPCOUNT)"); mm/huge_memory.c
 * __split_huge_pmd_locked(), copy_huge_pmd(), zap_huge_pmd(), move_huge_pmd(),
 * do_huge_pmd_wp_page(), vma_adjust_trans_huge(); mm/memory.c do_anonymous_page()'s
 * alloc_anon_folio() and thp_vma_suitable_order(). split_folio(), whole-folio migration and
 * whole-folio swap-out, which go through the rmap walk, are impl/folio-migrate.ts.
 */
import { AllocFailure } from "./alloc.js";
import { assert } from "./assert.js";
import type { RmapDesign } from "./design.js";
import type { Kernel } from "./kernel.js";
import { filePmdFault, filePmdZap, fileFolioRead, truncatePartialFolios } from "./folio-file.js";
import { migrateFolio, splitFolio, swapOutFolio } from "./folio-migrate.js";
import { PteTables } from "./folio-pgtable.js";
import { findVma } from "./mmap.js";
import { type File, type Mm, PG_anon, PG_locked, type Page, type PresentPte, type Vma, VM_SHARED } from "./types.js";

export type MapcountScheme = "per-page" | "no-page-mapcount";

/**
 * Planted bugs of the folio layer (the catalogue's F entries). Each is guarded by
 * `this.mutant === name` at the line it changes.
 */
export const folioMutants = [
  "dup-pmd-keeps-exclusive",
  "split-pmd-marks-exclusive",
  "split-pmd-drops-entire",
  "pmd-unmap-not-queued",
  "slot-free-clears-shared",
  "vma-address-wraps",
  "queue-fully-unmapped",
  "migrate-drops-deferred",
  "migrate-partial-whole",
  "split-vma-keeps-pmd",
  "file-tail-address-efault",
] as const;
export type FolioMutant = (typeof folioMutants)[number];

let nextFolioId = 1;

export class Folio {
  readonly id = nextFolioId++;
  readonly pages: Page[];
  /** The pages' frames at allocation (a freed page's struct is poisoned: never touched again). */
  readonly pfns: number[];
  /** Page i was freed (the model frees an unmapped page of a folio on its own). */
  readonly gone: boolean[];
  largeMapcount = 0;
  entireMapcount = 0;
  readonly pageMapcount: number[];
  readonly anonExclusive: boolean[];
  readonly mmId: [number, number] = [0, 0];
  readonly mmIdMapcount: [number, number] = [0, 0];
  /** FOLIO_MM_IDS_SHARED_BIT ("no-page-mapcount"). */
  shared = false;
  onDeferredList = false;
  /** folio_test_partially_mapped() (6.12+, 8422acdc97ed): queued because partially mapped. */
  partiallyMapped = false;
  /**
   * Ghost state (the checker's, not the kernel's): queued at fault as a possibly underused THP
   * (6.12+, dafff3f4c850 "mm: split underused THPs") and not yet looked at by the shrinker, so
   * it must still be on the deferred split queue (I14).
   */
  awaitingScan = false;
  /** Pages of the folio not yet freed (the model frees unmapped pages one by one). */
  live: number;
  /** A page-cache folio (impl/folio-file.ts): no PageAnonExclusive, never deferred-split. */
  file = false;
  constructor(
    readonly order: number,
    pages: Page[],
    /** Slots with no page (a migration target of a folio whose unmapped pages were freed). */
    gone?: readonly boolean[],
  ) {
    this.pages = pages;
    this.gone = pages.map((_p, i) => gone?.[i] ?? false);
    this.pfns = pages.map((p, i) => (this.gone[i] ? -1 : p.pfn));
    this.pageMapcount = pages.map(() => 0);
    this.anonExclusive = pages.map(() => false);
    this.live = this.gone.filter((g) => !g).length;
  }
  get nr(): number {
    return this.pages.length;
  }
  toString(): string {
    return `folio#${this.id} (order ${this.order}, pfn ${this.pfns.join(",")})`;
  }
}

/** Statistics a run reports (how often 6.14's folio_likely_mapped_shared() is wrong, ...). */
export class FolioStats {
  foliosAllocated = 0;
  /** Of those, PTE-mapped folios below PMD order (mTHP) allocated at a fault. */
  mthpFolios = 0;
  pmdMaps = 0;
  pmdSplits = 0;
  pmdCopiesAtFork = 0;
  pmdZaps = 0;
  pmdMoves = 0;
  deferredQueued = 0;
  /**
   * Folios marked partially mapped (THP_DEFERRED_SPLIT_PAGE) while no mapping was left: the
   * statistic Zi Yan's 6.10 fix corrected (catalogue F7); check() requires none (I14).
   */
  queuedUnmapped = 0;
  /** The last folio so counted, for the message. */
  queuedUnmappedWhat = "";
  /** Folios migrated whole (PMD and PTE migration entries, impl/folio-migrate.ts). */
  wholeMigrations = 0;
  /** Folios swapped out whole (every mapping replaced by a swap entry). */
  wholeSwapouts = 0;
  /** Folios split by split_folio() before migration or swap-out (partially mapped). */
  splitsBeforeMove = 0;
  /** Folios split by the deferred split shrinker (at a reclaim command). */
  foliosSplit = 0;
  /** Splits refused because the rmap walk did not account for every mapping. */
  splitFailures = 0;
  largeReuses = 0;
  /** Page-cache folios read (impl/folio-file.ts). */
  fileFolios = 0;
  /** File folios mapped by PMD (do_set_pmd()). */
  filePmdMaps = 0;
  /** File PMD mappings zapped by a split (__split_huge_pmd_locked() of a file vma). */
  filePmdZaps = 0;
  /** File folios split at truncation (truncate_inode_partial_folio()). */
  fileFolioSplits = 0;
  /** Checks at which the scheme's maybe-shared answer was true while one mm maps the folio. */
  spuriousShared = 0;
  /** Checks at which it was false while two or more mms map the folio (6.14's "likely"). */
  missedShared = 0;
  sharedChecks = 0;
  /** Folio mapping operations (a PTE or a PMD mapped or unmapped). */
  mappingOps = 0;
  /**
   * Mapcount fields written by them: 6.14 the page _mapcount, _large_mapcount, and
   * _nr_pages_mapped when a page (or the entire mapping) goes 0↔1; 6.15 _large_mapcount, the
   * mm's slot mapcount, and _mm_ids when a slot is taken or freed or the shared bit flips.
   */
  counterWrites = 0;
}

/** A folio's mappings found by brute force over every page table (check()'s I12–I14). */
export interface BruteForce {
  /** PMD mappings (each counts once). */
  pmd: number;
  /** PTE mappings per page (PTEs under a PMD mapping of this folio not included). */
  pte: number[];
  /** The mms mapping each page (by PTE or PMD). */
  mmsOfPage: Set<number>[];
  mms: Set<number>;
  /** Mappings per mm (a PMD counts once). */
  perMm: Map<number, number>;
}

export class FolioLayer {
  readonly nr: number;
  readonly folioOf = new Map<Page, Folio>();
  readonly pmds = new Map<Mm, Map<number, Folio>>();
  readonly deferredSplitQueue = new Set<Folio>();
  readonly stats = new FolioStats();
  /** PMD slots holding a PTE table (impl/folio-pgtable.ts): no THP fault there. */
  readonly tables = new PteTables();
  /** mTHP orders (world.mthpOrders, below `order`), highest first. */
  mthpOrders: readonly number[] = [];
  /** Addresses "mm:addr" whose PTE removal belongs to a PMD zap already accounted. */
  private readonly zapping = new Set<string>();
  /**
   * zap_present_ptes()'s batches (6.9+, folio_pte_batch() + folio_remove_rmap_ptes()): "mm:addr"
   * → the run of PTEs of one folio, consecutive pages in one page table, it belongs to. The
   * partial-mapping test runs once, at the run's last PTE.
   */
  private readonly batches = new Map<string, { f: Folio; left: number; newlyUnmapped: number }>();
  /** Set while impl/folio-migrate.ts moves a whole folio: the per-page hooks stand aside. */
  moving = false;
  /** The page cache reads large folios (world.fileFolios; impl/folio-file.ts). */
  fileFolios = false;

  constructor(
    readonly k: Kernel,
    /** The design the folio layer wraps; the layer maps pages through it directly. */
    readonly inner: RmapDesign,
    readonly scheme: MapcountScheme,
    readonly order: number,
    readonly mutant?: FolioMutant,
  ) {
    this.nr = 1 << order;
    nextFolioId = 1;
  }

  pmdOf(mm: Mm, addr: number): Folio | undefined {
    return this.pmds.get(mm)?.get(Math.floor(addr / this.nr));
  }

  pmdTable(mm: Mm): Map<number, Folio> {
    let t = this.pmds.get(mm);
    if (!t) {
      t = new Map();
      this.pmds.set(mm, t);
    }
    return t;
  }

  // --- mapcount accounting (mm/rmap.c, include/linux/rmap.h) --------------------------------

  /** folio_add_return_large_mapcount() with the MM-id slots (6.15), natural counts (no -1). */
  private addLarge(f: Folio, mm: Mm, diff: number): void {
    f.largeMapcount += diff;
    this.stats.mappingOps++;
    this.stats.counterWrites++;
    if (this.scheme !== "no-page-mapcount") return;
    const shared = f.shared;
    this.addSlot(f, mm, diff);
    if (f.mmId[0] === mm.id || f.mmId[1] === mm.id) this.stats.counterWrites++;
    if (f.shared !== shared) this.stats.counterWrites++;
  }

  private addSlot(f: Folio, mm: Mm, diff: number): void {
    const id = mm.id;
    if (f.mmId[0] === id) f.mmIdMapcount[0] += diff;
    else if (f.mmId[1] === id) f.mmIdMapcount[1] += diff;
    else {
      const slot = f.mmId[0] === 0 ? 0 : f.mmId[1] === 0 ? 1 : -1;
      if (slot === -1) {
        f.shared = true; // two other mms hold the slots: certainly shared
        return;
      }
      f.mmId[slot] = id;
      f.mmIdMapcount[slot] = diff;
      this.stats.counterWrites++; // _mm_ids
      // "We might have other mappings already."
      if (f.largeMapcount !== diff) f.shared = true;
    }
  }

  /** folio_sub_return_large_mapcount(). */
  private subLarge(f: Folio, mm: Mm, diff: number): void {
    f.largeMapcount -= diff;
    this.stats.mappingOps++;
    this.stats.counterWrites++;
    if (this.scheme !== "no-page-mapcount") return;
    const shared = f.shared;
    this.subSlot(f, mm, diff);
    if (f.shared !== shared) this.stats.counterWrites++;
  }

  private subSlot(f: Folio, mm: Mm, diff: number): void {
    const slot = f.mmId[0] === mm.id ? 0 : f.mmId[1] === mm.id ? 1 : -1;
    // An mm without a slot skips to the "one MM slot owns all mappings" test below (the
    // if / else-if of folio_sub_return_large_mapcount() has no else): so the last unmap of a
    // folio by a slotless mm clears the shared bit, both slots being free (file folios outlive
    // their mappings in the page cache; impl/folio-file.ts).
    if (slot !== -1) {
      f.mmIdMapcount[slot] -= diff;
      this.stats.counterWrites++;
      if (f.mmIdMapcount[slot] > 0) return;
      this.stats.counterWrites++; // _mm_ids: the slot is freed
      f.mmId[slot] = 0;
      f.mmIdMapcount[slot] = 0;
    }
    // The last mapping of this mm went: one slot may now hold every remaining mapping.
    if (this.mutant === "slot-free-clears-shared" && slot !== -1) f.shared = false;
    else if (f.mmIdMapcount[0] === f.largeMapcount || f.mmIdMapcount[1] === f.largeMapcount) f.shared = false;
  }

  /** Pages mapped by PTE (6.14's _nr_pages_mapped without ENTIRELY_MAPPED). */
  private pagesMapped(f: Folio): number {
    let n = 0;
    for (const c of f.pageMapcount) if (c > 0) n++;
    return n;
  }

  /**
   * deferred_split_folio(folio, partially_mapped) (6.12+): a partially mapped folio is marked
   * (and counted as THP_DEFERRED_SPLIT_PAGE) once; a folio queued at fault is queued unmarked.
   */
  queue(f: Folio, partially: boolean): void {
    if (partially && !f.partiallyMapped) {
      f.partiallyMapped = true;
      this.stats.deferredQueued++;
      if (f.largeMapcount === 0) {
        this.stats.queuedUnmapped++;
        this.stats.queuedUnmappedWhat = `${f}`;
      }
    }
    if (f.onDeferredList) return;
    f.onDeferredList = true;
    this.deferredSplitQueue.add(f);
  }

  /** folio_unqueue_deferred_split() */
  unqueue(f: Folio): void {
    this.deferredSplitQueue.delete(f);
    f.onDeferredList = false;
  }

  ptesMapped(f: Folio, mm: Mm, i: number): void {
    if (this.scheme === "per-page") {
      f.pageMapcount[i] = (f.pageMapcount[i] as number) + 1;
      this.stats.counterWrites += f.pageMapcount[i] === 1 ? 2 : 1; // + _nr_pages_mapped
    }
    this.addLarge(f, mm, 1);
  }

  /** __folio_remove_rmap(RMAP_LEVEL_PTE) for one page, with the partial-mapping test. */
  private pteUnmapped(f: Folio, mm: Mm, i: number): void {
    this.pteRemovalDone(f, this.pteDropped(f, mm, i) ? 1 : 0);
  }

  /** One PTE mapping of page i goes; true when the page has no PTE mapping left (6.14). */
  private pteDropped(f: Folio, mm: Mm, i: number): boolean {
    let last = false;
    if (this.scheme === "per-page") {
      f.pageMapcount[i] = (f.pageMapcount[i] as number) - 1;
      last = f.pageMapcount[i] === 0;
      this.stats.counterWrites += last ? 2 : 1;
    }
    this.subLarge(f, mm, 1);
    return last;
  }

  /**
   * The end of __folio_remove_rmap(RMAP_LEVEL_PTE) for `newlyUnmapped` pages of one call
   * (folio_remove_rmap_ptes() batches a zap's run of PTEs of one folio in one page table,
   * 6.9+): queue the folio if it is now partially mapped. 6.10+ (Zi Yan, "mm/rmap: do not add
   * fully unmapped large folio to deferred split list", 2024-05-02) tests that something is
   * still mapped; before it, 6.8–6.9 queued whenever a page lost its last PTE mapping
   * (`level == RMAP_LEVEL_PTE || nr < nr_pmdmapped`), so a folio unmapped whole in one batch
   * was queued and counted as THP_DEFERRED_SPLIT_PAGE: the mutant queue-fully-unmapped (F7).
   */
  private pteRemovalDone(f: Folio, newlyUnmapped: number): void {
    if (f.entireMapcount > 0 || f.file) return; // only anon folios are queued (folio_test_anon)
    if (f.largeMapcount === 0) {
      if (this.mutant === "queue-fully-unmapped" && newlyUnmapped > 0) this.queue(f, true);
      return;
    }
    const partially = this.scheme === "per-page" ? this.pagesMapped(f) < f.nr : f.largeMapcount < f.nr;
    if (partially && !f.partiallyMapped) this.queue(f, true);
  }

  pmdMapped(f: Folio, mm: Mm): void {
    f.entireMapcount++;
    this.stats.counterWrites += this.scheme === "per-page" && f.entireMapcount === 1 ? 2 : 1;
    this.addLarge(f, mm, 1);
  }

  /** __folio_remove_rmap(RMAP_LEVEL_PMD). */
  pmdUnmapped(f: Folio, mm: Mm): void {
    f.entireMapcount--;
    this.stats.counterWrites += this.scheme === "per-page" && f.entireMapcount === 0 ? 2 : 1;
    this.subLarge(f, mm, 1);
    if (f.entireMapcount > 0 || f.largeMapcount === 0 || f.file) return;
    if (this.mutant === "pmd-unmap-not-queued") return;
    const partially = this.scheme === "per-page" ? this.pagesMapped(f) < f.nr : f.largeMapcount < f.nr;
    if (partially && !f.partiallyMapped) this.queue(f, true);
  }

  // --- the fault path: do_anonymous_page() with alloc_anon_folio() -------------------------

  /**
   * A write fault on untouched anon memory: a folio of order `order` mapped at PMD level when
   * the aligned range lies inside the vma (thp_vma_suitable_order(); no pgoff test for an
   * anonymous vma), no PTE table holds the slot and nothing of it is mapped yet; else an
   * mTHP folio (mthpFault) when the world enables orders below; undefined otherwise (the
   * caller falls back to an order-0 page, as the kernel does when no order fits or
   * allocation fails).
   */
  anonFault(vma: Vma, addr: number): PresentPte | undefined {
    return this.pmdFault(vma, addr) ?? (this.mthpOrders.length > 0 ? this.mthpFault(vma, addr) : undefined);
  }

  /** do_huge_pmd_anonymous_page(): the PMD-order folio of anonFault(). */
  private pmdFault(vma: Vma, addr: number): PresentPte | undefined {
    const nr = this.nr;
    const start = addr - (addr % nr);
    const end = start + nr;
    if (start < vma.vmStart || end > vma.vmEnd || (vma.vmFlags & VM_SHARED) !== 0) return undefined;
    // thp_vma_suitable_order(): "Don't have to check pgoff for anonymous vma" — only the
    // aligned range must lie in the vma (a file vma would also need vm_start - vm_pgoff
    // aligned).
    const mm = vma.mm;
    // __handle_mm_fault(): a THP only where the PMD is none (no PTE table there).
    if (this.tables.has(mm, start / nr)) return undefined;
    for (let a = start; a < end; a++) if (mm.pt.has(a)) return undefined;
    const pages: Page[] = [];
    try {
      for (let i = 0; i < nr; i++) {
        const p = this.k.allocPage();
        p.flags |= PG_anon | PG_locked; // not reclaimable before it is mapped
        this.k.frameData[p.pfn] = 0;
        pages.push(p);
      }
    } catch (e) {
      if (!(e instanceof AllocFailure)) throw e;
      for (const p of pages) this.k.freePage(p, "alloc_anon_folio (fallback)");
      return undefined;
    }
    const f = new Folio(this.order, pages);
    this.stats.foliosAllocated++;
    for (const p of pages) this.folioOf.set(p, f);
    let hit: PresentPte | undefined;
    for (let i = 0; i < nr; i++) {
      const p = pages[i] as Page;
      this.inner.pageAddAnon(p, vma, start + i, "new");
      const pte = this.k.setPte(vma, start + i, p, true);
      p.flags &= ~PG_locked;
      f.anonExclusive[i] = true;
      if (start + i === addr) hit = pte;
    }
    // folio_add_new_anon_rmap(RMAP_LEVEL_PMD): entire 1, large 1, slot 0 = this mm.
    this.pmdMapped(f, mm);
    this.pmdTable(mm).set(start / nr, f);
    this.stats.pmdMaps++;
    // __do_huge_pmd_anonymous_page(): deferred_split_folio(folio, false), so that the shrinker
    // may split it if underused (6.12+, Usama Arif, dafff3f4c850 "mm: split underused THPs").
    this.queue(f, false);
    f.awaitingScan = true;
    return hit;
  }

  /**
   * mTHP (6.8+, Ryan Roberts, "mm: thp: support allocation of anonymous multi-size THP"):
   * do_anonymous_page() → alloc_anon_folio() when no PMD maps the range. Of the enabled
   * orders whose aligned range lies in the vma with vm_start - vm_pgoff aligned
   * (thp_vma_suitable_orders()), the highest whose PTEs are all none; if its allocation fails,
   * the next lower of those, finally order 0 (undefined: the caller maps one page). The
   * folio is mapped by nr PTEs, every page PageAnonExclusive (folio_add_new_anon_rmap()
   * with RMAP_EXCLUSIVE, per page below PMD order), never by a PMD.
   */
  private mthpFault(vma: Vma, addr: number): PresentPte | undefined {
    if ((vma.vmFlags & VM_SHARED) !== 0) return undefined;
    const mm = vma.mm;
    const fits: number[] = [];
    for (const order of this.mthpOrders) {
      const n = 1 << order;
      const start = addr - (addr % n);
      if (start < vma.vmStart || start + n > vma.vmEnd) continue; // no pgoff check for anon
      let none = true;
      for (let a = start; a < start + n && none; a++) if (mm.pt.has(a)) none = false;
      // "Find the highest order where the aligned range is completely pte_none(); all
      // remaining orders will be completely pte_none()" (alloc_anon_folio()).
      if (none || fits.length > 0) fits.push(order);
    }
    for (const order of fits) {
      const n = 1 << order;
      const start = addr - (addr % n);
      const pages: Page[] = [];
      try {
        for (let i = 0; i < n; i++) {
          const p = this.k.allocPage();
          p.flags |= PG_anon | PG_locked;
          this.k.frameData[p.pfn] = 0;
          pages.push(p);
        }
      } catch (e) {
        if (!(e instanceof AllocFailure)) throw e;
        for (const p of pages) this.k.freePage(p, "alloc_anon_folio (next order)");
        continue;
      }
      const f = new Folio(order, pages);
      this.stats.foliosAllocated++;
      this.stats.mthpFolios++;
      this.tables.add(mm, Math.floor(start / this.nr));
      let hit: PresentPte | undefined;
      for (let i = 0; i < n; i++) {
        const p = pages[i] as Page;
        this.folioOf.set(p, f);
        this.inner.pageAddAnon(p, vma, start + i, "new");
        const pte = this.k.setPte(vma, start + i, p, true);
        p.flags &= ~PG_locked;
        f.anonExclusive[i] = true;
        this.ptesMapped(f, mm, i);
        if (start + i === addr) hit = pte;
      }
      return hit;
    }
    return undefined;
  }

  // --- file large folios (impl/folio-file.ts) ---------------------------------------------

  /** A page-cache folio of the layer's order made of `pages` (fileFolioRead()). */
  newFileFolio(pages: Page[]): Folio {
    const f = new Folio(this.order, pages);
    f.file = true;
    this.stats.foliosAllocated++;
    for (const p of pages) this.folioOf.set(p, f);
    return f;
  }

  /** wp_huge_pmd() on a file PMD: split (zap) it, the written page stays mapped by PTE. */
  wpHugePmd(vma: Vma, addr: number): void {
    const chunk = Math.floor(addr / this.nr);
    if (this.pmds.get(vma.mm)?.get(chunk)?.file) this.splitPmd(vma.mm, chunk, addr);
  }

  /** A page-cache miss at (file, index): the folio's page, or undefined (an order-0 page). */
  fileRead(file: File, index: number): Page | undefined {
    return fileFolioRead(this, file, index);
  }

  /** do_set_pmd() at a file fault; undefined: map the page alone by PTE. */
  filePmd(vma: Vma, addr: number, page: Page, write: boolean): PresentPte | undefined {
    return filePmdFault(this, vma, addr, page, write);
  }

  /** truncate_inode_partial_folio() for the file folios `size` cuts. */
  truncatePartial(file: File, size: number): void {
    truncatePartialFolios(this, file, size);
  }

  /** copy_huge_pmd() skips a file PMD at fork ("Skip if can be re-fill on fault"). */
  filePmdAt(mm: Mm, addr: number): boolean {
    return this.pmds.get(mm)?.get(Math.floor(addr / this.nr))?.file === true;
  }

  // --- PMD splitting: __split_huge_pmd() ----------------------------------------------------

  /**
   * __split_huge_pmd_locked(): the PMD of (mm, chunk) becomes nr PTEs. The page table keeps
   * the same PTEs; the accounting moves from the entire mapping to the pages, and each page
   * inherits the head page's PageAnonExclusive (RMAP_EXCLUSIVE).
   */
  splitPmd(mm: Mm, chunk: number, keep?: number): void {
    const t = this.pmds.get(mm);
    const f = t?.get(chunk);
    if (!t || !f) return;
    if (f.file) {
      filePmdZap(this, mm, chunk, f, { keep }); // a file PMD is zapped, not split (folio-file.ts)
      return;
    }
    t.delete(chunk);
    this.stats.pmdSplits++;
    this.tables.add(mm, chunk); // the deposited page table comes back (pgtable_trans_huge_withdraw)
    const exclusive = f.anonExclusive[0] as boolean;
    // folio_add_anon_rmap_ptes(folio, page, nr, vma, haddr, exclusive ? RMAP_EXCLUSIVE : 0)
    for (let i = 0; i < f.nr; i++) {
      if (this.mutant !== "split-pmd-drops-entire") this.ptesMapped(f, mm, i);
      f.anonExclusive[i] = exclusive || this.mutant === "split-pmd-marks-exclusive";
    }
    if (this.mutant === "split-pmd-drops-entire") return;
    // folio_remove_rmap_pmd()
    this.pmdUnmapped(f, mm);
  }

  /**
   * change_protection()'s change_pmd_range() over [start, end) of mm (mprotect, mlock): a PMD
   * the range covers only in part is split (`next - addr != HPAGE_PMD_SIZE`). With the vma
   * boundaries already splitting PMDs (vma_adjust_trans_huge()) there is none; before that
   * (the mutant split-vma-keeps-pmd, F10) this walk was what split them.
   */
  changeProtection(mm: Mm, start: number, end: number): void {
    const t = this.pmds.get(mm);
    if (!t || t.size === 0 || start >= end) return;
    const nr = this.nr;
    for (let c = Math.floor(start / nr); c * nr < end; c++)
      if (t.has(c) && (c * nr < start || c * nr + nr > end)) this.splitPmd(mm, c);
  }

  /** Split every PMD of mm that straddles `boundary` (vma_adjust_trans_huge / split_huge_pmd_if_needed). */
  splitAt(mm: Mm, boundary: number): void {
    // Before Andrea Arcangeli's "thp: avoid breaking huge pmd invariants in case of vma_adjust
    // failures" (THP series patch 57/66, 2010) a vma boundary did not split the PMD it cut:
    // the operation's own walk did, later (changeProtection, zapRange, pageMove), which an
    // allocation failure between two split_vma() calls skips (F10).
    if (this.mutant === "split-vma-keeps-pmd") return;
    if (boundary % this.nr === 0) return;
    this.splitPmd(mm, Math.floor(boundary / this.nr));
  }

  /** Split every PMD mapping of the folio of `page` (try_to_unmap's TTU_SPLIT_HUGE_PMD). */
  splitFolioPmds(page: Page): void {
    const f = this.folioOf.get(page);
    if (!f || f.entireMapcount === 0) return;
    for (const [mm, t] of this.pmds) for (const [chunk, g] of t) if (g === f) this.splitPmd(mm, chunk);
  }

  // --- hooks the kernel and the wrapping design call ----------------------------------------

  /**
   * zap_pmd_range(): a PMD entirely inside [start, end) goes at once (zap_huge_pmd), one
   * partly inside is split first (__split_huge_pmd) and its PTEs are zapped one by one.
   */
  zapRange(vma: Vma, start: number, end: number, reclaimPt = false): void {
    this.batches.clear();
    const nr = this.nr;
    // MADV_DONTNEED with CONFIG_PT_RECLAIM (6.14+): a PTE table whose whole range is zapped
    // is freed (reclaim_pt_is_enabled(): at least PMD_SIZE of it; impl/folio-pgtable.ts).
    if (reclaimPt)
      for (let c = Math.ceil(start / nr); c * nr + nr <= end; c++) if (this.pmdOf(vma.mm, c * nr) === undefined) this.tables.delete(vma.mm, c);
    const t = this.pmds.get(vma.mm);
    if (!t || t.size === 0) {
      this.batchRuns(vma.mm, start, end);
      return;
    }
    for (let c = Math.floor(start / nr); c * nr < end; c++) {
      const f = t.get(c);
      if (!f) continue;
      if (c * nr >= start && c * nr + nr <= end) {
        t.delete(c);
        this.stats.pmdZaps++;
        for (let a = c * nr; a < c * nr + nr; a++) this.zapping.add(`${vma.mm.id}:${a}`);
        for (let i = 0; i < nr; i++) f.anonExclusive[i] = false;
        this.pmdUnmapped(f, vma.mm);
      } else this.splitPmd(vma.mm, c);
    }
    this.batchRuns(vma.mm, start, end);
  }

  /** Register the runs of PTEs of one folio that zapRange's zap removes in one batch each. */
  private batchRuns(mm: Mm, start: number, end: number): void {
    const nr = this.nr;
    let run: { f: Folio; i: number; from: number } | undefined;
    const close = (to: number) => {
      if (run && to - run.from >= 2) {
        const b = { f: run.f, left: to - run.from, newlyUnmapped: 0 };
        for (let a = run.from; a < to; a++) this.batches.set(`${mm.id}:${a}`, b);
      }
      run = undefined;
    };
    for (let a = start; a < end; a++) {
      const e = mm.pt.get(a);
      const p = e?.kind === "present" && !this.zapping.has(`${mm.id}:${a}`) ? this.k.pageAt(e.pfn) : null;
      const f = p ? this.folioOf.get(p) : undefined;
      if (!p || !f) {
        close(a);
        continue;
      }
      const i = f.pages.indexOf(p);
      if (run && run.f === f && run.i + (a - run.from) === i && a % nr !== 0) continue;
      close(a);
      run = { f, i, from: a };
    }
    close(end);
  }

  /** A PTE of `page` at (vma, addr) is going (zap, COW, reclaim, swap-out). */
  pageRemoved(page: Page, vma: Vma, addr: number): void {
    const f = this.folioOf.get(page);
    if (!f) return;
    const mm = vma.mm;
    if (this.zapping.size > 0 && this.zapping.delete(`${mm.id}:${addr}`)) return;
    const chunk = Math.floor(addr / this.nr);
    if (this.pmds.get(mm)?.get(chunk) === f) {
      if (f.file) {
        filePmdZap(this, mm, chunk, f, { skip: addr }); // the caller removes addr's PTE
        return;
      }
      this.splitPmd(mm, chunk);
    }
    const i = f.pages.indexOf(page);
    const key = `${mm.id}:${addr}`;
    const b = this.batches.size > 0 ? this.batches.get(key) : undefined;
    if (b && b.f === f) {
      this.batches.delete(key);
      if (this.pteDropped(f, mm, i)) b.newlyUnmapped++;
      if (--b.left === 0) this.pteRemovalDone(f, b.newlyUnmapped);
    } else this.pteUnmapped(f, mm, i);
    // Unmapped from this mm: the page is no longer exclusive to anyone (a swap PTE carries it).
    f.anonExclusive[i] = false;
  }

  /** A PTE of a folio page is mapped again (swap-in of a swap-cache page still in its folio). */
  pageAdded(page: Page, vma: Vma, exclusive: boolean): void {
    const f = this.folioOf.get(page);
    if (!f) return;
    const i = f.pages.indexOf(page);
    this.ptesMapped(f, vma.mm, i);
    f.anonExclusive[i] = exclusive;
  }

  /** copy_huge_pmd() / copy_present_ptes() at fork: __folio_try_dup_anon_rmap(). */
  pageDup(page: Page, parentVma: Vma, childVma: Vma, addr: number): void {
    const f = this.folioOf.get(page);
    if (!f) return;
    const chunk = Math.floor(addr / this.nr);
    const i = f.pages.indexOf(page);
    if (this.pmds.get(parentVma.mm)?.get(chunk) === f) {
      const ct = this.pmdTable(childVma.mm);
      if (ct.get(chunk) === f) return; // this PMD is copied already
      ct.set(chunk, f);
      this.stats.pmdCopiesAtFork++;
      if (this.mutant !== "dup-pmd-keeps-exclusive") for (let j = 0; j < f.nr; j++) f.anonExclusive[j] = false;
      this.pmdMapped(f, childVma.mm);
      return;
    }
    f.anonExclusive[i] = false;
    this.ptesMapped(f, childVma.mm, i);
  }

  /**
   * do_wp_page(): may the writer at (vma, addr) reuse `page` in place? A small page as the
   * order-0 kernel decides; a page of a large folio by canReuse(), which this marks
   * PageAnonExclusive as the kernel does (the whole PMD for a PMD-mapped folio).
   */
  mayReuse(page: Page, vma?: Vma, addr?: number): boolean {
    const f = this.folioOf.get(page);
    if (!f) return page.mapcount === 1;
    const i = f.pages.indexOf(page);
    if (f.anonExclusive[i]) {
      this.stats.largeReuses++;
      return true;
    }
    if (vma === undefined || addr === undefined) return false;
    const how = this.reuseOf(f, vma.mm, addr);
    if (how === undefined) return false;
    this.stats.largeReuses++;
    if (how === "pmd") for (let j = 0; j < f.nr; j++) f.anonExclusive[j] = true;
    else f.anonExclusive[i] = true;
    return true;
  }

  /**
   * Would a write fault at (mm, addr) reuse `page` in place? Pure (mayReuse() acts on it);
   * conform asks it to know whether Linux's populate write-faults a page (conform/conform.ts).
   */
  canReuse(page: Page, mm: Mm, addr: number): boolean {
    const f = this.folioOf.get(page);
    if (!f) return page.mapcount === 1;
    return (f.anonExclusive[f.pages.indexOf(page)] as boolean) || this.reuseOf(f, mm, addr) !== undefined;
  }

  /**
   * The reuse of a large folio whose page is not PageAnonExclusive:
   * - "pmd": do_huge_pmd_wp_page() (mm/huge_memory.c) reuses a PMD-mapped folio when that PMD
   *   holds its only reference (folio_ref_count() == 1): after a fork whose child has gone,
   *   the parent's THP is written in place, not split and copied (seen on Linux 6.18 by
   *   `conform`, docs/conform.md).
   * - "pte": 6.15+ (1da190f4d0a6, David Hildenbrand, "mm: Copy-on-Write (COW) reuse support
   *   for PTE-mapped THP"): __wp_can_reuse_large_anon_folio() reuses a page of a PTE-mapped
   *   folio that is not maybe-shared (the MM-id slots), has more than one mapping ("Let's
   *   just free up a large folio if only a single page is mapped") and no reference but its
   *   mappings (folio_large_mapcount() == folio_ref_count()). Before 6.15 a page of a large
   *   folio was never reused unless exclusive. rmapcheck's reference counts are per page: no
   *   reference but the mappings is every live page's count equal to its mapcount.
   */
  private reuseOf(f: Folio, mm: Mm, addr: number): "pmd" | "pte" | undefined {
    let onlyMappings = true;
    for (let j = 0; j < f.nr && onlyMappings; j++) {
      const p = f.pages[j] as Page;
      if (!f.gone[j] && p.count !== p.mapcount) onlyMappings = false;
    }
    if (!onlyMappings) return undefined;
    if (this.pmdOf(mm, addr) === f) return f.largeMapcount === 1 ? "pmd" : undefined;
    if (this.scheme !== "no-page-mapcount" || f.shared || f.largeMapcount <= 1 || f.entireMapcount > 0) return undefined;
    return "pte";
  }

  /** move_huge_pmd() when the whole PMD moves to an equally aligned place, else split. */
  pageMove(page: Page, oldVma: Vma, from: number, newVma: Vma, to: number): void {
    const f = this.folioOf.get(page);
    if (!f) return;
    const mm = oldVma.mm;
    const nr = this.nr;
    const chunk = Math.floor(from / nr);
    const t = this.pmds.get(mm);
    if (t?.get(chunk) !== f) return;
    const dstStart = to - (from % nr);
    const suitable =
      !this.tables.has(newVma.mm, dstStart / nr) && // move_huge_pmd() wants a none PMD
      (to - from) % nr === 0 &&
      dstStart >= newVma.vmStart &&
      dstStart + nr <= newVma.vmEnd; // move_page_tables(): extent == HPAGE_PMD_SIZE, no pgoff test
    if (!suitable) {
      this.splitPmd(mm, chunk, from);
      return;
    }
    t.delete(chunk);
    t.set(dstStart / nr, f);
    this.stats.pmdMoves++;
  }

  /** The new page of a migration takes the old page's PTE mappings; the old leaves its folio's count. */
  pageMigrate(oldPage: Page, newPage: Page): void {
    const f = this.folioOf.get(oldPage);
    if (!f || this.moving) return;
    this.splitFolioPmds(oldPage);
    for (const mm of this.k.mms.values())
      for (const [addr, pte] of mm.pt) {
        if (pte.kind !== "present" || pte.pfn !== oldPage.pfn) continue;
        const vma = findVma(mm, addr) as Vma;
        this.pageRemoved(oldPage, vma, addr);
      }
    // The target is an order-0 page: its reuse is decided by its own mapcount.
    void newPage;
  }

  /** __free_pages() of one page: the folio goes with its last page (off the deferred queue). */
  pageFree(page: Page): void {
    const f = this.folioOf.get(page);
    if (!f) return;
    this.folioOf.delete(page);
    f.gone[f.pages.indexOf(page)] = true;
    f.live--;
    if (f.live > 0) return;
    this.unqueue(f);
  }

  /**
   * deferred_split_scan() (6.12+): each queued folio is taken off the queue; one marked
   * partially mapped is split (split_folio(): unmap_folio() through the rmap walk,
   * __split_huge_page(), remap_page(); impl/folio-migrate.ts splitFolio). One queued at fault
   * (not partially mapped) would be split if thp_underused(), which is false at the default
   * max_ptes_none (HPAGE_PMD_NR - 1): "consider it used and don't add it back to
   * split_queue". A split that fails (the walk did not find every mapping: folio_ref_freeze()
   * fails) leaves the folio queued. A split folio's pages become order-0 pages.
   */
  deferredSplitScan(): void {
    for (const f of [...this.deferredSplitQueue]) {
      f.awaitingScan = false;
      if (!f.partiallyMapped) {
        this.unqueue(f);
        continue;
      }
      if (f.entireMapcount > 0) continue; // mapped by a PMD again: not partially mapped
      if (splitFolio(this, f)) this.stats.foliosSplit++;
      else this.stats.splitFailures++;
    }
  }

  // --- whole-folio migration and swap-out (impl/folio-migrate.ts) -------------------------

  /** migrate_pages() of the folio of `page`; undefined: migrate `page` as an order-0 page. */
  migrate(page: Page): boolean | undefined {
    return migrateFolio(this, page);
  }

  /** shrink_folio_list() of the folio of `page`; undefined: swap `page` out as an order-0 page. */
  swapOut(page: Page, swapOutSmall: (k: Kernel, p: Page) => boolean): boolean | undefined {
    return swapOutFolio(this, page, swapOutSmall);
  }

  /** The target folio of a migration of `f`: the fresh pages, its PageAnonExclusive bits. */
  adopt(f: Folio, pages: Page[]): Folio {
    const g = new Folio(f.order, pages, f.gone);
    for (let i = 0; i < f.nr; i++) if (!f.gone[i]) this.folioOf.set(pages[i] as Page, g);
    for (let i = 0; i < f.nr; i++) g.anonExclusive[i] = f.anonExclusive[i] as boolean;
    g.file = f.file;
    return g;
  }

  /** remove_migration_pmd(): folio_add_anon_rmap_pmd() of the target at (mm, addr's PMD). */
  restorePmd(g: Folio, mm: Mm, addr: number): void {
    this.pmdTable(mm).set(Math.floor(addr / this.nr), g);
    this.pmdMapped(g, mm);
  }

  /** remove_migration_pte(): folio_add_anon_rmap_pte() of the target's page i. */
  restorePte(g: Folio, mm: Mm, i: number): void {
    this.ptesMapped(g, mm, i);
  }

  /**
   * The end of migrate_folio_move(): the source leaves the layer (its pages are order-0 pages
   * on their way to be freed) and the deferred split queue (__folio_migrate_mapping()); the
   * target is queued again if the source was, with its partially-mapped state (Usama Arif,
   * "mm: migrate: requeue destination folio on deferred split queue", v2 posted 2026-03-10,
   * Fixes: dafff3f4c850). Without it (6.12 until that fix: the mutant migrate-drops-deferred,
   * F8) a THP queued at fault silently drops off the queue and escapes the underused-THP
   * shrinker. Before 6.10 a partially mapped folio was migrated whole and its target never
   * queued (the mutant migrate-partial-whole, F9, impl/folio-migrate.ts; it keeps the requeue
   * of a folio queued at fault, F8's line, so that it fails only where F9's line matters).
   */
  migrated(f: Folio, g: Folio): void {
    const queued = f.onDeferredList;
    this.unqueue(f);
    for (const p of f.pages) if (this.folioOf.get(p) === f) this.folioOf.delete(p);
    g.awaitingScan = f.awaitingScan; // the checker's ghost follows the contents
    const lost = this.mutant === "migrate-drops-deferred" || (this.mutant === "migrate-partial-whole" && f.partiallyMapped);
    if (queued && !lost) {
      g.partiallyMapped = f.partiallyMapped;
      this.queue(g, false);
    }
  }

  /** split_folio() found every mapping: the folio's pages become order-0 pages. */
  dissolve(f: Folio): void {
    this.unqueue(f);
    for (let i = 0; i < f.nr; i++) if (!f.gone[i]) this.folioOf.delete(f.pages[i] as Page);
  }

  /** The walk hook of the mutant vma-address-wraps (F6): false where the walk misses the vma. */
  walkSees(f: Folio, vma: Vma): boolean {
    return !(this.mutant === "vma-address-wraps" && this.headAddressWraps(f, vma));
  }

  /**
   * walkSees() for page i of f. The mutant file-tail-address-efault (F17): before 31657170deaf
   * (Jue Wang, "mm/thp: fix page_address_in_vma() on file THP tails", 5.13, Fixes: 800d8c63b2e9
   * "shmem: add huge pages support", 4.8) page_address_in_vma() compared vm_file->f_mapping
   * with page->mapping, which a tail page of a file THP does not carry (compound_head()'s does):
   * -EFAULT, so a walker that asks it the address of a tail page finds no mapping of it.
   */
  walkSeesPage(f: Folio, i: number, vma: Vma): boolean {
    if (this.mutant === "file-tail-address-efault" && f.file && i > 0) return false;
    return this.walkSees(f, vma);
  }

  /**
   * Bytes of mapcount state per folio on LP64: 6.14 a 4-byte _mapcount per page plus
   * _large_mapcount, _entire_mapcount and _nr_pages_mapped; 6.15 _large_mapcount,
   * _entire_mapcount, _mm_ids (8) and _mm_id_mapcount[2] — whatever the order.
   */
  bytesPerFolio(): number {
    return this.scheme === "per-page" ? 4 * this.nr + 12 : 24;
  }

  /** folio_maybe_mapped_shared() (6.15) / folio_likely_mapped_shared() (6.10–6.14). */
  maybeMappedShared(f: Folio): boolean {
    if (this.scheme === "no-page-mapcount") return f.shared;
    if (f.largeMapcount <= 1) return false;
    if (f.entireMapcount > 0 || f.largeMapcount > f.nr) return true;
    return (f.pageMapcount[0] as number) > 1;
  }

  // --- the checker's brute force (I12–I14) --------------------------------------------------

  /** Every live folio. */
  folios(): Set<Folio> {
    return new Set(this.folioOf.values());
  }

  /**
   * Ref(X) for a folio by brute force over every page table: PMD mappings (each counted once)
   * and PTE mappings per page, and the mms that map each page.
   */
  bruteForce(f: Folio): BruteForce {
    return this.bruteForceAll([f]).get(f) as BruteForce;
  }

  /**
   * bruteForce() of every folio given, in one pass over the page tables (check() runs after
   * every step: a pass per folio made it O(folios × PTEs)). A frame counts for the folio whose
   * page is in it now, as in the per-folio form.
   */
  bruteForceAll(folios: Iterable<Folio>): Map<Folio, BruteForce> {
    const out = new Map<Folio, BruteForce>();
    const byPfn = new Map<number, { f: Folio; i: number }[]>();
    for (const f of folios) {
      out.set(f, { pmd: 0, pte: f.pages.map(() => 0), mmsOfPage: f.pages.map(() => new Set<number>()), mms: new Set(), perMm: new Map() });
      f.pfns.forEach((pfn, i) => {
        if (f.gone[i]) return;
        const at = byPfn.get(pfn);
        if (at) at.push({ f, i });
        else byPfn.set(pfn, [{ f, i }]);
      });
    }
    const count = (b: BruteForce, mm: number) => b.perMm.set(mm, (b.perMm.get(mm) ?? 0) + 1);
    for (const mm of this.k.mms.values()) {
      const t = this.pmds.get(mm);
      if (t)
        for (const g of t.values()) {
          const b = out.get(g);
          if (!b) continue;
          b.pmd++;
          b.mms.add(mm.id);
          count(b, mm.id);
        }
      for (const [addr, e] of mm.pt) {
        if (e.kind !== "present") continue;
        for (const { f, i } of byPfn.get(e.pfn) ?? []) {
          if (this.k.pageAt(e.pfn) !== f.pages[i]) continue;
          const b = out.get(f) as BruteForce;
          (b.mmsOfPage[i] as Set<number>).add(mm.id);
          b.mms.add(mm.id);
          if (t?.get(Math.floor(addr / this.nr)) === f) continue; // part of a PMD mapping
          b.pte[i] = (b.pte[i] as number) + 1;
          count(b, mm.id);
        }
      }
    }
    return out;
  }

  /**
   * The mutant vma-address-wraps (catalogue F6): before 494334e43c16 (Hugh Dickins, "mm/thp:
   * fix vma_address() if virtual address below file offset", 5.13) the walk of a THP started
   * at max(vm_start + ((head pgoff - vm_pgoff) << PAGE_SHIFT), vm_start); when the head's
   * virtual address in the vma would be below 0 it wrapped to almost ULONG_MAX, and
   * page_vma_mapped_walk() searched beyond the vma and found nothing there.
   */
  private headAddressWraps(f: Folio, vma: Vma): boolean {
    const i = f.gone.indexOf(false);
    const head = (f.pages[i] as Page).index - i;
    return vma.vmStart + (head - vma.vmPgoff) < 0;
  }

  /** The folio's own rmap walk (page_vma_mapped_walk over the design's walk): a PMD counts once. */
  walkMappings(f: Folio): number {
    const seen = new Set<number>();
    let n = 0;
    for (let i = 0; i < f.nr; i++) {
      if (f.gone[i]) continue;
      const p = f.pages[i] as Page;
      this.inner.walk(p, (vma, addr) => {
        if (!this.walkSeesPage(f, i, vma)) return true;
        if (!this.k.ptePointsTo(vma.mm, addr, p.pfn)) return true;
        const chunk = Math.floor(addr / this.nr);
        if (this.pmds.get(vma.mm)?.get(chunk) === f) {
          const key = vma.mm.id * 65536 + chunk;
          if (!seen.has(key)) {
            seen.add(key);
            n++;
          }
        } else n++;
        return true;
      });
    }
    return n;
  }

  check(): void {
    const nr = this.nr;
    // PMD entries: an aligned, naturally sized range inside one vma, every PTE on its page.
    for (const [mm, t] of this.pmds) {
      for (const [chunk, f] of t) {
        assert(this.k.mms.get(mm.id) === mm, "I12", () => `${f}: PMD mapping in exited mm${mm.id}`);
        const vma = findVma(mm, chunk * nr);
        assert(
          vma !== undefined && vma.vmStart <= chunk * nr && chunk * nr + nr <= vma.vmEnd,
          "I12",
          () => `${f}: PMD mapping at [${chunk * nr}, ${chunk * nr + nr}) of mm${mm.id} is not inside one vma`,
        );
        for (let i = 0; i < nr; i++) {
          const e = mm.pt.get(chunk * nr + i);
          assert(e?.kind === "present" && e.pfn === (f.pages[i] as Page).pfn, "I12", () => `${f}: PMD mapping of mm${mm.id} at ${chunk * nr}: page ${i} not in place`);
        }
      }
    }
    // Page tables: a PMD-mapped slot has no PTE table; every other PTE lives in one.
    for (const mm of this.k.mms.values()) {
      const t = this.pmds.get(mm);
      for (const c of this.tables.chunks(mm))
        assert(t?.get(c) === undefined, "I12", () => `mm${mm.id}: PMD slot ${c} is mapped by a PMD and holds a PTE table`);
      // Present PTEs only: mremap moves a swap PTE without a hook the layer sees (move_ptes()
      // would carry it into a table; docs/folios.md).
      for (const [addr, e] of mm.pt) {
        if (e.kind !== "present") continue;
        const c = Math.floor(addr / nr);
        assert(t?.get(c) !== undefined || this.tables.has(mm, c), "I12", () => `mm${mm.id}: a PTE at ${addr} without a page table (PMD slot ${c})`);
      }
    }
    const folios = this.folios();
    const all = this.bruteForceAll(folios);
    for (const f of folios) {
      const b = all.get(f) as BruteForce;
      const pteTotal = b.pte.reduce((s, c) => s + c, 0);
      assert(f.entireMapcount === b.pmd, "I12", () => `${f}: entire mapcount ${f.entireMapcount} ≠ ${b.pmd} PMD mappings found by brute force`);
      assert(
        f.largeMapcount === b.pmd + pteTotal,
        "I12",
        () => `${f}: folio mapcount ${f.largeMapcount} ≠ ${b.pmd + pteTotal} mappings found by brute force (a PMD counts once)`,
      );
      if (this.scheme === "per-page")
        for (let i = 0; i < f.nr; i++)
          assert(f.pageMapcount[i] === b.pte[i], "I12", () => `${f}: page ${i} mapcount ${f.pageMapcount[i]} ≠ ${b.pte[i]} PTE mappings`);
      const walked = this.walkMappings(f);
      assert(walked === f.largeMapcount, "I12", () => `${f}: the rmap walk finds ${walked} mappings, folio mapcount is ${f.largeMapcount}`);
      if (this.scheme === "no-page-mapcount")
        for (let s = 0; s < 2; s++) {
          const id = f.mmId[s] as number;
          if (id === 0) continue;
          // A slot may undercount its mm ("valid corner cases where we might underflow a
          // per-MM mapcount": mappings added while no slot was free), never overcount.
          assert(
            (f.mmIdMapcount[s] as number) <= (b.perMm.get(id) ?? 0),
            "I12",
            () => `${f}: MM-id slot ${s} says mm${id} maps it ${f.mmIdMapcount[s]} times, brute force ${b.perMm.get(id) ?? 0}`,
          );
        }
      if (this.scheme === "no-page-mapcount" && f.largeMapcount === 0)
        assert(f.mmId[0] === 0 && f.mmId[1] === 0 && !f.shared, "I12", () => `${f}: unmapped but its MM-id slots are not free`);
      // I13: sharing and exclusivity.
      const shared = this.maybeMappedShared(f);
      this.stats.sharedChecks++;
      if (b.mms.size >= 2 && !shared) {
        this.stats.missedShared++;
        assert(this.scheme !== "no-page-mapcount", "I13", () => `${f}: folio_maybe_mapped_shared() false while mm${[...b.mms].join(", mm")} map it`);
      }
      if (b.mms.size <= 1 && shared) this.stats.spuriousShared++;
      for (let i = 0; i < f.nr; i++)
        assert(
          !f.anonExclusive[i] || (b.mmsOfPage[i] as Set<number>).size <= 1,
          "I13",
          () => `${f}: page ${i} is PageAnonExclusive while mm${[...(b.mmsOfPage[i] as Set<number>)].join(", mm")} map it`,
        );
      // I14: the deferred split queue.
      const mappedPages = b.pte.filter((c) => c > 0).length;
      const partially =
        !f.file &&
        b.pmd === 0 &&
        f.largeMapcount > 0 &&
        (this.scheme === "per-page" ? mappedPages < f.nr : f.largeMapcount < f.nr);
      assert(
        !partially || (f.onDeferredList && f.partiallyMapped),
        "I14",
        () => `${f}: partially mapped (${mappedPages}/${f.nr} pages) but ${f.onDeferredList ? "not marked partially mapped on" : "not on"} the deferred split queue`,
      );
      assert(
        !f.awaitingScan || f.onDeferredList,
        "I14",
        () => `${f}: a THP faulted in and not yet scanned by the shrinker is off the deferred split queue (an underused THP escapes split_underused_thp)`,
      );
    }
    assert(
      this.stats.queuedUnmapped === 0,
      "I14",
      () => `${this.stats.queuedUnmappedWhat}: queued for deferred split as partially mapped (THP_DEFERRED_SPLIT_PAGE) while fully unmapped`,
    );
  }
}
