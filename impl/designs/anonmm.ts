/*
 * anonmm — Hugh Dickins's object-based rmap for anonymous pages: "rmap 10 add anonmm rmap"
 * and "rmap 11 mremap moves" (anobjrmap 5/6, LKML 18 March 2004; in 2.6.5-mm and 2.6.6-mm,
 * April 2004; replaced by Andrea Arcangeli's anon_vma before 2.6.7, never in mainline).
 *
 * What it models: the bet that an anonymous page can only appear at one virtual address, in
 * the group of mms descended by fork from one exec. So there is one `struct anonmm` per mm
 * and nothing per vma or per PTE:
 *
 *   struct anonmm {            ILP32 / LP64
 *     count;   // atomic_t: 1 for the mm + 1 per page whose mapping is this anonmm
 *              //   (+ the head's own 1 + 1 per other anonmm of the family, on the head)
 *     lock;    // spinlock_t: the head's lock guards the family list; the others' are unused
 *     mm;      // the mm_struct, NULL once it has exited (the anonmm lives on for its pages)
 *     head;    // the family's first anonmm (the exec'd mm's); head.head === head
 *     list;    // list_head: the family ring through the head
 *   }          // 4+4+4+4+8 = 24 bytes / 4+4+8+8+16 = 40 bytes
 *
 * An anon page has mapping = the anonmm of the mm that first mapped it (kernel:
 * page_add_anon_rmap(), only when mapcount was 0) and index = its *virtual address* (I7 says
 * index == addr, not linear_page_index). When the last PTE goes, clear_page_anon() drops the
 * mapping and its reference, so an unmapped swap-cache page is homeless and re-homed by the
 * next swap-in. File pages are objrmap (Dave McCracken's; anonmm was built on it): mapping =
 * the file, index = pgoff, found through i_mmap (a list in 2.6.5).
 *
 * How the walk finds the PTEs (kernel: page_referenced_anon(), try_to_unmap_anon()): look up
 * page.index in the page's own mm first ("it's the most likely"), then the same address in
 * every other mm round the family ring, skipping exited mms and mms with no rss; check the
 * pfn; stop when as many PTEs as page.mapcount have been found. File pages: every vma on
 * i_mmap, vma_address, range check, pfn check.
 *
 * Exit (kernel: exit_rmap()): anonmm.mm becomes NULL and the mm's reference is dropped; the
 * anonmm is freed when its count reaches 0 (pages still point to it until then), and the head
 * when only its own reference is left. Re-homing: where Hugh did it (2.6.6-mm's
 * page_referenced_anon), lazily in the walk: a walk that finds every PTE of a page whose mm
 * has exited moves the page to the first live anonmm that maps it, so the extinct anonmm can
 * be freed "in due course" rather than only by the attrition of unmapping. Here every complete
 * walk does it (including the checker's walks: the kernel may run page_referenced at any time,
 * so the design must be right whenever it happens).
 *
 * mremap, the Achilles heel (rmap 11): a moved page no longer sits at the same address in
 * every sharer. A page with mapcount 1 just gets its new address as index (kernel:
 * mremap_move_anon_rmap()); a shared one is COW-broken first: the mover gets a private copy
 * ("mremap moved N cows"). A swap entry moves with no page to update, so when a swap-cache
 * page is faulted in at an address other than the one rmap has noted for it (it is mapped
 * elsewhere at page.index), that fault takes a copy too (kernel: do_swap_page() →
 * mremap_moved_anon_page()).
 *
 * Costs: 24/40 bytes per mm, allocated at exec and fork (objectsAllocatedAtFork 1 per fork);
 * nothing at fault, nothing per PTE at fork (fork only bumps mapcounts). A walk visits up to
 * every mm of the family, including mms that never mapped the page: O(family) PTE lookups.
 * mremap of shared anon pages costs a page copy each (forcedCopies).
 * Trade-offs: against pte-chains, no memory per mapping and a cheap fork; against anon_vma
 * (2.6.7), 24 bytes less per vma (seed 003) but a walk over all mms of the family instead of
 * the vmas that may map the page, and early COW copies after mremap.
 *
 * Invariants (check()):
 *   I4  every mapped anon page's anonmm is live (not freed);
 *   I6  every mm mapping an anon page X is in the family of X's anonmm (same head);
 *   I7  X.index === addr for every present PTE (mm, addr) mapping anon page X;
 *   I8  every anonmm's count equals its recomputation (mm + pages + head's own and members');
 *       an unmapped anon page has no mapping (clear_page_anon); each live mm owns a live
 *       anonmm whose mm is it; every family member is on its head's list.
 *
 * Simplified: one exec, so mm1's family is the only one. The locks (anonhd->lock,
 * PG_maplock, trylocks of page_table_lock and the SWAP_AGAIN they cause) are not modelled.
 * The kernel here keeps the modern anon vm_pgoff rules for vma merging (2.6.5 merged anon vmas
 * regardless of pgoff). anonmm ignores vm_pgoff; hasAnonObject() is true (every mm has its
 * anonmm), so a moved anon vma keeps its pgoff like a faulted one in Linux.
 *
 * Mutants:
 *   "no-cow-break-on-mremap": mremap moves a shared anon page without a private copy (primer
 *      D2): the sharers still look at the old address → I1.
 *   "free-anonmm-at-exit": exit_rmap drops the pages' references with the mm's, freeing an
 *      anonmm that pages still point to → I4 at the next walk.
 *   "swapin-no-copy": a swap-cache page faulted in at an address other than its index is
 *      mapped, not copied (forgets rmap 11's rule for moved swap entries) → I1. It needs fork,
 *      swap-out, a swap-in, mremap of the other swap entry and a fault there: random search
 *      finds it about once in 10,000–20,000 runs; its test replays a known 7-command sequence.
 */
