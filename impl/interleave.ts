/*
 * Interleaving mode: an rmap walk (migration's or reclaim's) racing an mremap move, one step
 * at a time, under the locks the kernel takes, in the order a schedule (command data) says.
 * The same machinery races exec's stack move (impl/interleave-exec.ts) and munmap
 * (impl/interleave-munmap.ts) against the same walkers.
 *
 * Two threads. The mover is mremap(MREMAP_FIXED) made step-wise: take mmap_lock and unmap
 * the destination, copy_vma() (or its merge into a neighbour), move_ptes() one PTE per step
 * between take_rmap_locks()/drop_rmap_locks() when need_rmap_locks says so, unmap the source.
 * The walker is try_to_unmap() (reclaim's swap-out), migration's two walks (try_to_migrate()
 * installing migration entries, remove_migration_ptes() replacing them) or folio_referenced()
 * (reclaim's aging: clears young bits), one vma per step, holding the page's rmap lock for
 * reading across each walk as rmap_walk() does, and a reference on the page throughout.
 *
 * Lock order (as mm/rmap.c states it), and who takes what here:
 *
 *   mmap_lock (mm)                 mover, write, the whole command; walkers never take it
 *     i_mmap_rwsem (file)          walker read across a walk; mover write in take_rmap_locks
 *       anon_vma root rwsem        walker read across a walk; mover write in take_rmap_locks
 *         PTE lock (mm)            both, within one step (a step is atomic)
 *
 * A step that changes vmas (unmap, copy_vma, its merge, unlinking the source) needs the write
 * side of every rmap lock of the mm's vmas (an over-approximation of vma_prepare()'s), so it
 * waits for a walk to finish; a move_ptes step needs only the PTE lock, plus the rmap locks if
 * need_rmap_locks. That is the whole point of the race: with need_rmap_locks false the kernel
 * relies on the walk visiting the source vma before the destination (mm/mremap.c move_ptes()'s
 * comment; copy_vma() sets it to `new_vma->vm_pgoff <= vma->vm_pgoff` for a merge, false for a
 * new vma: Michel Lespinasse, 38a76013ad80, 3.7). Before 3.7 the anon_vma list's order carried
 * that guarantee (anon_vma_moveto_tail(), Andrea Arcangeli, 948f017b093a, 3.3), removed by
 * 108d6642ad81 when the interval tree made the order meaningless and move_ptes took the lock.
 *
 * Planted kernel bugs (Kernel.quirks): "need-rmap-locks-false" (B8: copy_vma's merge case
 * claims the destination is walked after the source), "move-ptes-no-anon-vma-lock"
 * (take_rmap_locks() takes i_mmap_rwsem but not the anon_vma lock, undoing 108d6642ad81),
 * "exec-migrates-temporary-stack" (B11: try_to_migrate() does not skip exec's temporary stack,
 * undoing a8bef8ff6ea1), "munmap-unlink-without-rmap-locks" (H9, impl/interleave-munmap.ts),
 * "referenced-without-reference" (folio_referenced() walks a page it holds no reference on).
 *
 * I10: a walk that started before a concurrent move finds every PTE of its page in its old or
 * new place (after try_to_unmap / try_to_migrate the page is mapped by no PTE; after
 * folio_referenced none is young), except inside exec's temporary stack, which migration skips
 * on purpose and reclaim may miss (mappedInTemporaryStack), and migration never leaves a
 * migration entry behind. A migration entry lives in its PTE slot; here it is
 * kept beside the page table (`migrationEntries`) while the race runs, and none may remain.
 *
 * The walk's order is the design's: its walk() with every PTE test answered yes lists the
 * (vma, address) pairs it would visit under the lock (the list or tree order), whatever they
 * map (walkOrder()). Designs opt in (DesignInfo.interleave: anon-vma, anon-vma-chain*); the
 * mremap's locking is today's for every design (need_rmap_locks), whatever its era, so
 * anon-vma's 2.6.7 head-of-list links fail I10 (catalogue H8), as 2.6.17-rc's swapless
 * migration found (Hugh Dickins's list_add_tail fix).
 *
 * Step-wise today: MREMAP_FIXED moves (here), exec's setup_arg_pages() (vma_expand,
 * move_page_tables one PTE a step, vma_shrink), munmap (split, zap one PTE a step, unlink and
 * free one vma a step); walkers: try_to_unmap, try_to_migrate + remove_migration_ptes,
 * folio_referenced.
 *
 * Simplified: one PTE lock per mm (split PTE locks only narrow the critical sections, each
 * of which is one step here); the move is one move_ptes() call per source vma (our address
 * spaces fit in one PMD); only MREMAP_FIXED moves of an unchanged length race (other mremaps
 * run as in sequential mode and no walker runs); no per-VMA lock; folio_referenced() waits for
 * its lock where 5.17+ only tries it; truncate and fork's copy are not step-wise.
 */
