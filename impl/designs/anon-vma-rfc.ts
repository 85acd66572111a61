/*
 * anon-vma-rfc — Andrea Arcangeli's anon_vma RFC of 10 March 2004 (seed 004), with objrmap
 * for file pages (Dave McCracken, as merged in 2.6.7). A faithful simulation of a design that
 * does not work: its PageDirect pages hold a raw vma pointer, and split, merge and mremap
 * replace vma structs under them. Andrea, two days later (lkml, "Re: anon_vma RFC2",
 * 12 March 2004): "you're right about vma_split, the way I implemented it is wrong,
 * basically the as.vma/PageDirect idea is falling apart with vma_split". Hugh's rmap 39 and
 * 2.6.7 dropped PageDirect (impl/designs/anon-vma.ts). The property must find and shrink
 * this (primer D1); the shrunk counterexample is kept in anon-vma-rfc.test.ts.
 *
 * Structures (field = the equation it satisfies):
 *   page.mapping    Andrea's page->as union: the File of a file page; for an anon page either
 *                   its vma (PageDirect: an anon page never forked) or an anon_vma (the page
 *                   was mapped by a vma when that vma was forked).
 *   page.rmap       PageDirect: true while page.mapping is a vma (the PG_direct bit).
 *   page.index      linear_page_index(vma, addr) of every PTE mapping it (I7); anon vm_pgoff
 *                   is kept across mremap (hasAnonObject is always true: no re-basing).
 *   anon_vma        {lock, head}: head = every vma V with V.anonVma === this (I8). Created only
 *                   at fork, for every private vma forked without one; the child joins it.
 *   vma.anonVma     null until the vma (or the vma it was split or forked from) is forked.
 *
 * How the walk finds the PTEs: a direct page → its one vma → vma_address → pfn check; an
 * anon_vma page → every vma on head → vma_address → pfn check; a file page →
 * file.iMmap.query(index, index) → vma_address → pfn check.
 *
 * Costs (as anon-vma.ts; SMP spinlock_t 4 bytes):
 *   anon_vma            lock + list_head = 12 bytes ILP32 / 24 LP64, at fork only
 *                       (objectsAllocatedAtFork): seed 004's "12 bytes per anonymous vma at
 *                       fork" against pte_chain's 8 bytes per PTE.
 *   vma anon_vma fields anon_vma_node (list_head) + anon_vma pointer = 12 / 24 per vma.
 *   Fault: nothing allocated, ever ("no allocation in the fast paths"): a new anon page is
 *   direct. Fork: per private vma one anon_vma (if it had none) and two list_adds; per
 *   direct page copied, a switch to the anon_vma. Walk: one vma for a direct page, the whole
 *   family for a forked one.
 * Trade-offs: cheaper faults than 2.6.7 (which allocates at a vma's first fault), but the vma
 * pointer in the page is a reference the vma code does not know about.
 *
 * Invariants checked by check() (in the RFC's own form):
 *   I4  the vma of a direct page, the anon_vma of an anon_vma page (mapped or swap-cached)
 *       and every live vma's anon_vma are not freed;
 *   I6  for every PTE (V, addr) mapping an anon page X: X.mapping === V (direct) or
 *       X.mapping === V.anonVma (forked);
 *   I7  X.index === linear_page_index(V, addr);
 *   I8  each anon_vma's head is exactly the set of vmas whose anonVma it is (the GC rule:
 *       "for a page to point to an anon_vma there must be a vma still queued in it").
 * The flaw shows first as I1 (split moved the PTE into a struct the page does not name) or
 * I4 (a merge or munmap freed the struct the page names); the walk checker runs before
 * check(), so a walk that dereferences the freed vma reports the use-after-free itself.
 *
 * Simplified / chosen: what the RFC did on split, merge and mremap is taken from the thread:
 * the new piece joins the anon_vma if there is one; direct pages are not touched (that is the
 * flaw). Merges and the anon_vma compatibility test are as in 2.6.7 (equal, or one none;
 * the survivor adopts the other's anon_vma). A swap-in that is a page's first mapping makes it
 * direct if the vma was never forked, otherwise puts it on the vma's anon_vma. No locking;
 * i_mmap is a parameter (makeAnonVmaRfc), the list by default.
 *
 * Mutants: none. The design itself is the flawed one, and the property finds the flaw within
 * a few runs, so a planted bug (a direct page not switched at fork, say) would only ever be
 * "caught" through the PageDirect flaw and would prove nothing.
 */
