// Chapter 01's temperature explorer: softmax(z / T) as bars, drawn here in SVG.
// Model (kdlab.widgets.TemperatureExplorer): T, z (the logits), names, choices ([name, logits]
// pairs), example (the chosen one, or ""), mode ("explore" | "predict"), guesses (the
// predict-then-reveal rounds), error. Everything shown is computed here, so a move answers
// without a kernel, in JupyterLab and on the website alike.

const W = 640; // the SVG's coordinate system; it scales to its container
const PLOT = { left: 40, right: 10, top: 26, height: 170 };
const H = PLOT.top + PLOT.height + 58;
const P_MIN = 1e-3; // how far a dragged bar may go towards 0 or 1
const LOG_T = { min: -2, max: 2, step: 0.01 }; // the slider: log10 T

function render({ model, el }) {
  const n = () => model.get("z").length;
  const names = () => {
    const given = model.get("names");
    return given.length ? given : model.get("z").map((_, i) => String(i));
  };
  const state = {
    pendingT: null, reveal: null, event: null, control: null, drag: null, typing: false,
  };

  // --- controls ---------------------------------------------------------------------------
  const select = h("select", { class: "kdlab-example", "aria-label": "example" });
  const predict = h("input", { type: "checkbox", class: "kdlab-predict-mode" });
  const slider = logTSlider(LOG_T);
  const readout = h("output", { class: "kdlab-T-readout" });
  const text = h("input", {
    type: "text", class: "kdlab-logits", spellcheck: "false", "aria-label": "logits",
  });
  const status = h("div", { class: "kdlab-status", role: "status" });
  const prompt = h("div", { class: "kdlab-prompt", "aria-live": "polite" });

  // --- the figure -------------------------------------------------------------------------
  const svg = s("svg", {
    class: "kdlab-bars", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "softmax(z / T) of each class",
  });
  const axis = s("g", { class: "kdlab-axis" });
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    const y = PLOT.top + PLOT.height * (1 - tick);
    axis.append(
      s("line", { x1: PLOT.left, x2: W - PLOT.right, y1: y, y2: y, class: "kdlab-grid" }),
      s("text", { x: PLOT.left - 6, y: y + 4, "text-anchor": "end" }, String(tick)),
    );
  }
  axis.append(s("text", {
    x: 12, y: PLOT.top + PLOT.height / 2, "text-anchor": "middle",
    transform: `rotate(-90 12 ${PLOT.top + PLOT.height / 2})`,
  }, "probability"));
  svg.append(axis);
  let columns = []; // per class: {hit, bar, value, name, logit, gain}

  function build() {
    for (const c of columns) c.group.remove();
    const k = n();
    const width = (W - PLOT.left - PLOT.right) / k;
    columns = names().map((name, i) => {
      const x = PLOT.left + i * width;
      const group = s("g", { class: "kdlab-column", "data-class": i });
      const hit = s("rect", {
        class: "kdlab-hit", x, y: PLOT.top - 20, width, height: PLOT.height + 20,
      });
      const bar = s("rect", { class: "kdlab-bar", x: x + width * 0.15, width: width * 0.7 });
      const value = s("text", { class: "kdlab-value", x: x + width / 2, "text-anchor": "middle" });
      const label = nameLabel(name, {
        x: x + width / 2, y: PLOT.top + PLOT.height + 16, "text-anchor": "middle" }, 11);
      const logit = s("text", {
        class: "kdlab-logit", x: x + width / 2, y: PLOT.top + PLOT.height + 32,
        "text-anchor": "middle",
      });
      const gain = s("text", {
        class: "kdlab-gain", x: x + width / 2, y: PLOT.top + PLOT.height + 48,
        "text-anchor": "middle",
      });
      group.append(hit, bar, value, label, logit, gain);
      group.addEventListener("pointerdown", (event) => onPointerDown(event, i));
      svg.append(group);
      return { group, hit, bar, value, logit, gain };
    });
    select.replaceChildren(
      h("option", { value: "" }, "(your own logits)"),
      ...model.get("choices").map(([name]) => h("option", { value: name }, name)),
    );
    select.hidden = model.get("choices").length === 0;
  }

  const entropyText = h("span", { class: "kdlab-entropy-text" });
  const meterFill = h("span", { class: "kdlab-meter-fill" });
  const entropyRow = h("div", { class: "kdlab-entropy" },
    entropyText, h("span", { class: "kdlab-meter", "aria-hidden": "true" }, meterFill));

  // "jupyter-widgets": a widget's element, as ipywidgets' own views mark theirs
  el.classList.add("jupyter-widgets", "kdlab-explorer", "kdlab-temperature");
  el.append(
    h("div", { class: "kdlab-row" }, select,
      h("label", { class: "kdlab-toggle" }, predict, " predict, then reveal")),
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "T"), slider, readout),
    svg, entropyRow, prompt,
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "logits"), text),
    status,
  );

  // --- drawing: the one place that writes to the view ---------------------------------------
  function draw() {
    const z = model.get("z");
    const T = model.get("T");
    const p = softmaxT(z, T);
    const top = argmax(p);
    const reveal = state.reveal;
    p.forEach((pi, i) => {
      const c = columns[i];
      const height = PLOT.height * pi;
      c.bar.setAttribute("y", PLOT.top + PLOT.height - height);
      c.bar.setAttribute("height", height);
      c.bar.setAttribute("data-p", pi);
      c.bar.setAttribute("data-z", z[i]);  // exact (the logits box shows them rounded)
      c.bar.classList.toggle("kdlab-top", i === top);
      c.value.setAttribute("y", PLOT.top + PLOT.height - height - 4);
      c.value.textContent = pi >= 0.995 ? fmtF(pi, 3) : fmtF(pi, 2);
      c.logit.textContent = `z=${fmtF(z[i], 2)}`;
      c.group.classList.toggle("kdlab-guess", !!reveal && reveal.guess === i);
      c.group.classList.toggle("kdlab-answer", !!reveal && reveal.answer === i);
      c.gain.textContent = reveal ? `${reveal.gains[i] >= 0 ? "+" : "−"}${fmtF(Math.abs(reveal.gains[i]), 3)}` : "";
    });
    const H_ = entropyOf(p);
    const k = z.length;
    entropyText.textContent =
      `entropy H = ${H_.toFixed(3)} nats (one-hot: 0, uniform: log ${k} = ${Math.log(k).toFixed(3)})`;
    meterFill.style.width = `${k > 1 ? (100 * H_) / Math.log(k) : 0}%`;
    const shownT = state.pendingT ?? T;
    showLogT(slider, shownT);
    readout.textContent = state.pendingT === null ? fmtG(T) : `${fmtG(T)} → ${fmtG(state.pendingT)}`;
    readout.dataset.t = T;
    const error = model.get("error");
    showStatus(status, error,
      `T = ${fmtG(T, 4)}; largest p = ${p[top].toFixed(3)} (${names()[top]})`);
    if (!state.typing) {
      const parsed = parseLogits(text.value, k);
      const same = parsed.values && parsed.values.every((v, i) => Math.abs(v - z[i]) <= 5e-3);
      if (!same) text.value = z.map((v) => fmtF(v, 2)).join(", ");
    }
    select.value = model.get("example");
    predict.checked = model.get("mode") === "predict";
    el.classList.toggle("kdlab-predicting", predict.checked);
    drawPrompt();
    answered("temperature", state);
  }

  function drawPrompt() {
    const guesses = model.get("guesses");
    const right = guesses.filter((g) => g.guess === g.answer).length;
    const score = guesses.length ? ` (${right} of ${guesses.length} right so far)` : "";
    if (model.get("mode") !== "predict") {
      prompt.textContent = "";
      prompt.hidden = true;
      return;
    }
    prompt.hidden = false;
    const T = model.get("T");
    const r = state.reveal;
    if (r) {
      const who = names();
      prompt.textContent = (r.guess === r.answer
        ? `Right: ${who[r.answer]} gained the most`
        : `Not quite: ${who[r.answer]} gained the most, you picked ${who[r.guess]}`)
        + ` (T ${fmtG(r.from)} → ${fmtG(r.to)}; each bar's change is written under it)${score}.`
        + " Raise T again for another round.";
    } else if (state.pendingT === null) {
      prompt.textContent = `Predict mode: drag the T slider up from ${fmtG(T)}; the bars wait `
        + `for your guess.${score}`;
    } else if (state.pendingT <= T) {
      prompt.textContent = `Move T above ${fmtG(T)}: the question is what happens as T rises.`;
    } else {
      prompt.textContent = `T rises from ${fmtG(T)} to ${fmtG(state.pendingT)}. Which class `
        + `gains the most probability? Click its bar.${score}`;
    }
  }

  // --- input: each handler changes the model; the model's change events redraw --------------
  const change = modelChanger(model, state, draw);

  function matchingExample(z) {
    const found = model.get("choices").find(
      ([, v]) => v.length === z.length && v.every((x, i) => Math.abs(x - z[i]) <= 5e-3));
    return found ? found[0] : "";
  }

  slider.addEventListener("input", (event) => {
    const T = sliderT(slider);
    if (model.get("mode") === "predict") {
      state.pendingT = T; // the bars wait for the guess
      state.reveal = null;
      state.event = event;
      state.control = "T (predict)";
      draw();
    } else {
      change(event, "T", { T, error: "" });
    }
  });

  select.addEventListener("change", (event) => {
    const found = model.get("choices").find(([name]) => name === select.value);
    state.reveal = null;
    if (found) change(event, "example", { z: found[1].slice(), example: found[0], error: "" });
  });

  predict.addEventListener("change", (event) => {
    state.pendingT = null;
    state.reveal = null;
    change(event, "mode", { mode: predict.checked ? "predict" : "explore" });
  });

  text.addEventListener("input", () => {
    state.typing = true; // leave the text alone until it is entered
  });
  text.addEventListener("change", (event) => {
    state.typing = false;
    const parsed = parseLogits(text.value, n());
    state.reveal = null;
    if (parsed.error) change(event, "logits", { error: parsed.error });
    else change(event, "logits", { z: parsed.values, example: matchingExample(parsed.values), error: "" });
  });

  /** The logit that gives class i the probability `target` at T, the others unchanged. */
  function logitFor(i, target) {
    const z = model.get("z");
    const T = model.get("T");
    const rest = logSumExp(z.filter((_, j) => j !== i).map((v) => v / T));
    const q = Math.min(Math.max(target, P_MIN), 1 - P_MIN);
    return T * (Math.log(q / (1 - q)) + rest);
  }

  function targetAt(event) {
    const box = svg.getBoundingClientRect();
    const y = ((event.clientY - box.top) * H) / box.height;
    return (PLOT.top + PLOT.height - y) / PLOT.height;
  }

  function onPointerDown(event, i) {
    if (model.get("mode") === "predict") {
      guess(event, i);
      return;
    }
    if (n() < 2) return;
    event.preventDefault();
    columns[i].group.setPointerCapture?.(event.pointerId);
    state.drag = i;
    state.reveal = null;
    dragTo(event);
  }

  function dragTo(event) {
    const i = state.drag;
    if (i === null) return;
    const z = model.get("z").slice();
    z[i] = logitFor(i, targetAt(event));
    change(event, "drag", { z, example: matchingExample(z), error: "" });
  }

  svg.addEventListener("pointermove", (event) => {
    if (state.drag !== null) dragTo(event);
  });
  const stop = () => {
    state.drag = null;
  };
  svg.addEventListener("pointerup", stop);
  svg.addEventListener("pointercancel", stop);

  function guess(event, i) {
    const from = model.get("T");
    const to = state.pendingT;
    if (to === null || to <= from) {
      state.event = event;
      state.control = "guess";
      draw();
      return;
    }
    const z = model.get("z");
    const before = softmaxT(z, from);
    const after = softmaxT(z, to);
    const gains = after.map((v, j) => v - before[j]);
    const answer = argmax(gains);
    state.reveal = { from, to, guess: i, answer, gains };
    state.pendingT = null;
    const round = { T_from: from, T_to: to, guess: i, answer };
    change(event, "guess", { T: to, guesses: [...model.get("guesses"), round], error: "" });
  }

  // --- changes from Python (or another view of the same explorer) ---------------------------
  const onModel = () => draw();
  const onZ = () => {
    state.reveal = null; // the logits changed: the last round's answer no longer holds
    draw();
  };
  const onShape = () => {
    build();
    draw();
  };
  const onMode = () => {
    state.pendingT = null;
    state.reveal = null;
    draw();
  };
  const onT = () => {
    if (state.reveal && model.get("T") !== state.reveal.to) state.reveal = null;
    state.pendingT = null;
    draw();
  };
  const unlisten = listen(model, {
    z: onZ, error: onModel, example: onModel, guesses: onModel, T: onT, mode: onMode,
    names: onShape, choices: onShape,
  });
  build();
  draw();
  return unlisten;
}

export default { render };
