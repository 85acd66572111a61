/*
 * Which PMD slots of an mm hold a page table of PTEs (impl/folio.ts, docs/folios.md "Page
 * tables"). The kernel maps a THP only where the PMD is none: do_huge_pmd_anonymous_page()
 * is reached from __handle_mm_fault() only `if (pmd_none(*vmf->pmd) && ...)`; once a PTE
 * table exists for the range (a small page was mapped there once, a PMD was split), a fault
 * takes the PTE path (do_anonymous_page(), alloc_anon_folio(): PMD order is not among its
 * orders) even when every PTE is none. The table goes only when free_pgtables() frees it
 * (munmap, exit, MAP_FIXED replacement: a PMD slot no remaining vma overlaps) or when
 * MADV_DONTNEED empties a whole table (CONFIG_PT_RECLAIM, 6.14+: reclaim_pt_is_enabled()
 * asks for a zap of at least PMD_SIZE within the table). Found by `conform` on Linux 6.18:
 * `mmap 0x10+8; write 0x12; madvise 0x10+2; madvise 0x12+2; write 0x11` maps one small page
 * on the host where the simulation, looking only at the PTEs, mapped a new THP.
 *
 * Only the folio designs keep this (a PMD slot is a "chunk": addr / nr). A PMD-mapped chunk
 * has no PTE table (its table is deposited, pgtable_trans_huge_deposit(), and comes back at
 * a split).
 */
import type { Mm } from "./types.js";

export class PteTables {
  private readonly byMm = new Map<Mm, Set<number>>();

  has(mm: Mm, chunk: number): boolean {
    return this.byMm.get(mm)?.has(chunk) === true;
  }

  add(mm: Mm, chunk: number): void {
    let s = this.byMm.get(mm);
    if (!s) {
      s = new Set();
      this.byMm.set(mm, s);
    }
    s.add(chunk);
  }

  delete(mm: Mm, chunk: number): void {
    this.byMm.get(mm)?.delete(chunk);
  }

  /** exit_mmap(): every table goes. */
  dropMm(mm: Mm): void {
    this.byMm.delete(mm);
  }

  chunks(mm: Mm): ReadonlySet<number> {
    return this.byMm.get(mm) ?? new Set();
  }

  /**
   * free_pgtables() after `gone` = [start, end) was unmapped: the table of each PMD slot the
   * range touches goes when no remaining vma overlaps the slot (free_pgd_range()'s floor and
   * ceiling are the neighbours' ends). `ignore` is a range whose vma is not there yet in the
   * kernel (MAP_FIXED: the old vmas' tables are freed before the new vma is inserted).
   */
  freeUnmapped(mm: Mm, start: number, end: number, nr: number, ignore?: { start: number; end: number }): void {
    const s = this.byMm.get(mm);
    if (!s || s.size === 0) return;
    for (let c = Math.floor(start / nr); c * nr < end; c++) {
      if (!s.has(c)) continue;
      const lo = c * nr;
      const hi = lo + nr;
      let covered = false;
      for (const v of mm.vmas) {
        let a = Math.max(lo, v.vmStart);
        let b = Math.min(hi, v.vmEnd);
        if (ignore) {
          // The part of [a, b) outside the ignored range.
          if (ignore.start <= a && b <= ignore.end) continue;
          if (ignore.start <= a && a < ignore.end) a = ignore.end;
          if (ignore.start < b && b <= ignore.end) b = ignore.start;
        }
        if (a < b) {
          covered = true;
          break;
        }
      }
      if (!covered) s.delete(c);
    }
  }
}
