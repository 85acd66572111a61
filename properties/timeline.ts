/*
 * A shrink report replayed into frames, one per step, for `rmapcheck view`: what each step
 * did (the syscall, the model's and the kernel's outcomes), every mm's address space (vmas,
 * PTEs present or swapped, the model's view of each page), the design's reverse map as a
 * graph (impl/snapshot.ts), and every mapped page's walk against Ref(X), so the page can show
 * the PTEs a walk visited and the one it missed.
 *
 * Frames are computed by replaying the report's commands. cli/reports.ts stores them in every
 * report it writes (the `timeline` field), and `view` draws that record; reports written before
 * the record existed, and `view --design OTHER`, are replayed when viewed.
 * The replay is the interpreter's own (Session, every check after every step); the extra work
 * here (snapshots, walks) counts no work on the kernel's counters and changes no state.
 */
import { type Cmd, cmdToString, outcomeToString, sameOutcome } from "../model/commands.js";
import { type Ref, refAll, refKey } from "../model/oracle.js";
import type { ModelState } from "../model/semantic.js";
import { Counters, type DesignInfo } from "../impl/design.js";
import type { Kernel } from "../impl/kernel.js";
import { type RmapGraph, rmapGraph } from "../impl/snapshot.js";
import { VM_LOCKED, VM_SHARED, VM_WRITE } from "../impl/types.js";
import { type CheckId, type Violation, checkNoLeaks, guarded } from "./checks.js";
import { Session, type StepRecord } from "./interpreter.js";
import type { ShrinkReport } from "./report-schema.js";
import { whyItMatters } from "./report.js";

export interface VmaFrame {
  /** The graph's node id (vma#N). */
  readonly id: string;
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  readonly pgoff: number;
  readonly kind: "anon" | "private-file" | "shared-file";
  readonly file?: number;
  readonly prot: "r" | "rw";
  readonly locked: boolean;
}

/** A PTE: present (mapping pfn) or a swap entry. Pages of a vma with no PTE are not faulted. */
export interface PteFrame {
  readonly vpn: number;
  readonly state: "present" | "swap";
  readonly pfn?: number;
  readonly slot?: number;
  readonly writable?: boolean;
}

/** What the model says the process observes at a page (no pages, no PTEs: docs/semantics.md). */
export interface ModelPageFrame {
  readonly vpn: number;
  readonly kind: "anon" | "private-file" | "shared-file";
  readonly prot: "r" | "rw";
  readonly locked: boolean;
  /** The value the process wrote (private memory); absent = zero or the file's contents. */
  readonly data?: number;
}

export interface MmFrame {
  readonly id: number;
  readonly vmas: VmaFrame[];
  readonly ptes: PteFrame[];
  readonly model: ModelPageFrame[];
}

/** One page's walk against Ref(X) (I1: missed, I2: extra), PTEs as "mmN:0xADDR". */
export interface WalkFrame {
  readonly pfn: number;
  readonly page: string;
  readonly mapcount: number;
  readonly ref: string[];
  readonly walk: string[];
  readonly missed: string[];
  readonly extra: string[];
  /** The walk crashed (a use-after-free, say): its message. */
  readonly error?: string;
}

export interface Frame {
  /** The command's index in the report (-1: the state before the first command). */
  readonly step: number;
  readonly cmd?: string;
  /** One of the final exits after the report's commands (runSequence's exit-all). */
  readonly finalExit?: boolean;
  readonly model?: string;
  readonly kernel?: string;
  readonly agree?: boolean;
  readonly violation?: { readonly invariant: CheckId; readonly message: string; readonly why: string };
  readonly mms: MmFrame[];
  readonly graph: RmapGraph;
  /** The design's snapshot threw on this (broken) state: its message. */
  readonly graphError?: string;
  readonly walks: WalkFrame[];
}

