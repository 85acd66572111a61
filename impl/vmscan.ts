/*
 * The users of the reverse map (mm/vmscan.c, mm/rmap.c try_to_unmap / page_referenced,
 * mm/migrate.c, mm/truncate.c): every one of them goes through the design's walk, so a walk
 * that misses a PTE leaves a page mapped that the kernel believes unmapped.
 *
 * try_to_unmap is two-phase here: the walk collects the PTEs, then the kernel unmaps them.
 * That keeps each design's walk free of iterator-invalidation concerns; the kernel's
 * equivalent holds the rmap lock across both.
 */
import { AllocFailure } from "./alloc.js";
import { assert } from "./assert.js";
import type { Kernel } from "./kernel.js";
import { type File, PG_anon, PG_dirty, PG_locked, PG_swapcache, type Page, type Vma, VM_LOCKED } from "./types.js";

export interface Mapping {
  vma: Vma;
  addr: number;
}

/** kernel: rmap_walk(): the PTEs the design says map `page`. */
export function rmapWalk(k: Kernel, page: Page): Mapping[] {
  const found: Mapping[] = [];
  k.counters.walks++;
  k.design.walk(page, (vma, addr) => {
    found.push({ vma, addr });
    return true;
  });
  return found;
}

/** kernel: try_to_unmap(): replace each PTE by `replace(vma, addr)`; fails at a VM_LOCKED vma. */
function tryToUnmap(k: Kernel, page: Page, onUnmap: (m: Mapping) => void): boolean {
  const found = rmapWalk(k, page);
  if (found.some((m) => (m.vma.vmFlags & VM_LOCKED) !== 0)) {
    k.counters.unmapFailures++;
    return false;
  }
  for (const m of found) {
    const pte = m.vma.mm.pt.get(m.addr);
    assert(pte?.kind === "present" && pte.pfn === page.pfn, "I2", () => `walk of ${page} visited (mm${m.vma.mm.id}, ${m.addr}), which does not map it`);
    if (pte.dirty) page.flags |= PG_dirty;
    k.design.pageRemove(page, m.vma, m.addr);
    page.mapcount--;
    page.count--;
    onUnmap(m);
  }
  return page.mapcount === 0;
}

/** kernel: page_referenced(): test and clear the young bits of every PTE mapping page. */
export function pageReferenced(k: Kernel, page: Page): boolean {
  let referenced = false;
  for (const m of rmapWalk(k, page)) {
    const pte = m.vma.mm.pt.get(m.addr);
    if (pte?.kind === "present" && pte.young) {
      pte.young = false;
      referenced = true;
    }
  }
  return referenced;
}

/** kernel: shrink_page_list() for one anonymous page: add to swap, unmap, write, free. */
export function swapOutPage(k: Kernel, page: Page): boolean {
  if (k.folio) {
    const whole = k.folio.swapOut(page, swapOutSmall); // a large folio (impl/folio-migrate.ts)
    if (whole !== undefined) return whole;
  }
  return swapOutSmall(k, page);
}

function swapOutSmall(k: Kernel, page: Page): boolean {
  if (!page.anon) return reclaimFilePage(k, page);
  if (page.flags & PG_locked) return false;
  page.flags |= PG_locked;
  if ((page.flags & PG_swapcache) === 0) k.addToSwapCache(page, k.newSwapSlot(0));
  const slot = page.private;
  assert(slot !== null, "KERNEL", () => `${page} in swap cache without a slot`);
  const entry = k.swap.get(slot);
  assert(entry !== undefined, "KERNEL", () => `${page} in swap cache with a freed slot ${slot}`);
  const ok = tryToUnmap(k, page, (m) => {
    m.vma.mm.pt.set(m.addr, { kind: "swap", slot });
    entry.count++;
  });
  page.flags &= ~PG_locked;
  if (!ok) {
    if (entry.count === 0) k.deleteFromSwapCache(page, "swap-out failed");
    return false;
  }
  entry.data = k.frameData[page.pfn] as number; // kernel: pageout() → swap_writepage()
  k.counters.swapouts++;
  k.counters.pagesReclaimed++;
  k.deleteFromSwapCache(page, "shrink_page_list (anon)");
  return true;
}

/** kernel: shrink_page_list() for a page-cache page: unmap, write back if dirty, free. */
export function reclaimFilePage(k: Kernel, page: Page): boolean {
  const file = page.file;
  if (!file || file.pageCache.get(page.index) !== page) return false;
  if (page.flags & PG_locked) return false;
  page.flags |= PG_locked;
  const ok = tryToUnmap(k, page, (m) => {
    m.vma.mm.pt.delete(m.addr);
  });
  page.flags &= ~PG_locked;
  if (!ok) return false;
  if (page.flags & PG_dirty) file.disk.set(page.index, k.frameData[page.pfn] as number);
  k.counters.pagesReclaimed++;
  k.removeFromPageCache(page, "shrink_page_list (file)");
  return true;
}

