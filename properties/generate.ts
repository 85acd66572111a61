/*
 * Model-aware generation. fast-check generates a *plan*: per-run command weights (swarm
 * testing: whole command kinds switched off in some runs) and a list of raw choices. Each
 * choice is resolved into a concrete command against the model's current state: existing
 * processes, addresses inside or at the edges of existing mappings, pages that were written.
 * fast-check shrinks the plan; the resolved commands are plain data (model/commands.ts), and
 * that is what is printed, saved and replayed.
 *
 * With allocation-failure injection on (`failAlloc` > 0), the plan also draws, per choice, a
 * failure point: a command that allocates may get `failAlloc: n`, its n-th allocation failing.
 * The draw shrinks towards no failure and towards the first allocation. Off, the plan is drawn
 * exactly as before, so existing seeds give the same sequences.
 */
import fc from "fast-check";
import { type Cmd, type MapKind, type Op, type Outcome, type Race, allOps, failAllocOf, failableOps } from "../model/commands.js";
import type { ModelState } from "../model/semantic.js";
import { execArgPagesMax, type World } from "../model/world.js";

/** Four raw numbers a command draws its arguments from. */
export type Choice = readonly [number, number, number, number];

export interface Plan {
  /** Weight of each op in allOps order (0 = switched off for this run). */
  readonly weights: readonly number[];
  readonly choices: readonly Choice[];
  /** Seed for the order in which the surviving processes exit at the end. */
  readonly exitSeed: number;
  /** Injection on: this run's failure rate (swarm: 0 in some runs) and a draw per choice. */
  readonly failRate?: number;
  readonly fails?: readonly FailDraw[];
  /** Interleaving mode: this run's race rate (swarm: 0 in some runs) and a draw per choice. */
  readonly raceRate?: number;
  readonly races?: readonly RaceDraw[];
  /** Interleaving mode: the commands that may race (absent: all of them). */
  readonly raceOps?: readonly Op[];
  /** exec is on in this run (a share of runs, drawn last: see withExec). */
  readonly exec?: boolean;
}

/**
 * [r, w, runs]: a MREMAP_FIXED move of choice i races an rmap walker when r falls in the top
 * raceRate of [0, failScale); w picks the walker (migration twice as often as swap-out) and
 * its page in the moved range; runs are the schedule's run lengths, mover first, alternating
 * (a race is lost or won in a few switches: runs reach them far more often than coin flips).
 */
export type RaceDraw = readonly [number, number, readonly number[]];
/** Longest run of one thread, and most runs, in a drawn schedule. */
export const raceRunMax = 8;
export const raceRunsMax = 6;

/**
 * [r, x]: choice i fails when r falls in the top failRate of [0, failScale), at allocation
 * n = 1 + ⌊failAllocMax · (x / failScale)²⌋: skewed to the first few (half the draws are 1–3,
 * where a fault's or a merge's allocations are), yet reaching a fork's later ones.
 */
export type FailDraw = readonly [number, number];

/** Resolution of the failure draw. */
const failScale = 10_000;
/** The latest allocation a failure point names (a fork of a full mm makes a few dozen). */
export const failAllocMax = 12;

/** Default weights: writes and forks dominate, since sharing is where rmap designs break. */
export const defaultWeights: Readonly<Record<Op, number>> = {
  mmap: 3,
  munmap: 1,
  mprotect: 2,
  mremap: 3,
  madvise: 1,
  mlock: 1,
  munlock: 1,
  fork: 3,
  exit: 2,
  read: 3,
  write: 6,
  truncate: 1,
  swapout: 3,
  migrate: 1,
  reclaim: 1,
  exec: 1,
};

export interface PlanOptions {
  /** Most commands in one sequence (before the final exits). */
  readonly maxCommands: number;
  /** Swarm testing: random per-run weights. */
  readonly swarm: boolean;
  /** Probability that a command which allocates gets a failure point (0 or absent: off). */
  readonly failAlloc?: number;
  /** Probability that a MREMAP_FIXED move, a fork or a truncate races a second thread (0 or absent: off). */
  readonly interleave?: number;
  /** The commands that may race (absent: all); a catalogue entry's hunt names its own. */
  readonly raceOps?: readonly Op[];
  /** Generate exec in a quarter of the runs (default: when interleave is on). */
  readonly exec?: boolean;
}

