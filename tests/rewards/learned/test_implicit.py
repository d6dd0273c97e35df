import math

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.learned.implicit import ADAPTER_DIR, BASE_DIR, ImplicitPRM
from prmgym.rewards.learned.loading import LearnedPRMInfo, load_learned_prm, write_marker
from prmgym.rewards.render import render_action, render_prompt
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


def save_implicit(tiny_model_dir, path, *, perturb, beta=0.5):
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    base.save_pretrained(path / BASE_DIR)
    tokenizer.save_pretrained(path / BASE_DIR)
    model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    if perturb:
        torch.manual_seed(2)
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(std=0.5)
    model.save_pretrained(path / ADAPTER_DIR)
    write_marker(path, LearnedPRMInfo(kind="implicit", beta=beta, observation_chars=40))
    return path


@pytest.fixture(scope="module")
def zero_dir(tiny_model_dir, tmp_path_factory):
    return save_implicit(tiny_model_dir, tmp_path_factory.mktemp("implicit-zero"), perturb=False)


@pytest.fixture(scope="module")
def trained_dir(tiny_model_dir, tmp_path_factory):
    return save_implicit(tiny_model_dir, tmp_path_factory.mktemp("implicit"), perturb=True)


@pytest.fixture(scope="module")
def prm(trained_dir):
    return ImplicitPRM(trained_dir)


def logit(p):
    return math.log(p / (1 - p))


def test_zero_adapter_gives_zero_rewards_and_values_one_half(zero_dir):
    prm = ImplicitPRM(zero_dir)
    scores = prm.score(make_trajectory(4))
    assert [s.value for s in scores] == [0.5] * 4
    assert all(s.label == "ok" for s in scores)
    assert [s.value for s in prm.score_candidates(make_trajectory(2), ['open("y")'])] == [0.5]


def test_passes_check_reward_model(prm):
    check_reward_model(prm, make_trajectory(4))


def test_beta_comes_from_the_marker_and_scales_q(trained_dir, prm):
    assert prm.beta == 0.5
    doubled = ImplicitPRM(trained_dir, beta=1.0)
    trajectory = make_trajectory(3)
    for a, b in zip(prm.score(trajectory), doubled.score(trajectory), strict=True):
        # Q from the rationale: a value near 1 (Q of 30 and more) has no precise logit.
        q_a, q_b = (float(s.rationale.split("=")[1]) for s in (a, b))
        assert q_b == pytest.approx(2 * q_a, abs=2e-4)
        assert q_a != 0


def test_first_step_reward_is_the_beta_scaled_log_ratio_of_its_action_tokens(prm):
    # Hand computation of PRIME Eq. 3 for step 0: bos + prompt, then the action tokens.
    trajectory = make_trajectory(1)
    tokenizer = prm.tokenizer
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    context = bos + tokenizer(render_prompt(trajectory), add_special_tokens=False)["input_ids"]
    action = tokenizer(render_action(trajectory.steps[0].action), add_special_tokens=False)[
        "input_ids"
    ]
    ids = torch.tensor([context + action])
    with torch.no_grad():
        policy = prm.model(input_ids=ids).logits.log_softmax(-1)
        with prm.model.disable_adapter():
            reference = prm.model(input_ids=ids).logits.log_softmax(-1)
    expected = 0.0
    for j in range(len(context), ids.shape[1]):
        token = ids[0, j]
        expected += float(policy[0, j - 1, token] - reference[0, j - 1, token])
    value = prm.score(trajectory)[0].value
    assert value != pytest.approx(0.5, abs=1e-4)
    assert logit(value) == pytest.approx(prm.beta * expected, rel=1e-4)


def test_q_is_cumulative(prm):
    # logit(v_t) - logit(v_{t-1}) = r_t, and r_t is the candidate reward of step t's action
    # (rendered without its result) after steps < t.
    trajectory = make_trajectory(3)
    values = [s.value for s in prm.score(trajectory)]
    prefix = trajectory.model_copy(update={"steps": trajectory.steps[:2]})
    candidate = prm.score_candidates(prefix, [trajectory.steps[2].action])[0].value
    assert logit(candidate) == pytest.approx(logit(values[2]), rel=1e-4)
    assert logit(values[2]) != pytest.approx(logit(values[1]), rel=1e-3)


def test_batched_equals_one_by_one(trained_dir):
    batched = ImplicitPRM(trained_dir, batch_size=8)
    single = ImplicitPRM(trained_dir, batch_size=1)
    trajectories = [make_trajectory(n, q) for n, q in [(1, "a?"), (4, "b b b?"), (2, "what?")]]
    for trajectory, scores in zip(trajectories, batched.score_many(trajectories), strict=True):
        alone = single.score(trajectory)
        assert [s.value for s in scores] == pytest.approx([s.value for s in alone], abs=1e-5)
    candidates = ['answer("Paris")', 'search("lyon")', 'open("x")']
    together = batched.score_candidates(trajectories[1], candidates)
    for action, score in zip(candidates, together, strict=True):
        alone = single.score_candidates(trajectories[1], [action])[0]
        assert score.value == pytest.approx(alone.value, abs=1e-5)


def test_long_trajectories_stay_causal(trained_dir):
    short = ImplicitPRM(trained_dir, max_length=40)
    trajectory = make_trajectory(4, question="a long question " * 10)
    check_reward_model(short, trajectory)
    assert len(short.score(trajectory)) == 4


def test_load_learned_prm_gives_an_implicit_prm(trained_dir):
    assert isinstance(load_learned_prm(trained_dir), ImplicitPRM)
