/*
 * The model-based property, written once and applied to every design (STYLE item 8):
 *
 *   for every plan: resolve and apply each command to model and kernel+design; after every
 *   step the observed results match and the checkers hold; at the end every mm exits (in an
 *   order drawn from the plan) and I9 holds.
 *
 * fast-check searches and shrinks plans (a budget of property evaluations, counted, not timed,
 * so the same seed shrinks the same way); then `minimize` deletes concrete commands one at a
 * time, and folds forks into their parents, while the same invariant still fails, so the
 * printed counterexample is 1-minimal.
 */
import fc from "fast-check";
import { type Cmd, type Op, type Race, failAllocOf, raceOf } from "../model/commands.js";
import { type World, defaultWorld } from "../model/world.js";
import type { DesignInfo } from "../impl/design.js";
import type { CheckId } from "./checks.js";
import { type CoverageCounts, RunCoverage, addCoverage, emptyCoverage } from "./coverage.js";
import { MoveHistory, type Plan, Resolver, exitOrder, planArbitrary, withFailure, withRace } from "./generate.js";
import { type Failure, Session, type StepRecord, runSequence } from "./interpreter.js";

export interface PropertyOptions {
  readonly design: DesignInfo;
  readonly mutant?: string;
  readonly quirks?: readonly string[];
  readonly seed: number;
  readonly runs: number;
  readonly maxCommands?: number;
  readonly swarm?: boolean;
  /** Allocation-failure injection: per command, the probability of a failure point (default 0). */
  readonly failAlloc?: number;
  /** Interleaving mode: probability that a MREMAP_FIXED move races an rmap walker. */
  readonly interleave?: number;
  /** Interleaving mode: the commands that may race (absent: mremap, fork and truncate). */
  readonly raceOps?: readonly Op[];
  readonly world?: World;
  readonly checkEvery?: number;
  readonly incremental?: boolean;
  /** Called after every run (the CLI draws progress from it; properties/ reads no clock). */
  readonly onRun?: (runsDone: number, commands: number) => void;
  /**
   * Asked after every run; true makes the remaining runs return at once (time limits live in
   * the CLI). fast-check still generates a plan for each of them, so keep `runs` small (the
   * CLI's chunks of CHUNK_RUNS) when a stop is expected.
   */
  readonly shouldStop?: () => boolean;
  /** Called once, when the first failing run is found (before shrinking, which may take long). */
  readonly onFailure?: () => void;
  /**
   * Shrink a counterexample (default). Off for mutation testing, where only the verdict
   * matters; RMAPCHECK_SHRINK=0 in the environment turns it off too.
   */
  readonly shrink?: boolean;
  /**
   * How many failing-plan candidates fast-check may evaluate while shrinking before the
   * command-level minimizer takes over (default 1000). Plan shrinking can change values, but on
   * long sequences its search tree is huge (minutes); deletion and fork folding on the concrete
   * commands is quick and usually gets as short.
   */
  readonly shrinkBudget?: number;
}

export interface Counterexample {
  /** The 1-minimal sequence, as data. */
  readonly commands: Cmd[];
  readonly failure: Failure;
  /** The trace of the minimal sequence (outcomes on both sides). */
  readonly records: StepRecord[];
  /** Length of the failing sequence as first found (before any shrinking). */
  readonly foundLength: number;
  /** Commands executed up to and including the failing run. */
  readonly commandsToFailure: number;
  readonly runsToFailure: number;
}

/** What a campaign did, for --stats and --json. */
export interface CampaignStats {
  /** Commands applied, per op. */
  readonly ops: Record<string, number>;
  /** Commands the model judged not applicable (skipped on both sides). */
  skipped: number;
  /**
   * How many runs had each sequence length (including the final exits): a histogram, so a
   * campaign of hours keeps a few hundred numbers, not one per run.
   */
  readonly lengths: number[];
  /** Commands that carried a failure point, and those whose failing allocation was reached. */
  failurePoints: number;
  failuresFired: number;
  /** Interleaving mode: commands raced by a walk or a fault, and the mremap moves whose copy_vma merged into a neighbour the walk visits first. */
  races: number;
  racesNeedingRmapLocks: number;
}

