// Chapter 02's soft-target explorer: a test image, the teacher's soft targets softmax(v / T) for
// it and, when given, a student's softmax(z / T) with KL(teacher_T ‖ student_T), drawn here.
// Model (kdlab.widgets.SoftTargetExplorer): index, T, n (images), shape ([H, W]), pixels (N*H*W
// uint8, base64; 255 the darkest ink), teacher and student (N*C float64 logits, base64; student
// "" for none), names, labels ([] for none), student_name, error. Everything shown is computed
// here from the embedded data, so a move answers without a kernel.

const W = 500; // the bars' SVG coordinate system; it scales to its container
const PLOT = { left: 40, right: 8, top: 24, height: 160 };
const H = PLOT.top + PLOT.height + 26;
const LOG_T = { min: -1, max: 2, step: 0.01 }; // the slider: log10 T, 0.1 to 100

/** The bytes of a base64 string. */
function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Row `i` of an (N, C) float64 matrix stored little-endian in base64 (decoded once). */
function rows(text, n) {
  if (!text) return null;
  const values = new Float64Array(fromBase64(text).buffer);
  const c = values.length / n;
  return (i) => Array.from(values.subarray(i * c, (i + 1) * c));
}

/** KL(p ‖ q) = Σ p (log p − log q) of softmax(v / T) and softmax(z / T), in nats. */
function klAtT(v, z, T) {
  const logp = logSoftmaxT(v, T);
  const logq = logSoftmaxT(z, T);
  return logp.reduce((a, lp, i) => a + Math.exp(lp) * (lp - logq[i]), 0);
}