const choiceArb = fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat());

/** The ops a swarm run may never switch off: without them nothing is mapped or shared. */
const alwaysOn: readonly Op[] = ["mmap", "write", "fork"];

/**
 * The ops drawn by weight: every op but exec, so that the weights, and every plan drawn before
 * exec existed, stay as they were (seeds and the tests built on them keep their sequences).
 * exec comes from a draw of its own, appended after everything else (withExec).
 */
const weightedOps: readonly Op[] = allOps.filter((op) => op !== "exec");

/**
 * A plan; with exec on (PlanOptions.exec, default: in interleaving mode), last whether this
 * run generates exec (one run in four). Off, the plan is drawn exactly as before exec existed:
 * a cheap way to map and write a page, exec would otherwise win the shrinking of many known
 * counterexamples (and change what the seeds of the existing tests find).
 */
export function planArbitrary(opts: PlanOptions): fc.Arbitrary<Plan> {
  const base = basePlanArbitrary(opts);
  if (!(opts.exec ?? (opts.interleave ?? 0) > 0)) return base;
  return fc.record({ plan: base, exec: fc.nat({ max: 3 }) }).map(({ plan, exec }) => (exec === 0 ? { ...plan, exec: true } : plan));
}

function basePlanArbitrary(opts: PlanOptions): fc.Arbitrary<Plan> {
  const base = weightedOps.map((op) => defaultWeights[op]);
  const weights = opts.swarm
    ? fc
        .array(fc.boolean(), { minLength: weightedOps.length, maxLength: weightedOps.length })
        .map((on) => base.map((w, i) => (on[i] || alwaysOn.includes(weightedOps[i] as Op) ? w : 0)))
    : fc.constant(base);
  const plan = fc.record({
    weights,
    choices: fc.array(choiceArb, { minLength: Math.floor(opts.maxCommands / 3), maxLength: opts.maxCommands, size: "max" }),
    exitSeed: fc.nat(),
  });
  const withRaces = raceArbitrary(opts, plan);
  const p = opts.failAlloc ?? 0;
  if (p <= 0) return withRaces;
  const plan1 = withRaces;
  // Swarm: injection is off in some runs altogether (the boolean shrinks to off).
  const failRate = opts.swarm ? fc.boolean().map((on) => (on ? p : 0)) : fc.constant(p);
  const fails = fc.array(fc.tuple(fc.nat({ max: failScale - 1 }), fc.nat({ max: failScale - 1 })), {
    minLength: opts.maxCommands,
    maxLength: opts.maxCommands,
  });
  return fc.record({ plan: plan1, failRate, fails }).map(({ plan: base, failRate: rate, fails: draws }) => ({ ...base, failRate: rate, fails: draws }));
}

/** A run length, short ones first: a race is decided by a switch or two a few steps in. */
const raceRunArb = fc.oneof(
  { arbitrary: fc.constant(1), weight: 8 },
  { arbitrary: fc.constant(2), weight: 4 },
  { arbitrary: fc.constant(3), weight: 2 },
  { arbitrary: fc.integer({ min: 4, max: raceRunMax }), weight: 2 },
);

/** The plan with race draws when interleaving mode is on; the plan itself when off. */
function raceArbitrary(opts: PlanOptions, plan: fc.Arbitrary<Plan>): fc.Arbitrary<Plan> {
  const p = opts.interleave ?? 0;
  if (p <= 0) return plan;
  const raceRate = opts.swarm ? fc.boolean().map((on) => (on ? p : 0)) : fc.constant(p);
  const draw = fc.tuple(
    fc.nat({ max: failScale - 1 }),
    fc.nat(),
    fc.array(raceRunArb, { minLength: 1, maxLength: raceRunsMax }),
  );
  const races = fc.array(draw, { minLength: opts.maxCommands, maxLength: opts.maxCommands });
  const raceOps = opts.raceOps;
  return fc
    .record({ plan, raceRate, races })
    .map(({ plan: base, raceRate: rate, races: draws }) => ({ ...base, raceRate: rate, races: draws, ...(raceOps ? { raceOps } : {}) }));
}

/**
 * Where each range a MREMAP_FIXED move placed came from (mm:addr → old addr), so that a raced
 * move can go back home: the case in which copy_vma() merges into the old neighbour, which a
 * walk visits first (need_rmap_locks). Used only in interleaving mode.
 */
