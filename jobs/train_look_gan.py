"""The look GAN: a conditional GAN trained on the looks people engaged with, for their faces.

Reads
    The lake dataset `tryon` with --start <= ts < --end: events with a `look_id`, deduplicated by
    event_id; the positive ones (like, save, share, add_to_cart, purchase) of people who
    consented to send face attributes become training pairs, one per (person, look), with the
    person's latest face (skin tone, undertone, face shape). The lake dataset `looks` (one row per
    look and region, written by `glamcast looks publish` / `glamcast.simulator.looks`) gives each
    look's composition; the `catalog` dataset gives the products generated looks are matched to.

Does
    Holds out whole looks (a stable hash of look_id: the same looks every run, so runs compare on
    the same held-out data), fits the look space on the training pairs, and trains the GAN
    (`models.look_gan`) in a `TorchDistributor` process (beside the driver on a local master,
    in an executor on a cluster, `glamcast.platform.spark.torch_distributor`; use_gpu when the
    driver or the cluster's tasks hold a GPU, and CUDA whenever PyTorch sees one), with a
    progress bar fed by the trainer's progress file (on a cluster, when the executor shares the
    driver's file system) and checkpoints every `checkpoint_every` steps. Then generates one look per
    held-out pair (its face, no trend term) with the GAN and two baselines (a Gaussian per
    condition; the training look of the nearest face) and scores them per condition
    (undertone × skin-depth band): precision and recall (k-NN manifolds), novelty, conditional
    fidelity (`models.look_quality`); and how often the GAN's lips follow an asked shade family.

Logs (MLflow experiment `look_gan_experiment` of the settings, default `look_gan`)
    params: every hyperparameter (gan.*) and job option, the data window (data.*); metrics:
    row counts (rows.*), <model>.<metric> overall and <model>.<metric>.<condition> for gan,
    gaussian and nearest, novelty_threshold, term_fidelity(.<family>), train_s, samples_per_s,
    champion_score (and champion_before.score), the loss curves per step (train.wasserstein,
    train.critic_loss, train.generator_loss, train.gp); artifacts: plots/losses.png,
    plots/palettes.png (generated looks per condition, matched to products),
    evaluation/metrics.csv, evaluation/term_fidelity.csv, samples/palettes.csv,
    config/hyperparameters.json, config/job.json, and the pyfunc model ``model``
    (`models.look_gan_pyfunc`).

Writes
    Registers the model as a new version of the settings' `look_gan_model_name` (default
    `glamcast-look-gan`) and moves the alias ``champion`` to it only when its score (mean of
    precision and recall, with novelty ≥ `novelty_floor`) beats the current champion's score on
    this run's held-out looks (`glamcast.platform.model_registry.register_and_promote`).
    Checkpoints under ``<state_dir>/checkpoints/look_gan/`` (--resume continues from the newest).

Entry points: ``glamcast train look-gan ...`` and ``spark-submit jobs/train_look_gan.py ...`` (the
same options); tests call `train_look_gan_job` directly.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from glamcast.core.names import (
    CATALOG,
    DATE_COL,
    EVENT_ID_COL,
    LOOK_ID_COL,
    LOOKS,
    TRYON,
    TS_COL,
    USER_COL,
)
from glamcast.core.progress import ProgressCallback
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.commands import Opt, console, job_command, run_command_line, run_spark_job
from glamcast.platform.model_registry import (
    Registration,
    pip_requirements,
    register_and_promote,
    use_experiment,
)
from glamcast.platform.spark import torch_distributor
from models.look_baselines import GaussianLooks, MixtureLooks, NearestLooks
from models.look_gan import (
    ConditionPrior,
    LookGanConfig,
    LookGanFit,
    LookGenerator,
    boldness_of,
    train_look_gan,
)
from models.look_gan_pyfunc import (
    CATALOG_ARTIFACT,
    GENERATOR_ARTIFACT,
    LookGanModel,
    generate_shoppable,
)
from models.look_quality import (
    ALL,
    DEFAULT_K,
    NOVELTY_QUANTILE,
    distinct,
    evaluate_generators,
    nearest_distances,
    novelty_threshold,
    precision_recall,
)
from models.look_quality import novelty as novelty_share
from models.look_space import (
    CONDITION_GROUPS,
    CONDITION_SPACE,
    REGION_COL,
    UNDERTONES,
    Conditions,
    LookArrays,
    LookSpace,
    lip_terms,
    looks_from_frame,
)
from models.shoppable_looks import PaletteRow, ProductMatcher, plot_palettes

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MODELS = ("gan", "gaussian", "mixture", "nearest")
#: The baselines the GAN must beat on precision and recall (the copying one is a reference).
RIVALS = ("gaussian", "mixture")
#: Try-on actions that count as engaging positively with a look.
POSITIVE_ACTIONS = ("like", "save", "share", "add_to_cart", "purchase")
FACE_COLUMNS = {
    "face_skin_tone": "skin_tone",
    "face_undertone": "undertone",
    "face_shape": "face_shape",
}
#: Columns of the training pairs.
PAIR_COLUMNS = (USER_COL, LOOK_ID_COL, "skin_tone", "undertone", "face_shape", "n_positive")
#: Shade families asked for when measuring how well the GAN follows a trend term.
EVAL_FAMILIES = ("coral", "berry", "red", "nude", "pink")
#: Representative skin tone of each depth band in the palette grid.
PALETTE_TONES = {"light": 2, "medium": 5, "deep": 8}



#: How the sampling temperature is chosen on the validation looks (`calibrate_temperature`).
CALIBRATIONS = ("distance", "score")
#: Quantiles of the nearest-training-look distances matched by the "distance" calibration.
DISTANCE_QUANTILES = tuple(np.round(np.linspace(0.1, 0.9, 9), 2))


class LookGanInputError(ValueError):
    """The lake cannot train a look GAN (no try-ons with looks, no looks dataset, too few pairs)."""


@dataclass(frozen=True)
class TrainLookGanConfig:
    """One run of the job: what to read, the GAN, how to evaluate and register."""

    gan: LookGanConfig = field(default_factory=LookGanConfig)
    start: datetime | None = None  # first event time (inclusive); None: the beginning
    end: datetime | None = None  # end of the window (exclusive); None: everything
    heldout_share: float = 0.25  # share of looks (by a stable hash of look_id) held out for the test
    validation_share: float = 0.15  # share of the other looks kept to calibrate the temperature
    temperatures: tuple[float, ...] = tuple(0.75 + 0.125 * i for i in range(19))  # 0.75 … 3.0
    calibration: str = "distance"  # temperature by: "distance" (as far from training as new looks) | "score"
    group_temperatures: bool = False  # also calibrate one temperature per condition group
    condition_prior: bool = True  # draw open lip terms and boldness as the face's group chose them
    k: int = DEFAULT_K  # neighbours of the precision/recall manifolds
    novelty_quantile: float = NOVELTY_QUANTILE  # τ = this quantile of held-out NN distances
    novelty_floor: float = 0.5  # a model with less novelty never becomes champion
    min_pairs: int = 64  # fewer training pairs than this is an input error
    palette_looks: int = 6  # looks per condition in the palette grid
    eval_seed: int = 7  # seeds the evaluation draws (generators and baselines)
    distributed: bool = True  # train in a TorchDistributor process (False: in this process)
    resume: bool = False  # continue from the newest checkpoint in checkpoint_dir
    checkpoint_dir: Path | None = None  # None: <state_dir>/checkpoints/look_gan
    report_dir: Path | None = None  # None: a temporary directory logged to MLflow
    register: bool = True  # register the model and maybe move the champion alias
    experiment: str | None = None  # MLflow experiment; default: settings.look_gan_experiment
    registered_model: str | None = None  # model name; default: settings.look_gan_model_name

    def __post_init__(self) -> None:
        if not 0.0 < self.heldout_share < 1.0 or not 0.0 <= self.validation_share < 1.0:
            raise ValueError(
                "heldout_share must be in (0, 1) and validation_share in [0, 1), got "
                f"{self.heldout_share} and {self.validation_share}"
            )
        if not self.temperatures or min(self.temperatures) <= 0:
            raise ValueError(f"temperatures must be positive, got {self.temperatures}")
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {self.calibration!r}")

    def as_params(self) -> dict[str, Any]:
        """Flat run parameters: the job's options and every GAN hyperparameter (gan.*)."""
        params = {key: value for key, value in asdict(self).items() if key != "gan"}
        params = {
            key: "none"
            if value is None
            else ",".join(map(str, value))
            if isinstance(value, tuple)
            else str(value)
            for key, value in params.items()
        }
        return {**params, **self.gan.to_params()}


