"""report.html: a run's results table, plots, and a per-step trajectory viewer.

One self-contained file (inline SVG plots, no scripts, no network), so it opens anywhere and
can be attached to an issue. Steps are colour-coded by their process score, red (0) to green
(1), so where an agent went wrong is visible at a glance.
"""

from __future__ import annotations

import html
import io
from collections import defaultdict
from collections.abc import Sequence
from statistics import fmean
from typing import Any

from prmgym.trajectory import Step, Trajectory

_MAX_TASKS_SHOWN = 40
_MAX_OBS_CHARS = 1200

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:1rem}.step{border-left:6px solid;padding:4px 8px;
margin:4px 0}pre{white-space:pre-wrap;margin:2px 0;font-size:12px}
summary{cursor:pointer}.ok{color:#176b2c}.fail{color:#a11}.muted{color:#777;font-size:12px}
h3{font-size:14px;margin:12px 0 2px;color:#555}
"""


def _colour(value: float | None) -> str:
    if value is None:
        return "#bbb"
    value = min(1.0, max(0.0, value))
    return f"hsl({int(120 * value)}, 65%, 42%)"


def _svg(fig: Any) -> str:
    import matplotlib
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    # Text stays text (not glyph paths): smaller files, and labels a reader can search and copy.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight")

    plt.close(fig)
    text = buffer.getvalue()
    return text[text.find("<svg") :]


COMPUTE_AXES = {
    "actions_sampled_per_episode": "actions sampled per episode",
    "generated_tokens_per_episode": "generated tokens per episode",
}
"""Compute measures the report plots success against, with their axis labels."""


def compute_points(
    metrics: dict[str, Any], measure: str
) -> list[tuple[str, float, float, float, float]]:
    """``(row, compute, success rate, CI low, CI high)`` per row that ran episodes.

    ``measure`` is a key of a row's ``compute`` summary, e.g. ``actions_sampled_per_episode``.
    Rows of older runs, without a compute summary, are left out.
    """
    points = []
    for row, m in metrics.get("agents", {}).items():
        if m.get("episodes", 0) and measure in m.get("compute", {}):
            low, high = m["success_ci95"]
            points.append((row, float(m["compute"][measure]), m["success_rate"], low, high))
    return points


def log_axis(xs: Sequence[float]) -> bool:
    """Whether compute values ``xs`` need a log2 axis: they span more than 4x, none is zero.

    Search methods spend several-fold the compute of a plain agent; on a linear axis the cheap
    rows crowd together. A zero (scripted agents generate no tokens) rules a log axis out.

    Example:
        >>> log_axis([3.0, 12.0]), log_axis([3.0, 12.5]), log_axis([0.0, 100.0])
        (False, True, False)
    """
    return bool(xs) and min(xs) > 0 and max(xs) > 4 * min(xs)


def _compute_plot(points: Sequence[tuple[str, float, float, float, float]], label: str) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    markers = "osD^v<>ph*"
    for i, (row, x, rate, low, high) in enumerate(points):
        # Methods often share a point (same compute, same success): a legend with distinct
        # markers keeps every one readable where labels on the points would overlap.
        ax.errorbar(
            x,
            rate,
            yerr=[[rate - low], [high - rate]],
            fmt=markers[i % len(markers)],
            capsize=4,
            color=f"C{i % 10}",
            label=row,
            alpha=0.85,
        )
    if log_axis([x for _, x, *_ in points]):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(label)
    ax.set_ylabel("success rate (95% CI)")
    ax.set_title("Success vs compute")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return _svg(fig)


def _plots(trajectories: Sequence[Trajectory], metrics: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    plots = []
    agents = list(metrics.get("agents", {}))
    if agents:
        fig, ax = plt.subplots(figsize=(4.5, 3))
        rates = [metrics["agents"][a]["success_rate"] for a in agents]
        lows = [
            r - metrics["agents"][a]["success_ci95"][0] for a, r in zip(agents, rates, strict=True)
        ]
        highs = [
            metrics["agents"][a]["success_ci95"][1] - r for a, r in zip(agents, rates, strict=True)
        ]
        ax.bar(agents, rates, yerr=[lows, highs], capsize=4, color="#4c72b0")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("success rate (95% CI)")
        ax.set_title("Success by method")
        # Row names ("agent + prune:k=4") overlap when set level side by side.
        ax.tick_params(axis="x", labelrotation=30 if len(agents) > 2 else 0, labelsize=8)
        plots.append(_svg(fig))
    for measure, label in COMPUTE_AXES.items():
        points = compute_points(metrics, measure)
        # Tokens are plotted only when some row generated any (LLM agents).
        if points and any(x > 0 for _, x, *_ in points):
            plots.append(_compute_plot(points, label))
    by_agent: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for t in trajectories:
        for step in t.steps:
            for score in step.scores:
                by_agent[f"{t.agent} · {score.source}"][step.index].append(score.value)
    if by_agent:
        fig, ax = plt.subplots(figsize=(4.5, 3))
        for agent, per_step in by_agent.items():
            xs = sorted(per_step)
            ax.plot(xs, [fmean(per_step[x]) for x in xs], marker="o", label=agent)
        ax.set_ylim(-0.05, 1.05)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step index")
        ax.set_ylabel("mean PRM score")
        ax.set_title("Process score by step")
        ax.legend(fontsize=8)
        plots.append(_svg(fig))
    return plots


def _step_html(step: Step) -> str:
    # The border takes the first scorer's colour; every scorer's verdict is listed.
    score = step.scores[0] if step.scores else None
    badge = (
        "; ".join(
            f"{html.escape(s.source)} {s.value:.2f} {html.escape(s.label)}"
            f" — {html.escape(s.rationale)}"
            for s in step.scores
        )
        or "unscored"
    )
    error = (
        f"<div class=fail>error: {html.escape(step.action_error)}</div>"
        if step.action_error
        else ""
    )
    observation = step.observation[:_MAX_OBS_CHARS]
    return (
        f"<div class=step style='border-color:{_colour(score.value if score else None)}'>"
        f"<b>#{step.index}</b> <code>{html.escape(step.action)}</code> "
        f"<span class=muted>[{badge}]</span>{error}<pre>{html.escape(observation)}</pre></div>"
    )


def _episode_html(t: Trajectory) -> str:
    verdict = "<span class=ok>solved</span>" if t.success else "<span class=fail>failed</span>"
    if t.error:
        verdict = f"<span class=fail>broken: {html.escape(t.error)}</span>"
    steps = "".join(_step_html(s) for s in t.steps)
    return (
        f"<details><summary>{html.escape(t.agent)} · {verdict} · {len(t.steps)} steps"
        f"</summary>{steps}</details>"
    )


_TABLE_COMPUTE = ("actions_sampled_per_episode", "env_steps_per_episode", "prm_calls_per_episode")


def _table(metrics: dict[str, Any]) -> str:
    rows = []
    for agent, m in metrics.get("agents", {}).items():
        low, high = m["success_ci95"]
        prm = ", ".join(f"{k} {v:.2f}" for k, v in m["mean_prm"].items()) or "–"
        compute = m.get("compute", {})
        # Runs written before compute summaries existed show a dash, not a crash.
        per_episode = "".join(
            f"<td>{compute[k]:.1f}</td>" if k in compute else "<td>–</td>" for k in _TABLE_COMPUTE
        )
        f1 = "–" if m.get("mean_f1") is None else f"{m['mean_f1']:.3f}"
        rows.append(
            f"<tr><td>{html.escape(agent)}</td><td>{m['episodes']}</td>"
            f"<td>{m['success_rate']:.1%} [{low:.2f}, {high:.2f}]</td><td>{f1}</td>"
            f"<td>{m['mean_steps']:.1f}</td><td>{m['action_error_rate']:.1%}</td><td>{prm}</td>"
            f"<td>{m['broken']}</td>{per_episode}<td>{m['completion_tokens']}</td></tr>"
        )
    head = (
        "<tr><th>method</th><th>episodes</th><th>success [95% CI]</th><th>F1</th><th>steps</th>"
        "<th>action errors</th><th>mean PRM</th><th>broken</th><th>samples/ep</th>"
        "<th>env steps/ep</th><th>PRM calls/ep</th><th>generated tokens</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _interrupted(config: dict[str, Any], metrics: dict[str, Any]) -> str:
    """A warning that the run stopped early, with how far it got and how to finish it."""
    signal = metrics.get("interrupted")
    if not signal:
        return ""
    name = html.escape(str(config.get("name", "NAME")))
    return (
        f"<p class=fail><b>Interrupted by {html.escape(str(signal))}:</b>"
        f" {metrics.get('finished_episodes', '?')} of {metrics.get('planned_episodes', '?')}"
        " episodes finished; the figures cover those only. <code>prmgym eval --resume --name"
        f" {name}</code> with the same options runs the rest.</p>"
    )


def render_report(
    config: dict[str, Any], trajectories: Sequence[Trajectory], metrics: dict[str, Any]
) -> str:
    """The report as an HTML string."""
    title = html.escape(str(config.get("name", "prmgym run")))
    # Group by task so every agent's attempt at the same question sits together.
    by_task: dict[str, list[Trajectory]] = defaultdict(list)
    for t in trajectories:
        by_task[t.task.id].append(t)
    shown = list(by_task.values())[:_MAX_TASKS_SHOWN]
    episodes = "".join(
        f"<h3>{html.escape(group[0].task.id)}: {html.escape(group[0].task.instruction)}</h3>"
        + "".join(_episode_html(t) for t in group)
        for group in shown
    )
    more = len(by_task) - len(shown)
    note = f"<p class=muted>{more} more tasks in trajectories.jsonl</p>" if more > 0 else ""
    plots = "".join(_plots(trajectories, metrics))
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1>{_interrupted(config, metrics)}"
        f"<p class=muted>suite {html.escape(str(config.get('suite', '')))} · "
        f"scorers {html.escape(', '.join(config.get('scorers', [])))}</p>"
        f"<h2>Results</h2>{_table(metrics)}<div class=plots>{plots}"
        f"</div><h2>Trajectories</h2><p class=muted>Steps are coloured by PRM score: red 0,"
        f" green 1.</p>{episodes}{note}</body></html>"
    )
