"""The data-analysis family's declaration: its env id and every piece the commands look up.

Pieces in higher layers (the prompt, the verifier, the rubric) are named by lazy strings, so
declaring the family imports none of them; ``import prmgym`` registers it.
"""

from prmgym.family import Family, FamilyEnv

FAMILY = Family(
    name="data",
    envs=(
        FamilyEnv(
            id="prmgym/Data-v0",
            entry_point="prmgym.envs.data.env:DataEnv",
            task_source=(
                "questions about real tables (palmerpenguins, vega_datasets) with reference"
                " code; tasks_file= for yours, dabench= for an InfiAgent-DABench folder"
            ),
            max_episode_steps=12,
        ),
    ),
    prompt="prmgym.agents.prompts.data:PROMPT",
    tool_help="prmgym.envs.data.env:TOOLS_HELP",
    default_prms=("data-verifier",),
    oracle="prmgym.envs.data.oracle:next_action",
    random_action="prmgym.envs.data.random_actions:random_action",
    verifier="prmgym.rewards.verifiers.data:DataVerifier",
    rubric="prmgym.rewards.rubrics:defaults/data.yaml",
    perturbations="prmgym.envs.data.perturbations:PERTURBATIONS",
)
