/*
 * The simulated kernel: frames, pages, page cache, swap and the fault path (mm/memory.c),
 * with the syscalls in impl/syscalls.ts and the rmap-walk users (swap-out, migration,
 * reclaim, truncate) in impl/vmscan.ts.
 *
 * Reference counting: page.count = page.mapcount + [in page cache] + [in swap cache]; a page
 * whose count drops to 0 is freed, its struct poisoned and its frame pushed on the free list,
 * so the next allocation reuses it (a PTE left behind reads someone else's data).
 * A page under an operation (COW source, swap-out, migration) is PG_locked so that an
 * allocation's reclaim does not pick it.
 */
import type { Cmd, Outcome } from "../model/commands.js";
import { initialFileToken, type World } from "../model/world.js";
import { AllocFailure, Allocator } from "./alloc.js";
import { assert, poison } from "./assert.js";
import { Counters, type DesignInfo, type RmapDesign } from "./design.js";
import type { FolioLayer } from "./folio.js";
import { findVma, isShared } from "./mmap.js";
import { execSyscall } from "./syscalls.js";
import {
  File,
  Mm,
  PG_anon,
  PG_dirty,
  PG_locked,
  PG_swapcache,
  Page,
  type PresentPte,
  type Pte,
  pfn as mkPfn,
  type Pfn,
  type SwapSlot,
  type Vma,
  VM_WRITE,
  linearPageIndex,
  resetObjectIds,
} from "./types.js";
import { reclaimOne } from "./vmscan.js";

export interface SwapEntry {
  /** The page's contents as written out. */
  data: number;
  /** Swap PTEs referencing the slot (kernel: swap_map count). */
  count: number;
  /** The mm whose swapout command wrote it (-1: reclaim); for coverage only. */
  outBy: number;
}

export class Kernel {
  design!: RmapDesign;
  /** Work counters; a checker swaps in its own while it walks, so its walks do not count. */
  counters = new Counters();
  readonly mms = new Map<number, Mm>();
  readonly files: File[] = [];
  /** Frame → the page occupying it, or null if free. */
  readonly frames: (Page | null)[] = [];
  /** Frame contents: one token per page (the int at offset 0 of the page). */
  readonly frameData: number[] = [];
  /** Free frames, reused last-freed-first. */
  readonly freeList: Pfn[] = [];
  readonly swap = new Map<SwapSlot, SwapEntry>();
  readonly swapCache = new Map<SwapSlot, Page>();
  private nextSlot = 1;
  /**
   * Planted kernel bugs (the mutant catalogue's kernel-side entries; empty for the real
   * kernel): "merge-next-keeps-pgoff" (B9), "copy-merge-without-dup" (mremap's merge into a
   * neighbour without dup_anon_vma: CVE-2026-23077, before 61f67c230a5e), "wp-reuse-ignores-swap" (COW reuse of a swap-cache page
   * other swap PTEs still reference), "merge-import-from-vma-only" (2.6.34-rc's vma_adjust: a
   * lower vma expanding over next's pages does not take next's anon_vma).
   */
  readonly quirks = new Set<string>();
  /** The mm of the command being executed (-1 for global ones), for coverage attribution. */
  currentMm = -1;
  /** The reclaim clock hand over frames. */
  clockHand = 0;
  /** Every allocation goes through it; a command's `failAlloc` arms it (impl/alloc.ts). */
  readonly allocator = new Allocator();
  /**
   * Large anonymous folios and PMD mappings (impl/folio.ts): set by a folio design
   * (anon-vma-chain+folio-6.14 / -6.15); undefined, every page is its own order-0 folio.
   */
  folio: FolioLayer | undefined = undefined;
  /**
   * Interleaving mode: the fault that raced the last command (impl/interleave.ts), what it
   * returned, and whether it falls before or after the command in their sequential order
   * (what the model applies first). Undefined when the last command carried no racing fault.
   */
  lastFault: { order: "before" | "after"; outcome: Outcome; trace?: string } | undefined = undefined;
  /** Interleaving mode: the last race's interleaving in two columns (reports print it). */
  lastRaceTrace: string | undefined = undefined;
  /** The era preallocates maple-tree nodes for splits, merges and fork (DesignInfo.vmaPrealloc). */
  readonly vmaPrealloc: boolean;

