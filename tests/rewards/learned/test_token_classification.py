import pytest
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer
from trl.experimental.prm import PRMTrainer

from prmgym.errors import ConfigError
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.learned.loading import (
    MARKER_FILE,
    LearnedPRMInfo,
    load_learned_prm,
    write_marker,
)
from prmgym.rewards.learned.token_classification import (
    TokenClassificationPRM,
    encode_steps,
    scoring_windows,
)
from prmgym.rewards.render import STEP_SEPARATOR, render_trajectory
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
def token_prm_dir(tiny_model_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("token-prm")
    torch.manual_seed(1)
    model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir, num_labels=2)
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(path)
    write_marker(path, LearnedPRMInfo(kind="token-classification", observation_chars=40))
    return path


@pytest.fixture(scope="module")
def prm(token_prm_dir):
    return TokenClassificationPRM(token_prm_dir)


def test_passes_check_reward_model(prm):
    check_reward_model(prm, make_trajectory(4))


def test_values_are_probabilities_with_labels(prm):
    scores = prm.score(make_trajectory(3))
    assert len(scores) == 3
    for score in scores:
        assert 0.0 < score.value < 1.0
        assert score.label == ("ok" if score.value >= 0.5 else "correctable")
        assert score.source == prm.name


def test_marker_settings_are_used(prm):
    assert prm.observation_chars == 40


def test_layout_matches_trl_tokenize_row(prm):
    rendered = render_trajectory(make_trajectory(3), 40)
    encoded = encode_steps(prm.tokenizer, rendered)
    row = {"prompt": rendered.prompt, "completions": rendered.steps, "labels": [1, 0, 1]}
    trl = PRMTrainer.tokenize_row(row, prm.tokenizer, STEP_SEPARATOR, None, None, False, False)
    assert encoded.input_ids == trl["input_ids"]
    assert encoded.step_ends == [i for i, label in enumerate(trl["labels"]) if label != -100]


def test_batched_equals_one_by_one(token_prm_dir):
    batched = TokenClassificationPRM(token_prm_dir, batch_size=8)
    single = TokenClassificationPRM(token_prm_dir, batch_size=1)
    trajectories = [make_trajectory(n, q) for n, q in [(1, "a?"), (4, "b b b?"), (2, "what?")]]
    together = batched.score_many(trajectories)
    for trajectory, scores in zip(trajectories, together, strict=True):
        alone = single.score(trajectory)
        assert [s.value for s in scores] == pytest.approx([s.value for s in alone], abs=1e-5)


def test_candidates_score_like_an_appended_step(prm):
    trajectory = make_trajectory(2)
    candidates = ['answer("Paris")', 'search("lyon")', 'open("x")']
    scores = prm.score_candidates(trajectory, candidates)
    assert len(scores) == 3
    for action, score in zip(candidates, scores, strict=True):
        step = Step(index=2, action=action, observation="")
        extended = trajectory.model_copy(update={"steps": [*trajectory.steps, step]})
        assert score.value == pytest.approx(prm.score(extended)[-1].value, abs=1e-5)


def test_long_trajectories_are_cut_from_the_left_and_stay_causal(token_prm_dir, prm):
    trajectory = make_trajectory(4, question="a long question " * 20)
    encoded = encode_steps(prm.tokenizer, render_trajectory(trajectory, 40))
    short = TokenClassificationPRM(token_prm_dir, max_length=encoded.step_ends[1] + 1)
    windows = scoring_windows(encoded, short.max_length)
    assert all(len(w.input_ids) <= short.max_length for w in windows)
    assert sorted(s for w in windows for s in w.steps) == [0, 1, 2, 3]
    # Later windows keep the bos token (when any) and end at the step they score.
    assert windows[-1].input_ids[-1] == encoded.input_ids[encoded.step_ends[3]]
    check_reward_model(short, trajectory)
    full = prm.score(trajectory)
    cut = short.score(trajectory)
    assert [s.value for s in cut[:2]] == pytest.approx([s.value for s in full[:2]], abs=1e-5)
    assert cut[3].value != pytest.approx(full[3].value, abs=1e-6)


def test_load_learned_prm_dispatches_on_the_marker(token_prm_dir):
    loaded = load_learned_prm(token_prm_dir)
    assert isinstance(loaded, TokenClassificationPRM)
    assert len(loaded.score(make_trajectory(2))) == 2


def test_load_learned_prm_refuses_a_plain_model_dir(tiny_model_dir):
    with pytest.raises(ConfigError, match=MARKER_FILE):
        load_learned_prm(tiny_model_dir)


def test_malformed_marker_says_which_file(tmp_path):
    (tmp_path / MARKER_FILE).write_text('{"kind": "nope"}')
    with pytest.raises(ConfigError, match="malformed"):
        load_learned_prm(tmp_path)


def test_calibrated_threshold_becomes_one_half(token_prm_dir, prm, tmp_path):
    import math
    import shutil

    shifted = tmp_path / "shifted"
    shutil.copytree(token_prm_dir, shifted)
    write_marker(
        shifted, LearnedPRMInfo(kind="token-classification", observation_chars=40, threshold=0.8)
    )
    raw = [s.value for s in prm.score(make_trajectory(3))]
    moved = [s.value for s in TokenClassificationPRM(shifted).score(make_trajectory(3))]
    # The log-odds shift by logit(0.8) = log 4: a raw 0.8 would read 0.5.
    for r, a in zip(raw, moved, strict=True):
        assert math.log(a / (1 - a)) == pytest.approx(math.log(r / (1 - r)) - math.log(4), abs=1e-4)
