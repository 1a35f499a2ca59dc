"""Does the trend → look → feed loop put truly rising terms into feeds, and do try-ons follow?

Per seed, a small simulated world (`--users` people, `--days` observed days and `--after` days
after, the planted shade-family and finish trends of `glamcast.simulator.trends`:
`mauve` and `metallic` rise, `pink` fades):

1. **Observe** days 0..days−1: the try-on counts per shade family and finish (weighted by
   action, as `streams/trend_counts.py`), each people's last-7-days features (tries per category,
   favourite family and finish, consented face), and the (face, look) pairs of positive look
   try-ons.
2. **Forecast** every shade family and finish with `models.trend_forecast.forecast_term` (the
   function the Spark job runs per term; the demo's 60-day config) → the rising/breakout ones.
3. **Look GAN**: a small GAN trained on the pairs (`jobs.train_look_gan` data preparation and
   trainer, in this process, no MLflow), served as the pyfunc does
   (`models.look_gan_pyfunc.generate_shoppable`): the "champion".
4. **Loop**: `glamcast.platform.trend_looks.generate_trend_looks` (what the forecast job calls):
   oversample per consented face, keep looks whose matched products are of a rising term.
5. **Feeds** (`models.feed_scoring.rank_feed`, k = `--k`, no recommender: popularity taste) for
   every person, twice: *before* (the champion's plain looks only) and *after* (plus the trend
   looks). Share of feed items tied to a truly rising term (planted truth: a product of that
   family or finish, or a look holding one).
6. **Try-ons follow**: days days..days+after−1 simulated twice with the same draws, people's
   feeds set to *before* and to *after* (`SimulationConfig.feed_follow_share` of product try-ons
   start from the feed); share of try-ons (`try_on` events) of products tied to a truly rising
   term.

Prints a table per seed and overall; last line
``RESULT {"rising_share_before", "rising_share_after", "rising_tryon_share_before",
"rising_tryon_share_after", "rising_tryon_lift", ...}`` (lift = after ÷ before − 1; means over
seeds).

    .venv/bin/python bench/trend_loop.py [--seeds 7 11 13] [--users 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from glamcast.core.features import CATEGORIES
from glamcast.core.trend_terms import FINISH, SHADE_FAMILY, TRYON_ACTION_WEIGHTS
from glamcast.demo import forecast_model_config
from glamcast.platform.feed_engine import condition_looks
from glamcast.platform.trend_looks import generate_trend_looks, trend_looks_for_feed
from glamcast.simulator import SimulationConfig, World
from glamcast.simulator.trends import BREAKOUT as BREAKOUT_SHAPE
from glamcast.simulator.trends import SATURATING_RISE, STEADY_RISE
from glamcast.simulator.tryon_sessions import ACTIONS
from jobs.train_look_gan import TrainLookGanConfig, fit_gan, prepare_training_data
from models.feed_scoring import FeedWeights, build_snapshot, rank_feed
from models.look_gan import LookGanConfig, LookGenerator
from models.look_gan_pyfunc import generate_shoppable
from models.shoppable_looks import ProductMatcher
from models.trend_forecast import OK, forecast_term

RISING_SHAPES = (STEADY_RISE, SATURATING_RISE, BREAKOUT_SHAPE)
POSITIVE = {i for i, action in enumerate(ACTIONS)
            if action.value in ("like", "save", "share", "add_to_cart", "purchase")}
TRY_ON = 0  # index of try_on in ACTIONS
#: A GAN small enough to train in seconds on a busy CPU.
BENCH_GAN = {"steps": 150, "hidden": 64, "latent_dim": 16, "generator_layers": 2,
             "critic_layers": 2, "batch_size": 128, "n_critic": 3, "log_every": 50,
             "checkpoint_every": 0}


class LocalLookModel:
    """The look GAN pyfunc's `predict` over an in-process generator (what the registry serves)."""

    def __init__(self, generator: LookGenerator, matcher: ProductMatcher) -> None:
        self.generator, self.matcher = generator, matcher

    def predict(self, requests: pd.DataFrame) -> pd.DataFrame:
        return generate_shoppable(self.generator, self.matcher, requests)


def _fit(args: tuple[str, str, pd.DataFrame, pd.Timestamp]) -> dict:
    term_type, term, frame, end = args
    result = forecast_term(frame, end, forecast_model_config())
    cls = result.growth.trend_class if result.status == OK and result.growth else None
    growth = result.growth.growth_4w if result.status == OK and result.growth else None
    return {"term_type": term_type, "term": term, "trend_class": cls or "set_aside",
            "growth_4w": growth}


