/*
 * Interleaving mode: a command racing a second thread one step at a time, under the locks the
 * kernel takes, in the order a schedule (command data) says.
 *
 * Two threads. Thread 0 is the command, made step-wise:
 *   - mremap(MREMAP_FIXED) (here): take mmap_lock and unmap the destination, copy_vma() (or
 *     its merge into a neighbour), move_ptes() one PTE per step between take_rmap_locks() /
 *     drop_rmap_locks() when need_rmap_locks says so, unmap the source;
 *   - fork (impl/interleave-fork.ts): dup_mmap() one vma at a time (vma_start_write() on the
 *     parent's vma, vm_area_dup(), anon_vma_fork()), copy_page_range() one PTE per step;
 *   - truncate (impl/interleave-truncate.ts): i_size_write(), unmap_mapping_range() one vma
 *     per step, truncate_inode_pages() one page per step, unmap_mapping_range() again;
 *   - munmap (impl/interleave-munmap.ts): split, zap one PTE per step, unlink and free one vma
 *     per step under the rmap write locks;
 *   - exec (impl/interleave-exec.ts): setup_arg_pages()' move of the temporary stack
 *     (vma_expand(), move_page_tables() one PTE per step, vma_shrink()).
 * Thread 1 is a walker or a fault. The walkers are try_to_unmap() (reclaim's swap-out),
 * folio_referenced() (reclaim's aging) and migration's two walks (try_to_migrate() installing
 * migration entries, remove_migration_ptes() replacing them), one vma per step, holding the page's rmap lock for
 * reading across each walk as rmap_walk() does, a reference on the page throughout, and (migration,
 * swap-out) the page's lock across the whole operation. The fault (faulter() below) is another thread of a process touching one address:
 * lock_vma_under_rcu() (or mmap_read_lock()), anon_vma_prepare(), then the PTE install under
 * the PTE lock (file pages: filemap_fault() finds and locks the page and checks i_size, then
 * finish_fault() maps it).
 *
 * Lock order (as mm/rmap.c states it), and who takes what here:
 *
 *   mmap_lock (mm)                 command, write, the whole command (mremap, fork; truncate
 *                                  never); a fault, read, in eras without per-VMA locks;
 *                                  walkers never. A fault's vma_start_read() (6.4+) stands in
 *                                  for it, at the same level
 *     page lock (page)             walkers across their operation; a file fault from its page
 *                                  cache lookup to its PTE install; truncate per page
 *       vma_start_write (vma)      6.4+ (DesignInfo.perVmaLock): the command write-locks every
 *                                  vma it changes until mmap_write_unlock() (the kernel:
 *                                  vm_lock_seq = mm_lock_seq); a fault holds the vma's read
 *                                  side for the whole fault
 *         i_mmap_rwsem (file)      walker read across a walk; mremap write in take_rmap_locks;
 *                                  fork write to link the child; truncate read per pass
 *           anon_vma root rwsem    walker read across a walk; mremap write in take_rmap_locks;
 *                                  fork write in anon_vma_fork()
 *             PTE lock (mm)        everyone, within one step (a step is atomic)
 *
 * (mm/rmap.c's list: mmap_lock, invalidate_lock, folio_lock, vma_start_write, i_mmap_rwsem,
 * anon_vma->rwsem, page_table_lock / the PTE lock.)
 *
 * A mremap step that changes vmas (unmap, copy_vma, its merge, unlinking the source) needs the
 * write side of every rmap lock of the mm's vmas (an over-approximation of vma_prepare()'s),
 * so it waits for a walk to finish; a move_ptes step needs only the PTE lock, plus the rmap
 * locks if need_rmap_locks. That is the whole point of the race: with need_rmap_locks false the kernel
 * relies on the walk visiting the source vma before the destination (mm/mremap.c move_ptes()'s
 * comment; copy_vma() sets it to `new_vma->vm_pgoff <= vma->vm_pgoff` for a merge, false for a
 * new vma: Michel Lespinasse, 38a76013ad80, 3.7). Before 3.7 the anon_vma list's order carried
 * that guarantee (anon_vma_moveto_tail(), Andrea Arcangeli, 948f017b093a, 3.3), removed by
 * 108d6642ad81 when the interval tree made the order meaningless and move_ptes took the lock.
 *
 * The per-VMA lock (Suren Baghdasaryan, 6.4; include/linux/mmap_lock.h, mm/memory.c
 * lock_vma_under_rcu()): mremap write-locks every vma of the mm at its first step and each new
 * one as it appears (a superset of the vma_start_write() calls of its path); fork write-locks
 * each parent vma before copying it (fb49c455323f); truncate takes none (it never changed vmas).
 * A fault that finds its vma write-locked waits until mmap_write_unlock (the kernel falls back
 * to mmap_read_lock(), which waits for the same moment).
 *
 * Planted kernel bugs (Kernel.quirks): "need-rmap-locks-false" (B8: copy_vma's merge case
 * claims the destination is walked after the source), "move-ptes-no-anon-vma-lock"
 * (take_rmap_locks() takes i_mmap_rwsem but not the anon_vma lock, undoing 108d6642ad81),
 * "fork-no-vma-lock" (H11: dup_mmap() without vma_start_write(), undoing fb49c455323f),
 * "fault-no-page-lock" (H13: a file fault does not hold the page lock from its i_size check to
 * its PTE install, undoing d00806b18315),
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
 * A racing fault is checked against the model: the command decides where the fault falls in
 * their sequential order (Race_.commit, Race_.linearize; Kernel.lastFault), the model applies
 * both in that order and compares the fault's outcome as it compares a command's.
 *
 * The walk's order is the design's: its walk() with every PTE test answered yes lists the
 * (vma, address) pairs it would visit under the lock (the list or tree order), whatever they
 * map (walkOrder()). Designs opt in (DesignInfo.interleave: anon-vma, anon-vma-chain*); the
 * mremap's locking is today's for every design (need_rmap_locks), whatever its era, so
 * anon-vma's 2.6.7 head-of-list links fail I10 (catalogue H8), as 2.6.17-rc's swapless
 * migration found (Hugh Dickins's list_add_tail fix); so does a fork racing a walk there.
 *
 * Step-wise today: MREMAP_FIXED moves (here), exec's setup_arg_pages() (vma_expand,
 * move_page_tables one PTE a step, vma_shrink), munmap (split, zap one PTE a step, unlink and
 * free one vma a step); walkers: try_to_unmap, try_to_migrate + remove_migration_ptes,
 * folio_referenced.
 *
 * Simplified: one PTE lock per mm (split PTE locks only narrow the critical sections, each
 * of which is one step here); the move is one move_ptes() call per source vma (our address
 * spaces fit in one PMD); only MREMAP_FIXED moves of an unchanged length race (other mremaps
 * run as in sequential mode and a racing fault runs after them); one racing thread per
 * command; anon_vma_prepare() takes only the PTE lock (not the anon_vma lock of a reused
 * neighbour's anon_vma); a fault's allocation and PTE install are one step (the kernel
 * rechecks the PTE under the lock after allocating: splitting them adds only the back-off);
 * faults race fork, truncate and mremap only (munmap and exec race walkers); folio_referenced()
 * waits for its lock where 5.17+ only tries it; a command with a failure point does not race.
 */