export class MoveHistory {
  /** Per mm, its latest MREMAP_FIXED move that succeeded. */
  private readonly last = new Map<number, { from: number; to: number; len: number }>();
  record(cmd: Cmd, out: Outcome): void {
    if (cmd.op !== "mremap" || !cmd.fixed || out.kind !== "addr") return;
    this.last.set(cmd.mm, { from: cmd.addr, to: out.addr, len: cmd.newLen });
  }
  latest(mm: number): { from: number; to: number; len: number } | undefined {
    return this.last.get(mm);
  }
}

/**
 * The command resolved from choice i, with the race the plan draws for it, if any. Half of
 * the raced moves in an mm that moved a range before move that range back where it came from.
 */
export function withRace(plan: Plan, i: number, cmd: Cmd, history?: MoveHistory, model?: ModelState, vpnLimit?: number): Cmd {
  const rate = plan.raceRate ?? 0;
  const draw = plan.races?.[i];
  if (rate <= 0 || draw === undefined || (plan.raceOps && !plan.raceOps.includes(cmd.op))) return cmd;
  if (cmd.op === "fork" || cmd.op === "truncate") return model ? withOtherRace(cmd, draw, rate, model) : cmd;
  if (cmd.op === "exec" && vpnLimit !== undefined && cmd.args.length > 0) {
    // exec's stack move races migration (B11) or folio_referenced, on an argument page named
    // by its address in the temporary stack, which ends at vpnLimit (impl/exec.ts).
    if (draw[0] < failScale * (1 - rate)) return cmd;
    const [, w, runs] = draw;
    const n = cmd.args.length;
    const race: Race = { walker: walkerOf(w, false), mm: cmd.mm, addr: vpnLimit - n + ((w >>> 2) % n), schedule: scheduleOf(runs) };
    return { ...cmd, race };
  }
  if (cmd.op === "munmap" && cmd.failAlloc === undefined) {
    // munmap's zaps and unlinks race a walk of one of the range's pages (impl/interleave-munmap.ts).
    if (draw[0] < failScale * (1 - rate)) return cmd;
    const [, w, runs] = draw;
    return { ...cmd, race: { walker: walkerOf(w, true), mm: cmd.mm, addr: cmd.addr + ((w >>> 2) % cmd.len), schedule: scheduleOf(runs) } };
  }
  if (cmd.op !== "mremap" || !cmd.fixed || cmd.newLen !== cmd.len) return cmd;
  if (draw[0] < failScale * (1 - rate)) return cmd;
  const [, w, runs] = draw;
  const schedule = scheduleOf(runs);
  const back = (w >>> 8) % 2 === 0 ? history?.latest(cmd.mm) : undefined;
  const move = back ? { ...cmd, addr: back.to, len: back.len, newLen: back.len, newAddr: back.from } : cmd;
  const race: Race = { walker: walkerOf(w, true), mm: cmd.mm, addr: move.addr + ((w >>> 2) % move.len), schedule };
  return { ...move, race };
}

/** A schedule from run lengths, mover first, alternating. */
const scheduleOf = (runs: readonly number[]): number[] => runs.flatMap((n, j) => Array.from({ length: n }, () => j % 2));

/**
 * The walker a race draw picks: swap-out a third of the time (not against exec, whose misses
 * reclaim tolerates and I10 exempts), else migration, and folio_referenced in one draw of five.
 */
function walkerOf(w: number, swapout: boolean): Race["walker"] {
  if (swapout && w % 3 === 2) return "swapout";
  return (w >>> 10) % 5 === 0 ? "referenced" : "migrate";
}

/**
 * A fork or truncate with the race the plan draws for it (impl/interleave-fork.ts,
 * impl/interleave-truncate.ts): a fault (a write twice as often as a read) or, for a third
 * of them, migration, at a page the parent maps (fork) or a page some process maps from the
 * truncated file (truncate). A fork with a failure point does not race.
 */
