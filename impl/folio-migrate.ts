/*
 * A large folio moved as a whole through the rmap walk (docs/folios.md): split_folio(),
 * migration of a whole folio, and swap-out of a whole folio. The FolioLayer (impl/folio.ts)
 * keeps the counters; this file does the two walks the kernel does:
 *
 *   try_to_migrate() / unmap_folio()   every mapping the design's walk finds of each page is
 *                                      replaced by a migration entry (a PMD mapping by one PMD
 *                                      migration entry, set_pmd_migration_entry(); PTEs by PTE
 *                                      entries), which carries PageAnonExclusive (writable and
 *                                      readable-exclusive entries, 5.19+);
 *   remove_migration_ptes()            each entry becomes a mapping of the target again: a PMD
 *                                      (remove_migration_pmd()) or a PTE, RMAP_EXCLUSIVE when
 *                                      the entry said so.
 *
 * Migration entries are kept beside the page table while one command runs (no step of another
 * process can observe them in the sequential mode), and remove_migration_ptes() restores the
 * entries the first walk installed: in the kernel it finds them by walking the target folio,
 * which in a sequential run finds the same vmas. A mapping the design's walk misses keeps
 * pointing at the old page: split_folio() then fails as folio_ref_freeze() would (the folio
 * stays whole), migration leaves it behind (the checker reports it, I1), as for order-0 pages.
 *
 * Kernel text followed: mm/huge_memory.c split_huge_page_to_list_to_order(), unmap_folio(),
 * remap_page(), set_pmd_migration_entry(), remove_migration_pmd(); mm/migrate.c
 * migrate_pages_batch() ("The rare folio on the deferred split list should be split now"),
 * migrate_folio_move(), remove_migration_pte(); mm/rmap.c try_to_migrate_one(); mm/vmscan.c
 * shrink_folio_list() ("Split partially mapped folios right away", 6.10+ swaps out a large
 * folio without splitting it: Ryan Roberts, "mm: vmscan: avoid split during
 * shrink_folio_list()").
 */
import { AllocFailure } from "./alloc.js";
import type { Folio, FolioLayer } from "./folio.js";
import type { Kernel } from "./kernel.js";
import { PG_anon, PG_dirty, PG_locked, type Page, type PresentPte, type Vma, VM_LOCKED } from "./types.js";
import { migrateCaches, rmapWalk } from "./vmscan.js";

/** A migration entry: where it sits, the page it stands for, and the PTE bits it keeps. */
interface MigrationEntry {
  vma: Vma;
  addr: number;
  /** Index of the page in its folio. */
  i: number;
  pte: PresentPte;
  /** Part of a PMD mapping of the folio (one PMD migration entry for nr PTE slots). */
  pmd: boolean;
}

/**
 * try_to_migrate(folio) / unmap_folio(): take every mapping of every live page of `f` that the
 * design's walk finds out of the page tables. The page references the PTEs held stay with the
 * entries. Returns the entries.
 */
function unmapToEntries(layer: FolioLayer, f: Folio): MigrationEntry[] {
  const k = layer.k;
  const entries: MigrationEntry[] = [];
  for (let i = 0; i < f.nr; i++) {
    if (f.gone[i]) continue;
    const page = f.pages[i] as Page;
    for (const m of rmapWalk(k, page)) {
      if (!layer.walkSeesPage(f, i, m.vma)) continue;
      const pte = m.vma.mm.pt.get(m.addr);
      if (pte?.kind !== "present" || pte.pfn !== page.pfn) continue;
      m.vma.mm.pt.delete(m.addr);
      entries.push({ vma: m.vma, addr: m.addr, i, pte, pmd: layer.pmdOf(m.vma.mm, m.addr) === f });
    }
  }
  return entries;
}

/** Whether the entries account for every mapping of every live page (folio_ref_freeze()). */
function frozen(f: Folio, entries: readonly MigrationEntry[]): boolean {
  const found = f.pages.map(() => 0);
  for (const e of entries) found[e.i] = (found[e.i] as number) + 1;
  return f.pages.every((p, i) => f.gone[i] || found[i] === p.mapcount);
}

