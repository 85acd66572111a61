/*
 * Known-answer scenarios for a large folio moved as a whole (impl/folio-migrate.ts) and for
 * the deferred split queue of 6.12+ (queued at fault, partially_mapped): whole-folio
 * migration keeps PMD and PTE mappings and PageAnonExclusive, a partially mapped folio is
 * split first, whole-folio swap-out and reclaim, split_folio() through the rmap walk, the
 * zap batch (folio_remove_rmap_ptes()). Order 2: a folio is 4 pages, PMD index = addr / 4.
 */
import { describe, expect, it } from "vitest";
import type { Cmd } from "../model/commands.js";
import { Session } from "../properties/interpreter.js";
import type { Folio } from "./folio.js";
import { anon, d614, d615, folioAt, fork, layer, migrate, mmOf, mprotect, munmap, read, reclaim, session, swapout, write } from "./folio-test-helpers.js";

const pfnAt = (s: Session, mm: number, addr: number): number => {
  const pte = s.kernel.mms.get(mm)?.pt.get(addr);
  if (pte?.kind !== "present") throw new Error(`nothing mapped at mm${mm}:${addr}`);
  return pte.pfn;
};

for (const d of [d614, d615]) {
  describe(`${d.name}: whole-folio migration`, () => {
    it("a PMD-mapped folio moves whole: a new folio, still one PMD, exclusive, queued as at fault", () => {
      const s = session(d, [anon(1, 4, 4), write(1, 5, 7), write(1, 6, 8)]);
      const before = folioAt(s, 1, 5) as Folio;
      expect(before.onDeferredList && !before.partiallyMapped && before.awaitingScan).toBe(true);
      const pfns = [4, 5, 6, 7].map((a) => pfnAt(s, 1, a));
      expect(s.apply(migrate(1, 6)).violation).toBeUndefined();
      const after = folioAt(s, 1, 5) as Folio;
      expect(after).toBeDefined();
      expect(after).not.toBe(before);
      expect([4, 5, 6, 7].map((a) => pfnAt(s, 1, a)).some((p, i) => p === pfns[i])).toBe(false);
      expect(layer(s).pmdOf(mmOf(s, 1), 4)).toBe(after);
      expect([after.largeMapcount, after.entireMapcount]).toEqual([1, 1]);
      expect(after.anonExclusive).toEqual([true, true, true, true]);
      expect(after.onDeferredList && after.awaitingScan).toBe(true);
      expect(layer(s).stats.wholeMigrations).toBe(1);
      expect(s.kernel.peek(mmOf(s, 1), 5)).toBe(7);
      expect(s.kernel.peek(mmOf(s, 1), 6)).toBe(8);
      // PageAnonExclusive came along: a write after mprotect round-trip reuses in place.
      for (const c of [mprotect(1, 4, 4, "r"), mprotect(1, 4, 4, "rw"), write(1, 7, 9)]) expect(s.apply(c).violation).toBeUndefined();
      expect(folioAt(s, 1, 7)).toBe(after);
    });

    it("a folio two mms map by PMD moves with both PMDs, shared, not exclusive", () => {
      const s = session(d, [anon(1, 4, 4), write(1, 5, 7), fork(1, 2), migrate(2, 4), read(1, 5), read(2, 5)]);
      const f = folioAt(s, 1, 5) as Folio;
      expect(folioAt(s, 2, 5)).toBe(f);
      expect([f.largeMapcount, f.entireMapcount]).toEqual([2, 2]);
      expect(f.anonExclusive).toEqual([false, false, false, false]);
      expect(layer(s).maybeMappedShared(f)).toBe(true);
      // COW still breaks: the parent's write does not reach the child.
      for (const c of [write(1, 5, 9), read(2, 5)]) expect(s.apply(c).violation).toBeUndefined();
      expect(s.kernel.peek(mmOf(s, 2), 5)).toBe(7);
    });

    it("a PTE-mapped folio (PMD split by mprotect) moves with its PTEs", () => {
      const s = session(d, [anon(1, 4, 4), write(1, 5, 7), mprotect(1, 6, 2, "r"), migrate(1, 7)]);
      const f = folioAt(s, 1, 5) as Folio;
      expect(layer(s).pmdOf(mmOf(s, 1), 4)).toBeUndefined();
      expect([f.largeMapcount, f.entireMapcount]).toEqual([4, 0]);
      expect(layer(s).stats.wholeMigrations).toBe(1);
    });

    it("a partially mapped folio is split first (7262f208ca68), then the page migrates alone", () => {
      const s = session(d, [anon(1, 4, 4), write(1, 5, 7), munmap(1, 4, 1), migrate(1, 6)]);
      expect(layer(s).stats.splitsBeforeMove).toBe(1);
      expect(layer(s).stats.wholeMigrations).toBe(0);
      expect(layer(s).folioOf.size).toBe(0);
      expect(s.kernel.counters.migrations).toBe(1);
    });
  });

  describe(`${d.name}: whole-folio swap-out and reclaim`, () => {
    it("swap-out of one page sends the whole folio to swap: every mapping a swap entry, frames freed", () => {
      const s = session(d, [anon(1, 4, 4), write(1, 5, 7), write(1, 7, 8), fork(1, 2), swapout(1, 6)]);
      for (const mm of [1, 2]) for (const a of [4, 5, 6, 7]) expect(mmOf(s, mm).pt.get(a)?.kind).toBe("swap");
      expect(layer(s).folioOf.size).toBe(0);
      expect(layer(s).stats.wholeSwapouts).toBe(1);
      for (const c of [read(2, 5), read(1, 7), write(2, 7, 3), read(1, 7)]) expect(s.apply(c).violation).toBeUndefined();
      expect(s.kernel.peek(mmOf(s, 1), 7)).toBe(8);
    });

    it("a folio a VM_LOCKED vma maps is not swapped out, not even in part", () => {
      const s = session(d, [anon(1, 4, 4), write(1, 5, 7), { op: "mlock", mm: 1, addr: 4, len: 4 }, swapout(1, 5)]);
      expect(layer(s).folioOf.size).toBe(4);
      expect([4, 5, 6, 7].every((a) => mmOf(s, 1).pt.get(a)?.kind === "present")).toBe(true);
    });

    it("reclaim takes a whole large folio", () => {
      const s = session(d, [anon(1, 4, 4), write(1, 5, 7), reclaim(1), read(1, 5)]);
      expect(layer(s).stats.wholeSwapouts).toBe(1);
      expect(layer(s).folioOf.size).toBe(0);
      expect(s.kernel.counters.pagesReclaimed).toBe(4);
      expect(s.kernel.peek(mmOf(s, 1), 5)).toBe(7);
    });

    it("a partially mapped folio is split before swap-out ('Split partially mapped folios right away')", () => {
      const s = session(d, [anon(1, 4, 4), write(1, 5, 7), munmap(1, 4, 1), swapout(1, 6)]);
      expect(layer(s).stats.splitsBeforeMove).toBe(1);
      expect(mmOf(s, 1).pt.get(6)?.kind).toBe("swap");
      expect(mmOf(s, 1).pt.get(5)?.kind).toBe("present");
    });
  });

  describe(`${d.name}: the deferred split queue of 6.12+`, () => {
    it("the shrinker takes a THP queued at fault off the queue without splitting it (thp_underused() false)", () => {
      const s = session(d, [anon(1, 4, 4), write(1, 5, 7), reclaim(0)]);
      const f = folioAt(s, 1, 5) as Folio;
      expect(f.onDeferredList || f.awaitingScan).toBe(false);
      expect(layer(s).stats.foliosSplit).toBe(0);
    });

    it("split_folio() goes through the rmap walk: the PTEs come back on the same pages, order 0", () => {
      const s = session(d, [anon(1, 4, 4), write(1, 5, 7), munmap(1, 4, 1)]);
      const pfns = [5, 6, 7].map((a) => pfnAt(s, 1, a));
      expect(s.apply(reclaim(0)).violation).toBeUndefined();
      expect([5, 6, 7].map((a) => pfnAt(s, 1, a))).toEqual(pfns);
      expect(layer(s).folioOf.size).toBe(0);
      expect(layer(s).stats.foliosSplit).toBe(1);
    });

    it("a zap of a whole PTE-mapped folio in one batch does not mark it partially mapped", () => {
      const s = session(d, [anon(1, 4, 4), write(1, 5, 7), mprotect(1, 4, 1, "r"), mprotect(1, 4, 1, "rw")]);
      const f = folioAt(s, 1, 5) as Folio;
      expect(layer(s).pmdOf(mmOf(s, 1), 4)).toBeUndefined();
      const queued = layer(s).stats.deferredQueued;
      expect(s.apply(munmap(1, 4, 4)).violation).toBeUndefined();
      expect(layer(s).stats.deferredQueued).toBe(queued);
      expect(f.partiallyMapped).toBe(false);
    });
  });
}

