// Chapter 04's specialist explorer: a specialist's confusion matrix on the test images, over its
// classes and the dustbin ("other"), with or without the log-oversampling correction.
// Model (kdlab.widgets.SpecialistExplorer): index (the specialist shown), corrected, cards (per
// specialist: name, classes, correction = log rho, and the two count matrices `corrected` and
// `raw`, computed in Python by kdlab.specialists.specialist_confusion), error. Nothing is
// computed here but the rates read from the counts: switching only chooses what to draw.

const W = 640; // the SVG's coordinate system; it scales to its container
const GRID = { left: 150, top: 70, size: 420, cell: 84 }; // the matrix, at most size wide

/** Row fractions, and the rates the readout gives, of a (k+1) x (k+1) count matrix. */
function confusionRates(m) {
  const k = m.length - 1;
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  const total = sum(m.map(sum));
  const own = sum(m.slice(0, k).map(sum));
  let right = 0;
  for (let i = 0; i < k; i++) right += m[i][i];
  return {
    fractions: m.map((row) => row.map((v) => v / Math.max(sum(row), 1))),
    accuracy: right / Math.max(own, 1),
    dustbin: sum(m.map((row) => row[k])) / Math.max(total, 1),
    other: sum(m[k]) / Math.max(total, 1),
  };
}

/** A light-to-dark blue for a fraction in [0, 1]; text stays readable on it. */
function blue(f) {
  const mix = (a, b) => Math.round(a + (b - a) * f);
  return `rgb(${mix(247, 8)}, ${mix(251, 48)}, ${mix(255, 107)})`;
}

