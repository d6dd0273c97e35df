import json
import subprocess
import sys

import yaml
from typer.testing import CliRunner

from prmgym.cli import app
from prmgym.trajectory import load_trajectories

runner = CliRunner()


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("envs", "suites", "run", "eval", "eval-prm", "serve-search"):
        assert command in result.output


def test_help_does_not_import_heavy_parts():
    heavy = "('torch', 'transformers', 'bm25s')"
    code = f"import sys, prmgym.cli; print(any(m in sys.modules for m in {heavy}))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
        == "False"
    )


def test_suites_and_envs_list_the_builtins():
    suites = runner.invoke(app, ["suites"])
    assert suites.exit_code == 0 and "search-lite" in suites.output
    envs = runner.invoke(app, ["envs"])
    assert envs.exit_code == 0 and "prmgym/SearchQA-v0" in envs.output and "test" in envs.output


def test_eval_writes_a_complete_run_directory(tmp_path):
    result = runner.invoke(
        app,
        [
            "eval",
            "--suite",
            "search-lite",
            "--agent",
            "oracle,random",
            "--episodes",
            "6",
            "--runs-dir",
            str(tmp_path),
            "--name",
            "t",
        ],
    )
    assert result.exit_code == 0, result.output
    run = tmp_path / "t"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["agents"]["oracle"]["success_rate"] == 1.0
    assert metrics["agents"]["random"]["success_rate"] <= 0.2
    assert metrics["agents"]["oracle"]["mean_prm"]["search-verifier"] > 0.9
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["agents"] == ["oracle", "random"] and config["episodes"] == 6
    trajectories = load_trajectories(run / "trajectories.jsonl")
    assert len(trajectories) == 12
    report = (run / "report.html").read_text()
    assert "<svg" in report and "success [95% CI]" in report and "search-verifier" in report
    assert "oracle" in result.output and "100.0%" in result.output


def test_eval_unknown_suite_says_what_exists(tmp_path):
    result = runner.invoke(
        app, ["eval", "--suite", "nope", "--agent", "oracle", "--runs-dir", str(tmp_path)]
    )
    assert result.exit_code == 2 and "search-lite" in result.output


