"""The search-QA family's declaration: its env id and every piece the commands look up.

Pieces in higher layers (the prompt, the verifier, the rubric) are named by lazy strings, so
declaring the family imports none of them; ``import prmgym`` registers it.
"""

from prmgym.family import Family, FamilyEnv

FAMILY = Family(
    name="search",
    envs=(
        FamilyEnv(
            id="prmgym/SearchQA-v0",
            entry_point="prmgym.envs.search.env:SearchQAEnv",
            task_source="CPython docs; answers by introspection",
            max_episode_steps=12,
        ),
    ),
    prompt="prmgym.agents.prompts.search:PROMPT",
    tool_help="prmgym.envs.search.env:TOOLS_HELP",
    default_prms=("search-verifier",),
    oracle="prmgym.envs.search.oracle:next_action",
    wrong_action="prmgym.envs.search.perturbations:plausible_wrong_action",
    random_action="prmgym.envs.search.random_actions:random_action",
    verifier="prmgym.rewards.verifiers.search:SearchVerifier",
    rubric="prmgym.rewards.rubrics:defaults/search.yaml",
    perturbations="prmgym.envs.search.perturbations:PERTURBATIONS",
)