export const emptyStats = (): CampaignStats => ({ ops: {}, skipped: 0, lengths: [], failurePoints: 0, failuresFired: 0, races: 0, racesNeedingRmapLocks: 0 });

/** Count `runs` runs of `length` commands in a lengths histogram. */
function countLength(lengths: number[], length: number, runs = 1): void {
  while (lengths.length <= length) lengths.push(0);
  lengths[length] = (lengths[length] as number) + runs;
}

export function addStats(into: CampaignStats, from: CampaignStats): void {
  for (const [op, n] of Object.entries(from.ops)) into.ops[op] = (into.ops[op] ?? 0) + n;
  into.skipped += from.skipped;
  into.failurePoints += from.failurePoints ?? 0;
  into.failuresFired += from.failuresFired ?? 0;
  into.races += from.races ?? 0;
  into.racesNeedingRmapLocks += from.racesNeedingRmapLocks ?? 0;
  from.lengths.forEach((runs, length) => {
    countLength(into.lengths, length, runs);
  });
}

export interface PropertyResult {
  readonly design: string;
  readonly mutant?: string;
  readonly seed: number;
  readonly runs: number;
  readonly commands: number;
  readonly ok: boolean;
  readonly counterexample?: Counterexample;
  /** Runs that reached each coverage mark (runs before the first failure). */
  readonly coverage: CoverageCounts;
  readonly stats: CampaignStats;
  /** True if shouldStop ended the search before `runs` runs. */
  readonly stopped: boolean;
}

export const defaultMaxCommands = 60;
export const defaultShrinkBudget = 1000;

/** Resolve and run one plan: the concrete commands it became, and what happened. */
export function executePlan(
  plan: Plan,
  opts: Pick<PropertyOptions, "design" | "mutant" | "quirks" | "world" | "checkEvery" | "incremental">,
): { commands: Cmd[]; failure?: Failure; executed: number; skipped: number; marks: RunCoverage; fired: number; races: number; racesNeedingRmapLocks: number } {
  const world = opts.world ?? opts.design.world ?? defaultWorld;
  // Named fields, not { ...opts, history: false }: opts carries the whole property's options.
  const session = new Session(opts.design, {
    world: opts.world,
    mutant: opts.mutant,
    quirks: opts.quirks,
    checkEvery: opts.checkEvery,
    incremental: opts.incremental,
    history: false,
  });
  const resolver = new Resolver(world, plan.weights);
  const commands: Cmd[] = [];
  const marks = new RunCoverage();
  let executed = 0;
  let skipped = 0;
  const moves = plan.raceRate ? new MoveHistory() : undefined;
  const step = (cmd: Cmd): Failure | undefined => {
    commands.push(cmd);
    const r = session.apply(cmd);
    moves?.record(cmd, r.record.model);
    if (r.record.model.kind === "skip") skipped++;
    else {
      executed++;
      marks.observe(cmd, session.kernel);
    }
    return r.violation ? { ...r.violation, step: r.record.index } : undefined;
  };
  const result = (failure?: Failure) => {
    marks.finish(session.kernel);
    const { allocFailures, races, racesNeedingRmapLocks } = session.kernel.counters;
    return { commands, failure, executed, skipped, marks, fired: allocFailures, races, racesNeedingRmapLocks };
  };
  for (const [i, choice] of plan.choices.entries()) {
    const cmd = resolver.resolve(session.model, choice);
    const failure = step(withRace(plan, i, withFailure(plan, i, plan.exec ? resolver.withExec(plan, session.model, choice, cmd) : cmd), moves, session.model, world.vpnLimit));
    if (failure) return result(failure);
  }
  // Exits in a drawn order, with a full check after each whatever the schedule (Session.apply
  // checks every exit fully): several bugs show only when a particular mm exits (primer §5).
  for (const mm of exitOrder(Object.keys(session.model.mms).map(Number), plan.exitSeed)) {
    const failure = step({ op: "exit", mm });
    if (failure) return result(failure);
  }
  const end = session.exitAll();
  return result(end.violation ? { ...end.violation, step: commands.length } : undefined);
}