import { assert, freedAt, isFreed } from "../assert.js";
import { type AnonAdd, type DesignInfo, type RmapDesign, setVmaRange } from "../design.js";
import type { Kernel } from "../kernel.js";
import { findVma } from "../mmap.js";
import { Slab } from "../slab.js";
import { type GraphBuilder, anonVmaHeads, pageNode } from "../snapshot.js";
import { IMmapList } from "../structures/immap-list.js";
import { type File, type IMmap, PG_swapcache, type Page, VM_SHARED, type Vma, linearPageIndex, vmaAddress } from "../types.js";

/** kernel (RFC): struct anon_vma. */
export interface AnonVma {
  readonly id: number;
  /** The vmas whose anon_vma this is, newest first (list_add). */
  readonly head: Vma[];
}

/** The i_mmap structure a variant uses; `onVisit` counts each vma examined. */
export type IMmapFactory = (onVisit: () => void) => IMmap;

const sizes = {
  anon_vma: { ilp32: 12, lp64: 24 },
  "vma anon_vma fields": { ilp32: 12, lp64: 24 },
} as const;

/** kernel (RFC): PageDirect(): page.mapping is a vma, not an anon_vma. */
const pageDirect = (page: Page): boolean => page.rmap === true;

const avName = (av: AnonVma): string => (isFreed(av) ? "a freed anon_vma" : `anon_vma #${av.id}`);
/** A vma pointer held by a page, which may be freed: never touch it to print it. */
const vmaName = (vma: Vma): string => (isFreed(vma) ? `a vma freed at ${freedAt(vma)}` : String(vma));

class AnonVmaRfcDesign implements RmapDesign {
  readonly slab = new Slab(sizes);
  private readonly live = new Set<AnonVma>();
  private nextId = 1;

  constructor(
    private readonly k: Kernel,
    private readonly iMmapFactory: IMmapFactory,
  ) {}

  createIMmap(): IMmap {
    return this.iMmapFactory(() => this.k.counters.vmasVisited++);
  }

  // --- anon_vma lifecycle ---------------------------------------------------------------

  private anonVmaAlloc(): AnonVma {
    const av: AnonVma = this.slab.alloc("anon_vma", { id: this.nextId++, head: [] });
    this.live.add(av);
    this.k.counters.objectsAllocatedAtFork++;
    return av;
  }

  private anonVmaLink(vma: Vma, av: AnonVma): void {
    assert(!av.head.includes(vma), "I8", () => `${vma} queued twice on ${avName(av)}`, vma, av);
    vma.anonVma = av;
    av.head.unshift(vma);
  }

  /** The last vma out frees the anon_vma (no reference count: the list is the count). */
  private anonVmaUnlink(vma: Vma, where: string): void {
    const av = vma.anonVma as AnonVma | null;
    if (av === null) return;
    const i = av.head.indexOf(vma);
    assert(i >= 0, "I8", () => `${vma} unlinked from ${avName(av)} but not on its list`, vma, av);
    av.head.splice(i, 1);
    if (av.head.length === 0) {
      this.live.delete(av);
      this.slab.free("anon_vma", av, where);
    }
  }

  // --- vma hooks ------------------------------------------------------------------------

  mmInit(): void {}
  mmFork(): void {}
  mmExit(): void {}

  /** A split piece or an mremap copy joins its anon_vma, if the original had one. */
  vmaLink(vma: Vma): void {
    vma.rmap = this.slab.charge("vma anon_vma fields", { vma: vma.oid });
    const av = vma.anonVma as AnonVma | null;
    if (av !== null) this.anonVmaLink(vma, av);
  }

  vmaUnlink(vma: Vma, where: string): void {
    this.anonVmaUnlink(vma, where);
    this.slab.free("vma anon_vma fields", vma.rmap as object, where);
  }

  vmaAdjust(vma: Vma, start: number, end: number, pgoff: number): void {
    setVmaRange(vma, start, end, pgoff);
  }

  /** The RFC's split: the new struct shares the anon_vma; direct pages keep the old struct. */
  vmaSplit(vma: Vma, nw: Vma): void {
    assert(nw.anonVma === vma.anonVma, "KERNEL", () => `split: ${nw} does not share ${vma}'s anon_vma`);
  }

