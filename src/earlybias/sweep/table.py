"""A sweep's results, rebuilt from its run directories alone: a tidy table (Parquet and CSV), a
figure of each headline metric against each varied parameter, and a Markdown summary.

One row per point of ``sweep.yaml``: ``point``, ``status`` (``done``, ``failed`` with the error
of ``failures.yaml``, or ``missing``), the point's parameters, its metrics, its claims counted
by outcome, its run time and its provenance (``results.json``, DESIGN.md "Contracts").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from earlybias.chapters import get_chapter
from earlybias.claims import Claim
from earlybias.params import ParamError
from earlybias.results import RESULTS, atomic_write, load_results
from earlybias.sweep.cluster import FAILURES
from earlybias.sweep.grid import POINTS, SWEEP_FILE

TABLE = "table"
SUMMARY = "summary.md"
FIGURES = "figures"
PROVENANCE = ("git_commit", "python", "torch", "numpy", "threads", "started_at")


def read_request(sweep_dir: Path) -> dict:
    """The ``sweep.yaml`` of ``sweep_dir``, or a :class:`ParamError` saying it is no sweep."""
    path = Path(sweep_dir) / SWEEP_FILE
    if not path.is_file():
        raise ParamError(f"--collect {sweep_dir}: not a sweep directory (it has no {SWEEP_FILE})")
    return yaml.safe_load(path.read_text())


def _value(v):
    """A parameter as one table cell: a list of numbers becomes its command-line text."""
    return ",".join(f"{x:g}" for x in v) if isinstance(v, list) else v


def collect(sweep_dir: Path) -> pd.DataFrame:
    """The table of every point of the sweep in ``sweep_dir``, from its files alone."""
    sweep_dir = Path(sweep_dir)
    request = read_request(sweep_dir)
    failures_path = sweep_dir / FAILURES
    failures = yaml.safe_load(failures_path.read_text()) or {} if failures_path.is_file() else {}
    rows = []
    for name, params in request["points"].items():
        row = {"point": name, "status": "missing", "error": None, **{k: _value(v) for k, v in params.items()}}
        path = sweep_dir / POINTS / name / RESULTS
        if path.is_file():
            record = load_results(path)
            claims = [Claim.from_dict(c) for c in record["claims"]]
            row.update(status="done")
            clash = set(record["metrics"]) & set(row)
            row.update({(f"metric_{k}" if k in clash else k): v for k, v in record["metrics"].items()})
            row.update(
                claims_passed=sum(c.status == "passed" for c in claims),
                claims_failed=sum(c.status == "FAILED" for c in claims),
                claims_not_reproduced=sum(c.status == "not reproduced" for c in claims),
                runtime_s=record["runtime_s"],
                **{k: record["provenance"][k] for k in PROVENANCE},
            )
        elif name in failures:
            row.update(status="failed", error=failures[name])
        rows.append(row)
    return pd.DataFrame(rows)


def _is_numeric(frame: pd.DataFrame, column: str) -> bool:
    return pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])


def plot_metric(frame: pd.DataFrame, metric: str, x: str, hue: str | None):
    """``metric`` against the varied parameter ``x``: the mean over the other points with the
    same ``x`` (and ``hue``), with a band or bar of one standard deviation (the seeds' spread)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from earlybias.plotting import use_style

    use_style()
    fig, ax = plt.subplots()
    kw = dict(data=frame, x=x, y=metric, hue=hue, errorbar="sd", ax=ax)
    if _is_numeric(frame, x):
        sns.lineplot(**kw, marker="o")
    else:
        sns.pointplot(**kw, dodge=0.2 if hue else False, linestyle="none")  # no line between choices
    if _is_numeric(frame, x):
        ax.set_xticks(sorted(frame[x].unique()))  # the grid's values, not a continuum
    n = frame.groupby([x] + ([hue] if hue else [])).size()
    each = f"{n.min()}" if n.min() == n.max() else f"{n.min()} to {n.max()}"
    ax.set_title(f"{metric} against {x}: mean ± SD over {each} point{'s' if n.max() > 1 else ''} each")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    if hue:
        ax.legend(title=hue, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def _mean_sd(values: pd.Series) -> str:
    v = values.dropna()
    if v.empty:
        return "n/a"
    return f"{v.mean():.4g} ± {v.std(ddof=1):.2g}" if len(v) > 1 else f"{v.iloc[0]:.4g}"


def summary(frame: pd.DataFrame, request: dict, figures: list[str]) -> str:
    """The sweep in a page of Markdown: what was asked, what ran, each headline metric by the
    varied parameters (mean ± SD over seeds), the claims, the failures and the figures."""
    chapter = get_chapter(request["chapter"])
    done = frame[frame.status == "done"]
    by = [k for k in request["varied"] if k != "seed"]
    command = ["earlybias sweep", chapter.id, "--profile", request["profile"]]
    command += [f"-g {k}={','.join(map(str, v))}" for k, v in request["grid"].items()]
    command += [f"-p {pair}" for pair in request["fixed"]]
    command += [f"--seeds {','.join(map(str, request['seeds']))}"] if request["seeds"] else []
    lines = [
        "```bash",
        " ".join(command),
        "```",
        "",
        f"Sweep of chapter `{chapter.id}` at profile `{request['profile']}`: "
        f"{len(frame)} points, {len(done)} done, {(frame.status == 'failed').sum()} failed, "
        f"{(frame.status == 'missing').sum()} missing.",
        "",
        "| varied | values |",
        "|---|---|",
        *(f"| `{k}` | {', '.join(map(str, v))} |" for k, v in request["grid"].items()),
        *([f"| `seed` | {', '.join(map(str, request['seeds']))} |"] if request["seeds"] else []),
        *(f"| `{pair.partition('=')[0]}` (fixed) | {pair.partition('=')[2]} |" for pair in request["fixed"]),
        "",
    ]
    if not done.empty:
        lines += [
            f"Run time of the points: {done.runtime_s.sum():.0f} s in all, "
            f"{done.runtime_s.median():.1f} s per point (median). Claims per point: "
            f"{done.claims_passed.mean():.1f} passed, {done.claims_failed.mean():.1f} failed, "
            f"{done.claims_not_reproduced.mean():.1f} not reproduced (mean).",
            "",
        ]
        metrics = [m for m in chapter.headline if m in done]
        groups = done.groupby(by, sort=False) if by else [((), done)]
        lines += [
            "| " + " | ".join([*by, "points", *metrics]) + " |",
            "|" + "---|" * (len(by) + 1 + len(metrics)),
        ]
        for key, group in groups:
            key = key if isinstance(key, tuple) else (key,)
            cells = [*map(str, key), str(len(group)), *(_mean_sd(group[m]) for m in metrics)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    failed = frame[frame.status == "failed"]
    if not failed.empty:
        lines += ["Failed points:", "", *(f"- `{r.point}`: {r.error}" for r in failed.itertuples()), ""]
    for fig in figures:
        lines += [f"![{Path(fig).stem}]({FIGURES}/{Path(fig).name})", ""]
    return "\n".join(lines)


def write_outputs(sweep_dir: Path) -> pd.DataFrame:
    """Write ``table.parquet``, ``table.csv``, ``figures/<metric>-vs-<parameter>.png`` and
    ``summary.md`` into ``sweep_dir`` from its run directories; return the table.

    One figure per varied parameter (in the grid's order) and headline metric (in the chapter's),
    the other varied parameters as colours and the seeds as the spread."""
    import matplotlib.pyplot as plt

    sweep_dir = Path(sweep_dir)
    request = read_request(sweep_dir)
    frame = collect(sweep_dir)
    tmp = sweep_dir / f".{TABLE}.parquet.tmp"
    frame.to_parquet(tmp, index=False)
    tmp.replace(sweep_dir / f"{TABLE}.parquet")
    atomic_write(sweep_dir / f"{TABLE}.csv", frame.to_csv(index=False))

    done = frame[frame.status == "done"]
    chapter = get_chapter(request["chapter"])
    figures_dir = sweep_dir / FIGURES
    figures_dir.mkdir(exist_ok=True)
    for old in figures_dir.glob("*.png"):
        old.unlink()
    figures = []
    varied = [k for k in request["varied"] if k != "seed"]
    metrics = [m for m in chapter.headline if m in done and np.isfinite(done[m].astype(float)).any()]
    # Each varied parameter in turn on the x axis, the others as colours; the seeds make the spread.
    for x in varied:
        for metric in metrics:
            others = [k for k in varied if k != x]
            hue = None
            data = done
            if others:
                hue = " / ".join(others)
                data = done.assign(**{hue: done[others].astype(str).agg(", ".join, axis=1)})
            fig = plot_metric(data, metric, x, hue)
            path = figures_dir / f"{metric}-vs-{x}.png"
            fig.savefig(path, dpi=150, bbox_inches="tight")
            plt.close(fig)
            figures.append(path.name)
    atomic_write(sweep_dir / SUMMARY, summary(frame, request, figures) + "\n")
    return frame
