"""Mutation operators: each plants the bug it names, edits only its node, and replays."""

import ast
import difflib
import json

import pytest

from prmgym.envs.swe.mutations import KINDS, MutationError, apply_mutation, find_mutations
from prmgym.envs.swe.tasks import MutationRecipe

SAMPLE = '''"""A module docstring with 3 numbers < 4 and a flag True."""

LIMIT = 10


def clamp(value, low, high):
    """Keep value in [low, high]."""
    if value < low:
        return low
    elif value > high:
        return high
    return value


def total(items, scale=1):
    result = 0
    for item in items:
        if item is None:
            continue
        result += item * scale
    return result


def describe(a, b, verbose=False):
    """Say something about a and b."""
    if not verbose:
        return "short"
    name = "même"  # a non-ASCII line: columns count UTF-8 bytes
    label = f"{a + b} items"
    if a in b and verbose:
        print(name, label)
    return divmod(a, b) if a != 0 else (b, a)
'''


def mutated(source, kind):
    """Every mutated text of one kind, in the order find_mutations lists them."""
    return [m.apply(source) for m in find_mutations(source) if m.kind == kind]


def changed_lines(before, after):
    """The (old, new) lines a one-hunk diff replaces."""
    diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), n=0, lineterm=""))
    hunks = [line for line in diff if line.startswith("@@")]
    assert len(hunks) == 1, diff
    body = diff[3:]
    return [x[1:] for x in body if x[0] == "-"], [x[1:] for x in body if x[0] == "+"]


def test_flip_compare_flips_the_first_operator_of_each_comparison():
    source = "def f(a, b, c):\n    return a < b, a is not c, a not in b, a == b < c\n"
    assert [changed_lines(source, out)[1][0] for out in mutated(source, "flip_compare")] == [
        "    return a <= b, a is not c, a not in b, a == b < c",
        "    return a < b, a is c, a not in b, a == b < c",
        "    return a < b, a is not c, a in b, a == b < c",
        "    return a < b, a is not c, a not in b, a != b < c",
    ]


def test_flip_binop_covers_arithmetic_augmented_and_logical_operators():
    source = "def f(a, b, c):\n    a -= b\n    return a + b * 2, a and b or c\n"
    assert [changed_lines(source, out)[1] for out in mutated(source, "flip_binop")] == [
        ["    a += b"],
        ["    return a - b * 2, a and b or c"],
        ["    return a + b // 2, a and b or c"],
        # The 'and' nests inside the 'or' and ends first.
        ["    return a + b * 2, a or b or c"],
        ["    return a + b * 2, a and b and c"],
    ]


def test_a_flip_that_would_regroup_its_neighbours_is_not_offered():
    # '&' binds tighter than '|': flipped inside 'x ^ a & b' it would change the grouping.
    source = "y = x ^ a & b\n"
    assert mutated(source, "flip_binop") == ["y = x | a & b\n"]
    assert ast.dump(ast.parse("y = x | a & b").body[0].value.right) == ast.dump(
        ast.parse("a & b", mode="eval").body
    )


def test_change_constant_changes_ints_and_booleans_but_not_strings_or_docstrings():
    source = '"""Docstring 1."""\nN = 10\nFLAG = True\nNAME = "7"\nR = -1\n'
    assert [changed_lines(source, out)[1][0] for out in mutated(source, "change_constant")] == [
        "N = 11",
        "FLAG = False",
        "R = -2",
    ]


def test_remove_condition_negates_or_drops_a_negation():
    source = (
        "def f(a, b, ready, done):\n"
        "    if ready:\n        a = 1\n"
        "    if a < b:\n        a = 2\n"
        "    if not done:\n        a = 3\n"
        "    return a if done else b\n"
    )
    assert [changed_lines(source, out)[1][0] for out in mutated(source, "remove_condition")] == [
        "    if not ready:",
        "    if not (a < b):",
        "    if done:",
        "    return a if not done else b",
    ]


def test_remove_condition_keeps_the_parentheses_of_a_multi_line_negated_test():
    source = "def f(a, b):\n    if not(a\n           and b):\n        return 1\n    return 2\n"
    (out,) = mutated(source, "remove_condition")
    assert "    if (a\n           and b):\n" in out
    ast.parse(out)


def test_remove_branch_drops_an_else_part_or_a_whole_if():
    source = (
        "def f(a):\n"
        "    b = 0\n"
        "    if a > 1:\n        b = 1\n"
        "    else:\n        b = 2\n"
        "    if a > 5:\n        b += 5\n"
        "    return b\n"
    )
    first, second = mutated(source, "remove_branch")
    assert changed_lines(source, first) == (["    else:", "        b = 2"], [])
    assert changed_lines(source, second) == (["    if a > 5:", "        b += 5"], [])


