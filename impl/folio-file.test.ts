/*
 * Known-answer scenarios for file large folios (impl/folio-file.ts) under both mapcount
 * schemes: page-cache folios read whole, do_set_pmd() where vma and file offset are aligned,
 * PTE mappings elsewhere, a file PMD zapped (not split) at a vma boundary, a COW, a fork, an
 * mremap; truncation of part of a folio (split), reclaim and migration of a whole folio; never
 * on the deferred split queue, never PageAnonExclusive. Order 2: a folio is 4 pages.
 */
import { describe, expect, it } from "vitest";
import type { Session } from "../properties/interpreter.js";
import type { Folio } from "./folio.js";
import { d614, d615, design, fileMap, fork, layer, migrate, mprotect, mremapTo, munmap, read, session, swapout, truncate, write } from "./folio-test-helpers.js";
import type { Page } from "./types.js";

const cached = (s: Session, index: number): Page | undefined => s.kernel.files[0]?.pageCache.get(index);
const folioOfIndex = (s: Session, index: number): Folio | undefined => {
  const p = cached(s, index);
  return p ? layer(s).folioOf.get(p) : undefined;
};
const mm = (s: Session, id: number) => s.kernel.mms.get(id) as NonNullable<ReturnType<typeof s.kernel.mms.get>>;

