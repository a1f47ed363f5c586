// Loaded on pages with saved ipywidgets, after RequireJS and before the
// embed manager. The manager's bundled modules (@jupyter-widgets/base,
// controls, html-manager, ...) find their icon fonts relative to their
// RequireJS module path: map those paths to _static/vendor/jupyter-widgets/,
// where the fonts are, instead of a folder beside the page. Also point the
// manager's "CDN" (used only for widget modules it does not bundle) into this
// site, so that nothing is ever fetched from another one.
(function () {
  var script = document.currentScript;
  var base = script.src.replace(/[^/]*$/, "") + "vendor/jupyter-widgets";
  window.requirejs.config({
    paths: {
      "@jupyter-widgets": base,
      "@jupyter-widgets/html-manager/dist": base,
    },
  });
  script.setAttribute("data-jupyter-widgets-cdn", base + "/npm/");
})();
