// kdlab explorers: what every browser-rendered explorer shares. kdlab/frontend.py puts this
// file in front of each explorer's own module (kdlab/js/NAME.js) to make one ES module, the
// anywidget `_esm`: no imports, no build step, nothing fetched.

const SVG_NS = "http://www.w3.org/2000/svg";

/** An element with attributes and children: h("div", {class: "x"}, "text", child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  el.append(...children);
  return el;
}

/** An SVG element with attributes. */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  el.append(...children);
  return el;
}

/** softmax(z / T), computed stably (the largest logit is subtracted first). */
function softmaxT(z, T) {
  const scaled = z.map((v) => v / T);
  const top = Math.max(...scaled);
  const e = scaled.map((v) => Math.exp(v - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** log(sum(exp(values))), stably; -Infinity for no values. */
function logSumExp(values) {
  if (!values.length) return -Infinity;
  const top = Math.max(...values);
  return top + Math.log(values.reduce((a, v) => a + Math.exp(v - top), 0));
}

/** The entropy -sum p log p, in nats (0 log 0 = 0). */
function entropyOf(p) {
  return -p.reduce((a, v) => (v > 0 ? a + v * Math.log(v) : a), 0);
}

/** Index of the largest value (the first, on ties). */
function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * The input handler every explorer shares: `change(event, control, values)` sets `values` on
 * the model and saves them; the model's change events redraw, and when nothing changed it still
 * redraws, so that every input is answered (and its latency recorded for `control`).
 */
function modelChanger(model, state, draw) {
  return function change(event, control, values) {
    state.event = event;
    state.control = control;
    for (const [key, value] of Object.entries(values)) model.set(key, value);
    model.save_changes();
    if (state.event) draw(); // nothing changed: still answer the input (and record it)
  };
}

/**
 * Listen to the model's trait changes: `handlers` maps a trait name to its handler. Returns the
 * function that stops listening (what an anywidget `render` returns for clean-up).
 */
function listen(model, handlers) {
  const pairs = Object.entries(handlers).map(([key, fn]) => [`change:${key}`, fn]);
  for (const [event, fn] of pairs) model.on(event, fn);
  return () => {
    for (const [event, fn] of pairs) model.off(event, fn);
  };
}

/**
 * Draw the view now, and again when the model changes: the traits in `redraw` change only what
 * is drawn, those in `rebuild` its shape (`build()` runs first). Returns the function that
 * stops listening (what an anywidget `render` returns).
 */
function drawOnChange(model, { redraw = [], rebuild = [] }, draw, build = () => {}) {
  const handlers = {};
  for (const key of redraw) handlers[key] = () => draw();
  for (const key of rebuild) {
    handlers[key] = () => {
      build();
      draw();
    };
  }
  const unlisten = listen(model, handlers);
  build();
  draw();
  return unlisten;
}

/** A number as Python's format(x, ".3g") writes it (enough for readouts). */
function fmtG(x, digits = 3) {
  if (x === 0) return "0";
  const text = Number(x.toPrecision(digits));
  return String(text);
}

/** A fixed-point number without "-0.00". */
function fmtF(x, digits = 2) {
  const text = x.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

/**
 * Parse comma- or space-separated logits, as kdlab.widgets.parse_logits does: returns
 * {values} or {error}, with the same messages.
 */
function parseLogits(text, n) {
  const parts = text.replace(/,/g, " ").split(/\s+/).filter((p) => p);
  if (!parts.length) {
    return { error: "logits: type some numbers separated by commas, e.g. 2, 1, -0.5" };
  }
  const values = [];
  const number = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
  const infinite = /^[+-]?(inf|infinity|nan)$/i;
  for (const part of parts) {
    if (infinite.test(part)) return { error: `logits: '${part}' is not a finite number` };
    if (!number.test(part)) return { error: `logits: '${part}' is not a number` };
    const value = Number(part);
    if (!Number.isFinite(value)) return { error: `logits: '${part}' is not a finite number` };
    values.push(value);
  }
  if (n !== undefined && values.length !== n) {
    return { error: `logits: expected ${n} numbers (one per class), got ${values.length}` };
  }
  return { values };
}

/**
 * A class's name as SVG text (class "kdlab-name", more attributes in `attrs`), cut to `max`
 * characters with "…" if longer; the whole name in its tooltip.
 */
function nameLabel(name, attrs, max) {
  const label = s("text", { class: "kdlab-name", ...attrs },
    name.length > max ? name.slice(0, max - 1) + "…" : name);
  label.append(s("title", {}, name));
  return label;
}

/**
 * A temperature slider on a log scale: a range input over log10 T from `range.min` to
 * `range.max` in steps of `range.step` (class "kdlab-T"); without `range`, the view sets them.
 */
function logTSlider(range = {}) {
  return h("input", { type: "range", class: "kdlab-T", min: range.min, max: range.max,
    step: range.step, "aria-label": "temperature T (log scale)" });
}

/** Put a log-T slider at `T`, clamped to its range. */
function showLogT(slider, T) {
  slider.value = Math.min(Math.max(Math.log10(T), Number(slider.min)), Number(slider.max));
}

/** The temperature a log-T slider is at. */
function sliderT(slider) {
  return 10 ** Number(slider.value);
}

/** Show `error` in a view's status line (in red), or else `note`. */
function showStatus(status, error, note = "") {
  status.classList.toggle("kdlab-error", !!error);
  status.textContent = error || note;
}

/**
 * At the end of a redraw: the input event that caused it (kept in `state` by modelChanger), if
 * any, is answered; its latency is recorded once for `explorer`.
 */
function answered(explorer, state) {
  if (!state.event) return;
  recordLatency(explorer, state.control, state.event);
  state.event = null;
}

/**
 * Latency probe for benchmarks/ and tests/: when the page has set
 * `globalThis.__kdlabLatency = []`, each update caused by an input event appends
 * {explorer, control, dom, frame}: milliseconds from the event to the view's DOM being
 * updated, and to the first frame after it (a requestAnimationFrame callback, then a task:
 * the frame has been produced). Costs nothing otherwise.
 */
function recordLatency(explorer, control, event) {
  const sink = globalThis.__kdlabLatency;
  if (!Array.isArray(sink) || !event) return;
  const entry = { explorer, control, dom: performance.now() - event.timeStamp, frame: null };
  sink.push(entry);
  requestAnimationFrame(() =>
    setTimeout(() => {
      entry.frame = performance.now() - event.timeStamp;
    }, 0),
  );
}

// --- shared by chapter 07's mistakes explorer and chapter 02's alpha x T explorer -----------

/**
 * d/dz of each soft loss of kdlab/mistakes.py for one example (N = 1): an array of C numbers,
 * from q = softmax(z / T), p = softmax(v / T), logp = log p and T. Checked against torch
 * autograd by tests/test_mistakes_explorer.py and tests/test_soft_target_explorers.py.
 */
const SOFT_GRADIENTS = {
  correct: (q, p, logp, T) => q.map((qi, i) => T * (qi - p[i])),
  "no T²": (q, p, logp, T) => q.map((qi, i) => (qi - p[i]) / T),
  'reduction="mean"': (q, p, logp, T) => q.map((qi, i) => (T * (qi - p[i])) / q.length),
  // kl_div(q, p) = Σ p (log p − q): d/dq = −p, then through softmax(z / T)
  "probabilities as input": (q, p, logp, T) => {
    const pq = q.reduce((a, qi, i) => a + qi * p[i], 0);
    return q.map((qi, i) => T * qi * (pq - p[i]));
  },
  // kl_div(log q, log p) without log_target: d/d(log q) = −log p, then through log_softmax
  "log target, no log_target": (q, p, logp, T) => {
    const total = logp.reduce((a, b) => a + b, 0);
    return q.map((qi, i) => T * (qi * total - logp[i]));
  },
};

function l2norm(g) {
  return Math.sqrt(g.reduce((a, x) => a + x * x, 0));
}

/** d/dz of the hard term, the cross-entropy at T = 1 with class `label`: softmax(z) - onehot. */
function hardGradient(z, label) {
  return softmaxT(z, 1).map((x, i) => x - (i === label ? 1 : 0));
}

/** log softmax(z / T), computed stably. */
function logSoftmaxT(z, T) {
  const top = logSumExp(z.map((x) => x / T));
  return z.map((x) => x / T - top);
}
