"""Every command-line option says what it does, its default and its choices; old names still parse."""

import argparse

import pytest

from hybridir_core import cli


def parsers() -> dict[str, argparse.ArgumentParser]:
    """Every parser of the CLI by its command words (``data fetch``), the top one as ``""``."""
    found, todo = {}, [("", cli.build_parser())]
    while todo:
        name, parser = todo.pop()
        found[name] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += [(f"{name} {sub}".strip(), p) for sub, p in action.choices.items()]
    return found


@pytest.mark.parametrize("command", sorted(parsers()))
def test_every_option_has_help_and_shows_its_default(command):
    parser = parsers()[command]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        assert action.help, f"{command}: {action.option_strings or action.dest} has no help"
        shown = action.default is not None and action.default is not False and action.const is None
        if shown and action.option_strings:
            assert "default" in parser._get_formatter()._get_help_string(action), (command, action.dest)


def test_choices_are_listed():
    text = " ".join(parsers()["train"].format_help().split())
    assert "{fp32,bf16,fp16}" in text and "{entailment,all}" in text
    assert "xquad, xnli, tatoeba, hf" in text  # --corpus joins sources, so they are named in words


def test_old_and_trainer_names_are_aliases():
    parser = cli.build_parser()
    base = ["train", "--out", "runs/x"]
    new = parser.parse_args([*base, "--learning-rate", "1e-4", "--encode-batch-size", "8", "--steps", "5"])
    old = parser.parse_args([*base, "--lr", "1e-4", "--eval-batch-size", "8", "--max-steps", "5"])
    assert (new.learning_rate, new.eval_batch_size, new.steps) == (old.learning_rate, old.eval_batch_size,
                                                                    old.steps) == (1e-4, 8, 5)