# --- reading the lake ----------------------------------------------------------------------------


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_positive_pairs(
    spark: SparkSession, settings: Settings, config: TrainLookGanConfig
) -> tuple[pd.DataFrame, dict[str, int], dict[str, str]]:
    """(pairs, row counts, data window) from the lake's try-ons, aggregated on Spark.

    pairs: `PAIR_COLUMNS`, one row per (person, look) with a positive action and a face.
    """
    import pyarrow.fs as pafs
    from pyspark.sql import functions as F

    fs, base = lake.filesystem(settings.lake_root)
    if fs.get_file_info(f"{base}/{TRYON}").type == pafs.FileType.NotFound:
        raise LookGanInputError(
            f"no {TRYON} dataset under {settings.lake_root}; run the "
            "streams (or write a simulated lake) first"
        )
    path = f"{settings.lake_root.rstrip('/')}/{TRYON}"
    events = spark.read.option("basePath", path).parquet(path)
    missing = [
        name
        for name in (EVENT_ID_COL, TS_COL, USER_COL, "action", LOOK_ID_COL, *FACE_COLUMNS)
        if name not in events.columns
    ]
    if missing:
        raise LookGanInputError(f"{TRYON} has no column(s) {missing}")
    start, end = _utc(config.start), _utc(config.end)
    if start is not None:
        events = events.where(
            (F.col(DATE_COL) >= start.date().isoformat())
            & (F.col(TS_COL) >= F.lit(start))
        )
    if end is not None:
        events = events.where(
            (F.col(DATE_COL) <= end.date().isoformat()) & (F.col(TS_COL) < F.lit(end))
        )
    looks = events.where(F.col(LOOK_ID_COL).isNotNull()).dropDuplicates([EVENT_ID_COL])
    positive = F.col("action").isin(list(POSITIVE_ACTIONS))
    with_face = positive & F.col("face_skin_tone").isNotNull()
    looks = looks.cache()
    try:
        stats = looks.agg(
            F.count(F.lit(1)).alias("look_events"),
            F.sum(positive.cast("long")).alias("positive_events"),
            F.sum(with_face.cast("long")).alias("positive_with_face"),
            F.countDistinct(USER_COL).alias("people"),
            F.min(TS_COL).alias("first"),
            F.max(TS_COL).alias("last"),
        ).first()
        pairs = (
            looks.where(with_face)
            .groupBy(USER_COL, LOOK_ID_COL)
            .agg(
                *(
                    F.max_by(F.col(source), F.col(TS_COL)).alias(target)
                    for source, target in FACE_COLUMNS.items()
                ),
                F.count(F.lit(1)).alias("n_positive"),
            )
            .toPandas()
        )
    finally:
        looks.unpersist()
    if stats is None or not stats["look_events"]:
        raise LookGanInputError(
            f"no try-ons with a look_id in {TRYON} "
            f"between {start or 'the start'} and {end or 'the end'}"
        )
    rows = {
        "rows.look_events": int(stats["look_events"]),
        "rows.positive_events": int(stats["positive_events"] or 0),
        "rows.positive_with_face": int(stats["positive_with_face"] or 0),
        "rows.look_people": int(stats["people"]),
        "rows.pairs": len(pairs),
    }
    window = {
        "data.start": str(start or "none"),
        "data.end": str(end or "none"),
        "data.first_event": str(stats["first"]),
        "data.last_event": str(stats["last"]),
    }
    pairs["skin_tone"] = pairs["skin_tone"].astype(int)
    return (
        pairs.sort_values([USER_COL, LOOK_ID_COL]).reset_index(drop=True)[list(PAIR_COLUMNS)],
        rows,
        window,
    )


def read_looks(settings: Settings) -> pd.DataFrame:
    """The `looks` dataset, the latest row per (look, region)."""
    frame = lake.read_dataset(settings, LOOKS)
    if frame.empty:
        raise LookGanInputError(
            f"no {LOOKS} dataset under {settings.lake_root}: publish the look catalogue "
            "first (`glamcast looks publish`)"
        )
    return frame.drop_duplicates([LOOK_ID_COL, REGION_COL], keep="last").reset_index(drop=True)


