/*
 * `rmapcheck view` without a browser: bad input gets one line and exit 2; a good report gives
 * one self-contained page (no external script, style or request; the frames inline).
 * The page in a real browser: cli/view.browser.test.ts.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cli } from "./test-helpers.js";


afterEach(() => {
  process.exitCode = undefined;
});

const CVE = "shrink-reports/anon-vma-chain-3.19-I5-d23ed9d2.json";

describe("rmapcheck view: bad input", () => {
  const dir = mkdtempSync(join(tmpdir(), "rmapcheck-view-"));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const report = JSON.parse(readFileSync(CVE, "utf8"));

  it.each([
    ["a missing file", () => join(dir, "nope.json"), /cannot read \(no such file\)/],
    ["malformed JSON", () => file("bad.json", "{ not json"), /not valid JSON/],
    ["not a report", () => file("other.json", '{"a": 1}'), /not a rmapcheck shrink report/],
    ["a newer version", () => file("v99.json", JSON.stringify({ ...report, version: 99 })), /version 99 was written by a newer rmapcheck/],
    ["a schema violation", () => file("cmd.json", JSON.stringify({ ...report, commands: [{ op: "fly" }] })), /invalid shrink report at commands\.0/],
    ["an unknown design", () => file("design.json", JSON.stringify({ ...report, design: "no-such-design" })), /unknown design 'no-such-design'/],
  ])("%s: one line, exit 2", async (_what, path, message) => {
    const r = await cli("view", path(), "--out", join(dir, "x.html"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.split("\n")).toHaveLength(1);
  });

  it("an --out in a missing directory: one line, exit 2", async () => {
    const r = await cli("view", CVE, "--out", join(dir, "no", "such", "dir", "x.html"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot write \(no such directory\)/);
  });

  it("no file at all: usage error, exit 2", async () => {
    const r = await cli("view");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/missing required argument/);
  });
});

describe("rmapcheck view: the page", () => {
  it("is one self-contained file: d3 and the frames inline, nothing fetched", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rmapcheck-view-"));
    const out = join(dir, "cve.html");
    const r = await cli("view", CVE, "--out", out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/anon-vma-chain-3\.19, 10 steps, fails at frame 10: I5/);
    const html = readFileSync(out, "utf8");
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).not.toMatch(/(src|href)="https?:/i);
    expect(html).toMatch(/d3js\.org v7/); // the d3 bundle's banner
    const json = /<script id="timeline" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1];
    const data = JSON.parse(json as string);
    expect(data.frames).toHaveLength(11);
    expect(data.failingFrame).toBe(10);
    expect(data.frames[10].violation.invariant).toBe("I5");
    // every <script> closes where it should: no "</script" inside the inlined code
    expect(html.match(/<script/g)?.length).toBe(html.match(/<\/script>/g)?.length);
  });

  it("draws the timeline the report recorded, and replays only for another design", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rmapcheck-view-"));
    const report = JSON.parse(readFileSync(CVE, "utf8"));
    expect(report.timeline.frames).toHaveLength(11);
    // A recorded frame the replay would not produce: view must draw the record.
    report.timeline.frames[3].cmd = "recorded-by-the-report";
    const copy = join(dir, "r.json");
    writeFileSync(copy, JSON.stringify(report));
    expect((await cli("view", copy, "--out", join(dir, "a.html"))).code).toBe(0);
    expect(readFileSync(join(dir, "a.html"), "utf8")).toContain("recorded-by-the-report");
    expect((await cli("view", copy, "--design", "anon-vma-chain-3.19", "--out", join(dir, "b.html"))).code).toBe(0);
    expect(readFileSync(join(dir, "b.html"), "utf8")).not.toContain("recorded-by-the-report");
  });

  it("defaults to REPORT.html beside the report and views on another design with --design", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rmapcheck-view-"));
    const copy = join(dir, "r.json");
    writeFileSync(copy, readFileSync(CVE));
    const r = await cli("view", copy, "--design", "anon-vma-chain");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/r\.html: anon-vma-chain, \d+ steps, no longer fails/);
    expect(readFileSync(join(dir, "r.html"), "utf8")).toMatch(/^<!doctype html>/);
  });
});