function render({ model, el }) {
  const state = { event: null, control: null };
  const data = {}; // decoded traits: pixels (Uint8Array), teacher(i), student(i) or null

  function decode() {
    data.pixels = fromBase64(model.get("pixels"));
    data.teacher = rows(model.get("teacher"), model.get("n"));
    data.student = rows(model.get("student"), model.get("n"));
  }
  const names = () => {
    const given = model.get("names");
    return given.length ? given : data.teacher(0).map((_, i) => String(i));
  };

  // --- controls ---------------------------------------------------------------------------
  const prev = h("button", { type: "button", class: "kdlab-prev", "aria-label": "previous image" },
    "◀");
  const next = h("button", { type: "button", class: "kdlab-next", "aria-label": "next image" },
    "▶");
  const indexSlider = h("input", {
    type: "range", class: "kdlab-index", min: 0, step: 1, "aria-label": "image",
  });
  const readoutIndex = h("output", { class: "kdlab-index-readout" });
  const slider = logTSlider(LOG_T);
  const readoutT = h("output", { class: "kdlab-T-readout" });
  const readout = h("div", { class: "kdlab-kl", "aria-live": "polite" });
  const status = h("div", { class: "kdlab-status", role: "status" });

  // --- the figure: the image (a canvas, one cell per pixel) and the bars (SVG) ---------------
  const canvas = h("canvas", { class: "kdlab-image", role: "img" });
  const caption = h("div", { class: "kdlab-caption" });
  const svg = s("svg", {
    class: "kdlab-soft-bars", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "the teacher's soft targets at T, and the student's prediction",
  });
  for (const tick of [0, 0.5, 1]) {
    const y = PLOT.top + PLOT.height * (1 - tick);
    svg.append(
      s("line", { x1: PLOT.left, x2: W - PLOT.right, y1: y, y2: y, class: "kdlab-grid" }),
      s("text", { x: PLOT.left - 6, y: y + 4, "text-anchor": "end" }, String(tick)));
  }
  const legend = s("g", { class: "kdlab-legend" });
  svg.append(legend);
  let columns = [];

  function build() {
    decode();
    for (const c of columns) c.group.remove();
    const student = !!data.student;
    const k = names().length;
    const width = (W - PLOT.left - PLOT.right) / k;
    columns = names().map((name, i) => {
      const x = PLOT.left + i * width;
      const group = s("g", { class: "kdlab-column", "data-class": i });
      const truth = s("rect", { class: "kdlab-truth", x, y: PLOT.top, width,
        height: PLOT.height });
      const teacher = s("rect", { class: "kdlab-bar kdlab-teacher",
        x: x + width * (student ? 0.1 : 0.15), width: width * (student ? 0.4 : 0.7) });
      const pupil = s("rect", { class: "kdlab-bar kdlab-student", x: x + width * 0.5,
        width: width * 0.4 });
      const label = nameLabel(name, { x: x + width / 2, y: H - 8, "text-anchor": "middle" }, 10);
      group.append(truth, teacher, label);
      if (student) group.append(pupil);
      svg.append(group);
      return { group, truth, teacher, pupil };
    });
    legend.replaceChildren(
      s("rect", { class: "kdlab-teacher", x: W - 230, y: 4, width: 10, height: 10 }),
      s("text", { x: W - 216, y: 13 }, "teacher"));
    if (student) {
      legend.append(
        s("rect", { class: "kdlab-student", x: W - 160, y: 4, width: 10, height: 10 }),
        s("text", { x: W - 146, y: 13 }, model.get("student_name")));
    }
    const [hh, ww] = model.get("shape");
    canvas.width = ww;
    canvas.height = hh;
    indexSlider.max = model.get("n") - 1;
  }

  el.classList.add("jupyter-widgets", "kdlab-explorer", "kdlab-soft-targets");
  el.append(
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "image"), prev,
      indexSlider, next, readoutIndex),
    h("div", { class: "kdlab-row" }, h("span", { class: "kdlab-label" }, "T"), slider, readoutT),
    h("div", { class: "kdlab-figure" }, h("figure", { class: "kdlab-picture" }, canvas, caption),
      svg),
    readout, status,
  );

  // --- drawing: the one place that writes to the view ---------------------------------------
  function drawImage(i) {
    const [hh, ww] = model.get("shape");
    const image = canvas.getContext("2d").createImageData(ww, hh);
    const offset = i * hh * ww;
    for (let k = 0; k < hh * ww; k++) {
      const paper = 255 - data.pixels[offset + k]; // dark ink on white paper (gray_r)
      image.data[4 * k] = image.data[4 * k + 1] = image.data[4 * k + 2] = paper;
      image.data[4 * k + 3] = 255;
    }
    canvas.getContext("2d").putImageData(image, 0, 0);
    canvas.dataset.index = i;
  }

  function bar(rect, p) {
    rect.setAttribute("y", PLOT.top + PLOT.height * (1 - p));
    rect.setAttribute("height", PLOT.height * p);
    rect.setAttribute("data-p", p);
  }

  function draw() {
    const i = model.get("index");
    const T = model.get("T");
    const label = model.get("labels").length ? model.get("labels")[i] : null;
    const v = data.teacher(i);
    const p = softmaxT(v, T);
    const z = data.student ? data.student(i) : null;
    const q = z ? softmaxT(z, T) : null;
    const all = names();
    p.forEach((pi, c) => {
      bar(columns[c].teacher, pi);
      if (q) bar(columns[c].pupil, q[c]);
      columns[c].group.classList.toggle("kdlab-true-class", c === label);
    });
    drawImage(i);
    caption.textContent = `image ${i}` + (label === null ? "" : `: ${all[label]}`);
    indexSlider.value = i;
    readoutIndex.textContent = `${i + 1} of ${model.get("n")}`;
    readoutIndex.dataset.index = i;
    showLogT(slider, T);
    readoutT.textContent = fmtG(T);
    readoutT.dataset.t = T;
    const H_p = entropyOf(p);
    const top = (probs) => all[argmax(probs)];
    let text = `teacher: ${top(p)} ${fmtF(Math.max(...p), 3)}, entropy ${fmtF(H_p, 3)} nats`;
    readout.dataset.entropy = H_p;
    if (q) {
      const kl = klAtT(v, z, T);
      readout.dataset.kl = kl;
      text += `;  ${model.get("student_name")}: ${top(q)} ${fmtF(Math.max(...q), 3)};  `
        + `KL(teacher_T ‖ ${model.get("student_name")}_T) = ${fmtG(kl)} nats`;
    }
    readout.textContent = text;
    const error = model.get("error");
    showStatus(status, error, "grey band: the true class");
    answered("soft_targets", state);
  }

  // --- input: each handler changes the model; the model's change events redraw --------------
  const change = modelChanger(model, state, draw);
  const step = (event, by) => {
    const i = Math.min(Math.max(model.get("index") + by, 0), model.get("n") - 1);
    change(event, "image", { index: i, error: "" });
  };
  prev.addEventListener("click", (event) => step(event, -1));
  next.addEventListener("click", (event) => step(event, +1));
  indexSlider.addEventListener("input", (event) => {
    change(event, "image", { index: Number(indexSlider.value), error: "" });
  });
  slider.addEventListener("input", (event) => {
    change(event, "T", { T: sliderT(slider), error: "" });
  });

  // --- changes from Python (or another view of the same explorer) ---------------------------
  return drawOnChange(model, {
    redraw: ["index", "T", "error", "labels"],
    rebuild: ["pixels", "teacher", "student", "names", "shape", "n", "student_name"],
  }, draw, build);
}

export default { render };