def read_products(settings: Settings, looks: pd.DataFrame) -> pd.DataFrame:
    """The products generated looks are matched to: the `catalog` dataset (latest record per
    product); without one, the products the looks are made of."""
    catalog = lake.read_dataset(settings, CATALOG)
    if catalog.empty:
        return looks.drop_duplicates("product_id")[
            ["product_id", "category", "shade_hex", "finish"]
        ]
    columns = ["product_id", "brand", "name", "category", "shade_hex", "finish", "price"]
    return catalog.drop_duplicates("product_id", keep="last")[columns].reset_index(drop=True)


# --- preparing tensors ---------------------------------------------------------------------------


TRAIN, VALIDATION, HELDOUT = "train", "validation", "heldout"


def _hashed_share(look_ids: Sequence[str], share: float, salt: str = "") -> np.ndarray:
    cut = round(share * 10_000)
    return np.array(
        [zlib.crc32(f"{salt}{look}".encode()) % 10_000 < cut for look in look_ids], dtype=bool
    )


def look_split(
    look_ids: Sequence[str], heldout_share: float, validation_share: float
) -> np.ndarray:
    """(n,) split of each look: `HELDOUT` (the test looks), `VALIDATION` or `TRAIN`.

    Stable hashes (CRC-32) of look_id: every run holds out the same looks, so runs and the
    champion compare on the same test looks, and a look is never in two splits.
    """
    heldout = _hashed_share(look_ids, heldout_share)
    validation = ~heldout & _hashed_share(look_ids, validation_share, salt="validation:")
    return np.where(heldout, HELDOUT, np.where(validation, VALIDATION, TRAIN)).astype(object)


@dataclass
class LookTrainingData:
    """Pairs of (face, look), split by look, encoded for the GAN and the metrics."""

    pairs: pd.DataFrame  # PAIR_COLUMNS + split
    looks: LookArrays  # the look of each pair
    conditions: Conditions  # each pair's face and its look's lip terms
    space: LookSpace  # fitted on the training pairs
    x: np.ndarray  # (pairs, LOOK_DIM) float32
    split: np.ndarray  # (pairs,) TRAIN | VALIDATION | HELDOUT
    rows: dict[str, int]

    @property
    def train(self) -> np.ndarray:
        return self.split == TRAIN

    @property
    def validation(self) -> np.ndarray:
        return self.split == VALIDATION

    @property
    def heldout(self) -> np.ndarray:
        return self.split == HELDOUT

    def faces(self, rows: np.ndarray) -> Conditions:
        """The faces of some pairs, without trend terms."""
        c = self.conditions.take(rows)
        return Conditions(
            c.skin_tone,
            c.undertone,
            c.face_shape,
            np.full(len(c), None, dtype=object),
            np.full(len(c), None, dtype=object),
        )


def prepare_training_data(
    pairs: pd.DataFrame,
    looks_frame: pd.DataFrame,
    heldout_share: float,
    validation_share: float = 0.0,
    min_pairs: int = 1,
) -> LookTrainingData:
    """Join pairs with the looks' composition, split by look, fit the space, encode."""
    look_ids, catalogue = looks_from_frame(looks_frame)
    index = pd.Index(look_ids).get_indexer(pairs[LOOK_ID_COL])
    known = index >= 0
    pairs = pairs[known].reset_index(drop=True)
    index = index[known]
    looks = catalogue.take(index)
    split = look_split(pairs[LOOK_ID_COL].to_numpy(), heldout_share, validation_share)
    rows = {"rows.pairs_unknown_look": int((~known).sum()), "rows.looks": len(look_ids)}
    for name in (TRAIN, VALIDATION, HELDOUT):
        rows[f"rows.{name}_pairs"] = int((split == name).sum())
        rows[f"rows.{name}_looks"] = int(pairs.loc[split == name, LOOK_ID_COL].nunique())
    train = split == TRAIN
    if train.sum() < max(1, min_pairs) or (split == HELDOUT).sum() == 0:
        raise LookGanInputError(
            f"{int(train.sum())} training and {int((split == HELDOUT).sum())} held-out pairs: too "
            f"few to train and evaluate (need ≥ {min_pairs} and ≥ 1); simulate or collect more "
            "look engagement, or widen the window"
        )
    families, finishes = lip_terms(looks)
    conditions = Conditions(
        pairs["skin_tone"].to_numpy(),
        pairs["undertone"].to_numpy(),
        np.array([None if pd.isna(v) else v for v in pairs["face_shape"]], dtype=object),
        families,
        finishes,
    )
    space = LookSpace.fit(looks.take(np.flatnonzero(train)))
    return LookTrainingData(
        pairs.assign(split=split), looks, conditions, space, space.encode(looks), split, rows
    )


# --- training ----------------------------------------------------------------------------------


class _ProgressTail(threading.Thread):
    """Follows the trainer's JSON-lines progress file and reports each new step."""

    def __init__(self, path: Path, report: ProgressCallback, stage: str, steps: int) -> None:
        super().__init__(daemon=True)
        self.path, self.report, self.stage, self.steps = path, report, stage, steps
        self.stopped = threading.Event()
        self.last: dict[str, Any] = {}

    def poll(self) -> None:
        if not self.path.exists():
            return
        lines = self.path.read_text().splitlines()
        if lines:
            with contextlib.suppress(json.JSONDecodeError):
                self.last = json.loads(lines[-1])
                self.report(self.stage, int(self.last["step"]), self.steps)

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            self.poll()


def fit_gan(
    spark: SparkSession | None,
    data: LookTrainingData,
    config: TrainLookGanConfig,
    checkpoint_dir: Path,
    report: ProgressCallback,
) -> LookGanFit:
    """Train on the training pairs: in a TorchDistributor process, or here when `spark` is None
    or `config.distributed` is off."""
    x, cond = (
        data.x[data.train],
        CONDITION_SPACE.encode(data.conditions.take(np.flatnonzero(data.train))),
    )
    boldness = boldness_of(data.looks.intensity[data.train])
    stage = "training look GAN (generator steps)"
    with tempfile.TemporaryDirectory(prefix="look-gan-") as scratch:
        progress_path = Path(scratch) / "progress.jsonl"
        tail = _ProgressTail(progress_path, report, stage, config.gan.steps)
        report(stage, 0, config.gan.steps)
        tail.start()
        kwargs = {
            "checkpoint_dir": str(checkpoint_dir),
            "progress_path": str(progress_path),
            "resume": config.resume,
            "boldness": boldness,
        }
        try:
            if spark is not None and config.distributed:
                # Beside the driver on a local master, in an executor on a cluster.
                distributor = torch_distributor(spark, num_processes=1)
                fit = distributor.run(train_look_gan, x, cond, asdict(config.gan), **kwargs)
            else:
                fit = train_look_gan(x, cond, asdict(config.gan), **kwargs)
        finally:
            tail.stopped.set()
            tail.join()
            tail.poll()
    report(stage, config.gan.steps, config.gan.steps)
    return fit


