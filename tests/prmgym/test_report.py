import re

import pytest

from prmgym.report import compute_points, log_axis, render_report
from prmgym.summary import summarize
from prmgym.task import Task
from prmgym.trajectory import Accounting, Step, StepScore, Trajectory

CONFIG = {"name": "t", "suite": "search-lite", "scorers": ["search-verifier"]}


def episode(agent, success, samples, env_steps, prm_calls, tokens=0):
    task = Task(id="search/1", family="search", instruction="q?")
    steps = [
        Step(index=i, action="a", observation="o", scores=[StepScore(value=0.9, source="v")])
        for i in range(env_steps)
    ]
    accounting = Accounting(
        actions_sampled=samples,
        env_steps=env_steps,
        prm_calls=prm_calls,
        completion_tokens=tokens,
    )
    return Trajectory(task=task, agent=agent, steps=steps, success=success, accounting=accounting)


def two_methods(tokens=0):
    rows = {
        "agent": [episode("agent", True, 2, 2, 1, tokens), episode("agent", False, 4, 4, 1)],
        "agent + prune:k=4": [
            episode("agent + prune:k=4", True, 8, 2, 3),
            episode("agent + prune:k=4", True, 24, 6, 7),
        ],
    }
    trajectories = [t for group in rows.values() for t in group]
    return trajectories, {"agents": {row: summarize(group) for row, group in rows.items()}}


def svg_texts(report):
    """The text of every <text> element, labels and tick labels alike."""
    return [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text[^>]*>(.*?)</text>", report)]


def test_compute_points_are_each_rows_mean_compute_and_success():
    _, metrics = two_methods()
    points = compute_points(metrics, "actions_sampled_per_episode")
    assert [(row, x, rate) for row, x, rate, _, _ in points] == [
        ("agent", 3.0, 0.5),  # (2 + 4) / 2 samples, 1 of 2 solved
        ("agent + prune:k=4", 16.0, 1.0),  # (8 + 24) / 2
    ]
    for row, _, rate, low, high in points:
        assert low <= rate <= high
        assert [low, high] == metrics["agents"][row]["success_ci95"]


def test_report_plots_success_against_samples_for_every_method():
    trajectories, metrics = two_methods()
    report = render_report(CONFIG, trajectories, metrics)
    assert report.count("Success vs compute") == 1  # no tokens generated: no second plot
    texts = svg_texts(report)
    assert "actions sampled per episode" in texts
    assert "agent" in texts and "agent + prune:k=4" in texts
    # 3 to 16 samples spans more than 4x: a log2 axis, ticks at powers of two.
    assert {"4", "8", "16"} <= set(texts)
    assert "<script" not in report and "<img" not in report


def test_table_shows_compute_per_episode():
    trajectories, metrics = two_methods()
    report = render_report(CONFIG, trajectories, metrics)
    assert "<th>samples/ep</th><th>env steps/ep</th><th>PRM calls/ep</th>" in report
    row = report[report.index("<td>agent + prune:k=4</td>") :].split("</tr>")[0]
    # samples (8 + 24) / 2, env steps (2 + 6) / 2, PRM calls (3 + 7) / 2
    assert "<td>16.0</td><td>4.0</td><td>5.0</td>" in row
    plain = report[report.index("<td>agent</td>") :].split("</tr>")[0]
    assert "<td>3.0</td><td>3.0</td><td>1.0</td>" in plain


def test_tokens_plot_appears_when_a_row_generated_tokens():
    trajectories, metrics = two_methods(tokens=50)
    report = render_report(CONFIG, trajectories, metrics)
    assert report.count("Success vs compute") == 2
    assert "generated tokens per episode" in svg_texts(report)


def test_zero_episodes_render_without_a_compute_plot():
    metrics = {"agents": {"agent": summarize([]), "agent + bon:n=2": summarize([])}}
    report = render_report(CONFIG, [], metrics)
    assert "Success vs compute" not in report and "<td>0.0</td>" in report
    assert "Success vs compute" not in render_report(CONFIG, [], {"agents": {}})


def test_runs_without_compute_summaries_still_render():
    trajectories, metrics = two_methods()
    for m in metrics["agents"].values():
        del m["compute"]
    report = render_report(CONFIG, trajectories, metrics)
    assert "Success vs compute" not in report and "<td>–</td>" in report


@pytest.mark.parametrize(
    ("xs", "expected"),
    [([3.0, 12.0], False), ([3.0, 12.5], True), ([0.0, 100.0], False), ([], False)],
)
def test_log_axis_only_past_a_four_fold_span(xs, expected):
    assert log_axis(xs) is expected
