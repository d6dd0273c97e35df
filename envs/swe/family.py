"""The SWE family's declaration: its env id and every piece the commands look up.

Pieces in higher layers (the prompt, the verifier, the rubric) are named by lazy strings, so
declaring the family imports none of them; ``import prmgym`` registers it.
"""

from prmgym.family import Family, FamilyEnv

FAMILY = Family(
    name="swe",
    envs=(
        FamilyEnv(
            id="prmgym/SWE-v0",
            entry_point="prmgym.envs.swe.env:SWEEnv",
            task_source=(
                "SWE-bench-schema instances with a local git or sdist source (tasks_file=,"
                ' or tasks_file="swe-lite": 48 planted bugs in four PyPI packages);'
                " by default two demo tasks on a small repository built offline"
            ),
            max_episode_steps=30,
        ),
    ),
    prompt="prmgym.agents.prompts.swe:PROMPT",
    tool_help="prmgym.envs.swe.env:TOOLS_HELP",
    default_prms=("swe-verifier",),
    oracle="prmgym.envs.swe.oracle:next_action",
    random_action="prmgym.envs.swe.random_actions:random_action",
    verifier="prmgym.rewards.verifiers.swe:SWEVerifier",
    rubric="prmgym.rewards.rubrics:defaults/swe.yaml",
    perturbations="prmgym.envs.swe.perturbations:PERTURBATIONS",
)