def condition_prior(data: LookTrainingData, skeleton: bool = False) -> ConditionPrior:
    """The open conditions' prior of the training pairs: each pair's group, its look's lip terms
    and boldness (the values the generator was trained with), and with `skeleton` its look's
    categories and finishes."""
    rows = np.flatnonzero(data.train)
    return ConditionPrior.from_pairs(
        data.conditions.take(rows),
        boldness_of(data.looks.intensity[rows]),
        data.x[rows] if skeleton else None,
    )


# --- evaluation ----------------------------------------------------------------------------------


Sampler = Callable[[Conditions, int], np.ndarray]  # (conditions, seed) → look vectors


def gan_sampler(generator: LookGenerator, space: LookSpace) -> Sampler:
    """Looks of a generator re-encoded in `space` (a champion may have its own space)."""
    return lambda conditions, seed: space.encode(generator.generate(conditions, seed))


def baseline_samplers(data: LookTrainingData) -> dict[str, Sampler]:
    """gaussian, mixture (its size chosen on the validation looks) and nearest."""
    train_rows, validation_rows = np.flatnonzero(data.train), np.flatnonzero(data.validation)
    gaussian = GaussianLooks.fit(data.x[train_rows], data.conditions.take(train_rows).groups())
    mixture, _ = MixtureLooks.fit_validated(
        data.x[train_rows],
        data.conditions.take(train_rows).groups(),
        data.x[validation_rows],
        data.conditions.take(validation_rows).groups(),
    )
    nearest = NearestLooks.fit(data.x[train_rows], data.conditions.take(train_rows))
    space = data.space
    return {
        "gaussian": lambda c, seed: space.encode(
            space.decode(gaussian.sample(c.groups(), np.random.default_rng(seed)))
        ),
        "mixture": lambda c, seed: space.encode(
            space.decode(mixture.sample(c.groups(), np.random.default_rng(seed)))
        ),
        "nearest": lambda c, seed: nearest.sample(c, np.random.default_rng(seed)),
    }


@dataclass
class Evaluation:
    table: pd.DataFrame  # model, group, n, precision, recall, novelty, fidelity_accuracy, fidelity
    facts: dict[str, float]  # novelty_threshold, real_fidelity_accuracy(.group)
    term_fidelity: pd.DataFrame  # family, asked, share_matching (the GAN's lips)

    def overall(self, model: str) -> dict[str, float]:
        row = self.table[(self.table["model"] == model) & (self.table["group"] == ALL)].iloc[0]
        return {
            name: float(row[name])
            for name in ("precision", "recall", "novelty", "fidelity_accuracy", "fidelity")
        }


def champion_score(precision: float, recall: float, novelty: float, floor: float) -> float:
    """What the champion is chosen by: mean of precision and recall; −inf below the novelty floor."""
    if any(math.isnan(v) for v in (precision, recall, novelty)) or novelty < floor:
        return -math.inf
    return (precision + recall) / 2.0


def term_fidelity(generator: LookGenerator, faces: Conditions, seed: int) -> pd.DataFrame:
    """For each family of `EVAL_FAMILIES`: the share of looks asked for it whose lips have it."""
    rows = []
    for offset, family in enumerate(EVAL_FAMILIES):
        looks = generator.generate(faces.with_terms(family=family), seed + offset)
        families, _ = lip_terms(looks)
        rows.append(
            {
                "family": family,
                "asked": len(faces),
                "share_matching": float((families == family).mean()),
            }
        )
    return pd.DataFrame(rows)


#: Boldness levels asked when measuring how generated intensity follows the boldness condition.
BOLDNESS_LEVELS = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


def boldness_response(
    generator: LookGenerator, faces: Conditions, seed: int
) -> tuple[float, pd.DataFrame]:
    """How generated intensity follows asked boldness: each face is asked one of
    `BOLDNESS_LEVELS` (in turn); returns (Spearman correlation between the asked boldness and the
    mean intensity of each generated look, table of level → mean of the looks' mean intensity).
    NaN and an empty table for a generator without a boldness condition."""
    if not generator.config.boldness or len(faces) == 0:
        return math.nan, pd.DataFrame(columns=["boldness", "looks", "mean_intensity"])
    from scipy.stats import spearmanr

    asked = np.resize(np.asarray(BOLDNESS_LEVELS), len(faces))
    intensity = generator.generate(faces, seed, boldness=asked).intensity.mean(axis=1)
    table = (
        pd.DataFrame({"boldness": asked, "mean_intensity": intensity})
        .groupby("boldness", as_index=False)
        .agg(looks=("mean_intensity", "size"), mean_intensity=("mean_intensity", "mean"))
    )
    return float(spearmanr(asked, intensity).statistic), table


def evaluate(
    data: LookTrainingData,
    samplers: dict[str, Sampler],
    generator: LookGenerator,
    config: TrainLookGanConfig,
) -> Evaluation:
    """Score every sampler on the held-out pairs (one look per pair, asked for its face)."""
    train_rows, held_rows = np.flatnonzero(data.train), np.flatnonzero(data.heldout)
    faces = data.faces(held_rows)
    generated = {name: sampler(faces, config.eval_seed) for name, sampler in samplers.items()}
    table, facts = evaluate_generators(
        data.x[train_rows],
        data.conditions.take(train_rows).groups(),
        data.x[held_rows],
        faces.groups(),
        generated,
        k=config.k,
        quantile=config.novelty_quantile,
        seed=config.eval_seed,
    )
    spearman, levels = boldness_response(generator, faces, config.eval_seed)
    facts = {**facts, "boldness_spearman": spearman}
    for row in levels.itertuples(index=False):
        facts[f"boldness_intensity.{row.boldness:.1f}"] = float(row.mean_intensity)
    return Evaluation(table, facts, term_fidelity(generator, faces, config.eval_seed))


