// Loaded on pages with saved ipywidgets, after RequireJS and before the
// embed manager. The manager's bundled modules (@jupyter-widgets/base,
// controls, html-manager, ...) find their icon fonts relative to their
// RequireJS module path: map those paths to _static/vendor/jupyter-widgets/,
// where the fonts are, instead of a folder beside the page. Also point the
// manager's "CDN" (used only for widget modules it does not bundle) into this
// site, so that nothing is ever fetched from another one.
//
// kdlab's explorers are anywidgets (kdlab/frontend.py): their ES module is in the saved widget
// state, and anywidget's own front end, an AMD module the book build copies from the installed
// anywidget package to vendor/anywidget/index.js, renders it. The manager asks RequireJS for
// the module "anywidget" before any CDN: map it to that file.
(function () {
  var script = document.currentScript;
  var here = script.src.replace(/[^/]*$/, "");
  var base = here + "vendor/jupyter-widgets";
  window.requirejs.config({
    paths: {
      "@jupyter-widgets": base,
      "@jupyter-widgets/html-manager/dist": base,
      anywidget: here + "vendor/anywidget/index",
    },
  });
  script.setAttribute("data-jupyter-widgets-cdn", base + "/npm/");
})();

// ipywidgets 8 typesets widget labels with MathJax 2's API,
// MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]), but this site runs
// MathJax 3, which has no Hub: each label would throw a TypeError. Give
// MathJax 3 that one call, once it has loaded (it is deferred; the manager
// draws the widgets on "load", after this listener has run).
window.addEventListener("load", function () {
  var mathjax = window.MathJax;
  if (!mathjax || mathjax.Hub || !mathjax.startup) return;
  mathjax.Hub = {
    Queue: function (job) {
      var element = job && job[2];
      mathjax.startup.promise
        .then(function () {
          return mathjax.typesetPromise(element ? [element] : undefined);
        })
        .catch(function (error) {
          console.warn("kdlab: could not typeset a widget label", error);
        });
    },
  };
});
