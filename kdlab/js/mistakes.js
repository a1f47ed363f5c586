// Chapter 07's mistakes explorer: one example's soft-term gradient per class, for the correct
// loss and for a chosen mistake, drawn here in SVG with the soft:hard balance read out.
// Model (kdlab.widgets.MistakesExplorer): T, alpha, mistake, z (the student's logits), v (the
// teacher's), label, names, options ([name, line, effect] per mistake offered), error.
// The gradients are closed forms of kdlab/mistakes.py's losses for one example (N = 1), with
// q = softmax(z / T), p = softmax(v / T) (SOFT_GRADIENTS, in kdlab/js/common.js, shared with
// chapter 02); tests/test_mistakes_explorer.py checks them against torch autograd.

const W = 640; // the SVG's coordinate system; it scales to its container
const PLOT = { left: 48, right: 10, top: 16, height: 200 };
const H = PLOT.top + PLOT.height + 24;
const LOG_T = { min: -0.3, max: 1.7, step: 0.01 }; // the slider: log10 T, 0.5 to 50

/** Everything the view shows, for the model's state. */
function compute(model) {
  const T = model.get("T");
  const alpha = model.get("alpha");
  const z = model.get("z");
  const v = model.get("v");
  const q = softmaxT(z, T);
  const p = softmaxT(v, T);
  const logp = logSoftmaxT(v, T);
  const grad = (name) => SOFT_GRADIENTS[name](q, p, logp, T);
  const correct = grad("correct");
  const chosen = grad(model.get("mistake"));
  const hard = (1 - alpha) * l2norm(hardGradient(z, model.get("label")));
  const balanceOf = (g) => (hard > 0 ? (alpha * l2norm(g)) / hard : Infinity);
  return {
    correct, chosen, ratio: l2norm(chosen) / l2norm(correct),
    balance: balanceOf(chosen), correctBalance: balanceOf(correct),
  };
}

