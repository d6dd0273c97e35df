"""The SQL family's declaration: its env id and every piece prmgym's commands look up.

Each piece is a lazy ``"module:attr"`` string, imported only when a command needs it, so
declaring the family (which ``import prmgym_sql`` does) imports neither torch nor the
prompt, the verifier or the rubric.
"""

from prmgym.family import Family, FamilyEnv

FAMILY = Family(
    name="sql",
    envs=(
        FamilyEnv(
            id="prmgym_sql/SQL-v0",
            entry_point="prmgym_sql.env:SQLEnv",
            task_source="shop database built by prmgym_sql; answers computed by gold SQL",
            max_episode_steps=10,
        ),
    ),
    prompt="prmgym_sql.prompt:PROMPT",
    tool_help="prmgym_sql.env:TOOLS_HELP",
    default_prms=("sql-verifier",),
    oracle="prmgym_sql.oracle:next_action",
    wrong_action="prmgym_sql.perturbations:plausible_wrong_action",
    random_action="prmgym_sql.random_actions:random_action",
    verifier="prmgym_sql.verifier:SQLVerifier",
    rubric="prmgym_sql:rubric.yaml",
    perturbations="prmgym_sql.perturbations:PERTURBATIONS",
)