import type { Outcome, Race } from "../model/commands.js";
import { InvariantError, assert } from "./assert.js";
import type { Kernel } from "./kernel.js";
import { insertVma, mergeNew, rangeMapped, splitAround } from "./mmap.js";
import { migrateCaches, migrateCopy } from "./vmscan.js";
import { isTemporaryStack } from "./exec.js";
import { type Mm, PG_dirty, PG_locked, PG_swapcache, type Page, type Vma, VM_LOCKED, Vma as VmaClass, hexa } from "./types.js";

/** The two threads: the schedule's 0 and 1. */
export const MOVER = 0;
export const WALKER = 1;

type Mode = "read" | "write";
interface Held {
  mode: Mode;
  owners: Set<number>;
}

/** The lock table: keys are the locked objects (an anon_vma root, a File, an Mm). */
class Locks {
  private readonly held = new Map<unknown, Held>();
  can(thread: number, key: unknown, mode: Mode): boolean {
    const h = this.held.get(key);
    if (!h) return true;
    if (h.owners.has(thread) && h.owners.size === 1) return true;
    return mode === "read" && h.mode === "read";
  }
  take(thread: number, key: unknown, mode: Mode): void {
    assert(this.can(thread, key, mode), "KERNEL", () => `thread ${thread} takes a held lock`);
    const h = this.held.get(key);
    if (h) h.owners.add(thread);
    else this.held.set(key, { mode, owners: new Set([thread]) });
  }
  drop(thread: number, key: unknown): void {
    const h = this.held.get(key);
    assert(h?.owners.has(thread) === true, "KERNEL", () => `thread ${thread} drops a lock it does not hold`);
    h.owners.delete(thread);
    if (h.owners.size === 0) this.held.delete(key);
  }
  holdsAny(thread: number): boolean {
    for (const h of this.held.values()) if (h.owners.has(thread)) return true;
    return false;
  }
}

/** What a thread's next step needs: locks it must be able to take (the step takes them itself). */
interface Want {
  readonly label: string;
  readonly locks: ReadonlyArray<readonly [unknown, Mode]>;
}
export type Thread = Generator<Want, void, void>;

/** A migration entry in a PTE slot: the page being migrated and the PTE's bits. */
interface MigrationEntry {
  page: Page;
  writable: boolean;
  dirty: boolean;
}

/** One race: the shared state of both threads. */
export class Race_ {
  readonly locks = new Locks();
  readonly trace: { thread: number; text: string }[] = [];
  readonly migrationEntries = new Map<Mm, Map<number, MigrationEntry>>();
  /** Set by the walker: what its walk missed (I10), reported once both threads are done. */
  readonly missed: string[] = [];
  constructor(readonly k: Kernel) {}
  note(thread: number, text: string): void {
    this.trace.push({ thread, text });
  }
  entries(mm: Mm): Map<number, MigrationEntry> {
    let m = this.migrationEntries.get(mm);
    if (!m) {
      m = new Map();
      this.migrationEntries.set(mm, m);
    }
    return m;
  }
}

/** The lock protecting an anon object's list or tree: its root's (anon_vma->root->rwsem). */
const anonLock = (obj: unknown): unknown => (obj as { root?: unknown } | null)?.root ?? obj;

