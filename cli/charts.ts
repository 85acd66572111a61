/*
 * SVG charts, server-side, with Vega-Lite (compiled to Vega, rendered headless by vega's
 * View.toSVG(); no browser, no canvas).
 */
import * as vega from "vega";
import { compile } from "vega-lite";

export interface Series {
  /** Line label (a design, a mutant). */
  readonly label: string;
  readonly x: number;
  readonly y: number;
}

export async function lineChart(title: string, xTitle: string, yTitle: string, points: readonly Series[], logX = true): Promise<string> {
  const spec = compile({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 420,
    height: 260,
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "x", type: "quantitative", title: xTitle, scale: logX ? { type: "log" } : {} },
      y: { field: "y", type: "quantitative", title: yTitle },
      color: { field: "label", type: "nominal", title: "design" },
    },
  }).spec;
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  return view.toSVG();
}

export async function barChart(title: string, yTitle: string, points: readonly { label: string; group: string; y: number }[]): Promise<string> {
  const spec = compile({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: { step: 14 },
    height: 260,
    data: { values: points.map((p) => ({ ...p })) },
    mark: "bar",
    encoding: {
      x: { field: "label", type: "nominal", title: null, axis: { labelAngle: -60 } },
      y: { field: "y", type: "quantitative", title: yTitle },
      xOffset: { field: "group", type: "nominal" },
      color: { field: "group", type: "nominal", title: "" },
    },
  }).spec;
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  return view.toSVG();
}
