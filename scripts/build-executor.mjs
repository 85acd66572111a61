#!/usr/bin/env node
/*
 * Builds the host executor (conform/executor.c -> conform/build/executor).
 *
 * Run from `prepare`, so it must never fail an install: the executor is optional (only the
 * host-conformance tests need it). Anything missing — not Linux, no C compiler, no source in
 * this copy of the package, a compile error — prints one line and exits 0.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const src = join(root, "conform", "executor.c");
const outDir = join(root, "conform", "build");
const out = join(outDir, "executor");

function skip(why) {
  console.log(`build-executor: skipped (${why}); host conformance checks will be unavailable`);
  process.exit(0);
}

if (process.platform !== "linux") skip(`platform is ${process.platform}, not linux`);
if (!existsSync(src)) skip(`${src} not present`);
const cc = process.env.CC || "cc";
const probe = spawnSync(cc, ["--version"], { stdio: "ignore" });
if (probe.error || probe.status !== 0) skip(`no C compiler (${cc})`);

try {
  mkdirSync(outDir, { recursive: true });
} catch (e) {
  skip(`cannot create ${outDir}: ${e instanceof Error ? e.message : String(e)}`);
}
const r = spawnSync(cc, ["-O2", "-Wall", "-Wextra", "-o", out, src], { encoding: "utf8" });
if (r.error || r.status !== 0) {
  const detail = (r.stderr || r.error?.message || "").trim().split("\n").slice(0, 20).join("\n");
  if (detail) console.error(detail);
  skip(`compile failed with ${cc}`);
}
if (r.stderr.trim()) console.error(r.stderr.trim());
console.log(`build-executor: built ${out}`);
