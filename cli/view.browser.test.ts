/*
 * The viewer in a real browser: Playwright (playwright-core, which downloads no browser)
 * drives the system's Chromium (Debian: `apt-get install chromium`; .ci/run installs it) over
 * pages written by `rmapcheck view`, steps with the keyboard and the slider, reads the DOM at
 * several steps, and takes screenshots into docs/view/shots/ (git-ignored).
 * Without a Chromium the whole file skips, saying so in one line.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { findMutant } from "../impl/mutants/catalogue.js";
import { runSequence } from "../properties/interpreter.js";
import { buildReport } from "../properties/report.js";
import { main } from "./main.js";
import { resolveDesign } from "./resolve.js";

const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
const executablePath = candidates.find((p): p is string => p !== undefined && p !== "" && existsSync(p));
if (!executablePath) console.warn("view.browser.test.ts skipped: no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)");

const shots = resolve("docs/view/shots");
const dir = mkdtempSync(join(tmpdir(), "rmapcheck-view-browser-"));

/** `rmapcheck view REPORT --out dir/NAME.html`, quietly; the page's file: URL. */
async function page(report: string, name: string): Promise<string> {
  const out = join(dir, `${name}.html`);
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  try {
    expect(await main(["view", report, "--out", out])).toBe(0);
  } finally {
    log.mockRestore();
  }
  return pathToFileURL(out).href;
}

/** P0 of the catalogue (scan's walk skips the newest mm) as a shrink report file: an I1 with a missed PTE. */
function p0Report(): string {
  const entry = findMutant("P0");
  if (!entry?.mutant) throw new Error("P0 is not in the catalogue");
  const { design, mutant } = resolveDesign(`${entry.design}/${entry.mutant}`);
  const r = runSequence(design, entry.minimal, { mutant, checkEvery: 1 });
  if (!r.failure) throw new Error("P0's sequence does not fail");
  const cx = { commands: [...entry.minimal], failure: r.failure, records: r.records, foundLength: 3, commandsToFailure: 3, runsToFailure: 1 };
  const report = buildReport(cx, { design, mutant, seed: 0, runs: 1, maxCommands: 3, swarm: false });
  const file = join(dir, "p0.json");
  writeFileSync(file, JSON.stringify(report));
  return file;
}