for (const d of [d614, d615]) {
  describe(`${d.name}: file large folios`, () => {
    it("a read fault on an aligned file mapping reads the folio and maps it by PMD (do_set_pmd)", () => {
      const s = session(d, [fileMap(1, 4, 4, 4), read(1, 6)]);
      const f = folioOfIndex(s, 6) as Folio;
      expect(f.file).toBe(true);
      expect(f.pages.map((p) => p.index)).toEqual([4, 5, 6, 7]);
      expect(layer(s).pmdOf(mm(s, 1), 4)).toBe(f);
      expect([f.largeMapcount, f.entireMapcount]).toEqual([1, 1]);
      expect(f.anonExclusive).toEqual([false, false, false, false]);
      expect(mm(s, 1).pt.size).toBe(4);
      expect(f.onDeferredList).toBe(false);
    });

    it("a file offset not aligned with the address maps the page alone by PTE", () => {
      const s = session(d, [fileMap(1, 12, 4, 0), read(1, 13)]); // 12 - 0 aligned: PMD
      expect(layer(s).pmdOf(mm(s, 1), 12)).toBeDefined();
      const t = session(d, [fileMap(1, 4, 4, 2), read(1, 5)]); // vm_start - vm_pgoff not aligned
      const f = folioOfIndex(t, 3) as Folio;
      expect(f.file).toBe(true);
      expect(layer(t).pmdOf(mm(t, 1), 4)).toBeUndefined();
      expect([f.largeMapcount, f.entireMapcount]).toEqual([1, 0]);
      if (d === d614) expect(f.pageMapcount).toEqual([0, 0, 0, 1]);
      expect(f.onDeferredList).toBe(false); // a partially mapped file folio is never queued
    });

    it("a page-cache folio is not read across EOF: order 0 there", () => {
      const s = session(d, [truncate(6), fileMap(1, 4, 4, 4), read(1, 5)]);
      expect(folioOfIndex(s, 5)).toBeUndefined();
      expect(cached(s, 5)).toBeDefined();
    });

    it("munmap of part of a PMD-mapped file range zaps the whole PMD; faults map PTEs again", () => {
      const s = session(d, [fileMap(1, 4, 4, 4), read(1, 6), munmap(1, 4, 1)]);
      const f = folioOfIndex(s, 6) as Folio;
      expect(layer(s).pmdOf(mm(s, 1), 5)).toBeUndefined();
      expect(mm(s, 1).pt.size).toBe(0); // __split_huge_pmd_locked() of a file vma zaps
      expect([f.largeMapcount, f.entireMapcount]).toEqual([0, 0]);
      expect(layer(s).stats.filePmdZaps).toBe(1);
      const t = session(d, [fileMap(1, 4, 4, 4), read(1, 6), munmap(1, 4, 1), read(1, 6), read(1, 7)]);
      const g = folioOfIndex(t, 6) as Folio;
      expect([g.largeMapcount, g.entireMapcount]).toEqual([2, 0]);
      if (d === d614) expect(g.pageMapcount).toEqual([0, 0, 1, 1]);
      expect(g.onDeferredList).toBe(false);
    });

    it("mprotect of part of the range zaps the PMD; mremap to an aligned place moves it whole", () => {
      const s = session(d, [fileMap(1, 4, 4, 4), read(1, 6), mprotect(1, 4, 2, "r")]);
      expect(mm(s, 1).pt.size).toBe(0);
      const t = session(d, [fileMap(1, 4, 4, 4), read(1, 6), mremapTo(1, 4, 4, 16), read(1, 17)]);
      const f = folioOfIndex(t, 6) as Folio;
      expect(layer(t).pmdOf(mm(t, 1), 16)).toBe(f);
      expect(layer(t).stats.pmdMoves).toBe(1);
      const u = session(d, [fileMap(1, 4, 4, 4), read(1, 6), mremapTo(1, 4, 4, 18), read(1, 19)]);
      const g = folioOfIndex(u, 6) as Folio;
      expect(g.entireMapcount).toBe(0);
    });

    it("a write to a private PMD-mapped file folio zaps the PMD and copies the page", () => {
      const s = session(d, [fileMap(1, 4, 4, 4, false), read(1, 6), write(1, 6, 9), read(1, 7)]);
      const f = folioOfIndex(s, 6) as Folio;
      expect(f.entireMapcount).toBe(0);
      expect(f.largeMapcount).toBe(1); // page 7 mapped again by PTE
      const p = s.kernel.pageAt((mm(s, 1).pt.get(6) as { pfn: number }).pfn as never) as Page;
      expect(p.anon).toBe(true);
    });

    it("a write to a shared read-only file PMD zaps it and keeps the written page by PTE", () => {
      const s = session(d, [fileMap(1, 4, 4, 4), read(1, 6), write(1, 5, 9), read(1, 5)]);
      const f = folioOfIndex(s, 6) as Folio;
      expect([f.largeMapcount, f.entireMapcount]).toEqual([1, 0]);
      expect(mm(s, 1).pt.size).toBe(1);
    });

    it("fork does not copy a file PMD (copy_huge_pmd); the child maps it by its own PMD", () => {
      const s = session(d, [fileMap(1, 4, 4, 4, false), read(1, 6), fork(1, 2)]);
      expect(mm(s, 2).pt.size).toBe(0);
      const t = session(d, [fileMap(1, 4, 4, 4, false), read(1, 6), fork(1, 2), read(2, 5)]);
      const f = folioOfIndex(t, 6) as Folio;
      expect([f.largeMapcount, f.entireMapcount]).toEqual([2, 2]);
      expect(layer(t).maybeMappedShared(f)).toBe(true);
    });

    it("truncation inside a folio splits it through the rmap walk (truncate_inode_partial_folio)", () => {
      const s = session(d, [fileMap(1, 4, 4, 4), fileMap(1, 12, 2, 4), read(1, 6), read(1, 13), truncate(6)]);
      expect(layer(s).stats.fileFolioSplits).toBe(1);
      expect(folioOfIndex(s, 4)).toBeUndefined(); // order-0 pages now
      expect(cached(s, 4)).toBeDefined();
      expect(cached(s, 6)).toBeUndefined();
      expect(mm(s, 1).pt.size).toBe(0); // split_folio() of a file folio unmaps; remap_page() does not map it again
    });

    it("reclaim takes a file folio whole: unmapped through the walk, written back if dirty, dropped", () => {
      const s = session(d, [fileMap(1, 4, 4, 4), read(1, 6), write(1, 5, 9), read(1, 6), swapout(1, 6)]);
      expect(cached(s, 4)).toBeUndefined();
      expect(cached(s, 7)).toBeUndefined();
      expect(s.kernel.files[0]?.disk.get(5)).toBe(9);
      expect(mm(s, 1).pt.size).toBe(0);
    });

    it("migration moves a PMD-mapped file folio whole and maps the target by PMD", () => {
      const s = session(d, [fileMap(1, 4, 4, 4), read(1, 6), migrate(1, 6)]);
      const f = folioOfIndex(s, 6) as Folio;
      expect(f.file).toBe(true);
      expect(layer(s).pmdOf(mm(s, 1), 4)).toBe(f);
      expect([f.largeMapcount, f.entireMapcount]).toEqual([1, 1]);
      expect(layer(s).stats.wholeMigrations).toBe(1);
    });
  });
}

describe("file large folios are off in the order-0 designs", () => {
  it("anon-vma-chain reads order-0 pages", () => {
    const s = session(design("anon-vma-chain"), [fileMap(1, 4, 4, 4), read(1, 6)]);
    expect(s.kernel.folio).toBeUndefined();
    expect(s.kernel.files[0]?.pageCache.size).toBe(1);
  });
});
