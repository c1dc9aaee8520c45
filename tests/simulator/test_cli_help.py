"""What a new user meets first: --version, help on every option, the real defaults."""

from __future__ import annotations

import argparse

import pytest

from simulator.cli import build_parser, main


def _options(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.Action]]:
    out: list[tuple[str, argparse.Action]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _options(sub, f"{path} {name}")
        elif action.option_strings:
            out.append((path, action))
    return out


def test_every_option_of_every_command_has_help() -> None:
    options = _options(build_parser(), "cardloop")
    assert len(options) > 50
    missing = [f"{path} {'/'.join(a.option_strings)}" for path, a in options if not a.help]
    assert missing == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("cardloop 0.")


@pytest.mark.parametrize("name", ["mpos", "mpos-bridge"])
def test_serve_mpos_help_names_the_real_default_profile(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["serve", name, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "profile documented by default" in text
    assert "(default documented" in text and "Bifrost 0.0.19)" not in text
    assert "--quiet" in text and "--seed" in text


def test_reader_needs_no_pty_flag() -> None:
    args = build_parser().parse_args(["reader", "--duration", "1"])
    assert args.pty is True
