/*
 * The checkers: separate observers of the kernel and the model (TigerBeetle's style), run
 * after every step. Each returns the first violation it finds as a Violation, naming the
 * invariant of primer §5 (or "SEMANTIC" when a process would observe something the model
 * forbids).
 */
import { type Observed, type ModelState, observe } from "../model/semantic.js";
import { type Ref, refAll, refKey } from "../model/oracle.js";
import { InvariantError } from "../impl/assert.js";
import type { Kernel } from "../impl/kernel.js";
import { findVma } from "../impl/mmap.js";
import { PG_swapcache, type Page, VM_LOCKED, VM_WRITE } from "../impl/types.js";

export type CheckId = "I1" | "I2" | "I3" | "I4" | "I5" | "I6" | "I7" | "I8" | "I9" | "I10" | "I11" | "SEMANTIC" | "KERNEL";

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
  const live = k.design.slab.usage().filter((u) => u.live > 0);
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
    return checkSemantic(k, model, mms);
  }, k);
}

/** Every per-step check, in order of how much they explain. */
export function checkAll(k: Kernel, model: ModelState): Violation | undefined {
  return guarded(() => checkRmap(k) ?? checkStructures(k) ?? checkSemantic(k, model), k);
}
