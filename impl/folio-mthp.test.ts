/*
 * mTHP (world.mthpOrders, impl/folio.ts mthpFault): PTE-mapped anonymous folios below PMD
 * order at fault time, in the -mthp folio designs (order 1 = 2 pages below the 4-page PMD).
 * Known answers for alloc_anon_folio()'s choice and fallback, the folio's mapcounts under
 * both schemes, fork, COW, partial munmap and the deferred split queue, and the checks
 * (I12–I14) catching a planted inconsistency in such a folio. Also: random runs make them.
 */
import { describe, expect, it } from "vitest";
import type { Cmd } from "../model/commands.js";
import fc from "fast-check";
import { Resolver, planArbitrary } from "../properties/generate.js";
import { Session } from "../properties/interpreter.js";
import type { Folio } from "./folio.js";
import { design, folioAt, layer, session } from "./folio-test-helpers.js";

const m614 = design("anon-vma-chain+folio-6.14-mthp");
const m615 = design("anon-vma-chain+folio-6.15-mthp");

const anon = (addr: number, len: number): Cmd => ({ op: "mmap", mm: 1, addr, len, kind: "anon", prot: "rw", fixed: true });
const write = (mm: number, addr: number, token: number): Cmd => ({ op: "write", mm, addr, token });
const fork = (mm: number, child: number): Cmd => ({ op: "fork", mm, child });
const exit = (mm: number): Cmd => ({ op: "exit", mm });
const munmap = (addr: number, len: number): Cmd => ({ op: "munmap", mm: 1, addr, len });
const reclaim: Cmd = { op: "reclaim", pages: 1 };

for (const d of [m614, m615]) {
  describe(d.name, () => {
    it("a fault whose 4-page PMD range leaves the vma maps an order-1 folio by PTEs", () => {
      //   vma [1,4): the PMD slot [0,4) is not inside it; [2,4) is, and its PTEs are none.
      const s = session(d, [anon(1, 3), write(1, 3, 7)]);
      const f = folioAt(s, 1, 3) as Folio;
      expect(f.order).toBe(1);
      expect(folioAt(s, 1, 2)).toBe(f);
      expect(layer(s).pmdOf(s.kernel.mms.get(1) as never, 3)).toBeUndefined();
      expect([f.largeMapcount, f.entireMapcount]).toEqual([2, 0]);
      expect(f.anonExclusive).toEqual([true, true]);
      if (d === m614) expect(f.pageMapcount).toEqual([1, 1]);
      else expect([f.mmId[0], f.mmIdMapcount[0], f.shared]).toEqual([1, 2, false]);
      expect(layer(s).stats.mthpFolios).toBe(1);
      // [0,2) leaves the vma at 0: the fault at 1 falls back to order 0.
      const t = session(d, [anon(1, 3), write(1, 1, 7)]);
      expect(folioAt(t, 1, 1)).toBeUndefined();
    });

    it("a PMD-suitable range still gets its PMD folio; an order-1 range with a PTE falls back to one page", () => {
      expect(layer(session(d, [anon(4, 4), write(1, 5, 1)])).stats.mthpFolios).toBe(0);
      // [1,3) unmapped at 1 then 2 rewritten: [2,4)'s order-1 range holds 3's PTE → order 0.
      const s = session(d, [anon(1, 3), write(1, 3, 7), munmap(2, 1), anon(2, 1), write(1, 2, 5)]);
      expect(folioAt(s, 1, 2)).toBeUndefined();
      expect(folioAt(s, 1, 3)?.order).toBe(1);
    });

    it("partial munmap queues it for deferred split; the shrinker splits it; fork and COW", () => {
      const s = session(d, [anon(1, 3), write(1, 3, 7), munmap(3, 1)]);
      const f = folioAt(s, 1, 2) as Folio;
      expect(f.onDeferredList).toBe(true);
      session(d, [anon(1, 3), write(1, 3, 7), munmap(3, 1), reclaim]);
      const t = session(d, [anon(1, 3), write(1, 3, 7), munmap(3, 1), reclaim]);
      expect(folioAt(t, 1, 2)).toBeUndefined(); // split into order-0 pages
      expect(layer(t).stats.foliosSplit).toBe(1);
      // Fork shares it (no page exclusive any more), the child's write copies its page.
      const u = session(d, [anon(1, 3), write(1, 3, 7), fork(1, 2), write(2, 3, 9)]);
      const g = folioAt(u, 1, 3) as Folio;
      expect(g.anonExclusive).toEqual([false, false]);
      expect(folioAt(u, 2, 3)).toBeUndefined();
      expect(u.kernel.peek(u.kernel.mms.get(1) as never, 3)).toBe(7);
      // The child gone, the parent's write: 6.15 reuses (1da190f4d0a6), 6.14 copies.
      const v = session(d, [anon(1, 3), write(1, 3, 7), fork(1, 2), exit(2), write(1, 3, 9)]);
      expect(folioAt(v, 1, 3) === g || folioAt(v, 1, 3)?.order === 1).toBe(d === m615);
    });

    it("the checks cover mTHP folios: a lost deferred-split entry (I14), a wrong mapcount (I12), a stale exclusive bit (I13)", () => {
      const a = session(d, [anon(1, 3), write(1, 3, 7), munmap(3, 1)]);
      (folioAt(a, 1, 2) as Folio).onDeferredList = false;
      expect(() => layer(a).check()).toThrow(/not on the deferred split queue/);
      const b = session(d, [anon(1, 3), write(1, 3, 7)]);
      (folioAt(b, 1, 2) as Folio).largeMapcount++;
      expect(() => layer(b).check()).toThrow(/folio mapcount 3/);
      const c = session(d, [anon(1, 3), write(1, 3, 7), fork(1, 2)]);
      (folioAt(c, 1, 2) as Folio).anonExclusive[0] = true;
      expect(() => layer(c).check()).toThrow(/PageAnonExclusive while mm1, mm2/);
    });
  });
}

describe("random runs make mTHP folios and check them", () => {
  it("anon-vma-chain+folio-6.15-mthp and -6.14-mthp, 200 random runs at seed 1: clean, mTHP folios allocated, split, queued", () => {
    for (const d of [m614, m615]) {
      let mthp = 0;
      let queued = 0;
      for (const plan of fc.sample(planArbitrary({ maxCommands: 60, swarm: true }), { seed: 1, numRuns: 200 })) {
        const s = new Session(d, { checkEvery: 1 });
        const resolver = new Resolver(s.world, plan.weights);
        for (const choice of plan.choices) {
          const r = s.apply(resolver.resolve(s.model, choice));
          expect(r.violation?.message).toBeUndefined();
        }
        mthp += layer(s).stats.mthpFolios;
        queued += layer(s).stats.deferredQueued;
      }
      expect(mthp).toBeGreaterThan(20);
      expect(queued).toBeGreaterThan(20);
    }
  }, 60_000);
});