def test_an_if_alone_in_its_block_is_not_removed():
    source = "def f(a):\n    if a:\n        print(a)\n"
    assert mutated(source, "remove_branch") == []


def test_remove_return_removes_an_early_return_or_the_value_of_a_last_one():
    source = (
        "def f(a):\n"
        "    if a:\n        print(a)\n        return 1\n"
        "    if a is None:\n        return None\n"
        "    return a * 2\n"
    )
    early, valueless = mutated(source, "remove_return")
    assert changed_lines(source, early) == (["        return 1"], [])
    assert changed_lines(source, valueless) == (["    return a * 2"], ["    return"])


def test_swap_arguments_swaps_the_first_two_positional_arguments():
    source = "x = pow(a, b, 7)\ny = f(*args, b)\nz = g(a, a)\nw = h(a, key=b)\n"
    assert mutated(source, "swap_arguments") == [
        "x = pow(b, a, 7)\ny = f(*args, b)\nz = g(a, a)\nw = h(a, key=b)\n"
    ]


def test_every_mutation_edits_only_its_node_and_still_parses():
    mutations = find_mutations(SAMPLE, "pkg/sample.py")
    assert {m.kind for m in mutations} == set(KINDS)
    starts = [0]
    for line in SAMPLE.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    for mutation in mutations:
        out = mutation.apply(SAMPLE)
        assert out != SAMPLE
        assert starts[mutation.line - 1] <= mutation.start <= mutation.end
        assert mutation.end <= starts[mutation.end_line]
        ast.parse(out)
        changed_lines(SAMPLE, out)  # one hunk
        assert mutation.file == "pkg/sample.py"


def line_of(text):
    """The 1-based number of SAMPLE's line that holds ``text``."""
    return next(n for n, line in enumerate(SAMPLE.split("\n"), 1) if text in line)


def test_nothing_inside_an_f_string_or_a_docstring_is_mutated():
    untouchable = {line_of(text) for text in ('"""A module', '"""Keep', '"""Say', 'f"{a')}
    for mutation in find_mutations(SAMPLE):
        assert mutation.line not in untouchable, mutation


def test_the_order_is_by_position_and_the_same_every_time():
    first = find_mutations(SAMPLE)
    assert first == find_mutations(SAMPLE)
    positions = [(m.line, m.col, m.end_line, m.end_col, KINDS.index(m.kind)) for m in first]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)  # kind and position name one mutation


def test_a_recipe_replays_the_mutation_and_holds_no_code():
    for mutation in find_mutations(SAMPLE, "pkg/sample.py"):
        recipe = mutation.recipe(seed=7)
        stored = MutationRecipe.model_validate(json.loads(recipe.model_dump_json()))
        assert apply_mutation(SAMPLE, stored) == mutation.apply(SAMPLE)
        assert stored.seed == 7 and stored.file == "pkg/sample.py"
        text = recipe.model_dump_json()
        for code in ("value < low", "result += item", "divmod(a, b)", "return low"):
            assert code not in text
    described = {m.description for m in find_mutations(SAMPLE)}
    assert "a less-than comparison became less-or-equal in `clamp`" in described


def test_non_ascii_lines_are_measured_in_utf8_bytes():
    line = line_of("a in b and verbose")
    (mutation,) = [m for m in find_mutations(SAMPLE) if m.line == line and m.kind == "flip_compare"]
    assert changed_lines(SAMPLE, mutation.apply(SAMPLE))[1] == ["    if a not in b and verbose:"]
    source = 'x = ("é", a < b)\n'
    (out,) = mutated(source, "flip_compare")
    assert out == 'x = ("é", a <= b)\n'


def test_a_recipe_that_no_longer_fits_is_refused():
    mutation = next(m for m in find_mutations(SAMPLE) if m.kind == "flip_compare")
    recipe = mutation.recipe(seed=0)
    edited = SAMPLE.replace("value < low", "value < lo_")
    with pytest.raises(MutationError, match="hash does not match"):
        apply_mutation(edited, recipe)
    with pytest.raises(MutationError, match="no flip_compare mutation fits"):
        apply_mutation("\n" + SAMPLE, recipe)
    with pytest.raises(MutationError, match="unknown mutation kind"):
        apply_mutation(SAMPLE, recipe.model_copy(update={"kind": "delete_everything"}))
    with pytest.raises(MutationError, match="cannot parse"):
        apply_mutation("def broken(:\n", recipe)