function render({ model, el }) {
  const state = { event: null, control: null };

  // --- controls ---------------------------------------------------------------------------
  const select = h("select", { class: "kdlab-specialist", "aria-label": "specialist" });
  const previous = h("button", { class: "kdlab-prev", type: "button", title: "previous" }, "◀");
  const next = h("button", { class: "kdlab-next", type: "button", title: "next" }, "▶");
  const corrected = h("input", { type: "checkbox", class: "kdlab-corrected" });
  const correction = h("span", { class: "kdlab-correction" });
  const readout = h("div", { class: "kdlab-rates", "aria-live": "polite" });
  const status = h("div", { class: "kdlab-status", role: "status" });

  // --- the figure -------------------------------------------------------------------------
  const svg = s("svg", {
    class: "kdlab-confusion", role: "img",
    "aria-label": "the specialist's confusion matrix: true class by its answer",
  });
  const title = s("text", { class: "kdlab-title", x: W / 2, y: 14, "text-anchor": "middle" });
  svg.append(title);
  let cells = []; // per row, per column: {rect, text}
  let built = null; // the card the grid was built for
  let grid = null;

  function build(card) {
    if (grid) grid.remove();
    grid = s("g", { class: "kdlab-grid-cells" });
    const labels = [...card.classes, "other / dustbin"];
    const n = labels.length;
    const side = Math.min(GRID.size / n, GRID.cell);
    const size = side * n;
    svg.setAttribute("viewBox", `0 0 ${W} ${GRID.top + size + 40}`);
    grid.append(
      s("text", { x: GRID.left + size / 2, y: GRID.top + size + 34, "text-anchor": "middle" },
        "the specialist's answer"),
      s("text", { x: 12, y: GRID.top + size / 2, "text-anchor": "middle",
        transform: `rotate(-90 12 ${GRID.top + size / 2})` }, "true class"),
    );
    cells = labels.map((rowName, i) => {
      const y = GRID.top + i * side;
      grid.append(nameLabel(rowName, { x: GRID.left - 6, y: y + side / 2 + 4,
        "text-anchor": "end" }, 16));
      return labels.map((_, j) => {
        const x = GRID.left + j * side;
        const rect = s("rect", { class: "kdlab-cell", x, y, width: side, height: side,
          "data-row": i, "data-col": j });
        const text = s("text", { class: "kdlab-cell-text", x: x + side / 2, y: y + side / 2 + 4,
          "text-anchor": "middle" });
        grid.append(rect, text);
        return { rect, text };
      });
    });
    labels.forEach((name, j) => {
      const x = GRID.left + (j + 0.5) * side;
      grid.append(nameLabel(name, { x, y: GRID.top - 8, "text-anchor": "start",
        transform: `rotate(-30 ${x} ${GRID.top - 8})` }, 16));
    });
    const edge = GRID.top + (n - 1) * side; // the dustbin's row and column, set apart
    const left = GRID.left + (n - 1) * side;
    grid.append(
      s("line", { class: "kdlab-dustbin-edge", x1: GRID.left, x2: GRID.left + size,
        y1: edge, y2: edge }),
      s("line", { class: "kdlab-dustbin-edge", x1: left, x2: left, y1: GRID.top,
        y2: GRID.top + size }),
    );
    svg.append(grid);
    built = card;
  }

  el.classList.add("jupyter-widgets", "kdlab-explorer", "kdlab-specialist-explorer");
  el.append(
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "specialist"), previous,
      select, next),
    h("div", { class: "kdlab-row" },
      h("label", { class: "kdlab-toggle" }, corrected, " log-oversampling correction"),
      correction),
    svg, readout, status,
  );

  // --- drawing: the one place that writes to the view ---------------------------------------
  function draw() {
    const cards = model.get("cards");
    const index = model.get("index");
    const card = cards[index];
    const isCorrected = model.get("corrected");
    if (select.options.length !== cards.length) {
      select.replaceChildren(...cards.map((c, i) => h("option", { value: i },
        `${i + 1}: ${c.name}`)));
    }
    select.value = String(index);
    previous.disabled = index <= 0;
    next.disabled = index >= cards.length - 1;
    corrected.checked = isCorrected;
    if (card) {
      if (built !== card) build(card);
      const m = isCorrected ? card.corrected : card.raw;
      const r = confusionRates(m);
      m.forEach((row, i) => row.forEach((count, j) => {
        const f = r.fractions[i][j];
        const { rect, text } = cells[i][j];
        rect.setAttribute("fill", blue(f));
        rect.dataset.count = count;
        rect.dataset.fraction = f;
        text.textContent = `${count} · ${Math.round(100 * f)}%`;
        text.classList.toggle("kdlab-on-dark", f > 0.5);
      }));
      title.textContent = `specialist ${index + 1} of ${cards.length}, `
        + (isCorrected ? "with the correction" : "uncorrected")
        + " (colour: fraction of the true class)";
      correction.textContent = `dustbin logit + log ρ = ${fmtF(card.correction, 3)}`;
      readout.dataset.accuracy = r.accuracy;
      readout.dataset.dustbin = r.dustbin;
      readout.dataset.other = r.other;
      readout.textContent = `right on ${fmtF(100 * r.accuracy, 1)}% of its classes' images; `
        + `says dustbin on ${fmtF(100 * r.dustbin, 1)}% of all images (true share of the other `
        + `classes: ${fmtF(100 * r.other, 1)}%)`;
    }
    const error = model.get("error");
    showStatus(status, error);
    answered("specialist", state);
  }

  // --- input: each handler changes the model; the model's change events redraw --------------
  const change = modelChanger(model, state, draw);
  const step = (event, by) => {
    const index = Math.min(Math.max(model.get("index") + by, 0), model.get("cards").length - 1);
    change(event, "specialist", { index, error: "" });
  };

  select.addEventListener("change", (event) => {
    change(event, "specialist", { index: Number(select.value), error: "" });
  });
  previous.addEventListener("click", (event) => step(event, -1));
  next.addEventListener("click", (event) => step(event, 1));
  corrected.addEventListener("change", (event) => {
    change(event, "corrected", { corrected: corrected.checked, error: "" });
  });

  // --- changes from Python (or another view of the same explorer) ---------------------------
  return drawOnChange(model, { redraw: ["index", "corrected", "cards", "error"] }, draw);
}

export default { render };
