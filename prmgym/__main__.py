"""``python -m prmgym``: the ``prmgym`` command line."""

from prmgym.cli import app

app(prog_name="prmgym")