export interface Timeline {
  readonly design: string;
  readonly era: string;
  readonly title: string;
  readonly recorded: { readonly invariant: CheckId; readonly message: string; readonly step: number };
  readonly world: { readonly vpnLimit: number };
  readonly frames: Frame[];
  /** The frame where the replay failed (undefined: it no longer fails). */
  readonly failingFrame?: number;
  /**
   * What to look at: the page whose walk went wrong (the failure's, or one mapped by the vmas
   * its message names), those vmas, and the PTEs the walk missed at the failing frame.
   */
  readonly suspect: { readonly pfn?: number; readonly vmas: string[]; readonly missed: string[] };
}

const vmaKind = (flags: number, file: boolean): VmaFrame["kind"] => (!file ? "anon" : flags & VM_SHARED ? "shared-file" : "private-file");

function mmFrames(k: Kernel, model: ModelState): MmFrame[] {
  const ids = [...new Set([...k.mms.keys(), ...Object.keys(model.mms).map(Number)])].sort((a, b) => a - b);
  return ids.map((id) => {
    const mm = k.mms.get(id);
    const vmas: VmaFrame[] = (mm?.vmas ?? []).map((v) => ({
      id: `vma#${v.oid}`,
      start: v.vmStart,
      end: v.vmEnd,
      pgoff: v.vmPgoff,
      kind: vmaKind(v.vmFlags, v.vmFile !== null),
      ...(v.vmFile ? { file: v.vmFile.id } : {}),
      prot: v.vmFlags & VM_WRITE ? "rw" : "r",
      locked: (v.vmFlags & VM_LOCKED) !== 0,
    }));
    const ptes: PteFrame[] = [...(mm?.pt ?? new Map()).entries()]
      .sort(([a], [b]) => a - b)
      .map(([vpn, pte]) =>
        pte.kind === "present" ? { vpn, state: "present" as const, pfn: pte.pfn, writable: pte.writable } : { vpn, state: "swap" as const, slot: pte.slot },
      );
    const pages = model.mms[id] ?? {};
    const modelPages: ModelPageFrame[] = Object.entries(pages)
      .map(([vpn, p]) => ({ vpn: Number(vpn), kind: p.kind, prot: p.prot, locked: p.locked, ...(p.data !== undefined ? { data: p.data } : {}) }))
      .sort((a, b) => a.vpn - b.vpn);
    return { id, vmas, ptes, model: modelPages };
  });
}