/** remove_migration_ptes() back onto the same pages (a failed freeze, or the split's remap). */
function restoreInPlace(entries: readonly MigrationEntry[]): void {
  for (const e of entries) e.vma.mm.pt.set(e.addr, e.pte);
}

/**
 * split_folio(): unmap_folio() through the rmap walk (PMDs split into PTE migration entries:
 * TTU_SPLIT_HUGE_PMD), folio_ref_freeze(), __split_huge_page() into order-0 pages, remap_page().
 * False when the walk missed a mapping (the freeze fails and the entries go back: the folio
 * stays whole and queued).
 */
export function splitFolio(layer: FolioLayer, f: Folio): boolean {
  for (const [mm, t] of layer.pmds) for (const [chunk, g] of t) if (g === f) layer.splitPmd(mm, chunk);
  const entries = unmapToEntries(layer, f);
  if (!frozen(f, entries)) {
    restoreInPlace(entries);
    return false;
  }
  layer.dissolve(f);
  restoreInPlace(entries); // remap_page(): each entry maps its (now order-0) page again
  return true;
}

/**
 * The large folio a migration or swap-out of `page` must handle first: a folio on the
 * deferred split queue as partially mapped is split first and its pages then move one by one
 * ("undefined": the caller moves `page` as an order-0 page; false: the split failed).
 * migrate_pages_batch() does so since 6.10 (Zi Yan, 7262f208ca68 "mm/migrate: split source
 * folio if it is on deferred split list", Fixes: 616b8371539a, 4.14): before it, a partially
 * mapped THP was migrated whole and its target never queued, the mutant migrate-partial-whole
 * (F9). shrink_folio_list() does so for swap-out ("Split partially mapped folios right
 * away"). Any other folio is returned to be moved whole: the pages the model freed on their
 * own (a folio whose unmapped pages 6.15's test did not catch) stay empty slots.
 */
function wholeOrSplit(layer: FolioLayer, page: Page, splitPartial: boolean): Folio | false | undefined {
  const f = layer.folioOf.get(page);
  if (!f) return undefined;
  if (f.pages.some((p, i) => !f.gone[i] && (p.flags & PG_locked) !== 0)) return false;
  if (splitPartial && f.onDeferredList && f.partiallyMapped) {
    if (!splitFolio(layer, f)) return false;
    layer.stats.splitsBeforeMove++;
    return undefined;
  }
  return f;
}

/**
 * migrate_pages() of the folio of `page`: undefined when `page` is not (or no longer, after a
 * split) in a large folio, so the caller migrates it as an order-0 page; else whether the
 * whole folio moved to a new folio of the same order, every PMD mapping restored as a PMD,
 * every PTE as a PTE, PageAnonExclusive carried by the entries.
 */
