/*
 * Measuring a design on a workload: cost metrics and, on the same run, the invariant verdict.
 * At scale the checkers are sampled (a stated number of checkpoints, each walking a stated
 * number of pages against Ref(X) plus the design's and i_mmap's structural checks), and the
 * run always ends with every process exiting and the leak check (I9). The semantic model is
 * left out at scale (its per-page state would dominate); the `random` workload keeps it.
 */
import fc from "fast-check";
import type { Cmd } from "../model/commands.js";
import { refAll } from "../model/oracle.js";
import type { DesignInfo, Memory } from "../impl/design.js";
import { type Kernel, createKernel } from "../impl/kernel.js";
import { type Violation, checkNoLeaks, checkPage, checkStructures, guarded } from "./checks.js";
import { Resolver, planArbitrary } from "./generate.js";
import { Session } from "./interpreter.js";
import type { Workload } from "./workloads.js";

export interface Metrics {
  readonly design: string;
  readonly workload: string;
  readonly scale: number;
  readonly commands: number;
  readonly seconds: number;
  /** Design structures (slab) at the end of the workload, before the exits, and at peak. */
  readonly memory: { final: Memory; peak: Memory };
  /** Present PTEs and vmas at the end of the workload. */
  readonly ptes: number;
  readonly vmas: number;
  readonly bytesPerPte: { ilp32: number; lp64: number };
  readonly bytesPerVma: { ilp32: number; lp64: number };
  /** Design objects allocated, by where. */
  readonly objectsAtFork: number;
  readonly objectsAtFault: number;
  readonly objectsAllocated: number;
  readonly forks: number;
  readonly forkRmapOpsPerFork: number;
  readonly walks: number;
  readonly vmasVisitedPerWalk: number;
  readonly ptesCheckedPerWalk: number;
  readonly mmsVisitedPerWalk: number;
  readonly pagesReclaimed: number;
  readonly forcedCopies: number;
  /** Large folios (folio designs only): folios allocated, mapcount bytes per folio (LP64), fields written per mapping operation. */
  readonly folio?: { readonly folios: number; readonly bytesPerFolio: number; readonly writesPerMappingOp: number };
  readonly verdict: {
    readonly ok: boolean;
    readonly invariant?: string;
    readonly message?: string;
    readonly checkpoints: number;
    /** Pages walked against Ref(X) at each checkpoint (0 = every page). */
    readonly pagesPerCheckpoint: number;
  };
}

export interface MeasureOptions {
  readonly checkpoints?: number;
  readonly pagesPerCheckpoint?: number;
}

/** Walks of a sample of pages against Ref(X), then the structural checks. */
function sampledCheck(k: Kernel, pages: number): Violation | undefined {
  return guarded(() => {
    const refs = refAll(k.mms.values());
    const all = [...k.pages()];
    const stride = Math.max(1, Math.floor(all.length / pages));
    for (let i = 0; i < all.length; i += stride) {
      const page = all[i];
      if (!page) continue;
      const v = checkPage(k, page, refs.get(page.pfn) ?? []);
      if (v) return v;
    }
    return checkStructures(k);
  }, k);
}

const div = (a: number, b: number) => (b > 0 ? Number((a / b).toFixed(2)) : 0);

export function measure(design: DesignInfo, w: Workload, scale: number, opts: MeasureOptions = {}): Metrics {
  const checkpoints = opts.checkpoints ?? 10;
  const pagesPerCheckpoint = opts.pagesPerCheckpoint ?? 64;
  const started = process.hrtime.bigint();
  if (w.name === "random") return measureRandom(design, scale, started);
  const cmds = [...w.commands(scale)];
  const k = createKernel(w.world(scale), design);
  const every = Math.max(1, Math.floor(cmds.length / checkpoints));
  let violation: Violation | undefined;
  let done = 0;
  for (let i = 0; i < cmds.length && !violation; i++) {
    violation = guarded(() => {
      k.exec(cmds[i] as Cmd);
      return undefined;
    });
    done++;
    if (!violation && (i + 1) % every === 0) violation = sampledCheck(k, pagesPerCheckpoint);
  }
  const forks = cmds.slice(0, done).filter((c) => c.op === "fork").length;
  const snapshot = snapshotMetrics(k);
  if (!violation) violation = exitAllAndCheck(k);
  return finish(design, w.name, scale, done, started, k, snapshot, forks, violation, checkpoints, pagesPerCheckpoint);
}