describe.skipIf(!executablePath)("rmapcheck view in Chromium", () => {
  let browser: Browser;
  let tab: Page;
  const errors: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    tab = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    tab.on("pageerror", (e) => errors.push(String(e)));
    tab.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    tab.on("request", (r) => requests.push(r.url()));
  });
  afterAll(async () => {
    await browser?.close();
  });

  const text = (sel: string) => tab.locator(sel).innerText();

  it("CVE-2022-42703: steps by keys and slider; the failing step shows I5, five mms and the two vmas", async () => {
    await tab.goto(await page("shrink-reports/anon-vma-chain-3.19-I5-d23ed9d2.json", "cve"));
    expect(await text("#pos")).toBe("step 0 of 10");
    expect(await text("#step-cmd")).toMatch(/before the first command/);
    expect(await tab.locator("#spaces rect.vma").count()).toBe(0);

    await tab.keyboard.press("ArrowRight");
    expect(await text("#step-cmd")).toBe("0 mmap(mm1, 0x1+1, rw, PRIVATE|ANON|FIXED)"); // innerText: spaces collapse
    expect(await tab.locator("#spaces rect.vma").count()).toBe(1);
    expect(await tab.locator("#spaces rect.pte.none").count()).toBe(1); // mapped, not faulted in
    await tab.keyboard.press("ArrowRight");
    expect(await text("#step-cmd")).toMatch(/^1 write\(mm1, 0x1/);
    expect(await tab.locator('#spaces rect.pte.present[data-key="mm1:0x1"]').count()).toBe(1);
    expect(await tab.locator('#graph g.node[data-id="anon_vma:1"]').count()).toBe(1);
    await tab.screenshot({ path: join(shots, "cve-step-2.png"), fullPage: true });

    await tab.locator("#slider").fill("5");
    expect(await text("#pos")).toBe("step 5 of 10");
    expect(await text("#step-cmd")).toMatch(/^4 exit\(mm2\)/);
    expect(await tab.locator("#violation").count()).toBe(0);

    await tab.keyboard.press("End");
    expect(await text("#pos")).toBe("step 10 of 10");
    expect(await text("#step-cmd")).toBe("9 fork(mm6) → mm7");
    expect(await text("#step-model")).toBe("0");
    expect(await text("#step-kernel")).toBe("0");
    expect(await text("#violation")).toMatch(/^I5\s*vma#6\[0x1, 0x2\) of mm5 and vma#8\[0x1, 0x2\) of mm7 share anon_vma #3/);
    expect(await tab.locator("#spaces g.mm").count()).toBe(5);
    expect(await tab.locator("#spaces rect.vma").count()).toBe(5);
    expect(await tab.locator("#spaces rect.vma.suspect-vma").evaluateAll((els) => els.map((e) => e.getAttribute("data-vma")))).toEqual(["vma#6", "vma#8"]);
    expect(await tab.locator("#graph g.node.anon_vma").count()).toBe(4);
    expect(await tab.locator('#graph g.node.suspect[data-id="page:0"]').count()).toBe(1);
    expect(await tab.locator("#spaces rect.pte.visited").count()).toBe(5); // the walk still finds all five
    expect(await tab.locator("#spaces rect.pte.missed").count()).toBe(0);
    await tab.screenshot({ path: join(shots, "cve-failing-step.png"), fullPage: true });

    await tab.keyboard.press("Home");
    expect(await text("#pos")).toBe("step 0 of 10");
    await tab.keyboard.press("f");
    expect(await text("#pos")).toBe("step 10 of 10");
    await tab.keyboard.press("ArrowLeft");
    expect(await text("#pos")).toBe("step 9 of 10");
    expect(await text("#step-cmd")).toMatch(/^8 exit\(mm3\)/);
  });

  it("P0 (I1): the failing step marks the missed PTE in the address space, the walk table and the graph", async () => {
    await tab.goto(`${await page(p0Report(), "p0")}#step=3`);
    expect(await text("#pos")).toBe("step 3 of 3");
    expect(await text("#violation")).toMatch(/^I1\s*page pfn 0 \(anon\): the walk missed mm2:0x1/);
    expect(await tab.locator("#spaces rect.pte.missed").evaluateAll((els) => els.map((e) => e.getAttribute("data-key")))).toEqual(["mm2:0x1"]);
    expect(await tab.locator("#spaces rect.pte.visited").evaluateAll((els) => els.map((e) => e.getAttribute("data-key")))).toEqual(["mm1:0x1"]);
    expect(await tab.locator("#spaces text.missmark").count()).toBe(1);
    expect(await text("#walks tr.suspect")).toMatch(/missed mm2:0x1/);
    expect(await text("#suspect")).toMatch(/MISSED \{mm2:0x1\}/);
    // the graph: the page under suspicion, the walk's edge to mm1's vma and the missed one to mm2's
    expect(await tab.locator('#graph g.node.suspect[data-id="page:0"]').count()).toBe(1);
    expect(await tab.locator("#graph g.node.visited").evaluateAll((els) => els.map((e) => e.getAttribute("data-id")))).toEqual(["vma#1"]);
    expect(await tab.locator("#graph g.node.missed").evaluateAll((els) => els.map((e) => e.getAttribute("data-id")))).toEqual(["vma#3"]);
    expect(await tab.locator("#graph path.walk-missed").count()).toBe(1);
    expect(await tab.locator("#graph text.edgelabel", { hasText: "missed mm2:0x1" }).count()).toBe(1);
    await tab.screenshot({ path: join(shots, "p0-missed-pte.png"), fullPage: true });
    // one step back, before the fork, nothing is missed
    await tab.keyboard.press("ArrowLeft");
    expect(await tab.locator("#spaces rect.pte.missed").count()).toBe(0);
    expect(await tab.locator("#violation").count()).toBe(0);
  });

  it("ran without a script error and fetched nothing but its own file", () => {
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith("file:"))).toEqual([]);
  });
});