  constructor(
    readonly world: World,
    readonly designInfo: DesignInfo,
    /** The design's planted mutant, if any (DesignInfo.create's second argument). */
    mutant?: string,
  ) {
    resetObjectIds();
    for (let i = world.frameCount - 1; i >= 0; i--) {
      this.frames[i] = null;
      this.frameData[i] = 0;
      this.freeList.push(mkPfn(i));
    }
    this.design = designInfo.create(this, mutant);
    this.design.slab.allocator = this.allocator;
    this.vmaPrealloc = designInfo.vmaPrealloc ?? false;
    for (let f = 0; f < world.fileCount; f++) {
      const file = new File(f, world.fileInitialPages);
      for (let p = 0; p < world.fileInitialPages; p++) file.disk.set(p, initialFileToken(f, p));
      file.iMmap = this.design.createIMmap();
      this.files.push(file);
    }
  }

  /** Create the first process. */
  boot(mmId: number): Mm {
    const mm = new Mm(mmId);
    this.mms.set(mmId, mm);
    this.design.mmInit(mm);
    return mm;
  }

  exec(cmd: Cmd): Outcome {
    this.currentMm = "mm" in cmd ? cmd.mm : -1;
    this.allocator.begin((cmd as { failAlloc?: number }).failAlloc ?? 0);
    const out = execSyscall(this, cmd);
    if (this.allocator.fired) this.counters.allocFailures++;
    return out;
  }

  // --- pages -------------------------------------------------------------------------------

  /**
   * kernel: alloc_page(): a free frame, reclaiming under pressure. It fails only where a
   * command's failure point says so (AllocFailure), never for want of frames.
   */
  allocPage(): Page {
    this.allocator.allocate("page");
    let frame = this.freeList.pop();
    if (frame === undefined && reclaimOne(this)) {
      this.counters.pressureReclaims++;
      frame = this.freeList.pop();
    }
    if (frame === undefined) {
      // Everything is locked or pinned: take an emergency frame rather than invent an OOM
      // outcome the model cannot predict. Counted, so a report shows it.
      frame = mkPfn(this.frames.length);
      this.frames.push(null);
      this.frameData.push(0);
      this.counters.emergencyFrames++;
    }
    const page = new Page(frame);
    this.frames[frame] = page;
    return page;
  }

  /** kernel: put_page(): drop one reference; free the page at zero. */
  putPage(page: Page, where: string): void {
    page.count--;
    assert(page.count >= 0, "I8", () => `${page}: count below zero at ${where}`, page);
    if (page.count > 0) return;
    this.freePage(page, where);
  }

  /** kernel: __free_pages(): a page nothing references (put_page's last, or a fault's unused page). */
  freePage(page: Page, where: string): void {
    assert(page.mapcount === 0, "I8", () => `${page}: freed with mapcount ${page.mapcount} at ${where}`, page);
    this.design.pageFree(page);
    this.frames[page.pfn] = null;
    this.freeList.push(page.pfn);
    poison(page, "struct page", where);
  }

  pageAt(frame: Pfn): Page | null {
    return this.frames[frame] ?? null;
  }

  /** Does the PTE at (mm, addr) map frame `frame`? The pfn check every walk must make. */
  ptePointsTo(mm: Mm, addr: number, frame: Pfn): boolean {
    this.counters.ptesChecked++;
    const pte = mm.pt.get(addr);
    return pte !== undefined && pte.kind === "present" && pte.pfn === frame;
  }

  /** Map page at (vma, addr): the PTE, the mapcount and the reference (not the rmap). */
  setPte(vma: Vma, addr: number, page: Page, writable: boolean): PresentPte {
    const pte: PresentPte = { kind: "present", pfn: page.pfn, writable, dirty: false, young: true };
    vma.mm.pt.set(addr, pte);
    page.mapcount++;
    page.count++;
    return pte;
  }

