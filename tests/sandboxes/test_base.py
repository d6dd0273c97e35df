import pytest

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import SandboxLimits, workspace_relative


@pytest.mark.parametrize(
    ("given", "want"),
    [
        ("src/a.py", "src/a.py"),
        ("./src//a.py", "src/a.py"),
        ("/workspace/src/a.py", "src/a.py"),
        ("/workspace", ""),
    ],
)
def test_workspace_paths_are_made_relative(given, want):
    assert workspace_relative(given) == want


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x", "src/../../x", "/workspace/../etc"])
def test_paths_leaving_the_workspace_are_refused_with_the_fix(bad):
    with pytest.raises(SandboxError, match="inside the workspace"):
        workspace_relative(bad)


@pytest.mark.parametrize("field", ["timeout_s", "memory_mb", "processes", "output_bytes"])
def test_limits_must_be_positive(field):
    with pytest.raises(SandboxError, match=field):
        SandboxLimits(**{field: 0})
