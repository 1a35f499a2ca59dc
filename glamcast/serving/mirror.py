"""`GET /mirror`: the virtual mirror, and what its page and the SDK load from the platform.

Routes:

- `/mirror`: the page (take or upload a selfie, or pick a sample face; the attributes, shown and
  correctable; the person's feed drawn on their face; taps posted as try-on events).
- `/sdk/{file}`: the mirror SDK, plain ES modules (`glamcast/serving/static/sdk/`).
- `/mirror/assets/{file}`: the page's own script and style.
- `/vendor/{package}/{path}`: the browser dependencies, from the npm packages that `make install`
  put in `web/node_modules` (pinned by `web/package-lock.json`): only the folders the SDK needs
  (`VENDOR`), never a CDN.
- `/mirror/samples/{name}`: sample faces from installed packages (`SAMPLE_FACES`): no face photo
  is kept in the repository.
- `/v1/products?ids=...`: shade, category and finish of catalogue products, so that a page can
  draw a feed whose items are ids.

The image a person takes never reaches these routes: the SDK analyses and renders it in the
browser and sends only events (docs/mirror.md).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from glamcast.core.settings import Profile, Settings
from glamcast.platform.feed_engine import load_catalog

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
SDK_DIR = HERE / "static" / "sdk"
PAGE_DIR = HERE / "static" / "mirror"
#: Where `npm ci` (make install) puts the browser dependencies: web/ beside the package.
NODE_MODULES = HERE.parents[1] / "web" / "node_modules"
#: URL package name → the folders of it that are served (everything else stays private).
VENDOR = {
    "human": (NODE_MODULES / "@vladmandic" / "human", ("dist", "models")),
    "tfjs-backend-wasm": (NODE_MODULES / "@tensorflow" / "tfjs-backend-wasm" / "dist", ("",)),
}
MEDIA_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
               ".json": "application/json", ".bin": "application/octet-stream",
               ".css": "text/css", ".png": "image/png", ".jpg": "image/jpeg"}
VENDOR_CACHE = "public, max-age=86400"  # pinned versions: a day in the browser's cache is safe
CATALOG_TTL_S = 60.0
DEFAULT_PERSON = "u-mirror"
MAX_PRODUCT_IDS = 200


def _module_file(module: str, *parts: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    return path if path.is_file() else None


#: Sample faces (public domain) that ship inside installed packages: name → (label, finder).
SAMPLE_FACES = {
    "grace-hopper.jpg": ("Grace Hopper (matplotlib's sample data)",
                         lambda: _module_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg")),
    "astronaut.png": ("Eileen Collins (scikit-image's astronaut)",
                      lambda: _module_file("skimage", "data", "astronaut.png")),
}

router = APIRouter(tags=["mirror"])


def _file(path: Path | None, cache: str | None = None) -> FileResponse:
    if path is None or not path.is_file():
        raise HTTPException(404, "not found")
    headers = {"Cache-Control": cache} if cache else None
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                        headers=headers)


def _inside(root: Path, relative: str) -> Path | None:
    """`root/relative` when it is a file inside `root` (no `..` escapes), else None."""
    target = (root / relative).resolve()
    return target if target.is_file() and target.is_relative_to(root.resolve()) else None


@router.get("/mirror", response_class=HTMLResponse, summary="The virtual mirror (HTML)",
            responses={200: {"content": {"text/html": {}}, "description": "The page."}})
def mirror_page(request: Request,
                user: Annotated[str, Query(min_length=1, max_length=200)] = DEFAULT_PERSON,
                ) -> HTMLResponse:
    """The mirror page for one person; every face stays in the browser (docs/mirror.md).

    The page reads the person's feed with a person-bound token: an app's backend issues one
    (`POST /v1/feed-tokens`, service key) and opens the page with `?user=...&token=...`; in the
    `local` profile without configured keys the page is handed one for `?user=` here."""
    settings: Settings = request.app.state.settings
    samples = [{"name": name, "label": label} for name, (label, find) in SAMPLE_FACES.items() if find()]
    missing = [name for name, (root, _) in VENDOR.items() if not root.is_dir()]
    token = ""
    guard = getattr(request.app.state, "guard", None)
    if local_ingest_key(settings) and guard is not None and guard.tokens.enabled:
        token, _ = guard.tokens.issue(user, settings.api_token_max_ttl_s, time.time())
    response = TEMPLATES.TemplateResponse(request, "mirror.html", {
        "samples": samples, "missing": missing, "user": user,
        "ingest_key": local_ingest_key(settings) or "", "feed_token": token})
    response.headers["Cache-Control"] = "no-store"  # it may hold a token
    return response


def local_ingest_key(settings: Settings) -> str | None:
    """The ingest key a local page may embed: the `local` profile's dev key while no keys are
    configured; None otherwise (an app embedding the SDK brings its own ingest-scoped key, or
    the page is opened with `?key=`). Ingest keys are public in effect: rate-limited, and they
    can only post events."""
    if settings.profile is Profile.PROD or settings.api_keys:
        return None
    # scoped keys (glamcast.serving.security): `dev-ingest`; before them, the one `dev-key`
    return "dev-ingest" if hasattr(settings, "effective_api_keys") else "dev-key"


@router.get("/sdk/{name}", summary="The mirror SDK (ES modules)", include_in_schema=False)
def sdk_file(name: str) -> FileResponse:
    return _file(_inside(SDK_DIR, name) if name.endswith(".js") else None)


@router.get("/mirror/assets/{name}", include_in_schema=False)
def page_asset(name: str) -> FileResponse:
    return _file(_inside(PAGE_DIR, name))


@router.get("/mirror/samples/{name}", include_in_schema=False)
def sample_face(name: str) -> FileResponse:
    entry = SAMPLE_FACES.get(name)
    return _file(entry[1]() if entry else None, VENDOR_CACHE)


@router.get("/vendor/{package}/{path:path}", include_in_schema=False)
def vendor_file(package: str, path: str) -> FileResponse:
    """A file of an allowed folder of an installed npm package (VENDOR)."""
    if package not in VENDOR:
        raise HTTPException(404, "not found")
    root, folders = VENDOR[package]
    folder, _, rest = path.partition("/") if folders != ("",) else ("", "", path)
    if folder not in folders:
        raise HTTPException(404, "not found")
    return _file(_inside(root / folder, rest), VENDOR_CACHE)


class CatalogCache:
    """The lake's catalogue, read at most every CATALOG_TTL_S seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_at = -CATALOG_TTL_S
        self._frame = pd.DataFrame({"product_id": pd.Series(dtype=object)})

    def get(self, settings: Settings) -> pd.DataFrame:
        with self._lock:
            if time.monotonic() - self._read_at >= CATALOG_TTL_S:
                self._frame = load_catalog(settings).set_index("product_id", drop=False)
                self._read_at = time.monotonic()
            return self._frame


PRODUCT_FIELDS = ("product_id", "brand", "name", "category", "shade_hex", "finish", "price")


@router.get("/v1/products", summary="Catalogue products by id (shade, category, finish, price)")
def products(request: Request,
             ids: Annotated[str, Query(description="Comma-separated product ids.",
                                       examples=["p00017,p00032"])]) -> dict[str, Any]:
    """The catalogue entries of the given ids that exist, in the order asked."""
    wanted = [part for part in ids.split(",") if part][:MAX_PRODUCT_IDS]
    if not hasattr(request.app.state, "mirror_catalog"):
        request.app.state.mirror_catalog = CatalogCache()
    frame = request.app.state.mirror_catalog.get(request.app.state.settings)
    found = []
    for product_id in wanted:
        if product_id in frame.index:
            row = frame.loc[product_id]
            row = row.iloc[0] if isinstance(row, pd.DataFrame) else row
            found.append({field: _plain(row.get(field)) for field in PRODUCT_FIELDS})
    return {"products": found}


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value