def observe(world: World, days: int) -> dict:
    """Series per family and finish, last-7-days features, look pairs and live popularity."""
    catalog = world.catalog
    family, finish = catalog["shade_family"].to_numpy(), catalog["finish"].to_numpy()
    category = catalog["category"].to_numpy()
    action_weight = np.array([TRYON_ACTION_WEIGHTS[action.value] for action in ACTIONS])
    series: dict[tuple[str, str], np.ndarray] = {}
    recent: list[pd.DataFrame] = []
    pairs: list[pd.DataFrame] = []
    for day in range(days):
        t = world.tryon_day(day)
        weight = action_weight[t.action]
        for term_type, of_product in ((SHADE_FAMILY, family), (FINISH, finish)):
            for term, total in pd.Series(weight).groupby(of_product[t.product]).sum().items():
                series.setdefault((term_type, str(term)), np.zeros(days))[day] += total
        if day >= days - 7:
            recent.append(pd.DataFrame({"user": t.user, "action": t.action, "product": t.product,
                                        "look": t.look, "ts": t.ts_ms}))
        positive = (t.look >= 0) & np.isin(t.action, list(POSITIVE))
        pairs.append(pd.DataFrame({"user": t.user[positive], "look": t.look[positive]}))
    users = world.users
    consented = users["consented"].to_numpy()
    tried = pd.concat(recent, ignore_index=True)
    tries = tried[tried["action"] == TRY_ON]
    features: dict[int, dict] = {}
    by_user = tries.groupby("user")
    for user, rows in by_user:
        products = rows["product"].to_numpy()
        counts = Counter(category[products])
        entry = {f"tries_7d_{c}": counts.get(c, 0) for c in CATEGORIES}
        entry["fav_shade_family_7d"] = Counter(family[products]).most_common(1)[0][0]
        entry["fav_finish_7d"] = Counter(finish[products]).most_common(1)[0][0]
        entry["last_event_ms"] = int(rows["ts"].max())
        features[int(user)] = entry
    for user in range(len(users)):
        entry = features.setdefault(user, {})
        if consented[user]:
            entry["skin_tone"] = int(users["skin_tone"].iloc[user])
            entry["undertone"] = str(users["undertone"].iloc[user])
    look_pairs = pd.concat(pairs, ignore_index=True).drop_duplicates()
    look_pairs = look_pairs[consented[look_pairs["user"].to_numpy()]]
    face = users.iloc[look_pairs["user"].to_numpy()]
    pair_frame = pd.DataFrame({
        "user_id": face["user_id"].to_numpy(),
        "look_id": np.asarray(world.looks.look_ids)[look_pairs["look"].to_numpy()],
        "skin_tone": face["skin_tone"].to_numpy(), "undertone": face["undertone"].to_numpy(),
        "face_shape": face["face_shape"].to_numpy(), "n_positive": 1})
    popularity = tries.groupby("product").size()
    live = {world.product_ids[int(p)]: float(n) for p, n in popularity.items()}
    return {"series": series, "features": features, "pairs": pair_frame, "live": live}


def train_generator(world: World, pairs: pd.DataFrame, steps: int, scratch: Path) -> LookGenerator:
    data = prepare_training_data(pairs, world.looks.frame(world.catalog), heldout_share=0.1,
                                 min_pairs=32)
    config = TrainLookGanConfig(gan=LookGanConfig(**{**BENCH_GAN, "steps": steps}),
                                distributed=False, register=False)
    fit = fit_gan(None, data, config, scratch, lambda stage, done, total: None)
    return LookGenerator.from_fit(fit, data.space)


def plain_looks(model: LocalLookModel, per_condition: int, version: int) -> pd.DataFrame:
    """The champion's plain feed looks, as the feed engine makes them."""
    return condition_looks(model, per_condition, version)


def feeds_of(snapshot, features: dict[int, dict], world: World, k: int, now: datetime,
             weights: FeedWeights) -> dict[int, list]:
    """Per person, the feed's items (product ids per item) and reasons."""
    out = {}
    for user, entry in features.items():
        feed = rank_feed(snapshot, f"u{user}", entry, k, weights, now=now)
        out[user] = [(item.products or [item.product_id], item.reasons, item.look_id)
                     for item in feed.items]
    return out


