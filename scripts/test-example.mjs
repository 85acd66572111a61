#!/usr/bin/env node
/*
 * Tests the package as a user gets it: `npm pack` rmapcheck (which builds dist/), copy
 * examples/own-design to a temporary directory, install the tarball there (instead of the
 * example's `file:../..`), and run the example's own tests (tsc on its JS design and tests,
 * then vitest). Fails if the installed package is not the tarball, lacks dist/ or schemas/, or
 * the example's tests fail. Run by `npm run test:example` and by .ci/run after `npm test`.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const work = mkdtempSync(join(tmpdir(), "rmapcheck-example-"));
const keep = process.env.KEEP_EXAMPLE === "1";

function sh(cmd, args, cwd) {
  console.log(`test-example: (${cwd === root ? "rmapcheck" : basename(cwd)}) ${cmd} ${args.join(" ")}`);
  return execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
}

function fail(why) {
  console.error(`test-example: ${why}`);
  process.exit(1);
}

try {
  // 1. The tarball, exactly what `npm publish` would upload.
  // prepare (the build) runs first and may print to stdout: the JSON starts at the line "[".
  const out = sh(npm, ["pack", "--json", "--pack-destination", work], root);
  const packed = JSON.parse(out.slice(out.search(/^\[/m)));
  const tarball = join(work, packed[0].filename);
  const files = new Set(packed[0].files.map((f) => f.path));
  for (const need of ["dist/lib/index.js", "dist/lib/index.d.ts", "dist/lib/vitest.js", "dist/cli/bin.js", "bin/rmapcheck.js", "schemas/shrink-report.v1.schema.json"]) {
    if (!files.has(need)) fail(`the tarball lacks ${need}`);
  }
  for (const f of files) if (/\.test\.|^(cli|impl|model|properties|lib)\//.test(f)) fail(`the tarball ships ${f} (sources or tests)`);
  console.log(`test-example: ${packed[0].filename}: ${files.size} files, ${(packed[0].size / 1024).toFixed(0)} KiB packed`);

  // 2. The example, outside the repository, depending on the tarball.
  const example = join(work, "own-design");
  cpSync(join(root, "examples", "own-design"), example, { recursive: true, filter: (src) => !/node_modules|package-lock\.json/.test(src) });
  const pkg = JSON.parse(readFileSync(join(example, "package.json"), "utf8"));
  pkg.dependencies.rmapcheck = `file:${tarball}`;
  writeFileSync(join(example, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
  sh(npm, ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], example);
  const installed = join(example, "node_modules", "rmapcheck");
  if (existsSync(join(installed, "cli")) || !existsSync(join(installed, "dist", "lib", "index.js"))) {
    fail("node_modules/rmapcheck is not the packed package (sources present or dist/ missing)");
  }

  // 3. The example's own tests, against the installed package.
  execFileSync(npm, ["test"], { cwd: example, stdio: "inherit" });
  console.log("test-example: the packed rmapcheck passes examples/own-design's tests");
} catch (e) {
  fail(e instanceof Error ? e.message.split("\n")[0] : String(e));
} finally {
  if (keep) console.log(`test-example: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