  /** kernel: zap_pte_range() for one PTE: clear it and drop the rmap and the reference. */
  zapPte(vma: Vma, addr: number, where: string): void {
    const pte = vma.mm.pt.get(addr);
    if (pte === undefined) return;
    vma.mm.pt.delete(addr);
    if (pte.kind === "swap") {
      this.swapPut(pte.slot);
      return;
    }
    const page = this.pageAt(pte.pfn);
    assert(page !== null, "KERNEL", () => `zap: PTE (mm${vma.mm.id}, ${addr}) maps free frame ${pte.pfn}`);
    if (pte.dirty && page.file) page.flags |= PG_dirty;
    this.design.pageRemove(page, vma, addr);
    page.mapcount--;
    this.putPage(page, where);
  }

  zapRange(vma: Vma, start: number, end: number, where: string): void {
    if (this.folio) this.folio.zapRange(vma, start, end, where === "madvise(DONTNEED)"); // zap_huge_pmd / __split_huge_pmd
    for (let addr = start; addr < end; addr++) this.zapPte(vma, addr, where);
  }

  // --- page cache and swap -------------------------------------------------------------------

  /** kernel: filemap_fault(): the page cache page for (file, pgoff), read in if absent. */
  filePage(file: File, index: number): Page {
    const cached = file.pageCache.get(index);
    if (cached) return cached;
    if (this.folio?.fileFolios) {
      const inFolio = this.folio.fileRead(file, index); // a page-cache folio (impl/folio-file.ts)
      if (inFolio) return inFolio;
    }
    const page = this.allocPage();
    page.file = file;
    page.mapping = file;
    page.index = index;
    page.count = 1; // the page cache's reference
    this.frameData[page.pfn] = file.disk.get(index) ?? 0;
    file.pageCache.set(index, page);
    return page;
  }

  /** Drop a page from its file's page cache (truncate, reclaim). */
  removeFromPageCache(page: Page, where: string): void {
    const file = page.file as File;
    if (file.pageCache.get(page.index) === page) file.pageCache.delete(page.index);
    this.putPage(page, where);
  }

  newSwapSlot(data: number): SwapSlot {
    const slot = this.nextSlot++ as SwapSlot;
    this.swap.set(slot, { data, count: 0, outBy: this.currentMm });
    return slot;
  }

  /** kernel: add_to_swap_cache() */
  addToSwapCache(page: Page, slot: SwapSlot): void {
    page.flags |= PG_swapcache;
    page.private = slot;
    page.count++;
    this.swapCache.set(slot, page);
  }

  /** kernel: delete_from_swap_cache(); frees the slot if no swap PTE references it. */
  deleteFromSwapCache(page: Page, where: string): void {
    const slot = page.private as SwapSlot;
    this.swapCache.delete(slot);
    page.flags &= ~PG_swapcache;
    page.private = null;
    if ((this.swap.get(slot)?.count ?? 0) === 0) this.swap.delete(slot);
    this.putPage(page, where);
  }

  /** kernel: swap_free(): one swap PTE fewer. */
  swapPut(slot: SwapSlot): void {
    const entry = this.swap.get(slot);
    assert(entry !== undefined && entry.count > 0, "I8", () => `swap slot ${slot} over-freed`);
    entry.count--;
    if (entry.count > 0) return;
    // kernel: try_to_free_swap(): no swap PTE is left, so the swap-cache copy is not needed.
    const cached = this.swapCache.get(slot);
    if (!cached) this.swap.delete(slot);
    else if ((cached.flags & PG_locked) === 0) this.deleteFromSwapCache(cached, "try_to_free_swap");
  }

  // --- the fault path (mm/memory.c) ----------------------------------------------------------

  /**
   * kernel: handle_mm_fault() then the access itself. Returns the value read, undefined after
   * a write, or a signal.
   */
  access(mm: Mm, addr: number, write: boolean, token = 0): number | "SIGSEGV" | "SIGBUS" | undefined {
    try {
      return this.accessOnce(mm, addr, write, token);
    } catch (e) {
      if (!(e instanceof AllocFailure)) throw e;
      // VM_FAULT_OOM: each fault path below undid its own work; pagefault_out_of_memory()
      // (no OOM kill is modelled) returns and the instruction faults again. The failure point
      // has passed, so the retry succeeds: the process observes nothing (docs/semantics.md).
      this.counters.faultOomRetries++;
      return this.accessOnce(mm, addr, write, token);
    }
  }

