/*
 * rmapcheck view: the graph's layout (inlined by cli/view.ts before viewer.js).
 *
 * One layout over every frame's nodes, so an object keeps its place while the reader steps
 * and only appears or goes. d3-force spreads the nodes; rows by kind keep the picture in the
 * order a walk reads it: vmas on top, then the rmap objects (anon_vmas one generation per
 * row, following parent pointers), then pages. mm → vma edges are left out (a vma's label
 * names its mm), and so are mms that no design structure points at (anonmm's do).
 */
// biome-ignore lint/correctness/noUnusedVariables: called by viewer.js, inlined after this file
function rmapLayout(frames) {
  const rows = { mm: 0, vma: 90, file: 200, anon_vma: 200, anonmm: 200, pte_chain: 200, freed: 200, page: 330 };
  const nodeById = new Map();
  const edgeKeys = new Map();
  const drawnEdge = (e) => e.kind !== "mmap";
  for (const f of frames) {
    for (const n of f.graph.nodes) {
      const seen = nodeById.get(n.id);
      if (!seen) nodeById.set(n.id, { id: n.id, kind: n.kind, label: n.label });
      else if (n.label.length > seen.label.length) seen.label = n.label; // boxes fit the longest label
    }
    for (const e of f.graph.edges.filter(drawnEdge)) {
      const k = `${e.source}|${e.kind}|${e.target}`;
      if (!edgeKeys.has(k)) edgeKeys.set(k, { source: e.source, target: e.target, kind: e.kind });
    }
  }
  for (const n of [...nodeById.values()]) {
    if (n.kind === "mm" && ![...edgeKeys.values()].some((e) => e.source === n.id || e.target === n.id)) nodeById.delete(n.id);
  }
  const nodes = [...nodeById.values()];
  const links = [...edgeKeys.values()];
  // anon_vma trees: each generation one row further down (parent edges go child → parent).
  const parentOf = new Map(links.filter((l) => l.kind === "parent").map((l) => [l.source, l.target]));
  const depth = (id, seen = new Set()) => (parentOf.has(id) && !seen.has(id) ? 1 + depth(parentOf.get(id), seen.add(id)) : 0);
  const maxDepth = Math.max(0, ...nodes.filter((n) => n.kind === "anon_vma").map((n) => depth(n.id)));
  const pageRow = rows.page + Math.max(0, maxDepth - 1) * 55;
  const rowOf = (n) => (n.kind === "anon_vma" ? rows.anon_vma + depth(n.id) * 55 : n.kind === "page" ? pageRow : rows[n.kind]);
  for (const n of nodes) {
    n.w = Math.max(44, n.label.length * 6.6 + 12);
    n.h = 20;
  }
  const byRow = d3.group(nodes, rowOf);
  for (const [y, ns] of byRow) {
    ns.forEach((n, i) => {
      n.x = (i - (ns.length - 1) / 2) * 110;
      n.y = y;
    });
  }
  const sim = d3
    .forceSimulation(nodes)
    .force(
      "link",
      d3
        .forceLink(links.map((l) => ({ ...l })))
        .id((d) => d.id)
        .distance(80)
        .strength(0.15),
    )
    .force("charge", d3.forceManyBody().strength(-260))
    .force("y", d3.forceY(rowOf).strength(2))
    .force("x", d3.forceX(0).strength(0.03))
    .force("collide", d3.forceCollide((d) => d.w / 2 + 8).strength(0.9))
    .stop();
  for (let i = 0; i < 400; i++) sim.tick();
  for (const n of nodes) n.y = rowOf(n); // rows stay rows: the force only spreads them out
  // Undo overlaps the collide force left within a row (wide labels): sweep each row left to right.
  for (const ns of d3.group(nodes, rowOf).values()) {
    ns.sort((a, b) => a.x - b.x);
    for (let i = 1; i < ns.length; i++) {
      const a = ns[i - 1];
      const b = ns[i];
      const gap = a.w / 2 + b.w / 2 + 10;
      if (b.x - a.x < gap) b.x = a.x + gap;
    }
  }
  return { nodeById, links, nodes, drawnEdge };
}
