"""The browser assets of /docs, /redoc and /graphql, served by the service itself.

They come from the npm packages that their projects publish, at the exact versions of
``docs-assets/package.json``; ``docs-assets/package-lock.json`` pins every file by its
integrity hash. ``make docs-assets`` (part of ``make install``; a stage of the Dockerfile)
runs ``npm ci`` there, then this module (``python -m api.docs.assets``) copies the files
below, and only those, into ``api/docs/static``, which the app serves under
``/static/docs`` and which ships as package data.

This module uses the standard library only: the Dockerfile runs it before the package is
installed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
NODE_MODULES = HERE.parents[1] / "docs-assets" / "node_modules"
URL_PREFIX = "/static/docs"

# Served name -> the file inside node_modules it is copied from.
ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    # The licences of what the bundles bundle (each bundle's first line points here).
    "swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    "favicon-32x32.png": "swagger-ui-dist/favicon-32x32.png",
    "redoc.standalone.js": "redoc/bundles/redoc.standalone.js",
    "redoc.standalone.js.LICENSE.txt": "redoc/bundles/redoc.standalone.js.LICENSE.txt",
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
    "graphiql-plugin-explorer.umd.js": "@graphiql/plugin-explorer/dist/index.umd.js",
    "graphiql-plugin-explorer.css": "@graphiql/plugin-explorer/dist/style.css",
}


def url(name: str) -> str:
    """Where the page loads the asset ``name`` from: this service, never a CDN."""
    if name not in ASSETS:
        raise KeyError(name)
    return f"{URL_PREFIX}/{name}"


def missing(static_dir: Path | None = None) -> list[str]:
    """The assets not in ``static_dir`` (``STATIC_DIR``): the pages would render blank
    without them."""
    folder = STATIC_DIR if static_dir is None else static_dir
    return sorted(name for name in ASSETS if not (folder / name).is_file())


def vendor(node_modules: Path = NODE_MODULES, static_dir: Path = STATIC_DIR) -> list[Path]:
    """``static_dir`` made anew with exactly the files of ``ASSETS``, from ``node_modules``
    (``npm ci`` in ``docs-assets``). Raises FileNotFoundError naming what npm did not
    install, before anything is changed."""
    sources = {name: node_modules / source for name, source in ASSETS.items()}
    absent = [str(path) for path in sources.values() if not path.is_file()]
    if absent:
        raise FileNotFoundError(
            "not installed (run `npm ci` in docs-assets, or `make docs-assets`): "
            + ", ".join(absent)
        )
    if static_dir.exists():
        shutil.rmtree(static_dir)
    static_dir.mkdir(parents=True)
    return [Path(shutil.copyfile(source, static_dir / name)) for name, source in sources.items()]


def main() -> int:
    try:
        copied = vendor()
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{len(copied)} docs assets in {STATIC_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
