// Chapter 05's inference explorer: one test image at a time, the generalist's distribution,
// each consulted specialist's opinion (its classes, and its dustbin shared over the other
// classes as the E step shares it) and their combination q by KL inference, drawn in SVG.
// Model (kdlab.widgets.InferenceExplorer): p (the generalist's rows), subsets and probs (each
// specialist's classes and rows: its classes, then the dustbin), names, labels, ids, changed
// (the images whose answer the combination of all specialists changes), n_top, index,
// changed_only, enabled (which specialists may take part), error.
// q is solved here, for the image shown, by kdlab.inference.kl_inference's EM iteration from
// its starting point to its tolerance; tests/test_inference_explorer.py checks it against
// kl_inference itself.

const W = 640; // the SVG's coordinate system; it scales to its container
const PANEL = { left: 150, right: 8, height: 64, bars: 48, gap: 8 };
const KL = { tol: 1e-12, maxIter: 10000, floor: 1e-9, tiny: 1e-150, eps: 4 * 2 ** -52 };

/** The specialists that take part for generalist row p: those meeting its nTop top classes. */
function activeSpecialists(p, subsets, nTop) {
  const top = p.map((_, c) => c).sort((a, b) => p[b] - p[a] || a - b).slice(0, nTop);
  return subsets.map((subset) => subset.some((c) => top.includes(c)));
}

/**
 * KL inference for one example, as kdlab.inference.kl_inference(method="em") does it:
 * `specs` = [{subset, probs}] (all of them; those not active are left out), returns
 * {q, active, nIter, converged}. q = p exactly where no specialist is active.
 */
function klInference(p, specs, nTop) {
  const C = p.length;
  const active = activeSpecialists(p, specs.map((sp) => sp.subset), nTop);
  const used = specs.filter((_, m) => active[m]);
  if (!used.length) return { q: p.slice(), active, nIter: 0, converged: true };
  // a: the generalist plus each specialist on its own classes; w: the dustbins; out: 1 outside
  const a = p.slice();
  const w = [];
  const out = [];
  for (const { subset, probs } of used) {
    subset.forEach((c, j) => {
      a[c] += probs[j];
    });
    w.push(probs[subset.length]);
    const o = new Array(C).fill(1);
    for (const c of subset) o[c] = 0;
    out.push(o);
  }
  const M = used.length;
  const dot = (x, o) => x.reduce((t, v, c) => t + v * o[c], 0);
  // the starting point (kdlab.inference._start)
  const held = out.map((o) => dot(a, o));
  const size = out.map((o) => o.reduce((t, v) => t + v, 0));
  let q = a.map((ac, c) => {
    let even = 0;
    let share = 0;
    let evenly = 0;
    for (let m = 0; m < M; m++) {
      if (!out[m][c]) continue;
      const some = held[m] > KL.tiny;
      even += w[m] / size[m];
      if (some) share += w[m] / held[m];
      else evenly += w[m] / size[m];
    }
    return (1 - KL.floor) * (ac + (ac * share + evenly)) + KL.floor * (ac + even);
  });
  const total = q.reduce((t, v) => t + v, 0);
  q = q.map((v) => v / total);
  // within each cell (the classes every non-empty dustbin treats alike), shared as a says
  const cell = q.map((_, c) => out.map((o, m) => (w[m] > 0 && o[c] > 0 ? 1 : 0)).join(""));
  const qCell = {};
  const aCell = {};
  q.forEach((v, c) => {
    qCell[cell[c]] = (qCell[cell[c]] || 0) + v;
    aCell[cell[c]] = (aCell[cell[c]] || 0) + a[c];
  });
  q = q.map((v, c) => (aCell[cell[c]] > 0 ? (a[c] * qCell[cell[c]]) / aCell[cell[c]] : v));
  // EM (kdlab.inference._em), stopped as there: step and Aitken's distance left below tol
  let before = Infinity;
  for (let it = 1; it <= KL.maxIter; it++) {
    const ratio = out.map((o, m) => (w[m] > 0 ? w[m] / dot(q, o) : 0));
    const num = a.map((ac, c) => {
      let s = 0;
      for (let m = 0; m < M; m++) s += ratio[m] * out[m][c];
      return ac + q[c] * s;
    });
    const sum = num.reduce((t, v) => t + v, 0);
    const next = num.map((v) => v / sum);
    const delta = Math.max(...next.map((v, c) => Math.abs(v - q[c])));
    const rate = delta / before;
    const left = rate < 1 ? (delta * rate) / (1 - rate) : Infinity;
    q = next;
    if (delta < KL.tol && rate < 1 && (left < KL.tol || delta <= KL.eps)) {
      return { q, active, nIter: it, converged: true };
    }
    before = delta;
  }
  return { q, active, nIter: KL.maxIter, converged: false };
}