def rising_share(feeds: dict[int, list], tied: set[str]) -> tuple[float, int]:
    items = [products for entries in feeds.values() for products, _, _ in entries]
    hits = sum(any(p in tied for p in products) for products in items)
    return hits / max(len(items), 1), len(items)


def tryon_share(world: World, feeds: dict[int, list], start: int, days: int,
                tied_index: np.ndarray) -> tuple[float, int]:
    index = {pid: i for i, pid in enumerate(world.product_ids)}
    world.feeds = {user: [np.array([index[p] for p in products if p in index])
                          for products, _, _ in entries] for user, entries in feeds.items()}
    hits = total = 0
    try:
        for day in range(start, start + days):
            t = world.tryon_day(day)
            tries = t.product[(t.action == TRY_ON) & (t.look < 0)]
            hits += int(tied_index[tries].sum())
            total += int(tries.size)
    finally:
        world.feeds = None
    return hits / max(total, 1), total


def run_seed(seed: int, args: argparse.Namespace, progress: Progress) -> dict:
    task = progress.add_task(f"seed {seed}", total=6)
    total_days = args.days + args.after
    config = SimulationConfig(users=args.users, days=total_days, seed=seed,
                              start=args.end - timedelta(days=args.days - 1),
                              looks=args.looks, look_sessions_per_user_per_week=2.0,
                              posts_per_day=10, feed_follow_share=args.follow)
    world = World.build(config)
    truth = world.truth["trend_shapes"]
    rising_truth = truth[truth["term_type"].isin([SHADE_FAMILY, FINISH])
                         & truth["shape"].isin(RISING_SHAPES)]
    truly_rising = set(rising_truth["term"])
    catalog = world.catalog
    tied_mask = (catalog["shade_family"].isin(rising_truth.loc[
        rising_truth["term_type"] == SHADE_FAMILY, "term"])
        | catalog["finish"].isin(rising_truth.loc[rising_truth["term_type"] == FINISH, "term"]))
    tied = set(catalog.loc[tied_mask, "product_id"])

    seen = observe(world, args.days)
    progress.advance(task)
    end = pd.Timestamp(args.end)
    ds = pd.date_range(world.config.start_date, periods=args.days, freq="D")
    jobs = [(term_type, term, pd.DataFrame({"ds": ds, "y": y}), end)
            for (term_type, term), y in sorted(seen["series"].items())]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            ranked = pd.DataFrame(list(pool.map(_fit, jobs)))
    else:  # in this process: no worker start-up (Prophet and statsforecast imports) per seed
        ranked = pd.DataFrame([_fit(job) for job in jobs])
    progress.advance(task)

    with tempfile.TemporaryDirectory(prefix="trend-loop-") as scratch:
        generator = train_generator(world, seen["pairs"], args.gan_steps, Path(scratch))
    shop = catalog.assign(launched_at=pd.to_datetime(catalog["launched_at_ms"], unit="ms", utc=True))
    matcher = ProductMatcher(shop)
    model = LocalLookModel(generator, matcher)
    progress.advance(task)

    weights = FeedWeights()
    faces = world.users[world.users["consented"]][["user_id", "skin_tone", "undertone"]]
    outcome = generate_trend_looks(model, 1, ranked, faces, shop,
                                   oversample=args.oversample, per_condition=args.per_condition,
                                   max_terms=6)
    plain = plain_looks(model, weights_looks_per_condition(), 1)
    with_trend = pd.concat([plain, trend_looks_for_feed(outcome.looks)], ignore_index=True)
    now = datetime.combine(args.end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    before_snapshot = build_snapshot(shop, None, live_popularity=seen["live"], looks=plain,
                                     look_version=1, now=now, weights=weights)
    after_snapshot = build_snapshot(shop, None, live_popularity=seen["live"], looks=with_trend,
                                    look_version=1, now=now, weights=weights)
    before = feeds_of(before_snapshot, seen["features"], world, args.k, now, weights)
    after = feeds_of(after_snapshot, seen["features"], world, args.k, now, weights)
    progress.advance(task)

    share_before, n_items = rising_share(before, tied)
    share_after, _ = rising_share(after, tied)
    reasons = Counter(reason for entries in after.values() for _, rs, _ in entries
                      for reason in rs if reason.startswith("rising: "))
    people_with = sum(any(r.startswith("rising: ") for _, rs, _ in entries for r in rs)
                      for entries in after.values())
    tied_index = tied_mask.to_numpy()
    try_before, n_tries = tryon_share(world, before, args.days, args.after, tied_index)
    progress.advance(task)
    try_after, _ = tryon_share(world, after, args.days, args.after, tied_index)
    progress.advance(task)
    called = ranked[ranked["trend_class"].isin(["rising", "breakout"])]
    looks_terms = sorted(set(outcome.looks["term"])) if len(outcome.looks) else []
    return {
        "seed": seed, "truly_rising": sorted(truly_rising),
        "called_rising": sorted(f"{r.term} ({r.trend_class})" for r in called.itertuples()),
        "look_terms": looks_terms, "n_trend_looks": outcome.n_looks,
        "trend_looks_truly_rising": float(np.mean([t in truly_rising for t in looks_terms]))
        if looks_terms else float("nan"),
        "feed_items": n_items, "people": len(after),
        "people_with_rising_reason": people_with, "rising_reasons": dict(reasons),
        "rising_share_before": share_before, "rising_share_after": share_after,
        "tryons_after_window": n_tries,
        "rising_tryon_share_before": try_before, "rising_tryon_share_after": try_after,
        "rising_tryon_lift": try_after / try_before - 1 if try_before else float("nan"),
    }


def weights_looks_per_condition() -> int:
    from glamcast.core.settings import Settings

    return Settings.model_fields["feed_looks_per_condition"].default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 13])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--days", type=int, default=60, help="observed days (the forecast's)")
    parser.add_argument("--after", type=int, default=14, help="days simulated after the loop")
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 12, 5),
                        help="last observed day")
    parser.add_argument("--looks", type=int, default=160)
    parser.add_argument("--follow", type=float, default=0.3,
                        help="feed_follow_share: share of product try-ons started from the feed")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--oversample", type=int, default=48)
    parser.add_argument("--per-condition", type=int, default=2)
    parser.add_argument("--gan-steps", type=int, default=150)
    parser.add_argument("--workers", type=int, default=1,
                        help="processes for the forecasts (1: in this process)")
    args = parser.parse_args()
    console = Console()
    started = time.perf_counter()
    rows = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        for seed in args.seeds:
            rows.append(run_seed(seed, args, progress))
            r = rows[-1]  # each seed's figures as soon as they are known
            progress.console.print(
                f"seed {seed}: rising share {r['rising_share_before']:.3f} → "
                f"{r['rising_share_after']:.3f}, rising try-on share "
                f"{r['rising_tryon_share_before']:.3f} → {r['rising_tryon_share_after']:.3f} "
                f"({r['rising_tryon_lift']:+.1%}), trend looks {r['n_trend_looks']} "
                f"({', '.join(r['look_terms'])}), {time.perf_counter() - started:.0f} s")
    table = Table(title=f"trend → look → feed loop ({args.users} people, {args.days}+{args.after} "
                        f"days, feed_follow_share {args.follow}, k {args.k})")
    for name in ("seed", "truly rising", "called rising", "trend looks (terms)",
                 "rising share of feed items before → after", "people with 'rising:'",
                 "rising try-on share before → after", "lift"):
        table.add_column(name)
    for r in rows:
        table.add_row(
            str(r["seed"]), ", ".join(r["truly_rising"]), ", ".join(r["called_rising"]) or "-",
            f"{r['n_trend_looks']} ({', '.join(r['look_terms']) or '-'})",
            f"{r['rising_share_before']:.3f} → {r['rising_share_after']:.3f}",
            f"{r['people_with_rising_reason']} / {r['people']}",
            f"{r['rising_tryon_share_before']:.3f} → {r['rising_tryon_share_after']:.3f}",
            f"{r['rising_tryon_lift']:+.1%}")
    console.print(table)
    mean = {key: round(float(np.nanmean([r[key] for r in rows])), 4) for key in (
        "rising_share_before", "rising_share_after", "rising_tryon_share_before",
        "rising_tryon_share_after", "rising_tryon_lift", "trend_looks_truly_rising")}
    result = {**mean, "seeds": args.seeds, "users": args.users, "follow": args.follow,
              "per_seed": [{key: r[key] for key in ("seed", "rising_share_before",
                                                    "rising_share_after", "rising_tryon_lift",
                                                    "n_trend_looks", "look_terms")}
                           for r in rows],
              "seconds": round(time.perf_counter() - started, 1)}
    print("RESULT " + json.dumps(result, default=float))


if __name__ == "__main__":
    main()