import type { Outcome, Race } from "../model/commands.js";
import { InvariantError, assert } from "./assert.js";
import type { Kernel } from "./kernel.js";
import { findVma, insertVma, isShared, mergeNew, rangeMapped, splitAround } from "./mmap.js";
import { isTemporaryStack } from "./exec.js";
import { migrateCaches, migrateCopy } from "./vmscan.js";
import { type Mm, PG_dirty, type PresentPte, PG_locked, PG_swapcache, type Page, type Vma, VM_LOCKED, VM_WRITE, Vma as VmaClass, hexa, linearPageIndex } from "./types.js";

/** The two threads: the schedule's 0 (the command: mremap, exec, munmap, fork, truncate) and 1 (a walker or a fault). */
export const MAIN = 0;
export const OTHER = 1;

export type Mode = "read" | "write";
interface Held {
  mode: Mode;
  owners: Set<number>;
}

/** The lock table: keys are the locked objects (an anon_vma root, a File, an Mm). */
export class Locks {
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
  holds(thread: number, key: unknown): boolean {
    return this.held.get(key)?.owners.has(thread) === true;
  }
  /** Drop every lock thread holds. */
  dropAll(thread: number): void {
    for (const [key, h] of [...this.held]) if (h.owners.has(thread)) this.drop(thread, key);
  }
  holdsAny(thread: number): boolean {
    for (const h of this.held.values()) if (h.owners.has(thread)) return true;
    return false;
  }
}

export type LockList = ReadonlyArray<readonly [unknown, Mode]>;
/**
 * What a thread's next step needs: locks it must be able to take (the step takes them itself).
 * A function is asked afresh each time the scheduler looks (a fault's vma lookup: which vma
 * it would lock depends on what the other thread did meanwhile).
 */
