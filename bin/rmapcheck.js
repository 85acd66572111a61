#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm ci` (the package's prepare script).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../dist/cli/bin.js", import.meta.url));
if (!existsSync(main)) {
  console.error("rmapcheck: not built yet; run `npm ci` (or `npm run build`) in the rmapcheck checkout first");
  process.exit(2);
}
await import(main);