/** Delete commands one at a time while `invariant` still fails: a 1-minimal sequence. */
export function minimize(
  cmds: readonly Cmd[],
  invariant: CheckId,
  opts: Pick<PropertyOptions, "design" | "mutant" | "quirks" | "world">,
): { commands: Cmd[]; result: ReturnType<typeof runSequence> } {
  const fails = (c: readonly Cmd[]) => {
    const r = runSequence(opts.design, c, { ...opts, checkEvery: 1, history: false });
    return r.failure?.invariant === invariant ? r : undefined;
  };
  let best = [...cmds];
  let result = fails(best);
  if (!result) throw new Error(`minimize: the sequence does not fail with ${invariant}`);
  best = best.slice(0, (result.failure as Failure).step + 1);
  const attempt = (candidate: Cmd[]): boolean => {
    const r = fails(candidate);
    if (!r) return false;
    best = candidate.slice(0, (r.failure as Failure).step + 1);
    result = r;
    return true;
  };
  // Pin every mmap that placed itself by hint at the address it got (MAP_FIXED there is the
  // same mapping): deleting an earlier command then no longer moves later ones.
  attempt(pinMmaps(best, result.records));
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = best.length - 1; i >= 0; i--) {
      if (attempt([...best.slice(0, i), ...best.slice(i + 1)])) changed = true;
      else if (best[i]?.op === "fork" && attempt(foldFork(best, i))) changed = true;
      else if (i < best.length && lowerFailure(best, i, attempt)) changed = true;
      else if (i < best.length && shrinkRace(best, i, attempt)) changed = true;
    }
  }
  return { commands: best, result: fails(best) ?? result };
}

/**
 * A command's failure point, shrunk: dropped if the failure still shows without it, else the
 * earliest allocation that still shows it.
 */
function lowerFailure(cmds: readonly Cmd[], i: number, attempt: (c: Cmd[]) => boolean): boolean {
  const c = cmds[i] as Cmd;
  const n = failAllocOf(c);
  if (n === undefined) return false;
  const { failAlloc: _dropped, ...without } = c as Cmd & { failAlloc?: number };
  const replaced = (x: Cmd) => cmds.map((y, j) => (j === i ? x : y));
  if (attempt(replaced(without as Cmd))) return true;
  for (let m = 1; m < n; m++) if (attempt(replaced({ ...c, failAlloc: m } as Cmd))) return true;
  return false;
}

/**
 * A command's race, shrunk: dropped if the failure shows without it, else its schedule with
 * one step of either thread removed (from the end), while the failure still shows.
 */
function shrinkRace(cmds: readonly Cmd[], i: number, attempt: (c: Cmd[]) => boolean): boolean {
  const c = cmds[i] as Cmd;
  const race = raceOf(c);
  if (!race) return false;
  const replaced = (x: Cmd) => cmds.map((y, j) => (j === i ? x : y));
  const { race: _dropped, ...without } = c as Cmd & { race?: Race };
  if (attempt(replaced(without as Cmd))) return true;
  const s = race.schedule;
  for (let j = s.length - 1; j >= 0; j--) {
    if (attempt(replaced({ ...c, race: { ...race, schedule: [...s.slice(0, j), ...s.slice(j + 1)] } } as Cmd))) return true;
  }
  return false;
}

/** Non-fixed mmaps that succeeded become MAP_FIXED at the address the model gave them. */
function pinMmaps(cmds: readonly Cmd[], records: readonly StepRecord[]): Cmd[] {
  return cmds.map((c, i) => {
    const out = records[i]?.model;
    if (c.op !== "mmap" || c.fixed || out?.kind !== "addr") return c;
    return { ...c, addr: out.addr, fixed: true };
  });
}