def score_on(
    sampler: Sampler,
    data: LookTrainingData,
    rows: np.ndarray,
    config: TrainLookGanConfig,
    threshold: float,
    fake: np.ndarray | None = None,
) -> dict[str, float]:
    """Overall precision, recall and novelty of one sampler on some pairs (the validation or the
    held-out ones), the way `evaluate` computes them: per condition, weighted by pairs. `fake`:
    the sampler's looks for those pairs (its `eval_seed` draw) when the caller has them."""
    faces = data.faces(rows)
    real = data.x[rows]
    fake = sampler(faces, config.eval_seed) if fake is None else fake
    train = data.x[data.train]
    groups = faces.groups()
    totals = {"precision": 0.0, "recall": 0.0, "novelty": 0.0}
    weight = 0
    for group in np.unique(groups):
        mine = groups == group
        precision, recall = precision_recall(real[mine], fake[mine], config.k)
        if math.isnan(precision) or math.isnan(recall):
            continue
        n = int(mine.sum())
        totals["precision"] += n * precision
        totals["recall"] += n * recall
        totals["novelty"] += n * novelty_share(fake[mine], train, threshold)
        weight += n
    return {key: value / weight if weight else math.nan for key, value in totals.items()}


def distance_error(fake: np.ndarray, real: np.ndarray, train: np.ndarray) -> float:
    """How differently far from the training looks `fake` looks lie than `real` ones: the RMS
    difference of the `DISTANCE_QUANTILES` of their nearest-training-look distances."""
    if len(fake) == 0 or len(real) == 0:
        return math.nan
    quantiles = np.asarray(DISTANCE_QUANTILES)
    mine = np.quantile(nearest_distances(fake, train), quantiles)
    theirs = np.quantile(nearest_distances(real, train), quantiles)
    return float(np.sqrt(np.mean((mine - theirs) ** 2)))


def calibrate_temperature(
    generator: LookGenerator, data: LookTrainingData, config: TrainLookGanConfig
) -> tuple[float, pd.DataFrame]:
    """The temperature (z spread) for the validation looks, which neither training nor the test
    uses; 1.0 when there are none. Returns (temperature, table of every candidate).

    `config.calibration` "distance" (default): the temperature whose looks, asked for the
    validation faces, lie as far from the training looks as the validation looks do (the
    smallest `distance_error`): a temperature sets how far from what it learnt a generator
    strays, and new real looks say how far that should be. The distances are to the training
    set, so the rule does not depend on how many validation looks there are; precision and recall
    do (k-NN balls over 13–35 distinct looks per condition are wider than over the test's 46–88),
    and the best "score" (mean of validation precision and recall) sat 0.25–0.5 below the test's
    best temperature on a development world. "score": that best score (ties: nearest 1)."""
    rows = np.flatnonzero(data.validation)
    columns = ["temperature", "precision", "recall", "novelty", "score", "distance_error"]
    if rows.size == 0:
        return 1.0, pd.DataFrame(columns=columns)
    threshold = novelty_threshold(data.x[rows], data.x[data.train], config.novelty_quantile)
    train = distinct(data.x[data.train])
    scores = []
    for temperature in config.temperatures:
        sampler = gan_sampler(generator.with_temperature(temperature), data.space)
        fake = sampler(data.faces(rows), config.eval_seed)
        result = score_on(sampler, data, rows, config, threshold, fake)
        scores.append(
            {
                "temperature": temperature,
                **result,
                "score": champion_score(
                    result["precision"], result["recall"], result["novelty"], config.novelty_floor
                ),
                "distance_error": distance_error(fake, data.x[rows], train),
            }
        )
    table = pd.DataFrame(scores, columns=columns)
    if config.calibration == "distance":
        best = table.loc[table["distance_error"].idxmin()]
        return float(best["temperature"]), table
    # the best score; among equals, the temperature nearest 1 (sampling as trained)
    order = table.assign(distance=(table["temperature"] - 1.0).abs()).sort_values(
        ["score", "distance"], ascending=[False, True]
    )
    best = order.iloc[0]
    return (float(best["temperature"]) if math.isfinite(best["score"]) else 1.0), table


#: Validation draws averaged per temperature when calibrating per condition group.
GROUP_CALIBRATION_DRAWS = 2


def calibrate_group_temperatures(
    generator: LookGenerator, data: LookTrainingData, config: TrainLookGanConfig
) -> tuple[dict[str, float], pd.DataFrame]:
    """Per condition group, the temperature of `config.temperatures` that `calibrate_temperature`'s
    rule picks on that group's validation pairs (means over `GROUP_CALIBRATION_DRAWS` draws):
    the smallest `distance_error` ("distance"), or the best champion score ("score"); among
    candidates within 0.005 of the best, the one nearest the generator's own temperature. Groups
    without validation pairs keep the generator's temperature. Returns (temperatures, table)."""
    rows = np.flatnonzero(data.validation)
    columns = ["group", "temperature", "precision", "recall", "novelty", "score", "distance_error"]
    if rows.size == 0:
        return {}, pd.DataFrame(columns=columns)
    threshold = novelty_threshold(data.x[rows], data.x[data.train], config.novelty_quantile)
    faces, real, train = data.faces(rows), data.x[rows], data.x[data.train]
    train_points = distinct(train)
    groups = faces.groups()
    records = []
    for temperature in config.temperatures:
        hot = generator.with_temperature(temperature).with_group_temperatures({})
        draws = [
            data.space.encode(hot.generate(faces, config.eval_seed + draw))
            for draw in range(GROUP_CALIBRATION_DRAWS)
        ]
        for group in np.unique(groups):
            mine = groups == group
            values = np.array(
                [
                    (*precision_recall(real[mine], fake[mine], config.k),
                     novelty_share(fake[mine], train, threshold))
                    for fake in draws
                ]
            ).mean(axis=0)
            records.append(
                {
                    "group": group,
                    "temperature": temperature,
                    "precision": values[0],
                    "recall": values[1],
                    "novelty": values[2],
                    "score": champion_score(*values, config.novelty_floor),
                    "distance_error": float(
                        np.mean([distance_error(fake[mine], real[mine], train_points)
                                 for fake in draws])
                    ),
                }
            )
    table = pd.DataFrame(records, columns=columns)
    # every rule as "higher is better"
    table["_merit"] = (
        -table["distance_error"] if config.calibration == "distance" else table["score"]
    )
    chosen: dict[str, float] = {}
    for group, part in table.groupby("group"):
        finite = part[np.isfinite(part["_merit"])]
        if finite.empty:
            continue
        near_best = finite[finite["_merit"] >= finite["_merit"].max() - 0.005]
        distance = (near_best["temperature"] - generator.temperature).abs()
        chosen[str(group)] = float(near_best.loc[distance.idxmin(), "temperature"])
    return chosen, table.drop(columns="_merit")