/** Every mapped page's walk against Ref(X); the kernel's counters are left as they were. */
function walkFrames(k: Kernel): WalkFrame[] {
  const refs = refAll(k.mms.values());
  const saved = k.counters;
  k.counters = new Counters();
  try {
    const out: WalkFrame[] = [];
    for (const page of k.pages()) {
      const ref = (refs.get(page.pfn) ?? []).map(refKey);
      if (ref.length === 0 && page.mapcount === 0) continue;
      const walked: Ref[] = [];
      let error: string | undefined;
      try {
        k.design.walk(page, (vma, addr) => {
          walked.push({ mm: vma.mm.id, addr });
          return true;
        });
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      const walk = walked.map(refKey);
      out.push({
        pfn: page.pfn,
        page: String(page),
        mapcount: page.mapcount,
        ref,
        walk,
        missed: ref.filter((r) => !walk.includes(r)),
        extra: walk.filter((w) => !ref.includes(w)),
        ...(error !== undefined ? { error } : {}),
      });
    }
    return out;
  } finally {
    k.counters = saved;
  }
}

function snapshotFrame(s: Session, base: Omit<Frame, "mms" | "graph" | "walks" | "graphError">): Frame {
  let graph: RmapGraph = { nodes: [], edges: [] };
  let graphError: string | undefined;
  const saved = s.kernel.counters;
  s.kernel.counters = new Counters();
  try {
    graph = rmapGraph(s.kernel);
  } catch (e) {
    graphError = e instanceof Error ? e.message : String(e);
  } finally {
    s.kernel.counters = saved;
  }
  return { ...base, mms: mmFrames(s.kernel, s.model), graph, ...(graphError !== undefined ? { graphError } : {}), walks: walkFrames(s.kernel) };
}

function stepFrame(s: Session, rec: StepRecord, violation: Violation | undefined, finalExit: boolean): Frame {
  return snapshotFrame(s, {
    step: rec.index,
    cmd: cmdToString(rec.cmd),
    ...(finalExit ? { finalExit } : {}),
    model: outcomeToString(rec.model),
    kernel: outcomeToString(rec.kernel),
    agree: sameOutcome(rec.model, rec.kernel),
    ...(violation ? { violation: { invariant: violation.invariant, message: violation.message, why: whyItMatters[violation.invariant] } } : {}),
  });
}

/**
 * Replay `report` against `design` (with `mutant`) as replay does (every check after every
 * step, then every mm exits and I9), keeping a frame per step.
 */
export function buildTimeline(report: ShrinkReport, design: DesignInfo, mutant: string | undefined): Timeline {
  const s = new Session(design, { mutant, quirks: report.quirks, world: report.world, checkEvery: 1, history: true });
  const frames: Frame[] = [snapshotFrame(s, { step: -1 })];
  let failure: Violation | undefined;
  for (const cmd of report.commands as Cmd[]) {
    const r = s.apply(cmd);
    frames.push(stepFrame(s, r.record, r.violation, false));
    if (r.violation) {
      failure = r.violation;
      break;
    }
  }
  if (!failure) {
    // runSequence's exit-all, one frame per exit (Session.exitAll, unrolled).
    for (const id of [...s.kernel.mms.keys()]) {
      const r = s.apply({ op: "exit", mm: id });
      const v = r.violation ?? s.checkNow();
      frames.push(stepFrame(s, r.record, v, true));
      if (v) {
        failure = v;
        break;
      }
    }
    if (!failure) {
      const leak = guarded(() => checkNoLeaks(s.kernel));
      if (leak) {
        failure = leak;
        const last = frames.pop() as Frame;
        frames.push({ ...last, violation: { invariant: leak.invariant, message: leak.message, why: whyItMatters[leak.invariant] } });
      }
    }
  }
  const failingFrame = failure ? frames.length - 1 : undefined;
  const name = report.mutant ? `${report.design}/${report.mutant}` : report.design;
  return {
    design: name,
    era: design.era,
    title: report.title ?? `${name}: ${report.invariant} — ${report.message}`,
    recorded: { invariant: report.invariant, message: report.message, step: report.failingStep },
    world: { vpnLimit: report.world.vpnLimit },
    frames,
    ...(failingFrame !== undefined ? { failingFrame } : {}),
    suspect: suspectOf(failure, frames[failingFrame ?? frames.length - 1] as Frame, report),
  };
}

/** The page and vmas the failure is about, and the PTEs its walk missed. */
function suspectOf(failure: Violation | undefined, at: Frame, report: ShrinkReport): Timeline["suspect"] {
  const text = failure?.message ?? report.message;
  const vmas = [...new Set([...text.matchAll(/vma#(\d+)/g)].map((m) => `vma#${m[1]}`))];
  let pfn = failure?.page?.pfn ?? report.page?.pfn;
  // A page the message names ("swap-cache page pfn 3 (anon): its anon_vma was freed").
  const named = /\bpfn (\d+)/.exec(text);
  if (pfn === undefined && named) pfn = Number(named[1]);
  if (pfn === undefined) {
    // No page named: the first present page of the first vma the message names.
    for (const mm of at.mms) {
      const vma = mm.vmas.find((v) => v.id === vmas[0]);
      const pte = vma && mm.ptes.find((p) => p.state === "present" && p.vpn >= vma.start && p.vpn < vma.end);
      if (pte?.pfn !== undefined) {
        pfn = pte.pfn;
        break;
      }
    }
  }
  // Still none: the first page whose walk went wrong at the failing frame.
  pfn ??= at.walks.find((w) => w.missed.length > 0 || w.extra.length > 0 || w.error !== undefined)?.pfn;
  const walk = at.walks.find((w) => w.pfn === pfn);
  const missed = failure?.page ? failure.page.ref.filter((r) => !failure.page?.walk.includes(r)) : (walk?.missed ?? []);
  return { ...(pfn !== undefined ? { pfn } : {}), vmas, missed };
}