/** The rmap locks rmap_walk() takes for page (read) and take_rmap_locks() for vma (write). */
function pageRmapLock(page: Page): unknown {
  return page.anon ? anonLock(page.mapping) : page.file;
}
function vmaRmapLocks(k: Kernel, vma: Vma): unknown[] {
  const locks: unknown[] = [];
  if (vma.vmFile) locks.push(vma.vmFile);
  if (vma.anonVma !== null && !k.quirks.has("move-ptes-no-anon-vma-lock")) locks.push(anonLock(vma.anonVma));
  return locks;
}
/** Every rmap lock of mm's vmas: what a step that changes vmas must hold for writing. */
export function mmRmapLocks(mm: Mm): Array<readonly [unknown, Mode]> {
  const locks = new Set<unknown>();
  for (const v of mm.vmas) {
    if (v.vmFile) locks.add(v.vmFile);
    if (v.anonVma !== null) locks.add(anonLock(v.anonVma));
  }
  return [...locks].map((l) => [l, "write"] as const);
}

/**
 * The (vma, address) pairs the design's walk of `page` visits, in its order, whatever their
 * PTEs hold: its walk() with the PTE test answered yes and the mapcount high enough not to
 * stop early. (The walker holds the rmap lock from here on: no vma on it can change.)
 */
export function walkOrder(k: Kernel, page: Page): { vma: Vma; addr: number }[] {
  const order: { vma: Vma; addr: number }[] = [];
  const mapcount = page.mapcount;
  const kk = k as { ptePointsTo: Kernel["ptePointsTo"] };
  kk.ptePointsTo = () => true;
  page.mapcount = Number.MAX_SAFE_INTEGER;
  try {
    k.design.walk(page, (vma, addr) => {
      if (!order.some((o) => o.vma === vma && o.addr === addr)) order.push({ vma, addr });
      return true;
    });
  } finally {
    page.mapcount = mapcount;
    delete (kk as { ptePointsTo?: unknown }).ptePointsTo;
  }
  return order;
}

export const where = (mm: Mm, addr: number) => `mm${mm.id}:${hexa(addr)}`;

// --- the mover: mremap(MREMAP_FIXED) step-wise ------------------------------------------------

/** The kernel's own one-PTE move_ptes() and do_munmap() (impl/syscalls.ts). */
export interface MoveOps {
  movePte(from: number, to: number): void;
  munmap(start: number, end: number): void;
}

