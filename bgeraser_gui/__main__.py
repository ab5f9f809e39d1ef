"""`python -m bgeraser_gui` opens the editor (or runs the CLI when given a CLI command)."""

import sys

from bgeraser_gui.cli import COMMANDS


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
        from bgeraser_gui.cli import main as cli_main

        return cli_main()
    from bgeraser_gui.app import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