function render({ model, el }) {
  const names = () => {
    const given = model.get("names");
    return given.length ? given : model.get("z").map((_, i) => String(i));
  };
  const state = { event: null, control: null };
  const radioName = `kdlab-mistake-${Math.random().toString(36).slice(2)}`; // one per view

  // --- controls ---------------------------------------------------------------------------
  const radios = h("div", { class: "kdlab-mistakes", role: "radiogroup", "aria-label": "mistake" });
  const slider = logTSlider(LOG_T);
  const readoutT = h("output", { class: "kdlab-T-readout" });
  const alphaSlider = h("input", {
    type: "range", class: "kdlab-alpha", min: 0, max: 1, step: 0.01, "aria-label": "alpha",
  });
  const readoutAlpha = h("output", { class: "kdlab-alpha-readout" });
  const line = h("code", { class: "kdlab-line" });
  const readout = h("div", { class: "kdlab-balance", "aria-live": "polite" });
  const status = h("div", { class: "kdlab-status", role: "status" });

  // --- the figure -------------------------------------------------------------------------
  const svg = s("svg", {
    class: "kdlab-grad-bars", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "the soft term's gradient per class: correct and mistaken",
  });
  const zeroY = PLOT.top + PLOT.height / 2;
  svg.append(
    s("line", { x1: PLOT.left, x2: W - PLOT.right, y1: zeroY, y2: zeroY, class: "kdlab-grid" }),
    s("text", {
      x: 12, y: zeroY, "text-anchor": "middle", transform: `rotate(-90 12 ${zeroY})`,
    }, "∂ soft / ∂z"),
  );
  const scaleText = s("text", { class: "kdlab-scale", x: PLOT.left - 6, y: PLOT.top + 8,
    "text-anchor": "end" });
  const legend = s("g", { class: "kdlab-legend" },
    s("rect", { class: "kdlab-grad-correct", x: W - 250, y: 2, width: 10, height: 10 }),
    s("text", { x: W - 236, y: 11 }, "correct"),
    s("rect", { class: "kdlab-grad-mistake", x: W - 170, y: 2, width: 10, height: 10 }),
    s("text", { x: W - 156, y: 11 }, "the mistake"));
  svg.append(scaleText, legend);
  let columns = [];

  function build() {
    for (const c of columns) c.group.remove();
    const k = model.get("z").length;
    const width = (W - PLOT.left - PLOT.right) / k;
    columns = names().map((name, i) => {
      const x = PLOT.left + i * width;
      const group = s("g", { class: "kdlab-column", "data-class": i });
      const correct = s("rect", { class: "kdlab-grad-correct", x: x + width * 0.12,
        width: width * 0.36 });
      const chosen = s("rect", { class: "kdlab-grad-mistake", x: x + width * 0.52,
        width: width * 0.36 });
      const label = nameLabel(name, { x: x + width / 2, y: H - 6, "text-anchor": "middle" }, 11);
      group.append(correct, chosen, label);
      svg.append(group);
      return { group, correct, chosen, label };
    });
    radios.replaceChildren(...model.get("options").map(([name, code, effect]) => {
      const input = h("input", { type: "radio", name: radioName,
        value: name, class: "kdlab-mistake" });
      input.addEventListener("change", (event) => {
        if (input.checked) change(event, "mistake", { mistake: name, error: "" });
      });
      const item = h("label", { class: "kdlab-toggle", title: `${code}\n${effect}` }, input,
        ` ${name}`);
      return item;
    }));
  }

  el.classList.add("jupyter-widgets", "kdlab-explorer", "kdlab-mistakes-explorer");
  el.append(
    radios,
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "T"), slider, readoutT),
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "α"), alphaSlider,
      readoutAlpha),
    line, svg, readout, status,
  );

  // --- drawing: the one place that writes to the view ---------------------------------------
  function bar(rect, g, scale) {
    const height = (PLOT.height / 2) * (scale > 0 ? Math.abs(g) / scale : 0);
    rect.setAttribute("y", g >= 0 ? zeroY - height : zeroY);
    rect.setAttribute("height", height);
    rect.setAttribute("data-g", g);
  }

  function draw() {
    const T = model.get("T");
    const alpha = model.get("alpha");
    const mistake = model.get("mistake");
    const r = compute(model);
    const scale = Math.max(...r.correct.map(Math.abs), ...r.chosen.map(Math.abs));
    r.correct.forEach((g, i) => {
      bar(columns[i].correct, g, scale);
      bar(columns[i].chosen, r.chosen[i], scale);
      columns[i].group.classList.toggle("kdlab-label-class", i === model.get("label"));
    });
    scaleText.textContent = `±${fmtG(scale)}`;
    showLogT(slider, T);
    readoutT.textContent = fmtG(T);
    readoutT.dataset.t = T;
    alphaSlider.value = alpha;
    readoutAlpha.textContent = fmtF(alpha, 2);
    readoutAlpha.dataset.alpha = alpha;
    for (const input of radios.querySelectorAll("input")) input.checked = input.value === mistake;
    const option = model.get("options").find(([name]) => name === mistake);
    line.textContent = option ? option[1] : "";
    const fmtB = (b) => (Number.isFinite(b) ? fmtG(b) : "∞");
    readout.dataset.ratio = r.ratio;
    readout.dataset.balance = r.balance;
    readout.dataset.correctBalance = r.correctBalance;
    readout.textContent = `‖∇ ${mistake}‖ / ‖∇ correct‖ = ${fmtG(r.ratio)};  soft:hard balance `
      + `‖α∇soft‖ / ‖(1−α)∇hard‖ = ${fmtB(r.balance)} (correct loss: ${fmtB(r.correctBalance)})`;
    const error = model.get("error");
    showStatus(status, error, (option ? option[2] : ""));
    answered("mistakes", state);
  }

  // --- input: each handler changes the model; the model's change events redraw --------------
  const change = modelChanger(model, state, draw);

  slider.addEventListener("input", (event) => {
    change(event, "T", { T: sliderT(slider), error: "" });
  });
  alphaSlider.addEventListener("input", (event) => {
    change(event, "alpha", { alpha: Number(alphaSlider.value), error: "" });
  });

  // --- changes from Python (or another view of the same explorer) ---------------------------
  return drawOnChange(model, {
    redraw: ["T", "alpha", "mistake", "z", "v", "label", "error"],
    rebuild: ["names", "options"],
  }, draw, build);
}

export default { render };