import { type InvariantId, assert, freedAt, isFreed } from "../assert.js";
import type { DesignInfo, RmapDesign } from "../design.js";
import { setVmaRange } from "../design.js";
import type { Kernel } from "../kernel.js";
import { findVma } from "../mmap.js";
import { Slab } from "../slab.js";
import { type GraphBuilder, mmNode, pageNode } from "../snapshot.js";
import { IMmapList } from "../structures/immap-list.js";
import { File, type IMmap, type Mm, type Page, type Vma, hexa, vmaAddress } from "../types.js";

/** struct anonmm (mm/rmap.c, 2.6.5-mm). */
class Anonmm {
  /** The family's first anonmm; head.head === head. */
  readonly head: Anonmm;
  /** On the head only: the other anonmms of the family, in list_add_tail order. */
  readonly members: Anonmm[] = [];
  constructor(
    /** Numbered per kernel (a replay names the same anonmm the same way every time). */
    readonly id: number,
    /** NULL once the mm has exited. */
    public mm: Mm | null,
    head: Anonmm | null,
    /** mm's reference + one per page pointing here (+ the head's own + one per member). */
    public count: number,
  ) {
    this.head = head ?? this;
  }
}

/** assert() with the message built only on failure: walks and check() run on every step. */
function ensure(cond: boolean, invariant: InvariantId, message: () => string, ...objects: unknown[]): asserts cond {
  if (!cond) assert(false, invariant, () => message(), ...objects);
}

const describe = (a: Anonmm): string => `anonmm#${a.id}${a.mm ? ` (mm${a.mm.id})` : " (mm gone)"}`;

class AnonmmDesign implements RmapDesign {
  readonly slab = new Slab({ anonmm: { ilp32: 24, lp64: 40 } });
  /** Every anonmm not yet freed, for check() (the kernel has only the family lists). */
  private readonly live = new Set<Anonmm>();
  private nextId = 1;

  constructor(
    private readonly k: Kernel,
    private readonly mutant?: string,
  ) {}

  createIMmap(): IMmap {
    return new IMmapList(() => this.k.counters.vmasVisited++);
  }

  // --- struct anonmm lifecycle -------------------------------------------------------------

  private alloc(mm: Mm, head: Anonmm | null, count: number): Anonmm {
    const a = this.slab.alloc("anonmm", new Anonmm(this.nextId++, mm, head, count)); // may fail: nothing is linked yet
    this.live.add(a);
    mm.rmap = a;
    return a;
  }

  private anonmmOf(mm: Mm): Anonmm {
    const a = mm.rmap as Anonmm | undefined;
    ensure(a !== undefined, "KERNEL", () => `mm${mm.id} has no anonmm`);
    return a;
  }

  /** kernel: exec_rmap(): a new family; count 2 = the mm's reference and the head's own. */
  mmInit(mm: Mm): void {
    this.alloc(mm, null, 2);
  }

