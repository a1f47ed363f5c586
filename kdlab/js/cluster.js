// Chapter 03's cluster explorer: a C×C matrix over classes as a heat map, rows and columns
// reordered cluster by cluster and each cluster boxed, with the classes of each cluster listed.
// Model (kdlab.widgets.ClusterExplorer): datasets ([{name, names, matrix, k_max}]), methods,
// partitions (name -> method -> one list of cluster ids per class for each K = 1 .. k_max,
// computed in Python by kdlab.clustering.cluster_classes), colours (the diverging colour map,
// matplotlib's RdBu_r), dataset, n_clusters, method, error. Nothing is clustered here: every
// partition the controls offer is in the model, so a choice answers without a kernel.

const W = 640; // the SVG's coordinate system; it scales to its container
const MAP = { left: 120, top: 26, size: 400 };
const H = MAP.top + MAP.size + 96;
const BAR = { x: MAP.left + MAP.size + 18, width: 12 };
const MAX_LABELLED = 40; // more classes than this: no tick labels (as kdlab.plots draws it)

/** The groups of a partition given as one cluster id per class, each sorted, ids in order. */
function groupsOf(labels) {
  const groups = [];
  labels.forEach((k, c) => {
    while (groups.length <= k) groups.push([]);
    groups[k].push(c);
  });
  return groups.filter((g) => g.length);
}

/** The colour of value v on a map of colours centred on 0 spanning [-vmax, vmax] (as
 * matplotlib's Normalize then Colormap: floor(x * N), the top value in the last colour). */
function colourOf(colours, v, vmax) {
  const x = (v + vmax) / (2 * vmax);
  const i = Math.min(Math.max(Math.floor(x * colours.length), 0), colours.length - 1);
  return colours[i];
}