  /** The survivor adopts gone's anon_vma; direct pages keep pointing at gone. */
  vmaMerge(keep: Vma, gone: Vma): void {
    if (keep.anonVma === null && gone.anonVma !== null) this.anonVmaLink(keep, gone.anonVma as AnonVma);
  }

  /**
   * The only place an anon_vma is born: a private vma forked without one gets one, the parent
   * first on its list, then the child. (Shared vmas never hold anonymous pages.)
   */
  vmaFork(parent: Vma, child: Vma): void {
    // The allocation first: if it fails (ENOMEM) the child vma has nothing to undo.
    if (!(parent.vmFlags & VM_SHARED) && parent.anonVma === null) {
      this.anonVmaLink(parent, this.anonVmaAlloc());
      this.k.counters.forkRmapOps++;
    }
    child.rmap = this.slab.charge("vma anon_vma fields", { vma: child.oid });
    if (parent.vmFlags & VM_SHARED) return;
    this.anonVmaLink(child, parent.anonVma as AnonVma);
    this.k.counters.forkRmapOps++;
  }

  vmaCopy(src: Vma, dst: Vma): void {
    assert(dst.anonVma === src.anonVma, "KERNEL", () => `copy_vma: ${dst} does not carry ${src}'s anon_vma`);
  }

  /** Equal, or one of them has none (kernel: is_mergeable_anon_vma of 2.6.7). */
  anonMergeable(a: Vma, b: Vma): boolean {
    if (a.anonVma === b.anonVma) return true;
    return a.anonVma === null || b.anonVma === null;
  }

  /** The RFC keeps an anonymous vma's vm_pgoff across mremap unconditionally. */
  hasAnonObject(): boolean {
    return true;
  }

  /** Nothing: "no allocation ever in the fast paths". */
  anonPrepare(): void {}

  // --- page hooks -----------------------------------------------------------------------

  private setDirect(page: Page, vma: Vma): void {
    page.mapping = vma;
    page.rmap = true;
  }

  private setAnonVma(page: Page, av: AnonVma): void {
    page.mapping = av;
    page.rmap = false;
  }

  /** A new page is direct; a swap-in that is the first mapping uses the vma's anon_vma if forked. */
  pageAddAnon(page: Page, vma: Vma, addr: number, how: AnonAdd): void {
    if (page.mapcount > 0) return; // a later mapping of a swap-cache page: the first one decided
    page.index = linearPageIndex(vma, addr);
    const av = vma.anonVma as AnonVma | null;
    if (how === "new" || av === null) this.setDirect(page, vma);
    else this.setAnonVma(page, av);
  }

  /** copy_one_pte(): a direct page being shared switches to the (new) anon_vma, for good. */
  pageDupAtFork(page: Page, parentVma: Vma): void {
    if (!page.anon || !pageDirect(page)) return;
    const av = parentVma.anonVma as AnonVma | null;
    assert(av !== null, "KERNEL", () => `fork: ${parentVma} copied without an anon_vma`, parentVma);
    this.setAnonVma(page, av);
  }

  pageAddFile(): void {}
  pageRemove(): void {}
  pageReuse(): void {}
  /** move_ptes(): the RFC does nothing, so a direct page keeps naming the source vma. */
  pageMove(): "moved" {
    return "moved";
  }
  swapinMustCopy(): boolean {
    return false;
  }
  pageMigrate(oldPage: Page, newPage: Page): void {
    newPage.rmap = oldPage.rmap;
  }
  pageFree(): void {}

  // --- the walk -------------------------------------------------------------------------

  walk(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    if (page.mapcount === 0) return;
    let mapcount = page.mapcount;
    const one = (vma: Vma): boolean => {
      const addr = vmaAddress(page, vma); // a freed vma throws here: the use-after-free
      if (addr === undefined || !this.k.ptePointsTo(vma.mm, addr, page.pfn)) return true;
      if (!visit(vma, addr)) return false;
      return --mapcount > 0;
    };
    if (!page.anon) {
      (page.mapping as File).iMmap.query(page.index, page.index, one);
      return;
    }
    if (pageDirect(page)) {
      this.k.counters.vmasVisited++;
      one(page.mapping as Vma);
      return;
    }
    for (const vma of [...(page.mapping as AnonVma).head]) {
      this.k.counters.vmasVisited++;
      if (!one(vma)) return;
    }
  }