  /** kernel: dup_rmap(): the child joins the parent's family at the tail of the head's list. */
  mmFork(parent: Mm, child: Mm): void {
    const head = this.anonmmOf(parent).head;
    const a = this.alloc(child, head, 1);
    head.count++; // the member's reference on its head
    head.members.push(a);
    this.k.counters.objectsAllocatedAtFork++;
    this.k.counters.forkRmapOps++;
  }

  /** kernel: exit_rmap(): after exit_mmap has zapped every PTE of the mm. */
  mmExit(mm: Mm): void {
    const a = this.anonmmOf(mm);
    const head = a.head;
    mm.rmap = undefined;
    a.mm = null;
    if (this.mutant === "free-anonmm-at-exit" && a !== head) a.count = 1; // forgets its pages
    if (--a.count === 0) this.freeMember(a, `exit_rmap(mm${mm.id})`);
    if (head.count === 1) {
      assert(head.mm === null && head.members.length === 0, "I8", () => `${describe(head)}: count 1 with a live mm or members`);
      this.live.delete(head);
      this.slab.free("anonmm", head, `exit_rmap(mm${mm.id}) (head)`);
    }
  }

  /** kernel: free_anonmm(): a member whose mm has gone and whose last page has gone. */
  private freeMember(a: Anonmm, where: string): void {
    const head = a.head;
    assert(a !== head, "I8", () => `${describe(a)}: the head's count reached 0 (its own reference is gone)`);
    assert(a.mm === null, "I8", () => `${describe(a)}: count reached 0 while its mm lives`);
    head.members.splice(head.members.indexOf(a), 1);
    head.count--;
    this.live.delete(a);
    this.slab.free("anonmm", a, where);
  }

  /** Drop a page's reference (outside exit_rmap). */
  private put(a: Anonmm, where: string): void {
    if (--a.count > 0) return;
    const head = a.head;
    this.freeMember(a, where);
    // Only exit_rmap frees a head, so no other path may leave it with just its own reference:
    // while a family's page can still lose its last PTE, a live mm holds the head (its mm's
    // or its member's reference).
    assert(head.count > 1, "I9", () => `${describe(head)}: left with only its own reference at ${where}`);
  }

  /** kernel: clear_page_anon(): the page's last PTE is gone; it leaves its anonmm. */
  private clearPageAnon(page: Page, where: string): void {
    const a = page.mapping as Anonmm;
    page.mapping = null;
    this.put(a, where);
  }

  // --- vma hooks: anonmm keeps nothing per vma ---------------------------------------------

  vmaLink(): void {}
  vmaUnlink(): void {}
  vmaAdjust(vma: Vma, start: number, end: number, pgoff: number): void {
    setVmaRange(vma, start, end, pgoff);
  }
  vmaSplit(): void {}
  vmaMerge(): void {}
  vmaFork(): void {}
  vmaCopy(): void {}
  anonMergeable(): boolean {
    return true;
  }
  /**
   * Every vma's mm has its anonmm, so a moved anon vma keeps its pgoff, as Linux keeps a
   * faulted one's: re-basing a vma that has pages would let copy_vma merge the destination
   * with the very vma being moved (Linux: VM_BUG_ON_VMA(faulted_in_anon_vma) in copy_vma).
   */
  hasAnonObject(): boolean {
    return true;
  }
  anonPrepare(): void {}

  // --- page hooks ----------------------------------------------------------------------------

  /** kernel: page_add_anon_rmap(): only the first mapping notes the mm and the address. */
  pageAddAnon(page: Page, vma: Vma, addr: number): void {
    const a = this.anonmmOf(vma.mm);
    if (page.mapcount > 0) {
      // A swap-cache page another mm has mapped: rmap has noted its address already (the
      // kernel asked swapinMustCopy first, so it is this one unless a mutant says otherwise).
      const home = page.mapping as Anonmm;
      ensure(home.head === a.head, "I6", () => `${page} of ${describe(home)} swapped in by mm${vma.mm.id} of another family`);
      return;
    }
    ensure(page.mapping === null, "I8", () => `${page}: unmapped but still holds an anonmm (clear_page_anon missed)`);
    page.mapping = a;
    page.index = addr;
    a.count++;
  }

  pageAddFile(): void {}

  /** kernel: copy_one_pte(): the child has the page at the same address; only mapcount moves. */
  pageDupAtFork(): void {}

  /** kernel: page_remove_rmap(). */
  pageRemove(page: Page, vma: Vma, addr: number): void {
    if (!page.anon) return;
    ensure(page.mapcount >= 1, "I3", () => `${page}: remove at (mm${vma.mm.id}, ${hexa(addr)}) with mapcount 0`);
    if (page.mapcount === 1) this.clearPageAnon(page, `page_remove_rmap(mm${vma.mm.id}, ${hexa(addr)})`);
  }