  private accessOnce(mm: Mm, addr: number, write: boolean, token: number): number | "SIGSEGV" | "SIGBUS" | undefined {
    const vma = findVma(mm, addr);
    if (!vma) return "SIGSEGV";
    if (write && (vma.vmFlags & VM_WRITE) === 0) return "SIGSEGV";
    let pte = mm.pt.get(addr);
    if (pte?.kind === "swap") pte = this.swapIn(vma, addr, pte.slot);
    if (pte === undefined) {
      const r = this.faultIn(vma, addr, write);
      if (typeof r === "string") return r;
      if (r === undefined) return 0; // read of untouched anon memory: the zero page
      pte = r;
    }
    if (write && !pte.writable) pte = this.wpFault(vma, addr, pte);
    pte.young = true;
    if (!write) return this.frameData[pte.pfn];
    this.frameData[pte.pfn] = token;
    pte.dirty = true;
    return undefined;
  }

  /** kernel: do_anonymous_page() / do_read_fault() / do_cow_fault() / do_shared_fault(). */
  private faultIn(vma: Vma, addr: number, write: boolean): PresentPte | "SIGBUS" | undefined {
    const file = vma.vmFile;
    if (!file) {
      if (!write) return undefined;
      this.design.anonPrepare(vma);
      if (this.folio) {
        const pte = this.folio.anonFault(vma, addr);
        if (pte) return pte;
      }
      const page = this.allocPage();
      page.flags |= PG_anon;
      this.frameData[page.pfn] = 0;
      return this.mapNewAnon(vma, addr, page);
    }
    const index = linearPageIndex(vma, addr);
    if (index >= file.size) return "SIGBUS";
    const cache = this.filePage(file, index);
    if (write && !isShared(vma)) return this.cowCopy(vma, addr, cache, false);
    if (this.folio?.fileFolios) {
      const pte = this.folio.filePmd(vma, addr, cache, write); // do_set_pmd()
      if (pte) return pte;
    }
    this.design.pageAddFile(cache, vma, addr);
    const pte = this.setPte(vma, addr, cache, write);
    if (write) cache.flags |= PG_dirty;
    return pte;
  }

  private mapNewAnon(vma: Vma, addr: number, page: Page): PresentPte {
    this.addNewAnonRmap(page, vma, addr);
    return this.setPte(vma, addr, page, true);
  }

  /**
   * The rmap of a page just allocated for (vma, addr). A design that allocates there
   * (pte_chain) may fail; the unused page is then freed (the kernel preallocates the
   * pte_chain and frees both on its error path).
   */
  private addNewAnonRmap(page: Page, vma: Vma, addr: number): void {
    try {
      this.design.pageAddAnon(page, vma, addr, "new");
    } catch (e) {
      if (e instanceof AllocFailure) this.freePage(page, "fault (ENOMEM)");
      throw e;
    }
  }

  /**
   * kernel: wp_page_copy(): a private copy of `src` at (vma, addr). When `mapped`, src is
   * currently mapped there and loses that mapping.
   */
  cowCopy(vma: Vma, addr: number, src: Page, mapped: boolean): PresentPte {
    this.design.anonPrepare(vma);
    src.flags |= PG_locked;
    let page: Page;
    try {
      page = this.allocPage();
    } finally {
      src.flags &= ~PG_locked;
    }
    page.flags |= PG_anon;
    this.frameData[page.pfn] = this.frameData[src.pfn] as number;
    // Everything that can fail comes before the old mapping goes (an ENOMEM leaves it).
    this.addNewAnonRmap(page, vma, addr);
    if (mapped) {
      vma.mm.pt.delete(addr);
      this.design.pageRemove(src, vma, addr);
      src.mapcount--;
      this.putPage(src, "wp_page_copy");
    }
    return this.setPte(vma, addr, page, true);
  }

