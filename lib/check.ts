/*
 * The property runner as a library call: `checkDesign({ design, runs, seed })` runs the
 * model-based property against any DesignInfo (a built-in one or the user's own) and, on a
 * counterexample, builds its shrink report. `formatFailure` prints it as the CLI does;
 * `writeShrinkReport` saves it as JSON + Markdown, replayable with `rmapcheck replay`.
 */
import { randomInt } from "node:crypto";
import { writeReport } from "../cli/reports.js";
import { CHUNK_RUNS, chunkSeed } from "../cli/campaign.js";
import type { DesignInfo } from "../impl/design.js";
import { addCoverage, emptyCoverage } from "../properties/coverage.js";
import {
  type Counterexample,
  type PropertyOptions,
  type PropertyResult,
  addStats,
  defaultMaxCommands,
  emptyStats,
  checkDesign as runProperty,
} from "../properties/property.js";
import { buildReport, counterexampleLines } from "../properties/report.js";
import type { ShrinkReport } from "../properties/report-schema.js";

/** The runs `checkDesign` does when `runs` is not given (the CLI's campaign size). */
export const DEFAULT_CHECK_RUNS = 1000;

export interface CheckOptions extends Omit<PropertyOptions, "seed" | "runs"> {
  /** Master seed; drawn at random (and reported in the result) when absent. */
  readonly seed?: number;
  /** Random sequences to try (default DEFAULT_CHECK_RUNS). */
  readonly runs?: number;
}

export interface CheckResult extends PropertyResult {
  /** The campaign chunk the counterexample was found in (its runs and commands count from there). */
  readonly chunk?: number;
  /** The shrink report of the counterexample (absent when every run passed). */
  readonly report?: ShrinkReport;
}

/** The DesignInfo each result was checked with, for rendering its report's Markdown. */
const checkedWith = new WeakMap<CheckResult, DesignInfo>();

/**
 * Run the model-based property against `design`. Deterministic for a given seed, and the same
 * campaign as `rmapcheck run --seed S --runs N`: chunks of CHUNK_RUNS runs, chunk j seeded with
 * chunkSeed(S, j), in order, up to the first failing chunk — so the CLI finds the same
 * counterexample and a report's "found by" line reproduces it.
 */
export function checkDesign(opts: CheckOptions): CheckResult {
  const seed = opts.seed ?? randomInt(0, 0x7fffffff);
  const runs = opts.runs ?? DEFAULT_CHECK_RUNS;
  const coverage = emptyCoverage();
  const stats = emptyStats();
  let done = { runs: 0, commands: 0 };
  let stopped = false;
  let failure: { chunk: number; counterexample: Counterexample } | undefined;
  for (let chunk = 0; chunk * CHUNK_RUNS < runs && !failure && !stopped; chunk++) {
    const before = done;
    const onRun = opts.onRun;
    const r = runProperty({
      ...opts,
      seed: chunkSeed(seed, chunk),
      runs: Math.min(CHUNK_RUNS, runs - chunk * CHUNK_RUNS),
      onRun: onRun && ((n, c) => onRun(before.runs + n, before.commands + c)),
    });
    done = { runs: done.runs + r.runs, commands: done.commands + r.commands };
    addCoverage(coverage, r.coverage);
    addStats(stats, r.stats);
    stopped = r.stopped;
    if (r.counterexample) failure = { chunk, counterexample: r.counterexample };
  }
  const base = { design: opts.design.name, mutant: opts.mutant, seed, ...done, coverage, stats, stopped };
  const result: CheckResult = failure
    ? {
        ...base,
        ok: false,
        counterexample: failure.counterexample,
        chunk: failure.chunk,
        report: buildReport(failure.counterexample, {
          design: opts.design,
          mutant: opts.mutant,
          quirks: opts.quirks,
          world: opts.world,
          seed,
          chunk: failure.chunk,
          runs,
          maxCommands: opts.maxCommands ?? defaultMaxCommands,
          swarm: opts.swarm ?? true,
        }),
      }
    : { ...base, ok: true };
  checkedWith.set(result, opts.design);
  return result;
}

/** "design" or "design/mutant". */
export const resultLabel = (r: PropertyResult): string => (r.mutant ? `${r.design}/${r.mutant}` : r.design);

/** What the CLI prints for a result: the verdict, and on failure the shrunk sequence. */
export function formatResult(r: CheckResult): string {
  const head = `${resultLabel(r)}: seed ${r.seed}, ${r.runs} runs, ${r.commands} commands`;
  const cx = r.counterexample;
  if (!cx) return `${head}: ok`;
  return [`${head}: COUNTEREXAMPLE`, ...counterexampleLines(cx, r.chunk)].join("\n");
}

/**
 * Save the result's shrink report as DIR/<design>-<invariant>-<hash>.json and .md (never
 * overwriting one already recorded). Returns the paths, or undefined if the result passed.
 */
export function writeShrinkReport(r: CheckResult, dir = "shrink-reports"): { json: string; md: string; fresh: boolean } | undefined {
  const design = checkedWith.get(r);
  if (!r.report) return undefined;
  if (!design) throw new Error("writeShrinkReport: the result did not come from rmapcheck's checkDesign");
  return writeReport(dir, r.report, design);
}