describe("the new I14 clauses fail on a planted inconsistency", () => {
  it("a THP queued at fault, not yet scanned, off the queue", () => {
    const s = session(d614, [anon(1, 4, 4), write(1, 5, 7)]);
    const f = folioAt(s, 1, 5) as Folio;
    layer(s).unqueue(f);
    expect(() => layer(s).check()).toThrow(/not yet scanned by the shrinker is off the deferred split queue/);
  });
  it("a partially mapped folio on the queue but not marked partially mapped", () => {
    const s = session(d614, [anon(1, 4, 4), write(1, 5, 7), munmap(1, 4, 1)]);
    (folioAt(s, 1, 5) as Folio).partiallyMapped = false;
    expect(() => layer(s).check()).toThrow(/not marked partially mapped/);
  });
  it("a folio marked partially mapped while fully unmapped", () => {
    const s = session(d614, [anon(1, 4, 4), write(1, 5, 7)]);
    layer(s).stats.queuedUnmapped = 1;
    expect(() => layer(s).check()).toThrow(/while fully unmapped/);
  });
});

describe("split_folio() fails when the rmap walk misses a mapping (folio_ref_freeze())", () => {
  // F6's walk misses the vma the mremap made; the munmap leaves the folio partially mapped.
  const cmds = [anon(1, 4, 4), write(1, 5, 7), { op: "mremap", mm: 1, addr: 6, len: 2, newLen: 2, maymove: true, fixed: true, newAddr: 1 } as Cmd, munmap(1, 4, 1)];
  it("with the correct walk the shrinker splits it; with vma-address-wraps the entries go back and it stays queued", () => {
    for (const [mutant, split] of [
      [undefined, true],
      ["vma-address-wraps", false],
    ] as const) {
      const s = new Session(d614, { mutant });
      for (const c of cmds) s.apply(c);
      const l = layer(s);
      const f = folioAt(s, 1, 5) as Folio;
      expect(f.onDeferredList && f.partiallyMapped).toBe(true);
      const ptes = [5, 1, 2].map((a) => pfnAt(s, 1, a));
      l.deferredSplitScan();
      expect(l.stats.foliosSplit).toBe(split ? 1 : 0);
      expect(l.stats.splitFailures).toBe(split ? 0 : 1);
      expect(f.onDeferredList).toBe(!split);
      // Either way every mapping is back in place.
      expect([5, 1, 2].map((a) => pfnAt(s, 1, a))).toEqual(ptes);
    }
  });
});
