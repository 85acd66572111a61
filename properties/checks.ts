/*
 * The checkers: separate observers of the kernel and the model (TigerBeetle's style), run
 * after every step. Each returns the first violation it finds as a Violation, naming the
 * invariant of primer §5 (or "SEMANTIC" when a process would observe something the model
 * forbids).
 */
import type { Cmd } from "../model/commands.js";
import { type MFile, type Observed, type ModelState, observe } from "../model/semantic.js";
import { type Ref, refAll, refKey } from "../model/oracle.js";
import { InvariantError } from "../impl/assert.js";
import { Counters } from "../impl/design.js";
import type { Kernel } from "../impl/kernel.js";
import { findVma } from "../impl/mmap.js";
import { PG_swapcache, type Page, VM_LOCKED, VM_WRITE, type Vma } from "../impl/types.js";

export type CheckId = "I1" | "I2" | "I3" | "I4" | "I5" | "I6" | "I7" | "I8" | "I9" | "I10" | "I11" | "I12" | "I13" | "I14" | "SEMANTIC" | "KERNEL";

export interface Violation {
  readonly invariant: CheckId;
  readonly message: string;
  readonly expected?: string;
  readonly actual?: string;
  /** For walk divergences: the page and the two sets, in rmap terms. */
  readonly page?: { pfn: number; describe: string; ref: string[]; walk: string[] };
}

/**
 * Run a checker, turning an InvariantError thrown inside the kernel or design into a
 * Violation. The checker's own walks must not count as the workload's work, so the kernel's
 * counters are restored afterwards.
 */
