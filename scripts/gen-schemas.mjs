#!/usr/bin/env node
/*
 * Writes the JSON Schemas of rmapcheck's reports and --json outputs into schemas/ from the
 * compiled zod schemas (dist/lib/schemas.js): `npm run schemas` (it builds first).
 * lib/schemas.test.ts fails when the committed files differ from this output.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { SCHEMA_DIR, jsonSchemas, schemaText } = await import(join(root, "dist", "lib", "schemas.js"));
const dir = join(root, SCHEMA_DIR);
mkdirSync(dir, { recursive: true });
for (const [file, schema] of jsonSchemas()) {
  writeFileSync(join(dir, file), schemaText(schema));
  console.log(`gen-schemas: wrote ${join(SCHEMA_DIR, file)}`);
}
