/*
 * The one interpreter: applies each command to the reference model and to kernel+design,
 * compares what the caller observes, and runs the checkers after the step.
 */
import {
  type Cmd,
  type Outcome,
  type Race,
  cmdToString,
  failAllocOf,
  isInvisible,
  outcomeToString,
  raceFault,
  raceOf,
  sameOutcome,
} from "../model/commands.js";
import {
  type AllocFailed,
  type ModelState,
  type MutableModelState,
  applyCmd,
  applyCmdInPlace,
  initialState,
  mutableCopy,
  skipOf,
} from "../model/semantic.js";
import { type World, defaultWorld, initMm } from "../model/world.js";
import { InvariantError } from "../impl/assert.js";
import type { DesignInfo } from "../impl/design.js";
import { type Kernel, createKernel } from "../impl/kernel.js";
import { ModelCensus, type Violation, checkAllFast, checkNoLeaks, checkTouchedFast, guarded } from "./checks.js";

export interface StepRecord {
  readonly index: number;
  readonly cmd: Cmd;
  readonly model: Outcome;
  readonly kernel: Outcome;
}

export interface Failure extends Violation {
  /** Index of the failing command; commands.length means the final exit-all check. */
  readonly step: number;
}

export interface SessionOptions {
  readonly world?: World;
  readonly mutant?: string;
  /** Planted kernel bugs (Kernel.quirks). */
  readonly quirks?: readonly string[];
  /** Run the full checkers after every `checkEvery` steps (1 = every step). */
  readonly checkEvery?: number;
  /**
   * Between full checks, check what the step touched: the pages its process(es) mapped
   * before or after it, and those processes' views (default: on when checkEvery > 1).
   * A step that walked the rmap (swap-out, migration, reclaim, truncate) is checked fully.
   */
  readonly incremental?: boolean;
  /**
   * Keep every model state (immer: each step makes a new immutable state, so a caller may hold
   * on to `model` after later steps), for replay, conform and the step-by-step views. Off, the
   * model is one mutable state changed in place: the search loop's fast path (default on).
   */
  readonly history?: boolean;
}

export class Session {
  readonly world: World;
  readonly kernel: Kernel;
  private state: ModelState;
  private readonly checkEvery: number;
  private readonly incremental: boolean;
  private readonly history: boolean;
  steps = 0;

  constructor(
    readonly design: DesignInfo,
    opts: SessionOptions = {},
  ) {
    this.world = opts.world ?? design.world ?? defaultWorld;
    this.checkEvery = opts.checkEvery ?? 1;
    this.incremental = opts.incremental ?? this.checkEvery > 1;
    this.kernel = createKernel(this.world, design, initMm, opts.mutant);
    for (const q of opts.quirks ?? []) this.kernel.quirks.add(q);
    this.history = opts.history ?? true;
    const initial = initialState(this.world, initMm);
    this.state = this.history ? initial : mutableCopy(initial);
    this.census = new ModelCensus(this.state, this.world.vpnLimit);
  }

  /** Process and page counts of the model, for the fast checkers. */
  private census: ModelCensus;

  /** The model's current state (with history off, the one state changed in place). */
  get model(): ModelState {
    return this.state;
  }

  /** Replace the model's state (tests that step the model alone); the census is recounted. */
  set model(state: ModelState) {
    this.state = this.history ? state : mutableCopy(state);
    this.census = new ModelCensus(this.state, this.world.vpnLimit);
  }

  /** The model half of a step, persistent or in place (same definition: model/semantic.ts step). */
  private applyModel(cmd: Cmd, failed?: AllocFailed): Outcome {
    if (!this.history) return applyCmdInPlace(this.world, this.state as MutableModelState, cmd, failed);
    const m = applyCmd(this.world, this.state, cmd, failed);
    this.state = m.state;
    return m.outcome;
  }

  /** The kernel half of a step: its outcome, or the violation of a crash or broken assertion. */
  private applyKernel(cmd: Cmd): Outcome | Violation {
    try {
      return this.kernel.exec(cmd);
    } catch (e) {
      const invariant = e instanceof InvariantError ? e.invariant : "KERNEL";
      const message = e instanceof InvariantError ? e.detail : e instanceof Error ? e.message : String(e);
      return { invariant, message: `${cmdToString(cmd)}: ${message}` };
    }
  }

