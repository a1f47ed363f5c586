// Chapter 02's alpha x T explorer: what α and T do to the distillation loss's pull on a student,
// beside what they did to the test errors of students distilled on a measured (α, T) grid.
// Model (kdlab.widgets.AlphaTemperatureExplorer): alpha, T, errors (alphas x temperatures),
// alphas, temperatures, v (the teacher's logits of a batch of examples, N x C), z (a student's),
// y (their labels), reference ([name, value] pairs), error.
// The soft:hard balance ‖α ∇soft‖ / ‖(1 − α) ∇hard‖ of the batch, with the soft term's T² and
// without it, from the closed-form gradients of kdlab/js/common.js (SOFT_GRADIENTS, hardGradient);
// Python recomputes it with torch autograd (kdlab.mistakes.gradient_balance).

const W = 330; // each SVG's coordinate system; they scale to their containers
const H = 250;
const PLOT = { left: 46, right: 10, top: 22, bottom: 36 };
const N_CURVE = 61; // points of each balance curve
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

/** The slider's range, log10 T: the grid's temperatures and a little more, in steps of 0.1. */
function logRange(temperatures) {
  const logs = temperatures.map(Math.log10);
  return { min: Math.floor(10 * (Math.min(...logs) - 0.3)) / 10,
    max: Math.ceil(10 * (Math.max(...logs) + 0.3)) / 10, step: 0.01 };
}

/** ‖∇soft‖ of the batch at T for the soft loss `name` (one example's closed form, row by row). */
function softNorm(v, z, T, name) {
  let total = 0;
  v.forEach((vi, n) => {
    const g = SOFT_GRADIENTS[name](softmaxT(z[n], T), softmaxT(vi, T), logSoftmaxT(vi, T), T);
    total += g.reduce((a, x) => a + x * x, 0);
  });
  return Math.sqrt(total);
}

/** ‖∇hard‖ of the batch: the cross-entropy at T = 1 with the labels. */
function hardNorm(z, y) {
  return Math.sqrt(z.reduce((a, zi, n) => a + l2norm(hardGradient(zi, y[n])) ** 2, 0));
}

/** α ‖∇soft‖ / ((1 − α) ‖∇hard‖), Infinity without a hard term, as kdlab.mistakes computes it. */
function balanceOf(alpha, soft, hard) {
  const h1 = (1 - alpha) * hard;
  return h1 > 0 ? (alpha * soft) / h1 : Infinity;
}

/** The measured cell nearest (alpha, T): α on a linear scale, T on a log scale (first on ties). */
function nearestCell(alphas, temperatures, alpha, T) {
  const argmin = (xs) => xs.reduce((best, x, k) => (x < xs[best] ? k : best), 0);
  return [argmin(alphas.map((a) => Math.abs(a - alpha))),
    argmin(temperatures.map((t) => Math.abs(Math.log(t / T))))];
}

/** viridis_r (as the static heat map): 0 yellow, 1 dark purple; `f` in [0, 1]. */
function viridisR(f) {
  const x = (1 - Math.min(Math.max(f, 0), 1)) * (VIRIDIS.length - 1);
  const k = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const t = x - k;
  const c = VIRIDIS[k].map((a, i) => Math.round(a + (VIRIDIS[k + 1][i] - a) * t));
  return { fill: `rgb(${c.join(",")})`, dark: 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] < 128 };
}

