/*
 * i_mmap over the two trees, against the list of 2.6.6: adjust keeps I11, the
 * "no-reinsert-on-adjust" mutant (primer D4) is reported as I11, identical ranges share a prio
 * tree node, and the cost the trees were built for: a point query among 1000 small windows onto
 * one file examines O(log n + k) vmas where the list examines all 1000.
 */
import { describe, expect, it } from "vitest";
import { File, type IMmap, Mm, VM_READ, VM_SHARED, Vma } from "../types.js";
import { IMmapList } from "./immap-list.js";
import { IMmapIntervalTree, IMmapPrioTree, type IMmapTreeOptions } from "./immap-trees.js";

const makers: { name: string; make: (onVisit?: () => void, options?: IMmapTreeOptions) => IMmap }[] = [
  { name: "IMmapIntervalTree", make: (onVisit, options) => new IMmapIntervalTree(onVisit, options) },
  { name: "IMmapPrioTree", make: (onVisit, options) => new IMmapPrioTree(onVisit, options) },
];

function queryAll(iMmap: IMmap, first: number, last = first): Vma[] {
  const got: Vma[] = [];
  iMmap.query(first, last, (vma) => {
    got.push(vma);
    return true;
  });
  return got;
}

/** vmas windows[i] = [0x10 * i, +pages) of mm1 at file pgoff 4 * i: disjoint file ranges. */
function windows(count: number, pages: number): { file: File; vmas: Vma[] } {
  const mm = new Mm(1);
  const file = new File(1, 4 * count + pages);
  const vmas = Array.from({ length: count }, (_, i) => new Vma(mm, 0x10 * i, 0x10 * i + pages, 4 * i, VM_READ | VM_SHARED, file));
  return { file, vmas };
}

/** A fixed permutation (LCG; no Math.random). */
function shuffled<T>(xs: T[]): T[] {
  const out = [...xs];
  let x = 7;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe.each(makers)("$name", ({ name, make }) => {
  //   file1 pgoff  0    4    8    12
  //   mm1          [AA] [BB] [CC] [DD]       A..D: 2-page windows
  //   adjust(C → pgoff 1, 3 pages): C now covers pgoff 1..3, beside A and B
  it(`${name}: adjust removes, lets the range change, and re-inserts (I11 holds)`, () => {
    const iMmap = make();
    const { vmas } = windows(4, 2);
    for (const vma of vmas) iMmap.insert(vma);
    const c = vmas[2] as Vma;
    iMmap.adjust(c, () => {
      c.vmPgoff = 1;
      c.vmEnd = c.vmStart + 3;
    });
    iMmap.check();
    expect(queryAll(iMmap, 2)).toEqual([c]);
    expect(queryAll(iMmap, 8)).toEqual([]);
    expect(new Set(queryAll(iMmap, 1, 4))).toEqual(new Set([vmas[0], c, vmas[1]]));
    for (const vma of vmas) iMmap.remove(vma);
    expect(iMmap.size()).toBe(0);
    iMmap.check();
  });

  it(`${name}: mutant no-reinsert-on-adjust is reported as I11 by check()`, () => {
    const iMmap = make(undefined, { mutant: "no-reinsert-on-adjust" });
    const { vmas } = windows(4, 2);
    for (const vma of vmas) iMmap.insert(vma);
    const c = vmas[2] as Vma;
    iMmap.adjust(c, () => {
      c.vmPgoff = 1;
    });
    expect(() => iMmap.check()).toThrowError(expect.objectContaining({ invariant: "I11" }));
  });

  it(`${name}: node size is one vma->shared union: 16 bytes ILP32, 32 LP64`, () => {
    expect(make().nodeSize).toEqual({ ilp32: 16, lp64: 32 });
  });

  // 1000 vmas, each 2 pages at pgoff 4i: Ingo Molnar's "many small windows onto one file".
  it(`${name}: a point query among 1000 disjoint windows examines O(log n + k) vmas, the list 1000`, () => {
    for (const order of ["sorted", "shuffled"]) {
      let visits = 0;
      const iMmap = make(() => visits++);
      const list = new IMmapList(() => visits++);
      const { vmas } = windows(1000, 2);
      for (const vma of order === "sorted" ? vmas : shuffled(vmas)) {
        iMmap.insert(vma);
        list.insert(vma);
      }
      iMmap.check();
      let worst = 0;
      for (let i = 0; i < 1000; i++) {
        visits = 0;
        const got = queryAll(iMmap, 4 * i + 1);
        worst = Math.max(worst, visits);
        if (got.length !== 1 || got[0] !== vmas[i]) expect(got).toEqual([vmas[i]]);
      }
      expect(worst, `${name} ${order}: worst point query`).toBeLessThan(60);
      visits = 0;
      expect(queryAll(list, 4 * 500 + 1)).toEqual([vmas[500]]);
      expect(visits).toBe(1000);
    }
  });
});

describe("IMmapPrioTree vm_set", () => {
  //   file1 pgoff 0..3
  //   mm1..mm5    [AAAA]   the same window in 5 forked mms: one prio tree node, a vm_set of 4
  it("IMmapPrioTree: vmas with identical ranges share one node", () => {
    const file = new File(1, 4);
    const vmas = [1, 2, 3, 4, 5].map((id) => new Vma(new Mm(id), 0x10, 0x14, 0, VM_READ, file));
    const iMmap = new IMmapPrioTree();
    for (const vma of vmas) iMmap.insert(vma);
    expect(iMmap.size()).toBe(5);
    expect(iMmap.nodeCount()).toBe(1);
    expect(new Set(queryAll(iMmap, 2))).toEqual(new Set(vmas));
    const a = vmas[0] as Vma;
    iMmap.adjust(a, () => {
      a.vmEnd = 0x13; // one mm shrinks its window: it leaves the shared node
    });
    expect(iMmap.nodeCount()).toBe(2);
    expect(new Set(queryAll(iMmap, 3))).toEqual(new Set(vmas.slice(1)));
    iMmap.check();
  });
});
