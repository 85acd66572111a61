/*
 * `import "rmapcheck/vitest"`: a vitest matcher for checkDesign's results.
 *
 *   test("my design", () => expect(checkDesign({ design: mine, runs: 2000, seed: 1 })).toPass());
 *
 * A failure prints the seed, the broken invariant and the shrunk sequence as syscalls, and
 * writes the shrink report (JSON + Markdown) to `shrink-reports/` (or `reports` in the
 * matcher's options, or $RMAPCHECK_REPORTS; `reports: false` writes nothing), with the
 * `rmapcheck replay` line to re-run it. `.not.toPass()` asserts that a design is caught.
 */
import { expect } from "vitest";
import type { PropertyResult } from "../properties/property.js";
import { type CheckResult, formatResult, resultLabel, writeShrinkReport } from "./check.js";

export interface ToPassOptions {
  /** Where the shrink report of a failure goes; false: nowhere. */
  readonly reports?: string | false;
}

const isResult = (v: unknown): v is PropertyResult =>
  typeof v === "object" && v !== null && typeof (v as PropertyResult).ok === "boolean" && typeof (v as PropertyResult).design === "string";

function reportLine(r: CheckResult, opts: ToPassOptions): string {
  const dir = opts.reports ?? process.env.RMAPCHECK_REPORTS ?? "shrink-reports";
  if (dir === false || !r.report) return "";
  try {
    const written = writeShrinkReport(r, dir);
    if (!written) return "";
    return `\n${written.fresh ? "shrink report written" : "shrink report already recorded"}: ${written.json}\nreplay it: rmapcheck replay ${written.json}`;
  } catch (e) {
    return `\n(the shrink report could not be written: ${e instanceof Error ? e.message : String(e)})`;
  }
}

expect.extend({
  toPass(received: unknown, opts: ToPassOptions = {}) {
    if (!isResult(received)) {
      return { pass: false, message: () => "toPass() expects the result of rmapcheck's checkDesign()" };
    }
    const r = received as CheckResult;
    if (r.ok) {
      return { pass: true, message: () => `expected ${resultLabel(r)} to fail, but it passed ${r.runs} runs (seed ${r.seed})` };
    }
    // Only a failing assertion writes a report: `.not.toPass()` on a caught design does not.
    const written = this.isNot ? "" : reportLine(r, opts);
    return { pass: false, message: () => `${formatResult(r)}${written}` };
  },
});

declare module "vitest" {
  // biome-ignore lint/suspicious/noExplicitAny: the augmentation must repeat vitest's own declaration
  interface Matchers<T = any> {
    /** The checkDesign result held on every run (fails with the shrunk counterexample). */
    toPass(options?: ToPassOptions): T;
  }
}