# --- palettes and plots ------------------------------------------------------------------------------


def palette_requests(looks: int) -> list[tuple[str, dict[str, Any]]]:
    """(label, request) rows of the palette grid: every condition, then two trend asks."""
    rows = [
        (
            f"{undertone} / {band} (Monk {tone})",
            {"skin_tone": tone, "undertone": undertone, "n": looks},
        )
        for undertone in UNDERTONES
        for band, tone in PALETTE_TONES.items()
    ]
    rows.append(
        (
            "coral · warm / medium",
            {"skin_tone": 5, "undertone": "warm", "n": looks, "shade_family": "coral"},
        )
    )
    rows.append(
        (
            "berry · cool / deep",
            {"skin_tone": 8, "undertone": "cool", "n": looks, "shade_family": "berry"},
        )
    )
    return rows


def write_palettes(
    generator: LookGenerator, matcher: ProductMatcher, looks: int, out_dir: Path, seed: int
) -> tuple[Path, pd.DataFrame]:
    """plots/palettes.png and samples/palettes.csv: generated looks per condition, as products."""
    requests = palette_requests(looks)
    frame = pd.DataFrame([{**request, "seed": seed} for _, request in requests])
    shoppable = generate_shoppable(generator, matcher, frame)
    shoppable.insert(0, "condition", [requests[i][0] for i in shoppable["request"]])
    rows = [
        PaletteRow(label, int(request["skin_tone"]), shoppable[shoppable["request"] == i])
        for i, (label, request) in enumerate(requests)
    ]
    path = plot_palettes(
        rows,
        out_dir / "plots" / "palettes.png",
        title="Generated looks per condition (matched products)",
    )
    (out_dir / "samples").mkdir(parents=True, exist_ok=True)
    shoppable.to_csv(out_dir / "samples" / "palettes.csv", index=False)
    return path, shoppable