export interface Want {
  readonly label: string;
  readonly locks: LockList | (() => LockList);
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
  /** The era has per-VMA locks (DesignInfo.perVmaLock): faults lock one vma, not mmap_lock. */
  readonly perVma: boolean;
  /** The racing fault, if the other thread is one: where it is, and how it went. */
  fault: { mm: number; addr: number; linearized: boolean; after?: boolean; out?: Outcome } | undefined;
  /** Where the fault falls in the command's sequential order (set by commit()). */
  order: "before" | "after" | undefined;
  constructor(readonly k: Kernel) {
    this.perVma = k.designInfo.perVmaLock === true;
  }
  note(thread: number, text: string): void {
    this.trace.push({ thread, text });
  }
  /** What the command has fixed so far for the fault's address (see commit). */
  private readonly commits = new Set<string>();
  /**
   * The command decides what the fault's address becomes: fork copies its PTE, mremap moves
   * it or unmaps the destination ("pte"); truncate's i_size_write decides what a page cache
   * lookup finds ("size") and its unmap_mapping_range zaps the PTE ("zap"). Without an
   * address: every address (truncate's i_size_write, or the command's end for "pte").
   */
  commit(mm?: Mm, addr?: number, kind: "pte" | "size" | "zap" = "pte"): void {
    if (this.fault) this.commits.add(mm === undefined ? `*${kind}` : `${kind}:${mm.id}:${addr}`);
  }
  private committed(kind: "pte" | "size" | "zap"): boolean {
    const f = this.fault as NonNullable<Race_["fault"]>;
    return this.commits.has(`*${kind}`) || this.commits.has(`${kind}:${f.mm}:${f.addr}`);
  }
  /**
   * The fault takes effect now; it comes after the command in their sequential order if the
   * command already fixed what it touches. An access through the PTE ("pte": anonymous
   * faults, present and swap PTEs) is after once the command copied, moved or zapped that
   * PTE (truncate's i_size_write alone does not stop it: the kernel lets it through). A file
   * fault has two points: its i_size check ("check": after a truncate's i_size_write) and
   * its PTE install ("install": after fork copied or mremap moved that slot; a truncate's zap
   * before it does not count, since the page lock makes truncate_inode_pages unmap it again).
   */
  linearize(kind: "pte" | "check" | "install"): void {
    const f = this.fault;
    if (!f || f.linearized) return;
    const pte = this.committed("pte");
    if (kind === "check") {
      f.after = this.committed("size") || pte;
      return;
    }
    f.linearized = true;
    this.order = f.after || pte || (kind === "pte" && this.committed("zap")) ? "after" : "before";
  }
  /**
   * kernel: vma_start_write() (6.4+, per-VMA locks): the command write-locks vma until
   * mmap_write_unlock(); a fault holding the vma's read lock must finish first (the step
   * that calls this waits for it: its Want names the lock). Eras without per-VMA locks: none.
   */
  vmaStartWrite(vma: Vma): void {
    if (!this.perVma) return;
    if (!this.locks.holds(MAIN, vma)) this.locks.take(MAIN, vma, "write");
  }
  /** Every vma of mm the command has not write-locked (new vmas of a split, copy_vma's). */
  lockNewVmas(mm: Mm): void {
    if (this.perVma) for (const v of mm.vmas) this.vmaStartWrite(v);
  }
  /** kernel: mmap_write_unlock(): drops mmap_lock and, through mm_lock_seq, every vma write lock. */
  mmapWriteUnlock(mm: Mm): void {
    this.locks.dropAll(MAIN);
    this.note(MAIN, `mmap_write_unlock(mm${mm.id})${this.perVma ? " (and every vma_start_write)" : ""}`);
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
export const anonLock = (obj: unknown): unknown => (obj as { root?: unknown } | null)?.root ?? obj;

/** The rmap locks rmap_walk() takes for page (read) and take_rmap_locks() for vma (write). */
export function pageRmapLock(page: Page): unknown {
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

/** The PTE lock of mm (one per mm here: docs/semantics.md). */
export const ptl = (mm: Mm | number): string => `ptl${typeof mm === "number" ? mm : mm.id}`;

/** Every vma of mm, for writing: what a step that write-locks them all must be able to take. */
export function mmVmaLocks(r: Race_, mm: Mm): Array<readonly [unknown, Mode]> {
  return r.perVma ? mm.vmas.map((v) => [v, "write"] as const) : [];
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
  // With per-VMA locks, every vma of the mm is write-locked here and each new one as it
  // appears: a superset of the vma_start_write() calls of mremap's path (the source, the
  // destination's victims, a merge's neighbour, the split pieces), so a fault on any of them
  // waits for mmap_write_unlock.
  yield { label: "mmap_write_lock, unmap destination, split source", locks: () => [[mm, "write"], ...mmRmapLocks(mm), ...mmVmaLocks(r, mm)] };
  r.locks.take(MAIN, mm, "write");
  r.lockNewVmas(mm);
  r.note(MAIN, `mmap_write_lock(mm${mm.id})`);
  for (let a = na; a < na + len; a++) r.commit(mm, a);
  if (!rangeMapped(mm, addr, addr + len)) {
    result.out = { kind: "errno", errno: "EFAULT" };
    r.note(MAIN, "-EFAULT");
    r.commit();
    r.mmapWriteUnlock(mm);
    return;
  }
  ops.munmap(na, na + len);
  const pieces = splitAround(k, mm, addr, addr + len).map((vma) => ({ vma, start: vma.vmStart, pages: vma.pages }));
  r.lockNewVmas(mm);
  r.note(MAIN, `munmap ${hexa(na)}+${len}, split source`);
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
    r.lockNewVmas(mm);
    const target = merged ?? nw;
    r.note(MAIN, `copy_vma → ${merged ? "merged into " : ""}${target}, need_rmap_locks=${needRmapLocks}`);
    const rmapLocks = needRmapLocks ? vmaRmapLocks(k, src) : [];
    if (rmapLocks.length > 0) {
      yield { label: "take_rmap_locks", locks: rmapLocks.map((l) => [l, "write"] as const) };
      for (const l of rmapLocks) r.locks.take(MAIN, l, "write");
      r.note(MAIN, "take_rmap_locks");
    }
    for (let i = 0; i < pages; i++) {
      yield { label: "move_pte", locks: [[ptl(mm), "write"]] };
      const from = start + i;
      const to = dst + i;
      r.commit(mm, from);
      moveOne(r, mm, from, to, ops.movePte);
    }
    if (rmapLocks.length > 0) {
      for (const l of rmapLocks) r.locks.drop(MAIN, l);
      r.note(MAIN, "drop_rmap_locks");
    }
  }
  yield { label: "unmap source", locks: mmRmapLocks(mm) };
  ops.munmap(addr, addr + len);
  r.note(MAIN, `munmap source ${hexa(addr)}+${len}`);
  r.commit();
  r.mmapWriteUnlock(mm);
  result.out = { kind: "addr", addr: na };
}

/** One move_ptes() step: the PTE at `from`, or the migration entry there, goes to `to`. */
export function moveOne(r: Race_, mm: Mm, from: number, to: number, movePte: (from: number, to: number) => void): void {
  const entry = r.migrationEntries.get(mm)?.get(from);
  if (entry) {
    // A migration entry moves like any non-present PTE (move_ptes() does not look inside).
    r.entries(mm).delete(from);
    r.entries(mm).set(to, entry);
    r.note(MAIN, `move_pte ${hexa(from)} → ${hexa(to)} (migration entry)`);
  } else if (mm.pt.has(from)) {
    movePte(from, to);
    r.note(MAIN, `move_pte ${hexa(from)} → ${hexa(to)}`);
  } else r.note(MAIN, `move_pte ${hexa(from)}: none`);
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
    r.note(OTHER, `${name}: ${page} not mapped: no anon_vma to walk`);
    return;
  }
  if (lock) r.locks.take(OTHER, lock, "read");
  const order = walkOrder(r.k, page);
  r.k.counters.walks++;
  r.note(OTHER, `${name}: rmap_walk ${page}: ${order.length} vma${order.length === 1 ? "" : "s"}`);
  for (const { vma, addr } of order) {
    yield { label: `${name}: visit ${vma}`, locks: [[ptl(vma.mm), "write"]] };
    r.k.counters.vmasVisited++;
    if (!visit(vma, addr)) break;
  }
  if (lock) r.locks.drop(OTHER, lock);
  r.note(OTHER, `${name}: rmap unlock`);
}

const presentAt = (k: Kernel, vma: Vma, addr: number, page: Page): boolean => k.ptePointsTo(vma.mm, addr, page.pfn);

/** kernel: migrate_pages() → try_to_migrate(), move_to_new_folio(), remove_migration_ptes(). */
export function* migrator(r: Race_, page: Page): Thread {
  const k = r.k;
  // folio_lock(): held across both walks; a fault on a migration entry waits for it
  // (migration_entry_wait_on_locked()), and so does truncate's removal of the page.
  page.flags |= PG_locked;
  r.locks.take(OTHER, page, "write");
  // Each migration entry holds the reference its PTE held; the page is isolated (one more).
  page.count++;
  yield* walk(r, page, "try_to_migrate", (vma, addr) => {
    // kernel: rmap_walk_anon()'s rwc->invalid_vma, try_to_migrate()'s invalid_migration_vma()
    // (a8bef8ff6ea1); the planted B11 bug migrates temporary stacks as before 2.6.34.
    if (isTemporaryStack(vma) && !k.quirks.has("exec-migrates-temporary-stack")) {
      r.note(OTHER, `try_to_migrate: ${vma} is a temporary stack: skipped`);
      return true;
    }
    if (!presentAt(k, vma, addr, page)) {
      r.note(OTHER, `try_to_migrate: ${where(vma.mm, addr)}: not mapped here`);
      return true;
    }
    const pte = vma.mm.pt.get(addr);
    assert(pte?.kind === "present", "KERNEL", "checked above");
    vma.mm.pt.delete(addr);
    r.entries(vma.mm).set(addr, { page, writable: pte.writable, dirty: pte.dirty });
    page.mapcount--;
    r.note(OTHER, `try_to_migrate: ${where(vma.mm, addr)} → migration entry`);
    return page.mapcount > 0; // rwc->done: folio_not_mapped()
  });
  const missed = page.mapcount - mappedInTemporaryStack(k, page);
  if (missed > 0) r.missed.push(`try_to_migrate's walk of ${page} ended with ${missed} PTE(s) still mapping it`);
  let target = page;
  yield { label: "move_to_new_folio", locks: [] };
  if (page.count === 1) {
    // Only the isolation's reference is left: a racing munmap zapped every PTE and migration
    // entry (migrate_folio_unmap(): "page was freed from under us. So we are done.").
    r.note(OTHER, `${page} was freed from under us: done`);
    page.flags &= ~PG_locked;
    r.locks.drop(OTHER, page);
    k.putPage(page, "migrate_pages (freed from under us)");
    return;
  }
  // A file page truncated meanwhile (no longer in its page cache) is not copied: migration
  // puts the entries back (the kernel's folio_migrate_mapping() finds the mapping gone).
  const truncated = page.file !== null && page.file.pageCache.get(page.index) !== page;
  if (page.mapcount === 0 && !truncated) {
    target = k.allocPage();
    // The new folio is locked and referenced by migration until its PTEs are back and migration
    // is done (truncate waits for it, as for the old one; a racing munmap may zap a PTE
    // remove_migration_ptes() has just restored to it).
    target.count++;
    r.locks.take(OTHER, target, "write");
    migrateCopy(k, page, target);
    migrateCaches(k, page, target);
    r.note(OTHER, `move_to_new_folio: ${page} → ${target}`);
  } else r.note(OTHER, truncated ? "truncated meanwhile: migration fails, entries go back" : "still mapped: migration fails, entries go back (-EAGAIN)");
  yield* walk(r, target, "remove_migration_ptes", (vma, addr) => {
    const e = r.migrationEntries.get(vma.mm)?.get(addr);
    if (!e || e.page !== page) {
      r.note(OTHER, `remove_migration_ptes: ${where(vma.mm, addr)}: no entry`);
      return true;
    }
    r.entries(vma.mm).delete(addr);
    vma.mm.pt.set(addr, { kind: "present", pfn: target.pfn, writable: e.writable, dirty: e.dirty, young: true });
    target.mapcount++;
    target.count++;
    page.count--;
    r.note(OTHER, `remove_migration_ptes: ${where(vma.mm, addr)} → ${target}`);
    return true;
  }, () => page.anon && ![...r.migrationEntries.values()].some((m) => [...m.values()].some((e) => e.page === page)));
  page.flags &= ~PG_locked;
  r.locks.drop(OTHER, page);
  if (target !== page) {
    k.counters.migrations++;
    r.locks.drop(OTHER, target);
    k.putPage(target, "migrate_pages (new folio)");
  }
  k.putPage(page, "migrate_pages");
}

/** kernel: shrink_folio_list() → try_to_unmap() for an anon page: swap entries, then free. */
export function* swapper(r: Race_, page: Page): Thread {
  const k = r.k;
  if (!page.anon) return; // file pages: reclaim's sequential path only (not raced here)
  page.flags |= PG_locked;
  r.locks.take(OTHER, page, "write"); // folio_lock(): a swap-in of the page waits for it
  if ((page.flags & PG_swapcache) === 0) k.addToSwapCache(page, k.newSwapSlot(0));
  const slot = page.private;
  assert(slot !== null, "KERNEL", () => `${page} in swap cache without a slot`);
  const entry = k.swap.get(slot);
  assert(entry !== undefined, "KERNEL", () => `${page} in swap cache with a freed slot ${slot}`);
  let locked = false;
  yield* walk(r, page, "try_to_unmap", (vma, addr) => {
    if (!presentAt(k, vma, addr, page)) {
      r.note(OTHER, `try_to_unmap: ${where(vma.mm, addr)}: not mapped here`);
      return true;
    }
    if (vma.vmFlags & VM_LOCKED) {
      locked = true;
      r.note(OTHER, `try_to_unmap: ${vma} is VM_LOCKED: stop`);
      return false;
    }
    const pte = vma.mm.pt.get(addr);
    if (pte?.kind === "present" && pte.dirty) page.flags |= PG_dirty;
    k.design.pageRemove(page, vma, addr);
    vma.mm.pt.set(addr, { kind: "swap", slot });
    entry.count++;
    page.mapcount--;
    page.count--;
    r.note(OTHER, `try_to_unmap: ${where(vma.mm, addr)} → swap entry ${slot}`);
    return page.mapcount > 0;
  });
  page.flags &= ~PG_locked;
  r.locks.drop(OTHER, page);
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
      r.note(OTHER, `folio_referenced: ${where(vma.mm, addr)}: not mapped here`);
      return true;
    }
    const pte = vma.mm.pt.get(addr);
    assert(pte?.kind === "present", "KERNEL", "checked above");
    found++;
    if (pte.young) referenced++;
    r.note(OTHER, `folio_referenced: ${where(vma.mm, addr)}${pte.young ? " young: cleared" : ": not young"}`);
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
  const walker = race.walker === "migrate" ? migrator : race.walker === "swapout" ? swapper : race.walker === "referenced" ? referencer : null;
  if (walker === null) {
    // A fault races only the commands that place it in their order (runRace: fork, truncate, mremap).
    r.note(OTHER, `${race.walker}: a fault does not race this command`);
    return null;
  }
  if (page && (page.flags & PG_locked) === 0 && page.mapcount > 0 && (page.anon || race.walker !== "swapout")) return walker(r, page);
  r.note(OTHER, `${race.walker}: no page to walk at mm${race.mm}:${hexa(race.addr)}`);
  return null;
}