  /**
   * Each anon_vma (made at fork) with its head list; each anon page's mapping: its one vma
   * while PageDirect, else its anon_vma.
   */
  snapshot(g: GraphBuilder): void {
    const avNode = anonVmaHeads(g, this.live, this.k);
    for (const page of this.k.frames) {
      if (!page?.anon || page.mapping === null) continue;
      const target = pageDirect(page) ? g.vma(page.mapping as Vma) : avNode(page.mapping as AnonVma);
      g.edge(pageNode(page), target, "mapping", pageDirect(page) ? "PageDirect" : undefined);
    }
  }

  explain(page: Page, vma: Vma, addr: number): string {
    if (!page.anon) return `${vma} is not found by file${(page.mapping as File).id}'s i_mmap query at ${page.index}`;
    if (pageDirect(page)) {
      const own = page.mapping as Vma;
      if (own !== vma) return `${page} is PageDirect to ${vmaName(own)}, not to ${vma}, which maps it at ${addr}`;
    } else {
      const av = page.mapping as AnonVma;
      if (isFreed(av)) return `${page} points to a freed anon_vma`;
      if (!av.head.includes(vma)) return `${vma} is not on ${avName(av)}'s list`;
    }
    return `vma_address(index ${page.index}) in ${vma} is ${vmaAddress(page, vma) ?? "outside it"}, not ${addr}`;
  }

  // --- checks ---------------------------------------------------------------------------

  check(): void {
    let linked = 0;
    for (const mm of this.k.mms.values()) {
      for (const vma of mm.vmas) {
        const av = vma.anonVma as AnonVma | null;
        if (av === null) continue;
        linked++;
        assert(!isFreed(av), "I4", () => `${vma} points to a freed anon_vma`, vma);
        assert(av.head.includes(vma), "I8", () => `${vma} points to ${avName(av)} but is not on its list`, vma, av);
      }
    }
    let queued = 0;
    for (const av of this.live) {
      assert(av.head.length > 0, "I8", () => `${avName(av)} is live with an empty list`, av);
      for (const vma of av.head) {
        assert(!isFreed(vma), "I4", () => `${avName(av)} lists a freed vma`, av);
        assert(vma.anonVma === av, "I8", () => `${vma} is on ${avName(av)}'s list but points elsewhere`, vma, av);
      }
      queued += av.head.length;
    }
    assert(queued === linked, "I8", () => `${queued} vmas queued on anon_vmas, ${linked} live vmas have one`);
    this.checkPages();
  }

  private checkPages(): void {
    for (const page of this.k.pages()) {
      if (!page.anon || (page.mapcount === 0 && (page.flags & PG_swapcache) === 0)) continue;
      const target = page.mapping as object;
      assert(!isFreed(target), "I4", () => `${page} points to ${pageDirect(page) ? vmaName(target as Vma) : "a freed anon_vma"}`, page);
    }
    for (const mm of this.k.mms.values()) {
      for (const [addr, pte] of mm.pt) {
        if (pte.kind !== "present") continue;
        const page = this.k.pageAt(pte.pfn);
        const vma = findVma(mm, addr);
        if (page === null || vma === undefined) continue;
        assert(page.index === linearPageIndex(vma, addr), "I7", () => `${page} index ${page.index} ≠ linear_page_index ${linearPageIndex(vma, addr)} at ${vma}:${addr}`, page, vma);
        if (!page.anon) continue;
        const want = pageDirect(page) ? vma : vma.anonVma;
        if (page.mapping !== want) assert(false, "I6", () => `${page} mapped by ${vma} at ${addr}: ${this.explain(page, vma, addr)}`, page, vma);
      }
    }
  }
}

/** Build the RFC design with a given i_mmap structure. */
export function makeAnonVmaRfc(name: string, createIMmap: IMmapFactory = (onVisit) => new IMmapList(onVisit)): DesignInfo {
  return {
    name,
    era: "2004-03 RFC (seed 004)",
    summary: "anon_vma created at fork; an unforked anon page points directly to its vma (PageDirect): broken by vma split/merge",
    mutants: [],
    create: (k) => new AnonVmaRfcDesign(k, createIMmap),
  };
}

export const anonVmaRfc = makeAnonVmaRfc("anon-vma-rfc");
