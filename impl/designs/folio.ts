/*
 * The mapcount schemes as a second axis of a design: `DESIGN+folio-6.14` ("per-page": page
 * _mapcount, folio _entire_mapcount and _large_mapcount, Linux 6.10–6.14) and
 * `DESIGN+folio-6.15` ("no-page-mapcount": _large_mapcount, _entire_mapcount and the MM-id
 * slots, CONFIG_NO_PAGE_MAPCOUNT, 6.15+, David Hildenbrand). The wrapped design keeps its rmap
 * (anon_vma_chain and the i_mmap interval tree); the kernel gets a FolioLayer (impl/folio.ts)
 * that allocates large anonymous folios at write faults and keeps their PMD mappings and
 * mapcounts. The folio order is the world's `folioOrder` (2 when unset: 4 pages stand in for
 * PMD order in the 32-page world). docs/folios.md.
 */
import { defaultWorld } from "../../model/world.js";
import type { DesignInfo, RmapDesign } from "../design.js";
import type { Mm, Vma } from "../types.js";
import { FolioLayer, type FolioMutant, type MapcountScheme, folioMutants } from "../folio.js";

export function makeFolioDesign(base: DesignInfo, scheme: MapcountScheme, version: "6.14" | "6.15", mthp = false): DesignInfo {
  return {
    name: `${base.name}+folio-${version}${mthp ? "-mthp" : ""}`,
    era: version === "6.14" ? "6.10–6.14 (large folios, per-page mapcount)" : "6.15+ (large folios, CONFIG_NO_PAGE_MAPCOUNT)",
    summary: `${base.name} with large anonymous and page-cache folios mapped by PMD or PTEs${mthp ? ", and 2-page mTHP where no PMD folio fits" : ""}; ${
      version === "6.14" ? "per-page _mapcount, _entire_mapcount, _large_mapcount" : "_large_mapcount, _entire_mapcount and two MM-id slots (no per-page mapcount)"
    }`,
    mutants: folioMutants,
    vmaPrealloc: base.vmaPrealloc,
    // -mthp: order 1 (2 pages, PTE-mapped) where no 4-page PMD folio fits.
    // File large folios (impl/folio-file.ts) in every folio design.
    world: mthp ? { ...defaultWorld, folioOrder: 2, mthpOrders: [1], fileFolios: true } : { ...defaultWorld, folioOrder: 2, fileFolios: true },
    create(kernel, mutant) {
      const folioMutant = (folioMutants as readonly string[]).includes(mutant ?? "") ? (mutant as FolioMutant) : undefined;
      const inner = base.create(kernel, folioMutant ? undefined : mutant);
      const layer = new FolioLayer(kernel, inner, scheme, kernel.world.folioOrder ?? 2, folioMutant);
      layer.mthpOrders = [...(kernel.world.mthpOrders ?? [])].filter((o) => o > 0 && o < layer.order).sort((a, b) => b - a);
      layer.fileFolios = kernel.world.fileFolios ?? false;
      kernel.folio = layer;
      // PTE tables (impl/folio-pgtable.ts): made where a PTE is set, freed by free_pgtables().
      const nr = layer.nr;
      const tables = layer.tables;
      const ptes = (vma: Vma, addr: number) => {
        if (layer.pmdOf(vma.mm, addr) === undefined) tables.add(vma.mm, Math.floor(addr / nr));
      };
      // The range the last vma link or expansion of an mm added: at MAP_FIXED it is the new
      // mapping, which the kernel inserts only after freeing the old vmas' page tables.
      const fresh = new Map<Mm, { start: number; end: number }>();
      const d: RmapDesign = {
        createIMmap: () => inner.createIMmap(),
        mmInit: (mm) => inner.mmInit(mm),
        mmFork: (p, c) => inner.mmFork(p, c),
        mmExit: (mm) => {
          inner.mmExit(mm);
          tables.dropMm(mm);
          fresh.delete(mm);
          if ((layer.pmds.get(mm)?.size ?? 0) === 0) layer.pmds.delete(mm);
        },
        vmaLink: (v) => {
          inner.vmaLink(v);
          fresh.set(v.mm, { start: v.vmStart, end: v.vmEnd });
        },
        vmaUnlink: (v, w) => {
          inner.vmaUnlink(v, w);
          // free_pgtables() of unmap_region() / vms_clear_ptes(); merges free no table.
          if (w === "munmap") tables.freeUnmapped(v.mm, v.vmStart, v.vmEnd, nr);
          else if (w === "mmap(MAP_FIXED)") tables.freeUnmapped(v.mm, v.vmStart, v.vmEnd, nr, fresh.get(v.mm));
        },
        vmaAdjust: (v, start, end, pgoff) => {
          if (start < v.vmStart) fresh.set(v.mm, { start, end: v.vmStart });
          else if (end > v.vmEnd) fresh.set(v.mm, { start: v.vmEnd, end });
          // vma_adjust_trans_huge(): a PMD the new boundaries cut is split first.
          if (start !== v.vmStart) layer.splitAt(v.mm, start);
          if (end !== v.vmEnd) layer.splitAt(v.mm, end);
          inner.vmaAdjust(v, start, end, pgoff);
        },
        vmaSplit: (v, nw) => {
          layer.splitAt(v.mm, nw.vmStart === v.vmStart ? nw.vmEnd : nw.vmStart);
          inner.vmaSplit(v, nw);
        },
        vmaMerge: (keep, gone, copied) => inner.vmaMerge(keep, gone, copied),
        vmaFork: (p, c) => {
          inner.vmaFork(p, c);
          // copy_page_range() runs when vma_needs_copy(): the source has an anon_vma; each
          // PTE table of the parent's range is copied (copy_pte_range(), even an empty one).
          if (inner.hasAnonObject(p))
            for (const ch of tables.chunks(p.mm)) if (ch * nr < p.vmEnd && ch * nr + nr > p.vmStart) tables.add(c.mm, ch);
        },
        vmaCopy: (s, t) => inner.vmaCopy(s, t),
        anonMergeable: (a, b, c) => inner.anonMergeable(a, b, c),
        hasAnonObject: (v) => inner.hasAnonObject(v),
        anonPrepare: (v) => inner.anonPrepare(v),
        pageAddAnon: (page, vma, addr, how) => {
          inner.pageAddAnon(page, vma, addr, how);
          ptes(vma, addr); // a PMD-mapped folio's pages are added by the layer, not here
          if (how !== "new") layer.pageAdded(page, vma, how === "swapin-exclusive");
        },
        pageAddFile: (page, vma, addr) => {
          inner.pageAddFile(page, vma, addr);
          ptes(vma, addr);
          layer.pageAdded(page, vma, false); // folio_add_file_rmap_ptes() (a file folio's page)
        },
        pageDupAtFork: (page, pv, cv, addr) => {
          inner.pageDupAtFork(page, pv, cv, addr);
          layer.pageDup(page, pv, cv, addr);
          ptes(cv, addr);
        },
        pageRemove: (page, vma, addr) => {
          layer.pageRemoved(page, vma, addr);
          inner.pageRemove(page, vma, addr);
        },
        pageReuse: (page, vma, addr) => inner.pageReuse(page, vma, addr),
        pageMove: (page, ov, from, nv, to) => {
          layer.pageMove(page, ov, from, nv, to);
          ptes(nv, to); // move_ptes() into a table at the destination, unless the PMD moved
          return inner.pageMove(page, ov, from, nv, to);
        },
        swapinMustCopy: (page, vma, addr) => inner.swapinMustCopy(page, vma, addr),
        pageMigrate: (oldPage, newPage) => {
          layer.pageMigrate(oldPage, newPage);
          inner.pageMigrate(oldPage, newPage);
        },
        pageFree: (page) => {
          layer.pageFree(page);
          inner.pageFree(page);
        },
        walk: (page, visit) => inner.walk(page, visit),
        get slab() {
          return inner.slab;
        },
        check: () => {
          inner.check();
          layer.check();
        },
      };
      if (inner.vmaMergeAbort) d.vmaMergeAbort = (keep) => inner.vmaMergeAbort?.(keep);
      if (inner.fixedMemory) d.fixedMemory = () => inner.fixedMemory?.() as ReturnType<NonNullable<RmapDesign["fixedMemory"]>>;
      if (inner.explain) d.explain = (page, vma, addr) => inner.explain?.(page, vma, addr) as string;
      if (inner.snapshot) d.snapshot = (g) => inner.snapshot?.(g);
      return d;
    },
  };
}
