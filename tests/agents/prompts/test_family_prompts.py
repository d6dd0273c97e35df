from prmgym.agents.prompts import prompt_for
from prmgym.agents.prompts.swe import EXAMPLE, SYSTEM_PROMPT, build_chat, parse_action
from prmgym.envs.actions import parse_tool_call
from prmgym.envs.swe.env import TOOLS_HELP, bind_call


def test_the_worked_example_uses_the_envs_own_tools_correctly():
    for _, action in EXAMPLE:
        bind_call(parse_tool_call(action))  # raises if a call would be refused
    assert prompt_for("swe").tools == ("bash", "view", "str_replace", "insert", "create", "submit")


def test_chat_drops_the_tool_help_and_clips_long_observations_keeping_both_ends():
    issue = f"Fix the bug.\n{TOOLS_HELP}"
    log = "start of log\n" + "x" * 5000 + "\nlast line: 3 failed"
    chat = build_chat([issue, log], ['bash("pytest")'])
    assert chat[0] == {"role": "system", "content": SYSTEM_PROMPT}
    episode = chat[1 + 2 * len(EXAMPLE) :]
    assert episode[0] == {"role": "user", "content": "Fix the bug."}
    clipped = episode[2]["content"]
    assert len(clipped) < 1600 and "characters cut" in clipped
    assert clipped.startswith("start of log") and clipped.endswith("last line: 3 failed")


def test_parse_action_takes_the_first_swe_call_and_closes_an_unfinished_one():
    assert parse_action('Let me look.\nview("a.py", 1, 20)\nthen more') == 'view("a.py", 1, 20)'
    assert parse_action('bash("ls') == 'bash("ls")'
    assert parse_action("submit() now") == "submit()"
    assert parse_action("no call here\nsecond") == "no call here"


def test_every_family_prompt_example_uses_its_envs_own_actions():
    from prmgym.envs.data.env import bind_call as data_bind
    from prmgym.envs.web.actions import bind_call as web_bind

    for family, bind in (("data", data_bind), ("web", web_bind)):
        module = __import__(f"prmgym.agents.prompts.{family}", fromlist=["EXAMPLE"])
        for _, action in module.EXAMPLE:
            bind(parse_tool_call(action))
        assert (
            prompt_for(family).parse_action(f"Sure.\n{module.EXAMPLE[0][1]}\nmore")
            == (module.EXAMPLE[0][1])
        )
