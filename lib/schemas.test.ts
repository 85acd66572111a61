/*
 * Why this test? Other tools read rmapcheck's reports and --json outputs through the JSON
 * Schemas in schemas/. They must (1) be exactly what the zod schemas generate today (else a
 * consumer validates against a stale contract), (2) accept every committed shrink report and
 * what run, replay, hunt and compare really print, and (3) old or new report versions must be
 * refused with one line, or migrated where a migration exists.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../cli/main.js";
import { parseReport } from "../cli/reports.js";
import { migrateReport } from "../properties/report-migrate.js";
import { SCHEMA_DIR, jsonSchemas, schemaText } from "./schemas.js";

const ajv = new Ajv2020({ allErrors: true, strict: false });
const committed = (file: string) => JSON.parse(readFileSync(join(SCHEMA_DIR, file), "utf8")) as Record<string, unknown>;
const validator = (file: string) => ajv.getSchema(`rmapcheck/${SCHEMA_DIR}/${file}`) ?? ajv.compile(committed(file));

function valid(file: string, data: unknown): string {
  const v = validator(file);
  return v(data) ? "valid" : ajv.errorsText(v.errors);
}

async function jsonOf(...args: string[]): Promise<{ code: number; data: unknown }> {
  const out: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  const err = vi.spyOn(console, "error").mockImplementation(() => {});
  try {
    const code = await main(args);
    return { code, data: JSON.parse(out.join("\n")) };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

describe("JSON Schemas in schemas/", () => {
  it("are up to date with the zod schemas (regenerate with `npm run schemas`)", () => {
    const generated = jsonSchemas();
    expect(readdirSync(SCHEMA_DIR).sort()).toEqual([...generated.keys()].sort());
    for (const [file, schema] of generated) {
      expect(readFileSync(join(SCHEMA_DIR, file), "utf8"), `${file} is stale: run npm run schemas`).toBe(schemaText(schema));
    }
  });

  const reports = readdirSync("shrink-reports").filter((f) => f.endsWith(".json"));
  it.each(reports)("committed shrink report %s validates (JSON Schema and zod)", (file) => {
    const data = JSON.parse(readFileSync(join("shrink-reports", file), "utf8"));
    expect(valid("shrink-report.v1.schema.json", data)).toBe("valid");
    expect(parseReport(data, file).commands.length).toBeGreaterThan(0);
  });

  it("reject what the zod schema rejects (a command with a negative mm)", () => {
    const data = JSON.parse(readFileSync(join("shrink-reports", reports[0] as string), "utf8"));
    data.commands[0].mm = -1;
    expect(valid("shrink-report.v1.schema.json", data)).toMatch(/commands\/0/);
  });

  it("run --json (one design, and several with a counterexample) validates", async () => {
    const one = await jsonOf("run", "--design", "scan", "--runs", "20", "--seed", "5", "--json", "--no-reports", "--stats");
    expect(valid("run-output.v1.schema.json", one.data)).toBe("valid");
    const two = await jsonOf("run", "--design", "scan", "--design", "scan/skip-newest-mm", "--runs", "100", "--seed", "3", "--json", "--no-reports");
    expect(two.code).toBe(1);
    expect((two.data as { failure?: unknown }[])[1]?.failure).toBeDefined();
    expect(valid("run-output.v1.schema.json", two.data)).toBe("valid");
  });

  it("replay --json validates", async () => {
    const files = reports.map((f) => join("shrink-reports", f));
    const r = await jsonOf("replay", ...files, "--json");
    expect(valid("replay-output.v1.schema.json", r.data)).toBe("valid");
  });

  it("hunt --json validates", async () => {
    const r = await jsonOf("hunt", "--mutant", "P0", "--seeds", "1", "--time-limit", "5", "--json");
    expect((r.data as { mutants: unknown[] }).mutants).toHaveLength(1);
    expect(valid("hunt-output.v1.schema.json", r.data)).toBe("valid");
  });

  it("compare --json validates", async () => {
    const r = await jsonOf("compare", "scan", "pte-chain", "--workload", "fork-exit-churn", "--scale", "2", "--json");
    expect(r.data).toHaveLength(2);
    expect(valid("compare-output.v1.schema.json", r.data)).toBe("valid");
  });
});

describe("shrink report versions", () => {
  const v1 = JSON.parse(readFileSync(join("shrink-reports", readdirSync("shrink-reports").find((f) => f.endsWith(".json")) as string), "utf8"));

  it("a current report passes through unchanged", () => {
    const m = migrateReport(v1);
    expect(m).toEqual({ ok: true, report: v1, from: 1 });
  });

  it("an older report is carried forward by the migrations, one version at a time", () => {
    // A made-up version 0 that called the failing step `step` and had no harness field.
    const { failingStep, harness, ...rest } = v1;
    const v0 = { ...rest, version: 0, step: failingStep };
    const migrations = {
      0: ({ step, ...r }: Record<string, unknown>) => ({ ...r, failingStep: step, harness: { name: "rmapcheck", version: "0.0.0" } }),
    };
    const m = migrateReport(v0, migrations, 1);
    expect(m.ok).toBe(true);
    if (m.ok) {
      expect(m.from).toBe(0);
      expect(m.report).toEqual({ ...v1, harness: { name: "rmapcheck", version: "0.0.0" } });
    }
  });

  it.each([
    [{ ...v1, version: 2 }, /version 2 was written by a newer rmapcheck/],
    [{ ...v1, version: 0 }, /version 0 is too old: no migration from version 0 to 1/],
    [{ ...v1, version: "1" }, /no valid "version"/],
    [{ hello: 1 }, /not a rmapcheck shrink report/],
  ])("refuses %# with one clear line", (data, message) => {
    expect(() => parseReport(data, "r.json")).toThrow(message);
  });
});