function withOtherRace(cmd: Extract<Cmd, { op: "fork" | "truncate" }>, draw: RaceDraw, rate: number, model: ModelState): Cmd {
  if (draw[0] < failScale * (1 - rate) || failAllocOf(cmd) !== undefined) return cmd;
  const [, w, runs] = draw;
  // Half of these schedules start with the racing thread: a fault that gets in before the
  // command's first step (truncate's is i_size_write) is where the fault-side races are.
  const first = (w >>> 20) & 1;
  const schedule = runs.flatMap((n, j) => Array.from({ length: n }, () => (j + first) % 2));
  const places: [number, number][] = [];
  for (const [id, pages] of Object.entries(model.mms)) {
    if (cmd.op === "fork" && Number(id) !== cmd.mm) continue;
    for (const [a, p] of Object.entries(pages)) {
      if (cmd.op === "truncate" && (p.kind === "anon" || p.file !== cmd.file)) continue;
      places.push([Number(id), Number(a)]);
    }
  }
  const place = places[(w >>> 4) % Math.max(1, places.length)];
  if (!place) return cmd;
  const kind = w % 6;
  const walker: Race["walker"] = kind < 3 ? "write" : kind < 5 ? "read" : "migrate";
  const race: Race = { walker, mm: place[0], addr: place[1], ...(walker === "write" ? { token: 500 + ((w >>> 12) % 500) } : {}), schedule };
  return { ...cmd, race };
}

/** The command resolved from choice i, with the failure point the plan draws for it, if any. */
export function withFailure(plan: Plan, i: number, cmd: Cmd): Cmd {
  const rate = plan.failRate ?? 0;
  const draw = plan.fails?.[i];
  if (rate <= 0 || draw === undefined || !failableOps.has(cmd.op)) return cmd;
  if (draw[0] < failScale * (1 - rate)) return cmd;
  const u = draw[1] / failScale;
  return { ...cmd, failAlloc: 1 + Math.floor(failAllocMax * u * u) } as Cmd;
}

/** mmap's kinds, by c % 4: anonymous twice as often as either file kind. */
const mmapKinds: readonly MapKind[] = ["anon", "anon", "private-file", "shared-file"];
/** pickAddr's offsets from a mapped page: the page itself half the time, else an edge. */
const addrShifts: readonly number[] = [0, 0, 0, 0, -1, 1, -2, 2];

/** Resolution state carried along a sequence. */
export class Resolver {
  private nextChild: number;
  private token = 0;
  /** Each child's parent, so forks can deepen the tree and exits can pick a middle generation. */
  private readonly parent = new Map<number, number>();
  private readonly total: number;
  /** resolve()'s scratch lists (the live mms, the chosen mm's mapped pages): refilled per call, never kept. */
  private readonly liveScratch: number[] = [];
  private readonly mappedScratch: number[] = [];

  constructor(
    private readonly world: World,
    private readonly weights: readonly number[],
    firstChild = 2,
  ) {
    this.nextChild = firstChild;
    this.total = weights.reduce((a, b) => a + b, 0);
  }

  /** An anon mmap of 1 or 2 folios' worth at an address aligned to the folio size. */
  private alignedAnon(mm: number, at: number, c: number, prot: "r" | "rw", fixed: boolean, order: number): Cmd {
    const nr = 1 << order;
    const len = nr * (1 + ((c >>> 13) % 2));
    const addr = Math.max(nr, Math.min(at - (at % nr), this.world.vpnLimit - len));
    return { op: "mmap", mm, addr, len, kind: "anon", prot, fixed };
  }

  /** An aligned, naturally sized file mmap (1 or 2 folios) at a folio-aligned file offset. */
  private alignedFile(mm: number, at: number, c: number, d: number, kind: MapKind, prot: "r" | "rw", fixed: boolean, order: number): Cmd {
    const nr = 1 << order;
    const len = nr * (1 + ((c >>> 13) % 2));
    const addr = Math.max(nr, Math.min(at - (at % nr), this.world.vpnLimit - len));
    const pgoff = nr * ((d >>> 6) % Math.max(1, Math.floor(this.world.fileInitialPages / nr)));
    return { op: "mmap", mm, addr, len, kind, prot, fixed, file: (c >>> 8) % this.world.fileCount, pgoff };
  }