  /**
   * Both halves of a step. A command with a failure point runs in the kernel first: whether
   * its failing allocation was reached, and how far a range command got, is what the model
   * takes from the kernel (model/semantic.ts AllocFailed).
   */
  private applyBoth(cmd: Cmd): { model: Outcome; kernel: Outcome | Violation; fault?: Violation } {
    const race = raceOf(cmd);
    if (race && (race.walker === "write" || race.walker === "read")) return this.applyRacingFault(cmd, race);
    if (failAllocOf(cmd) === undefined) {
      const model = this.applyModel(cmd);
      // The model decides what does not apply; the kernel never sees it.
      return { model, kernel: model.kind === "skip" ? model : this.applyKernel(cmd) };
    }
    const skip = skipOf(this.model, cmd);
    if (skip) return { model: this.applyModel(cmd), kernel: skip };
    const kernel = this.applyKernel(cmd);
    const alloc = this.kernel.allocator;
    return { model: this.applyModel(cmd, alloc.fired ? { stoppedAt: alloc.stoppedAt } : undefined), kernel };
  }

  /**
   * A command raced by a fault (interleaving mode): the kernel runs both threads and says
   * where the fault falls in the command's sequential order (Kernel.lastFault); the model
   * applies the two in that order, and the fault's outcome is compared like a command's.
   */
  private applyRacingFault(cmd: Cmd, race: Race): { model: Outcome; kernel: Outcome | Violation; fault?: Violation } {
    const skip = skipOf(this.model, cmd);
    if (skip) return { model: this.applyModel(cmd), kernel: skip };
    this.kernel.lastFault = undefined;
    const kernel = this.applyKernel(cmd);
    const ran = this.kernel.lastFault as Kernel["lastFault"];
    this.kernel.lastFault = undefined;
    const faultCmd = raceFault(race) as Cmd;
    // A command with a failure point does not race: the kernel ran it, then the fault.
    const alloc = this.kernel.allocator;
    const failed = failAllocOf(cmd) !== undefined && alloc.fired ? { stoppedAt: alloc.stoppedAt } : undefined;
    if ("invariant" in kernel || ran === undefined) return { model: this.applyModel(cmd, failed), kernel };
    let model: Outcome;
    let faultOut: Outcome;
    if (ran.order === "before") {
      faultOut = this.applyModel(faultCmd);
      model = this.applyModel(cmd, failed);
    } else {
      model = this.applyModel(cmd, failed);
      faultOut = this.applyModel(faultCmd);
    }
    // The caller recounts for cmd; the fault's process and pages are recounted here.
    if (faultOut.kind !== "skip") this.census.after(this.model, faultCmd);
    if (sameOutcome(faultOut, ran.outcome)) return { model, kernel };
    const fault: Violation = {
      invariant: "SEMANTIC",
      message: `${cmdToString(cmd)}: the racing ${cmdToString(faultCmd)} (${ran.order} it) returned ${outcomeToString(ran.outcome)}, the model says ${outcomeToString(faultOut)}${ran.trace ? `\n${ran.trace}` : ""}`,
      expected: outcomeToString(faultOut),
      actual: outcomeToString(ran.outcome),
    };
    return { model, kernel, fault };
  }

