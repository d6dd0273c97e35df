from prmgym.agents.policies.base import EpisodeView
from prmgym.agents.policies.oracle import OraclePolicy
from prmgym.envs.web.tasks import load_task_file

TASK = load_task_file("web-lite")[0]
PAGE = "Title: Home | Shop\nAccessibility tree:\nRootWebArea 'Home | Shop' focused\n"


def test_the_web_oracle_waits_when_the_page_lacks_its_plans_element():
    plan = TASK.oracle[0]
    assert plan.action != "goto"  # a step resolved on the page, by role and name
    view = EpisodeView(task=TASK.to_task(), family="web", observations=[PAGE])
    # Continuing someone else's episode, the oracle may stand on a page its plan never
    # visits: it waits (the episode fails at its limit) instead of crashing the labelling run.
    assert OraclePolicy().act([view])[0].action == "noop()"
