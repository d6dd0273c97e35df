"""The web family's declaration: its env id and every piece the commands look up.

Pieces in higher layers (the prompt, the verifier, the rubric) are named by lazy strings, so
declaring the family imports none of them; ``import prmgym`` registers it.
"""

from prmgym.family import Family, FamilyEnv

FAMILY = Family(
    name="web",
    envs=(
        FamilyEnv(
            id="prmgym/Web-v0",
            entry_point="prmgym.envs.web.env:WebEnv",
            task_source=(
                "tasks on a shop, a forum and an admin app served on loopback, in Chromium;"
                " tasks= for your own pages (GenericWebTask: a URL and a JS or Python success"
                " check)"
            ),
            max_episode_steps=30,
        ),
    ),
    prompt="prmgym.agents.prompts.web:PROMPT",
    tool_help="prmgym.envs.web.actions:TOOLS_HELP",
    default_prms=("web-verifier",),
    oracle="prmgym.envs.web.oracle:next_action",
    random_action="prmgym.envs.web.random_actions:random_action",
    verifier="prmgym.rewards.verifiers.web:WebVerifier",
    rubric="prmgym.rewards.rubrics:defaults/web.yaml",
    perturbations="prmgym.envs.web.perturbations:PERTURBATIONS",
)