/** A specialist's k + 1 probabilities on all classes (kdlab.inference.expand_specialist). */
function expandSpecialist(probs, subset, q) {
  const k = subset.length;
  const outside = q.map((_, c) => !subset.includes(c));
  const total = q.reduce((t, v, c) => (outside[c] ? t + v : t), 0);
  const n = outside.filter(Boolean).length;
  const full = q.map((v, c) => (outside[c] ? probs[k] * (total > 0 ? v / total : 1 / n) : 0));
  subset.forEach((c, j) => {
    full[c] = probs[j];
  });
  return full;
}

function render({ model, el }) {
  const names = () => {
    const given = model.get("names");
    return given.length ? given : model.get("p")[0].map((_, c) => String(c));
  };
  const state = { event: null, control: null };
  const nearest = (index, list) => list.find((c) => c >= index) ?? list[list.length - 1];
  const shown = () => (model.get("changed_only") ? model.get("changed")
    : model.get("p").map((_, i) => i)); // the images the slider steps through

  // --- controls ---------------------------------------------------------------------------
  const previous = h("button", { class: "kdlab-prev", type: "button", title: "previous" }, "◀");
  const slider = h("input", { type: "range", class: "kdlab-image", min: 0, step: 1,
    "aria-label": "test image" });
  const next = h("button", { class: "kdlab-next", type: "button", title: "next" }, "▶");
  const where = h("output", { class: "kdlab-where" });
  const onlyChanged = h("input", { type: "checkbox", class: "kdlab-changed-only" });
  const onlyLabel = h("span", {});
  const toggles = h("div", { class: "kdlab-specialists", role: "group",
    "aria-label": "specialists that may take part" });
  const readout = h("div", { class: "kdlab-said", "aria-live": "polite" });
  const status = h("div", { class: "kdlab-status", role: "status" });
  const svg = s("svg", { class: "kdlab-panels", role: "img",
    "aria-label": "the generalist's, each consulted specialist's and the combined distribution" });
  let boxes = [];

  function buildToggles() {
    const classNames = names();
    boxes = model.get("subsets").map((subset, m) => {
      const input = h("input", { type: "checkbox", class: "kdlab-specialist-on", value: m });
      input.addEventListener("change", (event) => {
        const enabled = model.get("enabled").slice();
        enabled[m] = input.checked;
        change(event, "specialist", { enabled, error: "" });
      });
      const label = h("label", { class: "kdlab-toggle", "data-specialist": m }, input,
        ` ${m}: ${subset.map((c) => classNames[c]).join(", ")}`);
      return { input, label };
    });
    toggles.replaceChildren(h("span", { class: "kdlab-label" }, "specialists"),
      ...boxes.map((b) => b.label));
  }

  el.classList.add("jupyter-widgets", "kdlab-explorer", "kdlab-inference-explorer");
  el.append(
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "image"), previous,
      slider, next, where),
    h("div", { class: "kdlab-row" }, h("label", { class: "kdlab-toggle" }, onlyChanged,
      onlyLabel)),
    toggles, svg, readout, status,
  );

  // --- drawing: the one place that writes to the view ---------------------------------------
  function panel(y, lines, values, kinds, truth) {
    const C = values.length;
    const width = (W - PANEL.left - PANEL.right) / C;
    const base = y + PANEL.bars;
    const top = argmax(values);
    const group = s("g", { class: "kdlab-panel", "data-row": lines[0] });
    group.append(s("line", { class: "kdlab-grid", x1: PANEL.left, x2: W - PANEL.right, y1: base,
      y2: base }));
    lines.forEach((line, j) => {
      const text = s("text", { class: j ? "kdlab-note" : "kdlab-row-name", x: PANEL.left - 8,
        y: y + 14 + 14 * j, "text-anchor": "end" },
      line.length > 26 ? line.slice(0, 25) + "…" : line);
      text.append(s("title", {}, line));
      group.append(text);
    });
    if (truth !== null) {
      group.append(s("rect", { class: "kdlab-truth", x: PANEL.left + truth * width, y,
        width, height: PANEL.bars }));
    }
    values.forEach((v, c) => {
      const height = PANEL.bars * Math.min(Math.max(v, 0), 1);
      const bar = s("rect", { class: `kdlab-bar kdlab-${kinds[c]}${c === top ? " kdlab-top" : ""}`,
        x: PANEL.left + (c + 0.15) * width, y: base - height, width: width * 0.7, height,
        "data-class": c, "data-p": v });
      bar.append(s("title", {}, `${names()[c]}: ${fmtG(v, 4)}`));
      group.append(bar);
      if (v >= 0.005) {
        group.append(s("text", { class: "kdlab-value", x: PANEL.left + (c + 0.5) * width,
          y: base - height - 2, "text-anchor": "middle" }, fmtF(v, 2)));
      }
    });
    return group;
  }

  function draw() {
    const p = model.get("p");
    const index = model.get("index");
    const classNames = names();
    const list = shown();
    const changed = model.get("changed");
    const enabled = model.get("enabled");
    const subsets = model.get("subsets");
    const labels = model.get("labels");
    const ids = model.get("ids");
    // controls
    slider.max = Math.max(list.length - 1, 0);
    const at = list.indexOf(index);
    slider.value = at >= 0 ? at : list.indexOf(nearest(index, list));
    previous.disabled = at <= 0;
    next.disabled = at < 0 || at >= list.length - 1;
    where.textContent = `${at + 1} of ${list.length} · test image ${ids[index]}`;
    where.dataset.index = index;
    onlyChanged.checked = model.get("changed_only");
    onlyChanged.disabled = changed.length === 0;
    onlyLabel.textContent = ` only the images whose answer the combination changes (${changed.length}`
      + ` of ${p.length})`;
    if (boxes.length !== subsets.length) buildToggles();
    // the inference
    const specs = subsets.map((subset, m) => ({ subset, probs: model.get("probs")[m][index] }));
    const on = specs.map((_, m) => m).filter((m) => enabled[m]);
    const r = klInference(p[index], on.map((m) => specs[m]), model.get("n_top"));
    const consulted = on.filter((_, j) => r.active[j]);
    const activeAll = activeSpecialists(p[index], subsets, model.get("n_top"));
    boxes.forEach(({ input, label }, m) => {
      input.checked = enabled[m];
      label.classList.toggle("kdlab-consulted", consulted.includes(m));
      label.classList.toggle("kdlab-idle", !activeAll[m]);
      label.title = activeAll[m] ? (enabled[m] ? "consulted for this image"
        : "would be consulted for this image: switched off")
        : "not consulted: none of its classes is among the generalist's top classes";
    });
    // the panels
    const truth = labels.length ? labels[index] : null;
    const C = p[index].length;
    const rows = [panel(0, ["generalist", "p_g"], p[index], new Array(C).fill("general"), truth)];
    for (const m of consulted) {
      const { subset, probs } = specs[m];
      const kinds = p[index].map((_, c) => (subset.includes(c) ? "own" : "dustbin"));
      rows.push(panel(rows.length * (PANEL.height + PANEL.gap), [`specialist ${m}`,
        subset.map((c) => classNames[c]).join(", "), `its dustbin: ${fmtF(probs[subset.length], 3)}`],
      expandSpecialist(probs, subset, r.q), kinds, truth));
    }
    rows.push(panel(rows.length * (PANEL.height + PANEL.gap), ["combined q",
      consulted.length ? `KL inference, ${r.nIter} EM step${r.nIter === 1 ? "" : "s"}`
        : "no specialist: q = p_g"], r.q, new Array(C).fill("combined"), truth));
    const height = rows.length * (PANEL.height + PANEL.gap);
    const axis = s("g", { class: "kdlab-axis" }, ...classNames.map((name, c) => {
      const width = (W - PANEL.left - PANEL.right) / C;
      const x = PANEL.left + (c + 0.5) * width;
      const text = nameLabel(name, { x, y: height + 6, "text-anchor": "end",
        transform: `rotate(-35 ${x} ${height + 6})` }, 12);
      return text;
    }));
    svg.setAttribute("viewBox", `0 0 ${W} ${height + 60}`);
    svg.replaceChildren(...rows, axis);
    // the readout
    const general = argmax(p[index]);
    const combined = argmax(r.q);
    readout.dataset.q = JSON.stringify(r.q);
    readout.dataset.consulted = JSON.stringify(consulted);
    readout.dataset.general = general;
    readout.dataset.combined = combined;
    const truthText = truth === null ? "" : `; true class ${classNames[truth]}`;
    readout.textContent = `generalist says ${classNames[general]} (${fmtF(p[index][general], 2)}),`
      + ` combined says ${classNames[combined]} (${fmtF(r.q[combined], 2)})${truthText}`
      + (general === combined ? "" : " — the combination changed the answer");
    const error = model.get("error") || (r.converged ? ""
      : `EM did not converge in ${KL.maxIter} steps (kl_inference(method="gradient") would)`);
    showStatus(status, error);
    answered("inference", state);
  }

  // --- input: each handler changes the model; the model's change events redraw --------------
  const change = modelChanger(model, state, draw);
  const go = (event, control, position) => {
    const list = shown();
    const at = Math.min(Math.max(position, 0), list.length - 1);
    change(event, control, { index: list[at], error: "" });
  };

  slider.addEventListener("input", (event) => go(event, "image", Number(slider.value)));
  previous.addEventListener("click", (event) => go(event, "step", Number(slider.value) - 1));
  next.addEventListener("click", (event) => go(event, "step", Number(slider.value) + 1));
  onlyChanged.addEventListener("change", (event) => {
    const values = { changed_only: onlyChanged.checked, error: "" };
    const changed = model.get("changed");
    const index = model.get("index");
    if (onlyChanged.checked && !changed.includes(index)) values.index = nearest(index, changed);
    change(event, "filter", values);
  });

  // --- changes from Python (or another view of the same explorer) ---------------------------
  return drawOnChange(model, {
    redraw: ["p", "probs", "labels", "ids", "changed", "n_top", "index", "changed_only",
      "enabled", "error"],
    rebuild: ["subsets", "names"],
  }, draw, () => {
    boxes = []; // draw() builds the panels again
  });
}

export default { render };
