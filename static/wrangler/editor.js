/* The flow editor: a node graph in plain SVG, a palette, a node form, a preview drawer.
   The graph is the flow's JSON ({nodes, edges}); every change goes through `change()`, which
   keeps the undo history, re-renders and marks the flow unsaved. Previews and column lists
   come from the API with the graph as edited, so nothing needs saving to be seen. */
(function () {
  "use strict";

  const root = document.getElementById("flow-editor");
  if (!root) return;
  const cfg = JSON.parse(document.getElementById("flow-config").textContent);
  const $ = (sel, el) => (el || root).querySelector(sel);
  const $$ = (sel, el) => Array.from((el || root).querySelectorAll(sel));
  const SVGNS = "http://www.w3.org/2000/svg";
  const W = 196, H = 58, PORT = 6;

  const SOURCE = {
    type: "source", title: "Source dataset", category: "Sources", inputs: 0, fitted: false,
    description: "A dataset of this project: the start of a flow.",
    params: [{ name: "dataset", kind: "dataset", required: true, default: null, choices: [], help: "" }],
  };
  const TRANSFORMS = { source: SOURCE };
  cfg.transforms.forEach((t) => { TRANSFORMS[t.type] = t; });
  const DATASETS = Object.fromEntries(cfg.datasets.map((d) => [d.id, d]));

  // ---------------------------------------------------------------- state
  let graph = normalise(cfg.flow.graph);
  let selected = null;        // a node id
  let selectedEdge = null;    // an index into graph.edges
  let errors = {};            // node id -> {message, field}
  let dirty = false;
  let view = { x: 0, y: 0, k: 1 };
  let sample = Object.assign({ mode: "first", rows: 50000, seed: 0, column: "" }, cfg.flow.sample || {});
  const undoStack = [], redoStack = [];
  const columnsCache = new Map();

  function normalise(g) {
    const out = { nodes: (g && g.nodes) || [], edges: (g && g.edges) || [] };
    out.nodes.forEach((n, i) => {
      n.params = n.params || {};
      if (!n.position) n.position = { x: 60 + (i % 4) * 240, y: 60 + Math.floor(i / 4) * 110 };
    });
    return out;
  }
  const node = (id) => graph.nodes.find((n) => n.id === id);
  const defn = (n) => TRANSFORMS[n.type] || { title: n.type, inputs: 1, params: [], category: "?" };
  const inputsOf = (id) => graph.edges
    .map((e, i) => ({ e, i }))
    .filter(({ e }) => e[1] === id)
    .sort((a, b) => (a.e[2] ?? 1e6) - (b.e[2] ?? 1e6) || a.i - b.i)
    .map(({ e }) => e[0]);

  function snapshot() { return JSON.stringify(graph); }
  function change(mutate, { history = true } = {}) {
    if (history) { undoStack.push(snapshot()); if (undoStack.length > 200) undoStack.shift(); redoStack.length = 0; }
    mutate();
    dirty = true;
    columnsCache.clear();
    render();
  }
  function undo() {
    if (!undoStack.length) return;
    redoStack.push(snapshot()); graph = JSON.parse(undoStack.pop()); afterHistory();
  }
  function redo() {
    if (!redoStack.length) return;
    undoStack.push(snapshot()); graph = JSON.parse(redoStack.pop()); afterHistory();
  }
  function afterHistory() {
    if (selected && !node(selected)) selected = null;
    selectedEdge = null; dirty = true; columnsCache.clear(); render();
  }

  // ---------------------------------------------------------------- api
  function csrf() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  async function api(method, url, body) {
    const res = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      const err = (data && data.error) || { message: `The server answered ${res.status}.` };
      throw Object.assign(new Error(err.message), { api: err, status: res.status });
    }
    return data;
  }
  function status(text, kind) {
    const el = $("[data-status]");
    el.textContent = "";
    el.className = "fe-status" + (text ? ` is-${kind || "info"}` : "");
    if (!text) return;
    if (text instanceof Node) el.appendChild(text); else el.textContent = text;
  }
  function showError(err) {
    const e = err.api || { message: err.message };
    if (e.node && node(e.node)) {
      errors = { [e.node]: { message: e.message, field: (e.field || "").split(".").pop() } };
      selected = e.node; selectedEdge = null;
      render();
      status(`Node ${e.node}: ${e.message}`, "error");
    } else {
      status(e.message, "error");
    }
  }

  // ---------------------------------------------------------------- canvas
  const svg = $("[data-canvas]");
  const viewport = $("[data-viewport]");
  const gNodes = $("[data-nodes]");
  const gEdges = $("[data-edges]");
  const tempEdge = $("[data-temp-edge]");

  function el(tag, attrs, parent) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function inPort(n, slot) {
    const count = Math.max(1, defn(n).inputs);
    return { x: n.position.x, y: n.position.y + (H * (slot + 1)) / (count + 1) };
  }
  const outPort = (n) => ({ x: n.position.x + W, y: n.position.y + H / 2 });
  function curve(a, b) {
    const dx = Math.max(40, Math.abs(b.x - a.x) / 2);
    return `M${a.x},${a.y} C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
  }
  function summary(n) {
    if (n.type === "source") {
      const d = DATASETS[n.params.dataset];
      return d ? `${d.name} v${d.version}` : "pick a dataset";
    }
    const p = n.params;
    const first = ["columns", "column", "by", "expression", "target", "how", "strategy", "method"]
      .map((k) => p[k]).find((v) => v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && !v.length));
    const text = Array.isArray(first) ? first.join(", ") : first;
    return text ? String(text) : n.id;
  }
  const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

  function render() {
    renderGraph();
    renderInspector();
    renderToolbar();
  }

  function renderGraph() {
    gNodes.textContent = "";
    gEdges.textContent = "";
    graph.edges.forEach((e, i) => {
      const a = node(e[0]), b = node(e[1]);
      if (!a || !b) return;
      const slot = inputsOf(b.id).indexOf(a.id);
      const d = curve(outPort(a), inPort(b, Math.max(0, slot)));
      const hit = el("path", { d, class: "fe-edge-hit", "data-edge": i }, gEdges);
      el("path", { d, class: "fe-edge" + (i === selectedEdge ? " is-selected" : ""), "data-edge": i }, gEdges);
      hit.addEventListener("mousedown", (ev) => { ev.stopPropagation(); selectedEdge = i; selected = null; render(); });
    });
    graph.nodes.forEach((n) => {
      const t = defn(n);
      const err = errors[n.id];
      const g = el("g", {
        class: "fe-node" + (n.type === "source" ? " is-source" : "") + (n.id === selected ? " is-selected" : "") + (err ? " has-error" : ""),
        transform: `translate(${n.position.x},${n.position.y})`, "data-node": n.id,
      }, gNodes);
      el("rect", { class: "fe-box", width: W, height: H, rx: 9 }, g);
      el("rect", { class: "fe-band", width: 4, height: H - 16, x: 0, y: 8, rx: 2 }, g);
      const name = el("text", { class: "fe-name", x: 14, y: 23 }, g);
      name.textContent = clip(t.title || n.type, 24);
      const sub = el("text", { class: err ? "fe-err" : "fe-sub", x: 14, y: 42 }, g);
      sub.textContent = clip(err ? err.message : summary(n), 30);
      const tip = el("title", {}, g);
      tip.textContent = `${t.title} (${n.id})` + (err ? `\n${err.message}` : "");
      for (let s = 0; s < t.inputs; s++) {
        const p = inPort({ position: { x: 0, y: 0 }, type: n.type }, s);
        el("circle", { class: "fe-port fe-in", cx: p.x, cy: p.y, r: PORT, "data-in": n.id, "data-slot": s }, g);
      }
      el("circle", { class: "fe-port fe-out", cx: W, cy: H / 2, r: PORT, "data-out": n.id }, g);
    });
    viewport.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
    $("[data-zoom-label]").textContent = `${Math.round(view.k * 100)}%`;
    $("[data-empty]").hidden = graph.nodes.length > 0;
  }

  function renderToolbar() {
    $("[data-dirty]").hidden = !dirty;
    $('[data-action="undo"]').disabled = !undoStack.length;
    $('[data-action="redo"]').disabled = !redoStack.length;
    $('[data-action="delete"]').disabled = !cfg.canWrite || (selected === null && selectedEdge === null);
    $('[data-action="preview"]').disabled = !selected;
    const n = selected && node(selected);
    $('[data-action="run"]').disabled = !cfg.canWrite || !n || n.type === "source";
    $('[data-action="save"]').disabled = !cfg.canWrite;
    const target = n && n.type !== "source" ? n.id : "";
    $("[data-export-label]").textContent = target ? `Node ${target}, as saved` : "The last node, as saved";
    $$("[data-export]").forEach((a) => {
      a.href = `${cfg.urls.export}?format=${a.dataset.export}` + (target ? `&node=${encodeURIComponent(target)}` : "");
    });
  }

  function toCanvas(ev) {
    const r = svg.getBoundingClientRect();
    return { x: (ev.clientX - r.left - view.x) / view.k, y: (ev.clientY - r.top - view.y) / view.k };
  }

  let drag = null;   // {kind: "node"|"pan"|"edge", ...}
  svg.addEventListener("mousedown", (ev) => {
    if (ev.button !== 0) return;
    svg.focus({ preventScroll: true });
    const out = ev.target.closest("[data-out]");
    const g = ev.target.closest("[data-node]");
    if (out && cfg.canWrite) {
      drag = { kind: "edge", from: out.dataset.out };
    } else if (g) {
      const n = node(g.dataset.node);
      const p = toCanvas(ev);
      if (selected !== n.id) { selected = n.id; selectedEdge = null; render(); refreshDrawer(); }
      drag = { kind: "node", id: n.id, dx: p.x - n.position.x, dy: p.y - n.position.y, start: snapshot(), moved: false };
    } else {
      drag = { kind: "pan", x: ev.clientX - view.x, y: ev.clientY - view.y };
      svg.classList.add("is-panning");
      if (selected !== null || selectedEdge !== null) { selected = null; selectedEdge = null; render(); }
    }
    ev.preventDefault();
  });
  window.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    if (drag.kind === "pan") {
      view.x = ev.clientX - drag.x; view.y = ev.clientY - drag.y;
      viewport.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
    } else if (drag.kind === "node" && cfg.canWrite) {
      const p = toCanvas(ev), n = node(drag.id);
      n.position = { x: Math.round(p.x - drag.dx), y: Math.round(p.y - drag.dy) };
      drag.moved = true;
      renderGraph();
    } else if (drag.kind === "edge") {
      const a = outPort(node(drag.from));
      tempEdge.setAttribute("d", curve(a, toCanvas(ev)));
      $$(".fe-in").forEach((c) => c.classList.toggle("is-target", c === ev.target));
    }
  });
  window.addEventListener("mouseup", (ev) => {
    if (!drag) return;
    const d = drag; drag = null;
    svg.classList.remove("is-panning");
    if (d.kind === "node" && d.moved) {
      undoStack.push(d.start); redoStack.length = 0; dirty = true; renderToolbar();
    } else if (d.kind === "edge") {
      tempEdge.setAttribute("d", "");
      const target = ev.target.closest && ev.target.closest("[data-in]");
      if (target) connect(d.from, target.dataset.in, Number(target.dataset.slot));
    }
  });
  svg.addEventListener("dblclick", (ev) => {
    const g = ev.target.closest("[data-node]");
    if (g) { selected = g.dataset.node; render(); openPreview(); }
  });
  svg.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = svg.getBoundingClientRect();
    zoomAt(ev.clientX - r.left, ev.clientY - r.top, ev.deltaY < 0 ? 1.1 : 1 / 1.1);
  }, { passive: false });
  function zoomAt(cx, cy, factor) {
    const k = Math.min(2, Math.max(0.3, view.k * factor));
    view.x = cx - ((cx - view.x) * k) / view.k;
    view.y = cy - ((cy - view.y) * k) / view.k;
    view.k = k;
    renderGraph();
  }

  function connect(from, to, slot) {
    if (from === to) return;
    const target = node(to);
    if (!target) return;
    change(() => {
      // One edge per input slot: a new one replaces the old.
      const current = inputsOf(to);
      graph.edges = graph.edges.filter((e) => !(e[1] === to && (current.indexOf(e[0]) === slot || e[0] === from)));
      graph.edges.push(defn(target).inputs > 1 ? [from, to, slot] : [from, to]);
    });
  }

  function uniqueId(type) {
    const base = type.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 40);
    let i = 1;
    while (node(`${base}-${i}`)) i++;
    return `${base}-${i}`;
  }
  function addNode(type) {
    if (!cfg.canWrite) return;
    const t = TRANSFORMS[type];
    const from = selected && node(selected);
    const r = svg.getBoundingClientRect();
    let pos = { x: Math.round((r.width / 2 - view.x) / view.k - W / 2), y: Math.round((r.height / 3 - view.y) / view.k) };
    if (from) pos = { x: from.position.x + W + 60, y: from.position.y + (inputsOf(from.id).length ? 0 : 0) };
    while (graph.nodes.some((n) => Math.abs(n.position.x - pos.x) < 20 && Math.abs(n.position.y - pos.y) < 20)) pos.y += H + 24;
    const id = uniqueId(type);
    change(() => {
      const params = {};
      if (type === "source" && cfg.datasets.length) params.dataset = cfg.datasets[0].id;
      graph.nodes.push({ id, type, params, position: pos });
      if (from && t.inputs > 0) graph.edges.push(t.inputs > 1 ? [from.id, id, 0] : [from.id, id]);
    });
    selected = id; selectedEdge = null; errors = {};
    reveal(node(id));
    render();
    refreshDrawer();
  }
  function reveal(n) {
    // Keep a new or selected node inside the visible canvas by panning towards it.
    const r = svg.getBoundingClientRect(), pad = 24;
    const x0 = n.position.x * view.k + view.x, x1 = (n.position.x + W) * view.k + view.x;
    const y0 = n.position.y * view.k + view.y, y1 = (n.position.y + H) * view.k + view.y;
    if (x1 > r.width - pad) view.x -= x1 - (r.width - pad);
    if (x0 < pad) view.x += pad - x0;
    if (y1 > r.height - pad) view.y -= y1 - (r.height - pad);
    if (y0 < pad) view.y += pad - y0;
  }
  function deleteSelection() {
    if (!cfg.canWrite) return;
    if (selectedEdge !== null) {
      const i = selectedEdge;
      change(() => { graph.edges.splice(i, 1); });
      selectedEdge = null;
    } else if (selected) {
      const id = selected;
      change(() => {
        graph.nodes = graph.nodes.filter((n) => n.id !== id);
        graph.edges = graph.edges.filter((e) => e[0] !== id && e[1] !== id);
      });
      delete errors[id];
      selected = null;
    }
    render();
  }
  function tidy() {
    const rank = {};
    const visit = (id, seen) => {
      if (rank[id] !== undefined) return rank[id];
      if (seen.has(id)) return 0;
      seen.add(id);
      const ins = inputsOf(id);
      rank[id] = ins.length ? 1 + Math.max(...ins.map((i) => visit(i, seen))) : 0;
      return rank[id];
    };
    change(() => {
      // Layers left to right by depth; a long flow wraps into bands so that it stays readable.
      const width = svg.getBoundingClientRect().width / 0.8;
      const perBand = Math.max(3, Math.floor((width - 60) / (W + 64)));
      const depth = Object.fromEntries(graph.nodes.map((n) => [n.id, visit(n.id, new Set())]));
      const rows = {}, bandHeight = {};
      graph.nodes.forEach((n) => {
        const r = depth[n.id];
        rows[r] = (rows[r] || 0) + 1;
        const band = Math.floor(r / perBand);
        bandHeight[band] = Math.max(bandHeight[band] || 0, rows[r]);
      });
      const seen = {};
      graph.nodes.forEach((n) => {
        const r = depth[n.id], band = Math.floor(r / perBand);
        seen[r] = (seen[r] || 0) + 1;
        let top = 60;
        for (let b = 0; b < band; b++) top += bandHeight[b] * (H + 40) + 40;
        n.position = { x: 60 + (r % perBand) * (W + 64), y: top + (seen[r] - 1) * (H + 40) };
      });
    });
    fit();
  }
  function fit() {
    // Zoom and pan so that every node is in view (never above 100%).
    if (!graph.nodes.length) return;
    const r = svg.getBoundingClientRect(), pad = 40;
    const xs = graph.nodes.map((n) => n.position.x), ys = graph.nodes.map((n) => n.position.y);
    const x0 = Math.min(...xs), y0 = Math.min(...ys), x1 = Math.max(...xs) + W, y1 = Math.max(...ys) + H;
    const k = Math.max(0.3, Math.min(1, (r.width - 2 * pad) / (x1 - x0), (r.height - 2 * pad) / (y1 - y0)));
    view = { k, x: pad - x0 * k + Math.max(0, (r.width - 2 * pad - (x1 - x0) * k) / 2), y: pad - y0 * k };
    renderGraph();
  }

  // ---------------------------------------------------------------- palette
  const palette = $("[data-palette]");
  function renderPalette(filter) {
    const q = (filter || "").trim().toLowerCase();
    palette.textContent = "";
    const all = [SOURCE, ...cfg.transforms];
    const shown = all.filter((t) => !q || `${t.title} ${t.type} ${t.description} ${t.category}`.toLowerCase().includes(q));
    let cat = null;
    shown.forEach((t) => {
      if (t.category !== cat) {
        cat = t.category;
        const h = document.createElement("div");
        h.className = "fe-cat"; h.textContent = cat;
        palette.appendChild(h);
      }
      const b = document.createElement("button");
      b.type = "button"; b.className = "fe-item"; b.dataset.add = t.type; b.disabled = !cfg.canWrite;
      b.title = t.description || t.title;
      b.innerHTML = `<span></span><small></small>`;
      b.firstChild.textContent = t.title;
      b.lastChild.textContent = t.description || t.type;
      b.addEventListener("click", () => addNode(t.type));
      palette.appendChild(b);
    });
    if (!shown.length) {
      const p = document.createElement("p");
      p.className = "fe-hint"; p.style.padding = "8px";
      p.textContent = `No transform matches “${filter}”.`;
      palette.appendChild(p);
    }
  }
  $("[data-palette-search]").addEventListener("input", (ev) => renderPalette(ev.target.value));
  $("[data-palette-search]").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { const first = palette.querySelector("[data-add]"); if (first) first.click(); }
  });

  // ---------------------------------------------------------------- columns of a node's inputs
  function subgraph(id) {
    const keep = new Set(), stack = [id];
    while (stack.length) { const c = stack.pop(); if (keep.has(c)) continue; keep.add(c); inputsOf(c).forEach((i) => stack.push(i)); }
    return { nodes: graph.nodes.filter((n) => keep.has(n.id)), edges: graph.edges.filter((e) => keep.has(e[1])) };
  }
  async function columnsOf(id) {
    const n = node(id);
    if (!n) return [];
    if (n.type === "source") { const d = DATASETS[n.params.dataset]; return d ? d.columns : []; }
    const sub = subgraph(id);
    const key = JSON.stringify(sub);
    if (!columnsCache.has(key)) {
      columnsCache.set(key, api("POST", cfg.urls.preview, { node: id, graph: sub, limit: 1, sample: { mode: "first", rows: 500 } })
        .then((p) => p.columns).catch(() => null));
    }
    return (await columnsCache.get(key)) || [];
  }

  // ---------------------------------------------------------------- inspector
  const inspector = $("[data-inspector]");
  function renderInspector() {
    const n = selected && node(selected);
    inspector.textContent = "";
    if (!n) {
      inspector.innerHTML = `<h2>${graph.nodes.length ? "No node selected" : "Start with a source"}</h2>
        <p class="fe-desc">Select a node to edit its settings; double-click it to preview its output.</p>
        <div class="fe-kbd"><kbd>Delete</kbd> remove the selection<br><kbd>Ctrl</kbd>+<kbd>Z</kbd> undo · <kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>Z</kbd> redo<br><kbd>Ctrl</kbd>+<kbd>S</kbd> save · drag the background to pan, wheel to zoom</div>`;
      return;
    }
    const t = defn(n);
    const head = document.createElement("div");
    head.innerHTML = `<h2></h2><div class="fe-id"></div><p class="fe-desc"></p>`;
    head.querySelector("h2").textContent = t.title;
    head.querySelector(".fe-id").textContent = `${n.id} · ${n.type}${t.fitted ? " · fitted" : ""}${t.inputs > 1 ? ` · ${t.inputs} inputs` : ""}`;
    head.querySelector(".fe-desc").textContent = t.description || "";
    inspector.appendChild(head);
    const err = errors[n.id];
    if (err) {
      const box = document.createElement("div");
      box.className = "fe-node-error"; box.setAttribute("role", "alert"); box.textContent = err.message;
      inspector.appendChild(box);
    }
    const inputs = inputsOf(n.id);
    if (t.inputs > 0 && inputs.length < t.inputs) {
      const p = document.createElement("p");
      p.className = "fe-hint";
      p.textContent = `Connect ${t.inputs - inputs.length} more input${t.inputs - inputs.length > 1 ? "s" : ""}: drag from a node's right handle to this one's left handle.`;
      inspector.appendChild(p);
    }
    const form = document.createElement("form");
    form.addEventListener("submit", (ev) => ev.preventDefault());
    inspector.appendChild(form);
    const cols1 = inputs[0] ? columnsOf(inputs[0]) : Promise.resolve([]);
    const cols2 = inputs[1] ? columnsOf(inputs[1]) : Promise.resolve([]);
    t.params.forEach((p) => form.appendChild(fieldFor(n, p, p.kind.endsWith("2") ? cols2 : cols1, err && err.field === p.name ? err.message : "")));
  }

  function setParam(n, name, value) {
    change(() => {
      const target = node(n.id);
      if (value === undefined || value === "" || (Array.isArray(value) && !value.length)) delete target.params[name];
      else target.params[name] = value;
    });
    if (errors[n.id]) { delete errors[n.id]; renderGraph(); }
    refreshDrawer();
  }

  function fieldFor(n, p, columnsPromise, error) {
    const wrap = document.createElement("div");
    wrap.className = "field";
    wrap.dataset.param = p.name;
    const id = `fe-${n.id}-${p.name}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = p.name.replace(/_/g, " ") + (p.required ? " *" : "");
    wrap.appendChild(label);
    const value = n.params[p.name] !== undefined ? n.params[p.name] : p.default;
    const control = controlFor(n, p, value, id, columnsPromise);
    wrap.appendChild(control);
    if (p.help) { const h = document.createElement("div"); h.className = "help"; h.textContent = p.help; wrap.appendChild(h); }
    if (error) { const e = document.createElement("div"); e.className = "fe-field-error"; e.textContent = error; wrap.appendChild(e); }
    if (!cfg.canWrite) {
      [control, ...control.querySelectorAll("input,select,textarea,button")]
        .forEach((c) => { if ("disabled" in c) c.disabled = true; });
    }
    return wrap;
  }

  function input(type, value, id) {
    const i = document.createElement(type === "textarea" ? "textarea" : "input");
    if (type !== "textarea") i.type = type;
    i.className = "input"; i.id = id;
    if (value !== null && value !== undefined) i.value = value;
    return i;
  }
  function select(options, value, id, blank) {
    const s = document.createElement("select");
    s.className = "input"; s.id = id;
    if (blank !== undefined) s.add(new Option(blank, ""));
    options.forEach((o) => s.add(typeof o === "object" ? new Option(o.label, o.value) : new Option(o, o)));
    s.value = value === null || value === undefined ? "" : String(value);
    if (value && s.value !== String(value)) { s.add(new Option(`${value} (not in the input)`, value)); s.value = String(value); }
    return s;
  }

  function controlFor(n, p, value, id, columnsPromise) {
    const k = p.kind;
    if (k === "dataset") {
      const s = select(cfg.datasets.map((d) => ({ value: d.id, label: `${d.name} v${d.version}` })), value, id, "— pick a dataset —");
      s.addEventListener("change", () => setParam(n, p.name, s.value ? Number(s.value) : undefined));
      return s;
    }
    if (k === "column" || k === "column2") {
      const s = select([], value, id, "— pick a column —");
      columnsPromise.then((cols) => { const v = s.value; cols.forEach((c) => { if (![...s.options].some((o) => o.value === c)) s.add(new Option(c, c)); }); s.value = v; });
      s.addEventListener("change", () => setParam(n, p.name, s.value || undefined));
      return s;
    }
    if (k === "columns" || k === "columns2" || k === "choices") {
      const box = document.createElement("div");
      box.className = "fe-checks"; box.id = id;
      const chosen = new Set(Array.isArray(value) ? value : []);
      const fill = (options) => {
        box.textContent = "";
        const all = [...new Set([...options, ...chosen])];
        if (!all.length) { box.innerHTML = `<span class="fe-hint">Connect an input to list its columns.</span>`; return; }
        all.forEach((c) => {
          const l = document.createElement("label");
          const cb = document.createElement("input");
          cb.type = "checkbox"; cb.value = c; cb.checked = chosen.has(c); cb.disabled = !cfg.canWrite;
          cb.addEventListener("change", () => {
            if (cb.checked) chosen.add(c); else chosen.delete(c);
            setParam(n, p.name, all.filter((x) => chosen.has(x)));
          });
          l.appendChild(cb); l.append(c);
          box.appendChild(l);
        });
      };
      if (k === "choices") fill(p.choices); else { fill([]); columnsPromise.then(fill); }
      return box;
    }
    if (k === "choice") {
      const s = select(p.choices, value, id);
      s.addEventListener("change", () => setParam(n, p.name, s.value));
      return s;
    }
    if (k === "boolean") {
      const l = document.createElement("label");
      const cb = document.createElement("input");
      cb.type = "checkbox"; cb.id = id; cb.checked = Boolean(value);
      cb.addEventListener("change", () => setParam(n, p.name, cb.checked));
      l.appendChild(cb); l.append(" yes");
      return l;
    }
    if (k === "integer" || k === "number") {
      const i = input("number", value, id);
      i.step = k === "integer" ? "1" : "any";
      if (p.minimum !== null) i.min = p.minimum;
      if (p.maximum !== null) i.max = p.maximum;
      i.addEventListener("change", () => setParam(n, p.name, i.value === "" ? undefined : Number(i.value)));
      return i;
    }
    if (k === "text") {
      const i = input("textarea", value, id);
      i.spellcheck = false;
      i.addEventListener("change", () => setParam(n, p.name, i.value));
      return i;
    }
    if (k === "strings") {
      const i = input("text", Array.isArray(value) ? value.join(", ") : "", id);
      i.placeholder = "comma-separated";
      i.addEventListener("change", () => setParam(n, p.name, i.value.split(",").map((x) => x.trim()).filter(Boolean)));
      return i;
    }
    if (k === "any") {
      const i = input("text", value === null || value === undefined ? "" : JSON.stringify(value).replace(/^"|"$/g, ""), id);
      i.addEventListener("change", () => {
        let v = i.value;
        if (v === "") v = undefined; else if (/^-?\d+(\.\d+)?$/.test(v)) v = Number(v); else if (v === "true" || v === "false") v = v === "true";
        setParam(n, p.name, v);
      });
      return i;
    }
    if (k === "mapping" || k === "conditions" || k === "aggregations") return rowsControl(n, p, value, id, columnsPromise);
    const i = input("text", value, id);
    i.addEventListener("change", () => setParam(n, p.name, i.value));
    return i;
  }

  const FILTER_OPS = ["==", "!=", ">", ">=", "<", "<=", "in", "not_in", "is_null", "not_null", "contains", "starts_with", "ends_with", "matches"];
  const AGG_FUNCS = ["count", "sum", "mean", "median", "min", "max", "std", "var", "nunique", "first", "last"];

  function rowsControl(n, p, value, id, columnsPromise) {
    const box = document.createElement("div");
    box.className = "fe-rows"; box.id = id;
    let rows;
    if (p.kind === "mapping") rows = Object.entries(value || {}).map(([a, b]) => ({ a, b }));
    else rows = (Array.isArray(value) ? value : []).filter((r) => !r.conditions).map((r) => ({ ...r }));
    const emit = () => {
      if (p.kind === "mapping") setParam(n, p.name, Object.fromEntries(rows.filter((r) => r.a && r.b).map((r) => [r.a, r.b])));
      else if (p.kind === "aggregations") setParam(n, p.name, rows.filter((r) => r.column && r.func).map((r) => (r.as ? r : { column: r.column, func: r.func })));
      else setParam(n, p.name, rows.filter((r) => r.column && r.op).map((r) => {
        if (r.op === "is_null" || r.op === "not_null") return { column: r.column, op: r.op };
        let v = r.value;
        if (r.op === "in" || r.op === "not_in") v = String(v || "").split(",").map((x) => x.trim()).map((x) => (/^-?\d+(\.\d+)?$/.test(x) ? Number(x) : x));
        else if (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v)) v = Number(v);
        return { column: r.column, op: r.op, value: v ?? "" };
      }));
    };
    columnsPromise.then((cols) => {
      const draw = () => {
        box.textContent = "";
        rows.forEach((r, i) => {
          const row = document.createElement("div");
          row.className = "fe-row" + (p.kind === "conditions" ? " three" : "");
          const mk = (opts, key, blank) => { const s = select(opts, r[key], `${id}-${i}-${key}`, blank); s.addEventListener("change", () => { r[key] = s.value; emit(); }); return s; };
          const txt = (key, ph) => { const t = input("text", Array.isArray(r[key]) ? r[key].join(", ") : r[key], `${id}-${i}-${key}`); t.placeholder = ph; t.addEventListener("change", () => { r[key] = t.value; emit(); }); return t; };
          if (p.kind === "mapping") { row.append(mk(cols, "a", "column"), txt("b", "new name")); }
          else if (p.kind === "aggregations") { row.append(mk(cols, "column", "column"), mk(AGG_FUNCS, "func")); }
          else { row.append(mk(cols, "column", "column"), mk(FILTER_OPS, "op"), txt("value", "value")); }
          const x = document.createElement("button");
          x.type = "button"; x.className = "btn btn-sm btn-ghost"; x.textContent = "×"; x.setAttribute("aria-label", "Remove");
          x.addEventListener("click", () => { rows.splice(i, 1); emit(); });
          row.appendChild(x);
          box.appendChild(row);
        });
        const add = document.createElement("button");
        add.type = "button"; add.className = "btn btn-sm"; add.textContent = p.kind === "conditions" ? "+ condition" : p.kind === "aggregations" ? "+ aggregation" : "+ rename";
        add.disabled = !cfg.canWrite;
        add.addEventListener("click", () => { rows.push(p.kind === "aggregations" ? { func: "mean" } : p.kind === "conditions" ? { op: "==" } : {}); draw(); });
        box.appendChild(add);
      };
      draw();
    });
    return box;
  }

  // ---------------------------------------------------------------- preview drawer
  const drawer = $("[data-drawer]");
  let previewSeq = 0;
  function openPreview() { drawer.hidden = false; refreshDrawer(); }
  let refreshTimer = null;
  function refreshDrawer() {
    if (drawer.hidden) return;
    if (tab !== "preview") { fillAnalysisControls(); return; }
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(loadPreview, 150);
  }
  async function loadPreview() {
    const n = selected && node(selected);
    const body = $("[data-drawer-body]");
    if (!n) { $("[data-drawer-title]").textContent = "Preview"; $("[data-drawer-meta]").textContent = ""; body.innerHTML = `<div class="fe-msg">Select a node to preview its output.</div>`; return; }
    const seq = ++previewSeq;
    $("[data-drawer-title]").textContent = `Preview of ${defn(n).title} · ${n.id}`;
    $("[data-drawer-meta]").textContent = "computing…";
    try {
      const started = performance.now();
      const p = await api("POST", cfg.urls.preview, { node: n.id, graph: subgraph(n.id), sample });
      if (seq !== previewSeq) return;
      const ms = Math.round(performance.now() - started);
      const s = p.sample;
      const meta = $("[data-drawer-meta]");
      meta.textContent = `${p.num_rows.toLocaleString()} rows × ${p.columns.length} columns · sample: ${s.mode} ${s.rows.toLocaleString()} rows · ${ms} ms`;
      meta.title = `${n.id}: ${meta.textContent}`;
      body.textContent = "";
      body.appendChild(previewTable(p));
      if (errors[n.id]) { delete errors[n.id]; renderGraph(); renderInspector(); }
    } catch (err) {
      if (seq !== previewSeq) return;
      $("[data-drawer-meta]").textContent = "";
      const e = err.api || { message: err.message };
      body.innerHTML = `<div class="fe-msg is-error"></div>`;
      body.firstChild.textContent = e.message;
      if (e.node && node(e.node)) { errors[e.node] = { message: e.message, field: (e.field || "").split(".").pop() }; renderGraph(); renderInspector(); }
    }
  }
  function miniChart(summary) {
    const w = 120, h = 26;
    const s = document.createElementNS(SVGNS, "svg");
    s.setAttribute("width", w); s.setAttribute("height", h); s.setAttribute("class", "fe-mini");
    let counts = [];
    if (summary.histogram) counts = summary.histogram.counts;
    else if (summary.top) counts = summary.top.map((t) => t.count);
    const max = Math.max(1, ...counts);
    const bw = counts.length ? w / counts.length : 0;
    counts.forEach((c, i) => {
      const bh = Math.max(c ? 1.5 : 0, (c / max) * (h - 2));
      el("rect", { x: i * bw + 0.5, y: h - bh, width: Math.max(1, bw - 1), height: bh, fill: summary.histogram ? "#6d73e8" : "#9aa1ae", rx: 1 }, s);
    });
    const title = el("title", {}, s);
    title.textContent = summary.histogram ? `min ${summary.min} · max ${summary.max} · mean ${summary.mean.toFixed(3)}`
      : (summary.top || []).map((t) => `${t.value}: ${t.count}`).join("\n");
    return s;
  }
  function previewTable(p) {
    const wrap = document.createElement("table");
    wrap.className = "fe-preview";
    const thead = wrap.createTHead().insertRow();
    const types = Object.fromEntries(p.schema.map((c) => [c.name, c.dtype]));
    const numeric = {};
    p.columns.forEach((c) => {
      const th = document.createElement("th");
      th.textContent = c;
      const t = document.createElement("span"); t.className = "fe-type"; t.textContent = types[c]; th.appendChild(t);
      const sm = p.summary[c];
      if (sm) {
        th.appendChild(miniChart(sm));
        const m = document.createElement("span"); m.className = "fe-miss"; m.textContent = `${sm.missing_pct}% missing · ${sm.distinct.toLocaleString()} distinct`; th.appendChild(m);
        numeric[c] = Boolean(sm.histogram);
      }
      thead.appendChild(th);
    });
    const tbody = wrap.createTBody();
    p.rows.forEach((r) => {
      const tr = tbody.insertRow();
      r.forEach((v, i) => {
        const td = tr.insertCell();
        if (v === null) { td.textContent = "null"; td.className = "null"; }
        else if (typeof v === "string" && /^(datetime|timestamp)/.test(types[p.columns[i]] || "")) {
          // ISO text as a person reads it: a space for the T, no zero fraction of a second.
          td.textContent = v.replace("T", " ").replace(/\.0+(?=$|Z|[+-]\d\d:?\d\d$)/, "");
        } else { td.textContent = typeof v === "object" ? JSON.stringify(v) : String(v); if (numeric[p.columns[i]]) td.className = "num"; }
      });
    });
    return wrap;
  }

  // ---------------------------------------------------------------- analyses and insights
  let tab = "preview";
  $$(".fe-tab").forEach((b) => b.addEventListener("click", () => {
    tab = b.dataset.tab;
    drawer.dataset.tabNow = tab;
    $$(".fe-tab").forEach((x) => { x.classList.toggle("is-current", x === b); x.setAttribute("aria-selected", String(x === b)); });
    $$("[data-panel]").forEach((p) => { p.hidden = p.dataset.panel !== tab; });
    if (tab === "preview") refreshDrawer(); else fillAnalysisControls();
  }));

  let plotlyReady = null;
  function plotly() {
    if (!plotlyReady) {
      plotlyReady = new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = cfg.urls.plotly; s.onload = () => resolve(window.Plotly); s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return plotlyReady;
  }
  async function drawFigure(container, fig, name) {
    const div = document.createElement("div");
    div.className = "fe-figure";
    container.appendChild(div);
    const P = await plotly();
    const layout = Object.assign({}, fig.layout || {}, { autosize: true });
    P.newPlot(div, fig.data || [], layout, {
      displaylogo: false, responsive: true, modeBarButtons: [["toImage"]],
      toImageButtonOptions: { format: "png", filename: name || "sextant-analysis", scale: 2 },
    });
  }
  function tableOf(t) {
    const table = document.createElement("table");
    table.className = "fe-preview";
    const head = table.createTHead().insertRow();
    t.columns.forEach((c) => { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); });
    const body = table.createTBody();
    t.rows.forEach((r) => {
      const tr = body.insertRow();
      r.forEach((v) => {
        const td = tr.insertCell();
        if (v === null) { td.textContent = "—"; td.className = "null"; }
        else { td.textContent = typeof v === "number" ? Number(v.toPrecision(6)).toLocaleString() : String(v); if (typeof v === "number") td.className = "num"; }
      });
    });
    return table;
  }

  const ANALYSIS_PARAMS = {
    summary: [],
    histogram: [["column", "column", true], ["color_by", "column", false]],
    scatter: [["x", "column", true], ["y", "column", true], ["color", "column", false]],
    box: [["column", "column", true], ["by", "column", false]],
    correlation: [["method", ["pearson", "spearman", "cramers_v"], true]],
    target_leakage: [["target", "column", true], ["problem", ["auto", "classification", "regression"], true]],
    quick_model: [["target", "column", true], ["problem", ["auto", "classification", "regression"], true]],
  };
  async function fillAnalysisControls() {
    const n = selected && node(selected);
    const kind = $("[data-analysis-kind]").value;
    const holder = $("[data-analysis-params]");
    const cols = n ? await columnsOf(n.id) : [];
    holder.textContent = "";
    ANALYSIS_PARAMS[kind].forEach(([name, what, required]) => {
      const opts = Array.isArray(what) ? what : cols;
      const sel = select(opts, Array.isArray(what) ? what[0] : "", `fe-an-${name}`, Array.isArray(what) ? undefined : required ? `${name}…` : `${name} (optional)`);
      sel.dataset.param = name;
      sel.setAttribute("aria-label", name);
      holder.appendChild(sel);
    });
    const target = $("[data-insights-target]");
    const keep = target.value;
    target.length = 1;
    cols.forEach((c) => target.add(new Option(c, c)));
    target.value = cols.includes(keep) ? keep : "";
  }
  $("[data-analysis-kind]").addEventListener("change", fillAnalysisControls);

  $("[data-analysis-form]").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const n = selected && node(selected);
    const out = $("[data-analysis-out]");
    if (!n) { out.innerHTML = `<div class="fe-msg">Select a node first.</div>`; return; }
    const kind = $("[data-analysis-kind]").value;
    const params = {};
    $$("[data-analysis-params] [data-param]").forEach((s) => { if (s.value) params[s.dataset.param] = s.value; });
    out.innerHTML = `<div class="fe-msg">Computing…</div>`;
    try {
      const r = await api("POST", cfg.urls.analyses, { node: n.id, kind, params, graph: subgraph(n.id), sample });
      out.textContent = "";
      const h = document.createElement("div"); h.className = "fe-notes";
      h.textContent = `${r.title} · ${r.num_rows.toLocaleString()} rows of the sample` + (r.notes && r.notes.length ? ` · ${r.notes.join(" ")}` : "");
      out.appendChild(h);
      for (const f of r.figures || []) await drawFigure(out, f, `${cfg.flow.name}-${n.id}-${kind}`);
      if (r.table) out.appendChild(tableOf(r.table));
    } catch (err) {
      out.innerHTML = `<div class="fe-msg is-error"></div>`;
      out.firstChild.textContent = (err.api && err.api.message) || err.message;
    }
  });

  // The report's column details: the preview's summaries, one row a column.
  function columnDetails(columns) {
    const wrap = document.createElement("section");
    wrap.className = "fe-columns";
    const h = document.createElement("h3"); h.textContent = "Columns"; wrap.appendChild(h);
    const table = document.createElement("table");
    table.className = "fe-preview fe-column-details";
    const head = table.createTHead().insertRow();
    ["column", "type", "distribution", "missing", "distinct", "mean or most frequent"].forEach((c) => {
      const th = document.createElement("th"); th.textContent = c; head.appendChild(th);
    });
    const body = table.createTBody();
    columns.forEach((c) => {
      const tr = body.insertRow();
      tr.dataset.column = c.name;
      tr.insertCell().textContent = c.name;
      const type = tr.insertCell(); type.textContent = c.dtype; type.className = "fe-type";
      tr.insertCell().appendChild(miniChart(c));
      const miss = tr.insertCell(); miss.className = "num"; miss.textContent = `${c.missing_pct}%`;
      const dist = tr.insertCell(); dist.className = "num"; dist.textContent = c.distinct.toLocaleString();
      const what = tr.insertCell();
      if (c.histogram) { what.className = "num"; what.textContent = Number(c.mean.toPrecision(6)).toLocaleString(); }
      else if (c.top && c.top.length) what.textContent = `${c.top[0].value} (${c.top[0].count.toLocaleString()})`;
      else { what.textContent = "—"; what.className = "null"; }
    });
    wrap.appendChild(table);
    return wrap;
  }

  function addRecommended(rec) {
    if (!cfg.canWrite || !rec) return;
    const from = selected && node(selected);
    const id = uniqueId(rec.type);
    const pos = from ? { x: from.position.x + W + 60, y: from.position.y } : { x: 60, y: 60 };
    change(() => {
      // Insert it after the selected node: whatever read that node now reads the new one.
      if (from) {
        graph.edges.forEach((e) => { if (e[0] === from.id) e[0] = id; });
        graph.nodes.filter((x) => x.position.x >= pos.x).forEach((x) => { x.position.x += W + 60; });
        graph.edges.push([from.id, id]);
      }
      graph.nodes.push({ id, type: rec.type, params: JSON.parse(JSON.stringify(rec.params)), position: pos });
    });
    selected = id;
    reveal(node(id));
    render();
    status(`Added “${rec.title}” after ${from ? from.id : "the flow"}. Save to keep it.`, "ok");
  }

  $("[data-insights-form]").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const n = selected && node(selected);
    const out = $("[data-insights-out]");
    if (!n) { out.innerHTML = `<div class="fe-msg">Select a node first.</div>`; return; }
    const target = $("[data-insights-target]").value;
    out.innerHTML = `<div class="fe-msg">Checking the data…</div>`;
    try {
      const r = await api("POST", cfg.urls.analyses, { node: n.id, kind: "insights", params: target ? { target } : {}, graph: subgraph(n.id), sample });
      const rep = r.report;
      out.textContent = "";
      const k = document.createElement("div"); k.className = "fe-kpis";
      const sm = rep.summary;
      k.innerHTML = `<span><strong></strong> rows</span><span><strong></strong> columns</span><span><strong></strong>% missing cells</span><span><strong></strong> duplicate rows</span><span><strong></strong> findings</span>`;
      const vals = [sm.rows.toLocaleString(), sm.columns, sm.missing_cells_pct, sm.duplicate_rows.toLocaleString(), rep.findings.length];
      k.querySelectorAll("strong").forEach((s, i) => { s.textContent = vals[i]; });
      out.appendChild(k);
      const ul = document.createElement("ul"); ul.className = "fe-findings";
      if (!rep.findings.length) ul.innerHTML = `<li class="fe-msg">No data quality issue found.</li>`;
      rep.findings.forEach((f) => {
        const li = document.createElement("li"); li.className = "fe-finding"; li.dataset.check = f.check;
        li.innerHTML = `<span class="fe-sev fe-sev-${f.severity}"></span><div><div class="fe-title"></div><div class="fe-detail"></div></div><span></span>`;
        li.children[0].textContent = f.severity;
        li.querySelector(".fe-title").textContent = f.title;
        li.querySelector(".fe-detail").textContent = f.detail;
        if (f.recommendation && cfg.canWrite) {
          const b = document.createElement("button");
          b.type = "button"; b.className = "btn btn-sm"; b.textContent = f.recommendation.title;
          b.dataset.recommend = f.recommendation.type;
          b.addEventListener("click", () => addRecommended(f.recommendation));
          li.children[2].appendChild(b);
        }
        ul.appendChild(li);
      });
      out.appendChild(ul);
      const figs = document.createElement("div"); figs.className = "fe-figs";
      out.appendChild(figs);
      for (const key of ["missing", "correlation", "target", "confusion_matrix", "importances"]) {
        if (rep.figures[key]) await drawFigure(figs, rep.figures[key], `${cfg.flow.name}-${key}`);
      }
      if (rep.columns && rep.columns.length) out.appendChild(columnDetails(rep.columns));
    } catch (err) {
      out.innerHTML = `<div class="fe-msg is-error"></div>`;
      out.firstChild.textContent = (err.api && err.api.message) || err.message;
    }
  });

  // ---------------------------------------------------------------- the preview sample
  const sampleForm = $("[data-sample-form]");
  function sampleLabel() {
    const what = { first: "First", random: "Random", stratified: "Stratified" }[sample.mode];
    $("[data-sample-label]").textContent = `${what} ${Number(sample.rows).toLocaleString()} rows` + (sample.mode === "stratified" ? ` by ${sample.column}` : "");
  }
  async function fillSampleForm() {
    sampleForm.mode.value = sample.mode;
    sampleForm.rows.value = sample.rows;
    sampleForm.seed.value = sample.seed;
    const src = graph.nodes.find((n) => n.type === "source");
    const cols = src ? await columnsOf(src.id) : [];
    sampleForm.column.length = 0;
    cols.forEach((c) => sampleForm.column.add(new Option(c, c)));
    sampleForm.column.value = sample.column || "";
    const strat = sampleForm.mode.value === "stratified";
    sampleForm.column.hidden = !strat; $("[data-sample-column-label]").hidden = !strat;
  }
  // Filled on the click that opens the menu, before anyone can change a field in it.
  $("[data-sample-label]").addEventListener("click", () => { if (!$(".fe-sample").open) fillSampleForm(); });
  sampleForm.mode.addEventListener("change", () => {
    const strat = sampleForm.mode.value === "stratified";
    sampleForm.column.hidden = !strat; $("[data-sample-column-label]").hidden = !strat;
  });
  sampleForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const next = {
      mode: sampleForm.mode.value, rows: Number(sampleForm.rows.value) || 50000,
      seed: Number(sampleForm.seed.value) || 0,
      column: sampleForm.mode.value === "stratified" ? sampleForm.column.value : "",
    };
    const box = $("[data-sample-error]");
    try {
      // Kept with the flow (a setting, not a new version of the graph).
      if (cfg.canWrite) await api("PATCH", cfg.urls.flow, { sample: next });
      sample = next; box.hidden = true;
      $(".fe-sample").open = false;
      sampleLabel();
      columnsCache.clear();
      refreshDrawer();
    } catch (err) {
      box.hidden = false; box.textContent = (err.api && err.api.message) || err.message;
    }
  });

  // ---------------------------------------------------------------- save, run
  async function save() {
    if (!cfg.canWrite) return false;
    status("Saving…", "info");
    try {
      const f = await api("PATCH", cfg.urls.flow, { graph });
      dirty = false; errors = {};
      $("[data-version]").textContent = `v${f.version}`;
      render();
      status(`Saved as version ${f.version}.`, "ok");
      return true;
    } catch (err) {
      showError(err);
      return false;
    }
  }
  const dialog = $("[data-run-dialog]");
  async function run() {
    const n = selected && node(selected);
    if (!n || n.type === "source") return;
    if (dirty && !(await save())) return;
    $("[data-run-node]").textContent = n.id;
    const out = $("#run-output");
    out.value = out.value || `${cfg.flow.name}-${n.id}`.replace(/[^\w .-]/g, "-");
    $("[data-run-error]").hidden = true;
    dialog.showModal();
  }
  $("[data-run-form]").addEventListener("submit", async (ev) => {
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    const n = node(selected);
    try {
      const res = await api("POST", cfg.urls.run, { node: n.id, output_name: $("#run-output").value });
      dialog.close();
      const span = document.createElement("span");
      const a = document.createElement("a");
      a.href = cfg.urls.job.replace("{id}", res.job); a.textContent = `job ${res.job}`;
      span.append("Running as ", a, " — its output becomes the dataset ", $("#run-output").value, ".");
      status(span, "ok");
    } catch (err) {
      const box = $("[data-run-error]");
      box.hidden = false; box.textContent = (err.api && err.api.message) || err.message;
    }
  });

  // ---------------------------------------------------------------- toolbar, keyboard
  root.addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-action]");
    if (!b || b.disabled) return;
    const r = svg.getBoundingClientRect();
    ({
      undo, redo, tidy, delete: deleteSelection, save, run,
      preview: openPreview,
      "close-drawer": () => { drawer.hidden = true; },
      "zoom-in": () => zoomAt(r.width / 2, r.height / 2, 1.2),
      "zoom-out": () => zoomAt(r.width / 2, r.height / 2, 1 / 1.2),
      "zoom-reset": fit,
    }[b.dataset.action] || (() => {}))();
  });
  document.addEventListener("keydown", (ev) => {
    const typing = ev.target.closest && ev.target.closest("input, textarea, select, [contenteditable]");
    const mod = ev.ctrlKey || ev.metaKey;
    if (mod && ev.key.toLowerCase() === "s") { ev.preventDefault(); save(); return; }
    if (typing) return;
    if (mod && ev.key.toLowerCase() === "z") { ev.preventDefault(); if (ev.shiftKey) redo(); else undo(); }
    else if (mod && ev.key.toLowerCase() === "y") { ev.preventDefault(); redo(); }
    else if (ev.key === "Delete" || ev.key === "Backspace") { if (selected || selectedEdge !== null) { ev.preventDefault(); deleteSelection(); } }
    else if (ev.key === "Escape") { selected = null; selectedEdge = null; render(); }
  });
  window.addEventListener("beforeunload", (ev) => { if (dirty) { ev.preventDefault(); ev.returnValue = ""; } });

  renderPalette("");
  render();
  fit();
  sampleLabel();
  if (!graph.nodes.length) status("Add a source dataset to begin.", "info");
})();