  /** do_wp_page() reuse: the page is already at this address (I7); anonmm has nothing to move. */
  pageReuse(): void {}

  /** kernel: move_one_page() → mremap_move_anon_rmap() (rmap 11). */
  pageMove(page: Page, _oldVma: Vma, _oldAddr: number, _newVma: Vma, newAddr: number): "moved" | "copy" {
    if (!page.anon) return "moved"; // objrmap: the moved vma keeps its pgoff
    if (page.mapcount > 1) {
      if (this.mutant === "no-cow-break-on-mremap") return "moved";
      return "copy"; // early COW: the sharers keep it at page.index, the mover gets a copy
    }
    page.index = newAddr;
    return "moved";
  }

  /** kernel: do_swap_page() → mremap_moved_anon_page() (rmap 11). */
  swapinMustCopy(page: Page, _vma: Vma, addr: number): boolean {
    if (this.mutant === "swapin-no-copy") return false;
    // Unmapped, the page is homeless (clear_page_anon): this fault re-homes it at addr.
    return page.mapcount > 0 && page.index !== addr;
  }

  /** Migration (2.6.16+, here for the harness): the new page takes its own reference. */
  pageMigrate(_oldPage: Page, newPage: Page): void {
    if (newPage.anon && newPage.mapping !== null) (newPage.mapping as Anonmm).count++;
  }

  /** The old page of a migration is freed with its mapping set: drop that reference. */
  pageFree(page: Page): void {
    if (page.anon && page.mapping !== null) this.clearPageAnon(page, "__free_pages");
  }

  // --- the walk --------------------------------------------------------------------------------

  walk(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    if (page.mapcount === 0) return;
    if (page.anon) this.walkAnon(page, visit);
    else this.walkFile(page, visit);
  }

  /** The family ring as the walk visits it: `a` first, then round the list from a. */
  private ring(a: Anonmm): Anonmm[] {
    const all = [a.head, ...a.head.members];
    const at = all.indexOf(a);
    return [...all.slice(at), ...all.slice(0, at)];
  }

  /** kernel: page_referenced_anon() / try_to_unmap_anon(). */
  private walkAnon(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    const home = page.mapping as Anonmm | null;
    if (home === null) return;
    const addr = page.index;
    let remaining = page.mapcount;
    let newHome: Anonmm | null = home.mm !== null ? home : null;
    for (const a of this.ring(home)) {
      const mm = a.mm;
      if (mm === null || mm.pt.size === 0) continue; // kernel: !anonmm->mm || !anonmm->mm->rss
      this.k.counters.mmsVisited++;
      if (!this.k.ptePointsTo(mm, addr, page.pfn)) continue;
      const vma = findVma(mm, addr);
      ensure(vma !== undefined, "KERNEL", () => `PTE (mm${mm.id}, ${hexa(addr)}) outside every vma`);
      newHome ??= a;
      remaining--;
      if (!visit(vma, addr)) return;
      if (remaining === 0) break;
    }
    // "Migrate pages away from an extinct mm, so that its anonmm can be freed in due course."
    if (remaining === 0 && newHome !== null && newHome !== home) {
      page.mapping = newHome;
      newHome.count++;
      this.put(home, `page_referenced_anon (re-home ${page} to ${describe(newHome)})`);
    }
  }

  /** objrmap: kernel: page_referenced_file() / try_to_unmap_file() over i_mmap. */
  private walkFile(page: Page, visit: (vma: Vma, addr: number) => boolean): void {
    const file = page.mapping;
    ensure(file instanceof File, "KERNEL", () => `${page}: file page without a file mapping`);
    let remaining = page.mapcount;
    file.iMmap.query(page.index, page.index, (vma) => {
      const addr = vmaAddress(page, vma);
      if (addr === undefined || !this.k.ptePointsTo(vma.mm, addr, page.pfn)) return true;
      remaining--;
      return visit(vma, addr) && remaining > 0;
    });
  }

  // --- checks ----------------------------------------------------------------------------------

