/*
 * Writing and loading shrink reports. Writes are atomic (a temporary file renamed into place)
 * and never overwrite; loading validates against the schema and fails with one line.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DesignInfo } from "../impl/design.js";
import { renderMarkdown, reportFileStem } from "../properties/report.js";
import { buildTimeline } from "../properties/timeline.js";
import { migrateReport } from "../properties/report-migrate.js";
import { REPORT_VERSION, type ShrinkReport, reportSchema } from "../properties/report-schema.js";
import { UsageError } from "./errors.js";

function atomicWrite(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/**
 * The report's timeline, or undefined if recording it failed (a design whose snapshot throws,
 * say): the report itself matters more, and `view` replays a report without one.
 */
function recordTimeline(report: ShrinkReport, design: DesignInfo): ShrinkReport["timeline"] {
  try {
    return buildTimeline(report, design, report.mutant) as unknown as ShrinkReport["timeline"];
  } catch {
    return undefined;
  }
}

/**
 * Write <stem>.json and <stem>.md into dir; returns their paths and whether they were new. The
 * JSON carries the report's timeline (what `rmapcheck view` draws), recorded now by replaying
 * it against `design` (the report's own design, with its mutant).
 */
export function writeReport(dir: string, report: ShrinkReport, design: DesignInfo): { json: string; md: string; fresh: boolean } {
  mkdirSync(dir, { recursive: true });
  const stem = reportFileStem(report);
  const json = join(dir, `${stem}.json`);
  const md = join(dir, `${stem}.md`);
  if (existsSync(json)) return { json, md, fresh: false };
  const recorded: ShrinkReport = report.timeline ? report : { ...report, timeline: recordTimeline(report, design) };
  atomicWrite(md, renderMarkdown(recorded, design, json));
  atomicWrite(json, `${JSON.stringify(recorded, null, 2)}\n`);
  return { json, md, fresh: true };
}

/** Re-render FILE.md from FILE.json (after a person annotated title, explanation or expect). */
export function rerender(jsonPath: string, design: DesignInfo): string {
  const report = loadReport(jsonPath);
  const md = jsonPath.replace(/\.json$/, ".md");
  atomicWrite(md, renderMarkdown(report, design, jsonPath));
  return md;
}

/** Load and validate one report, or throw a one-line UsageError. */
export function loadReport(path: string): ShrinkReport {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${path}: cannot read (${code === "ENOENT" ? "no such file" : code ?? "error"})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON (${(e as Error).message.split("\n")[0]})`);
  }
  return parseReport(data, path);
}

/**
 * Validate a parsed report (`source` names it in errors), migrating one of an older version;
 * throws a one-line UsageError.
 */
export function parseReport(data: unknown, source: string): ShrinkReport {
  const migrated = migrateReport(data);
  if (!migrated.ok) throw new UsageError(`${source}: ${migrated.error}`);
  const parsed = reportSchema.safeParse(migrated.report);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "(top level)";
    const was = migrated.from !== REPORT_VERSION ? ` (after migrating from version ${migrated.from})` : "";
    throw new UsageError(`${source}: invalid shrink report${was} at ${where}: ${issue?.message ?? "schema mismatch"}`);
  }
  return parsed.data;
}
