/*
 * `rmapcheck view REPORT.json [--out page.html]`: one self-contained HTML page to step
 * through a counterexample in the browser (no server, no network: d3 and the viewer's script
 * and style are inlined, the frames are inlined as JSON). The frames come from replaying the
 * report (properties/timeline.ts), so every report ever written can be viewed.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Timeline, buildTimeline } from "../properties/timeline.js";
import { UsageError } from "./errors.js";
import { loadReport } from "./reports.js";
import { resolveDesign } from "./resolve.js";

export interface ViewFlags {
  file: string;
  out?: string;
  /** View the report's commands on another design (DESIGN or DESIGN/MUTANT), as replay --design. */
  design?: string;
}

/** The checkout or installed package that holds view/ (this file runs from cli/ or dist/cli/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "view", "viewer.js"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("rmapcheck's view/ assets are missing from this installation");
}

/** d3's browser bundle (UMD, defines window.d3), from wherever node resolves the package. */
function d3Bundle(root: string): string {
  const require = createRequire(join(root, "package.json"));
  return readFileSync(join(dirname(require.resolve("d3")), "d3.min.js"), "utf8");
}

/** Text safe inside an inline <script>: no "</script" can close it early. */
const scriptSafe = (js: string): string => js.replace(/<\/(script)/gi, "<\\/$1");

const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);

/** The page: the timeline as JSON, d3, the viewer's script and style, all inline. */
export function renderViewerHtml(t: Timeline, source: string): string {
  const root = packageRoot();
  const css = readFileSync(join(root, "view", "viewer.css"), "utf8");
  const js = ["layout.js", "viewer.js"].map((f) => readFileSync(join(root, "view", f), "utf8")).join("\n");
  const data = JSON.stringify({ ...t, source }).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="rmapcheck view">
<title>${escapeHtml(t.title)}</title>
<style>
${css}
</style>
</head>
<body>
<noscript>This page needs JavaScript (it runs offline: nothing is fetched).</noscript>
<script id="timeline" type="application/json">${data}</script>
<script>
${scriptSafe(d3Bundle(root))}
</script>
<script>
${scriptSafe(js)}
</script>
</body>
</html>
`;
}

export function viewCommand(flags: ViewFlags): number {
  const report = loadReport(flags.file);
  let spec: ReturnType<typeof resolveDesign>;
  try {
    spec = resolveDesign(flags.design ?? (report.mutant ? `${report.design}/${report.mutant}` : report.design));
  } catch (e) {
    throw e instanceof UsageError && !flags.design ? new UsageError(`${flags.file}: ${e.message}`) : e;
  }
  // The timeline the report recorded when it was written, unless another design is asked for
  // (or the report predates recording): then the report's commands are replayed now.
  const timeline = report.timeline && !flags.design ? (report.timeline as unknown as Timeline) : buildTimeline(report, spec.design, spec.mutant);
  const out = flags.out ?? `${flags.file.replace(/\.json$/i, "")}.html`;
  const html = renderViewerHtml({ ...timeline, design: spec.label }, flags.file);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, html);
    renameSync(tmp, out);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${out}: cannot write (${code === "ENOENT" ? "no such directory" : code ?? "error"})`);
  }
  const steps = timeline.frames.length - 1;
  const fails =
    timeline.failingFrame !== undefined
      ? `fails at frame ${timeline.failingFrame}: ${timeline.frames[timeline.failingFrame]?.violation?.invariant}`
      : "no longer fails";
  console.log(`${out}: ${spec.label}, ${steps} steps, ${fails} (open it in a browser; ←/→, Home/End step through)`);
  return 0;
}
