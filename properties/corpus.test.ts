/*
 * The regression corpus: every shrink report committed under shrink-reports/ is replayed and
 * must give its recorded `expect` outcome ("fail": a known flaw still fails the same way;
 * "pass": a fixed bug stays fixed). A report whose outcome changes fails here by name.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadReport } from "../cli/reports.js";
import { resolveDesign } from "../cli/resolve.js";
import { replay } from "./report.js";

const dir = join(import.meta.dirname, "..", "shrink-reports");
const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();

describe("shrink-report corpus", () => {
  it("the corpus directory is readable", () => {
    expect(Array.isArray(files)).toBe(true);
  });
  for (const file of files) {
    it(`${file} replays with its expected outcome`, () => {
      const report = loadReport(join(dir, file));
      const spec = resolveDesign(report.mutant ? `${report.design}/${report.mutant}` : report.design);
      const r = replay(report, spec.design, spec.mutant);
      if (report.expect === "fail") {
        expect(r.failure, `${file} no longer fails`).toBeDefined();
        expect(r.failure?.invariant, `${file} fails differently: ${r.failure?.message}`).toBe(report.invariant);
      } else {
        expect(r.failure, `${file} fails again: ${r.failure?.message}`).toBeUndefined();
      }
    });
  }
});