export function guarded(fn: () => Violation | undefined, k?: Kernel): Violation | undefined {
  const saved = k ? { ...k.counters } : undefined;
  try {
    return fn();
  } catch (e) {
    if (e instanceof InvariantError) return { invariant: e.invariant, message: e.detail };
    // A crash inside a design or the kernel (a TypeError on a bad pointer, say) is a finding.
    return { invariant: "KERNEL", message: `crash: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    if (k && saved) Object.assign(k.counters, saved);
  }
}

const show = (o: Observed): string => (typeof o === "number" ? String(o) : o);

/** S: every process observes exactly what the model says, page by page (no faults taken). */
export function checkSemantic(k: Kernel, model: ModelState, only?: readonly number[]): Violation | undefined {
  const modelIds = Object.keys(model.mms).map(Number);
  const kernelIds = [...k.mms.keys()];
  if (modelIds.length !== kernelIds.length || modelIds.some((id) => !k.mms.has(id))) {
    return { invariant: "SEMANTIC", message: "different processes", expected: modelIds.join(","), actual: kernelIds.join(",") };
  }
  for (const id of only ?? modelIds) {
    const mm = k.mms.get(id);
    const pages = model.mms[id];
    if (!mm || !pages) continue;
    // Pages outside every vma read SIGSEGV in the kernel; the model must not map them either.
    for (const vma of mm.vmas) {
      for (let addr = vma.vmStart; addr < vma.vmEnd; addr++) {
        if (!pages[addr]) return mismatch(id, addr, "SIGSEGV", k.peek(mm, addr));
      }
    }
    for (const key in pages) {
      const addr = Number(key);
      const p = pages[addr] as NonNullable<(typeof pages)[number]>;
      const want = observe(model, id, addr);
      const got = k.peek(mm, addr);
      if (want !== got) return mismatch(id, addr, want, got);
      const vma = findVma(mm, addr);
      const writable = vma !== undefined && (vma.vmFlags & VM_WRITE) !== 0;
      const locked = vma !== undefined && (vma.vmFlags & VM_LOCKED) !== 0;
      if (writable !== (p.prot === "rw") || locked !== p.locked) {
        return {
          invariant: "SEMANTIC",
          message: `mm${id} at 0x${addr.toString(16)}: vma flags ${writable ? "rw" : "r"}${locked ? "+locked" : ""}, the model says ${p.prot}${p.locked ? "+locked" : ""}`,
        };
      }
    }
  }
  return undefined;
}

function mismatch(id: number, addr: number, want: Observed, got: Observed): Violation {
  return {
    invariant: "SEMANTIC",
    message: `mm${id} at 0x${addr.toString(16)} would read ${show(got)}, the model says ${show(want)}`,
    expected: show(want),
    actual: show(got),
  };
}

/** I1–I3 and the page half of I8: every page's walk against the brute-force Ref(X). */
export function checkRmap(k: Kernel): Violation | undefined {
  const refs = refAll(k.mms.values());
  for (const [frame, list] of refs) {
    if (!k.pageAt(frame as never)) {
      return { invariant: "KERNEL", message: `PTE ${refKey(list[0] as Ref)} maps free frame ${frame}` };
    }
  }
  for (const page of k.pages()) {
    const ref = refs.get(page.pfn) ?? [];
    const v = checkPage(k, page, ref);
    if (v) return v;
  }
  return undefined;
}

export function checkPage(k: Kernel, page: Page, ref: readonly Ref[]): Violation | undefined {
  const walked: Ref[] = [];
  k.design.walk(page, (vma, addr) => {
    walked.push({ mm: vma.mm.id, addr });
    return true;
  });
  const refKeys = ref.map(refKey);
  const walkKeys = walked.map(refKey);
  const walkSet = new Set(walkKeys);
  const refSet = new Set(refKeys);
  const detail = { pfn: page.pfn, describe: String(page), ref: refKeys, walk: walkKeys };
  const missed = refKeys.filter((r) => !walkSet.has(r));
  if (missed.length > 0) {
    return { invariant: "I1", message: `${page}: the walk missed ${missed.join(", ")}`, page: detail };
  }
  const extra = walkKeys.filter((r) => !refSet.has(r));
  if (extra.length > 0 || walkSet.size !== walkKeys.length) {
    return { invariant: "I2", message: `${page}: the walk reported ${extra.join(", ") || "a PTE twice"}, which does not map it`, page: detail };
  }
  if (page.mapcount !== ref.length) {
    return { invariant: "I3", message: `${page}: mapcount ${page.mapcount}, but ${ref.length} PTEs map it`, page: detail };
  }
  const inCache = page.file !== null && page.file.pageCache.get(page.index) === page ? 1 : 0;
  const inSwap = page.flags & PG_swapcache ? 1 : 0;
  if (page.count !== page.mapcount + inCache + inSwap) {
    return { invariant: "I8", message: `${page}: count ${page.count} ≠ mapcount ${page.mapcount} + page cache ${inCache} + swap cache ${inSwap}` };
  }
  return undefined;
}

/** The design's own structural checks and each file's i_mmap (I11). */
export function checkStructures(k: Kernel): Violation | undefined {
  k.design.check();
  for (const file of k.files) file.iMmap.check();
  return undefined;
}

/** I9: after every mm has exited, nothing anonymous, no swap and no design object is left. */
export function checkNoLeaks(k: Kernel): Violation | undefined {
  for (const page of k.pages()) {
    if (page.anon || page.mapcount > 0 || !page.file) {
      return { invariant: "I9", message: `${page} outlives every process (mapcount ${page.mapcount}, count ${page.count})` };
    }
  }
  if (k.swap.size > 0) return { invariant: "I9", message: `${k.swap.size} swap slot(s) outlive every process` };
  const live = k.design.slab.liveCount() === 0 ? [] : k.design.slab.usage().filter((u) => u.live > 0);
  if (live.length > 0) {
    return { invariant: "I9", message: `leaked: ${live.map((u) => `${u.live} ${u.kind}`).join(", ")}` };
  }
  for (const file of k.files) {
    if (file.iMmap.size() > 0) return { invariant: "I9", message: `file${file.id}'s i_mmap still holds ${file.iMmap.size()} vma(s)` };
  }
  return undefined;
}

/**
 * The incremental check: the walks of the given frames against Ref(X), and the given
 * processes' views. Structures (design.check, i_mmap) wait for the next full check.
 */
export function checkTouched(k: Kernel, model: ModelState, mms: readonly number[], pfns: ReadonlySet<number>): Violation | undefined {
  return guarded(() => {
    if (pfns.size > 0) {
      const refs = refAll(k.mms.values());
      for (const frame of pfns) {
        const page = k.pageAt(frame as never);
        if (!page) continue;
        const v = checkPage(k, page, refs.get(frame) ?? []);
        if (v) return v;
      }
    }
    k.folio?.check(); // large folios (I12-I14): few, global, checked at every step
    return checkSemantic(k, model, mms);
  }, k);
}

/** Every per-step check, in order of how much they explain. */
export function checkAll(k: Kernel, model: ModelState): Violation | undefined {
  return guarded(() => checkRmap(k) ?? checkStructures(k) ?? checkSemantic(k, model), k);
}

/*
 * The fast path of the same checks: "detect fast, explain slowly". Each fast checker tests
 * exactly the conditions of its counterpart above, without building a string, a Ref or a Set;
 * when one of them sees a violation (or the kernel or design throws), the counterpart runs to
 * produce the Violation, so every message is the one the full checker gives.
 * properties/fastpath.test.ts holds the two to the same verdicts.
 */

/**
 * Scratch space of the fast checkers, reused across steps and kernels: checks run to
 * completion one at a time in a thread (each worker thread has its own module instance).
 */
class Scratch {
  /** PTEs mapping each frame (Ref(X)'s size), filled per check. */
  refCount = new Int32Array(64);
  /** Visit stamps per (mm, addr) slot, so a duplicate visit or a PTE counted twice shows. */
  stamp = new Int32Array(256);
  generation = 0;
  /** The counters the kernel bumps while the fast checkers walk (thrown away). */
  readonly counters = new Counters();
}
const theScratch = new Scratch();
const scratchOf = (_k: Kernel): Scratch => theScratch;

/**
 * checkRmap's verdict without its explanation: true when every page's walk equals Ref(X), its
 * mapcount is |Ref(X)| and its count adds up (I1–I3, I8). With `pfns`, only those frames'
 * walks (checkTouched's part), and PTEs to free frames are left to the next full check.
 */
function rmapHolds(k: Kernel, s: Scratch, pfns?: ReadonlySet<number>): boolean {
  const frames = k.frames;
  if (s.refCount.length < frames.length) s.refCount = new Int32Array(frames.length * 2);
  const refCount = s.refCount;
  refCount.fill(0, 0, frames.length);
  for (const mm of k.mms.values()) {
    for (const pte of mm.pt.values()) {
      if (pte.kind !== "present") continue;
      if (frames[pte.pfn] == null) {
        if (pfns === undefined) return false; // a PTE to a free frame
        continue;
      }
      (refCount[pte.pfn] as number)++;
    }
  }
  const vpnLimit = k.world.vpnLimit;
  const mms = k.mms;
  let ok = true;
  let walked = 0;
  let pfn = -1;
  let gen = 0;
  // One visitor for every page of this check. A visit counts if the live mm of that id has a
  // present PTE there mapping the page (Ref(X) membership) and it is the first visit there.
  const visit = (vma: Vma, addr: number): boolean => {
    const pte = mms.get(vma.mm.id)?.pt.get(addr);
    if (pte === undefined || pte.kind !== "present" || pte.pfn !== pfn || !(addr >= 0 && addr < vpnLimit)) {
      ok = false;
      return true;
    }
    const slot = vma.mm.id * vpnLimit + addr;
    if (slot >= s.stamp.length) {
      const grown = new Int32Array(Math.max(slot + 1, s.stamp.length * 2));
      grown.set(s.stamp);
      s.stamp = grown;
    }
    if (s.stamp[slot] === gen) ok = false;
    s.stamp[slot] = gen;
    walked++;
    return true;
  };
  const one = (p: Page): boolean => {
    pfn = p.pfn;
    walked = 0;
    gen = ++s.generation;
    k.design.walk(p, visit);
    const ref = refCount[p.pfn] as number;
    if (!ok || walked !== ref || p.mapcount !== ref) return false;
    const inCache = p.file !== null && p.file.pageCache.get(p.index) === p ? 1 : 0;
    const inSwap = p.flags & PG_swapcache ? 1 : 0;
    return p.count === p.mapcount + inCache + inSwap;
  };
  if (pfns !== undefined) {
    for (const frame of pfns) {
      const p = frames[frame];
      if (p && !one(p)) return false;
    }
    return true;
  }
  for (const p of frames) if (p && !one(p)) return false;
  return true;
}

/**
 * What the fast semantic check needs to know of the model beyond its pages: how many processes
 * and how many mapped pages each has. Both are pure functions of the model state, recounted
 * after each step only where that step can change them (model/semantic.ts: only fork and exit
 * add or remove processes; only mmap, munmap, mremap and exec change which pages an mm has, and a
 * fork makes its child's; the rest change what pages hold, not which exist). The fast-path
 * test holds the census to a recount from scratch after every step.
 */
export class ModelCensus {
  mms = 0;
  readonly pages = new Map<number, number>();

  constructor(
    model: ModelState,
    private readonly vpnLimit: number,
  ) {
    this.mms = Object.keys(model.mms).length;
    for (const id of Object.keys(model.mms)) this.recount(model, Number(id));
  }

  /** After `cmd` was applied to the model (and not skipped). */
  after(model: ModelState, cmd: Cmd): void {
    switch (cmd.op) {
      case "fork":
        this.mms = Object.keys(model.mms).length;
        this.recount(model, cmd.child);
        return;
      case "exit":
        this.mms = Object.keys(model.mms).length;
        this.recount(model, cmd.mm);
        return;
      case "mmap":
      case "munmap":
      case "mremap":
      case "exec":
        this.recount(model, cmd.mm);
        return;
      default:
        // The rest replace existing pages (mprotect, mlock, madvise, write) or none.
        return;
    }
  }

  private recount(model: ModelState, id: number): void {
    const pages = model.mms[id];
    if (pages === undefined) {
      this.pages.delete(id);
      return;
    }
    let n = 0;
    for (let a = 0; a < this.vpnLimit; a++) if (pages[a] !== undefined) n++;
    this.pages.set(id, n);
  }
}

/** checkSemantic's verdict without its explanation (every mm, or `only`). */
function semanticHolds(k: Kernel, model: ModelState, census: ModelCensus, only?: readonly number[]): boolean {
  // The same processes on both sides: as many, and every kernel mm in the model.
  if (census.mms !== k.mms.size) return false;
  for (const id of k.mms.keys()) if (model.mms[id] === undefined) return false;
  if (only) {
    for (const id of only) if (!mmHolds(k, model, census, id)) return false;
    return true;
  }
  for (const id of k.mms.keys()) if (!mmHolds(k, model, census, id)) return false;
  return true;
}

/**
 * One process: every vma page is in the model and reads what it says, and the model has no
 * page beyond those (one outside every vma would read SIGSEGV in the kernel).
 */
function mmHolds(k: Kernel, model: ModelState, census: ModelCensus, id: number): boolean {
  const mm = k.mms.get(id);
  const pages = model.mms[id];
  if (!mm || !pages) return true;
  const files = model.files;
  let inVmas = 0;
  for (const vma of mm.vmas) {
    const writable = (vma.vmFlags & VM_WRITE) !== 0;
    const locked = (vma.vmFlags & VM_LOCKED) !== 0;
    for (let addr = vma.vmStart; addr < vma.vmEnd; addr++) {
      const p = pages[addr];
      if (p === undefined) return false;
      inVmas++;
      // observe(), inlined on the page already in hand.
      let want: number | "SIGBUS";
      if (p.data !== undefined) want = p.data;
      else if (p.kind === "anon") want = 0;
      else {
        const file = files[p.file] as MFile;
        want = p.pgoff >= file.size ? "SIGBUS" : (file.data[p.pgoff] ?? 0);
      }
      if (want !== k.peekIn(mm, vma, addr)) return false;
      if (writable !== (p.prot === "rw") || locked !== p.locked) return false;
    }
  }
  return inVmas === census.pages.get(id);
}

/** The fast path of checkAll: the same verdict, and the same Violation when there is one. */
export function checkAllFast(k: Kernel, model: ModelState, census: ModelCensus): Violation | undefined {
  return explainIfBroken(k, () => rmapHolds(k, scratchOf(k)) && structuresHold(k) && semanticHolds(k, model, census), () => checkAll(k, model));
}

/** The fast path of checkTouched. */
export function checkTouchedFast(k: Kernel, model: ModelState, census: ModelCensus, mms: readonly number[], pfns: ReadonlySet<number>): Violation | undefined {
  return explainIfBroken(
    k,
    () => (pfns.size === 0 || rmapHolds(k, scratchOf(k), pfns)) && (k.folio === undefined || folioHolds(k)) && semanticHolds(k, model, census, mms),
    () => checkTouched(k, model, mms, pfns),
  );
}

function folioHolds(k: Kernel): boolean {
  k.folio?.check();
  return true;
}

function structuresHold(k: Kernel): boolean {
  k.design.check();
  for (const file of k.files) file.iMmap.check();
  return true;
}

function explainIfBroken(k: Kernel, holds: () => boolean, explain: () => Violation | undefined): Violation | undefined {
  const workload = k.counters;
  k.counters = scratchOf(k).counters;
  let ok: boolean;
  try {
    ok = holds();
  } catch {
    ok = false;
  } finally {
    k.counters = workload;
  }
  if (ok) return undefined;
  return (
    explain() ?? {
      invariant: "KERNEL",
      message: "rmapcheck internal error: the fast checker saw a violation the full checker does not (please report)",
    }
  );
}