def test_run_prints_each_step_with_its_prm_score():
    result = runner.invoke(app, ["run", "--agent", "oracle", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "PRM 1.00 ok" in result.output and "reward 1.00" in result.output


def test_eval_scores_each_step_with_verifier_and_rubric(tmp_path, tiny_model_dir):
    result = runner.invoke(
        app,
        [
            "eval",
            "--suite",
            "search-lite",
            "--agent",
            "oracle",
            "--episodes",
            "2",
            "--prm",
            "verifier,rubric",
            "--judge",
            f"transformers:{tiny_model_dir}",
            "--runs-dir",
            str(tmp_path),
            "--name",
            "t",
        ],
    )
    assert result.exit_code == 0, result.output
    for trajectory in load_trajectories(tmp_path / "t" / "trajectories.jsonl"):
        for step in trajectory.steps:
            assert [s.source for s in step.scores] == ["search-verifier", "rubric"]
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert set(metrics["agents"]["oracle"]["prm_disagreement"]) == {"search-verifier", "rubric"}
    report = (tmp_path / "t" / "report.html").read_text()
    assert "search-verifier 1.00 ok" in report and "; rubric " in report
    assert "PRM high but failed" in result.output


def test_eval_prm_prints_f1_per_family(tmp_path):
    out = tmp_path / "prm.json"
    # Search alone: the families that need a kernel or a browser would slow this test.
    args = ["eval-prm", "--family", "search", "--prm", "verifier", "--count", "8"]
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "First-error F1 per family" in result.output and "search" in result.output
    figures = json.loads(out.read_text())
    assert figures["first_error"]["search"]["verifier"]["overall"]["f1"] > 0.8


def test_eval_prm_unknown_family_fails_cleanly():
    result = runner.invoke(app, ["eval-prm", "--family", "chess", "--count", "2"])
    assert result.exit_code == 2 and "families" in result.output


def test_eval_prm_best_of_n_on_a_runs_trajectories(tmp_path):
    # Oracle and random on the same tasks: two episodes per task, one of them solved.
    args = ["eval", "--suite", "search-lite", "--agent", "oracle,random", "--episodes", "4"]
    result = runner.invoke(app, [*args, "--runs-dir", str(tmp_path), "--name", "t"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "bon.json"
    result = runner.invoke(
        app,
        [
            "eval-prm",
            "--family",
            "search",
            "--count",
            "2",
            "--best-of-n",
            str(tmp_path / "t" / "trajectories.jsonl"),
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "best-of-2 with verifier: selected 100.0%" in result.output
    figures = json.loads(out.read_text())["best_of_n"]["verifier"]
    assert figures["selected_success"] == 1.0 and figures["mean_success"] == 0.5


def test_eval_with_a_trained_prm_directory(tmp_path, tiny_model_dir):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from prmgym.rewards.learned.loading import LearnedPRMInfo, write_marker

    prm_dir = tmp_path / "prm"
    AutoModelForTokenClassification.from_pretrained(tiny_model_dir, num_labels=2).save_pretrained(
        prm_dir
    )
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(prm_dir)
    write_marker(prm_dir, LearnedPRMInfo(kind="token-classification", max_length=256))
    args = ["eval", "--suite", "search-lite", "--agent", "oracle", "--episodes", "2"]
    result = runner.invoke(
        app, [*args, "--prm", str(prm_dir), "--runs-dir", str(tmp_path), "--name", "t"]
    )
    assert result.exit_code == 0, result.output
    for trajectory in load_trajectories(tmp_path / "t" / "trajectories.jsonl"):
        assert all(s.scores[0].source == "token-classification-prm" for s in trajectory.steps)


def test_train_refuses_an_unknown_distributed_backend():
    result = runner.invoke(app, ["train", "--distributed", "mars"])
    assert result.exit_code != 0
    assert "local or ray" in result.output


def test_train_prm_saves_a_prm_and_measures_it(tmp_path, tiny_model_dir):
    from prmgym.rewards.evaluation.first_error import build_first_error_set
    from prmgym.rewards.evaluation.labeled import save_labeled

    data = save_labeled(
        build_first_error_set("prmgym/SearchQA-v0", "train", 4), tmp_path / "set.jsonl"
    )
    out = tmp_path / "prm"
    settings = [
        f"base_model={tiny_model_dir}",
        "data.source=file",
        f"data.path={data}",
        f"output_dir={out}",
        "max_length=128",
        "train_layers=1",
        "calibration=0.5",
    ]
    result = runner.invoke(app, ["train-prm", *settings, "--evaluate", "2"])
    assert result.exit_code == 0, result.output
    assert (out / "prmgym-prm.json").is_file()
    assert "PRM saved to" in result.output and "First-error detection" in result.output
    bad = runner.invoke(app, ["train-prm", "epochs=0"])
    assert bad.exit_code == 2 and "epochs must be at least 1" in bad.output


def test_eval_prm_on_a_processbench_file(tmp_path):
    bench = tmp_path / "gsm8k.json"
    items = [
        {"id": "a", "problem": "2+2?", "steps": ["add(2, 2)", "answer(4)"], "label": -1},
        {"id": "b", "problem": "3+3?", "steps": ["add 3 and 3", "answer(6)"], "label": 0},
    ]
    bench.write_text(json.dumps(items))
    rubric = tmp_path / "calls.yaml"
    rubric.write_text("name: calls\ncriteria:\n  - {id: call, text: a call, check: parses}\n")
    out = tmp_path / "pb.json"
    args = ["eval-prm", "--family", "search", "--count", "2", "--processbench", str(bench)]
    result = runner.invoke(app, [*args, "--prm", f"verifier,{rubric}", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "skipping verifier on processbench:gsm8k.json" in result.output
    # The programmatic rubric flags the step that is not a call: both items right, F1 1.
    figures = json.loads(out.read_text())["first_error"]["processbench:gsm8k.json"]
    assert figures[str(rubric)]["overall"]["f1"] == 1.0


def test_eval_with_step_pruning_keeps_every_candidate(tmp_path):
    args = ["eval", "--suite", "search-lite", "--agent", "noisy-oracle:0.5", "--episodes", "6"]
    result = runner.invoke(
        app, [*args, "--search", "prune:k=3", "--runs-dir", str(tmp_path), "--name", "t"]
    )
    assert result.exit_code == 0, result.output
    for trajectory in load_trajectories(tmp_path / "t" / "trajectories.jsonl"):
        assert all(1 <= len(s.candidates) <= 3 for s in trajectory.steps)
    config = yaml.safe_load((tmp_path / "t" / "config.yaml").read_text())
    assert config["search"] == ["prune:k=3"]
    bad = runner.invoke(app, [*args, "--search", "nope:k=2", "--runs-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "prune:k=K" in bad.output


def test_eval_help_documents_every_search_syntax():
    result = runner.invoke(app, ["eval", "--help"])
    assert result.exit_code == 0, result.output
    for syntax in ("prune:k=K", "early=", "keep=", "beam:b=", "bon:n=", "wbon:n=", "greedy"):
        assert syntax in result.output
    # Rich wraps help text inside a box: drop the borders before reading it as prose.
    prose = " ".join(result.output.replace("│", " ").split())
    assert "Repeat --search to compare methods in one run" in prose


def test_eval_compares_repeated_searches_in_one_table(tmp_path):
    args = ["eval", "--suite", "search-lite", "--agent", "noisy-oracle:0.5", "--episodes", "4"]
    searches = ["--search", "none", "--search", "prune:k=4"]
    # A wide terminal, so rich prints every column in full.
    result = runner.invoke(
        app,
        [*args, *searches, "--runs-dir", str(tmp_path), "--name", "t"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "compute per episode" in result.output
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert list(metrics["agents"]) == ["noisy-oracle:0.5", "noisy-oracle:0.5 + prune:k=4"]
    # The tables' cells, row by row: a header, then one row per method, for each table.
    lines = [line for line in result.output.splitlines() if line and line[0] in "│┃"]
    cells = [[cell.strip() for cell in line.strip("│┃").split(line[0])] for line in lines]
    headers = [i for i, line in enumerate(lines) if line[0] == "┃"]
    results, compute = cells[headers[0] : headers[1]], cells[headers[1] :]
    for method, m in metrics["agents"].items():
        row = dict(zip(results[0], next(r for r in results if r[0] == method), strict=True))
        assert row["success [95% CI]"].startswith(f"{m['success_rate']:.1%}")
        row = dict(zip(compute[0], next(r for r in compute if r[0] == method), strict=True))
        assert row["samples"] == f"{m['compute']['actions_sampled_per_episode']:.1f}"
        assert row["PRM calls"] == f"{m['compute']['prm_calls_per_episode']:.1f}"
        assert row["env steps"] == f"{m['compute']['env_steps_per_episode']:.1f}"
    assert "Success vs compute" in (tmp_path / "t" / "report.html").read_text()


def test_train_help_keeps_bracketed_extras_and_names_the_gpu_paths():
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    prose = " ".join(result.output.replace("│", " ").split())
    # Rich reads [ray] as markup unless escaped; the install hint must survive it.
    assert "'prmgym[ray]'" in prose
    assert "vllm-server" in prose and "accelerate launch" in prose


def test_eval_prm_measures_each_judged_prm_cold(tmp_path, tiny_model_dir):
    out = tmp_path / "prm.json"
    args = ["eval-prm", "--family", "search", "--count", "4", "--prm", "rubric,biprm"]
    result = runner.invoke(
        app, [*args, "--judge", f"transformers:{tiny_model_dir}", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())["first_error"]["search"]
    # biprm asks every forward view rubric asked, plus a backward one each: twice the prompts,
    # not only its new ones on a judge cache rubric left warm.
    assert figures["biprm"]["judge_prompts"] == 2 * figures["rubric"]["judge_prompts"] > 0
