// Chapter 06's soft K-means explorer: 2-d points coloured by their soft assignments to fixed
// centres at temperature T, r_ik = softmax_k(−‖x_i − μ_k‖² / T), computed here at every move.
// Model (kdlab.widgets.SoftKMeansExplorer): T, points ([[x1, x2], ...]), centres ([[x1, x2],
// ...]), palette (one "#rrggbb" per centre, chosen in Python), error. Python recomputes the same
// responsibilities with kdlab.softkmeans.soft_assignments; tests/test_soft_kmeans_explorer.py
// compares the two in Chromium.

const W = 640; // the SVG's coordinate system; it scales to its container
const PLOT = { left: 52, right: 14, top: 26, height: 380 };
const H = PLOT.top + PLOT.height + 42;
const LOG_T = { min: -2, max: 2, step: 0.02 }; // the slider: log10 T, 0.01 to 100

/** Each point's responsibilities at temperature T: one array of K numbers per point. */
function responsibilities(points, centres, T) {
  return points.map(([x, y]) =>
    softmaxT(centres.map(([cx, cy]) => -((x - cx) ** 2 + (y - cy) ** 2)), T));
}

/** "#rrggbb" as [r, g, b] in [0, 1]. */
function rgbOf(hex) {
  return [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16) / 255);
}

/** [r, g, b] in [0, 1] (clipped) as "#rrggbb". */
function hexOf(rgb) {
  return "#" + rgb.map((v) => Math.round(Math.min(Math.max(v, 0), 1) * 255)
    .toString(16).padStart(2, "0")).join("");
}

/** About five round numbers spanning [lo, hi]. */
function niceTicks(lo, hi) {
  const raw = (hi - lo) / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s_) => s_ >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) {
    ticks.push(Math.abs(v) < 1e-12 * step ? 0 : v);
  }
  return ticks;
}

function render({ model, el }) {
  const state = { event: null, control: null };

  // --- controls ---------------------------------------------------------------------------
  const slider = logTSlider(LOG_T);
  const readoutT = h("output", { class: "kdlab-T-readout" });
  const readout = h("div", { class: "kdlab-entropy-readout", "aria-live": "polite" });
  const status = h("div", { class: "kdlab-status", role: "status" });

  // --- the figure -------------------------------------------------------------------------
  const svg = s("svg", {
    class: "kdlab-scatter", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "the points coloured by their soft assignments to the centres",
  });
  const title = s("text", { class: "kdlab-title", x: (PLOT.left + W - PLOT.right) / 2, y: 16,
    "text-anchor": "middle" });
  const axes = s("g", { class: "kdlab-axis" });
  const pointLayer = s("g", { class: "kdlab-points" });
  const centreLayer = s("g", { class: "kdlab-centres" });
  svg.append(title, axes, pointLayer, centreLayer);
  let dots = [];
  let marks = [];

  function build() {
    const points = model.get("points");
    const centres = model.get("centres");
    const all = points.concat(centres);
    const xs = all.map((p) => p[0]);
    const ys = all.map((p) => p[1]);
    const pad = (lo, hi) => {
      const m = (hi - lo) * 0.05 || 1;
      return [lo - m, hi + m];
    };
    const [x0, x1] = pad(Math.min(...xs), Math.max(...xs));
    const [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
    const width = W - PLOT.left - PLOT.right;
    const X = (x) => PLOT.left + ((x - x0) / (x1 - x0)) * width;
    const Y = (y) => PLOT.top + PLOT.height - ((y - y0) / (y1 - y0)) * PLOT.height;
    const bottom = PLOT.top + PLOT.height;
    axes.replaceChildren(
      s("rect", { class: "kdlab-frame", x: PLOT.left, y: PLOT.top, width, height: PLOT.height }),
      ...niceTicks(x0, x1).flatMap((v) => [
        s("line", { class: "kdlab-grid", x1: X(v), x2: X(v), y1: PLOT.top, y2: bottom }),
        s("text", { x: X(v), y: bottom + 14, "text-anchor": "middle" }, fmtG(v)),
      ]),
      ...niceTicks(y0, y1).flatMap((v) => [
        s("line", { class: "kdlab-grid", x1: PLOT.left, x2: W - PLOT.right, y1: Y(v), y2: Y(v) }),
        s("text", { x: PLOT.left - 5, y: Y(v) + 4, "text-anchor": "end" }, fmtG(v)),
      ]),
      s("text", { x: PLOT.left + width / 2, y: H - 6, "text-anchor": "middle" }, "x₁"),
      s("text", { x: 12, y: PLOT.top + PLOT.height / 2, "text-anchor": "middle" }, "x₂"),
    );
    dots = points.map(([x, y], i) => s("circle", { class: "kdlab-point", cx: X(x), cy: Y(y),
      r: 3.5, "data-i": i }));
    pointLayer.replaceChildren(...dots);
    const palette = model.get("palette");
    marks = centres.map(([x, y], k) => {
      const a = 7;
      const b = 2.6; // the X's half-length and half-thickness
      const d = `M${-a},${-a + b}L${-a + b},${-a}L0,${-b}L${a - b},${-a}L${a},${-a + b}L${b},0`
        + `L${a},${a - b}L${a - b},${a}L0,${b}L${-a + b},${a}L${-a},${a - b}L${-b},0Z`;
      return s("path", { class: "kdlab-centre", d, transform: `translate(${X(x)} ${Y(y)})`,
        fill: palette[k], "data-k": k });
    });
    centreLayer.replaceChildren(...marks);
  }

  el.classList.add("jupyter-widgets", "kdlab-explorer", "kdlab-soft-kmeans");
  el.append(
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "T"), slider, readoutT),
    svg, readout, status,
  );

  // --- drawing: the one place that writes to the view ---------------------------------------
  function draw() {
    const T = model.get("T");
    if (!(T > 0 && Number.isFinite(T))) { // a T Python rejected (its error says why)
      showStatus(status, model.get("error") || `T must be a positive finite number, got ${T}`);
      return;
    }
    const points = model.get("points");
    const base = model.get("palette").map(rgbOf);
    const r = responsibilities(points, model.get("centres"), T);
    let total = 0;
    r.forEach((ri, i) => {
      const mixed = [0, 1, 2].map((c) => ri.reduce((a, rk, k) => a + rk * base[k][c], 0));
      dots[i].setAttribute("fill", hexOf(mixed));
      dots[i].dataset.r = ri.join(",");
      total += entropyOf(ri);
    });
    const K = base.length;
    const H_ = total / r.length;
    title.textContent = `soft assignments at T = ${fmtG(T)}`;
    showLogT(slider, T);
    readoutT.textContent = fmtG(T);
    readoutT.dataset.t = T;
    readout.dataset.entropy = H_;
    readout.textContent = `mean entropy of the assignments: ${H_.toFixed(3)} nats `
      + `(0: hard K-means; log ${K} = ${Math.log(K).toFixed(3)}: uniform)`;
    const error = model.get("error");
    showStatus(status, error);
    answered("soft k-means", state);
  }

  // --- input: each handler changes the model; the model's change events redraw --------------
  const change = modelChanger(model, state, draw);
  slider.addEventListener("input", (event) => {
    change(event, "T", { T: sliderT(slider), error: "" });
  });

  // --- changes from Python (or another view of the same explorer) ---------------------------
  const onShape = () => {
    build();
    draw();
  };
  const unlisten = listen(model, {
    T: () => draw(), error: () => draw(), points: onShape, centres: onShape, palette: onShape,
  });
  build();
  draw();
  return unlisten;
}

export default { render };
