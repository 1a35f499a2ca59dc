"""The marketing dashboard in headless Chromium (Debian `chromium`, see infra/system-deps.sh).

The app runs under uvicorn on a free port over a lake that holds a forecast run (written here in
the `forecasts` layout with its ranked list, so no Prophet fit is needed: the trends API test
covers a real run), hourly trend counts and curated looks; MLflow is the session's, with no look
GAN champion, so the page falls back to curated looks. Chromium dumps the DOM after the page's
scripts ran (virtual time), and the test checks that every chart holds a Plotly SVG; a screenshot
goes to test-artifacts/dashboard.png. A page over an empty lake shows a note per part, and with
a registered champion look GAN (a stand-in pyfunc under a test name) the palettes are its looks.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from testkit import ServedApp

from glamcast.core.events import TrendAlert
from glamcast.core.names import EVENTS_COL, FORECASTS, LOOKS, TERM_COL, TERM_TYPE_COL, TREND_COUNTS
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.forecasts import FORECAST_DATASET_COLUMNS, RISING_COLUMNS
from glamcast.platform.model_registry import tracking_uri
from glamcast.serving.app import create_app
from models.beauty_calendar import holiday_names_by_day
from models.look_space import LOOK_COLUMNS
from models.trend_forecast import TrendForecastConfig

pytestmark = pytest.mark.integration

#: The dashboards of these tests have no look GAN champion (the session's registry is shared: the
#: look GAN job test promotes one under the real name), so they show the curated looks.
NO_LOOK_GAN = f"no-look-gan-{uuid.uuid4().hex[:8]}"

REPO_ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
MARKETING_KEY = "dev-marketing"  # the local profile's marketing key
ORIGIN = date(2026, 11, 22)
HORIZON = 28
RUN_ID = "d" * 32
# (term_type, term, class, growth score, ×change over the last 8 weeks, anomaly)
TERMS = [
    ("shade_family", "coral", "rising", 0.74, 2.2, "spike"),
    ("hashtag", "glassskin", "rising", 0.52, 1.6, None),
    ("hashtag", "blackfriday", "seasonal_spike", 0.40, 1.0, None),
    ("finish", "metallic", "fading", -0.61, 0.5, None),
    ("brand", "velvetco", "fading", -0.38, 0.7, None),
    ("category", "lipstick", "steady", 0.05, 1.0, None),
]
#: The trust label of each term's row (the job computes it; the page shows it as it is).
TRUST = {"velvetco": ("weak", "band too narrow: 2 % coverage"),
         "blackfriday": ("weak", "error too large: MASE 27.20 ≥ 1; band too narrow: 2 % coverage")}
TRUSTED_REASON = "auto_ets MASE 0.80 < 1, beats seasonal naive (1.10), 80 % band coverage"


def _alert(kind: str, direction: str, term: str, hour: int, detail: str) -> TrendAlert:
    from glamcast.platform.alerts import alert_id

    return TrendAlert(alert_id=alert_id(kind, direction, "hashtag", term, ORIGIN),
                      ts=datetime(2026, 11, 23, hour, 5, tzinfo=UTC), kind=kind, direction=direction,
                      term_type="hashtag", term=term, origin=ORIGIN, run_id=RUN_ID,
                      trend_class="rising", detail=detail)


ALERTS = [_alert("band_exit", "up", "coral", 6, "4 of the last 7 days above the forecast band"),
          _alert("breakout", "up", "mochaglaze", 7, "breakout: +20% in 2 weeks, +900% in 4 weeks")]
LOOK_SHADES = {"lips": "#E8735A", "eyes": "#8A6F5C", "cheeks": "#F2A48C", "brows": "#4A3426"}
LIVE_TERMS = {("shade_family", "coral"): 9.0, ("hashtag", "glassskin"): 3.0, ("finish", "matte"): 1.0}


def forecast_rows(rng: np.random.Generator) -> pd.DataFrame:
    """A run in the `forecasts` layout: 200 days of history and 28 ahead per term."""
    days = pd.date_range(ORIGIN - timedelta(days=199), ORIGIN + timedelta(days=HORIZON), freq="D")
    holidays = holiday_names_by_day(TrendForecastConfig().holiday_calendar(2026, 2027))
    t = np.arange(len(days))
    frames = []
    for term_type, term, _, _, change, _ in TERMS:
        ramp = np.clip((t - (len(days) - HORIZON - 56)) / 56, 0, None)
        trend = 80 * change ** ramp
        weekly = 0.15 * trend * np.sin(2 * np.pi * t / 7)
        holiday = np.where(days.isin(holidays.index), 0.3 * trend, 0.0)
        yhat = trend + weekly + holiday
        width = 0.12 * yhat * (1 + np.clip(t - (len(days) - HORIZON), 0, None) / HORIZON)
        future = t >= len(days) - HORIZON
        frames.append(pd.DataFrame({
            "term_type": term_type, "term": term, "ds": days.date,
            "y": np.where(future, np.nan, rng.poisson(yhat).astype(float)),
            "yhat": yhat, "yhat_lower": yhat - width, "yhat_upper": yhat + width,
            "trend": trend, "weekly": weekly, "yearly": 0.0, "holidays": holiday,
            "holiday": [holidays.get(day) for day in days], "is_forecast": future,
            "origin": ORIGIN, "run_id": RUN_ID, "generated_at": pd.Timestamp("2026-11-23T06:00:00Z"),
        }))
    return pd.concat(frames, ignore_index=True)[list(FORECAST_DATASET_COLUMNS)]


def ranked_list() -> dict:
    rows = []
    for rank_in_class, (term_type, term, cls, score, change, anomaly) in enumerate(TERMS, start=1):
        rows.append({column: None for column in RISING_COLUMNS} | {
            "rank": 1 + sum(1 for other in TERMS[:rank_in_class - 1] if other[2] == cls),
            "term_type": term_type, "term": term, "trend_class": cls, "growth_score": score,
            "anomaly": anomaly, "anomaly_outside": 4 if anomaly else 0, "prophet_mase": 0.8,
            "seasonal_naive_mase": 1.1, "naive_mase": 1.4, "prophet_smape": 12.0,
            "seasonal_naive_smape": 15.0, "naive_smape": 19.0, "prophet_coverage": 0.8,
            "beats_seasonal_naive": term != "velvetco", "n_periods": 200, "n_filled": 0,
            "growth_2w": 0.1 * (change - 1), "growth_4w": 0.5 * (change - 1),
            "growth_8w": change - 1, "trend_change": 0.2 * (change - 1),
            "chosen_model": "auto_ets", "chosen_mase": 0.8, "chosen_coverage": 0.8,
            "runner_up_model": "prophet", "runner_up_mase": 0.85,
            "trust": TRUST.get(term, ("trusted",))[0],
            "trust_reason": TRUST.get(term, ("", TRUSTED_REASON))[1]}
            | ({"holiday": "black_friday+cyber_monday", "holiday_start": "2026-11-17",
                "holiday_end": "2026-12-02", "holiday_lift": 9.5} if cls == "seasonal_spike" else {}))
    return {"source": "trend_counts", "since": str(ORIGIN - timedelta(days=199)), "until": str(ORIGIN),
            "run_id": RUN_ID, "terms": rows}


def write_lake(settings: Settings, rng: np.random.Generator) -> None:
    root = settings.lake_root
    table = pa.Table.from_pandas(forecast_rows(rng), preserve_index=False)
    lake.write_file(root, f"{FORECASTS}/date={ORIGIN}/source=trend_counts/part-0.parquet", table)
    report = settings.state_path / "reports" / "forecast_trends" / f"{ORIGIN}-trend_counts"
    report.mkdir(parents=True)
    (report / "rising.json").write_text(json.dumps(ranked_list()))
    # trend counts: 8 days of hours; the last hour lifts coral well above its usual weight
    last = datetime(2026, 11, 23, 14, tzinfo=UTC)
    hours = [last - timedelta(hours=h) for h in range(8 * 24)]
    rows = [(hour, term_type, term, "tryon", weight * (6.0 if hour == last and term == "coral" else 1.0), 1)
            for hour in hours for (term_type, term), weight in LIVE_TERMS.items()]
    frame = pd.DataFrame(rows, columns=[lake.HOUR_COL, TERM_TYPE_COL, TERM_COL,
                                        lake.SOURCE_COL, lake.WEIGHT_COL, EVENTS_COL])
    schema = lake.SCHEMAS[TREND_COUNTS]
    for day, part in frame.groupby(frame[lake.HOUR_COL].dt.date):
        lake.write_file(root, f"{lake.partition_dir(TREND_COUNTS, day)}/test-p0.parquet",
                        pa.Table.from_pandas(part.reset_index(drop=True), schema=schema, preserve_index=False))
    looks = []
    for look in range(3):
        for region, shade in LOOK_SHADES.items():
            looks.append({column: None for column in LOOK_COLUMNS} | {
                "look_id": f"k{look}", "look_name": f"sunset {look}", "region": region,
                "product_id": f"p{look}{region}", "category": "lipstick", "shade_hex": shade,
                "finish": "matte", "intensity": 0.6, "event_id": f"k{look}-{region}",
                "ts": pd.Timestamp("2026-11-01T00:00:00Z")})
    lake.write_file(root, f"{lake.partition_dir(LOOKS, date(2026, 11, 1))}/looks-test.parquet",
                    pa.Table.from_pandas(pd.DataFrame(looks), preserve_index=False))


def chromium(*args: str) -> str:
    command = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars", "--virtual-time-budget=30000", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Elements(HTMLParser):
    """Per element with a data-testid: its attributes and the classes of everything inside it."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict] = []
        self.body: dict[str, str | None] = {}
        self._open: list[dict | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "body":
            self.body = attributes
        for element in self._open:
            if element is not None:
                element["inner"].extend((attributes.get("class") or "").split())
        if tag in self.VOID:
            return
        element = None
        if "data-testid" in attributes:
            element = {"testid": attributes["data-testid"], "attrs": attributes, "inner": []}
            self.found.append(element)
        self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for element in self._open:
            if element is not None:
                element["inner"].extend((dict(attrs).get("class") or "").split())

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self._open:
            self._open.pop()

    def by_id(self, testid: str) -> list[dict]:
        return [element for element in self.found if element["testid"] == testid]


def parse(dom: str) -> Elements:
    parser = Elements()
    parser.feed(dom)
    return parser


@pytest.fixture(scope="module")
def dashboard_url(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert Path(CHROMIUM).exists(), "chromium missing: run infra/system-deps.sh (root, apt)"
    state = tmp_path_factory.mktemp("dashboard-state")
    settings = stack_settings.model_copy(update={
        "state_dir": state, "lake_uri": str(state / "lake"),
        "mlflow_tracking_uri": tracking_uri(stack_settings),
        "look_gan_model_name": NO_LOOK_GAN})
    write_lake(settings, np.random.default_rng(3))
    from glamcast.platform.alerts import publish_alerts

    topic = f"test.alerts.{uuid.uuid4().hex[:10]}"
    publish_alerts(settings, ALERTS, topic)
    app = create_app(settings)
    app.state.alerts_topic = topic
    with ServedApp(app) as url:
        yield f"{url}/dashboard".replace("://", f"://marketing:{MARKETING_KEY}@")  # Basic


def test_dashboard_renders_every_chart_in_chromium(dashboard_url: str) -> None:
    page = parse(chromium("--dump-dom", dashboard_url))
    forecasts = page.by_id("chart-forecast")
    assert [(chart["attrs"]["data-term"], chart["attrs"]["data-class"]) for chart in forecasts] == [
        ("coral", "rising"), ("glassskin", "rising"), ("blackfriday", "seasonal_spike"),
        ("metallic", "fading"), ("velvetco", "fading")]
    charts = [*page.by_id("chart-growth"), *forecasts, *page.by_id("chart-trending-now")]
    assert page.body.get("data-charts-rendered") == str(len(charts)) == "7"
    for chart in charts:
        assert "main-svg" in chart["inner"], f"{chart['attrs']['id']} has no Plotly SVG"
    for chart in forecasts:  # band, forecast line, actuals; holiday windows or the origin line
        assert chart["inner"].count("trace") >= 4 and "shapelayer" in chart["inner"]
    for cls in ("rising", "seasonal_spike", "steady", "fading"):
        assert len(page.by_id(f"table-{cls}")) == 1, cls
    assert not page.by_id("table-breakout")  # no breakout in this run: no empty table
    assert len(page.by_id("look-palette")) == 3 and len(page.by_id("swatch")) == 12
    notes = {element["testid"] for element in page.found if element["testid"].startswith("note-")}
    # only the look GAN is missing: curated looks shown instead, and no looks to draw on faces
    assert notes == {"note-looks", "note-face-looks"}


class Texts(HTMLParser):
    """The text inside each element with a data-testid (nested ones included), in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[tuple[str, dict, list[str]]] = []
        self._open: list[int | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        index = None
        if "data-testid" in attributes:
            index = len(self.texts)
            self.texts.append((attributes["data-testid"], attributes, []))
        if tag not in Elements.VOID:  # an <input> holds no text and has no end tag
            self._open.append(index)

    def handle_endtag(self, tag: str) -> None:
        if tag not in Elements.VOID and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for index in self._open:
            if index is not None:
                self.texts[index][2].append(data)

    def text(self, testid: str) -> list[tuple[dict, str]]:
        return [(attrs, " ".join("".join(parts).split())) for tid, attrs, parts in self.texts
                if tid == testid]


def test_classes_evidence_and_trust_reasons_are_on_the_page(dashboard_url: str) -> None:
    texts = Texts()
    texts.feed(chromium("--dump-dom", dashboard_url))
    rows = texts.text("term-row")
    assert [(attrs["data-term"], attrs["data-class"]) for attrs, _ in rows] == [
        ("coral", "rising"), ("glassskin", "rising"), ("blackfriday", "seasonal_spike"),
        ("lipstick", "steady"), ("metallic", "fading"), ("velvetco", "fading")]
    reasons = {attrs["data-term"]: text for attrs, text in rows}
    assert "weak band too narrow: 2 % coverage" in reasons["velvetco"]
    assert f"trusted {TRUSTED_REASON}" in reasons["coral"]
    assert "black friday+cyber monday 2026-11-17–2026-12-02 (×10.5)" in reasons["blackfriday"]
    assert "auto_ets (0.80) · prophet (0.85)" in reasons["coral"]  # the choice and the runner-up
    assert "+60% / +120%" in reasons["coral"]  # growth over 4 and 8 weeks (×2.2 over 8)
    chart_reasons = [text for _, text in texts.text("chart-trust")]  # beside each chart
    assert len(chart_reasons) == 5
    assert chart_reasons[2] == "weak error too large: MASE 27.20 ≥ 1; band too narrow: 2 % coverage"
    filters = {testid: attrs for testid, attrs, _ in texts.texts if testid.startswith("filter-")}
    assert set(filters) == {"filter-type", "filter-class", "filter-search", "filter-horizon"}
    options = next(text for _, text in texts.text("filter-class"))
    assert "Breakout" in options and "Seasonal spike" in options
    assert [attrs["href"] for attrs, _ in texts.text("download-table")] == ["/dashboard/trends.csv"]
    alerts = [(attrs["data-term"], text) for attrs, text in texts.text("alert")]
    assert alerts == [  # newest first, each once, with its time
        ("mochaglaze", ("2026-11-23 07:05 breakout ↑ mochaglaze (hashtag) 2026-11-22 "
                        "breakout: +20% in 2 weeks, +900% in 4 weeks")),
        ("coral", ("2026-11-23 06:05 band exit ↑ coral (hashtag) 2026-11-22 "
                   "4 of the last 7 days above the forecast band"))]
    links = [attrs["href"] for attrs, _ in texts.text("download-term")]
    assert links[0] == "/dashboard/forecast.csv?term=coral&term_type=shade_family&horizon_days=28"


def test_dashboard_csv_downloads_under_the_page_credentials(dashboard_url: str) -> None:
    import httpx

    base = dashboard_url.rsplit("/", 1)[0]
    table = httpx.get(f"{base}/dashboard/trends.csv", params={"status": "fading"}, timeout=60)
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    lines = table.text.strip().splitlines()
    assert [line.split(",")[3] for line in lines[1:]] == ["metallic", "velvetco"]
    forecast = httpx.get(f"{base}/dashboard/forecast.csv",
                         params={"term": "coral", "term_type": "shade_family", "horizon_days": 7,
                                 "history_days": 14}, timeout=60)
    assert forecast.status_code == 200 and len(forecast.text.strip().splitlines()) == 1 + 14 + 7
    anonymous = base.replace(f"marketing:{MARKETING_KEY}@", "")
    assert httpx.get(f"{anonymous}/dashboard/trends.csv", timeout=60).status_code == 401


def test_dashboard_screenshot_is_saved(dashboard_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    chromium(f"--screenshot={shot}", "--window-size=1360,2000", dashboard_url)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


def test_plotly_is_served_by_the_app_itself(dashboard_url: str) -> None:
    import httpx

    base = dashboard_url.rsplit("/", 1)[0]
    script = httpx.get(f"{base}/dashboard/assets/plotly.min.js", timeout=30)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert b"plotly.js" in script.content[:2000] and len(script.content) > 1_000_000
    assert httpx.get(f"{base}/dashboard/assets/../app.py", timeout=30).status_code == 404
    html = httpx.get(dashboard_url, timeout=60).text
    assert "cdn" not in html.lower() and 'src="/dashboard/assets/plotly.min.js"' in html


def test_empty_lake_shows_a_note_for_each_part(stack_settings: Settings, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    settings = stack_settings.model_copy(update={
        "state_dir": tmp_path, "lake_uri": str(tmp_path / "lake"),
        "mlflow_tracking_uri": tracking_uri(stack_settings),
        "look_gan_model_name": NO_LOOK_GAN,
        "topic_prefix": f"empty-{uuid.uuid4().hex[:8]}."})  # no alerts topic either
    with TestClient(create_app(settings), headers={"X-API-Key": MARKETING_KEY}) as client:
        answer = client.get("/dashboard")
    assert answer.status_code == 200
    page = parse(answer.text)
    notes = {element["testid"] for element in page.found if element["testid"].startswith("note-")}
    assert notes == {"note-trends", "note-rising", "note-fading", "note-forecasts",
                     "note-trending-now", "note-looks", "note-face-looks", "note-alerts"}
    assert not page.by_id("chart-forecast") and not page.by_id("chart-growth")
    assert "No curated looks in the lake yet" in answer.text


class FixedLooks(mlflow.pyfunc.PythonModel):
    """A stand-in look GAN with the pyfunc's output columns: n looks per request, one shade a region."""

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        rows = [{"request": request, "look": look, "region": region, "shade_hex": shade,
                 "product_hex": shade, "product_id": f"p-{region}", "brand": "Glam", "name": region,
                 "finish": "matte"}
                for request, n in enumerate(model_input["n"]) for look in range(int(n))
                for region, shade in reversed(LOOK_SHADES.items())]
        return pd.DataFrame(rows)


def test_palettes_come_from_the_champion_look_gan_when_one_is_registered(
        stack_settings: Settings, tmp_path: Path, unique: str) -> None:
    from fastapi.testclient import TestClient

    from glamcast.serving import dashboard

    name = f"test-look-gan-{unique}"  # not the real name: other tests of the session promote that one
    client = mlflow.MlflowClient(tracking_uri(stack_settings))
    mlflow.set_tracking_uri(tracking_uri(stack_settings))
    mlflow.set_experiment(f"dashboard-test-{unique}")
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="model", python_model=FixedLooks(), registered_model_name=name,
                                pip_requirements=[])
    client.set_registered_model_alias(name, "champion", "1")
    settings = stack_settings.model_copy(update={
        "state_dir": tmp_path, "lake_uri": str(tmp_path / "lake"),
        "mlflow_tracking_uri": tracking_uri(stack_settings), "look_gan_model_name": name})
    with TestClient(create_app(settings), headers={"X-API-Key": MARKETING_KEY}) as api:
        answer = api.get("/dashboard")
    assert answer.status_code == 200
    page = parse(answer.text)
    assert len(page.by_id("look-palette")) == 3 * dashboard.LOOKS_PER_FACE
    assert len(page.by_id("swatch")) == 3 * dashboard.LOOKS_PER_FACE * 4
    assert f"generated by {name} v1 (champion)" in answer.text
    assert not page.by_id("note-looks")
    # swatches in face order lips, eyes, cheeks, brows, whatever order the model returned them in
    regions = [swatch["attrs"]["title"].split(":")[0] for swatch in page.by_id("swatch")[:4]]
    assert regions == ["lips", "eyes", "cheeks", "brows"]
