/*
 * File large folios (docs/folios.md, "File large folios"): page-cache folios of the world's
 * folio order, mapped by PTEs or, where vma and file offset are aligned, by one PMD
 * (do_set_pmd()). The FolioLayer (impl/folio.ts) keeps their mapcounts as it does for
 * anonymous folios — folio_add_file_rmap_ptes() / _pmd() go through the same
 * __folio_add_rmap() (mm/rmap.c): 6.14 the page _mapcount, _large_mapcount and
 * _entire_mapcount; 6.15 _large_mapcount, _entire_mapcount and the MM-id slots — with three
 * differences read in the kernel's text:
 *
 * - no PageAnonExclusive (the bit exists for anonymous pages only);
 * - never on the deferred split queue: __folio_remove_rmap() queues only when
 *   `partially_mapped && folio_test_anon(folio) && !folio_test_partially_mapped(folio)`
 *   ("Queue anon large folio for deferred split ...", mm/rmap.c, 6.12+; the same test with
 *   list_empty() before 8422acdc97ed);
 * - a PMD mapping is never split into PTEs: __split_huge_pmd_locked() (mm/huge_memory.c)
 *   for a vma that is not anonymous clears the PMD ("We are going to unmap this huge page.
 *   So just go ahead and zap it"), folio_remove_rmap_pmd(), folio_put(), marks the folio
 *   dirty if the PMD was; later faults map the pages again, by PTE. wp_huge_pmd() does so on a
 *   write to a read-only file PMD ("COW or write-notify handled on pte level: split pmd"), and
 *   copy_huge_pmd() skips a file PMD at fork ("Skip if can be re-fill on fault": the child
 *   refaults).
 *
 * The page cache (kernel filemap.c): a page-cache miss reads the naturally aligned folio that
 * holds the index (page_cache_ra_order() keeps a folio below EOF and falls back to smaller
 * orders when it does not fit; rmapcheck falls back to order 0) when no page of that range is
 * cached yet. A read fault, or a write fault on a shared mapping, maps the whole folio with one
 * PMD when the PMD is none, the aligned range lies in the vma and `vm_start - vm_pgoff` is
 * aligned (thp_vma_suitable_order(): a file vma needs the pgoff test anonymous memory does
 * not) — filemap_map_pages() → filemap_map_pmd() → do_set_pmd() for a read, finish_fault() →
 * do_set_pmd() for a shared write; otherwise the faulting page alone is mapped by PTE (fault-
 * around's other PTEs of the folio are not modelled). A private write fault copies one page
 * (do_cow_fault()), as for order-0 pages.
 *
 * Truncation (truncate_inode_partial_folio(), mm/truncate.c): a folio that the new size cuts
 * is split — split_folio() of a file folio unmaps every mapping through the rmap walk
 * (unmap_folio() → try_to_unmap(); remap_page() returns at once for a file folio, so the
 * mappings stay unmapped) and freezes the references; then the pages past EOF go one by one.
 * When the split fails (the walk missed a mapping: folio_ref_freeze() fails), a dirty folio
 * stays in the page cache whole (the kernel zeroes its tail) and a clean one is truncated whole
 * (truncate_inode_folio()).
 */
import { AllocFailure } from "./alloc.js";
import type { Folio, FolioLayer } from "./folio.js";
import { findVma } from "./mmap.js";
import { type File, type Mm, PG_dirty, PG_locked, type Page, type PresentPte, type Vma, linearPageIndex } from "./types.js";
import { rmapWalk } from "./vmscan.js";

/**
 * The page-cache folio holding `index` of `file` (a miss): undefined when no folio of the
 * layer's order fits (it would cross EOF, or a page of its range is cached already) or its
 * allocation fails; the caller then reads an order-0 page.
 */
