/*
 * The property runner as a library call: `checkDesign({ design, runs, seed })` runs the
 * model-based property against any DesignInfo (a built-in one or the user's own) and, on a
 * counterexample, builds its shrink report. `formatFailure` prints it as the CLI does;
 * `writeShrinkReport` saves it as JSON + Markdown, replayable with `rmapcheck replay`.
 */
import { randomInt } from "node:crypto";
import { writeReport } from "../cli/reports.js";
import type { DesignInfo } from "../impl/design.js";
import { type PropertyOptions, type PropertyResult, checkDesign as runProperty, defaultMaxCommands } from "../properties/property.js";
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
  /** The shrink report of the counterexample (absent when every run passed). */
  readonly report?: ShrinkReport;
}

/** The DesignInfo each result was checked with, for rendering its report's Markdown. */
const checkedWith = new WeakMap<CheckResult, DesignInfo>();

/** Run the model-based property against `design`. Deterministic for a given seed. */
export function checkDesign(opts: CheckOptions): CheckResult {
  const seed = opts.seed ?? randomInt(0, 0x7fffffff);
  const runs = opts.runs ?? DEFAULT_CHECK_RUNS;
  const r = runProperty({ ...opts, seed, runs });
  const result: CheckResult = r.counterexample
    ? {
        ...r,
        report: buildReport(r.counterexample, {
          design: opts.design,
          mutant: opts.mutant,
          quirks: opts.quirks,
          world: opts.world,
          seed,
          runs,
          maxCommands: opts.maxCommands ?? defaultMaxCommands,
          swarm: opts.swarm ?? true,
        }),
      }
    : r;
  checkedWith.set(result, opts.design);
  return result;
}

/** "design" or "design/mutant". */
export const resultLabel = (r: PropertyResult): string => (r.mutant ? `${r.design}/${r.mutant}` : r.design);

/** What the CLI prints for a result: the verdict, and on failure the shrunk sequence. */
export function formatResult(r: PropertyResult): string {
  const head = `${resultLabel(r)}: seed ${r.seed}, ${r.runs} runs, ${r.commands} commands`;
  const cx = r.counterexample;
  if (!cx) return `${head}: ok`;
  return [`${head}: COUNTEREXAMPLE`, ...counterexampleLines(cx)].join("\n");
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
