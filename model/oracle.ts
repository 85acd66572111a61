/*
 * The oracle: Ref(X), every PTE that maps physical page X, by brute force over the page
 * tables (primer §1). It reads page tables through the small view below, so the model never
 * imports the simulated kernel; impl's Mm satisfies it structurally.
 */

export interface PteView {
  readonly kind: "present" | "swap";
  readonly pfn?: number;
}

export interface MmView {
  readonly id: number;
  readonly pt: ReadonlyMap<number, PteView>;
}

/** A mapping of a page: (mm, virtual page). */
export interface Ref {
  readonly mm: number;
  readonly addr: number;
}

/** Ref(X) for every frame at once: frame → the (mm, addr) pairs whose present PTE maps it. */
export function refAll(mms: Iterable<MmView>): Map<number, Ref[]> {
  const refs = new Map<number, Ref[]>();
  for (const mm of mms) {
    for (const [addr, pte] of mm.pt) {
      if (pte.kind !== "present" || pte.pfn === undefined) continue;
      const list = refs.get(pte.pfn);
      if (list) list.push({ mm: mm.id, addr });
      else refs.set(pte.pfn, [{ mm: mm.id, addr }]);
    }
  }
  return refs;
}

export const refKey = (r: Ref): string => `mm${r.mm}:0x${r.addr.toString(16)}`;
