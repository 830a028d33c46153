"""A customer-facing Click group licensed once, at the group: every subcommand needs a
license, ``--help`` (of the group or any subcommand) never does.

Needs ``pip install click``. The customer stores their key with
``authforge-guard activate KEY`` (or the vendor sets AUTHFORGE_LICENSE_KEY). Set up
the environment as in examples/README.md, then:

    python examples/click_cli.py sync --help
    python examples/click_cli.py sync

Exit codes: 0 ok, 1 license refused, 2 not set up (no key), 3 license server unreachable.
"""

import contextlib
import sys

import click
from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md

from authforge_guard import ConfigurationError, configure, requires_license


@click.group()
@requires_license(on_refused="exit")
def cli() -> None:
    """Sync tool, licensed."""


@cli.command()
@click.option("--dry-run", is_flag=True, help="show what would be synced")
def sync(dry_run: bool) -> None:
    """Sync the notes folder."""
    click.echo("would sync 3 files" if dry_run else "synced 3 files")


if __name__ == "__main__":
    # Whose licenses this program believes: pinned in code, as in the quick start.
    # Incomplete settings are told to the customer by the licensed group (exit 2); --help
    # works regardless.
    with contextlib.suppress(ConfigurationError):
        configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)
    sys.exit(cli())