export function fileFolioRead(layer: FolioLayer, file: File, index: number): Page | undefined {
  const k = layer.k;
  const nr = layer.nr;
  const start = index - (index % nr);
  if (start + nr > file.size) return undefined;
  for (let i = start; i < start + nr; i++) if (file.pageCache.has(i)) return undefined;
  const pages: Page[] = [];
  try {
    for (let i = 0; i < nr; i++) {
      const p = k.allocPage();
      p.flags |= PG_locked; // not reclaimable before it is in the page cache
      pages.push(p);
    }
  } catch (e) {
    if (!(e instanceof AllocFailure)) throw e;
    for (const p of pages) k.freePage(p, "page_cache_ra_order (fallback)");
    return undefined;
  }
  // The allocations' reclaim only drops pages: the range is still uncached.
  const f = layer.newFileFolio(pages);
  for (let i = 0; i < nr; i++) {
    const p = pages[i] as Page;
    p.flags &= ~PG_locked;
    p.file = file;
    p.mapping = file;
    p.index = start + i;
    p.count = 1; // the page cache's reference
    k.frameData[p.pfn] = file.disk.get(start + i) ?? 0;
    file.pageCache.set(start + i, p);
  }
  layer.stats.fileFolios++;
  return f.pages[index - start];
}

/**
 * do_set_pmd(): map the whole file folio of `page` at (vma, addr)'s PMD, if it can be. The
 * PTEs stand for the PMD; writable (and dirty, the folio marked dirty) for a shared write
 * fault, read-only otherwise. Undefined: the caller maps `page` alone by PTE.
 */
export function filePmdFault(layer: FolioLayer, vma: Vma, addr: number, page: Page, write: boolean): PresentPte | undefined {
  const f = layer.folioOf.get(page);
  if (!f?.file || f.order !== layer.order || f.live !== f.nr) return undefined;
  const nr = layer.nr;
  const mm = vma.mm;
  const start = addr - (addr % nr);
  if (start < vma.vmStart || start + nr > vma.vmEnd) return undefined;
  // thp_vma_suitable_order(): for a file vma, (vm_start >> PAGE_SHIFT) - vm_pgoff aligned,
  // i.e. the aligned range maps the folio's own pages.
  if (linearPageIndex(vma, start) !== (f.pages[0] as Page).index) return undefined;
  if (layer.tables.has(mm, start / nr)) return undefined; // do_set_pmd() wants pmd_none()
  for (let a = start; a < start + nr; a++) if (mm.pt.has(a)) return undefined;
  const file = page.file as File;
  // No PMD across i_size (74207de2ba10, Kiryl Shutsemau, "mm/memory: do not populate page
  // table entries beyond i_size", 6.18-rc, Fixes: 6795801366da "xfs: Support large folios"):
  // a folio crossing EOF is mapped by PTE so that an access past EOF still raises SIGBUS.
  // rmapcheck never leaves a folio across EOF (readahead keeps folios below it, truncation
  // splits or drops a folio it cuts), so the test never refuses here today.
  if ((f.pages[nr - 1] as Page).index >= file.size) return undefined;
  for (const p of f.pages) if (file.pageCache.get(p.index) !== p) return undefined;
  let hit: PresentPte | undefined;
  for (let i = 0; i < nr; i++) {
    const p = f.pages[i] as Page;
    layer.inner.pageAddFile(p, vma, start + i);
    const pte = layer.k.setPte(vma, start + i, p, write);
    if (write) {
      pte.dirty = true;
      p.flags |= PG_dirty; // fault_dirty_shared_page(): the folio is dirty as a whole
    }
    if (start + i === addr) hit = pte;
  }
  // folio_add_file_rmap_pmd(): _entire_mapcount and _large_mapcount (and the MM-id slot).
  layer.pmdMapped(f, mm);
  layer.pmdTable(mm).set(start / nr, f);
  layer.stats.pmdMaps++;
  layer.stats.filePmdMaps++;
  return hit;
}

