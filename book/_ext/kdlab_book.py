"""Sphinx glue for the kdlab book: run profile, per-profile execution cache, offline assets.

- ``KDLAB_PROFILE`` (default ``laptop``) is checked, named in every page's footer, and
  inherited by the kernels that execute the notebooks.
- Each profile has its own jupyter-cache, ``<output>/.jupyter_cache/<profile>``; the cache
  is emptied when the code the notebooks run (``kdlab/``, its front end ``kdlab/js/``,
  ``pyproject.toml``) changes, since jupyter-cache itself only notices changes to a
  notebook's own cells.
- The build stops early, with the fix, when the vendored JavaScript is missing, and a change
  to a static file (book/_static) rewrites the pages, so that Sphinx copies it: by itself
  Sphinx copies static files only when some page is out of date.
- ``repository.url`` in book/_config.yml is the one switch for links to the repository: set,
  every chapter page gets the repository button and the Colab and Binder launch buttons
  (``launch_buttons``) built from it; empty (as long as the lab has no public home), there are
  none, rather than links to a placeholder that 404 on first click.
- kdlab's log lines ("kdlab: trained ... cached as ...", "kdlab: loaded ... from the cache")
  stay in JupyterLab but are left out of the pages: the website shows the lesson, not the logs.
  Every line of a stdout output that starts with ``kdlab: `` is dropped, and an output left
  empty goes with it.
- Images on another site (e.g. a badge in a notebook's markdown) become their alt text, still
  inside their link: the site fetches nothing remote.
- kdlab's explorers are anywidgets (kdlab/frontend.py): their state, ES module included, is
  saved in the page, and the widget manager renders it with anywidget's AMD front end, which
  the build copies from the installed ``anywidget`` package (the version that saved the state)
  to ``_static/vendor/anywidget/index.js``; book/_static/kdlab-widgets.js points RequireJS at it.
- sphinx-thebe's scripts are left out of the pages: live code is off (``launch_buttons.thebe:
  false``), they name thebe's script on unpkg.com, and its inline one, added twice, is a
  JavaScript error ("Identifier 'THEBE_JS_URL' has already been declared").
- The theme's colour mode defaults to ``auto`` (the reader's system setting), which is what it
  did anyway, but without logging "Got invalid theme mode" as a console error on every page.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

PROFILES = ("ci", "laptop", "paper")
DEFAULT_PROFILE = "laptop"
FETCH_HINT = "bash book/fetch_assets.sh"
STAMP = "kdlab-code.sha256"
LOG_PREFIX = "kdlab: "  # kdlab's own log lines (kdlab/train.py, fit_cached)
LAUNCH_PROVIDERS = ("binderhub_url", "colab_url", "jupyterhub_url", "deepnote_url",
                    "jupyterlite_url")

logger = logging.getLogger(__name__)


def profile_from_env() -> str:
    """The run profile the notebooks will execute at."""
    profile = os.environ.get("KDLAB_PROFILE", "").strip() or DEFAULT_PROFILE
    if profile not in PROFILES:
        raise ConfigError(
            f"KDLAB_PROFILE={profile!r} is not a run profile; use one of {', '.join(PROFILES)}"
        )
    return profile


def code_fingerprint(root: Path) -> str:
    """SHA-256 of kdlab/**/*.py, the explorers' front end (kdlab/js/, saved in the pages with
    each widget's state) and pyproject.toml under root: the code the notebooks run."""
    digest = hashlib.sha256()
    package = root / "kdlab"
    files = sorted([*package.rglob("*.py"), *package.rglob("*.js"), *package.rglob("*.css")])
    files.append(root / "pyproject.toml")
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def static_fingerprint(root: Path, static_dirs: list[str]) -> str:
    """SHA-256 of the names, sizes and modification times of the files in static_dirs."""
    digest = hashlib.sha256()
    for folder in static_dirs:
        for path in sorted(Path(root, folder).rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(
                    f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode()
                )
    return digest.hexdigest()


def _configure(app: Sphinx, config: Config) -> None:
    """Pin the profile and give it an execution cache that is fresh for the current code."""
    profile = profile_from_env()
    fingerprint = code_fingerprint(Path(app.srcdir))
    # Config values with rebuild="env": a new profile or new code re-reads every page.
    config.kdlab_profile = profile
    config.kdlab_code = fingerprint
    # rebuild="html": a changed static file rewrites every page, and so gets copied.
    config.kdlab_static = static_fingerprint(
        Path(app.confdir or app.srcdir), config.html_static_path
    )
    if not config.nb_execution_cache_path:
        cache = (Path(app.outdir).parent / ".jupyter_cache" / profile).resolve()
        stamp = cache / STAMP
        if cache.is_dir() and (not stamp.is_file() or stamp.read_text() != fingerprint):
            logger.info(f"[kdlab] kdlab/ changed: emptying the notebook cache {cache}")
            shutil.rmtree(cache)
        cache.mkdir(parents=True, exist_ok=True)
        stamp.write_text(fingerprint)
        config.nb_execution_cache_path = str(cache)

    options = dict(config.html_theme_options or {})
    repository = str(options.get("repository_url") or "").strip()
    options["use_repository_button"] = bool(repository)
    if not repository:  # no public repository: no launch button may point at one
        launch = dict(options.get("launch_buttons") or {})
        for key in LAUNCH_PROVIDERS:
            launch[key] = ""
        options["launch_buttons"] = launch
    footer = f"<p>Notebook outputs computed at run profile <code>{profile}</code>.</p>"
    options["extra_footer"] = (options.get("extra_footer") or "") + footer
    config.html_theme_options = options
    # The theme (pydata's) reads its colour mode from the page context, not its options.
    config.html_context = {"default_mode": "auto", **(config.html_context or {})}


def _check_assets(app: Sphinx) -> None:
    """Fail early, with the fix, when the vendored JavaScript is missing."""
    if app.builder.format != "html":
        return
    config = app.config
    static_dirs = [Path(app.confdir or app.srcdir, p) for p in config.html_static_path]
    wanted = [config.mathjax_path, *config.nb_ipywidgets_js]
    missing = [
        name
        for name in wanted
        if "://" not in name and not any((d / name).is_file() for d in static_dirs)
    ]
    if missing:
        raise ConfigError(
            f"the book's offline assets are missing ({', '.join(missing)}); run: {FETCH_HINT}"
        )


def _is_thebe(script) -> bool:
    """Whether a page script is one of sphinx-thebe's (its file, or its inline settings)."""
    name = os.fspath(getattr(script, "filename", None) or "")
    body = getattr(script, "attributes", {}).get("body", "")
    return name.endswith("sphinx-thebe.js") or "THEBE_JS_URL" in body


def _drop_thebe(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Leave sphinx-thebe's scripts out of the page when live code (thebe) is off."""
    if app.config.html_theme_options.get("launch_buttons", {}).get("thebe"):
        return
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        scripts[:] = [s for s in scripts if not _is_thebe(s)]


class RemoteImagesToText(SphinxTransform):
    """Replace each image whose source is another site by its alt text."""

    default_priority = 200

    def apply(self, **kwargs) -> None:
        for image in list(self.document.findall(nodes.image)):
            if not image.get("uri", "").startswith(("http://", "https://", "//")):
                continue
            text = image.get("alt") or image["uri"]
            if isinstance(image.parent, nodes.TextElement):
                image.replace_self(nodes.inline(text, text, classes=["kdlab-remote-image"]))
            else:
                image.replace_self(nodes.paragraph(text, text, classes=["kdlab-remote-image"]))


def without_log_lines(text: str) -> str:
    """``text`` without the lines that start with kdlab's log prefix ``"kdlab: "``."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith(LOG_PREFIX))


class DropLogLines(SphinxTransform):
    """Leave kdlab's log lines out of the notebooks' stdout outputs (empty outputs go too)."""

    default_priority = 210

    def apply(self, **kwargs) -> None:
        for block in list(self.document.findall(nodes.literal_block)):
            if not {"output", "stream"} <= set(block.get("classes", [])):
                continue
            text = block.astext()
            kept = without_log_lines(text)
            if kept == text:
                continue
            parent = block.parent
            if kept.strip():
                block.children = []
                block += nodes.Text(kept)
                block.rawsource = kept
            else:
                parent.remove(block)
                if isinstance(parent, nodes.container) and not parent.children:
                    parent.parent.remove(parent)


def _copy_anywidget(app: Sphinx, exception) -> None:
    """Put anywidget's AMD front end where kdlab-widgets.js tells RequireJS to find it."""
    if exception is not None or app.builder.format != "html":
        return
    from kdlab.frontend import anywidget_amd

    target = Path(app.outdir, "_static", "vendor", "anywidget", "index.js")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(anywidget_amd(), target)


def setup(app: Sphinx) -> dict:
    """Register the extension."""
    app.add_config_value("kdlab_profile", DEFAULT_PROFILE, "env", types=[str])
    app.add_config_value("kdlab_code", "", "env", types=[str])
    app.add_config_value("kdlab_static", "", "html", types=[str])
    # After myst-nb and the theme have registered their values.
    app.connect("config-inited", _configure, priority=900)
    app.connect("builder-inited", _check_assets)
    app.connect("html-page-context", _drop_thebe, priority=900)  # after the others add scripts
    app.connect("build-finished", _copy_anywidget)
    app.add_transform(RemoteImagesToText)
    app.add_transform(DropLogLines)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
