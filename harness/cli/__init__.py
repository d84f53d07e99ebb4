"""The `harness` command line: typer apps that parse options, call the layers below, and print."""

from harness.cli.app import app, main

__all__ = ["app", "main"]
