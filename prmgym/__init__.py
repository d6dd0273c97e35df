"""prmgym: LLM agents in real environments, every step scored by process reward models.

Importing ``prmgym`` registers every built-in family (``prmgym.family``) and its environment
ids with Gymnasium::

    import gymnasium, prmgym
    env = gymnasium.make("prmgym/SearchQA-v0")
"""

from prmgym.family import Family, FamilyEnv, families, get_family, register_family
from prmgym.registry import EnvInfo, env_info, register_env, registered_envs
from prmgym.task import Task, load_tasks, save_tasks
from prmgym.trajectory import Accounting, Step, StepScore, Trajectory

__version__ = "0.1.0"

__all__ = [
    "Accounting",
    "EnvInfo",
    "Family",
    "FamilyEnv",
    "Step",
    "StepScore",
    "Task",
    "Trajectory",
    "env_info",
    "families",
    "get_family",
    "load_tasks",
    "register_family",
    "register_env",
    "registered_envs",
    "save_tasks",
]

# Families name their pieces by lazy "module:attr" strings, so this imports no env code.
import prmgym.envs.registration  # noqa: E402, F401