/**
 * After a race: I10 (what a walk missed, migration entries left), then no lock may be held.
 * The interleaving is kept (Kernel.lastRaceTrace) for a failure the checks find later.
 */
export function finishRace(r: Race_, main: string, other = "walker"): void {
  const k = r.k;
  k.lastRaceTrace = traceColumns(r.trace, main, other);
  const left: string[] = [];
  for (const [m, entries] of r.migrationEntries) for (const [a, e] of entries) left.push(`a migration entry for ${e.page} at ${where(m, a)}`);
  const broken = [...r.missed, ...(left.length > 0 ? [`migration left ${left.join(", ")}`] : [])];
  assert(broken.length === 0, "I10", () => `${broken.join("; ")}\n${k.lastRaceTrace}`);
  assert(!r.locks.holdsAny(MAIN) && !r.locks.holdsAny(OTHER), "KERNEL", "a race ended holding a lock");
}

// --- the fault thread -------------------------------------------------------------------------

const outcomeOf = (v: number | "SIGSEGV" | "SIGBUS" | undefined): Outcome =>
  v === undefined ? { kind: "ok" } : typeof v === "number" ? { kind: "value", value: v } : { kind: "signal", signal: v };

/**
 * The page lock a fault at (mm, addr) must take before it touches the PTE: a migration
 * entry's page (migration_entry_wait_on_locked()), a swap-cache page being swapped out
 * (do_swap_page()'s folio_lock_or_retry()).
 */
