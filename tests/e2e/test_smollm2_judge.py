"""The rubric agent judged by the real embedded SmolLM2, on real search trajectories."""

import pytest

from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.evaluation.first_error import LiveEnvs, build_first_error_set
from prmgym.rewards.judges import LogitJudge
from prmgym.rewards.rubrics.agent import RubricPRM

pytestmark = pytest.mark.integration


def test_smollm2_judges_search_steps_by_logit_readout():
    items = build_first_error_set("prmgym/SearchQA-v0", "test", 2, seed=3)
    judge = LogitJudge(TransformersBackend("smollm2"))
    prm = RubricPRM(judge=judge)
    correct = items[0].trajectory
    with LiveEnvs() as envs:
        check_reward_model(prm, correct, envs.reset_to(correct.task))
    # Every judged criterion got a real readout: no defaults, not all the same value.
    assert judge.stats.prompts > 0 and judge.stats.defaults == 0
    readouts = [entry[0] for entry in judge.cache.entries.values()]
    assert len(set(readouts)) > 1 and all(0.0 < p < 1.0 for p in readouts)
    # The checker scored the trajectory and its prefixes; the prefixes came from the cache.
    assert judge.stats.cache_hits > 0
