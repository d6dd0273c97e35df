import pytest
import torch
from transformers import AutoTokenizer

from prmgym.agents.search import make_search
from prmgym.errors import ConfigError
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.learned.loading import LearnedPRMInfo, write_marker
from prmgym.rewards.learned.token_classification import encode_steps
from prmgym.rewards.learned.value_head import HEAD_FILE, ValueHeadModel, ValueHeadPRM
from prmgym.rewards.registry import make_scorer
from prmgym.rewards.render import render_trajectory
from prmgym.task import Task
from prmgym.trajectory import Step, Trajectory


def make_trajectory(n_steps=3, question="what is the capital of France?"):
    actions = ['search("capital France")', 'open("paris")', 'answer("Paris")', 'search("x")']
    steps = [
        Step(index=i, action=actions[i % len(actions)], observation=f"result {i}: read the page")
        for i in range(n_steps)
    ]
    task = Task(id="t", family="search", instruction=question)
    return Trajectory(task=task, steps=steps)


@pytest.fixture(scope="module")
def saved(tiny_model_dir, tmp_path_factory):
    """A randomly initialised value-head PRM, saved, with the in-memory model it came from."""
    path = tmp_path_factory.mktemp("value-prm")
    torch.manual_seed(3)
    model = ValueHeadModel.from_base(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model.save(path)
    tokenizer.save_pretrained(path)
    write_marker(path, LearnedPRMInfo(kind="value-head", observation_chars=40))
    return path, model, tokenizer


@pytest.fixture(scope="module")
def prm(saved):
    return ValueHeadPRM(saved[0])


def count_forwards(prm):
    calls = []
    handle = prm.model.backbone.register_forward_hook(lambda *_: calls.append(1))
    return calls, handle


def test_one_pass_reads_every_prefix_value_as_a_pass_per_prefix_would(prm):
    trajectory = make_trajectory(4)
    calls, handle = count_forwards(prm)
    try:
        values = [s.value for s in prm.score(trajectory)]
    finally:
        handle.remove()
    assert len(calls) == 1
    assert max(values) - min(values) > 1e-3  # distinct prefixes, distinct values
    for t in range(4):
        prefix = trajectory.model_copy(update={"steps": trajectory.steps[: t + 1]})
        ids = encode_steps(prm.tokenizer, render_trajectory(prefix, 40)).input_ids
        with torch.no_grad():
            logit = prm.model(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))
        assert values[t] == pytest.approx(float(torch.sigmoid(logit[0, -1])), abs=1e-5)


def test_passes_check_reward_model_with_probabilities_and_labels(prm):
    trajectory = make_trajectory(4)
    check_reward_model(prm, trajectory)
    for score in prm.score(trajectory):
        assert 0.0 < score.value < 1.0
        assert score.label == ("ok" if score.value >= 0.5 else "correctable")
        assert score.source == "value-head-prm"


def test_saved_and_loaded_through_the_registry_scores_as_the_live_model(saved):
    path, model, tokenizer = saved
    live = ValueHeadPRM.from_model(model, tokenizer, observation_chars=40, max_length=1024)
    loaded = make_scorer(str(path))
    assert isinstance(loaded, ValueHeadPRM)
    trajectory = make_trajectory(3)
    expected = [s.value for s in live.score(trajectory)]
    assert [s.value for s in loaded.score(trajectory)] == pytest.approx(expected, abs=1e-6)


def test_candidates_are_batched_and_score_like_an_appended_step(prm):
    trajectory = make_trajectory(2)
    candidates = ['answer("Paris")', 'search("lyon")', 'open("x")']
    calls, handle = count_forwards(prm)
    try:
        scores = prm.score_candidates(trajectory, candidates)
    finally:
        handle.remove()
    assert len(calls) == 1 and len(scores) == 3
    assert len({round(s.value, 6) for s in scores}) == 3
    for action, score in zip(candidates, scores, strict=True):
        step = Step(index=2, action=action, observation="")
        extended = trajectory.model_copy(update={"steps": [*trajectory.steps, step]})
        assert score.value == pytest.approx(prm.score(extended)[-1].value, abs=1e-5)


def test_batched_equals_one_by_one(saved):
    batched = ValueHeadPRM(saved[0], batch_size=8)
    single = ValueHeadPRM(saved[0], batch_size=1)
    trajectories = [make_trajectory(n, q) for n, q in [(1, "a?"), (4, "b b b?"), (2, "what?")]]
    for trajectory, scores in zip(trajectories, batched.score_many(trajectories), strict=True):
        alone = single.score(trajectory)
        assert [s.value for s in scores] == pytest.approx([s.value for s in alone], abs=1e-5)


def test_long_trajectories_are_cut_from_the_left_and_stay_causal(saved, prm):
    trajectory = make_trajectory(4, question="a long question " * 20)
    encoded = encode_steps(prm.tokenizer, render_trajectory(trajectory, 40))
    short = ValueHeadPRM(saved[0], max_length=encoded.step_ends[1] + 1)
    check_reward_model(short, trajectory)
    full, cut = prm.score(trajectory), short.score(trajectory)
    assert [s.value for s in cut[:2]] == pytest.approx([s.value for s in full[:2]], abs=1e-5)
    assert cut[3].value != pytest.approx(full[3].value, abs=1e-6)


def test_best_of_n_keeps_the_episode_the_critic_values_most(saved):
    method = make_search(f"bon:n=3,prm={saved[0]},how=last", family="search")
    assert isinstance(method.prm, ValueHeadPRM) and method.how == "last"
    group = [make_trajectory(n, q) for n, q in [(2, "a?"), (3, "b b?"), (2, "what?")]]
    for trajectory in group:
        for step, score in zip(trajectory.steps, method.prm.score(trajectory), strict=True):
            step.scores.append(score)
    lasts = [t.steps[-1].scores[-1].value for t in group]
    kept = method.select(group)
    assert kept.task.instruction == group[lasts.index(max(lasts))].task.instruction
    assert kept.metrics["bon:n=3_score"] == pytest.approx(max(lasts))


def test_a_directory_without_the_head_is_a_config_error(saved, tmp_path):
    path, model, tokenizer = saved
    model.backbone.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    write_marker(tmp_path, LearnedPRMInfo(kind="value-head"))
    with pytest.raises(ConfigError, match=HEAD_FILE):
        make_scorer(str(tmp_path))


def test_a_directory_of_another_kind_is_refused(tmp_path):
    write_marker(tmp_path, LearnedPRMInfo(kind="implicit"))
    with pytest.raises(ConfigError, match="not a value-head"):
        ValueHeadPRM(tmp_path)