function faultPageLocks(r: Race_, mm: Mm, addr: number): LockList {
  const e = r.migrationEntries.get(mm)?.get(addr);
  if (e) return [[e.page, "read"]];
  const pte = mm.pt.get(addr);
  const cached = pte?.kind === "swap" ? r.k.swapCache.get(pte.slot) : undefined;
  return cached ? [[cached, "read"]] : [];
}

/**
 * A page fault by another thread of process `race.mm` at `race.addr`, step-wise (mm/memory.c):
 *
 *  1. lock_vma_under_rcu(): find the vma and vma_start_read() it (per-VMA lock eras, 6.4+);
 *     otherwise, or when it finds no vma, mmap_read_lock() (lock_mm_and_find_vma()). A vma
 *     the command write-locked makes it wait (the kernel falls back to mmap_read_lock, which
 *     waits for mmap_write_unlock: the same moment here).
 *  2. anon_vma_prepare() (a write fault that will need an anonymous page in a vma without one).
 *  3. anonymous memory and present or swap PTEs: do_anonymous_page() / do_wp_page() /
 *     do_swap_page(): allocate and install the PTE under the PTE lock (one step: the kernel
 *     rechecks the PTE under the lock after allocating), then the access itself. File pages:
 *     3a. filemap_fault(): find (or read) the page, lock it, check i_size (SIGBUS beyond it);
 *     3b. finish_fault(): map it under the PTE lock (a private write maps a copy), unlock it.
 *  Then vma_end_read() / mmap_read_unlock().
 *
 * The fault's linearization point (Race_.commit) is its access (anonymous) or its i_size
 * check (file pages: what it maps after that is the page it found, which truncate must unmap).
 */