export function migrateFolio(layer: FolioLayer, page: Page): boolean | undefined {
  const f = wholeOrSplit(layer, page, layer.mutant !== "migrate-partial-whole");
  if (f === undefined || f === false) return f === false ? false : undefined;
  const k = layer.k;
  const live = (i: number) => !f.gone[i];
  for (let i = 0; i < f.nr; i++) if (live(i)) (f.pages[i] as Page).flags |= PG_locked;
  const fresh: Page[] = [];
  const unlockOld = () => {
    for (let i = 0; i < f.nr; i++) if (live(i)) (f.pages[i] as Page).flags &= ~PG_locked;
  };
  try {
    for (let i = 0; i < f.nr; i++) {
      if (!live(i)) {
        fresh.push(f.pages[i] as Page); // an empty slot (never read: gone)
        continue;
      }
      const p = k.allocPage();
      p.flags |= PG_locked;
      fresh.push(p);
    }
  } catch (e) {
    unlockOld();
    if (!(e instanceof AllocFailure)) throw e;
    for (let i = 0; i < fresh.length; i++) if (live(i)) k.freePage(fresh[i] as Page, "migrate_pages (ENOMEM)");
    return false; // -ENOMEM: the folio stays where it is
  }
  const entries = unmapToEntries(layer, f);
  const g = layer.adopt(f, fresh);
  layer.moving = true;
  try {
    for (let i = 0; i < f.nr; i++) {
      if (!live(i)) continue;
      const old = f.pages[i] as Page;
      const nw = fresh[i] as Page;
      // folio_migrate_copy() + folio_migrate_mapping()'s identity part.
      k.frameData[nw.pfn] = k.frameData[old.pfn] as number;
      nw.flags = (nw.flags & PG_locked) | (old.flags & (PG_anon | PG_dirty));
      nw.mapping = old.mapping;
      nw.index = old.index;
      nw.file = old.file;
      layer.inner.pageMigrate(old, nw);
    }
  } finally {
    layer.moving = false;
  }
  // remove_migration_ptes(src, dst): the PMD entries as PMDs (remove_migration_pmd()), the
  // PTE entries as PTEs, RMAP_EXCLUSIVE where the entry was writable or readable-exclusive.
  const pmdDone = new Set<string>();
  for (const e of entries) {
    const old = f.pages[e.i] as Page;
    const nw = fresh[e.i] as Page;
    e.vma.mm.pt.set(e.addr, { ...e.pte, pfn: nw.pfn });
    old.mapcount--;
    old.count--;
    nw.mapcount++;
    nw.count++;
    if (e.pmd) {
      const key = `${e.vma.mm.id}:${Math.floor(e.addr / layer.nr)}`;
      if (!pmdDone.has(key)) {
        pmdDone.add(key);
        layer.restorePmd(g, e.vma.mm, e.addr);
      }
    } else layer.restorePte(g, e.vma.mm, e.i);
  }
  layer.migrated(f, g);
  for (let i = 0; i < f.nr; i++) {
    if (!live(i)) continue;
    const old = f.pages[i] as Page;
    const nw = fresh[i] as Page;
    migrateCaches(k, old, nw);
    nw.flags &= ~PG_locked;
    old.flags &= ~PG_locked;
    // The isolation reference migration held on the old page goes; an old page a missed
    // mapping still maps stays (the checker reports it).
    old.count++;
    k.putPage(old, "migrate_pages");
  }
  k.counters.migrations++;
  layer.stats.wholeMigrations++;
  return true;
}

/**
 * shrink_folio_list() of the folio of `page` (6.10+): undefined when `page` is not (or no
 * longer) in a large folio; else whether the whole folio went to swap: every mapping (a PMD
 * split first by try_to_unmap()'s TTU_SPLIT_HUGE_PMD) replaced by a swap entry of its page's
 * slot, the folio written and freed. Nothing is unmapped when a VM_LOCKED vma maps a page
 * (try_to_unmap() fails; rmapcheck checks before it starts, as it does for order-0 pages).
 */
export function swapOutFolio(layer: FolioLayer, page: Page, swapOutSmall: (k: Kernel, p: Page) => boolean): boolean | undefined {
  const f = wholeOrSplit(layer, page, true);
  if (f === undefined || f === false) return f === false ? false : undefined;
  const k = layer.k;
  const pages = f.pages.filter((_p, i) => !f.gone[i]);
  for (const p of pages)
    for (const m of rmapWalk(k, p))
      if ((m.vma.vmFlags & VM_LOCKED) !== 0) {
        k.counters.unmapFailures++;
        return false;
      }
  let all = true;
  // The pages go one after the other through the order-0 path (add_to_swap() gives the folio
  // nr slots, one per page; try_to_unmap_one() replaces each PTE by its page's entry).
  for (const p of pages) if (!swapOutSmall(k, p)) all = false;
  if (all) layer.stats.wholeSwapouts++;
  return all;
}
