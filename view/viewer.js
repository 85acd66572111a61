/*
 * rmapcheck view: the page's script (inlined by cli/view.ts after d3's browser bundle and layout.js).
 *
 * It reads the timeline (properties/timeline.ts) from the page's JSON block and draws one
 * frame at a time: the step (syscall, outcomes on model and kernel, the invariant that broke),
 * every mm's address space (vma bars, a cell per page: a present PTE with its pfn, a swap
 * entry, or not faulted; the model's view below), the design's reverse map as a graph, and
 * each page's walk against Ref(X). The graph's positions come from layout.js (inlined before
 * this file), computed once over every frame.
 *
 * Keys: ←/→ step, Home/End first/last, F the failing step. #step=N in the URL opens frame N.
 */
(() => {
  const T = JSON.parse(document.getElementById("timeline").textContent);
  const frames = T.frames;
  const last = frames.length - 1;
  const suspect = T.suspect;
  const hex = (n) => `0x${n.toString(16)}`;
  const pteKey = (mm, vpn) => `mm${mm}:${hex(vpn)}`;

  // --- the page's skeleton ---------------------------------------------------------------------
  const body = d3.select("body");
  const header = body.append("header");
  header.append("h1").attr("id", "title").text(T.title);
  header
    .append("div")
    .attr("class", "sub")
    .text(
      `${T.design} (${T.era}) · ${T.source} · recorded: ${T.recorded.invariant} at step ${T.recorded.step}` +
        (T.failingFrame === undefined ? " · replayed today: every check holds" : ""),
    );

  const controls = body.append("div").attr("class", "controls");
  const button = (id, text, title, to) =>
    controls.append("button").attr("id", id).attr("title", title).text(text).on("click", () => show(to()));
  button("first", "|◀", "first step (Home)", () => 0);
  button("prev", "◀", "previous step (←)", () => cur - 1);
  const slider = controls.append("input").attr("id", "slider").attr("aria-label", "step").attr("type", "range").attr("min", 0).attr("max", last).attr("value", 0);
  slider.on("input", (ev) => show(Number(ev.target.value)));
  button("next", "▶", "next step (→)", () => cur + 1);
  button("last", "▶|", "last step (End)", () => last);
  if (T.failingFrame !== undefined) button("fail", "failure", "the failing step (F)", () => T.failingFrame);
  const pos = controls.append("span").attr("class", "pos").attr("id", "pos");
  controls.append("span").attr("class", "keys").text("← → Home End F");

  const step = body.append("div").attr("class", "step");
  const row = (k, id) => {
    step.append("span").attr("class", "k").text(k);
    return step.append("span").attr("id", id);
  };
  const stepCmd = row("syscall", "step-cmd");
  const stepModel = row("model", "step-model");
  const stepKernel = row("kernel", "step-kernel");
  const verdict = body.append("div").attr("id", "verdict");

  const main = body.append("main");
  const spaces = main.append("section").attr("id", "spaces-section");
  spaces.append("h2").text("Address spaces");
  const spacesSvg = spaces.append("svg").attr("id", "spaces").attr("width", "100%");
  spaces
    .append("div")
    .attr("class", "legend")
    .html(
      '<span class="sw" style="color:#4c78a8">anon vma</span><span class="sw" style="color:#72b7b2">private file</span>' +
        '<span class="sw" style="color:#54a24b">shared file</span><span class="sw" style="color:#1d232b">present PTE (pfn)</span>' +
        '<span class="sw" style="color:#b279a2">swap entry</span><span class="sw" style="color:#9aa5b1">not faulted (dashed)</span>' +
        '<span style="color:#2ca02c">visited by the walk</span><span style="color:#d62728">missed by the walk</span>' +
        '<span style="color:#ff9f1c">under suspicion</span>',
    );
  spaces
    .append("p")
    .attr("class", "note")
    .text("Below each bar, grey cells: what the model says the process sees (the value it wrote, or · for zero or the file's contents).");
  const walksSec = spaces.append("div").attr("class", "walks");
  walksSec.append("h2").text("Walks against Ref(X)");
  const suspectLine = walksSec.append("p").attr("id", "suspect").attr("class", "note");
  const walksTable = walksSec.append("table").attr("id", "walks");

  const graphSec = main.append("section").attr("id", "graph-section");
  graphSec.append("h2").text(`Reverse map of ${T.design}`);
  const graphSvg = graphSec.append("svg").attr("id", "graph").attr("width", "100%");
  const graphNote = graphSec.append("p").attr("class", "note").attr("id", "graph-note");
  const legend = graphSec.append("div").attr("class", "legend");

  // --- address spaces ----------------------------------------------------------------------------
  // The ruler spans the pages any frame uses (with a page either side), not the whole world.
  const used = frames.flatMap((f) => f.mms.flatMap((mm) => [...mm.vmas.flatMap((v) => [v.start, v.end - 1]), ...mm.ptes.map((p) => p.vpn)]));
  const lo = Math.max(0, (d3.min(used) ?? 0) - 1);
  const hi = Math.min(T.world.vpnLimit, Math.max((d3.max(used) ?? 0) + 2, lo + 8));
  const W = 620;
  const left = 44;
  const cw = (W - left - 8) / (hi - lo);
  const rowH = 68;
  const top = 22;
  const xOf = (vpn) => left + (vpn - lo) * cw;

  function drawSpaces(f) {
    const walk = f.walks.find((w) => w.pfn === suspect.pfn);
    const missed = new Set(f.walks.flatMap((w) => w.missed));
    const visited = new Set(walk ? walk.walk : []);
    const svg = spacesSvg;
    svg.selectAll("*").remove();
    svg.attr("viewBox", `0 0 ${W} ${top + Math.max(1, f.mms.length) * rowH}`);
    const ruler = svg.append("g").attr("class", "ruler");
    for (let v = lo; v < hi; v++) {
      ruler
        .append("text")
        .attr("x", xOf(v) + cw / 2)
        .attr("y", 12)
        .attr("text-anchor", "middle")
        .text(hex(v));
    }
    f.mms.forEach((mm, i) => {
      const g = svg
        .append("g")
        .attr("class", "mm")
        .attr("data-mm", mm.id)
        .attr("transform", `translate(0,${top + i * rowH})`);
      g.append("text").attr("class", "mmlabel").attr("x", 0).attr("y", 20).text(`mm${mm.id}`);
      const ptes = new Map(mm.ptes.map((p) => [p.vpn, p]));
      for (const vma of mm.vmas) {
        const x = xOf(vma.start);
        const w = (vma.end - vma.start) * cw;
        const r = g
          .append("rect")
          .attr("class", `vma ${vma.kind}${suspect.vmas.includes(vma.id) ? " suspect-vma" : ""}`)
          .attr("data-vma", vma.id)
          .attr("x", x)
          .attr("y", 0)
          .attr("width", w)
          .attr("height", 34)
          .attr("rx", 3);
        const what = vma.kind === "anon" ? "anon" : `${vma.kind} file${vma.file}`;
        r.append("title").text(`${vma.id} [${hex(vma.start)}, ${hex(vma.end)}) ${what} ${vma.prot}${vma.locked ? " locked" : ""}, pgoff ${vma.pgoff}`);
        if (w > 48) g.append("text").attr("class", "vmalabel").attr("x", x + 3).attr("y", 10).text(vma.id);
        for (let v = vma.start; v < vma.end; v++) drawPte(g, mm.id, v, ptes.get(v), visited, missed);
      }
      // PTEs outside every vma (a bug of the kernel or design: drawn so it is seen).
      for (const p of mm.ptes) if (!mm.vmas.some((v) => p.vpn >= v.start && p.vpn < v.end)) drawPte(g, mm.id, p.vpn, p, visited, missed);
      for (const m of mm.model) {
        g.append("rect")
          .attr("class", "modelcell")
          .attr("x", xOf(m.vpn) + 1)
          .attr("y", 37)
          .attr("width", cw - 2)
          .attr("height", 12)
          .append("title")
          .text(`model: ${m.kind} ${m.prot}${m.locked ? " locked" : ""}${m.data !== undefined ? `, holds ${m.data}` : ""}`);
        g.append("text")
          .attr("class", "modeltext")
          .attr("x", xOf(m.vpn) + cw / 2)
          .attr("y", 46)
          .attr("text-anchor", "middle")
          .text(m.data !== undefined ? String(m.data) : "·");
      }
    });
  }

  function drawPte(g, mm, vpn, pte, visited, missed) {
    const key = pteKey(mm, vpn);
    const state = pte ? pte.state : "none";
    const classes = ["pte", state];
    if (pte && pte.pfn === suspect.pfn && state === "present") classes.push("suspect-pte");
    if (visited.has(key)) classes.push("visited");
    if (missed.has(key)) classes.push("missed");
    const x = xOf(vpn) + 2;
    const r = g
      .append("rect")
      .attr("class", classes.join(" "))
      .attr("data-key", key)
      .attr("x", x)
      .attr("y", 14)
      .attr("width", cw - 4)
      .attr("height", 16);
    const desc =
      state === "present"
        ? `present: pfn ${pte.pfn}${pte.writable ? ", writable" : ", read-only"}`
        : state === "swap"
          ? `swap entry: slot ${pte.slot}`
          : "not faulted in (no PTE)";
    r.append("title").text(`${key}: ${desc}${missed.has(key) ? " — MISSED by the walk" : visited.has(key) ? " — visited by the walk" : ""}`);
    g.append("text")
      .attr("class", `ptetext ${state}`)
      .attr("x", x + (cw - 4) / 2)
      .attr("y", 26)
      .attr("text-anchor", "middle")
      .text(state === "present" ? String(pte.pfn) : state === "swap" ? "~" : "");
    if (missed.has(key)) g.append("text").attr("class", "missmark").attr("x", x + (cw - 4) / 2).attr("y", -2).attr("text-anchor", "middle").text("✗");
  }

  // --- the graph: one layout over every frame (layout.js) ------------------------------------------
  const { nodeById, links, nodes, drawnEdge } = rmapLayout(frames);
  const pad = 30;
  const minX = d3.min(nodes, (n) => n.x - n.w / 2) ?? 0;
  const maxX = d3.max(nodes, (n) => n.x + n.w / 2) ?? 100;
  const minY = d3.min(nodes, (n) => n.y - n.h) ?? 0;
  const maxY = d3.max(nodes, (n) => n.y + n.h) ?? 100;
  graphSvg
    .attr("viewBox", `${minX - pad} ${minY - pad} ${maxX - minX + 2 * pad} ${maxY - minY + 2 * pad}`)
    .style("max-width", `${Math.round((maxX - minX + 2 * pad) * 1.3)}px`); // a small graph is not blown up
  const defs = graphSvg.append("defs");
  defs
    .append("marker")
    .attr("id", "arrow")
    .attr("viewBox", "0 -4 8 8")
    .attr("refX", 8)
    .attr("refY", 0)
    .attr("markerUnits", "userSpaceOnUse") // the same head on thin and thick edges
    .attr("markerWidth", 9)
    .attr("markerHeight", 9)
    .attr("orient", "auto")
    .append("path")
    .attr("d", "M0,-4L8,0L0,4")
    .attr("fill", "#8a96a3");
  const edgeLayer = graphSvg.append("g").attr("class", "edges");
  const nodeLayer = graphSvg.append("g").attr("class", "nodes");

  const edgeNames = {
    mmap: "mm → vma",
    i_mmap: "file i_mmap → vma",
    mapping: "page->mapping",
    anon_vma: "vma->anon_vma",
    avc: "anon_vma_chain (vma on anon_vma)",
    head: "anon_vma head → vma",
    parent: "anon_vma->parent",
    root: "anon_vma->root",
    family: "anonmm → family head",
    anonmm_mm: "anonmm → its mm",
    pte: "pte_chain entry",
    hint: "hint",
    "walk-missed": "the walk missed this vma's PTE",
  };
  const colours = {
    mmap: "#c6ced6",
    i_mmap: "#72b7b2",
    mapping: "#e45756",
    anon_vma: "#4c78a8",
    avc: "#9aa5b1",
    head: "#54a24b",
    parent: "#7f3c8d",
    root: "#7f3c8d",
    family: "#b8860b",
    anonmm_mm: "#b8860b",
    pte: "#9d755d",
    hint: "#9d755d",
    "walk-missed": "#d62728",
  };
  for (const kind of Object.keys(edgeNames)) {
    if (links.some((l) => l.kind === kind) || kind === "walk-missed") legend.append("span").style("color", colours[kind]).text(edgeNames[kind]);
  }

  /** The point where the segment from (x0,y0) to n's centre enters n's box. */
  function boundary(n, x0, y0) {
    const dx = x0 - n.x;
    const dy = y0 - n.y;
    const t = Math.min(Math.abs(dx) > 1e-6 ? n.w / 2 / Math.abs(dx) : Number.POSITIVE_INFINITY, Math.abs(dy) > 1e-6 ? n.h / 2 / Math.abs(dy) : Number.POSITIVE_INFINITY);
    return t >= 1 ? [n.x, n.y] : [n.x + dx * t, n.y + dy * t];
  }

  /** The vma node holding the PTE "mmN:0xADDR" in frame f. */
  function vmaOfKey(f, key) {
    const [mmPart, addrPart] = key.split(":");
    const mm = f.mms.find((m) => `mm${m.id}` === mmPart);
    const vpn = Number.parseInt(addrPart, 16);
    return mm?.vmas.find((v) => vpn >= v.start && vpn < v.end)?.id;
  }

  function drawGraph(f) {
    const walk = f.walks.find((w) => w.pfn === suspect.pfn);
    const pageId = `page:${suspect.pfn}`;
    // The walk of the page under suspicion, over the design's pointers: the vmas of the PTEs it
    // visited are outlined green; each PTE it missed gets a red edge from the page to its vma.
    const visitedVmas = new Set();
    const walkEdges = [];
    const pageShown = f.graph.nodes.some((n) => n.id === pageId);
    for (const key of walk ? walk.walk : []) visitedVmas.add(vmaOfKey(f, key));
    for (const key of walk ? walk.missed : []) {
      const vma = vmaOfKey(f, key);
      if (pageShown && vma && nodeById.has(vma)) walkEdges.push({ source: pageId, target: vma, kind: "walk-missed", label: `missed ${key}` });
    }
    const missedVmas = new Set(walkEdges.map((e) => e.target));
    const hot = (id) => id === pageId || suspect.vmas.includes(id);
    const nodeClass = (id) => (missedVmas.has(id) ? " missed" : hot(id) ? " suspect" : visitedVmas.has(id) ? " visited" : "");
    // Parallel edges between one pair (a chain edge beside vma->anon_vma) bend apart.
    const pairCount = new Map();
    const edges = [...f.graph.edges.filter((e) => drawnEdge(e) && nodeById.has(e.source) && nodeById.has(e.target)), ...walkEdges].map((e) => {
      const pair = [e.source, e.target].sort().join("|");
      const nth = pairCount.get(pair) ?? 0;
      pairCount.set(pair, nth + 1);
      return { ...e, nth };
    });
    edgeLayer
      .selectAll("g.edgeg")
      .data(edges, (e) => `${e.source}|${e.kind}|${e.target}`)
      .join((enter) => {
        const g = enter.append("g").attr("class", "edgeg");
        g.append("path").attr("marker-end", "url(#arrow)");
        g.append("text").attr("class", "edgelabel");
        g.append("title");
        return g;
      })
      .each(function (e) {
        const s = nodeById.get(e.source);
        const t = nodeById.get(e.target);
        const g = d3.select(this);
        const [x1, y1] = boundary(s, t.x, t.y);
        const [x2, y2] = boundary(t, s.x, s.y);
        const bend = e.nth * 18;
        const mx = (x1 + x2) / 2 + bend;
        const my = (y1 + y2) / 2;
        g.select("path")
          .attr("class", `edge ${e.kind}${!e.kind.startsWith("walk-") && (e.source === pageId || (suspect.vmas.includes(e.source) && e.kind !== "mmap")) ? " suspect-edge" : ""}`)
          .attr("data-kind", e.kind)
          .attr("d", bend ? `M${x1},${y1}Q${mx},${my} ${x2},${y2}` : `M${x1},${y1}L${x2},${y2}`);
        const showLabel = e.label && ["pte", "hint", "mapping", "walk-missed"].includes(e.kind);
        g.select("text")
          .attr("x", mx + 3)
          .attr("y", my - 2 + e.nth * 11) // labels of parallel edges stack
          .text(showLabel ? e.label : "");
        g.select("title").text(`${edgeNames[e.kind] ?? e.kind}: ${s.label} → ${t.label}${e.label ? ` (${e.label})` : ""}`);
      });
    const shown = f.graph.nodes.filter((n) => nodeById.has(n.id));
    nodeLayer
      .selectAll("g.node")
      .data(shown, (n) => n.id)
      .join((enter) => {
        const g = enter.append("g");
        g.append("rect");
        g.append("text").attr("text-anchor", "middle").attr("dy", "0.35em");
        g.append("title");
        return g;
      })
      .attr("class", (n) => `node ${n.kind}${nodeClass(n.id)}`)
      .attr("data-id", (n) => n.id)
      .attr("transform", (n) => `translate(${nodeById.get(n.id).x},${nodeById.get(n.id).y})`)
      .each(function (n) {
        const p = nodeById.get(n.id);
        const g = d3.select(this);
        g.select("rect")
          .attr("x", -p.w / 2)
          .attr("y", -p.h / 2)
          .attr("width", p.w)
          .attr("height", p.h);
        g.select("text").text(n.label);
        g.select("title").text(`${n.label}${n.detail ? `\n${n.detail}` : ""}`);
      });
    graphNote.text(
      f.graphError
        ? `The design's snapshot failed on this state: ${f.graphError}`
        : `${shown.length} objects, ${edges.length - walkEdges.length} pointers (hover for fields). Outlined: orange = under suspicion, green = the walk visited a PTE in this vma, red = it missed one.`,
    );
  }

  // --- the step, the verdict, the walks ----------------------------------------------------------
  function drawStep(f, i) {
    pos.text(`step ${i} of ${last}`);
    if (f.step < 0) {
      stepCmd.html("").append("code").text("(the state before the first command)");
      stepModel.text("");
      stepKernel.text("");
    } else {
      stepCmd
        .html("")
        .append("code")
        .text(`${f.step}  ${f.cmd}${f.finalExit ? "   [final exit]" : ""}`);
      stepModel.html("").append("code").text(f.model);
      stepKernel
        .html("")
        .append("code")
        .attr("class", f.agree ? null : "disagree")
        .text(`${f.kernel}${f.agree ? "" : "   ≠ the model"}`);
    }
    verdict.html("");
    if (f.violation) {
      const v = verdict.append("div").attr("class", "violation").attr("id", "violation");
      v.append("span").attr("class", "inv").text(f.violation.invariant);
      v.append("span").text(f.violation.message);
      v.append("div").attr("class", "why").text(f.violation.why);
    } else {
      verdict.append("div").attr("class", "holds").text(i === 0 ? "" : "✓ every check holds after this step");
    }
  }

  function drawWalks(f) {
    const w = f.walks.find((x) => x.pfn === suspect.pfn);
    suspectLine.text(
      suspect.pfn === undefined
        ? "No page under suspicion."
        : w
          ? `Page under suspicion: ${w.page}, mapcount ${w.mapcount}. Ref(X) = {${w.ref.join(", ")}}; the walk visited {${w.walk.join(", ")}}` +
            (w.missed.length ? `; MISSED {${w.missed.join(", ")}}` : "") +
            (w.error ? `; the walk crashed: ${w.error}` : "")
          : `Page under suspicion: pfn ${suspect.pfn}, not mapped at this step.`,
    );
    walksTable.html("");
    const head = walksTable.append("tr");
    for (const h of ["page", "mapcount", "Ref(X)", "walk", "wrong"]) head.append("th").text(h);
    for (const x of f.walks) {
      const tr = walksTable
        .append("tr")
        .attr("class", x.pfn === suspect.pfn ? "suspect" : null)
        .attr("data-pfn", x.pfn);
      tr.append("td").text(x.page);
      tr.append("td").text(x.mapcount);
      tr.append("td").append("code").text(x.ref.join(" "));
      tr.append("td").append("code").text(x.walk.join(" "));
      const bad = tr.append("td");
      if (x.missed.length) bad.append("div").attr("class", "missed").text(`missed ${x.missed.join(" ")}`);
      if (x.extra.length) bad.append("div").attr("class", "extra").text(`extra ${x.extra.join(" ")}`);
      if (x.error) bad.append("div").attr("class", "err").text(x.error);
      if (!x.missed.length && !x.extra.length && !x.error) bad.text("—");
    }
    if (f.walks.length === 0) walksTable.append("tr").append("td").attr("colspan", 5).text("no page is mapped");
  }

  // --- stepping ---------------------------------------------------------------------------------
  let cur = 0;
  function show(i) {
    cur = Math.max(0, Math.min(last, i));
    const f = frames[cur];
    slider.property("value", cur);
    document.body.dataset.frame = String(cur);
    drawStep(f, cur);
    drawSpaces(f);
    drawGraph(f);
    drawWalks(f);
    try {
      history.replaceState(null, "", `#step=${cur}`);
    } catch {
      // some browsers refuse it on file: URLs; the hash is a convenience
    }
  }

  document.addEventListener("keydown", (ev) => {
    const to = { ArrowLeft: cur - 1, ArrowRight: cur + 1, Home: 0, End: last, f: T.failingFrame, F: T.failingFrame }[ev.key];
    if (to === undefined || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    ev.preventDefault();
    show(to);
  });

  const m = /step=(\d+)/.exec(location.hash);
  show(m ? Number(m[1]) : 0);
})();