/**
 * kernel: the clock of shrink_inactive_list(): from the hand, skip locked pages and give
 * referenced ones a second chance (page_referenced clears their young bits); reclaim the
 * first page that unmaps. False when a full sweep found nothing.
 */
export function reclaimOne(k: Kernel): boolean {
  const n = k.frames.length;
  for (let step = 0; step < 2 * n; step++) {
    const frame = k.clockHand;
    k.clockHand = (k.clockHand + 1) % n;
    const page = k.frames[frame];
    if (!page || page.flags & PG_locked) continue;
    if (!page.anon && !page.file) continue;
    if (step < n && pageReferenced(k, page)) continue;
    if (swapOutPage(k, page)) return true;
  }
  return false;
}

/** kernel: migrate_pages() for one page: copy to a new frame, move every PTE through the walk. */
export function migratePage(k: Kernel, page: Page): boolean {
  if (k.folio) {
    const whole = k.folio.migrate(page); // a large folio (impl/folio-migrate.ts)
    if (whole !== undefined) return whole;
  }
  if (page.flags & PG_locked) return false;
  page.flags |= PG_locked;
  const found = rmapWalk(k, page);
  let nw: Page;
  try {
    nw = k.allocPage();
  } catch (e) {
    page.flags &= ~PG_locked;
    if (e instanceof AllocFailure) return false; // -ENOMEM: the page stays where it is
    throw e;
  }
  page.flags &= ~PG_locked;
  migrateCopy(k, page, nw);
  for (const m of found) {
    const pte = m.vma.mm.pt.get(m.addr);
    assert(pte?.kind === "present" && pte.pfn === page.pfn, "I2", () => `walk of ${page} visited (mm${m.vma.mm.id}, ${m.addr}), which does not map it`);
    pte.pfn = nw.pfn;
    page.mapcount--;
    page.count--;
    nw.mapcount++;
    nw.count++;
  }
  migrateCaches(k, page, nw);
  k.counters.migrations++;
  // The old page keeps whatever PTEs the walk missed (the checker reports them, I1); drop
  // the isolation reference migration held on it.
  page.count++;
  k.putPage(page, "migrate_pages");
  return true;
}

/**
 * kernel: truncate_setsize() → unmap_mapping_range(even_cows) + truncate_inode_pages():
 * zap every PTE at or past the new end in every vma on i_mmap (private COW copies too), then
 * drop the page cache and the backing store past it.
 */
/**
 * kernel: folio_migrate_copy() + folio_migrate_mapping()'s identity part: nw takes page's
 * contents, anon/dirty flags, mapping and index, and the design moves its rmap state.
 */
export function migrateCopy(k: Kernel, page: Page, nw: Page): void {
  k.frameData[nw.pfn] = k.frameData[page.pfn] as number;
  nw.flags = page.flags & (PG_anon | PG_dirty);
  nw.mapping = page.mapping;
  nw.index = page.index;
  nw.file = page.file;
  k.design.pageMigrate(page, nw);
}

/** kernel: folio_migrate_mapping(): the page-cache or swap-cache slot moves to nw with its reference. */
export function migrateCaches(k: Kernel, page: Page, nw: Page): void {
  if (page.file && page.file.pageCache.get(page.index) === page) {
    page.file.pageCache.set(page.index, nw);
    nw.count++;
    page.count--;
  }
  if (page.flags & PG_swapcache && page.private !== null) {
    k.swapCache.set(page.private, nw);
    nw.flags |= PG_swapcache;
    nw.private = page.private;
    nw.count++;
    page.flags &= ~PG_swapcache;
    page.private = null;
    page.count--;
  }
}

export function truncateFile(k: Kernel, file: File, size: number): void {
  if (size < file.size) {
    const victims: Vma[] = [];
    file.iMmap.query(size, Number.MAX_SAFE_INTEGER, (vma) => {
      victims.push(vma);
      return true;
    });
    for (const vma of victims) {
      const from = vma.vmStart + Math.max(0, size - vma.vmPgoff);
      for (let a = from; a < vma.vmEnd; a++) if (vma.mm.pt.has(a)) k.counters.truncateZaps++;
      k.zapRange(vma, from, vma.vmEnd, "unmap_mapping_range");
    }
    if (k.folio?.fileFolios) k.folio.truncatePartial(file, size); // truncate_inode_partial_folio()
    for (const [index, page] of [...file.pageCache]) {
      if (index >= size) k.removeFromPageCache(page, "truncate_inode_pages");
    }
    for (const index of [...file.disk.keys()]) if (index >= size) file.disk.delete(index);
  }
  file.size = size;
}