function render({ model, el }) {
  const state = { event: null, control: null };
  const current = () => {
    const all = model.get("datasets");
    return all.find((d) => d.name === model.get("dataset")) || all[0];
  };

  // --- controls ---------------------------------------------------------------------------
  const datasetMenu = h("select", { class: "kdlab-dataset", "aria-label": "matrix" });
  const methodMenu = h("select", { class: "kdlab-method", "aria-label": "clustering method" });
  const slider = h("input", {
    type: "range", class: "kdlab-K", min: 1, step: 1, "aria-label": "number of clusters K",
  });
  const readoutK = h("output", { class: "kdlab-K-readout" });
  const list = h("div", { class: "kdlab-groups", "aria-live": "polite" });
  const status = h("div", { class: "kdlab-status", role: "status" });

  // --- the figure -------------------------------------------------------------------------
  const svg = s("svg", {
    class: "kdlab-heatmap", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "the matrix, rows and columns grouped by cluster",
  });
  const title = s("text", { class: "kdlab-title", x: MAP.left + MAP.size / 2, y: 16,
    "text-anchor": "middle" });
  const cellLayer = s("g", { class: "kdlab-cells", "shape-rendering": "crispEdges" });
  const boxLayer = s("g", { class: "kdlab-boxes" });
  const labelLayer = s("g", { class: "kdlab-ticks" });
  const colourBar = s("g", { class: "kdlab-colourbar" });
  svg.append(title, cellLayer, boxLayer, labelLayer, colourBar);
  let cells = []; // cells[i][j]: the rect of row i, column j (positions, not classes)
  let rowLabels = [];
  let colLabels = [];
  let built = null; // the dataset the cells were built for

  function build() {
    const d = current();
    const C = d.names.length;
    const cell = MAP.size / C;
    cells = [];
    const rects = [];
    for (let i = 0; i < C; i++) {
      const row = [];
      for (let j = 0; j < C; j++) {
        const rect = s("rect", { class: "kdlab-cell", x: MAP.left + j * cell,
          y: MAP.top + i * cell, width: cell, height: cell });
        row.push(rect);
        rects.push(rect);
      }
      cells.push(row);
    }
    cellLayer.replaceChildren(...rects);
    const labelled = C <= MAX_LABELLED;
    const font = Math.min(11, cell * 0.9);
    rowLabels = [];
    colLabels = [];
    if (labelled) {
      for (let i = 0; i < C; i++) {
        const y = MAP.top + (i + 0.5) * cell;
        rowLabels.push(s("text", { class: "kdlab-row-label", x: MAP.left - 4, y: y + font / 3,
          "text-anchor": "end", "font-size": font }));
        const x = MAP.left + (i + 0.5) * cell;
        const y0 = MAP.top + MAP.size + 6;
        colLabels.push(s("text", { class: "kdlab-col-label", x, y: y0 + font / 3,
          "text-anchor": "end", "font-size": font, transform: `rotate(-45 ${x} ${y0})` }));
      }
    }
    labelLayer.replaceChildren(...rowLabels, ...colLabels,
      s("text", { x: MAP.left + MAP.size / 2, y: H - 4, "text-anchor": "middle" },
        "class (grouped by cluster)"));
    // the colour bar: its colours bottom (−vmax) to top (+vmax)
    const colours = model.get("colours");
    const step = MAP.size / colours.length;
    const stripes = colours.map((c, k) => s("rect", { x: BAR.x, width: BAR.width,
      y: MAP.top + MAP.size - (k + 1) * step, height: step + 0.5, fill: c }));
    const vmax = vmaxOf(d.matrix);
    const ticks = [[vmax, MAP.top], [0, MAP.top + MAP.size / 2], [-vmax, MAP.top + MAP.size]]
      .map(([v, y]) => s("text", { class: "kdlab-bar-tick", x: BAR.x + BAR.width + 4, y: y + 4 },
        fmtG(v)));
    colourBar.replaceChildren(...stripes, s("rect", { x: BAR.x, y: MAP.top, width: BAR.width,
      height: MAP.size, class: "kdlab-frame" }), ...ticks);
    colourBar.dataset.vmax = vmax;
    datasetMenu.replaceChildren(...model.get("datasets").map((x) =>
      h("option", { value: x.name }, x.name)));
    methodMenu.replaceChildren(...model.get("methods").map((m) => h("option", { value: m }, m)));
    slider.max = d.k_max;
    built = d.name;
  }

  function vmaxOf(matrix) {
    let top = 0;
    for (const row of matrix) for (const v of row) top = Math.max(top, Math.abs(v));
    return top || 1;
  }

  el.classList.add("jupyter-widgets", "kdlab-explorer", "kdlab-cluster-explorer");
  el.append(
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "matrix"), datasetMenu),
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "method"), methodMenu),
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "K"), slider, readoutK),
    svg, list, status,
  );

  // --- drawing: the one place that writes to the view ---------------------------------------
  function draw() {
    const d = current();
    if (built !== d.name) build();
    const method = model.get("method");
    const K = Math.min(Math.max(model.get("n_clusters"), 1), d.k_max);
    const labels = model.get("partitions")[d.name]?.[method]?.[K - 1];
    if (!labels) { // a state Python rejected (its error says why): keep the last view
      showStatus(status, model.get("error") || `no partition for ${method}, K = ${K}`);
      return;
    }
    const groups = groupsOf(labels);
    const order = groups.flat();
    const colours = model.get("colours");
    const vmax = Number(colourBar.dataset.vmax);
    const C = order.length;
    const cell = MAP.size / C;
    for (let i = 0; i < C; i++) {
      const row = d.matrix[order[i]];
      for (let j = 0; j < C; j++) {
        const v = row[order[j]];
        const rect = cells[i][j];
        rect.setAttribute("fill", colourOf(colours, v, vmax));
        rect.dataset.v = v;
      }
    }
    rowLabels.forEach((t, i) => {
      t.textContent = d.names[order[i]];
    });
    colLabels.forEach((t, j) => {
      t.textContent = d.names[order[j]];
    });
    let start = 0;
    boxLayer.replaceChildren(...groups.map((g) => {
      const box = s("rect", { class: "kdlab-box", x: MAP.left + start * cell,
        y: MAP.top + start * cell, width: g.length * cell, height: g.length * cell,
        "data-start": start, "data-size": g.length });
      start += g.length;
      return box;
    }));
    title.textContent = `${d.name}: K = ${K}, ${method}`;
    list.replaceChildren(`${groups.length} clusters:`, h("ol", {}, ...groups.map((g) =>
      h("li", { "data-classes": g.join(",") }, g.map((c) => d.names[c]).join(", ")))));
    datasetMenu.value = d.name;
    methodMenu.value = method;
    slider.max = d.k_max;
    slider.value = K;
    readoutK.textContent = String(K);
    readoutK.dataset.k = K;
    const error = model.get("error");
    showStatus(status, error);
    answered("cluster", state);
  }

  // --- input: each handler changes the model; the model's change events redraw --------------
  const change = modelChanger(model, state, draw);

  datasetMenu.addEventListener("change", (event) => {
    const next = model.get("datasets").find((x) => x.name === datasetMenu.value);
    if (!next) return;
    // K first (it fits both matrices), then the matrix: every state in between is valid
    const K = Math.min(model.get("n_clusters"), next.k_max);
    change(event, "matrix", { n_clusters: K, dataset: next.name, error: "" });
  });
  methodMenu.addEventListener("change", (event) => {
    change(event, "method", { method: methodMenu.value, error: "" });
  });
  slider.addEventListener("input", (event) => {
    change(event, "K", { n_clusters: Number(slider.value), error: "" });
  });

  // --- changes from Python (or another view of the same explorer) ---------------------------
  return drawOnChange(model, {
    redraw: ["dataset", "n_clusters", "method", "error", "partitions"],
    rebuild: ["datasets", "methods", "colours"],
  }, draw, () => {
    built = null; // draw() builds the cells again
  });
}

export default { render };