/**
 * Deleting a fork alone orphans everything its child does later; folding it instead lets the
 * parent do the child's commands (fork i removed, the child's id replaced by the parent's).
 */
function foldFork(cmds: readonly Cmd[], i: number): Cmd[] {
  const f = cmds[i] as Extract<Cmd, { op: "fork" }>;
  return cmds.flatMap((c, j): Cmd[] => {
    if (j === i) return [];
    if (j < i || !("mm" in c) || c.mm !== f.child) return [c];
    return [{ ...c, mm: f.mm } as Cmd];
  });
}

/** Run the property for one design (or mutant). Deterministic for a given seed. */
export function checkDesign(opts: PropertyOptions): PropertyResult {
  const maxCommands = opts.maxCommands ?? defaultMaxCommands;
  let runsDone = 0;
  let commands = 0;
  let first: { commands: Cmd[]; failure: Failure; runs: number; commands_: number } | undefined;
  let stopped = false;
  const coverage = emptyCoverage();
  const stats = emptyStats();
  const shrinkBudget = opts.shrinkBudget ?? defaultShrinkBudget;
  let shrinkCalls = 0;
  const property = fc.property(planArbitrary({ maxCommands, swarm: opts.swarm ?? true, failAlloc: opts.failAlloc, interleave: opts.interleave, raceOps: opts.raceOps }), (plan) => {
    if (stopped) return true;
    // Past the budget every candidate "passes", which ends fast-check's shrink deterministically.
    if (first !== undefined && ++shrinkCalls > shrinkBudget) return true;
    const r = executePlan(plan, opts);
    if (first === undefined) {
      runsDone++;
      commands += r.executed;
      addCoverage(coverage, r.marks.hits);
      for (const c of r.commands) {
        stats.ops[c.op] = (stats.ops[c.op] ?? 0) + 1;
        if (failAllocOf(c) !== undefined) stats.failurePoints++;
      }
      stats.failuresFired += r.fired;
      stats.races += r.races;
      stats.racesNeedingRmapLocks += r.racesNeedingRmapLocks;
      stats.skipped += r.skipped;
      countLength(stats.lengths, r.commands.length);
      opts.onRun?.(runsDone, commands);
      if (!r.failure && opts.shouldStop?.()) stopped = true;
    }
    if (r.failure && first === undefined) {
      first = { commands: r.commands, failure: r.failure, runs: runsDone, commands_: commands };
      opts.onFailure?.();
    }
    return r.failure === undefined;
  });
  const shrink = opts.shrink ?? process.env.RMAPCHECK_SHRINK !== "0";
  const details = fc.check(property, { seed: opts.seed, numRuns: opts.runs, endOnFailure: !shrink });
  const base = { design: opts.design.name, mutant: opts.mutant, seed: opts.seed, runs: runsDone, commands, coverage, stats, stopped };
  if (!details.failed || first === undefined) return { ...base, ok: true };
  if (!shrink) {
    const failure = first.failure;
    const counterexample = { commands: first.commands, failure, records: [], foundLength: first.commands.length, commandsToFailure: first.commands_, runsToFailure: first.runs };
    return { ...base, ok: false, counterexample };
  }
  // fast-check's shrunk plan, resolved again, then minimized at the command level.
  const shrunkPlan = (details.counterexample as [Plan])[0];
  const shrunk = executePlan(shrunkPlan, opts);
  // Minimize both the shrunk plan's commands and the sequence as found; keep the shorter.
  let min = minimize(first.commands, first.failure.invariant, opts);
  if (shrunk.failure?.invariant === first.failure.invariant) {
    const fromShrunk = minimize(shrunk.commands, first.failure.invariant, opts);
    if (fromShrunk.commands.length <= min.commands.length) min = fromShrunk;
  }
  return {
    ...base,
    ok: false,
    counterexample: {
      commands: min.commands,
      failure: min.result.failure as Failure,
      records: min.result.records,
      foundLength: first.commands.length,
      commandsToFailure: first.commands_,
      runsToFailure: first.runs,
    },
  };
}
