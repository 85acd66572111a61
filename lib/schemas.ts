/*
 * The JSON Schemas of everything rmapcheck writes for other tools, generated from the zod
 * schemas that validate and type it (zod 4's z.toJSONSchema). `npm run schemas` writes them
 * into schemas/; a test keeps the committed files equal to this output. File names carry the
 * format version: a consumer pins `shrink-report.v1.schema.json` and a format change adds a v2.
 */
import { z } from "zod";
import { OUTPUT_VERSION, compareOutputSchema, huntOutputSchema, replayOutputSchema, runOutputSchema } from "../cli/output-schemas.js";
import { REPORT_VERSION, reportSchema } from "../properties/report-schema.js";

/** Where the schemas live, relative to the package root (shipped in the npm package). */
export const SCHEMA_DIR = "schemas";

interface Entry {
  readonly file: string;
  readonly title: string;
  readonly description: string;
  readonly schema: z.ZodType;
}

const entries: readonly Entry[] = [
  {
    file: `shrink-report.v${REPORT_VERSION}.schema.json`,
    title: "rmapcheck shrink report",
    description: "A counterexample kept as data: the shrunk command sequence, the broken invariant, where it was found (rmapcheck run writes it; rmapcheck replay reads it).",
    schema: reportSchema,
  },
  {
    file: `run-output.v${OUTPUT_VERSION}.schema.json`,
    title: "rmapcheck run --json",
    description: "One object per design checked (an array for several).",
    schema: runOutputSchema,
  },
  {
    file: `replay-output.v${OUTPUT_VERSION}.schema.json`,
    title: "rmapcheck replay --json",
    description: "One verdict per replayed shrink report (an array for several).",
    schema: replayOutputSchema,
  },
  {
    file: `hunt-output.v${OUTPUT_VERSION}.schema.json`,
    title: "rmapcheck hunt --json",
    description: "Random search against catalogued mutants: per mutant and seed, found or not, how fast, how small; the clean controls.",
    schema: huntOutputSchema,
  },
  {
    file: `compare-output.v${OUTPUT_VERSION}.schema.json`,
    title: "rmapcheck compare --json",
    description: "One measurement per (design, workload, scale): rmap memory, work per fork and walk, and the invariant verdict.",
    schema: compareOutputSchema,
  },
];

/** file name → JSON Schema (draft 2020-12), in a stable order. */
export function jsonSchemas(): Map<string, Record<string, unknown>> {
  return new Map(
    entries.map((e) => {
      // "input": what rmapcheck accepts, so objects stay open (a later rmapcheck may add an
      // optional field without breaking a consumer that validates with this version).
      const { $schema, ...body } = z.toJSONSchema(e.schema, { target: "draft-2020-12", io: "input", reused: "ref" });
      return [e.file, { $schema, $id: `rmapcheck/${SCHEMA_DIR}/${e.file}`, title: e.title, description: e.description, ...body }];
    }),
  );
}

/** The text each schema file holds. */
export const schemaText = (schema: Record<string, unknown>): string => `${JSON.stringify(schema, null, 2)}\n`;