  /** The concrete command for `choice` in `state`. */
  resolve(state: ModelState, choice: Choice): Cmd {
    const [a, b, c, d] = choice;
    const live = this.liveMms(state, this.liveScratch);
    const mm = live[b % live.length] as number;
    let op = this.pickOp(a);
    if (op === "fork" && live.length >= this.world.mmLiveMax) op = "exit";
    if (op === "exit" && live.length <= 1) op = "fork";
    const pages = state.mms[mm] ?? {};
    const mapped = mappedPages(pages, this.world.vpnLimit, this.mappedScratch);
    const w = this.world;
    const len = 1 + (c % 4);
    switch (op) {
      case "fork": {
        // Half the forks extend the youngest process, so fork chains get deep (B1 needs 4+).
        const from = c % 2 === 0 ? (live[live.length - 1] as number) : mm;
        this.parent.set(this.nextChild, from);
        return { op: "fork", mm: from, child: this.nextChild++ };
      }
      case "exit": {
        // Half the exits take a middle generation (a live ancestor and a live descendant).
        const middle = live.filter((id) => this.isMiddle(id, live));
        const who = c % 2 === 0 && middle.length > 0 ? (middle[d % middle.length] as number) : mm;
        return { op: "exit", mm: who };
      }
      case "mmap": {
        const kind = mmapKinds[c % 4] as MapKind;
        const fixed = d % 4 === 0;
        const addr = fixed ? this.pickAddr(mapped, d >>> 2, w) : this.pickAddr(mapped, d >>> 2, w) + 1;
        const prot = (c >>> 2) % 5 === 0 ? "r" : "rw";
        const mlen = 1 + ((c >>> 5) % 4);
        const at = clampAddr(addr, mlen, w);
        // Large folios (world.folioOrder, impl/folio.ts): half the anon mmaps take an aligned,
        // naturally sized range, where a write fault can map a whole folio by PMD.
        if (kind === "anon" && w.folioOrder && (c >>> 12) % 2 === 0) return this.alignedAnon(mm, at, c, prot, fixed, w.folioOrder);
        if (kind === "anon") return { op: "mmap", mm, addr: at, len: mlen, kind, prot, fixed };
        // File large folios (world.fileFolios): half the file mmaps are aligned in address
        // and file offset, where a fault can map a whole page-cache folio by PMD.
        if (w.fileFolios && w.folioOrder && (c >>> 12) % 2 === 0) return this.alignedFile(mm, at, c, d, kind, prot, fixed, w.folioOrder);
        // A literal, not { ...anon, file, pgoff }: an object spread was 40% of resolve().
        return { op: "mmap", mm, addr: at, len: mlen, kind, prot, fixed, file: (c >>> 8) % w.fileCount, pgoff: (d >>> 6) % w.fileInitialPages };
      }
      case "munmap":
      case "mlock":
      case "munlock":
      case "madvise": {
        const addr = this.pickAddr(mapped, d, w);
        const l = Math.min(len, w.vpnLimit - addr);
        if (op === "madvise") return { op, mm, addr, len: l, advice: "dontneed" };
        return { op, mm, addr, len: l };
      }
      case "mprotect": {
        const addr = this.pickAddr(mapped, d, w);
        return { op, mm, addr, len: Math.min(len, w.vpnLimit - addr), prot: (c >>> 3) % 2 === 0 ? "r" : "rw" };
      }
      case "mremap":
        return this.mremap(mm, mapped, choice);
      case "read":
        return { op: "read", mm, addr: this.pickAddr(mapped, d, w) };
      case "write":
        return { op: "write", mm, addr: this.pickAddr(mapped, d, w), token: ++this.token };
      case "truncate": {
        const size = c % 3 === 0 ? w.fileMaxPages : (d % (w.fileMaxPages + 1));
        return { op: "truncate", file: b % w.fileCount, size };
      }
      case "swapout":
      case "migrate": {
        const written = mapped.filter((v) => pages[v]?.data !== undefined || pages[v]?.kind !== "anon");
        const from = written.length > 0 ? written : mapped;
        const addr = from.length > 0 ? (from[d % from.length] as number) : d % w.vpnLimit;
        return { op, mm, addr };
      }
      case "reclaim":
        return { op: "reclaim", pages: 1 + (c % 4) };
      case "exec": {
        const args: number[] = [];
        for (let i = 0; i <= c % execArgPagesMax; i++) args.push(++this.token);
        return { op: "exec", mm, args };
      }
    }
  }

  /**
   * The live processes in ascending id order, as Object.keys(state.mms) lists them, without
   * making a string of every id: ids are mm1 (the first process) and the children this
   * resolver numbered, all below nextChild.
   */
  liveMms(state: ModelState, out: number[] = []): number[] {
    out.length = 0;
    const end = Math.max(this.nextChild, 2);
    for (let id = 0; id < end; id++) if (state.mms[id] !== undefined) out.push(id);
    return out;
  }

