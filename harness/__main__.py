"""`python -m harness` and the `harness` script: Ctrl-C while the CLI is still importing is an
interrupt like any other (one line, exit 130), not a traceback from whichever import it hit."""

import sys


def run() -> None:
    try:
        from harness.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