function* faulter(r: Race_, race: Race): Thread {
  const k = r.k;
  const write = race.walker === "write";
  const mm = k.mms.get(race.mm) as Mm;
  const addr = race.addr;
  const f = r.fault as NonNullable<Race_["fault"]>;
  const name = write ? `write(mm${mm.id}, ${hexa(addr)}, ${race.token ?? 0})` : `read(mm${mm.id}, ${hexa(addr)})`;
  yield {
    label: `${name}: lock_vma_under_rcu`,
    locks: () => {
      const v = findVma(mm, addr);
      return r.perVma && v ? [[v, "read"]] : [[mm, "read"]];
    },
  };
  const vma = findVma(mm, addr);
  const held: unknown = r.perVma && vma ? vma : mm;
  r.locks.take(OTHER, held, "read");
  r.note(OTHER, `${name}: ${held === mm ? `mmap_read_lock(mm${mm.id})` : `lock_vma_under_rcu → vma_start_read(${vma})`}`);
  const finish = (out: Outcome): void => {
    f.out = out;
    r.linearize(f.after === undefined ? "pte" : "install");
    r.locks.drop(OTHER, held);
    r.note(OTHER, `${name} → ${out.kind === "value" ? `= ${out.value}` : out.kind === "signal" ? out.signal : "0"}, ${held === mm ? "mmap_read_unlock" : "vma_end_read"}`);
  };
  if (!vma || (write && (vma.vmFlags & VM_WRITE) === 0)) {
    finish({ kind: "signal", signal: "SIGSEGV" });
    return;
  }
  const pte0 = mm.pt.get(addr);
  if (write && !isShared(vma) && !(pte0?.kind === "present" && pte0.writable) && !k.design.hasAnonObject(vma)) {
    yield { label: `${name}: anon_vma_prepare`, locks: [[ptl(mm), "write"]] };
    k.design.anonPrepare(vma);
    r.note(OTHER, `${name}: anon_vma_prepare(${vma})`);
  }
  const file = vma.vmFile;
  if (file && !mm.pt.has(addr) && !r.migrationEntries.get(mm)?.has(addr)) {
    const index = linearPageIndex(vma, addr);
    yield {
      label: `${name}: filemap_fault`,
      locks: () => {
        const cached = file.pageCache.get(index);
        return cached ? [[cached, "write"]] : [];
      },
    };
    r.linearize("check");
    if (index >= file.size) {
      finish({ kind: "signal", signal: "SIGBUS" });
      return;
    }
    const page = k.filePage(file, index);
    page.count++; // the fault's own reference (filemap_fault's folio_get)
    const pageLock = !k.quirks.has("fault-no-page-lock");
    if (pageLock) r.locks.take(OTHER, page, "write");
    r.note(OTHER, `${name}: filemap_fault: ${page}${pageLock ? " locked" : ""}, index ${index} < i_size ${file.size}`);
    yield { label: `${name}: finish_fault`, locks: [[ptl(mm), "write"]] };
    let out: Outcome;
    if (mm.pt.has(addr)) out = outcomeOf(k.access(mm, addr, write, race.token ?? 0)); // raced in: retry
    else {
      let pte: PresentPte;
      if (write && !isShared(vma)) pte = k.cowCopy(vma, addr, page, false); // do_cow_fault()
      else {
        k.design.pageAddFile(page, vma, addr);
        pte = k.setPte(vma, addr, page, write);
      }
      pte.young = true;
      if (write) {
        if (isShared(vma)) page.flags |= PG_dirty;
        k.frameData[pte.pfn] = race.token ?? 0;
        pte.dirty = true;
        out = { kind: "ok" };
      } else out = { kind: "value", value: k.frameData[pte.pfn] as number };
    }
    if (pageLock) r.locks.drop(OTHER, page);
    k.putPage(page, "filemap_fault");
    finish(out);
    return;
  }
  yield { label: `${name}: handle_pte_fault`, locks: () => [[ptl(mm), "write"], ...faultPageLocks(r, mm, addr)] };
  finish(outcomeOf(k.access(mm, addr, write, race.token ?? 0)));
}