function measureRandom(design: DesignInfo, runs: number, started: bigint): Metrics {
  const plans = fc.sample(planArbitrary({ maxCommands: 60, swarm: true }), { seed: 1, numRuns: runs });
  let commands = 0;
  let forks = 0;
  let violation: Violation | undefined;
  const sum = { walks: 0, vmas: 0, ptes: 0, mms: 0, fork: 0, atFork: 0, atFault: 0, reclaimed: 0, copies: 0, objects: 0 };
  const peak = { ilp32: 0, lp64: 0 };
  for (const plan of plans) {
    const s = new Session(design, { checkEvery: 16, history: false });
    const r = new Resolver(s.world, plan.weights);
    for (const choice of plan.choices) {
      const cmd = r.resolve(s.model, choice);
      const out = s.apply(cmd);
      commands++;
      if (cmd.op === "fork") forks++;
      if (out.violation) violation ??= out.violation;
      if (violation) break;
    }
    const c = s.kernel.counters;
    sum.walks += c.walks;
    sum.vmas += c.vmasVisited;
    sum.ptes += c.ptesChecked;
    sum.mms += c.mmsVisited;
    sum.fork += c.forkRmapOps;
    sum.atFork += c.objectsAllocatedAtFork;
    sum.atFault += c.objectsAllocatedAtFault;
    sum.reclaimed += c.pagesReclaimed;
    sum.copies += c.forcedCopies;
    sum.objects += s.kernel.design.slab.allocatedCount();
    const p = s.kernel.design.slab.peakMemory();
    peak.ilp32 = Math.max(peak.ilp32, p.ilp32);
    peak.lp64 = Math.max(peak.lp64, p.lp64);
    if (!violation) violation = s.exitAll().violation;
    if (violation) break;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    design: design.name,
    workload: "random",
    scale: runs,
    commands,
    seconds,
    memory: { final: { ilp32: 0, lp64: 0 }, peak },
    ptes: 0,
    vmas: 0,
    bytesPerPte: { ilp32: 0, lp64: 0 },
    bytesPerVma: { ilp32: 0, lp64: 0 },
    objectsAtFork: sum.atFork,
    objectsAtFault: sum.atFault,
    objectsAllocated: sum.objects,
    forks,
    forkRmapOpsPerFork: div(sum.fork, forks),
    walks: sum.walks,
    vmasVisitedPerWalk: div(sum.vmas, sum.walks),
    ptesCheckedPerWalk: div(sum.ptes, sum.walks),
    mmsVisitedPerWalk: div(sum.mms, sum.walks),
    pagesReclaimed: sum.reclaimed,
    forcedCopies: sum.copies,
    verdict: {
      ok: violation === undefined,
      invariant: violation?.invariant,
      message: violation?.message,
      // The property's own schedule: a full check every 16 steps, incremental in between.
      checkpoints: Math.ceil(commands / 16),
      pagesPerCheckpoint: 0,
    },
  };
}

interface Snapshot {
  memory: Memory;
  ptes: number;
  vmas: number;
}

function snapshotMetrics(k: Kernel): Snapshot {
  let ptes = 0;
  let vmas = 0;
  for (const mm of k.mms.values()) {
    vmas += mm.vmas.length;
    for (const pte of mm.pt.values()) if (pte.kind === "present") ptes++;
  }
  return { memory: k.design.slab.memory(), ptes, vmas };
}

function exitAllAndCheck(k: Kernel): Violation | undefined {
  for (const id of [...k.mms.keys()]) {
    const v = guarded(() => {
      k.exec({ op: "exit", mm: id });
      return undefined;
    });
    if (v) return v;
  }
  return guarded(() => checkStructures(k) ?? checkNoLeaks(k), k);
}

function finish(
  design: DesignInfo,
  workload: string,
  scale: number,
  commands: number,
  started: bigint,
  k: Kernel,
  snap: Snapshot,
  forks: number,
  violation: Violation | undefined,
  checkpoints: number,
  pagesPerCheckpoint: number,
): Metrics {
  const c = k.counters;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    design: design.name,
    workload,
    scale,
    commands,
    seconds: Number(seconds.toFixed(3)),
    memory: { final: snap.memory, peak: k.design.slab.peakMemory() },
    ptes: snap.ptes,
    vmas: snap.vmas,
    bytesPerPte: { ilp32: div(snap.memory.ilp32, snap.ptes), lp64: div(snap.memory.lp64, snap.ptes) },
    bytesPerVma: { ilp32: div(snap.memory.ilp32, snap.vmas), lp64: div(snap.memory.lp64, snap.vmas) },
    objectsAtFork: c.objectsAllocatedAtFork,
    objectsAtFault: c.objectsAllocatedAtFault,
    objectsAllocated: k.design.slab.allocatedCount(),
    forks,
    forkRmapOpsPerFork: div(c.forkRmapOps, forks),
    walks: c.walks,
    vmasVisitedPerWalk: div(c.vmasVisited, c.walks),
    ptesCheckedPerWalk: div(c.ptesChecked, c.walks),
    mmsVisitedPerWalk: div(c.mmsVisited, c.walks),
    pagesReclaimed: c.pagesReclaimed,
    forcedCopies: c.forcedCopies,
    ...(k.folio
      ? {
          folio: {
            folios: k.folio.stats.foliosAllocated,
            bytesPerFolio: k.folio.bytesPerFolio(),
            writesPerMappingOp: div(k.folio.stats.counterWrites, k.folio.stats.mappingOps),
          },
        }
      : {}),
    verdict: {
      ok: violation === undefined,
      invariant: violation?.invariant,
      message: violation?.message,
      checkpoints,
      pagesPerCheckpoint,
    },
  };
}
