"""A stand-in step scorer for trainer tests: a random tiny model's actions are all malformed, so
the real verifier scores them alike and leaves nothing to learn from; this one varies."""

from prmgym.trajectory import StepScore


class VariedPRM:
    """Scores a step by its action's length modulo 5, so episodes of a group differ."""

    name = "varied"

    def score(self, trajectory, env=None):
        return [
            StepScore(value=(len(s.action) % 5) / 4, source=self.name) for s in trajectory.steps
        ]

    def score_candidates(self, trajectory, candidate_actions, env=None):
        return [StepScore(value=(len(a) % 5) / 4, source=self.name) for a in candidate_actions]