def plot_losses(history: dict[str, list[float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    steps = history["step"]
    axes[0].plot(steps, history["wasserstein"], color="tab:blue")
    axes[0].set_title("critic's Wasserstein estimate E[D(real)] − E[D(fake)]")
    axes[1].plot(steps, history["critic_loss"], label="critic loss")
    axes[1].plot(steps, history["generator_loss"], label="generator loss")
    axes[1].legend()
    axes[1].set_title("losses")
    axes[2].plot(steps, history["gp"], color="tab:red")
    axes[2].set_title("gradient penalty")
    for ax in axes:
        ax.set_xlabel("generator step")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --- the job -------------------------------------------------------------------------------------


@dataclass
class TrainLookGanResult:
    config: TrainLookGanConfig
    run_id: str | None
    rows: dict[str, int]
    window: dict[str, str]
    evaluation: Evaluation
    fit: LookGanFit
    generator: LookGenerator
    metrics: dict[str, float]
    report_dir: Path
    palettes: pd.DataFrame  # the shoppable looks of the palette grid
    registration: Registration | None = None
    baselines: dict[str, Sampler] = field(default_factory=dict)  # reusable on the same pairs  # the registered version and the champion decision

    @property
    def score(self) -> float:
        return self.metrics["champion_score"]


def flat_metrics(evaluation: Evaluation) -> dict[str, float]:
    """<model>.<metric> (overall) and <model>.<metric>.<condition> for MLflow."""
    out: dict[str, float] = {}
    for row in evaluation.table.itertuples(index=False):
        suffix = "" if row.group == ALL else f".{row.group}"
        for metric in ("precision", "recall", "novelty", "fidelity_accuracy", "fidelity"):
            value = float(getattr(row, metric))
            if not math.isnan(value):
                out[f"{row.model}.{metric}{suffix}"] = value
    out.update(
        {key: float(value) for key, value in evaluation.facts.items() if not math.isnan(value)}
    )
    for row in evaluation.term_fidelity.itertuples(index=False):
        out[f"term_fidelity.{row.family}"] = row.share_matching
    out["term_fidelity"] = float(evaluation.term_fidelity["share_matching"].mean())
    return out


def train_look_gan_job(
    spark: SparkSession | None,
    settings: Settings,
    config: TrainLookGanConfig,
    on_progress: ProgressCallback | None = None,
    log_to_mlflow: bool = True,
) -> TrainLookGanResult:
    """Read, train, evaluate, log, register, promote (see the module docstring).

    `on_progress(stage, done, total)` hears about each stage. Without `log_to_mlflow` nothing is
    logged or registered (the benchmark uses that). `spark` None reads nothing from Spark: only
    for callers that pass `pairs` through `train_look_gan_on`.
    """
    report = on_progress or (lambda stage, done, total: None)
    if spark is None:
        raise LookGanInputError("reading the lake needs a SparkSession")
    report("reading the lake", None, None)
    pairs, rows, window = read_positive_pairs(spark, settings, config)
    looks_frame = read_looks(settings)
    products = read_products(settings, looks_frame)
    return train_look_gan_on(
        spark, settings, config, pairs, looks_frame, products, rows, window, report, log_to_mlflow
    )


def train_look_gan_on(
    spark: SparkSession | None,
    settings: Settings,
    config: TrainLookGanConfig,
    pairs: pd.DataFrame,
    looks_frame: pd.DataFrame,
    products: pd.DataFrame,
    rows: dict[str, int],
    window: dict[str, str],
    report: ProgressCallback,
    log_to_mlflow: bool = True,
    baselines: dict[str, Sampler] | None = None,
) -> TrainLookGanResult:
    """The job after reading: prepare, train, evaluate, log and register. `baselines`: samplers
    from an earlier result on the same pairs and options (`result.baselines`), so several GAN
    seeds share one fit of the baselines; None fits them (`baseline_samplers`)."""
    report("preparing tensors", None, None)
    data = prepare_training_data(
        pairs, looks_frame, config.heldout_share, config.validation_share, config.min_pairs
    )
    rows = {**rows, **data.rows, "rows.catalog_products": len(products)}
    matcher = ProductMatcher(products)
    if log_to_mlflow:
        import mlflow

        # the names from the settings, as the run's params and the result record them
        config = replace(config, experiment=config.experiment or settings.look_gan_experiment,
                         registered_model=config.registered_model or settings.look_gan_model_name)
        use_experiment(settings, config.experiment)
        tracking: Any = mlflow.start_run(run_name=f"look-gan {window['data.last_event'][:10]}")
    else:
        tracking = contextlib.nullcontext()
    scratch = tempfile.TemporaryDirectory(prefix="look-gan-report-")
    report_dir = config.report_dir or Path(scratch.name)
    report_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tracking as run:
            run_id = run.info.run_id if run is not None else None
            checkpoint_dir = (
                config.checkpoint_dir or settings.state_path / "checkpoints" / "look_gan"
            )
            fit = fit_gan(spark, data, config, checkpoint_dir, report)
            report("calibrating the temperature", None, None)
            prior = (
                condition_prior(data, config.gan.skeleton)
                if config.condition_prior or config.gan.skeleton
                else None
            )
            trained = LookGenerator.from_fit(fit, data.space, prior)
            temperature, calibration = calibrate_temperature(trained, data, config)
            generator = trained.with_temperature(temperature)
            if config.group_temperatures:
                by_group, group_calibration = calibrate_group_temperatures(
                    generator, data, config
                )
                generator = generator.with_group_temperatures(by_group)
            else:
                group_calibration = pd.DataFrame()
            report("evaluating", None, None)
            report("fitting the baselines", None, None)
            baselines = baselines if baselines is not None else baseline_samplers(data)
            samplers = {"gan": gan_sampler(generator, data.space), **baselines}
            evaluation = evaluate(data, samplers, generator, config)
            gan = evaluation.overall("gan")
            metrics = {
                **flat_metrics(evaluation),
                "train_s": fit.train_s,
                "temperature": temperature,
                **{f"temperature.{g}": t for g, t in generator.group_temperatures.items()},
                "samples_per_s": fit.samples_per_s,
                "champion_score": champion_score(
                    gan["precision"], gan["recall"], gan["novelty"], config.novelty_floor
                ),
            }
            report("plotting", None, None)
            _, palettes = write_palettes(
                generator, matcher, config.palette_looks, report_dir, config.eval_seed
            )
            plot_losses(fit.history, report_dir / "plots" / "losses.png")
            _write_tables(report_dir, evaluation, fit, config)
            calibration.to_csv(report_dir / "evaluation" / "temperature.csv", index=False)
            group_calibration.to_csv(
                report_dir / "evaluation" / "group_temperature.csv", index=False
            )
            result = TrainLookGanResult(
                config,
                run_id,
                rows,
                window,
                evaluation,
                fit,
                generator,
                metrics,
                report_dir,
                palettes,
                baselines=baselines,
            )
            if run is not None:
                _log_run(result, data, matcher, products, settings, report)
    finally:
        if config.report_dir is None:
            scratch.cleanup()
    report("done", 1, 1)
    return result


def _write_tables(
    out: Path, evaluation: Evaluation, fit: LookGanFit, config: TrainLookGanConfig
) -> None:
    (out / "evaluation").mkdir(parents=True, exist_ok=True)
    evaluation.table.to_csv(out / "evaluation" / "metrics.csv", index=False)
    evaluation.term_fidelity.to_csv(out / "evaluation" / "term_fidelity.csv", index=False)
    (out / "config").mkdir(parents=True, exist_ok=True)
    (out / "config" / "hyperparameters.json").write_text(json.dumps(fit.config, indent=2))
    (out / "config" / "job.json").write_text(json.dumps(config.as_params(), indent=2))


def _log_run(
    result: TrainLookGanResult,
    data: LookTrainingData,
    matcher: ProductMatcher,
    products: pd.DataFrame,
    settings: Settings,
    report: ProgressCallback,
) -> None:
    import mlflow
    from mlflow.entities import Metric

    from models.look_gan_pyfunc import signature

    config, fit = result.config, result.fit
    report("logging to MLflow", None, None)
    mlflow.log_params(
        {
            key: str(value)[:500]
            for key, value in {**config.as_params(), **result.window, "device": fit.device}.items()
        }
    )
    mlflow.set_tags(
        {
            "glamcast.job": "train_look_gan",
            "glamcast.window": f"{result.window['data.first_event']}..{result.window['data.last_event']}",
        }
    )
    finite = {k: v for k, v in result.metrics.items() if math.isfinite(v)}
    mlflow.log_metrics({**{k: float(v) for k, v in result.rows.items()}, **finite})
    client = mlflow.MlflowClient()
    now = int(time.time() * 1000)
    curves = [
        Metric(f"train.{name}", float(value), now, int(step))
        for name in ("wasserstein", "critic_loss", "generator_loss", "gp")
        for step, value in zip(fit.history["step"], fit.history[name], strict=True)
    ]
    for lo in range(0, len(curves), 900):
        client.log_batch(result.run_id, metrics=curves[lo : lo + 900])
    mlflow.log_artifacts(str(result.report_dir))
    with tempfile.TemporaryDirectory() as scratch:
        generator_path = result.generator.save(Path(scratch) / "look_generator.pt")
        catalog_path = Path(scratch) / "catalog.parquet"
        products.to_parquet(catalog_path, index=False)
        example = pd.DataFrame(
            {
                "skin_tone": [7],
                "undertone": ["warm"],
                "face_shape": ["oval"],
                "shade_family": ["coral"],
                "finish": ["satin"],
                "n": [2],
                "seed": [0],
            }
        )
        output = generate_shoppable(result.generator, matcher, example)
        logged = mlflow.pyfunc.log_model(
            name="model",
            python_model=LookGanModel(),
            artifacts={
                GENERATOR_ARTIFACT: str(generator_path),
                CATALOG_ARTIFACT: str(catalog_path),
            },
            signature=signature(output),
            input_example=example,
            pip_requirements=pip_requirements("pyarrow", "torch"),
        )
    if not config.register:
        return
    report("registering", None, None)

    def score_champion(champion: Any) -> float:
        # the champion's looks, encoded in this run's space, against this run's held-out looks
        old = score_on(
            gan_sampler(champion.unwrap_python_model().generator, data.space),
            data,
            np.flatnonzero(data.heldout),
            config,
            result.evaluation.facts["novelty_threshold"],
        )
        mlflow.log_metrics({f"champion_before.{k}": v for k, v in old.items()})
        return champion_score(old["precision"], old["recall"], old["novelty"], config.novelty_floor)

    result.registration = register_and_promote(
        settings,
        config.registered_model or settings.look_gan_model_name,
        logged.model_uri,
        result.score,
        score_champion,
        greater_is_better=True,
        score_name="score",
        version_tags={
            "run_id": str(result.run_id),
            "score": f"{result.score:.4f}",
            "window": f"{result.window['data.first_event']}..{result.window['data.last_event']}",
        },
    )


# --- entry points ------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


def evaluation_table(evaluation: Evaluation, title: str) -> Any:
    """A rich table: one row per condition, precision/recall/novelty of every model side by side,
    and a flag where the GAN does not beat the Gaussian or falls under novelty 0.5."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("condition")
    table.add_column("n", justify="right")
    for model in MODELS:
        for metric in ("P", "R", "nov"):
            table.add_column(f"{model} {metric}", justify="right")
    table.add_column("condition acc. gan / real", justify="right")
    table.add_column("check")
    frame = evaluation.table.set_index(["model", "group"])
    facts = evaluation.facts
    for group in (ALL, *[g for g in CONDITION_GROUPS if (("gan", g) in frame.index)]):
        cells, gan = [], frame.loc[("gan", group)]
        for model in MODELS:
            row = frame.loc[(model, group)]
            cells += [_fmt(row["precision"]), _fmt(row["recall"]), _fmt(row["novelty"])]
        real = facts.get("real_fidelity_accuracy" + ("" if group == ALL else f".{group}"), math.nan)
        failed = failed_checks(evaluation, group)
        table.add_row(
            group,
            str(int(gan["n"])),
            *cells,
            f"{_fmt(gan['fidelity_accuracy'])} / {_fmt(real)}",
            "[green]ok[/]" if not failed else f"[red]{', '.join(failed)}[/]",
        )
    return table


def failed_checks(evaluation: Evaluation, group: str = ALL, floor: float = 0.5) -> list[str]:
    """What the GAN fails in one condition: precision or recall not above each rival's
    (`RIVALS`: the Gaussian's and the mixture's), novelty under `floor`."""
    frame = evaluation.table.set_index(["model", "group"])
    gan = frame.loc[("gan", group)]
    failed = []
    for rival in RIVALS:
        if (rival, group) not in frame.index:
            continue
        other = frame.loc[(rival, group)]
        for metric in ("precision", "recall"):
            if not gan[metric] > other[metric]:
                failed.append(f"{metric} ≤ {rival}")
    if not gan["novelty"] > floor:
        failed.append(f"novelty ≤ {floor}")
    return failed


def print_report(result: TrainLookGanResult, console: Any) -> None:
    """Data, the evaluation table, training speed, palettes, and the registry outcome."""
    rows, window, fit = result.rows, result.window, result.fit
    console.print(
        f"[bold]tryon[/] {window['data.first_event']} .. {window['data.last_event']}: "
        f"{rows['rows.look_events']} look events, {rows['rows.positive_with_face']} positive with a "
        f"face → {rows['rows.train_pairs']} training / {rows['rows.validation_pairs']} validation / "
        f"{rows['rows.heldout_pairs']} held-out pairs ({rows['rows.train_looks']} / "
        f"{rows['rows.validation_looks']} / {rows['rows.heldout_looks']} looks)"
    )
    console.print(evaluation_table(result.evaluation, "Held-out looks: precision, recall, novelty"))
    facts = result.evaluation.facts
    console.print(
        f"novelty threshold τ = {facts['novelty_threshold']:.3f}; condition classifier "
        f"balanced accuracy on real held-out looks {facts['real_fidelity_accuracy']:.3f}"
    )
    terms = ", ".join(
        f"{row.family} {row.share_matching:.0%}"
        for row in result.evaluation.term_fidelity.itertuples(index=False)
    )
    console.print(f"lips follow the asked family: {terms}")
    console.print(
        f"training: {fit.steps} steps on {fit.device} in {fit.train_s:.1f} s, "
        f"{fit.samples_per_s:,.0f} samples/s; sampling temperature "
        f"{result.metrics['temperature']:.1f} (calibrated on the validation looks)"
    )
    registration = result.registration
    if registration is not None:
        before = (
            ""
            if registration.champion_score_before is None
            else f" (champion v{registration.champion_before} on these looks: "
            f"{registration.champion_score_before:.4f})"
        )
        verdict = (
            "[green]promoted to champion[/]" if registration.promoted else "[yellow]not promoted[/]"
        )
        console.print(
            f"registered {registration.model_name} v{registration.version}, score "
            f"{registration.score:.4f}: {verdict}{before}"
        )
    if result.run_id:
        console.print(f"MLflow run {result.run_id} in experiment {result.config.experiment!r}")


# --- the command ----------------------------------------------------------------------------------


def run_command(settings: Settings, config: TrainLookGanConfig) -> TrainLookGanResult:
    """Train on a Spark session with a progress display, then print the report."""
    result = run_spark_job(
        settings, "train_look_gan",
        lambda spark, on_progress: train_look_gan_job(spark, settings, config,
                                                      on_progress=on_progress),
        input_error=LookGanInputError, gpu=True,
    )
    print_report(result, console)
    return result


#: `glamcast train look-gan`: options of TrainLookGanConfig and of the GAN's LookGanConfig.
command = job_command(
    TrainLookGanConfig,
    [
        "start", "end",
        Opt("gan.steps", typer={"min": 1}),
        Opt("gan.batch_size", typer={"min": 4}),
        Opt("gan.latent_dim", typer={"min": 1}),
        Opt("gan.hidden", typer={"min": 8}),
        Opt("gan.n_critic", typer={"min": 1}),
        Opt("gan.gp_weight", typer={"min": 0}),
        Opt("gan.lr_generator", flag="lr", also=("gan.lr_critic",), typer={"min": 0},
            help="Adam learning rate of both networks."),
        Opt("gan.pac", typer={"min": 1}),
        Opt("gan.term_dropout", typer={"min": 0, "max": 1}),
        "gan.device",
        Opt("gan.threads", typer={"min": 0}),
        Opt("gan.checkpoint_every", typer={"min": 0}),
        "resume",
        Opt("heldout_share", typer={"min": 0.01, "max": 0.99}),
        Opt("k", typer={"min": 1}),
        "distributed", "register", "experiment",
        Opt("gan.seed", flag="seed", help="Seed of the GAN."),
    ],
    run_command,
    doc="Train the conditional look GAN on the lake's look engagement, evaluate it, register it.",
)


def main(argv: Sequence[str] | None = None) -> None:
    """``spark-submit jobs/train_look_gan.py [options]``: the options of
    ``glamcast train look-gan``."""
    run_command_line(command, argv, prog_name="train_look_gan.py")


if __name__ == "__main__":
    main()
