import json

import pytest
import yaml

from prmgym.agents.evaluation import EvaluationInterrupted, build_methods, evaluate, search_specs
from prmgym.errors import ConfigError
from prmgym.suites import load_suite
from prmgym.trajectory import load_trajectories, save_trajectories

AGENT = "noisy-oracle:0.5"
ROWS = [AGENT, f"{AGENT} + prune:k=4", f"{AGENT} + bon:n=2"]


@pytest.mark.slow
def test_one_run_compares_search_methods_at_their_compute(tmp_path):
    run_dir, metrics = evaluate(
        load_suite("search-lite"),
        [AGENT],
        episodes=6,
        search=["none", "prune:k=4", "bon:n=2"],
        runs_dir=tmp_path,
        name="t",
    )
    assert list(metrics["agents"]) == ROWS
    for row in metrics["agents"].values():
        assert row["episodes"] == 6
        assert {"success_rate", "success_ci95", "mean_prm", "prm_disagreement"} <= set(row)
        assert {
            "actions_sampled_per_episode",
            "generated_tokens_per_episode",
            "prm_calls_per_episode",
            "env_steps_per_episode",
            "wall_time_s_per_episode",
        } <= set(row["compute"])
    compute = {row: m["compute"] for row, m in metrics["agents"].items()}
    plain, pruned, best_of_2 = (compute[row] for row in ROWS)
    # The plain agent draws once per step; pruning draws 4; best-of-2 runs two episodes.
    assert plain["actions_sampled_per_episode"] == plain["env_steps_per_episode"]
    assert pruned["actions_sampled_per_episode"] > plain["actions_sampled_per_episode"]
    assert best_of_2["env_steps_per_episode"] > plain["env_steps_per_episode"]
    trajectories = load_trajectories(run_dir / "trajectories.jsonl")
    assert [t.agent for t in trajectories] == [row for row in ROWS for _ in range(6)]
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["search"] == ["none", "prune:k=4", "bon:n=2"] and config["methods"] == ROWS
    report = (run_dir / "report.html").read_text()
    assert "Success vs compute" in report and f"{AGENT} + prune:k=4</text>" in report


def test_a_bad_search_spec_fails_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match="prune:k=K"):
        evaluate(
            load_suite("search-lite"),
            ["oracle"],
            episodes=2,
            search=["none", "nope:k=2"],
            runs_dir=tmp_path,
        )
    assert not list(tmp_path.iterdir())


def test_row_keys():
    assert search_specs(None) == search_specs([]) == ["none"]
    assert search_specs("bon:n=2") == ["bon:n=2"]
    rows = build_methods(
        ["oracle", "random"],
        ["greedy", "bon:n=2", "bon:n=2,how=mean"],
        family="search",
        judge=lambda: pytest.fail("no judge needed"),
    )
    # Two specs with one method name are told apart by their specs.
    assert [(key, agent) for key, agent, _ in rows] == [
        ("oracle", "oracle"),
        ("oracle + bon:n=2", "oracle"),
        ("oracle + bon:n=2,how=mean", "oracle"),
        ("random", "random"),
        ("random + bon:n=2", "random"),
        ("random + bon:n=2,how=mean", "random"),
    ]
    assert rows[0][2] is None and rows[1][2] is not None
    with pytest.raises(ConfigError, match="twice"):
        build_methods(["oracle"], ["none", "greedy"], family="search")


def _interrupt_after(count):
    """A progress callback that interrupts the run after ``count`` finished episodes."""
    seen = []

    def progress(_row, _total):
        def done(trajectory):
            seen.append(trajectory)
            if len(seen) == count:
                raise KeyboardInterrupt

        return done

    return progress


def test_an_interrupted_run_keeps_what_finished_and_resume_runs_only_the_rest(tmp_path):
    suite, rows = load_suite("search-lite"), ["none", "bon:n=2"]
    kwargs = {"episodes": 5, "search": rows, "runs_dir": tmp_path, "name": "t", "batch_size": 2}
    with pytest.raises(EvaluationInterrupted) as stopped:
        evaluate(suite, ["random"], progress=_interrupt_after(3), **kwargs)
    run_dir = stopped.value.run_dir
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["interrupted"] == "SIGINT" and metrics["finished_episodes"] == 3
    assert list(metrics["agents"]) == ["random"]  # the best-of-2 row never started
    assert "Interrupted by SIGINT" in (run_dir / "report.html").read_text()
    kept = load_trajectories(run_dir / "trajectories.jsonl")
    assert len(kept) == 3
    # Mark the finished episodes: a resume that ran one again would lose its mark.
    for trajectory in kept:
        trajectory.metrics["kept"] = 1.0
    save_trajectories(kept, run_dir / "trajectories.jsonl")
    with pytest.raises(ConfigError, match="episodes: 5 there, 6 now"):
        evaluate(suite, ["random"], resume=True, **{**kwargs, "episodes": 6})
    seen = []
    _, metrics = evaluate(suite, ["random"], resume=True, progress=lambda *_: seen.append, **kwargs)
    assert metrics["interrupted"] is None and metrics["finished_episodes"] == 10
    everything = load_trajectories(run_dir / "trajectories.jsonl")
    assert len(seen) == len(everything) == 10
    assert sum("kept" in t.metrics for t in everything) == 3
    # Each planned episode once, at the seed an uninterrupted run would give it.
    plain = [t for t in everything if t.agent == "random"]
    assert [t.seed for t in plain] == list(range(5))
    best = [t for t in everything if t.agent == "random + bon:n=2"]
    assert [t.seed // 2 for t in best] == list(range(5))


def test_zero_or_negative_episodes_are_refused(tmp_path):
    for episodes in (0, -1):
        with pytest.raises(ConfigError, match="episodes must be at least 1"):
            evaluate(load_suite("search-lite"), ["oracle"], episodes=episodes, runs_dir=tmp_path)
    assert not list(tmp_path.iterdir())