function* mover(r: Race_, mm: Mm, addr: number, len: number, na: number, result: { out: Outcome }, ops: MoveOps): Thread {
  const k = r.k;
  yield { label: "mmap_write_lock, unmap destination, split source", locks: [[mm, "write"], ...mmRmapLocks(mm)] };
  r.locks.take(MOVER, mm, "write");
  r.note(MOVER, `mmap_write_lock(mm${mm.id})`);
  if (!rangeMapped(mm, addr, addr + len)) {
    result.out = { kind: "errno", errno: "EFAULT" };
    r.note(MOVER, "-EFAULT");
    r.locks.drop(MOVER, mm);
    return;
  }
  ops.munmap(na, na + len);
  const pieces = splitAround(k, mm, addr, addr + len).map((vma) => ({ vma, start: vma.vmStart, pages: vma.pages }));
  r.note(MOVER, `munmap ${hexa(na)}+${len}, split source`);
  for (const { vma, start, pages } of pieces) {
    const dst = na + (start - addr);
    yield { label: "copy_vma", locks: mmRmapLocks(mm) };
    // kernel: copy_vma() (mm/vma.c): merge into a neighbour, or a new vma after the source.
    const pgoff = !vma.vmFile && !k.design.hasAnonObject(vma) ? dst : vma.vmPgoff + (start - vma.vmStart);
    const nw = new VmaClass(mm, dst, dst + pages, pgoff, vma.vmFlags, vma.vmFile);
    nw.anonVma = vma.anonVma;
    const merged = mergeNew(k, nw, vma);
    let needRmapLocks = false;
    // The source itself may have been merged into the destination (copy_vma's `*vmap = vma =
    // new_vma`, an unfaulted vma moved next to itself): it is freed, the merged vma is both.
    let src = vma;
    if (merged) {
      k.counters.mremapMergesAtDest++;
      if (start >= merged.vmStart && start < merged.vmEnd) src = merged;
      needRmapLocks = merged.vmPgoff <= src.vmPgoff;
    } else {
      k.design.vmaCopy(vma, nw);
      insertVma(k, nw);
    }
    if (needRmapLocks) k.counters.racesNeedingRmapLocks++;
    if (k.quirks.has("need-rmap-locks-false")) needRmapLocks = false;
    const target = merged ?? nw;
    r.note(MOVER, `copy_vma → ${merged ? "merged into " : ""}${target}, need_rmap_locks=${needRmapLocks}`);
    const rmapLocks = needRmapLocks ? vmaRmapLocks(k, src) : [];
    if (rmapLocks.length > 0) {
      yield { label: "take_rmap_locks", locks: rmapLocks.map((l) => [l, "write"] as const) };
      for (const l of rmapLocks) r.locks.take(MOVER, l, "write");
      r.note(MOVER, "take_rmap_locks");
    }
    for (let i = 0; i < pages; i++) {
      yield { label: "move_pte", locks: [[`ptl${mm.id}`, "write"]] };
      moveOne(r, mm, start + i, dst + i, ops.movePte);
    }
    if (rmapLocks.length > 0) {
      for (const l of rmapLocks) r.locks.drop(MOVER, l);
      r.note(MOVER, "drop_rmap_locks");
    }
  }
  yield { label: "unmap source", locks: mmRmapLocks(mm) };
  ops.munmap(addr, addr + len);
  r.locks.drop(MOVER, mm);
  r.note(MOVER, `munmap source ${hexa(addr)}+${len}, mmap_write_unlock`);
  result.out = { kind: "addr", addr: na };
}

/** One move_ptes() step: the PTE at `from`, or the migration entry there, goes to `to`. */
export function moveOne(r: Race_, mm: Mm, from: number, to: number, movePte: (from: number, to: number) => void): void {
  const entry = r.migrationEntries.get(mm)?.get(from);
  if (entry) {
    // A migration entry moves like any non-present PTE (move_ptes() does not look inside).
    r.entries(mm).delete(from);
    r.entries(mm).set(to, entry);
    r.note(MOVER, `move_pte ${hexa(from)} → ${hexa(to)} (migration entry)`);
  } else if (mm.pt.has(from)) {
    movePte(from, to);
    r.note(MOVER, `move_pte ${hexa(from)} → ${hexa(to)}`);
  } else r.note(MOVER, `move_pte ${hexa(from)}: none`);
}

// --- the walkers ------------------------------------------------------------------------------

/**
 * PTEs mapping page inside exec's temporary stack (impl/exec.ts), which a walk racing the
 * stack's move may miss: try_to_migrate() skips such a vma on purpose (invalid_migration_vma),
 * and no rmap lock is held across shift_arg_pages()' vma_expand() and move_page_tables()
 * (need_rmap_locks false), so reclaim's walks may look at the new address while the PTE is
 * still at the old one. The kernel tolerates that (the page stays mapped, reclaim tries again
 * later); migration alone must not, and does not, leave anything there.
 */
function mappedInTemporaryStack(k: Kernel, page: Page, young = false): number {
  let n = 0;
  for (const mm of k.mms.values()) {
    for (const vma of mm.vmas) {
      if (!isTemporaryStack(vma)) continue;
      for (let a = vma.vmStart; a < vma.vmEnd; a++) {
        const pte = mm.pt.get(a);
        if (pte?.kind === "present" && pte.pfn === page.pfn && (!young || pte.young)) n++;
      }
    }
  }
  return n;
}