  /** kernel: do_wp_page(): write to a present read-only PTE in a writable vma. */
  private wpFault(vma: Vma, addr: number, pte: PresentPte): PresentPte {
    if (this.folio?.fileFolios) this.folio.wpHugePmd(vma, addr); // a file PMD is zapped but this PTE
    const page = this.pageAt(pte.pfn) as Page;
    if (isShared(vma)) {
      pte.writable = true;
      page.flags |= PG_dirty;
      return pte;
    }
    if (page.mapcount > 1) this.counters.cowBreaksShared++;
    if (page.anon && (this.folio ? this.folio.mayReuse(page, vma, addr) : page.mapcount === 1)) {
      // Exclusive: reuse in place (kernel: wp_can_reuse_anon_folio + page_move_anon_rmap).
      const slot = page.private;
      const othersInSwap = slot !== null && (this.swap.get(slot)?.count ?? 0) > 0;
      if (!othersInSwap || this.quirks.has("wp-reuse-ignores-swap")) {
        if (slot !== null && !othersInSwap) this.deleteFromSwapCache(page, "do_wp_page reuse");
        this.design.pageReuse(page, vma, addr);
        pte.writable = true;
        return pte;
      }
    }
    return this.cowCopy(vma, addr, page, true);
  }

  /** kernel: do_swap_page(). */
  private swapIn(vma: Vma, addr: number, slot: SwapSlot): PresentPte {
    const entry = this.swap.get(slot);
    assert(entry !== undefined, "KERNEL", () => `swap PTE (mm${vma.mm.id}, ${addr}) to free slot ${slot}`);
    this.counters.swapins++;
    if (entry.outBy !== -1 && entry.outBy !== vma.mm.id) this.counters.swapinsByOtherMm++;
    let page = this.swapCache.get(slot);
    if (page && this.design.swapinMustCopy(page, vma, addr)) {
      // anonmm: the swap-cache page is homed at another address; this mm gets a copy.
      this.counters.forcedCopies++;
      const pte = this.cowCopy(vma, addr, page, false); // replaces the swap PTE
      this.swapPut(slot);
      return pte;
    }
    const exclusive = entry.count === 1 && (page === undefined || page.mapcount === 0);
    this.design.anonPrepare(vma);
    if (!page) {
      page = this.allocPage();
      page.flags |= PG_anon;
      this.frameData[page.pfn] = entry.data;
      this.addToSwapCache(page, slot);
    }
    // A failure here leaves the page in the swap cache and the swap PTE in place.
    this.design.pageAddAnon(page, vma, addr, exclusive ? "swapin-exclusive" : "swapin-shared");
    vma.mm.pt.delete(addr);
    const pte = this.setPte(vma, addr, page, false);
    this.swapPut(slot);
    return pte;
  }

  // --- what a process observes, without side effects (for the checker) ---------------------

  /** The value a read at (mm, addr) would return, without faulting anything in. */
  peek(mm: Mm, addr: number): number | "SIGSEGV" | "SIGBUS" {
    const vma = findVma(mm, addr);
    if (!vma) return "SIGSEGV";
    return this.peekIn(mm, vma, addr);
  }

  /** peek() when the caller already knows the vma that contains addr. */
  peekIn(mm: Mm, vma: Vma, addr: number): number | "SIGSEGV" | "SIGBUS" {
    const pte: Pte | undefined = mm.pt.get(addr);
    if (pte?.kind === "present") return this.frameData[pte.pfn] as number;
    if (pte?.kind === "swap") {
      const cached = this.swapCache.get(pte.slot);
      if (cached) return this.frameData[cached.pfn] as number;
      const entry = this.swap.get(pte.slot);
      assert(entry !== undefined, "KERNEL", () => `swap PTE (mm${mm.id}, ${addr}) to free slot ${pte.slot}`);
      return entry.data;
    }
    const file = vma.vmFile;
    if (!file) return 0;
    const index = linearPageIndex(vma, addr);
    if (index >= file.size) return "SIGBUS";
    const cached = file.pageCache.get(index);
    return cached ? (this.frameData[cached.pfn] as number) : (file.disk.get(index) ?? 0);
  }

  /** Every page currently in a frame. */
  *pages(): Generator<Page> {
    for (const page of this.frames) if (page) yield page;
  }
}

export function createKernel(world: World, design: DesignInfo, initMmId = 1, mutant?: string): Kernel {
  const k = new Kernel(world, design, mutant);
  k.boot(initMmId);
  return k;
}