/**
 * __split_huge_pmd_locked() for a file vma: the PMD mapping of `f` at (mm, chunk) is zapped
 * whole (folio_remove_rmap_pmd(), the references dropped, the PMD's dirty bit given to the
 * pages). `skip`: the PTE at that address is being removed by the caller (a zap or an unmap
 * that reached a PTE of the PMD), which drops its reference itself. `keep`: the PTE at that
 * address stays, as a PTE mapping in a PTE table: what the refault after the split maps
 * (wp_huge_pmd()'s fallback, move_page_tables()'s split before move_ptes()).
 */
export function filePmdZap(layer: FolioLayer, mm: Mm, chunk: number, f: Folio, opts: { skip?: number; keep?: number } = {}): void {
  const k = layer.k;
  const nr = layer.nr;
  layer.pmds.get(mm)?.delete(chunk);
  layer.stats.pmdSplits++;
  layer.stats.filePmdZaps++;
  layer.pmdUnmapped(f, mm);
  for (let i = 0; i < nr; i++) {
    const a = chunk * nr + i;
    const page = f.pages[i] as Page;
    if (a === opts.skip) continue;
    if (a === opts.keep) {
      layer.tables.add(mm, chunk);
      layer.ptesMapped(f, mm, i);
      continue;
    }
    const pte = mm.pt.get(a);
    if (pte?.kind !== "present" || pte.pfn !== page.pfn) continue;
    mm.pt.delete(a);
    if (pte.dirty) page.flags |= PG_dirty;
    const vma = findVma(mm, a);
    if (vma) layer.inner.pageRemove(page, vma, a);
    page.mapcount--;
    k.putPage(page, "__split_huge_pmd (file)");
  }
}

/**
 * split_folio() of a file folio (truncate_inode_partial_folio()): every mapping the design's
 * walk finds of each page is unmapped (a PMD zapped), then folio_ref_freeze(): true when no
 * mapping is left, the folio's pages are order-0 pages from now on.
 */
export function splitFileFolio(layer: FolioLayer, f: Folio): boolean {
  const k = layer.k;
  for (const [mm, t] of layer.pmds) for (const [chunk, g] of t) if (g === f) filePmdZap(layer, mm, chunk, f);
  for (let i = 0; i < f.nr; i++) {
    if (f.gone[i]) continue;
    const page = f.pages[i] as Page;
    for (const m of rmapWalk(k, page)) {
      if (!layer.walkSeesPage(f, i, m.vma)) continue;
      if (!k.ptePointsTo(m.vma.mm, m.addr, page.pfn)) continue;
      k.zapPte(m.vma, m.addr, "split_folio (file)");
    }
  }
  if (f.pages.some((p, i) => !f.gone[i] && p.mapcount > 0)) {
    layer.stats.splitFailures++;
    return false;
  }
  layer.dissolve(f);
  layer.stats.fileFolioSplits++;
  return true;
}

/**
 * truncate_inode_pages_range()'s partial folio (truncate_inode_partial_folio()): each file
 * folio of `file` that `size` cuts is split; when the split fails, a clean folio is dropped
 * from the page cache whole (truncate_inode_folio(): its pages below EOF are read again from
 * the file), a dirty one stays (its pages past EOF then go one by one, as the caller drops
 * them: the model's page cache is per page).
 */
export function truncatePartialFolios(layer: FolioLayer, file: File, size: number): void {
  const cut = new Set<Folio>();
  for (const [index, page] of file.pageCache) {
    if (index >= size) continue;
    const f = layer.folioOf.get(page);
    if (f?.file && page.index - f.pages.indexOf(page) + f.nr > size) cut.add(f);
  }
  for (const f of cut) {
    if (splitFileFolio(layer, f)) continue;
    if (f.pages.some((p, i) => !f.gone[i] && (p.flags & PG_dirty) !== 0)) continue;
    for (let i = 0; i < f.nr; i++) {
      if (f.gone[i]) continue;
      const p = f.pages[i] as Page;
      if (file.pageCache.get(p.index) === p) layer.k.removeFromPageCache(p, "truncate_inode_folio");
    }
  }
}
