/// The agent's web UI: one self-contained page (HTML, CSS and JavaScript, no external resources) that
/// reads the agent's JSON API.
enum AgentPage {
  static let html: String = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>sonde agent</title>
    <style>
    :root { --fg: #1f2328; --muted: #6b7280; --line: #d9dce1; --panel: #f6f7f9; --accent: #2563eb; --err: #b91c1c; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); }
    header { display: flex; align-items: baseline; gap: 16px; padding: 8px 16px; background: var(--panel);
      border-bottom: 1px solid var(--line); }
    header h1 { font-size: 16px; margin: 0; white-space: nowrap; }
    #status { color: var(--muted); }
    #status.error { color: var(--err); font-weight: 600; }
    main { padding: 4px 16px 32px; }
    .bar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; margin: 8px 0; }
    button, input { font: inherit; }
    button { padding: 2px 10px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
    button:hover { border-color: #9ca3af; }
    button.on { background: var(--accent); border-color: var(--accent); color: #fff; }
    input { padding: 2px 6px; border: 1px solid var(--line); border-radius: 4px; }
    #filter { width: 360px; }
    #search { width: 200px; }
    #search-result { font-weight: 600; color: #a21caf; }
    .hint { color: var(--muted); font-size: 12px; }
    #timeline { display: block; width: 100%; height: 96px; background: var(--panel); border: 1px solid var(--line);
      border-radius: 4px; cursor: crosshair; user-select: none; touch-action: none; }
    #timeline .tb { fill: #8193ad; }
    #timeline .tb:hover { fill: #4b5d7a; }
    #timeline .sel { fill: rgba(37, 99, 235, .2); stroke: var(--accent); }
    #timeline .cmp { fill: rgba(217, 119, 6, .2); stroke: #d97706; stroke-dasharray: 4 2; }
    #timeline text { font-size: 10px; fill: var(--muted); }
    #legend { display: none; align-items: center; gap: 6px; }
    #legend.on { display: inline-flex; }
    .swatch { display: inline-block; width: 140px; height: 12px; border-radius: 2px;
      background: linear-gradient(90deg, hsl(220, 85%, 50%), #f4f4f4, hsl(0, 85%, 50%)); }
    #flamegraph { position: relative; width: 100%; overflow: hidden; font: 11px/16px ui-monospace, Menlo, monospace; }
    #flamegraph .frame, #flamegraph .rootbar { position: absolute; height: 16px; padding: 0 3px; overflow: hidden;
      white-space: nowrap; text-overflow: ellipsis; cursor: pointer; border-radius: 2px; color: #1f2328;
      box-shadow: inset -1px 0 #fff; }
    #flamegraph .rootbar { background: #e2e5ea; }
    #flamegraph.diff .frame { box-shadow: inset 0 0 0 1px rgba(0, 0, 0, .12); }
    #flamegraph .frame.dim { opacity: .6; }
    #flamegraph .frame.match { background: #e040e0 !important; color: #fff; }
    #flamegraph .frame:hover, #flamegraph .rootbar:hover { outline: 1px solid #111; z-index: 1; }
    .empty { padding: 28px; color: var(--muted); text-align: center; border: 1px dashed var(--line);
      border-radius: 4px; }
    .empty.error { color: var(--err); border-color: var(--err); white-space: pre-wrap; }
    #tooltip { position: fixed; display: none; z-index: 10; pointer-events: none; max-width: 640px; padding: 4px 8px;
      border-radius: 4px; background: #111827; color: #fff; font-size: 12px; white-space: pre-line;
      overflow-wrap: anywhere; }
    .cols { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; margin-top: 14px; }
    @media (max-width: 1000px) { .cols { grid-template-columns: minmax(0, 1fr); } }
    h2 { font-size: 13px; margin: 0 0 4px; }
    .scroll { max-height: 420px; overflow: auto; border: 1px solid var(--line); border-radius: 4px; }
    table { width: 100%; border-collapse: collapse; }
    th { position: sticky; top: 0; background: var(--panel); }
    th, td { padding: 2px 6px; text-align: left; white-space: nowrap; border-bottom: 1px solid #eceef1; }
    td.name { width: 100%; max-width: 0; overflow: hidden; text-overflow: ellipsis;
      font-family: ui-monospace, monospace; }
    .n { text-align: right; font-variant-numeric: tabular-nums; }
    tbody tr:hover { background: #eef2f7; cursor: pointer; }
    tbody tr.current { background: #dbeafe; }
    a { color: var(--accent); }
    </style>
    </head>
    <body>
    <header><h1>sonde agent</h1><span id="status">loading&hellip;</span></header>
    <main>
    <div class="bar">
      <span class="hint">range</span>
      <button data-last="60000">last 1 min</button>
      <button data-last="300000">last 5 min</button>
      <button data-last="900000">last 15 min</button>
      <button data-last="3600000">last 1 h</button>
      <button data-last="21600000">last 6 h</button>
      <span class="hint">drag on the timeline to select a range; shift+drag selects the comparison range</span>
    </div>
    <svg id="timeline" role="img" aria-label="samples per time window"></svg>
    <div class="bar">
      <label>filter <input id="filter" type="text" spellcheck="false"
        placeholder="pid:123 comm:nginx exe:&hellip; unit:&hellip; container:&hellip; cgroup:&hellip; or words"></label>
      <button id="filter-clear">clear filter</button>
      <label>search <input id="search" type="search" spellcheck="false" placeholder="frame name"></label>
      <span id="search-result"></span>
    </div>
    <div class="bar">
      <button id="compare" title="differential flame graph: this range (B) against the one before it (A)">compare with
        previous period</button>
      <button id="diff-exit" hidden>exit compare</button>
      <span id="legend"><span>shrank</span><span class="swatch"></span><span>grew</span>
        <span id="legend-text" class="hint"></span></span>
      <button id="reset-zoom">reset zoom</button>
      <a id="download" href="/api/v1/profile">download pprof</a>
    </div>
    <div id="flamegraph"></div>
    <div class="cols">
      <section><h2>Top functions (by self samples)</h2>
        <div class="scroll"><table id="top-functions"></table></div></section>
      <section><h2>Processes (click to filter)</h2><div class="scroll"><table id="processes"></table></div></section>
    </div>
    </main>
    <div id="tooltip"></div>
    <script>
    "use strict";
    const MIN = 60000, HOUR = 3600000, ROW = 17;
    const $ = (id) => document.getElementById(id);
    const S = { unit: " samples", from: null, to: null, filter: "", search: "", diff: null, zoom: [], skew: 0, view: null,
      windows: null, tree: null, base: null, frames: [], gen: 0, loading: false, errors: [], diffScale: 1 };
    const nf = new Intl.NumberFormat("en-US");
    const fmtN = (n) => nf.format(n);
    const colors = new Map();

    function el(tag, attrs, text) {
      const e = document.createElement(tag);
      for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
      if (text != null) e.textContent = text;
      return e;
    }
    function svg(tag, attrs, text) {
      const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
      for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
      if (text != null) e.textContent = text;
      return e;
    }
    function pct(n, d) {
      if (!(d > 0)) return "0%";
      const p = 100 * n / d;
      return (p === 0 ? "0" : p >= 10 ? p.toFixed(1) : p.toFixed(2)) + "%";
    }
    const pad = (n) => String(n).padStart(2, "0");
    function fmtTime(ms, short) {
      const d = new Date(ms), t = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
      return short ? t : d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + t;
    }
    function fmtRange(a, b) {
      const sameDay = new Date(a).toDateString() === new Date(b).toDateString();
      return fmtTime(a) + " \u2013 " + fmtTime(b, sameDay) + " (" + fmtDur(b - a) + ")";
    }
    function fmtDur(ms) {
      const s = Math.round(ms / 1000);
      if (s < 120) return s + " s";
      if (s < 7200) return Math.round(s / 60) + " min";
      return (s / 3600).toFixed(1).replace(/\.0$/, "") + " h";
    }
    function qs(p) {
      const parts = [];
      for (const k in p) if (p[k] !== "" && p[k] != null) parts.push(k + "=" + encodeURIComponent(p[k]));
      return parts.length ? "?" + parts.join("&") : "";
    }
    async function api(path, params) {
      const url = "/api/v1/" + path + qs(params);
      let r;
      try {
        r = await fetch(url, { headers: { Accept: "application/json" } });
      } catch (e) {
        throw new Error("GET " + url + ": " + e.message);
      }
      if (!r.ok) {
        let body = "";
        try { body = (await r.text()).trim().slice(0, 200); } catch (e) { /* ignore */ }
        throw new Error("GET " + url + ": HTTP " + r.status + (body ? " \u2014 " + body : ""));
      }
      try {
        return await r.json();
      } catch (e) {
        throw new Error("GET " + url + ": invalid JSON (" + e.message + ")");
      }
    }

    // ---- URL state ----
    function readURL() {
      const q = new URLSearchParams(location.search);
      // The token (a remote agent's entry link) became a cookie: keep it out of the address bar and history.
      if (q.has("token")) {
        q.delete("token");
        const rest = q.toString();
        history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
      }
      const int = (k) => (/^\d+$/.test(q.get(k) || "") ? Number(q.get(k)) : null);
      S.from = int("from");
      S.to = int("to");
      S.filter = (q.get("filter") || "").trim();
      S.search = q.get("search") || "";
      const m = /^(\d+)-(\d+)$/.exec(q.get("diff") || "");
      S.diff = m && Number(m[2]) > Number(m[1]) ? { from: Number(m[1]), to: Number(m[2]) } : null;
    }
    function writeURL() {
      const q = { from: S.from, to: S.to, filter: S.filter, search: S.search };
      if (S.diff) q.diff = S.diff.from + "-" + S.diff.to;
      history.replaceState(null, "", location.pathname + qs(q));
    }
    const now = () => Math.round(Date.now() + S.skew);

    // ---- loading ----
    function viewRange(keep) {
      const v = S.view;
      const fits = (r) => !r || (v.from <= r.from && r.to <= v.to);
      if (keep && v && fits(S) && fits(S.diff)) return v;
      let to = S.to, from = S.from;
      if (to - from < HOUR) {
        const c = (from + to) / 2;
        to = Math.max(to, Math.min(Math.max(now(), to), c + HOUR / 2));
        from = to - HOUR;
      }
      if (S.diff) {
        from = Math.min(from, S.diff.from);
        to = Math.max(to, S.diff.to);
      }
      return { from, to };
    }
    async function refresh(keepView, quiet) {
      const gen = ++S.gen;
      document.body.dataset.ready = "0";
      if (!quiet) writeURL();
      S.view = viewRange(keepView);
      S.loading = true;
      S.errors = [];
      $("download").setAttribute("href", "/api/v1/profile" + qs({ from: S.from, to: S.to, filter: S.filter }));
      $("download").setAttribute("download", "sonde-" + S.from + "-" + S.to + ".pb.gz");
      $("diff-exit").hidden = !S.diff;
      drawTimeline();
      setStatus();
      const results = await Promise.allSettled([loadTimeline(gen), loadStacks(gen), loadProcesses(gen)]);
      if (gen !== S.gen) return;
      S.loading = false;
      S.errors = results.filter((r) => r.status === "rejected").map((r) => (r.reason && r.reason.message) || "error");
      setStatus();
      document.body.dataset.ready = "1";
    }
    async function loadTimeline(gen) {
      const v = S.view;
      try {
        const data = await api("timeline", { from: v.from, to: v.to, filter: S.filter });
        if (gen !== S.gen) return;
        if (Number.isFinite(data.now)) S.skew = data.now - Date.now();
        S.windows = Array.isArray(data.windows) ? data.windows : [];
      } catch (e) {
        if (gen === S.gen) S.windows = false;
        throw e;
      } finally {
        if (gen === S.gen) drawTimeline();
      }
    }
    async function loadStacks(gen) {
      const jobs = [api("stacks", { from: S.from, to: S.to, filter: S.filter })];
      if (S.diff) jobs.push(api("stacks", { from: S.diff.from, to: S.diff.to, filter: S.filter }));
      let res;
      try {
        res = await Promise.all(jobs);
      } catch (e) {
        if (gen === S.gen) {
          S.tree = S.base = null;
          message("Could not load stacks: " + e.message, true);
          drawTop(null);
          applySearch();
        }
        throw e;
      }
      if (gen !== S.gen) return;
      S.tree = buildTree(res[0]);
      S.base = S.diff ? buildTree(res[1]) : null;
      if (S.base) annotateDiff();
      drawFlame();
      drawTop(res[0]);
    }
    async function loadProcesses(gen) {
      const t = $("processes");
      let data;
      try {
        data = await api("processes", { from: S.from, to: S.to });
      } catch (e) {
        if (gen === S.gen) {
          t.replaceChildren(el("tr"));
          t.firstChild.appendChild(el("td", null, "processes unavailable"));
        }
        throw e;
      }
      if (gen !== S.gen) return;
      const procs = (Array.isArray(data.processes) ? data.processes : []).slice();
      procs.sort((a, b) => (b.samples || 0) - (a.samples || 0));
      const head = el("tr");
      for (const [h, c] of [["pid", "n"], ["comm"], ["unit / container"], ["samples", "n"]]) {
        head.appendChild(el("th", c ? { class: c } : null, h));
      }
      const body = el("tbody");
      for (const p of procs.slice(0, 200)) {
        const tr = el("tr", { title: String(p.exe || "") });
        if (S.filter === "pid:" + p.pid) tr.className = "current";
        tr.appendChild(el("td", { class: "n" }, String(p.pid)));
        tr.appendChild(el("td", { class: "name" }, String(p.comm || "")));
        tr.appendChild(el("td", null, [p.unit, p.container].filter(Boolean).join(" / ")));
        tr.appendChild(el("td", { class: "n" }, fmtN(p.samples || 0)));
        tr.addEventListener("click", () => setFilter("pid:" + p.pid));
        body.appendChild(tr);
      }
      if (!procs.length) body.appendChild(el("tr")).appendChild(el("td", { colspan: 4 }, "no processes in this range"));
      t.replaceChildren(el("thead"), body);
      t.firstChild.appendChild(head);
    }

    // ---- flame graph model ----
    function buildTree(data) {
      const root = { name: "all", total: 0, self: 0, kids: new Map(), parent: null, depth: 0 };
      for (const s of (data && Array.isArray(data.stacks) ? data.stacks : [])) {
        const c = Number(s.count) || 0;
        if (c <= 0 || !Array.isArray(s.frames)) continue;
        let n = root;
        n.total += c;
        for (const f of s.frames) {
          const name = String(f);
          let k = n.kids.get(name);
          if (!k) {
            k = { name, total: 0, self: 0, kids: new Map(), parent: n, depth: n.depth + 1 };
            n.kids.set(name, k);
          }
          k.total += c;
          n = k;
        }
        n.self += c;
      }
      root.samples = Math.max(Number(data && data.samples) || 0, root.total);
      // An off-CPU agent's counts are nanoseconds blocked.
      S.unit = data && data.unit === "nanoseconds" ? " ns off-CPU" : " samples";
      root.truncated = Number(data && data.truncated) || 0;
      return root;
    }
    function annotateDiff() {
      const tb = S.tree.samples || 1, ta = S.base.samples || 1;
      let max = 0;
      const walk = (b, a) => {
        b.base = a ? a.total : 0;
        b.delta = b.total / tb - b.base / ta;
        if (Math.abs(b.delta) > max) max = Math.abs(b.delta);
        for (const k of b.kids.values()) walk(k, a && a.kids.get(k.name));
      };
      walk(S.tree, S.base);
      S.diffScale = Math.max(max, 0.005);
    }
    function sortedKids(n) {
      if (!n.sorted) n.sorted = [...n.kids.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return n.sorted;
    }
    function hash(s) {
      let h = 2166136261;
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
      return h >>> 0;
    }
    function color(n) {
      if (S.base) {
        const t = Math.sqrt(Math.min(1, Math.abs(n.delta) / S.diffScale));
        return "hsl(" + (n.delta >= 0 ? 0 : 220) + ",85%," + (96 - 44 * t).toFixed(1) + "%)";
      }
      let c = colors.get(n.name);
      if (!c) {
        const h = hash(n.name), v1 = (h & 255) / 255, v2 = ((h >>> 8) & 255) / 255, v3 = ((h >>> 16) & 255) / 255;
        c = n.name.endsWith("_[k]")
          ? "rgb(" + Math.round(80 + 60 * v1) + "," + Math.round(160 + 50 * v2) + "," + Math.round(205 + 40 * v3) + ")"
          : "rgb(" + Math.round(215 + 40 * v3) + "," + Math.round(70 + 160 * v1) + "," + Math.round(55 * v2) + ")";
        colors.set(n.name, c);
      }
      return c;
    }

    // ---- flame graph view ----
    function message(text, isError) {
      const fg = $("flamegraph");
      fg.style.height = "";
      fg.replaceChildren(el("div", { class: isError ? "empty error" : "empty" }, text));
      S.frames = [];
      $("tooltip").style.display = "none";
      $("legend").classList.remove("on");
      applySearch();
    }
    function drawFlame() {
      const fg = $("flamegraph"), root = S.tree;
      if (!root) return;
      if (!root.total) {
        message("no samples in this range" + (S.filter ? " (filter: " + S.filter + ")" : ""));
        return;
      }
      let z = root;
      for (const name of S.zoom) {
        z = z.kids.get(name);
        if (!z) { z = root; S.zoom = []; break; }
      }
      const W = fg.clientWidth || 1000, frag = document.createDocumentFragment(), frames = [];
      let maxDepth = z.depth;
      const add = (n, left, width, dim) => {
        const d = document.createElement("div");
        d.className = dim ? "frame dim" : "frame";
        d.setAttribute("data-name", n.name);
        d.style.cssText = "left:" + (100 * left).toFixed(4) + "%;width:" + (100 * width).toFixed(4) + "%;top:" +
          n.depth * ROW + "px;background:" + color(n);
        if (width * W > 20) d.textContent = n.name;
        d.node = n;
        frag.appendChild(d);
        frames.push(d);
        if (n.depth > maxDepth) maxDepth = n.depth;
      };
      const rb = el("div", { class: "rootbar" }, "all \u2014 " + fmtN(root.total) + S.unit +
        (z === root ? "" : "  (zoomed: click here or \u201creset zoom\u201d to go back)"));
      rb.style.cssText = "left:0;width:100%;top:0";
      rb.node = root;
      frag.appendChild(rb);
      const chain = [];
      for (let n = z; n !== root; n = n.parent) chain.unshift(n);
      for (const n of chain) add(n, 0, 1, n !== z);
      const todo = [[z, 0]];
      while (todo.length) {
        const [n, left] = todo.pop();
        let x = left;
        for (const k of sortedKids(n)) {
          const w = k.total / z.total;
          if (w * W >= 0.5) {
            add(k, x, w, false);
            if (k.kids.size) todo.push([k, x]);
          }
          x += w;
        }
      }
      fg.classList.toggle("diff", !!S.base);
      fg.style.height = (maxDepth + 1) * ROW + "px";
      fg.replaceChildren(frag);
      S.frames = frames;
      $("tooltip").style.display = "none";
      const lg = $("legend");
      lg.classList.toggle("on", !!S.base);
      if (S.base) {
        $("legend-text").textContent = "B = the selected range, A = " + fmtRange(S.diff.from, S.diff.to) + ", " +
          fmtN(S.base.samples) + " samples (orange on the timeline). Colour = change of each frame's share of " +
          "samples from A to B; full colour = \u00b1" + (100 * S.diffScale).toFixed(1) + " points. " +
          (S.base.samples ? "Frames only in A are not shown." : "A has no samples.");
      }
      applySearch();
    }
    function applySearch() {
      const q = S.search.trim().toLowerCase(), out = $("search-result"), root = S.tree;
      const hit = (n) => (n.lname || (n.lname = n.name.toLowerCase())).includes(q);
      for (const d of S.frames) d.classList.toggle("match", q !== "" && hit(d.node));
      if (!q) { out.textContent = ""; return; }
      let matched = 0;
      const todo = root ? [root] : [];
      while (todo.length) {
        for (const k of todo.pop().kids.values()) {
          if (hit(k)) matched += k.total;
          else todo.push(k);
        }
      }
      out.textContent = fmtN(matched) + S.unit + " matched (" + pct(matched, root ? root.samples : 0) + ")";
    }
    function tooltipText(n) {
      const root = S.tree;
      if (n === root) return "all \u2014 " + fmtN(n.total) + S.unit + " (100%)";
      let t = n.name + " \u2014 " + fmtN(n.total) + S.unit + " (" + pct(n.total, root.samples) + ")";
      if (n.self) t += "\nself: " + fmtN(n.self) + S.unit + " (" + pct(n.self, root.samples) + ")";
      if (S.base) {
        const d = 100 * n.delta;
        t += "\nB (selected): " + pct(n.total, root.samples) + " of " + fmtN(root.samples) +
          "\nA (comparison): " + pct(n.base, S.base.samples) + " (" + fmtN(n.base) + " of " + fmtN(S.base.samples) +
          ")\nchange: " + (d >= 0 ? "+" : "") + d.toFixed(2) + " points";
      }
      return t;
    }
    function drawTop(data) {
      const t = $("top-functions"), self = new Map(), total = new Map(), seen = new Map();
      const stacks = data && Array.isArray(data.stacks) ? data.stacks : [];
      stacks.forEach((s, i) => {
        const c = Number(s.count) || 0, fr = s.frames;
        if (c <= 0 || !Array.isArray(fr) || !fr.length) return;
        const leaf = String(fr[fr.length - 1]);
        self.set(leaf, (self.get(leaf) || 0) + c);
        for (let j = fr.length > 1 ? 1 : 0; j < fr.length; j++) {
          const f = String(fr[j]);
          if (seen.get(f) === i) continue;
          seen.set(f, i);
          total.set(f, (total.get(f) || 0) + c);
        }
      });
      const denom = S.tree ? S.tree.samples : 0;
      const rows = [...total.keys()].map((name) => ({ name, self: self.get(name) || 0, total: total.get(name) }));
      rows.sort((a, b) => b.self - a.self || b.total - a.total);
      const head = el("thead").appendChild(el("tr"));
      for (const [h, c] of [["function"], ["self", "n"], ["self %", "n"], ["total", "n"], ["total %", "n"]]) {
        head.appendChild(el("th", c ? { class: c } : null, h));
      }
      const body = el("tbody");
      for (const r of rows.slice(0, 50)) {
        const tr = body.appendChild(el("tr", { title: r.name }));
        tr.appendChild(el("td", { class: "name" }, r.name));
        tr.appendChild(el("td", { class: "n" }, fmtN(r.self)));
        tr.appendChild(el("td", { class: "n" }, pct(r.self, denom)));
        tr.appendChild(el("td", { class: "n" }, fmtN(r.total)));
        tr.appendChild(el("td", { class: "n" }, pct(r.total, denom)));
        tr.addEventListener("click", () => setSearch(r.name));
      }
      if (!rows.length) {
        const msg = data ? "no samples in this range" : "unavailable";
        body.appendChild(el("tr")).appendChild(el("td", { colspan: 5 }, msg));
      }
      t.replaceChildren(head.parentNode, body);
    }

    // ---- timeline ----
    const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
    function drawTimeline() {
      const s = $("timeline"), v = S.view;
      if (!v) return;
      const W = s.clientWidth || 1000, H = s.clientHeight || 96, B = H - 14, span = v.to - v.from;
      const x = (t) => ((t - v.from) / span) * W;
      s.setAttribute("viewBox", "0 0 " + W + " " + H);
      s.replaceChildren();
      const ws = S.windows || [];
      let max = 0;
      for (const w of ws) if (w.samples > max) max = w.samples;
      for (const w of ws) {
        if (!(w.samples > 0) || w.end <= v.from || w.start >= v.to) continue;
        const x0 = Math.max(0, x(w.start)), x1 = Math.min(W, x(w.end)), h = Math.max(1, ((B - 6) * w.samples) / max);
        const bw = Math.max(1, x1 - x0 - (x1 - x0 > 4 ? 1 : 0));
        s.appendChild(svg("rect", { class: "tb", x: x0, y: B - h, width: bw, height: h }))
          .appendChild(svg("title", null, fmtTime(w.start, true) + " \u2013 " + fmtTime(w.end, true) + ": " +
            fmtN(w.samples) + " samples"));
      }
      if (!max) {
        s.appendChild(svg("text", { x: W / 2, y: B / 2, "text-anchor": "middle" },
          S.windows ? "no samples in this time span" : S.windows === false ? "timeline unavailable" : "loading\u2026"));
      }
      const step = 1000 * (STEPS.find((st) => (st * 1000 * W) / span >= 90) || 86400);
      for (let t = Math.ceil(v.from / step) * step; t < v.to; t += step) {
        s.appendChild(svg("line", { x1: x(t), x2: x(t), y1: B, y2: B + 4, stroke: "#9ca3af" }));
        const label = fmtTime(t, true);
        s.appendChild(svg("text", { x: x(t) + 2, y: H - 3 }, step < MIN ? label : label.slice(0, 5)));
      }
      s.appendChild(svg("line", { x1: 0, x2: W, y1: B, y2: B, stroke: "#c4c9d0" }));
      const rect = (r, cls) => {
        const a = Math.max(0, x(r.from)), b = Math.min(W, x(r.to));
        return svg("rect", { class: cls, x: a, y: 0.5, width: Math.max(2, b - a), height: B - 0.5 });
      };
      if (S.diff) s.appendChild(rect(S.diff, "cmp")).appendChild(svg("title", null, "A (comparison): " +
        fmtRange(S.diff.from, S.diff.to)));
      s.appendChild(rect(S, "sel")).appendChild(svg("title", null, "selected: " + fmtRange(S.from, S.to)));
      S.dragRect = (a, b, cls) => {
        const r = rect({ from: Math.min(a, b), to: Math.max(a, b) }, cls);
        r.setAttribute("pointer-events", "none");
        return r;
      };
    }
    function wireTimeline() {
      const s = $("timeline");
      const tAt = (ev) => {
        const b = s.getBoundingClientRect(), f = Math.min(1, Math.max(0, (ev.clientX - b.left) / b.width));
        return S.view.from + f * (S.view.to - S.view.from);
      };
      s.addEventListener("pointerdown", (ev) => {
        if (!S.view || ev.button !== 0) return;
        try { s.setPointerCapture(ev.pointerId); } catch (e) { /* not an active pointer */ }
        S.drag = { t0: tAt(ev), x0: ev.clientX, cmp: ev.shiftKey, el: null };
      });
      s.addEventListener("pointermove", (ev) => {
        const d = S.drag;
        if (!d) return;
        if (d.el) d.el.remove();
        d.el = s.appendChild(S.dragRect(d.t0, tAt(ev), d.cmp ? "cmp" : "sel"));
      });
      const end = (ev) => {
        const d = S.drag;
        S.drag = null;
        if (!d) return;
        if (d.el) d.el.remove();
        if (ev.type !== "pointerup" || Math.abs(ev.clientX - d.x0) < 4) return;
        const t1 = tAt(ev), a = Math.round(Math.min(d.t0, t1)), b = Math.round(Math.max(d.t0, t1));
        if (d.cmp) S.diff = { from: a, to: b };
        else setRange(a, b);
        S.zoom = [];
        refresh(true);
      };
      s.addEventListener("pointerup", end);
      s.addEventListener("pointercancel", end);
    }

    // ---- controls ----
    function setRange(from, to) {
      const prev = S.diff && S.diff.to === S.from && S.diff.to - S.diff.from === S.to - S.from;
      S.from = from;
      S.to = to;
      if (prev) S.diff = { from: from - (to - from), to: from };
    }
    function setFilter(f) {
      S.filter = f.trim();
      $("filter").value = S.filter;
      S.zoom = [];
      refresh(true);
    }
    function setSearch(q) {
      S.search = q;
      $("search").value = q;
      applySearch();
      writeURL();
    }
    function setStatus() {
      const st = $("status"), parts = [fmtRange(S.from, S.to)];
      if (S.loading) parts.push("loading\u2026");
      else if (S.tree) {
        parts.push(fmtN(S.tree.samples) + " samples");
        if (S.tree.truncated) parts.push(fmtN(S.tree.truncated) + " stacks truncated");
      }
      if (S.filter) parts.push("filter: " + S.filter);
      if (S.diff) parts.push("compared with " + fmtRange(S.diff.from, S.diff.to));
      if (S.errors.length) parts.push("ERROR: " + S.errors.join("; "));
      st.textContent = parts.join(" \u00b7 ");
      st.classList.toggle("error", S.errors.length > 0);
    }
    function wire() {
      for (const b of document.querySelectorAll("[data-last]")) {
        b.addEventListener("click", () => {
          const t = now();
          setRange(t - Number(b.dataset.last), t);
          S.zoom = [];
          refresh(false);
        });
      }
      $("filter").addEventListener("change", (ev) => setFilter(ev.target.value));
      $("filter-clear").addEventListener("click", () => setFilter(""));
      let timer = 0;
      $("search").addEventListener("input", (ev) => {
        clearTimeout(timer);
        timer = setTimeout(() => setSearch(ev.target.value), 120);
      });
      $("compare").addEventListener("click", () => {
        S.diff = { from: S.from - (S.to - S.from), to: S.from };
        S.zoom = [];
        refresh(true);
      });
      $("diff-exit").addEventListener("click", () => {
        S.diff = null;
        refresh(true);
      });
      const resetZoom = () => {
        S.zoom = [];
        drawFlame();
      };
      $("reset-zoom").addEventListener("click", resetZoom);
      document.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape" && !(ev.target instanceof HTMLInputElement)) resetZoom();
      });
      const fg = $("flamegraph"), tip = $("tooltip");
      fg.addEventListener("click", (ev) => {
        const d = ev.target.closest(".frame, .rootbar");
        if (!d || !d.node) return;
        S.zoom = [];
        for (let n = d.node; n.parent; n = n.parent) S.zoom.unshift(n.name);
        drawFlame();
      });
      fg.addEventListener("mousemove", (ev) => {
        const d = ev.target.closest(".frame, .rootbar");
        if (!d || !d.node) { tip.style.display = "none"; return; }
        tip.textContent = tooltipText(d.node);
        tip.style.display = "block";
        const w = tip.offsetWidth, h = tip.offsetHeight;
        tip.style.left = Math.max(0, Math.min(ev.clientX + 14, innerWidth - w - 4)) + "px";
        tip.style.top = (ev.clientY + 16 + h > innerHeight ? ev.clientY - h - 8 : ev.clientY + 16) + "px";
      });
      fg.addEventListener("mouseleave", () => { tip.style.display = "none"; });
      let rz = 0;
      addEventListener("resize", () => {
        clearTimeout(rz);
        rz = setTimeout(() => { drawTimeline(); drawFlame(); }, 150);
      });
      wireTimeline();
    }
    async function init() {
      readURL();
      $("filter").value = S.filter;
      $("search").value = S.search;
      wire();
      const quiet = S.from == null && S.to == null;
      if (S.to == null) {
        try {
          const t = await api("timeline", { filter: S.filter });
          if (Number.isFinite(t.now)) S.skew = t.now - Date.now();
        } catch (e) { /* the refresh below reports errors */ }
        S.to = S.from != null ? Math.max(now(), S.from + 1000) : now();
      }
      if (S.from == null || S.from >= S.to) S.from = S.to - MIN;
      await refresh(false, quiet);
    }
    init().catch((e) => {
      $("status").textContent = "ERROR: " + e.message;
      $("status").className = "error";
      document.body.dataset.ready = "1";
    });
    </script>
    </body>
    </html>
    """#
}