// --- the scheduler ----------------------------------------------------------------------------

/** A bound on the steps of one race: far above what our address spaces need. */
const raceStepMax = 10_000;

const locksOf = (w: Want): LockList => (typeof w.locks === "function" ? w.locks() : w.locks);

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
    return w !== undefined && locksOf(w).every(([key, mode]) => r.locks.can(i, key, mode));
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

/** The race's interleaving as two columns (the command | the walker or fault), one step a row. */
export function traceColumns(trace: readonly { thread: number; text: string }[], main = "mremap", other = "walker"): string {
  const width = Math.max(main.length, ...trace.filter((t) => t.thread === MAIN).map((t) => t.text.length));
  const rows = [`${main.padEnd(width)} | ${other}`, `${"-".repeat(width)}-+-${"-".repeat(other.length)}`];
  for (const t of trace) rows.push(t.thread === MAIN ? t.text : `${" ".repeat(width)} | ${t.text}`);
  return rows.join("\n");
}

/**
 * One race: the command's thread against the thread `race` names (a walker of the page
 * mapped at race.mm:race.addr, or a fault there), by race.schedule. Throws I10 (with the
 * interleaving) if a walk missed a PTE or migration left an entry. A racing fault's outcome
 * and its place in the command's sequential order go to k.lastFault.
 */