/** One rmap walk of `page`, one vma per step, under its rmap lock (read); visit may stop it. */
function* walk(r: Race_, page: Page, name: string, visit: (vma: Vma, addr: number) => boolean, unmapped = (): boolean => page.anon && page.mapcount === 0): Thread {
  // kernel: folio_lock_anon_vma_read(): an anon folio no PTE maps may have lost its anon_vma
  // (freed with its last vma: a racing munmap), so the walk checks folio_mapped() and gives
  // up. (remove_migration_ptes() instead relies on migration's folio_get_anon_vma() pin,
  // which is not modelled: it gives up when no migration entry of the page is left.)
  const lock = unmapped() ? null : pageRmapLock(page);
  yield { label: `${name}: rmap lock`, locks: lock ? [[lock, "read"]] : [] };
  if (unmapped() || (page.anon && lock === null)) {
    r.note(WALKER, `${name}: ${page} not mapped: no anon_vma to walk`);
    return;
  }
  if (lock) r.locks.take(WALKER, lock, "read");
  const order = walkOrder(r.k, page);
  r.k.counters.walks++;
  r.note(WALKER, `${name}: rmap_walk ${page}: ${order.length} vma${order.length === 1 ? "" : "s"}`);
  for (const { vma, addr } of order) {
    yield { label: `${name}: visit ${vma}`, locks: [[`ptl${vma.mm.id}`, "write"]] };
    r.k.counters.vmasVisited++;
    if (!visit(vma, addr)) break;
  }
  if (lock) r.locks.drop(WALKER, lock);
  r.note(WALKER, `${name}: rmap unlock`);
}

const presentAt = (k: Kernel, vma: Vma, addr: number, page: Page): boolean => k.ptePointsTo(vma.mm, addr, page.pfn);

/** kernel: migrate_pages() → try_to_migrate(), move_to_new_folio(), remove_migration_ptes(). */
export function* migrator(r: Race_, page: Page): Thread {
  const k = r.k;
  page.flags |= PG_locked;
  // Each migration entry holds the reference its PTE held; the page is isolated (one more).
  page.count++;
  yield* walk(r, page, "try_to_migrate", (vma, addr) => {
    // kernel: rmap_walk_anon()'s rwc->invalid_vma, try_to_migrate()'s invalid_migration_vma()
    // (a8bef8ff6ea1); the planted B11 bug migrates temporary stacks as before 2.6.34.
    if (isTemporaryStack(vma) && !k.quirks.has("exec-migrates-temporary-stack")) {
      r.note(WALKER, `try_to_migrate: ${vma} is a temporary stack: skipped`);
      return true;
    }
    if (!presentAt(k, vma, addr, page)) {
      r.note(WALKER, `try_to_migrate: ${where(vma.mm, addr)}: not mapped here`);
      return true;
    }
    const pte = vma.mm.pt.get(addr);
    assert(pte?.kind === "present", "KERNEL", "checked above");
    vma.mm.pt.delete(addr);
    r.entries(vma.mm).set(addr, { page, writable: pte.writable, dirty: pte.dirty });
    page.mapcount--;
    r.note(WALKER, `try_to_migrate: ${where(vma.mm, addr)} → migration entry`);
    return page.mapcount > 0; // rwc->done: folio_not_mapped()
  });
  const missed = page.mapcount - mappedInTemporaryStack(k, page);
  if (missed > 0) r.missed.push(`try_to_migrate's walk of ${page} ended with ${missed} PTE(s) still mapping it`);
  let target = page;
  yield { label: "move_to_new_folio", locks: [] };
  if (page.count === 1) {
    // Only the isolation's reference is left: a racing munmap zapped every PTE and migration
    // entry (migrate_folio_unmap(): "page was freed from under us. So we are done.").
    r.note(WALKER, `${page} was freed from under us: done`);
    page.flags &= ~PG_locked;
    k.putPage(page, "migrate_pages (freed from under us)");
    return;
  }
  if (page.mapcount === 0) {
    target = k.allocPage();
    // The new folio's own reference (its allocation's) until migration is done: a racing
    // munmap may zap a PTE remove_migration_ptes() has just restored to it.
    target.count++;
    migrateCopy(k, page, target);
    migrateCaches(k, page, target);
    r.note(WALKER, `move_to_new_folio: ${page} → ${target}`);
  } else r.note(WALKER, "still mapped: migration fails, entries go back (-EAGAIN)");
  yield* walk(r, target, "remove_migration_ptes", (vma, addr) => {
    const e = r.migrationEntries.get(vma.mm)?.get(addr);
    if (!e || e.page !== page) {
      r.note(WALKER, `remove_migration_ptes: ${where(vma.mm, addr)}: no entry`);
      return true;
    }
    r.entries(vma.mm).delete(addr);
    vma.mm.pt.set(addr, { kind: "present", pfn: target.pfn, writable: e.writable, dirty: e.dirty, young: true });
    target.mapcount++;
    target.count++;
    page.count--;
    r.note(WALKER, `remove_migration_ptes: ${where(vma.mm, addr)} → ${target}`);
    return true;
  }, () => page.anon && ![...r.migrationEntries.values()].some((m) => [...m.values()].some((e) => e.page === page)));
  page.flags &= ~PG_locked;
  if (target !== page) k.counters.migrations++;
  // The new page is put back with the allocation's reference dropped: mapped by nothing (a
  // racing munmap zapped the entries) and in no cache, it is freed.
  if (target !== page) k.putPage(target, "migrate_pages (new folio put back)");
  k.putPage(page, "migrate_pages");
}