  check(): void {
    // I8: recompute every count from the mms, the family lists and the pages.
    const expected = new Map<Anonmm, number>();
    for (const a of this.live) {
      if (a.head === a) expected.set(a, (a.mm ? 1 : 0) + 1 + a.members.length);
      else {
        ensure(a.head.members.includes(a), "I8", () => `${describe(a)} is not on its head's list`);
        expected.set(a, a.mm ? 1 : 0);
      }
    }
    for (const mm of this.k.mms.values()) {
      const a = this.anonmmOf(mm);
      ensure(this.live.has(a) && a.mm === mm, "I8", () => `mm${mm.id}'s anonmm is freed or belongs to another mm`);
    }
    for (const page of this.k.pages()) {
      if (!page.anon) continue;
      if (page.mapcount === 0) {
        ensure(page.mapping === null, "I8", () => `${page}: unmapped but still holds an anonmm (clear_page_anon missed)`);
        continue;
      }
      const a = page.mapping as Anonmm | null;
      ensure(a !== null, "I4", () => `${page}: mapped ${page.mapcount} time(s) without an anonmm`);
      const freed = freedAt(a);
      ensure(freed === undefined, "I4", () => `${page}: its anonmm was freed at ${freed}`, page);
      const n = expected.get(a);
      ensure(n !== undefined, "I4", () => `${page}: its anonmm is not live`);
      expected.set(a, n + 1);
    }
    for (const [a, n] of expected) ensure(a.count === n, "I8", () => `${describe(a)}: count ${a.count}, recomputed ${n}`, a);
    // I6 and I7: per present PTE of an anon page.
    for (const mm of this.k.mms.values()) {
      const head = this.anonmmOf(mm).head;
      for (const [addr, pte] of mm.pt) {
        if (pte.kind !== "present") continue;
        const page = this.k.pageAt(pte.pfn);
        if (page === null || !page.anon || page.mapping === null) continue;
        const a = page.mapping as Anonmm;
        ensure(a.head === head, "I6", () => `${page} of ${describe(a)} is mapped at (mm${mm.id}, ${hexa(addr)}), outside its family`);
        ensure(page.index === addr, "I7", () => `${page}: index ${hexa(page.index)} but mapped at (mm${mm.id}, ${hexa(addr)})`);
      }
    }
  }

  /**
   * The families: each anonmm with its count, joined to its family's head and to its mm
   * (none once the mm exited); each anon page's mapping (its home anonmm).
   */
  snapshot(g: GraphBuilder): void {
    const amNode = (a: Anonmm): string =>
      g.pointer(a, (x) => g.node(`anonmm:${x.id}`, "anonmm", `anonmm #${x.id}`, `${x.head === x ? `family head, ${x.members.length} members, ` : ""}count ${x.count}${x.mm ? "" : ", mm gone"}`), "anonmm");
    for (const a of this.live) {
      const me = amNode(a);
      if (isFreed(a)) continue;
      if (a.head !== a) g.edge(me, amNode(a.head), "family");
      if (a.mm !== null) g.edge(me, mmNode(a.mm), "anonmm_mm");
    }
    for (const page of this.k.frames) {
      if (page?.anon && page.mapping !== null) g.edge(pageNode(page), amNode(page.mapping as Anonmm), "mapping", `index ${hexa(page.index)}`);
    }
  }

  explain(page: Page, vma: Vma, addr: number): string {
    if (!page.anon) return `vma_address(${page}, ${vma}) = ${vmaAddress(page, vma) ?? "outside the vma"}, not ${hexa(addr)}`;
    const a = page.mapping as Anonmm | null;
    if (a === null) return `${page} has no anonmm (cleared as unmapped)`;
    if (isFreed(a)) return `${page}'s anonmm was freed at ${freedAt(a)}`;
    const mine = vma.mm.rmap as Anonmm | undefined;
    if (mine === undefined || mine.head !== a.head) return `mm${vma.mm.id} is not in the family of ${describe(a)}`;
    if (page.index !== addr) return `the walk looks at ${hexa(page.index)} (page.index) in every mm of the family, the PTE is at ${hexa(addr)}`;
    return `mm${vma.mm.id} has no rss or is not reached before mapcount ${page.mapcount} is found`;
  }
}

export const anonmm: DesignInfo = {
  name: "anonmm",
  era: "2.6.5-mm (rmap 10–11, -mm only)",
  summary: "one anonmm per mm, families by fork; anon page index = virtual address; mremap of shared pages copies",
  mutants: ["no-cow-break-on-mremap", "free-anonmm-at-exit", "swapin-no-copy"],
  create: (k, mutant) => new AnonmmDesign(k, mutant),
};
