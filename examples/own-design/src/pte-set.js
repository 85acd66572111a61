// @ts-check
/*
 * pte-set — an rmap design written outside rmapcheck, as a user would in their own repository.
 *
 * What it models: a per-page set of the PTEs that map it, like 2.5's pte_chains (Rik van Riel,
 * Dave McCracken) but kept as a hash map per page frame instead of cache-line blocks.
 *
 * How the walk finds the PTEs: the page's set holds (mm, address) pairs; each is checked
 * against the page table (the PTE may have changed) and its vma looked up.
 * Costs: one entry per mapped PTE (12 bytes on i386, 24 on x86_64); fork adds an entry per
 * PTE copied; a walk is O(PTEs of that page).
 * Invariants: (P1) every entry's PTE maps the page it is filed under; (P2) every mapped PTE
 * has exactly one entry (checked by rmapcheck's I1/I2/I3 walks).
 *
 * Two designs come from one factory:
 * - `pte-set`, correct. It declares the mutant "no-move-on-mremap" (mremap moves a PTE and the
 *   entry stays at the old address), for `rmapcheck hunt --mutant pte-set/no-move-on-mremap`.
 * - `pte-set-per-mm`, subtly broken: it files entries under the mm alone, on the reasoning
 *   that a page is mapped at most once per process. A file page mapped twice in one mm (two
 *   mmaps of the same file offset) overwrites its first entry, so the walk misses a PTE (I1).
 */
import { IMmapList, Slab, assert, findVma } from "rmapcheck";

const ENTRY = "pte_set_entry";

/** @typedef {import("rmapcheck").RmapDesign} RmapDesign */
/** @typedef {{ mm: import("rmapcheck").Mm, addr: number }} Entry */

/** @implements {RmapDesign} */
class PteSet {
  /**
   * @param {import("rmapcheck").Kernel} k
   * @param {{ perMm: boolean, mutant?: string }} opts
   */
  constructor(k, opts) {
    this.k = k;
    this.opts = opts;
    this.slab = new Slab({ [ENTRY]: { ilp32: 12, lp64: 24 } });
    /** @type {Map<number, Map<string, Entry>>} page frame number → key → entry */
    this.sets = new Map();
  }

  /**
   * @param {import("rmapcheck").Mm} mm
   * @param {number} addr
   */
  key(mm, addr) {
    return this.opts.perMm ? `${mm.id}` : `${mm.id}:${addr}`;
  }

  /**
   * @param {import("rmapcheck").Page} page
   * @param {import("rmapcheck").Mm} mm
   * @param {number} addr
   */
  add(page, mm, addr) {
    let set = this.sets.get(page.pfn);
    if (!set) {
      set = new Map();
      this.sets.set(page.pfn, set);
    }
    const key = this.key(mm, addr);
    const old = set.get(key);
    if (old) this.slab.free(ENTRY, old, "pte-set add (replaced)");
    set.set(key, this.slab.alloc(ENTRY, { mm, addr }));
  }

  /**
   * @param {import("rmapcheck").Page} page
   * @param {import("rmapcheck").Mm} mm
   * @param {number} addr
   */
  remove(page, mm, addr) {
    const set = this.sets.get(page.pfn);
    const key = this.key(mm, addr);
    const entry = set?.get(key);
    if (!set || !entry) return;
    set.delete(key);
    this.slab.free(ENTRY, entry, "pte-set remove");
    if (set.size === 0) this.sets.delete(page.pfn);
  }

  createIMmap() {
    return new IMmapList(() => this.k.counters.vmasVisited++);
  }

  /**
   * @param {import("rmapcheck").Page} page
   * @param {(vma: import("rmapcheck").Vma, addr: number) => boolean} visit
   */
  walk(page, visit) {
    for (const { mm, addr } of [...(this.sets.get(page.pfn)?.values() ?? [])]) {
      if (!this.k.ptePointsTo(mm, addr, page.pfn)) continue;
      const vma = findVma(mm, addr);
      if (vma && !visit(vma, addr)) return;
    }
  }

  mmInit() {}
  mmFork() {}
  mmExit() {}
  vmaLink() {}
  vmaUnlink() {}
  /**
   * @param {import("rmapcheck").Vma} vma
   * @param {number} start
   * @param {number} end
   * @param {number} pgoff
   */
  vmaAdjust(vma, start, end, pgoff) {
    vma.vmStart = start;
    vma.vmEnd = end;
    vma.vmPgoff = pgoff;
  }
  vmaSplit() {}
  vmaMerge() {}
  vmaFork() {}
  vmaCopy() {}
  anonMergeable() {
    return true;
  }
  hasAnonObject() {
    return false;
  }
  anonPrepare() {}

  /** @type {import("rmapcheck").RmapDesign["pageAddAnon"]} */
  pageAddAnon(page, vma, addr) {
    this.add(page, vma.mm, addr);
  }
  /** @type {import("rmapcheck").RmapDesign["pageAddFile"]} */
  pageAddFile(page, vma, addr) {
    this.add(page, vma.mm, addr);
  }
  /** @type {import("rmapcheck").RmapDesign["pageDupAtFork"]} */
  pageDupAtFork(page, _parentVma, childVma, addr) {
    this.add(page, childVma.mm, addr);
  }
  /** @type {import("rmapcheck").RmapDesign["pageRemove"]} */
  pageRemove(page, vma, addr) {
    this.remove(page, vma.mm, addr);
  }
  pageReuse() {}
  /** @type {import("rmapcheck").RmapDesign["pageMove"]} */
  pageMove(page, oldVma, oldAddr, newVma, newAddr) {
    if (this.opts.mutant === "no-move-on-mremap") return "moved";
    this.remove(page, oldVma.mm, oldAddr);
    this.add(page, newVma.mm, newAddr);
    return "moved";
  }
  swapinMustCopy() {
    return false;
  }
  /** @type {import("rmapcheck").RmapDesign["pageMigrate"]} */
  pageMigrate(oldPage, newPage) {
    const set = this.sets.get(oldPage.pfn);
    if (!set) return;
    this.sets.delete(oldPage.pfn);
    this.sets.set(newPage.pfn, set);
  }
  /** @type {import("rmapcheck").RmapDesign["pageFree"]} */
  pageFree(page) {
    const set = this.sets.get(page.pfn);
    assert(!set || set.size === 0, "I8", () => `pte-set: ${page} freed with ${set?.size} entries`);
  }

  /** P1: every entry's PTE maps the page it is filed under. */
  check() {
    for (const [pfn, set] of this.sets) {
      for (const { mm, addr } of set.values()) {
        const pte = mm.pt.get(addr);
        assert(pte?.kind === "present" && pte.pfn === pfn, "I8", () => `pte-set: entry mm${mm.id}:0x${addr.toString(16)} is filed under pfn ${pfn} but its PTE does not map it`);
      }
    }
  }
}

/** @type {import("rmapcheck").DesignInfo} */
export const pteSet = {
  name: "pte-set",
  era: "example",
  summary: "a per-page set of (mm, address) PTEs (an example design from examples/own-design)",
  mutants: ["no-move-on-mremap"],
  create: (k, mutant) => new PteSet(k, { perMm: false, mutant }),
};

/** @type {import("rmapcheck").DesignInfo} */
export const pteSetPerMm = {
  name: "pte-set-per-mm",
  era: "example",
  summary: "pte-set with one entry per (page, mm): subtly broken when one mm maps a page twice",
  create: (k) => new PteSet(k, { perMm: true }),
};