/** kernel: shrink_folio_list() → try_to_unmap() for an anon page: swap entries, then free. */
export function* swapper(r: Race_, page: Page): Thread {
  const k = r.k;
  if (!page.anon) return; // file pages: reclaim's sequential path only (not raced here)
  page.flags |= PG_locked;
  if ((page.flags & PG_swapcache) === 0) k.addToSwapCache(page, k.newSwapSlot(0));
  const slot = page.private;
  assert(slot !== null, "KERNEL", () => `${page} in swap cache without a slot`);
  const entry = k.swap.get(slot);
  assert(entry !== undefined, "KERNEL", () => `${page} in swap cache with a freed slot ${slot}`);
  let locked = false;
  yield* walk(r, page, "try_to_unmap", (vma, addr) => {
    if (!presentAt(k, vma, addr, page)) {
      r.note(WALKER, `try_to_unmap: ${where(vma.mm, addr)}: not mapped here`);
      return true;
    }
    if (vma.vmFlags & VM_LOCKED) {
      locked = true;
      r.note(WALKER, `try_to_unmap: ${vma} is VM_LOCKED: stop`);
      return false;
    }
    const pte = vma.mm.pt.get(addr);
    if (pte?.kind === "present" && pte.dirty) page.flags |= PG_dirty;
    k.design.pageRemove(page, vma, addr);
    vma.mm.pt.set(addr, { kind: "swap", slot });
    entry.count++;
    page.mapcount--;
    page.count--;
    r.note(WALKER, `try_to_unmap: ${where(vma.mm, addr)} → swap entry ${slot}`);
    return page.mapcount > 0;
  });
  page.flags &= ~PG_locked;
  if (page.mapcount > 0) {
    const missed = page.mapcount - mappedInTemporaryStack(k, page);
    if (!locked && missed > 0) r.missed.push(`try_to_unmap's walk of ${page} ended with ${missed} PTE(s) still mapping it`);
    if (entry.count === 0) k.deleteFromSwapCache(page, "swap-out failed");
    return;
  }
  entry.data = k.frameData[page.pfn] as number;
  k.counters.swapouts++;
  k.counters.pagesReclaimed++;
  k.deleteFromSwapCache(page, "shrink_folio_list (anon)");
}