function render({ model, el }) {
  const state = { event: null, control: null };
  const data = {}; // per data change: the curves' T, ‖∇soft‖ at each (both losses), ‖∇hard‖
  const fmtB = (b) => (Number.isFinite(b) ? fmtG(b) : "∞");

  // --- controls ---------------------------------------------------------------------------
  const alphaSlider = h("input", {
    type: "range", class: "kdlab-alpha", min: 0, max: 1, step: 0.01, "aria-label": "alpha",
  });
  const readoutAlpha = h("output", { class: "kdlab-alpha-readout" });
  const slider = logTSlider();
  const readoutT = h("output", { class: "kdlab-T-readout" });
  const readout = h("div", { class: "kdlab-balance", "aria-live": "polite" });
  const status = h("div", { class: "kdlab-status", role: "status" });

  // --- the figures: balance against T (log-log), and the measured grid ------------------------
  const curves = s("svg", { class: "kdlab-balance-curves", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "the soft:hard gradient balance against T, with and without T²" });
  const heat = s("svg", { class: "kdlab-heat", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "measured test errors of students distilled at each alpha and T" });
  const clipId = `kdlab-clip-${Math.random().toString(36).slice(2)}`; // one per view
  const x0 = PLOT.left;
  const x1 = W - PLOT.right;
  const y0 = PLOT.top;
  const y1 = H - PLOT.bottom;
  const lineT2 = s("path", { class: "kdlab-curve kdlab-with-t2", "clip-path": `url(#${clipId})` });
  const lineNo = s("path", { class: "kdlab-curve kdlab-no-t2", "clip-path": `url(#${clipId})` });
  const marker = s("line", { class: "kdlab-marker", y1: y0, y2: y1 });
  const dotT2 = s("circle", { class: "kdlab-with-t2", r: 4 });
  const dotNo = s("circle", { class: "kdlab-no-t2", r: 4 });
  const axes = s("g", { class: "kdlab-axis" });
  curves.append(
    s("defs", {}, s("clipPath", { id: clipId },
      s("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }))),
    axes, lineT2, lineNo, marker, dotT2, dotNo,
    s("text", { x: (x0 + x1) / 2, y: H - 4, "text-anchor": "middle" }, "temperature T"),
    s("text", { x: 10, y: (y0 + y1) / 2, "text-anchor": "middle",
      transform: `rotate(-90 10 ${(y0 + y1) / 2})` }, "soft : hard"),
    s("g", { class: "kdlab-legend" },
      s("rect", { class: "kdlab-with-t2", x: x0 + 4, y: 4, width: 10, height: 10 }),
      s("text", { x: x0 + 18, y: 13 }, "with T²"),
      s("rect", { class: "kdlab-no-t2", x: x0 + 84, y: 4, width: 10, height: 10 }),
      s("text", { x: x0 + 98, y: 13 }, "without T²")));
  let cells = [];
  let scale = null; // {tx(T), by(b), logMin, logMax}

  function build() {
    const v = model.get("v");
    const z = model.get("z");
    const range = logRange(model.get("temperatures"));
    Object.assign(slider, { min: range.min, max: range.max, step: range.step });
    data.T = Array.from({ length: N_CURVE },
      (_, k) => 10 ** (range.min + ((range.max - range.min) * k) / (N_CURVE - 1)));
    data.soft = data.T.map((T) => softNorm(v, z, T, "correct"));
    data.hard = hardNorm(z, model.get("y"));
    // the y axis: the curves at α = 0.5 (both losses), a decade more each way, fixed as α moves
    const half = data.soft.flatMap((g, k) => [g / data.hard, g / data.hard / data.T[k] ** 2]);
    const logMin = Math.floor(Math.log10(Math.min(...half))) - 1;
    const logMax = Math.ceil(Math.log10(Math.max(...half))) + 1;
    scale = {
      tx: (T) => x0 + ((Math.log10(T) - range.min) / (range.max - range.min)) * (x1 - x0),
      by: (b) => y1 - ((Math.log10(b) - logMin) / (logMax - logMin)) * (y1 - y0),
    };
    axes.replaceChildren();
    const every = Math.ceil((logMax - logMin) / 6);
    for (let e = logMin; e <= logMax; e += every) {
      const y = scale.by(10 ** e);
      axes.append(s("line", { class: "kdlab-grid", x1: x0, x2: x1, y1: y, y2: y }),
        s("text", { x: x0 - 4, y: y + 4, "text-anchor": "end" },
          e < -2 || e > 3 ? `1e${e}` : fmtG(10 ** e)));
    }
    axes.append(s("line", { class: "kdlab-even", x1: x0, x2: x1, y1: scale.by(1),
      y2: scale.by(1) }), s("text", { class: "kdlab-scale", x: x1 - 2, y: scale.by(1) - 4,
      "text-anchor": "end" }, "soft = hard"));
    for (const T of model.get("temperatures")) {
      const x = scale.tx(T);
      axes.append(s("line", { class: "kdlab-grid", x1: x, x2: x, y1: y0, y2: y1 }),
        s("text", { x, y: y1 + 14, "text-anchor": "middle" }, fmtG(T)));
    }
    buildHeat();
  }

  function buildHeat() {
    heat.replaceChildren();
    const errors = model.get("errors");
    const alphas = model.get("alphas");
    const temps = model.get("temperatures");
    const flat = errors.flat();
    const lo = Math.min(...flat);
    const hi = Math.max(...flat);
    const cw = (x1 - x0) / temps.length;
    const ch = (y1 - y0) / alphas.length;
    cells = [];
    alphas.forEach((a, i) => {
      heat.append(s("text", { x: x0 - 4, y: y0 + (i + 0.5) * ch + 4, "text-anchor": "end" },
        fmtG(a)));
      temps.forEach((t, j) => {
        const colour = viridisR(hi > lo ? (errors[i][j] - lo) / (hi - lo) : 0.5);
        const group = s("g", { class: "kdlab-cell", "data-row": i, "data-col": j });
        const rect = s("rect", { x: x0 + j * cw, y: y0 + i * ch, width: cw, height: ch,
          fill: colour.fill, "data-errors": errors[i][j] });
        const text = s("text", { x: x0 + (j + 0.5) * cw, y: y0 + (i + 0.5) * ch + 4,
          "text-anchor": "middle", class: colour.dark ? "kdlab-on-dark" : "kdlab-on-light" },
        fmtG(errors[i][j], 6));
        group.append(rect, text);
        heat.append(group);
        cells.push({ group, i, j });
      });
    });
    temps.forEach((t, j) => heat.append(s("text", { x: x0 + (j + 0.5) * cw, y: y1 + 14,
      "text-anchor": "middle" }, fmtG(t))));
    heat.append(
      s("text", { x: (x0 + x1) / 2, y: H - 4, "text-anchor": "middle" }, "temperature T"),
      s("text", { x: 10, y: (y0 + y1) / 2, "text-anchor": "middle",
        transform: `rotate(-90 10 ${(y0 + y1) / 2})` }, "α"),
      s("text", { x: x0, y: 14 }, "measured: test errors"));
  }

  el.classList.add("jupyter-widgets", "kdlab-explorer", "kdlab-alpha-temperature");
  el.append(
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "α"), alphaSlider,
      readoutAlpha),
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "T"), slider, readoutT),
    h("div", { class: "kdlab-figure" }, curves, heat),
    readout, status,
  );

  // --- drawing: the one place that writes to the view ---------------------------------------
  /** A curve of balances over data.T; 0 and ∞ (α = 0 or 1) run off the plot, clipped. */
  function path(values) {
    return values.map((b, k) => {
      const y = b <= 0 ? 1e4 : Number.isFinite(b) ? Math.min(Math.max(scale.by(b), -1e4), 1e4)
        : -1e4;
      return `${k ? "L" : "M"}${scale.tx(data.T[k]).toFixed(2)},${y.toFixed(2)}`;
    }).join("");
  }

  function place(dot, b, x) {
    const visible = b > 0 && Number.isFinite(b);
    dot.setAttribute("cx", x);
    dot.setAttribute("cy", visible ? Math.min(Math.max(scale.by(b), y0), y1) : -100);
  }

  function draw() {
    const alpha = model.get("alpha");
    const T = model.get("T");
    const v = model.get("v");
    const z = model.get("z");
    lineT2.setAttribute("d", path(data.soft.map((g) => balanceOf(alpha, g, data.hard))));
    lineNo.setAttribute("d", path(data.soft.map((g, k) => balanceOf(alpha, g / data.T[k] ** 2,
      data.hard))));
    const withT2 = balanceOf(alpha, softNorm(v, z, T, "correct"), data.hard);
    const without = balanceOf(alpha, softNorm(v, z, T, "no T²"), data.hard);
    const x = scale.tx(T);
    marker.setAttribute("x1", x);
    marker.setAttribute("x2", x);
    place(dotT2, withT2, x);
    place(dotNo, without, x);
    const alphas = model.get("alphas");
    const temps = model.get("temperatures");
    const [ci, cj] = nearestCell(alphas, temps, alpha, T);
    for (const c of cells) c.group.classList.toggle("kdlab-nearest", c.i === ci && c.j === cj);
    const value = model.get("errors")[ci][cj];
    alphaSlider.value = alpha;
    readoutAlpha.textContent = fmtF(alpha, 2);
    readoutAlpha.dataset.alpha = alpha;
    showLogT(slider, T);
    readoutT.textContent = fmtG(T);
    readoutT.dataset.t = T;
    Object.assign(readout.dataset, { balance: withT2, balanceNoT2: without, cell: `${ci},${cj}`,
      value });
    const refs = model.get("reference").map(([name, x]) => `; ${name}: ${fmtG(x, 6)}`).join("");
    readout.textContent = `soft : hard = ${fmtB(withT2)} with T², ${fmtB(without)} without `
      + `(${model.get("y").length} examples);  nearest measured: α = ${fmtG(alphas[ci])}, `
      + `T = ${fmtG(temps[cj])}: ${fmtG(value, 6)} test errors${refs}`;
    const error = model.get("error");
    const hint = alpha === 1 ? "α = 1: soft targets alone, no labels (no hard term)"
      : alpha === 0 ? "α = 0: the labels alone, no teacher (no soft term)"
        : "above 1 the teacher's soft targets pull harder than the labels";
    showStatus(status, error, hint);
    answered("alpha_temperature", state);
  }

  // --- input: each handler changes the model; the model's change events redraw --------------
  const change = modelChanger(model, state, draw);
  alphaSlider.addEventListener("input", (event) => {
    change(event, "alpha", { alpha: Number(alphaSlider.value), error: "" });
  });
  slider.addEventListener("input", (event) => {
    change(event, "T", { T: sliderT(slider), error: "" });
  });

  // --- changes from Python (or another view of the same explorer) ---------------------------
  return drawOnChange(model, {
    redraw: ["alpha", "T", "error", "reference"],
    rebuild: ["errors", "alphas", "temperatures", "v", "z", "y"],
  }, draw, build);
}

export default { render };
