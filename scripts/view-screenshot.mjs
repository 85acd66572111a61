#!/usr/bin/env node
/*
 * A picture of `rmapcheck view` for the docs: writes the report's page, opens it in the
 * system's Chromium (playwright-core, no browser download) at a step, and saves a PNG.
 *
 *   node scripts/view-screenshot.mjs REPORT.json OUT.png [STEP] [WIDTHxHEIGHT]
 *
 * STEP defaults to the failing step. Needs `npm run build` first (it runs dist/), and a
 * Chromium at /usr/bin/chromium or $CHROMIUM_PATH.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const [report, out, step, size = "1400x900"] = process.argv.slice(2);
if (!report || !out) {
  console.error("usage: node scripts/view-screenshot.mjs REPORT.json OUT.png [STEP] [WIDTHxHEIGHT]");
  process.exit(2);
}
const executablePath = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => p && existsSync(p));
if (!executablePath) {
  console.error("view-screenshot: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)");
  process.exit(2);
}
const html = join(mkdtempSync(join(tmpdir(), "rmapcheck-shot-")), "page.html");
execFileSync(process.execPath, ["bin/rmapcheck.js", "view", report, "--out", html], { stdio: "inherit" });
const [width, height] = size.split("x").map(Number);
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: 1 });
  await page.goto(`${pathToFileURL(html).href}${step !== undefined ? `#step=${step}` : ""}`);
  if (step === undefined) await page.keyboard.press("f");
  await page.screenshot({ path: out, fullPage: true });
  console.log(`${out}: ${await page.locator("#pos").innerText()}`);
} finally {
  await browser.close();
}