  private isMiddle(id: number, live: readonly number[]): boolean {
    let hasAncestor = false;
    for (let p = this.parent.get(id); p !== undefined; p = this.parent.get(p)) if (live.includes(p)) hasAncestor = true;
    if (!hasAncestor) return false;
    return live.some((other) => {
      for (let p = this.parent.get(other); p !== undefined; p = this.parent.get(p)) if (p === id) return true;
      return false;
    });
  }

  private pickOp(a: number): Op {
    let r = a % this.total;
    for (let i = 0; i < weightedOps.length; i++) {
      r -= this.weights[i] as number;
      if (r < 0) return weightedOps[i] as Op;
    }
    return "write";
  }

  /**
   * exec in place of the command choice i would make, in a run whose plan has exec on, for
   * about defaultWeights.exec in 40 choices (bits of the op draw that pickOp's modulus leaves).
   */
  withExec(plan: Plan, state: ModelState, choice: Choice, cmd: Cmd): Cmd {
    if (!plan.exec || (choice[0] >>> 20) % 40 >= defaultWeights.exec || !("mm" in cmd) || state.mms[cmd.mm] === undefined) return cmd;
    const args: number[] = [];
    for (let i = 0; i <= choice[2] % execArgPagesMax; i++) args.push(++this.token);
    return { op: "exec", mm: cmd.mm, args };
  }

  /** Mostly a mapped page or an edge of a mapped run; sometimes anywhere. */
  private pickAddr(mapped: readonly number[], r: number, w: World): number {
    if (mapped.length === 0 || r % 8 === 0) return w.mmapBase + ((r >>> 3) % (w.vpnLimit - w.mmapBase));
    const v = mapped[(r >>> 3) % mapped.length] as number;
    const shift = addrShifts[r % 8] as number;
    return Math.min(w.vpnLimit - 1, Math.max(0, v + shift));
  }

  private mremap(mm: number, mapped: readonly number[], [, , c, d]: Choice): Cmd {
    const w = this.world;
    const start = this.pickAddr(mapped, d, w);
    let runLen = 1;
    while (runLen < 4 && mapped.includes(start + runLen)) runLen++;
    const len = 1 + (c % runLen);
    const kind = (c >>> 2) % 6;
    // 0: shrink, 1: grow in place or fail, 2: grow with MAYMOVE, 3-5: MREMAP_FIXED moves.
    if (kind === 0) return { op: "mremap", mm, addr: start, len, newLen: Math.max(1, len - 1), maymove: false, fixed: false };
    if (kind === 1) return { op: "mremap", mm, addr: start, len, newLen: len + 1, maymove: false, fixed: false };
    if (kind === 2) return { op: "mremap", mm, addr: start, len, newLen: len + 1 + ((d >>> 4) % 2), maymove: true, fixed: false };
    // Destinations next to other mappings (so the moved vma may merge, or come back home).
    const edge = mapped.length > 0 ? (mapped[(d >>> 4) % mapped.length] as number) : 0;
    const offsets = [len + 1, -len, 1, -len - 1, 8, -8];
    let newAddr = edge + (offsets[(d >>> 9) % offsets.length] as number);
    newAddr = clampAddr(newAddr, len, w);
    return { op: "mremap", mm, addr: start, len, newLen: len, maymove: true, fixed: true, newAddr };
  }
}

/**
 * The mapped virtual pages in ascending order: what Object.keys gives for integer keys, without
 * turning every key into a string (every model page lies below vpnLimit).
 */
function mappedPages(pages: Readonly<Record<number, unknown>>, vpnLimit: number, out: number[]): number[] {
  out.length = 0;
  for (let a = 0; a < vpnLimit; a++) if (pages[a] !== undefined) out.push(a);
  return out;
}

function clampAddr(addr: number, len: number, w: World): number {
  return Math.min(w.vpnLimit - len, Math.max(w.mmapBase, addr));
}

/** A deterministic permutation of ids from a seed (the final exit order). */
export function exitOrder(ids: readonly number[], seed: number): number[] {
  const out = [...ids];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as number, out[i] as number];
  }
  return out;
}