/**
 * kernel: folio_referenced() → folio_referenced_one(): test and clear the young bit of every
 * PTE mapping the page, one vma per step (reclaim's aging, impl/vmscan.ts pageReferenced()).
 * It only reads and clears bits, so a miss is not fatal to the kernel; but a walk racing an
 * mremap is promised the old or the new PTE like any other (mm/mremap.c), so I10 holds it
 * to: after a walk that went through its whole list no PTE mapping the page is still young
 * (nothing sets young bits during a race), except inside a temporary stack being moved
 * (mappedInTemporaryStack); a walk whose pra->mapcount ran out first may leave one (below);
 * and it never clears a bit of a PTE that does not map the page (presentAt, the pfn check).
 */
export function* referencer(r: Race_, page: Page): Thread {
  const k = r.k;
  let found = 0;
  let referenced = 0;
  // pra.mapcount: the folio's mapcount when folio_referenced() is called, counted down per
  // mapping found (a racing munmap's zaps do not shorten the walk).
  const mapcount = page.mapcount;
  // The folio is isolated from the LRU while reclaim looks at it (shrink_folio_list()): a
  // reference, so a racing munmap's zaps cannot free it under the walk.
  // (Planted "referenced-without-reference": the walk forgets it, impl/interleave-munmap.test.ts.)
  const ref = !k.quirks.has("referenced-without-reference");
  if (ref) page.count++;
  yield* walk(r, page, "folio_referenced", (vma, addr) => {
    if (!presentAt(k, vma, addr, page)) {
      r.note(WALKER, `folio_referenced: ${where(vma.mm, addr)}: not mapped here`);
      return true;
    }
    const pte = vma.mm.pt.get(addr);
    assert(pte?.kind === "present", "KERNEL", "checked above");
    found++;
    if (pte.young) referenced++;
    r.note(WALKER, `folio_referenced: ${where(vma.mm, addr)}${pte.young ? " young: cleared" : ": not young"}`);
    pte.young = false;
    return found < mapcount; // folio_referenced_one(): stop once pra->mapcount reaches 0
  });
  // The count can reach 0 before the list ends without every PTE having been seen: a racing
  // move lets the walk meet one PTE twice, in its old place and its new (mm/mremap.c: rmap
  // "will always observe either the old pte, or the new pte, or both"), and the walk then
  // stops short. The kernel accepts that (an aging heuristic); a walk that went through its
  // whole list must have cleared every young bit.
  if (found >= mapcount) {
    if (ref) k.putPage(page, "folio_referenced (putback)");
    return;
  }
  const young: string[] = [];
  for (const mm of k.mms.values()) {
    for (const [a, pte] of mm.pt) if (pte.kind === "present" && pte.pfn === page.pfn && pte.young) young.push(where(mm, a));
  }
  const missed = young.length - mappedInTemporaryStack(k, page, true);
  if (missed > 0) r.missed.push(`folio_referenced's walk of ${page} (${referenced} referenced) left ${young.join(", ")} young`);
  if (ref) k.putPage(page, "folio_referenced (putback)");
}

/** The walker `race` names on the page mapped at (race.mm, race.addr), or null (noted) if there is none. */
export function walkerFor(r: Race_, race: Race): Thread | null {
  const k = r.k;
  const pte = k.mms.get(race.mm)?.pt.get(race.addr);
  const page = pte?.kind === "present" ? k.pageAt(pte.pfn) : null;
  if (page && (page.flags & PG_locked) === 0 && page.mapcount > 0 && (page.anon || race.walker !== "swapout")) {
    return race.walker === "migrate" ? migrator(r, page) : race.walker === "swapout" ? swapper(r, page) : referencer(r, page);
  }
  r.note(WALKER, `${race.walker}: no page to walk at mm${race.mm}:${hexa(race.addr)}`);
  return null;
}

/**
 * Run a race: the schedule, then finishRace(). An invariant broken inside a step (I4: a freed
 * vma or page touched) is rethrown with the interleaving up to that step.
 */
export function runRace(r: Race_, threads: Thread[], plan: readonly number[], mover: string): void {
  try {
    schedule(r, threads, plan);
  } catch (e) {
    if (e instanceof InvariantError && e.invariant !== "I10") {
      throw new InvariantError(e.invariant, `${e.detail}\n${traceColumns(r.trace, mover)}`, e.objects);
    }
    throw e;
  }
  finishRace(r, mover);
}

