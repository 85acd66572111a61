/*
 * `rmapcheck replay FILE…`: re-execute shrink reports from their data. Exit 1 if a failure
 * reproduces, 0 if none does, 2 on bad input or if a replay is not deterministic.
 */
import { replay } from "../properties/report.js";
import { EXIT_COUNTEREXAMPLE, EXIT_OK, EXIT_USAGE, UsageError } from "./errors.js";
import type { ReplayVerdict } from "./output-schemas.js";
import { loadReport } from "./reports.js";
import { resolveDesign } from "./resolve.js";

export interface ReplayFlags {
  files: string[];
  design?: string;
  json: boolean;
  quiet: boolean;
}

export function replayCommand(flags: ReplayFlags): number {
  // Validate everything first: bad input never half-runs.
  const loaded = flags.files.map((file) => ({ file, report: loadReport(file) }));
  const jobs = loaded.map(({ file, report }) => {
    try {
      const spec = resolveDesign(flags.design ?? (report.mutant ? `${report.design}/${report.mutant}` : report.design));
      return { file, report, spec };
    } catch (e) {
      throw e instanceof UsageError && !flags.design ? new UsageError(`${file}: ${e.message}`) : e;
    }
  });
  let reproduced = 0;
  const json: ReplayVerdict[] = [];
  for (const { file, report, spec } of jobs) {
    const first = replay(report, spec.design, spec.mutant);
    const second = replay(report, spec.design, spec.mutant);
    if (first.hash !== second.hash) {
      throw new UsageError(`${file}: replay is not deterministic (trace hashes ${first.hash.slice(0, 12)} ≠ ${second.hash.slice(0, 12)})`);
    }
    const failed = first.failure !== undefined;
    if (failed) reproduced++;
    if (flags.json) {
      json.push({
        file,
        design: spec.label,
        reproduced: failed,
        invariant: first.failure?.invariant,
        message: first.failure?.message,
        expect: report.expect,
        matchesExpect: failed === (report.expect === "fail"),
        traceHash: first.hash,
      });
      continue;
    }
    console.log(`${file}: ${spec.label}, ${report.commands.length} commands (recorded: ${report.invariant} at step ${report.failingStep}; expect ${report.expect})`);
    if (!flags.quiet) for (const line of first.trace) console.log(`  ${line}`);
    console.log(
      failed
        ? `  => REPRODUCES: ${first.failure?.invariant} at step ${first.failure?.step} (trace ${first.hash.slice(0, 12)}, identical on a second run)`
        : `  => does not reproduce: every check holds (trace ${first.hash.slice(0, 12)}, identical on a second run)`,
    );
  }
  if (flags.json) console.log(JSON.stringify(json.length === 1 ? json[0] : json, null, 2));
  return reproduced > 0 ? EXIT_COUNTEREXAMPLE : EXIT_OK;
}

export { EXIT_USAGE };
