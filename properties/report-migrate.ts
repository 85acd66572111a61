/*
 * Reading shrink reports of other versions. A report names its format version; one written by
 * an older rmapcheck is carried forward one version at a time by the migrations below (each
 * a pure function of the JSON), one written by a newer rmapcheck is refused with a message
 * saying so. Version 1 is the first format, so the table is empty today: the next format
 * change adds `1: (r) => …` here rather than breaking the committed corpus.
 */
import { REPORT_SCHEMA, REPORT_VERSION } from "./report-schema.js";

export type JsonObject = Record<string, unknown>;

/** migrations[n] turns a version-n report into a version-(n+1) one. */
export type Migrations = Readonly<Record<number, (report: JsonObject) => JsonObject>>;

export const reportMigrations: Migrations = {};

export type Migrated = { ok: true; report: JsonObject; from: number } | { ok: false; error: string };

/** Bring a parsed report to REPORT_VERSION, or say in one line why that is impossible. */
export function migrateReport(data: unknown, migrations: Migrations = reportMigrations, current = REPORT_VERSION): Migrated {
  if (typeof data !== "object" || data === null || Array.isArray(data) || (data as JsonObject).schema !== REPORT_SCHEMA) {
    return { ok: false, error: `not a rmapcheck shrink report (no "schema": "${REPORT_SCHEMA}")` };
  }
  const from = (data as JsonObject).version;
  if (typeof from !== "number" || !Number.isInteger(from) || from < 0) {
    return { ok: false, error: `shrink report has no valid "version" (this rmapcheck reads version ${current})` };
  }
  if (from > current) {
    return { ok: false, error: `shrink report version ${from} was written by a newer rmapcheck (this one reads versions up to ${current}); upgrade rmapcheck to read it` };
  }
  let report = data as JsonObject;
  for (let v = from; v < current; v++) {
    const step = migrations[v];
    if (!step) {
      return { ok: false, error: `shrink report version ${from} is too old: no migration from version ${v} to ${v + 1} (this rmapcheck reads version ${current})` };
    }
    report = { ...step(report), version: v + 1 };
  }
  return { ok: true, report, from };
}