  /** Apply one command to both sides; a Violation if they disagree or a checker fails. */
  apply(cmd: Cmd): { record: StepRecord; violation?: Violation } {
    const index = this.steps++;
    const raced = raceOf(cmd) !== undefined;
    if (raced) this.kernel.lastRaceTrace = undefined;
    const full = index % this.checkEvery === 0 || cmd.op === "truncate" || cmd.op === "reclaim" || cmd.op === "exit" || cmd.op === "exec" || raced;
    const touched = !full && this.incremental ? this.touchedBefore(cmd) : undefined;
    const walks = this.kernel.counters.walks;
    const both = this.applyBoth(cmd);
    const modelOut = both.model;
    if (modelOut.kind !== "skip") this.census.after(this.model, cmd);
    if ("invariant" in both.kernel) {
      return { record: { index, cmd, model: modelOut, kernel: { kind: "internal", what: "crashed" } }, violation: both.kernel };
    }
    const kernelOut = both.kernel;
    const record = { index, cmd, model: modelOut, kernel: kernelOut };
    if (both.fault) return { record, violation: both.fault };
    if (!isInvisible(cmd) && !sameOutcome(modelOut, kernelOut)) {
      return {
        record,
        violation: {
          invariant: "SEMANTIC",
          message: `${cmdToString(cmd)} returned ${outcomeToString(kernelOut)}, the model says ${outcomeToString(modelOut)}`,
          expected: outcomeToString(modelOut),
          actual: outcomeToString(kernelOut),
        },
      };
    }
    let violation: Violation | undefined;
    if (full || (touched && this.kernel.counters.walks !== walks)) violation = checkAllFast(this.kernel, this.model, this.census);
    else if (touched) violation = checkTouchedFast(this.kernel, this.model, this.census, touched.mms, this.pfnsOf(touched.mms, touched.pfns));
    if (violation && raced && this.kernel.lastRaceTrace) {
      // A check that fails after a raced command: the report shows the interleaving too.
      violation = { ...violation, message: `${violation.message}\n${this.kernel.lastRaceTrace}` };
    }
    return violation ? { record, violation } : { record };
  }

  /** The processes a command acts on and the frames they map before it runs. */
  private touchedBefore(cmd: Cmd): { mms: number[]; pfns: Set<number> } {
    const mms = "mm" in cmd ? [cmd.mm] : [];
    if (cmd.op === "fork") mms.push(cmd.child);
    return { mms, pfns: this.pfnsOf(mms, new Set()) };
  }

  private pfnsOf(mms: readonly number[], into: Set<number>): Set<number> {
    for (const id of mms) {
      const mm = this.kernel.mms.get(id);
      if (!mm) continue;
      for (const pte of mm.pt.values()) if (pte.kind === "present") into.add(pte.pfn);
    }
    return into;
  }

  /** Full check now, whatever the schedule. */
  checkNow(): Violation | undefined {
    return checkAllFast(this.kernel, this.model, this.census);
  }

  /** Every live mm exits in the given order (the rest in id order), then I9. */
  exitAll(order: readonly number[] = []): { records: StepRecord[]; violation?: Violation } {
    const records: StepRecord[] = [];
    const ids = [...new Set([...order.filter((id) => this.kernel.mms.has(id)), ...this.kernel.mms.keys()])];
    for (const id of ids) {
      // apply() checks fully after every exit, whatever the schedule.
      const r = this.apply({ op: "exit", mm: id });
      records.push(r.record);
      if (r.violation) return { records, violation: r.violation };
    }
    const leak = guarded(() => checkNoLeaks(this.kernel));
    return leak ? { records, violation: leak } : { records };
  }
}

export interface SequenceResult {
  readonly records: StepRecord[];
  readonly failure?: Failure;
  /** Commands that were applied (not skipped). */
  readonly executed: number;
}

/**
 * Run a whole sequence as data: every command, then exit-all in `exitOrder`. This is what
 * replay, shrinking and the property all call.
 */
export function runSequence(design: DesignInfo, cmds: readonly Cmd[], opts: SessionOptions & { exitOrder?: readonly number[] } = {}): SequenceResult {
  const s = new Session(design, opts);
  const records: StepRecord[] = [];
  let executed = 0;
  for (const cmd of cmds) {
    const r = s.apply(cmd);
    records.push(r.record);
    if (r.record.model.kind !== "skip") executed++;
    if (r.violation) return { records, executed, failure: { ...r.violation, step: r.record.index } };
  }
  const end = s.exitAll(opts.exitOrder);
  records.push(...end.records);
  executed += end.records.length;
  if (end.violation) return { records, executed, failure: { ...end.violation, step: cmds.length } };
  return { records, executed };
}