export function runRace(r: Race_, main: Thread, race: Race, mainName: string, faults = true): void {
  const k = r.k;
  k.counters.races++;
  const threads: Thread[] = [main];
  let other = "walker";
  if (faults && (race.walker === "write" || race.walker === "read")) {
    other = "fault";
    if (k.mms.has(race.mm)) {
      r.fault = { mm: race.mm, addr: race.addr, linearized: false };
      threads.push(faulter(r, race));
    } else r.note(OTHER, `${race.walker}: no mm${race.mm}`);
  } else {
    const walker = walkerFor(r, race);
    if (walker) threads.push(walker);
  }
  try {
    schedule(r, threads, race.schedule);
  } catch (e) {
    // An invariant broken inside a step (I4: a freed vma or page touched) is rethrown with the
    // interleaving up to that step.
    if (e instanceof InvariantError && e.invariant !== "I10") {
      throw new InvariantError(e.invariant, `${e.detail}\n${traceColumns(r.trace, mainName, other)}`, e.objects);
    }
    throw e;
  }
  finishRace(r, mainName, other);
  if (r.fault?.out) k.lastFault = { order: r.order ?? "after", outcome: r.fault.out, trace: k.lastRaceTrace };
}

/**
 * kernel: sys_mremap(MREMAP_FIXED) racing the walker or fault `race` names. Returns the
 * mremap's outcome; throws I10 (with the interleaving) if the walk missed a PTE or left a
 * migration entry.
 */
export function raceMremap(k: Kernel, mm: Mm, addr: number, len: number, na: number, race: Race, ops: MoveOps): Outcome {
  const r = new Race_(k);
  const result: { out: Outcome } = { out: { kind: "addr", addr: na } };
  runRace(r, mover(r, mm, addr, len, na, result, ops), race, "mremap");
  return result.out;
}

/** Is this mremap one interleaving mode races (MREMAP_FIXED, same length, valid)? */
export function racesWith(k: Kernel, addr: number, len: number, newLen: number, na: number | undefined): na is number {
  if (na === undefined || newLen !== len) return false;
  if (!(len >= 1 && addr >= 1 && addr + len <= k.world.vpnLimit)) return false;
  if (na < k.world.mmapBase || na + len > k.world.vpnLimit) return false;
  return !(na < addr + len && addr < na + len);
}