/** After a race: I10 (what the walk missed, migration entries left), then no lock may be held. */
export function finishRace(r: Race_, mover: string): void {
  const left: string[] = [];
  for (const [m, entries] of r.migrationEntries) for (const [a, e] of entries) left.push(`a migration entry for ${e.page} at ${where(m, a)}`);
  const broken = [...r.missed, ...(left.length > 0 ? [`migration left ${left.join(", ")}`] : [])];
  assert(broken.length === 0, "I10", () => `${broken.join("; ")}\n${traceColumns(r.trace, mover)}`);
  assert(!r.locks.holdsAny(MOVER) && !r.locks.holdsAny(WALKER), "KERNEL", "a race ended holding a lock");
}

// --- the scheduler ----------------------------------------------------------------------------

/** A bound on the steps of one race: far above what our address spaces need. */
const raceStepMax = 10_000;

/**
 * Run the two threads by `schedule` (then the lowest runnable thread). A thread whose next
 * step wants a lock the other holds waits; both waiting is a deadlock (a KERNEL error).
 */
export function schedule(r: Race_, threads: Thread[], plan: readonly number[]): void {
  const wants: (Want | undefined)[] = threads.map((t) => {
    const n = t.next();
    return n.done ? undefined : n.value;
  });
  const runnable = (i: number): boolean => {
    const w = wants[i];
    return w?.locks.every(([key, mode]) => r.locks.can(i, key, mode)) === true;
  };
  for (let step = 0; step < raceStepMax; step++) {
    if (wants.every((w) => w === undefined)) return;
    const pick = plan[step];
    let i = pick !== undefined && runnable(pick) ? pick : [0, 1].find(runnable);
    assert(i !== undefined, "KERNEL", () => `deadlock: ${wants.map((w, j) => `thread ${j} waits at ${w?.label ?? "(done)"}`).join(", ")}`);
    i = i as number;
    const n = (threads[i] as Thread).next();
    wants[i] = n.done ? undefined : n.value;
  }
  assert(false, "KERNEL", `a race ran past ${raceStepMax} steps`);
}

/** The race's interleaving as two columns (mremap | walker), one step a row. */
export function traceColumns(trace: readonly { thread: number; text: string }[], mover = "mremap"): string {
  const width = Math.max(6, ...trace.filter((t) => t.thread === MOVER).map((t) => t.text.length));
  const rows = [`${mover.padEnd(width)} | ${"walker"}`, `${"-".repeat(width)}-+-${"-".repeat(6)}`];
  for (const t of trace) rows.push(t.thread === MOVER ? t.text : `${" ".repeat(width)} | ${t.text}`);
  return rows.join("\n");
}

/**
 * kernel: sys_mremap(MREMAP_FIXED) racing the walker `race` names. Returns the mremap's
 * outcome; throws I10 (with the interleaving) if the walk missed a PTE or left a migration
 * entry.
 */
export function raceMremap(k: Kernel, mm: Mm, addr: number, len: number, na: number, race: Race, ops: MoveOps): Outcome {
  const r = new Race_(k);
  k.counters.races++;
  const result: { out: Outcome } = { out: { kind: "addr", addr: na } };
  const threads: Thread[] = [mover(r, mm, addr, len, na, result, ops)];
  const walker = walkerFor(r, race);
  if (walker) threads.push(walker);
  runRace(r, threads, race.schedule, "mremap");
  return result.out;
}

/** Is this mremap one interleaving mode races (MREMAP_FIXED, same length, valid)? */
export function racesWith(k: Kernel, addr: number, len: number, newLen: number, na: number | undefined): na is number {
  if (na === undefined || newLen !== len) return false;
  if (!(len >= 1 && addr >= 1 && addr + len <= k.world.vpnLimit)) return false;
  if (na < k.world.mmapBase || na + len > k.world.vpnLimit) return false;
  return !(na < addr + len && addr < na + len);
}

